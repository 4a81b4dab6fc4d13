"""PPO sanity check: both PPO variants x Grokfast/GrAdE x seeds on CartPole-v1 and Acrobot-v1.

    python experiments/ppo_sanity.py [experiments/ppo_sanity.toml] [--force] [--plot]

For every environment and algorithm (``ppo``: standard vectorised PPO; ``ppo_episodic``: the
Grokfast/GrAdE paper's one-episode PPO) all variants x seeds train as ONE compiled program
(``jax.jit(jax.vmap(jax.vmap(train)))``). Each writes ``<out>/<env>_<algo>/`` with
``config.toml`` (the resolved settings), ``metrics.npz`` (arrays ``[variant, seed, update]``,
plus ``x`` and ``variants``), ``summary.json`` (final return per variant, mean and 95% t-interval
over seeds, compile and run time) and ``figures/`` (return over training; diagnostics).
Finished runs (a ``summary.json`` present) are skipped unless ``--force``; ``--plot`` redraws
their figures and summaries from ``metrics.npz``.
"""

from __future__ import annotations

import dataclasses
import io
import json
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import gymnax
import jax
import matplotlib
import numpy as np
import tomli_w

from jaxcurr.config import ConfigError
from jaxcurr.results import atomic_write, mean_ci
from jaxcurr.students import ppo, ppo_episodic
from jaxcurr.students.rl_variants import VARIANT_NAMES, variants

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ALGOS = {"ppo": (ppo.PPOConfig, ppo.make_train),
         "ppo_episodic": (ppo_episodic.EpisodicPPOConfig, ppo_episodic.make_train)}
ENVS = ("CartPole-v1", "Acrobot-v1")
# Well-known levels: CartPole-v1 caps at 500 (solved: 475 over 100 episodes); Acrobot-v1 has no
# official threshold, about -100 or better is the usual "solved" level (gym's v1 listing).
SOLVED = {"CartPole-v1": 475.0, "Acrobot-v1": -100.0}
RETURN_RANGE = {"CartPole-v1": (0.0, 500.0), "Acrobot-v1": (-500.0, 0.0)}  # bands kept inside
DIAGNOSTICS = ("entropy", "entropy_coef", "actor_grad_magnitude", "critic_grad_magnitude",
               "actor_loss", "critic_loss")


def load(path: Path) -> dict[str, Any]:
    """Read and check the experiment file; every error names the key."""
    with open(path, "rb") as f:
        cfg = tomllib.load(f)
    allowed = {"name", "kind", "description", "out", "envs", "algos", "variants", "seeds",
               "seed", "final_fraction", *ALGOS}
    for key in cfg:
        if key not in allowed:
            raise ConfigError(f"{key}: unknown setting; allowed: {', '.join(sorted(allowed))}")
    checks = [
        ("envs", lambda v: isinstance(v, list) and v and set(v) <= set(ENVS),
         "a non-empty list of " + ", ".join(ENVS)),
        ("algos", lambda v: isinstance(v, list) and v and set(v) <= set(ALGOS),
         "a non-empty list of " + ", ".join(ALGOS)),
        ("variants", lambda v: isinstance(v, list) and v and set(v) <= set(VARIANT_NAMES),
         "a non-empty list of " + ", ".join(VARIANT_NAMES)),
        ("seeds", lambda v: isinstance(v, int) and v >= 2, "an integer >= 2"),
        ("seed", lambda v: isinstance(v, int) and v >= 0, "an integer >= 0"),
        ("final_fraction", lambda v: isinstance(v, float) and 0 < v <= 1, "a number in (0, 1]"),
        ("out", lambda v: isinstance(v, str) and v, "a path"),
    ]
    for key, ok, what in checks:
        if key not in cfg or not ok(cfg[key]):
            raise ConfigError(f"{key}: got {cfg.get(key)!r}; allowed: {what}")
    for algo, (config_cls, _) in ALGOS.items():
        cfg[algo] = algo_config(config_cls, algo, cfg.get(algo, {}))
    return cfg


def algo_config(config_cls, section: str, values: dict[str, Any]):
    names = {f.name for f in dataclasses.fields(config_cls)}
    for key in values:
        if key not in names:
            raise ConfigError(f"{section}.{key}: unknown setting; allowed: "
                              + ", ".join(sorted(names)))
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    try:
        return config_cls(**values)
    except ConfigError as err:
        raise ConfigError(f"{section}.{err}") from None


