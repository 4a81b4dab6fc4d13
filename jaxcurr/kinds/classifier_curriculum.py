"""Kind ``classifier_curriculum``: teacher-student curriculum over dataset classes or groups.

The paper's experiment (Blad & Loutfi 2025; docs/reference_facts.md §1): every method of
``run.methods`` (uniform, curiosity = loss, momentum correlation, gradient norm) side by side
in one program (:mod:`jaxcurr.curricula.classifier`); swept hyperparameters
(the fields declared ``sweepable`` in :mod:`jaxcurr.curricula.classifier_config`) are the point
axis. Metrics ``"<method>/<name>"``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from jaxcurr.core.engine import Kind, no_variants
from jaxcurr.curricula.classifier_config import Config, config_from_dict, config_to_dict


def prepare(config: Config) -> Any:
    from jaxcurr.curricula import prepare_data
    from jaxcurr.datasets.classification import load_dataset

    return prepare_data(load_dataset(config.data), config)


def make_engine(config: Config):
    from jaxcurr.curricula import make_engine as engine

    return engine(config)


def _point(metrics: dict, p: int) -> dict:
    return {k: v[p] for k, v in metrics.items()}


def summarize(config: Config, metrics: dict, points: list[str]) -> dict:
    """:func:`jaxcurr.kinds.classifier_curriculum_report.summarize` for each point (``by_point``
    maps label -> summary when a sweep makes several)."""
    from jaxcurr.kinds.classifier_curriculum_report import summarize as one

    if len(points) == 1:
        return one(config, _point(metrics, 0))
    return {"name": config.name, "by_point": {label: one(config, _point(metrics, p))
                                            for p, label in enumerate(points)}}


def format_summary(summary: dict) -> str:
    from jaxcurr.kinds.classifier_curriculum_report import format_summary as one

    if "by_point" not in summary:
        return one(summary)
    return "\n\n".join(f"[{label}]\n{one(s)}" for label, s in summary["by_point"].items())


def figures(run_dir: Path, config: Config, metrics: dict, points: list[str]) -> list[Path]:
    from jaxcurr.kinds.classifier_curriculum_report import classifier_curves

    out = []
    for p, label in enumerate(points):
        name = "curves.png" if len(points) == 1 else f"curves_{p}.png"
        title = (f"{config.name}: {config.data.label_mode} labels, {config.run.seeds} seeds "
                 f"(mean, 95% bootstrap band)" + ("" if len(points) == 1 else f"\n{label}"))
        values = _point(metrics, p)
        steps = np.arange(1, next(iter(values.values())).shape[1] + 1) * config.run.log_every
        out.append(classifier_curves(Path(run_dir) / "figures" / name, config.run.methods,
                                     config.data.groups, values, steps, title))
    return out


KIND = Kind(
    name="classifier_curriculum",
    description="teacher-student curriculum over dataset classes or groups (Blad & Loutfi 2025)",
    from_dict=config_from_dict, to_dict=config_to_dict, prepare=prepare,
    make_engine=make_engine, variants=no_variants, summarize=summarize,
    format_summary=format_summary, figures=figures)
