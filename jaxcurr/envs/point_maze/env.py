"""gymnasium-robotics' PointMaze (``PointMaze_OpenDense-v3`` and its maps) as a gymnax environment.

The environment of the gradient-norm teacher paper (Campbell & Yoon 2023, "Automatic Curriculum
Learning with Gradient Reward Signals"; docs/reference_facts.md §2, §3), read from
gymnasium-robotics' ``envs/maze/maze_v4.py``, ``point_maze.py``, ``point.py``, ``maps.py`` and
``assets/point/point.xml`` (versions 1.2.3 and 1.4.2 agree on all of it):

* **Maps** (:data:`MAZE_MAPS`, 1 = wall, copied from ``maps.py``): ``open`` (5x7), ``u_maze``
  (5x5), ``medium`` (8x8), ``large`` (9x12). Cell ``(i, j)`` (row, column) has its centre at
  ``x = j + 0.5 - W/2``, ``y = H/2 - (i + 0.5)`` (:func:`cell_to_xy`); every cell that is not
  a wall can hold the goal or the start.
* **Physics**: MuJoCo's step of the ball, walls included, by hand in
  :mod:`jaxcurr.envs.point_maze.physics` (formulas and sources there). Parameter
  ``contact_margin``: ``0.002`` reproduces MuJoCo 3.0.1, ``0.004`` MuJoCo 4.x (3.0.1 took the
  larger of the two geoms' 0.002 margins, later versions add them). The default is 0.002:
  MuJoCo 3.0.1 (with gymnasium-robotics 1.2.3) is what the paper's authors ran
  (docs/reference_facts.md §3), so the default is the environment their results come from. The
  two agree until the first wall contact.
* **Observation**: the flat vector that Gymnasium's ``FlattenObservation`` makes of the ``Dict``
  observation (keys sorted): ``[achieved_goal (2), desired_goal (2), observation (4)]``
  ``= [x, y, gx, gy, x, y, vx, vy]`` (:func:`observation`).
* **Reward** with ``d = |(x, y) - goal|``: ``exp(-d)`` (``reward_type="dense"``) or
  ``float(d <= 0.45)`` (``"sparse"``); ``info["success"] = d <= 0.45``. The task is continuing
  (``continuing_task=True``, ``reset_target=False``): never terminated, the goal never moves;
  truncated after ``max_steps_in_episode`` steps (300 for open and u_maze, 600 medium, 800
  large: gymnasium-robotics' registrations, :data:`MAX_EPISODE_STEPS`).
* **Reset** (``MazeEnv.reset``), ``qvel = 0``:
  default (:meth:`PointMaze.reset_env`): a uniformly random free goal cell, goal = its centre
  plus uniform ``[-0.25, 0.25]`` noise in x then y; then gymnasium-robotics redraws a uniformly
  random reset cell until its centre is more than 0.5 from the noisy goal. That loop's result
  is a uniform draw among the eligible cells, which is what is sampled here (bounded and
  jit-friendly); with noise 0.25 the eligible cells are exactly the free cells other than the
  goal's. The start is the reset cell's centre plus the same noise.
  Given cells (:func:`reset_to_cells`, gymnasium-robotics' ``options={"goal_cell": ...,
  "reset_cell": ...}``): goal noise first, then start noise, no minimum distance.
"""

from __future__ import annotations

import functools
import numbers
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from gymnax.environments import environment, spaces

from jaxcurr.envs.point_maze import physics

GYMNAX_ID = "PointMaze-v3"
MAZE_MAPS = {
    "open": ((1, 1, 1, 1, 1, 1, 1),
             (1, 0, 0, 0, 0, 0, 1),
             (1, 0, 0, 0, 0, 0, 1),
             (1, 0, 0, 0, 0, 0, 1),
             (1, 1, 1, 1, 1, 1, 1)),
    "u_maze": ((1, 1, 1, 1, 1),
               (1, 0, 0, 0, 1),
               (1, 1, 1, 0, 1),
               (1, 0, 0, 0, 1),
               (1, 1, 1, 1, 1)),
    "medium": ((1, 1, 1, 1, 1, 1, 1, 1),
               (1, 0, 0, 1, 1, 0, 0, 1),
               (1, 0, 0, 1, 0, 0, 0, 1),
               (1, 1, 0, 0, 0, 1, 1, 1),
               (1, 0, 0, 1, 0, 0, 0, 1),
               (1, 0, 1, 0, 0, 1, 0, 1),
               (1, 0, 0, 0, 1, 0, 0, 1),
               (1, 1, 1, 1, 1, 1, 1, 1)),
    "large": ((1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1),
              (1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1),
              (1, 0, 1, 1, 0, 1, 0, 1, 0, 1, 0, 1),
              (1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1),
              (1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 0, 1),
              (1, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1),
              (1, 1, 0, 1, 0, 1, 0, 1, 0, 1, 1, 1),
              (1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1),
              (1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1)),
}
GYMNASIUM_NAMES = {"open": "Open", "u_maze": "UMaze", "medium": "Medium", "large": "Large"}
MAX_EPISODE_STEPS = {"open": 300, "u_maze": 300, "medium": 600, "large": 800}
REWARD_TYPES = ("dense", "sparse")
SUCCESS_DISTANCE = 0.45
POSITION_NOISE = 0.25
MIN_RESET_DISTANCE = 0.5
OBS_SIZE = 8
# the three-box contact search (point_maze_physics) needs radius + margin < half a cell
MAX_CONTACT_MARGIN = physics.CELL_HALF_SIZE - physics.RADIUS


