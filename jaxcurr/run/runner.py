"""Chunked execution of any experiment kind: one compiled chunk, progress, checkpoints, resume.

Each run lasts ``engine.num_windows`` logged windows; a chunk is ``run.chunk_logs`` of them,
compiled once (:mod:`jaxcurr.run.compilation`) and called repeatedly from Python, so the run
shows progress, keeps metrics and checkpoints between chunks. Every ``run.checkpoint_every``
chunks the state of all runs and the metrics so far are saved with orbax; ``resume`` restores
the latest checkpoint and continues with the same compiled chunk, which makes a resumed run
bit-identical to an uninterrupted one.

After every chunk the metrics (and the state, or the part of it the engine's ``guard`` names)
are checked: a NaN or infinity stops the run with :class:`NonFiniteError` naming the point,
seed, window and metric, before that chunk is checkpointed, unless ``run.allow_nonfinite``.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import logging
import math
import os
import re
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np
import orbax.checkpoint as ocp
from tqdm.auto import tqdm

from jaxcurr.core.engine import Engine, Kind
from jaxcurr.run.compilation import CompiledRun, Points, compile_run, precision, to_host


class NonFiniteError(RuntimeError):
    """A metric or the state became NaN or infinite; ``result`` holds the finite part."""

    def __init__(self, message: str, result: RunResult):
        super().__init__(message)
        self.result = result


class RunResult(NamedTuple):
    """Window metrics ``{name: [points, seeds, windows, ...]}``, final arrays
    ``{name: [points, seeds, ...]}`` and the timings of this process."""

    metrics: dict[str, np.ndarray]
    final: dict[str, np.ndarray]
    points: Points
    steps: np.ndarray
    compile_seconds: float
    run_seconds: float
    steps_this_process: int
    finished: bool


class Observer:
    """Hooks the runner calls (the CLI writes sinks and partial results through them)."""

    def start(self, start_window: int, steps: np.ndarray) -> None:
        """Before the first chunk; ``start_window`` > 0 on resume."""

    def chunk(self, first_window: int, metrics: dict[str, np.ndarray]) -> None:
        """After each chunk: its window metrics ``[points, seeds, windows, ...]``."""

    def checkpoint(self, result: RunResult) -> Path | None:
        """After each checkpoint: everything so far. Returning a path tells the runner that
        the checkpoint directory was moved there (a replacement run taking its place)."""


def _unflatten(tree: dict[str, np.ndarray], points: int) -> dict[str, np.ndarray]:
    return {k: v.reshape(points, -1, *v.shape[1:]) for k, v in tree.items()}


def _first_nonfinite(metrics: dict[str, np.ndarray], skip: tuple[str, ...] = ()
                     ) -> tuple[int, int, str, float] | None:
    """(run, window, metric, value) of the earliest non-finite window metric, if any."""
    best = None
    for name, values in metrics.items():
        if name in skip:
            continue
        bad = ~np.isfinite(values.reshape(*values.shape[:2], -1)).all(-1)  # [runs, windows]
        if bad.any():
            runs, windows = np.nonzero(bad)
            i = int(np.argmin(windows))
            if best is None or windows[i] < best[1]:
                flat = values[runs[i], windows[i]].reshape(-1)
                best = (int(runs[i]), int(windows[i]), name, float(flat[~np.isfinite(flat)][0]))
    return best


def run(
    kind: Kind,
    config: Any,
    data: Any,
    checkpoint_dir: Path | None = None,
    resume: bool = False,
    progress: bool = True,
    stop_after_chunks: int | None = None,
    observer: Observer | None = None,
    prepared: CompiledRun | None = None,
) -> RunResult:
    """Run every (point, seed) of ``config`` in chunks; checkpoint to ``checkpoint_dir``.

    ``prepared``: the result of :func:`compile_run` (compiled here if not given).
    ``stop_after_chunks`` ends the run early after that many chunks (after checkpointing), as
    an interruption would; ``resume`` continues from the latest checkpoint.
    """
    prepared = prepared or compile_run(kind, config, data)
    with precision(prepared.program.engine):
        return _run(config, prepared, checkpoint_dir, resume, progress, stop_after_chunks,
                    observer or Observer())


def _open_checkpoints(directory: Path) -> ocp.CheckpointManager:
    """Orbax's manager of a run's checkpoints (the last two kept, written synchronously)."""
    return ocp.CheckpointManager(
        Path(directory).absolute(),
        options=ocp.CheckpointManagerOptions(max_to_keep=2, enable_async_checkpointing=False))


def _storage_errno(err: Exception) -> int | None:
    """The errno of a failed checkpoint write, or None for an error that is not storage's."""
    if isinstance(err, OSError):
        return err.errno or errno.EIO
    code = re.search(r"os_error_code='(\d+)'", str(err))  # tensorstore's status text
    status = re.match(r"(RESOURCE_EXHAUSTED|PERMISSION_DENIED|OUT_OF_RANGE):", str(err))
    if code:
        return int(code.group(1))
    return {"RESOURCE_EXHAUSTED": errno.ENOSPC, "PERMISSION_DENIED": errno.EACCES,
            "OUT_OF_RANGE": errno.EFBIG}[status.group(1)] if status else None


