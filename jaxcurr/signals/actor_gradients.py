"""Teacher rewards from an RL student's actor gradients over one episode.

The gradient-norm teacher (Campbell & Yoon 2023, "Automatic Curriculum Learning with Gradient
Reward Signals"; docs/reference_facts.md §2) is rewarded by the actor's gradient ``g_t`` of its
full loss (entropy term included), taken after backward and before the optimizer step, over the
``T`` SAC updates made during the episode:

* ``mean_norm`` (the paper's reward 1): ``(1/T) sum_t ||g_t||_2``;
* ``sum_norm`` (reward 2, as the paper defines it): ``||sum_t g_t||_2 / T`` (the authors' code
  returned the last update's norm instead, docs/reference_facts.md §10);
* ``momentum_correlation`` (the first paper's signal applied to the actor, a method neither
  paper has): ``(1/T) sum_t |g_t . u_t|`` with ``u_t = m_t / v_t`` from the actor's Adam
  moments before update t (:func:`jaxcurr.signals.per_sample.momentum_direction`).

Each is accumulated from the gradient the update has already computed: one reduction and one
add per update, no extra backward pass. An episode without updates has reward 0.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxcurr.signals.per_sample import momentum_direction

RL_SIGNALS = ("mean_norm", "sum_norm", "momentum_correlation")


class EpisodeGradients(NamedTuple):
    """Running sums over an episode's updates: count ``T``, ``sum ||g_t||``, ``sum g_t``
    (a pytree like the actor's parameters) and ``sum |g_t . u_t|``."""

    count: jax.Array
    norm_sum: jax.Array
    grad_sum: Any
    correlation_sum: jax.Array


def _dot(a: Any, b: Any) -> jax.Array:
    return sum(jnp.vdot(x.astype(jnp.float32), y.astype(jnp.float32))
               for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True))


def empty(params: Any) -> EpisodeGradients:
    """No updates yet."""
    zero = jnp.zeros([], jnp.float32)
    return EpisodeGradients(zero, zero, jax.tree.map(jnp.zeros_like, params), zero)


def accumulate(sums: EpisodeGradients, grads: Any, opt_state: Any,
               updated: jax.Array | bool = True) -> EpisodeGradients:
    """Add one update's actor gradient (and Adam state before it) when ``updated``."""
    on = jnp.asarray(updated, jnp.float32)
    u = momentum_direction(opt_state)
    return EpisodeGradients(
        count=sums.count + on,
        norm_sum=sums.norm_sum + on * jnp.sqrt(_dot(grads, grads)),
        grad_sum=jax.tree.map(lambda s, g: s + on * g, sums.grad_sum, grads),
        correlation_sum=sums.correlation_sum + on * jnp.abs(_dot(grads, u)))


def episode_rewards(sums: EpisodeGradients) -> dict[str, jax.Array]:
    """Every signal of :data:`RL_SIGNALS` for the episode (0 without updates)."""
    count = jnp.maximum(sums.count, 1.0)
    return {"mean_norm": sums.norm_sum / count,
            "sum_norm": jnp.sqrt(_dot(sums.grad_sum, sums.grad_sum)) / count,
            "momentum_correlation": sums.correlation_sum / count}
