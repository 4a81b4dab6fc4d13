"""Environments with the gymnax API (``reset(key, params)``, ``step(key, state, action, params)``).

* :class:`TabularMDPEnv`, :class:`TabularMDP`, :func:`load_tabular_mdp`: the tabular tasks of
  the SPG-NM paper (3-armed bandit, 5-state 5-action MDP), shipped as package data.
* :class:`FourRooms` (module :mod:`jaxcurr.envs.four_rooms`): the Four Rooms grid world of the
  GrAdE paper, its :func:`transition_table` and exact discounted returns
  (:func:`policy_discounted_return`, :func:`optimal_discounted_return`); the paper's setting
  by default, the authors' code's by :func:`authors_code_params`. Its ``EnvParams``,
  ``EnvState`` and ``register_gymnax`` are exported here as :class:`FourRoomsParams`,
  :class:`FourRoomsState` and :func:`register_four_rooms`.
* :class:`LunarLander` (module :mod:`jaxcurr.envs.lunar_lander.env`): Gymnasium's
  ``LunarLander-v3`` with Box2D 2.3's step specialised to the lander, its legs and the ground
  (:mod:`jaxcurr.envs.lunar_lander.physics`, :mod:`jaxcurr.envs.lunar_lander.contact`) and
  Gymnasium's heuristic controller; parameters as :class:`LunarLanderParams`;
  :func:`register_lunar_lander` registers it with gymnax.
* :class:`PointMaze` (module :mod:`jaxcurr.envs.point_maze.env`): gymnasium-robotics' PointMaze
  (``PointMaze_OpenDense-v3`` and the u_maze, medium and large maps) with MuJoCo's ball and
  wall physics written by hand (:mod:`jaxcurr.envs.point_maze.physics`); :func:`reset_to_cells`
  starts an episode from given goal and reset cells, :func:`free_cells` lists a map's cells.
  Its ``EnvParams``, ``EnvState`` and ``register_gymnax`` are exported as
  :class:`PointMazeParams`, :class:`PointMazeState` and :func:`register_point_maze`.
* :class:`AdroitRelocate` and :class:`AntMaze` (package :mod:`jaxcurr.envs.mujoco`):
  gymnasium-robotics' ``AdroitHandRelocate-v1`` and ``AntMaze_*-v4`` on their own model files,
  stepped by MuJoCo's C engine through a callback or by MJX inside the program
  (:mod:`jaxcurr.envs.mujoco.physics`; needs the ``mujoco`` extra when built, not to import).
* :mod:`jaxcurr.envs.start_spaces`: the starts a teacher may choose in each of these envs.
"""

from jaxcurr.envs import four_rooms
from jaxcurr.envs.four_rooms import EnvParams as FourRoomsParams
from jaxcurr.envs.four_rooms import EnvState as FourRoomsState
from jaxcurr.envs.four_rooms import (
    FourRooms,
    TransitionTable,
    authors_code_params,
    optimal_discounted_return,
    policy_discounted_return,
    transition_table,
)
from jaxcurr.envs.four_rooms import register_gymnax as register_four_rooms
from jaxcurr.envs.lunar_lander import env as lunar_lander
from jaxcurr.envs.lunar_lander.env import EnvParams as LunarLanderParams
from jaxcurr.envs.lunar_lander.env import LunarLander
from jaxcurr.envs.lunar_lander.env import register_gymnax as register_lunar_lander
from jaxcurr.envs.mujoco.ant_maze import AntMaze
from jaxcurr.envs.mujoco.relocate import AdroitRelocate
from jaxcurr.envs.point_maze import env as point_maze
from jaxcurr.envs.point_maze.env import EnvParams as PointMazeParams
from jaxcurr.envs.point_maze.env import EnvState as PointMazeState
from jaxcurr.envs.point_maze.env import PointMaze, free_cells, reset_to_cells
from jaxcurr.envs.point_maze.env import register_gymnax as register_point_maze
from jaxcurr.envs.tabular_mdp import (
    EnvParams,
    EnvState,
    TabularMDP,
    TabularMDPEnv,
    load_tabular_mdp,
    make_tabular_mdp,
    register_gymnax,
    task_names,
)

__all__ = [
    "AdroitRelocate",
    "AntMaze",
    "EnvParams",
    "EnvState",
    "FourRooms",
    "FourRoomsParams",
    "FourRoomsState",
    "LunarLander",
    "LunarLanderParams",
    "PointMaze",
    "PointMazeParams",
    "PointMazeState",
    "TabularMDP",
    "TabularMDPEnv",
    "TransitionTable",
    "authors_code_params",
    "four_rooms",
    "free_cells",
    "load_tabular_mdp",
    "make_tabular_mdp",
    "optimal_discounted_return",
    "lunar_lander",
    "point_maze",
    "policy_discounted_return",
    "register_four_rooms",
    "register_lunar_lander",
    "register_gymnax",
    "register_point_maze",
    "reset_to_cells",
    "task_names",
    "transition_table",
]
