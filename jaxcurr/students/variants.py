"""The four optimizer variants of the Grokfast/GrAdE paper as one vmappable axis.

Nilabh & Sinha Choudhury ("Efficiently Managing Exploration and Gradient Stability in Deep
Policy Gradient Methods") train each RL algorithm four ways: plain, with Grokfast-EMA on every
network's gradients, with GrAdE scaling the actor's entropy bonus, and with both. Here a variant
is a pair of 0/1 float switches, so the four variants are an array axis that ``jax.vmap`` maps
beside the seeds and one compiled program trains all of them:

* Grokfast: ``g_hat = g + (switch * lamb) * ema(g)``; with the switch at 0 the filter still
  runs but adds nothing, so the update is exactly the plain one.
* GrAdE: entropy coefficient ``kappa * (r if switch else 1)`` with ``r = ema / ema_max`` of the
  actor's gradient magnitude (sum over parameter tensors of their L2 norms).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxcurr.transforms import grade, grade_state, grokfast_ema

VARIANT_NAMES = ("plain", "grokfast", "grade", "both")
_SWITCHES = {"plain": (0.0, 0.0), "grokfast": (1.0, 0.0), "grade": (0.0, 1.0), "both": (1.0, 1.0)}


class Variant(NamedTuple):
    """Switches of one variant (scalars) or of a stack of variants (leading axis)."""

    grokfast: jax.Array
    grade: jax.Array


def variants(names: Sequence[str] = VARIANT_NAMES) -> Variant:
    """Stack the named variants into a :class:`Variant` of float32 arrays of shape ``(n,)``.

    Raises:
      ValueError: for an unknown name or an empty list.
    """
    names = list(names)
    unknown = [n for n in names if n not in _SWITCHES]
    if unknown or not names:
        raise ValueError(
            f"variants: got {names!r}; allowed: a non-empty list of {', '.join(VARIANT_NAMES)}"
        )
    switches = jnp.asarray([_SWITCHES[n] for n in names], jnp.float32)
    return Variant(grokfast=switches[:, 0], grade=switches[:, 1])


def network_optimizer(
    learning_rate: Any,
    grokfast_switch: Any,
    *,
    grokfast_alpha: Any = 0.98,
    grokfast_lamb: Any = 2.0,
    grade_beta: Any = 0.9,
) -> optax.GradientTransformation:
    """Adam for one network, with GrAdE statistics and a switchable Grokfast-EMA filter.

    ``chain(grade(beta), grokfast_ema(alpha, switch * lamb), adam(lr))``: GrAdE measures the raw
    gradients (its state also gives the gradient magnitude the paper plots), Grokfast filters
    them, Adam steps. Every network gets its own chain, so its own filter state.
    """
    return optax.chain(
        grade(beta=grade_beta, kappa=1.0),
        grokfast_ema(alpha=grokfast_alpha, lamb=grokfast_switch * grokfast_lamb),
        optax.adam(learning_rate),
    )


def last_gradient_magnitude(opt_state: Any) -> jax.Array:
    """Sum over parameter tensors of their gradient L2 norms at the last update, read from the
    GrAdE state of a :func:`network_optimizer` chain (the transform itself computes it with
    :func:`jaxcurr.transforms.gradient_magnitude`)."""
    return grade_state(opt_state).magnitude


def entropy_coefficient(actor_opt_state: Any, kappa: Any, grade_switch: Any) -> jax.Array:
    """``kappa * r`` when the GrAdE switch is on, else ``kappa``; no gradient flows through."""
    ratio = jnp.where(grade_switch > 0, grade_state(actor_opt_state).ratio, 1.0)
    return jax.lax.stop_gradient(kappa * ratio)
