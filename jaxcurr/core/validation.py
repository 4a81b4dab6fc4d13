"""Validation and building of experiment configs, shared by every experiment kind.

Every field is checked when a config is built; a bad value raises :class:`ConfigError` naming
the field (``section.key``) and what is allowed, before any data is loaded or directory
written. :func:`build_experiment` turns a TOML table into a kind's frozen dataclass (its
sections, ``name``, ``description`` and ``[sweep]``); :func:`apply_overrides` applies
``--set key.path=value``.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import tomllib
import types
import typing
from pathlib import Path
from typing import Any

SINKS = ("jsonl", "tensorboard", "wandb")


class ConfigError(ValueError):
    """A configuration value is missing, unknown or out of range. The message is one line:
    line breaks from user-given names or values are escaped."""

    def __init__(self, message: str):
        super().__init__(str(message).replace("\r", "\\r").replace("\n", "\\n"))


def require(ok: bool, field: str, allowed: str, value: Any) -> None:
    """Raise ``ConfigError("field: got X; allowed: ...")`` unless ``ok``."""
    if not ok:
        raise ConfigError(f"{field}: got {value!r}; allowed: {allowed}")


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """An int or a finite float (not a bool): NaN and infinities are never valid settings."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def require_positive_int(field: str, value: Any) -> None:
    require(is_int(value) and value > 0, field, "a positive integer", value)


def require_in(field: str, value: Any, low: float, high: float, *, low_open: bool = False,
               high_open: bool = False) -> None:
    """A number in the interval ``[low, high]`` (ends open as asked)."""
    ok = is_number(value) and (value > low if low_open else value >= low) and (
        value < high if high_open else value <= high)
    left, right = "(" if low_open else "[", ")" if high_open else "]"
    require(ok, field, f"a number in {left}{low}, {high}{right}", value)


def positive(field: str, value: Any) -> None:
    require(is_number(value) and value > 0, field, "a positive number", value)


def non_negative(field: str, value: Any) -> None:
    require(is_number(value) and value >= 0, field, "a number >= 0", value)


def fraction(field: str, value: Any) -> None:
    require(is_number(value) and 0 <= value < 1, field, "a number in [0, 1)", value)


def choice(field: str, value: Any, options: tuple[str, ...]) -> None:
    require(value in options, field, "one of " + ", ".join(map(repr, options)), value)


def hidden_sizes(field: str, value: Any) -> None:
    require(isinstance(value, tuple) and len(value) > 0 and all(is_int(h) and h > 0 for h in value),
            field, "a non-empty list of positive integers", value)



@dataclasses.dataclass(frozen=True)
class RunSettings:
    """What the runner reads from every kind's ``[run]`` section: seeds, chunking, checkpoints,
    metric sinks and the non-finite guard.

    seeds: runs per configuration point, keys ``split(PRNGKey(seed), seeds)`` (the same keys for
    every variant and sweep value). chunk_logs: logged windows per compiled chunk.
    checkpoint_every: chunks between checkpoints. sinks: where window metrics go besides
    ``metrics.npz`` (``jsonl`` always; ``tensorboard``, ``wandb`` as extras).
    allow_nonfinite: keep going on NaN/inf metrics (the summary counts them) instead of stopping.
    """

    seeds: int = 8
    seed: int = 0
    chunk_logs: int = 10
    checkpoint_every: int = 5
    sinks: tuple[str, ...] = ("jsonl",)
    allow_nonfinite: bool = False

    def __post_init__(self):
        for field in ("seeds", "chunk_logs", "checkpoint_every"):
            require_positive_int(f"run.{field}", getattr(self, field))
        require(is_int(self.seed) and 0 <= self.seed < 2**32, "run.seed",
                "an integer in [0, 2**32) (the PRNG's seed range)", self.seed)
        require(isinstance(self.sinks, tuple) and all(s in SINKS for s in self.sinks)
                and len(set(self.sinks)) == len(self.sinks), "run.sinks",
                "a list of distinct names from " + ", ".join(map(repr, SINKS)), self.sinks)
        require(isinstance(self.allow_nonfinite, bool), "run.allow_nonfinite", "true or false",
                self.allow_nonfinite)



