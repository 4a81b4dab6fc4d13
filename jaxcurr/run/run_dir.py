"""The run-directory layout shared by every experiment kind.

A run directory holds ``config.toml`` (the resolved config, with its ``kind``),
``metrics.npz``, ``summary.json``, ``metrics.jsonl`` (and optional ``tensorboard/``,
``wandb/``), ``figures/`` and ``checkpoints/``; a run started with ``JAXCURR_CHECKPOINT_DIR`` set
keeps its checkpoints in a folder of its own under that one instead, named in
``checkpoints.path`` (so a new checkout of a repository holding the run directory finds them
again). ``metrics.npz`` holds:

* ``<metric>``: window metrics, axes ``[point, seed, window, ...]`` (classifier metrics are
  named ``"<method>/<name>"``);
* ``final/<name>``: arrays read from the last state, axes ``[point, seed, ...]`` (e.g. Discrete
  SAC's per-episode logs ``[point, seed, episode]``);
* ``step`` ``[window]``: the step count (in the kind's unit) at the end of each window;
* ``point`` ``[point]``: point labels; ``variant`` ``[point]``: the variant of each point;
  ``sweep/<section.key>`` ``[point]``: swept values;
* ``axes``: this description in one string.

Every file is written to a temporary name and renamed, so none is left half-written; it is
rewritten at every checkpoint, so ``jaxcurr plot`` works on a run that is still going.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w

from jaxcurr.core.files import atomic_write, json_safe
from jaxcurr.core.validation import ConfigError, read_toml

CHECKPOINT_ENV = "JAXCURR_CHECKPOINT_DIR"
CHECKPOINT_LINK = "checkpoints.path"
AXES = ("window metrics: [point, seed, window, ...]; final/<name>: [point, seed, ...]; "
        "step: [window]; point, variant, sweep/<key>: [point]")



def checkpoint_dir(run_dir: Path) -> Path:
    """Where the run in ``run_dir`` keeps its checkpoints: the folder ``checkpoints.path``
    names, else ``run_dir/checkpoints``."""
    link = Path(run_dir) / CHECKPOINT_LINK
    if link.is_file():
        return Path(link.read_text().strip())
    return Path(run_dir) / "checkpoints"


def place_checkpoints(run_dir: Path) -> Path:
    """For a new run: with ``$JAXCURR_CHECKPOINT_DIR`` set, a new folder under it (the run's
    name and a random suffix), recorded in ``checkpoints.path``; else ``run_dir/checkpoints``."""
    import os
    import uuid

    root = os.environ.get(CHECKPOINT_ENV)
    if not root:
        return Path(run_dir) / "checkpoints"
    root = Path(root).expanduser().resolve()
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{CHECKPOINT_ENV}: {root} is a file; allowed: a folder path")
    target = root / f"{Path(run_dir).resolve().name.lstrip('.')}-{uuid.uuid4().hex[:8]}"
    text = f"{target}\n"
    atomic_write(Path(run_dir) / CHECKPOINT_LINK, lambda f: f.write(text.encode()))
    return target


def remove_run(run_dir: Path) -> None:
    """Remove a run directory jaxcurr made, with its checkpoints wherever they are."""
    import shutil

    outside = checkpoint_dir(run_dir)
    if outside.parent != Path(run_dir):
        shutil.rmtree(outside, ignore_errors=True)
    shutil.rmtree(run_dir)


def save_config_dict(run_dir: Path, values: dict) -> None:
    atomic_write(Path(run_dir) / "config.toml", lambda f: tomli_w.dump(values, f))


def load_config_dict(run_dir: Path) -> dict:
    """The run's ``config.toml``; a missing or damaged file is one ConfigError line."""
    path = Path(run_dir) / "config.toml"
    if not path.is_file():
        raise ConfigError(f"{run_dir}: no config.toml; allowed: a jaxcurr run directory")
    return read_toml(path)


def save_metrics(run_dir: Path, metrics: dict[str, np.ndarray], final: dict[str, np.ndarray],
                 steps: np.ndarray, labels: list[str], variant: list[str],
                 sweep: dict[str, np.ndarray]) -> None:
    arrays = {**metrics, **{f"final/{k}": v for k, v in final.items()},
              **{f"sweep/{k}": v for k, v in sweep.items()}, "step": steps,
              "point": np.array(labels), "variant": np.array(variant), "axes": np.array(AXES)}
    atomic_write(Path(run_dir) / "metrics.npz", lambda f: np.savez_compressed(f, **arrays))


class RunMetrics(dict):
    """Window metrics ``{name: [point, seed, window, ...]}`` with ``final``, ``step``,
    ``points``, ``variant`` and ``sweep`` attributes."""

    final: dict[str, np.ndarray]
    step: np.ndarray
    points: list[str]
    variant: list[str]
    sweep: dict[str, np.ndarray]


def load_metrics(run_dir: Path) -> RunMetrics:
    """Read ``metrics.npz``; a directory written before points existed ([seed, window] arrays,
    no ``point`` entry) is read as one point. A damaged file is one ConfigError line."""
    path = Path(run_dir) / "metrics.npz"
    if not path.is_file():
        raise ConfigError(f"{run_dir}: no metrics.npz yet (the run has not reached its first "
                          "checkpoint)")
    try:
        with np.load(path, allow_pickle=False) as arrays:
            data = {k: arrays[k] for k in arrays.files}
    except Exception as err:  # noqa: BLE001 (zip, pickle and format errors all mean damage)
        raise ConfigError(f"{path}: damaged ({type(err).__name__}: {err}); allowed: a "
                          "metrics.npz written by jaxcurr") from None
    legacy = "point" not in data
    out = RunMetrics()
    out.final, out.sweep = {}, {}
    for key, value in data.items():
        if key.startswith("final/"):
            out.final[key[6:]] = value
        elif key.startswith("sweep/"):
            out.sweep[key[6:]] = value
        elif key not in ("step", "point", "variant", "axes"):
            out[key] = value[None] if legacy else value
    out.step = data.get("step", np.arange(1, next(iter(out.values())).shape[2] + 1)
                        if out else np.zeros(0))
    out.points = ["all"] if legacy else [str(x) for x in data["point"]]
    out.variant = [""] if legacy else [str(x) for x in data["variant"]]
    return out




def save_summary(run_dir: Path, summary: dict[str, Any]) -> None:
    text = json.dumps(json_safe(summary), indent=2, allow_nan=False)
    atomic_write(Path(run_dir) / "summary.json", lambda f: f.write(text.encode()))








def nonfinite_counts(metrics: dict[str, np.ndarray], points: list[str]) -> dict[str, Any]:
    """Per metric with any NaN/inf: ``{point: [count per seed]}`` of non-finite windows."""
    out: dict[str, Any] = {}
    for name, values in metrics.items():
        bad = ~np.isfinite(values.reshape(*values.shape[:3], -1)).all(-1)  # [P, S, W]
        if bad.any():
            out[name] = {p: bad[i].sum(-1).tolist() for i, p in enumerate(points)}
    return out
