"""Summary and figures of a ``discrete_sac`` run (the GrAdE paper's Table 1, Figures 1-4).

From the final per-episode arrays (``final/<name>``, ``[variant, seed, episode]``): the greedy
return over the last ``report.last_episodes`` episodes and along the way, the episodes until
within X of the optimum, losses, temperature, entropy and gradient magnitudes (with
plain / variant ratios): IQM over seeds with stratified bootstrap intervals from 3 seeds, and
the probability that a seed's final greedy return beats one of ``plain``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from jaxcurr.core.stats import improvement, nanmean, stat
from jaxcurr.core.table import format_table, improvement_cell, seeds_note, stat_cell
from jaxcurr.core.validation import require, require_positive_int

FIGURES = (  # file, metric, y label, log scale (paper figure); window_*.png besides
    ("eval_return.png", "eval_return", "greedy return", False),  # Fig. 1
    ("train_return.png", "discounted_return", "training discounted return", False),
    ("train_return_undiscounted.png", "return", "training return", False),
    ("critic_loss.png", "critic_loss", "critic loss", True),  # Fig. 2
    ("actor_grad_magnitude.png", "actor_grad_magnitude", "actor gradient magnitude", False),
    ("critic_grad_magnitude.png", "critic_grad_magnitude", "critic gradient magnitude", True),
)


@dataclasses.dataclass(frozen=True)
class ReportConfig:
    """last_episodes: the final score's window; within: distances to the optimum to time;
    smooth: moving-average width (episodes) on the figures."""

    last_episodes: int = 100
    within: tuple[float, ...] = (1.0, 5.0)
    smooth: int = 10

    def __post_init__(self):
        require_positive_int("report.last_episodes", self.last_episodes)
        require_positive_int("report.smooth", self.smooth)
        require(all(x > 0 for x in self.within), "report.within", "positive numbers",
                self.within)


def reference_returns(config: Any) -> dict[str, float]:
    """Four Rooms: the optimal and the uniform random policy's exact discounted returns."""
    from jaxcurr.kinds.rl_common import FOUR_ROOMS, make_env

    if config.env.name != FOUR_ROOMS:
        return {}
    import jax.numpy as jnp

    from jaxcurr.envs import four_rooms

    env, params = make_env(config.env)
    gamma = config.sac.gamma
    uniform = jnp.full((four_rooms.NUM_STATES, env.num_actions), 1.0 / env.num_actions)
    return {"optimal": float(four_rooms.optimal_discounted_return(params, gamma)),
            "uniform random policy": float(four_rooms.policy_discounted_return(
                params, uniform, gamma))}


def first_episode_within(curve: np.ndarray, target: float) -> int | None:
    """1-based episode at which a greedy-return curve first reaches ``target`` (None: never)."""
    hit = np.nonzero(np.nan_to_num(curve, nan=-np.inf) >= target)[0]
    return int(hit[0]) + 1 if hit.size else None


def smooth(x: np.ndarray, width: int) -> np.ndarray:
    """Trailing moving average along the last axis over the non-NaN values; NaN stays NaN."""
    if width <= 1:
        return x
    valid = ~np.isnan(x)
    csum = np.cumsum(np.where(valid, x, 0.0), -1)
    ccnt = np.cumsum(valid, -1)
    pad = lambda c: np.concatenate([np.zeros((*c.shape[:-1], width)), c], -1)[..., :-width]
    total, count = csum - pad(csum), ccnt - pad(ccnt)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(valid & (count > 0), total / count, np.nan)


def _window(x: np.ndarray, lo: float, hi: float, on: np.ndarray | None = None) -> np.ndarray:
    """Per-seed mean over episodes ``lo < e <= hi`` (NaN where none)."""
    on = np.arange(1, x.shape[-1] + 1) if on is None else on
    sel = (on > lo) & (on <= hi)
    if not sel.any():
        return np.full(x.shape[0], np.nan)
    return nanmean(x[:, sel], axis=1)  # a seed without such episodes gives NaN


