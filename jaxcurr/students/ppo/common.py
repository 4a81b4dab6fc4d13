"""The parts every PPO shares: settings, actor and critic MLPs, and the update of both networks.

Standard vectorised PPO (:mod:`jaxcurr.students.ppo.standard`) and the paper's episodic variant
(:mod:`jaxcurr.students.ppo.episodic`) both build on :class:`CommonConfig`,
:func:`make_learner`, :func:`init_agent` and the one-(mini)batch :func:`update_agent`.

Actor and critic are separate networks with their own optimizer
``rl_variants.network_optimizer`` (GrAdE statistics -> switchable Grokfast-EMA -> Adam), so each
has its own filter state and GrAdE measures the actor's gradients only (Nilabh & Sinha
Choudhury). The entropy coefficient is ``kappa * r`` with GrAdE on and ``entropy_coef`` with it
off. A variant is a :class:`~jaxcurr.students.variants.Variant` of scalar switches, so
``jax.vmap`` over variants and seeds compiles every run into one program.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxcurr.core.validation import (
    is_int,
    is_number,
    require,
    require_in,
    require_positive_int,
    sweepable,
)
from jaxcurr.students.networks import ACTIVATIONS, OrthogonalInitMLP
from jaxcurr.students.ppo.losses import clipped_objective, masked_mean, normalize
from jaxcurr.students.variants import (
    Variant,
    entropy_coefficient,
    last_gradient_magnitude,
    network_optimizer,
)


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
    actor_lr: float = sweepable(2.5e-4)
    critic_lr: float = sweepable(2.5e-4)
    gamma: float = sweepable(0.99)
    clip_eps: float = sweepable(0.2)
    value_clip: float = 0.0
    update_epochs: int = 4
    entropy_coef: float = sweepable(0.01)
    grade_kappa: float = sweepable(0.02)
    grade_beta: float = sweepable(0.9)
    grokfast_alpha: float = sweepable(0.98)
    grokfast_lamb: float = sweepable(2.0)

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


class PPONetworks(NamedTuple):
    """Network functions and optimizers of one run.

    ``policy(params, obs) -> logits``, ``value(params, obs) -> V``; the optimizers are optax
    transforms (built inside ``train`` so the variant's Grokfast switch may be traced)."""

    policy: Callable
    value: Callable
    actor_tx: optax.GradientTransformation
    critic_tx: optax.GradientTransformation


def make_networks(config: CommonConfig, num_actions: int
                  ) -> tuple[OrthogonalInitMLP, OrthogonalInitMLP]:
    """Actor (logits, head gain 0.01) and critic (scalar, head gain 1) MLPs."""
    def mlp(outputs: int, head_gain: float) -> OrthogonalInitMLP:
        return OrthogonalInitMLP(config.hidden, config.activation, outputs,
                                 config.orthogonal_init, head_gain)

    return mlp(num_actions, 0.01), mlp(1, 1.0)


def make_learner(config: CommonConfig, num_actions: int, variant: Variant,
                 actor_lr: Any = None, critic_lr: Any = None) -> PPONetworks:
    """Networks and per-network optimizers ``chain(grade, grokfast(switch * lamb), adam)``;
    learning rates default to the config's (pass a schedule to anneal)."""
    actor, critic = make_networks(config, num_actions)

    def tx(lr):
        return network_optimizer(lr, variant.grokfast, grokfast_alpha=config.grokfast_alpha,
                                 grokfast_lamb=config.grokfast_lamb,
                                 grade_beta=config.grade_beta)

    return PPONetworks(
        policy=actor.apply,
        value=lambda params, obs: critic.apply(params, obs)[..., 0],
        actor_tx=tx(config.actor_lr if actor_lr is None else actor_lr),
        critic_tx=tx(config.critic_lr if critic_lr is None else critic_lr),
    )


def init_agent(key: jax.Array, config: CommonConfig, learner: PPONetworks, num_actions: int,
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


def update_agent(learner: PPONetworks, agent: AgentState, batch: Batch, entropy_coef: Any,
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
            "actor_grad_magnitude": last_gradient_magnitude(agent.actor_opt_state),
            "critic_grad_magnitude": last_gradient_magnitude(agent.critic_opt_state)}


def sample_action(learner: PPONetworks, params: Any, obs: jax.Array,
                  key: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Action drawn from the softmax policy and its log-probability."""
    log_probs = jax.nn.log_softmax(learner.policy(params, obs))
    action = jax.random.categorical(key, log_probs)
    return action, jnp.take_along_axis(log_probs, action[..., None], axis=-1)[..., 0]


class Program(NamedTuple):
    """A PPO training program in parts, for runs driven update by update.

    ``init(key, variant) -> carry``; ``update(carry, variant) -> (carry, metrics)`` (one
    update); ``num_updates`` updates make a run; ``agent(carry) -> AgentState``.
    """

    init: Callable[[jax.Array, Variant], Any]
    update: Callable[[Any, Variant], tuple[Any, dict[str, jax.Array]]]
    num_updates: int
    agent: Callable[[Any], AgentState]


def program_train(program: Program) -> Callable:
    """``train(key, variant) -> (agent, metrics)``: every update of ``program`` in one
    ``lax.scan`` (metrics with a leading axis of ``num_updates``)."""

    def train(key: jax.Array, variant: Variant):
        carry = program.init(key, variant)
        carry, metrics = jax.lax.scan(lambda c, _: program.update(c, variant), carry, None,
                                      program.num_updates)
        return program.agent(carry), metrics

    return train
