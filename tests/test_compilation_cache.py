"""The persistent compilation cache of ``jaxcurr run`` (:mod:`jaxcurr.run.cache`): where it
lives, how it is turned off, that a user's own ``JAX_COMPILATION_CACHE_DIR`` stays in charge,
and that a run writes entries that a second process loads (JAX logs each hit)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from jaxcurr.core.validation import ConfigError
from jaxcurr.run import cache

TINY = ["--set", "run.steps=20", "--set", "run.log_every=10", "--set", "run.seeds=1",
        "--set", "run.batch_size=8", "--set", "student.hidden=[8]", "--set", "teacher.hidden=[4]",
        "--set", 'run.methods=["uniform"]', "--no-progress"]


@pytest.mark.parametrize("environ, expected", [
    ({"HOME": "/h"}, Path.home() / ".cache" / "jaxcurr" / "xla"),
    ({"XDG_CACHE_HOME": "/x"}, Path("/x/jaxcurr/xla")),
    ({"XDG_CACHE_HOME": "/x", "JAXCURR_COMPILATION_CACHE": "/c/d"}, Path("/c/d")),
    ({"JAXCURR_COMPILATION_CACHE": "~/c"}, Path.home() / "c"),
    *(({"JAXCURR_COMPILATION_CACHE": off}, None) for off in ("0", "off", "False", " no ")),
])
def test_the_cache_folder(environ, expected):
    assert cache.cache_folder(environ) == expected


def test_a_users_own_jax_cache_and_off_leave_jax_alone(tmp_path):
    import jax

    before = jax.config.jax_compilation_cache_dir
    own = {"JAX_COMPILATION_CACHE_DIR": str(tmp_path / "own"), "XDG_CACHE_HOME": str(tmp_path)}
    assert cache.enable(own) == str(tmp_path / "own")
    assert cache.enable({"JAXCURR_COMPILATION_CACHE": "0"}) is None
    assert jax.config.jax_compilation_cache_dir == before
    assert not (tmp_path / "jaxcurr").exists()


def test_an_unusable_cache_folder(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="JAXCURR_COMPILATION_CACHE: cannot create .*allowed: "
                                          "a folder this user can write, or 0"):
        cache.enable({"JAXCURR_COMPILATION_CACHE": str(tmp_path / "file" / "xla")})
    assert cache.enable({"XDG_CACHE_HOME": str(tmp_path / "file")}) is None  # default: no cache


def _run(out: Path, environ: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "jaxcurr.cli", "run", "digits_curriculum",
                           "--out", str(out), *TINY], capture_output=True, text=True,
                          env=environ, timeout=600)


def test_a_run_writes_the_cache_and_a_second_process_loads_it(tmp_path):
    environ = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}
    # every program is cached whatever the default threshold; JAX logs each hit
    environ.update(XDG_CACHE_HOME=str(tmp_path / "xdg"), JAX_LOG_COMPILES="1",
                   JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0")
    folder = tmp_path / "xdg" / "jaxcurr" / "xla"
    first = _run(tmp_path / "a", environ)
    assert first.returncode == 0, first.stderr
    assert "Persistent compilation cache hit" not in first.stderr
    entries = {p.name for p in folder.iterdir()}
    assert any(name.endswith("-cache") for name in entries)
    second = _run(tmp_path / "b", environ)
    assert second.returncode == 0, second.stderr
    assert second.stderr.count("Persistent compilation cache hit") >= len(
        [n for n in entries if n.endswith("-cache")])
    assert {p.name for p in folder.iterdir()} == entries  # nothing compiled anew
