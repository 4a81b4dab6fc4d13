"""Chunked execution of any experiment kind: one compiled chunk, progress, checkpoints, resume.

A run is every (point, seed) pair of an experiment (points: the kind's variants x the values of
swept hyperparameters, :mod:`jaxcurr.core.engine`), flattened into one run axis ``r = p * seeds
+ s`` and vmapped. Each run lasts ``engine.num_windows`` logged windows; a chunk is
``run.chunk_logs`` of them, compiled once (``jax.jit(jax.vmap(engine.run))``) and called
repeatedly from Python, so the run shows progress, keeps metrics and checkpoints between
chunks. Every ``run.checkpoint_every`` chunks the state of all runs and the metrics so far are
saved with orbax; ``resume`` restores the latest checkpoint and continues with the same
compiled chunk, which makes a resumed run bit-identical to an uninterrupted one.

After every chunk the metrics (and the state, or the part of it the engine's ``guard`` names)
are checked: a NaN or infinity stops the run with :class:`NonFiniteError` naming the point,
seed, window and metric, before that chunk is checkpointed, unless ``run.allow_nonfinite``.

When several devices are visible (GPUs, TPU cores, or CPU devices forced with
``XLA_FLAGS=--xla_force_host_platform_device_count=N``), the run axis of the state and the
metrics is sharded across them (a one-axis ``jax.sharding.Mesh``); the data is replicated.
Across hosts (``jax.distributed``) each process fills its own devices' shards.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from tqdm.auto import tqdm

from jaxcurr.core.engine import Engine, Kind
from jaxcurr.core.validation import ConfigError


class NonFiniteError(RuntimeError):
    """A metric or the state became NaN or infinite; ``result`` holds the finite part."""

    def __init__(self, message: str, result: RunResult):
        super().__init__(message)
        self.result = result


class Points(NamedTuple):
    """The configuration points of an experiment (variants x sweep values).

    Attributes:
      labels: one readable label per point ("grokfast", "student.learning_rate=0.001", ...).
      tree: ``{"variant": pytree [P, ...] or (), "hp": {"section.key": [P]}}``.
      variant: ``[P]`` variant name of each point ("" without a variant axis).
      sweep: ``{"section.key": [P] values}``.
    """

    labels: list[str]
    tree: dict
    variant: list[str]
    sweep: dict[str, np.ndarray]


def make_points(kind: Kind, config: Any) -> Points:
    """Every (variant, sweep combination) of ``config``, variants outermost."""
    found = kind.variants(config)
    names, stacked = found if found is not None else ([""], None)
    keys = [key for key, _ in config.sweep]
    combos = list(itertools.product(*[options for _, options in config.sweep]))
    pairs = [(v, combo) for v in range(len(names)) for combo in combos]
    labels = []
    for v, combo in pairs:
        parts = ([names[v]] if names[v] else []) + [f"{k}={x:g}" for k, x in zip(keys, combo,
                                                                                 strict=True)]
        labels.append(", ".join(parts) or "all")
    index = np.array([v for v, _ in pairs])
    variant = () if stacked is None else jax.tree.map(lambda x: np.asarray(x)[index], stacked)
    sweep = {k: np.array([combo[i] for _, combo in pairs], np.float32)
             for i, k in enumerate(keys)}
    return Points(labels, {"variant": variant, "hp": sweep}, [names[v] for v, _ in pairs], sweep)


def chunk_windows(num_windows: int, requested: int) -> int:
    """The largest divisor of ``num_windows`` not above ``requested`` (so chunks tile the run)."""
    return max(d for d in range(1, min(num_windows, requested) + 1) if num_windows % d == 0)


def run_shardings(runs: int) -> tuple[NamedSharding, NamedSharding]:
    """Shardings that split the leading run axis across all visible devices (and replicate
    the data). With one device both are trivial; with several, ``runs`` must divide evenly."""
    devices = jax.devices()
    if runs % len(devices):
        raise ConfigError(f"run.seeds: {runs} runs (points x seeds); allowed: a multiple of the "
                          f"{len(devices)} visible devices, which the runs are split across")
    mesh = Mesh(np.array(devices), ("runs",))
    return NamedSharding(mesh, PartitionSpec("runs")), NamedSharding(mesh, PartitionSpec())


def seed_keys(seed: int, seeds: int) -> jax.Array:
    """One PRNG key per seed, from ``run.seed`` (the same keys at every point)."""
    return jax.random.split(jax.random.PRNGKey(seed), seeds)


def put_global(tree: Any, sharding: NamedSharding) -> Any:
    """Place host values (the same on every process) as global arrays with ``sharding``."""
    def put(value):
        value = np.asarray(value)
        return jax.make_array_from_callback(value.shape, sharding, lambda index: value[index])

    return jax.tree.map(put, tree)


def to_host(tree: Any) -> Any:
    """Fetch global arrays as NumPy; across several processes, gather every process's shards."""
    if jax.process_count() == 1:
        return jax.device_get(tree)
    return multihost_utils.process_allgather(tree, tiled=True)


