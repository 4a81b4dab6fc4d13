"""Pendulum-v1's starts: its angle and angular velocity, as a box.

gymnax's Pendulum-v1 resets to ``theta ~ U(-pi, pi)``, ``theta_dot ~ U(-1, 1)`` (``theta = 0``
is upright, the goal) and never terminates: every episode lasts 200 steps. A teacher's point
``u`` of the unit square becomes ``(theta, theta_dot) = low + u (high - low)`` over that box;
the goal distance of a start is ``|theta|``, how far from upright it begins.
"""

import gymnax
import jax.numpy as jnp

from jaxcurr.envs.start_spaces import StartSpace, box_start_space

LOW = (-jnp.pi, -1.0)
HIGH = (jnp.pi, 1.0)


def pendulum_starts() -> StartSpace:
    """The start space of gymnax's ``Pendulum-v1`` (module docstring)."""
    env, params = gymnax.make("Pendulum-v1")
    return box_start_space(
        env, params, LOW, HIGH,
        set_point=lambda state, point: state.replace(theta=point[0], theta_dot=point[1]),
        get_point=lambda state: jnp.stack([state.theta, state.theta_dot]),
        distance=lambda start: jnp.abs(start[0]), names=("theta", "theta_dot"),
        fixed_length=True, bins=4)
