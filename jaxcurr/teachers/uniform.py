"""The no-teacher baseline: tasks drawn uniformly, nothing learned."""

import jax
import jax.numpy as jnp

from jaxcurr.teachers.base import Teacher


def uniform_teacher(num_tasks: int) -> Teacher:
    """A teacher that picks each of ``num_tasks`` tasks with probability ``1 / num_tasks``."""

    def init(key, obs):
        del key, obs
        return ()

    def act(state, obs, key, n):
        del state, obs
        return jax.random.randint(key, (n,), 0, num_tasks)

    def update(state, obs, tasks, rewards):
        del obs, tasks, rewards
        return state, {}

    def probs(state, obs):
        del state, obs
        return jnp.full((num_tasks,), 1.0 / num_tasks)

    return Teacher(init, act, update, probs)
