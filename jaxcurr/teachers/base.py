"""The teacher interface: a NamedTuple of pure functions, like optax's GradientTransformation.

``init(key, obs) -> state``; ``act(state, obs, key, n) -> tasks [n]``;
``update(state, obs, tasks, rewards) -> (state, info)``; ``probs(state, obs) -> [K]``.
A teacher holds configuration only; its state lives in the caller's train state.
"""

from collections.abc import Callable
from typing import Any, NamedTuple


class Teacher(NamedTuple):
    init: Callable[..., Any]
    act: Callable[..., Any]
    update: Callable[..., Any]
    probs: Callable[..., Any]
