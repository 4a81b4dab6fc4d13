"""The Grokfast/GrAdE paper's PPO: one episode per update, Monte-Carlo returns, full batches.

Nilabh & Sinha Choudhury ("Efficiently Managing Exploration and Gradient Stability in Deep
Policy Gradient Methods", PPO section and hyperparameter table): separate actor and critic MLPs
([128, 128] ReLU), Adam (actor 5e-4, critic 1e-3), one episode per update, 5 full-batch epochs,
Monte-Carlo returns ``G_t = r_t + gamma G_{t+1}`` (gamma 0.99) normalised over the episode, the
critic regressed on the normalised returns, advantage ``A_t = G~_t - V(s_t)`` normalised again,
PPO-Clip with eps 0.2, entropy bonus 0.01 (GrAdE: ``kappa r`` with kappa 0.02). The clip is the
textbook one (:func:`~jaxcurr.students.ppo.losses.clipped_objective`); the authors' code applied it
wrongly (docs/reference_facts.md §6, §10).

One episode is a ``lax.while_loop`` that stops at the episode's end (vmapped: when every
episode of the batch has ended) writing into arrays of the environment's step limit; the
steps after an episode's end are zeros masked out of the returns, the normalisations and the
losses, so episodes of any length vmap. A Monte-Carlo return does not bootstrap: an episode
cut by the time limit counts as ended, as in the paper's code.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from jaxcurr.core.validation import ConfigError, require_positive_int
from jaxcurr.students.ppo.common import (
    Batch,
    CommonConfig,
    Program,
    entropy_weight,
    init_agent,
    make_learner,
    program_train,
    sample_action,
    update_agent,
    update_metrics,
)
from jaxcurr.students.ppo.losses import normalize
from jaxcurr.students.variants import Variant


@dataclasses.dataclass(frozen=True)
class EpisodicPPOConfig(CommonConfig):
    """The paper's PPO hyperparameters (LunarLander table) as defaults; ``num_episodes`` is
    the number of updates (the paper ran 1500)."""

    hidden: tuple[int, ...] = (128, 128)
    activation: str = "relu"
    orthogonal_init: bool = False
    actor_lr: float = 5e-4
    critic_lr: float = 1e-3
    update_epochs: int = 5
    num_episodes: int = 500

    def __post_init__(self):
        super().__post_init__()
        require_positive_int("num_episodes", self.num_episodes)


def normalized_returns(rewards: jax.Array, mask: jax.Array, gamma: Any) -> jax.Array:
    """Monte-Carlo returns ``G_t = m_t (r_t + gamma G_{t+1})`` of one masked episode (axis 0),
    then ``(G - mean) / (std + 1e-8)`` over the episode's steps (population std)."""

    def back(future, xs):
        reward, alive = xs
        ret = alive * (reward + gamma * future)
        return ret, ret

    _, returns = jax.lax.scan(back, jnp.zeros_like(rewards[0]), (rewards, mask), reverse=True)
    return normalize(returns, mask)


def make_program(config: EpisodicPPOConfig, env: Any, env_params: Any) -> Program:
    """The paper's episodic PPO as ``init(key, variant)`` / ``update((agent, key), variant)``.

    One update collects one episode (up to ``max_steps_in_episode`` steps, masked after its
    end) and trains ``update_epochs`` full-batch epochs on it. Its metrics:
    ``episode_return`` (undiscounted), ``episodes`` (always 1), ``episode_length``, and the
    mean over the epochs of ``actor_loss``, ``critic_loss``, ``entropy``, ``entropy_coef``,
    ``actor_grad_magnitude``, ``critic_grad_magnitude``.
    """
    if not isinstance(config, EpisodicPPOConfig):
        raise ConfigError(f"config: got {type(config).__name__}; allowed: an EpisodicPPOConfig")
    num_actions = env.action_space(env_params).n
    horizon = int(env_params.max_steps_in_episode)

    def init(key: jax.Array, variant: Variant):
        key, key_init, key_obs = jax.random.split(key, 3)
        example_obs, _ = env.reset(key_obs, env_params)
        learner = make_learner(config, num_actions, variant)
        return init_agent(key_init, config, learner, num_actions, example_obs), key

    def update(carry, variant: Variant):
        """One update: a full episode collected, then the paper's epochs on it."""
        learner = make_learner(config, num_actions, variant)

        def collect(actor_params, key):
            """One episode of the current policy, padded to the horizon with its mask."""
            key_reset, key_steps = jax.random.split(key)
            obs, state = env.reset(key_reset, env_params)
            keys = jax.random.split(key_steps, horizon)

            def row(t, obs, state):
                key_act, key_step = jax.random.split(keys[t])
                action, log_prob = sample_action(learner, actor_params, obs, key_act)
                next_obs, state, reward, terminated, truncated, _ = env.step(
                    key_step, state, action, env_params)
                return (obs, action, log_prob, reward), next_obs, state, terminated | truncated

            def step(carry):
                t, obs, state, _, out = carry
                values, obs, state, ended = row(t, obs, state)
                out = jax.tree.map(lambda buf, x: buf.at[t].set(x), out, values)
                return t + 1, obs, state, ~ended, out

            shapes = jax.eval_shape(row, 0, obs, state)[0]
            out = jax.tree.map(lambda x: jnp.zeros((horizon, *x.shape), x.dtype), shapes)
            t, _, _, _, out = jax.lax.while_loop(
                lambda carry: carry[3] & (carry[0] < horizon), step,
                (jnp.int32(0), obs, state, jnp.array(True), out))
            mask = (jnp.arange(horizon) < t).astype(jnp.float32)
            return (*out, mask)

        def epoch(agent, batch):
            coef = entropy_weight(config, agent, variant)
            agent, info = update_agent(learner, agent, batch, coef, config.clip_eps,
                                       config.value_clip)
            return agent, {**info, **update_metrics(agent, coef)}

        agent, key = carry
        key, key_episode = jax.random.split(key)
        obs, action, log_prob, reward, mask = collect(agent.actor_params, key_episode)
        target = normalized_returns(reward, mask, config.gamma)
        value = learner.value(agent.critic_params, obs)
        batch = Batch(obs, action, log_prob, value, target - value, target, mask)
        agent, info = jax.lax.scan(lambda a, _: epoch(a, batch), agent, None,
                                   config.update_epochs)
        metrics = {"episode_return": jnp.sum(reward * mask), "episodes": jnp.array(1),
                   "episode_length": jnp.sum(mask), **jax.tree.map(jnp.mean, info)}
        return (agent, key), metrics

    return Program(init, update, config.num_episodes, lambda carry: carry[0])


def make_train(config: EpisodicPPOConfig, env: Any, env_params: Any) -> Callable:
    """``train(key, variant) -> (agent, metrics)``: :func:`make_program`'s episodes in one
    ``lax.scan``; ``metrics`` has one entry per episode."""
    return program_train(make_program(config, env, env_params))
