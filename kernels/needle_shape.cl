/* needle_shape: where a point lies relative to a rigid needle, shared word for word by the host
 * (host/needle.c includes this file with REAL = double) and the contact kernels (host/contact
 * builds kernels/contact.cl with this text in front). Plain C99/OpenCL C: no address-space
 * qualifiers, private arrays only.
 *
 * A needle is a solid of revolution about its axis: a cone of half-angle psi (90 degrees: a flat
 * end) ending in a cylindrical shaft of radius r_shaft, of total length L, every convex edge
 * rounded with the tip radius R (a sphere-tipped cone when R > 0; a sharp flat punch when R = 0).
 * In the half-plane of one axial section, with s along the axis from the tip (s = 0 at the lowest
 * point) and rho >= 0 the distance from the axis, the needle is the set of points within R of the
 * convex "core" polygon
 *     s >= R + rho cot(psi),   rho <= r_shaft - R,   s <= L - R,
 * so the signed distance to its surface is the signed distance to the core minus R (exact for a
 * convex core: the offset of a convex set by R is the set of points within R of it).
 *
 * Parameters (NEEDLE_SHAPE_PARAMS reals, host/needle.h fills them):
 *   [0..2] tip point (the lowest point of the needle), m
 *   [3..5] axis unit vector from the tip towards the base
 *   [6] tip radius R (m)  [7] sin(psi)  [8] cos(psi)  [9] shaft radius (m)  [10] length L (m) */
#ifndef NEEDLE_SHAPE_CL
#define NEEDLE_SHAPE_CL

#ifdef __OPENCL_VERSION__
/* first in the contact program's text: no contraction into FMAs (the host's double arithmetic,
 * the same bits on every device), and doubles enabled before they are used */
#pragma OPENCL FP_CONTRACT OFF
#if REAL_IS_DOUBLE
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif
#endif

#define NEEDLE_SHAPE_PARAMS 11

/* Signed distance in the section plane from (rho, s) to the segment (a_rho, a_s)-(b_rho, b_s):
 * the distance, and the closest point. */
static REAL needle_segment_distance(REAL rho, REAL s, REAL a_rho, REAL a_s, REAL b_rho, REAL b_s, REAL *c_rho,
                                    REAL *c_s)
{
  const REAL d_rho = b_rho - a_rho, d_s = b_s - a_s, length2 = d_rho * d_rho + d_s * d_s;
  REAL t = length2 > 0 ? ((rho - a_rho) * d_rho + (s - a_s) * d_s) / length2 : 0;
  t = t < 0 ? 0 : (t > 1 ? 1 : t);
  *c_rho = a_rho + t * d_rho;
  *c_s = a_s + t * d_s;
  return sqrt((rho - *c_rho) * (rho - *c_rho) + (s - *c_s) * (s - *c_s));
}

/* The signed distance (m; negative inside the needle) of point x[3] from the needle's surface,
 * and the outward unit normal n[3] of the surface at the closest point (for a point inside, the
 * direction that leaves the needle soonest). */
static REAL needle_signed_distance(const REAL *p, const REAL *x, REAL *n)
{
  const REAL R = p[6], sin_psi = p[7], cos_psi = p[8], r_core = p[9] - p[6], s_top = p[10] - p[6];
  REAL rel[3], axial = 0;
  for (int i = 0; i < 3; ++i) {
    rel[i] = x[i] - p[i];
    axial += rel[i] * p[3 + i];
  }
  REAL radial[3], rho2 = 0;
  for (int i = 0; i < 3; ++i) {
    radial[i] = rel[i] - axial * p[3 + i];
    rho2 += radial[i] * radial[i];
  }
  const REAL rho = sqrt(rho2), s = axial;
  /* the core polygon's section: apex (0, R), shoulder (r_core, R + r_core cot psi), top corner
     (r_core, s_top), axis top (0, s_top); the axis side is interior (the section is mirrored) */
  const REAL shoulder_s = R + (sin_psi > 0 ? r_core * cos_psi / sin_psi : 0);
  const REAL v_rho[4] = {0, r_core, r_core, 0}, v_s[4] = {R, shoulder_s, s_top, s_top};
  REAL best = -1, best_rho = 0, best_s = 0;
  for (int e = 0; e < 3; ++e) {
    REAL c_rho, c_s;
    const REAL d = needle_segment_distance(rho, s, v_rho[e], v_s[e], v_rho[e + 1], v_s[e + 1], &c_rho, &c_s);
    if (best < 0 || d < best) {
      best = d;
      best_rho = c_rho;
      best_s = c_s;
    }
  }
  /* inside the core: below no edge's outward side (cone flank outward normal (cos psi, -sin psi)) */
  const int inside = s >= R + rho * (sin_psi > 0 ? cos_psi / sin_psi : 0) && rho <= r_core && s <= s_top;
  /* the normal in the section plane: (n_rho, n_s) */
  REAL n_rho, n_s;
  if (best > 0 && !inside) {
    n_rho = (rho - best_rho) / best;
    n_s = (s - best_s) / best;
  } else {
    /* inside (or on the core): the nearest edge's outward normal */
    const REAL to_flank = (s - R) * sin_psi - rho * cos_psi, to_side = r_core - rho, to_top = s_top - s;
    n_rho = cos_psi;
    n_s = -sin_psi;
    best = to_flank;
    if (to_side < best) {
      best = to_side;
      n_rho = 1;
      n_s = 0;
    }
    if (to_top < best) {
      best = to_top;
      n_rho = 0;
      n_s = 1;
    }
    best = -best;
  }
  /* back to 3-D: e_rho the unit radial direction. On the axis itself any direction normal to it
     will do (n_rho is 0 there for a point below the apex or above the top, but not for one inside
     the cone, whose nearest surface is a whole circle): the one from the basis vector least
     aligned with the axis, so that n stays a unit vector. */
  REAL e_rho[3] = {0, 0, 0};
  if (rho > 0) {
    for (int i = 0; i < 3; ++i) e_rho[i] = radial[i] / rho;
  } else {
    int least = 0;
    for (int i = 1; i < 3; ++i)
      if (fabs(p[3 + i]) < fabs(p[3 + least])) least = i;
    REAL norm2 = 0;
    for (int i = 0; i < 3; ++i) {
      e_rho[i] = (i == least ? 1 : 0) - p[3 + least] * p[3 + i];
      norm2 += e_rho[i] * e_rho[i];
    }
    for (int i = 0; i < 3; ++i) e_rho[i] /= sqrt(norm2);
  }
  for (int i = 0; i < 3; ++i) n[i] = n_rho * e_rho[i] + n_s * p[3 + i];
  return best - R;
}

#endif