def _all_finite(tree: Any) -> jax.Array:
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)
              if jnp.issubdtype(jnp.asarray(x).dtype, jnp.inexact)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.array(True)


class CompiledRun(NamedTuple):
    """A run ready to go: the initial state of all runs and its chunk, compiled once."""

    state: Any
    data: Any
    point_tree: Any
    chunk: Any
    chunk_fn: Any
    engine: Engine
    points: Points
    windows_per_chunk: int
    num_chunks: int
    compile_seconds: float


def precision(engine: Engine):
    """``jax.enable_x64`` around a kind's compilation and execution when it asks for it."""
    return jax.enable_x64(True) if engine.x64 else contextlib.nullcontext()


def available_bytes() -> int | None:
    """Memory the program may use: the first device's limit, or the host's available RAM."""
    try:
        stats = jax.local_devices()[0].memory_stats() or {}
    except jax.errors.JaxRuntimeError:  # a backend without memory statistics
        stats = {}
    if "bytes_limit" in stats:
        return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def check_memory(init: Any, chunk: Any, runs: int) -> None:
    """Refuse, with XLA's numbers, a program that cannot fit: the state (init's output), and
    the chunk's arguments, outputs and temporaries (donated state counted once)."""
    have = available_bytes()
    a, b = init.memory_analysis(), chunk.memory_analysis()
    if have is None or a is None or b is None:
        return
    state = a.output_size_in_bytes
    need = (b.argument_size_in_bytes + b.output_size_in_bytes - b.alias_size_in_bytes
            + b.temp_size_in_bytes + a.temp_size_in_bytes)
    if need > 0.9 * have:
        gib = 2.0**30
        raise ConfigError(
            f"run.seeds: {runs} runs (points x seeds) need about {need / gib:.1f} GiB (XLA's "
            f"memory analysis: state {state / gib:.2f} GiB, chunk temporaries "
            f"{b.temp_size_in_bytes / gib:.2f} GiB) but {have / gib:.1f} GiB are available; "
            "allowed: fewer seeds or points, or smaller run.chunk_logs")


def compile_run(kind: Kind, config: Any, data: Any, engine: Engine | None = None
                ) -> CompiledRun:
    """Compile init and one chunk (``jit(vmap(engine.run))``), check that they fit in memory
    (:func:`check_memory`, before anything is allocated), then initialise every run.

    ``compile_seconds`` covers init and compilation. ``chunk_fn`` is the jitted function the
    chunk was compiled from (for tracing it again, e.g. to count its FLOPs).
    """
    engine = engine or kind.make_engine(config)
    with precision(engine):
        return _compile(kind, config, data, engine)


