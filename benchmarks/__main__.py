"""The benchmark suite: JAX engine vs PyTorch baselines, in one run.

Classifier curriculum, for each seed count: seed-steps/s of the JAX engine and of both
PyTorch baselines (paper-style sequential, and seeds vectorised with torch.func), their
ratios, the JAX compile time, the JAX run's matmul FLOP/s as a fraction of this machine's
matmul peak (measured in the same run), and peak memory at 1x and 10x the steps. Then Discrete
SAC on Four Rooms, 4 variants x 5 seeds: JAX (one program) vs PyTorch (one run after another).
Every measurement runs in a fresh process, so its peak memory is its own. Writes a markdown
report naming the machine and the command.
The MNIST/CIFAR-10 experiments load their data with TFDS; offline, set ``JAXCURR_DATA_DIR``
to a folder holding ``mnist.npz`` / ``cifar10.npz`` copies (this team's runs name theirs).

    python -m benchmarks [--config mnist_curriculum] [--seeds 1 8 32 128] [--steps 50]
        [--torch-steps 50] [--paper-seeds 2] [--sac-steps 2000] [--out benchmarks/RESULTS.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import jax

MB = 2**20


ISA_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile", "amx_bf16",
             "asimd", "sve")


def cpu_description() -> str:
    """CPU model (with family/model numbers on x86) and the vector/matrix ISA extensions."""
    cpu, ids, flags = platform.processor() or "unknown CPU", {}, set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = (part.strip() for part in line.partition(":"))
            if key == "model name":
                cpu = value
            elif key in ("cpu family", "model") and key not in ids:
                ids[key] = value
            elif key in ("flags", "Features") and not flags:
                flags = set(value.split())
    except OSError:
        pass
    family = f" (family {ids['cpu family']}, model {ids['model']})" if len(ids) == 2 else ""
    isa = ", ".join(f for f in ISA_FLAGS if f in flags) or "unknown"
    return f"{cpu}{family}; ISA: {isa}"


def machine() -> str:
    """CPU, core count, JAX backend and devices, Python and (if installed) torch."""
    devices = ", ".join(sorted({d.device_kind for d in jax.devices()}))
    try:
        import torch
        torch_version = f"; torch {torch.__version__} ({torch.get_num_threads()} threads)"
    except ImportError:
        torch_version = ""
    return (f"{cpu_description()}, {os.cpu_count()} cores visible; JAX {jax.__version__} on "
            f"{jax.default_backend()} ({len(jax.devices())} x {devices}); "
            f"Python {platform.python_version()}{torch_version}")


def measure(module: str, *args: str) -> dict:
    """Run ``python -m benchmarks.<module> ARGS`` and parse its last output line as JSON."""
    command = [sys.executable, "-m", f"benchmarks.{module}", *args]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"  {module} {' '.join(args)}: {json.dumps(result)[:200]}", flush=True)
    return result


def classifier_rows(args: argparse.Namespace, peak: float) -> list[dict]:
    rows = []
    for seeds in args.seeds:
        print(f"seeds = {seeds}", flush=True)
        common = [args.config, "--seeds", str(seeds)]
        short = measure("measure_jax", *common, "--steps", str(args.steps))
        long = measure("measure_jax", *common, "--steps", str(10 * args.steps))
        row = {"seeds": seeds, "jax": long, "jax_1x": short,
               "flop_fraction": long["flops_per_s"] / peak}
        for form, run_seeds in (("paper", min(seeds, args.paper_seeds)), ("vectorized", seeds)):
            row[form] = measure("measure_torch", args.config, "--form", form,
                                "--seeds", str(run_seeds), "--steps", str(args.torch_steps))
        rows.append(row)
    return rows


def classifier_table(rows: list[dict]) -> str:
    head = ("| seeds | JAX seed-steps/s | paper-style torch | vectorised torch | JAX / paper "
            "| JAX / vectorised | JAX compile (s) | JAX matmul GFLOP/s | % of peak "
            "| peak RSS 1x (MB) | peak RSS 10x (MB) | 10x / 1x |\n"
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    lines = [head]
    for r in rows:
        jax_rate = r["jax"]["seed_steps_per_s"]
        paper, vector = r["paper"]["seed_steps_per_s"], r["vectorized"]["seed_steps_per_s"]
        rss_1, rss_10 = r["jax_1x"]["peak_rss_bytes"], r["jax"]["peak_rss_bytes"]
        lines.append(
            f"| {r['seeds']} | {jax_rate:.0f} | {paper:.1f} | {vector:.1f} | "
            f"{jax_rate / paper:.1f}x | {jax_rate / vector:.1f}x | {r['jax']['compile_s']:.1f} | "
            f"{r['jax']['flops_per_s'] / 1e9:.1f} | {100 * r['flop_fraction']:.0f}% | "
            f"{rss_1 / MB:.0f} | {rss_10 / MB:.0f} | {rss_10 / rss_1:.2f} |")
    return "\n".join(lines)


def memory_table(rows: list[dict]) -> str:
    head = ("| seeds | XLA temp (MB) | XLA arguments (MB) | XLA outputs 1x / 10x (MB) "
            "| device peak 1x / 10x (MB) |\n|---:|---:|---:|---:|---:|")
    lines = [head]
    for r in rows:
        short, long = r["jax_1x"], r["jax"]
        device = (f"{short['device_peak_bytes'] / MB:.0f} / {long['device_peak_bytes'] / MB:.0f}"
                  if "device_peak_bytes" in long else "n/a (CPU)")
        lines.append(f"| {r['seeds']} | {long['xla_temp_bytes'] / MB:.1f} | "
                     f"{long['xla_argument_bytes'] / MB:.1f} | "
                     f"{short['xla_output_bytes'] / MB:.2f} / {long['xla_output_bytes'] / MB:.2f} "
                     f"| {device} |")
    return "\n".join(lines)


def sac_rows(learning_steps: int) -> dict:
    """Discrete SAC on Four Rooms: JAX's 20-run program (first layer as a row lookup on the
    one-hot input, and as a dense matmul like torch's) and one torch run per variant."""
    step_args = ("--learning-steps", str(learning_steps))
    return {"jax": measure("measure_sac", "jax", *step_args),
            "jax_dense": measure("measure_sac", "jax", "--dense", *step_args),
            "torch": [measure("measure_sac", "torch", "--variant", v, *step_args)
                      for v in ("plain", "grokfast", "grade", "both")]}