TOP_KEYS = ("name", "description", "kind", "sweep")


def _coerce(field: str, value: Any, annotation: Any) -> Any:
    """Turn a TOML value into the field's type, or raise ConfigError naming the field."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):  # e.g. float | str: the first type that fits
        for option in typing.get_args(annotation):
            try:
                return _coerce(field, value, option)
            except ConfigError:
                continue
        names = " or ".join({float: "a number", str: "a string", int: "an integer",
                             bool: "true or false"}.get(a, str(a))
                            for a in typing.get_args(annotation))
        require(False, field, names, value)
    if annotation is float:
        require(is_number(value), field, "a finite number", value)
        return float(value)
    if annotation is int:
        require(is_int(value), field, "an integer", value)
        return value
    if annotation is bool:
        require(isinstance(value, bool), field, "true or false", value)
        return value
    if annotation is str:
        require(isinstance(value, str), field, "a string", value)
        return value
    if origin is tuple:
        require(isinstance(value, list | tuple), field, "a list", value)
        inner = typing.get_args(annotation)[0]
        return tuple(_coerce(field, v, inner) for v in value)
    raise TypeError(f"unsupported annotation {annotation!r} for {field}")


def build_section(cls, section: str, values: Any) -> Any:
    """One validated section dataclass from a TOML table; errors name ``section.key``."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    prefix = f"{section}." if section else ""
    require(isinstance(values, dict), section or "config", "a table of settings", values)
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ConfigError(f"{prefix}{unknown[0]}: unknown setting; allowed: {', '.join(names)}")
    kwargs = {k: _coerce(prefix + k, v, hints[k]) for k, v in values.items()}
    try:
        return cls(**kwargs)
    except ConfigError as err:  # a class that names its fields without the section
        message = str(err)
        raise ConfigError(message if not prefix or message.startswith(prefix)
                          else prefix + message) from None


