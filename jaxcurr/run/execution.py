"""One run of any kind from the command line: run directory, sinks, results, figures.

:func:`run_part` drives :func:`jaxcurr.run.runner.run` for one config and writes the run directory
(:mod:`jaxcurr.run.run_dir`): ``config.toml`` first, then at every checkpoint ``metrics.npz`` and
the sinks' files, and at the end ``summary.json`` and ``figures/``. :func:`plot_dir` redraws the
summary and figures of any run directory from what it holds, finished or not.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Any

import numpy as np

from jaxcurr.core.files import atomic_write
from jaxcurr.core.stats import nanmean
from jaxcurr.core.validation import ConfigError
from jaxcurr.kinds import Kind, get_kind
from jaxcurr.run import interrupts
from jaxcurr.run import run_dir as rd
from jaxcurr.run.runner import NonFiniteError, Observer, RunResult


def _as_run_metrics(result: RunResult) -> rd.RunMetrics:
    out = rd.RunMetrics(result.metrics)
    out.final, out.step, out.points = result.final, result.steps, result.points.labels
    out.variant, out.sweep = result.points.variant, result.points.sweep
    return out


def save_results(out: Path, result: RunResult) -> None:
    rd.save_metrics(out, result.metrics, result.final, result.steps, result.points.labels,
                    result.points.variant, result.points.sweep)


def summary_of(kind: Kind, config: Any, metrics: rd.RunMetrics, extra: dict) -> dict:
    summary = kind.summarize(config, metrics, metrics.points)
    counts = rd.nonfinite_counts(dict(metrics), metrics.points)
    windows = int(metrics.step.shape[0])
    return {"kind": kind.name, "point_labels": metrics.points, "windows_done": windows,
            **({"nonfinite_windows": counts} if counts else {}), **extra, **summary}


class _Writer(Observer):
    """Writes sink lines after every chunk and partial results at every checkpoint."""

    def __init__(self, out: Path, kind: Kind, config: Any, points: list[str],
                 replaces: Path | None = None):
        self.out, self.kind, self.config, self.sinks = out, kind, config, None
        self.points = points
        self.replaces = replaces  # a finished run this one takes the place of at its first save
        self.seconds_before = 0.0  # run time of earlier processes, up to their last checkpoint

    def start(self, start_window: int, steps: np.ndarray) -> None:
        import json

        from jaxcurr.run.sinks import open_sinks

        interrupts.check()
        progress = self.out / "progress.json"
        if start_window and progress.is_file():
            self.seconds_before = json.loads(progress.read_text()).get("run_seconds", 0.0)
        self.steps = steps
        self.sinks = open_sinks(self.out, ("jsonl", *self.config.run.sinks), self.config.name,
                                self.kind.to_dict(self.config), start_window,
                                int(steps[start_window - 1]) if start_window else 0)

    def chunk(self, first_window: int, metrics: dict[str, np.ndarray]) -> None:
        interrupts.check()  # a pending Ctrl-C stops here: before this chunk's checkpoint
        means = {name: nanmean(v.reshape(*v.shape[:3], -1), axis=1)  # [P, W, K]; all-NaN: NaN
                 for name, v in metrics.items()}
        for w in range(next(iter(means.values())).shape[1]):
            scalars = {}
            for name, values in means.items():
                for p, label in enumerate(self.points):
                    prefix = f"{label}/" if len(self.points) > 1 else ""
                    row = values[p, w]
                    for i, value in enumerate(row):
                        suffix = f"/{i}" if row.size > 1 else ""
                        scalars[f"{prefix}{name}{suffix}"] = float(value)
            self.sinks.write(first_window + w, int(self.steps[first_window + w]), scalars)
        self.sinks.flush()

    def checkpoint(self, result: RunResult) -> Path | None:
        save_results(self.out, result)
        self.save_progress(result)
        if self.replaces is None:
            return None
        # The new run has its first checkpoint: it takes the old run's place. Open files (the
        # sinks) follow the renamed directory; the runner reopens its checkpoint manager.
        target, self.replaces = self.replaces, None
        old = target.with_name(f".{target.name}.jaxcurr-old")
        os.replace(target, old)
        os.replace(self.out, target)
        rd.remove_run(old)
        self.out = target
        return rd.checkpoint_dir(target)

    def save_progress(self, result: RunResult) -> float:
        """``progress.json``: the whole run's time up to this checkpoint, over processes."""
        import json

        total = round(self.seconds_before + result.run_seconds, 2)
        text = json.dumps({"windows_done": int(result.steps.size), "run_seconds": total})
        atomic_write(self.out / "progress.json", lambda f: f.write(text.encode()))
        return total

    def close(self) -> None:
        if self.sinks is not None:
            self.sinks.close()


