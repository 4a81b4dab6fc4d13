"""Learning-progress teacher over K tasks: sample tasks by the absolute difference of a fast
and a slow exponential moving average of each task's score.

(Kanitscheider et al. 2021, "Multi-task curriculum learning in a complex, visual,
hard-exploration domain: Minecraft"; the same fast/slow-EMA progress drives OMNI, Zhang et al.
2023.) Each step, task i's score ``s_i`` is the mean reward of the batch's samples of task i
(any signal: a loss, an accuracy, a gradient signal). For every task seen in the batch

    f_i <- f_i + a_fast (s_i - f_i),   l_i <- l_i + a_slow (s_i - l_i)

(both start at the task's first score), the progress is ``LP_i = |f_i - l_i|`` and

    pi(i) = (1 - eps) LP_i / sum_j LP_j + eps / K      (uniform while every LP_i is 0).

Tasks never seen keep ``LP = 0`` and are reached through the ``eps`` share.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxcurr.teachers.base import Teacher


class LearningProgressState(NamedTuple):
    fast: jax.Array  # [K]
    slow: jax.Array  # [K]
    seen: jax.Array  # [K] bool


def progress_probs(fast: jax.Array, slow: jax.Array, eps: float) -> jax.Array:
    """``(1 - eps) LP / sum LP + eps / K`` with ``LP = |fast - slow|`` (uniform if all 0)."""
    progress = jnp.abs(fast - slow)
    total = jnp.sum(progress)
    k = progress.shape[0]
    share = jnp.where(total > 0, progress / jnp.where(total > 0, total, 1), 1.0 / k)
    return (1 - eps) * share + eps / k


def learning_progress_teacher(num_tasks: int, fast_rate: float = 0.1, slow_rate: float = 0.01,
                              eps: float = 0.1) -> Teacher:
    """The teacher of the module docstring; ``obs`` is ignored."""
    if not (isinstance(num_tasks, int) and num_tasks >= 2):
        raise ValueError(f"teacher.num_tasks: got {num_tasks!r}; allowed: an integer >= 2")
    for name, value in (("fast_rate", fast_rate), ("slow_rate", slow_rate), ("eps", eps)):
        if not 0 < value <= 1:
            raise ValueError(f"teacher.{name}: got {value!r}; allowed: a number in (0, 1]")
    if not slow_rate < fast_rate:
        raise ValueError(f"teacher.slow_rate: got {slow_rate!r}; allowed: a number below "
                         f"teacher.fast_rate ({fast_rate!r})")

    def init(key, obs):
        del key, obs
        zeros = jnp.zeros((num_tasks,), jnp.float32)
        return LearningProgressState(zeros, zeros, jnp.zeros((num_tasks,), bool))

    def probs(state, obs):
        del obs
        return progress_probs(state.fast, state.slow, eps)

    def act(state, obs, key, n):
        return jax.random.choice(key, num_tasks, (n,), p=probs(state, obs))

    def update(state, obs, tasks, rewards):
        rewards = jax.lax.stop_gradient(rewards.astype(jnp.float32))
        count = jax.ops.segment_sum(jnp.ones_like(rewards), tasks, num_tasks)
        score = jax.ops.segment_sum(rewards, tasks, num_tasks) / jnp.maximum(count, 1)
        hit = count > 0
        first = hit & ~state.seen
        fast = jnp.where(first, score, state.fast + fast_rate * (score - state.fast))
        slow = jnp.where(first, score, state.slow + slow_rate * (score - state.slow))
        new = LearningProgressState(jnp.where(hit, fast, state.fast),
                                    jnp.where(hit, slow, state.slow), state.seen | hit)
        return new, {"progress": jnp.abs(new.fast - new.slow)}

    return Teacher(init, act, update, probs)
