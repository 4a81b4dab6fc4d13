"""Box2D 2.3's continuous collision for LunarLander: ``b2TimeOfImpact`` and ``b2World::SolveTOI``.

After the discrete step every body has a sweep from its pose at the start of the step
(``c0, a0`` at time ``alpha0 = 0``) to its pose at the end (``c, a``). Box2D then repeats,
until no event is left:

1. **Time of impact** of every body-edge pair over the rest of its sweep (:func:`time_of_impact`):
   the first fraction ``beta`` of the sweep at which the distance between the two shapes'
   cores (the polygon and the segment without their ``0.01`` skins) falls to
   ``target = max(linearSlop, r_A + r_B - 3 linearSlop) = 0.005`` within
   ``0.25 linearSlop``. Shapes whose cores already overlap at the start, or that stay apart,
   give no event. Box2D finds the root on a separating axis (``b2SeparationFunction``); here
   it is found by conservative advancement (Mirtich 1996): ``t += (d(t) - target) / B`` with
   ``B = |c - c0| + |a - a0| r_max`` bounding how fast any point of the body moves, which never
   steps past the first root and stops at the same tolerance. A pair that needs more than 50
   advances gives no event, as Box2D's root finder's failure does.
2. The earliest ``alpha = alpha0 + (1 - alpha0) beta`` over the pairs whose contact has had at
   most ``b2_maxSubSteps = 8`` events this step and was not found apart at its impact; none
   below ``1 - 10 eps`` ends the loop.
3. The body moves to that time (``b2Body::Advance``) and the pair's contact is updated there
   (``b2Contact::Update``: manifold, carried impulses, Gymnasium's contact flags). Not touching:
   the contact is disabled for the rest of the step and the body goes back. Touching: the
   body's other contacts are updated too, and the island of the body with its touching ground
   contacts (no joints) takes the TOI sub-step (``b2Island::SolveTOI``): up to 20 position
   iterations moving only this body (Baumgarte 0.75, done at separation ``>= -1.5
   linearSlop``), the corrected pose becomes the sweep's start, 180 velocity iterations
   without warm starting (stopped early, to the bit the same, once one changes nothing), and
   the body is integrated over the rest of the step, ``(1 - alpha) / 50`` s, with the
   step's translation and rotation caps.

Box2D's world has this on by default (``continuousPhysics``); in LunarLander it acts in the
fast impacts a random policy makes (experiments/REPORT.md §6.1). Contacts between the lander
and its legs do not exist (collision filtering) and dynamic-dynamic pairs take no TOI in
Box2D, so every pair is a body with one static terrain edge.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxcurr.envs.lunar_lander import contact, physics
from jaxcurr.envs.lunar_lander.bodies import (
    DT,
    INV_I,
    INV_MASS,
    LANDER_VERTS,
    LEG_VERTS,
    LOCAL_CENTER,
)
from jaxcurr.envs.lunar_lander.physics import (
    FRICTION,
    N_EDGES,
    VELOCITY_ITERATIONS,
    World,
)

TARGET = max(contact.LINEAR_SLOP, contact.TOTAL_RADIUS - 3.0 * contact.LINEAR_SLOP)
TOLERANCE = 0.25 * contact.LINEAR_SLOP
MAX_ADVANCES = 50
CLOSE_PAIRS = 4  # pairs whose search continues past the first advance, per round
MAX_SUB_STEPS = 8
TOI_POSITION_ITERATIONS = 20
TOI_BAUMGARTE = 0.75
TOI_MIN_SEPARATION = -1.5 * contact.LINEAR_SLOP
LAST_ALPHA = 1.0 - 10.0 * float(np.finfo(np.float32).eps)


def _centred(verts, index):
    """Body-frame vertices about the centre of mass, padded to six by repeating the last."""
    v = np.asarray(verts, np.float32) - LOCAL_CENTER[index]
    return np.concatenate([v, np.repeat(v[-1:], 6 - len(v), 0)])


VERTS = np.stack([_centred(LANDER_VERTS, 0), _centred(LEG_VERTS, 1), _centred(LEG_VERTS, 2)])
RADIUS = np.linalg.norm(VERTS, axis=-1).max(-1)  # farthest vertex from the centre of mass


def _point_segment_distance(p, a, b):
    ab = b - a
    t = jnp.clip(jnp.sum((p - a) * ab, -1) / jnp.maximum(jnp.sum(ab * ab, -1), 1e-12), 0.0, 1.0)
    return jnp.linalg.norm(p - (a + t[..., None] * ab), axis=-1)


def core_distance(verts, p1, p2):
    """Distance between a convex counter-clockwise polygon ``verts`` (n, 2) and the segment
    ``p1 p2``: the smallest vertex-to-edge distance either way, 0 where they overlap."""
    nxt = jnp.roll(verts, -1, 0)
    to_segment = _point_segment_distance(verts, p1, p2).min()
    to_polygon = jnp.minimum(_point_segment_distance(p1, verts, nxt),
                             _point_segment_distance(p2, verts, nxt)).min()

    def side(a, b, p):
        return contact.cross(b - a, p - a)

    inside = jnp.all(side(verts, nxt, p1) >= 0.0) | jnp.all(side(verts, nxt, p2) >= 0.0)
    crossing = jnp.any((side(verts, nxt, p1) * side(verts, nxt, p2) < 0.0)
                       & (side(p1, p2, verts) * side(p1, p2, nxt) < 0.0))
    return jnp.where(inside | crossing, 0.0, jnp.minimum(to_segment, to_polygon))


def _advance(geometry, t, i):
    """One conservative-advancement step of ``b2TimeOfImpact`` for one body-edge pair: the
    cores' distance at sweep fraction ``t``, the next ``t``, and whether the pair is touching
    (within ``target + tolerance``) or still running."""
    verts, c0, a0, c1, a1, bound, p1, p2 = geometry
    d = core_distance(c0 + t * (c1 - c0) + contact.rotate(a0 + t * (a1 - a0), verts), p1, p2)
    t_next = t + (d - TARGET) / jnp.maximum(bound, 1e-12)
    touching = (d > 0.0) & (d < TARGET + TOLERANCE)
    running = (d >= TARGET + TOLERANCE) & (t_next < 1.0) & (i + 1 < MAX_ADVANCES)
    return jnp.where(running, t_next, t), i + 1, touching, running


_advance_pairs = jax.vmap(_advance)


def time_of_impact(c0, a0, c1, a1, edges, active=True):
    """``b2TimeOfImpact`` of every body's sweep ``(c0, a0) -> (c1, a1)`` against every static
    edge; returns ``(touching, beta)`` (3, 10): whether the cores come within ``target`` during
    the sweep, and the fraction of the sweep at which they first do. ``active=False``: no search
    (nothing found), so that vmapped worlds without one do not lengthen the others' loops.

    Every pair takes its first advance together; almost all stop there (out of reach within the
    sweep). The few still running continue ``CLOSE_PAIRS`` at a time, each pair by the same
    steps as alone, so the cost of a long search is that of a few pairs, not of all 30."""
    bound = jnp.linalg.norm(c1 - c0, axis=-1) + jnp.abs(a1 - a0) * jnp.asarray(RADIUS)
    per_body = (jnp.asarray(VERTS), c0, a0, c1, a1, bound)
    geometry = tuple(jnp.repeat(x, N_EDGES, 0) for x in per_body) + (
        jnp.tile(edges[:, 0], (3, 1)), jnp.tile(edges[:, 1], (3, 1)))
    pairs = 3 * N_EDGES
    t, i, touching, running = _advance_pairs(geometry, jnp.zeros(pairs, jnp.float32),
                                             jnp.zeros(pairs, jnp.int32))
    t, touching = jnp.where(active, t, 0.0), touching & active
    running = running & active

    def continue_some(carry):
        t, i, touching, running = carry
        pick = jnp.argsort(~running, stable=True)[:CLOSE_PAIRS]
        sub = tuple(x[pick] for x in geometry)

        def advance_running(inner):
            st, si, stouch, srun = inner
            nt, ni, ntouch, nrun = _advance_pairs(sub, st, si)
            keep = lambda new, old: jnp.where(srun, new, old)
            return keep(nt, st), keep(ni, si), keep(ntouch, stouch), nrun & srun

        inner = jax.lax.while_loop(lambda inner: jnp.any(inner[3]), advance_running,
                                   (t[pick], i[pick], touching[pick], running[pick]))
        return tuple(x.at[pick].set(y) for x, y in zip(carry, inner, strict=True))

    t, _, touching, _ = jax.lax.while_loop(lambda carry: jnp.any(carry[3]), continue_some,
                                           (t, i, touching, running))
    return touching.reshape(3, N_EDGES), t.reshape(3, N_EDGES)


def _solve_island(manifolds, c, a, v, w, b, sub_dt, active):
    """``b2Island::SolveTOI`` for body ``b`` with its (up to two) touching ground contacts:
    position pass moving only this body, velocity pass without warm starting, integration over
    ``sub_dt``. Returns the corrected pose (the sweep's new start), the end pose and the
    velocities. ``active=False`` skips both passes' iterations (its result is not used), so
    that vmapped worlds without an impact do not lengthen the loops of those with one."""
    centre, inv_m, inv_i = jnp.asarray(LOCAL_CENTER)[b], jnp.asarray(INV_MASS)[b], \
        jnp.asarray(INV_I)[b]

    def position_iteration(carry):
        i, c, a, _ = carry
        min_sep = jnp.float32(0.0)
        for k in range(2):
            m = jax.tree.map(lambda x, k=k: x[k], manifolds)
            c, a, sep = contact.solve_position(m, c, a, centre, inv_m, inv_i, TOI_BAUMGARTE)
            min_sep = jnp.minimum(min_sep, sep)
        return i + 1, c, a, min_sep >= TOI_MIN_SEPARATION

    _, c, a, _ = jax.lax.while_loop(
        lambda carry: (carry[0] < TOI_POSITION_ITERATIONS) & ~carry[3], position_iteration,
        (jnp.int32(0), c, a, ~active))
    friction = jnp.asarray(FRICTION)[b]
    vcs = [contact.init_constraint(jax.tree.map(lambda x, k=k: x[k], manifolds), c, a, centre,
                                   inv_m, inv_i, friction) for k in range(2)]

    def velocity_iteration(carry):
        i, v, w, lam_n, lam_t, _ = carry
        v1, w1, ln1, lt1 = v, w, lam_n, lam_t
        for k in range(2):
            v1, w1, ln, lt = contact.solve_velocity(vcs[k], v1, w1, inv_m, inv_i, ln1[k], lt1[k])
            ln1, lt1 = ln1.at[k].set(ln), lt1.at[k].set(lt)
        same = (jnp.all(v1 == v) & (w1 == w) & jnp.all(ln1 == lam_n) & jnp.all(lt1 == lam_t))
        return i + 1, v1, w1, ln1, lt1, same

    # An iteration that changes nothing is a fixed point: the remaining ones would repeat it,
    # so stopping there gives Box2D's 180 iterations to the bit.
    zeros = jnp.zeros((2, 2), jnp.float32)
    _, v, w, _, _, _ = jax.lax.while_loop(
        lambda carry: (carry[0] < VELOCITY_ITERATIONS) & ~carry[5], velocity_iteration,
        (jnp.int32(0), v, w, zeros, zeros, ~active))
    c_end, a_end, v, w = physics.integrate(c, a, v, w, sub_dt)
    return (c, a), (c_end, a_end), v, w


def _earliest_impact(world, c0, a0, alpha0, events, disabled, edges, active=True):
    """The earliest impact over the pairs still allowed one (module docstring, 2): whether
    there is one, its body and edge, and its time ``alpha`` within the step (none where
    ``~active``)."""
    touching, beta = time_of_impact(c0, a0, world.c, world.a, edges, active)
    alpha = jnp.minimum(alpha0[:, None] + (1.0 - alpha0[:, None]) * beta, 1.0)
    alpha = jnp.where(touching & ~disabled & (events <= MAX_SUB_STEPS), alpha, 1.0).ravel()
    first = jnp.argmin(alpha)
    return world.awake & (alpha[first] < LAST_ALPHA), first // N_EDGES, first % N_EDGES, \
        alpha[first]


def _resolve_impact(carry, edges):
    """Move the body to the impact, update its contacts and take the TOI sub-step (module
    docstring, 3); then find the next impact."""
    world, c0, a0, alpha0, events, disabled, (active, b, e, min_alpha) = carry
    frac = (min_alpha - alpha0[b]) / (1.0 - alpha0[b])
    c_hit = c0[b] + frac * (world.c[b] - c0[b])
    a_hit = a0[b] + frac * (world.a[b] - a0[b])
    at_hit = world.replace(c=world.c.at[b].set(c_hit), a=world.a.at[b].set(a_hit))
    pair = (jnp.arange(3)[:, None] == b) & (jnp.arange(N_EDGES) == e)
    row = (jnp.arange(3)[:, None] == b) & jnp.ones(N_EDGES, bool)
    manifolds = physics.manifolds(at_hit, edges)
    solid = manifolds["count"][b, e] > 0
    updated_pairs = jnp.where(solid, row, pair)
    updated, _ = physics.collide(at_hit, edges, updated_pairs, manifolds)

    # The island: this contact first, then the body's other touching contact (edge order).
    others = (manifolds["count"][b] > 0) & (jnp.arange(N_EDGES) != e)
    second = jnp.argmax(others)
    slots = jnp.stack([e, second])
    island = jax.tree.map(lambda x: x[b, slots], manifolds)
    island["count"] = island["count"] * jnp.stack([1, others[second]]).astype(jnp.int32)
    (c_start, a_start), (c_end, a_end), v, w = _solve_island(
        island, c_hit, a_hit, world.v[b], world.w[b], b, (1.0 - min_alpha) * DT, active)

    moved = updated.replace(c=world.c.at[b].set(c_end), a=world.a.at[b].set(a_end),
                            v=world.v.at[b].set(v), w=world.w.at[b].set(w))
    apart = updated.replace(c=world.c, a=world.a)  # back to its sweep; the contact updated
    world = jax.tree.map(lambda x, y: jnp.where(solid, x, y), moved, apart)
    c0 = jnp.where(solid, c0.at[b].set(c_start), c0)
    a0 = jnp.where(solid, a0.at[b].set(a_start), a0)
    alpha0 = jnp.where(solid, alpha0.at[b].set(min_alpha), alpha0)
    events = events + pair
    disabled = (disabled & ~updated_pairs) | (~solid & pair)
    impact = _earliest_impact(world, c0, a0, alpha0, events, disabled, edges, active)
    return world, c0, a0, alpha0, events, disabled, impact


def solve_toi(start_c, start_a, world: World, edges) -> World:
    """``b2World::SolveTOI`` after a discrete step whose bodies started at ``(start_c,
    start_a)``; a sleeping world takes none (Box2D skips bodies that are not awake)."""
    alpha0 = jnp.zeros(3, jnp.float32)
    events = jnp.zeros((3, N_EDGES), jnp.int32)
    disabled = jnp.zeros((3, N_EDGES), bool)
    impact = _earliest_impact(world, start_c, start_a, alpha0, events, disabled, edges,
                              world.awake)
    carry = jax.lax.while_loop(lambda carry: carry[-1][0],
                               lambda carry: _resolve_impact(carry, edges),
                               (world, start_c, start_a, alpha0, events, disabled, impact))
    return carry[0]
