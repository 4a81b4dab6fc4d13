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

Modules are imported on first use, so ``jaxcurr list`` stays fast. A kind of one's own is
found like a built-in one (:mod:`jaxcurr.core.plugins`): by a name that an installed package
registers under the entry-point group ``jaxcurr.kinds``, or as ``kind =
"package.module:NAME"`` in a TOML; the runner gives it validation, checkpoints, resume, sweeps,
sinks and plots as it does the built-in ones (the contract: :class:`Kind`, :class:`Engine`).
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
    """The kind ``name``: a built-in one (its module's ``KIND``), one registered under the
    ``jaxcurr.kinds`` entry points, or a ``"package.module:NAME"`` reference."""
    from jaxcurr.core import plugins

    if name in KIND_MODULES:
        return importlib.import_module(KIND_MODULES[name]).KIND
    kind = plugins.resolve(name, "jaxcurr.kinds", "kind", tuple(KIND_MODULES))
    if not isinstance(kind, Kind):
        raise ConfigError(f"kind: {name!r} is a {type(kind).__name__}; allowed: a "
                          "jaxcurr.kinds.Kind (see jaxcurr.core.engine)")
    return kind if kind.name == name else _named(kind, name)


def _named(kind: Kind, name: str) -> Kind:
    """``kind`` known by the name the TOML gave (an entry point or a reference): its configs
    read and write ``kind = name``, so a run directory's ``config.toml`` finds it again."""

    def from_dict(values: dict):
        return kind.from_dict({**values, "kind": kind.name} if values.get("kind") == name
                              else values)

    return kind._replace(name=name, from_dict=from_dict,
                         to_dict=lambda config: {**kind.to_dict(config), "kind": name})


__all__ = ["DEFAULT_KIND", "KIND_MODULES", "Engine", "Kind", "get_kind", "hyperparameter"]
