"""PPO-Clip for discrete-action gymnax environments, with the Grokfast/GrAdE variants.

Two pieces live here: the parts every PPO shares (actor and critic MLPs, the clipped surrogate,
the one-minibatch update of both networks) and standard vectorised PPO (Schulman et al. 2017,
"Proximal Policy Optimization Algorithms": N parallel environments, rollouts of T steps,
GAE(lambda), several epochs of minibatches). The paper's episodic variant
(:mod:`jaxcurr.students.ppo_episodic`) reuses the shared parts.

Actor and critic are separate networks with their own optimizer
``rl_variants.network_optimizer`` (GrAdE statistics -> switchable Grokfast-EMA -> Adam), so each
has its own filter state and GrAdE measures the actor's gradients only (Nilabh & Sinha
Choudhury). The entropy coefficient is ``kappa * r`` with GrAdE on and ``entropy_coef`` with it
off. A variant is a :class:`~jaxcurr.students.rl_variants.Variant` of scalar switches, so
``jax.vmap`` over variants and seeds compiles every run into one program.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxcurr.config import (
    ConfigError,
    is_int,
    is_number,
    require,
    require_in,
    require_positive_int,
)
from jaxcurr.students.rl_variants import (
    Variant,
    entropy_coefficient,
    gradient_magnitude,
    network_optimizer,
)

ACTIVATIONS = {"relu": nn.relu, "tanh": nn.tanh}
METRICS = ("episode_return", "episodes", "actor_loss", "critic_loss", "entropy",
           "entropy_coef", "actor_grad_magnitude", "critic_grad_magnitude")


@dataclasses.dataclass(frozen=True)
class CommonConfig:
    """Settings shared by both PPO variants (networks, optimizers, PPO-Clip, Grokfast, GrAdE).

    entropy_coef: entropy bonus weight without GrAdE; grade_kappa: ``kappa`` of ``kappa * r``
    with GrAdE on (the paper: 0.01 and 0.02 for PPO). value_clip: 0 for a plain squared-error
    critic loss, else the clip range of the value update around the rollout's value.
    """

    hidden: tuple[int, ...] = (64, 64)
    activation: str = "tanh"
    orthogonal_init: bool = True
    actor_lr: float = 2.5e-4
    critic_lr: float = 2.5e-4
    gamma: float = 0.99
    clip_eps: float = 0.2
    value_clip: float = 0.0
    update_epochs: int = 4
    entropy_coef: float = 0.01
    grade_kappa: float = 0.02
    grade_beta: float = 0.9
    grokfast_alpha: float = 0.98
    grokfast_lamb: float = 2.0

    def __post_init__(self):
        require(isinstance(self.hidden, tuple) and len(self.hidden) > 0
                and all(is_int(h) and h > 0 for h in self.hidden),
                "hidden", "a non-empty tuple of positive integers", self.hidden)
        require(self.activation in ACTIVATIONS, "activation",
                "one of " + ", ".join(map(repr, ACTIVATIONS)), self.activation)
        require(isinstance(self.orthogonal_init, bool), "orthogonal_init", "True or False",
                self.orthogonal_init)
        require_in("actor_lr", self.actor_lr, 0, np.inf, low_open=True, high_open=True)
        require_in("critic_lr", self.critic_lr, 0, np.inf, low_open=True, high_open=True)
        require_in("gamma", self.gamma, 0, 1)
        require_in("clip_eps", self.clip_eps, 0, 1, low_open=True, high_open=True)
        require_in("value_clip", self.value_clip, 0, np.inf, high_open=True)
        require_positive_int("update_epochs", self.update_epochs)
        require_in("entropy_coef", self.entropy_coef, 0, np.inf, high_open=True)
        require_in("grade_kappa", self.grade_kappa, 0, np.inf, high_open=True)
        require_in("grade_beta", self.grade_beta, 0, 1, high_open=True)
        require_in("grokfast_alpha", self.grokfast_alpha, 0, 1)
        require(is_number(self.grokfast_lamb) and np.isfinite(self.grokfast_lamb),
                "grokfast_lamb", "a finite number", self.grokfast_lamb)


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


class MLP(nn.Module):
    """MLP with ``len(hidden)`` hidden layers; orthogonal init (gain sqrt 2, head
    ``head_gain``) or Flax's default (LeCun normal)."""

    hidden: Sequence[int]
    activation: str
    out: int
    orthogonal: bool
    head_gain: float

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        def dense(width, gain):
            if not self.orthogonal:
                return nn.Dense(width)
            return nn.Dense(width, kernel_init=nn.initializers.orthogonal(gain),
                            bias_init=nn.initializers.zeros)

        for width in self.hidden:
            x = ACTIVATIONS[self.activation](dense(width, np.sqrt(2.0))(x))
        return dense(self.out, self.head_gain)(x)


