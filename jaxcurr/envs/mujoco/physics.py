"""MuJoCo physics inside a compiled JAX program, two ways behind one interface.

* ``"host"`` (:class:`HostPhysics`): MuJoCo's C engine (the ``mujoco`` Python bindings) called
  through ``jax.pure_callback`` with ``vmap_method="broadcast_all"``, so one Python call steps
  every run of a vmapped program (a loop over one ``MjData``). The engine's whole integration
  state (``mj_getState(..., mjSTATE_INTEGRATION)``: time, qpos, qvel, act, the solver's warm
  start, mocap, ctrl) is carried by JAX as the bits of its float64 values (a uint32 array twice
  as long), so the callback is a pure function: a state steps exactly as MuJoCo steps its own
  ``MjData``, bit for bit, and a checkpoint restores it exactly. The fast path on a CPU.
* ``"mjx"`` (:class:`MjxPhysics`): MuJoCo XLA (``mujoco.mjx``), the same model traced into the
  program: the path for accelerators. It computes in the default float dtype (float32) and
  differs from the C engine in solver details (no noslip iterations, float32 contacts), so
  trajectories agree closely at first and drift apart over an episode (the fixture tests
  measure the growth).

Both take a control in ``[-1, 1]`` and apply gymnasium's ``MujocoEnv`` conventions:
``ctrl = ctrl_mean + clip(a, -1, 1) * ctrl_scale`` (the host path in float64), then
``frame_skip`` calls of ``mj_step``. Readings (:class:`Reading`: ``qpos``, a body's ``xpos``, a
site's ``site_xpos``) are taken after the last ``mj_step``, as gymnasium's ``_get_obs`` reads
them. Per-episode model fields (gymnasium-robotics moves a body or a site by writing
``model.body_pos``/``model.site_pos`` at reset) are :class:`Override`\\ s, given at every call.
A reset is ``mj_resetData``, then ``qpos = qpos0 + dq``, ``qvel``, ``mj_forward`` (gymnasium's
``set_state``). The host path also counts MuJoCo's warnings (e.g. ``mjWARN_BADQACC``) per call
and sends their text to the ``jaxcurr.envs.mujoco`` logger (instead of MuJoCo's default, a
``MUJOCO_LOG.TXT`` in the working directory; a handler the user installed is kept); MJX has no
warnings (its count is 0; a non-finite state is caught by the runner's guard).
"""

from __future__ import annotations

import copy
import importlib.util
import logging
import pathlib
import threading
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxcurr.core.validation import ConfigError

PHYSICS = ("host", "mjx")
# mjx.Data fields a step reads that no step recomputes: the MJX path's state
MJX_CARRIED = ("time", "qpos", "qvel", "act", "qacc_warmstart")
READING_FIELDS = ("qpos", "qvel", "xpos", "site_xpos")
OVERRIDE_FIELDS = ("body_pos", "site_pos")


LOGGER = logging.getLogger("jaxcurr.envs.mujoco")


def _log_warning(text: str) -> None:
    LOGGER.warning("MuJoCo: %s", text)


def require_mujoco(what: str = "env.physics = 'host'") -> Any:
    """The ``mujoco`` module, or one clear error line saying how to install it."""
    try:
        import mujoco
    except ImportError:
        raise ConfigError(f"{what} needs MuJoCo, which is not installed: "
                         f"pip install 'jaxcurr[mujoco]'") from None
    return mujoco


def asset_path(*parts: str) -> pathlib.Path:
    """A model file of the installed gymnasium-robotics (``envs/assets/...``), found without
    importing the package (its import registers every env and prints deprecation notes)."""
    spec = importlib.util.find_spec("gymnasium_robotics")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("the MuJoCo environments read their models from gymnasium-robotics, "
                         "which is not installed: pip install 'jaxcurr[mujoco]'")
    path = pathlib.Path(spec.submodule_search_locations[0], "envs", "assets", *parts)
    if not path.is_file():
        raise ConfigError(f"gymnasium-robotics has no model file {path} (jaxcurr reads "
                         f"gymnasium-robotics 1.4.2's assets)")
    return path


def default_physics() -> str:
    """``"host"`` on a CPU backend, ``"mjx"`` on an accelerator."""
    return "host" if jax.default_backend() == "cpu" else "mjx"


