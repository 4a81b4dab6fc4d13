"""Where a teacher may start an environment's episodes: the unit cube mapped onto valid starts.

The start teachers (:mod:`jaxcurr.teachers.initial_state`) act in the unit cube ``[0, 1]^dim``;
a :class:`StartSpace` maps its points onto valid starts of one environment (the gradient-norm
paper's teacher action, Campbell & Yoon 2023; docs/reference_facts.md §2) and describes the
starts to the teacher and to the logs:

* **Mazes** (:func:`maze_start_space`, PointMaze): ``u = [goal_row, goal_col, reset_row,
  reset_col]``; each pair is scaled to the grid (``row = u_0 H``, ``col = u_1 W``, cell
  ``(i, j)`` centred at ``(i + 0.5, j + 0.5)``) and becomes the nearest free cell (ties: lowest
  row-major index), then gymnasium-robotics' reset with given cells. The authors' teacher asked
  for the cells directly and could name walls. A level is a (goal cell, reset cell) pair;
  the start as the teacher sees it is ``[goal xy, start xy]``; the goal distance is
  ``|goal - start|``; the log keeps the chosen cells (NaN for the env's own resets).
* **AdroitHandRelocate** (:func:`relocate_start_space`): ``u = [ball x, ball y, target x,
  target y, target z]`` mapped affinely onto the env's reset ranges (every point is valid); with
  ``hand=True`` 60 more coordinates set the 30 hand joints (within their joint limits) and their
  velocities (within ``+-hand_speed``), as the authors' 78-number action set the hand's state.
  The default leaves the hand at its reset pose: the evaluation always starts there, and the
  paper's curriculum plot is the ball-target distance. A level is a cell of a grid of ``bins``
  per ball/target coordinate; the start as the teacher sees it is the ball's body position
  ``(x, y)`` and the target ``(x, y, z)``; the goal distance is the resting ball's distance to
  the target, ``|(x, y, 0.035) - target|``; the log keeps those five numbers.
* **Any gymnax environment whose state can be set from a point of a box**
  (:func:`box_start_space`): the user writes ``set_point`` and ``get_point`` (e.g. a
  pendulum's angle and angular velocity), the unit cube maps affinely onto the box.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


class StartSpace(NamedTuple):
    """An environment's teachable starts (module docstring).

    ``reset_to(key, unit [dim]) -> (obs, env_state)``; ``describe(env_state) -> start
    [start_size]``; ``distance(start)``; ``level_of(start) -> int32``; ``levels [L, dim]``: one
    unit point per level (what PLR replays); ``log_values(unit, env_state, chosen) ->
    [len(log_names)]``, ``chosen`` false for the env's own resets; ``fixed_length``: every
    episode lasts exactly ``max_steps`` steps (the env never terminates), which lets the
    curriculum scan whole stretches of steps without teacher work.
    """

    env: Any
    params: Any
    max_steps: int
    dim: int
    start_size: int
    reset_to: Callable[[jax.Array, jax.Array], tuple[jax.Array, Any]]
    describe: Callable[[Any], jax.Array]
    distance: Callable[[jax.Array], jax.Array]
    level_of: Callable[[jax.Array], jax.Array]
    levels: np.ndarray
    log_names: tuple[str, ...]
    log_values: Callable[[jax.Array, Any, jax.Array], jax.Array]
    fixed_length: bool = False


def nearest_cell(point: jax.Array, free_cells: np.ndarray, grid_shape: tuple[int, int]
                 ) -> jax.Array:
    """int32 ``(row, col)`` of the free cell nearest to ``point`` in ``[0, 1]^2`` (clipped)."""
    cells = jnp.asarray(free_cells, jnp.int32)
    centres = cells.astype(jnp.float32) + 0.5
    scaled = jnp.clip(point, 0.0, 1.0) * jnp.asarray(grid_shape, jnp.float32)
    return cells[jnp.argmin(jnp.sum((centres - scaled) ** 2, axis=-1))]


def maze_start_space(maze: Any) -> StartSpace:
    """The starts of a :class:`~jaxcurr.envs.point_maze.env.MazeSetup` (module docstring)."""
    free = np.asarray(maze.free_cells)
    grid_shape = tuple(maze.grid_shape)
    count = len(free)
    free_index = jnp.full(grid_shape, -1, jnp.int32).at[tuple(free.T)].set(jnp.arange(count))
    centres = (free + 0.5) / np.asarray(grid_shape)
    pairs = np.stack(np.meshgrid(np.arange(count), np.arange(count), indexing="ij"), -1)
    levels = np.concatenate([centres[pairs[..., 0]], centres[pairs[..., 1]]], -1)

    def cells(unit):
        return (nearest_cell(unit[:2], free, grid_shape),
                nearest_cell(unit[2:], free, grid_shape))

    def reset_to(key, unit):
        return maze.reset_to_cells(key, maze.params, *cells(unit))

    def describe(env_state):
        return jnp.concatenate([env_state.goal, env_state.pos])

    def level_of(start):
        cell = maze.xy_to_cell(start.reshape(2, 2))
        index = free_index[cell[:, 0], cell[:, 1]]
        return index[0] * count + index[1]

    def log_values(unit, env_state, chosen):
        del env_state
        flat = jnp.stack([(c[0] * grid_shape[1] + c[1]).astype(jnp.float32)
                          for c in cells(unit)])
        return jnp.where(chosen, flat, jnp.nan)

    return StartSpace(
        env=maze.env, params=maze.params, max_steps=maze.max_steps, dim=4, start_size=4,
        reset_to=reset_to, describe=describe,
        distance=lambda start: jnp.linalg.norm(start[:2] - start[2:]), level_of=level_of,
        levels=levels.reshape(-1, 4).astype(np.float32),
        log_names=("goal_cell", "reset_cell"), log_values=log_values, fixed_length=True)


def relocate_start_space(env: Any, params: Any, bins: int = 3, hand: bool = False,
                         hand_speed: float = 1.0) -> StartSpace:
    """The starts of an :class:`~jaxcurr.envs.mujoco.relocate.AdroitRelocate` (module
    docstring): ``5`` coordinates, ``65`` with ``hand``."""
    from jaxcurr.envs.mujoco import relocate

    low = np.array(relocate.OBJECT_LOW + relocate.TARGET_LOW, np.float32)
    high = np.array(relocate.OBJECT_HIGH + relocate.TARGET_HIGH, np.float32)
    joint_low, joint_high = relocate.hand_joint_ranges()
    qpos0 = relocate.load_model().qpos0[:relocate.HAND_DOF]
    dq_low = jnp.asarray(joint_low - qpos0, jnp.float32)
    dq_high = jnp.asarray(joint_high - qpos0, jnp.float32)
    grid = np.stack(np.meshgrid(*[np.arange(bins)] * 5, indexing="ij"), -1).reshape(-1, 5)
    levels = (grid + 0.5) / bins
    if hand:
        levels = np.concatenate([levels, np.full((len(levels), 60), 0.5)], -1)  # 0.5: at rest
        levels[:, 5:5 + relocate.HAND_DOF] = np.asarray(
            (qpos0 - joint_low) / (joint_high - joint_low))  # the reset pose

    def reset_to(key, unit):
        point = low + jnp.clip(unit[:5], 0.0, 1.0) * (high - low)
        dq = qvel = None
        if hand:
            u_hand = jnp.clip(unit[5:], 0.0, 1.0)
            dq = dq_low + u_hand[:relocate.HAND_DOF] * (dq_high - dq_low)
            qvel = (2.0 * u_hand[relocate.HAND_DOF:] - 1.0) * hand_speed
        return env.reset_to(key, params, point[:2], point[2:], dq, qvel)

    def describe(env_state):
        return jnp.concatenate([env_state.object_pos, env_state.target_pos])

    def distance(start):
        ball = jnp.concatenate([start[:2], jnp.full((1,), relocate.OBJECT_Z, start.dtype)])
        return jnp.linalg.norm(ball - start[2:])

    def level_of(start):
        unit = (start - low) / (high - low)
        index = jnp.clip(jnp.floor(unit * bins), 0, bins - 1).astype(jnp.int32)
        return jnp.sum(index * bins ** jnp.arange(4, -1, -1))

    return StartSpace(
        env=env, params=params, max_steps=params.max_steps_in_episode,
        dim=5 + (2 * relocate.HAND_DOF if hand else 0), start_size=5, reset_to=reset_to,
        describe=describe, distance=distance, level_of=level_of,
        levels=levels.astype(np.float32),
        log_names=("object_x", "object_y", "target_x", "target_y", "target_z"),
        log_values=lambda unit, env_state, chosen: describe(env_state), fixed_length=True)


def box_start_space(env: Any, params: Any, low: Any, high: Any,
                    set_point: Callable[[Any, jax.Array], Any],
                    get_point: Callable[[Any], jax.Array], *, bins: int = 4,
                    distance: Callable[[jax.Array], jax.Array] | None = None,
                    names: tuple[str, ...] | None = None,
                    fixed_length: bool = False) -> StartSpace:
    """The starts of any gymnax environment whose state can be set from a point of a box.

    ``set_point(env_state, point) -> env_state`` puts the state of a default reset at
    ``point`` (e.g. a pendulum's angle and angular velocity), ``get_point(env_state) -> point``
    reads it back; a teacher's unit point ``u`` becomes ``point = low + u (high - low)`` and the
    episode starts from ``env.get_obs`` of the set state. The start as the teacher sees it and
    the log's values (``names``, default ``x0, x1, ...``) are the point; a level is a cell of a
    grid of ``bins`` per coordinate; the goal distance is ``distance(point)`` (default: the
    Euclidean distance from the box's centre). ``fixed_length``: the env never terminates, so
    every episode lasts ``params.max_steps_in_episode`` steps (Pendulum-v1 does; a goal env
    such as MountainCarContinuous-v0 does not).
    """
    low, high = np.asarray(low, np.float32), np.asarray(high, np.float32)
    if low.ndim != 1 or low.shape != high.shape or not np.all(high > low):
        raise ValueError(f"box_start_space: low {low.tolist()} and high {high.tolist()} must be "
                         "1-D of one length with high > low")
    dim = low.size
    names = tuple(names or (f"x{i}" for i in range(dim)))
    if len(names) != dim:
        raise ValueError(f"box_start_space: {len(names)} names for {dim} coordinates")
    grid = np.stack(np.meshgrid(*[np.arange(bins)] * dim, indexing="ij"), -1).reshape(-1, dim)
    centre = (low + high) / 2

    def reset_to(key, unit):
        _, state = env.reset_env(key, params)
        state = set_point(state, jnp.asarray(low + jnp.clip(unit, 0.0, 1.0) * (high - low)))
        return env.get_obs(state, params), state

    def describe(env_state):
        return jnp.asarray(get_point(env_state), jnp.float32).reshape(dim)

    def level_of(start):
        index = jnp.clip(jnp.floor((start - low) / (high - low) * bins), 0, bins - 1)
        return jnp.sum(index.astype(jnp.int32) * bins ** jnp.arange(dim - 1, -1, -1))

    return StartSpace(
        env=env, params=params, max_steps=int(params.max_steps_in_episode), dim=dim,
        start_size=dim, reset_to=reset_to, describe=describe,
        distance=distance or (lambda start: jnp.linalg.norm(start - centre)),
        level_of=level_of, levels=((grid + 0.5) / bins).astype(np.float32), log_names=names,
        log_values=lambda unit, env_state, chosen: describe(env_state),
        fixed_length=fixed_length)
