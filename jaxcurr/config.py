"""Experiment configuration: frozen dataclasses validated when built, loaded from TOML.

Every field is checked when a config is built; a bad value raises `ConfigError` naming the
field (``section.key``) and what is allowed, before any data is loaded or directory written.
"""

from __future__ import annotations

import dataclasses
import tomllib
import typing
from pathlib import Path
from typing import Any

METHODS = ("uniform", "curiosity", "momentum_correlation", "gradient_norm")
LABEL_MODES = ("clean", "curriculum", "noise")
DATA_SOURCES = ("digits", "npz", "tfds")
TASKS = ("class", "group")
BASELINES = ("batch_mean", "ema")
DENOMINATORS = ("v", "sqrt_v")
MOMENTS = ("before", "after")
DEFAULT_GROUPS = ((0,), (1, 2), (3, 4, 5), (6, 7, 8, 9))


class ConfigError(ValueError):
    """A configuration value is missing, unknown or out of range."""


def require(ok: bool, field: str, allowed: str, value: Any) -> None:
    """Raise ``ConfigError("field: got X; allowed: ...")`` unless ``ok``."""
    if not ok:
        raise ConfigError(f"{field}: got {value!r}; allowed: {allowed}")


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def require_positive_int(field: str, value: Any) -> None:
    require(is_int(value) and value > 0, field, "a positive integer", value)


def require_in(field: str, value: Any, low: float, high: float, *, low_open: bool = False,
               high_open: bool = False) -> None:
    """A number in the interval ``[low, high]`` (ends open as asked)."""
    ok = is_number(value) and (value > low if low_open else value >= low) and (
        value < high if high_open else value <= high)
    left, right = "(" if low_open else "[", ")" if high_open else "]"
    require(ok, field, f"a number in {left}{low}, {high}{right}", value)


def _positive(field: str, value: Any) -> None:
    require(is_number(value) and value > 0, field, "a positive number", value)


def _non_negative(field: str, value: Any) -> None:
    require(is_number(value) and value >= 0, field, "a number >= 0", value)


def _fraction(field: str, value: Any) -> None:
    require(is_number(value) and 0 <= value < 1, field, "a number in [0, 1)", value)


def _choice(field: str, value: Any, options: tuple[str, ...]) -> None:
    require(value in options, field, "one of " + ", ".join(map(repr, options)), value)


