"""Per-sample gradient norms of a per-sample loss, without per-sample gradients where possible.

For a dense layer ``y = x W + b`` whose input rows for sample ``b`` are ``x_b`` (shape
``[T, in]``, ``T = 1`` for an MLP) and whose output cotangents are ``d_b = dl_b / dy_b``
(``[T, out]``), sample b's kernel gradient is ``G_b = x_b^T d_b`` and::

    ||G_b||_F^2 = sum_{t,t'} (x_bt . x_bt') (d_bt . d_bt')    (= |x_b|^2 |d_b|^2 when T = 1)
    ||g_b,bias||^2 = |sum_t d_bt|^2

(Goodfellow 2015, "Efficient per-example gradient computations"; the identity behind "ghost
clipping", Li et al. 2021). Every layer's ``d`` comes from ONE batched backward pass of
``sum_b l_b`` taken with respect to zero perturbations added to the layer outputs, and ``x``
from the same forward pass: no ``[B, parameters]`` tensor is ever built.

:func:`per_sample_grad_norms` uses this ("ghost") path automatically when every parameter of
``loss_fn`` belongs to a ``flax.linen.Dense`` called exactly once on inputs with the batch as
leading axis (found by intercepting Flax module calls while tracing), and otherwise falls back to
explicit per-sample gradients (``vmap(grad)``), which works for any ``loss_fn``. Both assume, as
a per-sample loss does, that ``l_b`` depends on sample b only and that the parameters enter the
loss only through the model (no explicit weight penalty inside ``loss_fn``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

METHODS = ("auto", "ghost", "vmap")


class DenseCall(NamedTuple):
    """One ``nn.Dense`` call seen while tracing the loss: where, shapes, bias or not."""

    path: tuple[str, ...]
    input_shape: tuple[int, ...]
    output: jax.ShapeDtypeStruct
    use_bias: bool


def _is_dense_call(context: Any) -> bool:
    return type(context.module) is nn.Dense and context.method_name == "__call__"


def _dense_input(args: tuple, kwargs: dict) -> Any:
    return args[0] if args else kwargs["inputs"]


def dense_calls(loss_fn: Callable, params: Any, batch: Any) -> list[DenseCall]:
    """The ``nn.Dense`` calls made by ``loss_fn(params, batch)``, in order (abstract trace)."""
    calls: list[DenseCall] = []

    def record(next_fun, args, kwargs, context):
        out = next_fun(*args, **kwargs)
        if _is_dense_call(context):
            calls.append(DenseCall(tuple(context.module.path),
                                   tuple(_dense_input(args, kwargs).shape),
                                   jax.ShapeDtypeStruct(out.shape, out.dtype),
                                   bool(context.module.use_bias)))
        return out

    with nn.intercept_methods(record):  # a fresh function: eval_shape must not hit its cache
        jax.eval_shape(lambda p, b: loss_fn(p, b), params, batch)
    return calls


def _key_name(key: Any) -> str:
    return str(getattr(key, "key", getattr(key, "name", getattr(key, "idx", key))))


def _param_shapes(params: Any) -> dict[tuple[str, ...], tuple[int, ...]]:
    """Leaf path (without a leading ``'params'`` collection key) -> shape."""
    shapes = {}
    for keypath, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        names = tuple(_key_name(k) for k in keypath)
        if names[:1] == ("params",):
            names = names[1:]
        shapes[names] = tuple(jnp.shape(leaf))
    return shapes


def ghost_calls(loss_fn: Callable, params: Any, batch: Any) -> list[DenseCall] | None:
    """The Dense calls if the ghost identity covers every parameter of ``loss_fn``, else None.

    Conditions: each parameter leaf is the kernel or bias of exactly one Dense call, each Dense
    module is called once, and each call's input has the batch as its leading axis.
    """
    batch_size = jax.tree_util.tree_leaves(batch)[0].shape[0]
    try:
        calls = dense_calls(loss_fn, params, batch)
    except Exception:  # noqa: BLE001 - any tracing failure means: use the general path
        return None
    covered: dict[tuple[str, ...], tuple[int, ...]] = {}
    for call in calls:
        if len(call.input_shape) < 2 or call.input_shape[0] != batch_size:
            return None
        covered[call.path + ("kernel",)] = (call.input_shape[-1], call.output.shape[-1])
        if call.use_bias:
            covered[call.path + ("bias",)] = (call.output.shape[-1],)
    if not calls or len({c.path for c in calls}) != len(calls):
        return None
    return calls if covered == _param_shapes(params) else None


def _squared_layer_norms(x: jax.Array, d: jax.Array, use_bias: bool) -> jax.Array:
    """``||x_b^T d_b||_F^2 (+ |sum_t d_bt|^2)`` for each sample b, in float32."""
    batch = x.shape[0]
    x = x.reshape(batch, -1, x.shape[-1]).astype(jnp.float32)
    d = d.reshape(batch, -1, d.shape[-1]).astype(jnp.float32)
    steps, fan_in, fan_out = x.shape[1], x.shape[2], d.shape[2]
    if steps == 1:
        kernel = jnp.sum(x[:, 0] ** 2, axis=-1) * jnp.sum(d[:, 0] ** 2, axis=-1)
    elif steps * steps <= fan_in * fan_out:
        gram_x = jnp.einsum("bti,bsi->bts", x, x)
        gram_d = jnp.einsum("bto,bso->bts", d, d)
        kernel = jnp.sum(gram_x * gram_d, axis=(1, 2))
    else:
        kernel = jnp.sum(jnp.einsum("bti,bto->bio", x, d) ** 2, axis=(1, 2))
    if use_bias:
        kernel = kernel + jnp.sum(jnp.sum(d, axis=1) ** 2, axis=-1)
    return kernel


def ghost_step(loss_fn: Callable, params: Any, batch: Any, calls: list[DenseCall]
               ) -> tuple[jax.Array, Any, jax.Array]:
    """``(mean loss, its gradient, per-sample gradient norms [B])`` from ONE forward and ONE
    backward pass: the gradient of ``sum_b l_b`` with respect to the parameters and to zero
    perturbations of every Dense output at once (the training step's gradient is the
    parameter part over B; the norms come from the perturbation part, module docstring)."""
    zeros = [jnp.zeros(c.output.shape, c.output.dtype) for c in calls]

    def total_loss(p, perturbations):
        inputs: list[jax.Array] = []
        pending = iter(perturbations)

        def tap(next_fun, args, kwargs, context):
            out = next_fun(*args, **kwargs)
            if _is_dense_call(context):
                inputs.append(_dense_input(args, kwargs))
                out = out + next(pending)
            return out

        with nn.intercept_methods(tap):
            losses = loss_fn(p, batch)
        return jnp.sum(losses), (losses, inputs)

    (_, (losses, inputs)), (grads, cotangents) = jax.value_and_grad(
        total_loss, argnums=(0, 1), has_aux=True)(params, zeros)
    size = losses.shape[0]
    squares = sum(_squared_layer_norms(x, d, c.use_bias)
                  for x, d, c in zip(inputs, cotangents, calls, strict=True))
    return jnp.mean(losses), jax.tree.map(lambda g: g / size, grads), jnp.sqrt(squares)


def ghost_grad_norms(loss_fn: Callable, params: Any, batch: Any,
                     calls: list[DenseCall]) -> jax.Array:
    """Per-sample gradient L2 norms ``[B]`` from one backward pass (module docstring); the
    unused parameter gradient is dropped by XLA."""
    return ghost_step(loss_fn, params, batch, calls)[2]


def per_sample_gradients(loss_fn: Callable, params: Any, batch: Any) -> Any:
    """Explicit per-sample gradients (leading batch axis on every leaf), by vmap of grad."""

    def one(sample):
        single = jax.tree_util.tree_map(lambda x: x[None], sample)
        return jax.grad(lambda p: loss_fn(p, single)[0])(params)

    return jax.vmap(one)(batch)


def vmap_grad_norms(loss_fn: Callable, params: Any, batch: Any) -> jax.Array:
    """Per-sample gradient L2 norms ``[B]`` from explicit per-sample gradients."""
    grads = per_sample_gradients(loss_fn, params, batch)
    squares = [jnp.sum(jnp.square(g.astype(jnp.float32)).reshape(g.shape[0], -1), axis=1)
               for g in jax.tree_util.tree_leaves(grads)]
    return jnp.sqrt(sum(squares))


def per_sample_grad_norms(loss_fn: Callable, params: Any, batch: Any,
                          method: str = "auto") -> jax.Array:
    """``||grad_params l_b||_2`` for every sample b of ``batch``; shape ``[B]``, float32.

    ``method``: ``"auto"`` (ghost identity when it covers the model, else ``vmap(grad)``),
    ``"ghost"`` (raise ValueError when it does not apply) or ``"vmap"``.
    """
    if method not in METHODS:
        raise ValueError(f"method: got {method!r}; allowed: {', '.join(METHODS)}")
    calls = None if method == "vmap" else ghost_calls(loss_fn, params, batch)
    if calls is not None:
        return ghost_grad_norms(loss_fn, params, batch, calls)
    if method == "ghost":
        raise ValueError(
            "method: 'ghost' needs every parameter to be the kernel or bias of a flax.linen.Dense "
            "called once on batch-leading inputs; use 'auto' or 'vmap' for this loss_fn")
    return vmap_grad_norms(loss_fn, params, batch)