def _concrete(value: Any) -> np.ndarray | None:
    """``value`` as a NumPy array if it is a concrete number or array, else None (tracers)."""
    if isinstance(value, jax.core.Tracer):
        return None
    if isinstance(value, (numbers.Number, np.ndarray, np.generic, jax.Array, tuple, list)):
        return np.asarray(value)
    return None


@functools.cache
def maze_map(name: str) -> np.ndarray:
    """``[H, W]`` int8 map of maze ``name`` (1 = wall, 0 = free), read-only."""
    if name not in MAZE_MAPS:
        raise ValueError(f"maze must be one of {tuple(MAZE_MAPS)}, got {name!r}")
    grid = np.array(MAZE_MAPS[name], np.int8)
    grid.flags.writeable = False
    return grid


@functools.cache
def free_cells(name: str) -> np.ndarray:
    """``[K, 2]`` int32 ``(row, col)`` of the free cells of maze ``name``, row-major, read-only."""
    cells = np.argwhere(maze_map(name) == 0).astype(np.int32)
    cells.flags.writeable = False
    return cells


def cell_to_xy(name: str, cell: jax.Array) -> jax.Array:
    """Centre ``(x, y)`` of cell ``(row, col)`` of maze ``name``: ``x = col + 0.5 - W/2``,
    ``y = H/2 - (row + 0.5)`` (``Maze.cell_rowcol_to_xy``); broadcasts over ``cell[..., 2]``."""
    height, width = maze_map(name).shape
    cell = jnp.asarray(cell).astype(jnp.result_type(float))
    return jnp.stack([cell[..., 1] + 0.5 - width / 2, height / 2 - (cell[..., 0] + 0.5)], -1)


def xy_to_cell(name: str, xy: jax.Array) -> jax.Array:
    """int32 ``(row, col)`` of the cell holding ``(x, y)``: ``row = floor(H/2 - y)``,
    ``col = floor(x + W/2)`` (``Maze.cell_xy_to_rowcol``); broadcasts over ``xy[..., 2]``."""
    height, width = maze_map(name).shape
    xy = jnp.asarray(xy)
    return jnp.stack([jnp.floor(height / 2 - xy[..., 1]), jnp.floor(xy[..., 0] + width / 2)],
                     -1).astype(jnp.int32)


@struct.dataclass
class EnvParams(environment.EnvParams):
    """Parameters of :class:`PointMaze`; concrete values are checked when built.

    Attributes:
      max_steps_in_episode: truncation limit (300, ``PointMaze_Open*-v3``).
      contact_margin: ball-wall contact margin, ``0.002`` = MuJoCo 3.0.1 (default, the paper's
        version), ``0.004`` = MuJoCo 4.x; in ``[0, 0.4)``.
      maze: map name, a key of :data:`MAZE_MAPS` (static).
      reward_type: ``"dense"`` (``exp(-d)``) or ``"sparse"`` (``d <= 0.45``) (static).
    """

    max_steps_in_episode: int = MAX_EPISODE_STEPS["open"]
    contact_margin: float = physics.MARGIN_MUJOCO3
    maze: str = struct.field(pytree_node=False, default="open")
    reward_type: str = struct.field(pytree_node=False, default="dense")

    def __post_init__(self):
        maze_map(self.maze)
        if self.reward_type not in REWARD_TYPES:
            raise ValueError(f"reward_type must be one of {REWARD_TYPES}, got "
                             f"{self.reward_type!r}")
        margin = _concrete(self.contact_margin)
        if margin is not None and not np.all((margin >= 0) & (margin < MAX_CONTACT_MARGIN)):
            raise ValueError(f"contact_margin must be in [0, {MAX_CONTACT_MARGIN:g}) (0.002 = "
                             f"MuJoCo 3.0.1, 0.004 = MuJoCo 4.x), got {self.contact_margin!r}")
        steps = _concrete(self.max_steps_in_episode)
        if steps is not None and not (np.issubdtype(steps.dtype, np.integer)
                                      and np.all(steps >= 1)):
            raise ValueError(f"max_steps_in_episode must be an integer >= 1, got "
                             f"{self.max_steps_in_episode!r}")