def check_physics(name: str | None) -> str:
    """``name`` (or the backend's default for None) if it is one of :data:`PHYSICS`."""
    if name is None:
        return default_physics()
    if name not in PHYSICS:
        raise ValueError(f"env.physics must be one of {PHYSICS}, got {name!r}")
    return name


class Reading(NamedTuple):
    """A quantity read after a step: ``field`` in :data:`READING_FIELDS`; ``index`` the body or
    site id for ``xpos``/``site_xpos`` (``None`` for ``qpos``/``qvel``)."""

    field: str
    index: int | None = None


class Override(NamedTuple):
    """A model field set per episode: ``field`` in :data:`OVERRIDE_FIELDS`, ``index`` its id,
    ``components`` which of its 3 components (the others keep the model's float64 values)."""

    field: str
    index: int
    components: tuple[int, ...] = (0, 1, 2)


def _reading_size(model: Any, reading: Reading) -> int:
    return {"qpos": model.nq, "qvel": model.nv}.get(reading.field, 3)


class _Spec(NamedTuple):
    model: Any  # mujoco.MjModel
    frame_skip: int
    ctrl_mean: np.ndarray
    ctrl_scale: np.ndarray
    readings: tuple[Reading, ...]
    overrides: tuple[Override, ...]


def make_spec(model: Any, frame_skip: int, readings: tuple[Reading, ...],
              overrides: tuple[Override, ...] = ()) -> _Spec:
    """Checked physics settings; ``ctrl`` maps ``[-1, 1]`` onto ``actuator_ctrlrange``."""
    for r in readings:
        if r.field not in READING_FIELDS:
            raise ValueError(f"reading field must be one of {READING_FIELDS}, got {r.field!r}")
    for o in overrides:
        if o.field not in OVERRIDE_FIELDS:
            raise ValueError(f"override field must be one of {OVERRIDE_FIELDS}, got {o.field!r}")
    low, high = np.asarray(model.actuator_ctrlrange, np.float64).T
    return _Spec(model, int(frame_skip), (low + high) / 2, (high - low) / 2, tuple(readings),
                 tuple(overrides))


class Stepped(NamedTuple):
    """What a reset or a step gives back: the physics state (host: uint32 bits of the float64
    integration state; mjx: a dict of the :data:`MJX_CARRIED` fields of ``mjx.Data``), the
    readings in the spec's order (default float dtype) and the number of MuJoCo warnings raised
    (int32)."""

    state: Any
    readings: tuple[jax.Array, ...]
    warnings: jax.Array


