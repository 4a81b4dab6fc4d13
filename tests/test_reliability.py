"""Issue 39: nothing lost under concurrent use and full disks, no traceback from a damaged file
or an impossible size, no setting silently ignored or rounded, no wait before a refusal."""

import errno
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
import zipfile

import numpy as np
import pytest

from jaxcurr import cli
from jaxcurr.core.files import atomic_write
from jaxcurr.run import interrupts, run_dir, runner
from jaxcurr.run.lifecycle import lock_path, run_lock
from tests.test_bad_input import _one_line_error, _write
from tests.test_kinds import _assert_same_run, _interrupt_after_first_checkpoint

CLI = [sys.executable, "-m", "jaxcurr.cli", "run"]


def _wait_for_lock(out, process, timeout_s=120.0):
    """Until ``process`` holds ``out``'s lock: its PID is written once the lock is taken."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            if lock_path(out).read_text().strip() == str(process.pid):
                return
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    raise AssertionError("the first process never took the lock")


def test_a_second_writer_is_refused_while_the_first_holds_the_run(tiny_config, tmp_path,
                                                                  capsys):
    """Items 1-2: two real processes on one run directory. The first (``--overwrite`` of a
    finished run) is stopped while it holds the lock; a second ``--overwrite`` and a
    ``--resume`` are refused at once naming its PID. Killed, the first leaves the old run whole
    and its lock free."""
    path, out = _write(tmp_path, tiny_config(run={"steps": 20, "log_every": 10})), tmp_path / "R"
    assert cli.main(["run", str(path), "--out", str(out), "--no-progress"]) == 0
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    capsys.readouterr()
    first = subprocess.Popen([*CLI, str(path), "--out", str(out), "--overwrite", "--no-progress"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_lock(out, first)
        first.send_signal(signal.SIGSTOP)  # it keeps the lock for as long as this test needs
        second = subprocess.run([*CLI, str(path), "--out", str(out), "--overwrite",
                                 "--no-progress"], capture_output=True, text=True, timeout=300)
        said = second.stderr.strip().splitlines()
        assert second.returncode == 2 and len(said) == 1, second.stderr
        assert f"{out} is in use by another jaxcurr process (PID {first.pid})" in said[0]
        err = _one_line_error(capsys, path, "--out", out, "--resume")
        assert f"in use by another jaxcurr process (PID {first.pid})" in err
    finally:
        first.kill()
        first.communicate(timeout=60)
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != lock_path(out).name) == [
        "R", "exp.toml"]  # no staging folder
    assert cli.main(["run", str(path), "--out", str(out), "--resume", "--no-progress"]) == 0
    assert capsys.readouterr().out.strip() == f"{out}: finished already"
    assert not lock_path(out).exists()


def test_the_lock_of_a_killed_process_never_blocks_a_later_run(tmp_path):
    out = tmp_path / "R"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from jaxcurr.run.lifecycle import run_lock\n"
        f"with run_lock({str(out)!r}):\n    print('locked', flush=True); time.sleep(600)")],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    holder.kill()
    holder.wait()
    assert lock_path(out).read_text().strip() == str(holder.pid)  # left behind by the kill
    with run_lock(out):
        assert lock_path(out).read_text().strip() == str(os.getpid())
    assert not lock_path(out).exists()


@pytest.fixture
def file_size_limit():
    """``ulimit -f`` for this process (Python ignores SIGXFSZ: a write past it is EFBIG)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    yield lambda size: resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def test_a_full_checkpoint_write_names_the_folder_and_keeps_the_last_one(tiny_config, tmp_path,
                                                                          file_size_limit):
    """Item 3: orbax reports a failed write as a ValueError (tensorstore's status); the runner
    makes it an OSError naming the checkpoint folder, and the last checkpoint resumes exactly."""
    from jaxcurr.kinds import get_kind

    values = tiny_config(student={"hidden": [256]}, run={"steps": 20, "log_every": 10})
    kind = get_kind("classifier_curriculum")
    config = kind.from_dict(values)
    data = kind.prepare(config)
    whole = runner.run(kind, config, data, tmp_path / "whole", progress=False)

    class FillDisk(runner.Observer):
        def checkpoint(self, result):
            file_size_limit(65536)  # the next checkpoint's arrays (178 kB) do not fit

    folder = tmp_path / "checkpoints"
    with pytest.raises(OSError) as caught:
        runner.run(kind, config, data, folder, progress=False, observer=FillDisk())
    file_size_limit(resource.RLIM_INFINITY)
    assert caught.value.errno == errno.EFBIG and caught.value.filename == str(folder)
    assert isinstance(caught.value.__cause__, ValueError)  # what orbax raised
    assert sorted(p.name for p in folder.iterdir()) == ["1"]  # no unfinished checkpoint
    resumed = runner.run(kind, config, data, folder, resume=True, progress=False)
    for name, value in whole.metrics.items():
        np.testing.assert_array_equal(resumed.metrics[name], value)


