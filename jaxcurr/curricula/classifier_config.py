"""The classifier curriculum's configuration: frozen dataclasses validated when built.

Every field is checked when a config is built; a bad value raises `ConfigError` naming the
field (``section.key``) and what is allowed, before any data is loaded or directory written.
The validation and TOML machinery every kind shares is :mod:`jaxcurr.core.validation`; the
``[data]`` section is :class:`jaxcurr.datasets.classification.DataConfig`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from jaxcurr.core.validation import (
    Experiment,
    RunSettings,
    apply_overrides,
    build_experiment,
    choice,
    experiment_to_dict,
    fraction,
    hidden_sizes,
    is_int,
    non_negative,
    positive,
    read_toml,
    require,
    require_in,
    require_positive_int,
    sweepable,
)
from jaxcurr.datasets.classification import DataConfig
from jaxcurr.students.classifier import PRECISIONS

DEFAULT_METHODS = ("uniform", "curiosity", "momentum_correlation", "gradient_norm")
METHODS = (*DEFAULT_METHODS, "prediction_gain", "gradient_prediction_gain")
# A method is a name of METHODS (teacher.kind's teacher with that signal: curiosity reads the
# loss) or "TEACHER:SIGNAL", any teacher of TEACHER_KINDS with any signal of SIGNAL_NAMES.
SIGNAL_NAMES = ("loss", "momentum_correlation", "gradient_norm", "prediction_gain",
                "gradient_prediction_gain")
TASKS = ("class", "group")
BASELINES = ("batch_mean", "ema")
TEACHER_KINDS = ("reinforce", "exp3s", "learning_progress", "tscl")


def is_method(name) -> bool:
    """A method of ``run.methods``: a name of METHODS or ``"TEACHER:SIGNAL"``."""
    if not isinstance(name, str):
        return False
    teacher, colon, signal = name.partition(":")
    return name in METHODS or bool(colon and teacher in TEACHER_KINDS and signal in SIGNAL_NAMES)
DENOMINATORS = ("v", "sqrt_v")
MOMENTS = ("before", "after")




@dataclasses.dataclass(frozen=True)
class StudentConfig:
    """The classifier: a Flax MLP trained with Adam (optax) on the batch the teacher chose."""

    hidden: tuple[int, ...] = (128, 128)
    learning_rate: float = sweepable(1e-3)
    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-8
    precision: str = "float32"

    def __post_init__(self):
        hidden_sizes("student.hidden", self.hidden)
        choice("student.precision", self.precision, PRECISIONS)
        positive("student.learning_rate", self.learning_rate)
        fraction("student.b1", self.b1)
        fraction("student.b2", self.b2)
        non_negative("student.eps", self.eps)


@dataclasses.dataclass(frozen=True)
class TeacherConfig:
    """The teacher of every non-uniform method. ``kind``: ``reinforce`` (MLP policy over tasks,
    Adam, baseline, optional entropy bonus; the first paper's), ``exp3s`` (Graves et al. 2017;
    ``exp3s_*``), ``learning_progress`` (fast/slow EMAs of each task's mean reward;
    ``lp_*``) or ``tscl`` (Matiisen et al. 2017's online / naive / window / sampling teachers;
    ``tscl_*``, with ``lp_eps`` as the epsilon-greedy share)."""

    tasks: str = "class"
    kind: str = "reinforce"
    hidden: tuple[int, ...] = (32,)
    learning_rate: float = sweepable(3e-4)
    entropy_coef: float = sweepable(0.01)
    baseline: str = "batch_mean"
    baseline_decay: float = sweepable(0.9)
    normalize_advantages: bool = True
    exp3s_eta: float = 1e-3
    exp3s_eps: float = 0.05
    exp3s_alpha: float = 1e-3
    lp_fast_rate: float = 0.1
    lp_slow_rate: float = 0.01
    lp_eps: float = 0.1
    tscl_algorithm: str = "online"
    tscl_selection: str = "epsilon_greedy"
    tscl_absolute: bool = True
    tscl_rate: float = 0.1
    tscl_window: int = 10
    tscl_temperature: float = 0.1

    def __post_init__(self):
        choice("teacher.tasks", self.tasks, TASKS)
        choice("teacher.kind", self.kind, TEACHER_KINDS)
        positive("teacher.exp3s_eta", self.exp3s_eta)
        for name in ("exp3s_eps", "exp3s_alpha"):
            require_in(f"teacher.{name}", getattr(self, name), 0, 1, low_open=True,
                       high_open=True)
        for name in ("lp_fast_rate", "lp_slow_rate", "lp_eps"):
            require_in(f"teacher.{name}", getattr(self, name), 0, 1, low_open=True)
        require(self.lp_slow_rate < self.lp_fast_rate, "teacher.lp_slow_rate",
                f"a number below teacher.lp_fast_rate ({self.lp_fast_rate})", self.lp_slow_rate)
        from jaxcurr.teachers.tscl import ALGORITHMS, SELECTIONS

        choice("teacher.tscl_algorithm", self.tscl_algorithm, ALGORITHMS)
        choice("teacher.tscl_selection", self.tscl_selection, SELECTIONS)
        require(isinstance(self.tscl_absolute, bool), "teacher.tscl_absolute", "true or false",
                self.tscl_absolute)
        require_in("teacher.tscl_rate", self.tscl_rate, 0, 1, low_open=True)
        require(is_int(self.tscl_window) and self.tscl_window >= 2, "teacher.tscl_window",
                "an integer >= 2", self.tscl_window)
        positive("teacher.tscl_temperature", self.tscl_temperature)
        hidden_sizes("teacher.hidden", self.hidden)
        positive("teacher.learning_rate", self.learning_rate)
        non_negative("teacher.entropy_coef", self.entropy_coef)
        choice("teacher.baseline", self.baseline, BASELINES)
        fraction("teacher.baseline_decay", self.baseline_decay)


@dataclasses.dataclass(frozen=True)
class SignalConfig:
    """Options of the momentum-correlation signal (paper defaults: m / v, moments before)."""

    denominator: str = "v"
    eps: float = sweepable(0.0)
    bias_correction: bool = False
    moments: str = "before"

    def __post_init__(self):
        choice("signal.denominator", self.denominator, DENOMINATORS)
        non_negative("signal.eps", self.eps)
        choice("signal.moments", self.moments, MOMENTS)


@dataclasses.dataclass(frozen=True)
class RunConfig(RunSettings):
    """Length, batch and logging cadence of a classifier run, plus the runner's settings."""

    methods: tuple[str, ...] = DEFAULT_METHODS
    steps: int = 2000
    batch_size: int = 64
    log_every: int = 20

    def __post_init__(self):
        super().__post_init__()
        require(isinstance(self.methods, tuple) and len(self.methods) > 0
               and all(is_method(m) for m in self.methods)
               and len(set(self.methods)) == len(self.methods),
               "run.methods", "a non-empty list of distinct names from "
               + ", ".join(map(repr, METHODS)) + ", or 'TEACHER:SIGNAL' with TEACHER one of "
               + ", ".join(TEACHER_KINDS) + " and SIGNAL one of " + ", ".join(SIGNAL_NAMES),
               self.methods)
        for field in ("steps", "batch_size", "log_every"):
            require_positive_int(f"run.{field}", getattr(self, field))
        require(self.steps % self.log_every == 0, "run.steps",
               f"a multiple of run.log_every ({self.log_every})", self.steps)


