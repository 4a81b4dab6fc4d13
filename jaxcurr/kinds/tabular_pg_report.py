"""Summary and figures of a ``tabular_pg`` run: the optimality gap of every method.

The gap is ``V*(rho) - V(rho)`` at the iterate each method's authors report (the held,
committed point for SPG-NM, ``theta`` for the others), with ``V*`` from value iteration: IQM
over seeds with stratified bootstrap intervals from 3 seeds, and the probability that a seed's
final gap is below one of ``pg``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from jaxcurr.core.figures import point_curves
from jaxcurr.core.stats import improvement, stat
from jaxcurr.core.table import format_table, improvement_cell, seeds_note, stat_cell

REPORTED_AT_HELD = ("spg_nm",)  # every other optimizer is reported at theta
BASELINE = "pg"


def summarize(config: Any, metrics: dict, points: list[str], labels: list[str],
              optimizers: list[str], learning_rate: float, thresholds: tuple[float, ...]
              ) -> dict:
    """Per point and method (``labels[i]`` runs ``optimizers[i]``): gap at steps 1, 10, 100,
    ... (window ends only), the last gap, and each seed's first step with gap <= each
    threshold (None: never)."""
    step = np.asarray(metrics.step)
    marks = [m for m in (1, 10, 100, 1_000, 10_000, 100_000) if m in step]
    out: dict[str, Any] = {"task": config.task.name, "mode": config.task.mode,
                           "learning_rate": learning_rate, "seeds": config.run.seeds,
                           "steps_done": int(step[-1]) if step.size else 0, "by_point": {}}
    for p, label in enumerate(points):
        rows = {}
        for label_m, optimizer in zip(labels, optimizers, strict=True):
            gap = metrics[f"{label_m}/gap"][p]  # [seeds, windows]
            if gap.shape[1] == 0:
                continue
            row = {"reported_at": "held w" if optimizer in REPORTED_AT_HELD else "theta",
                   "gap_at_step": {str(k): stat(gap[:, list(step).index(k)], 8)
                                   for k in marks},
                   "final_gap": stat(gap[:, -1], 8),
                   "nonfinite_final_seeds": int((~np.isfinite(gap[:, -1])).sum())}
            if BASELINE in labels and label_m != BASELINE:
                base = metrics[f"{BASELINE}/gap"][p][:, -1]
                row[f"p_lower_final_gap_than_{BASELINE}"] = improvement(-gap[:, -1], -base)
            for thr in thresholds:
                first = metrics[f"{label_m}/first_below_{thr:g}"][p][:, -1]
                row[f"first_step_below_{thr:g}"] = [int(f) if f > 0 else None for f in first]
            rows[label_m] = row
        out["by_point"][label] = rows
    return out


def format_summary(summary: dict) -> str:
    lines = [f"{summary['task']} ({summary['mode']} gradients, eta {summary['learning_rate']:g},"
             f" {summary['seeds']} seeds, {summary['steps_done']} steps): final gap "
             f"V*(rho) - V(rho); {seeds_note(summary['seeds'])}"]
    header = ["method", "final gap", f"P(lower than {BASELINE})", "first step gap <= 1e-2"]
    for label, rows in summary["by_point"].items():
        if len(summary["by_point"]) > 1:
            lines.append(f"[{label}]")
        cells = [[name, stat_cell(row["final_gap"], ".3g"),
                  improvement_cell(row.get(f"p_lower_final_gap_than_{BASELINE}")),
                  str(row["first_step_below_0.01"])] for name, row in rows.items()]
        lines += format_table(header, cells)
    return "\n".join(lines)


def figures(run_dir: Path, config: Any, metrics: dict, points: list[str], labels: list[str]
            ) -> list[Path]:
    """The gap ``V*(rho) - V(rho)`` over steps (log-log): one figure with a line per method,
    or with a sweep a figure per method and a line per point."""
    step = np.asarray(metrics.step)
    if step.size == 0:
        return []
    title = f"{config.name}: {config.task.mode} gradients, {config.run.seeds} seed(s)"
    figures_dir = Path(run_dir) / "figures"
    if len(points) == 1:  # one figure, a line per method
        curves = {m: np.maximum(metrics[f"{m}/gap"][0], 1e-12) for m in labels}
        return [point_curves(figures_dir / "gap.png", step, curves,
                             "V*(rho) - V(rho) (floor 1e-12)", title, log=True, logx=True)]
    out = []  # a sweep: a figure per method, a line per point
    for m in labels:
        curves = {label: np.maximum(metrics[f"{m}/gap"][p], 1e-12)
                  for p, label in enumerate(points)}
        out.append(point_curves(figures_dir / f"gap_{m}.png", step, curves,
                                "V*(rho) - V(rho) (floor 1e-12)", f"{title}, {m}",
                                log=True, logx=True))
    return out
