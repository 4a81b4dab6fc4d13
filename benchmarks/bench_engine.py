"""Throughput and compile time of the classifier curriculum engine at 1, 8 and 32 seeds.

Runs the MNIST curriculum experiment (all four methods in one program) through the same
chunked runner the CLI uses, and prints steps/s (every seed and method advancing one step),
seed-steps/s and compile time. Writes the table to benchmarks/RESULTS.md with the machine.

    python benchmarks/bench_engine.py [--config mnist_curriculum] [--seeds 1 8 32]
        [--steps 500] [--out benchmarks/RESULTS.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

import jax

from jaxcurr import runner
from jaxcurr.cli import resolve_experiment
from jaxcurr.config import load_config
from jaxcurr.curricula import prepare_data
from jaxcurr.data import load_dataset


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    devices = ", ".join(sorted({d.device_kind for d in jax.devices()}))
    return (f"{cpu}, {os.cpu_count()} cores visible; JAX {jax.__version__} on "
            f"{jax.default_backend()} ({len(jax.devices())} x {devices}); "
            f"Python {platform.python_version()}")


def measure(config_name: str, seeds: int, steps: int) -> dict:
    config = load_config(resolve_experiment(config_name), [
        f"run.seeds={seeds}", f"run.steps={steps}", "run.chunk_logs=1000"])
    data = prepare_data(load_dataset(config.data), config)
    result = runner.run(config, data, progress=False)
    return {"seeds": seeds, "methods": len(config.run.methods), "steps": steps,
            "compile_s": result.compile_seconds, "run_s": result.run_seconds,
            "steps_per_s": steps / result.run_seconds,
            "seed_steps_per_s": steps * seeds / result.run_seconds}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="mnist_curriculum")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--out", default="benchmarks/RESULTS.md")
    args = parser.parse_args(argv)

    rows = [measure(args.config, s, args.steps) for s in args.seeds]
    header = ("| seeds | methods | steps | compile (s) | run (s) | steps/s | seed-steps/s "
              "| method-seed-steps/s |\n|---:|---:|---:|---:|---:|---:|---:|---:|")
    lines = [header] + [
        f"| {r['seeds']} | {r['methods']} | {r['steps']} | {r['compile_s']:.1f} | "
        f"{r['run_s']:.1f} | {r['steps_per_s']:.1f} | {r['seed_steps_per_s']:.0f} | "
        f"{r['seed_steps_per_s'] * r['methods']:.0f} |" for r in rows]
    table = "\n".join(lines)
    print(table)
    command = "python benchmarks/bench_engine.py " + " ".join(argv or sys.argv[1:])
    text = (
        "# Benchmarks\n\n## Classifier curriculum engine\n\n"
        f"Config `{args.config}` (all methods side by side in one compiled program, batch "
        "and network as in the experiment file), run through the chunked runner; a step "
        "advances every seed and every method by one student step. Compile time includes "
        "init. Measured, not estimated.\n\n"
        f"Machine: {machine()}\n\nCommand: `{command.strip()}`\n\n{table}\n")
    Path(args.out).write_text(text)
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
