"""Soft Actor-Critic for continuous actions (Haarnoja et al. 2018): networks, losses, update.

With a tanh-squashed Gaussian actor ``a = c + s tanh(u)``, ``u ~ N(mu(o), sigma(o))`` (``c, s``
the action box's centre and half-width), twin critics ``Q_1, Q_2`` and Polyak targets ``Q'_i``:

* log-density: ``log pi(a|o) = log N(u; mu, sigma) - sum_j [log s_j + log(1 - tanh(u_j)^2)]``
  with ``log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u))`` (exact, no epsilon);
* target: ``y = r + gamma (1 - terminated) [min_i Q'_i(o', a') - alpha log pi(a'|o')]``,
  ``a' ~ pi(.|o')``;
* critic loss: ``mean_B (Q_1(o, a) - y)^2 + mean_B (Q_2(o, a) - y)^2``;
* actor loss: ``mean_B [alpha log pi(a~|o) - min_i Q_i(o, a~)]``, ``a~`` reparameterised;
* temperature (when tuned): ``-mean_B log(alpha) (log pi(a~|o) + H_target)``,
  ``H_target = -dim(A)``; fixed at ``temperature`` otherwise (the gradient-norm paper's choice);
* targets: ``Q'_i <- tau Q_i + (1 - tau) Q'_i`` after every update.

One update steps the critics, then the actor against the updated critics, then the
temperature, then the targets. It returns the actor's gradient of its full loss (entropy term
included) before the optimizer step, which the RL gradient signals read
(:mod:`jaxcurr.signals.actor_gradients`). Defaults are the gradient-norm paper's (Campbell &
Yoon 2023, Sec. 4.3, and their code; docs/reference_facts.md §2): 3 x 256 ReLU, batch 256,
Adam 3e-4 for every network, gamma 0.99, tau 0.005, temperature 0.05.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import flashbax as fbx
import jax
import jax.numpy as jnp
import optax

from jaxcurr.core.validation import hidden_sizes, require, sweepable
from jaxcurr.students.networks import SquashedGaussianActor, TwinCritic
from jaxcurr.students.sac.learner import SACState, Transition, polyak_update


@dataclasses.dataclass(frozen=True)
class ContinuousSACConfig:
    """Continuous SAC settings; defaults: the gradient-norm paper's (docs/reference_facts.md §2).

    ``temperature``: the fixed entropy weight, or the initial one when ``tune_temperature``.
    ``random_steps``: env steps with uniform random actions; ``learning_starts``: env step of
    the first update (one update per env step from then on); ``buffer_size``: replay capacity.
    ``learning_rate``, ``gamma``, ``tau`` and ``temperature`` may be swept (``[sweep]``).
    """

    hidden: tuple[int, ...] = (256, 256, 256)
    batch_size: int = 256
    learning_rate: float = sweepable(3e-4)
    gamma: float = sweepable(0.99)
    tau: float = sweepable(0.005)
    temperature: float = sweepable(0.05)
    tune_temperature: bool = False
    random_steps: int = 5_000
    learning_starts: int = 10_000
    buffer_size: int = 1_000_000

    def __post_init__(self):
        hidden_sizes("sac.hidden", self.hidden)
        for name in ("batch_size", "buffer_size", "random_steps", "learning_starts"):
            value = getattr(self, name)
            require(isinstance(value, int) and not isinstance(value, bool) and value >= 0,
                    f"sac.{name}", "a non-negative integer", value)
        require(self.batch_size > 0, "sac.batch_size", "a positive integer", self.batch_size)
        require(self.batch_size <= self.buffer_size, "sac.batch_size",
                f"at most sac.buffer_size ({self.buffer_size}): a batch is drawn from the "
                "replay buffer", self.batch_size)
        for name, low, high in (("learning_rate", 0, math.inf), ("temperature", 0, math.inf),
                                ("gamma", 0, 1), ("tau", 0, 1)):
            value = getattr(self, name)
            require(isinstance(value, int | float) and low < value <= high
                    and math.isfinite(value), f"sac.{name}", f"a number in ({low}, {high}]",
                    value)


def small_pointmaze_config(**overrides: Any) -> ContinuousSACConfig:
    """The authors' small PointMaze configuration: 3 x 128 wide, batch 128, temperature 0.2."""
    return ContinuousSACConfig(**{"hidden": (128, 128, 128), "batch_size": 128,
                                  "temperature": 0.2, **overrides})






