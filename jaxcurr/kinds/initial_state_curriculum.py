"""Kind ``initial_state_curriculum``: a teacher picks a SAC student's starts.

The gradient-norm paper's system (Campbell & Yoon 2023, "Automatic Curriculum Learning with
Gradient Reward Signals"; docs/reference_facts.md §2) with
:mod:`jaxcurr.curricula.initial_state`, on ``env.name``: ``"point_maze"`` (PointMaze, the
``[maze]`` section), ``"ant_maze"`` (``AntMaze_*-v4`` on MuJoCo, the same ``[maze]`` map and
reward; ``contact_margin`` is PointMaze's) or ``"adroit_relocate"`` (``AdroitHandRelocate-v1``
on MuJoCo; the teacher chooses ball and target positions, and with ``env.hand_start`` the
hand's joints too). The MuJoCo ones run on physics path ``env.physics``: ``"host"``, ``"mjx"``
or ``"auto"`` (host on CPU, MJX on accelerators).
Methods are the point axis, all in one program:

* ``no_teacher``: the maze's default resets;
* ``mean_norm``: the teacher rewarded by the mean of per-update actor-gradient norms (reward 1);
* ``sum_norm``: by ``||sum_t g_t|| / T`` (reward 2, as the paper defines it);
* ``momentum_correlation``: by the first paper's signal on the actor (not in either paper);
* ``"TEACHER:SIGNAL"``: any teacher of ``reinforce``, ``alp_gmm`` (Portelas et al. 2019),
  ``plr`` (Robust PLR, Jiang et al. 2021) with any signal of
  :data:`~jaxcurr.signals.episode_scores.SIGNALS` (the gradient signals, ``return``,
  ``return_progress``, ``positive_value_loss``, ``max_mc``), e.g. ``"alp_gmm:return"``,
  ``"plr:positive_value_loss"``.

A window is ``run.eval_every`` env steps, then 10 evaluation episodes from the default reset
with the mean action. Window metrics: ``eval_return``, ``eval_success`` (final-step success
rate), ``env_steps``, ``episodes`` and the means over the episodes that ended in the window of
``train_return``, ``train_success``, ``train_goal_distance`` and each signal (NaN when none
ended), and of the SAC losses over the window's updates (NaN before learning starts). Final
arrays: the per-episode logs (return, success, goal distance, goal and reset cells, signals).
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp

from jaxcurr.core.engine import Engine, Kind, no_data, with_hyperparameters
from jaxcurr.core.validation import (
    Experiment,
    RunSettings,
    build_experiment,
    choice,
    experiment_to_dict,
    hidden_sizes,
    require,
    require_in,
    require_positive_int,
)
from jaxcurr.kinds import initial_state_curriculum_report as report
from jaxcurr.signals.actor_gradients import RL_SIGNALS
from jaxcurr.signals.episode_scores import SIGNALS
from jaxcurr.students.sac.continuous import ContinuousSACConfig
from jaxcurr.teachers.base import StartTeacher
from jaxcurr.teachers.initial_state import SQUASHES
from jaxcurr.teachers.initial_state import START_TEACHERS as TEACHERS

METHODS = ("no_teacher", *RL_SIGNALS)  # the REINFORCE teacher with each gradient signal
SPACE_GROUP = "jaxcurr.start_spaces"  # entry points: a factory() -> StartSpace
TEACHER_GROUP = "jaxcurr.start_teachers"  # entry points: a factory(space) -> StartTeacher


def method_parts(name: str) -> tuple[str, str] | None:
    """``(teacher, signal)`` of a method name, or None for an unknown one. The teacher of
    ``"TEACHER:SIGNAL"`` is a built-in one, a name registered under the
    ``jaxcurr.start_teachers`` entry points, or a ``"package.module:factory"`` reference."""
    from jaxcurr.core import plugins

    if name == "no_teacher":
        return "none", RL_SIGNALS[0]
    if name in RL_SIGNALS:
        return "reinforce", name
    teacher, colon, signal = name.rpartition(":")
    if colon and signal in SIGNALS and (
            teacher in TEACHERS[1:] or teacher in plugins.registered(TEACHER_GROUP)
            or plugins.is_reference(teacher)):
        return teacher, signal
    return None


def user_teachers(names) -> tuple[str, ...]:
    """The methods' teachers that are not built in, in order of first appearance."""
    found = (method_parts(n)[0] for n in names)
    return tuple(dict.fromkeys(t for t in found if t not in TEACHERS))


