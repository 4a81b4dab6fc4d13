"""The bodies of Gymnasium's LunarLander as Box2D 2.3 sees them: shapes, mass properties, leg
anchors, and the step size ``DT = 1/FPS``.

Index 0 is the lander (polygon ``LANDER_POLY/30``, density 5), 1 ``legs[0]`` and 2 ``legs[1]``
(boxes ``2/30 x 8/30`` half-extents, density 1). Mass, centre of mass and rotational inertia
follow ``b2PolygonShape::ComputeMass`` (:func:`polygon_mass`).
"""

from __future__ import annotations

import numpy as np

SCALE = 30.0
FPS = 50
DT = 1.0 / FPS
LANDER_POLY = ((17, -10), (17, 0), (14, 17), (-14, 17), (-17, 0), (-17, -10))
LEG_AWAY, LEG_DOWN, LEG_W, LEG_H = 20.0, 18.0, 2.0, 8.0


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