def log_one_minus_tanh_squared(u: jax.Array) -> jax.Array:
    """``log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u))``, exact for large ``|u|``."""
    return 2.0 * (math.log(2.0) - u - jax.nn.softplus(-2.0 * u))


def squashed_sample(mean, log_std, noise, centre, scale) -> tuple[jax.Array, jax.Array]:
    """Action ``centre + scale tanh(mean + std noise)`` and its log-density (module docstring)."""
    u = mean + jnp.exp(log_std) * noise
    gaussian = -0.5 * noise**2 - log_std - 0.5 * math.log(2 * math.pi)
    log_prob = jnp.sum(gaussian - jnp.log(scale) - log_one_minus_tanh_squared(u), axis=-1)
    return centre + scale * jnp.tanh(u), log_prob


def critic_loss(q: jax.Array, target: jax.Array) -> jax.Array:
    """``sum_i mean_B (Q_i - y)^2`` for ``q`` of shape ``[2, B]``."""
    return jnp.sum(jnp.mean(jnp.square(q - target), axis=-1))


def actor_loss(log_prob: jax.Array, q_min: jax.Array, alpha: jax.Array) -> jax.Array:
    """``mean_B [alpha log pi(a~|o) - min_i Q_i(o, a~)]``."""
    return jnp.mean(alpha * log_prob - q_min)


def temperature_loss(log_alpha, log_prob, target_entropy) -> jax.Array:
    """``-mean_B log(alpha) (log pi + H_target)``: alpha grows while entropy < target."""
    return -jnp.mean(log_alpha * (log_prob + target_entropy))


class UpdateInfo(NamedTuple):
    """One update's scalars and the actor's raw gradient (a pytree like its parameters)."""

    critic_loss: jax.Array
    actor_loss: jax.Array
    alpha: jax.Array
    entropy: jax.Array
    actor_grads: Any


class SACFns(NamedTuple):
    """``init(key, obs)``, ``update(learner, batch, key)``, ``act(actor, obs, key)``, the
    deterministic ``mean_action(actor, obs)`` and ``value(learner, obs)``, the state value
    ``min_i Q_i(obs, mean_action(obs))`` (the soft value's entropy term left out), from
    :func:`make_continuous_sac`."""

    init: Callable[[jax.Array, jax.Array], SACState]
    update: Callable[[SACState, Transition, jax.Array], tuple[SACState, UpdateInfo]]
    act: Callable[[Any, jax.Array, jax.Array], jax.Array]
    mean_action: Callable[[Any, jax.Array], jax.Array]
    value: Callable[[SACState, jax.Array], jax.Array]


