"""REINFORCE teacher over a student's initial states: the gradient-norm paper's teacher.

(Campbell & Yoon 2023, "Automatic Curriculum Learning with Gradient Reward Signals";
docs/reference_facts.md §2.) Before each student episode the teacher picks
where it starts, a goal cell and a reset cell of a maze. Its observation is
``[return of the episode that just ended, that episode's start (goal xy, reset xy)]``; one
teacher trajectory is ``k`` student episodes, each rewarded by a gradient signal of the
student's actor (:mod:`jaxcurr.signals.actor_gradients`). After ``k`` episodes:

* returns-to-go with discount 1: ``G_t = sum_{t' >= t} r_t'``;
* advantages ``A_t = G_t - V(o_t)`` from the learned baseline, normalised
  ``(A - mean A) / (std A + 1e-8)``;
* policy: ``updates`` Adam steps on ``-mean_t A_t log N(x_t; mu(o_t), sigma^2)``;
* baseline: ``baseline_steps`` Adam steps on ``mean_t (V(o_t) - G_t)^2``.

Policy and baseline are 2 x 64 tanh MLPs with Adam 5e-3; the policy's mean is
``sigmoid(MLP(o))`` with a fixed standard deviation ``sigma = 0.7`` per coordinate (the authors'
Gaussian). The authors' raw sample was used as the start directly and could name wall cells;
here it is squashed into the unit cube (:func:`squash`) and a
:class:`~jaxcurr.envs.start_spaces.StartSpace` maps that point onto a valid start. Squashes:
``"clip"`` (the authors' range, ``clip(x, 0, 1)``: at the initial mean 0.5 a Gaussian of std
0.7 puts 47.5% of each coordinate on a face of the cube, so most maze starts land in corner
cells) or ``"gaussian_cdf"``
(``Phi((x - 0.5) / sigma)``: at the initial mean 0.5 the starts are uniform in the cube). The
REINFORCE likelihood is the raw Gaussian sample's, so the squash is part of the teacher's
environment.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxcurr.teachers.base import StartTeacher
from jaxcurr.teachers.reinforce import TanhMLP

START_TEACHERS = ("none", "reinforce", "alp_gmm", "plr")  # "none": the env's default resets
SQUASHES = ("clip", "gaussian_cdf")


class StartTeacherState(NamedTuple):
    """Networks, optimiser states and the current trajectory (``filled`` of ``k`` steps)."""

    policy: Any
    policy_opt: Any
    baseline: Any
    baseline_opt: Any
    obs: jax.Array  # [k, obs_dim]
    actions: jax.Array  # [k, dim] raw Gaussian samples
    rewards: jax.Array  # [k]
    filled: jax.Array  # int32


def squash(raw: jax.Array, kind: str, std: float) -> jax.Array:
    """A raw Gaussian sample in the unit cube: ``clip(raw, 0, 1)`` or
    ``Phi((raw - 0.5) / std)`` (``kind`` in :data:`SQUASHES`)."""
    if kind == "clip":
        return jnp.clip(raw, 0.0, 1.0)
    return jax.scipy.stats.norm.cdf((raw - 0.5) / std)


def returns_to_go(rewards: jax.Array) -> jax.Array:
    """``G_t = sum_{t' >= t} r_t'`` (discount 1)."""
    return jnp.cumsum(rewards[::-1])[::-1]


def normalized_advantages(returns: jax.Array, values: jax.Array) -> jax.Array:
    """``(A - mean A) / (std A + 1e-8)`` with ``A = G - V``."""
    advantages = returns - values
    return (advantages - jnp.mean(advantages)) / (jnp.std(advantages) + 1e-8)


def gaussian_log_prob(x: jax.Array, mean: jax.Array, std: float) -> jax.Array:
    """``sum_j log N(x_j; mean_j, std^2)``."""
    z = (x - mean) / std
    return jnp.sum(-0.5 * z**2 - jnp.log(std) - 0.5 * jnp.log(2 * jnp.pi), axis=-1)


def start_teacher(dim: int, obs_dim: int, hidden: Sequence[int] = (64, 64),
                  learning_rate: float = 5e-3, std: float = 0.7,
                  episodes_per_trajectory: int = 5, baseline_steps: int = 5, updates: int = 1,
                  squash_kind: str = "clip") -> StartTeacher:
    """The teacher of the module docstring over ``[0, 1]^dim`` (its observation: ``obs_dim``
    numbers)."""
    for name, value in (("episodes_per_trajectory", episodes_per_trajectory),
                        ("baseline_steps", baseline_steps), ("updates", updates)):
        if not (isinstance(value, int) and value >= 1):
            raise ValueError(f"teacher.{name}: got {value!r}; allowed: an integer >= 1")
    if not std > 0:
        raise ValueError(f"teacher.std: got {std!r}; allowed: a positive number")
    if squash_kind not in SQUASHES:
        raise ValueError(f"teacher.squash: got {squash_kind!r}; allowed: one of {SQUASHES}")
    k = episodes_per_trajectory
    policy_net, baseline_net = TanhMLP(tuple(hidden), dim), TanhMLP(tuple(hidden), 1)
    tx = optax.adam(learning_rate)

    def init(key: jax.Array) -> StartTeacherState:
        k_policy, k_baseline = jax.random.split(key)
        example = jnp.zeros((obs_dim,), jnp.float32)
        policy = policy_net.init(k_policy, example)
        baseline = baseline_net.init(k_baseline, example)
        return StartTeacherState(policy, tx.init(policy), baseline, tx.init(baseline),
                                 jnp.zeros((k, obs_dim), jnp.float32),
                                 jnp.zeros((k, dim), jnp.float32), jnp.zeros((k,), jnp.float32),
                                 jnp.zeros([], jnp.int32))

    def mean(state: StartTeacherState, obs: jax.Array) -> jax.Array:
        return jax.nn.sigmoid(policy_net.apply(state.policy, obs))

    def act(state: StartTeacherState, obs: jax.Array, key: jax.Array):
        raw = mean(state, obs) + std * jax.random.normal(key, (dim,))
        return raw, squash(raw, squash_kind, std)

    def learn(state: StartTeacherState) -> tuple[StartTeacherState, dict]:
        returns = returns_to_go(state.rewards)
        values = baseline_net.apply(state.baseline, state.obs)[:, 0]
        advantages = jax.lax.stop_gradient(normalized_advantages(returns, values))

        def policy_loss(params):
            means = jax.nn.sigmoid(policy_net.apply(params, state.obs))
            return -jnp.mean(advantages * gaussian_log_prob(state.actions, means, std))

        def policy_step(carry, _):
            params, opt = carry
            loss, grads = jax.value_and_grad(policy_loss)(params)
            step, opt = tx.update(grads, opt, params)
            return (optax.apply_updates(params, step), opt), loss

        def baseline_step(carry, _):
            params, opt = carry
            loss, grads = jax.value_and_grad(
                lambda p: jnp.mean((baseline_net.apply(p, state.obs)[:, 0] - returns) ** 2))(
                params)
            step, opt = tx.update(grads, opt, params)
            return (optax.apply_updates(params, step), opt), loss

        (policy, policy_opt), p_losses = jax.lax.scan(
            policy_step, (state.policy, state.policy_opt), None, length=updates)
        (baseline, baseline_opt), b_losses = jax.lax.scan(
            baseline_step, (state.baseline, state.baseline_opt), None, length=baseline_steps)
        new = state._replace(policy=policy, policy_opt=policy_opt, baseline=baseline,
                             baseline_opt=baseline_opt, filled=jnp.zeros([], jnp.int32))
        return new, {"policy_loss": p_losses[0], "baseline_loss": b_losses[0]}

    def observe(state: StartTeacherState, obs: jax.Array, raw: jax.Array, reward: jax.Array):
        i = state.filled
        state = state._replace(obs=state.obs.at[i].set(obs), actions=state.actions.at[i].set(raw),
                               rewards=state.rewards.at[i].set(reward), filled=i + 1)
        nan = jnp.full([], jnp.nan, jnp.float32)
        return jax.lax.cond(state.filled == k, learn,
                            lambda s: (s, {"policy_loss": nan, "baseline_loss": nan}), state)

    return StartTeacher(init, act, observe)


def alp_gmm_start_teacher(dim: int, **settings: Any) -> StartTeacher:
    """ALP-GMM (:mod:`jaxcurr.teachers.alp_gmm`) over the starts ``[0, 1]^dim``, mapped onto
    valid starts by the start space as the REINFORCE teacher's are; ``settings`` go to
    :func:`~jaxcurr.teachers.alp_gmm.alp_gmm_teacher`. Its state is the ALP-GMM state and a key
    for the refits. ``observe`` records the episode's ALP; the
    mixtures are refitted in ``end_window`` once ``fit_every`` episodes have passed (a refit
    due mid-window waits for the window's end)."""
    from jaxcurr.teachers.alp_gmm import alp_gmm_teacher

    alp = alp_gmm_teacher(np.zeros(dim), np.ones(dim), **settings)

    def init(key):
        k_init, k_run = jax.random.split(key)
        return alp.init(k_init), k_run

    def act(state, obs, key):
        del obs
        raw = alp.sample(state[0], key)
        return raw, raw

    def observe(state, obs, raw, reward):
        del obs
        alp_state, info = alp.record(state[0], raw, reward)
        return (alp_state, state[1]), info

    def end_window(state):
        key, k_fit = jax.random.split(state[1])
        return alp.refit(state[0], k_fit), key

    return StartTeacher(init, act, observe, end_window)


def plr_start_teacher(levels: np.ndarray, **settings: Any) -> StartTeacher:
    """Robust PLR (:mod:`jaxcurr.teachers.plr`) over a start space's ``L`` levels ``[L, dim]``
    (unit points; a maze's level ``l = F * goal + reset`` of its ``F`` free cells); ``settings``
    go to :func:`~jaxcurr.teachers.plr.plr_teacher`. The action it records is ``[l, replayed,
    0, ...]``."""
    from jaxcurr.teachers.plr import plr_teacher

    points = jnp.asarray(levels, jnp.float32)
    count, dim = points.shape
    plr = plr_teacher(count, **settings)

    def act(state, obs, key):
        del obs
        level, replayed = plr.sample(state, key)
        raw = jnp.zeros((dim,), jnp.float32).at[:2].set(
            jnp.stack([level.astype(jnp.float32), replayed.astype(jnp.float32)]))
        return raw, points[level]

    def observe(state, obs, raw, reward):
        del obs
        return plr.observe(state, raw[0].astype(jnp.int32), reward)

    return StartTeacher(plr.init, act, observe)
