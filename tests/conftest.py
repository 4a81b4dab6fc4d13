"""Shared fixtures: small synthetic datasets the tests write themselves; one XLA compilation
cache for the whole run; derandomized property tests.

Many tests run the same program several times (a run, the same run interrupted, its resume;
the CLI in subprocesses): JAX's persistent compilation cache, in a folder made for this pytest
run and removed at its end, lets every process after the first load the compiled program
instead of compiling it again. The executables are the ones XLA compiled, so results are
unchanged; only compile time is saved.

Tests compile with XLA's CPU backend at optimisation level 0 (``TEST_XLA_FLAGS``): the suite is
dominated by compiling many small programs once, and level 0 cuts that by about 40% (a
PointMaze curriculum program: 25 s -> 15 s) while running them about 25% slower. Each process
runs XLA's CPU operations on one thread: the two xdist workers already fill the two cores
(tests/test_kinds.py on 2 workers: 190 s -> 168 s). The programs
(their HLO) are the ones users run; only LLVM's code generation differs, which moves float
results in the last bits (one float32 comparison set tighter than float32 allows was widened
to 1e-5 relative for it; no other tolerance changed). Tests that compare two runs
compare runs compiled the same way; the few that compare bit for bit with results recorded at
XLA's default level, or that mostly execute rather than compile, run their program in a
subprocess at the default level (:func:`default_xla_environment`).
"""

import os
import shutil
import tempfile

import numpy as np
import pytest
from hypothesis import settings

# Property tests draw the same examples on every run and machine (seeded from each test), with
# no example database: a run's outcome never depends on what an earlier run found.
settings.register_profile("jaxcurr", derandomize=True, database=None)
settings.load_profile("jaxcurr")

CACHE_VARIABLE = "JAX_COMPILATION_CACHE_DIR"
TEST_XLA_FLAGS = "--xla_backend_optimization_level=0 --xla_cpu_multi_thread_eigen=false"


def xla_flags(*extra):
    """XLA_FLAGS for a test's subprocess: the suite's flags plus ``extra``."""
    return " ".join([os.environ.get("XLA_FLAGS", ""), *extra]).strip()


def default_xla_environment() -> dict[str, str]:
    """``os.environ`` for a subprocess that compiles at XLA's default optimisation level."""
    env = dict(os.environ)
    flags = env.get("XLA_FLAGS", "").replace(TEST_XLA_FLAGS, "").strip()
    if flags:
        env["XLA_FLAGS"] = flags
    else:
        env.pop("XLA_FLAGS", None)
    return env


def pytest_configure(config):
    """The controller (or a run without xdist) makes the cache folder; workers and the
    subprocesses tests start inherit it through the environment."""
    if not hasattr(config, "workerinput") and CACHE_VARIABLE not in os.environ:
        config.jaxcurr_cache = tempfile.mkdtemp(prefix="jaxcurr-xla-cache-")
        os.environ[CACHE_VARIABLE] = config.jaxcurr_cache
    if TEST_XLA_FLAGS not in os.environ.get("XLA_FLAGS", ""):
        os.environ["XLA_FLAGS"] = xla_flags(TEST_XLA_FLAGS)
    import jax

    jax.config.update("jax_compilation_cache_dir", os.environ[CACHE_VARIABLE])


def pytest_unconfigure(config):
    folder = getattr(config, "jaxcurr_cache", None)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
        del os.environ[CACHE_VARIABLE]


def blobs(num_classes=10, per_class=30, dim=12, seed=0, spread=0.35):
    """Class-conditional Gaussian blobs in [0, 1]: an easy classification task."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0.2, 0.8, (num_classes, dim))
    y = np.repeat(np.arange(num_classes), per_class)
    x = np.clip(centres[y] + spread * rng.normal(size=(len(y), dim)) * 0.3, 0, 1)
    order = rng.permutation(len(y))
    return x[order].astype(np.float32), y[order].astype(np.int64)


@pytest.fixture(scope="session")
def blobs_npz(tmp_path_factory):
    """An .npz with x_train, y_train, x_test, y_test of 10 easy classes."""
    x, y = blobs(per_class=40)
    xt, yt = blobs(per_class=10, seed=1)
    path = tmp_path_factory.mktemp("data") / "blobs.npz"
    np.savez(path, x_train=x, y_train=y, x_test=xt, y_test=yt)
    return path


@pytest.fixture(scope="session")
def tiny_config(blobs_npz):
    """Builder of a tiny experiment's dict on the blobs data; keyword sections update it."""
    return lambda **sections: small_config_dict(blobs_npz, **sections)


def small_config_dict(npz_path, **sections):
    values = {
        "name": "tiny",
        "data": {"source": "npz", "path": str(npz_path), "eval_per_class": 10,
                 "test_size": 100},
        "student": {"hidden": [16]},
        "teacher": {"hidden": [8]},
        "run": {"steps": 40, "log_every": 10, "batch_size": 16, "seeds": 2, "chunk_logs": 1,
                "checkpoint_every": 1},
    }
    for name, update in sections.items():
        values.setdefault(name, {}).update(update)
    return values


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny networks: one intra-op torch thread avoids oversubscribing CI's 2 cores."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
