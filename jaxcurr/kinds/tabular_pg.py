"""Kind ``tabular_pg``: policy-gradient optimizers on a tabular MDP (the SPG-NM study).

Zhang et al. 2024 (SPG-NM; docs/reference_facts.md §9) against PG, PG-HB, APG and PG-Adam
(:mod:`jaxcurr.students.tabular.optimizers`) on one task of ``tabular_mdps.json``, with exact or
sampled gradients (:mod:`jaxcurr.students.tabular.policy_gradient`). Every optimizer (and every
extra SPG-NM reading) is a method of the same program; ``optimizers.spg_nm_lam`` is sweepable. Step
``t`` of every method uses the key ``split(run_key, steps)[t]``, as the study's first script did.

Logged per window and method: ``gap`` = ``V*(rho) - V(rho)`` at the iterate the method's
authors report (``theta`` for PG, PG-HB, PG-Adam, APG, as the public APG code logs; the held,
committed point ``w`` for SPG-NM), ``gap_theta`` and ``gap_held`` (both iterates),
``first_below_<t>`` (first step with ``gap <= t``; 0 while never) and ``committed``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxcurr.core.engine import Engine, Kind, hyperparameter, no_variants
from jaxcurr.core.validation import (
    Experiment,
    RunSettings,
    build_experiment,
    choice,
    experiment_to_dict,
    fraction,
    is_number,
    positive,
    require,
    require_positive_int,
    sweepable,
)
from jaxcurr.kinds import tabular_pg_report as report

MODES = ("exact", "stochastic")
ESTIMATORS = ("advantage", "q")
THRESHOLDS = (1e-2, 1e-4)  # first steps with gap <= each are logged


@dataclasses.dataclass(frozen=True)
class TaskConfig:
    """The task and the gradients. learning_rate "auto": 0.4 if gamma = 0, else
    ``(1 - gamma)^3 / 8`` (docs/reference_facts.md §9)."""

    name: str = "bandit_uniform"
    mode: str = "exact"
    learning_rate: float | str = "auto"
    batch_size: int = 1
    estimator: str = "advantage"
    x64: bool = True

    def __post_init__(self):
        from jaxcurr.envs.tabular_mdp import task_names

        choice("task.name", self.name, tuple(task_names()))
        choice("task.mode", self.mode, MODES)
        require(self.learning_rate == "auto" or (is_number(self.learning_rate)
                                                 and self.learning_rate > 0),
                "task.learning_rate", "'auto' or a positive number", self.learning_rate)
        require_positive_int("task.batch_size", self.batch_size)
        choice("task.estimator", self.estimator, ESTIMATORS)


@dataclasses.dataclass(frozen=True)
class OptimizersConfig:
    """Which optimizers run, and their options (see :mod:`jaxcurr.students.tabular.optimizers`).
    ``spg_nm_readings``: extra SPG-NM methods as ``"phi/commit"`` strings."""

    names: tuple[str, ...] = ("pg", "pg_hb", "apg", "pg_adam", "spg_nm")
    adam_learning_rate_scale: float = 1.0
    pg_hb_beta: float = sweepable(0.5)
    pg_hb_form: str = "polyak"
    apg_step_scaling: str = "code"
    apg_restart: str = "previous"
    apg_tol: float = 1e-12
    spg_nm_lam: float = sweepable(1000.0)
    spg_nm_phi: str = "literal"
    spg_nm_commit: str = "previous"
    spg_nm_readings: tuple[str, ...] = ()

    def __post_init__(self):
        from jaxcurr.students.tabular import optimizers as pgo

        require(len(self.names) > 0 and set(self.names) <= set(pgo.PG_OPTIMIZERS)
                and len(set(self.names)) == len(self.names), "optimizers.names",
                "distinct names from " + ", ".join(pgo.PG_OPTIMIZERS), self.names)
        positive("optimizers.adam_learning_rate_scale", self.adam_learning_rate_scale)
        require(is_number(self.pg_hb_beta) and -1 < self.pg_hb_beta < 1,
                "optimizers.pg_hb_beta", "a number in (-1, 1)", self.pg_hb_beta)
        choice("optimizers.pg_hb_form", self.pg_hb_form, ("polyak", "lookahead"))
        choice("optimizers.apg_step_scaling", self.apg_step_scaling, pgo.APG_STEP_SCALINGS)
        choice("optimizers.apg_restart", self.apg_restart, pgo.RESTARTS)
        fraction("optimizers.apg_tol", self.apg_tol)
        require(is_number(self.spg_nm_lam) and self.spg_nm_lam > 1, "optimizers.spg_nm_lam",
                "a number > 1", self.spg_nm_lam)
        choice("optimizers.spg_nm_phi", self.spg_nm_phi, pgo.SPG_NM_PHI)
        choice("optimizers.spg_nm_commit", self.spg_nm_commit, pgo.SPG_NM_COMMITS)
        for reading in self.spg_nm_readings:
            phi, _, commit = reading.partition("/")
            require(phi in pgo.SPG_NM_PHI and commit in pgo.SPG_NM_COMMITS,
                    "optimizers.spg_nm_readings", "strings 'phi/commit' with phi in "
                    f"{pgo.SPG_NM_PHI} and commit in {pgo.SPG_NM_COMMITS}", reading)


@dataclasses.dataclass(frozen=True)
class TabularRunConfig(RunSettings):
    """Steps and logging cadence (``steps`` a multiple of ``log_every``)."""

    steps: int = 3000
    log_every: int = 1

    def __post_init__(self):
        super().__post_init__()
        require_positive_int("run.steps", self.steps)
        require_positive_int("run.log_every", self.log_every)
        require(self.steps % self.log_every == 0, "run.steps",
                f"a multiple of run.log_every ({self.log_every})", self.steps)


@dataclasses.dataclass(frozen=True)
class TabularConfig(Experiment):
    task: TaskConfig = TaskConfig()
    optimizers: OptimizersConfig = OptimizersConfig()
    run: TabularRunConfig = TabularRunConfig()


SECTIONS = {"task": TaskConfig, "optimizers": OptimizersConfig, "run": TabularRunConfig}


def from_dict(values: dict) -> TabularConfig:
    return build_experiment(TabularConfig, SECTIONS, values, "tabular_pg")


def to_dict(config: TabularConfig) -> dict:
    return experiment_to_dict(config, SECTIONS, "tabular_pg")


class Method(NamedTuple):
    label: str
    name: str
    options: dict


def methods(config: TabularConfig) -> list[Method]:
    """The methods that run: each optimizer of ``optimizers.names`` and each extra SPG-NM
    reading."""
    o = config.optimizers
    options = {"pg": {}, "pg_hb": {"beta": o.pg_hb_beta, "form": o.pg_hb_form},
               "apg": {"step_scaling": o.apg_step_scaling, "restart": o.apg_restart,
                       "tol": o.apg_tol},
               "pg_adam": {}, "spg_nm": {"lam": o.spg_nm_lam, "phi": o.spg_nm_phi,
                                         "commit": o.spg_nm_commit}}
    out = [Method(n, n, options[n]) for n in o.names]
    for reading in o.spg_nm_readings:
        phi, _, commit = reading.partition("/")
        out.append(Method(f"spg_nm_{phi}_{commit}", "spg_nm",
                          {"lam": o.spg_nm_lam, "phi": phi, "commit": commit}))
    return out


def prepare(config: TabularConfig) -> dict:
    """The task's arrays (float64 when ``task.x64``) and ``V*`` by value iteration."""
    from jaxcurr.envs.tabular_mdp import load_tabular_mdp
    from jaxcurr.students.tabular import policy_gradient as tpg

    dtype = np.float64 if config.task.x64 else np.float32
    with jax.enable_x64(config.task.x64):
        mdp = jax.tree.map(lambda x: jnp.asarray(np.asarray(x, dtype)),
                           load_tabular_mdp(config.task.name))
        v_star = tpg.value_iteration(mdp).value
    return {"mdp": jax.tree.map(np.asarray, mdp), "v_star": np.asarray(v_star, dtype)}


