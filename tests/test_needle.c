/* host/needle: the signed distance of kernels/needle_shape.cl (through the host copy) against
 * distances derived by hand in the axial section, for a sphere-tipped cone on a shaft and for a
 * flat punch; its normal against the finite-difference gradient of the distance; the derived
 * half-angle of a conical needle; the stroke (travel, depth, velocity, end time) of both speed
 * profiles at chosen times against closed forms; the tilt; the presets' numbers; the needle
 * lattice of a config.
 *
 * Geometry is checked in a frame that is not the grid's: the axis a = (1, 2, 2) / 3 and the
 * radial direction e = (2, -1, 0) / sqrt 5 (a . e = 0), a point being tip + s a + rho e with s
 * the distance along the axis from the needle's lowest point and rho the distance from it. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "needle.h"

#define UM 1e-6
#define DEG (M_PI / 180)

static const double tip_point[3] = {100 * UM, -200 * UM, 30 * UM};
static const double axis[3] = {1.0 / 3, 2.0 / 3, 2.0 / 3};

static void radial_unit(double e[3])
{
  e[0] = 2 / sqrt(5.0);
  e[1] = -1 / sqrt(5.0);
  e[2] = 0;
}

/* The parameter array of a needle standing still with its tip at tip_point, axis `axis`. */
static void shape_params(const pp_needle_shape *shape, double params[PP_NEEDLE_SHAPE_PARAMS])
{
  pp_needle needle;
  memset(&needle, 0, sizeof needle);
  needle.shape = *shape;
  /* At rest at t < 0 the tip sits approach_gap above the entry, along -direction: put the entry
   * where that lands the tip on tip_point (entry[2] is then not 0, which only the check minds). */
  needle.trajectory.approach_gap = 0;
  needle.trajectory.insertion_depth = 1 * UM;
  needle.trajectory.insertion_speed = needle.trajectory.withdrawal_speed = 1;
  for (int i = 0; i < 3; ++i) {
    needle.trajectory.entry[i] = tip_point[i];
    needle.trajectory.direction[i] = -axis[i];
  }
  pp_needle_params(&needle, -1.0, params, NULL);
  for (int i = 0; i < 3; ++i) {
    ck_assert_double_eq_tol(params[i], tip_point[i], 1e-18);
    ck_assert_double_eq_tol(params[3 + i], axis[i], 1e-16);
  }
}

/* tip + s a + rho e */
static void section_point(double s, double rho, double x[3])
{
  double e[3];
  radial_unit(e);
  for (int i = 0; i < 3; ++i) x[i] = tip_point[i] + s * axis[i] + rho * e[i];
}

/* The distance at (s, rho) must be expected (m, to 1e-15 m); the normal n_rho e + n_s a. */
static void check_point(const double params[PP_NEEDLE_SHAPE_PARAMS], double s, double rho, double expected,
                        double n_rho, double n_s, const char *what)
{
  double x[3], normal[3], e[3];
  section_point(s, rho, x);
  radial_unit(e);
  double distance = pp_needle_shape_signed_distance(params, x, normal);
  ck_assert_msg(fabs(distance - expected) <= 1e-15, "%s: distance %.12g um, expected %.12g um", what, distance / UM,
                expected / UM);
  for (int i = 0; i < 3; ++i)
    ck_assert_msg(fabs(normal[i] - (n_rho * e[i] + n_s * axis[i])) <= 1e-12, "%s: normal[%d] %.15g, expected %.15g",
                  what, i, normal[i], n_rho * e[i] + n_s * axis[i]);
}

/* The normal is the gradient of the distance (central differences, h = 0.1 nm), away from edges
 * and from the medial axis where the nearest surface point jumps. */
static void check_gradient(const double params[PP_NEEDLE_SHAPE_PARAMS], double s, double rho, const char *what)
{
  double x[3], normal[3];
  section_point(s, rho, x);
  pp_needle_shape_signed_distance(params, x, normal);
  const double h = 1e-10;
  for (int i = 0; i < 3; ++i) {
    double up[3] = {x[0], x[1], x[2]}, down[3] = {x[0], x[1], x[2]}, ignored[3];
    up[i] += h;
    down[i] -= h;
    double gradient = (pp_needle_shape_signed_distance(params, up, ignored) -
                       pp_needle_shape_signed_distance(params, down, ignored)) / (2 * h);
    ck_assert_msg(fabs(gradient - normal[i]) <= 1e-6, "%s: d/dx%d %.9f, normal %.9f", what, i, gradient, normal[i]);
  }
}

