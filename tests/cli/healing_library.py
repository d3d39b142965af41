"""Checks stage 2's injury field against the channel a library entry describes (tests/cli/healing_library.sh).

Usage: healing_library.py RUN_DIR X0_UM Y0_UM RADIUS_UM DEPTH_UM RING_UM DAMAGE TILT_DEG TOTAL_M3

The entry (tests/write_cylinder_library.c) is an open cylinder of RADIUS about an axis through
(X0, Y0) on the surface, DEPTH deep along the axis, wrapped by a ring out to RING_UM of damage DAMAGE.
Reference values come from that geometry, not from pinprick:
 - elements wholly inside the cylinder all carry the same injured fraction f0 (the entry's density
   is 1 there; the per-channel scale makes f0 the ratio of the exact volume to its quadrature), with
   f0 within 20 % of 1 (a 4x4x4-point quadrature of the cylinder on these elements);
 - elements wholly inside the ring carry DAMAGE x f0;
 - elements wholly outside the injury carry exactly 0;
 - sum of fraction x element volume = TOTAL (the entry's volume), to 1e-10;
 - the injured volume's centroid lies within 3 um of the analytic one, computed here on a fine grid
   of the channel's indicator (for a tilted axis, the shape the stage uses: s along the axis from the
   surface point, s < 0 below the surface counted with row 0)."""
import sys

import h5py
import numpy as np

run, x0, y0, radius, depth, ring, damage, tilt, total = sys.argv[1:10]
x0, y0, radius, depth, ring = (float(v) * 1e-6 for v in (x0, y0, radius, depth, ring))
damage, tilt, total = float(damage), np.radians(float(tilt)), float(total)
direction = np.array([np.sin(tilt), 0.0, -np.cos(tilt)])

with h5py.File(f"{run}/healing/mesh.h5", "r") as f:
    points = f["mesh/points"][...]
    hexes = f["mesh/hexes"][...]
with h5py.File(f"{run}/healing/step_000000.h5", "r") as f:
    fraction = f["fields/injury"][...]
top = points[:, 2].max()
corners = points[hexes]  # [elements, 8, 3], VTK order

# Element volumes: 2x2x2 Gauss of the trilinear map's determinant (exact for it).
vtk_signs = np.array([[-1, -1, -1], [1, -1, -1], [1, 1, -1], [-1, 1, -1],
                      [-1, -1, 1], [1, -1, 1], [1, 1, 1], [-1, 1, 1]], float)
volume = np.zeros(len(hexes))
centroid = np.zeros((len(hexes), 3))
g = 1 / np.sqrt(3)
for xi in np.array(np.meshgrid([-g, g], [-g, g], [-g, g])).reshape(3, -1).T:
    shape = np.prod(1 + vtk_signs * xi, axis=1) / 8
    dshape = np.stack([vtk_signs[:, d] * np.prod(np.delete(1 + vtk_signs * xi, d, axis=1), axis=1) / 8
                       for d in range(3)], axis=1)  # [8, 3]
    jac = np.einsum("eki,kj->eij", corners, dshape)
    det = np.linalg.det(jac)
    volume += det
    centroid += det[:, None] * np.einsum("eki,k->ei", corners, shape)
centroid /= volume[:, None]

failures = 0
def check(name, ok, detail):
    global failures
    print(("ok: " if ok else "FAIL: ") + f"{name}: {detail}")
    failures += 0 if ok else 1

injured = fraction * volume
check("injured volume = the entry's", abs(injured.sum() - total) <= 1e-10 * total,
      f"{injured.sum():.12e} m3 against {total:.12e} m3")

v = corners - np.array([x0, y0, top])
s = v @ direction
r = np.linalg.norm(v - s[..., None] * direction, axis=2)
if tilt == 0:
    # nearest and farthest lateral distance of each (box-shaped) element from the vertical axis
    low, high = corners[:, :, :2].min(axis=1), corners[:, :, :2].max(axis=1)
    gap = np.maximum(0, np.maximum(low - [x0, y0], [x0, y0] - high))
    r_min = np.hypot(gap[:, 0], gap[:, 1])
    r_max, s_min, s_max = r.max(axis=1), s.min(axis=1), s.max(axis=1)
    inside = (r_max < radius) & (s_max < depth)
    in_ring = (r_min > radius) & (r_max < ring) & (s_max < depth)
    outside = (r_min > ring) | (s_min > depth)
    f0 = fraction[inside]
    check("elements wholly inside the cylinder", len(f0) > 0 and np.ptp(f0) <= 1e-12 * f0.max()
          and abs(f0.mean() - 1) < 0.2, f"{len(f0)} elements, fraction {f0.min():.15g} .. {f0.max():.15g}")
    if damage > 0 and len(f0):
        fr = fraction[in_ring] / f0[0]
        check("elements wholly inside the damage ring", len(fr) > 0 and np.abs(fr - damage).max() <= 1e-12,
              f"{len(fr)} elements, fraction / f0 {fr.min() if len(fr) else 0:.15g} .. {fr.max() if len(fr) else 0:.15g} against {damage}")
    check("elements wholly outside carry nothing", outside.sum() > 0 and np.all(fraction[outside] == 0),
          f"{outside.sum()} elements, largest {fraction[outside].max():.3g}")

# Analytic centroid of the channel's injured density on a 1 um grid (independent of the mesh).
h = 1e-6
reach = ring + depth * abs(np.sin(tilt)) + 2 * h
gx = np.arange(x0 - reach, x0 + reach, h) + h / 2
gy = np.arange(y0 - ring - h, y0 + ring + h, h) + h / 2
gz = top - (np.arange(0, depth + ring + 2 * h, h) + h / 2)
X, Y, Z = np.meshgrid(gx, gy, gz, indexing="ij")
V = np.stack([X - x0, Y - y0, Z - top], axis=-1)
S = V @ direction
R = np.linalg.norm(V - S[..., None] * direction, axis=-1)
density = np.where(R < radius, 1.0, np.where(R < ring, damage, 0.0)) * (S < depth)
expected = np.array([(density * c).sum() / density.sum() for c in (X, Y, Z)])
got = (injured[:, None] * centroid).sum(axis=0) / injured.sum()
error = np.abs(got - expected).max()
check("centroid of the injured volume", error < 3e-6,
      f"({got[0]*1e6:.2f}, {got[1]*1e6:.2f}, {got[2]*1e6:.2f}) um against ({expected[0]*1e6:.2f}, "
      f"{expected[1]*1e6:.2f}, {expected[2]*1e6:.2f}) um, {error*1e6:.2f} um off")
sys.exit(1 if failures else 0)