def _flatten_table(table: dict, prefix: str = "") -> dict[str, Any]:
    out = {}
    for key, value in table.items():
        if isinstance(value, dict):
            out.update(_flatten_table(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def parse_sweep(raw: Any, sections: dict[str, type], values: dict, sweepable: tuple[str, ...]
                ) -> tuple[tuple[str, tuple[float, ...]], ...]:
    """``[sweep]`` as ``(("section.key", (v, ...)), ...)``; every value is validated by
    building its section with it, so a sweep value obeys the same rules as a single one."""
    require(isinstance(raw, dict), "sweep", 'a table such as [sweep] student.learning_rate = '
            '[1e-3, 3e-3]', raw)
    out = []
    for key, options in _flatten_table(raw).items():
        require(key in sweepable, f"sweep.{key}", "one of " + ", ".join(sweepable) if sweepable
                else "nothing: this kind has no sweepable settings", "a sweep")
        require(isinstance(options, list) and len(options) >= 1
                and all(is_number(v) for v in options) and len(set(options)) == len(options),
                f"sweep.{key}", "a non-empty list of distinct finite numbers", options)
        section, field = key.split(".", 1)
        for option in options:
            build_section(sections[section], section, {**values.get(section, {}),
                                                        field: option})
        out.append((key, tuple(float(v) for v in options)))
    return tuple(out)


def sweepable(default: Any) -> Any:
    """A config field that a ``[sweep]`` may vary. Its swept values become a vmapped, traced
    axis of one compiled program (as rejax's ``struct.field(pytree_node=True)``), so the code
    that reads it must accept a traced scalar; every other field is static."""
    return dataclasses.field(default=default, metadata={"sweepable": True})


def sweepable_keys(sections: dict[str, type]) -> tuple[str, ...]:
    """``"section.key"`` of every field declared with :func:`sweepable`."""
    return tuple(f"{name}.{field.name}" for name, cls in sections.items()
                 for field in dataclasses.fields(cls) if field.metadata.get("sweepable"))


@dataclasses.dataclass(frozen=True)
class Experiment:
    """The fields every experiment has beside its sections (each kind subclasses it).

    ``name``: the run's name (default run directory ``runs/<name>``); ``description``: one line
    for ``jaxcurr list``; ``sweep``: ``(("section.key", (v1, v2, ...)), ...)``, sweepable
    hyperparameters run side by side as a vmapped axis (:func:`parse_sweep`).
    """

    name: str = "experiment"
    description: str = ""
    sweep: tuple[tuple[str, tuple[float, ...]], ...] = ()


def build_experiment(cls, sections: dict[str, type], values: dict, kind: str) -> Any:
    """A validated :class:`Experiment` subclass ``cls`` (one field per section) from a nested
    dict as read from TOML."""
    require(isinstance(values, dict), "config", "a TOML table", values)
    top = {k: v for k, v in values.items() if k not in sections}
    unknown = sorted(set(top) - set(TOP_KEYS))
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown setting; allowed: "
                          + ", ".join([*TOP_KEYS, *sections]))
    require(top.get("kind", kind) == kind, "kind", repr(kind), top.get("kind"))
    built = {k: build_section(c, k, values.get(k, {})) for k, c in sections.items()}
    name = top.get("name", "experiment")
    require(isinstance(name, str) and name != "", "name", "a non-empty string", name)
    description = top.get("description", "")
    require(isinstance(description, str), "description", "a string", description)
    sweep = parse_sweep(top.get("sweep", {}), sections, values, sweepable_keys(sections))
    return cls(name=name, description=description, sweep=sweep, **built)


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def experiment_to_dict(config: Any, sections: dict[str, type], kind: str) -> dict:
    """The experiment as a plain nested dict of TOML-writable values (with its ``kind``)."""
    out: dict[str, Any] = {"name": config.name, "description": config.description,
                           "kind": kind}
    for section in sections:
        sub = getattr(config, section)
        out[section] = {f.name: _plain(getattr(sub, f.name)) for f in dataclasses.fields(sub)}
    if config.sweep:
        sweep: dict[str, Any] = {}
        for key, options in config.sweep:
            section, field = key.split(".", 1)
            sweep.setdefault(section, {})[field] = list(options)
        out["sweep"] = sweep
    return out



def parse_override(text: str) -> tuple[list[str], Any]:
    """Parse ``key.path=value``; the value is read as TOML (so ``[1, 2]``, ``true``, ``3e-4``)
    and falls back to a plain string."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected key=value, e.g. run.steps=500")
    key, raw = text.split("=", 1)
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    path = key.strip().split(".")
    if any(part == "" for part in path):
        raise ConfigError(f"--set {text!r}: expected key=value, e.g. run.steps=500")
    return path, value


def apply_overrides(values: dict, overrides: list[str] | dict[str, Any]) -> dict:
    """Return a copy of the nested dict with each override applied: ``key.path=value``
    strings (``--set``; values read as TOML) or a ``{"key.path": value}`` table (a part's
    ``set``)."""
    out = copy.deepcopy(values)
    pairs = (overrides.items() if isinstance(overrides, dict)
             else (parse_override(text) for text in overrides))
    for key, value in pairs:
        path = key.split(".") if isinstance(key, str) else key
        node = out
        for depth, part in enumerate(path[:-1]):
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {'.'.join(path)}: {'.'.join(path[:depth + 1])} is a "
                                  "value, not a table; allowed: keys of a table, e.g. "
                                  "run.steps=500")
        node[path[-1]] = value
    return out


def read_toml(path: str | Path) -> dict:
    """A TOML file as a dict; a missing, unreadable or invalid file is one ConfigError line."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config: no such file {str(path)!r}")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"config: {path} is not valid UTF-8 TOML ({err})") from None
    except OSError as err:
        raise ConfigError(f"config: cannot read {path} ({err.strerror})") from None