/* ---- shape ---------------------------------------------------------------------------------------- */

/* A sphere-tipped 30 degree cone, R = 10 um, on a 60 um shaft, 500 um long. In the section
 * (rho, s), um: the core is apex (0, 10), shoulder (50, 10 + 50 cot 30 = 96.60), top corner
 * (50, 490); the needle is the set of points within R = 10 of it. */
static pp_needle_shape cone30(void)
{
  pp_needle_shape shape = {500 * UM, 10 * UM, 30 * DEG, 60 * UM, 0.2};
  return shape;
}

START_TEST(cone_distances_by_hand)
{
  const pp_needle_shape shape = cone30();
  ck_assert_int_eq(pp_needle_shape_check(&shape), PP_OK);
  double p[PP_NEEDLE_SHAPE_PARAMS];
  shape_params(&shape, p);
  const double c = cos(30 * DEG), sn = sin(30 * DEG);
  /* Below the tip on the axis, 20 um below its lowest point: 20 um, normal -a. */
  check_point(p, -20 * UM, 0, 20 * UM, 0, -1, "below the tip");
  /* Beside the shaft, rho = 100 at s = 300 (between shoulder and top): 100 - 60 = 40, normal e. */
  check_point(p, 300 * UM, 100 * UM, 40 * UM, 1, 0, "beside the shaft");
  /* Off the cone flank at (rho, s) = (40, 30). The core flank is the line s = R + rho cot psi, outward
   * normal (cos psi, -sin psi); the point's distance from it is rho cos psi - (s - R) sin psi =
   * 40 cos 30 - 20 sin 30 = 20 sqrt 3 - 10 = 24.64, and its foot (40, 30) - 24.64 (cos 30, -sin 30)
   * = (18.66, 42.32) lies between apex and shoulder, so the surface (R further out) is 20 sqrt 3 - 20
   * = 14.641 um away, normal cos 30 e - sin 30 a. */
  check_point(p, 30 * UM, 40 * UM, (20 * sqrt(3.0) - 20) * UM, c, -sn, "off the flank");
  /* Off the rounded tip: 30 um from the sphere's centre (0, 10), 45 degrees below e, i.e. (rho, s)
   * = (30 cos 45, 10 - 30 sin 45). The flank's outward normal is only 30 degrees below e, so the
   * point lies beyond the sphere's tangent line with the flank and the sphere is nearest: 30 - 10. */
  check_point(p, (10 - 30 * sin(45 * DEG)) * UM, 30 * cos(45 * DEG) * UM, 20 * UM, cos(45 * DEG), -sin(45 * DEG),
              "off the rounded tip");
  /* Above the base, on the axis, 5 um above the top face at s = 500: 5 um, normal a. */
  check_point(p, 505 * UM, 0, 5 * UM, 0, 1, "above the base");
  /* Inside: (rho, s) = (30, 200) is in the core (s >= 10 + 30 cot 30 = 61.96, rho <= 50, s <= 490);
   * the shaft side (50 - 30 = 20) is nearer than the flank line ((200 - 10) sin 30 - 30 cos 30 = 69.0)
   * and the top (290): the surface is 20 + R = 30 um away, inside: -30, normal e. */
  check_point(p, 200 * UM, 30 * UM, -30 * UM, 1, 0, "inside the shaft");
  /* Inside near the tip on the axis, s = 15: in the core, 2.5 from the core flank line ((15 - 10)
   * sin 30), 475 from the top: -(2.5 + 10). The nearest surface is a whole circle; the normal is
   * that of the flank towards some direction e' normal to the axis, a unit vector (it was -sin 30 a,
   * of length 0.5, before needle_shape.cl chose e' on the axis). */
  {
    double x[3], n[3];
    section_point(15 * UM, 0, x);
    ck_assert_double_eq_tol(pp_needle_shape_signed_distance(p, x, n), -12.5 * UM, 1e-15);
    const double along = n[0] * axis[0] + n[1] * axis[1] + n[2] * axis[2];
    ck_assert_double_eq_tol(n[0] * n[0] + n[1] * n[1] + n[2] * n[2], 1, 1e-14);
    ck_assert_double_eq_tol(along, -sn, 1e-14); /* and cos 30 across the axis */
  }
  /* Inside the rounded tip but below the core (s = 5 < 10 on the axis): 5 from the sphere's
   * centre, so 10 - 5 = 5 inside: -5, normal -a. */
  check_point(p, 5 * UM, 0, -5 * UM, 0, -1, "inside the rounded tip");

  check_gradient(p, 30 * UM, 40 * UM, "off the flank");
  check_gradient(p, 300 * UM, 100 * UM, "beside the shaft");
  check_gradient(p, -20 * UM, 7 * UM, "below the tip, off the axis");
  check_gradient(p, 20 * UM, 25 * UM, "near the flank, outside");
  check_gradient(p, 40 * UM, 12 * UM, "near the flank, inside");
  check_gradient(p, 150 * UM, 45 * UM, "inside near the shaft");
  check_gradient(p, 496 * UM, 62 * UM, "off the rounded rim");
}
END_TEST

