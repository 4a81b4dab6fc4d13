"""Discrete SAC +- Grokfast-EMA +- GrAdE on Four Rooms (Nilabh & Sinha Choudhury, Figures 1-4).

    python experiments/fourrooms_sac.py [experiments/fourrooms_sac.toml] [--out DIR] [--episodes N]

All (variant, seed) runs are ONE compiled program: ``jit(vmap(vmap(init)))`` then a Python
loop over ``jit(vmap(vmap(run_chunk)))`` until every run has finished its episodes (progress is
printed per chunk). Every episode's greedy (argmax) policy is scored with the exact discounted
return from the start cell (``policy_discounted_return``). Writes to the output folder:
``config.toml`` (resolved), ``metrics.npz`` (``[variant, seed, episode]`` arrays, plus
``variants``, ``optimal_return``, ``random_return``), ``summary.json`` and ``figures/*.png``;
they are rewritten every ``report.save_every_s`` seconds while the run goes on.
"""

from __future__ import annotations

import argparse
import dataclasses
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
import tomli_w

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from jaxcurr.config import ConfigError  # noqa: E402
from jaxcurr.envs import four_rooms  # noqa: E402
from jaxcurr.results import atomic_write, mean_ci  # noqa: E402
from jaxcurr.students.discrete_sac import (  # noqa: E402
    SACConfig,
    make_sac,
    tabular_greedy_evaluator,
)
from jaxcurr.students.rl_variants import VARIANT_NAMES, variants  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TOP_KEYS = {"name", "kind", "description", "out", "variants", "seeds", "seed", "env", "sac",
            "report"}
ENV_KEYS = {"observation", "slip_prob", "max_steps_in_episode", "terminate_at_goal"}
REPORT_DEFAULTS = {"last_episodes": 100, "within": [1.0, 5.0], "smooth": 10,
                   "save_every_s": 600}
TIMING_KEYS = {"compile_s", "random_phase_s", "runs", "chunk_steps", "loop_wall_s", "chunks",
               "env_steps_total", "env_steps_per_s_all_runs", "vmapped_steps_per_s"}
FIGURES = (  # file, metric, y label, log scale (paper figure)
    ("eval_return.png", "eval_return", "greedy discounted return", False),  # Fig. 1
    ("train_return.png", "discounted_return", "training discounted return", False),
    ("critic_loss.png", "critic_loss", "critic loss", True),  # Fig. 2
    ("actor_grad_magnitude.png", "actor_grad_magnitude", "actor gradient magnitude", False),
    ("critic_grad_magnitude.png", "critic_grad_magnitude", "critic gradient magnitude", True),
)


def load_config(path: Path, out: str | None, episodes: int | None) -> dict[str, Any]:
    """Read and check the TOML; ``--out`` / ``--episodes`` override ``out`` / sac.num_episodes."""
    with open(path, "rb") as f:
        cfg = tomllib.load(f)
    unknown = set(cfg) - TOP_KEYS
    if unknown:
        raise ConfigError(f"{sorted(unknown)[0]}: unknown key; allowed: {sorted(TOP_KEYS)}")
    names = cfg.get("variants", list(VARIANT_NAMES))
    variants(names)  # raises on unknown names
    seeds = cfg.get("seeds", 5)
    if not isinstance(seeds, int) or seeds < 2:
        raise ConfigError(f"seeds: got {seeds!r}; allowed: an integer >= 2 (for 95% intervals)")
    env = cfg.get("env", {})
    if set(env) - ENV_KEYS:
        raise ConfigError(f"env.{sorted(set(env) - ENV_KEYS)[0]}: unknown key; allowed: "
                          f"{sorted(ENV_KEYS)}")
    sac = dict(cfg.get("sac", {}))
    if episodes is not None:
        sac["num_episodes"] = episodes
        sac["eval_every"] = min(sac.get("eval_every", 1), episodes)
    fields = {f.name for f in dataclasses.fields(SACConfig)}
    if set(sac) - fields:
        raise ConfigError(f"sac.{sorted(set(sac) - fields)[0]}: unknown key; allowed: "
                          f"{sorted(fields)}")
    report = {**REPORT_DEFAULTS, **cfg.get("report", {})}
    if set(report) - set(REPORT_DEFAULTS):
        raise ConfigError(f"report.{sorted(set(report) - set(REPORT_DEFAULTS))[0]}: unknown "
                          f"key; allowed: {sorted(REPORT_DEFAULTS)}")
    sac_config = SACConfig(**sac)  # validates every field
    if sac_config.one_hot_observations and env.get("observation", "one_hot") != "one_hot":
        raise ConfigError(f"sac.one_hot_observations: got true with env.observation = "
                          f"{env['observation']!r}; allowed: true only with 'one_hot'")
    return {**cfg, "variants": list(names), "seeds": seeds, "seed": cfg.get("seed", 0),
            "out": out or cfg.get("out", "experiments/results/fourrooms_sac"), "env": env,
            "sac": dataclasses.asdict(sac_config), "report": report}