@struct.dataclass
class EnvState(environment.EnvState):
    """State of :class:`PointMaze`: ``pos`` (``qpos``), ``vel`` (``qvel``, not clipped),
    ``goal`` ``[2]`` in the default float dtype, and the int32 step count ``time``."""

    pos: jax.Array
    vel: jax.Array
    goal: jax.Array


def observation(state: EnvState) -> jax.Array:
    """``[achieved_goal, desired_goal, observation] = [x, y, gx, gy, x, y, vx, vy]``."""
    return jnp.concatenate([state.pos, state.goal, state.pos, state.vel], axis=-1)


def _noise(key: jax.Array, scale: float) -> jax.Array:
    return jax.random.uniform(key, (2,), jnp.result_type(float), -POSITION_NOISE * scale,
                              POSITION_NOISE * scale)


def _start(pos: jax.Array, goal: jax.Array) -> tuple[jax.Array, EnvState]:
    state = EnvState(time=jnp.array(0, jnp.int32), pos=pos, vel=jnp.zeros_like(pos), goal=goal)
    return observation(state), state


def check_cell(field: str, cell: Any, maze: str) -> None:
    """One error line unless a concrete ``cell`` is an int (row, col) free cell of ``maze``."""
    value = _concrete(cell)
    if value is None:
        return
    grid = maze_map(maze)
    ok = (value.shape == (2,) and np.issubdtype(value.dtype, np.integer)
          and 0 <= value[0] < grid.shape[0] and 0 <= value[1] < grid.shape[1])
    if not ok or grid[value[0], value[1]] != 0:
        raise ValueError(f"{field} must be an integer (row, col) free cell of the {maze!r} "
                         f"maze (not a wall), got {cell!r}")


def goal_and_start_in_cells(key: jax.Array, maze: str, goal_cell: jax.Array,
                            reset_cell: jax.Array, scale: float = 1.0
                            ) -> tuple[jax.Array, jax.Array]:
    """gymnasium-robotics' ``options`` reset with cells of size ``scale`` (1: PointMaze, 4:
    AntMaze): goal = ``scale`` x centre of ``goal_cell`` + U[-0.25, 0.25]^2 ``scale``, then the
    start likewise from ``reset_cell``; no minimum distance. Cells are int ``(row, col)`` free
    cells (checked when concrete)."""
    check_cell("goal_cell", goal_cell, maze)
    check_cell("reset_cell", reset_cell, maze)
    key_goal, key_start = jax.random.split(key)
    goal = scale * cell_to_xy(maze, goal_cell) + _noise(key_goal, scale)
    return goal, scale * cell_to_xy(maze, reset_cell) + _noise(key_start, scale)


def default_goal_and_start(key: jax.Array, maze: str, scale: float = 1.0
                           ) -> tuple[jax.Array, jax.Array]:
    """gymnasium-robotics' default maze reset with cells of size ``scale`` (module docstring:
    a random free goal cell, the reset cell uniform among those whose centre is more than
    ``0.5 scale`` from the noisy goal, noise ``U[-0.25, 0.25]^2 scale`` on both)."""
    centres = scale * cell_to_xy(maze, free_cells(maze))  # [K, 2]
    key_goal, key_goal_noise, key_reset, key_start_noise = jax.random.split(key, 4)
    goal_index = jax.random.randint(key_goal, (), 0, len(centres))
    goal = centres[goal_index] + _noise(key_goal_noise, scale)
    eligible = jnp.linalg.norm(centres - goal, axis=-1) > MIN_RESET_DISTANCE * scale
    reset_index = jax.random.categorical(key_reset, jnp.where(eligible, 0.0, -jnp.inf))
    return goal, centres[reset_index] + _noise(key_start_noise, scale)


def reset_to_cells(key: jax.Array, params: EnvParams, goal_cell: jax.Array,
                   reset_cell: jax.Array) -> tuple[jax.Array, EnvState]:
    """Reset with given cells (:func:`goal_and_start_in_cells`), ``qvel = 0``. Returns
    ``(obs, state)``; jit- and vmap-able."""
    goal, start = goal_and_start_in_cells(key, params.maze, goal_cell, reset_cell)
    return _start(start, goal)