class HostPhysics:
    """MuJoCo's C engine through ``jax.pure_callback`` (module docstring)."""

    kind = "host"

    def __init__(self, spec: _Spec):
        mujoco = require_mujoco()
        if mujoco.get_mju_user_warning() is None:
            mujoco.set_mju_user_warning(_log_warning)
        self._mujoco = mujoco
        self._spec = spec._replace(model=copy.deepcopy(spec.model))
        self._data = mujoco.MjData(self._spec.model)
        self._signature = int(mujoco.mjtState.mjSTATE_INTEGRATION)
        self._size = mujoco.mj_stateSize(self._spec.model, self._signature)
        self._buffer = np.zeros(self._size, np.float64)
        self._lock = threading.Lock()

    # -- host side (NumPy) ----------------------------------------------------------------
    def _apply_overrides(self, values: list[np.ndarray], i: int) -> None:
        model = self._spec.model
        for override, value in zip(self._spec.overrides, values, strict=True):
            getattr(model, override.field)[override.index, list(override.components)] = value[i]

    def _read(self, out: list[np.ndarray], i: int) -> None:
        data = self._data
        for reading, target in zip(self._spec.readings, out, strict=True):
            source = getattr(data, reading.field)
            target[i] = source if reading.index is None else source[reading.index]

    def _finish(self, states: np.ndarray, readings: list[np.ndarray], warnings: np.ndarray,
                i: int) -> None:
        mujoco = self._mujoco
        mujoco.mj_getState(self._spec.model, self._data, self._buffer, self._signature)
        states[i] = self._buffer.view(np.uint32)
        self._read(readings, i)
        warnings[i] = int(self._data.warning.number.sum())

    def _outputs(self, n: int) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
        model = self._spec.model
        return (np.zeros((n, 2 * self._size), np.uint32),
                [np.zeros((n, _reading_size(model, r)), np.float64) for r in self._spec.readings],
                np.zeros(n, np.int32))

    def _pack(self, batch: tuple[int, ...], states, readings, warnings) -> tuple:
        dtype = jnp.result_type(float)
        return (states.reshape(*batch, -1),
                tuple(r.reshape(*batch, -1).astype(dtype) for r in readings),
                warnings.reshape(batch))

    def _reset_host(self, dq, qvel, *overrides):
        mujoco, model, data = self._mujoco, self._spec.model, self._data
        dq, qvel = np.asarray(dq, np.float64), np.asarray(qvel, np.float64)
        batch = dq.shape[:-1]
        dq, qvel = dq.reshape(-1, model.nq), qvel.reshape(-1, model.nv)
        overrides = [np.asarray(v, np.float64).reshape(dq.shape[0], -1) for v in overrides]
        states, readings, warnings = self._outputs(dq.shape[0])
        with self._lock:
            for i in range(dq.shape[0]):
                self._apply_overrides(overrides, i)
                mujoco.mj_resetData(model, data)
                data.qpos[:] = model.qpos0 + dq[i]
                data.qvel[:] = qvel[i]
                mujoco.mj_forward(model, data)
                self._finish(states, readings, warnings, i)
        return self._pack(batch, states, readings, warnings)

    def _step_host(self, states_in, action, *overrides):
        mujoco, spec, data = self._mujoco, self._spec, self._data
        batch = np.shape(action)[:-1]
        states_in = np.ascontiguousarray(np.asarray(states_in).reshape(-1, 2 * self._size))
        action = np.asarray(action, np.float64).reshape(states_in.shape[0], -1)
        overrides = [np.asarray(v, np.float64).reshape(states_in.shape[0], -1)
                     for v in overrides]
        states, readings, warnings = self._outputs(states_in.shape[0])
        with self._lock:
            for i in range(states_in.shape[0]):
                self._apply_overrides(overrides, i)
                mujoco.mj_setState(spec.model, data, states_in[i].view(np.float64),
                                   self._signature)
                data.ctrl[:] = spec.ctrl_mean + np.clip(action[i], -1.0, 1.0) * spec.ctrl_scale
                data.warning.number[:] = 0
                mujoco.mj_step(spec.model, data, nstep=spec.frame_skip)
                self._finish(states, readings, warnings, i)
        return self._pack(batch, states, readings, warnings)

    # -- JAX side -------------------------------------------------------------------------
    def _result_shapes(self, batch: tuple[int, ...]):
        dtype = jnp.result_type(float)
        model = self._spec.model
        return (jax.ShapeDtypeStruct((*batch, 2 * self._size), jnp.uint32),
                tuple(jax.ShapeDtypeStruct((*batch, _reading_size(model, r)), dtype)
                      for r in self._spec.readings),
                jax.ShapeDtypeStruct(batch, jnp.int32))

    def reset(self, dq: jax.Array, qvel: jax.Array, overrides: tuple[jax.Array, ...]) -> Stepped:
        """``mj_resetData``; ``qpos = qpos0 + dq``, ``qvel``; ``mj_forward``."""
        out = jax.pure_callback(self._reset_host, self._result_shapes(()), dq, qvel,
                                *overrides, vmap_method="broadcast_all")
        return Stepped(*out)

    def step(self, state: jax.Array, action: jax.Array,
             overrides: tuple[jax.Array, ...]) -> Stepped:
        """``frame_skip`` ``mj_step`` calls with the scaled, clipped action."""
        out = jax.pure_callback(self._step_host, self._result_shapes(()), state, action,
                                *overrides, vmap_method="broadcast_all")
        return Stepped(*out)

    def qpos_qvel(self, state: jax.Array) -> tuple[np.ndarray, np.ndarray]:
        """float64 ``(qpos, qvel)`` decoded from host state bits (on the host, for tests)."""
        flat = np.asarray(state).reshape(-1, 2 * self._size)
        values = np.ascontiguousarray(flat).view(np.float64)
        model = self._spec.model
        # mjSTATE_INTEGRATION starts with time, then qpos, qvel
        qpos = values[:, 1:1 + model.nq]
        qvel = values[:, 1 + model.nq:1 + model.nq + model.nv]
        shape = np.shape(state)[:-1]
        return qpos.reshape(*shape, -1), qvel.reshape(*shape, -1)