def build(cfg: dict[str, Any]):
    env = four_rooms.FourRooms(cfg["env"].get("observation", "one_hot"))
    env_kwargs = {k: v for k, v in cfg["env"].items() if k != "observation"}
    env_params = env.default_params.replace(**env_kwargs)
    sac_config = SACConfig(**cfg["sac"])
    gamma = sac_config.gamma
    evaluator = tabular_greedy_evaluator(
        env.all_observations(env_params), env.num_actions,
        lambda policy: four_rooms.policy_discounted_return(env_params, policy, gamma))
    return env, env_params, sac_config, make_sac(sac_config, env, env_params, evaluator)


def first_episode_within(curve: np.ndarray, target: float) -> int | None:
    """1-based episode at which a greedy-return curve first reaches ``target`` (None: never)."""
    hit = np.nonzero(np.nan_to_num(curve, nan=-np.inf) >= target)[0]
    return int(hit[0]) + 1 if hit.size else None


def _stat(values: np.ndarray) -> dict[str, float]:
    mean, half = mean_ci(values)
    return {"mean": round(float(mean), 4), "ci95": round(float(half), 4)}


def summarize(cfg: dict[str, Any], m: dict[str, np.ndarray], timing: dict[str, Any]
              ) -> dict[str, Any]:
    """Per variant, over seeds (mean and 95% t-interval): the greedy return at the end and along
    the way, episodes until within X of the optimum, env steps, losses, gradient magnitudes."""
    rep, optimal = cfg["report"], float(m["optimal_return"])
    last, width, every = rep["last_episodes"], int(rep["smooth"]), cfg["sac"]["eval_every"]
    episodes = m["episodes"]  # [V, S]
    out: dict[str, Any] = {
        "name": cfg.get("name", "fourrooms_sac"), "seeds": cfg["seeds"],
        "num_episodes": cfg["sac"]["num_episodes"], "optimal_return": round(optimal, 4),
        "uniform_random_policy_return": round(float(m["random_return"]), 4),
        "finished": bool(np.all(episodes >= cfg["sac"]["num_episodes"])), **timing,
        "variants": {}}
    eval_episode = (np.arange(m["eval_return"].shape[-1]) + 1) * every
    plain = cfg["variants"].index("plain") if "plain" in cfg["variants"] else None

    def window(x, lo, hi, on=None):  # per-seed mean over episodes lo < e <= hi
        on = np.arange(1, x.shape[-1] + 1) if on is None else on
        sel = (on > lo) & (on <= hi)
        if not sel.any():
            return np.full(x.shape[0], np.nan)
        with np.errstate(all="ignore"):
            return np.nanmean(x[:, sel], axis=1)

    for v, name in enumerate(cfg["variants"]):
        ev, n = m["eval_return"][v], int(episodes[v].min())  # ev: [S, evals]
        final = window(ev, n - last, n, eval_episode)
        row: dict[str, Any] = {
            "episodes_done_min": n,
            f"final_greedy_return_last_{last}": _stat(final),
            "gap_to_optimal": _stat(optimal - final),
            "greedy_return_first_100_episodes": _stat(window(ev, 0, 100, eval_episode)),
            "greedy_return_at_episode": {
                str(e): _stat(window(ev, e - width, e, eval_episode))
                for e in (50, 100, 150, 200, 300, 500, 1000) if e <= n},
            "episodes_to_within": {
                f"{x:g}": [first_episode_within(curve, optimal - x) for curve in ev]
                for x in rep["within"]},
            f"episodes_to_within_{width}_episode_average": {
                f"{x:g}": [first_episode_within(curve, optimal - x)
                           for curve in smooth(ev, width)] for x in rep["within"]},
            f"training_discounted_return_last_{last}": _stat(
                window(m["discounted_return"][v], n - last, n)),
            "env_steps": m["env_steps"][v].tolist(),
            "env_steps_mean": float(m["env_steps"][v].mean()),
            "final_alpha": _stat(window(m["alpha"][v], n - 10, n)),
            "final_entropy": _stat(window(m["entropy"][v], n - 10, n)),
        }
        for key in ("critic_loss", "actor_grad_magnitude", "critic_grad_magnitude"):
            for label, lo in (("all", 0), (f"last_{last}", n - last)):
                row[f"{key}_mean_{label}"] = _stat(window(m[key][v], lo, n))
                if plain is not None and v != plain and key != "critic_loss":
                    ratio = window(m[key][plain], lo, n) / window(m[key][v], lo, n)
                    row[f"{key}_plain_over_this_{label}"] = _stat(ratio)
        out["variants"][name] = row
    return out