def _hidden(field: str, value: Any) -> None:
    require(isinstance(value, tuple) and len(value) > 0 and all(is_int(h) and h > 0 for h in value),
            field, "a non-empty list of positive integers", value)


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Where the images come from, how classes are grouped and how labels are assigned.

    source: ``digits`` (scikit-learn's bundled 8x8 digits, no network), ``npz`` (a local file
    with ``x_train, y_train, x_test, y_test``) or ``tfds`` (any TFDS image-classification
    dataset by ``name``; downloaded on first use unless ``download = false``).
    label_mode: ``clean``; ``curriculum`` (each training sample gets a random label within its
    group once, kept for the run); ``noise`` (a fresh random label within the group at every
    draw). Groups must partition the classes ``0..C-1``.
    """

    source: str = "digits"
    path: str = ""
    name: str = ""
    data_dir: str = ""
    download: bool = True
    train_split: str = "train"
    test_split: str = "test"
    groups: tuple[tuple[int, ...], ...] = DEFAULT_GROUPS
    label_mode: str = "curriculum"
    eval_per_class: int = 100
    test_size: int = 2000

    def __post_init__(self):
        _choice("data.source", self.source, DATA_SOURCES)
        if self.source == "npz":
            require(bool(self.path), "data.path", "a path to an .npz file (source = 'npz')",
                   self.path)
        if self.source == "tfds":
            require(bool(self.name), "data.name", "a TFDS dataset name (source = 'tfds')",
                   self.name)
        _choice("data.label_mode", self.label_mode, LABEL_MODES)
        require_positive_int("data.eval_per_class", self.eval_per_class)
        require_positive_int("data.test_size", self.test_size)
        groups = self.groups
        require(isinstance(groups, tuple) and len(groups) > 0
               and all(isinstance(g, tuple) and len(g) > 0 for g in groups)
               and all(isinstance(c, int) and not isinstance(c, bool) for g in groups for c in g),
               "data.groups", "a non-empty list of non-empty lists of class indices", groups)
        classes = sorted(c for g in groups for c in g)
        require(classes == list(range(len(classes))), "data.groups",
               "groups that partition the classes 0..C-1 (each class in exactly one group)",
               groups)

    @property
    def num_classes(self) -> int:
        return sum(len(g) for g in self.groups)


@dataclasses.dataclass(frozen=True)
class StudentConfig:
    """The classifier: a Flax MLP trained with Adam (optax) on the batch the teacher chose."""

    hidden: tuple[int, ...] = (128, 128)
    learning_rate: float = 1e-3
    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-8

    def __post_init__(self):
        _hidden("student.hidden", self.hidden)
        _positive("student.learning_rate", self.learning_rate)
        _fraction("student.b1", self.b1)
        _fraction("student.b2", self.b2)
        _non_negative("student.eps", self.eps)


@dataclasses.dataclass(frozen=True)
class TeacherConfig:
    """REINFORCE teacher: MLP policy over tasks, Adam, baseline, optional entropy bonus."""

    tasks: str = "class"
    hidden: tuple[int, ...] = (32,)
    learning_rate: float = 3e-4
    entropy_coef: float = 0.01
    baseline: str = "batch_mean"
    baseline_decay: float = 0.9
    normalize_advantages: bool = True

    def __post_init__(self):
        _choice("teacher.tasks", self.tasks, TASKS)
        _hidden("teacher.hidden", self.hidden)
        _positive("teacher.learning_rate", self.learning_rate)
        _non_negative("teacher.entropy_coef", self.entropy_coef)
        _choice("teacher.baseline", self.baseline, BASELINES)
        _fraction("teacher.baseline_decay", self.baseline_decay)


@dataclasses.dataclass(frozen=True)
class SignalConfig:
    """Options of the momentum-correlation signal (paper defaults: m / v, moments before)."""

    denominator: str = "v"
    eps: float = 0.0
    bias_correction: bool = False
    moments: str = "before"

    def __post_init__(self):
        _choice("signal.denominator", self.denominator, DENOMINATORS)
        _non_negative("signal.eps", self.eps)
        _choice("signal.moments", self.moments, MOMENTS)


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Length, batch, logging cadence, seeds and checkpointing of a run."""

    methods: tuple[str, ...] = METHODS
    steps: int = 2000
    batch_size: int = 64
    log_every: int = 20
    seeds: int = 8
    seed: int = 0
    chunk_logs: int = 10
    checkpoint_every: int = 5

    def __post_init__(self):
        require(isinstance(self.methods, tuple) and len(self.methods) > 0
               and all(m in METHODS for m in self.methods)
               and len(set(self.methods)) == len(self.methods),
               "run.methods", "a non-empty list of distinct names from "
               + ", ".join(map(repr, METHODS)), self.methods)
        for field in ("steps", "batch_size", "log_every", "seeds", "chunk_logs",
                      "checkpoint_every"):
            require_positive_int(f"run.{field}", getattr(self, field))
        require(isinstance(self.seed, int) and not isinstance(self.seed, bool) and self.seed >= 0,
               "run.seed", "an integer >= 0", self.seed)
        require(self.steps % self.log_every == 0, "run.steps",
               f"a multiple of run.log_every ({self.log_every})", self.steps)


