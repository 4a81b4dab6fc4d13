"""Install footprint of jaxcurr's core and of each extra: packages and MB in a fresh venv.

Builds jaxcurr's wheel (``pip wheel --no-deps --no-build-isolation``), then for each target
creates a fresh venv (``python -m venv``), installs ``<wheel>[extra]`` with pip and reports the
packages ``pip list`` gains and the MB ``du -sm`` adds over the empty venv (pip and setuptools).
The core is also checked: no TensorFlow, ``jaxcurr.transforms``, ``jaxcurr.teachers`` and
``jaxcurr.signals`` import, and ``jaxcurr run`` names the missing extra. Prints a markdown table.

    python -m benchmarks.measure_install [--targets core run tfds ...] [--work DIR]

``torch`` is measured with the CPU build (``torch==2.13.0``, as ``make test`` installs it).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ("core", "run", "tfds", "mujoco", "tensorboard", "wandb", "box2d", "torch", "all")
EXTRA_ARGS = {"torch": ["torch==2.13.0"]}
CORE_CHECK = ("import importlib.util, jaxcurr.transforms, jaxcurr.teachers, jaxcurr.signals; "
              "print('tensorflow' if importlib.util.find_spec('tensorflow') else 'no tensorflow')")


def run(*command: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in command], capture_output=True, text=True, cwd=cwd)


def footprint(venv: Path) -> tuple[int, int]:
    """(packages ``pip list`` shows, MB on disk) of a venv."""
    listed = run(venv / "bin" / "python", "-m", "pip", "list", "--format=freeze").stdout
    size = run("du", "-sm", venv).stdout.split()[0]
    return len(listed.split()), int(size)


def build_wheel(out: Path) -> Path:
    done = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
               "--wheel-dir", out, ROOT)
    if done.returncode:
        raise SystemExit(done.stderr)
    return next(out.glob("jaxcurr-*.whl"))


def measure(wheel: Path, target: str, work: Path) -> dict:
    venv = work / f"venv-{target}"
    shutil.rmtree(venv, ignore_errors=True)
    run(sys.executable, "-m", "venv", venv)
    empty = footprint(venv)
    spec = str(wheel) if target == "core" else f"{wheel}[{target}]"
    started = time.perf_counter()
    done = run(venv / "bin" / "python", "-m", "pip", "install", "--quiet", spec,
               *EXTRA_ARGS.get(target, []))
    row = {"target": target, "seconds": round(time.perf_counter() - started)}
    if done.returncode:
        row["error"] = done.stderr.strip().splitlines()[-1]
    else:
        packages, size = footprint(venv)
        row.update(packages=packages - empty[0], mb=size - empty[1])
    if target == "core" and not done.returncode:
        python = venv / "bin" / "python"
        row["core_imports"] = run(python, "-c", CORE_CHECK, cwd=work).stdout.strip()
        row["run_message"] = run(venv / "bin" / "jaxcurr", "run", "digits_curriculum",
                                 cwd=work).stderr.strip()
    shutil.rmtree(venv, ignore_errors=True)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--targets", nargs="+", default=list(TARGETS), choices=TARGETS)
    parser.add_argument("--work", type=Path, help="folder for the wheel and the venvs")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="jaxcurr-install-"))
    wheel = build_wheel(work / "wheel")
    print(f"wheel: {wheel.name}; Python {sys.version.split()[0]}", flush=True)
    print("| install | packages | MB on disk | pip install s |\n|---|---|---|---|", flush=True)
    for target in args.targets:
        row = measure(wheel, target, work)
        name = "jaxcurr" if target == "core" else f"jaxcurr[{target}]"
        if "error" in row:
            print(f"| `{name}` | failed: {row['error']} | | |", flush=True)
            continue
        print(f"| `{name}` | {row['packages']} | {row['mb']:,} | {row['seconds']} |", flush=True)
        for key in ("core_imports", "run_message"):
            if key in row:
                print(f"<!-- {key}: {row[key]} -->", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