class AgentState(NamedTuple):
    """Parameters and optimizer states of the actor and the critic."""

    actor_params: Any
    critic_params: Any
    actor_opt_state: Any
    critic_opt_state: Any


class Batch(NamedTuple):
    """Transitions for one update; ``mask`` (1 or 0) marks the real ones."""

    obs: jax.Array
    action: jax.Array
    log_prob: jax.Array
    value: jax.Array
    advantage: jax.Array
    target: jax.Array
    mask: jax.Array


class Learner(NamedTuple):
    """Network functions and optimizers of one run.

    ``policy(params, obs) -> logits``, ``value(params, obs) -> V``; the optimizers are optax
    transforms (built inside ``train`` so the variant's Grokfast switch may be traced)."""

    policy: Callable
    value: Callable
    actor_tx: optax.GradientTransformation
    critic_tx: optax.GradientTransformation


def make_networks(config: CommonConfig, num_actions: int) -> tuple[MLP, MLP]:
    """Actor (logits, head gain 0.01) and critic (scalar, head gain 1) MLPs."""
    actor = MLP(config.hidden, config.activation, num_actions, config.orthogonal_init, 0.01)
    critic = MLP(config.hidden, config.activation, 1, config.orthogonal_init, 1.0)
    return actor, critic


def make_learner(config: CommonConfig, num_actions: int, variant: Variant,
                 actor_lr: Any = None, critic_lr: Any = None) -> Learner:
    """Networks and per-network optimizers ``chain(grade, grokfast(switch * lamb), adam)``;
    learning rates default to the config's (pass a schedule to anneal)."""
    actor, critic = make_networks(config, num_actions)

    def tx(lr):
        return network_optimizer(lr, variant.grokfast, grokfast_alpha=config.grokfast_alpha,
                                 grokfast_lamb=config.grokfast_lamb,
                                 grade_beta=config.grade_beta)

    return Learner(
        policy=actor.apply,
        value=lambda params, obs: critic.apply(params, obs)[..., 0],
        actor_tx=tx(config.actor_lr if actor_lr is None else actor_lr),
        critic_tx=tx(config.critic_lr if critic_lr is None else critic_lr),
    )


def init_agent(key: jax.Array, config: CommonConfig, learner: Learner, num_actions: int,
               obs: jax.Array) -> AgentState:
    """Initial parameters (from an example observation) and optimizer states."""
    actor, critic = make_networks(config, num_actions)
    key_actor, key_critic = jax.random.split(key)
    actor_params = actor.init(key_actor, obs)
    critic_params = critic.init(key_critic, obs)
    return AgentState(actor_params, critic_params, learner.actor_tx.init(actor_params),
                      learner.critic_tx.init(critic_params))


def entropy_weight(config: CommonConfig, agent: AgentState, variant: Variant) -> jax.Array:
    """``grade_kappa * r`` (GrAdE on) or ``entropy_coef`` (off), r from the actor's state."""
    kappa = jnp.where(variant.grade > 0, config.grade_kappa, config.entropy_coef)
    return entropy_coefficient(agent.actor_opt_state, kappa, variant.grade)


def masked_mean(x: jax.Array, mask: jax.Array) -> jax.Array:
    return jnp.sum(x * mask) / jnp.maximum(jnp.sum(mask), 1.0)


def normalize(x: jax.Array, mask: jax.Array, eps: float = 1e-8) -> jax.Array:
    """``(x - mean) / (std + eps)`` over the masked entries (population std); 0 elsewhere."""
    mean = masked_mean(x, mask)
    std = jnp.sqrt(masked_mean((x - mean) ** 2, mask))
    return (x - mean) / (std + eps) * mask


def clipped_objective(ratio: jax.Array, advantage: jax.Array, clip_eps: Any) -> jax.Array:
    """PPO-Clip surrogate per sample (Schulman et al. 2017, eq. 7), to be maximised:
    ``min(ratio * A, clip(ratio, 1 - eps, 1 + eps) * A)``."""
    clipped = jnp.clip(ratio, 1.0 - clip_eps, 1.0 + clip_eps)
    return jnp.minimum(ratio * advantage, clipped * advantage)


def gae(rewards: jax.Array, values: jax.Array, next_values: jax.Array, terminated: jax.Array,
        done: jax.Array, gamma: Any, lam: Any) -> tuple[jax.Array, jax.Array]:
    """Generalised advantage estimation (Schulman et al. 2016) along axis 0 (time).

    ``delta_t = r_t + gamma (1 - terminated_t) V(s'_t) - V(s_t)`` with ``s'_t`` the true next
    state (before any auto-reset), ``A_t = delta_t + gamma lam (1 - done_t) A_{t+1}``,
    ``done = terminated or truncated``: a time-limit truncation bootstraps from ``V(s'_t)``
    but stops the recursion. The last step's ``A_{t+1}`` is 0 (its ``next_values`` bootstrap).
    Returns ``(advantages, value targets = advantages + values)``.
    """
    not_term = 1.0 - terminated.astype(values.dtype)
    not_done = 1.0 - done.astype(values.dtype)
    deltas = rewards + gamma * not_term * next_values - values

    def back(carry, xs):
        delta, cont = xs
        adv = delta + gamma * lam * cont * carry
        return adv, adv

    _, adv = jax.lax.scan(back, jnp.zeros_like(values[0]), (deltas, not_done), reverse=True)
    return adv, adv + values


