"""A run directory's life before the runner starts: new, resumed, or replaced.

A new run needs an absent or empty ``--out``; ``--overwrite`` replaces only a directory that
jaxcurr made (it holds the ``.jaxcurr-run`` marker), never the working directory or a parent
of it; ``--resume`` needs the saved settings unchanged except ``[report]`` and
``run.allow_nonfinite``.

:func:`run_lock` holds a lock on the run directory for the life of the process that writes it:
``fcntl.flock`` on ``.NAME.jaxcurr-lock`` beside it (one file for the run directory and its
``--overwrite`` staging folder ``.NAME.jaxcurr-new``), holding the writer's PID. A second
writer is refused at once, naming that PID. The kernel drops the lock when its process dies,
so a crashed run never blocks a later one.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from jaxcurr.core.files import lock_file
from jaxcurr.core.validation import ConfigError
from jaxcurr.run.run_dir import checkpoint_dir, load_config_dict, remove_run

MARKER = ".jaxcurr-run"  # written into every run directory jaxcurr makes


def lock_path(out: Path) -> Path:
    """The lock file of run directory ``out``: beside it, so it covers the staging folder."""
    out = Path(os.path.abspath(out))
    return out.with_name(f".{out.name}.jaxcurr-lock")


@contextlib.contextmanager
def run_lock(out: Path):
    """Hold ``out``'s lock (module docstring) inside the block; ConfigError naming the other
    process's PID if one holds it. Folders made for the lock file are removed after, if empty."""
    path = lock_path(out)
    made = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
    try:  # the first check that --out can be written, before anything is compiled
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = lock_file(path, wait=False)
    except OSError as err:
        raise ConfigError(f"--out: cannot use {out} ({err.strerror}: {err.filename}); "
                          "allowed: a path this user can write") from None
    if fd is None:
        try:
            holder = path.read_text().strip() or "unknown"
        except OSError:
            holder = "unknown"
        raise ConfigError(f"--out: {out} is in use by another jaxcurr process (PID {holder}); "
                          "allowed: a run directory no live run writes (wait for that process "
                          "to end, or stop it)")
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        path.unlink(missing_ok=True)  # still locked: no other process holds this file
        os.close(fd)
        for folder in made:
            with contextlib.suppress(OSError):
                folder.rmdir()


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
    saved = load_config_dict(out)
    try:
        return kind.to_dict(kind.from_dict(saved))
    except ConfigError:
        return saved


def _training_settings(values: dict) -> dict:
    """Everything a resume must keep: not ``[report]``, which only shapes summaries and final
    evaluations (a finished run is then summarised again), nor ``description``, which is prose,
    nor ``run.allow_nonfinite``, which only decides whether the host stops on a NaN (so a run
    stopped by one can go on)."""
    kept = {k: v for k, v in values.items() if k not in ("report", "description")}
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
            raise ConfigError(f"--resume: the config differs from the run in {out}: {diff}; "
                              f"to continue it as it was: jaxcurr run {out / 'config.toml'} "
                              f"--out {out} --resume")
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
            remove_run(out)


def finished_already(out: Path, kind, config) -> bool:
    """``--resume`` of a finished run whose ``[report]`` is unchanged: nothing to do."""
    try:
        summary = json.loads((out / "summary.json").read_text())
    except (OSError, ValueError):
        return False
    return bool(isinstance(summary, dict) and summary.get("finished")) and (
        run_config(kind, out).get("report") == kind.to_dict(config).get("report"))


def refuse_lost_checkpoints(out: Path) -> None:
    """``--resume`` of a run that has metrics but no checkpoint left (its checkpoint folder
    lost with another machine or checkout) would start again and overwrite those metrics:
    refused, naming the folder (a run stopped before its first checkpoint has no metrics)."""
    try:
        done = int(json.loads((out / "progress.json").read_text())["windows_done"])
    except (OSError, ValueError, KeyError, TypeError):
        return
    folder = checkpoint_dir(out)
    if done and not (folder.is_dir() and any(p.name.isdigit() for p in folder.iterdir())):
        raise ConfigError(f"--resume: {out} has metrics up to window {done} but its checkpoint "
                          f"folder {folder} holds no checkpoint; allowed: that folder "
                          "restored, or --overwrite to run it again from the start")


def prepare_parent(out: Path, resume: bool, overwrite: bool) -> None:
    """The folder of an experiment with parts (each part is a run directory inside it)."""
    if resume:
        if not (out / MARKER).is_file():
            raise ConfigError(f"--resume: {out} holds no run to resume")
        return
    clear_for_new_run(out, overwrite)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("parts\n")
