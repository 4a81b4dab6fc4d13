"""Grokfast gradient filters (Lee et al. 2024) as optax transforms.

Grokfast treats the sequence of gradients of each parameter as a signal and amplifies its slow
(low-frequency) component: a low-pass filter of the gradients, scaled by ``lamb``, is added to
the raw gradient before the optimizer sees it. Both filters of the paper are here:

* :func:`grokfast_ema`: exponential moving average (Grokfast-EMA);
* :func:`grokfast_ma`: mean (or sum) over a window of the last ``window`` gradients
  (Grokfast-MA), kept in a fixed-size ring buffer in the optimizer state.

Chain them *before* the optimizer: ``optax.chain(grokfast_ema(), optax.adam(3e-4))``.

Reference: J. Lee, B. G. Kang, K. Kim, K. M. Lee, "Grokfast: Accelerated Grokking by
Amplifying Slow Gradients", 2024 (arXiv:2405.20233). Used for policy gradients by V. Nilabh and
R. Sinha Choudhury, "Efficiently Managing Exploration and Gradient Stability in Deep Policy
Gradient Methods".

dtypes: every output leaf has the dtype of its input gradient. The filter state is kept in
float32 by default (``jnp.promote_types(grad.dtype, float32)``, so bfloat16/float16 gradients
get a float32 filter and float64 stays float64): with ``alpha = 0.98`` each step adds 2 % of the
new gradient to the average, and bfloat16 keeps only 8 significant bits, so such increments
would be rounded coarsely or lost. Pass ``state_dtype=jnp.bfloat16`` (or any dtype) to trade
that accuracy for memory.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax import lax

from jaxcurr.transforms._common import (
    check_bool_or_array,
    check_choice,
    check_finite,
    check_range,
    check_static_int,
    filter_dtype,
)

EMA_STARTS = ("first", "zeros")
MA_FILTERS = ("mean", "sum")


class GrokfastEmaState(NamedTuple):
    """State of :func:`grokfast_ema`.

    Attributes:
      count: int32 number of updates seen so far.
      ema: the slow-gradient estimate ``mu``, one array per gradient leaf (filter dtype).
    """

    count: jax.Array
    ema: optax.Updates


class GrokfastMaState(NamedTuple):
    """State of :func:`grokfast_ma`.

    Attributes:
      count: int32 number of updates seen so far. The newest gradient sits in slot
        ``(count - 1) % window`` of the buffer.
      buffer: ring buffer of the last ``window`` raw gradients: one array of shape
        ``(window, *leaf.shape)`` per gradient leaf (filter dtype); unfilled slots are zero.
    """

    count: jax.Array
    buffer: optax.Updates


def grokfast_ema(
    alpha: Any = 0.98,
    lamb: Any = 2.0,
    ema_start: str = "first",
    state_dtype: Any | None = None,
) -> optax.GradientTransformation:
    r"""Grokfast-EMA: add ``lamb`` times an exponential moving average of the gradients.

    For every parameter, at update ``t`` with raw gradient ``g_t``:

    .. math::

      \mu_t = \alpha \mu_{t-1} + (1 - \alpha) g_t, \qquad \hat g_t = g_t + \lambda \mu_t

    and ``g_hat`` is passed on to the next transform (the optimizer).

    How the average starts (``ema_start``, static):

    * ``"first"`` (default, the authors' released code): ``mu_0 = g_1``, so the first update
      is ``(1 + lamb) * g_1`` and ``mu`` is an unbiased average of the gradients seen so far
      from the very first step.
    * ``"zeros"`` (the pseudocode in the papers): ``mu_0 = 0``. The average is then biased
      towards zero while ``t`` is small (it holds only a fraction ``1 - alpha**t`` of a constant
      gradient, 2 % at step 1 and 64 % at step 50 with the default ``alpha``), so the
      amplification ramps in over about ``1 / (1 - alpha)`` steps.

    The default is ``"first"`` because it is what produced every result reported with these
    defaults (Grokfast's experiments and the policy-gradient paper both ran the released
    code), and because it gives the filter the meaning the papers describe (``mu`` estimates
    the slow gradient) from step one instead of a silent warm-up. Pick ``"zeros"`` to follow
    the pseudocode literally.

    Args:
      alpha: EMA momentum in ``[0, 1]`` (default 0.98); larger means a slower filter.
        May be a (traced) array, e.g. to vmap a sweep.
      lamb: amplification ``lambda`` of the slow component (default 2.0). May be traced.
      ema_start: ``"first"`` (default) or ``"zeros"``; see above. Static.
      state_dtype: dtype of the ``ema`` buffers; ``None`` (default) means at least float32.

    Returns:
      An ``optax.GradientTransformation`` with state :class:`GrokfastEmaState`.

    Raises:
      ValueError: for ``alpha`` outside ``[0, 1]``, a non-finite ``lamb`` or an unknown
        ``ema_start`` (only concrete numbers are checked; arrays pass unchecked).

    Example:
      >>> import jax.numpy as jnp
      >>> import optax
      >>> from jaxcurr.transforms import grokfast_ema
      >>> tx = grokfast_ema(alpha=0.5, lamb=2.0)
      >>> state = tx.init({"w": jnp.zeros(2)})
      >>> g_hat, state = tx.update({"w": jnp.array([1.0, -1.0])}, state)
      >>> print(g_hat["w"])  # (1 + lamb) * g on the first step
      [ 3. -3.]
      >>> g_hat, state = tx.update({"w": jnp.array([3.0, 1.0])}, state)
      >>> print(g_hat["w"])  # mu = 0.5 * [1, -1] + 0.5 * [3, 1] = [2, 0]
      [7. 1.]
      >>> opt = optax.chain(grokfast_ema(), optax.adam(3e-4))  # filter, then optimize
    """
    check_range("alpha", alpha, low=0.0, high=1.0)
    check_finite("lamb", lamb)
    check_choice("ema_start", ema_start, EMA_STARTS)

    def init_fn(params: optax.Params) -> GrokfastEmaState:
        ema = jax.tree.map(lambda p: jnp.zeros(p.shape, filter_dtype(p.dtype, state_dtype)), params)
        return GrokfastEmaState(count=jnp.zeros([], jnp.int32), ema=ema)

    def update_fn(
        updates: optax.Updates, state: GrokfastEmaState, params: optax.Params | None = None
    ) -> tuple[optax.Updates, GrokfastEmaState]:
        del params
        is_first = state.count == 0

        def new_ema(g: jax.Array, mu: jax.Array) -> jax.Array:
            g = g.astype(mu.dtype)
            if ema_start == "first":  # static option; the test on the step is traced
                mu = jnp.where(is_first, g, mu)
            return (mu * alpha + g * (1 - alpha)).astype(mu.dtype)

        def filtered(g: jax.Array, mu: jax.Array) -> jax.Array:
            dtype = jnp.promote_types(g.dtype, mu.dtype)  # never below the gradient's precision
            return (g.astype(dtype) + lamb * mu.astype(dtype)).astype(g.dtype)

        ema = jax.tree.map(new_ema, updates, state.ema)
        updates = jax.tree.map(filtered, updates, ema)
        return updates, GrokfastEmaState(count=optax.safe_increment(state.count), ema=ema)

    return optax.GradientTransformation(init_fn, update_fn)


def grokfast_ma(
    window: int = 100,
    lamb: Any = 5.0,
    warmup: Any = True,
    filter: str = "mean",  # the name used by the authors' code
    state_dtype: Any | None = None,
) -> optax.GradientTransformation:
    r"""Grokfast-MA: add ``lamb`` times the mean (or sum) of the last ``window`` gradients.

    With ``W_t`` the last ``min(t, window)`` raw gradients including the current one ``g_t``:

    .. math::

      \hat g_t = g_t + \lambda \cdot \frac{1}{|W_t|} \sum_{g \in W_t} g
      \quad (\texttt{filter="mean"}), \qquad
      \hat g_t = g_t + \lambda \sum_{g \in W_t} g \quad (\texttt{filter="sum"})

    With ``warmup=True`` (default, as in the paper) the filter is applied only once the window
    is full (``t >= window``); before that the gradients pass through unchanged. With
    ``warmup=False`` it is applied from the first step over the gradients seen so far.

    The window is a fixed-size ring buffer of shape ``(window, *leaf.shape)`` per leaf in the
    state (``window`` times the gradient memory), so the transform is a pure function that
    works under ``jit``, ``scan`` and ``vmap``. Each step reads the whole buffer once.

    Args:
      window: number of gradients in the window (default 100). Static Python int >= 1; with
        ``optax.inject_hyperparams`` pass ``static_args=("window",)``.
      lamb: amplification ``lambda`` (default 5.0). May be a (traced) array.
      warmup: wait for a full window before filtering (default True). A bool, or a boolean
        array (it is used through ``jnp.where``, never in a Python ``if``).
      filter: ``"mean"`` (default) or ``"sum"`` over the window. Static.
      state_dtype: dtype of the buffers; ``None`` (default) means at least float32.

    Returns:
      An ``optax.GradientTransformation`` with state :class:`GrokfastMaState`.

    Raises:
      ValueError: for ``window`` not an int >= 1, a non-finite ``lamb``, a non-bool
        ``warmup`` or an unknown ``filter``.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxcurr.transforms import grokfast_ma
      >>> tx = grokfast_ma(window=2, lamb=1.0)
      >>> state = tx.init(jnp.zeros(1))
      >>> for g in [1.0, 3.0, 5.0]:
      ...     g_hat, state = tx.update(jnp.array([g]), state)
      ...     print(g_hat)  # unchanged until the window is full, then g + mean(last 2)
      [1.]
      [5.]
      [9.]
    """
    window = check_static_int(
        "window",
        window,
        minimum=1,
        hint="; with optax.inject_hyperparams pass static_args=('window',)",
    )
    check_finite("lamb", lamb)
    check_bool_or_array("warmup", warmup)
    check_choice("filter", filter, MA_FILTERS)

    def init_fn(params: optax.Params) -> GrokfastMaState:
        buffer = jax.tree.map(
            lambda p: jnp.zeros((window, *p.shape), filter_dtype(p.dtype, state_dtype)), params
        )
        return GrokfastMaState(count=jnp.zeros([], jnp.int32), buffer=buffer)

    def update_fn(
        updates: optax.Updates, state: GrokfastMaState, params: optax.Params | None = None
    ) -> tuple[optax.Updates, GrokfastMaState]:
        del params
        slot = state.count % window
        n_seen = jnp.minimum(state.count + 1, window)  # gradients in the window, current included
        active = jnp.logical_or(jnp.logical_not(warmup), state.count + 1 >= window)

        def push(g: jax.Array, buf: jax.Array) -> jax.Array:
            return lax.dynamic_update_index_in_dim(buf, g.astype(buf.dtype), slot, axis=0)

        def filtered(g: jax.Array, buf: jax.Array) -> jax.Array:
            dtype = jnp.promote_types(jnp.promote_types(g.dtype, buf.dtype), jnp.float32)
            slow = jnp.sum(buf, axis=0, dtype=dtype)
            if filter == "mean":
                slow = slow / n_seen.astype(dtype)
            g_hat = g.astype(dtype) + lamb * slow
            return jnp.where(active, g_hat.astype(g.dtype), g)

        buffer = jax.tree.map(push, updates, state.buffer)
        updates = jax.tree.map(filtered, updates, buffer)
        return updates, GrokfastMaState(count=optax.safe_increment(state.count), buffer=buffer)

    return optax.GradientTransformation(init_fn, update_fn)
