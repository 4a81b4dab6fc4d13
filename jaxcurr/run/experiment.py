"""Experiment files: find one by name, read it, pick its kind, expand its parts, validate.

An experiment TOML names its ``kind`` (default ``classifier_curriculum``) and holds that kind's
sections. It may also list ``[[part]]`` tables, each ``name = "..."`` and ``set = { "a.b" =
value, ... }``: the experiment then runs once per part (into ``<out>/<name>``), each part being
the file's settings with the part's ``set`` applied, and ``--set`` applied last. A study with
several tasks of different shapes (the SPG-NM tables) is one experiment with parts.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, NamedTuple

from jaxcurr.core.validation import ConfigError, apply_overrides, read_toml, require
from jaxcurr.kinds import DEFAULT_KIND, Kind, get_kind

REPO_EXPERIMENTS = Path(__file__).resolve().parent.parent / "experiments"


class Part(NamedTuple):
    """One runnable piece: its name ("" for an experiment without parts) and config."""

    name: str
    config: Any


class Experiment(NamedTuple):
    kind: Kind
    name: str
    parts: list[Part]


def experiment_dirs() -> list[Path]:
    """Where experiment names are looked up: ./experiments, then the source tree's."""
    dirs = [Path("experiments"), REPO_EXPERIMENTS]
    return [d for d in dict.fromkeys(p.resolve() for p in dirs) if d.is_dir()]


def resolve_experiment(name: str) -> Path:
    """A ``.toml`` path, or the file ``<name>.toml`` in :func:`experiment_dirs`."""
    path = Path(name)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise ConfigError(f"experiment: no such file {name!r}")
        return path
    for folder in experiment_dirs():
        candidate = folder / f"{name}.toml"
        if candidate.is_file():
            return candidate
    known = sorted({p.stem for d in experiment_dirs() for p in d.glob("*.toml")})
    raise ConfigError(f"experiment: unknown name {name!r}; allowed: a .toml path or one of "
                      + ", ".join(known))


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


def experiment_listing() -> list[tuple[str, str, str]]:
    """``(name, kind, description)`` of every experiment file ``jaxcurr list`` shows."""
    rows = []
    for folder in experiment_dirs():
        for path in sorted(folder.glob("*.toml")):
            try:
                values = tomllib.loads(path.read_text(encoding="utf-8"))
                kind = values.get("kind", "classifier_curriculum")
                description = values.get("description", "")
            except (tomllib.TOMLDecodeError, UnicodeDecodeError):
                kind, description = "?", "(invalid TOML)"
            rows.append((path.stem, kind, description))
    return rows
