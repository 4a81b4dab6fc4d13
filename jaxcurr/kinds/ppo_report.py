"""Summary and figures of a ``ppo`` run: final and greedy returns per variant, diagnostics.

The final return of a run is the mean episode return over the last ``report.final_fraction``
of its windows; ``greedy_return`` is the mean return of ``report.greedy_episodes`` argmax
rollouts of its final policy: IQM over seeds with stratified bootstrap intervals from 3 seeds,
and the probability that a seed's final return beats one of ``plain``. Figures: the return
curve per variant (mean and bootstrap band over seeds) and the diagnostics (entropy, entropy
coefficient, gradient magnitudes, losses).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from jaxcurr.core.figures import band, plt, point_curves, save_figure
from jaxcurr.core.stats import improvement, nanmean, significant, stat
from jaxcurr.core.table import format_table, improvement_cell, seeds_note, stat_cell
from jaxcurr.core.validation import fraction, is_int, require

DIAGNOSTICS = ("entropy", "entropy_coef", "actor_grad_magnitude", "critic_grad_magnitude",
               "actor_loss", "critic_loss")


@dataclasses.dataclass(frozen=True)
class PPOReportConfig:
    """final_fraction: the final return is the mean over the last fraction of updates;
    solved_level: a return drawn on the figure and counted per seed (0: none);
    greedy_episodes: greedy (argmax) rollouts of every run's final policy (0: none)."""

    final_fraction: float = 0.1
    solved_level: float = 0.0
    greedy_episodes: int = 0

    def __post_init__(self):
        fraction("report.final_fraction", self.final_fraction)
        require(self.final_fraction > 0, "report.final_fraction", "a number in (0, 1)",
                self.final_fraction)
        require(is_int(self.greedy_episodes) and self.greedy_episodes >= 0,
                "report.greedy_episodes", "an integer >= 0", self.greedy_episodes)


def summarize(config: Any, metrics: Any, points: list[str]) -> dict[str, Any]:
    """Per variant: the final return (mean over the last ``report.final_fraction`` of the
    windows, per seed; IQM and interval), the probability that it beats ``plain``, the
    diagnostics there, and the mean greedy return of the final policy where
    ``report.greedy_episodes`` is set."""
    returns = metrics["episode_return"]  # [P, S, W]
    tail = max(1, int(round(returns.shape[2] * config.report.final_fraction)))
    out: dict[str, Any] = {"env": config.env.name, "algo": config.agent.algo,
                           "seeds": config.run.seeds, "windows": int(returns.shape[2]),
                           "final_windows": tail, "variants": {}}
    plain = nanmean(returns[points.index("plain"), :, -tail:], -1) if "plain" in points else None
    for v, name in enumerate(points):
        final = nanmean(returns[v, :, -tail:], -1)
        row = {"final_return": stat(final, 5), "final_return_per_seed": significant(final, 5)}
        if plain is not None and name != "plain":
            row["p_higher_final_return_than_plain"] = improvement(final, plain)
        if config.report.solved_level:
            row["seeds_solved"] = int((final >= config.report.solved_level).sum())
        if "greedy_return" in metrics.final:
            greedy = metrics.final["greedy_return"][v].mean(-1)
            row["greedy_return"] = stat(greedy, 5)
            row["greedy_return_per_seed"] = significant(greedy, 5)
        for m in DIAGNOSTICS:
            row[f"final_{m}"] = significant(nanmean(metrics[m][v, :, -tail:]), 5)
        out["variants"][name] = row
    return out


def format_summary(summary: dict[str, Any]) -> str:
    lines = [f"{summary['algo']} on {summary['env']}, {summary['seeds']} seeds: final return "
             f"(last {summary['final_windows']} of {summary['windows']} windows); "
             f"{seeds_note(summary['seeds'])}"]
    greedy = any("greedy_return" in row for row in summary["variants"].values())
    header = ["variant", "final return", "P(higher than plain)",
              *(["greedy return"] if greedy else [])]
    rows = [[name, stat_cell(row["final_return"], ".2f"),
             improvement_cell(row.get("p_higher_final_return_than_plain")),
             *([stat_cell(row["greedy_return"], ".2f")] if greedy else [])]
            for name, row in summary["variants"].items()]
    return "\n".join(lines + format_table(header, rows))


def figures(run_dir: Path, config: Any, metrics: Any, points: list[str]
            ) -> list[Path]:
    step = np.asarray(metrics.step)
    if step.size == 0:
        return []
    unit = "update" if config.agent.algo == "ppo" else "episode"
    lines = {"solved level": config.report.solved_level} if config.report.solved_level else {}
    out = [point_curves(Path(run_dir) / "figures" / "return.png", step,
                        {p: metrics["episode_return"][i] for i, p in enumerate(points)},
                        "episode return", f"{config.name}: {config.agent.algo} on "
                        f"{config.env.name}, {config.run.seeds} seeds", xlabel=unit,
                        lines=lines)]
    fig, axes = plt.subplots(2, 3, figsize=(13, 6.5))
    for ax, m in zip(axes.flat, DIAGNOSTICS, strict=True):
        for i, p in enumerate(points):
            band(ax, step, metrics[m][i], p)
        ax.set(title=m, xlabel=unit)
        ax.grid(alpha=0.3)
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    out.append(save_figure(fig, Path(run_dir) / "figures" / "diagnostics.png"))
    return out