@dataclasses.dataclass(frozen=True)
class MazeConfig:
    """gymnasium-robotics' PointMaze (:mod:`jaxcurr.envs.point_maze.env`): map, reward, margin."""

    map: str = "open"
    reward_type: str = "dense"
    contact_margin: float = 0.002

    def __post_init__(self):
        from jaxcurr.envs.point_maze import env as point_maze

        choice("maze.map", self.map, tuple(point_maze.MAZE_MAPS))
        choice("maze.reward_type", self.reward_type, ("dense", "sparse"))
        require_in("maze.contact_margin", self.contact_margin, 0.0,
                   point_maze.MAX_CONTACT_MARGIN, high_open=True)


ENVS = ("point_maze", "adroit_relocate", "ant_maze")


@dataclasses.dataclass(frozen=True)
class EnvConfig:
    """Which environment: ``name`` in :data:`ENVS`, a name registered under the
    ``jaxcurr.start_spaces`` entry points or a ``"package.module:factory"`` reference, whose
    ``factory()`` returns a :class:`~jaxcurr.envs.start_spaces.StartSpace` (e.g. one made by
    :func:`~jaxcurr.envs.start_spaces.box_start_space`); for the MuJoCo ones the physics path
    (``"host"``, ``"mjx"``, ``"auto"``: host on CPU, MJX on accelerators), Relocate's level grid
    (``start_bins`` per ball/target coordinate) and the optional hand start
    (``hand_start``; joint velocities within ``+-hand_speed`` rad/s)."""

    name: str = "point_maze"
    physics: str = "auto"
    start_bins: int = 3
    hand_start: bool = False
    hand_speed: float = 1.0

    def __post_init__(self):
        if self.name not in ENVS:  # a user's start space: it must at least resolve
            from jaxcurr.core import plugins

            plugins.resolve(self.name, SPACE_GROUP, "env.name", ENVS)
        choice("env.physics", self.physics, ("auto", "host", "mjx"))
        require_positive_int("env.start_bins", self.start_bins)
        require(isinstance(self.hand_start, bool), "env.hand_start", "true or false",
                self.hand_start)
        require_in("env.hand_speed", self.hand_speed, 0.0, 100.0, low_open=True)
        for field, applies in (("physics", ("adroit_relocate", "ant_maze")),
                               ("start_bins", ("adroit_relocate",)),
                               ("hand_start", ("adroit_relocate",)),
                               ("hand_speed", ("adroit_relocate",))):
            default = EnvConfig.__dataclass_fields__[field].default
            require(getattr(self, field) == default or self.name in applies, f"env.{field}",
                    f"{default!r} (the default) with env.name = {self.name!r}: it applies to "
                    + " and ".join(applies) + " only", getattr(self, field))


@dataclasses.dataclass(frozen=True)
class TeacherConfig:
    """The REINFORCE start teacher (:func:`jaxcurr.teachers.initial_state.start_teacher`),
    ALP-GMM's (``alp_*``, :func:`jaxcurr.teachers.alp_gmm.alp_gmm_teacher`) and Robust PLR's
    (``plr_*``, :func:`jaxcurr.teachers.plr.plr_teacher`) settings, the positive value
    loss's ``gae_lambda`` and the REINFORCE teacher's ``squash`` into the unit cube
    (``"clip"``, the authors', or ``"gaussian_cdf"``)."""

    hidden: tuple[int, ...] = (64, 64)
    learning_rate: float = 5e-3
    std: float = 0.7
    episodes_per_trajectory: int = 5
    baseline_steps: int = 5
    updates: int = 1
    alp_max_components: int = 6
    alp_fit_every: int = 50
    alp_fit_window: int = 250
    alp_history: int = 2000
    alp_em_iters: int = 10
    alp_random_share: float = 0.2
    plr_buffer_size: int = 64
    plr_replay_prob: float = 0.5
    plr_temperature: float = 0.3
    plr_staleness: float = 0.3
    gae_lambda: float = 0.95
    squash: str = "clip"

    def __post_init__(self):
        require_in("teacher.gae_lambda", self.gae_lambda, 0.0, 1.0)
        choice("teacher.squash", self.squash, SQUASHES)
        hidden_sizes("teacher.hidden", self.hidden)
        require_in("teacher.learning_rate", self.learning_rate, 0.0, 1.0, low_open=True)
        require_in("teacher.std", self.std, 0.0, 10.0, low_open=True)
        for name in ("episodes_per_trajectory", "baseline_steps", "updates"):
            require_positive_int(f"teacher.{name}", getattr(self, name))