def summarize(config: Any, metrics: Any, points: list[str]) -> dict[str, Any]:
    """Per variant, over seeds: the greedy return at the end and along the way, episodes until
    within X of the optimum, env steps, losses, temperature and gradient magnitudes."""
    final, rep = metrics.final, config.report
    refs = reference_returns(config)
    out: dict[str, Any] = {"name": config.name, "seeds": config.run.seeds,
                           "num_episodes": config.sac.num_episodes,
                           **{f"{k} return": round(v, 4) for k, v in refs.items()},
                           "variants": {}}
    if "eval_return" not in final:
        return out
    last, width, every = rep.last_episodes, rep.smooth, config.sac.eval_every
    eval_episode = (np.arange(final["eval_return"].shape[-1]) + 1) * every
    plain = points.index("plain") if "plain" in points else None
    n_all = int(final["episodes"].min())
    greedy = [_window(final["eval_return"][v], n_all - last, n_all, eval_episode)
              for v in range(len(points))]
    for v, name in enumerate(points):
        ev, n = final["eval_return"][v], int(final["episodes"][v].min())
        row: dict[str, Any] = {
            "episodes_done_min": n,
            f"final_greedy_return_last_{last}": stat(_window(ev, n - last, n, eval_episode), 4),
            "greedy_return_first_100_episodes": stat(_window(ev, 0, 100, eval_episode), 4),
            "greedy_return_at_episode": {
                str(e): stat(_window(ev, e - width, e, eval_episode), 4)
                for e in (50, 100, 150, 200, 300, 500, 1000) if e <= n},
            f"training_discounted_return_last_{last}": stat(
                _window(final["discounted_return"][v], n - last, n), 4),
            f"training_return_last_{last}": stat(_window(final["return"][v], n - last, n), 4),
            "env_steps": final["env_steps"][v].tolist(),
            "final_alpha": stat(_window(final["alpha"][v], n - 10, n), 4),
            "final_entropy": stat(_window(final["entropy"][v], n - 10, n), 4),
        }
        if plain is not None and v != plain:  # over the episodes every variant has done
            row["p_higher_greedy_return_than_plain"] = improvement(greedy[v], greedy[plain])
        if "optimal" in refs:
            optimal = refs["optimal"]
            row["gap_to_optimal"] = stat(optimal - _window(ev, n - last, n, eval_episode), 4)
            row["episodes_to_within"] = {
                f"{x:g}": [first_episode_within(c, optimal - x) for c in ev] for x in rep.within}
            row[f"episodes_to_within_{width}_episode_average"] = {
                f"{x:g}": [first_episode_within(c, optimal - x) for c in smooth(ev, width)]
                for x in rep.within}
        for key in ("critic_loss", "actor_grad_magnitude", "critic_grad_magnitude"):
            for label, lo in (("all", 0), (f"last_{last}", n - last)):
                row[f"{key}_mean_{label}"] = stat(_window(final[key][v], lo, n), 4)
                if plain is not None and v != plain and key != "critic_loss":
                    ratio = _window(final[key][plain], lo, n) / _window(final[key][v], lo, n)
                    row[f"{key}_plain_over_this_{label}"] = stat(ratio, 4)
        out["variants"][name] = row
    return out


def format_summary(summary: dict[str, Any]) -> str:
    lines = [f"{summary['name']}: {summary['seeds']} seeds x {summary['num_episodes']} episodes"
             + (f"; optimal return {summary['optimal return']:.3f}"
                if "optimal return" in summary else "") + f"; {seeds_note(summary['seeds'])}"]
    rows = []
    for name, row in summary["variants"].items():
        final = next(v for k, v in row.items() if k.startswith("final_greedy_return_last"))
        rows.append([name, stat_cell(final, ".2f"),
                     improvement_cell(row.get("p_higher_greedy_return_than_plain")),
                     str(row["episodes_done_min"]), str(int(np.mean(row["env_steps"])))])
    header = ["variant", "greedy return (last episodes)", "P(higher than plain)",
              "episodes done", "env steps"]
    return "\n".join(lines + format_table(header, rows))


def figures(run_dir: Path, config: Any, metrics: Any, points: list[str]) -> list[Path]:
    from jaxcurr.core.figures import band, plt, point_curves, save_figure

    final, step, out = metrics.final, np.asarray(metrics.step), []
    title = f"{config.name}: {config.run.seeds} seeds, window means (mid-run too)"
    for name, key, label, log in (("window_return.png", "return", "training return", False),
                                  ("window_alpha.png", "alpha", "temperature alpha", True)):
        if step.size and key in metrics:
            out.append(point_curves(Path(run_dir) / "figures" / name, step,
                                    {p: metrics[key][i] for i, p in enumerate(points)}, label,
                                    title, xlabel="env steps after the random phase", log=log))
    if "eval_return" not in final:
        return out
    refs = reference_returns(config)
    width = config.report.smooth
    for filename, key, label, log in FIGURES:
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        episode = np.arange(1, final[key].shape[-1] + 1) * (
            config.sac.eval_every if key == "eval_return" else 1)
        for v, name in enumerate(points):
            band(ax, episode, smooth(final[key][v], width), name)
        if key in ("eval_return", "discounted_return"):
            for ref, y in refs.items():
                ax.axhline(y, color="k" if ref == "optimal" else "grey", ls="--", lw=1,
                           label=ref)
        if log and np.any(np.nan_to_num(final[key]) > 0):
            ax.set_yscale("log")
        if key == "eval_return":
            label += (" (exact, discounted)" if refs else
                      f" ({config.sac.eval_episodes} rollouts, undiscounted)")
        ax.set(xlabel="episode", ylabel=label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        ax.set_title(f"{config.name}: {config.run.seeds} seeds, mean and 95% bootstrap band "
                     f"({width}-episode moving average)", fontsize=9)
        fig.tight_layout()
        out.append(save_figure(fig, Path(run_dir) / "figures" / filename))
    return out
