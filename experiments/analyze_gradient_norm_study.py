"""The gradient-norm study's analysis: per map, each start teacher against no teacher, paired.

    python experiments/analyze_gradient_norm_study.py RUN [RUN ...] [--out DIR] [--bin-steps N]

Each RUN is one map's ``initial_state_curriculum`` run directory, or several joined by ``+``
(runs made by different programs with the same ``run.seed`` and ``run.seeds``, e.g.
``experiments/results/pointmaze_acl+experiments/results/pointmaze_teachers``; the first holds
``no_teacher``, and a method already seen is labelled with its run's folder). Seed i of every
method has the same learner initialisation and run key (``compilation.seed_keys``), so
methods are paired by seed. Everything uses the evaluations every joined run has done, so a
run still going is analysed up to its last checkpoint.

Per method and seed: the evaluation-return and success AUC (means over the windows), the
final score (mean evaluation return and success over the last ``report.last_windows``
windows) and the env steps to evaluation success >= 0.5 and >= 0.8 (the first window reaching
it). A seed that has not reached a threshold counts as ``C`` = the last window's step plus
``run.eval_every`` (the earliest it could still reach it), so a difference involving it is a
bound. Against no teacher, per seed ``d_i = x_i(method) - x_i(no teacher)``: the interquartile
mean of ``d`` with its stratified bootstrap 95% interval and the probability of improvement
``P(X > Y)`` (fewer steps is the improvement), both from :mod:`jaxcurr.core.aggregate`
(Agarwal et al. 2021); with fewer than ``aggregate.MIN_SEEDS`` seeds there are no intervals.
The curriculum: the chosen start's goal distance per episode, binned by the env step the
episode ended at (``final/end_step``), averaged per seed, then over seeds (the paper's
curriculum plot), its first and last fifth and Spearman trend, and the share of episodes
started from the 4 most chosen (goal cell, reset cell) pairs.

Prints markdown tables; writes ``study_eval_return.png``, ``study_eval_success.png`` and
``study_goal_distance.png`` (means over seeds with the 95% bootstrap band of the mean, which
lies between the lowest and highest seed, so inside the metric's range; none under
``MIN_SEEDS`` seeds) and ``study.json`` (every number, per seed too) into the first run's
``figures/``, or into ``DIR/<run folder>/`` with ``--out``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from jaxcurr.core import aggregate
from jaxcurr.core.files import atomic_write, json_safe
from jaxcurr.core.stats import nanmean
from jaxcurr.core.validation import ConfigError
from jaxcurr.kinds.initial_state_curriculum_report import curriculum_stats, steps_to_threshold
from jaxcurr.run import run_dir

THRESHOLDS = (0.5, 0.8)
BASELINE = "no_teacher"


def load_study(spec: str) -> dict:
    """One map's runs (``RUN+RUN...``), cut to the windows all of them have: per method
    ``eval_return``, ``eval_success`` [seed, window] and the per-episode ``final`` arrays."""
    runs = [Path(spec)] if Path(spec).is_dir() else [Path(p) for p in spec.split("+")]
    try:
        loaded = [(run, run_dir.load_metrics(run), run_dir.load_config_dict(run))
                  for run in runs]
    except ConfigError as err:
        raise SystemExit(f"analyze_gradient_norm_study: {err}") from None
    first = loaded[0][2]
    for run, metrics, config in loaded:
        if "eval_return" not in metrics:
            raise SystemExit(f"{run}: no eval_return; allowed: an initial_state_curriculum run")
        for key in ("seed", "seeds", "eval_every"):
            if config["run"].get(key) != first["run"].get(key):
                raise SystemExit(f"{run}: run.{key} = {config['run'].get(key)}, the first run "
                                 f"has {first['run'].get(key)}; allowed: runs paired by seed")
    if BASELINE not in loaded[0][1].points:
        raise SystemExit(f"{runs[0]}: no {BASELINE} method; allowed: a first run that holds it")
    done = min(m["eval_return"].shape[2] for _, m, _ in loaded)
    if done == 0:
        raise SystemExit(f"{spec}: no evaluation yet")
    steps = loaded[0][1].step[:done]
    methods: dict[str, dict] = {}
    for run, metrics, _ in loaded:
        for p, name in enumerate(metrics.points):
            label = f"{name} ({run.name})" if name in methods else name
            final = {k: v[p] for k, v in metrics.final.items()}
            if "end_step" in final:  # episodes that ended by the last common window
                late = ~(final["end_step"] <= steps[-1])
                final = {k: np.where(late, np.nan, v) for k, v in final.items()}
            methods[label] = {"eval_return": metrics["eval_return"][p, :, :done],
                              "eval_success": metrics["eval_success"][p, :, :done],
                              "final": final}
    return {"name": runs[0].name, "runs": [str(r) for r in runs], "config": first,
            "steps": steps, "methods": methods}


def top_pair_share(goal: np.ndarray, reset: np.ndarray, top: int = 4) -> np.ndarray:
    """Per seed: the share of episodes whose (goal cell, reset cell) is one of the ``top``
    most frequent pairs (uniform over n free cells' n^2 pairs: top / n^2)."""
    shares = []
    for g, r in zip(goal, reset, strict=True):
        keep = ~np.isnan(g)
        _, counts = np.unique(np.stack([g[keep], r[keep]]), axis=1, return_counts=True)
        shares.append(np.sort(counts)[::-1][:top].sum() / keep.sum() if keep.any() else np.nan)
    return np.array(shares)


def per_seed(method: dict, steps: np.ndarray, last: int, censor: int) -> dict[str, np.ndarray]:
    """The scores of one method, one value per seed (steps: not reached counts as ``censor``)."""
    ret, succ = method["eval_return"], method["eval_success"]
    out = {"eval_return_auc": nanmean(ret, 1), "eval_success_auc": nanmean(succ, 1),
           "final_eval_return": nanmean(ret[:, -last:], 1),
           "final_eval_success": nanmean(succ[:, -last:], 1)}
    for t in THRESHOLDS:
        hit = steps_to_threshold(succ, np.broadcast_to(steps, succ.shape), t)
        out[f"steps_to_{t:g}"] = np.array([censor if s is None else s for s in hit], float)
    return out


def estimate(values: np.ndarray, intervals: bool) -> dict:
    """IQM over seeds with its stratified bootstrap 95% interval (one task)."""
    if not intervals:
        return {"iqm": float(aggregate.iqm(values)), "low": None, "high": None}
    point, low, high = aggregate.stratified_bootstrap_ci(values[:, None])
    return {"iqm": float(point), "low": float(low), "high": float(high)}


def paired(x: np.ndarray, y: np.ndarray, lower_is_better: bool, intervals: bool) -> dict:
    """``d = x - y`` per seed, its IQM [interval], and ``P(X > Y)`` (``P(X < Y)`` for steps)."""
    if intervals:
        point, low, high = aggregate.paired_differences_ci(x, y)
        out = {"per_seed": (x - y).tolist(), "iqm": point, "low": low, "high": high}
    else:
        out = {"per_seed": (x - y).tolist(), **estimate(x - y, False)}
    sign = -1.0 if lower_is_better else 1.0
    p, low, high = aggregate.probability_of_improvement(sign * x[:, None], sign * y[:, None])
    out["p_improvement"] = {"p": float(p), "low": float(low) if intervals else None,
                            "high": float(high) if intervals else None}
    return out


def goal_distance_by_step(final: dict, bin_steps: int, done: int) -> tuple[np.ndarray, ...]:
    """Bin centres and the per-seed mean goal distance of the episodes that ended in each bin
    of ``bin_steps`` env steps [seed, bin] (NaN: none ended there)."""
    edges = np.arange(0, done + bin_steps, bin_steps)
    distance, end = final["goal_distance"], final["end_step"]
    index = np.digitize(end, edges[1:], right=True)  # bin b: edges[b] < end <= edges[b + 1]
    rows = np.full((distance.shape[0], len(edges) - 1), np.nan)
    for s in range(distance.shape[0]):
        for b in range(rows.shape[1]):
            keep = (index[s] == b) & ~np.isnan(distance[s])
            if keep.any():
                rows[s, b] = distance[s][keep].mean()
    return (edges[:-1] + edges[1:]) / 2, rows


def analyze(study: dict, bin_steps: int) -> dict:
    config, steps = study["config"], study["steps"]
    seeds = next(iter(study["methods"].values()))["eval_return"].shape[0]
    intervals = seeds >= aggregate.MIN_SEEDS
    last = config.get("report", {}).get("last_windows", 5)
    censor = int(steps[-1]) + int(config["run"]["eval_every"])
    scores = {name: per_seed(m, steps, last, censor) for name, m in study["methods"].items()}
    out = {"name": study["name"], "runs": study["runs"], "seeds": seeds,
           "windows": len(steps), "env_steps_done": int(steps[-1]),
           "total_steps": config["run"]["total_steps"], "last_windows": last,
           "not_reached_counts_as": censor,
           "intervals": intervals if intervals else
           f"{seeds} seeds; intervals need at least {aggregate.MIN_SEEDS}",
           "methods": {}}
    base = scores[BASELINE]
    for name, values in scores.items():
        row = {k: {"per_seed": v.tolist(), **estimate(v, intervals)} for k, v in values.items()}
        for t in THRESHOLDS:
            row[f"steps_to_{t:g}"]["not_reached"] = int(np.sum(values[f"steps_to_{t:g}"]
                                                              == censor))
        if name != BASELINE:
            row["minus_no_teacher"] = {k: paired(v, base[k], k.startswith("steps"), intervals)
                                       for k, v in values.items()}
        final = study["methods"][name]["final"]
        if "goal_distance" in final and "end_step" in final:
            centres, by_step = goal_distance_by_step(final, bin_steps, int(steps[-1]))
            row["goal_distance_by_step"] = {"bin_centres": centres.tolist(),
                                            "per_seed": by_step.tolist()}
            row["curriculum"] = curriculum_stats(final["goal_distance"])
            if "goal_cell" in final:
                row["curriculum"]["top4_pair_share_per_seed"] = top_pair_share(
                    final["goal_cell"], final["reset_cell"]).tolist()
        out["methods"][name] = row
    return out


def _est(e: dict, digits: int, scale: float = 1.0, unit: str = "") -> str:
    iqm = f"{e['iqm'] / scale:.{digits}f}{unit}"
    if e["low"] is None:
        return iqm
    return f"{iqm} [{e['low'] / scale:.{digits}f}{unit}, {e['high'] / scale:.{digits}f}{unit}]"


def _steps(values: list, censor: int) -> str:
    return ", ".join("-" if v == censor else f"{v / 1000:g}k" for v in values)


def _poi(p: dict) -> str:
    if p["low"] is None:
        return f"{p['p']:.2f}"
    return f"{p['p']:.2f} [{p['low']:.2f}, {p['high']:.2f}]"


def tables(result: dict) -> str:
    """The markdown of REPORT §5.3 for one map."""
    c = result["not_reached_counts_as"]
    lines = [f"**{result['name']}**: {result['seeds']} seeds, {result['windows']} evaluations "
             f"({result['env_steps_done']:,} of {result['total_steps']:,} env steps). IQM over "
             "seeds " + ("[stratified bootstrap 95% interval]" if result["intervals"] is True
                         else f"(no intervals: {result['intervals']})")
             + f"; steps to success per seed (-: not reached; counted as {c / 1000:g}k in the "
             "differences).", "",
             f"| method | eval return AUC | success AUC | eval return, last "
             f"{result['last_windows']} | success, last {result['last_windows']} | "
             "steps to 0.5 | steps to 0.8 |",
             "|---|---|---|---|---|---|---|"]
    for name, row in result["methods"].items():
        lines.append(f"| {name} | {_est(row['eval_return_auc'], 1)} | "
                     f"{_est(row['eval_success_auc'], 3)} | "
                     f"{_est(row['final_eval_return'], 1)} | "
                     f"{_est(row['final_eval_success'], 2)} | "
                     f"{_steps(row['steps_to_0.5']['per_seed'], c)} | "
                     f"{_steps(row['steps_to_0.8']['per_seed'], c)} |")
    rows = []
    for name, row in result["methods"].items():
        if name == BASELINE:
            continue
        d = row["minus_no_teacher"]
        cells = [f"{_est(d[k], 1)} | {_poi(d[k]['p_improvement'])}"
                 for k in ("eval_return_auc", "final_eval_return")]
        for t in THRESHOLDS:
            e = d[f"steps_to_{t:g}"]
            cells.append(f"{_est(e, 1, 1000, 'k')} | {_poi(e['p_improvement'])}")
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    if rows:
        lines += ["", "Paired against no teacher (method minus no teacher per seed: IQM; P: "
                  "probability of improvement, fewer steps for the step counts):", "",
                  "| method | AUC difference | P(AUC) | final return difference | P(final) | "
                  "steps to 0.5 difference | P(0.5) | steps to 0.8 difference | P(0.8) |",
                  "|---|---|---|---|---|---|---|---|---|", *rows]
    teachers = [(n, r["curriculum"]) for n, r in result["methods"].items() if "curriculum" in r]
    if teachers:
        lines += ["", "Chosen goal distance (mean over seeds; Spearman with the episode index "
                  "per seed; share of episodes from the 4 most chosen start pairs):", "",
                  "| method | first → last fifth of episodes | Spearman | top-4 pair share |",
                  "|---|---|---|---|"]
        for name, cur in teachers:
            share = cur.get("top4_pair_share_per_seed")
            share = f"{np.mean(share):.3f}" if share and np.isfinite(share).all() else ""
            lines.append(f"| {name} | {cur['goal_distance_first_fifth']['mean']:.2f} → "
                         f"{cur['goal_distance_last_fifth']['mean']:.2f} | "
                         f"{cur['spearman_episode_vs_distance']['mean']:.3f} | "
                         f"{share} |")
    return "\n".join(lines)


def figures(study: dict, result: dict, out: Path) -> list[Path]:
    """Evaluation return and success over env steps, and the chosen goal distance binned by
    env step: per method the mean over seeds and its bootstrap band (:func:`band`)."""
    from jaxcurr.core.figures import band, plt, save_figure

    title = (f"{result['name']}: {result['seeds']} seeds, mean and 95% bootstrap band "
             f"({result['env_steps_done']:,} env steps)")
    paths = []
    for key, label in (("eval_return", "evaluation return"),
                       ("eval_success", "evaluation success rate"),
                       ("goal_distance", "goal distance of the chosen start")):
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        for name, method in study["methods"].items():
            if key == "goal_distance":
                if "goal_distance_by_step" not in result["methods"][name]:
                    continue
                curve = result["methods"][name]["goal_distance_by_step"]
                x, values = curve["bin_centres"], np.array(curve["per_seed"], float)
            else:
                x, values = study["steps"], method[key]
            band(ax, np.asarray(x), values, name)
        ax.set(xlabel="env steps" + (" (episodes binned by where they ended)"
                                     if key == "goal_distance" else ""),
               ylabel=label, title=title)
        ax.title.set_fontsize(9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        paths.append(save_figure(fig, out / f"study_{key}.png"))
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="a run directory per map, or RUN+RUN joined")
    parser.add_argument("--out", type=Path, help="folder for figures and study.json "
                        "(default: the first run's figures/)")
    parser.add_argument("--bin-steps", type=int, default=10_000,
                        help="env steps per bin of the goal-distance curve (default 10,000)")
    args = parser.parse_args(argv)
    if args.bin_steps < 1:
        parser.error(f"--bin-steps: got {args.bin_steps}; allowed: an integer >= 1")
    for spec in args.runs:
        study = load_study(spec)
        result = analyze(study, args.bin_steps)
        out = args.out / study["name"] if args.out else Path(study["runs"][0]) / "figures"
        print(tables(result) + "\n")
        for path in figures(study, result, out):
            print(path)
        text = json.dumps(json_safe(result), indent=1, allow_nan=False)
        atomic_write(out / "study.json", lambda f, t=text: f.write(t.encode()))
        print(out / "study.json")


if __name__ == "__main__":
    main()