@dataclasses.dataclass(frozen=True)
class Config:
    """A whole experiment: data, student, teacher, signal options and run settings."""

    name: str = "experiment"
    description: str = ""
    data: DataConfig = DataConfig()
    student: StudentConfig = StudentConfig()
    teacher: TeacherConfig = TeacherConfig()
    signal: SignalConfig = SignalConfig()
    run: RunConfig = RunConfig()

    def __post_init__(self):
        require(isinstance(self.name, str) and self.name != "", "name", "a non-empty string",
               self.name)

    @property
    def num_tasks(self) -> int:
        return len(self.data.groups) if self.teacher.tasks == "group" else self.data.num_classes


_SECTIONS = {"data": DataConfig, "student": StudentConfig, "teacher": TeacherConfig,
             "signal": SignalConfig, "run": RunConfig}


def _coerce(field: str, value: Any, annotation: Any) -> Any:
    """Turn a TOML value into the field's type, or raise ConfigError naming the field."""
    origin = typing.get_origin(annotation)
    if annotation is float:
        require(is_number(value), field, "a number", value)
        return float(value)
    if annotation is int:
        require(isinstance(value, int) and not isinstance(value, bool), field, "an integer", value)
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


def _build(cls, section: str, values: dict) -> Any:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    prefix = f"{section}." if section else ""
    require(isinstance(values, dict), section or "config", "a table of settings", values)
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ConfigError(f"{prefix}{unknown[0]}: unknown setting; allowed: {', '.join(names)}")
    kwargs = {k: _coerce(prefix + k, v, hints[k]) for k, v in values.items()}
    return cls(**kwargs)


def config_from_dict(values: dict) -> Config:
    """Build a validated Config from a nested dict (as read from TOML)."""
    top = {k: v for k, v in values.items() if k not in _SECTIONS}
    sections = {k: _build(cls, k, values.get(k, {})) for k, cls in _SECTIONS.items()}
    kind = top.get("kind", "classifier_curriculum")
    if kind != "classifier_curriculum":
        raise ConfigError(f"kind: got {kind!r}; `jaxcurr run` runs 'classifier_curriculum' "
                          f"experiments; this one runs with python experiments/{kind}.py")
    unknown = sorted(set(top) - {"name", "description", "kind"})
    if unknown:
        allowed = ", ".join(["name", "description", "kind", *_SECTIONS])
        raise ConfigError(f"{unknown[0]}: unknown setting; allowed: {allowed}")
    name = top.get("name", "experiment")
    require(isinstance(name, str), "name", "a string", name)
    description = top.get("description", "")
    require(isinstance(description, str), "description", "a string", description)
    return Config(name=name, description=description, **sections)


def config_to_dict(config: Config) -> dict:
    """The config as a plain nested dict of TOML-writable values."""

    def plain(value):
        if isinstance(value, tuple):
            return [plain(v) for v in value]
        return value

    out: dict[str, Any] = {"name": config.name, "description": config.description}
    for section in _SECTIONS:
        sub = getattr(config, section)
        out[section] = {f.name: plain(getattr(sub, f.name)) for f in dataclasses.fields(sub)}
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
    return key.strip().split("."), value


def apply_overrides(values: dict, overrides: list[str]) -> dict:
    """Return a copy of the nested dict with each ``key=value`` override applied."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in values.items()}
    for text in overrides:
        path, value = parse_override(text)
        if len(path) == 1:
            out[path[0]] = value
        elif len(path) == 2:
            section, key = path
            if section not in _SECTIONS:
                raise ConfigError(f"{'.'.join(path)}: unknown section {section!r}; allowed: "
                                  + ", ".join(_SECTIONS))
            out.setdefault(section, {})[key] = value
        else:
            raise ConfigError(f"--set {text!r}: keys have the form section.key")
    return out


def load_config(path: str | Path, overrides: list[str] = ()) -> Config:
    """Read a TOML experiment file, apply ``key=value`` overrides and validate."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config: no such file {str(path)!r}")
    try:
        values = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"config: {path} is not valid TOML ({err})") from None
    return config_from_dict(apply_overrides(values, list(overrides)))
