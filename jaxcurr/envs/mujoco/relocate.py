"""gymnasium-robotics' ``AdroitHandRelocate-v1`` as a gymnax environment.

The environment of the gradient-norm teacher paper's positive result (Campbell & Yoon 2023;
docs/reference_facts.md §2, §3), read from gymnasium-robotics 1.4.2's
``envs/adroit_hand/adroit_relocate.py`` (the v1 code of 1.2.1 and later, the version the paper's
authors ran, 1.2.3, included) and run on its own model file
(``envs/assets/adroit_hand/adroit_relocate.xml``, loaded from the installed package):

* **Model**: the 24-DoF Shadow hand on a 6-DoF arm-free base (30 actuated joints) and a ball
  with 3 slide and 3 hinge joints: ``nq = nv = 36``; ``timestep 0.002``, ``frame_skip 5``. The
  env rewrites the actuators' gains at load: the wrist and base position servos
  (``A_WRJ1`` .. ``A_WRJ0``) get ``gainprm[:3] = (10, 0, 0)``, ``biasprm[:3] = (0, -10, 0)``; the
  finger servos (``A_FFJ3`` .. ``A_THJ0``) ``(1, 0, 0)`` and ``(0, -1, 0)`` (:func:`load_model`).
* **Action** in ``[-1, 1]^30``, clipped, then ``ctrl = mean + a * half_range`` of
  ``actuator_ctrlrange`` (:mod:`jaxcurr.envs.mujoco.physics`).
* **Observation** (39): ``[qpos[:30], palm - obj, palm - target, obj - target]`` with ``palm``
  the ``S_grasp`` site, ``obj`` the ``Object`` body's position, ``target`` the ``target`` site.
* **Reward** (``dense``), with ``d = |obj - target|``:
  ``0.1 |palm - obj|`` (positive, as gymnasium-robotics 1.2.1-1.4.2 writes it; the original
  D4RL code had ``-0.1``, restored only in ``-v2``), plus, when ``obj_z > 0.04`` (lifted),
  ``1 - 0.5 |palm - target| - 0.5 d``; plus 10 if ``d < 0.1`` and 20 more if ``d < 0.05``.
  ``sparse``: 10 if ``d < 0.1`` else -0.1. ``info["success"] = d < 0.1``. Never terminated;
  truncated after 200 steps (the registration's ``max_episode_steps``).
* **Reset** (``reset_model``): the ball's body position ``x ~ U(-0.15, 0.15)``,
  ``y ~ U(-0.15, 0.3)`` (z stays 0.035), the target site ``x, y ~ U(-0.2, 0.2)``,
  ``z ~ U(0.15, 0.35)``; ``qpos = qpos0``, ``qvel = 0``. :func:`reset_to` is the teacher's hook:
  given ball and target positions inside those ranges (and optionally hand joint offsets and
  velocities), as the authors' ``set_env_state`` reset does.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from gymnax.environments import environment, spaces

from jaxcurr.envs.mujoco import physics as mj

ENV_ID = "AdroitHandRelocate-v1"
FRAME_SKIP = 5
MAX_EPISODE_STEPS = 200
OBS_SIZE = 39
HAND_DOF = 30
REWARD_TYPES = ("dense", "sparse")
SUCCESS_DISTANCE = 0.1
LIFT_HEIGHT = 0.04
# gymnasium-robotics' reset ranges: ball body (x, y), target site (x, y, z)
OBJECT_LOW, OBJECT_HIGH = (-0.15, -0.15), (0.15, 0.3)
OBJECT_Z = 0.035  # the ball body's height (the model's; reset leaves it)
TARGET_LOW, TARGET_HIGH = (-0.2, -0.2, 0.15), (0.2, 0.2, 0.35)
_SERVO_GAINS = (("A_WRJ1", "A_WRJ0", 10.0), ("A_FFJ3", "A_THJ0", 1.0))


@functools.cache
def load_model() -> Any:
    """The Relocate ``MjModel`` from gymnasium-robotics' asset, with the env's gain rewrite."""
    mujoco = mj.require_mujoco(f"{ENV_ID}")
    path = mj.asset_path("adroit_hand", "adroit_relocate.xml")
    model = mujoco.MjModel.from_xml_path(str(path))
    for first, last, gain in _SERVO_GAINS:
        a = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_ACTUATOR, first)
        b = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_ACTUATOR, last) + 1
        model.actuator_gainprm[a:b, :3] = (gain, 0.0, 0.0)
        model.actuator_biasprm[a:b, :3] = (0.0, -gain, 0.0)
    return model


def hand_joint_ranges() -> tuple[np.ndarray, np.ndarray]:
    """float64 ``(low, high)`` joint limits of the 30 hand joints (all limited)."""
    low, high = load_model().jnt_range[:HAND_DOF].T
    return low.copy(), high.copy()


class _Ids(NamedTuple):
    object_body: int
    palm_site: int
    target_site: int


@functools.cache
def _ids() -> _Ids:
    mujoco = mj.require_mujoco(ENV_ID)
    model = load_model()
    body = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, "Object")
    return _Ids(body,
                mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, "S_grasp"),
                mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, "target"))


@functools.cache
def make_relocate_physics(kind: str) -> mj.HostPhysics | mj.MjxPhysics:
    """The Relocate model on physics path ``kind``; readings ``qpos``, ball, palm, target."""
    ids = _ids()
    spec = mj.make_spec(
        load_model(), FRAME_SKIP,
        readings=(mj.Reading("qpos"), mj.Reading("xpos", ids.object_body),
                  mj.Reading("site_xpos", ids.palm_site),
                  mj.Reading("site_xpos", ids.target_site)),
        overrides=(mj.Override("body_pos", ids.object_body, (0, 1)),
                   mj.Override("site_pos", ids.target_site)))
    return mj.make_physics(spec, kind)


@struct.dataclass
class EnvParams(environment.EnvParams):
    """``max_steps_in_episode`` (200); ``reward_type`` ``"dense"`` or ``"sparse"`` (static)."""

    max_steps_in_episode: int = MAX_EPISODE_STEPS
    reward_type: str = struct.field(pytree_node=False, default="dense")

    def __post_init__(self):
        if self.reward_type not in REWARD_TYPES:
            raise ValueError(f"reward_type must be one of {REWARD_TYPES}, got "
                             f"{self.reward_type!r}")


@struct.dataclass
class EnvState(environment.EnvState):
    """``physics``: the physics path's state; ``object_pos`` (x, y) / ``target_pos`` (x, y, z):
    this episode's ball body and target site positions (model fields); the last readings
    ``qpos``, ``obj``, ``palm``, ``target``; ``warnings``: MuJoCo warnings so far this episode
    (host path)."""

    physics: Any
    object_pos: jax.Array
    target_pos: jax.Array
    qpos: jax.Array
    obj: jax.Array
    palm: jax.Array
    target: jax.Array
    warnings: jax.Array


def observation(state: EnvState) -> jax.Array:
    """``[qpos[:30], palm - obj, palm - target, obj - target]`` (39)."""
    return jnp.concatenate([state.qpos[..., :HAND_DOF], state.palm - state.obj,
                            state.palm - state.target, state.obj - state.target], axis=-1)


def reward_and_success(state: EnvState, reward_type: str) -> tuple[jax.Array, jax.Array]:
    """gymnasium-robotics' v1 Relocate reward (module docstring) and ``d < 0.1``."""
    distance = jnp.linalg.norm(state.obj - state.target)
    success = distance < SUCCESS_DISTANCE
    if reward_type == "sparse":
        return jnp.where(success, 10.0, -0.1), success
    lifted = state.obj[2] > LIFT_HEIGHT
    reward = 0.1 * jnp.linalg.norm(state.palm - state.obj)
    reward += jnp.where(lifted, 1.0 - 0.5 * jnp.linalg.norm(state.palm - state.target)
                        - 0.5 * distance, 0.0)
    reward += jnp.where(success, 10.0, 0.0) + jnp.where(distance < 0.05, 20.0, 0.0)
    return reward, success


