"""The light core and the extras: with every extra's modules missing (a core install, emulated by
blocking their imports in a subprocess), the transforms, teachers and signals import,
``jaxcurr list`` works and ``jaxcurr run`` says in one line which extra to install; TFDS's lazy
imports name the ``tfds`` extra, not the network."""

import subprocess
import sys

import pytest

from jaxcurr.core import extras

BLOCK = """import sys
class Missing:  # a finder that finds none of these modules, as in an install without them
    def find_spec(self, name, path=None, target=None):
        if any(name == m or name.startswith(m + ".") for m in {modules!r}):
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, Missing())
"""


def _python(code: str, blocked=tuple(extras.EXTRA_OF_MODULE), cwd=None):
    return subprocess.run([sys.executable, "-c", BLOCK.format(modules=list(blocked)) + code],
                          capture_output=True, text=True, timeout=600, cwd=cwd)


def test_the_core_imports_without_any_extra():
    done = _python("import jaxcurr.transforms, jaxcurr.teachers, jaxcurr.signals\n"
                   "import jax, jax.numpy as jnp, optax\n"
                   "opt = optax.chain(jaxcurr.transforms.grokfast_ema(), optax.adam(1e-3))\n"
                   "grads = {'w': jnp.ones(2)}\n"
                   "print(opt.update(grads, opt.init(grads))[0]['w'].shape)\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(2,)"


def test_list_works_and_run_names_the_run_extra_in_a_core_install(tmp_path):
    done = _python("from jaxcurr import cli\nsys.exit(cli.main(['list']))", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "digits_curriculum" in done.stdout
    done = _python("from jaxcurr import cli\n"
                   "sys.exit(cli.main(['run', 'digits_curriculum', '--no-progress']))",
                   cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("jaxcurr: error: jaxcurr run needs the 'run' extra (no module "
                               "named ")
    assert lines[0].endswith("): pip install 'jaxcurr[run]'")
    assert not (tmp_path / "runs").exists()


def test_a_module_of_no_extra_is_not_blamed_on_one():
    done = _python("from jaxcurr import cli\nsys.exit(cli.main(['run', 'digits_curriculum']))",
                   blocked=("jaxcurr.run.execution",))
    assert done.returncode == 1 and "Traceback" in done.stderr  # a real bug, shown as one


def test_tfds_without_importlib_resources_names_the_tfds_extra(tmp_path):
    """TFDS imports ``importlib_resources`` lazily, on first use, inside its own wrappers."""
    pytest.importorskip("tensorflow_datasets")
    done = _python(
        "from jaxcurr.datasets.classification import DataConfig, load_dataset\n"
        f"load_dataset(DataConfig(source='tfds', name='mnist', data_dir={str(tmp_path)!r}))",
        blocked=("importlib_resources",))
    assert "ConfigError: data.source = 'tfds' needs the 'tfds' extra (no module named " \
           "'importlib_resources'): pip install 'jaxcurr[tfds]'; or point JAXCURR_DATA_DIR" \
           in done.stderr, done.stderr
    assert "network" not in done.stderr


@pytest.mark.parametrize("module, extra", [("gymnax.environments", "run"), ("sklearn", "run"),
                                           ("tensorflow", "tfds"), ("mujoco", "mujoco"),
                                           ("tensorboardX", "tensorboard"), ("wandb", "wandb")])
def test_a_missing_module_is_found_through_wrapping_exceptions(module, extra):
    try:
        try:
            raise ModuleNotFoundError(f"No module named {module!r}", name=module)
        except ModuleNotFoundError as err:
            raise RuntimeError("a library's own wrapper") from err
    except RuntimeError as wrapped:
        missing = extras.missing_module(wrapped)
    assert missing.name == module and extras.extra_of(missing) == extra
    assert extras.needs_extra("x", extra, missing) == (
        f"x needs the {extra!r} extra (no module named {module!r}): "
        f"pip install 'jaxcurr[{extra}]'")
    assert extras.missing_module(RuntimeError("no import involved")) is None