/* A flat punch: psi = 90 degrees, R = 0, radius 50 um, 500 um long; its core is the rectangle
 * 0 <= s <= 500, rho <= 50 itself. */
START_TEST(flat_punch_by_hand)
{
  const pp_needle_shape shape = {500 * UM, 0, M_PI_2, 50 * UM, 0};
  ck_assert_int_eq(pp_needle_shape_check(&shape), PP_OK);
  double p[PP_NEEDLE_SHAPE_PARAMS];
  shape_params(&shape, p);
  ck_assert(p[7] == 1 && p[8] == 0); /* no cone at all: cos psi exactly 0 */
  /* Under the flat end: straight down to it. */
  check_point(p, -30 * UM, 20 * UM, 30 * UM, 0, -1, "below the flat end");
  /* Below and beside the sharp edge (R = 0): the nearest point is the edge circle (50, 0), at
   * sqrt(30^2 + 40^2) = 50 from (80, -40); normal (30, -40) / 50. */
  check_point(p, -40 * UM, 80 * UM, 50 * UM, 0.6, -0.8, "off the edge");
  check_point(p, 100 * UM, 70 * UM, 20 * UM, 1, 0, "beside the punch");
  /* Inside: (10, 30) is 30 above the end face, 40 from the side, 470 from the top: -30, normal -a. */
  check_point(p, 30 * UM, 10 * UM, -30 * UM, 0, -1, "inside, near the end");
  check_point(p, 300 * UM, 45 * UM, -5 * UM, 1, 0, "inside, near the side");
  /* On the end face: 0. */
  check_point(p, 0, 25 * UM, 0, 0, -1, "on the end face");
  check_gradient(p, -40 * UM, 80 * UM, "off the edge");
  check_gradient(p, -30 * UM, 20 * UM, "below the end");
  check_gradient(p, 30 * UM, 10 * UM, "inside");

  /* The same punch with its edge rounded, R = 10: the core is the rectangle 10 <= s <= 490,
   * rho <= 40; from (80, -40) the nearest core point is its corner (40, 10): sqrt(40^2 + 50^2) - 10. */
  const pp_needle_shape blunt = {500 * UM, 10 * UM, M_PI_2, 50 * UM, 0};
  ck_assert_int_eq(pp_needle_shape_check(&blunt), PP_OK);
  shape_params(&blunt, p);
  const double corner = sqrt(40.0 * 40 + 50.0 * 50);
  check_point(p, -40 * UM, 80 * UM, (corner - 10) * UM, 40 / corner, -50 / corner, "off the rounded edge");
  check_point(p, -30 * UM, 20 * UM, 30 * UM, 0, -1, "below the blunt end");
}
END_TEST

/* The DermaRoller needle (Kalluri 2011): L = 770, base radius b = 70, R = 4 um, conical. The
 * derived half-angle is tan psi = (b - R) / (L - 2 R) = 66 / 762 (needle.h), near atan(b / L); with
 * R = 0 it is atan(b / L) exactly. The needle then ends exactly at L, is exactly b wide at its rim
 * (rho = b at s = L - R), and its cone meets the shaft at the base. */
