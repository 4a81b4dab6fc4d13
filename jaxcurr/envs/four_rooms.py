"""Four Rooms grid world of the GrAdE paper as a gymnax environment, with its exact values.

The task of Nilabh & Sinha Choudhury 2024, "Efficiently Managing Exploration and Gradient
Stability in Deep Policy Gradient Methods" (section "MDP Formalization"; facts from the authors'
code in docs/reference_facts.md §5): an 11x11 grid, ``x`` = column 0..10, ``y`` = row 0..10
(up is ``+y``), 17 wall cells leaving 104 free cells joined by the doors (1,5), (5,1), (5,8),
(8,4). Actions 0 up (+y), 1 down (-y), 2 left (-x), 3 right (+x). The move actually made is the
intended one with probability ``1 - slip_prob`` and each of the two perpendicular ones with
``slip_prob / 2`` (0.8/0.1/0.1). Moves are clipped to the grid; a move into a wall leaves the
agent in place. Start (0, 0), goal (10, 10); ``R(s, a, s') = 0`` if ``s'`` is the goal, else
-1. The episode ends at the goal or is truncated after ``max_steps_in_episode`` steps.

Two settings (docs/reference_facts.md §5, §10): the paper's text, "episodes terminate at goal
state (10,10) or after 459 steps", is the default (``EnvParams()``: 459 steps, termination at
the goal); the authors' code never ends an episode at the goal and checks ``t == 459`` before
incrementing ``t``, so it truncates after 460 steps (:func:`authors_code_params`). The default
follows the paper because the paper's results are what is compared against; the code's setting
is one call away.

The transition rule lives in :func:`outcomes`; ``FourRooms.step_env`` samples from it and
:func:`transition_table` tabulates it, so the exact values (:func:`policy_discounted_return`,
:func:`optimal_discounted_return`) are those of the environment that is sampled.

State index ``i`` is the ``i``-th free cell in ``(x, y)`` lexicographic order (:data:`CELLS`).
"""

from __future__ import annotations

import numbers
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from gymnax.environments import environment, spaces

GYMNAX_ID = "FourRooms-Grade-v0"
GRID_SIZE = 11
WALLS = ((0, 5), (2, 5), (3, 5), (4, 5), (5, 0), (5, 2), (5, 3), (5, 4), (5, 5), (5, 6), (5, 7),
         (5, 9), (5, 10), (6, 4), (7, 4), (9, 4), (10, 4))
NUM_ACTIONS = 4
OBSERVATIONS = ("one_hot", "xy")

_FREE = np.ones((GRID_SIZE, GRID_SIZE), bool)  # indexed [x, y]
_FREE[tuple(np.array(WALLS).T)] = False
CELLS = np.argwhere(_FREE).astype(np.int32)  # [S, 2] (x, y) of each state index
NUM_STATES = len(CELLS)
_CELL_INDEX = np.full((GRID_SIZE, GRID_SIZE), -1, np.int32)
_CELL_INDEX[CELLS[:, 0], CELLS[:, 1]] = np.arange(NUM_STATES, dtype=np.int32)
_DELTAS = np.array([[0, 1], [0, -1], [-1, 0], [1, 0]], np.int32)  # up, down, left, right
_PERPENDICULAR = np.array([[2, 3], [2, 3], [0, 1], [0, 1]], np.int32)
PAPER_MAX_STEPS = 459         # "terminate at goal state (10,10) or after 459 steps"
AUTHORS_CODE_MAX_STEPS = 460  # their code: `if t == 459: done` before `t += 1`


def _concrete(value: Any) -> np.ndarray | None:
    """``value`` as a NumPy array if it is a concrete number or array, else None (tracers)."""
    if isinstance(value, jax.core.Tracer):
        return None
    if isinstance(value, (numbers.Number, np.ndarray, np.generic, jax.Array)):
        return np.asarray(value)
    return None


