"""A start teacher of its own: a box around the goal that widens while the student keeps up.

Starts are drawn uniformly from a box of half-width ``w`` around the centre of the unit cube
(Pendulum's upright rest, see :mod:`pendulum_starts.space`), so the first episodes begin near
the goal. After each episode, with reward ``r`` (the method's signal, e.g. the return) and
``m`` an exponential moving average of earlier rewards (rate ``rate``), the box widens,
``w <- min(w + step, 1/2)``, when ``r >= m``; the first episode only sets ``m``. A box of
half-width 1/2 is the whole cube: uniform starts. The idea is the reverse curriculum's (start
near the goal, move away as the student succeeds: Florensa et al. 2017), with its
success test replaced by "as good as usual".
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxcurr.envs.start_spaces import StartSpace
from jaxcurr.teachers import StartTeacher


class WideningBoxState(NamedTuple):
    width: jax.Array  # half-width w of the box
    mean: jax.Array  # EMA m of the rewards so far
    episodes: jax.Array  # int32: rewards seen


def widening_box_teacher(space: StartSpace, start_width: float = 0.05, step: float = 0.02,
                         rate: float = 0.1) -> StartTeacher:
    """The teacher of the module docstring over ``space``'s unit cube."""
    dim = space.dim

    def init(key):
        del key
        return WideningBoxState(jnp.float32(start_width), jnp.float32(0.0), jnp.int32(0))

    def act(state, obs, key):
        del obs
        unit = 0.5 + state.width * jax.random.uniform(key, (dim,), minval=-1.0, maxval=1.0)
        return unit, unit  # what it records, the start it picks

    def observe(state, obs, raw, reward):
        del obs, raw
        first = state.episodes == 0
        widen = ~first & (reward >= state.mean)
        width = jnp.where(widen, jnp.minimum(state.width + step, 0.5), state.width)
        mean = jnp.where(first, reward, (1 - rate) * state.mean + rate * reward)
        return WideningBoxState(width, mean, state.episodes + 1), {"width": width}

    return StartTeacher(init, act, observe)
