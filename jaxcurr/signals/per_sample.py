"""Per-sample teacher rewards read from a student's gradients and optimizer state.

Every signal is called as ``signal(loss_fn, params, batch, opt_state) -> rewards [B]``
where ``loss_fn(params, batch) -> [B]`` gives per-sample losses of any student (a classifier,
or later an RL actor) and ``batch`` is a pytree with a leading batch axis; the prediction gain,
which needs the student's step, is read by ``Signal.after_step`` instead.

- ``momentum_correlation``: ``r_b = | sum_i g_{b,i} m_i / v_i |`` (Blad & Loutfi 2025,
  "Gradient-Momentum Correlation for Intrinsic Exploration"), with ``g_b`` sample b's loss
  gradient and ``m, v`` Adam's moments. Since ``g_b . u`` for a fixed ``u = m / v`` is the
  directional derivative of sample b's loss along ``u``, ONE forward-mode JVP of the per-sample
  loss vector gives every sample's value, with no per-sample gradients.
- ``gradient_norm``: ``r_b = ||g_b||_2``; for Flax Dense students from one batched backward
  pass (``||x_b delta_b^T||^2 = |x_b|^2 |delta_b|^2``, Goodfellow 2015), else from explicit
  per-sample gradients (:mod:`jaxcurr.signals.per_sample_norms`).
- ``gradient_prediction_gain``: ``r_b = ||g_b||^2`` (Graves et al. 2017).
- ``prediction_gain``: ``r_b = l_b(theta) - l_b(theta')`` across the student's step (Graves
  et al. 2017); read from the step's result (``Signal.after_step``).
- ``loss`` (curiosity): ``r_b = loss_b``.
- ``uniform``: zeros (no teacher).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jaxcurr.signals.per_sample_norms import (
    METHODS,
    ghost_calls,
    ghost_step,
    per_sample_grad_norms,
)
from jaxcurr.transforms import find_state


@dataclasses.dataclass(frozen=True)
class Signal:
    """A teacher reward: call it as ``signal(loss_fn, params, batch, opt_state) -> [B]``.

    ``with_step(loss_fn, params, batch) -> (mean loss, its gradient, rewards)`` or ``None``:
    when the rewards come out of the student's own training forward/backward pass (the loss;
    the gradient norms by the one-pass identity), the training step takes all three from it
    instead of running the student twice. ``None`` (attribute or result): compute apart.
    ``after_step(loss_fn, params, new_params, batch) -> rewards``: a signal read from the
    step's result (the prediction gain); such a signal has no ``rewards``.
    """

    rewards: Callable[[Callable, Any, Any, Any], jax.Array] | None
    with_step: Callable[[Callable, Any, Any], tuple | None] | None = None
    after_step: Callable[[Callable, Any, Any, Any], jax.Array] | None = None

    def __call__(self, loss_fn: Callable, params: Any, batch: Any, opt_state: Any) -> jax.Array:
        if self.rewards is None:
            raise ValueError("signal: this signal is read from the student's step; allowed: "
                             "its after_step(loss_fn, params, new_params, batch)")
        return self.rewards(loss_fn, params, batch, opt_state)


def find_adam_state(opt_state: Any) -> optax.ScaleByAdamState:
    """The single ``optax.ScaleByAdamState`` inside any (nested, injected, masked) optax state.

    Raises ValueError when the chain has no ``scale_by_adam`` (or has several).
    """
    try:
        return find_state(opt_state, optax.ScaleByAdamState)
    except ValueError as err:
        raise ValueError(
            "opt_state: the momentum_correlation signal reads Adam's moments; allowed: an "
            f"optax chain containing exactly one scale_by_adam (optax.adam, adamw, ...): {err}"
        ) from None


def momentum_direction(
    opt_state: Any,
    denominator: str = "v",
    eps: float = 0.0,
    bias_correction: bool = False,
    b1: float = 0.9,
    b2: float = 0.999,
) -> Any:
    """``u = m / (v + eps)`` (or ``m / (sqrt(v) + eps)``) from Adam's state; 0 where the
    denominator is 0 (before the first update). With ``bias_correction``, ``m`` and ``v`` are
    divided by ``1 - b1^t`` and ``1 - b2^t`` as in Adam's step."""
    if denominator not in ("v", "sqrt_v"):
        raise ValueError(f"denominator: got {denominator!r}; allowed: 'v', 'sqrt_v'")
    adam = find_adam_state(opt_state)
    mu, nu = adam.mu, adam.nu
    if bias_correction:
        count = jnp.maximum(adam.count, 1).astype(jnp.float32)
        mu = jax.tree_util.tree_map(lambda m: m / (1 - b1**count), mu)
        nu = jax.tree_util.tree_map(lambda v: v / (1 - b2**count), nu)

    def direction(m, v):
        denom = (v if denominator == "v" else jnp.sqrt(v)) + eps
        return jnp.where(denom > 0, m / jnp.where(denom > 0, denom, 1), 0).astype(m.dtype)

    return jax.tree_util.tree_map(direction, mu, nu)