@struct.dataclass
class EnvParams(environment.EnvParams):
    """Parameters of :class:`FourRooms`; concrete values are checked when built.

    Attributes:
      slip_prob: total probability that the move is replaced by a perpendicular one (0.2).
      max_steps_in_episode: step limit (459, the paper; the authors' code truncates after 460).
      start, goal: ``(x, y)`` free cells, (0, 0) and (10, 10).
      terminate_at_goal: end the episode on reaching the goal (paper); False = authors' code.
    """

    slip_prob: float = 0.2
    max_steps_in_episode: int = PAPER_MAX_STEPS
    start: jax.Array = struct.field(default_factory=lambda: jnp.array([0, 0], jnp.int32))
    goal: jax.Array = struct.field(default_factory=lambda: jnp.array([10, 10], jnp.int32))
    terminate_at_goal: bool = True

    def __post_init__(self):
        slip = _concrete(self.slip_prob)
        if slip is not None and not np.all((slip >= 0) & (slip <= 1)):
            raise ValueError(f"slip_prob must be in [0, 1], got {self.slip_prob!r}")
        steps = _concrete(self.max_steps_in_episode)
        if steps is not None and not (np.issubdtype(steps.dtype, np.integer)
                                      and np.all(steps >= 1)):
            raise ValueError(f"max_steps_in_episode must be an integer >= 1, got "
                             f"{self.max_steps_in_episode!r}")
        for name in ("start", "goal"):
            cell = _concrete(getattr(self, name))
            if cell is None:
                continue
            ok = (cell.shape[-1:] == (2,) and np.issubdtype(cell.dtype, np.integer)
                  and np.all((cell >= 0) & (cell < GRID_SIZE)))
            if not ok or not np.all(_FREE[cell[..., 0], cell[..., 1]]):
                raise ValueError(f"{name} must be an integer (x, y) free cell of the 11x11 grid "
                                 f"(not a wall), got {getattr(self, name)!r}")
        flag = _concrete(self.terminate_at_goal)
        if flag is not None and flag.dtype != np.bool_:
            raise ValueError(f"terminate_at_goal must be a bool, got {self.terminate_at_goal!r}")


@struct.dataclass
class EnvState(environment.EnvState):
    """State of :class:`FourRooms`: ``pos`` int32 ``(x, y)`` and the step count ``time``."""

    pos: jax.Array
    time: jax.Array


def authors_code_params(**overrides: Any) -> EnvParams:
    """Four Rooms as the authors' code runs it: no termination at the goal, truncation after
    460 steps (``AUTHORS_CODE_MAX_STEPS``); keyword ``overrides`` replace other fields."""
    return EnvParams(max_steps_in_episode=AUTHORS_CODE_MAX_STEPS, terminate_at_goal=False,
                     **overrides)


def cell_index(pos: jax.Array) -> jax.Array:
    """State index of the free cell ``pos = (x, y)`` (-1 for a wall); broadcasts over ``pos``."""
    return jnp.asarray(_CELL_INDEX)[pos[..., 0], pos[..., 1]]


def outcomes(pos: jax.Array, action: jax.Array, slip_prob: jax.Array) -> tuple[jax.Array,
                                                                              jax.Array]:
    """The transition rule: next position after each of the 4 moves and its probability.

    Move ``m`` leads to ``clip(pos + delta_m, 0, 10)``, or stays at ``pos`` if that is a wall;
    ``P(m | action) = 1 - slip_prob`` for ``m = action``, ``slip_prob / 2`` for the two moves
    perpendicular to it, else 0.

    Returns:
      ``(next_pos [4, 2] int32, probs [4])``, indexed by the move made.
    """
    pos = jnp.asarray(pos, jnp.int32)
    target = jnp.clip(pos + jnp.asarray(_DELTAS), 0, GRID_SIZE - 1)
    blocked = ~jnp.asarray(_FREE)[target[:, 0], target[:, 1]]
    next_pos = jnp.where(blocked[:, None], pos, target)
    perpendicular = jax.nn.one_hot(jnp.asarray(_PERPENDICULAR)[action], NUM_ACTIONS).sum(0)
    probs = (1 - slip_prob) * jax.nn.one_hot(action, NUM_ACTIONS) + slip_prob / 2 * perpendicular
    return next_pos, probs