START_TEST(conical_needle_reaches_the_base)
{
  ck_assert_double_eq_tol(pp_needle_conical_half_angle(770 * UM, 4 * UM, 70 * UM), atan(66.0 / 762.0), 1e-15);
  ck_assert_double_eq_tol(pp_needle_conical_half_angle(770 * UM, 0, 70 * UM), atan(70.0 / 770.0), 1e-15);
  ck_assert_double_eq_tol(pp_needle_conical_half_angle(770 * UM, 4 * UM, 70 * UM) / DEG, 4.9503, 1e-4);
  const pp_needle_shape shape = pp_needle_shape_conical(770 * UM, 4 * UM, 70 * UM, 0.2);
  ck_assert_int_eq(pp_needle_shape_check(&shape), PP_OK);
  ck_assert(shape.shaft_radius == 70 * UM && shape.friction_coefficient == 0.2);
  ck_assert_double_eq_tol(pp_needle_cone_reach(&shape), 770 * UM, 1e-18);
  double p[PP_NEEDLE_SHAPE_PARAMS];
  shape_params(&shape, p);
  check_point(p, 766 * UM, 70 * UM, 0, 1, 0, "the rim, at its widest");
  check_point(p, 766 * UM, 71 * UM, 1 * UM, 1, 0, "beside the rim");
  check_point(p, 773 * UM, 0, 3 * UM, 0, 1, "above the base");
  check_point(p, -3 * UM, 0, 3 * UM, 0, -1, "below the tip");
  /* Half-way up: the core flank point at s = 385 has rho_c = (385 - R) tan psi; the surface point
   * R out from it along the flank's outward normal (cos psi, -sin psi) is on the needle. */
  const double psi = shape.cone_half_angle, rho_core = (385 - 4) * tan(psi);
  const double surface_rho = rho_core + 4 * cos(psi), surface_s = 385 - 4 * sin(psi);
  check_point(p, surface_s * UM, surface_rho * UM, 0, cos(psi), -sin(psi), "on the flank half-way up");
}
END_TEST

START_TEST(impossible_shapes_are_refused)
{
  pp_needle_shape shape = cone30();
  shape.cone_half_angle = 0;
  ck_assert_int_eq(pp_needle_shape_check(&shape), PP_ERR_ARGUMENT);
  ck_assert_ptr_nonnull(strstr(pp_error_message(), "cone_half_angle"));
  shape = cone30();
  shape.cone_half_angle = 3 * DEG; /* 2 R + 50 cot 3 = 974 um > 500 um */
  ck_assert_int_eq(pp_needle_shape_check(&shape), PP_ERR_ARGUMENT);
  ck_assert_ptr_nonnull(strstr(pp_error_message(), "reaches the shaft radius 60 um only 974.05"));
  shape = cone30();
  shape.shaft_radius = 10 * UM;
  ck_assert_int_eq(pp_needle_shape_check(&shape), PP_ERR_ARGUMENT);
  ck_assert_ptr_nonnull(strstr(pp_error_message(), "shaft_radius"));
  shape = cone30();
  shape.friction_coefficient = -0.1;
  ck_assert_int_eq(pp_needle_shape_check(&shape), PP_ERR_ARGUMENT);
  pp_error_clear();
}
END_TEST

/* ---- trajectory ----------------------------------------------------------------------------------- */

/* gap 20 um, depth 100 um, 0.5 m/s in, 10 us dwell, 0.25 m/s out, straight down at (300, 400) um:
 * the stroke is D = 120 um. */
static pp_needle_trajectory stroke(pp_needle_speed_profile profile)
{
  pp_needle_trajectory t = {{300 * UM, 400 * UM, 0}, {0, 0, -1}, 20 * UM, 100 * UM, 0.5, 10e-6, 0.25, profile, 0};
  ck_assert_int_eq(pp_needle_trajectory_check(&t), PP_OK);
  return t;
}

static void check_state(const pp_needle_trajectory *t, double time, double depth, double velocity)
{
  double v = 0;
  pp_needle_travel(t, time, &v);
  ck_assert_msg(fabs(pp_needle_tip_depth(t, time) - depth) <= 1e-15, "t = %g us: depth %.12g um, expected %.12g um",
                time * 1e6, pp_needle_tip_depth(t, time) / UM, depth / UM);
  ck_assert_msg(fabs(v - velocity) <= 1e-13, "t = %g us: velocity %.15g, expected %.15g", time * 1e6, v, velocity);
}

