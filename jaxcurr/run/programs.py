"""Compiled programs kept for the life of the process.

A second run of the same configuration in one process (a resume after an interrupt, a replaced
run, a notebook cell run again, a test suite) reuses the compiled init and chunk instead of
compiling them again. JAX's persistent compilation cache already serves programs across
processes, but it never stores programs with host callbacks (MuJoCo's host physics), whose
compilation takes tens of seconds.

The key is everything a compiled program depends on: the kind, the whole configuration (its
pickled bytes, so arrays count element by element), the data's tree structure, shapes and
dtypes, the devices, and JAX's global numeric settings. A key that cannot be formed (an
unpicklable configuration) simply means no reuse. The last :data:`MAX_PROGRAMS` are kept.
"""

from __future__ import annotations

import collections
import pickle
from typing import Any

import jax
import numpy as np

MAX_PROGRAMS = 4

_programs: collections.OrderedDict[bytes, Any] = collections.OrderedDict()


def program_key(kind_name: str, config: Any, data: Any) -> bytes | None:
    """Bytes that are equal exactly when two compilations would give the same program."""
    leaves, tree = jax.tree.flatten(data)
    shapes = [(np.shape(x), str(getattr(x, "dtype", type(x).__name__))) for x in leaves]
    settings = (jax.config.jax_enable_x64, str(jax.config.jax_default_matmul_precision))
    signature = (str(tree), shapes, [str(d) for d in jax.devices()], settings)
    try:
        return pickle.dumps((kind_name, config, signature))
    except (pickle.PicklingError, TypeError, AttributeError):
        return None


def lookup(key: bytes | None) -> Any | None:
    """The program compiled under ``key``, if it is still kept."""
    if key is None or key not in _programs:
        return None
    _programs.move_to_end(key)
    return _programs[key]


def keep(key: bytes | None, program: Any) -> None:
    """Keep ``program`` under ``key``, dropping the least recently used beyond the limit."""
    if key is None:
        return
    _programs[key] = program
    _programs.move_to_end(key)
    while len(_programs) > MAX_PROGRAMS:
        _programs.popitem(last=False)


def forget() -> None:
    """Drop every kept program (their memory goes once nothing else holds them)."""
    _programs.clear()
