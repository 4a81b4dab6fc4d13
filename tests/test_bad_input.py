"""Bad input is one line naming the thing and what is allowed, written before anything else;
run directories jaxcurr did not make are never removed."""

import subprocess
import sys

import numpy as np
import pytest
import tomli_w

from jaxcurr import cli
from jaxcurr.run.run_dir import load_metrics


def _write(tmp_path, values, name="exp.toml"):
    path = tmp_path / name
    path.write_bytes(tomli_w.dumps(values).encode())
    return path


def _one_line_error(capsys, *args):
    assert cli.main(["run", *map(str, args), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("jaxcurr: error: ") and len(err.splitlines()) == 1, err
    return err


GOOD = {"x_train": np.random.default_rng(0).random((40, 6), np.float32),
        "y_train": np.arange(40) % 10, "x_test": np.zeros((10, 6), np.float32),
        "y_test": np.arange(10)}


@pytest.mark.parametrize(("change", "message"), [
    ({"x_train": np.full((40, 6), np.nan, np.float32)}, "x_train holds NaN or infinite pixels"),
    ({"x_train": np.full((40, 6), 1e9, np.float32)}, "allowed: at most 10000 in magnitude"),
    ({"x_test": np.zeros((10, 7), np.float32)}, "allowed: the same image shape"),
    ({"x_train": np.zeros(40, np.float32)}, "allowed: numeric images [N, ...]"),
    ({"y_train": (np.arange(40) % 10)[:, None]}, "allowed: one integer label per image"),
    ({"y_train": np.array(["a"] * 40)}, "y_train must hold integer labels"),
    ({"x_train": np.array([None] * 40, dtype=object)}, "Object arrays cannot be loaded"),
])
def test_bad_npz_contents(tiny_config, tmp_path, capsys, change, message):
    path = tmp_path / "data.npz"
    np.savez(path, **{**GOOD, **change})
    values = tiny_config(data={"path": str(path)})
    err = _one_line_error(capsys, _write(tmp_path, values), "--out", tmp_path / "r")
    assert message in err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("content", [b"", b"not a zip", "npy"])
def test_unreadable_npz(tiny_config, tmp_path, capsys, content):
    path = tmp_path / "data.npz"
    if content == "npy":
        with open(path, "wb") as f:
            np.save(f, np.zeros(3))
    else:
        path.write_bytes(content)
    err = _one_line_error(capsys, _write(tmp_path, tiny_config(data={"path": str(path)})),
                          "--out", tmp_path / "r")
    assert "data.path" in err and "allowed: an .npz" in err


def test_bad_files_and_paths(tiny_config, tmp_path, capsys):
    toml = tmp_path / "latin1.toml"
    toml.write_bytes("name = 'caf\xe9'".encode("latin-1"))
    assert "not valid UTF-8 TOML" in _one_line_error(capsys, toml)
    path = _write(tmp_path, tiny_config())
    blocker = tmp_path / "a_file"
    blocker.write_text("mine")
    assert "cannot use" in _one_line_error(capsys, path, "--out", blocker / "run")
    assert "is a file" in _one_line_error(capsys, path, "--out", blocker)
    err = _one_line_error(capsys, path, "--set", "run=3", "--set", "run.steps=4")
    assert "run is a value, not a table" in err


def test_overwrite_never_removes_what_jaxcurr_did_not_make(tiny_config, tmp_path, capsys,
                                                           monkeypatch):
    path = _write(tmp_path, tiny_config(run={"steps": 20, "log_every": 10}))
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("precious")
    err = _one_line_error(capsys, path, "--out", mine, "--overwrite")
    assert "was not made by jaxcurr" in err and (mine / "thesis.tex").read_text() == "precious"
    monkeypatch.chdir(tmp_path)
    assert "was not made by jaxcurr" in _one_line_error(capsys, path, "--out", ".", "--overwrite")
    assert (mine / "thesis.tex").is_file()


def test_seed_range_and_non_finite_numbers(tiny_config, tmp_path, capsys):
    path = _write(tmp_path, tiny_config())
    assert "run.seed: got 4294967296" in _one_line_error(capsys, path, "--set",
                                                         "run.seed=4294967296")
    assert "student.learning_rate: got inf" in _one_line_error(capsys, path, "--set",
                                                               "student.learning_rate=inf")
    assert "student.precision: got 'float16'; allowed: one of 'float32', 'bfloat16'" in (
        _one_line_error(capsys, path, "--set", "student.precision=float16"))


def test_debug_shows_the_traceback(tiny_config, tmp_path):
    path = _write(tmp_path, tiny_config())
    done = subprocess.run([sys.executable, "-m", "jaxcurr.cli", "--debug", "run", str(path),
                           "--set", "run.steps=0"], capture_output=True, text=True)
    assert done.returncode == 2 and "Traceback" in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("jaxcurr: error: run.steps: got 0")


def test_a_run_that_cannot_fit_is_refused_before_anything_is_written(tiny_config, tmp_path,
                                                                     capsys):
    """XLA's memory analysis of the compiled program against the machine's memory: a million
    seeds of the tiny classifier need far more than any machine here has."""
    values = tiny_config(student={"hidden": [4096]}, run={"steps": 10, "log_every": 10,
                                                          "methods": ["uniform"]})
    err = _one_line_error(capsys, _write(tmp_path, values), "--out", tmp_path / "r",
                          "--seeds", "1000000")
    assert "run.seeds: 1000000 runs (points x seeds) need about" in err
    assert "GiB are available" in err and not (tmp_path / "r").exists()


@pytest.mark.parametrize("after_s", [0.0, 3.0, 7.0])
def test_interrupt_at_any_moment_exits_130_with_one_line(tiny_config, tmp_path, after_s):
    """SIGINT during import, compilation or the run: exit 130, one line, no traceback or
    segfault, and a run directory that resumes (or none). The clock starts once the command
    line's handler is in place (``-X importtime`` reports ``jaxcurr.run.interrupts`` imported,
    the first line of ``jaxcurr.cli``): before that the signal lands in CPython's own start-up
    (``site``, ``runpy``), where no program's code runs yet, and a loaded machine can take
    longer than any fixed delay to get past it. The run is far longer than any machine needs
    to reach the signal, so it lands before the end."""
    import re
    import signal
    import threading
    import time

    from jaxcurr.kinds import get_kind
    from jaxcurr.run import runner

    values = tiny_config(run={"steps": 1_000_000, "log_every": 10, "chunk_logs": 2})
    path, out = _write(tmp_path, values), tmp_path / "run"
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        pytest.skip("SIGINT is ignored here (a shell's background job): the child inherits that "
                    "and Python installs no KeyboardInterrupt before jaxcurr's own handler")
    process = subprocess.Popen([sys.executable, "-X", "importtime", "-m", "jaxcurr.cli", "run",
                                str(path), "--out", str(out), "--no-progress"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines, started = [], threading.Event()

    def read_stderr():  # drained all along, so the child never blocks on a full pipe
        for line in process.stderr:
            lines.append(line)
            if re.search(r"\|\s*jaxcurr\.run\.interrupts\s*$", line):
                started.set()
        started.set()

    reader = threading.Thread(target=read_stderr)
    reader.start()
    assert started.wait(timeout=120) and process.poll() is None, "".join(lines)
    time.sleep(after_s)
    process.send_signal(signal.SIGINT)
    process.wait(timeout=120)
    reader.join(timeout=30)
    err = "".join(line for line in lines if not line.startswith("import time:"))
    assert process.returncode == 130, err
    said = err.strip().splitlines()
    assert "Traceback" not in err and len(said) == 1 and "interrupted" in said[0], err
    if out.exists():  # then it resumes: one more chunk (2 windows) after what it saved
        saved = load_metrics(out).step.size if (out / "metrics.npz").exists() else 0
        kind = get_kind("classifier_curriculum")
        config = kind.from_dict(values)
        result = runner.run(kind, config, kind.prepare(config), out / "checkpoints",
                            resume=True, progress=False, stop_after_chunks=1)
        assert result.steps.size == saved + 2 and result.steps[-1] == 10 * (saved + 2)


def test_a_failing_replacement_leaves_the_old_run_whole(tiny_config, tmp_path, capsys):
    path = _write(tmp_path, tiny_config(run={"steps": 20, "log_every": 10}))
    out = tmp_path / "run"
    assert cli.main(["run", str(path), "--out", str(out), "--no-progress"]) == 0
    before = sorted(p.name for p in out.iterdir())
    err = _one_line_error(capsys, path, "--out", out, "--overwrite", "--seeds", "1000000",
                          "--set", "student.hidden=[4096]")
    assert "need about" in err and sorted(p.name for p in out.iterdir()) == before


def test_plot_says_what_is_damaged(tiny_config, tmp_path, capsys):
    path = _write(tmp_path, tiny_config(run={"steps": 20, "log_every": 10}))
    out = tmp_path / "run"
    assert cli.main(["run", str(path), "--out", str(out), "--no-progress"]) == 0
    data = (out / "metrics.npz").read_bytes()
    (out / "metrics.npz").write_bytes(data[: len(data) // 2])
    assert cli.main(["plot", str(out)]) == 2
    err = capsys.readouterr().err
    assert "metrics.npz: damaged" in err and len(err.splitlines()) == 1
    (out / "config.toml").write_text("run = [")
    assert cli.main(["plot", str(out)]) == 2
    assert "config.toml is not valid UTF-8 TOML" in capsys.readouterr().err


def test_overwrite_swaps_in_the_new_run_only_at_its_first_checkpoint(tiny_config, tmp_path,
                                                                     monkeypatch, capsys):
    from jaxcurr.run import execution

    path = _write(tmp_path, tiny_config(run={"steps": 20, "log_every": 10}))
    out = tmp_path / "run"
    assert cli.main(["run", str(path), "--out", str(out), "--no-progress"]) == 0
    old = load_metrics(out)["uniform/train_loss"]

    def interrupted(self, start_window, steps):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:  # stopped before its first checkpoint
        patch.setattr(execution._Writer, "start", interrupted)
        assert cli.main(["run", str(path), "--out", str(out), "--overwrite", "--no-progress",
                         "--set", "run.seed=7"]) == 130
    assert "the previous run is unchanged" in capsys.readouterr().err
    np.testing.assert_array_equal(load_metrics(out)["uniform/train_loss"], old)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    # a replacement that gets going takes the old run's place, and resumes from there
    more = ["--set", "run.steps=40", "--set", "run.chunk_logs=1",
            "--set", "run.checkpoint_every=1"]  # checkpoints after the swap go to the new place
    assert cli.main(["run", str(path), "--out", str(out), "--overwrite", "--no-progress",
                     "--set", "run.seed=7", *more]) == 0
    assert sorted(int(p.name) for p in (out / "checkpoints").iterdir())[-1] == 4
    new = load_metrics(out)["uniform/train_loss"]
    assert not np.array_equal(new, old) and "seed = 7" in (out / "config.toml").read_text()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    assert cli.main(["run", str(path), "--out", str(out), "--resume", "--no-progress",
                     "--set", "run.seed=7", *more]) == 0