@dataclasses.dataclass(frozen=True)
class Config(Experiment):
    """A classifier curriculum experiment: data, student, teacher, signal and run settings."""

    data: DataConfig = DataConfig()
    student: StudentConfig = StudentConfig()
    teacher: TeacherConfig = TeacherConfig()
    signal: SignalConfig = SignalConfig()
    run: RunConfig = RunConfig()

    @property
    def num_tasks(self) -> int:
        return len(self.data.groups) if self.teacher.tasks == "group" else self.data.num_classes


CLASSIFIER_SECTIONS = {"data": DataConfig, "student": StudentConfig, "teacher": TeacherConfig,
                       "signal": SignalConfig, "run": RunConfig}


def config_from_dict(values: dict) -> Config:
    """Build a validated classifier :class:`Config` from a nested dict (as read from TOML)."""
    return build_experiment(Config, CLASSIFIER_SECTIONS, values, "classifier_curriculum")


def config_to_dict(config: Config) -> dict:
    """The classifier config as a plain nested dict of TOML-writable values."""
    return experiment_to_dict(config, CLASSIFIER_SECTIONS, "classifier_curriculum")


def load_config(path: str | Path, overrides: list[str] = ()) -> Config:
    """Read a classifier experiment's TOML, apply ``key=value`` overrides and validate."""
    return config_from_dict(apply_overrides(read_toml(path), list(overrides)))