def test_a_failed_numpy_write_names_the_file_and_keeps_the_old_one(tmp_path, file_size_limit):
    """Item 3: ``ulimit -f`` during ``metrics.npz``'s write was 'cannot use: File too large'."""
    path = tmp_path / "metrics.npz"
    atomic_write(path, lambda f: np.savez(f, a=np.zeros(3)))
    file_size_limit(4096)
    with pytest.raises(OSError) as caught:
        atomic_write(path, lambda f: np.savez(f, a=np.random.default_rng(0).random(10_000)))
    file_size_limit(resource.RLIM_INFINITY)
    assert caught.value.errno == errno.EFBIG and caught.value.filename == str(path)
    np.testing.assert_array_equal(np.load(path)["a"], np.zeros(3))
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.npz"]


def test_a_kill_during_the_first_write_leaves_no_file_for_good(tmp_path):
    """Item 9: the temporary file a killed write leaves is reused by the next write."""
    path = tmp_path / "metrics.npz"
    subprocess.run([sys.executable, "-c", (
        "import os, signal; from pathlib import Path; from jaxcurr.core.files import atomic_write\n"
        f"atomic_write(Path({str(path)!r}), lambda f: (f.write(b'x' * 4096), f.flush(), "
        "os.kill(os.getpid(), signal.SIGKILL)))")], check=False)
    assert not path.exists() and len(list(tmp_path.iterdir())) == 1  # the killed write's file
    atomic_write(path, lambda f: np.savez(f, a=np.arange(3)))
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.npz"]
    np.testing.assert_array_equal(np.load(path)["a"], np.arange(3))


def _damaged_npz(tmp_path, name, how):
    path = tmp_path / name
    rng = np.random.default_rng(0)
    np.savez(path, x_train=rng.random((400, 64), np.float32), y_train=np.arange(400) % 10,
             x_test=rng.random((100, 64), np.float32), y_test=np.arange(100) % 10)
    raw = bytearray(path.read_bytes())
    if how == "truncated":
        raw = raw[:20000]
    else:  # a byte of x_train's data flipped: the archive opens, the member fails its CRC
        with zipfile.ZipFile(path) as archive:
            offset = archive.getinfo("x_train.npy").header_offset
        raw[offset + 2000] ^= 0xFF
    path.write_bytes(bytes(raw))
    return path


@pytest.mark.parametrize("how", ["truncated", "corrupt"])
def test_a_damaged_npz_is_one_line(tiny_config, tmp_path, capsys, monkeypatch, how):
    """Item 4: ``data.path``, and the local copy ``$JAXCURR_DATA_DIR/mnist.npz``."""
    path = _damaged_npz(tmp_path, "t.npz", how)
    err = _one_line_error(capsys, _write(tmp_path, tiny_config(data={"path": str(path)})),
                          "--out", tmp_path / "r")
    assert "data.path" in err and "t.npz" in err and not (tmp_path / "r").exists()
    folder = tmp_path / "data"
    folder.mkdir()
    _damaged_npz(folder, "mnist.npz", how)
    monkeypatch.setenv("JAXCURR_DATA_DIR", str(folder))
    values = tiny_config(data={"source": "tfds", "name": "mnist", "path": ""})
    err = _one_line_error(capsys, _write(tmp_path, values), "--out", tmp_path / "r")
    assert "mnist.npz" in err and "allowed: an .npz" in err


