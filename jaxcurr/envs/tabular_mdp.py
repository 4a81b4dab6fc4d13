"""Tabular MDPs as arrays, the task file that ships with jaxcurr, and a gymnax environment.

A :class:`TabularMDP` holds everything the exact policy-gradient quantities need (rewards
``r[s, a]``, transitions ``P[s, a, s']``, initial-state distribution ``rho[s]``, discount
``gamma``) plus the task's initial policy logits. All fields are arrays (pytree leaves), so
MDPs of one shape can be stacked and vmapped.

The tasks are those of the SPG-NM paper (Zhang et al. 2024, "Fast Stochastic Policy Gradient:
Negative Momentum for Reinforcement Learning", arXiv:2405.12228), stored in
``jaxcurr/envs/tabular_mdps.json``:

* ``bandit_uniform`` / ``bandit_hard``: a 3-armed bandit (one state, rewards 1, 0.99, 0,
  ``gamma = 0``) with initial logits 0, 0, 0 or the "hard" 1, 3, 5 (most mass on the worst arm);
* ``mdp_5s5a_uniform`` / ``mdp_5s5a_hard``: a 5-state, 5-action MDP with ``gamma = 0.9``.

:class:`TabularMDPEnv` samples such an MDP through the gymnax API (``reset(key, params) ->
(obs, state)``, ``step(key, state, action, params)``). The observation is the one-hot state.
The episode never terminates by itself; it is truncated after ``max_steps_in_episode`` steps
(then gymnax resets it automatically), so a discounted Monte-Carlo return over ``H`` steps has
bias at most ``gamma**H * max|r| / (1 - gamma)``.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from gymnax.environments import environment, spaces

TASK_FILE = "tabular_mdps.json"
GYMNAX_ID = "TabularMDP-jaxcurr"


@struct.dataclass
class TabularMDP:
    """A finite discounted MDP with a softmax-policy initialisation; every field is an array.

    Attributes:
      reward: ``[S, A]`` expected immediate reward ``r(s, a)``.
      transition: ``[S, A, S]`` probabilities ``P(s' | s, a)``; each ``[s, a]`` row sums to 1.
      rho: ``[S]`` initial-state distribution.
      gamma: scalar discount in ``[0, 1)``; 0 makes ``V(rho)`` the expected immediate reward.
      initial_logits: ``[S, A]`` the task's initial softmax policy parameters.
    """

    reward: jax.Array
    transition: jax.Array
    rho: jax.Array
    gamma: jax.Array
    initial_logits: jax.Array

    @property
    def num_states(self) -> int:
        return self.reward.shape[-2]

    @property
    def num_actions(self) -> int:
        return self.reward.shape[-1]


def make_tabular_mdp(
    reward: Any,
    transition: Any,
    rho: Any,
    gamma: Any,
    initial_logits: Any | None = None,
    dtype: Any = None,
) -> TabularMDP:
    """Build a :class:`TabularMDP` from nested lists or arrays, checking shapes and probabilities.

    ``initial_logits`` defaults to zeros (the uniform policy). ``dtype`` defaults to JAX's
    default float type (float32, or float64 with ``jax_enable_x64``).

    Raises:
      ValueError: naming the argument, for wrong shapes, negative or non-normalised
        probabilities, or ``gamma`` outside ``[0, 1)``.
    """
    dtype = jnp.dtype(dtype) if dtype is not None else jnp.zeros(()).dtype
    r = np.asarray(reward, np.float64)
    p = np.asarray(transition, np.float64)
    rho_np = np.asarray(rho, np.float64)
    if r.ndim != 2:
        raise ValueError(f"reward must have shape [states, actions], got shape {r.shape}")
    s, a = r.shape
    if p.shape != (s, a, s):
        raise ValueError(f"transition must have shape [{s}, {a}, {s}] (states, actions, next "
                         f"states), got shape {p.shape}")
    if np.any(p < 0) or not np.allclose(p.sum(-1), 1.0, atol=1e-6):
        raise ValueError("transition must hold probabilities: non-negative, each [s, a] row "
                         "summing to 1")
    if rho_np.shape != (s,) or np.any(rho_np < 0) or not np.isclose(rho_np.sum(), 1.0):
        raise ValueError(f"rho must be a probability vector of length {s}, got {rho_np}")
    g = float(gamma)
    if not 0.0 <= g < 1.0:
        raise ValueError(f"gamma must be in [0, 1), got {gamma!r}")
    logits = np.zeros((s, a)) if initial_logits is None else np.asarray(initial_logits, float)
    if logits.shape != (s, a):
        raise ValueError(f"initial_logits must have shape [{s}, {a}], got {logits.shape}")
    return TabularMDP(
        reward=jnp.asarray(r, dtype),
        transition=jnp.asarray(p, dtype),
        rho=jnp.asarray(rho_np, dtype),
        gamma=jnp.asarray(g, dtype),
        initial_logits=jnp.asarray(logits, dtype),
    )


@cache
def _task_data() -> dict[str, Any]:
    text = resources.files("jaxcurr.envs").joinpath(TASK_FILE).read_text(encoding="utf-8")
    return json.loads(text)


def task_names() -> tuple[str, ...]:
    """Names of the tasks in the shipped ``tabular_mdps.json``."""
    return tuple(_task_data())


def load_tabular_mdp(name: str, dtype: Any = None) -> TabularMDP:
    """Load one task of ``tabular_mdps.json`` (shipped inside the package) as a TabularMDP.

    Raises:
      ValueError: if ``name`` is not one of :func:`task_names`.
    """
    data = _task_data()
    if name not in data:
        allowed = ", ".join(repr(n) for n in data)
        raise ValueError(f"name must be one of {allowed}, got {name!r}")
    t = data[name]
    return make_tabular_mdp(t["reward"], t["transition"], t["initial_state_distribution"],
                            t["gamma"], t["initial_logits"], dtype=dtype)


@struct.dataclass
class EnvState(environment.EnvState):
    """State of :class:`TabularMDPEnv`: the current MDP state index and the step count."""

    state: jax.Array
    time: jax.Array


@struct.dataclass
class EnvParams(environment.EnvParams):
    """Parameters of :class:`TabularMDPEnv`: the MDP itself and the truncation horizon."""

    mdp: TabularMDP | None = None
    max_steps_in_episode: int = 200


class TabularMDPEnv(environment.Environment[EnvState, EnvParams]):
    """A :class:`TabularMDP` behind the gymnax API.

    ``reset`` draws ``s ~ rho``; ``step`` pays ``r(s, a)`` and draws ``s' ~ P(. | s, a)``.
    The observation is ``one_hot(s)``; ``info["state"]`` is the index ``s'``.

    Args:
      mdp: the MDP (or a task name of :func:`task_names`) used by ``default_params``.
      max_steps_in_episode: truncation horizon of ``default_params`` (default 200).

    Example:
      >>> import jax
      >>> from jaxcurr.envs import TabularMDPEnv
      >>> env = TabularMDPEnv("mdp_5s5a_uniform")
      >>> params = env.default_params
      >>> obs, state = env.reset(jax.random.key(0), params)
      >>> obs, state, reward, terminated, truncated, info = env.step(
      ...     jax.random.key(1), state, 0, params)
      >>> obs.shape
      (5,)
    """

    def __init__(self, mdp: TabularMDP | str = "bandit_uniform", max_steps_in_episode: int = 200):
        super().__init__()
        self.mdp = load_tabular_mdp(mdp) if isinstance(mdp, str) else mdp
        if isinstance(max_steps_in_episode, bool) or not isinstance(max_steps_in_episode, int) \
                or max_steps_in_episode < 1:
            raise ValueError(f"max_steps_in_episode must be an int >= 1, got "
                             f"{max_steps_in_episode!r}")
        self.max_steps = max_steps_in_episode

    @property
    def default_params(self) -> EnvParams:
        return EnvParams(mdp=self.mdp, max_steps_in_episode=self.max_steps)

    def step_env(
        self, key: jax.Array, state: EnvState, action: int | jax.Array, params: EnvParams
    ) -> tuple[jax.Array, EnvState, jax.Array, jax.Array, dict[Any, Any]]:
        mdp = params.mdp
        reward = mdp.reward[state.state, action]
        probs = mdp.transition[state.state, action]
        next_s = jax.random.categorical(key, jnp.log(probs))
        new = EnvState(state=next_s, time=state.time + 1)
        info = {"discount": mdp.gamma, "state": next_s}
        return self.get_obs(new, params), new, reward, jnp.array(False), info

    def reset_env(self, key: jax.Array, params: EnvParams) -> tuple[jax.Array, EnvState]:
        s = jax.random.categorical(key, jnp.log(params.mdp.rho))
        state = EnvState(state=s, time=jnp.array(0, jnp.int32))
        return self.get_obs(state, params), state

    def get_obs(self, state: EnvState, params: EnvParams | None = None, key=None) -> jax.Array:
        params = self.default_params if params is None else params
        return jax.nn.one_hot(state.state, params.mdp.num_states)

    def is_terminated(self, state: EnvState, params: EnvParams) -> jax.Array:
        return jnp.array(False)

    @property
    def name(self) -> str:
        return GYMNAX_ID

    @property
    def num_actions(self) -> int:
        return self.mdp.num_actions

    def action_space(self, params: EnvParams | None = None) -> spaces.Discrete:
        return spaces.Discrete(self.num_actions)

    def observation_space(self, params: EnvParams | None = None) -> spaces.Box:
        return spaces.Box(0.0, 1.0, (self.mdp.num_states,), jnp.float32)

    def state_space(self, params: EnvParams | None = None) -> spaces.Dict:
        horizon = self.max_steps if params is None else params.max_steps_in_episode
        return spaces.Dict({"state": spaces.Discrete(self.mdp.num_states),
                            "time": spaces.Discrete(horizon)})


def register_gymnax(env_id: str = GYMNAX_ID) -> None:
    """Make ``gymnax.make(env_id, mdp=..., max_steps_in_episode=...)`` build a TabularMDPEnv.

    Idempotent: registering an id that is already registered does nothing.
    """
    from gymnax import registration

    if env_id not in registration.registered_envs:
        registration.register(env_id, TabularMDPEnv)
