"""Command line: ``jaxcurr run | list | plot`` for every experiment kind.

    jaxcurr run <name-or-toml> [--seeds N] [--set key=value ...] [--out DIR] [--resume]
                [--overwrite]
    jaxcurr list
    jaxcurr plot DIR
"""

from __future__ import annotations

import os
import sys

try:  # Ctrl-C before entry_point: deferred past the imports (they load JAX), the same one line
    from jaxcurr.run import interrupts

    with interrupts.deferred():
        import argparse
        import traceback
        from pathlib import Path

        from jaxcurr.core import extras
        from jaxcurr.core.validation import ConfigError
except KeyboardInterrupt:
    print("\njaxcurr: interrupted", file=sys.stderr, flush=True)
    os._exit(130)


def join_processes(args: argparse.Namespace) -> bool:
    """Join a multi-process run when asked (``jax.distributed.initialize``); True on the
    process that writes the run directory (process 0, or the only one)."""
    explicit = (args.coordinator, args.num_processes, args.process_id)
    if any(value is not None for value in explicit) and None in explicit:
        raise ConfigError("--coordinator, --num-processes, --process-id: got only some; "
                          "allowed: all three, or --distributed alone to detect the cluster")
    if args.distributed or args.coordinator is not None:
        import jax

        jax.distributed.initialize(args.coordinator, args.num_processes, args.process_id)
        return jax.process_index() == 0
    return True


def command_run(args: argparse.Namespace) -> int:
    from jaxcurr.run import cache

    cache.enable()  # before anything compiles
    from jaxcurr.run.execution import run_experiment
    from jaxcurr.run.experiment import load_experiment, resolve_experiment

    interrupts.check()

    writer = join_processes(args)
    overrides = list(args.set or [])
    if args.seeds is not None:
        overrides.append(f"run.seeds={args.seeds}")
    experiment = load_experiment(resolve_experiment(args.experiment), overrides)
    out = Path(args.out or Path("runs") / experiment.name)
    return run_experiment(experiment, out, resume=args.resume, overwrite=args.overwrite,
                          writer=writer, progress=writer and not args.no_progress,
                          resume_hint=resume_hint(args))


def resume_hint(args: argparse.Namespace) -> str:
    """The shell command that continues this run: the user's experiment and options as given
    (``--seeds``, every ``--set``, the flags), ``--out {out}`` (filled in with the run
    directory) and ``--resume``; ``--overwrite`` is dropped."""
    import shlex

    words = ["jaxcurr", *(["--debug"] if args.debug else []), "run", args.experiment]
    if args.seeds is not None:
        words += ["--seeds", str(args.seeds)]
    for override in args.set or []:
        words += ["--set", override]
    for flag in ("no_progress", "distributed"):
        if getattr(args, flag):
            words.append("--" + flag.replace("_", "-"))
    for option in ("coordinator", "num_processes", "process_id"):
        if getattr(args, option) is not None:
            words += ["--" + option.replace("_", "-"), str(getattr(args, option))]
    command = " ".join(shlex.quote(word) for word in words)
    return command.replace("{", "{{").replace("}", "}}") + " --out {out} --resume"


def command_list(args: argparse.Namespace) -> int:
    from jaxcurr.core.table import format_table
    from jaxcurr.run.experiment import experiment_listing

    del args
    rows = [[row.name, row.kind, row.origin, row.description] for row in experiment_listing()]
    for line in format_table(["name", "kind", "from", "description"], rows, left=4, indent=""):
        print(line)
    return 0


def command_plot(args: argparse.Namespace) -> int:
    from jaxcurr.run.execution import plot_runs

    for line in plot_runs(Path(args.run_dir)):
        print(line)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jaxcurr", description=__doc__.split("\n")[0])
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback behind an input error")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run an experiment (a name from `jaxcurr list` or a .toml)")
    run.add_argument("experiment")
    run.add_argument("--seeds", type=int, help="number of seeds (run.seeds)")
    run.add_argument("--set", action="append", metavar="KEY=VALUE",
                     help="override a setting, e.g. --set run.steps=500 (repeatable)")
    run.add_argument("--out", help="run directory (default runs/<name>)")
    run.add_argument("--resume", action="store_true", help="continue the run in --out")
    run.add_argument("--overwrite", action="store_true",
                     help="replace an existing --out that jaxcurr wrote")
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    run.add_argument("--distributed", action="store_true",
                     help="join a multi-host run, cluster detected by jax.distributed")
    run.add_argument("--coordinator", metavar="HOST:PORT",
                     help="multi-host run: process 0's address (with the next two)")
    run.add_argument("--num-processes", type=int, help="multi-host run: number of processes")
    run.add_argument("--process-id", type=int, help="multi-host run: this process's index")
    run.set_defaults(func=command_run)
    listing = sub.add_parser("list", help="list the experiments and their kinds")
    listing.set_defaults(func=command_list)
    plot = sub.add_parser("plot", help="summary and figures of a run directory (also while "
                          "it runs or after an interruption)")
    plot.add_argument("run_dir")
    plot.set_defaults(func=command_plot)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Exit codes: 0 done, 2 bad input (one line; ``--debug`` adds the traceback), 3 a
    non-finite value stopped the run, 130 interrupted."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, ModuleNotFoundError) as err:
        missing = isinstance(err, ModuleNotFoundError)
        if missing and extras.extra_of(err) is None:
            raise
        if args.debug:
            traceback.print_exc()
        message = (extras.needs_extra(f"jaxcurr {args.command}", extras.extra_of(err), err)
                   if missing else err)
        print(f"jaxcurr: error: {message}", file=sys.stderr)
        return 2
    except OSError as err:  # the user's paths: unwritable, under a file, disk full
        if interrupts.requested():
            raise
        if args.debug:
            traceback.print_exc()
        where = f" {err.filename}" if err.filename else ""
        print(f"jaxcurr: error: cannot use{where}: {err.strerror or err}; allowed: a path this "
              "user can write", file=sys.stderr)
        return 2


def entry_point() -> None:
    """The console script: an interrupt at any moment (import, compile, run, checkpoint) ends
    with one line and exit code 130 (:mod:`jaxcurr.run.interrupts` defers it to a safe point),
    without tearing down XLA's threads mid-work."""
    interrupts.install()
    try:
        code = main()
        if code != 130:  # an interrupt that main() did not report yet
            interrupts.check()
    except BaseException:
        if not interrupts.requested():
            raise
        print("\njaxcurr: interrupted", file=sys.stderr)
        code = 130
    sys.stdout.flush()
    sys.stderr.flush()
    if code == 130:
        os._exit(130)  # no interpreter teardown while XLA may still hold the compile lock
    sys.exit(code)


if __name__ == "__main__":
    entry_point()
