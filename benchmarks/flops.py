"""Matmul FLOPs of a JAX function, counted from its jaxpr with loop trip counts.

XLA's ``cost_analysis()`` counts the body of a ``scan``/``while`` loop once, whatever its
length, so it undercounts a training loop by the number of steps. This walks the jaxpr
instead: every ``dot_general`` costs ``2 * prod(output shape) * prod(contracted sizes)``, a
``scan`` body counts ``length`` times, a ``cond`` its most expensive branch, and calls
(``pjit``, custom derivatives, remat) their inner jaxpr. A ``while`` loop's trip count is not
known statically, so it is an error.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
from jax.extend import core


def matmul_flops(fn: Callable, *args: Any) -> int:
    """FLOPs of the matrix multiplications ``fn(*args)`` performs (2 per multiply-add)."""
    return _count(jax.make_jaxpr(fn)(*args).jaxpr)


def _count(jaxpr: core.Jaxpr) -> int:
    total = 0
    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        if name == "dot_general":
            (contract, _), _ = eqn.params["dimension_numbers"]
            lhs_shape = eqn.invars[0].aval.shape
            contracted = math.prod(lhs_shape[d] for d in contract)
            total += 2 * math.prod(eqn.outvars[0].aval.shape) * contracted
        elif name == "scan":
            total += eqn.params["length"] * _count(eqn.params["jaxpr"].jaxpr)
        elif name == "cond":
            total += max(_count(branch.jaxpr) for branch in eqn.params["branches"])
        elif name == "while":
            raise ValueError("matmul_flops: a while loop has no static trip count; "
                             "use lax.scan or count its body separately")
        else:
            for value in eqn.params.values():
                for inner in value if isinstance(value, tuple | list) else (value,):
                    if isinstance(inner, core.ClosedJaxpr):
                        total += _count(inner.jaxpr)
                    elif isinstance(inner, core.Jaxpr):
                        total += _count(inner)
    return total
