"""Small helpers shared by the transforms: argument checks, state dtypes, state lookup.

Checks only look at concrete Python / NumPy numbers. Arrays (including tracers, which is what a
hyperparameter becomes under ``jax.vmap``, ``jax.jit`` or ``optax.inject_hyperparams``) are
accepted unchecked, so the transforms never branch in Python on a traced value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, TypeVar

import jax
import jax.numpy as jnp
import numpy as np

T = TypeVar("T")


def _as_python_number(value: Any) -> float | None:
    """The value as a float if it is a concrete Python/NumPy scalar, else ``None``."""
    if isinstance(value, bool | int | float | np.number):
        return float(value)
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return float(value)
    return None


def check_range(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> None:
    """Raise ``ValueError`` if a concrete number lies outside an interval (NaN always fails)."""
    x = _as_python_number(value)
    if x is None:
        return
    ok = not math.isnan(x)
    if ok and low is not None:
        ok = x > low if low_open else x >= low
    if ok and high is not None:
        ok = x < high if high_open else x <= high
    if not ok:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        raise ValueError(f"{name} must be in {left}{lo}, {hi}{right}, got {value!r}")


def check_finite(name: str, value: Any) -> None:
    """Raise ``ValueError`` if a concrete number is NaN or infinite."""
    x = _as_python_number(value)
    if x is not None and not math.isfinite(x):
        raise ValueError(f"{name} must be a finite number, got {value!r}")


def check_choice(name: str, value: Any, choices: Sequence[str]) -> None:
    """Raise ``ValueError`` unless ``value`` is one of the allowed strings."""
    if not isinstance(value, str) or value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")


def check_static_int(name: str, value: Any, *, minimum: int, hint: str = "") -> int:
    """Return ``value`` as an int, or raise ``ValueError`` if it is not a Python int >= minimum."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(
            f"{name} must be a Python int >= {minimum} (it is static: it sets array shapes)"
            f"{hint}, got {value!r}"
        )
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def check_bool_or_array(name: str, value: Any) -> None:
    """Raise ``ValueError`` unless ``value`` is a bool or an array (e.g. a traced flag)."""
    if isinstance(value, bool | np.bool_ | jax.Array | np.ndarray):
        return
    raise ValueError(f"{name} must be True or False, got {value!r}")


def filter_dtype(leaf_dtype: Any, state_dtype: Any | None) -> jnp.dtype:
    """dtype of a filter buffer for a leaf: ``state_dtype`` if given, else at least float32."""
    if state_dtype is not None:
        return jnp.dtype(state_dtype)
    return jnp.promote_types(leaf_dtype, jnp.float32)


def squared_norm(x: jax.Array) -> jax.Array:
    """Sum of squares of one leaf, accumulated in (at least) float32."""
    x = x.astype(jnp.promote_types(x.dtype, jnp.float32))
    return jnp.sum(jnp.square(jnp.abs(x)) if jnp.iscomplexobj(x) else jnp.square(x))


def find_states(tree: Any, state_type: type[T]) -> list[tuple[str, T]]:
    """All sub-states of type ``state_type`` in a nested optax state, with their paths.

    Works through ``optax.chain``, ``optax.masked``, ``optax.inject_hyperparams``,
    ``optax.multi_transform`` and any other pytree of states, with or without leading
    (e.g. vmapped) batch axes on the arrays.

    Args:
      tree: an optimizer state (any pytree).
      state_type: the NamedTuple class to look for, e.g. ``GradeState``.

    Returns:
      A list of ``(path, state)`` pairs in pytree order; ``path`` is a readable key path.
    """
    is_match = lambda x: isinstance(x, state_type)
    leaves, _ = jax.tree_util.tree_flatten_with_path(tree, is_leaf=is_match)
    return [(jax.tree_util.keystr(path), leaf) for path, leaf in leaves if is_match(leaf)]


def find_state(tree: Any, state_type: type[T]) -> T:
    """The single sub-state of type ``state_type`` in a nested optax state.

    Args:
      tree: an optimizer state (any pytree), or a ``state_type`` instance itself.
      state_type: the NamedTuple class to look for.

    Returns:
      The matching sub-state.

    Raises:
      ValueError: if there is no such sub-state, or more than one (then pass the part of the
        state that holds the one you want, e.g. ``opt_state[0]``).
    """
    found = find_states(tree, state_type)
    if not found:
        raise ValueError(
            f"no {state_type.__name__} found in the optimizer state; is the transform that "
            "creates it part of the optimizer?"
        )
    if len(found) > 1:
        paths = ", ".join(p or "<root>" for p, _ in found)
        raise ValueError(
            f"found {len(found)} {state_type.__name__} sub-states (at {paths}); pass the part "
            "of the optimizer state that holds the one you want"
        )
    return found[0][1]
