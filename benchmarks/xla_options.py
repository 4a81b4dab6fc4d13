"""Does an XLA:CPU option change the engine's speed? One fresh process per setting.

Runs ``benchmarks.measure_jax`` on the same config, seeds and steps with each ``XLA_FLAGS``
setting below (a flag this jaxlib does not know fails its process, reported as such) and prints
a markdown table of seed-steps/s and compile time relative to the default.

    python -m benchmarks.xla_options [--config mnist_curriculum] [--seeds 32] [--steps 500]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

SETTINGS = {
    "default": "",
    "matmuls on one thread": "--xla_cpu_multi_thread_eigen=false",
    "oneDNN": "--xla_cpu_use_onednn=true",
    "XNNPACK": "--xla_cpu_use_xnnpack=true",
    "fast math": "--xla_cpu_enable_fast_math=true",
    "512-bit vectors preferred": "--xla_cpu_prefer_vector_width=512",
}


def run(flags: str, config: str, seeds: int, steps: int) -> dict | None:
    env = {**os.environ, "XLA_FLAGS": flags}
    done = subprocess.run([sys.executable, "-m", "benchmarks.measure_jax", config,
                           "--seeds", str(seeds), "--steps", str(steps)],
                          capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="mnist_curriculum")
    parser.add_argument("--seeds", type=int, default=32)
    parser.add_argument("--steps", type=int, default=500)
    args = parser.parse_args(argv)
    lines = ["| XLA_FLAGS | seed-steps/s | vs default | compile (s) |", "|---|---:|---:|---:|"]
    base = None
    for name, flags in SETTINGS.items():
        result = run(flags, args.config, args.seeds, args.steps)
        if result is None:
            lines.append(f"| {name} (`{flags}`) | failed (flag unknown to this jaxlib?) | | |")
            continue
        rate = result["seed_steps_per_s"]
        base = base or rate
        shown = f"`{flags}`" if flags else "(none)"
        lines.append(f"| {name}: {shown} | {rate:.0f} | {rate / base:.2f}x | "
                     f"{result['compile_s']:.1f} |")
        print(lines[-1], flush=True)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
