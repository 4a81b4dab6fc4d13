# Quick start: `make demo` (set up, run the demo) and `make test` (set up, lint, run the tests).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint install docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.core: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[run]"
	touch $@

# torch==2.13.0 first: pip takes the CPU wheel kept on disk here; the extra then needs nothing more.
$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	$(BIN)/python -m pip install --quiet -e ".[run,tfds,dev,docs,torch,tensorboard,wandb,mujoco]"
	touch $(VENV)/.core $@

install: $(VENV)/.core

demo: $(VENV)/.core
	$(BIN)/jaxcurr run digits_curriculum --out runs/demo --overwrite

lint: $(VENV)/.dev
	$(BIN)/ruff check .

test: lint
	$(BIN)/pytest -q -n 2 --dist worksteal

# The documentation site, warnings as errors, into docs/_build/html (open index.html).
docs: $(VENV)/.dev
	$(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html

clean:
	rm -rf $(VENV) runs