@pytest.mark.parametrize("name", ["adroit_acl", "antmaze_acl", "pointmaze_acl", "lunar_sac",
                                  "fourrooms_sac"])
def test_a_batch_larger_than_the_replay_buffer_is_refused(capsys, tmp_path, monkeypatch, name):
    """Item 5: every kind with a replay buffer (flashbax refused it only when sampling)."""
    monkeypatch.chdir(tmp_path)
    err = _one_line_error(capsys, name, "--set", "sac.batch_size=4096", "--set",
                          "sac.buffer_size=100")
    assert "sac.batch_size: got 4096; allowed: at most sac.buffer_size (100)" in err
    assert list(tmp_path.iterdir()) == []


def test_a_size_xla_cannot_hold_is_refused_before_compiling(tiny_config, tmp_path, capsys):
    """Item 6: a layer of 4e9 units aborted the process in XLA's shape checks; now the memory
    check refuses the state's shapes, with the numbers, before anything is compiled."""
    values = tiny_config(student={"hidden": [4_000_000_000]})
    err = _one_line_error(capsys, _write(tmp_path, values), "--out", tmp_path / "r")
    assert "need about" in err and "GiB are available" in err and "4000000000" in err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(("sets", "message"), [
    (["env.physics=mjx"], "env.physics: got 'mjx'; allowed: 'auto' (the default) with "
     "env.name = 'point_maze': it applies to adroit_relocate and ant_maze only"),
    (["env.hand_start=true"], "env.hand_start: got True"),
    (["run.total_steps=100", "run.eval_every=400"],
     "run.total_steps: got 100; allowed: a multiple of run.eval_every (400), e.g. 400"),
    (["run.total_steps=1000", "run.eval_every=400"], "e.g. 800 or 1200"),
])
def test_settings_that_do_not_apply_or_would_be_rounded_are_refused(capsys, tmp_path,
                                                                   monkeypatch, sets, message):
    """Item 7: these ran, ignoring the setting or running more steps than asked."""
    monkeypatch.chdir(tmp_path)
    args = [a for s in sets for a in ("--set", s)]
    assert message in _one_line_error(capsys, "pointmaze_acl", *args)