def _discard_staging(observer: Observer) -> bool:
    """Remove a replacement run that never reached its first checkpoint (the old run it was
    to replace stays as it was); True if there was one."""
    if getattr(observer, "replaces", None) is None:
        return False
    if observer.out.is_dir():
        rd.remove_run(observer.out)
    return True


def run_part(kind: Kind, config: Any, data: Any, out: Path, resume: bool, writer: bool,
             prepared: Any, progress: bool, resume_hint: str, replaces: Path | None = None
             ) -> int:
    """Run (or resume) one config into ``out`` (``prepared``: its compiled run, or None to
    compile here); with ``replaces``, ``out`` is a staging directory that takes the place of
    that run directory once it has its first checkpoint. A finished run resumed with a
    changed ``[report]`` is summarised again from its last checkpoint (its final evaluation
    included). Returns the process exit code."""
    from jax.experimental import multihost_utils

    from jaxcurr.run import runner
    from jaxcurr.run.lifecycle import MARKER, finished_already, refuse_lost_checkpoints

    if resume and finished_already(out, kind, config):
        print(f"{out}: finished already")
        return 0
    if resume:
        refuse_lost_checkpoints(out)
    # one that cannot fit stops here
    prepared = prepared or interrupts.interruptible(runner.compile_run, kind, config, data)
    if writer:
        out.mkdir(parents=True, exist_ok=True)
        (out / MARKER).write_text("run\n")
        rd.save_config_dict(out, kind.to_dict(config))
        if not resume:
            rd.place_checkpoints(out)
    multihost_utils.sync_global_devices("jaxcurr run directory ready")
    checkpoints = rd.checkpoint_dir(out)
    observer = (_Writer(out, kind, config, prepared.points.labels, replaces) if writer
                else Observer())
    try:
        result = runner.run(kind, config, data, checkpoint_dir=checkpoints,
                            resume=resume, progress=progress, observer=observer,
                            prepared=prepared)
    except KeyboardInterrupt:
        if _discard_staging(observer):
            print("\ninterrupted before the first checkpoint; the previous run is unchanged",
                  file=sys.stderr)
        else:
            print(f"\ninterrupted; continue with: {resume_hint}", file=sys.stderr)
        return 130
    except NonFiniteError as err:
        if not _discard_staging(observer) and writer and err.result.steps.size:
            save_results(observer.out, err.result)
        print(f"jaxcurr: error: {err}", file=sys.stderr)
        return 3
    except BaseException:
        _discard_staging(observer)
        raise
    finally:
        if writer:
            observer.close()
    if not writer:
        return 0
    out = observer.out
    save_results(out, result)
    steps = result.steps_this_process
    rate = steps / max(result.run_seconds, 1e-9)
    runs = len(result.points.labels) * config.run.seeds
    extra = {"finished": result.finished, "compile_seconds": round(result.compile_seconds, 2),
             "run_seconds_this_process": round(result.run_seconds, 2),
             "steps_this_process": steps, "run_seconds_total": observer.save_progress(result)}
    summary = summary_of(kind, config, _as_run_metrics(result), extra)
    rd.save_summary(out, summary)
    figures = kind.figures(out, config, _as_run_metrics(result), result.points.labels)
    print(kind.format_summary(summary))
    print(f"\ncompile {result.compile_seconds:.1f} s, " + (
        f"this process ran {steps} {prepared.program.engine.unit}s in {result.run_seconds:.1f} s: "
        f"{_rate(rate)}/s per run, {_rate(rate * runs)}/s over all {runs} runs" if steps else
        "nothing left to run: summarised again from the last checkpoint" if resume else
        "every run had finished when it started (in its initialisation): nothing to time"))
    print(f"run directory: {out}" + (f"\nfigures: {', '.join(map(str, figures))}"
                                    if figures else ""))
    return 0


def _rate(per_second: float) -> str:
    """Three significant digits below 100 (0.126, 3.15), whole numbers above (552)."""
    return f"{per_second:.0f}" if per_second >= 100 else f"{per_second:.3g}"


