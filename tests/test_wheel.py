"""jaxcurr as a user installs it: the wheel built from this checkout's sources, installed into a
folder of the test's own and run from outside the checkout (the editable install's finder
comes after that folder on the path, and each process checks ``jaxcurr.__file__``):
``jaxcurr list`` shows the shipped experiments and a tiny ``jaxcurr run digits_curriculum``
runs; the wheel carries the LICENSE."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted(p.stem for p in (ROOT / "jaxcurr" / "experiments").glob("*.toml"))
TINY = ["--set", "run.steps=40", "--set", "run.log_every=20", "--set", "run.seeds=2",
        "--set", "run.batch_size=16", "--set", "student.hidden=[16]",
        "--set", "teacher.hidden=[8]", "--set", 'run.methods=["uniform", "gradient_norm"]',
        "--no-progress"]


def _run(command, target, cwd, **kwargs):
    env = {**os.environ, "PYTHONPATH": str(target)}
    return subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600, **kwargs)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The wheel of a copy of the sources (the build leaves the checkout alone), pip-installed
    without dependencies (they are in this venv) into ``site/``; ``outside/`` is the cwd."""
    base = tmp_path_factory.mktemp("wheel")
    source = base / "source"
    shutil.copytree(ROOT / "jaxcurr", source / "jaxcurr",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--wheel-dir",
                    base / "dist", source], check=True, capture_output=True)
    wheel = next((base / "dist").glob("jaxcurr-*.whl"))
    subprocess.run([*pip, "install", "--quiet", "--no-deps", "--target", base / "site", wheel],
                   check=True, capture_output=True)
    (base / "outside").mkdir()
    return base / "site", base / "outside"


def test_the_installed_package_is_the_wheel_and_carries_the_license(installed):
    target, outside = installed
    done = _run([sys.executable, "-c", "import jaxcurr; print(jaxcurr.__file__)"], target,
                outside)
    assert Path(done.stdout.strip()).parent == target / "jaxcurr", done.stderr
    licenses = list(target.glob("jaxcurr-*.dist-info/licenses/LICENSE"))
    assert licenses and licenses[0].read_text() == (ROOT / "LICENSE").read_text()
    assert sorted(p.stem for p in (target / "jaxcurr" / "experiments").glob("*.toml")) == SHIPPED


def test_list_and_a_tiny_run_from_the_installed_wheel(installed):
    target, outside = installed
    script = target / "bin" / "jaxcurr"
    listed = _run([script, "list"], target, outside)
    assert listed.returncode == 0, listed.stderr
    names = {line.split()[0] for line in listed.stdout.splitlines() if line.strip()}
    assert set(SHIPPED) <= names
    done = _run([script, "run", "digits_curriculum", "--out", "demo", *TINY], target, outside)
    assert done.returncode == 0, done.stderr
    summary = json.loads((outside / "demo" / "summary.json").read_text())
    assert (summary["name"], summary["seeds"], summary["steps"]) == ("digits_curriculum", 2, 40)
    assert list(summary["methods"]) == ["uniform", "gradient_norm"]
    assert not (ROOT / "demo").exists()
