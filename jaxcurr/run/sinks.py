"""Metric sinks: where the runner sends each logged window's scalars.

``open_sinks`` opens the sinks named in ``run.sinks``; ``MetricSinks.write`` is called once per
logged window, at chunk boundaries, with a flat ``{name: value}`` dict (names may hold ``/``).

* ``jsonl`` (always on): ``run_dir/metrics.jsonl``, one ``{"window", "step", "metrics"}`` object
  per line, non-finite values as ``null``; flushed and fsync'ed by ``flush`` (after every
  chunk) and ``close``.
* ``tensorboard``: event files under ``run_dir/tensorboard/``, written with tensorboardX's
  ``SummaryWriter`` (pure Python, no TensorFlow or PyTorch needed); tag = metric name, global
  step = the experiment's step. Extra: ``pip install 'jaxcurr[tensorboard]'``.
* ``wandb``: a Weights & Biases run, offline unless ``WANDB_MODE`` says otherwise, under
  ``run_dir/wandb/``; its id is kept in ``run_dir/wandb_id.txt`` so a resumed run reuses it.
  Extra: ``pip install 'jaxcurr[wandb]'``.

Resuming at window ``k`` (``start_window=k``, ``start_step`` = the step of window ``k``): the
jsonl file keeps only its complete lines of windows ``< k`` (rewritten atomically), and the
TensorBoard writer purges events at steps ``>= start_step``, so each window appears once.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import time
import uuid
from pathlib import Path
from typing import Any

from jaxcurr.core.files import atomic_write
from jaxcurr.core.validation import ConfigError

SINKS = ("jsonl", "tensorboard", "wandb")
_PACKAGES = {"tensorboard": "tensorboardX", "wandb": "wandb"}  # the module each sink imports


def check_sinks(names: tuple[str, ...]) -> None:
    """Raise ``ConfigError`` for an unknown sink name or a sink whose package is missing."""
    allowed = "a list of " + ", ".join(repr(s) for s in SINKS)
    for name in names:
        if name not in SINKS:
            raise ConfigError(f"run.sinks: got {name!r}; allowed: {allowed}")
        package = _PACKAGES.get(name)
        if package is not None and importlib.util.find_spec(package) is None:
            raise ConfigError(
                f"run.sinks: {name!r} needs the {package} package; install it with "
                f"pip install 'jaxcurr[{name}]'")


def _finite_or_none(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class JsonlSink:
    """``metrics.jsonl``: one JSON object per window, fsync'ed as it is written."""

    def __init__(self, run_dir: Path, start_window: int):
        self.path = run_dir / "metrics.jsonl"
        if self.path.exists():
            self._truncate(start_window)
        self._file = open(self.path, "a", encoding="utf-8")

    def _truncate(self, start_window: int) -> None:
        """Keep the complete lines of windows ``< start_window``; rewrite the file atomically."""
        kept = []
        for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:  # a torn line: the process died mid-write
                continue
            if isinstance(record, dict) and isinstance(record.get("window"), int) \
                    and record["window"] < start_window:
                kept.append(line + "\n")
        text = "".join(kept).encode()

        def write(handle):
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())

        atomic_write(self.path, write)  # its temporary file is reused if a kill leaves it
        _fsync_dir(self.path.parent)

    def write(self, window: int, step: int, scalars: dict[str, float]) -> None:
        metrics = {name: _finite_or_none(v) for name, v in scalars.items()}
        record = {"window": int(window), "step": int(step), "metrics": metrics}
        self._file.write(json.dumps(record, allow_nan=False) + "\n")

    def flush(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self.flush()
        self._file.close()


class TensorBoardSink:
    """tensorboardX event files; a resumed run purges the steps it will write again."""

    def __init__(self, run_dir: Path, start_window: int, start_step: int):
        from tensorboardX import SummaryWriter

        # A unique, increasing suffix: tensorboardX names files by the second and host only,
        # and a resumed writer in the same second would overwrite the earlier file.
        self._writer = SummaryWriter(
            logdir=str(run_dir / "tensorboard"), filename_suffix=f".{time.time_ns()}",
            purge_step=int(start_step) if start_window > 0 else None, flush_secs=60)

    def write(self, window: int, step: int, scalars: dict[str, float]) -> None:
        for name, value in scalars.items():
            self._writer.add_scalar(name, float(value), global_step=int(step))

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()


class WandbSink:
    """A Weights & Biases run (offline by default) with an id stable across resumes."""

    def __init__(self, run_dir: Path, run_name: str, config: dict):
        import wandb

        id_file = run_dir / "wandb_id.txt"
        run_id = id_file.read_text().strip() if id_file.exists() else ""
        if not run_id:
            run_id = uuid.uuid4().hex[:8]
            id_file.write_text(run_id + "\n")
        self._run = wandb.init(
            project="jaxcurr", name=run_name, dir=str(run_dir),
            config=json.loads(json.dumps(config, default=str)),
            mode=os.environ.get("WANDB_MODE", "offline"), id=run_id, resume="allow",
            settings=wandb.Settings(silent=True, console="off"))

    def write(self, window: int, step: int, scalars: dict[str, float]) -> None:
        self._run.log({name: float(v) for name, v in scalars.items()}, step=int(step))

    def flush(self) -> None:
        """wandb writes its own log in the background."""

    def close(self) -> None:
        """Finish the run and wait until its transaction log is on disk.

        ``run.finish()`` returns before wandb's service process has flushed the run's
        ``.wandb`` file (it can still hold only its 7-byte header); ``wandb.teardown()`` waits
        for the service to exit, which writes the file whole. It is skipped while another
        run of the same process is still open, since teardown would finish that one too.
        """
        import wandb

        self._run.finish()
        if wandb.run is None:
            wandb.teardown()


class MetricSinks:
    """The open sinks of one run: ``write`` sends a window to each, ``close`` closes them."""

    def __init__(self, sinks: list):
        self._sinks = sinks

    def write(self, window: int, step: int, scalars: dict[str, float]) -> None:
        for sink in self._sinks:
            sink.write(window, step, scalars)

    def flush(self) -> None:
        """Make every window written so far durable (the runner calls it after each chunk)."""
        for sink in self._sinks:
            sink.flush()

    def close(self) -> None:
        sinks, self._sinks = self._sinks, []
        errors = []
        for sink in sinks:
            try:
                sink.close()
            except Exception as e:  # close the others before raising
                errors.append(e)
        if errors:
            raise errors[0]

    def __enter__(self) -> MetricSinks:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_sinks(run_dir: Path, names: tuple[str, ...], run_name: str, config: dict,
               start_window: int = 0, start_step: int = 0) -> MetricSinks:
    """Open ``jsonl`` and the other named sinks in ``run_dir``.

    ``start_window`` > 0 resumes a run at that window, whose step is ``start_step``: what the
    sinks hold from that window on is dropped (jsonl) or purged (TensorBoard).
    """
    check_sinks(tuple(names))
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    opened: list = []
    try:
        for name in dict.fromkeys(("jsonl", *names)):
            if name == "jsonl":
                opened.append(JsonlSink(run_dir, start_window))
            elif name == "tensorboard":
                opened.append(TensorBoardSink(run_dir, start_window, start_step))
            else:
                opened.append(WandbSink(run_dir, run_name, config))
    except BaseException:
        MetricSinks(opened).close()
        raise
    return MetricSinks(opened)
