"""Gradient statistics for logging, recorded in the optimizer state by an identity transform.

Put :func:`grad_stats` in a chain where you want to observe the updates (first, for the raw
gradients); read the numbers after ``opt.update`` with :func:`get_grad_stats` or, flattened for
a logger, :func:`grad_stats_dict`. Nothing is recomputed when reading.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxcurr.transforms._common import find_state, squared_norm


class GradStatsState(NamedTuple):
    """State of :func:`grad_stats` (float32 norms).

    Attributes:
      count: int32 number of updates seen so far.
      global_norm: ``sqrt(sum_i ||g_i||^2)`` of the last updates (0 before the first).
      leaf_norms: pytree with the structure of the updates, holding each leaf's L2 norm
        ``||g_i||`` as a scalar (masked-out leaves stay ``optax.MaskedNode``).
    """

    count: jax.Array
    global_norm: jax.Array
    leaf_norms: optax.Updates


def _leaf_norm(x: jax.Array) -> jax.Array:
    return jnp.sqrt(squared_norm(x)).astype(jnp.float32)


def grad_stats() -> optax.GradientTransformation:
    r"""Identity transform that records the global and per-leaf L2 norms of the updates.

    .. math::

      \text{leaf\_norms}_i = \lVert g_i \rVert_2, \qquad
      \text{global\_norm} = \sqrt{\textstyle\sum_i \lVert g_i \rVert_2^2}

    computed in float32 (or wider) whatever the leaf dtypes. Updates pass through unchanged.
    Empty pytrees give ``global_norm = 0``; under ``optax.masked`` only the unmasked leaves are
    measured.

    Returns:
      An identity ``optax.GradientTransformation`` with state :class:`GradStatsState`.

    Example:
      >>> import jax.numpy as jnp
      >>> import optax
      >>> from jaxcurr.transforms import grad_stats, grad_stats_dict
      >>> opt = optax.chain(grad_stats(), optax.sgd(0.1))
      >>> params = {"w": jnp.zeros(2), "b": jnp.zeros(1)}
      >>> state = opt.init(params)
      >>> grads = {"w": jnp.array([3.0, 4.0]), "b": jnp.array([12.0])}
      >>> _, state = opt.update(grads, state, params)
      >>> {k: float(v) for k, v in grad_stats_dict(state).items()}
      {'global_norm': 13.0, 'norm/b': 12.0, 'norm/w': 5.0}
    """

    def init_fn(params: optax.Params) -> GradStatsState:
        return GradStatsState(
            count=jnp.zeros([], jnp.int32),
            global_norm=jnp.zeros([], jnp.float32),
            leaf_norms=jax.tree.map(lambda _: jnp.zeros([], jnp.float32), params),
        )

    def update_fn(
        updates: optax.Updates, state: GradStatsState, params: optax.Params | None = None
    ) -> tuple[optax.Updates, GradStatsState]:
        del params
        leaf_norms = jax.tree.map(_leaf_norm, updates)
        squares = [jnp.square(n) for n in jax.tree.leaves(leaf_norms)]
        global_norm = jnp.sqrt(sum(squares)) if squares else jnp.zeros([], jnp.float32)
        new_state = GradStatsState(
            count=optax.safe_increment(state.count),
            global_norm=jnp.asarray(global_norm, jnp.float32),
            leaf_norms=leaf_norms,
        )
        return updates, new_state

    return optax.GradientTransformation(init_fn, update_fn)


def get_grad_stats(opt_state: Any) -> GradStatsState:
    """Fetch the (single) :class:`GradStatsState` from an arbitrary nested optax state.

    Raises:
      ValueError: if the state holds no ``GradStatsState`` or more than one.
    """
    return find_state(opt_state, GradStatsState)


def grad_stats_dict(opt_state: Any, prefix: str = "") -> dict[str, jax.Array]:
    """The recorded statistics as a flat ``{name: scalar}`` dict for a metrics logger.

    Keys are ``prefix + "global_norm"`` and ``prefix + "norm/" + leaf path`` (path parts joined
    with ``/``, e.g. ``norm/params/Dense_0/kernel``; just ``norm`` when the updates are a single
    array). Works on jitted/vmapped states too (the
    values keep any batch axes).

    Args:
      opt_state: a :class:`GradStatsState` or any optax state containing exactly one.
      prefix: prepended to every key, e.g. ``"actor/"``.
    """
    state = get_grad_stats(opt_state)
    out = {prefix + "global_norm": state.global_norm}
    for path, norm in jax.tree_util.tree_leaves_with_path(state.leaf_norms):
        name = jax.tree_util.keystr(path, simple=True, separator="/")
        out[f"{prefix}norm/{name}" if name else f"{prefix}norm"] = norm
    return out