def smooth(x: np.ndarray, width: int) -> np.ndarray:
    """Trailing moving average along the last axis over the non-NaN values; NaN stays NaN."""
    if width <= 1:
        return x
    valid = ~np.isnan(x)
    csum = np.cumsum(np.where(valid, x, 0.0), -1)
    ccnt = np.cumsum(valid, -1)
    pad = lambda c: np.concatenate([np.zeros((*c.shape[:-1], width)), c], -1)[..., :-width]
    total, count = csum - pad(csum), ccnt - pad(ccnt)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(valid & (count > 0), total / count, np.nan)


def plot(out: Path, cfg: dict[str, Any], m: dict[str, np.ndarray]) -> None:
    width = int(cfg["report"]["smooth"])
    episode = np.arange(1, m["eval_return"].shape[-1] + 1)
    for filename, key, label, log in FIGURES:
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        for v, name in enumerate(cfg["variants"]):
            values = smooth(m[key][v], width)
            with np.errstate(invalid="ignore"):
                mean, half = mean_ci(values)
            line, = ax.plot(episode, mean, lw=1.3, label=name)
            low, high = mean - half, mean + half
            if log:
                low = np.maximum(low, np.nanmin(mean[mean > 0]) / 10 if np.any(mean > 0) else 1e-8)
            ax.fill_between(episode, low, high, color=line.get_color(), alpha=0.2, lw=0)
        if key in ("eval_return", "discounted_return"):
            ax.axhline(float(m["optimal_return"]), color="k", ls="--", lw=1, label="optimal")
            ax.axhline(float(m["random_return"]), color="grey", ls=":", lw=1,
                       label="uniform random policy")
        if log:
            ax.set_yscale("log")
        ax.set_xlabel("episode")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        ax.set_title(f"Four Rooms, discrete SAC: {cfg['seeds']} seeds, mean and 95% band "
                     f"({width}-episode moving average)", fontsize=9)
        fig.tight_layout()
        path = out / "figures" / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda f, fig=fig: fig.savefig(f, dpi=110, format="png"))
        plt.close(fig)


def save(out: Path, cfg: dict[str, Any], metrics: dict[str, np.ndarray],
         timing: dict[str, Any]) -> dict[str, Any]:
    names = np.array(cfg["variants"])
    atomic_write(out / "metrics.npz", lambda f: np.savez(f, variants=names, **metrics))
    summary = summarize(cfg, metrics, timing)
    atomic_write(out / "summary.json",
                 lambda f: f.write(json.dumps(summary, indent=2).encode()))
    plot(out, cfg, metrics)
    return summary