START_TEST(constant_speed_stroke)
{
  const pp_needle_trajectory t = stroke(PP_NEEDLE_SPEED_CONSTANT);
  ck_assert_double_eq_tol(pp_needle_stroke_length(&t), 120 * UM, 1e-18);
  /* 120 um at 0.5 m/s: 240 us in; 120 um at 0.25 m/s: 480 us out; 240 + 10 + 480 = 730 us. */
  ck_assert_double_eq_tol(pp_needle_insertion_time(&t), 240e-6, 1e-18);
  ck_assert_double_eq_tol(pp_needle_end_time(&t), 730e-6, 1e-18);
  check_state(&t, -1e-6, -20 * UM, 0);        /* before: at rest, 20 um above */
  check_state(&t, 0, -20 * UM, 0.5);
  check_state(&t, 40e-6, 0, 0.5);             /* 20 um travelled: touching */
  check_state(&t, 100e-6, 30 * UM, 0.5);      /* 50 um travelled */
  check_state(&t, 245e-6, 100 * UM, 0);       /* dwell */
  check_state(&t, 330e-6, 80 * UM, -0.25);    /* 80 us out: 20 um back */
  check_state(&t, 729e-6, -19.75 * UM, -0.25);
  check_state(&t, 800e-6, -20 * UM, 0);       /* after: back at the start */
  double tip[3];
  pp_needle_tip_position(&t, 100e-6, tip);
  ck_assert_double_eq_tol(tip[0], 300 * UM, 1e-18);
  ck_assert_double_eq_tol(tip[1], 400 * UM, 1e-18);
  ck_assert_double_eq_tol(tip[2], -30 * UM, 1e-18);
}
END_TEST

START_TEST(half_sine_stroke)
{
  const pp_needle_trajectory t = stroke(PP_NEEDLE_SPEED_HALF_SINE);
  /* T = pi D / (2 v): the integral of v sin(pi t / T) over T is 2 v T / pi = D. */
  const double in = M_PI * 120 * UM / (2 * 0.5), out = M_PI * 120 * UM / (2 * 0.25);
  ck_assert_double_eq_tol(pp_needle_insertion_time(&t), in, 1e-18);
  ck_assert_double_eq_tol(pp_needle_end_time(&t), in + 10e-6 + out, 1e-18);
  check_state(&t, 0, -20 * UM, 0);                                 /* starts at rest */
  check_state(&t, in / 3, (60 * (1 - cos(M_PI / 3)) - 20) * UM, 0.5 * sin(M_PI / 3)); /* 30 um in */
  check_state(&t, in / 2, 40 * UM, 0.5);                           /* half way at the peak speed */
  check_state(&t, in + 5e-6, 100 * UM, 0);
  check_state(&t, in + 10e-6 + out / 2, 40 * UM, -0.25);
  check_state(&t, in + 10e-6 + out * 0.999999, -20 * UM + 60 * UM * (1 - cos(M_PI * 1e-6)),
              -0.25 * sin(M_PI * 1e-6)); /* almost back: cos(pi - x) = -cos x */
  check_state(&t, in + 10e-6 + out + 1e-9, -20 * UM, 0);
  /* The velocity is the derivative of the travel. */
  for (double f = 0.1; f < 1; f += 0.2) {
    const double time = f * in, h = 1e-12;
    double v = 0;
    pp_needle_travel(&t, time, &v);
    const double derivative = (pp_needle_travel(&t, time + h, NULL) - pp_needle_travel(&t, time - h, NULL)) / (2 * h);
    ck_assert_msg(fabs(derivative - v) <= 1e-6 * 0.5, "t = %g: ds/dt %.9g, v %.9g", time, derivative, v);
  }
}
END_TEST

/* Tilted 30 degrees about y: direction (-1/2, 0, -sqrt 3 / 2), the axis its opposite. The tip
 * starts 20 um above the surface on the axis through the entry point, so 20 tan 30 = 11.547 um
 * towards +x of it; it crosses z = 0 at the entry point; the vertical depth 100 um takes a travel
 * of 120 / cos 30 = 138.564 um. */
