"""One MuJoCo step of gymnasium-robotics' PointMaze ball, written by hand in JAX.

The model is ``gymnasium_robotics/envs/assets/point/point.xml`` plus the wall boxes that
``Maze.make_maze`` (``envs/maze/maze_v4.py``) adds (docs/reference_facts.md §3): a sphere of
radius 0.1 and density 1000 on two slide joints (x, y) with damping 1, motors of gear 100 with
``ctrlrange`` ``[-1, 1]``, no gravity, ``timestep`` 0.01, the Euler integrator, and one
``1 x 1`` box per wall cell. Every formula below is read from MuJoCo's C source
(``src/engine`` at tag 3.0.1 and on the main branch, 3.12.1-dev); the file and function are
named where the formula is used.

Free motion (no wall within the contact margin) is the closed form of docs/reference_facts.md
§3; with walls MuJoCo's soft contact model is reproduced exactly:

* **Contacts** (``engine_collision_box.c``, ``mjraw_SphereBox``): for a wall box with centre
  ``b`` and half-size 0.5, ``p = q - b``, ``c = clip(p, -0.5, 0.5)``, ``dist = |c - p| - r``
  and normal ``n = (c - p) / |c - p|`` (ball towards box). The ball's centre lies in the boxes'
  bottom face plane (``z = 0``), so the z-components vanish exactly. A contact is kept when
  ``dist < margin`` (``mj_collideGeoms``, ``mj_setContact``). All geoms have ``condim = 1``
  (point.xml's default class), so every contact is one frictionless row and no friction cone
  is needed. The ball also touches the ground plane (``dist = 0``), but that row's Jacobian is
  zero (no z joint), so it exerts no force and is left out.
* **Contact margin** (``engine_collision_driver.c``): MuJoCo 3.0.1 takes the larger of the two
  geoms' margins, ``max(0.002, 0.002) = 0.002``; later versions add them, ``0.004``.
* **Constraint row** (``engine_core_constraint.c``): ``J = -n`` (``mj_instantiateContact``,
  ``J = frame . (J_world - J_ball)``), ``vel = J v``, and ``mj_makeImpedance`` with the default
  ``solref = (0.02, 1)`` and ``solimp = (0.9, 0.95, 0.001, 0.5, 2)``:
  ``x = |dist - margin| / 0.001``; ``y = 2 x^2`` (``x <= 0.5``), ``1 - 2 (1 - x)^2`` (else);
  ``imp = 0.9 + 0.05 y`` (``0.95`` for ``x >= 1``);
  ``R = (1 - imp) / imp * diagApprox`` with ``diagApprox = body_invweight0 = 1 / m``
  (``mj_diagApprox``; ``engine_setconst.c`` gives a slider-only body ``1 / mass``);
  ``D = 1 / R``; ``K = 1 / (0.95^2 0.02^2)``, ``B = 2 / (0.95 * 0.02)`` (``timeconst =
  max(0.02, 2 dt)``) and ``aref = -B vel - K imp (dist - margin)`` (``mj_referenceConstraint``).
* **Constraint solve** (``engine_solver.c``, Newton): ``qacc`` minimises
  ``m/2 |a - a0|^2 + sum_k D_k/2 min(J_k a - aref_k, 0)^2`` with ``a0 = (100 u - v) / m``.
  The problem is strictly convex and piecewise quadratic, and MuJoCo's Newton solver reaches its
  exact minimiser; here it is found exactly by enumerating the active sets of the (at most
  three) contact rows, solving each 2x2 linear system and keeping the set whose solution is
  consistent (``J a <= aref`` on the set, ``>=`` off it). The force is ``f_k = -D_k min(J_k a -
  aref_k, 0)``. (Recent MuJoCo, 4.x included, keeps its warm start, the last step's ``qacc``,
  without iterating when its gradient is below ``opt.tolerance = 1e-8``; that answer lies
  about 1e-10 from the exact minimiser, which is what is computed here.)
* **Euler with implicit damping** (``engine_forward.c``, ``mj_EulerSkip``):
  ``qacc = (100 u - v + J^T f) / (m + dt)``, ``v' = v + dt qacc``, ``q' = q + dt v'``.

gymnasium-robotics' ``PointEnv.step`` first clips the action to ``[-1, 1]`` and the velocity to
``[-5, 5]`` (``_clip_velocity``); :func:`step` does the same.

Only the three boxes around the corner of the ball's cell nearest to the ball can be within
``radius + margin`` of a ball whose centre is in a free cell (the cell is 1 wide and the reach,
0.102 or 0.104, is below half a cell; ``EnvParams`` keeps ``contact_margin < 0.4``), so those
three are the candidate contacts. A ball placed inside a wall, which the dynamics cannot reach,
is outside this model.
"""

