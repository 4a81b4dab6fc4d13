"""Discrete SAC's learner (Christodoulou 2019): the losses, the replay item and one update.

With ``pi = softmax(actor(s))`` and twin critics ``Q_1, Q_2 : S -> R^|A|`` with
Polyak-averaged targets ``Q'_i``:

* soft target:
  ``y = r + gamma (1 - terminated) sum_a pi(a|s') [min_i Q'_i(s', a) - alpha log pi(a|s')]``
* critic loss: ``E [ sum_i 1/2 (Q_i(s, a) - y)^2 ]``
* actor loss: ``E_s sum_a pi(a|s) [alpha_ent log pi(a|s) - min_i Q_i(s, a)]`` with
  ``alpha_ent = alpha`` or, with GrAdE on, ``alpha * r`` (``r`` from the actor's gradients)
* temperature loss (paper eq. 5): ``E_s sum_a pi(a|s) [-alpha (log pi(a|s) + H_target)]``,
  ``H_target = c log|A|``, minimised over ``log alpha`` with Adam
* with GrAdE on and ``grade_scope = "all"``, ``alpha r`` replaces ``alpha`` in the soft
  target and the temperature loss too
* targets: ``Q'_i <- tau Q_i + (1 - tau) Q'_i`` after every update.

Actor and critics train with :func:`jaxcurr.students.variants.network_optimizer` (GrAdE
statistics, switchable Grokfast-EMA, Adam), so the four variants of the paper are one
vmappable :class:`~jaxcurr.students.variants.Variant` of scalars.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxcurr.students.networks import DDPGInitMLP, LogitsFn, TwinQ
from jaxcurr.students.sac.config import SACConfig
from jaxcurr.students.variants import (
    Variant,
    entropy_coefficient,
    last_gradient_magnitude,
    network_optimizer,
)

# --------------------------------------------------------------------------------------------
# Losses (plain array functions; the update below wires the networks into them)


def soft_target(reward, terminated, next_probs, next_log_probs, next_q_min, alpha, gamma):
    """Soft TD target (Christodoulou 2019, eqs. 1-3).

    ``y = r + gamma (1 - terminated) sum_a pi(a|s') [min_i Q'_i(s', a) - alpha log pi(a|s')]``
    """
    next_value = jnp.sum(next_probs * (next_q_min - alpha * next_log_probs), axis=-1)
    return reward + gamma * (1.0 - terminated) * next_value


def critic_loss(q_taken: jax.Array, target: jax.Array) -> jax.Array:
    """``mean_batch sum_i 1/2 (Q_i(s, a) - y)^2``; ``q_taken`` is ``[2, B]``."""
    return jnp.mean(jnp.sum(0.5 * jnp.square(q_taken - target), axis=0))


def actor_loss(probs, log_probs, q_min, alpha_ent) -> jax.Array:
    """``mean_batch sum_a pi(a|s) [alpha_ent log pi(a|s) - min_i Q_i(s, a)]``."""
    return jnp.mean(jnp.sum(probs * (alpha_ent * log_probs - q_min), axis=-1))


def temperature_loss(log_alpha, probs, log_probs, target_entropy, scale=1.0) -> jax.Array:
    """``mean_batch sum_a pi(a|s) [-scale alpha (log pi(a|s) + H_target)]``,
    ``alpha = exp(log_alpha)`` (``scale``: GrAdE's ``r`` with ``grade_scope = "all"``, else 1).

    Its gradient in ``log alpha`` is ``-scale alpha (H_target - H(pi))``: alpha grows while the
    policy's entropy is below the target.
    """
    alpha = scale * jnp.exp(log_alpha)
    return jnp.mean(jnp.sum(probs * (-alpha * (log_probs + target_entropy)), -1))


def polyak_update(online: Any, target: Any, tau: Any) -> Any:
    """``target <- tau * online + (1 - tau) * target``, leaf by leaf."""
    return jax.tree.map(lambda o, t: tau * o + (1.0 - tau) * t, online, target)


# --------------------------------------------------------------------------------------------
# SACState: parameters, optimiser states and one gradient update


class Transition(NamedTuple):
    """One replay item; ``next_obs`` is the true next observation (before any auto-reset)."""

    obs: jax.Array
    action: jax.Array
    reward: jax.Array
    terminated: jax.Array
    next_obs: jax.Array


class SACState(NamedTuple):
    """Parameters (Flax variable dicts), ``log alpha`` and the three optimiser states."""

    actor: Any
    critic: Any
    target_critic: Any
    log_alpha: jax.Array
    actor_opt: Any
    critic_opt: Any
    alpha_opt: Any


class UpdateInfo(NamedTuple):
    """Scalars of one update (gradient magnitudes: sum of per-tensor L2 norms, raw grads)."""

    critic_loss: jax.Array
    actor_loss: jax.Array
    alpha: jax.Array
    actor_entropy_coef: jax.Array
    entropy: jax.Array
    actor_grad_magnitude: jax.Array
    critic_grad_magnitude: jax.Array


class LearnerFns(NamedTuple):
    """``init``, ``update`` and the actor's ``logits(params, obs)`` from :func:`make_learner`."""

    init: Callable[[jax.Array, jax.Array, Variant], SACState]
    update: Callable[[SACState, Transition, Variant], tuple[SACState, UpdateInfo]]
    logits: LogitsFn


def make_learner(config: SACConfig, num_actions: int) -> LearnerFns:
    """Networks, optimisers and the SAC update for ``num_actions`` discrete actions.

    ``init(key, example_obs, variant)`` builds a :class:`SACState`; ``update(learner, batch,
    variant)`` does one critic, actor and temperature step on a batch of
    :class:`Transition` and the Polyak update, in that order (the actor sees the updated
    critics, the temperature the actor's pre-update policy).
    """
    actor_net = DDPGInitMLP(num_actions, config.hidden, config.one_hot_observations)
    critic_net = TwinQ(num_actions, config.hidden, config.one_hot_observations)
    target_entropy = config.target_entropy_scale * math.log(num_actions)

    def make_optimizer(variant: Variant) -> optax.GradientTransformation:
        return network_optimizer(config.learning_rate, variant.grokfast,
                                 grokfast_alpha=config.grokfast_alpha,
                                 grokfast_lamb=config.grokfast_lamb,
                                 grade_beta=config.grade_beta)

    alpha_tx = optax.adam(config.learning_rate)

    def init(key: jax.Array, example_obs: jax.Array, variant: Variant) -> SACState:
        k_actor, k_critic = jax.random.split(key)
        actor = actor_net.init(k_actor, example_obs)
        critic = critic_net.init(k_critic, example_obs)
        log_alpha = jnp.asarray(math.log(config.initial_alpha), jnp.float32)
        tx = make_optimizer(variant)
        return SACState(actor=actor, critic=critic, target_critic=critic, log_alpha=log_alpha,
                       actor_opt=tx.init(actor), critic_opt=tx.init(critic),
                       alpha_opt=alpha_tx.init(log_alpha))

    def update(learner: SACState, batch: Transition, variant: Variant
               ) -> tuple[SACState, UpdateInfo]:
        tx = make_optimizer(variant)
        alpha = jnp.exp(learner.log_alpha)
        ratio = entropy_coefficient(learner.actor_opt, 1.0, variant.grade)  # r, or 1
        alpha_ent = alpha * ratio
        elsewhere = ratio if config.grade_scope == "all" else 1.0  # target and temperature

        next_logits = actor_net.apply(learner.actor, batch.next_obs)
        next_q_min = jnp.min(critic_net.apply(learner.target_critic, batch.next_obs), axis=0)
        y = soft_target(batch.reward, batch.terminated, jax.nn.softmax(next_logits),
                        jax.nn.log_softmax(next_logits), next_q_min, alpha * elsewhere,
                        config.gamma)
        y = jax.lax.stop_gradient(y)

        def critic_objective(params):
            q = critic_net.apply(params, batch.obs)  # [2, B, A]
            q_taken = jnp.take_along_axis(q, batch.action[None, :, None], axis=-1)[..., 0]
            return critic_loss(q_taken, y)

        c_loss, c_grads = jax.value_and_grad(critic_objective)(learner.critic)
        c_updates, critic_opt = tx.update(c_grads, learner.critic_opt, learner.critic)
        critic = optax.apply_updates(learner.critic, c_updates)

        q_min = jax.lax.stop_gradient(jnp.min(critic_net.apply(critic, batch.obs), axis=0))

        def actor_objective(params):
            logits = actor_net.apply(params, batch.obs)
            probs, log_probs = jax.nn.softmax(logits), jax.nn.log_softmax(logits)
            return actor_loss(probs, log_probs, q_min, alpha_ent), (probs, log_probs)

        (a_loss, (probs, log_probs)), a_grads = jax.value_and_grad(
            actor_objective, has_aux=True)(learner.actor)
        a_updates, actor_opt = tx.update(a_grads, learner.actor_opt, learner.actor)
        actor = optax.apply_updates(learner.actor, a_updates)

        probs, log_probs = jax.lax.stop_gradient((probs, log_probs))
        t_grad = jax.grad(temperature_loss)(learner.log_alpha, probs, log_probs, target_entropy,
                                            elsewhere)
        t_updates, alpha_opt = alpha_tx.update(t_grad, learner.alpha_opt, learner.log_alpha)
        log_alpha = optax.apply_updates(learner.log_alpha, t_updates)

        new = SACState(actor=actor, critic=critic,
                      target_critic=polyak_update(critic, learner.target_critic, config.tau),
                      log_alpha=log_alpha, actor_opt=actor_opt, critic_opt=critic_opt,
                      alpha_opt=alpha_opt)
        info = UpdateInfo(
            critic_loss=c_loss, actor_loss=a_loss, alpha=alpha, actor_entropy_coef=alpha_ent,
            entropy=jnp.mean(-jnp.sum(probs * log_probs, axis=-1)),
            actor_grad_magnitude=last_gradient_magnitude(actor_opt),
            critic_grad_magnitude=last_gradient_magnitude(critic_opt))
        return new, info

    return LearnerFns(init=init, update=update, logits=actor_net.apply)