def update_agent(learner: Learner, agent: AgentState, batch: Batch, entropy_coef: Any,
                 clip_eps: Any, value_clip: float) -> tuple[AgentState, dict[str, jax.Array]]:
    """One gradient step of the actor and one of the critic on a (masked) batch.

    Actor loss ``-mean(clipped_objective(ratio, normalize(A))) - entropy_coef * mean(H)``;
    critic loss ``mean((V - target)^2)``, or with ``value_clip > 0`` (static)
    ``mean(max((V - target)^2, (V_old + clip(V - V_old, -c, c) - target)^2))``.
    """
    mask = batch.mask.astype(jnp.float32)
    advantage = normalize(batch.advantage, mask)

    def actor_loss(params):
        log_probs = jax.nn.log_softmax(learner.policy(params, batch.obs))
        log_prob = jnp.take_along_axis(log_probs, batch.action[..., None], axis=-1)[..., 0]
        ratio = jnp.exp(log_prob - batch.log_prob)
        entropy = masked_mean(-jnp.sum(jnp.exp(log_probs) * log_probs, -1), mask)
        surrogate = masked_mean(clipped_objective(ratio, advantage, clip_eps), mask)
        return -surrogate - entropy_coef * entropy, entropy

    def critic_loss(params):
        value = learner.value(params, batch.obs)
        error = (value - batch.target) ** 2
        if value_clip > 0:
            clipped = batch.value + jnp.clip(value - batch.value, -value_clip, value_clip)
            error = jnp.maximum(error, (clipped - batch.target) ** 2)
        return masked_mean(error, mask)

    (a_loss, entropy), a_grads = jax.value_and_grad(actor_loss, has_aux=True)(agent.actor_params)
    c_loss, c_grads = jax.value_and_grad(critic_loss)(agent.critic_params)
    a_updates, a_opt = learner.actor_tx.update(a_grads, agent.actor_opt_state, agent.actor_params)
    c_updates, c_opt = learner.critic_tx.update(c_grads, agent.critic_opt_state,
                                                agent.critic_params)
    new_agent = AgentState(optax.apply_updates(agent.actor_params, a_updates),
                           optax.apply_updates(agent.critic_params, c_updates), a_opt, c_opt)
    return new_agent, {"actor_loss": a_loss, "critic_loss": c_loss, "entropy": entropy}


def update_metrics(agent: AgentState, coef: jax.Array) -> dict[str, jax.Array]:
    """Entropy coefficient used and both networks' gradient magnitudes (sum of leaf norms)."""
    return {"entropy_coef": coef,
            "actor_grad_magnitude": gradient_magnitude(agent.actor_opt_state),
            "critic_grad_magnitude": gradient_magnitude(agent.critic_opt_state)}


def sample_action(learner: Learner, params: Any, obs: jax.Array,
                  key: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Action drawn from the softmax policy and its log-probability."""
    log_probs = jax.nn.log_softmax(learner.policy(params, obs))
    action = jax.random.categorical(key, log_probs)
    return action, jnp.take_along_axis(log_probs, action[..., None], axis=-1)[..., 0]


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


def make_train(config: PPOConfig, env: Any, env_params: Any) -> Callable:
    """``train(key, variant) -> (agent, metrics)`` for standard vectorised PPO.

    ``metrics`` holds one entry per update: ``episode_return`` (mean undiscounted return of the
    episodes that ended in the rollout; the previous value if none ended, NaN before the
    first), ``episodes`` (how many ended), the mean over minibatch steps of ``actor_loss``,
    ``critic_loss``, ``entropy``, ``entropy_coef``, ``actor_grad_magnitude`` and
    ``critic_grad_magnitude``. Time-limit truncations bootstrap from the critic's value of
    gymnax's ``info["final_observation"]``; terminations do not.
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

    def train(key: jax.Array, variant: Variant):
        learner = make_learner(config, num_actions, variant, lr(config.actor_lr),
                               lr(config.critic_lr))
        key, key_init, key_reset = jax.random.split(key, 3)
        obs, env_state = v_reset(jax.random.split(key_reset, n), env_params)
        agent = init_agent(key_init, config, learner, num_actions, obs[0])

        def env_step(runner: Runner, _):
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

        def update(runner: Runner, _):
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

        runner = Runner(agent, env_state, obs, jnp.zeros(n), jnp.array(jnp.nan, jnp.float32), key)
        runner, metrics = jax.lax.scan(update, runner, None, config.num_updates)
        return runner.agent, metrics

    return train
