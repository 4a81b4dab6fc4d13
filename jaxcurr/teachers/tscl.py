"""TSCL teachers over K tasks (Matiisen, Oliver, Cohen & Schulman 2017, "Teacher-Student
Curriculum Learning"): a task is worth training on while its score changes.

Batch form: each update, task i's score ``x_i`` is the mean reward of the batch's samples of
task i; only tasks in the batch are updated; ``t`` counts updates. Value estimates ``Q``:

* ``online``:   ``r_i = x_i - x_i'`` (the change since task i's previous score; 0 the first
  time), ``Q_i <- a r_i + (1 - a) Q_i``;
* ``naive``:    task i's scores are collected; once ``window`` of them are in, ``Q_i`` is the
  slope of their linear regression on ``t`` and the collection restarts;
* ``window``:   ``Q_i`` is the regression slope of task i's last ``window`` scores on their
  ``t`` (a FIFO; unchanged until it holds two);
* ``sampling``: the FIFO holds task i's last ``window`` changes ``r_i``; every draw takes one
  entry of each task's FIFO uniformly and picks the task whose entry is largest (Thompson-style;
  a task with an empty FIFO is picked first).

``absolute``: compare ``|Q|`` (``|r|``), so forgetting (a falling score) draws the task back.
Selection for the first three (``selection``): ``epsilon_greedy``,
``pi = (1 - eps) onehot(argmax v) + eps / K``, or ``boltzmann``, ``pi = softmax(v / tau)``, on
``v = |Q|`` or ``Q``. ``probs`` of the sampling teacher is the frequency of each task over
``PROBS_DRAWS`` fixed draws.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxcurr.teachers.base import Teacher

ALGORITHMS = ("online", "naive", "window", "sampling")
SELECTIONS = ("epsilon_greedy", "boltzmann")
PROBS_DRAWS = 512


class TSCLState(NamedTuple):
    q: jax.Array  # [K] value estimates (online, naive, window)
    last: jax.Array  # [K] previous score
    seen: jax.Array  # [K] bool
    times: jax.Array  # [K, window] update index of each entry
    values: jax.Array  # [K, window] scores (naive, window) or changes (sampling)
    count: jax.Array  # [K] entries held (at most window)
    t: jax.Array  # updates so far


def regression_slope(times: jax.Array, values: jax.Array, valid: jax.Array) -> jax.Array:
    """Least-squares slope of ``values`` on ``times`` over the ``valid`` entries (last axis);
    0 with fewer than two."""
    w = valid.astype(jnp.float32)
    n = jnp.maximum(w.sum(-1, keepdims=True), 1.0)
    tc = times - (w * times).sum(-1, keepdims=True) / n
    vc = values - (w * values).sum(-1, keepdims=True) / n
    var = (w * tc * tc).sum(-1)
    return jnp.where(var > 0, (w * tc * vc).sum(-1) / jnp.where(var > 0, var, 1.0), 0.0)


def _push(times, values, count, hit, t, value, window):
    """Append ``(t, value)`` to the FIFO of every hit task (dropping the oldest when full)."""
    full = count >= window
    shifted_t = jnp.where(full[:, None], jnp.roll(times, -1, -1), times)
    shifted_v = jnp.where(full[:, None], jnp.roll(values, -1, -1), values)
    slot = jnp.minimum(count, window - 1)
    at = jax.nn.one_hot(slot, window, dtype=bool) & hit[:, None]
    times = jnp.where(hit[:, None], jnp.where(at, t, shifted_t), times)
    values = jnp.where(hit[:, None], jnp.where(at, value[:, None], shifted_v), values)
    return times, values, jnp.where(hit, jnp.minimum(count + 1, window), count)


def tscl_teacher(num_tasks: int, algorithm: str = "online", selection: str = "epsilon_greedy",
                 absolute: bool = True, rate: float = 0.1, window: int = 10,
                 eps: float = 0.1, temperature: float = 0.1) -> Teacher:
    """The teacher of the module docstring; ``rate`` is ``a`` (online), ``window`` the FIFO
    length (naive, window, sampling); ``obs`` is ignored."""
    if not (isinstance(num_tasks, int) and num_tasks >= 2):
        raise ValueError(f"teacher.num_tasks: got {num_tasks!r}; allowed: an integer >= 2")
    if algorithm not in ALGORITHMS:
        raise ValueError(f"teacher.tscl_algorithm: got {algorithm!r}; allowed: "
                         + ", ".join(ALGORITHMS))
    if selection not in SELECTIONS:
        raise ValueError(f"teacher.tscl_selection: got {selection!r}; allowed: "
                         + ", ".join(SELECTIONS))
    if not (isinstance(window, int) and window >= 2):
        raise ValueError(f"teacher.tscl_window: got {window!r}; allowed: an integer >= 2")
    for name, value in (("tscl_rate", rate), ("eps", eps)):
        if not 0 < value <= 1:
            raise ValueError(f"teacher.{name}: got {value!r}; allowed: a number in (0, 1]")
    if not temperature > 0:
        raise ValueError(f"teacher.tscl_temperature: got {temperature!r}; allowed: a number > 0")
    k = num_tasks

    def init(key, obs):
        del key, obs
        zeros = jnp.zeros((k,), jnp.float32)
        return TSCLState(zeros, zeros, jnp.zeros((k,), bool), jnp.zeros((k, window)),
                         jnp.zeros((k, window)), jnp.zeros((k,), jnp.int32), jnp.int32(0))

    def value(x):
        return jnp.abs(x) if absolute else x

    def sample(state, key, n):
        """Thompson-style draws of the sampling teacher: ``n`` chosen tasks."""
        k_idx, k_tie = jax.random.split(key)
        idx = jax.random.randint(k_idx, (n, k), 0, jnp.maximum(state.count, 1))
        drawn = value(jnp.take_along_axis(state.values, idx.T, 1).T)  # [n, K]
        drawn = jnp.where(state.count > 0, drawn, jnp.inf)
        return jnp.argmax(drawn + 1e-6 * jax.random.uniform(k_tie, (n, k)), -1)

    def probs(state, obs):
        del obs
        if algorithm == "sampling":
            tasks = sample(state, jax.random.PRNGKey(0), PROBS_DRAWS)
            return jnp.bincount(tasks, length=k) / PROBS_DRAWS
        v = value(state.q)
        if selection == "boltzmann":
            return jax.nn.softmax(v / temperature)
        return (1 - eps) * jax.nn.one_hot(jnp.argmax(v), k) + eps / k

    def act(state, obs, key, n):
        if algorithm == "sampling":
            return sample(state, key, n)
        return jax.random.choice(key, k, (n,), p=probs(state, obs))

    def update(state, obs, tasks, rewards):
        del obs
        rewards = jax.lax.stop_gradient(rewards.astype(jnp.float32))
        count = jax.ops.segment_sum(jnp.ones_like(rewards), tasks, k)
        score = jax.ops.segment_sum(rewards, tasks, k) / jnp.maximum(count, 1)
        hit = count > 0
        change = jnp.where(state.seen, score - state.last, 0.0)
        t = state.t.astype(jnp.float32)
        q, times, values, held = state.q, state.times, state.values, state.count
        if algorithm == "online":
            q = jnp.where(hit, rate * change + (1 - rate) * q, q)
        elif algorithm == "sampling":
            times, values, held = _push(times, values, held, hit & state.seen, t, change, window)
        else:
            times, values, held = _push(times, values, held, hit, t, score, window)
            slope = regression_slope(times, values, jnp.arange(window) < held[:, None])
            if algorithm == "window":
                q = jnp.where(hit & (held >= 2), slope, q)
            else:  # naive: a full collection sets Q and starts over
                done = hit & (held >= window)
                q, held = jnp.where(done, slope, q), jnp.where(done, 0, held)
        new = TSCLState(q, jnp.where(hit, score, state.last), state.seen | hit, times, values,
                        held, state.t + 1)
        return new, {"q": q}

    return Teacher(init, act, update, probs)
