"""Chunked runner: exact resume from an orbax checkpoint; the CLI's run directory."""

import json
import re

import jax
import numpy as np
import pytest
import tomli_w

from jaxcurr import cli
from jaxcurr.curricula import prepare_data
from jaxcurr.curricula.classifier_config import config_from_dict
from jaxcurr.datasets.classification import load_dataset
from jaxcurr.kinds import get_kind
from jaxcurr.run import compilation, programs, runner

KIND = get_kind("classifier_curriculum")


def test_chunk_windows_tile_the_run():
    assert compilation.chunk_windows(12, 5) == 4
    assert compilation.chunk_windows(7, 5) == 1
    assert compilation.chunk_windows(3, 10) == 3


def test_interrupted_run_resumes_bit_identically(tiny_config, tmp_path):
    values = tiny_config(run={"steps": 60, "log_every": 10, "chunk_logs": 1,
                              "methods": ["momentum_correlation", "gradient_norm"],
                              "checkpoint_every": 2})
    config = config_from_dict(values)
    data = prepare_data(load_dataset(config.data), config)
    straight = runner.run(KIND, config, data, progress=False)
    assert straight.finished

    first = runner.run(KIND, config, data, tmp_path / "ckpt", progress=False,
                       stop_after_chunks=3)
    assert not first.finished  # interrupted after chunk 3; the last checkpoint is chunk 2
    programs.forget()  # resumed as a new process would: with the program compiled again
    resumed = runner.run(KIND, config, data, tmp_path / "ckpt", resume=True, progress=False)
    assert resumed.finished
    assert set(resumed.metrics) == set(straight.metrics)
    for name, value in straight.metrics.items():
        assert value.shape[:3] == (1, 2, 6), name
        np.testing.assert_array_equal(resumed.metrics[name], value, err_msg=name)


def test_a_second_run_of_the_same_configuration_reuses_its_compiled_program(tiny_config):
    config = config_from_dict(tiny_config())
    data = prepare_data(load_dataset(config.data), config)
    first = compilation.compile_run(KIND, config, data)
    again = compilation.compile_run(KIND, config_from_dict(tiny_config()), data)
    assert again.program is first.program
    assert again.compile_seconds < first.compile_seconds
    changed = config_from_dict(tiny_config(student={"learning_rate": 3e-3}))
    assert compilation.compile_run(KIND, changed, data).program is not first.program
    fewer = jax.tree.map(lambda x: x[:-1] if np.ndim(x) else x, data)  # other data shapes
    assert programs.program_key(KIND.name, config, fewer) != programs.program_key(
        KIND.name, config, data)
    assert programs.program_key(KIND.name, lambda: None, data) is None  # cannot be keyed
    for i in range(programs.MAX_PROGRAMS):  # the least recently used goes first
        programs.keep(f"another program {i}".encode(), None)
    assert compilation.compile_run(KIND, config, data).program is not first.program
    programs.forget()


def _write(tmp_path, values):
    path = tmp_path / "exp.toml"
    path.write_bytes(tomli_w.dumps(values).encode())
    return path


