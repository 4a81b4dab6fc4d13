"""The persistent compilation cache on ``make demo``'s experiment: compile seconds and wall
seconds of a first run (empty cache), a second run (the cache filled by the first), and of a
``--resume`` in a new process, with the cache and without (``JAXCURR_COMPILATION_CACHE=0``).

Each run is ``jaxcurr run digits_curriculum`` (the demo's settings) in its own process with a
fresh cache folder for this measurement; compile seconds are the run's own (``summary.json``),
wall seconds include starting Python, importing JAX and loading the data. The resumed run is
interrupted (SIGINT) once its first checkpoint is written, then copied, and each copy resumed.

    python -m benchmarks.measure_compilation_cache [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

JAXCURR = [sys.executable, "-m", "jaxcurr.cli", "run", "digits_curriculum", "--no-progress"]


def run(out: Path, environ: dict, *extra: str) -> dict:
    started = time.perf_counter()
    done = subprocess.run([*JAXCURR, "--out", str(out), *extra], env=environ,
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(done.stderr)
    summary = json.loads((out / "summary.json").read_text())
    if not summary["steps_this_process"]:
        raise SystemExit(f"{out}: nothing ran (the interrupt came after the last checkpoint)")
    return {"compile_s": summary["compile_seconds"], "wall_s": time.perf_counter() - started}


def interrupted(out: Path, environ: dict, *extra: str) -> None:
    """A run stopped by SIGINT right after its first checkpoint (``metrics.npz`` appears)."""
    process = subprocess.Popen([*JAXCURR, "--out", str(out), *extra], env=environ,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    while process.poll() is None and not (out / "metrics.npz").exists():
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    if process.wait() != 130:
        raise SystemExit(f"the run was not interrupted: {process.stderr.read()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", action="append", default=[], help="passed to jaxcurr run")
    args = parser.parse_args(argv)
    extra = [word for item in args.set for word in ("--set", item)]
    work = Path(tempfile.mkdtemp(prefix="jaxcurr-cache-bench-"))
    environ = {k: v for k, v in os.environ.items()
               if k not in ("JAX_COMPILATION_CACHE_DIR", "JAXCURR_CHECKPOINT_DIR")}
    cached = {**environ, "JAXCURR_COMPILATION_CACHE": str(work / "xla")}
    uncached = {**environ, "JAXCURR_COMPILATION_CACHE": "0"}
    rows = {"first run (empty cache)": run(work / "first", cached, *extra),
            "second run (cache filled)": run(work / "second", cached, *extra)}
    interrupted(work / "cut", uncached, *extra)
    shutil.copytree(work / "cut", work / "cut_cached")
    rows["--resume, no cache"] = run(work / "cut", uncached, "--resume", *extra)
    rows["--resume, cache filled"] = run(work / "cut_cached", cached, "--resume", *extra)
    entries = [p for p in (work / "xla").iterdir() if p.name.endswith("-cache")]
    size = sum(p.stat().st_size for p in entries) / 1e6
    first = rows["first run (empty cache)"]["compile_s"]
    print(f"cache: {len(entries)} entries, {size:.1f} MB")
    print("| process | compile s | wall s | compile / first run's |\n|---|---|---|---|")
    for name, row in rows.items():
        print(f"| {name} | {row['compile_s']:.1f} | {row['wall_s']:.1f} | "
              f"{row['compile_s'] / first:.2f} |")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