class FourRooms(environment.Environment[EnvState, EnvParams]):
    """Four Rooms (GrAdE paper) with the gymnax 1.x API; 6-value ``step`` with auto-reset.

    Args:
      observation: ``"one_hot"`` (one-hot of the state index, length 104) or ``"xy"``
        (``(x / 10, y / 10)``).

    Example:
      >>> import jax
      >>> from jaxcurr.envs import FourRooms
      >>> env = FourRooms()
      >>> obs, state = env.reset(jax.random.key(0))
      >>> obs, state, reward, terminated, truncated, info = env.step(
      ...     jax.random.key(1), state, 3)
      >>> obs.shape, float(reward)
      ((104,), -1.0)
    """

    def __init__(self, observation: str = "one_hot"):
        super().__init__()
        if observation not in OBSERVATIONS:
            raise ValueError(f"observation must be one of {OBSERVATIONS}, got {observation!r}")
        self.observation = observation

    @property
    def default_params(self) -> EnvParams:
        return EnvParams()

    def step_env(
        self, key: jax.Array, state: EnvState, action: int | jax.Array, params: EnvParams
    ) -> tuple[jax.Array, EnvState, jax.Array, jax.Array, dict[Any, Any]]:
        next_pos, probs = outcomes(state.pos, action, params.slip_prob)
        move = jax.random.choice(key, NUM_ACTIONS, p=probs)
        new = EnvState(pos=next_pos[move], time=state.time + 1)
        at_goal = jnp.all(new.pos == params.goal)
        reward = jnp.where(at_goal, 0.0, -1.0).astype(jnp.float32)
        terminated = self.is_terminated(new, params)
        info = {"discount": 1.0 - terminated.astype(jnp.float32), "move": move}
        return self.get_obs(new, params), new, reward, terminated, info

    def reset_env(self, key: jax.Array, params: EnvParams) -> tuple[jax.Array, EnvState]:
        state = EnvState(pos=jnp.asarray(params.start, jnp.int32),
                         time=jnp.array(0, jnp.int32))
        return self.get_obs(state, params), state

    def get_obs(self, state: EnvState, params: EnvParams | None = None, key=None) -> jax.Array:
        if self.observation == "one_hot":
            return jax.nn.one_hot(cell_index(state.pos), NUM_STATES)
        return state.pos.astype(jnp.float32) / (GRID_SIZE - 1)

    def all_observations(self, params: EnvParams | None = None) -> jax.Array:
        """``[104, obs_dim]`` float32: the observation of every free cell, in state order."""
        pos = jnp.asarray(CELLS)
        state = EnvState(pos=pos, time=jnp.zeros(NUM_STATES, jnp.int32))
        return self.get_obs(state, params)

    def is_terminated(self, state: EnvState, params: EnvParams) -> jax.Array:
        return jnp.logical_and(params.terminate_at_goal, jnp.all(state.pos == params.goal))

    @property
    def name(self) -> str:
        return GYMNAX_ID

    @property
    def num_actions(self) -> int:
        return NUM_ACTIONS

    def action_space(self, params: EnvParams | None = None) -> spaces.Discrete:
        return spaces.Discrete(NUM_ACTIONS)

    def observation_space(self, params: EnvParams | None = None) -> spaces.Box:
        size = NUM_STATES if self.observation == "one_hot" else 2
        return spaces.Box(0.0, 1.0, (size,), jnp.float32)

    def state_space(self, params: EnvParams | None = None) -> spaces.Dict:
        params = self.default_params if params is None else params
        return spaces.Dict({"pos": spaces.Box(0, GRID_SIZE - 1, (2,), jnp.int32),
                            "time": spaces.Discrete(params.max_steps_in_episode)})