def _check_range(field: str, value: Any, low: tuple, high: tuple) -> None:
    if isinstance(value, jax.core.Tracer):
        return
    value = np.asarray(value)
    if value.shape != (len(low),) or not np.all((value >= low) & (value <= high)):
        raise ValueError(f"{field} must be {len(low)} numbers within [{low}, {high}] "
                         f"(the environment's reset range), got {value.tolist()}")


class AdroitRelocate(environment.Environment[EnvState, EnvParams]):
    """``AdroitHandRelocate-v1`` (module docstring) with the gymnax 1.x API.

    Args:
      physics: ``"host"`` (MuJoCo's C engine through a callback), ``"mjx"`` (traced), or None
        for the backend's default (host on CPU, MJX on accelerators).
      reward_type: ``"dense"`` or ``"sparse"``.
    """

    def __init__(self, physics: str | None = None, reward_type: str = "dense"):
        super().__init__()
        self.physics_kind = mj.check_physics(physics)
        self._default_params = EnvParams(reward_type=reward_type)
        self.physics = make_relocate_physics(self.physics_kind)

    @property
    def default_params(self) -> EnvParams:
        return self._default_params

    def _state(self, stepped: mj.Stepped, time: jax.Array, object_pos: jax.Array,
               target_pos: jax.Array, warnings: jax.Array) -> EnvState:
        qpos, obj, palm, target = stepped.readings
        return EnvState(time=time, physics=stepped.state, object_pos=object_pos,
                        target_pos=target_pos, qpos=qpos, obj=obj, palm=palm, target=target,
                        warnings=warnings + stepped.warnings)

    def reset_to(self, key: jax.Array, params: EnvParams, object_xy: jax.Array,
                 target_xyz: jax.Array, hand_dq: jax.Array | None = None,
                 hand_qvel: jax.Array | None = None) -> tuple[jax.Array, EnvState]:
        """Reset with the ball body at ``(x, y, 0.035)`` and the target site at ``target_xyz``
        (both within the reset ranges, checked when concrete); the hand at
        ``qpos0 + hand_dq`` with velocity ``hand_qvel`` (zeros by default; the ball's joints
        start at 0). ``key`` is unused (the reset is deterministic given the start)."""
        del key
        _check_range("object_xy", object_xy, OBJECT_LOW, OBJECT_HIGH)
        _check_range("target_xyz", target_xyz, TARGET_LOW, TARGET_HIGH)
        dtype = jnp.result_type(float)
        nq = 36
        dq = jnp.zeros(nq, dtype)
        qvel = jnp.zeros(nq, dtype)
        if hand_dq is not None:
            dq = dq.at[:HAND_DOF].set(hand_dq)
        if hand_qvel is not None:
            qvel = qvel.at[:HAND_DOF].set(hand_qvel)
        object_pos = jnp.asarray(object_xy, dtype)
        target_pos = jnp.asarray(target_xyz, dtype)
        stepped = self.physics.reset(dq, qvel, (object_pos, target_pos))
        state = self._state(stepped, jnp.array(0, jnp.int32), object_pos, target_pos,
                            jnp.zeros([], jnp.int32))
        return observation(state), state

    def reset_env(self, key: jax.Array, params: EnvParams) -> tuple[jax.Array, EnvState]:
        key_object, key_target = jax.random.split(key)
        dtype = jnp.result_type(float)
        object_xy = jax.random.uniform(key_object, (2,), dtype, jnp.array(OBJECT_LOW),
                                       jnp.array(OBJECT_HIGH))
        target_xyz = jax.random.uniform(key_target, (3,), dtype, jnp.array(TARGET_LOW),
                                        jnp.array(TARGET_HIGH))
        return self.reset_to(key, params, object_xy, target_xyz)

    def step_env(self, key: jax.Array, state: EnvState, action: jax.Array, params: EnvParams
                 ) -> tuple[jax.Array, EnvState, jax.Array, jax.Array, dict[Any, Any]]:
        stepped = self.physics.step(state.physics, action, (state.object_pos, state.target_pos))
        new = self._state(stepped, state.time + 1, state.object_pos, state.target_pos,
                          state.warnings)
        reward, success = reward_and_success(new, params.reward_type)
        info = {"success": success, "warnings": stepped.warnings}
        return observation(new), new, reward, self.is_terminated(new, params), info

    def get_obs(self, state: EnvState, params: EnvParams | None = None, key=None) -> jax.Array:
        return observation(state)

    def is_terminated(self, state: EnvState, params: EnvParams) -> jax.Array:
        return jnp.array(False)

    @property
    def name(self) -> str:
        return ENV_ID

    @property
    def num_actions(self) -> int:
        return HAND_DOF

    def action_space(self, params: EnvParams | None = None) -> spaces.Box:
        return spaces.Box(-1.0, 1.0, (HAND_DOF,), jnp.float32)

    def observation_space(self, params: EnvParams | None = None) -> spaces.Box:
        return spaces.Box(-jnp.inf, jnp.inf, (OBS_SIZE,), jnp.float32)