def sac_table(rows: dict) -> str:
    torch_runs = rows["torch"]
    steps = torch_runs[0]["learning_steps"]
    runs = rows["jax"]["runs"]
    per_run = sum(steps / r["run_steps_per_s"] for r in torch_runs) / len(torch_runs)
    torch_total = runs * per_run
    lines = ["| implementation | 20 runs x learning steps | time (s) | run-steps/s | vs torch |",
             "|---|---:|---:|---:|---:|",
             f"| PyTorch, runs one after another (4 measured, x{runs // len(torch_runs)}) "
             f"| {runs} x {steps} | {torch_total:.0f} | {runs * steps / torch_total:.0f} | 1x |"]
    for name, key in (("JAX, one program (one-hot row lookup)", "jax"),
                      ("JAX, one program (dense first layer, as torch)", "jax_dense")):
        r = rows[key]
        lines.append(f"| {name} | {runs} x {steps} | {r['run_s']:.0f} (+{r['compile_s']:.0f} "
                     f"compile) | {r['run_steps_per_s']:.0f} | "
                     f"{torch_total / r['run_s']:.1f}x |")
    return "\n".join(lines)


NOTES_HEADING = "## Notes"


def signal_rows(args: argparse.Namespace, seeds: int) -> dict:
    """Each signal alone at ``seeds`` seeds: the cost of ``gradient_norm`` against ``loss``."""
    return {method: measure("measure_jax", args.config, "--seeds", str(seeds), "--steps",
                            str(10 * args.steps), "--set", f'run.methods=["{method}"]')
            for method in ("curiosity", "gradient_norm")}


def targets_table(rows: list[dict], signals: dict, seeds: int) -> str:
    """The speed issue's targets at ``seeds`` seeds, measured value beside each."""
    row = next((r for r in rows if r["seeds"] == seeds), None)
    if row is None:
        return f"(no {seeds}-seed row in this run)"
    jax_rate = row["jax"]["seed_steps_per_s"]
    memory = row["jax"]["peak_rss_bytes"] / row["jax_1x"]["peak_rss_bytes"]
    per_sample_bytes = 4 * seeds * row["jax"]["batch_size"] * row["jax"]["student_parameters"]
    signal_cost = (signals["curiosity"]["seed_steps_per_s"]
                   / signals["gradient_norm"]["seed_steps_per_s"])
    checks = [  # (name, wanted, measured, bound, unit, measured must be at least the bound)
        ("four methods: JAX / vectorised torch", ">= 2x",
         jax_rate / row["vectorized"]["seed_steps_per_s"], 2, "x", True),
        ("four methods: JAX / paper-style torch", ">= 4x",
         jax_rate / row["paper"]["seed_steps_per_s"], 4, "x", True),
        ("gradient_norm step / curiosity step", "<= 1.5x", signal_cost, 1.5, "x", False),
        ("matmul FLOP/s / matmul peak", ">= 40%", 100 * row["flop_fraction"], 40, "%", True),
        ("peak memory 10x / 1x steps", "<= 1.1", memory, 1.1, "", False),
        ("XLA temp / one per-sample gradient buffer", "< 1",
         row["jax"]["xla_temp_bytes"] / per_sample_bytes, 1, "", False),
        ("compile time", "<= 30 s", row["jax"]["compile_s"], 30, " s", False),
    ]
    lines = [f"| target ({seeds} seeds) | wanted | measured | met |", "|---|---|---:|---|"]
    for name, wanted, value, bound, unit, at_least in checks:
        met = value >= bound if at_least else value <= bound
        lines.append(f"| {name} | {wanted} | {value:.2f}{unit} | {'yes' if met else 'NO'} |")
    return "\n".join(lines)