def run_one(env_name: str, algo: str, cfg: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    config = cfg[algo]
    env, env_params = gymnax.make(env_name)
    train = ALGOS[algo][1](config, env, env_params)
    names = cfg["variants"]
    stack = variants(names)
    keys = jax.random.split(jax.random.key(cfg["seed"]), cfg["seeds"])
    grid = jax.jit(jax.vmap(jax.vmap(train, (0, None)), (None, 0)))
    start = time.perf_counter()
    compiled = grid.lower(keys, stack).compile()
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    _, metrics = compiled(keys, stack)
    metrics = jax.tree.map(np.asarray, jax.block_until_ready(metrics))
    run_s = time.perf_counter() - start

    updates = metrics["episode_return"].shape[-1]
    if algo == "ppo":
        x = (np.arange(updates) + 1) * config.num_envs * config.num_steps
        x_label = "environment steps"
    else:
        x = np.arange(updates) + 1
        x_label = "episode"
    resolved = {"env": env_name, "algo": algo, "variants": names, "seeds": cfg["seeds"],
                "seed": cfg["seed"], "final_fraction": cfg["final_fraction"],
                algo: {k: list(v) if isinstance(v, tuple) else v
                       for k, v in dataclasses.asdict(config).items()}}
    atomic_write(run_dir / "config.toml", lambda f: tomli_w.dump(resolved, f))

    def write_npz(f):
        buf = io.BytesIO()
        np.savez(buf, x=x, variants=np.array(names), **metrics)
        f.write(buf.getvalue())

    atomic_write(run_dir / "metrics.npz", write_npz)
    summary = summarize(env_name, algo, names, metrics, cfg["final_fraction"])
    summary.update(compile_seconds=round(compile_s, 2), run_seconds=round(run_s, 2),
                   env_steps_per_run=int(x[-1]) if algo == "ppo"
                   else float(metrics["episode_length"].sum(-1).mean()),
                   device=str(jax.devices()[0]))
    atomic_write(run_dir / "summary.json", lambda f: f.write(json.dumps(summary, indent=2)
                                                               .encode()))
    plot(run_dir, env_name, algo, names, metrics, x, x_label)
    return summary


def summarize(env_name, algo, names, metrics, fraction) -> dict[str, Any]:
    returns = metrics["episode_return"]
    tail = max(1, int(round(fraction * returns.shape[-1])))
    out: dict[str, Any] = {"env": env_name, "algo": algo, "solved_level": SOLVED[env_name],
                           "final_window_updates": tail, "variants": {}}
    for i, name in enumerate(names):
        final = np.nanmean(returns[i, :, -tail:], -1)
        mean, half = mean_ci(final)
        solved = final >= SOLVED[env_name]
        out["variants"][name] = {
            "final_return": {"mean": round(float(mean), 2), "ci95": round(float(half), 2)},
            "final_return_per_seed": np.round(final, 2).tolist(),
            "seeds_at_solved_level": int(solved.sum()),
            "mean_return_over_training": round(float(np.nanmean(returns[i])), 2),
            "mean_return_first_fifth": round(float(np.nanmean(
                returns[i, :, : max(1, returns.shape[-1] // 5)])), 2),
            **{f"final_{m}": float(np.nanmean(metrics[m][i, :, -tail:])) for m in DIAGNOSTICS},
        }
    return out


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average along the last axis (NaN entries ignored)."""
    valid = np.isfinite(values)
    filled = np.where(valid, values, 0.0)
    kernel = np.ones(window)

    def conv(a):
        return np.apply_along_axis(lambda r: np.convolve(r, kernel)[: len(r)], -1, a)

    return conv(filled) / np.maximum(conv(valid.astype(float)), 1)


def plot(run_dir, env_name, algo, names, metrics, x, x_label) -> None:
    window = max(1, metrics["episode_return"].shape[-1] // 50)
    title = f"{env_name}, {algo}: mean and 95% t-band over {metrics['episode_return'].shape[1]} "
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for i, name in enumerate(names):
        mean, half = mean_ci(smooth(metrics["episode_return"][i], window))
        line, = ax.plot(x, mean, label=name, lw=1.4)
        low, high = np.clip([mean - half, mean + half], *RETURN_RANGE[env_name])
        ax.fill_between(x, low, high, color=line.get_color(), alpha=0.2, lw=0)
    ax.axhline(SOLVED[env_name], color="k", ls=":", lw=1, label="solved level")
    ax.set(xlabel=x_label, ylabel=f"episode return (moving mean of {window})",
           title=title + "seeds")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save(fig, run_dir / "figures" / "return.png")

    fig, axes = plt.subplots(2, 3, figsize=(13, 6.5), sharex=True)
    for ax, metric in zip(axes.flat, DIAGNOSTICS, strict=True):
        log = metric.endswith("magnitude") or metric == "critic_loss"
        for i, name in enumerate(names):
            values = smooth(metrics[metric][i], window)
            if log:  # positive quantities: geometric mean, band of the mean log
                mean, half = mean_ci(np.log(np.maximum(values, 1e-12)))
                mean, low, high = np.exp(mean), np.exp(mean - half), np.exp(mean + half)
            else:
                mean, half = mean_ci(values)
                low, high = mean - half, mean + half
            line, = ax.plot(x, mean, label=name, lw=1.2)
            ax.fill_between(x, low, high, color=line.get_color(), alpha=0.2, lw=0)
        if log:
            ax.set_yscale("log")
        ax.set_title(metric.replace("_", " "))
        ax.grid(alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel(x_label)
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(title + "seeds")
    save(fig, run_dir / "figures" / "diagnostics.png")


def save(fig, path: Path) -> None:
    def write(f):
        fig.tight_layout()
        fig.savefig(f, dpi=110, format="png")

    atomic_write(path, write)
    plt.close(fig)


def markdown(summaries: list[dict[str, Any]]) -> str:
    lines = ["| env | algo | variant | final return (mean ± 95% CI) | mean return, first fifth |"
             " seeds at solved level | compile s | run s |",
             "|---|---|---|---|---|---|---|---|"]
    for s in summaries:
        for name, row in s["variants"].items():
            r = row["final_return"]
            lines.append(f"| {s['env']} | {s['algo']} | {name} | {r['mean']:.1f} ± "
                         f"{r['ci95']:.1f} | {row['mean_return_first_fifth']:.1f} | "
                         f"{row['seeds_at_solved_level']}/"
                         f"{len(row['final_return_per_seed'])} | {s['compile_seconds']:.0f} | "
                         f"{s['run_seconds']:.0f} |")
    return "\n".join(lines)


def replot(run_dir: Path) -> None:
    """Redraw a finished run's figures and summary (timings kept) from its metrics.npz."""
    run_cfg = tomllib.loads((run_dir / "config.toml").read_text())
    with np.load(run_dir / "metrics.npz") as data:
        metrics = {k: data[k] for k in data.files if k not in ("x", "variants")}
        x = data["x"]
    env_name, algo, names = run_cfg["env"], run_cfg["algo"], run_cfg["variants"]
    old = json.loads((run_dir / "summary.json").read_text())
    summary = summarize(env_name, algo, names, metrics, run_cfg["final_fraction"])
    summary.update({k: v for k, v in old.items() if k not in summary})
    atomic_write(run_dir / "summary.json", lambda f: f.write(json.dumps(summary, indent=2)
                                                               .encode()))
    plot(run_dir, env_name, algo, names, metrics, x,
         "environment steps" if algo == "ppo" else "episode")


def main(argv: list[str]) -> None:
    flags = {a for a in argv[1:] if a.startswith("--")}
    unknown = flags - {"--force", "--plot"}
    if unknown:
        raise SystemExit(f"unknown option {sorted(unknown)[0]}; allowed: --force, --plot")
    args = [a for a in argv[1:] if not a.startswith("--")]
    cfg = load(Path(args[0]) if args else ROOT / "experiments" / "ppo_sanity.toml")
    out = ROOT / cfg["out"]
    summaries = []
    for env_name in cfg["envs"]:
        for algo in cfg["algos"]:
            run_dir = out / f"{env_name}_{algo}"
            if (run_dir / "summary.json").exists() and "--plot" in flags:
                replot(run_dir)
            if (run_dir / "summary.json").exists() and "--force" not in flags:
                print(f"{run_dir}: done, skipped (--force to rerun)", flush=True)
                summaries.append(json.loads((run_dir / "summary.json").read_text()))
                continue
            print(f"{env_name} {algo}: training {len(cfg['variants'])} variants x "
                  f"{cfg['seeds']} seeds ...", flush=True)
            summary = run_one(env_name, algo, cfg, run_dir)
            summaries.append(summary)
            print(f"  compile {summary['compile_seconds']:.1f} s, run "
                  f"{summary['run_seconds']:.1f} s", flush=True)
    table = markdown(summaries)
    atomic_write(out / "table.md", lambda f: f.write((table + "\n").encode()))
    print(table)


if __name__ == "__main__":
    main(sys.argv)
