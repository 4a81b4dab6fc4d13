"""Environments with the gymnax API (``reset(key, params)``, ``step(key, state, action, params)``).

* :class:`TabularMDPEnv`, :class:`TabularMDP`, :func:`load_tabular_mdp`: the tabular tasks of
  the SPG-NM paper (3-armed bandit, 5-state 5-action MDP), shipped as package data.
"""

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
    "EnvParams",
    "EnvState",
    "TabularMDP",
    "TabularMDPEnv",
    "load_tabular_mdp",
    "make_tabular_mdp",
    "register_gymnax",
    "task_names",
]
