"""Box2D 2.3's polygon-versus-edge contact manifold and contact solver, for LunarLander in JAX.

Sources (pybox2d's bundled Box2D 2.3, the one in the ``Box2D==2.3.10`` wheel):

* :func:`edge_polygon_manifold` = ``b2EPCollider::Collide`` (``Collision/b2CollideEdge.cpp``)
  for an edge without neighbour vertices (Gymnasium's terrain edges have none): the edge
  normal ``n1 = (e.y, -e.x)`` of ``e = (v2 - v1)/|v2 - v1|``; front side if
  ``n1 . (centroid - v1) >= 0``, reference normal ``n = ±n1``; edge separation
  ``min_i n . (p_i - v1)``; polygon separation ``max_i min(-n_i . (p_i - v1), -n_i . (p_i - v2))``
  (no contact if either exceeds ``r = 2 * 0.01``); the polygon axis wins when its separation
  ``> 0.98 * edge + 0.001``; the incident face is clipped against the reference face's sides
  (``b2ClipSegmentToLine``) and points with ``n_ref . (p - v_ref) <= r`` are kept, with their
  feature ids (used to carry impulses over from the last step: ``b2Contact::Update``).
* :func:`world_manifold` = ``b2WorldManifold::Initialize`` (midpoint between the two surfaces).
* :func:`solve_velocity` = ``b2ContactSolver::SolveVelocityConstraints``: friction first,
  clamped to ``mu * lambda_n`` with ``mu = sqrt(mu_A mu_B)`` (``b2MixFriction``), then the
  normal impulses, ``lambda_n >= 0``; two-point manifolds by the block solver (``K`` inverted
  when ``k11^2 < 1000 det K``, otherwise one point only), restitution 0 so no velocity bias.
* :func:`solve_position` = ``b2ContactSolver::SolvePositionConstraints``:
  ``C = clamp(0.2 (s + 0.005), -0.2, 0)``, ``P = -C / K n`` per point; done when the smallest
  separation is ``>= -3 * 0.005``.

Body A is always the static ground here (``invMass = invI = 0``), so only body B moves.
"""

from __future__ import annotations

import jax.numpy as jnp

LINEAR_SLOP = 0.005
ANGULAR_SLOP = 2.0 / 180.0 * 3.14159265359
POLYGON_RADIUS = 2.0 * LINEAR_SLOP
TOTAL_RADIUS = 2.0 * POLYGON_RADIUS
BAUMGARTE = 0.2
MAX_LINEAR_CORRECTION = 0.2
MAX_CONDITION_NUMBER = 1000.0
FACE, VERTEX = 1, 0


def cross(a, b):
    """2-D cross product ``a.x b.y - a.y b.x``."""
    return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]


def cross_sv(s, v):
    """``b2Cross(float s, b2Vec2 v) = (-s v.y, s v.x)``."""
    return jnp.stack([-s * v[..., 1], s * v[..., 0]], axis=-1)


def rotate(angle, v):
    """``b2Mul(b2Rot(angle), v)``."""
    c, s = jnp.cos(angle), jnp.sin(angle)
    return jnp.stack([c * v[..., 0] - s * v[..., 1], s * v[..., 0] + c * v[..., 1]], axis=-1)


def rotate_t(angle, v):
    """``b2MulT(b2Rot(angle), v)``."""
    c, s = jnp.cos(angle), jnp.sin(angle)
    return jnp.stack([c * v[..., 0] + s * v[..., 1], -s * v[..., 0] + c * v[..., 1]], axis=-1)


def feature_key(index_a, index_b, type_a, type_b):
    """A unique integer per ``b2ContactFeature`` (Box2D packs the four bytes into ``id.key``)."""
    return index_a + 16 * index_b + 256 * type_a + 512 * type_b


