"""One ``b2World::Step(1/50, 180, 60)`` of Gymnasium's LunarLander (lander, legs, ground) in JAX.

Follows pybox2d's bundled Box2D 2.3 (``Box2D==2.3.10``), specialised to this system:

* **Bodies** (:mod:`jaxcurr.envs.lunar_lander.bodies`; index 0 the lander, 1 ``legs[0]``
  (``i = -1``), 2 ``legs[1]``): state is the sweep centre ``c``, angle ``a``, velocities
  ``v, w``; the body origin is ``c - R(a) localCenter``.
* **Velocity integration** (``b2Island::Solve``): ``v += h (g + F / m)``, ``w += h T / I``
  (damping 0), ``h = 1/50``.
* **Joints** (:mod:`jaxcurr.envs.lunar_lander.joint`): the legs' revolute joints, warm-started,
  with limits and motor; solved in the island's order: ``legs[1]``'s joint first (Box2D's
  depth-first island search starts from the newest body).
* **Contacts** (:mod:`jaxcurr.envs.lunar_lander.contact`): manifolds of each body with each
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

Continuous collision (``b2World::SolveTOI``) follows the discrete step in
:mod:`jaxcurr.envs.lunar_lander.toi` (``EnvParams.continuous_collision``, on by default as in
Box2D). Approximations that remain (why):
contacts are solved for at most two edges per body (a body of this size
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

from jaxcurr.envs.lunar_lander import contact
from jaxcurr.envs.lunar_lander.bodies import (
    DT,
    INV_I,
    INV_MASS,
    LANDER_SHAPE,
    LEG_AWAY,
    LEG_SHAPE,
    LOCAL_CENTER,
    SCALE,
)
from jaxcurr.envs.lunar_lander.joint import joint_init, joint_position, joint_velocity

VELOCITY_ITERATIONS = 180
POSITION_ITERATIONS = 60
MAX_TRANSLATION = 2.0
MAX_ROTATION = 0.5 * 3.14159265359
TIME_TO_SLEEP = 0.5
LINEAR_SLEEP_TOLERANCE = 0.01
ANGULAR_SLEEP_TOLERANCE = 2.0 / 180.0 * 3.14159265359
N_EDGES = 10
SLOTS_PER_BODY = 2
FRICTION = np.sqrt(np.array([0.1 * 0.1, 0.2 * 0.1, 0.2 * 0.1])).astype(np.float32)


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


def manifolds(world: World, edges):
    """Manifolds of every body with every edge (``b2ContactManager::Collide``), as a dict of
    arrays with leading axes (3, 10)."""
    pos = body_position(world)
    per_edge = jax.vmap(contact.edge_polygon_manifold, in_axes=(0, 0, None, None, None, None, None))
    lander = per_edge(edges[:, 0], edges[:, 1], *LANDER_SHAPE, pos[0], world.a[0])
    legs = jax.vmap(per_edge, in_axes=(None, None, None, None, None, 0, 0))(
        edges[:, 0], edges[:, 1], *LEG_SHAPE, pos[1:], world.a[1:])
    return jax.tree.map(lambda x, y: jnp.concatenate([x[None], y]), lander, legs)


def collide(world: World, edges, update=None, m=None) -> tuple[World, dict]:
    """Update the contacts (``b2Contact::Update``): new manifolds at the bodies' current poses,
    impulses kept for points whose feature key matches one of the last manifold's, and
    Gymnasium's ``BeginContact``/``EndContact`` flags. ``update`` (3, 10) bool selects the
    body-edge pairs updated (default all: the start of a step, ``b2ContactManager::Collide``);
    ``m``: the manifolds at these poses when already computed. Returns the world and the
    manifolds of every pair."""
    m = manifolds(world, edges) if m is None else m
    update = jnp.ones((3, N_EDGES), bool) if update is None else update
    valid_old = jnp.arange(2) < world.contact_count[..., None]
    match = (m["keys"][..., :, None] == world.contact_keys[..., None, :]) & valid_old[..., None, :]
    keep_n = jnp.sum(jnp.where(match, world.normal_impulse[..., None, :], 0.0), -1)
    keep_t = jnp.sum(jnp.where(match, world.tangent_impulse[..., None, :], 0.0), -1)
    touching = m["count"] > 0
    was = world.contact_count > 0
    began, ended = update & touching & ~was, update & ~touching & was
    leg_contact = (world.leg_contact | jnp.any(began[1:], -1)) & ~jnp.any(ended[1:], -1)
    pick = lambda new, old: jnp.where(update.reshape(update.shape + (1,) * (new.ndim - 2)),
                                      new, old)
    world = world.replace(
        contact_count=pick(m["count"], world.contact_count),
        contact_keys=pick(m["keys"], world.contact_keys),
        normal_impulse=pick(keep_n, world.normal_impulse),
        tangent_impulse=pick(keep_t, world.tangent_impulse), leg_contact=leg_contact,
        game_over=world.game_over | jnp.any(began[0]))
    return world, m


def _slots(world: World):
    """Each body's first two touching edges (``(3, 2)`` edge indices) and whether each of these
    slots holds a contact."""
    count = world.contact_count
    order = jnp.argsort(jnp.where(count > 0, 0, 1) * N_EDGES + jnp.arange(N_EDGES), axis=-1)
    edge_idx = order[:, :SLOTS_PER_BODY]
    return edge_idx, jnp.take_along_axis(count, edge_idx, -1) > 0


BODY = np.arange(3)[:, None]


def integrate(c, a, v, w, h):
    """``c += h v``, ``a += h w`` with Box2D's per-step caps (translation 2, rotation pi/2:
    the velocities are scaled down to them); returns ``c, a, v, w``."""
    trans2 = jnp.sum((h * v) ** 2, -1)
    v = v * jnp.where(trans2 > MAX_TRANSLATION**2,
                      MAX_TRANSLATION / jnp.sqrt(jnp.maximum(trans2, 1e-30)), 1.0)[..., None]
    rot = h * w
    w = w * jnp.where(rot * rot > MAX_ROTATION**2, MAX_ROTATION / jnp.abs(rot), 1.0)
    return c + h * v, a + h * w, v, w


def step_world(world: World, edges, force, torque, gravity, contacts: bool = True
               ) -> tuple[World, jax.Array]:
    """One ``b2World::Step(1/50, 180, 60)``: collide, integrate velocities (``force``/``torque``
    act on the lander only), 180 velocity iterations, integrate positions, up to 60 position
    iterations, sleep bookkeeping. Returns the new world and whether the position pass
    converged. ``contacts=False`` (static) leaves out collision and the contact constraints,
    for a world known to touch nothing (the reset's first step, high above the terrain): a
    contact with no manifold points changes nothing, so the result is the same (up to the
    rounding of a differently compiled program).

    Box2D solves the island's contacts one after another; each joins one body to the static
    ground, so contacts of different bodies are independent and are solved together (vmapped
    over the bodies), each body's two slots in order: the same arithmetic in fewer operations.
    """
    if contacts:
        world, manifolds = collide(world, edges)
    g = jnp.array([0.0, 1.0], jnp.float32) * gravity
    v = world.v + DT * (g + jnp.asarray(INV_MASS)[:, None] * jnp.zeros((3, 2)).at[0].set(force))
    w = world.w.at[0].add(DT * INV_I[0] * torque)
    c, a = world.c, world.a
    edge_idx, on = _slots(world)
    slots = range(SLOTS_PER_BODY) if contacts else ()
    if contacts:
        slot_m = jax.tree.map(lambda x: x[BODY, edge_idx], manifolds)
        slot_m["count"] = jnp.where(on, slot_m["count"], 0)
        init = jax.vmap(contact.init_constraint, in_axes=(0, None, None, None, None, None, None))
        vcs = jax.vmap(init)(slot_m, c, a, LOCAL_CENTER, INV_MASS, INV_I, FRICTION)
    lam_n = world.normal_impulse[BODY, edge_idx]  # (3 bodies, 2 slots, 2 points)
    lam_t = world.tangent_impulse[BODY, edge_idx]
    inv_m, inv_i = jnp.asarray(INV_MASS)[:, None], jnp.asarray(INV_I)
    for k in slots:  # warm start
        for j in range(2):
            vc = jax.tree.map(lambda x, k=k: x[:, k], vcs)
            p = jnp.where(j < vc["count"], 1.0, 0.0)[:, None] * (
                lam_n[:, k, j, None] * vc["normal"] + lam_t[:, k, j, None] * vc["tangent"])
            v = v + inv_m * p
            w = w + inv_i * contact.cross(vc["r"][:, j], p)
    state = {"impulse": world.joint_impulse, "motor": world.motor_impulse,
             "limit": world.limit_state}
    jcs = [None, None]
    for j in (1, 0):
        v, w, state, jcs[j] = joint_init(j, c, a, v, w, state)
    solve_velocity = jax.vmap(contact.solve_velocity)  # over the bodies

    def velocity_iteration(_, carry):
        v, w, state, lam_n, lam_t = carry
        for j in (1, 0):
            v, w, state = joint_velocity(j, jcs[j], v, w, state)
        for k in slots:
            vc = jax.tree.map(lambda x, k=k: x[:, k], vcs)
            v, w, ln, lt = solve_velocity(vc, v, w, INV_MASS, INV_I, lam_n[:, k], lam_t[:, k])
            lam_n, lam_t = lam_n.at[:, k].set(ln), lam_t.at[:, k].set(lt)
        return v, w, state, lam_n, lam_t

    v, w, state, lam_n, lam_t = jax.lax.fori_loop(
        0, VELOCITY_ITERATIONS, velocity_iteration, (v, w, state, lam_n, lam_t))
    normal_impulse = world.normal_impulse.at[BODY, edge_idx].set(
        jnp.where(on[..., None], lam_n, world.normal_impulse[BODY, edge_idx]))
    tangent_impulse = world.tangent_impulse.at[BODY, edge_idx].set(
        jnp.where(on[..., None], lam_t, world.tangent_impulse[BODY, edge_idx]))

    c, a, v, w = integrate(c, a, v, w, DT)
    limit = state["limit"]

    solve_position = jax.vmap(contact.solve_position)  # over the bodies

    def position_iteration(carry):
        i, c, a, _ = carry
        min_sep = jnp.float32(0.0)
        for k in slots:
            m = jax.tree.map(lambda x, k=k: x[:, k], slot_m)
            c, a, sep = solve_position(m, c, a, LOCAL_CENTER, INV_MASS, INV_I)
            min_sep = jnp.minimum(min_sep, sep.min())
        ok = min_sep >= -3.0 * contact.LINEAR_SLOP
        for j in (1, 0):
            c, a, joint_ok = joint_position(j, c, a, limit[j])
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
