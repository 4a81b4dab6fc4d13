"""LunarLander: jaxcurr's JAX port against Gymnasium's Box2D version, and the paper's SAC and
PPO programs against PyTorch baselines stepping Box2D (``benchmarks/torch_baselines/
lunar_lander.py``, one run per process, CleanRL style). Prints a markdown table and one JSON
line; every number comes from this one invocation (needs the ``box2d`` and ``torch`` extras).

* env: random actions, env steps/s. JAX: ``jit(vmap(scan(step)))`` over 1, 64 and 1024 envs
  (compile apart); Box2D: one env in this process, ``gym.make("LunarLander-v3")``.
* SAC (jaxcurr/experiments/lunar_sac.toml, 4 variants x 3 seeds): learning-phase env steps
  with their updates (50 env steps then 50 updates). JAX: one window of ``--sac-steps`` after
  the random phase, all 12 runs in one program; torch: one run per variant (seed 0) timed,
  times 3 seeds.
* PPO (jaxcurr/experiments/lunar_ppo.toml, 4 variants x 5 seeds): ``--ppo-episodes`` episodes
  (one update each). JAX: all 20 runs in one program (after one compiling update); torch: one
  run per variant, times 5 seeds. Episode lengths differ between the two (the policies are
  random-ish at the start), so env steps per second are given beside episodes per second.

    python -m benchmarks.measure_lunar_lander [--sac-steps 1000] [--ppo-episodes 10]
        [--envs 1 64 1024] [--jax-only]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import jax
import numpy as np

from benchmarks.measure_jax import state_megabytes

ROOT = Path(__file__).resolve().parents[1]


def jax_env_rate(envs: int, steps: int = 200) -> float:
    from jaxcurr.envs.lunar_lander.env import LunarLander

    env = LunarLander()
    params = env.default_params

    def run(key):
        obs, state = env.reset(key, params)

        def body(carry, k):
            action = jax.random.randint(k, (), 0, 4)
            _, state, reward, _, _, _ = env.step(k, carry, action, params)
            return state, reward

        return jax.lax.scan(body, state, jax.random.split(key, steps))[1].sum()

    fn = jax.jit(jax.vmap(run))
    keys = jax.random.split(jax.random.PRNGKey(0), envs)
    jax.block_until_ready(fn(keys))
    started = time.perf_counter()
    jax.block_until_ready(fn(keys))
    return envs * steps / (time.perf_counter() - started)


def box2d_env_rate(steps: int = 20_000) -> float:
    import gymnasium as gym

    env = gym.make("LunarLander-v3")
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(int(rng.integers(4)))
        if terminated or truncated:
            env.reset()
    return steps / (time.perf_counter() - started)


def _experiment(name: str, **sections) -> dict:
    values = tomllib.loads((ROOT / "jaxcurr" / "experiments" / f"{name}.toml").read_text())
    for section, updates in sections.items():
        values[section].update(updates)
    return values


def jax_sac_rate(steps: int, seeds: int | None = None, buffer_size: int | None = None,
                 random_steps: int | None = None) -> dict:
    """Run-steps/s of ``lunar_sac``'s variants x ``seeds`` (default: the experiment's) over
    ``steps`` learning env steps with their updates (``init`` takes the random steps, the
    experiment's 10,000 unless ``random_steps`` says fewer: they only fill the buffer);
    ``buffer_size`` replaces each run's replay capacity."""
    from jaxcurr.kinds import discrete_sac
    from jaxcurr.students.variants import variants

    run = {"window_steps": steps, **({"seeds": seeds} if seeds else {})}
    sac = {"buffer_size": buffer_size} if buffer_size else {}
    sac |= {"random_steps": random_steps} if random_steps else {}
    config = discrete_sac.from_dict(_experiment("lunar_sac", run=run, sac=sac))
    _, _, sac = discrete_sac.build_sac(config)
    names, seeds = list(config.variants.names), config.run.seeds
    keys, switches = jax.random.split(jax.random.key(0), seeds), variants(names)
    over_seeds = lambda fn: jax.vmap(fn, in_axes=(0, None))  # noqa: E731
    state = jax.jit(jax.vmap(over_seeds(sac.init), in_axes=(None, 0)))(keys, switches)
    chunk = jax.jit(jax.vmap(over_seeds(sac.run_chunk))).lower(state, switches).compile()
    started = time.perf_counter()
    jax.block_until_ready(chunk(state, switches))
    runs = len(names) * seeds
    return {"runs": runs, "run_steps_per_s": runs * steps / (time.perf_counter() - started),
            "state_mb_per_run": state_megabytes(state) / runs}


def jax_ppo_rate(episodes: int) -> dict:
    from jaxcurr.kinds import ppo
    from jaxcurr.students.variants import variants

    config = ppo.from_dict(_experiment("lunar_ppo"))
    prog = ppo.program(config)
    names, seeds = list(config.variants.names), config.run.seeds
    keys, switches = jax.random.split(jax.random.key(0), seeds), variants(names)
    over_seeds = lambda fn: jax.vmap(fn, in_axes=(0, None))  # noqa: E731
    carry = jax.jit(jax.vmap(over_seeds(prog.init), in_axes=(None, 0)))(keys, switches)
    update = jax.jit(jax.vmap(over_seeds(prog.update)))
    carry, _ = jax.block_until_ready(update(carry, switches))  # compiles
    started, env_steps = time.perf_counter(), 0.0
    for _ in range(episodes):
        carry, metrics = update(carry, switches)
        env_steps += float(np.sum(metrics["episode_length"]))
    seconds = time.perf_counter() - started
    runs = len(names) * seeds
    return {"runs": runs, "episodes_per_s": runs * episodes / seconds,
            "env_steps_per_s": env_steps / seconds}


def torch_rate(algo: str, variant: str, amount: int) -> dict:
    flag = ["--steps", str(amount)] if algo == "sac" else ["--episodes", str(amount)]
    out = subprocess.run([sys.executable, "-m", "benchmarks.torch_baselines.lunar_lander", algo,
                          "--variant", variant, *flag], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sac-steps", type=int, default=1000, help="0: no SAC rows")
    parser.add_argument("--ppo-episodes", type=int, default=10, help="0: no PPO rows")
    parser.add_argument("--envs", type=int, nargs="+", default=[1, 64, 1024])
    parser.add_argument("--jax-only", action="store_true",
                        help="skip Box2D and the PyTorch runs (a machine without them)")
    args = parser.parse_args(argv)
    variants = ("plain", "grokfast", "grade", "both")
    result = {"device": str(jax.devices()[0]), "env": {}}
    if not args.jax_only:
        result["env"]["box2d_one_env"] = box2d_env_rate()
    for envs in args.envs:
        result["env"][f"jax_{envs}_envs"] = jax_env_rate(envs)
        print(f"jax env, {envs} envs: {result['env'][f'jax_{envs}_envs']:.0f} steps/s",
              file=sys.stderr, flush=True)
    if args.sac_steps:
        result["sac_jax"] = jax_sac_rate(args.sac_steps)
    if args.ppo_episodes:
        result["ppo_jax"] = jax_ppo_rate(args.ppo_episodes)
    if args.jax_only:
        print(json.dumps(result))
        return 0
    sac_torch = [torch_rate("sac", v, 10_000 + args.sac_steps) for v in variants]
    # 12 runs one after another: each variant's time for the steps, times 3 seeds
    seconds = 3 * sum(args.sac_steps / r["learning_steps_per_s"] for r in sac_torch)
    result["sac_torch"] = {"per_variant": sac_torch,
                           "run_steps_per_s": 12 * args.sac_steps / seconds}
    ppo_torch = [torch_rate("ppo", v, args.ppo_episodes) for v in variants]
    seconds = 5 * sum(args.ppo_episodes / r["episodes_per_s"] for r in ppo_torch)
    steps = 5 * sum(r["env_steps"] for r in ppo_torch)
    result["ppo_torch"] = {"per_variant": ppo_torch,
                           "episodes_per_s": 20 * args.ppo_episodes / seconds,
                           "env_steps_per_s": steps / seconds}
    env = result["env"]
    rows = [("env steps/s, Box2D (1 env, Python loop)", env["box2d_one_env"], 1.0)]
    rows += [(f"env steps/s, JAX ({n} envs vmapped)", env[f"jax_{n}_envs"],
              env[f"jax_{n}_envs"] / env["box2d_one_env"]) for n in args.envs]
    rows += [("SAC 12 runs: run-steps/s, torch one after another",
              result["sac_torch"]["run_steps_per_s"], 1.0),
             ("SAC 12 runs: run-steps/s, JAX one program", result["sac_jax"]["run_steps_per_s"],
              result["sac_jax"]["run_steps_per_s"] / result["sac_torch"]["run_steps_per_s"]),
             ("PPO 20 runs: episodes/s, torch one after another",
              result["ppo_torch"]["episodes_per_s"], 1.0),
             ("PPO 20 runs: episodes/s, JAX one program", result["ppo_jax"]["episodes_per_s"],
              result["ppo_jax"]["episodes_per_s"] / result["ppo_torch"]["episodes_per_s"]),
             ("PPO 20 runs: env steps/s, torch", result["ppo_torch"]["env_steps_per_s"], 1.0),
             ("PPO 20 runs: env steps/s, JAX", result["ppo_jax"]["env_steps_per_s"],
              result["ppo_jax"]["env_steps_per_s"] / result["ppo_torch"]["env_steps_per_s"])]
    print("| measurement | rate | ratio |\n|---|---:|---:|")
    for label, rate, ratio in rows:
        print(f"| {label} | {rate:.1f} | {ratio:.2f}x |")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
