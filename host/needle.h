/* needle: rigid needles. It owns a needle's shape (a sphere-tipped cone on a cylindrical shaft,
 * or a flat-ended punch), the device presets that `needle.preset` chooses, and each needle's
 * stroke: where it enters the skin, along which direction, and how far it has gone at time t.
 * From these it fills the parameter array of kernels/needle_shape.cl (the signed distance the
 * contact uses, evaluated here on the host with REAL = double) and the needle's rigid
 * velocity. The contact itself is host/contact. A plain module: no MPI, no OpenCL.
 *
 * Frame (host/mesh.h): z up, the undeformed skin surface at z = 0, the skin below it. A needle
 * moves along a unit direction d pointing into the skin (default (0, 0, -1)); its axis, from
 * the tip towards the base, is -d. It starts with its tip approach_gap above the surface, on
 * the line through its entry point (x, y, 0), and its travel s (m, along d) goes
 *   insertion   0 <= t < T_in:            s from 0 to D = (approach_gap + insertion_depth) / (-d_z),
 *                                          i.e. until the tip is insertion_depth below the surface;
 *   dwell       T_in <= t < T_in + dwell: at rest at D;
 *   withdrawal  until T_end:               back to s = 0 at the withdrawal speed; at rest after.
 * Speed profiles (each phase alike, v its speed): constant, s = v t with T = D / v (the speed
 * jumps at the ends of a phase); or half_sine, a pen stroke starting and stopping at rest,
 * speed v sin(pi t / T) with T = pi D / (2 v) so that the phase covers D exactly, i.e.
 * s = (D / 2)(1 - cos(pi t / T)); v is then the peak speed.
 * A tilt (roller entry) turns d about the y axis by the right-hand rule: (0, 0, -1) becomes
 * (-sin tilt, 0, -cos tilt), and the axis turns with it. */
#ifndef PP_NEEDLE_H
#define PP_NEEDLE_H

#include "config.h"
#include "error.h"

/* Reals in the parameter array of kernels/needle_shape.cl (NEEDLE_SHAPE_PARAMS there; needle.c
 * asserts they agree): [0..2] tip point (m), [3..5] axis unit vector from the tip towards the
 * base, [6] tip radius, [7] sin psi, [8] cos psi, [9] shaft radius, [10] length. */
#define PP_NEEDLE_SHAPE_PARAMS 11

typedef struct {
  double length;               /* m, from the tip (its lowest point) to the base */
  double tip_radius;           /* m, R: rounds the tip and every convex edge (0: sharp) */
  double cone_half_angle;      /* rad, psi in (0, pi/2]; pi/2 is a flat end (with R = 0 a flat punch) */
  double shaft_radius;         /* m, the cylinder the cone widens into */
  double friction_coefficient; /* Coulomb coefficient of the skin on the needle */
} pp_needle_shape;

typedef enum { PP_NEEDLE_SPEED_CONSTANT = 0, PP_NEEDLE_SPEED_HALF_SINE = 1 } pp_needle_speed_profile;

typedef struct {
  double entry[3];         /* where the axis meets the undeformed surface; entry[2] = 0 */
  double direction[3];     /* unit vector of motion into the skin (direction[2] < 0) */
  double approach_gap;     /* m, height of the tip above the surface at t = 0 (>= 0) */
  double insertion_depth;  /* m, tip depth below the surface at the end of insertion (> 0) */
  double insertion_speed;  /* m/s (> 0): the speed, or the peak speed of a half_sine */
  double dwell;            /* s, at rest at full depth (>= 0) */
  double withdrawal_speed; /* m/s (> 0), as insertion_speed */
  pp_needle_speed_profile speed_profile;
  double start_time;       /* s (>= 0): the needle waits at its approach position until then */
} pp_needle_trajectory;

typedef struct {
  pp_needle_shape shape;
  pp_needle_trajectory trajectory;
} pp_needle;

/* ---- shape ------------------------------------------------------------------------------------ */

/* The half-angle of a conical needle (the cone runs from the tip to the base) of this length,
 * tip radius and base radius: tan psi = (base_radius - R) / (length - 2 R). The needle is the set
 * of points within R of a triangle core (kernels/needle_shape.cl), apex (0, R), top corner
 * (base_radius - R, length - R) in (radius, distance from the tip); so it is exactly `length`
 * long, its widest circle has radius base_radius (the rim at length - R), and with shaft radius
 * base_radius the cone meets the shaft at the base. R = 0 gives atan(base_radius / length). */
double pp_needle_conical_half_angle(double length, double tip_radius, double base_radius);

/* A conical needle (shaft radius = base_radius, psi from pp_needle_conical_half_angle). */
pp_needle_shape pp_needle_shape_conical(double length, double tip_radius, double base_radius,
                                        double friction_coefficient);