class MjxPhysics:
    """MuJoCo XLA (module docstring): the step is traced into the program."""

    kind = "mjx"

    def __init__(self, spec: _Spec):
        require_mujoco("env.physics = 'mjx'")
        try:
            from mujoco import mjx
        except ImportError as error:
            raise ConfigError(f"env.physics = 'mjx' needs mujoco-mjx, which the 'mujoco' extra "
                              f"installs ({error}): pip install 'jaxcurr[mujoco]'") from None
        try:
            self._model = mjx.put_model(spec.model, impl="jax")
        except Exception as error:  # noqa: BLE001 - any failure is one line for the user
            raise ConfigError(f"env.physics = 'mjx': the model does not load in MJX "
                             f"({type(error).__name__}: {error})") from None
        self._mjx = mjx
        self._spec = spec
        dtype = jnp.result_type(float)
        self._qpos0 = jnp.asarray(spec.model.qpos0, dtype)
        self._ctrl_mean = jnp.asarray(spec.ctrl_mean, dtype)
        self._ctrl_scale = jnp.asarray(spec.ctrl_scale, dtype)

    def _model_with(self, overrides: tuple[jax.Array, ...]) -> Any:
        model = self._model
        for override, value in zip(self._spec.overrides, overrides, strict=True):
            field = getattr(model, override.field)
            field = field.at[override.index, jnp.array(override.components)].set(value)
            model = model.replace(**{override.field: field})
        return model

    def _readings(self, data: Any) -> tuple[jax.Array, ...]:
        out = []
        for reading in self._spec.readings:
            value = getattr(data, reading.field)
            out.append(value if reading.index is None else value[reading.index])
        return tuple(out)

    def _carried(self, data: Any) -> dict[str, jax.Array]:
        """The fields that carry over from one step to the next (the rest of ``mjx.Data`` is
        recomputed by every step), without zero-size ones (e.g. ``act`` of a model without
        activations), which checkpoints cannot hold."""
        return {name: getattr(data, name) for name in MJX_CARRIED
                if getattr(data, name).size > 0}

    def _data(self, model: Any, carried: dict[str, jax.Array]) -> Any:
        return self._mjx.make_data(model, impl="jax").replace(**carried)

    def reset(self, dq: jax.Array, qvel: jax.Array, overrides: tuple[jax.Array, ...]) -> Stepped:
        """``qpos = qpos0 + dq``, ``qvel``, then ``mjx.forward``."""
        model = self._model_with(overrides)
        data = self._data(model, {"qpos": self._qpos0 + dq,
                                  "qvel": jnp.asarray(qvel, self._qpos0.dtype)})
        data = self._mjx.forward(model, data)
        return Stepped(self._carried(data), self._readings(data), jnp.zeros([], jnp.int32))

    def step(self, state: dict[str, jax.Array], action: jax.Array,
             overrides: tuple[jax.Array, ...]) -> Stepped:
        """``frame_skip`` ``mjx.step`` calls with the scaled, clipped action."""
        model = self._model_with(overrides)
        ctrl = self._ctrl_mean + jnp.clip(action, -1.0, 1.0) * self._ctrl_scale
        data = self._data(model, state)
        data = data.replace(ctrl=ctrl.astype(data.ctrl.dtype))
        data = jax.lax.fori_loop(0, self._spec.frame_skip,
                                 lambda _, d: self._mjx.step(model, d), data)
        return Stepped(self._carried(data), self._readings(data), jnp.zeros([], jnp.int32))


def make_physics(spec: _Spec, kind: str | None = None) -> HostPhysics | MjxPhysics:
    """The physics path ``kind`` (``"host"``, ``"mjx"``; None: the backend's default)."""
    kind = check_physics(kind)
    return HostPhysics(spec) if kind == "host" else MjxPhysics(spec)