@contextlib.contextmanager
def _held_stderr():
    """File descriptor 2 goes to memory inside the block (every thread's, C's included); what
    was written is passed on at the end unless the block set ``held["drop"]``. Linux only
    (``memfd_create``: memory, not a disk that may be full); elsewhere nothing is held."""
    held = {"drop": False}
    if not hasattr(os, "memfd_create"):
        yield held
        return
    sys.stderr.flush()
    saved, memory = os.dup(2), os.memfd_create("jaxcurr-stderr")
    os.dup2(memory, 2)
    try:
        yield held
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        if not held["drop"]:
            os.write(2, os.pread(memory, os.fstat(memory).st_size, 0))
        os.close(memory)


def _save(manager: ocp.CheckpointManager, step: int, state: Any, history: dict) -> None:
    """Save checkpoint ``step``. A failed write (disk full, quota, ``ulimit -f``), which orbax
    reports as a ValueError with tensorstore's status or an OSError naming no file, is an
    OSError naming the checkpoint folder; the unfinished checkpoint is removed, the previous
    one kept, and what orbax's threads printed meanwhile (a traceback per unwritten array)
    dropped: the caller reports it once."""
    with _held_stderr() as held:
        try:
            manager.save(step, args=ocp.args.Composite(
                state=ocp.args.StandardSave(state), history=ocp.args.StandardSave(history)))
        except (OSError, ValueError) as err:
            number = _storage_errno(err)
            if number is None:
                raise
            held["drop"] = True
            logging.getLogger("asyncio").setLevel(logging.CRITICAL)  # its tasks' errors, later
            gc.collect()
            folder = Path(manager.directory)
            for unfinished in folder.glob(f"{step}.orbax-checkpoint-tmp*"):
                shutil.rmtree(unfinished, ignore_errors=True)
            raise OSError(number, os.strerror(number), str(folder)) from err


def _restore(manager: ocp.CheckpointManager, state: Any, engine: Engine, data: Any,
             point_tree: Any) -> tuple[int, Any, list]:
    """The latest checkpoint's chunk count, state (shaped like ``state``) and metric history;
    a checkpoint in the engine's older layout is restored as such and upgraded."""
    chunk = manager.latest_step()

    def read(template):
        abstract = jax.tree_util.tree_map(ocp.utils.to_shape_dtype_struct, template)
        return manager.restore(chunk, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract), history=ocp.args.StandardRestore()))

    try:
        restored = read(state)
        state = restored.state
    except ValueError:
        if engine.old_layout is None:
            raise
        restored = read(engine.old_layout(state))
        upgrade = jax.jit(jax.vmap(engine.upgrade, in_axes=(0, None, 0)))
        state = upgrade(restored.state, data, point_tree)
    return chunk, state, [{k: np.asarray(v) for k, v in restored.history.items()}]


def _first_bad(config: Any, engine: Engine, check_fn: Callable, host: dict, state: Any,
               per_chunk: int) -> tuple | None:
    """``(run, window, name, value)`` of a chunk's first non-finite metric, else of a
    non-finite state; None when all is finite or ``run.allow_nonfinite`` is set."""
    if config.run.allow_nonfinite:
        return None
    bad = _first_nonfinite(host, engine.unguarded)
    if bad is None:
        state_ok = np.asarray(to_host(check_fn(state)))
        if not state_ok.all():
            bad = (int(np.argmin(state_ok)), per_chunk - 1, "the state", float("nan"))
    return bad


