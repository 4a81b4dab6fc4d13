"""From a configuration to a compiled program over all its runs, placed on the devices.

A run is every (point, seed) pair of an experiment (points: the kind's variants x the values of
swept hyperparameters, :mod:`jaxcurr.core.engine`), flattened into one run axis ``r = p * seeds
+ s`` and vmapped. Init and a chunk of ``run.chunk_logs`` windows are compiled once
(``jax.jit(jax.vmap(engine.run))``) and checked against the device's memory with XLA's own
analysis before anything is allocated; a program this process compiled before for the same
configuration is reused (:mod:`jaxcurr.run.programs`).

When several devices are visible (GPUs, TPU cores, or CPU devices forced with
``XLA_FLAGS=--xla_force_host_platform_device_count=N``), the run axis is sharded across them (a
one-axis ``jax.sharding.Mesh``); the data is replicated. Across hosts (``jax.distributed``)
each process fills its own devices' shards.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxcurr.core.engine import Engine, Kind
from jaxcurr.core.validation import ConfigError
from jaxcurr.run import programs


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


class Program(NamedTuple):
    """A configuration's compiled functions over the run axis (kept for reuse within the
    process by :mod:`jaxcurr.run.programs`): init and one chunk compiled, the helpers jitted."""

    engine: Engine
    init: Any
    chunk: Any
    chunk_fn: Any
    check: Callable
    finished: Callable | None
    final: Callable | None
    windows_per_chunk: int


class CompiledRun(NamedTuple):
    """A run ready to go: the initial state of all runs and its chunk, compiled once."""

    state: Any
    data: Any
    point_tree: Any
    program: Program
    points: Points
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


def check_state_size(abstract: Any, runs: int) -> None:
    """Before compiling: refuse a state whose shapes (``jax.eval_shape`` of init) alone need
    more memory than there is, with the numbers (sizes XLA could not even represent, such as a
    layer of 4e9 units, end here instead of aborting in its shape checks)."""
    have = available_bytes()
    need = sum(math.prod(x.shape) * np.dtype(x.dtype).itemsize
               for x in jax.tree.leaves(abstract))
    if have is not None and need > 0.9 * have:
        gib = 2.0**30
        biggest = max(jax.tree.leaves(abstract), key=lambda x: math.prod(x.shape))
        raise ConfigError(
            f"run.seeds: {runs} runs (points x seeds) need about {need / gib:.3g} GiB for "
            f"their state alone (its shapes before compiling; largest array "
            f"{tuple(biggest.shape)} {biggest.dtype}) but {have / gib:.1f} GiB are available; "
            "allowed: fewer seeds or points, or smaller networks and buffers")


def compile_run(kind: Kind, config: Any, data: Any, engine: Engine | None = None
                ) -> CompiledRun:
    """Compile init and one chunk (``jit(vmap(engine.run))``), check that they fit in memory
    (:func:`check_memory`, before anything is allocated), then initialise every run.

    A program this process compiled for the same configuration and data shapes is reused
    (:mod:`jaxcurr.run.programs`; not when ``engine`` is given). ``compile_seconds`` covers
    init and compilation. ``chunk_fn`` is the jitted function the chunk was compiled from (for
    tracing it again, e.g. to count its FLOPs).
    """
    key = programs.program_key(kind.name, config, data) if engine is None else None
    kept = programs.lookup(key)
    engine = kept.engine if kept is not None else engine or kind.make_engine(config)
    with precision(engine):
        prepared = _compile(kind, config, data, engine, kept)
    if kept is None:
        programs.keep(key, prepared.program)
    return prepared


def _compile(kind: Kind, config: Any, data: Any, engine: Engine, kept: Program | None
             ) -> CompiledRun:
    """Points, the initial state of every run (sharded over devices) and the compiled chunk
    (``kept`` if given), checked against the memory the device has."""
    points = make_points(kind, config)
    seeds = config.run.seeds
    runs = len(points.labels) * seeds
    per_run, replicated = run_shardings(runs)
    keys = np.tile(np.asarray(seed_keys(config.run.seed, seeds)), (len(points.labels), 1))
    point_tree = jax.tree.map(lambda x: np.repeat(np.asarray(x), seeds, axis=0), points.tree)
    keys, point_tree = put_global(keys, per_run), put_global(point_tree, per_run)
    data = put_global(data, replicated)
    started = time.perf_counter()
    if kept is None:
        init = jax.jit(jax.vmap(engine.init, in_axes=(0, None, 0)), out_shardings=per_run)
        check_state_size(jax.eval_shape(init, keys, data, point_tree), runs)
    program = kept or _build(engine, keys, data, point_tree, per_run, replicated,
                             chunk_windows(engine.num_windows, config.run.chunk_logs))
    check_memory(program.init, program.chunk, runs)
    state = program.init(keys, data, point_tree)
    return CompiledRun(state, data, point_tree, program, points,
                       engine.num_windows // program.windows_per_chunk,
                       time.perf_counter() - started)


def _build(engine: Engine, keys: Any, data: Any, point_tree: Any, per_run: NamedSharding,
           replicated: NamedSharding, per_chunk: int) -> Program:
    """Compile init and a chunk of ``per_chunk`` windows; jit the state check, the finished
    test and the final arrays."""
    init = jax.jit(jax.vmap(engine.init, in_axes=(0, None, 0)), out_shardings=per_run)
    chunk_fn = jax.jit(
        jax.vmap(functools.partial(engine.run, num_windows=per_chunk), in_axes=(0, None, 0)),
        in_shardings=(per_run, replicated, per_run), out_shardings=per_run, donate_argnums=0)
    init_compiled = init.lower(keys, data, point_tree).compile()
    abstract = jax.eval_shape(init, keys, data, point_tree)
    compiled = chunk_fn.lower(abstract, data, point_tree).compile()
    check = jax.jit(jax.vmap(lambda s: _all_finite(engine.guard(s) if engine.guard else s)))
    finished = jax.jit(jax.vmap(engine.finished)) if engine.finished else None
    final = (jax.jit(jax.vmap(engine.final, in_axes=(0, None, 0))) if engine.final
             else None)
    return Program(engine, init_compiled, compiled, chunk_fn, check, finished, final,
                   per_chunk)
