"""EXP3.S teacher over K tasks (Graves et al. 2017, "Automated Curriculum Learning for Neural
Networks", Algorithm 1), with its reward rescaling by running quantiles.

Policy: ``pi(i) = (1 - eps) softmax(w)_i + eps / K``. Each step the teacher draws a task for
every sample of a batch and receives one raw reward per sample (any signal). Raw rewards enter
a reservoir sample of the history (Vitter's algorithm R, ``reservoir`` entries); with ``q_lo``,
``q_hi`` its 20th and 80th percentiles, a reward is rescaled to ``[-1, 1]``:

    r^ = -1 if r < q_lo;  1 if r > q_hi;  2 (r - q_lo) / (q_hi - q_lo) - 1 otherwise

(0 while ``q_hi = q_lo``). The batch's importance-weighted reward of task i is
``r~_i = (mean_b r^_b [a_b = i] + beta) / pi(i)`` (Graves' single-pull estimator averaged over
the batch's draws), and the weights follow the fixed-share update

    w_i <- log[(1 - alpha) e^{w_i + eta r~_i} + alpha / (K - 1) sum_{j != i} e^{w_j + eta r~_j}]

(shifted by ``max w`` afterwards, which leaves ``pi`` unchanged). Graves et al. use
``eta = 1e-3``, ``beta = 0``, ``eps = 0.05``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxcurr.teachers.base import Teacher


class Exp3SState(NamedTuple):
    weights: jax.Array  # [K]
    reservoir: jax.Array  # [R] raw rewards (the first min(seen, R) are valid)
    seen: jax.Array  # int32: raw rewards offered to the reservoir so far
    key: jax.Array  # for the reservoir's draws


def rescale(rewards: jax.Array, low: jax.Array, high: jax.Array) -> jax.Array:
    """Graves' quantile rescaling to ``[-1, 1]`` (module docstring)."""
    span = high - low
    inside = jnp.where(span > 0, 2 * (rewards - low) / jnp.where(span > 0, span, 1) - 1, 0.0)
    return jnp.where(rewards < low, -1.0, jnp.where(rewards > high, 1.0, inside))


def reservoir_add(reservoir: jax.Array, seen: jax.Array, values: jax.Array,
                  key: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Offer ``values`` one by one to a reservoir sample (algorithm R): value number ``c`` is
    stored at ``c`` while ``c < R``, else at a uniform ``j in [0, c]`` if ``j < R``."""
    size = reservoir.shape[0]

    def offer(carry, inputs):
        res, count = carry
        value, k = inputs
        j = jnp.where(count < size, count, jax.random.randint(k, (), 0, count + 1))
        res = jnp.where(j < size, res.at[jnp.minimum(j, size - 1)].set(value), res)
        return (res, count + 1), None

    keys = jax.random.split(key, values.shape[0])
    (reservoir, seen), _ = jax.lax.scan(offer, (reservoir, seen), (values, keys))
    return reservoir, seen


def _quantiles(reservoir: jax.Array, seen: jax.Array) -> tuple[jax.Array, jax.Array]:
    valid = jnp.arange(reservoir.shape[0]) < seen
    history = jnp.where(valid, reservoir, jnp.nan)
    return jnp.nanquantile(history, 0.2), jnp.nanquantile(history, 0.8)


def fixed_share(weights: jax.Array, gains: jax.Array, alpha: float) -> jax.Array:
    """``log[(1-alpha) e^{z_i} + alpha/(K-1) sum_{j!=i} e^{z_j}]``, ``z = weights + gains``."""
    z = weights + gains
    k = z.shape[0]
    others = jnp.where(jnp.eye(k, dtype=bool), -jnp.inf, z[None, :])
    rest = jax.nn.logsumexp(others, axis=1)
    mixed = jnp.logaddexp(jnp.log1p(-alpha) + z, jnp.log(alpha / (k - 1)) + rest)
    return mixed - jnp.max(mixed)


def exp3s_teacher(num_tasks: int, eta: float = 1e-3, eps: float = 0.05, alpha: float = 1e-3,
                  beta: float = 0.0, reservoir: int = 1000) -> Teacher:
    """EXP3.S over ``num_tasks`` tasks (module docstring); ``obs`` is ignored."""
    if not (isinstance(num_tasks, int) and num_tasks >= 2):
        raise ValueError(f"teacher.num_tasks: got {num_tasks!r}; allowed: an integer >= 2")
    for name, value in (("eps", eps), ("alpha", alpha)):
        if not 0 < value < 1:
            raise ValueError(f"teacher.{name}: got {value!r}; allowed: a number in (0, 1)")
    if not eta > 0:
        raise ValueError(f"teacher.eta: got {eta!r}; allowed: a positive number")

    def init(key, obs):
        del obs
        return Exp3SState(jnp.zeros((num_tasks,), jnp.float32),
                          jnp.zeros((reservoir,), jnp.float32), jnp.zeros([], jnp.int32), key)

    def probs(state, obs):
        del obs
        return (1 - eps) * jax.nn.softmax(state.weights) + eps / num_tasks

    def act(state, obs, key, n):
        return jax.random.choice(key, num_tasks, (n,), p=probs(state, obs))

    def update(state, obs, tasks, rewards):
        rewards = jax.lax.stop_gradient(rewards.astype(jnp.float32))
        key, k_res = jax.random.split(state.key)
        res, seen = reservoir_add(state.reservoir, state.seen, rewards, k_res)
        low, high = _quantiles(res, seen)
        scaled = rescale(rewards, low, high)
        pi = probs(state, obs)
        per_task = jax.ops.segment_sum(scaled, tasks, num_tasks) / rewards.shape[0]
        weights = fixed_share(state.weights, eta * (per_task + beta) / pi, alpha)
        return Exp3SState(weights, res, seen, key), {"low": low, "high": high}

    return Teacher(init, act, update, probs)
