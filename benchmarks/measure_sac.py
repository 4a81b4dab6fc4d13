"""Discrete SAC on Four Rooms, 4 variants x 5 seeds: JAX (one program) vs PyTorch (one run
after another). One measurement per process; prints one JSON line.

Both run the paper's settings (jaxcurr/experiments/fourrooms_sac.toml): 5,000 random steps, then
``--learning-steps`` env steps with one update each. Timed: the learning steps only (JAX
after compilation; its random phase is part of init).

    python -m benchmarks.measure_sac jax [--learning-steps 5000] [--dense]
    python -m benchmarks.measure_sac torch --variant plain [--seed 0] [--learning-steps 5000]
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import sys
import time
import tomllib
from pathlib import Path

import jax
import numpy as np

from benchmarks.measure_jax import peak_memory, state_megabytes
from jaxcurr.students.variants import VARIANT_NAMES, variants

ROOT = Path(__file__).resolve().parents[1]


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def measure_jax(learning_steps: int, dense: bool, seeds: int = 5,
                buffer_size: int | None = None, random_steps: int | None = None) -> dict:
    """All 4 variants x ``seeds`` seeds as one jit(vmap(vmap)) program; ``buffer_size``
    replaces each run's replay capacity, ``random_steps`` the buffer-filling random phase."""
    from jaxcurr.kinds import discrete_sac

    cfg = tomllib.loads((ROOT / "jaxcurr" / "experiments" / "fourrooms_sac.toml").read_text())
    cfg["sac"].update(one_hot_observations=not dense,
                      **({"buffer_size": buffer_size} if buffer_size else {}),
                      **({"random_steps": random_steps} if random_steps else {}))
    cfg["run"].update(window_steps=learning_steps)
    config = discrete_sac.from_dict(cfg)
    _, _, sac = discrete_sac.build_sac(config)
    sac_config = config.sac
    keys = jax.random.split(jax.random.key(0), seeds)
    switches = variants(VARIANT_NAMES)
    over_seeds = lambda fn: jax.vmap(fn, in_axes=(0, None))  # noqa: E731
    init = jax.jit(jax.vmap(over_seeds(sac.init), in_axes=(None, 0)))
    chunk = jax.jit(jax.vmap(over_seeds(sac.run_chunk), in_axes=(0, 0)))
    started = time.perf_counter()
    state = jax.block_until_ready(init(keys, switches))
    compiled = chunk.lower(state, switches).compile()
    compile_s = time.perf_counter() - started
    started = time.perf_counter()
    state = jax.block_until_ready(compiled(state, switches))
    seconds = time.perf_counter() - started
    runs = len(VARIANT_NAMES) * seeds
    return {"impl": "jax", "dense_first_layer": dense, "runs": runs,
            "learning_steps": learning_steps, "compile_s": compile_s, "run_s": seconds,
            "run_steps_per_s": runs * learning_steps / seconds,
            "env_steps_reached": int(np.max(np.asarray(state.step))),
            "random_steps": sac_config.random_steps,
            "state_mb_per_run": state_megabytes(state) / runs, **peak_memory()}


def measure_torch(variant: str, seed: int, learning_steps: int) -> dict:
    """One PyTorch run; its rate over the steps that update (``learning_steps_per_s``)."""
    baseline = _load(ROOT / "benchmarks" / "torch_baselines" / "sac_fourrooms.py")
    cfg = baseline.Config()
    result = baseline.run(variant, seed, episodes=10**6,
                          max_env_steps=cfg.random_steps + learning_steps, log=None)
    return {"impl": "torch", "variant": variant, "seed": seed,
            "learning_steps": learning_steps, "run_s": result["wall_s"],
            "run_steps_per_s": result["learning_steps_per_s"],
            "config": {k: v for k, v in dataclasses.asdict(cfg).items()
                       if isinstance(v, int | float)}, **peak_memory()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("impl", choices=["jax", "torch"])
    parser.add_argument("--learning-steps", type=int, default=5000)
    parser.add_argument("--dense", action="store_true",
                        help="JAX: first layer as a dense matmul on the one-hot input, as torch")
    parser.add_argument("--variant", choices=VARIANT_NAMES, default="plain")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.impl == "jax":
        result = measure_jax(args.learning_steps, args.dense)
    else:
        result = measure_torch(args.variant, args.seed, args.learning_steps)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
