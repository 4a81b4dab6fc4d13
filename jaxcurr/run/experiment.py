"""Experiment files: find one by name, read it, pick its kind, expand its parts, validate.

An experiment TOML names its ``kind`` (default ``classifier_curriculum``) and holds that kind's
sections. It may also list ``[[part]]`` tables, each ``name = "..."`` and ``set = { "a.b" =
value, ... }``: the experiment then runs once per part (into ``<out>/<name>``), each part being
the file's settings with the part's ``set`` applied, and ``--set`` applied last. A study with
several tasks of different shapes (the SPG-NM tables) is one experiment with parts.

A name is looked up among the shipped experiments (the package data ``jaxcurr/experiments``),
then in the packages that installed distributions register under the entry-point group
``jaxcurr.experiments`` (:func:`experiment_sources`).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, NamedTuple

from jaxcurr.core.validation import ConfigError, apply_overrides, read_toml, require
from jaxcurr.kinds import DEFAULT_KIND, Kind, get_kind

SHIPPED = "jaxcurr.experiments"  # the package whose *.toml files are the shipped experiments
GROUP = "jaxcurr.experiments"  # entry points naming other packages' experiment folders


class Part(NamedTuple):
    """One runnable piece: its name ("" for an experiment without parts) and config."""

    name: str
    config: Any


class Experiment(NamedTuple):
    kind: Kind
    name: str
    parts: list[Part]


class Source(NamedTuple):
    """A folder of experiment files: ``origin`` is ``jaxcurr`` for the shipped ones, else the
    distribution that registers it."""

    origin: str
    folder: Traversable


def experiment_sources() -> Iterator[Source]:
    """Where names are looked up, in order: the shipped experiments (package data), then each
    package registered under the ``jaxcurr.experiments`` entry points (the value names a
    package whose ``*.toml`` files are experiments, e.g. ``pendulum_starts.experiments``)."""
    from jaxcurr.core import plugins

    yield Source("jaxcurr", resources.files(SHIPPED))
    for name, entry_point in sorted(plugins.registered(GROUP).items()):
        origin = entry_point.dist.name if entry_point.dist else name
        try:
            folder = resources.files(entry_point.value)
        except (ImportError, TypeError) as err:
            raise ConfigError(f"experiment: the {GROUP} entry point {name!r} of {origin} names "
                              f"{entry_point.value!r}, which cannot be imported ({err}); "
                              "allowed: an importable package holding *.toml files") from None
        yield Source(origin, folder)


def experiment_files(source: Source) -> list[Traversable]:
    """The ``*.toml`` files of a source, by name."""
    files = [f for f in source.folder.iterdir() if f.name.endswith(".toml") and f.is_file()]
    return sorted(files, key=lambda f: f.name)


def resolve_experiment(name: str) -> Path | Traversable:
    """A ``.toml`` path, or the first file ``<name>.toml`` of :func:`experiment_sources`."""
    path = Path(name)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise ConfigError(f"experiment: no such file {name!r}")
        return path
    known = []
    for source in experiment_sources():
        for file in experiment_files(source):
            if file.name == f"{name}.toml":
                return file
            known.append(file.name.removesuffix(".toml"))
    raise ConfigError(f"experiment: unknown name {name!r}; allowed: a .toml path or one of "
                      + ", ".join(sorted(set(known))))


def kind_of(values: dict) -> Kind:
    name = values.get("kind", DEFAULT_KIND)
    require(isinstance(name, str), "kind", "a string", name)
    return get_kind(name)


def _parts(values: dict) -> list[tuple[str, dict]]:
    raw = values.pop("part", None)
    if raw is None:
        return [("", {})]
    require(isinstance(raw, list) and raw and all(isinstance(p, dict) for p in raw), "part",
            "a list of [[part]] tables with name and set", raw)
    out = []
    for i, part in enumerate(raw):
        name, sets = part.get("name"), part.get("set", {})
        require(isinstance(name, str) and name and "/" not in name and name not in
                {n for n, _ in out}, f"part[{i}].name", "a distinct non-empty name without /",
                name)
        require(set(part) <= {"name", "set"} and isinstance(sets, dict), f"part[{i}]",
                "a table with name and set = { \"section.key\" = value, ... }", part)
        out.append((name, sets))
    return out


def build(values: dict, overrides: list[str] = ()) -> Experiment:
    """Validate every part of an experiment given as a dict (as read from TOML)."""
    require(isinstance(values, dict), "config", "a TOML table", values)
    values = dict(values)
    parts = _parts(values)
    kind = kind_of(apply_overrides(values, list(overrides)))
    built = []
    for name, sets in parts:
        part_values = apply_overrides(values, sets)
        part_values = apply_overrides(part_values, list(overrides))
        if name:
            part_values["name"] = f"{part_values.get('name', 'experiment')}/{name}"
        try:
            built.append(Part(name, kind.from_dict(part_values)))
        except ConfigError as err:
            raise ConfigError(f"part {name!r}: {err}" if name else str(err)) from None
    return Experiment(kind, str(values.get("name", "experiment")), built)


def load_experiment(path: str | Path, overrides: list[str] = ()) -> Experiment:
    """Read an experiment file, apply ``--set`` overrides, validate every part."""
    return build(read_toml(path), overrides)


class Listed(NamedTuple):
    """A row of ``jaxcurr list``: ``origin`` is where the file comes from (:class:`Source`)."""

    name: str
    kind: str
    description: str
    origin: str


def experiment_listing() -> list[Listed]:
    """Every experiment ``jaxcurr list`` shows, in lookup order; a name that an earlier source
    already has is marked as hidden (``jaxcurr run <name>`` runs the earlier one)."""
    rows, seen = [], {}
    for source in experiment_sources():
        for file in experiment_files(source):
            name = file.name.removesuffix(".toml")
            try:
                values = tomllib.loads(file.read_text(encoding="utf-8"))
                kind = str(values.get("kind", DEFAULT_KIND))
                description = str(values.get("description", ""))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError):
                kind, description = "?", "(invalid TOML)"
            if name in seen:
                description = f"(hidden by the one from {seen[name]}) {description}"
            seen.setdefault(name, source.origin)
            rows.append(Listed(name, kind, description, source.origin))
    return rows
