"""Print the paper's claims (docs/reference_facts.md §1) beside what experiments/results measured.

    python experiments/claims.py [experiments/results]
    python experiments/claims.py --table experiments/results/teachers   # one row per method

Each row is computed from a run's metrics.npz: means over seeds with 95% Student-t intervals.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from jaxcurr.core.stats import mean_ci
from jaxcurr.curricula.classifier_config import config_from_dict
from jaxcurr.kinds.classifier_curriculum_report import visit_time
from jaxcurr.run import run_dir


def load_run_config(run):
    return config_from_dict(run_dir.load_config_dict(run))


def load_metrics(run):
    """The run's window metrics at its only point: arrays [seeds, windows, ...]."""
    return {k: v[0] for k, v in run_dir.load_metrics(run).items()}


def fmt(values: np.ndarray) -> str:
    mean, half = mean_ci(values)
    return f"{mean:.3f} ± {half:.3f}"


def fmt_groups(values: np.ndarray) -> str:
    mean, _ = mean_ci(values)
    return " / ".join(f"{v:.2f}" for v in mean)


def curriculum_rows(run: Path) -> list[str]:
    config, m = load_run_config(run), load_metrics(run)
    rows = []
    uniform_final = m["uniform/group_loss"][:, -1].mean(0)  # intrinsic difficulty per group
    for method in taught(config):
        loss, share = m[f"{method}/group_loss"], m[f"{method}/group_share"]
        times = visit_time(share)
        own = np.array([spearmanr(t, f).statistic for t, f in zip(times, loss[:, -1],
                                                                     strict=True)])
        vs_uniform = np.array([spearmanr(t, uniform_final).statistic for t in times])
        rows.append(f"| {config.name} | {method} | visit time per group (0 = start, 1 = end) "
                    f"| {fmt_groups(times)} |")
        rows.append(f"| {config.name} | {method} | Spearman(visit time, own final loss); "
                    f"(visit time, uniform's final loss) | {fmt(np.nan_to_num(own))}; "
                    f"{fmt(np.nan_to_num(vs_uniform))} |")
        rows.append(f"| {config.name} | {method} | eval loss averaged over training (uniform: "
                    f"{fmt(m['uniform/group_loss'].mean((1, 2)))}) | "
                    f"{fmt(loss.mean((1, 2)))} |")
        rows.append(f"| {config.name} | {method} | final mean loss (uniform: "
                    f"{fmt(m['uniform/group_loss'][:, -1].mean(-1))}) | "
                    f"{fmt(loss[:, -1].mean(-1))} |")
        rows.append(f"| {config.name} | {method} | share of {{0}} in the first / last tenth "
                    f"(uniform 0.10) | {fmt(tenth(share, 0)[:, 0])} / "
                    f"{fmt(tenth(share, -1)[:, 0])} |")
    return rows


def taught(config) -> list[str]:
    """The run's methods with a teacher (all but uniform)."""
    return [m for m in config.run.methods if m != "uniform"]


def method_table(run: Path) -> list[str]:
    """One row per method (uniform included): the curriculum or noise measures side by side."""
    config, m = load_run_config(run), load_metrics(run)
    noise = config.data.label_mode == "noise"
    uniform_final = m["uniform/group_loss"][:, -1].mean(0)
    if noise:
        head = ("method | share of the noisiest group, 2nd half | share of {0}, 2nd half | "
                "final loss above floor | std of mean eval loss, 2nd half")
    else:
        head = ("method | eval loss averaged over training | final mean loss | Spearman(visit "
                "time, uniform's final loss) | share of {0}, first tenth")
    head += " | distance from uniform's sampling"
    uniform_share = m["uniform/group_share"].mean((0, 1))
    rows = [f"**{config.name}**", "", f"| {head} |", "|---" * (head.count("|") + 1) + "|"]
    for method in config.run.methods:
        loss, share = m[f"{method}/group_loss"], m[f"{method}/group_share"]
        if noise:
            second = share[:, share.shape[1] // 2:].mean(1)
            cells = [second[:, -1], second[:, 0], excess(m, method, config), stability(loss)]
        else:
            order = np.array([spearmanr(t, uniform_final).statistic for t in visit_time(share)])
            cells = [loss.mean((1, 2)), loss[:, -1].mean(-1),
                     np.nan_to_num(order) if method != "uniform" else None,
                     tenth(share, 0)[:, 0]]
        # total variation between the method's and uniform's group shares, mean over windows
        cells.append(0.5 * np.abs(share - uniform_share).sum(-1).mean(-1))
        rows.append(f"| {method} | " + " | ".join("-" if c is None else fmt(c) for c in cells)
                    + " |")
    return rows


def tenth(share: np.ndarray, which: int) -> np.ndarray:
    n = max(1, share.shape[1] // 10)
    part = share[:, :n] if which == 0 else share[:, -n:]
    return part.mean(1)


def noise_rows(run: Path) -> list[str]:
    config, m = load_run_config(run), load_metrics(run)
    rows = []
    uniform_share = 1 / len(config.data.groups) if config.teacher.tasks == "group" else None
    for method in taught(config):
        share = m[f"{method}/group_share"]
        loss = m[f"{method}/group_loss"]
        second_half = share[:, share.shape[1] // 2:].mean(1)
        rows.append(f"| {config.name} | {method} | share per group, second half (uniform "
                    f"{uniform_share:.2f} each) | {fmt_groups(second_half)} |")
        rows.append(f"| {config.name} | {method} | share of the noisiest group {{6,7,8,9}}; of "
                    f"the no-noise group {{0}} | {fmt(second_half[:, -1])}; "
                    f"{fmt(second_half[:, 0])} |")
        rows.append(f"| {config.name} | {method} | final loss above floor log\\|g\\|, mean over "
                    f"groups (uniform: {fmt(excess(m, 'uniform', config))}) | "
                    f"{fmt(excess(m, method, config))} |")
        rows.append(f"| {config.name} | {method} | final test group accuracy (uniform: "
                    f"{fmt(m['uniform/test_group_accuracy'][:, -1])}) | "
                    f"{fmt(m[f'{method}/test_group_accuracy'][:, -1])} |")
        rows.append(f"| {config.name} | {method} | std over the last half of the run of the "
                    f"mean eval loss (uniform: {fmt(stability(m['uniform/group_loss']))}) | "
                    f"{fmt(stability(loss))} |")
    return rows


def excess(m, method, config) -> np.ndarray:
    floor = np.log([len(g) for g in config.data.groups])
    return (m[f"{method}/group_loss"][:, -1] - floor).mean(-1)


def stability(loss: np.ndarray) -> np.ndarray:
    mean_loss = loss.mean(-1)
    return mean_loss[:, mean_loss.shape[1] // 2:].std(1)


def main(argv: list[str]) -> int:
    table = "--table" in argv
    argv = [a for a in argv if a != "--table"]
    root = Path(argv[0] if argv else "experiments/results")
    runs = sorted(p for p in root.iterdir() if (p / "metrics.npz").is_file()
                  and run_dir.load_config_dict(p).get("kind", "classifier_curriculum")
                  == "classifier_curriculum")  # the RL runs beside them have reports of their own
    if table:
        for run in runs:
            print("\n".join(method_table(run)) + "\n")
        return 0
    print("| run | method | measure | mean ± 95% CI over seeds |\n|---|---|---|---|")
    for run in runs:
        mode = load_run_config(run).data.label_mode
        for row in (noise_rows(run) if mode == "noise" else curriculum_rows(run)):
            print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
