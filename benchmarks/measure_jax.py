"""One JAX measurement in a fresh process: throughput, compile time, FLOPs and peak memory.

Runs an experiment config through the runner's compiled chunks (as ``jaxcurr run`` does,
without checkpoints) and prints one JSON line. A process of its own per measurement, so its
peak resident memory belongs to this run alone.

    python -m benchmarks.measure_jax CONFIG --seeds 32 --steps 500 [--set KEY=VALUE ...]
    python -m benchmarks.measure_jax --matmul-peak
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.flops import matmul_flops
from jaxcurr.curricula import prepare_data
from jaxcurr.curricula.classifier_config import load_config
from jaxcurr.datasets.classification import load_dataset
from jaxcurr.kinds import get_kind
from jaxcurr.run import runner
from jaxcurr.run.experiment import resolve_experiment


def state_megabytes(state) -> float:
    """Megabytes held by a program state's arrays (replay buffers dominate an RL state)."""
    return sum(x.nbytes for x in jax.tree.leaves(state)) / 1e6


def peak_memory() -> dict:
    """Peak resident set of this process and, on an accelerator, the device's peak bytes."""
    out = {"peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}
    stats = jax.devices()[0].memory_stats() or {}
    if "peak_bytes_in_use" in stats:
        out["device_peak_bytes"] = stats["peak_bytes_in_use"]
    return out


def measure_run(config_name: str, seeds: int, steps: int, overrides: list[str]) -> dict:
    config = load_config(resolve_experiment(config_name),
                         [*overrides, f"run.seeds={seeds}", f"run.steps={steps}"])
    data = prepare_data(load_dataset(config.data), config)
    prepared = runner.compile_run(get_kind("classifier_curriculum"), config, data)
    flops_per_chunk = matmul_flops(prepared.program.chunk_fn, prepared.state, prepared.data,
                                   prepared.point_tree)
    memory = prepared.program.chunk.memory_analysis()
    state = prepared.state
    started = time.perf_counter()
    for _ in range(prepared.num_chunks):
        state, metrics = prepared.program.chunk(state, prepared.data, prepared.point_tree)
        jax.device_get(metrics)
    seconds = time.perf_counter() - started
    flops = flops_per_chunk * prepared.num_chunks
    sizes = [data.x_train.shape[-1], *config.student.hidden, config.data.num_classes]
    return {"seeds": seeds, "steps": steps, "methods": len(config.run.methods),
            "batch_size": config.run.batch_size,
            "student_parameters": sum((a + 1) * b
                                      for a, b in zip(sizes[:-1], sizes[1:], strict=True)),
            "compile_s": prepared.compile_seconds, "run_s": seconds,
            "seed_steps_per_s": seeds * steps / seconds,
            "matmul_flops": flops, "flops_per_s": flops / seconds,
            "xla_temp_bytes": memory.temp_size_in_bytes,
            "xla_argument_bytes": memory.argument_size_in_bytes,
            "xla_output_bytes": memory.output_size_in_bytes,
            **peak_memory()}


def matmul_peak(sizes: tuple[int, ...] = (512, 1024, 2048, 4096), repeats: int = 5) -> dict:
    """The best float32 matmul rate over square sizes: 2 n^3 FLOPs per product, best of runs."""
    best = {}
    for n in sizes:
        a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
        product = jax.jit(lambda x: x @ x)
        product(a).block_until_ready()
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            product(a).block_until_ready()
            times.append(time.perf_counter() - started)
        best[n] = 2 * n**3 / min(times)
    n_best = max(best, key=best.get)
    return {"matmul_peak_flops_per_s": best[n_best], "matmul_peak_size": n_best,
            "matmul_by_size": {str(k): v for k, v in best.items()}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("config", nargs="?")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="config override, as for jaxcurr run (repeatable)")
    parser.add_argument("--matmul-peak", action="store_true")
    args = parser.parse_args(argv)
    if args.matmul_peak:
        result = matmul_peak()
    else:
        result = measure_run(args.config, args.seeds, args.steps, args.set)
    print(json.dumps(result, default=lambda v: v.item() if isinstance(v, np.generic) else v))
    return 0


if __name__ == "__main__":
    sys.exit(main())
