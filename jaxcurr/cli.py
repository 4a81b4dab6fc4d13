"""Command line: ``jaxcurr run | list | plot``.

    jaxcurr run <name-or-toml> [--seeds N] [--set key=value ...] [--out DIR] [--resume]
    jaxcurr list
    jaxcurr plot DIR
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tomllib
from pathlib import Path

from jaxcurr.config import Config, ConfigError, config_to_dict, load_config

REPO_EXPERIMENTS = Path(__file__).resolve().parent.parent / "experiments"


def experiment_dirs() -> list[Path]:
    """Where experiment names are looked up: ./experiments, then the source tree's."""
    dirs = [Path("experiments"), REPO_EXPERIMENTS]
    return [d for d in dict.fromkeys(p.resolve() for p in dirs) if d.is_dir()]


def resolve_experiment(name: str) -> Path:
    path = Path(name)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise ConfigError(f"experiment: no such file {name!r}")
        return path
    for folder in experiment_dirs():
        candidate = folder / f"{name}.toml"
        if candidate.is_file():
            return candidate
    known = sorted({p.stem for d in experiment_dirs() for p in d.glob("*.toml")})
    raise ConfigError(f"experiment: unknown name {name!r}; allowed: a .toml path or one of "
                      + ", ".join(known))


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


def _prepare_run_dir(out: Path, config: Config, resume: bool, overwrite: bool) -> None:
    from jaxcurr.results import load_run_config

    exists = (out / "config.toml").is_file()
    if resume:
        if not exists:
            raise ConfigError(f"--resume: {out} holds no run to resume (no config.toml)")
        diff = _first_difference(config_to_dict(load_run_config(out)), config_to_dict(config))
        if diff:
            raise ConfigError(f"--resume: the config differs from the run in {out}: {diff}")
    elif out.exists() and any(out.iterdir()):
        if not overwrite:
            raise ConfigError(f"--out: {out} already holds files; pass --resume to continue "
                              "that run or --overwrite to replace it")
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
    from jaxcurr.curricula import prepare_data
    from jaxcurr.data import load_dataset

    writer = join_processes(args)
    overrides = list(args.set or [])
    if args.seeds is not None:
        overrides.append(f"run.seeds={args.seeds}")
    config = load_config(resolve_experiment(args.experiment), overrides)
    dataset = load_dataset(config.data)  # fails before anything is written
    out = Path(args.out or Path("runs") / config.name)
    if writer:
        _prepare_run_dir(out, config, args.resume, args.overwrite)

    from jax.experimental import multihost_utils

    from jaxcurr import runner
    from jaxcurr.plots import plot_run
    from jaxcurr.results import format_summary, save_config, save_metrics, save_summary, summarize

    data = prepare_data(dataset, config)
    if writer:
        save_config(out, config)
    multihost_utils.sync_global_devices("jaxcurr run directory ready")
    try:
        result = runner.run(config, data, checkpoint_dir=out / "checkpoints", resume=args.resume,
                            progress=writer and not args.no_progress)
    except KeyboardInterrupt:
        print(f"\ninterrupted; continue with: jaxcurr run {out / 'config.toml'} --out {out} "
              "--resume", file=sys.stderr)
        return 130
    if not writer:
        return 0
    save_metrics(out, config, result.metrics)
    summary = summarize(config, result.metrics)
    summary["compile_seconds"] = round(result.compile_seconds, 2)
    summary["run_seconds"] = round(result.run_seconds, 2)
    save_summary(out, summary)
    figure = plot_run(out)
    print(format_summary(summary))
    rate = config.run.steps / max(result.run_seconds, 1e-9)
    print(f"\ncompile {result.compile_seconds:.1f} s, run {result.run_seconds:.1f} s: "
          f"{rate:.0f} steps/s, {rate * config.run.seeds:.0f} seed-steps/s "
          f"(each step advances all {len(config.run.methods)} methods)")
    print(f"run directory: {out}\nfigure: {figure}")
    return 0


def command_list(args: argparse.Namespace) -> int:
    del args
    for folder in experiment_dirs():
        for path in sorted(folder.glob("*.toml")):
            try:
                description = tomllib.loads(path.read_text()).get("description", "")
            except tomllib.TOMLDecodeError:
                description = "(invalid TOML)"
            print(f"{path.stem:<28}{description}")
    return 0


def command_plot(args: argparse.Namespace) -> int:
    from jaxcurr.plots import plot_run
    from jaxcurr.results import format_summary, load_metrics, load_run_config, summarize

    run_dir = Path(args.run_dir)
    if not (run_dir / "metrics.npz").is_file() or not (run_dir / "config.toml").is_file():
        raise ConfigError(f"plot: {run_dir} is not a finished run directory "
                          "(needs config.toml and metrics.npz)")
    print(format_summary(summarize(load_run_config(run_dir), load_metrics(run_dir))))
    print(f"figure: {plot_run(run_dir)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jaxcurr", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run an experiment (a name from `jaxcurr list` or a .toml)")
    run.add_argument("experiment")
    run.add_argument("--seeds", type=int, help="number of seeds (run.seeds)")
    run.add_argument("--set", action="append", metavar="KEY=VALUE",
                     help="override a setting, e.g. --set run.steps=500 (repeatable)")
    run.add_argument("--out", help="run directory (default runs/<name>)")
    run.add_argument("--resume", action="store_true", help="continue the run in --out")
    run.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    run.add_argument("--distributed", action="store_true",
                     help="join a multi-host run, cluster detected by jax.distributed")
    run.add_argument("--coordinator", metavar="HOST:PORT",
                     help="multi-host run: process 0's address (with the next two)")
    run.add_argument("--num-processes", type=int, help="multi-host run: number of processes")
    run.add_argument("--process-id", type=int, help="multi-host run: this process's index")
    run.set_defaults(func=command_run)
    listing = sub.add_parser("list", help="list the experiments")
    listing.set_defaults(func=command_list)
    plot = sub.add_parser("plot", help="draw the figures of a run directory")
    plot.add_argument("run_dir")
    plot.set_defaults(func=command_plot)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as err:
        print(f"jaxcurr: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
