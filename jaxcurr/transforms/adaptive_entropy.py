"""GrAdE: gradient-adaptive entropy regularisation as an optax transform.

GrAdE (Nilabh & Sinha Choudhury, "Efficiently Managing Exploration and Gradient Stability in
Deep Policy Gradient Methods") scales a policy's entropy bonus by how large the actor's
gradients are now compared with the largest they have been, so exploration decays by itself as
training converges and the gradients shrink.

:func:`grade` is an identity transform (gradients pass through unchanged) that records the
statistics in its state; :func:`grade_coefficient` reads the entropy coefficient for the next
loss from that state, wherever it sits in a nested optax state.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxcurr.transforms._common import check_choice, check_range, find_state, squared_norm

MAGNITUDES = ("sum_of_norms", "global_norm")


class GradeState(NamedTuple):
    """State of :func:`grade` (all float32 scalars except ``count``).

    Attributes:
      count: int32 number of updates seen so far.
      magnitude: gradient magnitude measured at the last update.
      ema: exponential moving average of the magnitude.
      ema_max: running maximum of ``ema``.
      ratio: ``r = ema / (ema_max + eps)``; 1 before the first update.
      kappa: the entropy coefficient scale ``kappa`` in use.
    """

    count: jax.Array
    magnitude: jax.Array
    ema: jax.Array
    ema_max: jax.Array
    ratio: jax.Array
    kappa: jax.Array


def gradient_magnitude(updates: optax.Updates, magnitude: str = "sum_of_norms") -> jax.Array:
    """The gradient magnitude GrAdE tracks, as a float32 (or wider) scalar.

    Args:
      updates: a pytree of gradients (``optax.MaskedNode`` and ``None`` subtrees are skipped).
      magnitude: ``"sum_of_norms"`` (default; the authors' code): the sum over leaves of each
        leaf's L2 norm, ``sum_i ||g_i||``. ``"global_norm"``: ``sqrt(sum_i ||g_i||^2)``.

    Returns:
      The magnitude; 0 for an empty pytree.
    """
    check_choice("magnitude", magnitude, MAGNITUDES)
    squares = [squared_norm(g) for g in jax.tree.leaves(updates)]
    if not squares:
        return jnp.zeros([], jnp.float32)
    if magnitude == "sum_of_norms":
        return sum(jnp.sqrt(s) for s in squares)
    return jnp.sqrt(sum(squares))


def grade(
    beta: Any = 0.9,
    kappa: Any = 0.02,
    magnitude: str = "sum_of_norms",
    eps: Any = 1e-8,
) -> optax.GradientTransformation:
    r"""GrAdE statistics: EMA of the gradient magnitude, its running max and their ratio.

    At each update, with ``m_t`` the gradient magnitude (see ``magnitude``):

    .. math::

      \mu_1 = m_1, \quad \mu_t = \beta \mu_{t-1} + (1 - \beta) m_t, \quad
      \mu^{max}_t = \max(\mu^{max}_{t-1}, \mu_t), \quad
      r_t = \frac{\mu_t}{\mu^{max}_t + \epsilon}

    and the entropy bonus of the next loss is ``kappa * r_t * H(pi)``
    (:func:`grade_coefficient` returns ``kappa * r_t``). The EMA starts lazily at the first
    magnitude, so ``r_1 = 1`` (up to ``eps``); before the first update ``r`` is 1 as well, so
    the first loss gets the full ``kappa``. The paper's algorithm prints ``beta*mu - (1-beta)*m``;
    that minus sign is a typo (the authors' code adds), and this follows the code.

    The updates are returned unchanged, so the transform can sit anywhere in a chain; put it
    first to measure the raw gradients (e.g. before Grokfast or clipping). Apply it to the
    actor's gradients only (use a separate optimizer or ``optax.masked``).

    Paper defaults: ``beta = 0.9``; ``kappa = 0.02`` for PPO on LunarLander (default here);
    for SAC the paper uses the auto-tuned temperature as ``kappa``: pass it at read time with
    ``grade_coefficient(opt_state, kappa=alpha)``.

    Args:
      beta: EMA smoothing in ``[0, 1)`` (default 0.9). May be a (traced) array.
      kappa: entropy coefficient scale, ``>= 0`` (default 0.02). May be traced; stored in the
        state so :func:`grade_coefficient` can read it.
      magnitude: ``"sum_of_norms"`` (default, the authors' code: sum over leaves of each leaf's
        L2 norm) or ``"global_norm"``. Static.
      eps: added to the running max in the ratio (default 1e-8, as in the authors' code).

    Returns:
      An identity ``optax.GradientTransformation`` with state :class:`GradeState`.

    Raises:
      ValueError: for ``beta`` outside ``[0, 1)``, negative ``kappa``, negative ``eps`` or an
        unknown ``magnitude`` (only concrete numbers are checked).

    Example:
      >>> import jax.numpy as jnp
      >>> import optax
      >>> from jaxcurr.transforms import grade, grade_coefficient
      >>> opt = optax.chain(grade(beta=0.5, kappa=0.1), optax.adam(1e-3))
      >>> params = {"w": jnp.zeros(2), "b": jnp.zeros(1)}
      >>> state = opt.init(params)
      >>> for scale in [4.0, 1.0]:  # sum of leaf norms: 5 * scale
      ...     grads = {"w": scale * jnp.array([3.0, 4.0]), "b": jnp.zeros(1)}
      ...     updates, state = opt.update(grads, state, params)
      ...     print(round(float(grade_coefficient(state)), 4))
      0.1
      0.0625
    """
    check_range("beta", beta, low=0.0, high=1.0, high_open=True)
    check_range("kappa", kappa, low=0.0)
    check_range("eps", eps, low=0.0)
    check_choice("magnitude", magnitude, MAGNITUDES)

    def init_fn(params: optax.Params) -> GradeState:
        del params
        zero = jnp.zeros([], jnp.float32)
        return GradeState(
            count=jnp.zeros([], jnp.int32),
            magnitude=zero,
            ema=zero,
            ema_max=zero,
            ratio=jnp.ones([], jnp.float32),
            kappa=jnp.asarray(kappa, jnp.float32),
        )

    def update_fn(
        updates: optax.Updates, state: GradeState, params: optax.Params | None = None
    ) -> tuple[optax.Updates, GradeState]:
        del params
        mag = gradient_magnitude(updates, magnitude).astype(jnp.float32)
        is_first = state.count == 0
        ema = jnp.where(is_first, mag, beta * state.ema + (1 - beta) * mag).astype(jnp.float32)
        ema_max = jnp.where(is_first, ema, jnp.maximum(state.ema_max, ema))
        ratio = (ema / (ema_max + eps)).astype(jnp.float32)
        new_state = GradeState(
            count=optax.safe_increment(state.count),
            magnitude=mag,
            ema=ema,
            ema_max=ema_max,
            ratio=ratio,
            kappa=jnp.asarray(kappa, jnp.float32),
        )
        return updates, new_state

    return optax.GradientTransformation(init_fn, update_fn)


def grade_state(opt_state: Any) -> GradeState:
    """Fetch the (single) :class:`GradeState` from an arbitrary nested optax state.

    Looks through ``optax.chain``, ``optax.masked``, ``optax.inject_hyperparams``,
    ``optax.multi_transform``, tuples, dicts, ... Batched (vmapped) states work too.

    Raises:
      ValueError: if the state holds no ``GradeState`` or more than one.
    """
    return find_state(opt_state, GradeState)


def grade_coefficient(opt_state: Any, kappa: Any | None = None) -> jax.Array:
    """The entropy coefficient ``kappa * r`` for the next loss, read from an optimizer state.

    Args:
      opt_state: a :class:`GradeState` or any optax state containing exactly one.
      kappa: overrides the ``kappa`` stored in the state, e.g. SAC's current temperature.

    Returns:
      A float32 scalar (or an array with the state's batch axes when it was vmapped). Treat it
      as a constant in the loss (it carries no gradient with respect to the parameters).
    """
    state = grade_state(opt_state)
    scale = state.kappa if kappa is None else kappa
    return scale * state.ratio
