"""Experiment kinds, registered by name; a TOML's ``kind = "..."`` picks one.

* ``classifier_curriculum``: teacher-student curriculum over dataset classes or groups
  (:mod:`jaxcurr.kinds.classifier_curriculum`).
* ``discrete_sac``: Discrete SAC x Grokfast/GrAdE variants on Four Rooms or any gymnax env
  (:mod:`jaxcurr.kinds.discrete_sac`).
* ``initial_state_curriculum``: a REINFORCE teacher choosing a SAC student's starts on
  PointMaze, rewarded by actor-gradient signals (:mod:`jaxcurr.kinds.initial_state_curriculum`).
* ``ppo``: standard PPO or the paper's episodic PPO x Grokfast/GrAdE variants on any gymnax env
  (:mod:`jaxcurr.kinds.ppo`).
* ``tabular_pg``: PG / PG-HB / APG / PG-Adam / SPG-NM on the tabular MDPs
  (:mod:`jaxcurr.kinds.tabular_pg`).

Modules are imported on first use, so ``jaxcurr list`` stays fast.
"""

from __future__ import annotations

import importlib

from jaxcurr.core.engine import Engine, Kind, hyperparameter
from jaxcurr.core.validation import ConfigError

KIND_MODULES = {
    "classifier_curriculum": "jaxcurr.kinds.classifier_curriculum",
    "discrete_sac": "jaxcurr.kinds.discrete_sac",
    "initial_state_curriculum": "jaxcurr.kinds.initial_state_curriculum",
    "ppo": "jaxcurr.kinds.ppo",
    "tabular_pg": "jaxcurr.kinds.tabular_pg",
}
DEFAULT_KIND = "classifier_curriculum"


def get_kind(name: str) -> Kind:
    """The registered kind ``name`` (its module's ``KIND``)."""
    if name not in KIND_MODULES:
        raise ConfigError(f"kind: got {name!r}; allowed: " + ", ".join(map(repr, KIND_MODULES)))
    return importlib.import_module(KIND_MODULES[name]).KIND


__all__ = ["DEFAULT_KIND", "KIND_MODULES", "Engine", "Kind", "get_kind", "hyperparameter"]