def _clip(points, ids, side_normal, offset, vertex_index_a):
    """``b2ClipSegmentToLine``: ``points`` (2, 2) with feature ids (2, 4) as
    ``(indexA, indexB, typeA, typeB)``; returns two output slots, their ids and the count."""
    d0 = jnp.dot(side_normal, points[0]) - offset
    d1 = jnp.dot(side_normal, points[1]) - offset
    denom = jnp.where(d0 - d1 == 0.0, 1.0, d0 - d1)
    mid = points[0] + (d0 / denom) * (points[1] - points[0])
    keep0, keep1, crosses = d0 <= 0.0, d1 <= 0.0, d0 * d1 < 0.0
    mid_id = jnp.stack([vertex_index_a, ids[0, 1], VERTEX, FACE])
    cand_pts = jnp.stack([points[0], points[1], mid])
    cand_ids = jnp.stack([ids[0], ids[1], mid_id])
    slots = jnp.stack([jnp.where(keep0, 0, jnp.where(keep1, 1, 2)),
                       jnp.where(keep0 & keep1, 1, 2)])
    count = keep0.astype(jnp.int32) + keep1.astype(jnp.int32) + crosses.astype(jnp.int32)
    return cand_pts[slots], cand_ids[slots], count


def edge_polygon_manifold(v1, v2, poly_local, normals_local, centroid_local, pos, angle):
    """``b2CollideEdgeAndPolygon`` for one edge ``(v1, v2)`` and one polygon at ``(pos, angle)``.

    Returns a dict with ``count`` (0..2), ``face_a`` (True: reference face on the edge,
    ``e_faceA``; False: ``e_faceB``), ``local_normal``, ``local_point``, ``points`` (2, 2)
    (manifold local points) and ``keys`` (2,) feature keys; points beyond ``count`` are junk.
    """
    n_poly = poly_local.shape[0]
    poly_local, normals_local = jnp.asarray(poly_local), jnp.asarray(normals_local)
    centroid = pos + rotate(angle, centroid_local)
    edge = (v2 - v1) / jnp.linalg.norm(v2 - v1)
    normal1 = jnp.stack([edge[1], -edge[0]])
    front = jnp.dot(normal1, centroid - v1) >= 0.0
    normal = jnp.where(front, normal1, -normal1)
    verts = pos + rotate(angle, poly_local)
    norms = rotate(angle, normals_local)

    edge_sep = jnp.min(verts @ normal - jnp.dot(normal, v1))
    s_poly = jnp.minimum(jnp.sum(-norms * (verts - v1), -1), jnp.sum(-norms * (verts - v2), -1))
    poly_index = jnp.argmax(s_poly)
    poly_sep = s_poly[poly_index]
    separated = (edge_sep > TOTAL_RADIUS) | jnp.any(s_poly > TOTAL_RADIUS)
    use_edge = ~(poly_sep > 0.98 * edge_sep + 0.001)

    # Edge reference face: the incident face is the polygon face most anti-parallel to n.
    i1 = jnp.argmin(norms @ normal)
    i2 = (i1 + 1) % n_poly
    # Polygon reference face: face poly_index, incident segment the edge.
    j1 = poly_index
    j2 = (j1 + 1) % n_poly
    ie = jnp.where(use_edge, jnp.stack([verts[i1], verts[i2]]), jnp.stack([v1, v2]))
    ie_index_b = jnp.where(use_edge, jnp.stack([i1, i2]), jnp.stack([j1, j1]))
    rf_i1 = jnp.where(use_edge, jnp.where(front, 0, 1), j1)
    rf_i2 = jnp.where(use_edge, jnp.where(front, 1, 0), j2)
    rf_v1 = jnp.where(use_edge, jnp.where(front, v1, v2), verts[j1])
    rf_v2 = jnp.where(use_edge, jnp.where(front, v2, v1), verts[j2])
    rf_normal = jnp.where(use_edge, jnp.where(front, normal1, -normal1), norms[j1])
    side1 = jnp.stack([rf_normal[1], -rf_normal[0]])
    # Incident-vertex ids as (indexA, indexB, typeA, typeB) before clipping.
    type_a = jnp.where(use_edge, FACE, VERTEX)
    type_b = jnp.where(use_edge, VERTEX, FACE)
    ids = jnp.stack([jnp.stack([jnp.int32(0) * ie_index_b[k], ie_index_b[k], type_a, type_b])
                     for k in range(2)])
    pts1, ids1, n1 = _clip(ie, ids, side1, jnp.dot(side1, rf_v1), rf_i1)
    clipped, ids2, n2 = _clip(pts1, ids1, -side1, jnp.dot(-side1, rf_v2), rf_i2)
    sep = clipped @ rf_normal - jnp.dot(rf_normal, rf_v1)
    valid = (sep <= TOTAL_RADIUS) & ~separated & (n1 >= 2) & (n2 >= 2)
    # e_faceB swaps the feature's A and B fields.
    keys = jnp.where(use_edge, feature_key(ids2[:, 0], ids2[:, 1], ids2[:, 2], ids2[:, 3]),
                     feature_key(ids2[:, 1], ids2[:, 0], ids2[:, 3], ids2[:, 2]))
    local_pts = jnp.where(use_edge, rotate_t(angle, clipped - pos), clipped)
    # Compact: a kept second point moves to slot 0 when the first is dropped.
    order = jnp.where(valid[0], jnp.array([0, 1]), jnp.array([1, 0]))
    return {
        "count": jnp.sum(valid.astype(jnp.int32)),
        "face_a": use_edge,
        "local_normal": jnp.where(use_edge, rf_normal, normals_local[j1]),
        "local_point": jnp.where(use_edge, rf_v1, poly_local[j1]),
        "points": local_pts[order],
        "keys": keys[order],
    }


