"""A run directory's life before the runner starts: new, resumed, or replaced.

A new run needs an absent or empty ``--out``; ``--overwrite`` replaces only a directory that
jaxcurr made (it holds the ``.jaxcurr-run`` marker), never the working directory or a parent
of it; ``--resume`` needs the saved settings unchanged except ``[report]`` and
``run.allow_nonfinite``.
"""

from __future__ import annotations

from pathlib import Path

from jaxcurr.core.validation import ConfigError
from jaxcurr.run.run_dir import load_config_dict, remove_run

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


def prepare_parent(out: Path, resume: bool, overwrite: bool) -> None:
    """The folder of an experiment with parts (each part is a run directory inside it)."""
    if resume:
        if not (out / MARKER).is_file():
            raise ConfigError(f"--resume: {out} holds no run to resume")
        return
    clear_for_new_run(out, overwrite)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("parts\n")
