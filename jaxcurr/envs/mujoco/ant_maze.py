"""gymnasium-robotics' AntMaze (``AntMaze_*-v4``) as a gymnax environment.

The gradient-norm paper's negative result (Campbell & Yoon 2023; docs/reference_facts.md §2,
§3b), read from gymnasium-robotics 1.4.2's ``envs/maze/ant_maze_v4.py`` and ``maze_v4.py`` and
Gymnasium's ``envs/mujoco/ant_v4.py``:

* **Model**: Gymnasium's ``ant.xml`` with the maze built into it by gymnasium-robotics' own
  ``Maze.make_maze`` (one box per wall cell, cell size 4, wall height 0.5 x 4; the maps of
  :data:`jaxcurr.envs.point_maze.env.MAZE_MAPS`): ``nq = 15`` (free joint + 8 hinges),
  ``nv = 14``, 8 motors with control range ``[-1, 1]``; timestep 0.01, frame skip 5.
* **Action** in ``[-1, 1]^8`` (MuJoCo clamps ``ctrl`` to the range; here it is clipped).
* **Observation** (31): the flattened ``Dict`` (keys sorted) ``[achieved_goal (2),
  desired_goal (2), observation (27)]`` ``= [x, y, gx, gy, qpos[2:], qvel]``.
* **Reward** ``exp(-d)`` (dense) or ``d <= 0.45`` (sparse) with ``d`` the torso's xy distance to
  the goal; ``success = d <= 0.45`` (not scaled with the maze); continuing task (never
  terminated, the goal never moves); truncated after 700 steps (open, u_maze) or 1000 (medium,
  large).
* **Reset**: as PointMaze's with every length times 4: goal = a random free cell's centre +
  ``U(-1, 1)^2``; the reset cell a uniformly random free cell whose centre is more than 2 from
  the noisy goal; start = its centre + ``U(-1, 1)^2``; ``qpos = qpos0`` with the torso's
  ``(x, y)`` at the start (height 0.75, upright, legs at 0), ``qvel = 0``
  (``reset_noise_scale = 0``). :func:`reset_to_cells` takes given cells (goal noise first, no
  minimum distance).
"""

from __future__ import annotations

import contextlib
import functools
import io
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct
from gymnax.environments import environment, spaces

from jaxcurr.core.validation import ConfigError
from jaxcurr.envs.mujoco import physics as mj
from jaxcurr.envs.point_maze import env as point_maze

SCALE = 4.0
MAZE_HEIGHT = 0.5
FRAME_SKIP = 5
OBS_SIZE = 31
NUM_ACTIONS = 8
SUCCESS_DISTANCE = 0.45
MAX_EPISODE_STEPS = {"open": 700, "u_maze": 700, "medium": 1000, "large": 1000}


@functools.cache
def load_model(maze: str) -> Any:
    """The AntMaze ``MjModel`` of map ``maze``, its XML built by gymnasium-robotics."""
    mujoco = mj.require_mujoco(f"AntMaze ({maze})")
    point_maze.maze_map(maze)
    try:  # gymnasium-robotics prints a notice about Adroit's rewards on import: not ours
        with contextlib.redirect_stderr(io.StringIO()):
            import gymnasium.envs.mujoco.ant_v4 as ant_v4
            from gymnasium_robotics.envs.maze.maze_v4 import Maze
    except ImportError:
        raise ConfigError("AntMaze builds its model with gymnasium-robotics, which is not "
                         "installed: pip install 'jaxcurr[mujoco]'") from None
    import os

    ant_xml = os.path.join(os.path.dirname(ant_v4.__file__), "assets", "ant.xml")
    grid = [list(row) for row in point_maze.MAZE_MAPS[maze]]
    _, xml_path = Maze.make_maze(ant_xml, grid, SCALE, MAZE_HEIGHT)
    try:
        return mujoco.MjModel.from_xml_path(xml_path)
    finally:
        os.remove(xml_path)


@functools.cache
def make_ant_physics(maze: str, kind: str) -> mj.HostPhysics | mj.MjxPhysics:
    """The AntMaze model on physics path ``kind``; readings ``qpos``, ``qvel``."""
    spec = mj.make_spec(load_model(maze), FRAME_SKIP,
                        readings=(mj.Reading("qpos"), mj.Reading("qvel")))
    return mj.make_physics(spec, kind)


@struct.dataclass
class EnvParams(environment.EnvParams):
    """``max_steps_in_episode``; ``maze`` a map name and ``reward_type`` (both static)."""

    max_steps_in_episode: int = MAX_EPISODE_STEPS["open"]
    maze: str = struct.field(pytree_node=False, default="open")
    reward_type: str = struct.field(pytree_node=False, default="dense")

    def __post_init__(self):
        point_maze.maze_map(self.maze)
        if self.reward_type not in point_maze.REWARD_TYPES:
            raise ValueError(f"reward_type must be one of {point_maze.REWARD_TYPES}, got "
                             f"{self.reward_type!r}")


@struct.dataclass
class EnvState(environment.EnvState):
    """``physics``: the physics path's state; ``goal`` ``[2]``; the last readings ``qpos``
    ``[15]`` and ``qvel`` ``[14]``; ``warnings``: MuJoCo warnings this episode (host path)."""

    physics: Any
    goal: jax.Array
    qpos: jax.Array
    qvel: jax.Array
    warnings: jax.Array

    @property
    def pos(self) -> jax.Array:
        """The torso's ``(x, y)``."""
        return self.qpos[..., :2]


