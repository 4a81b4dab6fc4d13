"""The gradient-norm teacher over initial states: the JAX program (every method and seed at
once) against the authors' way (PyTorch SAC + teacher, one seed per process, gymnasium-robotics'
MuJoCo env), on PointMaze (``--env pointmaze``) or AdroitHandRelocate (``--env relocate``).

Both use the experiment's settings with the authors' small nets (3 x 128 SAC, batch 128:
experiments/pointmaze_acl.toml; experiments/adroit_acl.toml with those nets, host physics).
Timed: env steps with one SAC update each (JAX: ``--windows`` windows of ``--window-steps``
after a first window that compiles and fills the buffer; torch:
``benchmarks/torch_baselines/sac_start_curriculum.py --steps``, its learning phase). Prints a
markdown table and one JSON line.

    python -m benchmarks.measure_start_curriculum --env relocate --torch-python PYTHON
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

from benchmarks.measure_jax import state_megabytes

ROOT = Path(__file__).resolve().parents[1]


EXPERIMENTS = {"pointmaze": ("pointmaze_acl.toml", {}),
               "relocate": ("adroit_acl.toml", {"hidden": [128, 128, 128], "batch_size": 128})}


def measure_jax(env: str, window_steps: int, windows: int, seeds: int | None = None,
                buffer_size: int | None = None) -> dict:
    """Run-steps/s of the experiment's methods x ``seeds`` (default: the experiment's) in one
    program, over ``windows`` windows after a first (compiling, random-phase) one;
    ``buffer_size`` replaces each run's replay capacity."""
    from jaxcurr.curricula.initial_state import Method
    from jaxcurr.kinds import initial_state_curriculum as kind

    file, sac = EXPERIMENTS[env]
    values = tomllib.loads((ROOT / "experiments" / file).read_text())
    values["sac"].update(sac, **({"buffer_size": buffer_size} if buffer_size else {}))
    values["run"].update(total_steps=window_steps * (windows + 1), eval_every=window_steps,
                         **({"seeds": seeds} if seeds else {}))
    values["sac"].update(random_steps=window_steps // 2, learning_starts=window_steps)
    config = kind.from_dict(values)
    program = kind.build_program(config)
    names, switches = kind.methods(config)
    seeds = config.run.seeds
    methods = Method(switches["teacher"].repeat(seeds), switches["signal"].repeat(seeds))
    keys = jax.random.split(jax.random.PRNGKey(0), len(names) * seeds)
    state = jax.jit(jax.vmap(program.init))(keys, methods)
    window = jax.jit(jax.vmap(program.window))
    started = time.perf_counter()
    state, metrics = jax.block_until_ready(window(state, methods))  # compile, random phase
    first = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(windows):
        state, metrics = jax.block_until_ready(window(state, methods))
    seconds = time.perf_counter() - started
    runs = len(keys)
    return {"impl": "jax", "runs": runs, "learning_steps": window_steps * windows,
            "first_window_s": first, "run_s": seconds,
            "run_steps_per_s": runs * window_steps * windows / seconds,
            "state_mb_per_run": state_megabytes(state) / runs}


def measure_torch(python: str, env: str, steps: int) -> dict:
    script = ROOT / "benchmarks" / "torch_baselines" / "sac_start_curriculum.py"
    done = subprocess.run([python, str(script), "--env", env, "--steps", str(steps)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--torch-python", default=sys.executable,
                        help="a Python with torch, mujoco and gymnasium-robotics")
    parser.add_argument("--env", choices=sorted(EXPERIMENTS), default="pointmaze")
    parser.add_argument("--window-steps", type=int, default=2500)
    parser.add_argument("--windows", type=int, default=2)
    parser.add_argument("--torch-steps", type=int, default=2000)
    args = parser.parse_args(argv)
    torch_run = measure_torch(args.torch_python, args.env, args.torch_steps)
    jax_run = measure_jax(args.env, args.window_steps, args.windows)
    ratio = jax_run["run_steps_per_s"] / torch_run["env_steps_per_s"]
    print("| implementation | runs | env steps/s (all runs) | vs torch |\n|---|---:|---:|---:|")
    print(f"| PyTorch + MuJoCo, one seed per process (runs one after another) | 1 at a time | "
          f"{torch_run['env_steps_per_s']:.0f} | 1x |")
    print(f"| JAX, one program | {jax_run['runs']} | {jax_run['run_steps_per_s']:.0f} | "
          f"{ratio:.1f}x |")
    print(json.dumps({"env": args.env, "jax": jax_run, "torch": torch_run, "ratio": ratio}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
