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
import sys

from benchmarks.compare_revisions import revision_trees, run_with


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
    with revision_trees(args.before, args.after) as trees:
        for env in args.env:
            for _ in range(args.repeats):
                for label in ("before", "after"):
                    result = run_with(trees[label], "benchmarks.measure_start_curriculum",
                                      ["--jax-only", "--env", env,
                                       "--window-steps", str(args.window_steps),
                                       "--windows", str(args.windows)])
                    assert "compile_s" in result, "measured with another revision's script"
                    rows.append({"env": env, "revision": label, **result})
                    print(json.dumps(rows[-1]), flush=True)
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
