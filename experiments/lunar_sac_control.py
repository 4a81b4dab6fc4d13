"""REPORT §6.2's control table: jaxcurr's Discrete SAC on its LunarLander port beside the
independent PyTorch Discrete SAC on Gymnasium's Box2D LunarLander, greedy returns by env step.

    python experiments/lunar_sac_control.py [--jax experiments/results/lunar_sac_200x200]

PyTorch rows: ``experiments/results/lunar_sac_control/*.jsonl`` (written by
``python -m benchmarks.torch_baselines.sac_lunar_control --out FILE``; 5 greedy episodes every
10,000 env steps). jaxcurr rows: the run directory's greedy evaluations (5 rollouts after every
50th episode), each placed in the 20,000-step span in which its episode ended (a seed's evaluations
in one span averaged).
"""

import argparse
import json
import tomllib
from collections import defaultdict
from pathlib import Path

import numpy as np

from jaxcurr.run.run_dir import load_metrics

RESULTS = Path(__file__).parent / "results"
SPAN = 20_000


def torch_rows(folder: Path) -> dict[str, dict[int, list[float]]]:
    """``{label: {step: [greedy return per seed]}}`` from the control's JSON lines."""
    rows: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            r = json.loads(line)
            label = "PyTorch " + "x".join(map(str, r["hidden"])) + (
                " grokfast" if r["grokfast"] else "")
            rows[label][r["step"]].append(r["greedy_return"])
    return rows


def jax_rows(run_dir: Path) -> dict[str, dict[int, list[float]]]:
    """``{label: {span end: [mean greedy return per seed in the span]}}`` of a discrete_sac run."""
    metrics = load_metrics(run_dir)
    evals, ends = metrics.final["eval_return"], metrics.final["end_step"]
    every = ends.shape[-1] // evals.shape[-1]
    labels = tomllib.loads((run_dir / "config.toml").read_text())["variants"]["names"]
    rows = {}
    for v, name in enumerate(labels):
        by_span: dict[int, list[float]] = defaultdict(list)
        for s in range(evals.shape[1]):
            scored = np.isfinite(evals[v, s])
            steps = ends[v, s, every - 1::every][:scored.size]
            spans = defaultdict(list)
            for step, score in zip(steps[scored], evals[v, s][scored], strict=True):
                spans[int(np.ceil(step / SPAN) * SPAN)].append(float(score))
            for span, scores in spans.items():
                by_span[span].append(float(np.mean(scores)))
        rows[f"jaxcurr {name}"] = by_span
    return rows


def table(rows: dict[str, dict[int, list[float]]], spans: list[int]) -> str:
    head = "| run | " + " | ".join(f"{s // 1000}k" for s in spans) + " |"
    lines = [head, "|---|" + "---:|" * len(spans)]
    for label, by_step in rows.items():
        cells = []
        for s in spans:
            values = by_step.get(s, [])
            cells.append(f"{np.mean(values):.0f} ({len(values)})" if values else "")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jax", type=Path, default=RESULTS / "lunar_sac_200x200")
    parser.add_argument("--torch", type=Path, default=RESULTS / "lunar_sac_control")
    args = parser.parse_args()
    rows = {**torch_rows(args.torch), **jax_rows(args.jax)}
    last = max(max(r) for r in rows.values() if r)
    print("greedy return, mean over seeds (seeds with an evaluation in the span)")
    print(table(rows, list(range(SPAN, last + 1, SPAN))))


if __name__ == "__main__":
    main()
