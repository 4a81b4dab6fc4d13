"""Kind ``discrete_sac``: Discrete SAC x Grokfast/GrAdE variants on a gymnax env.

The GrAdE paper's SAC experiment (Nilabh & Sinha Choudhury 2024, Table 1 and Figures 1-4;
docs/reference_facts.md §7) with :mod:`jaxcurr.students.sac.discrete`. Every (variant, seed)
run is one program; a window
is ``run.window_steps`` env steps after the ``sac.random_steps`` random phase (done in
``init``), and a run ends (and stops changing) once it has finished ``sac.num_episodes``
episodes, or at ``sac.max_env_steps``; the runner stops when every run has.

Window metrics: ``episodes``, ``env_steps`` and the means over the episodes that ended in the
window of ``return``, ``discounted_return``, ``length``, ``critic_loss``, ``alpha``,
``entropy``, ``actor_grad_magnitude``, ``critic_grad_magnitude`` (NaN when no episode ended:
these are not guarded; the learner's parameters and optimiser states are). Final arrays: the
per-episode logs and ``eval_return`` (greedy (argmax) policy scored after every
``sac.eval_every``-th episode: the exact discounted return on Four Rooms, the paper's metric;
elsewhere the mean undiscounted return of ``sac.eval_episodes`` rollouts, the number
Gymnasium-style results report, e.g. the paper's LunarLander evaluation).
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
    experiment_to_dict,
    require,
    require_positive_int,
)
from jaxcurr.kinds import discrete_sac_report as report
from jaxcurr.kinds.rl_common import (
    FOUR_ROOMS,
    EnvConfig,
    VariantsConfig,
    make_env,
    stacked_variants,
)
from jaxcurr.students.episodes import mean_of_ended
from jaxcurr.students.sac.config import SACConfig

WINDOW_MEANS = ("return", "discounted_return", "length", "critic_loss", "alpha", "entropy",
                "actor_grad_magnitude", "critic_grad_magnitude")


@dataclasses.dataclass(frozen=True)
class SACRunConfig(RunSettings):
    """``window_steps``: env steps per logged window (and per compiled scan step)."""

    window_steps: int = 1000

    def __post_init__(self):
        super().__post_init__()
        require_positive_int("run.window_steps", self.window_steps)


@dataclasses.dataclass(frozen=True)
class SACExperiment(Experiment):
    variants: VariantsConfig = VariantsConfig()
    env: EnvConfig = EnvConfig()
    sac: SACConfig = SACConfig()
    report: report.ReportConfig = report.ReportConfig()
    run: SACRunConfig = SACRunConfig()


SECTIONS = {"variants": VariantsConfig, "env": EnvConfig, "sac": SACConfig,
            "report": report.ReportConfig, "run": SACRunConfig}


def from_dict(values: dict) -> SACExperiment:
    config = build_experiment(SACExperiment, SECTIONS, values, "discrete_sac")
    env, params = make_env(config.env)
    require(hasattr(env.action_space(params), "n"), "env.name", "an env with discrete actions",
            config.env.name)
    if config.sac.one_hot_observations:
        require(config.env.name == FOUR_ROOMS and config.env.observation == "one_hot",
                "sac.one_hot_observations", "true only with Four Rooms' 'one_hot' observation",
                True)
    require(config.run.window_steps % config.sac.update_every == 0, "sac.update_every",
            f"a divisor of run.window_steps ({config.run.window_steps} env steps)",
            config.sac.update_every)
    return config


def to_dict(config: SACExperiment) -> dict:
    return experiment_to_dict(config, SECTIONS, "discrete_sac")


def build_sac(config: SACExperiment, point: dict | None = None):
    """The env, its params and :func:`make_sac`'s parts (chunk = one window) at a point."""
    from jaxcurr.envs import four_rooms
    from jaxcurr.students.sac.discrete import (
        make_sac,
        monte_carlo_greedy_evaluator,
        tabular_greedy_evaluator,
    )

    env, params = make_env(config.env)
    sac_config = with_hyperparameters(config.sac, point or {}, "sac.")
    if config.env.name == FOUR_ROOMS:
        evaluator = tabular_greedy_evaluator(
            env.all_observations(params), env.num_actions,
            lambda policy: four_rooms.policy_discounted_return(params, policy,
                                                               sac_config.gamma))
    else:
        evaluator = monte_carlo_greedy_evaluator(env, params, 1.0, sac_config.eval_episodes)
    return env, params, make_sac(sac_config, env, params, evaluator, config.run.window_steps)


def old_layout(state):
    """The train state as jaxcurr 0.1.0 checkpointed it (no snapshot scores)."""
    from jaxcurr.students.sac.discrete import TrainStateV1

    return TrainStateV1(**{name: getattr(state, name) for name in TrainStateV1._fields})


def make_engine(config: SACExperiment) -> Engine:
    _, _, sac = build_sac(config)  # the static structure (same at every point)
    windows = math.ceil((config.sac.max_env_steps - config.sac.random_steps)
                        / config.run.window_steps)

    def init(key, data, point):
        return build_sac(config, point)[2].init(key, point["variant"])

    def run(state, data, point, *, num_windows):
        at_point = build_sac(config, point)[2]

        def window(s, _):
            before = s.episodes
            s = at_point.run_chunk(s, point["variant"])
            metrics = mean_of_ended(s.log, WINDOW_MEANS, before, s.episodes)  # NaN: none ended
            metrics.update(episodes=s.episodes.astype(jnp.float32),
                           env_steps=s.step.astype(jnp.float32))
            return s, metrics

        return jax.lax.scan(window, state, None, length=num_windows)

    def upgrade(old_state, data, point):
        return build_sac(config, point)[2].upgrade(old_state)

    return Engine(init, run, windows, steps_per_window=config.run.window_steps,
                  unit="env step", finished=sac.finished, progress=lambda state: jnp.maximum(
                      state.episodes / config.sac.num_episodes,
                      state.step / config.sac.max_env_steps),
                  final=lambda state, data, point: sac.metrics(state),
                  guard=lambda state: state.learner, unguarded=WINDOW_MEANS,
                  old_layout=old_layout, upgrade=upgrade)


KIND = Kind(
    name="discrete_sac",
    description="Discrete SAC x Grokfast/GrAdE variants (Nilabh & Sinha Choudhury 2024)",
    from_dict=from_dict, to_dict=to_dict, prepare=no_data, make_engine=make_engine,
    variants=stacked_variants, summarize=report.summarize,
    format_summary=report.format_summary, figures=report.figures)