def test_a_data_path_the_source_does_not_read_is_refused(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    err = _one_line_error(capsys, "digits_curriculum", "--set", "data.path=t.npz")
    assert "data.path: got 't.npz'; allowed: '' (unset) with data.source = 'digits'" in err


def test_mjx_without_its_package_names_the_extra(monkeypatch):
    """Item 7: without mujoco-mjx (its import blocked as Python documents: ``None`` in
    ``sys.modules``), the message named a model that 'does not load in MJX'."""
    import mujoco

    from jaxcurr.core.validation import ConfigError
    from jaxcurr.envs.mujoco import physics as mj
    from jaxcurr.envs.mujoco import relocate

    spec = mj.make_spec(relocate.load_model(), 5, readings=(mj.Reading("qpos"),))
    monkeypatch.setitem(sys.modules, "mujoco.mjx", None)
    monkeypatch.delattr(mujoco, "mjx", raising=False)
    with pytest.raises(ConfigError, match=r"needs mujoco-mjx, which the 'mujoco' extra installs"):
        mj.MjxPhysics(spec)


def test_ant_maze_prints_no_notice_of_gymnasium_robotics():
    """Item 7: its import printed a note on Adroit's rewards before any error of ours."""
    done = subprocess.run([sys.executable, "-c", "from jaxcurr.envs.mujoco.ant_maze import "
                           "load_model; load_model('open')"], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0 and "AdroitHand" not in done.stderr, done.stderr


def _count_compiles(monkeypatch) -> list:
    """The runner's compile_run, recorded and then run as it is."""
    calls, original = [], runner.compile_run

    def recorded(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(runner, "compile_run", recorded)
    return calls


def test_refusals_come_before_compiling(tiny_config, tmp_path, capsys, monkeypatch):
    """Item 8: ``--resume`` of a finished run and an ``--out`` that cannot be written are
    answered without compiling the program."""
    path, out = _write(tmp_path, tiny_config(run={"steps": 20, "log_every": 10})), tmp_path / "R"
    assert cli.main(["run", str(path), "--out", str(out), "--no-progress"]) == 0
    compiles = _count_compiles(monkeypatch)
    capsys.readouterr()
    assert cli.main(["run", str(path), "--out", str(out), "--resume", "--no-progress"]) == 0
    assert capsys.readouterr().out.strip() == f"{out}: finished already"
    blocker = tmp_path / "a_file"
    blocker.write_text("mine")
    assert "--out: cannot use" in _one_line_error(capsys, path, "--out", blocker / "run")
    assert "--out: cannot use" in _one_line_error(capsys, path, "--out", "/proc/jaxcurr-run")
    assert compiles == []


def test_ctrl_c_during_compilation_is_answered_at_once():
    """Item 8: the compilation runs in a worker thread while the main thread waits in short
    steps; a Ctrl-C is answered while the work (here held until the end) is still going."""
    started, release = threading.Event(), threading.Event()

    def long_native_work():
        started.set()
        release.wait(120)
        return "compiled"

    def press_ctrl_c():
        started.wait(120)
        os.kill(os.getpid(), signal.SIGINT)

    previous = signal.getsignal(signal.SIGINT)
    interrupts.install()
    presser = threading.Thread(target=press_ctrl_c)
    try:
        presser.start()
        with pytest.raises(KeyboardInterrupt):
            interrupts.interruptible(long_native_work)
        assert not release.is_set()  # answered before the work ended
    finally:
        release.set()
        presser.join()
        signal.signal(signal.SIGINT, previous)
        interrupts._REQUESTS.clear()
    assert interrupts.interruptible(long_native_work) == "compiled"


def test_checkpoints_kept_outside_survive_a_new_checkout_and_a_lost_folder_is_refused(
        tiny_config, tmp_path, monkeypatch, capsys):
    """Issue 38: with ``JAXCURR_CHECKPOINT_DIR`` the checkpoints live in a folder of the run's
    own there, named in ``checkpoints.path``; a copy of the run directory (what a fresh
    checkout of a repository holding it has) resumes to the uninterrupted run's metrics without
    the variable. A copy whose folder is gone (another machine) is refused in one line and
    keeps its metrics, rather than starting again over them."""
    values = tiny_config(run={"steps": 40, "log_every": 10, "chunk_logs": 1,
                              "checkpoint_every": 1})
    path, cut = _write(tmp_path, values), tmp_path / "cut"
    assert cli.main(["run", str(path), "--out", str(tmp_path / "straight"), "--no-progress"]) == 0
    monkeypatch.setenv("JAXCURR_CHECKPOINT_DIR", str(tmp_path / "held"))
    with monkeypatch.context() as patch:
        _interrupt_after_first_checkpoint(patch)
        assert cli.main(["run", str(path), "--out", str(cut), "--no-progress"]) == 130
    capsys.readouterr()
    monkeypatch.delenv("JAXCURR_CHECKPOINT_DIR")
    folder = run_dir.checkpoint_dir(cut)
    assert folder.parent == (tmp_path / "held").resolve() and any(folder.iterdir())
    assert not (cut / "checkpoints").exists()
    checkout, elsewhere = tmp_path / "checkout" / "cut", tmp_path / "elsewhere" / "cut"
    shutil.copytree(cut, checkout)
    shutil.copytree(cut, elsewhere)
    (elsewhere / run_dir.CHECKPOINT_LINK).write_text(str(tmp_path / "other-machine" / "x"))
    before = (elsewhere / "metrics.npz").read_bytes()
    err = _one_line_error(capsys, path, "--out", elsewhere, "--resume")
    assert f"has metrics up to window 1 but its checkpoint folder {tmp_path}" in err
    assert (elsewhere / "metrics.npz").read_bytes() == before
    assert cli.main(["run", str(path), "--out", str(checkout), "--resume", "--no-progress"]) == 0
    _assert_same_run(tmp_path / "straight", checkout)
