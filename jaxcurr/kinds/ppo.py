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
from pathlib import Path
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
    fraction,
    is_int,
    require,
    require_positive_int,
)
from jaxcurr.kinds.rl_common import EnvConfig, VariantsConfig, make_env, stacked_variants
from jaxcurr.students.ppo.episodic import EpisodicPPOConfig
from jaxcurr.students.ppo.standard import PPOConfig

ALGOS = ("ppo", "ppo_episodic")
DIAGNOSTICS = ("entropy", "entropy_coef", "actor_grad_magnitude", "critic_grad_magnitude",
               "actor_loss", "critic_loss")


@dataclasses.dataclass(frozen=True)
class AgentConfig:
    algo: str = "ppo"

    def __post_init__(self):
        choice("agent.algo", self.algo, ALGOS)


@dataclasses.dataclass(frozen=True)
class PPOReportConfig:
    """final_fraction: the final return is the mean over the last fraction of updates;
    solved_level: a return drawn on the figure and counted per seed (0: none);
    greedy_episodes: greedy (argmax) rollouts of every run's final policy (0: none)."""

    final_fraction: float = 0.1
    solved_level: float = 0.0
    greedy_episodes: int = 0

    def __post_init__(self):
        fraction("report.final_fraction", self.final_fraction)
        require(self.final_fraction > 0, "report.final_fraction", "a number in (0, 1)",
                self.final_fraction)
        require(is_int(self.greedy_episodes) and self.greedy_episodes >= 0,
                "report.greedy_episodes", "an integer >= 0", self.greedy_episodes)


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
    report: PPOReportConfig = PPOReportConfig()
    run: PPORunConfig = PPORunConfig()

    @property
    def student(self) -> Any:
        return self.ppo if self.agent.algo == "ppo" else self.ppo_episodic


SECTIONS = {"variants": VariantsConfig, "env": EnvConfig, "agent": AgentConfig,
            "ppo": PPOConfig, "ppo_episodic": EpisodicPPOConfig, "report": PPOReportConfig,
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


def summarize(config: PPOExperiment, metrics: Any, points: list[str]) -> dict[str, Any]:
    """Per variant: the final return (mean over the last ``report.final_fraction`` of the
    windows, per seed; mean and 95% t-interval), the diagnostics there, and the mean greedy
    return of the final policy where ``report.greedy_episodes`` is set."""
    from jaxcurr.core.stats import nanmean, significant, stat

    returns = metrics["episode_return"]  # [P, S, W]
    tail = max(1, int(round(returns.shape[2] * config.report.final_fraction)))
    out: dict[str, Any] = {"env": config.env.name, "algo": config.agent.algo,
                           "seeds": config.run.seeds, "windows": int(returns.shape[2]),
                           "final_windows": tail, "variants": {}}
    for v, name in enumerate(points):
        final = nanmean(returns[v, :, -tail:], -1)
        row = {"final_return": stat(final, 5), "final_return_per_seed": significant(final, 5)}
        if config.report.solved_level:
            row["seeds_solved"] = int((final >= config.report.solved_level).sum())
        if "greedy_return" in metrics.final:
            greedy = metrics.final["greedy_return"][v].mean(-1)
            row["greedy_return"] = stat(greedy, 5)
            row["greedy_return_per_seed"] = significant(greedy, 5)
        for m in DIAGNOSTICS:
            row[f"final_{m}"] = significant(nanmean(metrics[m][v, :, -tail:]), 5)
        out["variants"][name] = row
    return out


def format_summary(summary: dict[str, Any]) -> str:
    lines = [f"{summary['algo']} on {summary['env']}, {summary['seeds']} seeds: final return "
             f"(last {summary['final_windows']} of {summary['windows']} windows), mean +- 95% CI"]
    for name, row in summary["variants"].items():
        final, greedy = row["final_return"], row.get("greedy_return")
        lines.append(f"  {name:<10}{final['mean']} +- {final['ci95']}" + (
            f"; greedy {greedy['mean']} +- {greedy['ci95']}" if greedy else ""))
    return "\n".join(lines)


def figures(run_dir: Path, config: PPOExperiment, metrics: Any, points: list[str]
            ) -> list[Path]:
    from jaxcurr.core.figures import band, plt, point_curves, save_figure

    step = np.asarray(metrics.step)
    if step.size == 0:
        return []
    unit = "update" if config.agent.algo == "ppo" else "episode"
    lines = {"solved level": config.report.solved_level} if config.report.solved_level else {}
    out = [point_curves(Path(run_dir) / "figures" / "return.png", step,
                        {p: metrics["episode_return"][i] for i, p in enumerate(points)},
                        "episode return", f"{config.name}: {config.agent.algo} on "
                        f"{config.env.name}, {config.run.seeds} seeds", xlabel=unit,
                        lines=lines)]
    fig, axes = plt.subplots(2, 3, figsize=(13, 6.5))
    for ax, m in zip(axes.flat, DIAGNOSTICS, strict=True):
        for i, p in enumerate(points):
            band(ax, step, metrics[m][i], p)
        ax.set(title=m, xlabel=unit)
        ax.grid(alpha=0.3)
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    out.append(save_figure(fig, Path(run_dir) / "figures" / "diagnostics.png"))
    return out


KIND = Kind(
    name="ppo", description="PPO (standard or the paper's episodic) x Grokfast/GrAdE variants",
    from_dict=from_dict, to_dict=to_dict, prepare=no_data, make_engine=make_engine,
    variants=stacked_variants, summarize=summarize, format_summary=format_summary,
    figures=figures)