def _compile(kind: Kind, config: Any, data: Any, engine: Engine) -> CompiledRun:
    """Points, the initial state of every run (sharded over devices) and the compiled chunk,
    checked against the memory the device has."""
    points = make_points(kind, config)
    seeds = config.run.seeds
    runs = len(points.labels) * seeds
    per_run, replicated = run_shardings(runs)
    keys = np.tile(np.asarray(seed_keys(config.run.seed, seeds)), (len(points.labels), 1))
    point_tree = jax.tree.map(lambda x: np.repeat(np.asarray(x), seeds, axis=0), points.tree)
    keys, point_tree = put_global(keys, per_run), put_global(point_tree, per_run)
    data = put_global(data, replicated)
    per_chunk = chunk_windows(engine.num_windows, config.run.chunk_logs)

    init = jax.jit(jax.vmap(engine.init, in_axes=(0, None, 0)), out_shardings=per_run)
    chunk_fn = jax.jit(
        jax.vmap(functools.partial(engine.run, num_windows=per_chunk), in_axes=(0, None, 0)),
        in_shardings=(per_run, replicated, per_run), out_shardings=per_run, donate_argnums=0)
    started = time.perf_counter()
    init_compiled = init.lower(keys, data, point_tree).compile()
    abstract = jax.eval_shape(init, keys, data, point_tree)
    compiled = chunk_fn.lower(abstract, data, point_tree).compile()
    check_memory(init_compiled, compiled, runs)
    state = init_compiled(keys, data, point_tree)
    return CompiledRun(state, data, point_tree, compiled, chunk_fn, engine, points, per_chunk,
                       engine.num_windows // per_chunk, time.perf_counter() - started)


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
    with precision(prepared.engine):
        return _run(config, prepared, checkpoint_dir, resume, progress, stop_after_chunks,
                    observer or Observer())


def _open_checkpoints(directory: Path) -> ocp.CheckpointManager:
    """Orbax's manager of a run's checkpoints (the last two kept, written synchronously)."""
    return ocp.CheckpointManager(
        Path(directory).absolute(),
        options=ocp.CheckpointManagerOptions(max_to_keep=2, enable_async_checkpointing=False))


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
    engine = prepared.engine
    points = prepared.points
    state, data, point_tree, compiled = (prepared.state, prepared.data, prepared.point_tree,
                                         prepared.chunk)
    n_points, seeds = len(points.labels), config.run.seeds
    per_chunk = prepared.windows_per_chunk
    steps_per_chunk = per_chunk * engine.steps_per_window
    all_steps = np.arange(1, engine.num_windows + 1) * engine.steps_per_window
    check_fn = jax.jit(jax.vmap(lambda s: _all_finite(engine.guard(s) if engine.guard else s)))
    finished_fn = jax.jit(jax.vmap(engine.finished)) if engine.finished else None
    final_fn = (jax.jit(jax.vmap(engine.final, in_axes=(0, None, 0))) if engine.final
                else None)

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
        state, metrics = compiled(state, data, point_tree)
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
        bar.update(steps_per_chunk)
        done = index + 1
        all_done = finished_fn is not None and bool(np.all(to_host(finished_fn(state))))
        last = done == prepared.num_chunks or all_done
        if manager is not None and (done % config.run.checkpoint_every == 0 or last):
            merged = _concat(history)
            history = [merged]
            manager.save(done, args=ocp.args.Composite(
                state=ocp.args.StandardSave(state), history=ocp.args.StandardSave(merged)))
            moved = observer.checkpoint(result(done, time.perf_counter() - started, last))
            if moved is not None:
                manager.wait_until_finished()
                manager.close()
                manager = _open_checkpoints(moved)
        if last or (stop_after_chunks is not None and done - start_chunk >= stop_after_chunks):
            break
    bar.close()
    if manager is not None:
        manager.wait_until_finished()
        manager.close()
    return result(done, time.perf_counter() - started, done == prepared.num_chunks or all_done)


def _concat(history: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Join chunks' metrics along the window axis (axis 1, after the run axis)."""
    if len(history) == 1:
        return history[0]
    return {k: np.concatenate([h[k] for h in history], axis=1) for k in history[0]}
