"""SPG-NM against PG, PG-HB, APG and PG-Adam on the tabular tasks (sub-optimality gap vs steps).

    python experiments/spg_nm.py [experiments/spg_nm.toml]

For every task and gradient mode (exact gradient; stochastic gradient from sampled state-action
pairs) each optimizer runs as one ``jax.jit(jax.vmap(run))`` over seeds; the SPG-NM lambda sweep
runs every (lambda, seed) pair of a task and mode as ONE compiled program
(``jax.jit(jax.vmap(jax.vmap(run)))``, traces counted and written to the summary). The gap
``V*(rho) - V(rho)`` is recorded at every step at the iterate each method's authors report:
the gradient-step point ``theta`` for PG, PG-HB, PG-Adam and APG (the public APG code logs
``V(theta)``), the held (committed) point ``w`` for SPG-NM (the paper keeps "the new point"
only if its value improves); the summary also gives SPG-NM at ``theta`` and APG at ``w``.

Writes ``<out>/summary.json``, ``<out>/config.json`` and figures ``<out>/*.png``.
"""

from __future__ import annotations

import json
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MODES = ("exact", "stochastic")


def load_config(path: Path) -> dict[str, Any]:
    with open(path, "rb") as f:
        cfg = tomllib.load(f)
    for key in ("out", "group", "stochastic", "optimizers", "sweep"):
        if key not in cfg:
            raise ValueError(f"{path}: missing key {key!r}")
    if cfg["stochastic"].get("estimator", "advantage") not in ("advantage", "q"):
        raise ValueError("stochastic.estimator must be 'advantage' or 'q'")
    if cfg["stochastic"]["seeds"] < 2:
        raise ValueError("stochastic.seeds must be >= 2 (confidence intervals need two seeds)")
    return cfg


def step_size(lr: Any, gamma: float) -> float:
    if lr == "auto":
        return 0.4 if gamma == 0.0 else (1 - gamma) ** 3 / 8
    if float(lr) <= 0:
        raise ValueError(f"learning_rate must be > 0 or 'auto', got {lr!r}")
    return float(lr)


def make_opt(name: str, lr: float, cfg: dict[str, Any], **override: Any):
    from jaxcurr.students.pg_optimizers import make_pg_optimizer

    opts = dict(cfg["optimizers"].get(name, {}))
    opts.update(override)
    if name == "pg_adam":
        lr = lr * cfg["optimizers"].get("adam_learning_rate_scale", 1.0)
    return make_pg_optimizer(name, lr, **opts)


# The iterate whose gap is reported (the other one goes to the summary as "<name> at <other>").
REPORTED = {"spg_nm": "held"}  # every other optimizer: "theta"


def make_run(mdp, v_star, steps: int, mode: str, scfg: dict[str, Any]):
    """``run(opt, key) -> (gaps at theta, gaps at w) [steps] each`` for one optimizer."""
    from jaxcurr.students import tabular_pg as tpg

    value_fn = lambda w: tpg.value(mdp, w)
    if mode == "exact":
        grad_fn = lambda w, k: tpg.exact_gradient(mdp, w)
    else:
        advantage = scfg.get("estimator", "advantage") == "advantage"
        grad_fn = lambda w, k: tpg.sampled_gradient(mdp, w, k, scfg["batch_size"], advantage)

    def run(opt, key):
        def body(state, k):
            state, _ = opt.step(state, k, grad_fn, value_fn)
            return state, (v_star - value_fn(state.theta), v_star - value_fn(state.params))

        _, gaps = jax.lax.scan(body, opt.init(mdp.initial_logits), jax.random.split(key, steps))
        return gaps

    return run


def first_step_below(gaps: np.ndarray, threshold: float) -> list[int | None]:
    """Per seed: first step (1-based) with gap <= threshold, None if never."""
    out = []
    for g in np.atleast_2d(gaps):
        hit = np.nonzero(g <= threshold)[0]
        out.append(int(hit[0]) + 1 if hit.size else None)
    return out


def _num(x: Any) -> float | None:
    return float(x) if np.isfinite(x) else None


