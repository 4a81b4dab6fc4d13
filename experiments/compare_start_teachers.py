"""One table (and one figure) for initial-state curriculum runs made by different programs.

    python experiments/compare_start_teachers.py BASELINE_RUN OTHER_RUN [...] [--figure PNG]

e.g. ``experiments/results/pointmaze_acl experiments/results/pointmaze_teachers``. The first
run must hold ``no_teacher``; every other method is compared with it per seed. Runs of one
kind with the same ``run.seed`` give seed i the same learner initialisation and run key
(``compilation.seed_keys``), so the differences are paired by seed. Per method, mean ± 95%
t-interval over seeds: evaluation return over the last 5 evaluations and its area under the
curve (mean over evaluations), the AUC minus no teacher's, the success AUC, env steps to
success >= 0.8 (all over the evaluations every run has done), and the chosen goal distance's
trend (first/last fifth of the episodes each run has logged, Spearman with the episode index)
with the share of episodes started from the 4 most chosen cell pairs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from jaxcurr.core.stats import mean_ci
from jaxcurr.kinds.initial_state_curriculum_report import curriculum_stats, steps_to_threshold
from jaxcurr.run import run_dir


def fmt(values: np.ndarray, digits: int = 1) -> str:
    mean, half = mean_ci(np.asarray(values, float))
    return f"{mean:.{digits}f} ± {half:.{digits}f}"


def top_pair_share(goal: np.ndarray, reset: np.ndarray, top: int = 4) -> np.ndarray:
    """Per seed: the share of episodes whose (goal cell, reset cell) is one of the ``top``
    most frequent pairs (uniform over n free cells' n^2 pairs: 4/n^2; open maze 4/225)."""
    shares = []
    for g, r in zip(goal, reset, strict=True):
        keep = ~np.isnan(g)
        _, counts = np.unique(np.stack([g[keep], r[keep]]), axis=1, return_counts=True)
        shares.append(np.sort(counts)[::-1][:top].sum() / keep.sum())
    return np.array(shares)


def rows(runs: list[Path]):
    """Table rows over the evaluations every run has done (a run still going is cut to it); a
    method already in an earlier run is labelled with its run's folder name."""
    metrics = [run_dir.load_metrics(run) for run in runs]
    base = metrics[0]
    if "no_teacher" not in base.points:
        raise SystemExit(f"{runs[0]}: no no_teacher method; allowed: a run that holds one")
    done = min(m["eval_return"].shape[2] for m in metrics)
    print(f"{done} evaluations ({int(base['env_steps'][0, 0, done - 1]):,} env steps) per run")
    base_auc = np.nanmean(base["eval_return"][base.points.index("no_teacher"), :, :done], 1)
    seen = set()
    for run, m in zip(runs, metrics, strict=True):
        for p, method in enumerate(m.points):
            name = f"{method} ({run.name})" if method in seen else method
            seen.add(method)
            ret, succ = m["eval_return"][p, :, :done], m["eval_success"][p, :, :done]
            auc = np.nanmean(ret, 1)
            if auc.shape != base_auc.shape:
                raise SystemExit(f"{run}: {auc.shape[0]} seeds, the baseline has "
                                 f"{base_auc.shape[0]}; allowed: the same seeds")
            steps = steps_to_threshold(succ, m["env_steps"][p, :, :done], 0.8)
            row = [name, fmt(np.nanmean(ret[:, -5:], 1)), fmt(auc),
                   "" if method == "no_teacher" else fmt(auc - base_auc),
                   fmt(np.nanmean(succ, 1), 3),
                   ", ".join("-" if s is None else f"{s // 1000}k" for s in steps)]
            if method == "no_teacher":
                row += ["", "", ""]
            else:
                f = m.final
                cur = curriculum_stats(f["goal_distance"][p])
                row += [f"{cur['goal_distance_first_fifth']['mean']:.2f} → "
                        f"{cur['goal_distance_last_fifth']['mean']:.2f}",
                        f"{cur['spearman_episode_vs_distance']['mean']:.3f} ± "
                        f"{cur['spearman_episode_vs_distance']['ci95']:.3f}",
                        fmt(top_pair_share(f["goal_cell"][p], f["reset_cell"][p]), 3)]
            yield row, m["env_steps"][p, :, :done], ret


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--figure", type=Path)
    args = parser.parse_args()
    header = ["method", "eval return, last 5", "eval return AUC", "AUC minus no teacher",
              "success AUC", "steps to success 0.8", "goal distance, first → last fifth",
              "Spearman(episode, distance)", "share of the 4 most chosen start pairs"]
    table = list(rows(args.runs))
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    curves = []
    for row, steps, ret in table:
        print("| " + " | ".join(row) + " |")
        curves.append((row[0], steps, ret))
    if args.figure:
        from jaxcurr.core.figures import band, plt, save_figure
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        for name, steps, ret in curves:
            band(ax, np.nanmean(steps, 0), ret, name)
        ax.set(xlabel="env steps", ylabel="evaluation return",
               title=f"{len(curves)} methods, mean and 95% band over seeds")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        print(save_figure(fig, args.figure))


if __name__ == "__main__":
    main()
