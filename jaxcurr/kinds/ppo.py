"""Kind ``ppo``: standard PPO or the GrAdE paper's episodic PPO x Grokfast/GrAdE variants.

``agent.algo = "ppo"``: vectorised PPO with GAE (:mod:`jaxcurr.students.ppo.standard`, settings in
``[ppo]``); ``"ppo_episodic"``: the paper's one-episode-per-update PPO
(:mod:`jaxcurr.students.ppo.episodic`, settings in ``[ppo_episodic]``). Any gymnax env with
discrete actions. A window is ``run.window_updates`` updates; its metrics are the means over
those updates of the student's per-update metrics (``episode_return`` is NaN until the first
episode ends, so it is not guarded; the agent's parameters are).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import numpy as np

from jaxcurr.core.engine import Engine, Kind, no_data, with_hyperparameters
from jaxcurr.core.validation import (
    Experiment,
    RunSettings,
    build_experiment,
    choice,
    experiment_to_dict,
    require,
    require_positive_int,
)
from jaxcurr.kinds import ppo_report as report
from jaxcurr.kinds.rl_common import EnvConfig, VariantsConfig, make_env, stacked_variants
from jaxcurr.students.ppo.episodic import EpisodicPPOConfig
from jaxcurr.students.ppo.standard import PPOConfig

ALGOS = ("ppo", "ppo_episodic")


@dataclasses.dataclass(frozen=True)
class AgentConfig:
    algo: str = "ppo"

    def __post_init__(self):
        choice("agent.algo", self.algo, ALGOS)




@dataclasses.dataclass(frozen=True)
class PPORunConfig(RunSettings):
    """``window_updates``: updates (episodes for the episodic PPO) per logged window; it must
    divide the run's number of updates."""

    window_updates: int = 1

    def __post_init__(self):
        super().__post_init__()
        require_positive_int("run.window_updates", self.window_updates)


@dataclasses.dataclass(frozen=True)
class PPOExperiment(Experiment):
    variants: VariantsConfig = VariantsConfig()
    env: EnvConfig = EnvConfig(name="CartPole-v1", observation="one_hot")
    agent: AgentConfig = AgentConfig()
    ppo: PPOConfig = PPOConfig()
    ppo_episodic: EpisodicPPOConfig = EpisodicPPOConfig()
    report: report.PPOReportConfig = report.PPOReportConfig()
    run: PPORunConfig = PPORunConfig()

    @property
    def student(self) -> Any:
        return self.ppo if self.agent.algo == "ppo" else self.ppo_episodic


SECTIONS = {"variants": VariantsConfig, "env": EnvConfig, "agent": AgentConfig,
            "ppo": PPOConfig, "ppo_episodic": EpisodicPPOConfig, "report": report.PPOReportConfig,
            "run": PPORunConfig}


def from_dict(values: dict) -> PPOExperiment:
    values = {**values, "env": {"name": "CartPole-v1", **values.get("env", {})}}
    config = build_experiment(PPOExperiment, SECTIONS, values, "ppo")
    for key, _ in config.sweep:
        require(key.startswith(config.agent.algo + "."), f"sweep.{key}",
                f"a setting of the algorithm that runs ({config.agent.algo})", "a sweep")
    env, params = make_env(config.env)
    require(hasattr(env.action_space(params), "n"), "env.name", "an env with discrete actions",
            config.env.name)
    updates = program(config).num_updates
    require(updates % config.run.window_updates == 0, "run.window_updates",
            f"a divisor of the run's {updates} updates", config.run.window_updates)
    return config


def to_dict(config: PPOExperiment) -> dict:
    return experiment_to_dict(config, SECTIONS, "ppo")


def program(config: PPOExperiment, point: dict | None = None):
    """The student's program at a point (swept values in place)."""
    from jaxcurr.students.ppo import episodic as ppo_episodic
    from jaxcurr.students.ppo import standard as ppo

    env, params = make_env(config.env)
    module = ppo if config.agent.algo == "ppo" else ppo_episodic
    student = with_hyperparameters(config.student, point or {}, config.agent.algo + ".")
    return module.make_program(student, env, params)


def make_engine(config: PPOExperiment) -> Engine:
    prog = program(config)  # the static structure (same at every point)
    per_window = config.run.window_updates

    def init(key, data, point):
        return program(config, point).init(key, point["variant"])

    def run(state, data, point, *, num_windows):
        at_point = program(config, point)

        def window(carry, _):
            carry, metrics = jax.lax.scan(lambda c, _: at_point.update(c, point["variant"]),
                                          carry, None, per_window)
            return carry, jax.tree.map(lambda x: x.mean(0).astype(np.float32), metrics)

        return jax.lax.scan(window, state, None, length=num_windows)

    unit = "update" if config.agent.algo == "ppo" else "episode"
    return Engine(init, run, prog.num_updates // per_window, steps_per_window=per_window,
                  unit=unit, guard=prog.agent, unguarded=("episode_return",),
                  final=greedy_final(config, prog) if config.report.greedy_episodes else None)


def greedy_final(config: PPOExperiment, prog: Any):
    """``final(state, data, point) -> {"greedy_return": [episodes]}``: the undiscounted return
    of ``report.greedy_episodes`` argmax rollouts of the run's last policy. Every run rolls
    out from the same keys (from ``run.seed``), so variants and seeds meet the same starts."""
    from jaxcurr.students.evaluation import greedy_action, rollout_returns
    from jaxcurr.students.ppo.common import make_networks

    env, params = make_env(config.env)
    actor, _ = make_networks(config.student, env.action_space(params).n)
    keys = jax.random.split(jax.random.fold_in(jax.random.PRNGKey(config.run.seed), 1),
                            config.report.greedy_episodes)

    def final(state, data, point):
        del data, point
        act = greedy_action(actor.apply, prog.agent(state).actor_params)
        return {"greedy_return": rollout_returns(env, params, act, keys)[0]}

    return final








KIND = Kind(
    name="ppo", description="PPO (standard or Nilabh & Sinha Choudhury 2024's "
    "episodic) x Grokfast/GrAdE variants",
    from_dict=from_dict, to_dict=to_dict, prepare=no_data, make_engine=make_engine,
    variants=stacked_variants, summarize=report.summarize,
    format_summary=report.format_summary, figures=report.figures)
