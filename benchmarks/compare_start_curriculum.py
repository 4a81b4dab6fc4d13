"""The start curriculum's speed at two git revisions, alternately in one sitting.

    python -m benchmarks.compare_start_curriculum BEFORE [AFTER] [--env pointmaze relocate]
        [--window-steps 2000] [--windows 2] [--repeats 2]

Each revision is checked out into a temporary ``git worktree``; every measurement is a fresh
process that imports that revision's ``jaxcurr`` and runs this checkout's
:func:`benchmarks.measure_start_curriculum.measure_jax` (so both measure the same way, with the
same experiment files): the experiment's methods x seeds in one program, the compile time of
its window, then run-steps/s over ``--windows`` learning windows. ``AFTER`` defaults to the
working tree. Prints a markdown table and one JSON line per measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def measure(tree: Path, env: str, window_steps: int, windows: int) -> dict:
    """One measurement in a fresh process with ``tree``'s jaxcurr first on the path."""
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); import jaxcurr; "
            "sys.path[0] = sys.argv[5]; "
            "from benchmarks.measure_start_curriculum import measure_jax; "
            "r = measure_jax(sys.argv[2], int(sys.argv[3]), int(sys.argv[4])); "
            "r['jaxcurr'] = jaxcurr.__file__; print(json.dumps(r))")
    done = subprocess.run([sys.executable, "-c", code, str(tree), env, str(window_steps),
                           str(windows), str(ROOT)], cwd=ROOT, env=dict(os.environ),
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("before")
    parser.add_argument("after", nargs="?", help="a revision (default: the working tree)")
    parser.add_argument("--env", nargs="+", default=["pointmaze", "relocate"])
    parser.add_argument("--window-steps", type=int, default=2000)
    parser.add_argument("--windows", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    from benchmarks.__main__ import machine

    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        trees = {}
        for label, rev in (("before", args.before), ("after", args.after)):
            if rev is None:
                trees[label] = ROOT
                continue
            path = Path(scratch) / label
            subprocess.run(["git", "worktree", "add", "--detach", str(path), rev], cwd=ROOT,
                           check=True, capture_output=True)
            trees[label] = path
        try:
            for env in args.env:
                for _ in range(args.repeats):
                    for label in ("before", "after"):
                        result = measure(trees[label], env, args.window_steps, args.windows)
                        assert result["jaxcurr"].startswith(str(trees[label])), result
                        assert "compile_s" in result, "measured with another revision's script"
                        rows.append({"env": env, "revision": label, **result})
                        print(json.dumps(rows[-1]), flush=True)
        finally:
            for path in trees.values():
                if path != ROOT:
                    subprocess.run(["git", "worktree", "remove", "--force", str(path)],
                                   cwd=ROOT, capture_output=True)
    print(f"\n{machine()}; {args.window_steps}-step windows, best of {args.repeats}\n")
    print("| experiment | runs | before: run-steps/s | after: run-steps/s | after / before "
          "| compile before / after (s) |\n|---|---:|---:|---:|---:|---:|")
    for env in args.env:
        best = {label: max((r for r in rows if r["env"] == env and r["revision"] == label),
                           key=lambda r: r["run_steps_per_s"]) for label in ("before", "after")}
        b, a = best["before"], best["after"]
        print(f"| {env} | {a['runs']} | {b['run_steps_per_s']:.0f} | {a['run_steps_per_s']:.0f} "
              f"| {a['run_steps_per_s'] / b['run_steps_per_s']:.2f} | "
              f"{b['compile_s']:.1f} / {a['compile_s']:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
