"""AdroitHandRelocate-v1: env steps/s of jaxcurr's two physics paths and of gymnasium-robotics.

Prints a markdown table and one JSON line; every number comes from this one invocation (needs
the ``mujoco`` extra).

* JAX, ``host`` and ``mjx`` physics: random actions in ``[-1, 1]^30``,
  ``jit(vmap(scan(step_env)))`` over ``--envs`` environments for ``--steps`` steps (compile
  time reported apart; the second call is timed).
* gymnasium-robotics: one ``gym.make("AdroitHandRelocate-v1")`` stepped in a Python loop (how
  the authors' PyTorch code steps it), and MuJoCo's C engine alone (``mj_step`` x 5 per env
  step, no Python env around it): the host path's ceiling per core.

    python -m benchmarks.measure_mujoco [--envs 1 12 64] [--mjx-envs 1 12] [--steps 200]
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import numpy as np

from benchmarks.__main__ import machine


def jax_rate(physics: str, envs: int, steps: int) -> tuple[float, float]:
    """(env steps/s, compile seconds) of ``envs`` vmapped Relocate envs on ``physics``."""
    from jaxcurr.envs.mujoco.relocate import AdroitRelocate

    env = AdroitRelocate(physics)
    params = env.default_params

    def run(key):
        _, state = env.reset_env(key, params)

        def body(state, k):
            action = jax.random.uniform(k, (30,), minval=-1.0, maxval=1.0)
            _, state, reward, _, _ = env.step_env(k, state, action, params)
            return state, reward

        return jax.lax.scan(body, state, jax.random.split(key, steps))[1].sum()

    fn = jax.jit(jax.vmap(run))
    keys = jax.random.split(jax.random.key(0), envs)
    started = time.perf_counter()
    jax.block_until_ready(fn(keys))
    compile_seconds = time.perf_counter() - started
    started = time.perf_counter()
    jax.block_until_ready(fn(keys))
    seconds = time.perf_counter() - started
    return envs * steps / seconds, compile_seconds - seconds


def gymnasium_rate(steps: int) -> float:
    import gymnasium as gym
    import gymnasium_robotics

    gym.register_envs(gymnasium_robotics)
    env = gym.make("AdroitHandRelocate-v1")
    env.reset(seed=0)
    actions = np.random.default_rng(0).uniform(-1, 1, (steps, 30)).astype(np.float32)
    started = time.perf_counter()
    for t, action in enumerate(actions):
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated or t % 200 == 199:
            env.reset()
    return steps / (time.perf_counter() - started)


def engine_rate(steps: int) -> float:
    import mujoco

    from jaxcurr.envs.mujoco.relocate import FRAME_SKIP, load_model

    model = load_model()
    data = mujoco.MjData(model)
    low, high = model.actuator_ctrlrange.T
    controls = np.random.default_rng(0).uniform(low, high, (steps, len(low)))
    started = time.perf_counter()
    for ctrl in controls:
        data.ctrl[:] = ctrl
        mujoco.mj_step(model, data, nstep=FRAME_SKIP)
    return steps / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", type=int, nargs="+", default=[1, 12, 64])
    parser.add_argument("--mjx-envs", type=int, nargs="*", default=[1, 12])
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    rows = [("gymnasium-robotics, one env, Python loop", 1, gymnasium_rate(2000), None),
            ("MuJoCo C engine alone (mj_step x 5)", 1, engine_rate(2000), None)]
    for envs in args.envs:
        rows.append(("jaxcurr, host physics", envs, *jax_rate("host", envs, args.steps)))
    for envs in args.mjx_envs:
        rows.append(("jaxcurr, MJX physics", envs, *jax_rate("mjx", envs, args.steps)))
    print(f"machine: {machine()}\n")
    print("| implementation | envs | env steps/s | compile s |\n|---|---:|---:|---:|")
    for name, envs, rate, compile_seconds in rows:
        compiled = "" if compile_seconds is None else f"{compile_seconds:.1f}"
        print(f"| {name} | {envs} | {rate:,.0f} | {compiled} |")
    print(json.dumps({"machine": machine(), "rows": [
        {"implementation": n, "envs": e, "env_steps_per_s": round(r, 1),
         "compile_s": None if c is None else round(c, 1)} for n, e, r, c in rows]}))


if __name__ == "__main__":
    main()