def manifold_points_world(m, pos_b, angle_b):
    """World normal (ground to body), separations and points of a manifold for body B at
    ``(pos_b, angle_b)`` (``b2PositionSolverManifold::Initialize``; body A is the ground)."""
    face_a = m["face_a"]
    normal_b = rotate(angle_b, m["local_normal"])
    plane_b = pos_b + rotate(angle_b, m["local_point"])
    clip_b = pos_b + rotate(angle_b, m["points"])
    # e_faceA: plane on the edge (world frame), clip points on the body.
    sep_a = (clip_b - m["local_point"]) @ m["local_normal"] - TOTAL_RADIUS
    # e_faceB: plane on the body, clip points on the edge; normal flipped to point A -> B.
    sep_b = (m["points"] - plane_b) @ normal_b - TOTAL_RADIUS
    normal = jnp.where(face_a, m["local_normal"], -normal_b)
    points = jnp.where(face_a, clip_b, m["points"])
    return normal, jnp.where(face_a, sep_a, sep_b), points


def world_manifold(m, pos_b, angle_b):
    """``b2WorldManifold::Initialize``: normal (A to B) and the contact points, midway between
    the two surfaces (each pushed out by its radius ``0.01``)."""
    face_a = m["face_a"]
    normal_b = rotate(angle_b, m["local_normal"])
    plane_b = pos_b + rotate(angle_b, m["local_point"])
    clip_b = pos_b + rotate(angle_b, m["points"])
    n_a = m["local_normal"]
    ca = clip_b + (POLYGON_RADIUS - (clip_b - m["local_point"]) @ n_a)[:, None] * n_a
    pa = 0.5 * (ca + clip_b - POLYGON_RADIUS * n_a)
    cb = m["points"] + (POLYGON_RADIUS - (m["points"] - plane_b) @ normal_b)[:, None] * normal_b
    pb = 0.5 * (m["points"] - POLYGON_RADIUS * normal_b + cb)
    return jnp.where(face_a, n_a, -normal_b), jnp.where(face_a, pa, pb)


def init_constraint(m, c, a, local_center, inv_mass, inv_i, friction):
    """``InitializeVelocityConstraints`` for one contact of body B with the static ground."""
    pos = c - rotate(a, local_center)
    normal, points = world_manifold(m, pos, a)
    r = points - c
    tangent = jnp.stack([normal[1], -normal[0]])
    rn, rt = cross(r, normal), cross(r, tangent)
    normal_mass = 1.0 / (inv_mass + inv_i * rn * rn)
    tangent_mass = 1.0 / (inv_mass + inv_i * rt * rt)
    k11 = inv_mass + inv_i * rn[0] * rn[0]
    k22 = inv_mass + inv_i * rn[1] * rn[1]
    k12 = inv_mass + inv_i * rn[0] * rn[1]
    det = k11 * k22 - k12 * k12
    two = (m["count"] == 2) & (k11 * k11 < MAX_CONDITION_NUMBER * det)
    inv_det = jnp.where(det != 0.0, 1.0 / jnp.where(det != 0.0, det, 1.0), 0.0)
    count = jnp.where((m["count"] == 2) & ~two, 1, m["count"])
    return {
        "count": count, "normal": normal, "tangent": tangent, "r": r, "friction": friction,
        "normal_mass": normal_mass, "tangent_mass": tangent_mass,
        "k": jnp.array([[k11, k12], [k12, k22]]),
        "k_inv": inv_det * jnp.array([[k22, -k12], [-k12, k11]]),
    }


