"""User code that jaxcurr's runner loads by name: entry points and ``"package.module:NAME"``.

A setting that names a component (an experiment kind, an environment, a start space, a start
teacher) accepts, in this order:

1. a built-in name;
2. a name registered by an installed package under the component's entry-point group
   (``[project.entry-points."jaxcurr.kinds"]`` in its ``pyproject.toml``: ``my_kind =
   "my_package.module:KIND"``);
3. a reference ``"package.module:NAME"`` importable from the current Python path.

Groups: ``jaxcurr.kinds`` (a :class:`~jaxcurr.core.engine.Kind`), ``jaxcurr.envs`` (a gymnax
environment factory), ``jaxcurr.start_spaces`` (a
:class:`~jaxcurr.envs.start_spaces.StartSpace` factory), ``jaxcurr.start_teachers`` (a
:class:`~jaxcurr.teachers.base.StartTeacher` factory) and ``jaxcurr.experiments`` (a package
holding experiment TOMLs). A name that resolves nowhere is one
:class:`~jaxcurr.core.validation.ConfigError` line naming the setting and what is allowed.
"""

from __future__ import annotations

import importlib
from importlib import metadata
from typing import Any

from jaxcurr.core.validation import ConfigError


def is_reference(name: Any) -> bool:
    """Whether ``name`` has the form ``"package.module:NAME"``."""
    if not isinstance(name, str) or name.count(":") != 1:
        return False
    module, attribute = name.split(":")
    return bool(module) and bool(attribute) and all(
        part.isidentifier() for part in (*module.split("."), *attribute.split(".")))


def registered(group: str) -> dict[str, metadata.EntryPoint]:
    """The entry points installed packages register under ``group``, by name."""
    return {ep.name: ep for ep in metadata.entry_points(group=group)}


def load_reference(reference: str, field: str) -> Any:
    """The object ``"package.module:NAME"`` names (``NAME`` may be dotted)."""
    module_name, attribute = reference.split(":")
    try:
        target = importlib.import_module(module_name)
    except ImportError as err:
        raise ConfigError(f"{field}: cannot import {module_name!r} ({err}); allowed: a module "
                          "importable here (installed, or on PYTHONPATH)") from None
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise ConfigError(f"{field}: module {module_name!r} has no {attribute!r}; "
                              f"allowed: a name it defines")
        target = getattr(target, part)
    return target


def resolve(name: Any, group: str, field: str, builtin: tuple[str, ...] = ()) -> Any:
    """The object a setting names: an entry point of ``group`` or a reference (module
    docstring). Built-in names are the caller's to handle; they only appear in the error."""
    entry_points = registered(group)
    if isinstance(name, str) and name in entry_points:
        try:
            return entry_points[name].load()
        except Exception as err:  # a broken plugin: say which one, not a traceback
            raise ConfigError(f"{field}: the {group} entry point {name!r} "
                              f"({entry_points[name].value}) failed to load: "
                              f"{type(err).__name__}: {err}") from None
    if is_reference(name):
        return load_reference(name, field)
    allowed = [*builtin, *sorted(entry_points)]
    raise ConfigError(f"{field}: got {name!r}; allowed: "
                      + ", ".join(repr(a) for a in allowed)
                      + (", or " if allowed else "")
                      + f"'package.module:NAME' (or a name registered under the {group!r} "
                      "entry points)")


def names(group: str, builtin: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Built-in names then the installed entry points' names of ``group``."""
    return (*builtin, *sorted(n for n in registered(group) if n not in builtin))