def _run(config: Any, prepared: CompiledRun, checkpoint_dir: Path | None, resume: bool,
         progress: bool, stop_after_chunks: int | None, observer: Observer) -> RunResult:
    """Run the compiled chunks (from the last checkpoint when resuming), with the progress
    bar, checkpoints, the observer's writes and the non-finite guard."""
    engine = prepared.program.engine
    points = prepared.points
    state, data, point_tree, program = (prepared.state, prepared.data, prepared.point_tree,
                                        prepared.program)
    n_points, seeds = len(points.labels), config.run.seeds
    per_chunk = prepared.program.windows_per_chunk
    steps_per_chunk = per_chunk * engine.steps_per_window
    all_steps = np.arange(1, engine.num_windows + 1) * engine.steps_per_window
    check_fn, finished_fn, final_fn = program.check, program.finished, program.final
    progress_fn = jax.jit(jax.vmap(engine.progress)) if engine.progress else None

    manager = None
    history: list[dict[str, np.ndarray]] = []
    start_chunk = 0

    if checkpoint_dir is not None:
        manager = _open_checkpoints(checkpoint_dir)
        if resume and manager.latest_step() is not None:
            start_chunk, state, history = _restore(manager, state, engine, data, point_tree)

    def result(done_chunks: int, seconds: float, finished: bool, final: bool = True
               ) -> RunResult:
        """The run so far: metrics of ``done_chunks`` chunks, and the final arrays."""
        merged = _concat(history) if history else {}
        final = _unflatten(to_host(final_fn(state, data, point_tree)), n_points) \
            if final_fn is not None and final else {}
        windows = done_chunks * per_chunk
        return RunResult(_unflatten(merged, n_points), final, points, all_steps[:windows],
                         prepared.compile_seconds, seconds,
                         (done_chunks - start_chunk) * steps_per_chunk, finished)

    observer.start(start_chunk * per_chunk, all_steps)
    total = engine.num_windows * engine.steps_per_window
    bar = tqdm(total=total, initial=start_chunk * steps_per_chunk, unit=engine.unit,
               disable=not progress, desc=config.name, dynamic_ncols=True)
    started = time.perf_counter()
    done = start_chunk
    all_done = finished_fn is not None and bool(np.all(to_host(finished_fn(state))))
    for index in range(start_chunk, prepared.num_chunks if not all_done else start_chunk):
        state, metrics = program.chunk(state, data, point_tree)
        host = to_host(metrics)
        bad = _first_bad(config, engine, check_fn, host, state, per_chunk)
        if bad is not None:
            bar.close()
            r, window, name, value = bad
            first = index * per_chunk
            saved = manager.latest_step() if manager is not None else None
            message = (f"non-finite {name} ({value:g}) at point {points.labels[r // seeds]!r}, "
                       f"seed {r % seeds}, window {first + window} ({engine.unit} "
                       f"{all_steps[first + window]}): stopped; the run keeps its metrics up "
                       f"to chunk {done} of {prepared.num_chunks} and its last checkpoint "
                       f"(chunk {saved or 0}); set run.allow_nonfinite = true where non-finite "
                       "values are expected")
            raise NonFiniteError(message, result(done, time.perf_counter() - started, False,
                                                 final=False))
        history.append(host)
        observer.chunk(index * per_chunk, _unflatten(host, n_points))
        done = index + 1
        all_done = finished_fn is not None and bool(np.all(to_host(finished_fn(state))))
        fit_total(bar, total, bar.n + steps_per_chunk, all_done, None if progress_fn is None
                  else float(np.min(to_host(progress_fn(state)))))
        bar.update(steps_per_chunk)  # shown with the fitted total
        last = done == prepared.num_chunks or all_done
        if manager is not None and (done % config.run.checkpoint_every == 0 or last):
            merged = _concat(history)
            history = [merged]
            _save(manager, done, state, merged)
            moved = observer.checkpoint(result(done, time.perf_counter() - started, last))
            if moved is not None:
                manager.wait_until_finished()
                manager.close()
                manager = _open_checkpoints(moved)
        if last or (stop_after_chunks is not None and done - start_chunk >= stop_after_chunks):
            break
    if all_done:  # also a run that had finished when it started (nothing to run)
        fit_total(bar, total, bar.n, True, None)
        bar.refresh()
    bar.close()
    if manager is not None:
        manager.wait_until_finished()
        manager.close()
    return result(done, time.perf_counter() - started, done == prepared.num_chunks or all_done)


def fit_total(bar: tqdm, total: int, n: int, finished: bool, fraction: float | None) -> None:
    """Fit the bar's total, hence its percentage and ETA (tqdm's: steps left over the measured
    rate), to a run that ends early, ``n`` steps run: ``n`` once every run has finished, else
    ``n`` over ``fraction`` of the work done (``engine.progress`` of the slowest run), at most
    ``total``."""
    if finished:
        bar.total = n
    elif fraction is not None and fraction > 0:
        bar.total = min(total, max(n, math.ceil(n / fraction)))


def _concat(history: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Join chunks' metrics along the window axis (axis 1, after the run axis)."""
    if len(history) == 1:
        return history[0]
    return {k: np.concatenate([h[k] for h in history], axis=1) for k in history[0]}