def main(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", default=str(ROOT / "experiments/fourrooms_sac.toml"))
    parser.add_argument("--out", help="output folder (default: the TOML's `out`)")
    parser.add_argument("--episodes", type=int, help="override sac.num_episodes (quick checks)")
    parser.add_argument("--resummarize", metavar="DIR",
                        help="only rewrite summary.json and figures of a finished output folder")
    args = parser.parse_args(argv)
    if args.resummarize:
        return resummarize(Path(args.resummarize))
    try:
        cfg = load_config(Path(args.config), args.out, args.episodes)
    except (ConfigError, ValueError, tomllib.TOMLDecodeError) as err:
        sys.exit(f"fourrooms_sac: {err}")
    out = Path(cfg["out"])
    out = out if out.is_absolute() else ROOT / out
    atomic_write(out / "config.toml", lambda f: tomli_w.dump(cfg, f))

    env, env_params, sac_config, sac = build(cfg)
    gamma = sac_config.gamma
    optimal = float(four_rooms.optimal_discounted_return(env_params, gamma))
    uniform = jnp.full((env_params_states(env, env_params), env.num_actions),
                       1.0 / env.num_actions)
    random_return = float(four_rooms.policy_discounted_return(env_params, uniform, gamma))
    var = variants(cfg["variants"])
    keys = jax.random.split(jax.random.key(cfg["seed"]), cfg["seeds"])
    over_runs = lambda f: jax.vmap(jax.vmap(f, (0, None)), (None, 0))
    t0 = time.time()
    init_c = jax.jit(over_runs(sac.init)).lower(keys, var).compile()
    t1 = time.time()
    state = jax.block_until_ready(init_c(keys, var))
    t2 = time.time()
    chunk_c = jax.jit(jax.vmap(jax.vmap(sac.run_chunk, (0, None)), (0, 0)),
                      donate_argnums=0).lower(state, var).compile()
    t3 = time.time()
    metrics_c = jax.jit(jax.vmap(jax.vmap(sac.metrics))).lower(state).compile()
    t4 = time.time()
    timing = {"compile_s": {"init": round(t1 - t0, 1), "run_chunk": round(t3 - t2, 1),
                            "metrics": round(t4 - t3, 1)},
              "random_phase_s": round(t2 - t1, 1), "runs": int(len(cfg["variants"])
                                                               * cfg["seeds"]),
              "chunk_steps": sac_config.chunk_steps}
    print(f"compiled in {t4 - t0 - (t2 - t1):.1f} s; random phase ({sac_config.random_steps} "
          f"steps x {timing['runs']} runs) {t2 - t1:.1f} s; optimal return {optimal:.3f}, "
          f"uniform random policy {random_return:.3f}", flush=True)

    def collect() -> dict[str, np.ndarray]:
        m = {k: np.asarray(v) for k, v in metrics_c(state).items()}
        return {**m, "optimal_return": np.float32(optimal),
                "random_return": np.float32(random_return)}

    chunks, last_save, loop_start = 0, time.time(), time.time()
    num_episodes = sac_config.num_episodes
    while True:
        tc = time.time()
        state = chunk_c(state, var)
        episodes = np.asarray(state.episodes)
        chunks += 1
        now = time.time()
        per_variant = " ".join(f"{n}:{int(e.min())}-{int(e.max())}"
                               for n, e in zip(cfg["variants"], episodes, strict=True))
        print(f"[{now - loop_start:7.0f} s] chunk {chunks} ({now - tc:.1f} s, "
              f"{timing['runs'] * sac_config.chunk_steps / (now - tc):.0f} vmapped steps/s) "
              f"env steps max {int(np.asarray(state.step).max())}; episodes {per_variant}",
              flush=True)
        done = bool(np.all(np.asarray(jax.vmap(jax.vmap(sac.finished))(state))))
        if done or now - last_save > cfg["report"]["save_every_s"]:
            steps = np.asarray(state.step)
            timing.update({"loop_wall_s": round(now - loop_start, 1), "chunks": chunks,
                           "env_steps_total": int(steps.sum()),
                           "env_steps_per_s_all_runs": round(
                               float(steps.sum() - timing["runs"] * sac_config.random_steps)
                               / (now - loop_start), 1),
                           "vmapped_steps_per_s": round(timing["runs"] * chunks
                                                        * sac_config.chunk_steps
                                                        / (now - loop_start), 1)})
            summary = save(out, cfg, collect(), timing)
            last_save = time.time()
            print(f"saved {out} ({min(int(e.min()) for e in episodes)}/{num_episodes} "
                  "episodes in every run)", flush=True)
            if done:
                break
    for name, row in summary["variants"].items():
        final = row[f"final_greedy_return_last_{cfg['report']['last_episodes']}"]
        print(f"{name:<10} final greedy return {final['mean']:.2f} +- {final['ci95']:.2f} "
              f"(optimal {optimal:.2f}); env steps {row['env_steps_mean']:.0f}")
    return summary


def resummarize(out: Path) -> dict[str, Any]:
    """Rewrite ``summary.json`` and the figures from ``config.toml`` and ``metrics.npz``."""
    cfg = tomllib.loads((out / "config.toml").read_text())
    with np.load(out / "metrics.npz") as arrays:
        metrics = {k: arrays[k] for k in arrays.files if k != "variants"}
    old = json.loads((out / "summary.json").read_text()) if (out / "summary.json").exists() \
        else {}
    timing = {k: v for k, v in old.items() if k in TIMING_KEYS}
    atomic_write(out / "metrics.npz",
                 lambda f: np.savez(f, variants=np.array(cfg["variants"]), **metrics))
    return save(out, cfg, metrics, timing)


def env_params_states(env, env_params) -> int:
    return int(env.all_observations(env_params).shape[0])


if __name__ == "__main__":
    main(sys.argv[1:])