def stats(gaps: np.ndarray, thresholds: list[float]) -> dict[str, Any]:
    from jaxcurr.results import mean_ci

    gaps = np.atleast_2d(gaps)
    steps = gaps.shape[1]
    marks = sorted({m for m in (1, 10, 100, 1000, 10_000, 100_000, steps) if m <= steps})
    at = {}
    for m in marks:  # NaN (overflowed logits) is written as null
        mean, half = mean_ci(gaps[:, m - 1])
        at[str(m)] = {"mean": _num(mean), "ci95": _num(half)}
    hits = {f"{t:g}": first_step_below(gaps, t) for t in thresholds}
    return {"seeds": gaps.shape[0], "gap_at_step": at, "first_step_below": hits}


def log_index(steps: int, n: int = 300) -> np.ndarray:
    return np.unique(np.round(np.logspace(0, np.log10(steps), n)).astype(int)) - 1


def plot_curves(ax, curves: dict[str, np.ndarray], floor: float, title: str) -> None:
    from jaxcurr.results import mean_ci

    for i, (label, gaps) in enumerate(curves.items()):
        gaps = np.atleast_2d(gaps)
        idx = log_index(gaps.shape[1])
        mean, half = mean_ci(np.maximum(gaps[:, idx], floor))
        style = "--" if "(" in label else "-"
        color = f"C{i}"
        ax.plot(idx + 1, np.maximum(mean, floor), style, color=color, label=label, lw=1.4)
        if gaps.shape[0] > 1:
            ax.fill_between(idx + 1, np.maximum(mean - half, floor), mean + half, color=color,
                            alpha=0.2, lw=0)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("V*(rho) - V(rho)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3, which="both", lw=0.3)


def main(argv: list[str]) -> None:
    cfg_path = Path(argv[1]) if len(argv) > 1 else ROOT / "experiments" / "spg_nm.toml"
    cfg = load_config(cfg_path)
    jax.config.update("jax_enable_x64", bool(cfg.get("x64", True)))
    from jaxcurr.envs.tabular_mdp import load_tabular_mdp
    from jaxcurr.students import tabular_pg as tpg

    out = Path(cfg["out"])
    out = out if out.is_absolute() else ROOT / out
    out.mkdir(parents=True, exist_ok=True)
    scfg, floor, thresholds = cfg["stochastic"], cfg["gap_floor"], cfg["thresholds"]
    names, variants = cfg["optimizers"]["names"], cfg.get("variant", [])
    lambdas = [float(x) for x in cfg["sweep"]["lambdas"]]
    summary: dict[str, Any] = {"config": str(cfg_path.relative_to(ROOT)) if cfg_path.is_absolute()
                               and ROOT in cfg_path.parents else str(cfg_path),
                               "x64": bool(cfg.get("x64", True)), "tasks": {}, "sweep": {}}
    curves: dict[tuple[str, str], dict[str, np.ndarray]] = {}
    sweeps: dict[tuple[str, str, str], np.ndarray] = {}
    t_start = time.time()
    for group in cfg["group"]:
        for task in group["tasks"]:
            mdp = load_tabular_mdp(task)
            sol = tpg.value_iteration(mdp)
            v_star = sol.value
            lr = step_size(group["learning_rate"], float(mdp.gamma))
            steps = int(group["steps"])
            summary["tasks"][task] = {"gamma": float(mdp.gamma), "learning_rate": lr,
                                      "steps": steps, "v_star": float(v_star),
                                      "v_initial": float(tpg.value(mdp, mdp.initial_logits)),
                                      "value_iteration_backups": int(sol.iterations),
                                      "results": {}}
            for mode in MODES:
                seeds = 1 if mode == "exact" else int(scfg["seeds"])
                keys = jax.random.split(jax.random.key(0), seeds)
                run = make_run(mdp, v_star, steps, mode, scfg)
                runs = {n: make_opt(n, lr, cfg) for n in names}
                runs.update({v["label"]: make_opt("spg_nm", lr, cfg, phi=v["phi"],
                                                  commit=v["commit"]) for v in variants})
                res = {}
                for label, opt in runs.items():
                    t0 = time.time()
                    at_theta, at_w = jax.jit(jax.vmap(lambda k, o=opt, r=run: r(o, k)))(keys)
                    held = REPORTED.get(label.split(" ")[0], "theta") == "held"
                    gaps, other = (at_w, at_theta) if held else (at_theta, at_w)
                    gaps, other = np.asarray(gaps), np.asarray(other)
                    res[label] = gaps
                    out_mode = summary["tasks"][task]["results"].setdefault(mode, {})
                    out_mode[label] = {**stats(gaps, thresholds), "reported_at":
                                       "held w" if held else "theta",
                                       "seconds": round(time.time() - t0, 2)}
                    if not np.array_equal(gaps, other, equal_nan=True):
                        out_mode[f"{label} at {'theta' if held else 'held w'}"] = stats(
                            other, thresholds)
                curves[(task, mode)] = res
                # The lambda sweep: all (lambda, seed) pairs in one compiled program per reading.
                for phi in cfg["sweep"]["phi"]:
                    traces = []

                    def sweep_one(lam, key, phi=phi, traces=traces, run=run, lr=lr):
                        traces.append(1)  # runs at trace time only
                        return run(make_opt("spg_nm", lr, cfg, lam=lam, phi=phi), key)[1]

                    t0 = time.time()
                    fn = jax.jit(jax.vmap(jax.vmap(sweep_one, (None, 0)), (0, None)))
                    n_sweep = 1 if mode == "exact" else int(cfg["sweep"].get("seeds", seeds))
                    gaps = np.asarray(fn(jnp.asarray(lambdas), keys[:n_sweep]))
                    sweeps[(task, mode, phi)] = gaps
                    summary["sweep"].setdefault(task, {}).setdefault(mode, {})[phi] = {
                        "traces": len(traces), "seconds": round(time.time() - t0, 2),
                        "lambdas": {f"{lam:g}": stats(g, thresholds)
                                    for lam, g in zip(lambdas, gaps, strict=True)}}
                print(f"{task} {mode}: done at {time.time() - t_start:.0f}s", flush=True)
    summary["seconds_total"] = round(time.time() - t_start, 1)

    tasks = list(summary["tasks"])
    for mode in MODES:
        fig, axes = plt.subplots(2, 2, figsize=(11, 8.5))
        for ax, task in zip(axes.flat, tasks, strict=False):
            seeds = 1 if mode == "exact" else scfg["seeds"]
            lr = summary["tasks"][task]["learning_rate"]
            plot_curves(ax, curves[(task, mode)], floor,
                        f"{task}, {mode} gradient, eta={lr:g}, {seeds} seed(s)")
        axes.flat[0].legend(fontsize=7)
        fig.suptitle(f"Sub-optimality gap, {mode} gradients"
                     + (" (mean, 95% t-interval over seeds)" if mode == "stochastic" else ""))
        fig.tight_layout()
        fig.savefig(out / f"gap_{mode}.png", dpi=110)
        plt.close(fig)
    for phi in cfg["sweep"]["phi"]:
        fig, axes = plt.subplots(2, 4, figsize=(18, 8.5))
        for col, task in enumerate(tasks):
            for row, mode in enumerate(MODES):
                gaps = sweeps[(task, mode, phi)]
                plot_curves(axes[row, col],
                            {f"lam={lam:g}": g for lam, g in zip(lambdas, gaps, strict=True)},
                            floor, f"{task}, {mode}")
        axes[0, 0].legend(fontsize=7)
        fig.suptitle(f"SPG-NM lambda sweep (phi={phi!r}, commit="
                     f"{cfg['optimizers']['spg_nm']['commit']!r})")
        fig.tight_layout()
        fig.savefig(out / f"lambda_sweep_{phi}.png", dpi=100)
        plt.close(fig)
    (out / "config.json").write_text(json.dumps(cfg, indent=1))
    (out / "summary.json").write_text(json.dumps(summary, indent=1, allow_nan=False))
    print(f"wrote {out} in {summary['seconds_total']}s")


if __name__ == "__main__":
    main(sys.argv)