class TransitionTable(NamedTuple):
    """Four Rooms as arrays (``S = 104`` states, ``A = 4`` actions).

    Attributes:
      probs: ``[S, A, S]`` float32 ``P(s' | s, a)``.
      rewards: ``[S, A]`` float32 expected reward ``-(1 - P(goal | s, a))``.
      terminal: ``[S]`` bool, the goal if ``terminate_at_goal``.
      start: int32 index of the start cell.
      cells: ``[S, 2]`` int32 ``(x, y)`` of each state.
    """

    probs: jax.Array
    rewards: jax.Array
    terminal: jax.Array
    start: jax.Array
    cells: jax.Array


def transition_table(params: EnvParams) -> TransitionTable:
    """Tabulate :func:`outcomes` over every (free cell, action); jit- and vmap-able."""
    cells = jnp.asarray(CELLS)
    actions = jnp.arange(NUM_ACTIONS)
    per_action = jax.vmap(outcomes, in_axes=(None, 0, None))
    next_pos, move_probs = jax.vmap(per_action, in_axes=(0, None, None))(
        cells, actions, params.slip_prob)  # [S, A, 4, 2], [S, A, 4]
    next_onehot = jax.nn.one_hot(cell_index(next_pos), NUM_STATES)  # [S, A, 4, S]
    probs = jnp.einsum("sam,samt->sat", move_probs, next_onehot).astype(jnp.float32)
    goal = cell_index(jnp.asarray(params.goal))
    rewards = probs[:, :, goal] - 1.0
    terminal = jnp.logical_and(params.terminate_at_goal, jnp.arange(NUM_STATES) == goal)
    return TransitionTable(probs=probs, rewards=rewards, terminal=terminal,
                           start=cell_index(jnp.asarray(params.start)), cells=cells)


def _check_gamma(gamma: Any) -> None:
    g = _concrete(gamma)
    if g is not None and not np.all((g >= 0) & (g <= 1)):
        raise ValueError(f"gamma must be in [0, 1], got {gamma!r}")


def _backward_values(params: EnvParams, gamma: jax.Array, backup) -> jax.Array:
    """``V_H(start)`` of ``V_k = 0`` at terminal states, else ``backup(r + gamma P V_{k-1})``.

    ``V_0 = 0`` and ``H = max_steps_in_episode``: the finite-horizon recursion of an episode
    that is truncated after ``H`` steps.
    """
    table = transition_table(params)

    def one_step(_, v):
        q = table.rewards + gamma * jnp.einsum("sat,t->sa", table.probs, v)
        return jnp.where(table.terminal, 0.0, backup(q))

    v = jax.lax.fori_loop(0, params.max_steps_in_episode, one_step,
                          jnp.zeros(NUM_STATES, jnp.float32))
    return v[table.start]


def policy_discounted_return(params: EnvParams, policy: jax.Array, gamma: float | jax.Array
                             ) -> jax.Array:
    """Exact ``E[sum_{t<T} gamma^t r_t]`` from the start cell under a stationary policy.

    Args:
      policy: ``[104, 4]`` action probabilities per state index (a greedy policy is one-hot).
      gamma: discount in ``[0, 1]``.
    """
    if jnp.shape(policy) != (NUM_STATES, NUM_ACTIONS):
        raise ValueError(f"policy must have shape ({NUM_STATES}, {NUM_ACTIONS}) (states, "
                         f"actions), got {jnp.shape(policy)}")
    _check_gamma(gamma)
    return _backward_values(params, gamma, lambda q: jnp.sum(policy * q, axis=-1))


def optimal_discounted_return(params: EnvParams, gamma: float | jax.Array) -> jax.Array:
    """The optimal ``E[sum_{t<T} gamma^t r_t]`` from the start: finite-horizon value iteration."""
    _check_gamma(gamma)
    return _backward_values(params, gamma, lambda q: jnp.max(q, axis=-1))


def register_gymnax(env_id: str = GYMNAX_ID) -> None:
    """Make ``gymnax.make(env_id, observation=...)`` build a :class:`FourRooms` (idempotent)."""
    from gymnax import registration

    if env_id not in registration.registered_envs:
        registration.register(env_id, FourRooms)