START_TEST(tilted_stroke)
{
  double d[3];
  pp_needle_tilted_direction(30 * DEG, d);
  ck_assert_double_eq_tol(d[0], -0.5, 1e-16);
  ck_assert(d[1] == 0);
  ck_assert_double_eq_tol(d[2], -sqrt(3.0) / 2, 1e-15);
  pp_needle needle = {cone30(), stroke(PP_NEEDLE_SPEED_CONSTANT)};
  memcpy(needle.trajectory.direction, d, sizeof d);
  ck_assert_int_eq(pp_needle_trajectory_check(&needle.trajectory), PP_OK);
  const double travel = 120 / cos(30 * DEG);
  ck_assert_double_eq_tol(pp_needle_stroke_length(&needle.trajectory), travel * UM, 1e-18);
  ck_assert_double_eq_tol(pp_needle_insertion_time(&needle.trajectory), travel * UM / 0.5, 1e-18);
  double p[PP_NEEDLE_SHAPE_PARAMS], v[3];
  pp_needle_params(&needle, 0, p, v);
  ck_assert_double_eq_tol(p[0], (300 + 20 * tan(30 * DEG)) * UM, 1e-18);
  ck_assert_double_eq_tol(p[1], 400 * UM, 1e-18);
  ck_assert_double_eq_tol(p[2], 20 * UM, 1e-18);
  ck_assert_double_eq_tol(p[3], 0.5, 1e-15);
  ck_assert_double_eq_tol(p[5], sqrt(3.0) / 2, 1e-15);
  ck_assert_double_eq_tol(v[0], -0.25, 1e-15);
  ck_assert_double_eq_tol(v[2], -0.5 * sqrt(3.0) / 2, 1e-15);
  /* Touching (travel 20 / cos 30): the tip is at the entry point. */
  const double touch = 20 / cos(30 * DEG) * UM / 0.5;
  pp_needle_params(&needle, touch, p, NULL);
  ck_assert_double_eq_tol(p[0], 300 * UM, 1e-18);
  ck_assert_double_eq_tol(p[2], 0, 1e-18);
  ck_assert_double_eq_tol(pp_needle_tip_depth(&needle.trajectory, touch), 0, 1e-18);
  /* At full depth the tip is 100 um down and at rest. A point 7 um further along the direction is
   * 7 um below the needle; a point 300 um up the axis and 63 um off it along y (perpendicular to
   * the tilted axis) is 3 um off the 60 um shaft. */
  const double full = pp_needle_insertion_time(&needle.trajectory) + 5e-6;
  pp_needle_params(&needle, full, p, v);
  ck_assert_double_eq_tol(p[2], -100 * UM, 1e-18);
  ck_assert(v[0] == 0 && v[1] == 0 && v[2] == 0);
  double x[3], n[3];
  for (int i = 0; i < 3; ++i) x[i] = p[i] + 7 * UM * d[i];
  ck_assert_double_eq_tol(pp_needle_shape_signed_distance(p, x, n), 7 * UM, 1e-15);
  const double side[3] = {0, 1, 0}; /* perpendicular to the tilted axis */
  for (int i = 0; i < 3; ++i) x[i] = p[i] - 300 * UM * d[i] + 63 * UM * side[i];
  ck_assert_double_eq_tol(pp_needle_shape_signed_distance(p, x, n), 3 * UM, 1e-15);
  ck_assert_double_eq_tol(n[1], 1, 1e-12);
}
END_TEST

/* ---- presets and config --------------------------------------------------------------------------- */

static void load(pp_config *config, const char *text)
{
  pp_error_clear();
  ck_assert_int_eq(pp_config_init(config), PP_OK);
  pp_err err = pp_config_load_text(config, "needle.yaml", text);
  ck_assert_msg(err == PP_OK, "%s", pp_error_message());
  err = pp_config_validate(config);
  ck_assert_msg(err == PP_OK, "%s", pp_error_message());
}

