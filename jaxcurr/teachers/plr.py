"""Robust Prioritized Level Replay over a finite set of levels (or initial states).

(Jiang, Grefenstette & Rocktäschel 2021, "Prioritized Level Replay", eqs. 1-3; Jiang, Dennis,
Parker-Holder, Foerster, Grefenstette & Rocktäschel 2021, "Replay-Guided Adversarial
Environment Design", Algorithm 1: Robust PLR.) The teacher keeps a buffer of ``buffer_size``
levels with a score ``S_i`` (a regret estimate: positive value loss or MaxMC, any signal) and
the episode ``C_i`` at which each was last played. Before an episode, once the buffer is
``min_fill`` full, it replays with probability ``replay_prob``, drawing level ``i`` with

    P(i) = (1 - rho) P_S(i) + rho P_C(i),
    P_S(i) = h(S_i)^(1/beta) / sum_j h(S_j)^(1/beta),   h(S_i) = 1 / rank(S_i),
    P_C(i) = (c - C_i) / sum_j (c - C_j),

``rank`` 1 for the highest score (ties: the lower buffer slot first), ``c`` the episodes done,
``beta`` the temperature and ``rho`` the staleness share; otherwise it draws a new level
uniformly from ``0..num_levels-1``. After the episode the level's score is set to the new one
and ``C_i = c``; a level not in the buffer takes the first empty slot, or replaces the lowest
score if its own is higher. Robust PLR trains the student on replayed levels only: ``sample``
returns ``replayed`` so that an on-policy student can drop the others' gradients (an
off-policy student such as the curriculum's SAC learns from every transition regardless).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxcurr.core.validation import is_int, require


class PLRState(NamedTuple):
    levels: jax.Array  # [buffer_size] int32, -1 where empty
    scores: jax.Array  # [buffer_size]
    last_seen: jax.Array  # [buffer_size] episode count at the last play
    count: jax.Array  # int32: episodes observed


class PLR(NamedTuple):
    """``init(key)``; ``sample(state, key) -> (level, replayed)``; ``observe(state, level,
    score) -> (state, info)``; ``replay_probs(state) -> [buffer_size]``."""

    init: object
    sample: object
    observe: object
    replay_probs: object


def rank_weights(scores: jax.Array, filled: jax.Array, temperature: float) -> jax.Array:
    """``P_S``: ``(1 / rank)^(1 / beta)`` over the filled slots, normalised."""
    order = jnp.argsort(jnp.where(filled, -scores, jnp.inf), stable=True)
    rank = jnp.zeros_like(order).at[order].set(jnp.arange(1, order.shape[0] + 1))
    weights = jnp.where(filled, (1.0 / rank) ** (1.0 / temperature), 0.0)
    return weights / jnp.maximum(jnp.sum(weights), 1e-30)


def plr_teacher(num_levels: int, buffer_size: int = 64, replay_prob: float = 0.5,
                temperature: float = 0.3, staleness: float = 0.3,
                min_fill: float = 1.0) -> PLR:
    """The teacher of the module docstring (defaults: Robust PLR's settings)."""
    require(is_int(num_levels) and num_levels >= 2, "teacher.num_levels", "an integer >= 2",
            num_levels)
    require(is_int(buffer_size) and 1 <= buffer_size <= num_levels, "teacher.plr_buffer_size",
            f"an integer in [1, num_levels ({num_levels})]", buffer_size)
    for name, value in (("plr_replay_prob", replay_prob), ("plr_staleness", staleness)):
        require(0 <= value <= 1, f"teacher.{name}", "a number in [0, 1]", value)
    require(0 < min_fill <= 1, "teacher.plr_min_fill", "a number in (0, 1]", min_fill)
    require(temperature > 0, "teacher.plr_temperature", "a positive number", temperature)
    need = max(1, int(round(min_fill * buffer_size)))

    def init(key) -> PLRState:
        del key
        return PLRState(jnp.full((buffer_size,), -1, jnp.int32), jnp.zeros((buffer_size,)),
                        jnp.zeros((buffer_size,)), jnp.zeros([], jnp.int32))

    def replay_probs(state: PLRState) -> jax.Array:
        filled = state.levels >= 0
        by_score = rank_weights(state.scores, filled, temperature)
        age = jnp.where(filled, state.count - state.last_seen, 0.0)
        total_age = jnp.sum(age)
        by_age = jnp.where(total_age > 0, age / jnp.where(total_age > 0, total_age, 1.0),
                           filled / jnp.maximum(jnp.sum(filled), 1))
        return (1 - staleness) * by_score + staleness * by_age

    def sample(state: PLRState, key) -> tuple[jax.Array, jax.Array]:
        k_replay, k_slot, k_new = jax.random.split(key, 3)
        ready = jnp.sum(state.levels >= 0) >= need
        replayed = ready & (jax.random.uniform(k_replay) < replay_prob)
        slot = jax.random.choice(k_slot, buffer_size, p=jnp.where(ready, replay_probs(state),
                                                                   1.0 / buffer_size))
        new = jax.random.randint(k_new, (), 0, num_levels)
        return jnp.where(replayed, state.levels[slot], new), replayed

    def observe(state: PLRState, level, score) -> tuple[PLRState, dict]:
        score = jnp.asarray(score, jnp.float32)
        here = state.levels == level
        present = jnp.any(here)
        empty = state.levels < 0
        filled_scores = jnp.where(empty, jnp.inf, state.scores)
        slot = jnp.where(present, jnp.argmax(here),
                         jnp.where(jnp.any(empty), jnp.argmax(empty), jnp.argmin(filled_scores)))
        write = present | jnp.any(empty) | (score > jnp.min(filled_scores))

        def put(array, value):
            return array.at[slot].set(jnp.where(write, value, array[slot]))

        state = PLRState(put(state.levels, jnp.asarray(level, jnp.int32)),
                         put(state.scores, score), put(state.last_seen, state.count),
                         state.count + 1)
        return state, {"inserted": write & ~present}

    return PLR(init, sample, observe, replay_probs)
