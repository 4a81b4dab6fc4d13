"""Box2D 2.3's ``b2RevoluteJoint`` for LunarLander's two leg joints (lander = body A, leg = B).

Anchors at the lander origin and ``(i 20/30, 18/30)`` on leg ``i``; reference angle ``0.05 i``
(pybox2d's ``revoluteJointDef`` sets it to the legs' initial tilt); limits ``[0.4, 0.9]`` /
``[-0.9, -0.4]``; motor speed ``0.3 i``, maximum torque 40. Velocity pass: warm start, motor
``clip(-(w_b - w_a - speed)/(1/I_a + 1/I_b))`` within ``h 40``, then (limit active) the 3x3
point+angle block with the accumulated-impulse clamp or the 2x2 point constraint. Position
pass: limit correction ``clamp(C -+ 2 deg)`` capped at 8 deg, then the point correction
``-K^-1 C``.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from jaxcurr.envs.lunar_lander import contact
from jaxcurr.envs.lunar_lander.bodies import ANCHOR_A, ANCHOR_B, DT, INV_I, INV_MASS, LOCAL_CENTER

LEG_SPRING_TORQUE = 40.0
MAX_ANGULAR_CORRECTION = 8.0 / 180.0 * 3.14159265359
LOWER = np.array([0.4, -0.9], np.float32)
UPPER = np.array([0.9, -0.4], np.float32)
MOTOR_SPEED = np.array([-0.3, 0.3], np.float32)
# pybox2d's revoluteJointDef sets referenceAngle = bodyB.angle - bodyA.angle at creation.
REFERENCE_ANGLE = np.array([-0.05, 0.05], np.float32)


def joint_init(j, c, a, v, w, state):
    """``b2RevoluteJoint::InitVelocityConstraints`` for leg ``j`` (body B = ``j + 1``)."""
    b = j + 1
    ra = contact.rotate(a[0], ANCHOR_A[j] - LOCAL_CENTER[0])
    rb = contact.rotate(a[b], ANCHOR_B[j] - LOCAL_CENTER[b])
    ma, mb, ia, ib = INV_MASS[0], INV_MASS[b], INV_I[0], INV_I[b]
    k = jnp.array([
        [ma + mb + ra[1] ** 2 * ia + rb[1] ** 2 * ib, -ra[1] * ra[0] * ia - rb[1] * rb[0] * ib,
         -ra[1] * ia - rb[1] * ib],
        [-ra[1] * ra[0] * ia - rb[1] * rb[0] * ib, ma + mb + ra[0] ** 2 * ia + rb[0] ** 2 * ib,
         ra[0] * ia + rb[0] * ib],
        [-ra[1] * ia - rb[1] * ib, ra[0] * ia + rb[0] * ib, ia + ib]])
    angle = a[b] - a[0] - REFERENCE_ANGLE[j]
    old = state["limit"][j]
    limit = jnp.where(angle <= LOWER[j], 1, jnp.where(angle >= UPPER[j], 2, 0))
    imp = state["impulse"][j]
    imp = imp.at[2].set(jnp.where((limit == 0) | (limit != old), 0.0, imp[2]))
    p = imp[:2]
    ang = contact.cross(ra, p) + state["motor"][j] + imp[2]
    angb = contact.cross(rb, p) + state["motor"][j] + imp[2]
    v = v.at[0].add(-ma * p).at[b].add(mb * p)
    w = w.at[0].add(-ia * ang).at[b].add(ib * angb)
    state = {"impulse": state["impulse"].at[j].set(imp), "motor": state["motor"],
             "limit": state["limit"].at[j].set(limit)}
    return v, w, state, {"ra": ra, "rb": rb, "k": k}


def _solve22(k, rhs):
    """``b2Mat33::Solve22``."""
    det = k[0, 0] * k[1, 1] - k[0, 1] * k[1, 0]
    det = jnp.where(det != 0.0, 1.0 / det, 0.0)
    return det * jnp.stack([k[1, 1] * rhs[0] - k[0, 1] * rhs[1],
                            k[0, 0] * rhs[1] - k[1, 0] * rhs[0]])


def _solve33(k, rhs):
    """``b2Mat33::Solve33`` (Cramer's rule with columns ``ex, ey, ez``)."""
    ex, ey, ez = k[:, 0], k[:, 1], k[:, 2]
    det = jnp.dot(ex, jnp.cross(ey, ez))
    det = jnp.where(det != 0.0, 1.0 / det, 0.0)
    return det * jnp.stack([jnp.dot(rhs, jnp.cross(ey, ez)), jnp.dot(ex, jnp.cross(rhs, ez)),
                            jnp.dot(ex, jnp.cross(ey, rhs))])


def joint_velocity(j, jc, v, w, state):
    """``b2RevoluteJoint::SolveVelocityConstraints`` for leg ``j``."""
    b = j + 1
    ma, mb, ia, ib = INV_MASS[0], INV_MASS[b], INV_I[0], INV_I[b]
    ra, rb, k = jc["ra"], jc["rb"], jc["k"]
    wa, wb = w[0], w[b]
    motor_mass = 1.0 / (ia + ib)
    max_imp = DT * LEG_SPRING_TORQUE
    old = state["motor"][j]
    new_motor = jnp.clip(old - motor_mass * (wb - wa - MOTOR_SPEED[j]), -max_imp, max_imp)
    wa, wb = wa - ia * (new_motor - old), wb + ib * (new_motor - old)
    cdot1 = v[b] + contact.cross_sv(wb, rb) - v[0] - contact.cross_sv(wa, ra)
    acc = state["impulse"][j]
    limit = state["limit"][j]
    # Limit active: 3x3 block with the accumulated-impulse clamp.
    imp3 = -_solve33(k, jnp.concatenate([cdot1, (wb - wa)[None]]))
    new_z = acc[2] + imp3[2]
    clamp = jnp.where(limit == 1, new_z < 0.0, new_z > 0.0)
    reduced = _solve22(k, -cdot1 + acc[2] * k[:2, 2])
    imp_lim = jnp.where(clamp, jnp.concatenate([reduced, -acc[2:]]), imp3)
    acc_lim = jnp.where(clamp, jnp.concatenate([acc[:2] + reduced, jnp.zeros(1)]), acc + imp3)
    # Limit inactive: 2x2 point constraint.
    imp2 = _solve22(k, -cdot1)
    imp = jnp.where(limit != 0, imp_lim, jnp.concatenate([imp2, jnp.zeros(1)]))
    acc = jnp.where(limit != 0, acc_lim, acc.at[:2].add(imp2))
    p = imp[:2]
    v = v.at[0].add(-ma * p).at[b].add(mb * p)
    wa = wa - ia * (contact.cross(ra, p) + imp[2])
    wb = wb + ib * (contact.cross(rb, p) + imp[2])
    w = w.at[0].set(wa).at[b].set(wb)
    state = {"impulse": state["impulse"].at[j].set(acc),
             "motor": state["motor"].at[j].set(new_motor), "limit": state["limit"]}
    return v, w, state


def joint_position(j, c, a, limit):
    """``b2RevoluteJoint::SolvePositionConstraints`` for leg ``j``; returns ``c, a, ok``."""
    b = j + 1
    ma, mb, ia, ib = INV_MASS[0], INV_MASS[b], INV_I[0], INV_I[b]
    angle = a[b] - a[0] - REFERENCE_ANGLE[j]
    c_low = angle - LOWER[j]
    c_up = angle - UPPER[j]
    ang_err = jnp.where(limit == 1, -c_low, jnp.where(limit == 2, c_up, 0.0))
    corr = jnp.where(limit == 1, jnp.clip(c_low + contact.ANGULAR_SLOP, -MAX_ANGULAR_CORRECTION,
                                          0.0),
                     jnp.where(limit == 2, jnp.clip(c_up - contact.ANGULAR_SLOP, 0.0,
                                                    MAX_ANGULAR_CORRECTION), 0.0))
    limit_impulse = -corr / (ia + ib)
    aa, ab = a[0] - ia * limit_impulse, a[b] + ib * limit_impulse
    ra = contact.rotate(aa, ANCHOR_A[j] - LOCAL_CENTER[0])
    rb = contact.rotate(ab, ANCHOR_B[j] - LOCAL_CENTER[b])
    cvec = c[b] + rb - c[0] - ra
    pos_err = jnp.linalg.norm(cvec)
    k = jnp.array([[ma + mb + ia * ra[1] ** 2 + ib * rb[1] ** 2,
                    -ia * ra[0] * ra[1] - ib * rb[0] * rb[1]],
                   [-ia * ra[0] * ra[1] - ib * rb[0] * rb[1],
                    ma + mb + ia * ra[0] ** 2 + ib * rb[0] ** 2]])
    imp = -_solve22(k, cvec)
    c = c.at[0].add(-ma * imp).at[b].add(mb * imp)
    a = a.at[0].set(aa - ia * contact.cross(ra, imp)).at[b].set(ab + ib * contact.cross(rb, imp))
    return c, a, (pos_err <= contact.LINEAR_SLOP) & (ang_err <= contact.ANGULAR_SLOP)