class PointMaze(environment.Environment[EnvState, EnvParams]):
    """gymnasium-robotics' PointMaze (module docstring) with the gymnax 1.x API.

    Everything that shapes the dynamics lives in :class:`EnvParams`; the constructor only sets
    :attr:`default_params` (the map's registered step limit, 0.002 margin).

    Args:
      maze: a key of :data:`MAZE_MAPS` (``"open"``: ``PointMaze_Open*-v3``).
      reward_type: ``"dense"`` or ``"sparse"``.

    Example:
      >>> import jax
      >>> from jaxcurr.envs import PointMaze
      >>> env = PointMaze("open")
      >>> obs, state = env.reset(jax.random.key(0))
      >>> obs, state, reward, terminated, truncated, info = env.step(
      ...     jax.random.key(1), state, jax.numpy.array([1.0, 0.0]))
      >>> obs.shape, env.name
      ((8,), 'PointMaze_OpenDense-v3')
    """

    def __init__(self, maze: str = "open", reward_type: str = "dense"):
        super().__init__()
        maze_map(maze)
        self._default_params = EnvParams(max_steps_in_episode=MAX_EPISODE_STEPS[maze],
                                         maze=maze, reward_type=reward_type)

    @property
    def default_params(self) -> EnvParams:
        return self._default_params

    def step_env(
        self, key: jax.Array, state: EnvState, action: jax.Array, params: EnvParams
    ) -> tuple[jax.Array, EnvState, jax.Array, jax.Array, dict[Any, Any]]:
        walls = maze_map(params.maze) == 1
        pos, vel = physics.step(state.pos, state.vel, action, walls, params.contact_margin)
        new = EnvState(time=state.time + 1, pos=pos, vel=vel, goal=state.goal)
        distance = jnp.linalg.norm(pos - state.goal)
        success = distance <= SUCCESS_DISTANCE
        if params.reward_type == "dense":
            reward = jnp.exp(-distance)
        else:
            reward = success.astype(distance.dtype)
        info = {"success": success, "distance": distance}
        return observation(new), new, reward, self.is_terminated(new, params), info

    def reset_env(self, key: jax.Array, params: EnvParams) -> tuple[jax.Array, EnvState]:
        goal, start = default_goal_and_start(key, params.maze)
        return _start(start, goal)

    def get_obs(self, state: EnvState, params: EnvParams | None = None, key=None) -> jax.Array:
        return observation(state)

    def is_terminated(self, state: EnvState, params: EnvParams) -> jax.Array:
        return jnp.array(False)

    @property
    def name(self) -> str:
        """gymnasium-robotics' id of the default map and reward, e.g. PointMaze_OpenDense-v3."""
        params = self._default_params
        dense = "Dense" if params.reward_type == "dense" else ""
        return f"PointMaze_{GYMNASIUM_NAMES[params.maze]}{dense}-v3"

    @property
    def num_actions(self) -> int:
        return 2

    def action_space(self, params: EnvParams | None = None) -> spaces.Box:
        return spaces.Box(-physics.CTRL_LIMIT, physics.CTRL_LIMIT, (2,), jnp.float32)

    def observation_space(self, params: EnvParams | None = None) -> spaces.Box:
        return spaces.Box(-jnp.inf, jnp.inf, (OBS_SIZE,), jnp.float32)

    def state_space(self, params: EnvParams | None = None) -> spaces.Dict:
        params = self.default_params if params is None else params
        box = spaces.Box(-jnp.inf, jnp.inf, (2,), jnp.float32)
        return spaces.Dict({"pos": box, "vel": box, "goal": box,
                            "time": spaces.Discrete(params.max_steps_in_episode)})


class MazeSetup(NamedTuple):
    """A maze ready for a training loop (:func:`make_maze`)."""

    env: PointMaze
    params: EnvParams
    reset_to_cells: Any  # (key, params, goal_cell, reset_cell) -> (obs, state)
    free_cells: np.ndarray  # [K, 2] (row, col)
    grid_shape: tuple[int, int]
    max_steps: int
    xy_to_cell: Any  # xy [..., 2] -> int32 (row, col) of this maze


def make_maze(maze: str = "open", reward_type: str = "dense",
              contact_margin: float = physics.MARGIN_MUJOCO3) -> MazeSetup:
    """The environment, its parameters (with ``contact_margin``) and the maze's cell helpers."""
    env = PointMaze(maze, reward_type)
    params = env.default_params.replace(contact_margin=contact_margin)
    return MazeSetup(env=env, params=params, reset_to_cells=reset_to_cells,
                     free_cells=free_cells(maze), grid_shape=maze_map(maze).shape,
                     max_steps=params.max_steps_in_episode,
                     xy_to_cell=functools.partial(xy_to_cell, maze))


def register_gymnax(env_id: str = GYMNAX_ID) -> None:
    """Make ``gymnax.make(env_id, maze=..., reward_type=...)`` build a :class:`PointMaze`
    (idempotent)."""
    from gymnax import registration

    if env_id not in registration.registered_envs:
        registration.register(env_id, PointMaze)