def temp_per_seed(rows: list[dict]) -> str:
    """XLA temporaries per seed at each seed count (flat = linear in seeds)."""
    cells = [f"{r['seeds']}: {r['jax']['xla_temp_bytes'] / r['seeds'] / MB:.2f}" for r in rows]
    return "XLA temp per seed (MB), by seed count: " + ", ".join(cells)


def kept_notes(path: Path) -> str:
    """The hand-written notes section of an earlier report, kept across re-runs."""
    if not path.is_file() or NOTES_HEADING not in path.read_text():
        return NOTES_HEADING + "\n\n(none yet)"
    return NOTES_HEADING + path.read_text().split(NOTES_HEADING, 1)[1].rstrip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="mnist_curriculum")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 8, 32, 128])
    parser.add_argument("--steps", type=int, default=50,
                        help="steps of the 1x run (one log window); the 10x run, also the "
                             "throughput measurement, has ten times as many")
    parser.add_argument("--torch-steps", type=int, default=50,
                        help="a multiple of the config's run.log_every")
    parser.add_argument("--paper-seeds", type=int, default=2,
                        help="seeds the sequential paper-style baseline actually runs")
    parser.add_argument("--sac-steps", type=int, default=2000,
                        help="SAC learning steps per run (after the 5,000 random steps)")
    parser.add_argument("--out", default=None,
                        help="default: benchmarks/RESULTS.md on CPU, RESULTS_<backend>.md else")
    args = parser.parse_args(argv)
    out = Path(args.out or ("benchmarks/RESULTS.md" if jax.default_backend() == "cpu"
                            else f"benchmarks/RESULTS_{jax.default_backend()}.md"))

    peak = measure("measure_jax", "--matmul-peak")
    rows = classifier_rows(args, peak["matmul_peak_flops_per_s"])
    target_seeds = 32 if 32 in args.seeds else max(args.seeds)
    signals = signal_rows(args, target_seeds)
    sac = sac_rows(args.sac_steps)
    command = "python -m benchmarks " + " ".join(argv if argv is not None else sys.argv[1:])
    text = "\n\n".join([
        "# Benchmarks",
        f"Machine: {machine()}",
        f"Command: `{command.strip()}`",
        f"Matmul peak (float32, best square size {peak['matmul_peak_size']}, this run): "
        f"{peak['matmul_peak_flops_per_s'] / 1e9:.1f} GFLOP/s",
        "## Classifier curriculum: JAX engine vs PyTorch",
        f"Config `{args.config}`, all its methods in one program; a seed-step advances one "
        f"seed of every method by one student step. JAX: {10 * args.steps} steps through the "
        "runner's compiled chunks, compile excluded (column of its own). Paper-style torch: "
        f"one seed after another, {args.paper_seeds} seed(s) x {args.torch_steps} steps timed "
        "(sequential, so its rate does not depend on the seed count). Vectorised torch: all "
        f"seeds, {args.torch_steps} steps. Matmul GFLOP/s: matmul FLOPs counted from the "
        "jaxpr with scan trip counts (benchmarks/flops.py) over run time. Peak RSS: the "
        f"whole JAX process at {args.steps} (1x) and {10 * args.steps} (10x) steps.",
        classifier_table(rows),
        "### JAX memory by XLA buffer (from the compiled chunk)",
        memory_table(rows),
        temp_per_seed(rows),
        "### Signal cost",
        f"Each signal's method alone, {target_seeds} seeds, {10 * args.steps} steps: "
        + ", ".join(f"{m} {r['seed_steps_per_s']:.0f} seed-steps/s" for m, r in signals.items()),
        "### Targets",
        targets_table(rows, signals, target_seeds),
        "## Discrete SAC on Four Rooms: 4 variants x 5 seeds",
        "The paper's settings (jaxcurr/experiments/fourrooms_sac.toml); after 5,000 random steps, "
        f"{args.sac_steps} env steps per run with one update each are timed (JAX: compile "
        "apart; PyTorch: one run per variant, seed 0, its update-phase rate, times 5 seeds).",
        sac_table(sac),
        kept_notes(out),
    ]) + "\n"
    out.write_text(text)
    raw = {"peak": peak, "rows": rows, "signals": signals, "sac": sac}
    out.with_suffix(".json").write_text(json.dumps(raw, indent=1))
    print(text)
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