@dataclasses.dataclass(frozen=True)
class MethodsConfig:
    names: tuple[str, ...] = METHODS

    def __post_init__(self):
        require(isinstance(self.names, tuple) and len(self.names) > 0
                and all(isinstance(n, str) and method_parts(n) for n in self.names)
                and len(set(self.names)) == len(self.names),
                "methods.names", "distinct names from " + ", ".join(METHODS)
                + ", or 'TEACHER:SIGNAL' with TEACHER one of " + ", ".join(TEACHERS[1:])
                + " (or a start teacher of one's own: a jaxcurr.start_teachers entry point or "
                "'package.module:factory') and SIGNAL one of " + ", ".join(SIGNALS), self.names)
        from jaxcurr.core import plugins

        for teacher in user_teachers(self.names):  # each must at least resolve
            plugins.resolve(teacher, TEACHER_GROUP, "methods.names", TEACHERS[1:])


@dataclasses.dataclass(frozen=True)
class RunConfig(RunSettings):
    """``total_steps`` env steps per run, ``eval_every`` per window, ``eval_episodes`` per
    evaluation; ``clear_buffer``: empty the replay buffer at every episode end."""

    total_steps: int = 1_000_000
    eval_every: int = 5_000
    eval_episodes: int = 10
    clear_buffer: bool = False

    def __post_init__(self):
        super().__post_init__()
        for name in ("total_steps", "eval_every", "eval_episodes"):
            require_positive_int(f"run.{name}", getattr(self, name))
        below = self.total_steps // self.eval_every * self.eval_every
        nearest = " or ".join(str(n) for n in (below, below + self.eval_every) if n > 0)
        require(below == self.total_steps, "run.total_steps",
                f"a multiple of run.eval_every ({self.eval_every}), e.g. {nearest}",
                self.total_steps)
        require(isinstance(self.clear_buffer, bool), "run.clear_buffer", "true or false",
                self.clear_buffer)


@dataclasses.dataclass(frozen=True)
class MazeExperiment(Experiment):
    methods: MethodsConfig = MethodsConfig()
    env: EnvConfig = EnvConfig()
    maze: MazeConfig = MazeConfig()
    sac: ContinuousSACConfig = ContinuousSACConfig()
    teacher: TeacherConfig = TeacherConfig()
    report: report.ReportConfig = report.ReportConfig()
    run: RunConfig = RunConfig()


SECTIONS = {"methods": MethodsConfig, "env": EnvConfig, "maze": MazeConfig,
            "sac": ContinuousSACConfig, "teacher": TeacherConfig, "report": report.ReportConfig,
            "run": RunConfig}


def from_dict(values: dict) -> MazeExperiment:
    return build_experiment(MazeExperiment, SECTIONS, values, "initial_state_curriculum")


def to_dict(config: MazeExperiment) -> dict:
    return experiment_to_dict(config, SECTIONS, "initial_state_curriculum")


def start_space(config: MazeExperiment):
    """The environment's :class:`~jaxcurr.envs.start_spaces.StartSpace`."""
    from jaxcurr.envs import start_spaces

    if config.env.name not in ENVS:
        from jaxcurr.core import plugins

        factory = plugins.resolve(config.env.name, SPACE_GROUP, "env.name", ENVS)
        space = factory() if callable(factory) else factory
        require(isinstance(space, start_spaces.StartSpace), "env.name",
                "a factory returning a jaxcurr.envs.start_spaces.StartSpace", config.env.name)
        return space

    if config.env.name == "point_maze":
        from jaxcurr.envs.point_maze import env as point_maze

        return start_spaces.maze_start_space(point_maze.make_maze(
            config.maze.map, config.maze.reward_type, config.maze.contact_margin))
    physics = None if config.env.physics == "auto" else config.env.physics
    if config.env.name == "ant_maze":
        from jaxcurr.envs.mujoco.ant_maze import make_ant_maze

        return start_spaces.maze_start_space(make_ant_maze(config.maze.map, physics,
                                                           config.maze.reward_type))
    from jaxcurr.envs.mujoco.relocate import AdroitRelocate

    env = AdroitRelocate(physics)
    return start_spaces.relocate_start_space(env, env.default_params, config.env.start_bins,
                                             config.env.hand_start, config.env.hand_speed)