from __future__ import annotations

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np

TIMESTEP = 0.01
RADIUS = 0.1
MASS = 1000.0 * (4 * math.pi * RADIUS * RADIUS * RADIUS / 3)  # density * sphere volume
DAMPING = 1.0
GEAR = 100.0
CTRL_LIMIT = 1.0
VELOCITY_LIMIT = 5.0
CELL_HALF_SIZE = 0.5
SOLREF = (0.02, 1.0)  # (timeconst, dampratio), MuJoCo's default
SOLIMP = (0.9, 0.95, 0.001, 0.5, 2.0)  # (d0, dmax, width, midpoint, power), MuJoCo's default
MARGIN_MUJOCO3 = 0.002  # MuJoCo 3.0.1: max of the two geom margins
MARGIN_MUJOCO4 = 0.004  # later MuJoCo (4.x): sum of the two geom margins
MJ_MINVAL = 1e-15

_TIMECONST = max(SOLREF[0], 2 * TIMESTEP)
_STIFFNESS = 1 / (SOLIMP[1] * SOLIMP[1] * _TIMECONST * _TIMECONST * SOLREF[1] * SOLREF[1])
_DAMPING_REF = 2 / (SOLIMP[1] * _TIMECONST)
_INVWEIGHT = 1 / MASS
_SUBSETS = np.array(list(itertools.product((False, True), repeat=3)))  # [8, 3] active sets


def impedance(dist: jax.Array, margin: jax.Array) -> jax.Array:
    """MuJoCo's ``getimpedance`` for ``solimp = (0.9, 0.95, 0.001, 0.5, 2)``.

    ``x = |dist - margin| / width``; ``y = x^2 / mid`` for ``x <= mid``, else
    ``1 - (1 - x)^2 / (1 - mid)``; ``imp = d0 + y (dmax - d0)``, ``d0`` at ``x = 0`` and
    ``dmax`` for ``x >= 1``.
    """
    d0, dmax, width, mid, _ = SOLIMP
    x = jnp.abs((dist - margin) / width)
    y = jnp.where(x <= mid, (1 / mid) * (x * x), 1 - (1 / (1 - mid)) * ((1 - x) * (1 - x)))
    imp = d0 + y * (dmax - d0)
    return jnp.where(x >= 1, dmax, jnp.where(x <= 0, d0, imp))


def wall_rows(pos: jax.Array, vel: jax.Array, walls: np.ndarray, margin: jax.Array
              ) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """The contact rows of the three candidate wall boxes (module docstring).

    Args:
      pos, vel: the ball's ``qpos``, ``qvel`` ``[2]``.
      walls: ``[H, W]`` bool, True for a wall cell (``maze_map == 1``).
      margin: the ball-wall contact margin.

    Returns:
      ``(jac [3, 2], aref [3], d [3], active [3])``: ``J``, ``aref``, ``D = 1 / R`` and whether
      the box is a wall within the margin (rows that are not active carry ``D = 0``).
    """
    height, width = walls.shape
    dtype = pos.dtype
    col = jnp.floor(pos[0] + width / 2).astype(jnp.int32)
    row = jnp.floor(height / 2 - pos[1]).astype(jnp.int32)
    centre_x = col.astype(dtype) + 0.5 - width / 2
    centre_y = height / 2 - (row.astype(dtype) + 0.5)
    side = jnp.where(pos[0] >= centre_x, 1, -1)  # neighbouring column towards the ball
    up = jnp.where(pos[1] >= centre_y, -1, 1)  # neighbouring row towards the ball
    rows = jnp.clip(jnp.stack([row, row + up, row + up]), 0, height - 1)
    cols = jnp.clip(jnp.stack([col + side, col, col + side]), 0, width - 1)
    is_wall = jnp.asarray(walls)[rows, cols]
    box = jnp.stack([cols.astype(dtype) + 0.5 - width / 2,
                     height / 2 - (rows.astype(dtype) + 0.5)], axis=-1)  # [3, 2]
    rel = pos - box
    gap = jnp.clip(rel, -CELL_HALF_SIZE, CELL_HALF_SIZE) - rel
    norm = jnp.sqrt(gap[:, 0] * gap[:, 0] + gap[:, 1] * gap[:, 1])
    safe = jnp.where(norm > 0, norm, 1)
    normal = gap * (1 / safe)[:, None]
    dist = norm - RADIUS
    active = is_wall & (dist < margin)
    jac = -normal
    row_vel = jac[:, 0] * vel[0] + jac[:, 1] * vel[1]
    imp = impedance(dist, margin)
    reg = jnp.maximum(MJ_MINVAL, (1 - imp) * _INVWEIGHT / imp)
    aref = -_DAMPING_REF * row_vel - _STIFFNESS * imp * (dist - margin)
    d = jnp.where(active, 1 / reg, 0)
    return jac, aref, d, active


