"""PPO's pure array functions: masked means, normalisation, the clipped surrogate and GAE.

:func:`clipped_objective` is PPO-Clip's per-sample surrogate (Schulman et al. 2017, "Proximal
Policy Optimization Algorithms", eq. 7); :func:`gae` is generalised advantage estimation
(Schulman et al. 2016). :func:`masked_mean` and :func:`normalize` count only the entries whose
0/1 ``mask`` is 1 (:mod:`jaxcurr.students.ppo.episodic` masks the steps after an episode's end).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp


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
