"""The experiment-kind contract: what a kind gives the runner, the CLI and the run directory.

An experiment kind is a validated config (frozen dataclass sections, errors naming
``section.key``), host-side data preparation, and a pure :class:`Engine` whose ``run`` advances
ONE run (one seed of one configuration point) by a number of logged windows inside
``lax.scan``. The runner knows nothing else about a kind: it vmaps ``init`` and ``run`` over
every (point, seed) pair, compiles one chunk of windows once, checkpoints, resumes, guards
against non-finite values and writes the run directory.

A *point* is one configuration of the experiment's vmapped axes: the kind's variant (e.g. the
Grokfast/GrAdE switches of an RL student) and the values of swept hyperparameters. The engine
receives it as ``{"variant": <pytree of the kind's variant, or ()>, "hp": {"section.key":
scalar}}`` and reads swept values with :func:`hyperparameter`, so a sweep is a vmapped axis of
the same compiled program (as optax's ``inject_hyperparams`` and rejax's pytree
hyperparameters allow).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax.numpy as jnp


class Engine(NamedTuple):
    """Pure functions of one run.

    Attributes:
      init: ``init(key, data, point) -> state``.
      run: ``run(state, data, point, num_windows) -> (state, {metric: [num_windows, ...]})``;
        ``num_windows`` is static.
      num_windows: logged windows in the whole run.
      steps_per_window: ``unit``s per window (progress bar, ``step`` axis of the metrics).
      unit: what a step is ("step", "env step", "update", "episode").
      finished: optional ``finished(state) -> bool``; the run ends early once every run is.
      progress: optional ``progress(state) -> float``: the fraction of its work a run that may
        end early has done (0 to 1); the progress bar's total and ETA follow the slowest run.
      final: optional ``final(state, data, point) -> {name: array}``: arrays read from the last
        state (e.g. per-episode logs), saved beside the window metrics (not guarded: NaN may
        mark entries that were never reached).
      guard: optional ``guard(state) -> pytree`` of the state the non-finite check reads
        (default: all of it).
      unguarded: window metrics where NaN means "nothing to report in this window" (e.g. the
        mean over episodes that ended in it); the non-finite check skips them.
      x64: run in 64-bit floats (``jax.enable_x64`` around compilation and execution only).
      old_layout: optional ``old_layout(state) -> old_state``: the state as an older version of
        the kind checkpointed it (its leaves a subset of today's), so that older run
        directories restore; ``upgrade(old_state, data, point) -> state`` turns a restored one
        into today's.
    """

    init: Callable
    run: Callable
    num_windows: int
    steps_per_window: int = 1
    unit: str = "step"
    finished: Callable | None = None
    final: Callable | None = None
    guard: Callable | None = None
    unguarded: tuple[str, ...] = ()
    x64: bool = False
    old_layout: Callable | None = None
    upgrade: Callable | None = None
    progress: Callable | None = None


class Kind(NamedTuple):
    """One experiment kind, registered by name in :mod:`jaxcurr.kinds`.

    Attributes:
      name: the TOML's ``kind``.
      description: one line for ``jaxcurr list``.
      from_dict: nested dict (TOML) -> validated config (a frozen dataclass with ``name``,
        ``description``, ``sweep`` and a ``run`` section derived from
        :class:`jaxcurr.curricula.classifier_config.RunSettings`).
      to_dict: config -> nested dict (written as the run's ``config.toml``).
      prepare: config -> data pytree (host side, once; passed to ``init`` and ``run``).
      make_engine: config -> :class:`Engine`.
      variants: config -> ``(names, stacked variant pytree)`` or None (no variant axis).
      summarize: ``(config, metrics, points) -> dict`` (``summary.json``); metrics as saved.
      format_summary: summary -> printed table.
      figures: ``(run_dir, config, metrics, points) -> [paths]``.
    """

    name: str
    description: str
    from_dict: Callable[[dict], Any]
    to_dict: Callable[[Any], dict]
    prepare: Callable[[Any], Any]
    make_engine: Callable[[Any], Engine]
    variants: Callable[[Any], tuple[list[str], Any] | None]
    summarize: Callable[[Any, dict, list[str]], dict]
    format_summary: Callable[[dict], str]
    figures: Callable[[Path, Any, dict, list[str]], list[Path]]


def hyperparameter(point: dict, key: str, default: Any) -> Any:
    """The swept value of ``key`` ("section.key") at this point, else the config's ``default``."""
    value = point.get("hp", {}).get(key)
    return default if value is None else jnp.asarray(value, jnp.float32)


def with_hyperparameters(section: Any, point: dict, prefix: str) -> Any:
    """A copy of a frozen config ``section`` whose fields swept under ``prefix`` ("sac.") hold
    this point's (traced) values. The values were validated when the sweep was read, so the
    copy skips the dataclass's checks, which cannot run on traced values."""
    swept = {k[len(prefix):]: v for k, v in point.get("hp", {}).items() if k.startswith(prefix)}
    if not swept:
        return section
    out = copy.copy(section)
    for name, value in swept.items():
        object.__setattr__(out, name, jnp.asarray(value, jnp.float32))
    return out


def no_data(config: Any) -> None:
    """``Kind.prepare`` of a kind with nothing to load on the host (its env or maze is built
    inside the engine)."""
    del config


def no_variants(config: Any) -> None:
    """``Kind.variants`` of a kind without a variant axis."""
    del config
    return None
