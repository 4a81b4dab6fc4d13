"""Teacher rewards from an RL episode's returns and the student's value estimates.

Beside the actor-gradient signals of :mod:`jaxcurr.signals.actor_gradients`, the scores the
curriculum literature reads from an episode on a start (level) ``l`` of ``T`` steps, rewards
``r_t`` and values ``V_t = V(s_t)``:

* ``return``: ``G = sum_t r_t`` (the competence ALP-GMM's progress is measured on; Portelas
  et al. 2019);
* ``return_progress``: ``|G - G_prev(l)|``, the change of the return since the last episode
  from the same start (0 on a first visit): learning progress of the return;
* ``positive_value_loss`` (PLR's score, Jiang et al. 2021, eq. 1):
  ``(1/T) sum_t max(sum_{k>=t} (gamma lambda)^(k-t) delta_k, 0)`` with
  ``delta_t = r_t + gamma V(s_{t+1}) - V(s_t)`` (GAE, every step bootstrapped: the maze's
  episodes end at a time limit);
* ``max_mc`` (Robust PLR's MaxMC, Jiang et al. 2021b): ``(1/T) sum_t (G_max(l) - V(s_t))``,
  ``G_max(l)`` the best return from ``l`` so far, this episode's included.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxcurr.signals.actor_gradients import RL_SIGNALS

EPISODE_SCORES = ("return", "return_progress", "positive_value_loss", "max_mc")
SIGNALS = (*RL_SIGNALS, *EPISODE_SCORES)  # every teacher reward of the initial-state curriculum


def positive_value_loss(rewards: jax.Array, values: jax.Array, next_values: jax.Array,
                        length: jax.Array, gamma: float, lam: float) -> jax.Array:
    """The mean positive GAE over the first ``length`` steps of ``[T_max]`` arrays."""
    steps = jnp.arange(rewards.shape[0])
    inside = steps < length
    delta = jnp.where(inside, rewards + gamma * next_values - values, 0.0)
    # sum_{k>=t} c^(k-t) delta_k as one matrix-vector product (c^(k-t) in [c^T, 1])
    lag = steps[None, :] - steps[:, None]
    discounts = jnp.where(lag >= 0, (gamma * lam) ** jnp.maximum(lag, 0).astype(jnp.float32),
                          0.0)
    gae = discounts @ delta
    return jnp.sum(jnp.where(inside, jnp.maximum(gae, 0.0), 0.0)) / jnp.maximum(length, 1)


def max_mc(values: jax.Array, length: jax.Array, best_return: jax.Array) -> jax.Array:
    """``(1/T) sum_t (G_max - V_t)`` over the first ``length`` steps."""
    inside = jnp.arange(values.shape[0]) < length
    return jnp.sum(jnp.where(inside, best_return - values, 0.0)) / jnp.maximum(length, 1)