def step_size(config: TabularConfig, gamma: float) -> float:
    lr = config.task.learning_rate
    if lr == "auto":
        return 0.4 if gamma == 0.0 else (1 - gamma) ** 3 / 8
    return float(lr)


def make_engine(config: TabularConfig) -> Engine:
    """The engine: every method's optimizer steps on the same keys; a window logs each
    method's gap and the first steps below the thresholds."""
    from jaxcurr.envs.tabular_mdp import load_tabular_mdp
    from jaxcurr.students.tabular import optimizers as pgo
    from jaxcurr.students.tabular import policy_gradient as tpg

    task, steps, every = config.task, config.run.steps, config.run.log_every
    lr = step_size(config, float(load_tabular_mdp(task.name).gamma))
    listed = methods(config)

    def optimizers(point):
        """Each method's optimizer at a point (swept lambda and beta in place)."""
        out = []
        for m in listed:
            options = dict(m.options)
            rate = lr * config.optimizers.adam_learning_rate_scale if m.name == "pg_adam" else lr
            if m.name == "spg_nm":
                options["lam"] = hyperparameter(point, "optimizers.spg_nm_lam", options["lam"])
            if m.name == "pg_hb":
                options["beta"] = hyperparameter(point, "optimizers.pg_hb_beta", options["beta"])
            out.append(pgo.make_pg_optimizer(m.name, rate, **options))
        return out

    def init(key, data, point):
        opts = optimizers(point)
        logits = jnp.asarray(data["mdp"].initial_logits)
        first = jnp.zeros(len(THRESHOLDS), jnp.int32)
        return {"t": jnp.zeros([], jnp.int32), "keys": jax.random.split(key, steps),
                "methods": [(o.init(logits), first) for o in opts]}

    def run(state, data, point, *, num_windows):
        """``num_windows`` windows of ``log_every`` steps of every method."""
        mdp, v_star = data["mdp"], data["v_star"]
        value_fn = lambda w: tpg.value(mdp, w)
        if task.mode == "exact":
            grad_fn = lambda w, k: tpg.exact_gradient(mdp, w)
        else:
            grad_fn = lambda w, k: tpg.sampled_gradient(mdp, w, k, task.batch_size,
                                                        task.estimator == "advantage")
        opts = optimizers(point)
        thresholds = jnp.asarray(THRESHOLDS)

        def one_step(carry, _):
            """One step of every method with step ``t``'s key, and its gaps."""
            t, keys, per_method = carry
            key = keys[t]
            new, out = [], []
            for m, o, (opt_state, first) in zip(listed, opts, per_method, strict=True):
                opt_state, info = o.step(opt_state, key, grad_fn, value_fn)
                gap_theta = v_star - value_fn(opt_state.theta)
                gap_held = v_star - value_fn(opt_state.params)
                gap = gap_held if m.name in report.REPORTED_AT_HELD else gap_theta
                first = jnp.where((first == 0) & (gap <= thresholds), t + 1, first)
                new.append((opt_state, first))
                out.append((gap, gap_theta, gap_held, info.committed.astype(gap.dtype)))
            return (t + 1, keys, new), out

        def window(st, _):
            """``log_every`` steps and the window's metrics."""
            (t, keys, per_method), out = jax.lax.scan(
                one_step, (st["t"], st["keys"], st["methods"]), None, length=every)
            metrics = {}
            for m, (gap, g_theta, g_held, committed), (_, first) in zip(
                    listed, out, per_method, strict=True):
                metrics.update({f"{m.label}/gap": gap[-1], f"{m.label}/gap_theta": g_theta[-1],
                                f"{m.label}/gap_held": g_held[-1],
                                f"{m.label}/committed": committed.mean()})
                for i, thr in enumerate(THRESHOLDS):
                    metrics[f"{m.label}/first_below_{thr:g}"] = first[i]
            return {"t": t, "keys": keys, "methods": per_method}, metrics

        return jax.lax.scan(window, state, None, length=num_windows)

    return Engine(init, run, steps // every, steps_per_window=every, unit="step",
                  x64=task.x64, guard=lambda s: [opt.params for opt, _ in s["methods"]])










def summarize(config: TabularConfig, metrics: dict, points: list[str]) -> dict:
    """:func:`~jaxcurr.kinds.tabular_pg_report.summarize` with this config's methods."""
    from jaxcurr.envs.tabular_mdp import load_tabular_mdp

    eta = step_size(config, float(load_tabular_mdp(config.task.name).gamma))
    return report.summarize(config, metrics, points, [m.label for m in methods(config)],
                            [m.name for m in methods(config)], eta, THRESHOLDS)


def figures(run_dir: Path, config: TabularConfig, metrics: dict, points: list[str]
            ) -> list[Path]:
    """:func:`~jaxcurr.kinds.tabular_pg_report.figures` with this config's methods."""
    return report.figures(run_dir, config, metrics, points, [m.label for m in methods(config)])


KIND = Kind(
    name="tabular_pg", description="PG, PG-HB, APG, PG-Adam, SPG-NM (Zhang et al. 2024) on "
    "tabular MDPs",
    from_dict=from_dict, to_dict=to_dict, prepare=prepare, make_engine=make_engine,
    variants=no_variants, summarize=summarize, format_summary=report.format_summary,
    figures=figures)
