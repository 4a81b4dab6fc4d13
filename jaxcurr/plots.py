"""Figures in the paper's layout: per-group loss (top) and per-group sampling share (bottom)
over training, one column per method, mean with a 95% confidence band over seeds."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from jaxcurr.results import load_metrics, load_run_config, mean_ci  # noqa: E402


def plot_run(run_dir: str | Path) -> Path:
    """Draw ``figures/curves.png`` for a run directory and return its path."""
    run_dir = Path(run_dir)
    config = load_run_config(run_dir)
    metrics = load_metrics(run_dir)
    step = metrics["step"]
    methods = config.run.methods
    labels = ["{" + ",".join(map(str, g)) + "}" for g in config.data.groups]
    fig, axes = plt.subplots(2, len(methods), figsize=(3.6 * len(methods), 6.0),
                             sharex=True, sharey="row", squeeze=False)
    for column, method in enumerate(methods):
        for row, (name, title) in enumerate((("group_loss", "loss"),
                                             ("group_share", "sampling share"))):
            ax = axes[row, column]
            mean, half = mean_ci(metrics[f"{method}/{name}"])
            for group, label in enumerate(labels):
                line, = ax.plot(step, mean[:, group], label=label, lw=1.4)
                low, high = mean[:, group] - half[:, group], mean[:, group] + half[:, group]
                if name == "group_share":  # a share's band stays within [0, 1]
                    low, high = low.clip(0, 1), high.clip(0, 1)
                ax.fill_between(step, low, high, color=line.get_color(), alpha=0.2, lw=0)
            ax.grid(alpha=0.3)
            if row == 0:
                ax.set_title(method.replace("_", " "))
            else:
                ax.set_xlabel("student step")
            if column == 0:
                ax.set_ylabel(f"{title} per group")
    axes[0, -1].legend(title="group", fontsize=8)
    fig.suptitle(f"{config.name}: {config.data.label_mode} labels, {config.run.seeds} seeds "
                 "(mean, 95% band)")
    fig.tight_layout()
    out = run_dir / "figures" / "curves.png"
    out.parent.mkdir(exist_ok=True)
    tmp = out.with_name(".curves.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(out)
    return out