def test_cli_run_writes_a_complete_run_directory(tiny_config, tmp_path, capsys):
    path = _write(tmp_path, tiny_config())
    out = tmp_path / "run"
    assert cli.main(["run", str(path), "--out", str(out), "--seeds", "3", "--no-progress",
                     "--set", "student.learning_rate=3e-3"]) == 0
    printed = capsys.readouterr().out
    assert "momentum_correlation" in printed and "figures:" in printed
    assert (out / "figures" / "curves.png").stat().st_size > 10_000
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seeds"] == 3 and set(summary["methods"]) == {
        "uniform", "curiosity", "momentum_correlation", "gradient_norm"}
    with np.load(out / "metrics.npz") as metrics:
        assert metrics["curiosity/group_loss"].shape == (1, 3, 4, 4)  # point, seed, window, G
        assert metrics["step"].tolist() == [10, 20, 30, 40]
    assert "learning_rate = 0.003" in (out / "config.toml").read_text()

    # the same --out again needs --resume or --overwrite; --resume of the finished run works
    assert cli.main(["run", str(path), "--out", str(out), "--seeds", "3"]) == 2
    assert "already holds files" in capsys.readouterr().err
    assert cli.main(["plot", str(out)]) == 0
    assert cli.main(["run", str(path), "--out", str(out), "--resume", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "run.seeds (3 in the run, 2 now)" in err
    hint = f"jaxcurr run {out / 'config.toml'} --out {out} --resume"
    assert hint in err  # and the hint works: the run's own config resumes it
    assert cli.main(["run", str(out / "config.toml"), "--out", str(out), "--resume",
                     "--no-progress"]) == 0
    # a changed description is prose, not a setting: it does not stop a resume
    reworded = _write(tmp_path, tiny_config() | {"description": "reworded"})
    assert cli.main(["run", str(reworded), "--out", str(out), "--resume", "--seeds", "3",
                     "--no-progress", "--set", "student.learning_rate=3e-3"]) == 0


@pytest.mark.parametrize(("change", "message"), [
    ({"run": {"steps": 0}}, "run.steps: got 0; allowed: a positive integer"),
    ({"run": {"batch_size": "64"}}, "run.batch_size: got '64'; allowed: an integer"),
    ({"run": {"stepz": 10}}, "run.stepz: unknown setting; allowed: seeds, .*, methods, steps"),
    ({"run": {"methods": ["uniform", "psychic"]}}, "run.methods: got"),
    ({"run": {"steps": 45}}, "run.steps: got 45; allowed: a multiple of run.log_every"),
    ({"data": {"groups": [[0, 1], [1, 2]]}}, "data.groups: got .* partition the classes"),
    ({"data": {"groups": [[0], [2]]}}, "partition the classes 0..C-1"),
    ({"data": {"path": "/nonexistent/data.npz"}}, "data.path: no such file"),
    ({"data": {"groups": [[0], [1, 2, 3, 4, 5, 6, 7, 8]]}},
     "y_train holds label 9, outside the class range 0..8"),
    ({"teacher": {"learning_rate": -1.0}}, "teacher.learning_rate: got -1.0; allowed: a positive"),
    ({"student": {"hidden": [16, 0]}}, "student.hidden: got .* positive integers"),
    ({"signal": {"denominator": "m"}},
     "signal.denominator: got 'm'; allowed: one of 'v', 'sqrt_v'"),
    ({"colour": "red"}, "colour: unknown setting"),
    ({"kind": "spg_nm"}, "kind: got 'spg_nm'; allowed: 'classifier_curriculum', "),
])
def test_bad_config_is_one_clear_error_and_writes_nothing(tiny_config, tmp_path, capsys, change,
                                                          message):
    values = tiny_config()
    for key, update in change.items():
        if isinstance(update, dict):
            values.setdefault(key, {}).update(update)
        else:
            values[key] = update
    out = tmp_path / "run"
    assert cli.main(["run", str(_write(tmp_path, values)), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("jaxcurr: error: ") and len(err.splitlines()) == 1
    assert re.search(message, err), err
    assert not out.exists()


def test_cli_errors_for_names_overrides_and_seeds(tiny_config, tmp_path, capsys):
    path = _write(tmp_path, tiny_config())
    assert cli.main(["run", "no_such_experiment"]) == 2
    assert "unknown name 'no_such_experiment'; allowed: a .toml path or one of" in \
        capsys.readouterr().err
    assert cli.main(["run", str(path), "--seeds", "0", "--out", str(tmp_path / "r")]) == 2
    assert "run.seeds: got 0" in capsys.readouterr().err
    assert cli.main(["run", str(path), "--set", "steps", "--out", str(tmp_path / "r")]) == 2
    assert "expected key=value" in capsys.readouterr().err
    assert cli.main(["run", str(path), "--set", "model.depth=3", "--out", str(tmp_path / "r")]) == 2
    assert "model: unknown setting; allowed: name, description" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_cli_list_shows_the_experiments_and_their_kinds(capsys):
    assert cli.main(["list"]) == 0
    listed = {line.split()[0]: line.split()[1] for line in capsys.readouterr().out.splitlines()}
    for name in ("digits_curriculum", "mnist_curriculum", "cifar10_noise", "mnist_noise",
                 "cifar10_curriculum"):
        assert listed[name] == "classifier_curriculum"
    assert listed["fourrooms_sac"] == "discrete_sac" and listed["ppo_sanity"] == "ppo"
    assert listed["lunar_sac"] == "discrete_sac" and listed["lunar_ppo"] == "ppo"
    assert listed["spg_nm"] == "tabular_pg"


def test_every_shipped_experiment_file_validates():
    from jaxcurr.run.experiment import experiment_files, experiment_sources, load_experiment

    files = experiment_files(next(experiment_sources()))
    assert len(files) >= 8
    parts = {p.stem: len(load_experiment(p).parts) for p in files}
    assert parts["spg_nm"] == 24 and parts["ppo_sanity"] == 4 and parts["fourrooms_sac"] == 1