START_TEST(preset_numbers)
{
  static const struct {
    const char *name;
    double length, tip_radius, shaft_radius, half_angle, speed;
    pp_needle_speed_profile profile;
  } expected[] = {
    /* Kalluri 2011: 770 um, base 140 um, tip 4 um; conical: tan psi = 66 / 762 */
    {"dermaroller", 770 * UM, 4 * UM, 70 * UM, atan(66.0 / 762.0), 0.5, PP_NEEDLE_SPEED_CONSTANT},
    /* 0.25 mm shaft, 2.5 mm, a 10 degree cone, half-sine stroke at 0.5 m/s peak */
    {"pen", 2.5e-3, 4 * UM, 125 * UM, 10 * DEG, 0.5, PP_NEEDLE_SPEED_HALF_SINE},
    /* 600 um, base 300 um, tip 10 um; conical: tan psi = 140 / 580 */
    {"polymer", 600 * UM, 10 * UM, 150 * UM, atan(140.0 / 580.0), 0.5, PP_NEEDLE_SPEED_CONSTANT},
  };
  for (size_t i = 0; i < sizeof expected / sizeof expected[0]; ++i) {
    char text[128];
    snprintf(text, sizeof text, "schema_version: 1\nneedle:\n  preset: %s\n", expected[i].name);
    pp_config config;
    load(&config, text);
    pp_needle_shape shape;
    ck_assert_int_eq(pp_needle_shape_from_config(&config, &shape), PP_OK);
    ck_assert_msg(fabs(shape.length - expected[i].length) <= 1e-18, "%s length %g", expected[i].name, shape.length);
    ck_assert_msg(fabs(shape.tip_radius - expected[i].tip_radius) <= 1e-20, "%s tip", expected[i].name);
    ck_assert_msg(fabs(shape.shaft_radius - expected[i].shaft_radius) <= 1e-20, "%s shaft", expected[i].name);
    ck_assert_msg(fabs(shape.cone_half_angle - expected[i].half_angle) <= 1e-14, "%s psi %.15g degrees",
                  expected[i].name, shape.cone_half_angle / DEG);
    ck_assert_double_eq_tol(shape.friction_coefficient, 0.2, 1e-16); /* no preset sets it */
    pp_needle_trajectory trajectory;
    ck_assert_int_eq(pp_needle_trajectory_from_config(&config, 0, 0, &trajectory), PP_OK);
    ck_assert_int_eq(trajectory.speed_profile, expected[i].profile);
    ck_assert_double_eq_tol(trajectory.insertion_speed, expected[i].speed, 1e-15);
    pp_config_free(&config);
  }
  /* The presets' half-angles in degrees, for people: 4.95, 10, 13.57. */
  ck_assert_double_eq_tol(atan(140.0 / 580.0) / DEG, 13.57, 0.01);
}
END_TEST

/* 2 x 2 needle axes: four needles, i (x) slowest, each entering at its axis with the config's
 * stroke; the defaults: withdrawal at the insertion speed, straight down, no gap. */
