"""Loss curves of two classifier-curriculum runs that differ only in ``student.precision``,
paired by seed (same seeds, run keys and data: only the matmuls' rounding differs).

    python experiments/compare_precision.py RUN_FLOAT32 RUN_BFLOAT16

For each method, over the seeds: the mean group loss (mean over the groups' evaluation
losses) at the end and averaged over training, each run's mean ± 95% t-interval and the
paired difference's; and the share of logged steps at which the second run's mean lies
inside the first's interval ("curves unchanged within their intervals").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from jaxcurr.core.stats import mean_ci


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("first", type=Path)
    parser.add_argument("second", type=Path)
    args = parser.parse_args(argv)
    runs = [np.load(path / "metrics.npz") for path in (args.first, args.second)]
    methods = sorted({k.split("/")[0] for k in runs[0].files if k.endswith("/group_loss")})
    print(f"| method | final loss: {args.first.name} | {args.second.name} | paired difference"
          " | mean over training: first | second | paired difference | steps inside |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for method in methods:
        # [seeds, logs]; a run directory's arrays lead with its one sweep point
        curves = [run[f"{method}/group_loss"].reshape(-1, *run[f"{method}/group_loss"].shape[-2:])
                  .mean(axis=-1) for run in runs]
        cells = []
        for pick in (lambda c: c[:, -1], lambda c: c.mean(axis=1)):
            a, b = (pick(c) for c in curves)
            cells += [f"{m:.4f} ± {h:.4f}" for m, h in map(mean_ci, (a, b, b - a))]
        mean_a, half_a = mean_ci(curves[0])
        inside = np.mean(np.abs(curves[1].mean(axis=0) - mean_a) <= half_a)
        print(f"| {method} | " + " | ".join(cells) + f" | {inside:.0%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