RUN_FIELDS = ("finished", "compile_seconds", "run_seconds_this_process", "steps_this_process",
              "run_seconds_total")


def plot_dir(run_dir: Path) -> str:
    """Summary table and figures of a run directory from what it holds (finished or not);
    ``summary.json`` is rewritten (keeping the timings of the process that ran it)."""
    import json

    values = rd.load_config_dict(run_dir)
    kind = get_kind(values.get("kind", "classifier_curriculum"))
    config = kind.from_dict(values)
    metrics = rd.load_metrics(run_dir)
    old = {}
    if (run_dir / "summary.json").is_file():
        try:
            old = json.loads((run_dir / "summary.json").read_text())
        except json.JSONDecodeError:
            old = {}
    summary = summary_of(kind, config, metrics, {k: old[k] for k in RUN_FIELDS if k in old})
    rd.save_summary(run_dir, summary)
    figures = kind.figures(run_dir, config, metrics, metrics.points)
    return kind.format_summary(summary) + f"\nfigures: {', '.join(map(str, figures))}"


def run_experiment(experiment: Any, out: Path, *, resume: bool, overwrite: bool, writer: bool,
                   progress: bool, resume_hint: str) -> int:
    """Run every part of ``experiment`` into ``out`` (new, resumed or replacing a run
    directory), holding ``out``'s lock (:func:`jaxcurr.run.lifecycle.run_lock`) on the writer;
    ``resume_hint`` (with ``{out}``) is printed when a run stops early. Returns the process
    exit code."""
    import contextlib

    from jaxcurr.run.lifecycle import run_lock

    with run_lock(out) if writer else contextlib.nullcontext():
        return _run_experiment(experiment, out, resume=resume, overwrite=overwrite,
                               writer=writer, progress=progress, resume_hint=resume_hint)


def _run_experiment(experiment: Any, out: Path, *, resume: bool, overwrite: bool, writer: bool,
                    progress: bool, resume_hint: str) -> int:
    from jaxcurr.run import runner
    from jaxcurr.run.lifecycle import (
        clear_for_new_run,
        finished_already,
        prepare_parent,
        prepare_run_dir,
    )

    kind = experiment.kind
    # Everything that can fail on the user's input (config, data, the program's memory) is
    # checked before an existing run directory is touched, and before compiling where it can.
    first = experiment.parts[0]
    if writer and len(experiment.parts) == 1:
        prepare_run_dir(out, kind, first.config, resume, overwrite, check_only=True)
        if resume and finished_already(out, kind, first.config):
            print(f"{out}: finished already")
            return 0
    data = kind.prepare(first.config)
    prepared = interrupts.interruptible(runner.compile_run, kind, first.config, data)
    interrupts.check()
    replaces = None
    if writer:
        if len(experiment.parts) > 1:
            prepare_parent(out, resume, overwrite)
        elif not resume and overwrite and out.is_dir() and any(out.iterdir()):
            # The old run stays whole until the new one has its first checkpoint.
            replaces, out = out, out.with_name(f".{out.name}.jaxcurr-new")
            clear_for_new_run(out, overwrite=True)
        else:
            prepare_run_dir(out, kind, first.config, resume, overwrite)
    code = 0
    for index, part in enumerate(experiment.parts):
        part_dir = out / part.name if part.name else out
        if part.name and writer:
            resume = resume and (part_dir / "config.toml").is_file()
            prepare_run_dir(part_dir, kind, part.config, resume, False)
        else:
            resume = resume
        if index > 0:
            data, prepared = kind.prepare(part.config), None
        code = run_part(kind, part.config, data, part_dir, resume, writer, prepared,
                        progress=progress,
                        resume_hint=resume_hint.format(out=shlex.quote(str(replaces or out))),
                        replaces=replaces)
        if code:
            return code
    return code


def plot_runs(run_dir: Path) -> list[str]:
    """Summaries and figures of a run directory, or of each part of an experiment with
    parts."""
    if not run_dir.is_dir():
        raise ConfigError(f"plot: {run_dir} is not a directory; allowed: a run directory")
    parts = sorted(p for p in run_dir.iterdir() if (p / "config.toml").is_file()) \
        if not (run_dir / "config.toml").is_file() else [run_dir]
    if not parts:
        raise ConfigError(f"plot: {run_dir} holds no run (no config.toml)")
    return [plot_dir(part) for part in parts]