def momentum_correlation(
    denominator: str = "v",
    eps: float = 0.0,
    bias_correction: bool = False,
    b1: float = 0.9,
    b2: float = 0.999,
) -> Signal:
    """Signal ``|g_b . u|`` with ``u`` from :func:`momentum_direction`, via one JVP."""

    def signal(loss_fn, params, batch, opt_state):
        u = momentum_direction(opt_state, denominator, eps, bias_correction, b1, b2)
        u = jax.tree_util.tree_map(lambda d, p: d.astype(p.dtype), u, params)
        _, dots = jax.jvp(lambda p: loss_fn(p, batch), (params,), (u,))
        return jnp.abs(dots)

    return Signal(signal)


def gradient_norm(method: str = "auto") -> Signal:
    """Signal ``||g_b||_2``: the global L2 norm of each sample's loss gradient.

    ``method`` as in :func:`jaxcurr.signals.per_sample_norms.per_sample_grad_norms`: ``"auto"``
    takes the one-backward-pass identity ``|x_b|^2 |delta_b|^2`` for Flax Dense models and explicit
    per-sample gradients otherwise.
    """
    if method not in METHODS:
        raise ValueError(f"method: got {method!r}; allowed: {', '.join(METHODS)}")

    def signal(loss_fn, params, batch, opt_state):
        del opt_state
        return per_sample_grad_norms(loss_fn, params, batch, method)

    def with_step(loss_fn, params, batch):
        calls = None if method == "vmap" else ghost_calls(loss_fn, params, batch)
        return None if calls is None else ghost_step(loss_fn, params, batch, calls)

    return Signal(signal, with_step)


def gradient_prediction_gain(method: str = "auto") -> Signal:
    """Graves et al. 2017's gradient prediction gain ``||g_b||^2``: the first-order loss drop
    of a gradient step on sample b; computed as :func:`gradient_norm`, squared."""
    norm = gradient_norm(method)

    def signal(loss_fn, params, batch, opt_state):
        return jnp.square(norm(loss_fn, params, batch, opt_state))

    def with_step(loss_fn, params, batch):
        shared = norm.with_step(loss_fn, params, batch)
        return None if shared is None else (*shared[:2], jnp.square(shared[2]))

    return Signal(signal, with_step)


def prediction_gain() -> Signal:
    """Graves et al. 2017's prediction gain: ``l_b(theta) - l_b(theta')``, sample b's loss
    before minus after the student's step ``theta -> theta'`` on the batch."""

    def after_step(loss_fn, params, new_params, batch):
        return loss_fn(params, batch) - loss_fn(new_params, batch)

    return Signal(None, after_step=after_step)


def loss() -> Signal:
    """Curiosity: the sample's own loss."""

    def signal(loss_fn, params, batch, opt_state):
        del opt_state
        return loss_fn(params, batch)

    def with_step(loss_fn, params, batch):
        def mean_loss(p):
            losses = loss_fn(p, batch)
            return jnp.mean(losses), losses

        (mean, losses), grads = jax.value_and_grad(mean_loss, has_aux=True)(params)
        return mean, grads, losses

    return Signal(signal, with_step)


def uniform() -> Signal:
    """No signal: zero reward for every sample."""

    def signal(loss_fn, params, batch, opt_state):
        del loss_fn, params, opt_state
        return jnp.zeros(jax.tree_util.tree_leaves(batch)[0].shape[0], jnp.float32)

    return Signal(signal)


SIGNALS: dict[str, Callable[..., Signal]] = {
    "momentum_correlation": momentum_correlation,
    "gradient_norm": gradient_norm,
    "gradient_prediction_gain": gradient_prediction_gain,
    "prediction_gain": prediction_gain,
    "loss": loss,
    "uniform": uniform,
}