def make_continuous_sac(config: ContinuousSACConfig, action_low: Any,
                        action_high: Any) -> SACFns:
    """Networks, Adam optimisers and the SAC update for actions in the box
    ``[action_low, action_high]`` (1-D arrays)."""
    low = jnp.atleast_1d(jnp.asarray(action_low, jnp.float32))
    high = jnp.atleast_1d(jnp.asarray(action_high, jnp.float32))
    centre, scale = (high + low) / 2, (high - low) / 2
    action_dim = int(low.shape[0])
    actor_net = SquashedGaussianActor(tuple(config.hidden), action_dim)
    critic_net = TwinCritic(tuple(config.hidden))
    tx = optax.adam(config.learning_rate)
    target_entropy = -float(action_dim)

    def sample(actor, obs, key):
        mean, log_std = actor_net.apply(actor, obs)
        return squashed_sample(mean, log_std, jax.random.normal(key, mean.shape), centre, scale)

    def init(key: jax.Array, obs: jax.Array) -> SACState:
        k_actor, k_critic = jax.random.split(key)
        actor = actor_net.init(k_actor, obs)
        critic = critic_net.init(k_critic, obs, centre)
        log_alpha = (jnp.log(config.temperature) if isinstance(config.temperature, jax.Array)
                     else jnp.asarray(math.log(config.temperature), jnp.float32))  # swept: traced
        return SACState(actor, critic, critic, log_alpha, tx.init(actor), tx.init(critic),
                       tx.init(log_alpha))

    def update(learner: SACState, batch: Transition, key: jax.Array
               ) -> tuple[SACState, UpdateInfo]:
        """One SAC update: critics, actor (its raw gradient returned for the signals),
        temperature, then the targets."""
        k_next, k_actor = jax.random.split(key)
        alpha = jnp.exp(learner.log_alpha)
        next_action, next_log_prob = sample(learner.actor, batch.next_obs, k_next)
        next_q = jnp.min(critic_net.apply(learner.target_critic, batch.next_obs, next_action), 0)
        y = batch.reward + config.gamma * (1.0 - batch.terminated) * (
            next_q - alpha * next_log_prob)
        y = jax.lax.stop_gradient(y)

        c_loss, c_grads = jax.value_and_grad(
            lambda p: critic_loss(critic_net.apply(p, batch.obs, batch.action), y))(
            learner.critic)
        c_updates, critic_opt = tx.update(c_grads, learner.critic_opt, learner.critic)
        critic = optax.apply_updates(learner.critic, c_updates)

        def actor_objective(params):
            action, log_prob = sample(params, batch.obs, k_actor)
            q_min = jnp.min(critic_net.apply(critic, batch.obs, action), axis=0)
            return actor_loss(log_prob, q_min, alpha), log_prob

        (a_loss, log_prob), a_grads = jax.value_and_grad(actor_objective, has_aux=True)(
            learner.actor)
        a_updates, actor_opt = tx.update(a_grads, learner.actor_opt, learner.actor)
        actor = optax.apply_updates(learner.actor, a_updates)

        log_alpha, alpha_opt = learner.log_alpha, learner.alpha_opt
        if config.tune_temperature:
            t_grad = jax.grad(temperature_loss)(log_alpha, jax.lax.stop_gradient(log_prob),
                                                target_entropy)
            t_updates, alpha_opt = tx.update(t_grad, alpha_opt, log_alpha)
            log_alpha = optax.apply_updates(log_alpha, t_updates)

        new = SACState(actor, critic, polyak_update(critic, learner.target_critic, config.tau),
                      log_alpha, actor_opt, critic_opt, alpha_opt)
        return new, UpdateInfo(c_loss, a_loss, alpha, -jnp.mean(log_prob), a_grads)

    def act(actor, obs, key):
        return sample(actor, obs, key)[0]

    def mean_action(actor, obs):
        return centre + scale * jnp.tanh(actor_net.apply(actor, obs)[0])

    def value(learner, obs):
        return jnp.min(critic_net.apply(learner.critic, obs, mean_action(learner.actor, obs)), 0)

    return SACFns(init, update, act, mean_action, value)


# --------------------------------------------------------------------------------------------
# Interaction with a gymnax env (continuing tasks: every episode end is a time limit)


def action_bounds(env: Any, env_params: Any) -> tuple[jax.Array, jax.Array]:
    """The env's action box as float32 arrays of the action's shape."""
    space = env.action_space(env_params)
    return (jnp.broadcast_to(jnp.asarray(space.low, jnp.float32), space.shape),
            jnp.broadcast_to(jnp.asarray(space.high, jnp.float32), space.shape))


