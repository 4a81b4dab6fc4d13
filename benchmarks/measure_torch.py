"""One PyTorch-baseline measurement in a fresh process: seed-steps/s and peak memory.

    python -m benchmarks.measure_torch CONFIG --form paper|vectorized --seeds 8 --steps 50
        [--device cpu|cuda] [--set KEY=VALUE ...]

``--device cuda`` (vectorized form only) runs every tensor on the GPU, for the JAX-vs-PyTorch
rows on one accelerator (``benchmarks/gpu_measurements.sh``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys

from benchmarks.measure_jax import peak_memory
from jaxcurr.curricula import prepare_data
from jaxcurr.curricula.classifier_config import load_config
from jaxcurr.datasets.classification import load_dataset
from jaxcurr.run.experiment import resolve_experiment

FORMS = {"paper": "classifier_paper", "vectorized": "classifier_vectorized"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("config")
    parser.add_argument("--form", choices=sorted(FORMS), required=True)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--device", default="cpu",
                        help="torch device: cpu or cuda (the vectorized form only)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="config override, as for jaxcurr run (repeatable)")
    args = parser.parse_args(argv)
    if args.device != "cpu" and args.form != "vectorized":
        parser.error(f"--device: got {args.device!r} with --form {args.form}; allowed: cpu "
                     "(only the vectorized form runs on another device)")
    baseline = importlib.import_module(f"benchmarks.torch_baselines.{FORMS[args.form]}")
    config = load_config(resolve_experiment(args.config), [*args.set, f"run.seeds={args.seeds}"])
    data = prepare_data(load_dataset(config.data), config)
    device = {"device": args.device} if args.device != "cpu" else {}
    seconds = baseline.time_steps(config, data, args.seeds, args.steps, **device)
    print(json.dumps({"form": args.form, **device, "seeds": args.seeds, "steps": args.steps,
                      "run_s": seconds, "seed_steps_per_s": args.seeds * args.steps / seconds,
                      **peak_memory()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