/* The length a needle needs for its cone to widen to the shaft radius: 2 R + (r_shaft - R) cot psi
 * (the core's shoulder, R + (r_shaft - R) cot psi from the tip, plus the rounding above it; 2 R
 * for a flat end). At most the length (pp_needle_shape_check); equal to it for a conical needle. */
double pp_needle_cone_reach(const pp_needle_shape *shape);

/* PP_ERR_ARGUMENT naming the field when a shape is not one kernels/needle_shape.cl describes:
 * non-positive length, R < 0, psi outside (0, pi/2], r_shaft <= R, 2 R >= length, a cone that
 * does not reach the shaft within the length, a negative friction coefficient. */
pp_err pp_needle_shape_check(const pp_needle_shape *shape);

/* Signed distance (m; negative inside the needle) of x[3] from the surface of the needle
 * params describes, and the outward unit normal at the closest surface point. */
double pp_needle_shape_signed_distance(const double params[PP_NEEDLE_SHAPE_PARAMS], const double x[3],
                                       double normal[3]);

/* ---- trajectory ------------------------------------------------------------------------------ */

/* The direction of motion for a tilt (rad) about the y axis: (-sin tilt, 0, -cos tilt). */
void pp_needle_tilted_direction(double tilt, double direction[3]);

/* PP_ERR_ARGUMENT naming the field when a trajectory is unusable (see the field comments). */
pp_err pp_needle_trajectory_check(const pp_needle_trajectory *trajectory);

/* D: the travel of insertion, (approach_gap + insertion_depth) / (-direction[2]). */
double pp_needle_stroke_length(const pp_needle_trajectory *trajectory);
/* T_in, the insertion's duration, and T_end = start_time + T_in + dwell + T_out, when the stroke
 * ends (s). */
double pp_needle_insertion_time(const pp_needle_trajectory *trajectory);
double pp_needle_end_time(const pp_needle_trajectory *trajectory);

/* The tip's travel s(t) along the direction (m, 0 at t <= start_time and at t >= T_end) and, when
 * velocity is not NULL, ds/dt (m/s; negative while withdrawing, 0 at rest). */
double pp_needle_travel(const pp_needle_trajectory *trajectory, double t, double *velocity);
/* Depth of the tip below the undeformed surface (m; negative while above it): s(t) (-d_z) - gap. */
double pp_needle_tip_depth(const pp_needle_trajectory *trajectory, double t);
/* The tip point at time t. */
void pp_needle_tip_position(const pp_needle_trajectory *trajectory, double t, double tip[3]);

/* The shape parameters at time t (the tip moved along the trajectory, the axis -direction) and,
 * when velocity is not NULL, the needle's rigid velocity (m/s; every point moves alike). */
void pp_needle_params(const pp_needle *needle, double t, double params[PP_NEEDLE_SHAPE_PARAMS],
                      double velocity[3]);

/* ---- presets and config ------------------------------------------------------------------------ */

/* A device preset: needle.* values as a case file writes them, which `needle.preset: NAME` puts
 * under the file (host/config.c: keys written in the file or given by --set win). The sources of
 * the numbers are the comments in needle.c. */
typedef struct {
  const char *key;   /* "needle.length" */
  const char *value; /* "770 um" */
} pp_needle_preset_value;

typedef struct {
  const char *name;        /* "dermaroller": a choice of needle.preset */
  const char *description; /* the device, in a few words */
  const pp_needle_preset_value *values;
  int value_count;
} pp_needle_preset;

/* The presets, in the order of needle.preset's choices after "none". */
const pp_needle_preset *pp_needle_presets(int *count);
/* NULL for "none" or an unknown name. */
const pp_needle_preset *pp_needle_find_preset(const char *name);

/* The shape from needle.length, tip_radius, base_diameter, cone_half_angle (0: conical, psi from
 * pp_needle_conical_half_angle), shaft_diameter (0: base_diameter) and friction_coefficient. */
pp_err pp_needle_shape_from_config(const pp_config *config, pp_needle_shape *shape);
/* The stroke of a needle entering at (entry_x, entry_y, 0), from needle.insertion_depth,
 * insertion_speed, approach_gap, dwell, withdrawal_speed (0: insertion_speed), speed_profile and
 * tilt. */
pp_err pp_needle_trajectory_from_config(const pp_config *config, double entry_x, double entry_y,
                                        pp_needle_trajectory *trajectory);
/* One needle per pair (mesh.refine_x[i], mesh.refine_y[j]), the needle axes of the cell (the
 * healing stage releases growth factors on the same lattice), all of one shape and stroke, in the
 * order i slowest: needle i * ny + j. *needles is allocated (free() it); an empty lattice is a
 * PP_ERR_CONFIG naming both keys. */
pp_err pp_needles_from_config(const pp_config *config, pp_needle **needles, int *count);

#endif