def make_replay(config: ContinuousSACConfig, total_steps: int):
    """A flashbax item buffer of ``min(buffer_size, total_steps)`` transitions (a larger one
    would never wrap, so sampling is the same)."""
    return fbx.make_item_buffer(max_length=min(config.buffer_size, total_steps), min_length=1,
                                sample_batch_size=config.batch_size)


class Interaction(NamedTuple):
    """One env step and (from ``learning_starts``) one update; ``obs``/``env_state`` are the
    step's result before any reset; ``done``: the episode ended (here: its time limit)."""

    learner: SACState
    buffer: Any
    obs: jax.Array
    env_state: Any
    reward: jax.Array
    done: jax.Array
    info: dict
    update: UpdateInfo
    learning: jax.Array


def interact(sac: SACFns, replay: Any, env: Any, env_params: Any, config: ContinuousSACConfig,
             learner: SACState, buffer_state: Any, env_state: Any, obs: jax.Array,
             step: jax.Array, key: jax.Array) -> Interaction:
    """Act (uniform random before ``random_steps``), step, store, update. The transition
    stores gymnax's ``terminated`` (``step_env``'s flag), so the target bootstraps through
    the time limit (``truncated``) and never past a real terminal state; the episode ends at
    either (``done``)."""
    k_act, k_env, k_sample, k_update = jax.random.split(key, 4)
    low, high = action_bounds(env, env_params)
    explore = jax.random.uniform(k_act, low.shape, minval=low, maxval=high)
    action = jnp.where(step < config.random_steps, explore, sac.act(learner.actor, obs, k_act))
    next_obs, next_state, reward, terminated, info = env.step_env(k_env, env_state, action,
                                                                  env_params)
    done = jnp.logical_or(terminated, env.is_truncated(next_state, env_params))
    reward = jnp.asarray(reward, jnp.float32)
    buffer_state = replay.add(buffer_state, Transition(
        obs, action, reward, jnp.asarray(terminated, jnp.float32), next_obs))
    learning = step >= config.learning_starts
    batch = replay.sample(buffer_state, k_sample).experience
    updated, info_update = sac.update(learner, batch, k_update)
    learner = jax.tree.map(lambda n, o: jnp.where(learning, n, o), updated, learner)
    return Interaction(learner, buffer_state, next_obs, next_state, reward, done, info,
                       info_update, learning)


def make_train(config: ContinuousSACConfig, env: Any, env_params: Any,
               total_steps: int) -> Callable[[jax.Array], SACState]:
    """``train(key) -> learner``: ``total_steps`` env steps of SAC with the env's default
    resets (pure; jit and vmap it over keys)."""
    low, high = action_bounds(env, env_params)
    sac = make_continuous_sac(config, low, high)
    replay = make_replay(config, total_steps)

    def train(key: jax.Array) -> SACState:
        """``total_steps`` env steps from the env's default resets."""
        k_init, k_reset, k_run = jax.random.split(key, 3)
        obs, env_state = env.reset_env(k_reset, env_params)
        learner = sac.init(k_init, obs)
        zero = jnp.zeros([], jnp.float32)
        buffer_state = replay.init(Transition(obs, low, zero, zero, obs))

        def step(carry, inputs):
            """One env step, its transition stored, then one update once learning has started."""
            learner, buffer_state, env_state, obs = carry
            t, k = inputs
            k_step, k_reset = jax.random.split(k)
            out = interact(sac, replay, env, env_params, config, learner, buffer_state,
                           env_state, obs, t, k_step)
            reset_obs, reset_state = env.reset_env(k_reset, env_params)
            obs = jnp.where(out.done, reset_obs, out.obs)
            env_state = jax.tree.map(lambda r, s: jnp.where(out.done, r, s), reset_state,
                                     out.env_state)
            return (out.learner, out.buffer, env_state, obs), None

        (learner, *_), _ = jax.lax.scan(step, (learner, buffer_state, env_state, obs),
                                        (jnp.arange(total_steps),
                                         jax.random.split(k_run, total_steps)))
        return learner

    return train
