"""The gradient-norm teacher over initial states: the JAX program (every method and seed at
once) against the authors' way (PyTorch SAC + teacher, one seed per process, gymnasium-robotics'
MuJoCo env), on PointMaze (``--env pointmaze``) or AdroitHandRelocate (``--env relocate``).

Both use the experiment's settings with the authors' small nets (3 x 128 SAC, batch 128:
jaxcurr/experiments/pointmaze_acl.toml; jaxcurr/experiments/adroit_acl.toml with those nets,
host physics).
Timed: env steps with one SAC update each (JAX: ``--windows`` windows of ``--window-steps``
after a first window that compiles and fills the buffer; torch:
``benchmarks/torch_baselines/sac_start_curriculum.py --steps``, its learning phase). Prints a
markdown table and one JSON line per row.

    python -m benchmarks.measure_start_curriculum --env relocate --torch-python PYTHON
    python -m benchmarks.measure_start_curriculum --runs 12 128 --processes 16 --device cuda

With ``--runs``, each row runs that many torch processes (``--processes`` at a time, summed over
the time any is learning) against a JAX program of that many runs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jax

from benchmarks.measure_jax import state_megabytes

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "jaxcurr" / "experiments"


EXPERIMENTS = {"pointmaze": ("pointmaze_acl.toml", {}),
               "relocate": ("adroit_acl.toml", {"hidden": [128, 128, 128], "batch_size": 128})}


def measure_jax(env: str, window_steps: int, windows: int, seeds: int | None = None,
                buffer_size: int | None = None) -> dict:
    """Run-steps/s of the experiment's methods x ``seeds`` (default: the experiment's) in one
    program, over ``windows`` windows after a first (random-phase) one, and the window's
    compile time (``compile_s``); ``buffer_size`` replaces each run's replay capacity."""
    from jaxcurr.curricula.initial_state import Method
    from jaxcurr.kinds import initial_state_curriculum as kind

    file, sac = EXPERIMENTS[env]
    values = tomllib.loads((SHIPPED / file).read_text())
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
    started = time.perf_counter()
    window = jax.jit(jax.vmap(program.window)).lower(state, methods).compile()
    compile_s = time.perf_counter() - started
    started = time.perf_counter()
    state, metrics = jax.block_until_ready(window(state, methods))  # the random phase
    first = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(windows):
        state, metrics = jax.block_until_ready(window(state, methods))
    seconds = time.perf_counter() - started
    runs = len(keys)
    return {"impl": "jax", "runs": runs, "learning_steps": window_steps * windows,
            "compile_s": compile_s, "first_window_s": first, "run_s": seconds,
            "run_steps_per_s": runs * window_steps * windows / seconds,
            "state_mb_per_run": state_megabytes(state) / runs}


def measure_torch(python: str, env: str, steps: int, runs: int = 1, processes: int = 1,
                  device: str = "cpu", learning_starts: int | None = None) -> dict:
    """The authors' form: ``runs`` seeds, one process each, at most ``processes`` at a time
    (the way one fills a GPU with per-seed scripts). ``env_steps_per_s``: all runs' learning
    steps over the time some run was in its learning phase (one run: its own rate)."""
    script = ROOT / "benchmarks" / "torch_baselines" / "sac_start_curriculum.py"
    command = [python, str(script), "--env", env, "--steps", str(steps), "--device", device]
    if learning_starts is not None:
        command += ["--learning-starts", str(learning_starts)]

    def one(seed: int) -> dict:
        out = subprocess.run(command + ["--seed", str(seed)], stdout=subprocess.PIPE,
                             text=True, check=True).stdout
        return json.loads(out.strip().splitlines()[-1])

    with ThreadPoolExecutor(processes) as pool:  # a new process as soon as one ends
        done = list(pool.map(one, range(runs)))
    busy, end = 0.0, float("-inf")
    for start, stop in sorted((r["wall_start"], r["wall_end"]) for r in done):
        busy += max(0.0, stop - max(start, end))
        end = max(end, stop)
    return {"impl": "torch", "env": env, "device": device, "runs": runs,
            "processes": min(runs, processes), "learning_steps": steps,
            "env_steps_per_s": runs * steps / busy,
            "per_process_steps_per_s": [r["env_steps_per_s"] for r in done]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--torch-python", default=sys.executable,
                        help="a Python with torch, mujoco and gymnasium-robotics")
    parser.add_argument("--env", choices=sorted(EXPERIMENTS), default="pointmaze")
    parser.add_argument("--window-steps", type=int, default=2500)
    parser.add_argument("--windows", type=int, default=2)
    parser.add_argument("--torch-steps", type=int, default=2000)
    parser.add_argument("--runs", type=int, nargs="+",
                        help="runs per row (JAX: one program, methods x runs/methods seeds; "
                             "torch: that many processes); default: the experiment's runs "
                             "against one torch process")
    parser.add_argument("--processes", type=int, default=1,
                        help="torch processes at a time (e.g. the host's cores)")
    parser.add_argument("--device", default="cpu", help="the torch runs' device (cpu, cuda)")
    parser.add_argument("--learning-starts", type=int,
                        help="torch: env steps before the first update (default: the authors')")
    parser.add_argument("--jax-only", action="store_true",
                        help="only the JAX program at the experiment's runs (one JSON line)")
    parser.add_argument("--torch-only", action="store_true",
                        help="only the torch rows (the JAX ones: measure_rl_width)")
    args = parser.parse_args(argv)
    if args.jax_only:
        print(json.dumps(measure_jax(args.env, args.window_steps, args.windows)))
        return 0
    file, _ = EXPERIMENTS[args.env]
    methods = len(tomllib.loads((SHIPPED / file).read_text())["methods"]["names"])
    rows = []
    for runs in args.runs or [None]:
        if runs is not None and runs % methods:
            parser.error(f"--runs: a multiple of the {methods} methods, got {runs}")
        torch_run = measure_torch(args.torch_python, args.env, args.torch_steps, runs or 1,
                                  args.processes, args.device, args.learning_starts)
        if args.torch_only:
            print(json.dumps({"env": args.env, "torch": torch_run}), flush=True)
            continue
        jax_run = measure_jax(args.env, args.window_steps, args.windows,
                              runs // methods if runs else None)
        rows.append((torch_run, jax_run, jax_run["run_steps_per_s"]
                     / torch_run["env_steps_per_s"]))
    if rows:
        print("| implementation | runs | env steps/s (all runs) | vs torch |\n|---|---:|---:|---:|")
    for torch_run, jax_run, ratio in rows:
        print(f"| PyTorch ({torch_run['device']}) + MuJoCo, one seed per process, "
              f"{torch_run['processes']} at a time | {torch_run['runs']} | "
              f"{torch_run['env_steps_per_s']:.0f} | 1x |")
        print(f"| JAX, one program | {jax_run['runs']} | {jax_run['run_steps_per_s']:.0f} | "
              f"{ratio:.1f}x |")
    for torch_run, jax_run, ratio in rows:
        print(json.dumps({"env": args.env, "jax": jax_run, "torch": torch_run, "ratio": ratio}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