START_TEST(needles_from_config)
{
  pp_config config;
  load(&config, "schema_version: 1\n"
                "mesh:\n  refine_x: [100 um, 300 um]\n  refine_y: [200 um, 500 um]\n"
                "needle:\n  approach_gap: 10 um\n  dwell: 20 us\n  tilt: 5 degree\n  friction_coefficient: 0.3\n");
  pp_needle *needles = NULL;
  int count = 0;
  ck_assert_int_eq(pp_needles_from_config(&config, &needles, &count), PP_OK);
  ck_assert_int_eq(count, 4);
  const double xs[4] = {100, 100, 300, 300}, ys[4] = {200, 500, 200, 500};
  for (int k = 0; k < count; ++k) {
    const pp_needle_trajectory *t = &needles[k].trajectory;
    ck_assert_double_eq_tol(t->entry[0], xs[k] * UM, 1e-18);
    ck_assert_double_eq_tol(t->entry[1], ys[k] * UM, 1e-18);
    ck_assert(t->entry[2] == 0);
    ck_assert_double_eq_tol(t->direction[0], -sin(5 * DEG), 1e-16);
    ck_assert_double_eq_tol(t->direction[2], -cos(5 * DEG), 1e-16);
    ck_assert_double_eq_tol(t->approach_gap, 10 * UM, 1e-20);
    ck_assert_double_eq_tol(t->insertion_depth, 0.5e-3, 1e-18);
    ck_assert_double_eq_tol(t->insertion_speed, 0.5, 1e-16);
    ck_assert_double_eq_tol(t->withdrawal_speed, 0.5, 1e-16); /* 0 = the insertion speed */
    ck_assert_double_eq_tol(t->dwell, 20e-6, 1e-20);
    ck_assert_int_eq(t->speed_profile, PP_NEEDLE_SPEED_CONSTANT);
    /* the default shape: 1 mm, 4 um tip, 140 um base, conical */
    ck_assert_double_eq_tol(needles[k].shape.length, 1e-3, 1e-18);
    ck_assert_double_eq_tol(needles[k].shape.cone_half_angle, atan(66.0 / 992.0), 1e-15);
    ck_assert_double_eq_tol(needles[k].shape.friction_coefficient, 0.3, 1e-16);
  }
  /* (0.5 mm + 10 um) / cos 5 at 0.5 m/s, twice, plus the dwell */
  ck_assert_double_eq_tol(pp_needle_end_time(&needles[0].trajectory), 2 * 510e-6 / cos(5 * DEG) / 0.5 + 20e-6, 1e-15);
  for (int k = 0; k < count; ++k) ck_assert(needles[k].trajectory.start_time == 0); /* no stagger: all at once */
  free(needles);
  pp_config_free(&config);

  /* A roller row: each row along y starts needle.stagger after the one before and then moves as the
     first did (the same stroke shifted in time); the run's end moves with the last row. */
  load(&config, "schema_version: 1\n"
                "mesh:\n  refine_x: [100 um]\n  refine_y: [200 um, 500 um, 800 um]\n"
                "needle:\n  stagger: 30 us\n");
  ck_assert_int_eq(pp_needles_from_config(&config, &needles, &count), PP_OK);
  ck_assert_int_eq(count, 3);
  const double stroke_end = pp_needle_end_time(&needles[0].trajectory);
  for (int k = 0; k < count; ++k) {
    const pp_needle_trajectory *t = &needles[k].trajectory;
    ck_assert_double_eq_tol(t->start_time, k * 30e-6, 1e-20);
    ck_assert_double_eq_tol(pp_needle_end_time(t), stroke_end + k * 30e-6, 1e-18);
    double v_first = 0, v_this = 0;
    for (double tau = 0; tau < stroke_end; tau += stroke_end / 7) {
      /* (start + tau) - start is tau to rounding: 1e-21 s of a 0.5 m/s stroke */
      ck_assert_double_eq_tol(pp_needle_travel(t, t->start_time + tau, &v_this),
                              pp_needle_travel(&needles[0].trajectory, tau, &v_first), 1e-15);
      ck_assert_double_eq_tol(v_this, v_first, 1e-12);
    }
    /* waiting at the approach position before its start, at rest */
    if (k > 0) {
      ck_assert(pp_needle_travel(t, t->start_time - 1e-6, &v_this) == 0);
      ck_assert(v_this == 0);
    }
  }
  free(needles);
  pp_config_free(&config);

  /* No axes, no needles: an error naming the keys. */
  load(&config, "schema_version: 1\nmesh:\n  refine_x: []\n");
  ck_assert_int_eq(pp_needles_from_config(&config, &needles, &count), PP_ERR_CONFIG);
  ck_assert_ptr_nonnull(strstr(pp_error_message(), "mesh.refine_x (0 positions)"));
  ck_assert_ptr_null(needles);
  ck_assert_int_eq(count, 0);
  pp_config_free(&config);
}
END_TEST

int main(void)
{
  Suite *suite = suite_create("needle");
  TCase *shape = tcase_create("shape");
  tcase_add_test(shape, cone_distances_by_hand);
  tcase_add_test(shape, flat_punch_by_hand);
  tcase_add_test(shape, conical_needle_reaches_the_base);
  tcase_add_test(shape, impossible_shapes_are_refused);
  suite_add_tcase(suite, shape);
  TCase *trajectory = tcase_create("trajectory");
  tcase_add_test(trajectory, constant_speed_stroke);
  tcase_add_test(trajectory, half_sine_stroke);
  tcase_add_test(trajectory, tilted_stroke);
  suite_add_tcase(suite, trajectory);
  TCase *config = tcase_create("config");
  tcase_add_test(config, preset_numbers);
  tcase_add_test(config, needles_from_config);
  suite_add_tcase(suite, config);
  SRunner *runner = srunner_create(suite);
  srunner_run_all(runner, CK_NORMAL);
  int failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
