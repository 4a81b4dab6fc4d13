"""Standard vectorised PPO-Clip for discrete-action gymnax environments, with Grokfast/GrAdE.

Schulman et al. 2017, "Proximal Policy Optimization Algorithms": N parallel environments,
rollouts of T steps, GAE(lambda), several epochs of minibatches. The parts every PPO shares
(actor and critic MLPs, the one-minibatch update of both networks) are in
:mod:`jaxcurr.students.ppo.common`, the clipped surrogate and GAE in
:mod:`jaxcurr.students.ppo.losses`; both are re-exported here. The paper's episodic variant
(:mod:`jaxcurr.students.ppo.episodic`) reuses the shared parts.

A variant is a :class:`~jaxcurr.students.variants.Variant` of scalar switches, so
``jax.vmap`` over variants and seeds compiles every run into one program.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxcurr.core.validation import ConfigError, require, require_in, require_positive_int
from jaxcurr.students.ppo.common import (
    ACTIVATIONS,
    AgentState,
    Batch,
    CommonConfig,
    OrthogonalInitMLP,
    PPONetworks,
    Program,
    entropy_weight,
    init_agent,
    make_learner,
    make_networks,
    program_train,
    sample_action,
    update_agent,
    update_metrics,
)
from jaxcurr.students.ppo.losses import clipped_objective, gae, masked_mean, normalize
from jaxcurr.students.variants import Variant

__all__ = [
    # this module: standard vectorised PPO
    "METRICS", "PPOConfig", "Runner", "Transition", "make_program", "make_train",
    # re-exported from common and losses
    "ACTIVATIONS", "OrthogonalInitMLP", "AgentState", "Batch", "CommonConfig", "PPONetworks",
    "Program", "entropy_weight", "init_agent", "make_learner", "make_networks", "program_train",
    "sample_action", "update_agent", "update_metrics",
    "clipped_objective", "gae", "masked_mean", "normalize",
]

METRICS = ("episode_return", "episodes", "actor_loss", "critic_loss", "entropy",
           "entropy_coef", "actor_grad_magnitude", "critic_grad_magnitude")


@dataclasses.dataclass(frozen=True)
class PPOConfig(CommonConfig):
    """Standard vectorised PPO. Defaults: the CartPole-v1 settings of CleanRL's ``ppo.py`` and
    PureJaxRL (4 envs x 128 steps, 4 epochs x 4 minibatches, lr 2.5e-4 annealed linearly to 0,
    gamma 0.99, GAE lambda 0.95, clip 0.2, value clip 0.2, entropy 0.01, 64-64 tanh MLPs with
    orthogonal init, 500k steps), without their global-norm gradient clipping (0.5)."""

    num_envs: int = 4
    num_steps: int = 128
    num_minibatches: int = 4
    total_timesteps: int = 500_000
    gae_lambda: float = 0.95
    value_clip: float = 0.2
    anneal_lr: bool = True

    def __post_init__(self):
        super().__post_init__()
        for name in ("num_envs", "num_steps", "num_minibatches", "total_timesteps"):
            require_positive_int(name, getattr(self, name))
        require_in("gae_lambda", self.gae_lambda, 0, 1)
        require(isinstance(self.anneal_lr, bool), "anneal_lr", "True or False", self.anneal_lr)
        batch = self.num_envs * self.num_steps
        require(batch % self.num_minibatches == 0, "num_minibatches",
                f"a divisor of num_envs * num_steps = {batch}", self.num_minibatches)
        require(self.total_timesteps >= batch, "total_timesteps",
                f"at least num_envs * num_steps = {batch}", self.total_timesteps)

    @property
    def num_updates(self) -> int:
        return self.total_timesteps // (self.num_envs * self.num_steps)


class Transition(NamedTuple):
    """One rollout step of all environments; ``next_value`` is V of the true next state."""

    obs: jax.Array
    action: jax.Array
    log_prob: jax.Array
    value: jax.Array
    next_value: jax.Array
    reward: jax.Array
    terminated: jax.Array
    done: jax.Array
    finished_return: jax.Array


class Runner(NamedTuple):
    """Carry of the update loop: agent, environments, running and last episode returns."""

    agent: AgentState
    env_state: Any
    obs: jax.Array
    episode_return: jax.Array
    last_return: jax.Array
    key: jax.Array


def make_program(config: PPOConfig, env: Any, env_params: Any) -> Program:
    """Standard vectorised PPO as ``init(key, variant)`` / ``update(runner, variant)``.

    One update collects ``num_steps`` steps of ``num_envs`` environments and trains
    ``update_epochs`` epochs of ``num_minibatches`` minibatches. Its metrics:
    ``episode_return`` (mean undiscounted return of the episodes that ended in the rollout;
    the previous value if none ended, NaN before the first), ``episodes`` (how many ended), the
    mean over minibatch steps of ``actor_loss``, ``critic_loss``, ``entropy``,
    ``entropy_coef``, ``actor_grad_magnitude`` and ``critic_grad_magnitude``. Time-limit
    truncations bootstrap from the critic's value of gymnax's ``info["final_observation"]``;
    terminations do not.
    """
    if not isinstance(config, PPOConfig):
        raise ConfigError(f"config: got {type(config).__name__}; allowed: a PPOConfig")
    num_actions = env.action_space(env_params).n
    n, t, m = config.num_envs, config.num_steps, config.num_minibatches
    minibatch = n * t // m
    steps_per_run = config.num_updates * config.update_epochs * m
    v_reset = jax.vmap(env.reset, in_axes=(0, None))
    v_step = jax.vmap(env.step, in_axes=(0, 0, 0, None))

    def lr(base):
        return optax.linear_schedule(base, 0.0, steps_per_run) if config.anneal_lr else base

    def learner_for(variant: Variant) -> PPONetworks:
        return make_learner(config, num_actions, variant, lr(config.actor_lr),
                            lr(config.critic_lr))

    def init(key: jax.Array, variant: Variant) -> Runner:
        key, key_init, key_reset = jax.random.split(key, 3)
        obs, env_state = v_reset(jax.random.split(key_reset, n), env_params)
        agent = init_agent(key_init, config, learner_for(variant), num_actions, obs[0])
        return Runner(agent, env_state, obs, jnp.zeros(n), jnp.array(jnp.nan, jnp.float32), key)

    def update(runner: Runner, variant: Variant) -> tuple[Runner, dict[str, jax.Array]]:
        """One PPO update: a rollout of ``num_steps`` in each env, GAE, then the epochs of
        minibatch updates."""
        learner = learner_for(variant)

        def env_step(runner: Runner, _):
            """One step of every env with the current policy."""
            key, key_act, key_step = jax.random.split(runner.key, 3)
            action, log_prob = sample_action(learner, runner.agent.actor_params, runner.obs,
                                             key_act)
            next_obs, env_state, reward, terminated, truncated, info = v_step(
                jax.random.split(key_step, n), runner.env_state, action, env_params)
            done = jnp.logical_or(terminated, truncated)
            value_of = learner.value
            ret = runner.episode_return + reward
            transition = Transition(
                runner.obs, action, log_prob, value_of(runner.agent.critic_params, runner.obs),
                value_of(runner.agent.critic_params, info["final_observation"]), reward,
                terminated, done, jnp.where(done, ret, 0.0))
            runner = runner._replace(env_state=env_state, obs=next_obs, key=key,
                                     episode_return=jnp.where(done, 0.0, ret))
            return runner, transition

        def minibatch_step(agent, batch):
            coef = entropy_weight(config, agent, variant)
            agent, info = update_agent(learner, agent, batch, coef, config.clip_eps,
                                       config.value_clip)
            return agent, {**info, **update_metrics(agent, coef)}

        def epoch(carry, _):
            agent, data, key = carry
            key, key_perm = jax.random.split(key)
            perm = jax.random.permutation(key_perm, n * t)
            shuffled = jax.tree.map(lambda x: x[perm].reshape(m, minibatch, *x.shape[1:]), data)
            agent, info = jax.lax.scan(minibatch_step, agent, shuffled)
            return (agent, data, key), info

        runner, tr = jax.lax.scan(env_step, runner, None, t)
        advantage, target = gae(tr.reward, tr.value, tr.next_value, tr.terminated, tr.done,
                                config.gamma, config.gae_lambda)
        data = Batch(tr.obs, tr.action, tr.log_prob, tr.value, advantage, target,
                     jnp.ones_like(tr.value))
        data = jax.tree.map(lambda x: x.reshape(n * t, *x.shape[2:]), data)
        key, key_epochs = jax.random.split(runner.key)
        (agent, _, _), info = jax.lax.scan(epoch, (runner.agent, data, key_epochs), None,
                                           config.update_epochs)
        episodes = jnp.sum(tr.done)
        mean_return = jnp.sum(tr.finished_return) / jnp.maximum(episodes, 1)
        last = jnp.where(episodes > 0, mean_return, runner.last_return)
        metrics = {"episode_return": last, "episodes": episodes,
                   **jax.tree.map(jnp.mean, info)}
        return runner._replace(agent=agent, last_return=last, key=key), metrics

    return Program(init, update, config.num_updates, lambda runner: runner.agent)


def make_train(config: PPOConfig, env: Any, env_params: Any) -> Callable:
    """``train(key, variant) -> (agent, metrics)``: :func:`make_program`'s updates in one
    ``lax.scan``; ``metrics`` has one entry per update."""
    return program_train(make_program(config, env, env_params))
