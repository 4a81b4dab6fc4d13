"""The classifier engine's speed at two git revisions, measured alternately in one run.

    python -m benchmarks.compare_revisions BEFORE [AFTER] [--config mnist_curriculum]
        [--seeds 8] [--steps 500] [--repeats 3]

Each revision is checked out into a temporary ``git worktree`` and measured with its own
``benchmarks/measure_jax.py`` (a fresh process each time, the same virtual environment), the
two alternating ``--repeats`` times so that machine drift hits both. Both run from this
repository's root, so data paths and experiment files resolve the same way. Prints the seed-steps/s
of every measurement, the best of each, and AFTER / BEFORE. ``AFTER`` defaults to the working
tree.
The MNIST/CIFAR-10 experiments load their data with TFDS; offline, set ``JAXCURR_DATA_DIR``
to a folder holding ``mnist.npz`` / ``cifar10.npz`` copies (this team's runs name theirs).
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


def measure(tree: Path, config: str, seeds: int, steps: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree))
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.measure_jax", config, "--seeds", str(seeds),
         "--steps", str(steps)], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("before")
    parser.add_argument("after", nargs="?", help="a revision (default: the working tree)")
    parser.add_argument("--config", default="mnist_curriculum")
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
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
            rates: dict[str, list[float]] = {"before": [], "after": []}
            for _ in range(args.repeats):
                for label in ("before", "after"):
                    result = measure(trees[label], args.config, args.seeds, args.steps)
                    rates[label].append(result["seed_steps_per_s"])
                    print(f"{label:<7} {result['seed_steps_per_s']:8.1f} seed-steps/s "
                          f"(compile {result['compile_s']:.1f} s)", flush=True)
        finally:
            for path in trees.values():
                if path != ROOT:
                    subprocess.run(["git", "worktree", "remove", "--force", str(path)],
                                   cwd=ROOT, capture_output=True)
    best = {k: max(v) for k, v in rates.items()}
    from benchmarks.__main__ import machine

    print(f"\n{args.config}, {args.seeds} seeds x {args.steps} steps on {machine()}: "
          f"best before {best['before']:.1f}, after {best['after']:.1f} seed-steps/s; "
          f"after / before = {best['after'] / best['before']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
