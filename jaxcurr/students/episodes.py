"""Per-episode bookkeeping of an RL run, inside the compiled loop.

A run keeps a *log*: one preallocated row per episode (``{name: [max_episodes]}``, NaN for
episodes not run), written when an episode ends; a logged window reports the mean of each
entry over the episodes that ended in it. Discrete SAC and the initial-state curriculum keep
their per-episode logs this way.
"""

from __future__ import annotations

from collections.abc import Iterable

import jax
import jax.numpy as jnp


def empty_log(names: Iterable[str], max_episodes: int) -> dict[str, jax.Array]:
    """``{name: [max_episodes]}`` float32 rows, all NaN (episodes not run yet)."""
    return {name: jnp.full((max_episodes,), jnp.nan, jnp.float32) for name in names}


def write_episode(log: dict[str, jax.Array], episode: jax.Array, row: dict[str, jax.Array],
                  when: jax.Array) -> dict[str, jax.Array]:
    """Row ``episode`` of every entry set to ``row[name]`` where ``when`` (one element per
    entry is touched, so the cost does not grow with the log's length)."""
    return {name: values.at[episode].set(jnp.where(when, row[name], values[episode]))
            for name, values in log.items()}


def mean_of_ended(log: dict[str, jax.Array], names: Iterable[str], first: jax.Array,
                  end: jax.Array) -> dict[str, jax.Array]:
    """Mean of each entry over the episodes ``first <= e < end`` (those that ended in a
    window): ``sum / count``, NaN when none did."""
    names = list(names)
    index = jnp.arange(log[names[0]].shape[0])
    ended = (index >= first) & (index < end)
    count = jnp.sum(ended)
    return {name: jnp.sum(jnp.where(ended, log[name], 0.0)) / count for name in names}