def solve_contacts(acc0: jax.Array, jac: jax.Array, aref: jax.Array, d: jax.Array,
                   active: jax.Array) -> jax.Array:
    """Exact minimiser of ``m/2 |a - acc0|^2 + sum_k d_k/2 min(J_k a - aref_k, 0)^2``.

    For each active set ``S`` of the rows, ``a_S`` solves
    ``(m I + sum_S d_k J_k^T J_k) a = m acc0 + sum_S d_k aref_k J_k^T`` (Cramer's rule); the
    objective is strictly convex and C^1, so the ``a_S`` whose residuals ``J_k a_S - aref_k``
    are ``<= 0`` on ``S`` and ``>= 0`` off it is the minimiser. In floating point the set with
    the smallest violation of these signs is taken.

    Returns:
      ``qacc`` ``[2]`` of the constrained problem (before the Euler damping correction).
    """
    subsets = jnp.asarray(_SUBSETS) & active  # rows that are not active never enter a set
    w = jnp.where(subsets, d, 0)  # [8, 3]
    a00 = MASS + jnp.sum(w * jac[:, 0] * jac[:, 0], axis=1)
    a01 = jnp.sum(w * jac[:, 0] * jac[:, 1], axis=1)
    a11 = MASS + jnp.sum(w * jac[:, 1] * jac[:, 1], axis=1)
    r0 = MASS * acc0[0] + jnp.sum(w * aref * jac[:, 0], axis=1)
    r1 = MASS * acc0[1] + jnp.sum(w * aref * jac[:, 1], axis=1)
    det = a00 * a11 - a01 * a01
    acc = jnp.stack([(a11 * r0 - a01 * r1) / det, (a00 * r1 - a01 * r0) / det], axis=-1)
    residual = acc @ jac.T - aref  # [8, 3]
    violation = jnp.where(subsets, jnp.maximum(residual, 0), jnp.maximum(-residual, 0))
    worst = jnp.max(jnp.where(active, violation, 0), axis=1)
    return acc[jnp.argmin(worst)]


def step(pos: jax.Array, vel: jax.Array, action: jax.Array, walls: np.ndarray,
         margin: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(qpos, qvel)`` after one ``PointMazeEnv.step`` (one MuJoCo step, ``frame_skip`` 1).

    ``u = clip(action, -1, 1)``, ``v = clip(qvel, -5, 5)``; contact forces ``f`` from
    :func:`wall_rows` and :func:`solve_contacts`; then
    ``v' = v + dt (100 u - v + J^T f) / (m + dt)``, ``q' = q + dt v'`` (``mj_EulerSkip``).
    Without contacts this is the closed form ``v += dt (100 u - v) / (m + dt)``
    (docs/reference_facts.md §3).
    """
    dtype = pos.dtype
    ctrl = jnp.clip(jnp.asarray(action, dtype), -CTRL_LIMIT, CTRL_LIMIT)
    vel = jnp.clip(vel, -VELOCITY_LIMIT, VELOCITY_LIMIT)
    force = GEAR * ctrl - DAMPING * vel  # qfrc_smooth = qfrc_actuator + qfrc_passive
    jac, aref, d, active = wall_rows(pos, vel, walls, margin)
    acc = solve_contacts(force * (1 / MASS), jac, aref, d, active)
    residual = jac @ acc - aref
    f = jnp.where(active & (residual < 0), -d * residual, 0)
    force = force + f @ jac  # + qfrc_constraint = J^T f
    vel = vel + TIMESTEP * (force * (1 / (MASS + TIMESTEP * DAMPING)))
    return pos + TIMESTEP * vel, vel