def observation(state: EnvState) -> jax.Array:
    """``[x, y, gx, gy, qpos[2:], qvel]`` (31)."""
    return jnp.concatenate([state.qpos[..., :2], state.goal, state.qpos[..., 2:], state.qvel],
                           axis=-1)


def cell_to_xy(maze: str, cell: jax.Array) -> jax.Array:
    """Centre of cell ``(row, col)``: PointMaze's times 4."""
    return SCALE * point_maze.cell_to_xy(maze, cell)


def xy_to_cell(maze: str, xy: jax.Array) -> jax.Array:
    """int32 ``(row, col)`` of the cell holding ``(x, y)``."""
    return point_maze.xy_to_cell(maze, jnp.asarray(xy) / SCALE)


class AntMaze(environment.Environment[EnvState, EnvParams]):
    """``AntMaze_*-v4`` (module docstring) with the gymnax 1.x API.

    Args:
      maze: a key of :data:`~jaxcurr.envs.point_maze.env.MAZE_MAPS` (``"open"``:
        ``AntMaze_Open*-v4``, the paper's).
      physics: ``"host"``, ``"mjx"`` or None (the backend's default).
      reward_type: ``"dense"`` or ``"sparse"``.
    """

    def __init__(self, maze: str = "open", physics: str | None = None,
                 reward_type: str = "dense"):
        super().__init__()
        point_maze.maze_map(maze)
        self.physics_kind = mj.check_physics(physics)
        self._default_params = EnvParams(max_steps_in_episode=MAX_EPISODE_STEPS[maze],
                                         maze=maze, reward_type=reward_type)
        self.physics = make_ant_physics(maze, self.physics_kind)
        self._qpos0_xy = jnp.asarray(load_model(maze).qpos0[:2], jnp.result_type(float))

    @property
    def default_params(self) -> EnvParams:
        return self._default_params

    def reset_at(self, goal: jax.Array, start: jax.Array) -> tuple[jax.Array, EnvState]:
        """The ant upright at ``start`` (torso xy), at rest, with goal ``goal``."""
        dtype = jnp.result_type(float)
        dq = jnp.zeros(15, dtype).at[:2].set(jnp.asarray(start, dtype) - self._qpos0_xy)
        stepped = self.physics.reset(dq, jnp.zeros(14, dtype), ())
        qpos, qvel = stepped.readings
        state = EnvState(time=jnp.array(0, jnp.int32), physics=stepped.state,
                         goal=jnp.asarray(goal, dtype), qpos=qpos, qvel=qvel,
                         warnings=stepped.warnings)
        return observation(state), state

    def reset_to_cells(self, key: jax.Array, params: EnvParams, goal_cell: jax.Array,
                       reset_cell: jax.Array) -> tuple[jax.Array, EnvState]:
        """Given free cells: goal noise first, then start noise, no minimum distance."""
        return self.reset_at(*point_maze.goal_and_start_in_cells(key, params.maze, goal_cell,
                                                                 reset_cell, SCALE))

    def reset_env(self, key: jax.Array, params: EnvParams) -> tuple[jax.Array, EnvState]:
        return self.reset_at(*point_maze.default_goal_and_start(key, params.maze, SCALE))

    def step_env(self, key: jax.Array, state: EnvState, action: jax.Array, params: EnvParams
                 ) -> tuple[jax.Array, EnvState, jax.Array, jax.Array, dict[Any, Any]]:
        stepped = self.physics.step(state.physics, action, ())
        qpos, qvel = stepped.readings
        new = EnvState(time=state.time + 1, physics=stepped.state, goal=state.goal, qpos=qpos,
                       qvel=qvel, warnings=state.warnings + stepped.warnings)
        distance = jnp.linalg.norm(qpos[:2] - state.goal)
        success = distance <= SUCCESS_DISTANCE
        reward = (jnp.exp(-distance) if params.reward_type == "dense"
                  else success.astype(distance.dtype))
        info = {"success": success, "distance": distance, "warnings": stepped.warnings}
        return observation(new), new, reward, jnp.array(False), info

    def get_obs(self, state: EnvState, params: EnvParams | None = None, key=None) -> jax.Array:
        return observation(state)

    def is_terminated(self, state: EnvState, params: EnvParams) -> jax.Array:
        return jnp.array(False)

    @property
    def name(self) -> str:
        params = self._default_params
        dense = "Dense" if params.reward_type == "dense" else ""
        return f"AntMaze_{point_maze.GYMNASIUM_NAMES[params.maze]}{dense}-v4"

    @property
    def num_actions(self) -> int:
        return NUM_ACTIONS

    def action_space(self, params: EnvParams | None = None) -> spaces.Box:
        return spaces.Box(-1.0, 1.0, (NUM_ACTIONS,), jnp.float32)

    def observation_space(self, params: EnvParams | None = None) -> spaces.Box:
        return spaces.Box(-jnp.inf, jnp.inf, (OBS_SIZE,), jnp.float32)


def make_ant_maze(maze: str = "open", physics: str | None = None,
                  reward_type: str = "dense") -> point_maze.MazeSetup:
    """The AntMaze env with its cell helpers, for :func:`~jaxcurr.envs.start_spaces.
    maze_start_space`."""
    env = AntMaze(maze, physics, reward_type)
    return point_maze.MazeSetup(
        env=env, params=env.default_params, reset_to_cells=env.reset_to_cells,
        free_cells=point_maze.free_cells(maze), grid_shape=point_maze.maze_map(maze).shape,
        max_steps=env.default_params.max_steps_in_episode,
        xy_to_cell=functools.partial(xy_to_cell, maze))
