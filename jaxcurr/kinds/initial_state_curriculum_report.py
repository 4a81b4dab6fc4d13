"""Summary and figures of an ``initial_state_curriculum`` run (the gradient-norm paper's claims).

Per method, the IQM over seeds (stratified bootstrap intervals from 3 seeds): the evaluation
return and success rate at the end (last ``report.last_windows`` windows) and over the whole
run (the area under the curve, i.e. the mean over windows, which rewards learning early), the
env steps until the evaluation success rate first reaches ``report.success_threshold``, the
difference of each teacher method to ``no_teacher`` per seed (seeds share keys, so the
difference is paired) and the probability that a seed's return AUC beats one of
``no_teacher``. For the curriculum: the mean chosen goal distance over the first and last
fifth of episodes and its Spearman correlation with the episode index per seed
(the paper: distance grows).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from jaxcurr.core.stats import improvement, nanmean, stat
from jaxcurr.core.table import format_table, improvement_cell, seeds_note, stat_cell
from jaxcurr.core.validation import require_in, require_positive_int
from jaxcurr.signals.episode_scores import SIGNALS

UNGUARDED = ("train_return", "train_success", "train_goal_distance",
             *(f"train_signal_{n}" for n in SIGNALS), "critic_loss", "actor_loss",
             "entropy",  # NaN in a window without episode ends or updates
             "eval_success")  # NaN for an env that reports no info["success"]


@dataclasses.dataclass(frozen=True)
class ReportConfig:
    """last_windows: the final score's windows; success_threshold: the success rate timed;
    smooth: moving-average width (episodes) of the goal-distance figure."""

    last_windows: int = 5
    success_threshold: float = 0.8
    smooth: int = 50

    def __post_init__(self):
        require_positive_int("report.last_windows", self.last_windows)
        require_positive_int("report.smooth", self.smooth)
        require_in("report.success_threshold", self.success_threshold, 0.0, 1.0,
                   low_open=True)


def steps_to_threshold(success: np.ndarray, steps: np.ndarray, threshold: float) -> list:
    """Per seed: the env step of the first window whose success rate >= threshold (None)."""
    out = []
    for curve, at in zip(success, steps, strict=True):
        hit = np.nonzero(np.nan_to_num(curve, nan=-1.0) >= threshold)[0]
        out.append(int(at[hit[0]]) if hit.size else None)
    return out


def curriculum_stats(distance: np.ndarray) -> dict[str, Any]:
    """Goal distance per episode ``[seed, episode]`` (NaN: not run): early/late means and the
    per-seed Spearman correlation with the episode index."""
    rows = []
    for d in distance:
        d = d[~np.isnan(d)]
        fifth = max(len(d) // 5, 1)
        rho = stats.spearmanr(np.arange(len(d)), d).statistic if len(d) > 2 else np.nan
        rows.append((np.mean(d[:fifth]), np.mean(d[-fifth:]), rho))
    first, last, rho = (np.array(c) for c in zip(*rows, strict=True))
    return {"goal_distance_first_fifth": stat(first, 4),
            "goal_distance_last_fifth": stat(last, 4),
            "spearman_episode_vs_distance": stat(rho, 4),
            "spearman_per_seed": [round(float(r), 4) for r in rho]}


def summarize(config: Any, metrics: Any, points: list[str]) -> dict[str, Any]:
    m, rep = metrics, config.report
    out: dict[str, Any] = {"name": config.name, "seeds": config.run.seeds,
                           "total_steps": config.run.total_steps, "methods": {}}
    if "eval_return" not in m:
        return out
    steps = m["env_steps"]  # [point, seed, window]
    done = int(np.nanmin(steps[..., -1]))
    base = points.index("no_teacher") if "no_teacher" in points else None
    last = rep.last_windows
    for p, name in enumerate(points):
        ret, succ = m["eval_return"][p], m["eval_success"][p]
        row: dict[str, Any] = {
            f"eval_return_last_{last}_windows": stat(nanmean(ret[:, -last:], 1), 4),
            f"eval_success_last_{last}_windows": stat(nanmean(succ[:, -last:], 1), 4),
            "eval_return_auc": stat(nanmean(ret, 1), 4),
            "eval_success_auc": stat(nanmean(succ, 1), 4),
            f"steps_to_success_{rep.success_threshold:g}": steps_to_threshold(
                succ, steps[p], rep.success_threshold),
        }
        if base is not None and p != base:
            row["eval_return_auc_minus_no_teacher"] = stat(
                nanmean(ret, 1) - nanmean(m["eval_return"][base], 1), 4)
            row["eval_success_auc_minus_no_teacher"] = stat(
                nanmean(succ, 1) - nanmean(m["eval_success"][base], 1), 4)
            row["p_higher_eval_return_auc_than_no_teacher"] = improvement(
                nanmean(ret, 1), nanmean(m["eval_return"][base], 1))
        if name != "no_teacher" and "goal_distance" in metrics.final:
            row.update(curriculum_stats(metrics.final["goal_distance"][p]))
        if "mujoco_warnings" in metrics.final:  # per seed: MuJoCo warnings over all episodes
            row["mujoco_warnings_per_seed"] = np.nansum(
                metrics.final["mujoco_warnings"][p], axis=-1).astype(int).tolist()
        out["methods"][name] = row
    out["env_steps_done"] = done
    return out


def format_summary(summary: dict[str, Any]) -> str:
    lines = [f"{summary['name']}: {summary['seeds']} seeds, "
             f"{summary.get('env_steps_done', 0)} of {summary['total_steps']} env steps; "
             f"{seeds_note(summary['seeds'])}"]
    rows, warned = [], []
    for name, row in summary["methods"].items():
        final = next(v for k, v in row.items() if k.startswith("eval_success_last"))
        rows.append([name, stat_cell(row["eval_return_auc"], ".2f"),
                     improvement_cell(row.get("p_higher_eval_return_auc_than_no_teacher")),
                     stat_cell(final, ".3f")])
        if any(row.get("mujoco_warnings_per_seed", ())):
            warned.append(f"  {name}: MuJoCo warnings per seed {row['mujoco_warnings_per_seed']}")
    header = ["method", "eval return AUC", "P(higher AUC than no_teacher)", "final success"]
    return "\n".join(lines + format_table(header, rows) + warned)


def _cell_counts(cells: np.ndarray, grid_shape: tuple[int, int]) -> np.ndarray:
    flat = cells[~np.isnan(cells)].astype(int)
    return np.bincount(flat, minlength=grid_shape[0] * grid_shape[1]).reshape(grid_shape)


def figures(run_dir: Path, config: Any, metrics: Any, points: list[str]) -> list[Path]:
    from jaxcurr.core.figures import band, plt, save_figure
    from jaxcurr.envs.point_maze import env as point_maze
    from jaxcurr.kinds.discrete_sac_report import smooth

    m, out = metrics, []
    if "eval_return" not in m:
        return out
    title = f"{config.name}: {config.run.seeds} seeds, mean and 95% bootstrap band"
    for key, label in (("eval_return", "evaluation return"),
                       ("eval_success", "evaluation success rate"),
                       ("train_return", "training return (episodes ended in the window)")):
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        for p, name in enumerate(points):
            band(ax, np.nanmean(m["env_steps"][p], 0), m[key][p], name)
        ax.set(xlabel="env steps", ylabel=label, title=title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        out.append(save_figure(fig, Path(run_dir) / "figures" / f"{key}.png"))
    final = metrics.final
    teachers = [p for p, n in enumerate(points) if n != "no_teacher"]
    if "goal_distance" not in final or not teachers:
        return out
    fig, ax = plt.subplots(figsize=(6.4, 4.2))  # the paper's curriculum plot
    for p in teachers:
        distance = final["goal_distance"][p]
        band(ax, np.arange(1, distance.shape[-1] + 1), smooth(distance, config.report.smooth),
             points[p])
    ax.set(xlabel="episode", ylabel="goal distance of the chosen start", title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out.append(save_figure(fig, Path(run_dir) / "figures" / "goal_distance.png"))
    if "goal_cell" not in final:  # the chosen-cell maps are a maze's
        return out
    grid = point_maze.maze_map(config.maze.map).shape
    fig, axes = plt.subplots(2, len(teachers), figsize=(3.2 * len(teachers), 5.6),
                             squeeze=False)
    for column, p in enumerate(teachers):
        for row, key in enumerate(("goal_cell", "reset_cell")):
            ax = axes[row, column]
            image = ax.imshow(_cell_counts(final[key][p], grid), cmap="viridis")
            fig.colorbar(image, ax=ax, shrink=0.8)
            ax.set_title(f"{points[p]}: {key.replace('_', ' ')}s", fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    out.append(save_figure(fig, Path(run_dir) / "figures" / "chosen_cells.png"))
    return out
