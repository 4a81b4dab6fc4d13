r"""Heavy-ball momentum with any coefficient in (-1, 1), negative included, as optax transforms.

Two placements of the momentum are offered (``form``, static), both with the trace
``m_t = g_t + beta * m_{t-1}`` (``m_0 = 0``):

* ``"polyak"`` (Polyak's heavy ball): update ``u_t = m_t``. With a learning rate ``eta`` the
  iterates follow :math:`x_{t+1} = x_t - \eta g(x_t) + \beta (x_t - x_{t-1})`, the gradient
  taken at the current iterate. This is the rule the public accelerated-policy-gradient code
  (Chen et al. 2024, ``PG_heavy_ball``) runs as PG-HB with ``beta = 0.5``: it writes
  ``theta_new = omega + eta g(theta)``, ``omega = theta_new + beta (theta_new - theta)``, which
  substitutes to the line above (see ``jaxcurr/students/pg_optimizers.py``).
* ``"lookahead"``: update ``u_t = g_t + beta * m_t``. The iterate ``w`` where gradients are
  taken is then the extrapolated point of a gradient-step sequence ``theta``:
  :math:`\theta_{t+1} = w_t - \eta g(w_t)`,
  :math:`w_{t+1} = \theta_{t+1} + \beta (\theta_{t+1} - \theta_t)` (Nesterov's form with a
  constant coefficient; gradient at the extrapolated point). Not the public PG-HB.

A negative ``beta`` ("negative momentum", Gidel et al. 2019) damps oscillations by pulling each
step back against the previous one; ``beta`` may be a traced array, so it can be vmapped.

Like every optax transform these *minimise*: to ascend a value ``V`` pass ``-grad V``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxcurr.transforms._common import check_choice, check_range, filter_dtype

MOMENTUM_FORMS = ("polyak", "lookahead")


class HeavyBallState(NamedTuple):
    """State of :func:`scale_by_heavy_ball`.

    Attributes:
      count: int32 number of updates seen so far.
      momentum: the trace ``m``, one array per gradient leaf (at least float32).
    """

    count: jax.Array
    momentum: optax.Updates


def scale_by_heavy_ball(beta: Any = 0.5, form: str = "polyak") -> optax.GradientTransformation:
    r"""Momentum trace with a coefficient in ``(-1, 1)``, negative allowed.

    .. math::

      m_t = g_t + \beta m_{t-1}, \qquad
      u_t = m_t \ (\texttt{"polyak"}) \quad \text{or} \quad u_t = g_t + \beta m_t
      \ (\texttt{"lookahead"})

    Args:
      beta: momentum coefficient in the open interval ``(-1, 1)`` (default 0.5). May be a
        traced array (then it is not checked).
      form: ``"polyak"`` (default) or ``"lookahead"``; see the module docstring. Static.

    Returns:
      An ``optax.GradientTransformation`` with state :class:`HeavyBallState`.

    Raises:
      ValueError: for a concrete ``beta`` outside ``(-1, 1)`` or an unknown ``form``.

    Example:
      >>> import jax.numpy as jnp
      >>> tx = scale_by_heavy_ball(beta=-0.5)
      >>> state = tx.init(jnp.zeros(1))
      >>> u, state = tx.update(jnp.array([1.0]), state)
      >>> u, state = tx.update(jnp.array([1.0]), state)
      >>> print(u)  # 1 + (-0.5) * 1
      [0.5]
    """
    check_range("beta", beta, low=-1.0, high=1.0, low_open=True, high_open=True)
    check_choice("form", form, MOMENTUM_FORMS)

    def init_fn(params: optax.Params) -> HeavyBallState:
        mom = jax.tree.map(lambda p: jnp.zeros(p.shape, filter_dtype(p.dtype, None)), params)
        return HeavyBallState(count=jnp.zeros([], jnp.int32), momentum=mom)

    def update_fn(
        updates: optax.Updates, state: HeavyBallState, params: optax.Params | None = None
    ) -> tuple[optax.Updates, HeavyBallState]:
        del params
        mom = jax.tree.map(lambda g, m: g.astype(m.dtype) + beta * m, updates, state.momentum)
        if form == "polyak":
            out = jax.tree.map(lambda g, m: m.astype(g.dtype), updates, mom)
        else:
            out = jax.tree.map(lambda g, m: (g + beta * m).astype(g.dtype), updates, mom)
        return out, HeavyBallState(count=optax.safe_increment(state.count), momentum=mom)

    return optax.GradientTransformation(init_fn, update_fn)


def heavy_ball(learning_rate: Any, beta: Any = 0.5, form: str = "polyak"
               ) -> optax.GradientTransformation:
    r"""Gradient descent with heavy-ball momentum: ``scale_by_heavy_ball`` then ``-learning_rate``.

    .. math::

      x_{t+1} = x_t - \eta\, u_t

    with ``u_t`` from :func:`scale_by_heavy_ball`. With ``beta = 0`` this is plain SGD.

    Args:
      learning_rate: step size ``eta > 0`` (a float or an optax schedule; traced arrays pass
        unchecked).
      beta: momentum coefficient in ``(-1, 1)``; negative for negative momentum.
      form: ``"polyak"`` or ``"lookahead"``.

    Raises:
      ValueError: for a non-positive ``learning_rate``, or as :func:`scale_by_heavy_ball`.

    Example:
      >>> import jax.numpy as jnp, optax
      >>> tx = heavy_ball(0.1, beta=-0.3)
      >>> params = jnp.array([1.0])
      >>> state = tx.init(params)
      >>> for _ in range(2):
      ...     u, state = tx.update(2 * params, state)  # gradient of x**2
      ...     params = optax.apply_updates(params, u)
      >>> print(params)  # 0.8, then 0.8 - 0.1 * (1.6 - 0.3 * 2)
      [0.7]
    """
    if not callable(learning_rate):
        check_range("learning_rate", learning_rate, low=0.0, low_open=True)
    return optax.chain(scale_by_heavy_ball(beta, form), optax.scale_by_learning_rate(learning_rate))