def _apply(v, w, inv_mass, inv_i, r, p):
    return v + inv_mass * p, w + inv_i * cross(r, p)


def solve_velocity(vc, v, w, inv_mass, inv_i, lam_n, lam_t):
    """One pass of ``b2ContactSolver::SolveVelocityConstraints`` over one contact."""
    n, t, r = vc["normal"], vc["tangent"], vc["r"]
    for j in range(2):
        on = j < vc["count"]
        dv = v + cross_sv(w, r[j])
        lam = vc["tangent_mass"][j] * -jnp.dot(dv, t)
        max_f = vc["friction"] * lam_n[j]
        new = jnp.clip(lam_t[j] + lam, -max_f, max_f)
        d = jnp.where(on, new - lam_t[j], 0.0)
        lam_t = lam_t.at[j].add(d)
        v, w = _apply(v, w, inv_mass, inv_i, r[j], d * t)
    # One point.
    dv = v + cross_sv(w, r[0])
    new0 = jnp.maximum(lam_n[0] - vc["normal_mass"][0] * jnp.dot(dv, n), 0.0)
    one_v, one_w = _apply(v, w, inv_mass, inv_i, r[0], (new0 - lam_n[0]) * n)
    one = jnp.stack([new0, lam_n[1]])
    # Block solver: try both active, first only, second only, none.
    vn = jnp.stack([jnp.dot(v + cross_sv(w, r[0]), n), jnp.dot(v + cross_sv(w, r[1]), n)])
    b = vn - vc["k"] @ lam_n
    x_both = -(vc["k_inv"] @ b)
    x_first = jnp.stack([-vc["normal_mass"][0] * b[0], 0.0])
    x_second = jnp.stack([0.0, -vc["normal_mass"][1] * b[1]])
    ok_both = (x_both[0] >= 0.0) & (x_both[1] >= 0.0)
    ok_first = (x_first[0] >= 0.0) & (vc["k"][1, 0] * x_first[0] + b[1] >= 0.0)
    ok_second = (x_second[1] >= 0.0) & (vc["k"][0, 1] * x_second[1] + b[0] >= 0.0)
    ok_none = (b[0] >= 0.0) & (b[1] >= 0.0)
    x = jnp.where(ok_both, x_both, jnp.where(ok_first, x_first, jnp.where(
        ok_second, x_second, jnp.where(ok_none, jnp.zeros(2), lam_n))))
    d = x - lam_n
    two_v = v + inv_mass * (d[0] + d[1]) * n
    two_w = w + inv_i * (cross(r[0], d[0] * n) + cross(r[1], d[1] * n))
    is_two, is_one = vc["count"] == 2, vc["count"] == 1
    v = jnp.where(is_two, two_v, jnp.where(is_one, one_v, v))
    w = jnp.where(is_two, two_w, jnp.where(is_one, one_w, w))
    lam_n = jnp.where(is_two, x, jnp.where(is_one, one, lam_n))
    return v, w, lam_n, lam_t


def solve_position(m, c, a, local_center, inv_mass, inv_i, baumgarte=BAUMGARTE):
    """``b2ContactSolver::SolvePositionConstraints`` for one contact (``baumgarte`` 0.75 for
    ``SolveTOIPositionConstraints``); returns the new ``c, a`` and the smallest separation
    seen."""
    min_sep = jnp.float32(0.0)
    for j in range(2):
        on = j < m["count"]
        pos = c - rotate(a, local_center)
        normal, sep, points = manifold_points_world(m, pos, a)
        r = points[j] - c
        rn = cross(r, normal)
        C = jnp.clip(baumgarte * (sep[j] + LINEAR_SLOP), -MAX_LINEAR_CORRECTION, 0.0)
        k = inv_mass + inv_i * rn * rn
        p = jnp.where(on & (k > 0.0), -C / k, 0.0) * normal
        c = c + inv_mass * p
        a = a + inv_i * cross(r, p)
        min_sep = jnp.where(on, jnp.minimum(min_sep, sep[j]), min_sep)
    return c, a, min_sep
