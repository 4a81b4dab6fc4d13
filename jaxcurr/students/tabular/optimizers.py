r"""Policy-gradient optimizers with one interface: PG, PG-HB, PG-Adam, APG and SPG-NM.

Every optimizer here *ascends* a value ``V(params)`` and is a :class:`PGOptimizer`, a pair of
pure functions

* ``init(params) -> PGState``
* ``step(state, key, grad_fn, value_fn) -> (PGState, PGInfo)``

where ``grad_fn(params, key)`` returns an estimate of ``grad V(params)`` (exact gradients ignore
the key) and ``value_fn(params)`` returns ``V(params)``. Only APG and SPG-NM call
``value_fn`` (for their restart / commit tests); the others ignore it. ``state.params`` is the
iterate the optimizer holds (the next gradient is taken there); ``state.theta`` is the last
gradient-step point, the policy whose value the public APG code records (it equals
``state.params`` for PG, PG-HB in Polyak form and PG-Adam).
All steps are jit-, scan- and vmap-able; hyperparameters such as SPG-NM's ``lam`` may be traced
arrays, so a sweep over them is one ``jax.vmap``.

The rules (``eta`` = ``learning_rate``, ``t = state.count`` = number of steps done, from 0):

* :func:`pg`: ``w <- w + eta * g(w)``.
* :func:`pg_heavy_ball`: Polyak's heavy ball
  ``w_{t+1} = w_t + eta g(w_t) + beta (w_t - w_{t-1})`` (``form="polyak"``, default: the
  PG-HB of the public accelerated-policy-gradient code, gradient at the current iterate,
  ``beta = 0.5``), or the look-ahead form ``theta_{t+1} = w_t + eta g(w_t)``,
  ``w_{t+1} = theta_{t+1} + beta (theta_{t+1} - theta_t)`` (``form="lookahead"``, gradient at
  the extrapolated point). ``beta`` may be negative. Built on
  :func:`jaxcurr.transforms.negative_momentum.heavy_ball`.
* :func:`pg_adam`: ``optax.adam`` on ``-g``.
* :func:`apg` (Nesterov-accelerated PG with a value-based restart, as in the public APG code)::

      theta_{t+1} = w_t + c_t * eta * g(w_t)          c_t = 0.5 (t+1)/(t+2)  ("code") or 1
      phi         = theta_{t+1} + t/(t+3) (theta_{t+1} - theta_t)
      w_{t+1}     = phi if V(phi) + tol >= V(theta_t) else theta_{t+1}      tol = 1e-12

  The public code (``true-gradient-mdp/train/APG.py``) evaluates the gradient at ``omega``
  with the *discounted state visitation of* ``theta``, a bug that matters only when
  ``gamma > 0``; here ``grad_fn`` is called at ``w`` alone, i.e. with ``w``'s own visitation,
  which is the true gradient (about 1e-4 relative apart on the 5-state MDP over 3,000 steps).

* :func:`spg_nm` (Zhang et al. 2024, arXiv:2405.12228)::

      theta_{t+1} = w_t + eta * g(w_t)
      phi         = lam theta_{t+1} + (1 - lam)(theta_{t+1} - theta_t)        ("literal")
      w_{t+1}     = phi if V(phi) >= V(theta_t) else theta_{t+1}             ("previous")

  See :func:`spg_nm` for the interpretations taken and the alternatives kept as options.

With stochastic gradients, ``value_fn`` is whatever the caller passes; the experiments pass the
*exact* value ``V^pi(rho)`` (the commit/restart test is then not a source of noise, so only the
gradient is stochastic).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxcurr.transforms._common import check_choice, check_range
from jaxcurr.transforms.negative_momentum import heavy_ball

GradFn = Callable[[Any, jax.Array], Any]
ValueFn = Callable[[Any], jax.Array]

PG_OPTIMIZERS = ("pg", "pg_hb", "apg", "pg_adam", "spg_nm")
APG_STEP_SCALINGS = ("code", "constant")
RESTARTS = ("previous", "current", "none")
SPG_NM_PHI = ("literal", "normalized")
SPG_NM_COMMITS = ("previous", "current", "always")


class PGState(NamedTuple):
    """State of every :class:`PGOptimizer`.

    Attributes:
      params: the iterate ``w`` held (gradients are taken here; report its value).
      theta: the last gradient-ascent point ``theta_t`` (APG, SPG-NM), the iterate the public
        APG code reports; equals ``params`` for the optax-based optimizers.
      count: int32 number of steps done.
      opt_state: the wrapped optax state (PG, PG-HB, PG-Adam); ``()`` for APG and SPG-NM.
    """

    params: Any
    theta: Any
    count: jax.Array
    opt_state: Any


class PGInfo(NamedTuple):
    """Per-step diagnostics.

    Attributes:
      committed: whether the extrapolated point ``phi`` was kept (APG, SPG-NM); always True for
        the optimizers without a value test.
    """

    committed: jax.Array


class PGOptimizer(NamedTuple):
    """``init(params) -> PGState`` and ``step(state, key, grad_fn, value_fn) -> (PGState,
    PGInfo)``; see the module docstring."""

    init: Callable[[Any], PGState]
    step: Callable[[PGState, jax.Array, GradFn, ValueFn], tuple[PGState, PGInfo]]


def _check_lr(learning_rate: Any) -> None:
    check_range("learning_rate", learning_rate, low=0.0, low_open=True)


def _tree_where(cond: jax.Array, x: Any, y: Any) -> Any:
    return jax.tree.map(lambda a, b: jnp.where(cond, a, b), x, y)


def from_optax(tx: optax.GradientTransformation) -> PGOptimizer:
    """Ascend ``V`` with any optax transform (which minimises): it is fed ``-grad V``."""

    def init(params: Any) -> PGState:
        return PGState(params, params, jnp.zeros([], jnp.int32), tx.init(params))

    def step(state: PGState, key: jax.Array, grad_fn: GradFn, value_fn: ValueFn
             ) -> tuple[PGState, PGInfo]:
        del value_fn
        g = grad_fn(state.params, key)
        updates, opt_state = tx.update(jax.tree.map(jnp.negative, g), state.opt_state,
                                       state.params)
        params = optax.apply_updates(state.params, updates)
        new = PGState(params, params, optax.safe_increment(state.count), opt_state)
        return new, PGInfo(committed=jnp.array(True))

    return PGOptimizer(init, step)


def pg(learning_rate: Any) -> PGOptimizer:
    """Plain policy gradient (gradient ascent): ``w <- w + eta * g(w)``.

    Raises:
      ValueError: for a concrete ``learning_rate <= 0``.
    """
    _check_lr(learning_rate)
    return from_optax(optax.sgd(learning_rate))


def pg_heavy_ball(learning_rate: Any, beta: Any = 0.5, form: str = "polyak") -> PGOptimizer:
    """PG with heavy-ball momentum ``beta`` in ``(-1, 1)`` (negative allowed).

    ``form="polyak"`` (default) is Polyak's heavy ball
    ``w_{t+1} = w_t + eta g(w_t) + beta (w_t - w_{t-1})``, the PG-HB the public APG code runs
    (``PG_heavy_ball``: gradient at the current iterate, value recorded there);
    ``form="lookahead"`` takes the gradient at the extrapolated point instead (Nesterov's form
    with a constant coefficient). See
    :func:`jaxcurr.transforms.negative_momentum.scale_by_heavy_ball`.

    Raises:
      ValueError: for ``learning_rate <= 0``, ``beta`` outside ``(-1, 1)`` or an unknown form.
    """
    _check_lr(learning_rate)
    return from_optax(heavy_ball(learning_rate, beta, form))


def pg_adam(learning_rate: Any, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8
            ) -> PGOptimizer:
    """PG-Adam: ``optax.adam`` applied to ``-grad V``.

    Raises:
      ValueError: for ``learning_rate <= 0``.
    """
    _check_lr(learning_rate)
    return from_optax(optax.adam(learning_rate, b1=b1, b2=b2, eps=eps))


def _value_tested(
    learning_rate: Any,
    scale: Callable[[jax.Array], Any],
    extrapolate: Callable[[Any, Any, jax.Array], Any],
    test: str,
    tol: float = 0.0,
) -> PGOptimizer:
    """Shared body of APG and SPG-NM: gradient step, extrapolation, value test
    ``V(phi) + tol >= V(ref)``."""

    def init(params: Any) -> PGState:
        return PGState(params, params, jnp.zeros([], jnp.int32), ())

    def step(state: PGState, key: jax.Array, grad_fn: GradFn, value_fn: ValueFn
             ) -> tuple[PGState, PGInfo]:
        t = state.count
        g = grad_fn(state.params, key)
        c = scale(t) * learning_rate
        theta = jax.tree.map(lambda w, gi: w + c * gi, state.params, g)
        phi = extrapolate(theta, state.theta, t)
        if test == "always" or test == "none":
            keep = jnp.array(True)
        else:
            ref = state.theta if test == "previous" else theta
            keep = value_fn(phi) + tol >= value_fn(ref)  # NaN (overflowed phi) is never kept
        params = _tree_where(keep, phi, theta)
        return PGState(params, theta, optax.safe_increment(t), ()), PGInfo(committed=keep)

    return PGOptimizer(init, step)


def apg(learning_rate: Any, step_scaling: str = "code", restart: str = "previous",
        tol: float = 1e-12) -> PGOptimizer:
    """Accelerated policy gradient (Nesterov momentum ``t/(t+3)``) with a value-based restart.

    Args:
      learning_rate: ``eta > 0``.
      step_scaling: ``"code"`` (default) scales the gradient step by ``0.5 (t+1)/(t+2)`` as the
        public APG code does; ``"constant"`` uses ``eta``. Static.
      restart: ``"previous"`` (default, the public code): keep ``phi`` iff
        ``V(phi) >= V(theta_t)``; ``"current"``: iff ``V(phi) >= V(theta_{t+1})`` (monotone
        in the gradient-step point); ``"none"``: always keep ``phi`` (plain Nesterov). Static.
      tol: slack of the restart test, ``V(phi) + tol >= V(theta_t)``; 1e-12 as in the public
        code (0 for the strict test).

    The gradient is taken at ``w`` with ``w``'s own state visitation (the true gradient); the
    public code uses ``theta``'s visitation there, a bug kept out on purpose (module docstring).

    Raises:
      ValueError: for ``learning_rate <= 0``, a negative ``tol`` or an unknown option.
    """
    _check_lr(learning_rate)
    check_choice("step_scaling", step_scaling, APG_STEP_SCALINGS)
    check_choice("restart", restart, RESTARTS)
    check_range("tol", tol, low=0.0)

    def scale(t):
        tf = t.astype(jnp.result_type(float))
        return 0.5 * (tf + 1) / (tf + 2) if step_scaling == "code" else jnp.ones_like(tf)

    def extrapolate(theta, theta_prev, t):
        tf = t.astype(jnp.result_type(float))
        mu = tf / (tf + 3)
        return jax.tree.map(lambda a, b: a + mu * (a - b), theta, theta_prev)

    return _value_tested(learning_rate, scale, extrapolate, restart, tol)


def spg_nm(learning_rate: Any, lam: Any = 1e3, phi: str = "literal", commit: str = "previous"
           ) -> PGOptimizer:
    r"""SPG-NM: policy gradient with negative momentum and a conditional commit.

    The paper (Zhang et al. 2024, "Fast Stochastic Policy Gradient: Negative Momentum for
    Reinforcement Learning", arXiv:2405.12228) states the momentum-corrected point
    ``phi(t) = lam*theta(t) + (1 - lam)*(theta(t) - theta(t-1))`` with a large ``lam``
    (1e3..1e5) and a commit that keeps the new point only if its value improves on the previous
    one; the exact algorithm is not public. Readings taken here:

    * gradient step ``theta_{t+1} = w_t + eta g(w_t)`` (plain ascent from the held iterate,
      the same ``w / theta / phi`` structure as APG, which the paper's notation follows);
    * ``phi="literal"`` (default): the formula as stated. Note it simplifies to
      ``phi = theta_{t+1} + (lam - 1) theta_t``: for softmax logits this is about ``lam``
      times the previous logits, i.e. a near-greedy (low-temperature) version of the previous
      policy, and it grows the logits by about ``lam`` per commit (an overflowed ``phi`` has a
      NaN value and is rejected by the test);
    * ``phi="normalized"`` (option): the same point divided by ``lam``,
      ``phi = theta_{t+1} + beta (theta_{t+1} - theta_t)`` with ``beta = (1 - lam)/lam``
      in ``(-1, 0)``: a negative-momentum extrapolation of ordinary scale;
    * ``commit="previous"`` (default): keep ``phi`` iff ``V(phi) >= V(theta_t)``, the
      previous gradient point (the same test as APG's restart); ``"current"``: iff
      ``V(phi) >= V(theta_{t+1})`` (then ``V(w_{t+1}) >= V(theta_{t+1})`` always);
      ``"always"``: no test (the ablation the paper's summary suggests).

    Args:
      learning_rate: ``eta > 0``.
      lam: momentum coefficient ``lambda > 1`` (the paper uses 1e3..1e5). May be a traced
        array, e.g. under ``jax.vmap`` for a sweep; then it is not checked.
      phi: ``"literal"`` (default) or ``"normalized"``. Static.
      commit: ``"previous"`` (default), ``"current"`` or ``"always"``. Static.

    Raises:
      ValueError: for ``learning_rate <= 0``, a concrete ``lam <= 1`` or an unknown option.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> r = jnp.array([1.0, 0.99, 0.0])            # a 3-armed bandit
      >>> V = lambda w: jax.nn.softmax(w) @ r
      >>> opt = spg_nm(0.4, lam=1e3)
      >>> state = opt.init(jnp.zeros(3))
      >>> for _ in range(5):
      ...     state, info = opt.step(state, jax.random.key(0), lambda w, k: jax.grad(V)(w), V)
      >>> bool(1.0 - V(state.params) < 1e-3)
      True
    """
    _check_lr(learning_rate)
    check_range("lam", lam, low=1.0, low_open=True)
    check_choice("phi", phi, SPG_NM_PHI)
    check_choice("commit", commit, SPG_NM_COMMITS)

    def scale(t):
        return jnp.ones([], jnp.result_type(float))

    def extrapolate(theta, theta_prev, t):
        if phi == "literal":
            return jax.tree.map(lambda a, b: lam * a + (1 - lam) * (a - b), theta, theta_prev)
        beta = (1 - lam) / lam
        return jax.tree.map(lambda a, b: a + beta * (a - b), theta, theta_prev)

    return _value_tested(learning_rate, scale, extrapolate, commit)


def make_pg_optimizer(name: str, learning_rate: Any, **options: Any) -> PGOptimizer:
    """One of :data:`PG_OPTIMIZERS` by name, with its keyword options.

    ``"pg"`` -> :func:`pg`, ``"pg_hb"`` -> :func:`pg_heavy_ball`, ``"apg"`` -> :func:`apg`,
    ``"pg_adam"`` -> :func:`pg_adam`, ``"spg_nm"`` -> :func:`spg_nm`.

    Raises:
      ValueError: for an unknown ``name`` or bad options.
    """
    factories = {"pg": pg, "pg_hb": pg_heavy_ball, "apg": apg, "pg_adam": pg_adam,
                 "spg_nm": spg_nm}
    check_choice("name", name, PG_OPTIMIZERS)
    try:
        return factories[name](learning_rate, **options)
    except TypeError as err:
        raise ValueError(f"options for {name!r}: {err}") from None
