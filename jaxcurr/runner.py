"""Chunked execution of a curriculum run: one compiled chunk, progress, checkpoints, resume.

The run is ``num_windows`` logged windows; a chunk is ``chunk_windows`` of them, compiled once
(``jax.jit(jax.vmap(run_chunk))`` over seeds) and called repeatedly from Python, so the run can
show progress, keep metrics and checkpoint between chunks. Every ``run.checkpoint_every``
chunks the state of all seeds and the metrics so far are saved with orbax; ``resume`` restores
the latest checkpoint and continues with the same compiled chunk, which makes the resumed run
bit-identical to an uninterrupted one.

When several devices are visible (GPUs, TPU cores, or CPU devices forced with
``XLA_FLAGS=--xla_force_host_platform_device_count=N``), the seed axis of the state and the
metrics is sharded across them (a one-axis ``jax.sharding.Mesh``); the data is replicated.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np
import orbax.checkpoint as ocp
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from tqdm.auto import tqdm

from jaxcurr.config import Config, ConfigError
from jaxcurr.curricula.classifier import TaskData, make_engine


def chunk_windows(num_windows: int, requested: int) -> int:
    """The largest divisor of ``num_windows`` not above ``requested`` (so chunks tile the run)."""
    return max(d for d in range(1, min(num_windows, requested) + 1) if num_windows % d == 0)


def seed_shardings(seeds: int) -> tuple[NamedSharding, NamedSharding]:
    """Shardings that split the leading seed axis across all visible devices (and replicate
    the data). With one device both are trivial; with several, ``seeds`` must divide evenly."""
    devices = jax.devices()
    if seeds % len(devices):
        raise ConfigError(f"run.seeds: got {seeds}; allowed: a multiple of the {len(devices)} "
                          "visible devices, which the seeds are split across")
    mesh = Mesh(np.array(devices), ("seeds",))
    return NamedSharding(mesh, PartitionSpec("seeds")), NamedSharding(mesh, PartitionSpec())


def seed_keys(config: Config) -> jax.Array:
    """One PRNG key per seed, from ``run.seed``."""
    return jax.random.split(jax.random.PRNGKey(config.run.seed), config.run.seeds)


def put_global(tree: Any, sharding: NamedSharding) -> Any:
    """Place host values (the same on every process) as global arrays with ``sharding``.

    Each process fills only the shards of its own devices, so this works across hosts too.
    """
    def put(value):
        value = np.asarray(value)
        return jax.make_array_from_callback(value.shape, sharding, lambda index: value[index])

    return jax.tree.map(put, tree)


def to_host(tree: Any) -> Any:
    """Fetch global arrays as NumPy; across several processes, gather every process's shards."""
    if jax.process_count() == 1:
        return jax.device_get(tree)
    return multihost_utils.process_allgather(tree, tiled=True)


def _flatten(metrics: dict) -> dict[str, np.ndarray]:
    return {f"{method}/{name}": np.asarray(value)
            for method, values in metrics.items() for name, value in values.items()}


class RunResult(NamedTuple):
    """Metrics as ``{"method/metric": array [seeds, windows, ...]}`` and the run's timings."""

    metrics: dict[str, np.ndarray]
    compile_seconds: float
    run_seconds: float
    finished: bool


class CompiledRun(NamedTuple):
    """A run ready to go: the initial state of all seeds and its chunk, compiled once."""

    state: Any
    data: TaskData
    chunk: Any
    chunk_fn: Any
    steps_per_chunk: int
    num_chunks: int
    compile_seconds: float


def compile_run(config: Config, data: TaskData) -> CompiledRun:
    """Initialise every seed and compile one chunk (``jit(vmap(engine.run))``) for ``config``.

    ``compile_seconds`` covers init and compilation. ``chunk_fn`` is the jitted function the
    chunk was compiled from (for tracing it again, e.g. to count its FLOPs).
    """
    engine = make_engine(config)
    per_chunk = chunk_windows(engine.num_windows, config.run.chunk_logs)
    per_seed, replicated = seed_shardings(config.run.seeds)
    keys = put_global(seed_keys(config), per_seed)
    data = put_global(data, replicated)

    init = jax.jit(jax.vmap(engine.init, in_axes=(0, None)), out_shardings=per_seed)
    chunk_fn = jax.jit(
        jax.vmap(functools.partial(engine.run, num_windows=per_chunk), in_axes=(0, None)),
        in_shardings=(per_seed, replicated), out_shardings=per_seed, donate_argnums=0)

    started = time.perf_counter()
    state = init(keys, data)
    compiled = chunk_fn.lower(state, data).compile()
    return CompiledRun(state, data, compiled, chunk_fn, per_chunk * config.run.log_every,
                       engine.num_windows // per_chunk, time.perf_counter() - started)


def run(
    config: Config,
    data: TaskData,
    checkpoint_dir: Path | None = None,
    resume: bool = False,
    progress: bool = True,
    stop_after_chunks: int | None = None,
) -> RunResult:
    """Run all seeds of ``config`` in chunks; checkpoint to ``checkpoint_dir`` if given.

    ``stop_after_chunks`` ends the run early after that many chunks (after checkpointing), as
    an interruption would; ``resume`` continues from the latest checkpoint.
    """
    prepared = compile_run(config, data)
    state, data, compiled = prepared.state, prepared.data, prepared.chunk
    num_chunks, steps_per_chunk = prepared.num_chunks, prepared.steps_per_chunk
    compile_seconds = prepared.compile_seconds

    manager = None
    history: list[dict[str, np.ndarray]] = []
    start_chunk = 0
    if checkpoint_dir is not None:
        manager = ocp.CheckpointManager(
            Path(checkpoint_dir).absolute(),
            options=ocp.CheckpointManagerOptions(max_to_keep=2, enable_async_checkpointing=False))
        if resume and manager.latest_step() is not None:
            start_chunk = manager.latest_step()
            abstract = jax.tree_util.tree_map(ocp.utils.to_shape_dtype_struct, state)
            restored = manager.restore(start_chunk, args=ocp.args.Composite(
                state=ocp.args.StandardRestore(abstract),
                history=ocp.args.StandardRestore()))
            state = restored.state
            history = [{k: np.asarray(v) for k, v in restored.history.items()}]

    bar = tqdm(total=config.run.steps, initial=start_chunk * steps_per_chunk, unit="step",
               disable=not progress, desc=config.name, dynamic_ncols=True)
    started = time.perf_counter()
    done = start_chunk
    for index in range(start_chunk, num_chunks):
        state, metrics = compiled(state, data)
        history.append(_flatten(to_host(metrics)))
        bar.update(steps_per_chunk)
        done = index + 1
        if manager is not None and (done % config.run.checkpoint_every == 0
                                    or done == num_chunks):
            merged = _concat(history)
            history = [merged]
            manager.save(done, args=ocp.args.Composite(
                state=ocp.args.StandardSave(state), history=ocp.args.StandardSave(merged)))
        if stop_after_chunks is not None and done - start_chunk >= stop_after_chunks:
            break
    bar.close()
    if manager is not None:
        manager.wait_until_finished()
        manager.close()
    return RunResult(_concat(history), compile_seconds, time.perf_counter() - started,
                     finished=done == num_chunks)


def _concat(history: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Join chunks' metrics along the window axis (axis 1, after seeds)."""
    if len(history) == 1:
        return history[0]
    return {k: np.concatenate([h[k] for h in history], axis=1) for k in history[0]}
