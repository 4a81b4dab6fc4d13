"""Command line: ``jaxcurr run | list | plot`` for every experiment kind.

    jaxcurr run <name-or-toml> [--seeds N] [--set key=value ...] [--out DIR] [--resume]
                [--overwrite]
    jaxcurr list
    jaxcurr plot DIR
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tomllib
import traceback
from pathlib import Path

try:  # Ctrl-C before entry_point: deferred past the imports (they load JAX), the same one line
    from jaxcurr import interrupts

    with interrupts.deferred():
        from jaxcurr.config import ConfigError
except KeyboardInterrupt:
    print("\njaxcurr: interrupted", file=sys.stderr, flush=True)
    os._exit(130)

MARKER = ".jaxcurr-run"  # written into every run directory jaxcurr makes


def _first_difference(a: dict, b: dict, prefix: str = "") -> str | None:
    for key in sorted(set(a) | set(b)):
        left, right = a.get(key), b.get(key)
        if isinstance(left, dict) and isinstance(right, dict):
            found = _first_difference(left, right, f"{prefix}{key}.")
            if found:
                return found
        elif left != right:
            return f"{prefix}{key} ({left!r} in the run, {right!r} now)"
    return None


def run_config(kind, out: Path) -> dict:
    """The run's saved config as this version writes it: settings added since the run was
    made take their defaults (a saved file this version cannot read is compared as it is)."""
    from jaxcurr.run_dir import load_config_dict

    saved = load_config_dict(out)
    try:
        return kind.to_dict(kind.from_dict(saved))
    except ConfigError:
        return saved


def _training_settings(values: dict) -> dict:
    """Everything a resume must keep: not ``[report]``, which only shapes summaries and final
    evaluations (a finished run is then summarised again), nor ``run.allow_nonfinite``, which
    only decides whether the host stops on a NaN (so a run stopped by one can go on)."""
    kept = {k: v for k, v in values.items() if k != "report"}
    if isinstance(kept.get("run"), dict):
        kept["run"] = {k: v for k, v in kept["run"].items() if k != "allow_nonfinite"}
    return kept


def prepare_run_dir(out: Path, kind, config, resume: bool, overwrite: bool,
                    check_only: bool = False) -> None:
    """Check ``out`` for a new run or a resume; ``--overwrite`` only removes a directory that
    jaxcurr made (it holds the marker file), never one with files of the user's
    (``check_only``: refuse what would be refused, remove nothing)."""
    if resume:
        if not (out / "config.toml").is_file():
            raise ConfigError(f"--resume: {out} holds no run to resume (no config.toml)")
        diff = _first_difference(*(_training_settings(d) for d in (
            run_config(kind, out), kind.to_dict(config))))
        if diff:
            raise ConfigError(f"--resume: the config differs from the run in {out}: {diff}")
        return
    clear_for_new_run(out, overwrite, check_only)


def clear_for_new_run(out: Path, overwrite: bool, check_only: bool = False) -> None:
    """``out`` must be absent or empty, or (with ``--overwrite``) a directory jaxcurr made,
    which is then removed; never the working directory or one of its parents."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out: {out} is a file; allowed: a directory path")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise ConfigError(f"--out: {out} already holds files; pass --resume to continue "
                              "that run or --overwrite to replace it")
        here = Path.cwd().resolve()
        if not (out / MARKER).is_file() or out.resolve() in (here, *here.parents):
            raise ConfigError(f"--overwrite: {out} was not made by jaxcurr (no {MARKER} "
                              "file) or holds the working directory; allowed: a run directory "
                              "that jaxcurr wrote")
        if not check_only:
            shutil.rmtree(out)


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
    from jaxcurr import runner
    from jaxcurr.execution import run_part
    from jaxcurr.experiment import load_experiment, resolve_experiment

    interrupts.check()

    writer = join_processes(args)
    overrides = list(args.set or [])
    if args.seeds is not None:
        overrides.append(f"run.seeds={args.seeds}")
    experiment = load_experiment(resolve_experiment(args.experiment), overrides)
    kind = experiment.kind
    out = Path(args.out or Path("runs") / experiment.name)

    # Everything that can fail on the user's input (config, data, the program's memory) is
    # checked before an existing run directory is touched.
    first = experiment.parts[0]
    if writer and len(experiment.parts) == 1:
        prepare_run_dir(out, kind, first.config, args.resume, args.overwrite, check_only=True)
    data = kind.prepare(first.config)
    prepared = runner.compile_run(kind, first.config, data)
    interrupts.check()
    replaces = None
    if writer:
        if len(experiment.parts) > 1:
            prepare_parent(out, args.resume, args.overwrite)
        elif not args.resume and args.overwrite and out.is_dir() and any(out.iterdir()):
            # The old run stays whole until the new one has its first checkpoint.
            replaces, out = out, out.with_name(f".{out.name}.jaxcurr-new")
            clear_for_new_run(out, overwrite=True)
        else:
            prepare_run_dir(out, kind, first.config, args.resume, args.overwrite)
    code = 0
    for index, part in enumerate(experiment.parts):
        part_dir = out / part.name if part.name else out
        if part.name and writer:
            resume = args.resume and (part_dir / "config.toml").is_file()
            prepare_run_dir(part_dir, kind, part.config, resume, False)
        else:
            resume = args.resume
        if index > 0:
            data, prepared = kind.prepare(part.config), None
        code = run_part(kind, part.config, data, part_dir, resume, writer, prepared,
                        progress=writer and not args.no_progress, resume_hint=(
                            f"jaxcurr run {args.experiment} --out {replaces or out} --resume"),
                        replaces=replaces)
        if code:
            return code
    return code


def prepare_parent(out: Path, resume: bool, overwrite: bool) -> None:
    """The folder of an experiment with parts (each part is a run directory inside it)."""
    if resume:
        if not (out / MARKER).is_file():
            raise ConfigError(f"--resume: {out} holds no run to resume")
        return
    clear_for_new_run(out, overwrite)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("parts\n")


def command_list(args: argparse.Namespace) -> int:
    from jaxcurr.experiment import experiment_dirs

    del args
    for folder in experiment_dirs():
        for path in sorted(folder.glob("*.toml")):
            try:
                values = tomllib.loads(path.read_text(encoding="utf-8"))
                kind, description = values.get("kind", "classifier_curriculum"), \
                    values.get("description", "")
            except (tomllib.TOMLDecodeError, UnicodeDecodeError):
                kind, description = "?", "(invalid TOML)"
            print(f"{path.stem:<24}{kind:<23}{description}")
    return 0


def command_plot(args: argparse.Namespace) -> int:
    from jaxcurr.execution import plot_dir

    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise ConfigError(f"plot: {run_dir} is not a directory; allowed: a run directory")
    parts = sorted(p for p in run_dir.iterdir() if (p / "config.toml").is_file()) \
        if not (run_dir / "config.toml").is_file() else [run_dir]
    if not parts:
        raise ConfigError(f"plot: {run_dir} holds no run (no config.toml)")
    for part in parts:
        print(plot_dir(part))
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
    except ConfigError as err:
        if args.debug:
            traceback.print_exc()
        print(f"jaxcurr: error: {err}", file=sys.stderr)
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
    with one line and exit code 130 (:mod:`jaxcurr.interrupts` defers it to a safe point),
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