def build_program(config: MazeExperiment, space=None, sac: ContinuousSACConfig | None = None):
    """The run's :class:`~jaxcurr.curricula.initial_state.Program` (``space``: the start space
    if built already; ``sac``: the SAC settings of one point of a sweep)."""
    from jaxcurr.curricula.initial_state import make_program
    from jaxcurr.teachers import initial_state as starts

    space = space or start_space(config)
    t = config.teacher
    reinforce = starts.start_teacher(space.dim, 1 + space.start_size, hidden=t.hidden,
                                     learning_rate=t.learning_rate, std=t.std,
                                     episodes_per_trajectory=t.episodes_per_trajectory,
                                     baseline_steps=t.baseline_steps, updates=t.updates,
                                     squash_kind=t.squash)
    alp_gmm = starts.alp_gmm_start_teacher(
        space.dim, max_components=t.alp_max_components,
        fit_every=t.alp_fit_every, fit_window=t.alp_fit_window, history=t.alp_history,
        em_iters=t.alp_em_iters, random_share=t.alp_random_share)
    levels = len(space.levels)
    uses_plr = any(method_parts(n)[0] == "plr" for n in config.methods.names)
    require(t.plr_buffer_size <= levels or not uses_plr, "teacher.plr_buffer_size",
            f"at most the start space's {levels} levels (set teacher.plr_buffer_size = "
            f"{levels} or less)", t.plr_buffer_size)
    plr = starts.plr_start_teacher(space.levels, buffer_size=min(t.plr_buffer_size, levels),
                                   replay_prob=t.plr_replay_prob,
                                   temperature=t.plr_temperature, staleness=t.plr_staleness)
    own = []
    for name in user_teachers(config.methods.names):
        from jaxcurr.core import plugins

        teacher = plugins.resolve(name, TEACHER_GROUP, "methods.names", TEACHERS[1:])(space)
        require(isinstance(teacher, StartTeacher), "methods.names",
                "a start-teacher factory(space) returning a jaxcurr.teachers.StartTeacher",
                name)
        own.append(teacher)
    r = config.run
    return make_program(space, sac or config.sac, (reinforce, alp_gmm, plr, *own), r.total_steps,
                        r.eval_every, r.eval_episodes, r.clear_buffer,
                        gae_lambda=t.gae_lambda)


def methods(config: MazeExperiment) -> tuple[list[str], dict]:
    """``Kind.variants``: method names and their stacked :class:`Method` switches."""
    names = list(config.methods.names)
    parts = [method_parts(n) for n in names]
    teachers = (*TEACHERS, *user_teachers(names))
    return names, {"teacher": jnp.array([teachers.index(t) for t, _ in parts], jnp.int32),
                   "signal": jnp.array([SIGNALS.index(s) for _, s in parts], jnp.int32)}


def make_engine(config: MazeExperiment) -> Engine:
    from jaxcurr.curricula.initial_state import Method

    space = start_space(config)
    windows = math.ceil(config.run.total_steps / config.run.eval_every)

    def method_of(point):
        return Method(point["variant"]["teacher"], point["variant"]["signal"])

    def program_of(point):  # a sweep's values are traced: the program is built per point
        return build_program(config, space, with_hyperparameters(config.sac, point, "sac."))

    def init(key, data, point):
        return program_of(point).init(key, method_of(point))

    def run(state, data, point, *, num_windows):
        program = program_of(point)
        return jax.lax.scan(lambda s, _: program.window(s, method_of(point)), state, None,
                            length=num_windows)

    return Engine(init, run, windows, steps_per_window=config.run.eval_every,
                  unit="env step", final=lambda state, data, point: state.log,
                  guard=lambda state: (state.learner, state.teacher),
                  unguarded=report.UNGUARDED)


KIND = Kind(
    name="initial_state_curriculum",
    description="SAC on PointMaze, AdroitHandRelocate or AntMaze, a teacher choosing starts "
                "by actor-gradient signals (Campbell & Yoon 2023), ALP-GMM or Robust PLR",
    from_dict=from_dict, to_dict=to_dict, prepare=no_data, make_engine=make_engine,
    variants=methods, summarize=report.summarize, format_summary=report.format_summary,
    figures=report.figures)
