"""The RL programs across widths: run-steps/s of ``lunar_sac``, ``pointmaze_acl`` and
``fourrooms_sac`` with many runs in one program, and the state each run holds.

Each program runs its 4 variants (or methods) x ``runs / 4`` seeds, vmapped, for ``--steps``
learning env steps with their updates (compile and the random phase apart). A run's state is
mostly its replay buffer (``buffer_size`` transitions), so the buffers bound the width on one
device: ``--buffer-size`` replaces every run's capacity, which is how a user widens a sweep
(``--set sac.buffer_size=...`` on ``jaxcurr run``). One JSON line per measurement; a width
that fails (e.g. out of device memory) prints its one-line error and the others go on.

    python -m benchmarks.measure_rl_width [--runs 12 128 1024] [--steps 1000]
        [--buffer-size 100000] [--random-steps 1000]
        [--programs lunar_sac pointmaze_acl fourrooms_sac]
"""

from __future__ import annotations

import argparse
import json
import sys

import jax

PROGRAMS = ("lunar_sac", "pointmaze_acl", "fourrooms_sac")
VARIANTS = 4  # variants (methods) per seed in each of the three experiments


def measure(program: str, runs: int, steps: int, buffer_size: int | None,
            random_steps: int | None = None) -> dict:
    """One program at ``runs`` runs: its run-steps/s and megabytes of state per run
    (``random_steps``: the SAC programs' buffer-filling random phase, if shorter)."""
    seeds = runs // VARIANTS
    if program == "lunar_sac":
        from benchmarks.measure_lunar_lander import jax_sac_rate
        result = jax_sac_rate(steps, seeds, buffer_size, random_steps)
    elif program == "pointmaze_acl":
        from benchmarks.measure_start_curriculum import measure_jax
        result = measure_jax("pointmaze", steps, 1, seeds, buffer_size)
    else:
        from benchmarks.measure_sac import measure_jax
        result = measure_jax(steps, False, seeds, buffer_size, random_steps)
    return {"program": program, "runs": result["runs"], "steps": steps,
            "buffer_size": buffer_size, "run_steps_per_s": result["run_steps_per_s"],
            "state_mb_per_run": result["state_mb_per_run"], "device": str(jax.devices()[0])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, nargs="+", default=[12, 128, 1024])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--buffer-size", type=int, default=None,
                        help="replay capacity per run (default: each experiment's)")
    parser.add_argument("--programs", nargs="+", default=list(PROGRAMS), choices=PROGRAMS)
    parser.add_argument("--random-steps", type=int, default=None,
                        help="the SAC programs' random phase (default: each experiment's); "
                             "it only fills the buffers, and on a GPU LunarLander's 10,000 "
                             "sequential steps take minutes")
    args = parser.parse_args(argv)
    for runs in args.runs:
        if runs < VARIANTS or runs % VARIANTS:
            parser.error(f"--runs: got {runs}; allowed: positive multiples of {VARIANTS} "
                         "(the experiments' variants x seeds)")
    for program in args.programs:
        for runs in args.runs:
            try:
                line = measure(program, runs, args.steps, args.buffer_size, args.random_steps)
            except Exception as error:  # one width failing (memory) must not stop the rest
                line = {"program": program, "runs": runs,
                        "error": f"{type(error).__name__}: {str(error).splitlines()[0]}"}
            print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
