"""One ``b2World::Step(1/50, 180, 60)`` of Gymnasium's LunarLander (lander, legs, ground) in JAX.

Follows pybox2d's bundled Box2D 2.3 (``Box2D==2.3.10``), specialised to this system:

* **Bodies** (index 0 the lander, 1 ``legs[0]`` (``i = -1``), 2 ``legs[1]``): mass, centre of
  mass and rotational inertia from ``b2PolygonShape::ComputeMass`` (:func:`polygon_mass`);
  state is the sweep centre ``c``, angle ``a``, velocities ``v, w``; the body origin is
  ``c - R(a) localCenter``.
* **Velocity integration** (``b2Island::Solve``): ``v += h (g + F / m)``, ``w += h T / I``
  (damping 0), ``h = 1/50``.
* **Joints** (``b2RevoluteJoint``, anchors at the lander origin and ``(i 20/30, 18/30)`` on the
  leg, reference angle ``0.05 i`` (the legs' initial angle: pybox2d sets it), limits
  ``[0.4, 0.9]`` / ``[-0.9, -0.4]``, motor speed ``0.3 i``,
  torque 40): warm-started, motor then (limit active) the 3x3 point+angle block with the
  accumulated-impulse clamp, or the 2x2 point constraint; position pass with the limit
  correction ``clamp(C ± 2 deg, ...)`` capped at 8 deg and the point correction ``-K^-1 C``.
  Solved in the island's order: ``legs[1]``'s joint first (Box2D's depth-first island
  search starts from the newest body).
* **Contacts** (:mod:`jaxcurr.envs.lunar_lander_contact`): manifolds of each body with each
  terrain edge at the start of the step (``b2ContactManager::Collide``), impulses carried over
  by feature id, sequential impulses interleaved with the joints for 180 iterations, then
  ``c += h v``, ``a += h w`` (translation capped at 2, rotation at pi/2 per step), then up to
  60 position iterations, stopping when contacts and joints are within tolerance.
* **Sleep** (``b2Island::Solve``): a body's sleep timer grows by ``h`` while
  ``|v|^2 <= 0.01^2`` and ``w^2 <= (2 deg)^2``, else resets; the island (all three bodies)
  falls asleep when the smallest timer is ``>= 0.5`` s and the position pass converged.
* **Contact flags** (Gymnasium's ``ContactDetector``): a leg's ``ground_contact`` is set by a
  contact that starts touching and cleared by one that stops; the lander touching anything
  is ``game_over``.

Approximations that remain (why): no continuous collision (``b2World::SolveTOI``): it only
acts when a body would pass through an edge within one step, i.e. hard crashes, which end
the episode anyway; contacts are solved for at most two edges per body (a body of this size
cannot touch more of Gymnasium's 2-unit-wide edges at once) in edge order within a body,
where Box2D uses the contact list's creation order; when one contact of a leg begins and
another ends in the same step the end wins (Box2D's order depends on the broad-phase pair
order); the floor edge at ``y = 0`` under the terrain is left out (the terrain heights are
non-negative, so the lander meets the terrain first); arithmetic is float32 like Box2D but in
XLA's operation order, and Gymnasium's float64 engine arithmetic is done in float32.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxcurr.envs import lunar_lander_contact as contact

SCALE = 30.0
FPS = 50
DT = 1.0 / FPS
VELOCITY_ITERATIONS = 180
POSITION_ITERATIONS = 60
LANDER_POLY = ((17, -10), (17, 0), (14, 17), (-14, 17), (-17, 0), (-17, -10))
LEG_AWAY, LEG_DOWN, LEG_W, LEG_H = 20.0, 18.0, 2.0, 8.0
LEG_SPRING_TORQUE = 40.0
MAX_TRANSLATION = 2.0
MAX_ROTATION = 0.5 * 3.14159265359
MAX_ANGULAR_CORRECTION = 8.0 / 180.0 * 3.14159265359
TIME_TO_SLEEP = 0.5
LINEAR_SLEEP_TOLERANCE = 0.01
ANGULAR_SLEEP_TOLERANCE = 2.0 / 180.0 * 3.14159265359
N_EDGES = 10
SLOTS_PER_BODY = 2
LOWER = np.array([0.4, -0.9], np.float32)
UPPER = np.array([0.9, -0.4], np.float32)
MOTOR_SPEED = np.array([-0.3, 0.3], np.float32)
# pybox2d's revoluteJointDef sets referenceAngle = bodyB.angle - bodyA.angle at creation.
REFERENCE_ANGLE = np.array([-0.05, 0.05], np.float32)
FRICTION = np.sqrt(np.array([0.1 * 0.1, 0.2 * 0.1, 0.2 * 0.1])).astype(np.float32)


def polygon_mass(vertices, density):
    """``b2PolygonShape::ComputeMass`` + ``b2Body::ResetMassData``: triangles fanned from the
    vertex mean ``s``; area ``sum D/2``, centroid ``s + sum (D/6)(e1 + e2) / area``,
    ``I_s = density sum (D/12)(e1x^2 + e1x e2x + e2x^2 + same in y)``; returns
    ``(mass, local centre, inertia about the centre = I_s - mass |centroid - s|^2)``."""
    v = np.asarray(vertices, np.float64)
    s = v.mean(0)
    e1, e2 = v - s, np.roll(v, -1, 0) - s
    d = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    area = 0.5 * d.sum()
    centre = ((0.5 * d / 3.0)[:, None] * (e1 + e2)).sum(0) / area
    intx = e1[:, 0] ** 2 + e2[:, 0] * e1[:, 0] + e2[:, 0] ** 2
    inty = e1[:, 1] ** 2 + e2[:, 1] * e1[:, 1] + e2[:, 1] ** 2
    inertia = density * np.sum(0.25 / 3.0 * d * (intx + inty))
    mass = density * area
    return mass, centre + s, inertia - mass * centre @ centre


def polygon_normals(vertices):
    """Outward unit normals of a counter-clockwise polygon (``b2PolygonShape::Set``)."""
    v = np.asarray(vertices, np.float64)
    e = np.roll(v, -1, 0) - v
    n = np.stack([e[:, 1], -e[:, 0]], 1)
    return n / np.linalg.norm(n, axis=1, keepdims=True)


LANDER_VERTS = np.asarray(LANDER_POLY, np.float64) / SCALE
_hx, _hy = LEG_W / SCALE, LEG_H / SCALE
LEG_VERTS = np.array([(-_hx, -_hy), (_hx, -_hy), (_hx, _hy), (-_hx, _hy)])
_lander_mass = polygon_mass(LANDER_VERTS, 5.0)
_leg_mass = polygon_mass(LEG_VERTS, 1.0)
MASS = np.array([_lander_mass[0], _leg_mass[0], _leg_mass[0]], np.float32)
INV_MASS = (1.0 / MASS).astype(np.float32)
INV_I = (1.0 / np.array([_lander_mass[2], _leg_mass[2], _leg_mass[2]])).astype(np.float32)
LOCAL_CENTER = np.stack([_lander_mass[1], _leg_mass[1], _leg_mass[1]]).astype(np.float32)
LANDER_SHAPE = (LANDER_VERTS.astype(np.float32), polygon_normals(LANDER_VERTS).astype(np.float32),
                LANDER_VERTS.mean(0).astype(np.float32))
LEG_SHAPE = (LEG_VERTS.astype(np.float32), polygon_normals(LEG_VERTS).astype(np.float32),
             np.zeros(2, np.float32))
# Legs: anchor on the lander at its origin, on leg i at (i 20/30, 18/30).
ANCHOR_A = np.zeros((2, 2), np.float32)
ANCHOR_B = np.array([[-LEG_AWAY / SCALE, LEG_DOWN / SCALE], [LEG_AWAY / SCALE, LEG_DOWN / SCALE]],
                    np.float32)


@struct.dataclass
class World:
    """Dynamic state of the three bodies, the joints' and contacts' accumulated impulses."""

    c: jax.Array  # (3, 2) centres of mass
    a: jax.Array  # (3,) angles
    v: jax.Array  # (3, 2)
    w: jax.Array  # (3,)
    sleep_time: jax.Array  # (3,)
    awake: jax.Array  # ()
    joint_impulse: jax.Array  # (2, 3) for legs[0], legs[1]
    motor_impulse: jax.Array  # (2,)
    limit_state: jax.Array  # (2,) 0 inactive, 1 lower, 2 upper
    contact_count: jax.Array  # (3, 10) manifold points of body b with edge e
    contact_keys: jax.Array  # (3, 10, 2)
    normal_impulse: jax.Array  # (3, 10, 2)
    tangent_impulse: jax.Array  # (3, 10, 2)
    leg_contact: jax.Array  # (2,) bool, Gymnasium's legs[i].ground_contact
    game_over: jax.Array  # () bool


def body_position(world: World) -> jax.Array:
    """Body origins ``c - R(a) localCenter`` (Box2D's ``GetPosition``), shape (3, 2)."""
    return world.c - contact.rotate(world.a, jnp.asarray(LOCAL_CENTER))


def initial_world(x0: float, y0: float) -> World:
    """The bodies as Gymnasium's ``reset`` creates them: lander at ``(x0, y0)``, leg ``i`` at
    ``(x0 - i 20/30, y0)`` with angle ``0.05 i``, all at rest."""
    pos = jnp.array([[x0, y0], [x0 + LEG_AWAY / SCALE, y0], [x0 - LEG_AWAY / SCALE, y0]],
                    jnp.float32)
    a = jnp.array([0.0, -0.05, 0.05], jnp.float32)
    z = jnp.zeros
    return World(
        c=pos + contact.rotate(a, jnp.asarray(LOCAL_CENTER)), a=a, v=z((3, 2)), w=z(3),
        sleep_time=z(3), awake=jnp.bool_(True), joint_impulse=z((2, 3)), motor_impulse=z(2),
        limit_state=jnp.zeros(2, jnp.int32), contact_count=jnp.zeros((3, N_EDGES), jnp.int32),
        contact_keys=jnp.zeros((3, N_EDGES, 2), jnp.int32), normal_impulse=z((3, N_EDGES, 2)),
        tangent_impulse=z((3, N_EDGES, 2)), leg_contact=jnp.zeros(2, bool),
        game_over=jnp.bool_(False))


def apply_impulse(world: World, impulse, point) -> World:
    """``b2Body::ApplyLinearImpulse`` on the lander: ``v += J/m``, ``w += (p - c) x J / I``."""
    v0 = world.v[0] + INV_MASS[0] * impulse
    w0 = world.w[0] + INV_I[0] * contact.cross(point - world.c[0], impulse)
    return world.replace(v=world.v.at[0].set(v0), w=world.w.at[0].set(w0))


def _joint_init(j, c, a, v, w, state):
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


def _joint_velocity(j, jc, v, w, state):
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


def _joint_position(j, c, a, limit):
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


def _manifolds(world: World, edges):
    """Manifolds of every body with every edge (``b2ContactManager::Collide``), as a dict of
    arrays with leading axes (3, 10)."""
    pos = body_position(world)
    per_edge = jax.vmap(contact.edge_polygon_manifold, in_axes=(0, 0, None, None, None, None, None))
    lander = per_edge(edges[:, 0], edges[:, 1], *LANDER_SHAPE, pos[0], world.a[0])
    legs = jax.vmap(per_edge, in_axes=(None, None, None, None, None, 0, 0))(
        edges[:, 0], edges[:, 1], *LEG_SHAPE, pos[1:], world.a[1:])
    return jax.tree.map(lambda x, y: jnp.concatenate([x[None], y]), lander, legs)


def collide(world: World, edges) -> tuple[World, dict]:
    """Update the contacts at the start of a step: new manifolds, impulses kept for points
    whose feature key matches one of the last manifold's (``b2Contact::Update``), and
    Gymnasium's ``BeginContact``/``EndContact`` flags."""
    m = _manifolds(world, edges)
    valid_old = jnp.arange(2) < world.contact_count[..., None]
    match = (m["keys"][..., :, None] == world.contact_keys[..., None, :]) & valid_old[..., None, :]
    keep_n = jnp.sum(jnp.where(match, world.normal_impulse[..., None, :], 0.0), -1)
    keep_t = jnp.sum(jnp.where(match, world.tangent_impulse[..., None, :], 0.0), -1)
    touching = m["count"] > 0
    was = world.contact_count > 0
    began, ended = touching & ~was, ~touching & was
    leg_contact = (world.leg_contact | jnp.any(began[1:], -1)) & ~jnp.any(ended[1:], -1)
    world = world.replace(
        contact_count=m["count"], contact_keys=m["keys"], normal_impulse=keep_n,
        tangent_impulse=keep_t, leg_contact=leg_contact,
        game_over=world.game_over | jnp.any(began[0]))
    return world, m


ISLAND_BODY_ORDER = (2, 0, 1)


def _slots(world: World):
    """(body, edge) of the contacts solved: per body in the island's order (``legs[1]``, lander,
    ``legs[0]``) its first two touching edges; and whether each slot holds a contact."""
    bodies, edge_idx, on = [], [], []
    for b in ISLAND_BODY_ORDER:
        count = world.contact_count[b]
        order = jnp.argsort(jnp.where(count > 0, 0, 1) * N_EDGES + jnp.arange(N_EDGES))
        for k in range(SLOTS_PER_BODY):
            bodies.append(b)
            edge_idx.append(order[k])
            on.append(count[order[k]] > 0)
    return np.array(bodies), jnp.stack(edge_idx), jnp.stack(on)


def step_world(world: World, edges, force, torque, gravity) -> tuple[World, jax.Array]:
    """One ``b2World::Step(1/50, 180, 60)``: collide, integrate velocities (``force``/``torque``
    act on the lander only), 180 velocity iterations, integrate positions, up to 60 position
    iterations, sleep bookkeeping. Returns the new world and whether the position pass
    converged."""
    world, manifolds = collide(world, edges)
    g = jnp.array([0.0, 1.0], jnp.float32) * gravity
    v = world.v + DT * (g + jnp.asarray(INV_MASS)[:, None] * jnp.zeros((3, 2)).at[0].set(force))
    w = world.w.at[0].add(DT * INV_I[0] * torque)
    c, a = world.c, world.a
    bodies, edge_idx, on = _slots(world)
    slot_m = [jax.tree.map(lambda x, b=b, e=e: x[b, e], manifolds)
              for b, e in zip(bodies, edge_idx, strict=True)]
    for k in range(len(bodies)):
        slot_m[k]["count"] = jnp.where(on[k], slot_m[k]["count"], 0)
    vcs = [contact.init_constraint(slot_m[k], c[b], a[b], LOCAL_CENTER[b], INV_MASS[b], INV_I[b],
                                   FRICTION[b]) for k, b in enumerate(bodies)]
    lam_n = [world.normal_impulse[b, e] for b, e in zip(bodies, edge_idx, strict=True)]
    lam_t = [world.tangent_impulse[b, e] for b, e in zip(bodies, edge_idx, strict=True)]
    for k, b in enumerate(bodies):
        vc = vcs[k]
        for j in range(2):
            p = jnp.where(j < vc["count"], 1.0, 0.0) * (
                lam_n[k][j] * vc["normal"] + lam_t[k][j] * vc["tangent"])
            v = v.at[b].add(INV_MASS[b] * p)
            w = w.at[b].add(INV_I[b] * contact.cross(vc["r"][j], p))
    state = {"impulse": world.joint_impulse, "motor": world.motor_impulse,
             "limit": world.limit_state}
    jcs = [None, None]
    for j in (1, 0):
        v, w, state, jcs[j] = _joint_init(j, c, a, v, w, state)

    def velocity_iteration(_, carry):
        v, w, state, lam_n, lam_t = carry
        for j in (1, 0):
            v, w, state = _joint_velocity(j, jcs[j], v, w, state)
        lam_n, lam_t = list(lam_n), list(lam_t)
        for k, b in enumerate(bodies):
            vb, wb, lam_n[k], lam_t[k] = contact.solve_velocity(
                vcs[k], v[b], w[b], INV_MASS[b], INV_I[b], lam_n[k], lam_t[k])
            v, w = v.at[b].set(vb), w.at[b].set(wb)
        return v, w, state, lam_n, lam_t

    v, w, state, lam_n, lam_t = jax.lax.fori_loop(
        0, VELOCITY_ITERATIONS, velocity_iteration, (v, w, state, lam_n, lam_t))
    normal_impulse, tangent_impulse = world.normal_impulse, world.tangent_impulse
    for k, (b, e) in enumerate(zip(bodies, edge_idx, strict=True)):
        normal_impulse = normal_impulse.at[b, e].set(
            jnp.where(on[k], lam_n[k], normal_impulse[b, e]))
        tangent_impulse = tangent_impulse.at[b, e].set(
            jnp.where(on[k], lam_t[k], tangent_impulse[b, e]))

    trans2 = jnp.sum((DT * v) ** 2, -1)
    v = v * jnp.where(trans2 > MAX_TRANSLATION**2,
                      MAX_TRANSLATION / jnp.sqrt(jnp.maximum(trans2, 1e-30)), 1.0)[:, None]
    rot = DT * w
    w = w * jnp.where(rot * rot > MAX_ROTATION**2, MAX_ROTATION / jnp.abs(rot), 1.0)
    c, a = c + DT * v, a + DT * w
    limit = state["limit"]

    def position_iteration(carry):
        i, c, a, _ = carry
        min_sep = jnp.float32(0.0)
        for k, b in enumerate(bodies):
            cb, ab, sep = contact.solve_position(slot_m[k], c[b], a[b], LOCAL_CENTER[b],
                                                 INV_MASS[b], INV_I[b])
            c, a = c.at[b].set(cb), a.at[b].set(ab)
            min_sep = jnp.minimum(min_sep, sep)
        ok = min_sep >= -3.0 * contact.LINEAR_SLOP
        for j in (1, 0):
            c, a, joint_ok = _joint_position(j, c, a, limit[j])
            ok = ok & joint_ok
        return i + 1, c, a, ok

    _, c, a, solved = jax.lax.while_loop(
        lambda carry: (carry[0] < POSITION_ITERATIONS) & ~carry[3], position_iteration,
        (jnp.int32(0), c, a, jnp.bool_(False)))

    slow = (w * w <= ANGULAR_SLEEP_TOLERANCE**2) & (
        jnp.sum(v * v, -1) <= LINEAR_SLEEP_TOLERANCE**2)
    sleep_time = jnp.where(slow, world.sleep_time + DT, 0.0)
    asleep = (jnp.min(sleep_time) >= TIME_TO_SLEEP) & solved
    world = world.replace(
        c=c, a=a, v=v, w=w, sleep_time=sleep_time, awake=world.awake & ~asleep,
        joint_impulse=state["impulse"], motor_impulse=state["motor"], limit_state=limit,
        normal_impulse=normal_impulse, tangent_impulse=tangent_impulse)
    return world, solved
