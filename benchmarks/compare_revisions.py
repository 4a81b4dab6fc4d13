"""The classifier engine's speed at two git revisions, measured alternately in one run.

    python -m benchmarks.compare_revisions BEFORE [AFTER] [--config mnist_curriculum]
        [--seeds 8] [--steps 500] [--repeats 3]

Each revision is checked out into a temporary ``git worktree`` and measured by this checkout's
``benchmarks/measure_jax.py`` importing that revision's jaxcurr (a fresh process each time,
the same virtual environment; ``run_with`` checks which jaxcurr was imported), the two
alternating ``--repeats`` times so that machine drift hits both. Both run from this
repository's root, so data paths and experiment files resolve the same way. Prints the seed-steps/s
of every measurement, the best of each, and AFTER / BEFORE. ``AFTER`` defaults to the working
tree.
The MNIST/CIFAR-10 experiments load their data with TFDS; offline, set ``JAXCURR_DATA_DIR``
to a folder holding ``mnist.npz`` / ``cifar10.npz`` copies (this team's runs name theirs).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_with(tree: Path, module: str, args: list[str]) -> dict:
    """The last JSON line printed by this checkout's ``benchmarks.<module>`` run in a fresh
    process that imports ``tree``'s jaxcurr (so two revisions are measured the same way)."""
    code = ("import runpy, sys; sys.path.insert(0, sys.argv[1]); import jaxcurr; "
            "assert jaxcurr.__file__.startswith(sys.argv[1]), jaxcurr.__file__; "
            "sys.path[0] = sys.argv[2]; sys.argv = [sys.argv[3], *sys.argv[4:]]; "
            "runpy.run_module(sys.argv[0], run_name='__main__')")
    done = subprocess.run([sys.executable, "-c", code, str(tree), str(ROOT), module, *args],
                          cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def revision_trees(before: str, after: str | None):
    """``{"before": path, "after": path}``: each revision checked out into a temporary
    ``git worktree`` (``after`` None: this working tree), removed afterwards."""
    with tempfile.TemporaryDirectory() as scratch:
        trees = {}
        try:
            for label, rev in (("before", before), ("after", after)):
                if rev is None:
                    trees[label] = ROOT
                    continue
                trees[label] = Path(scratch) / label
                subprocess.run(["git", "worktree", "add", "--detach", str(trees[label]), rev],
                               cwd=ROOT, check=True, capture_output=True)
            yield trees
        finally:
            for path in trees.values():
                if path != ROOT:
                    subprocess.run(["git", "worktree", "remove", "--force", str(path)],
                                   cwd=ROOT, capture_output=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("before")
    parser.add_argument("after", nargs="?", help="a revision (default: the working tree)")
    parser.add_argument("--config", default="mnist_curriculum")
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    rates: dict[str, list[float]] = {"before": [], "after": []}
    with revision_trees(args.before, args.after) as trees:
        for _ in range(args.repeats):
            for label in ("before", "after"):
                result = run_with(trees[label], "benchmarks.measure_jax",
                                  [args.config, "--seeds", str(args.seeds),
                                   "--steps", str(args.steps)])
                rates[label].append(result["seed_steps_per_s"])
                print(f"{label:<7} {result['seed_steps_per_s']:8.1f} seed-steps/s "
                      f"(compile {result['compile_s']:.1f} s)", flush=True)
    best = {k: max(v) for k, v in rates.items()}
    from benchmarks.__main__ import machine

    print(f"\n{args.config}, {args.seeds} seeds x {args.steps} steps on {machine()}: "
          f"best before {best['before']:.1f}, after {best['after']:.1f} seed-steps/s; "
          f"after / before = {best['after'] / best['before']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
