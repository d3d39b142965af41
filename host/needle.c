/* needle: shapes, presets and strokes of rigid needles (see needle.h). */
#include "needle.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REAL double
#include "needle_shape.cl"

_Static_assert(PP_NEEDLE_SHAPE_PARAMS == NEEDLE_SHAPE_PARAMS, "needle.h and kernels/needle_shape.cl disagree");

/* ---- presets ------------------------------------------------------------------------------------ */
/* Values as a case file writes them; host/config.c reads them with the file reader's converters,
 * so a wrong unit or a value out of range fails test_config. Keys a preset leaves out keep their
 * defaults (friction: no preset measured its own, see needle.friction_coefficient). */

/* DermaRoller, Kalluri, Kolli & Banga 2011, AAPS J 13:473 (PMC3160154), the device whose channels
 * PHYSICS.md 3.3 uses for validation: 770 um needles, base width 140 um, tip radius 4 um
 * (PHYSICS.md 3.1, [checked]). Conical from the tip to the base (psi derived, 4.95 degrees).
 * Roller needles enter as straight insertions at the drum's tangent speed (PHYSICS.md 3.1), so the
 * speed stays constant. The default case differs only in its 1.0 mm length. */
static const pp_needle_preset_value dermaroller_values[] = {
  {"needle.length", "770 um"},            /* Kalluri 2011 [checked] */
  {"needle.tip_radius", "4 um"},          /* Kalluri 2011 [checked] */
  {"needle.base_diameter", "140 um"},     /* Kalluri 2011: base width [checked] */
  {"needle.cone_half_angle", "0 degree"}, /* conical: derived from the three above */
  {"needle.shaft_diameter", "0 um"},      /* = base_diameter */
  {"needle.speed_profile", "constant"},   /* PHYSICS.md 3.1: straight insertion at the tangent speed */
};

/* Pen cartridge needle (Dermapen and similar; PHYSICS.md 3.2). Cartridges hold 0.2-0.4 mm thick
 * needles [checked]: a 0.25 mm shaft. Depth is adjustable up to 2.5 mm [checked]: the modelled
 * needle is the 2.5 mm that can protrude. The stroke is roughly sinusoidal at 90-150 Hz, peak tip
 * speed about 0.5 m/s ([derived], UNCONFIRMED: no direct measurement): a half_sine profile.
 * UNCONFIRMED: no measured pen-needle tip geometry was found. The tip radius is the DermaRoller's
 * 4 um (Kalluri 2011), a stand-in for a ground steel point; the 10 degree half-angle is a judgement
 * (a point ground over about 0.7 mm, twice the DermaRoller's 5 degree taper) to be replaced by a
 * micrograph of the cartridge used. */
static const pp_needle_preset_value pen_values[] = {
  {"needle.length", "2.5 mm"},             /* deepest Dermapen setting [checked, PHYSICS.md 3.2] */
  {"needle.tip_radius", "4 um"},           /* UNCONFIRMED: the DermaRoller's (Kalluri 2011) as a stand-in */
  {"needle.base_diameter", "250 um"},      /* 0.2-0.4 mm cartridge needles [checked, PHYSICS.md 3.2] */
  {"needle.cone_half_angle", "10 degree"}, /* UNCONFIRMED: judgement, see above */
  {"needle.shaft_diameter", "0 um"},       /* = base_diameter: the cone widens into the 0.25 mm shaft */
  {"needle.insertion_speed", "0.5 m/s"},   /* peak tip speed, PHYSICS.md 3.2 [derived, UNCONFIRMED] */
  {"needle.speed_profile", "half_sine"},   /* roughly sinusoidal stroke, PHYSICS.md 3.2 */
};

/* Polymer microneedle of Olatunji, Das, Garland, Belaid & Donnelly 2013, J Pharm Sci 102:1209
 * (PHYSICS.md 4 and V9a: 0.021-0.030 N per needle). PHYSICS.md gives no geometry for it.
 * Base width 300 um [derived]: the abstract (PubMed 23359221) pairs the gaps at the base and at the
 * tips as 30 / 330 um and 600 / 900 um, so the base is 300 um wider than the tip. Height 600 um
 * UNCONFIRMED: the same group's laser-micromoulded Gantrez AN-139 needles are 600 and 900 um tall
 * (Donnelly et al. 2011, Pharm Res 28:41, PMC3016610, abstract), the shorter taken. Tip radius
 * 10 um UNCONFIRMED: moulded polymer tips are blunter than ground steel; no value was found.
 * Conical (psi derived, 13.6 degrees). Olatunji's bench speeds (0.5-1 mm/s) are left to the case:
 * they need mass scaling (PHYSICS.md 9.4, mechanics.mass_scaling_step). */
static const pp_needle_preset_value polymer_values[] = {
  {"needle.length", "600 um"},            /* UNCONFIRMED: Donnelly 2011's 600 um needles */
  {"needle.tip_radius", "10 um"},         /* UNCONFIRMED: judgement for a moulded tip */
  {"needle.base_diameter", "300 um"},     /* [derived] from Olatunji 2013's base/tip gaps */
  {"needle.cone_half_angle", "0 degree"}, /* conical */
  {"needle.shaft_diameter", "0 um"},      /* = base_diameter */
  {"needle.speed_profile", "constant"},   /* bench insertion at constant speed (Olatunji 2013) */
};

#define PRESET(NAME, DESCRIPTION, VALUES) {NAME, DESCRIPTION, VALUES, (int)(sizeof VALUES / sizeof VALUES[0])}
/* Same order as the choices of needle.preset after "none" (test_config checks it). */
static const pp_needle_preset preset_table[] = {
  PRESET("dermaroller", "DermaRoller steel needle (Kalluri 2011)", dermaroller_values),
  PRESET("pen", "pen cartridge steel needle, 0.25 mm shaft (PHYSICS.md 3.2)", pen_values),
  PRESET("polymer", "moulded polymer microneedle (Olatunji 2013)", polymer_values),
};
#undef PRESET
enum { PRESET_COUNT = (int)(sizeof preset_table / sizeof preset_table[0]) };

const pp_needle_preset *pp_needle_presets(int *count)
{
  if (count) *count = PRESET_COUNT;
  return preset_table;
}

const pp_needle_preset *pp_needle_find_preset(const char *name)
{
  for (int p = 0; name && p < PRESET_COUNT; ++p)
    if (strcmp(preset_table[p].name, name) == 0) return &preset_table[p];
  return NULL;
}

/* ---- shape -------------------------------------------------------------------------------------- */

double pp_needle_conical_half_angle(double length, double tip_radius, double base_radius)
{
  return atan2(base_radius - tip_radius, length - 2 * tip_radius);
}

pp_needle_shape pp_needle_shape_conical(double length, double tip_radius, double base_radius,
                                        double friction_coefficient)
{
  pp_needle_shape shape = {length, tip_radius, pp_needle_conical_half_angle(length, tip_radius, base_radius),
                           base_radius, friction_coefficient};
  return shape;
}

/* cos(pi/2) is 6e-17, not 0: a flat end gets an exact 0 (and sin 1), so it has no cone at all. */
static void half_angle_sin_cos(double psi, double *sin_psi, double *cos_psi)
{
  if (psi >= M_PI_2) {
    *sin_psi = 1;
    *cos_psi = 0;
  } else {
    *sin_psi = sin(psi);
    *cos_psi = cos(psi);
  }
}

double pp_needle_cone_reach(const pp_needle_shape *shape)
{
  double sin_psi, cos_psi;
  half_angle_sin_cos(shape->cone_half_angle, &sin_psi, &cos_psi);
  return 2 * shape->tip_radius + (shape->shaft_radius - shape->tip_radius) * cos_psi / sin_psi;
}

pp_err pp_needle_shape_check(const pp_needle_shape *shape)
{
  PP_CHECK(shape != NULL, PP_ERR_ARGUMENT, "needle shape: NULL");
  const double um = 1e6;
  PP_CHECK(shape->length > 0 && isfinite(shape->length), PP_ERR_ARGUMENT,
           "needle shape: length %g um, expected a positive length", shape->length * um);
  PP_CHECK(shape->tip_radius >= 0 && 2 * shape->tip_radius < shape->length, PP_ERR_ARGUMENT,
           "needle shape: tip_radius %g um, expected 0 <= 2 x tip_radius < length (%g um)", shape->tip_radius * um,
           shape->length * um);
  PP_CHECK(shape->cone_half_angle > 0 && shape->cone_half_angle <= M_PI_2 * (1 + 1e-15), PP_ERR_ARGUMENT,
           "needle shape: cone_half_angle %g degrees, expected more than 0 and at most 90",
           shape->cone_half_angle * 180 / M_PI);
  PP_CHECK(shape->shaft_radius > shape->tip_radius, PP_ERR_ARGUMENT,
           "needle shape: shaft_radius %g um, expected more than the tip radius %g um", shape->shaft_radius * um,
           shape->tip_radius * um);
  /* The core polygon of needle_shape.cl must be convex: its shoulder at or below its top. */
  const double reach = pp_needle_cone_reach(shape);
  PP_CHECK(reach <= shape->length * (1 + 1e-12), PP_ERR_ARGUMENT,
           "needle shape: a %g degree cone from a %g um tip reaches the shaft radius %g um only %g um from the "
           "tip, beyond the length %g um (widen the cone or shorten the shaft radius)",
           shape->cone_half_angle * 180 / M_PI, shape->tip_radius * um, shape->shaft_radius * um, reach * um,
           shape->length * um);
  PP_CHECK(shape->friction_coefficient >= 0 && isfinite(shape->friction_coefficient), PP_ERR_ARGUMENT,
           "needle shape: friction_coefficient %g, expected 0 or more", shape->friction_coefficient);
  return PP_OK;
}

double pp_needle_shape_signed_distance(const double params[PP_NEEDLE_SHAPE_PARAMS], const double x[3],
                                       double normal[3])
{
  return needle_signed_distance(params, x, normal);
}

/* ---- trajectory --------------------------------------------------------------------------------- */

void pp_needle_tilted_direction(double tilt, double direction[3])
{
  direction[0] = -sin(tilt);
  direction[1] = 0;
  direction[2] = -cos(tilt);
}

pp_err pp_needle_trajectory_check(const pp_needle_trajectory *trajectory)
{
  PP_CHECK(trajectory != NULL, PP_ERR_ARGUMENT, "needle trajectory: NULL");
  const double *d = trajectory->direction;
  const double norm = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
  PP_CHECK(fabs(norm - 1) <= 1e-12, PP_ERR_ARGUMENT, "needle trajectory: direction (%g, %g, %g) is not a unit vector",
           d[0], d[1], d[2]);
  PP_CHECK(d[2] < 0, PP_ERR_ARGUMENT, "needle trajectory: direction (%g, %g, %g) does not point into the skin (-z)",
           d[0], d[1], d[2]);
  PP_CHECK(trajectory->entry[2] == 0, PP_ERR_ARGUMENT,
           "needle trajectory: entry point at z = %g m, expected on the surface z = 0", trajectory->entry[2]);
  PP_CHECK(trajectory->approach_gap >= 0, PP_ERR_ARGUMENT, "needle trajectory: approach_gap %g m, expected >= 0",
           trajectory->approach_gap);
  PP_CHECK(trajectory->insertion_depth > 0, PP_ERR_ARGUMENT,
           "needle trajectory: insertion_depth %g m, expected a positive depth", trajectory->insertion_depth);
  PP_CHECK(trajectory->insertion_speed > 0 && trajectory->withdrawal_speed > 0, PP_ERR_ARGUMENT,
           "needle trajectory: insertion_speed %g m/s and withdrawal_speed %g m/s, expected both positive",
           trajectory->insertion_speed, trajectory->withdrawal_speed);
  PP_CHECK(trajectory->dwell >= 0, PP_ERR_ARGUMENT, "needle trajectory: dwell %g s, expected >= 0", trajectory->dwell);
  PP_CHECK(trajectory->start_time >= 0 && isfinite(trajectory->start_time), PP_ERR_ARGUMENT,
           "needle trajectory: start time %g s, expected >= 0", trajectory->start_time);
  PP_CHECK(trajectory->speed_profile == PP_NEEDLE_SPEED_CONSTANT ||
               trajectory->speed_profile == PP_NEEDLE_SPEED_HALF_SINE,
           PP_ERR_ARGUMENT, "needle trajectory: unknown speed profile %d", (int)trajectory->speed_profile);
  return PP_OK;
}

double pp_needle_stroke_length(const pp_needle_trajectory *trajectory)
{
  return (trajectory->approach_gap + trajectory->insertion_depth) / -trajectory->direction[2];
}

/* Duration of a phase covering distance at speed (the peak speed of a half sine). */
static double phase_duration(pp_needle_speed_profile profile, double distance, double speed)
{
  return profile == PP_NEEDLE_SPEED_HALF_SINE ? M_PI * distance / (2 * speed) : distance / speed;
}

/* Distance covered tau into a phase of this duration, and the speed then. */
static double phase_travel(pp_needle_speed_profile profile, double distance, double speed, double duration,
                           double tau, double *velocity)
{
  if (profile == PP_NEEDLE_SPEED_HALF_SINE) {
    const double phase = M_PI * tau / duration;
    *velocity = speed * sin(phase);
    return 0.5 * distance * (1 - cos(phase));
  }
  *velocity = speed;
  return speed * tau;
}

double pp_needle_insertion_time(const pp_needle_trajectory *trajectory)
{
  return phase_duration(trajectory->speed_profile, pp_needle_stroke_length(trajectory), trajectory->insertion_speed);
}

double pp_needle_end_time(const pp_needle_trajectory *trajectory)
{
  const double stroke = pp_needle_stroke_length(trajectory);
  return trajectory->start_time + phase_duration(trajectory->speed_profile, stroke, trajectory->insertion_speed) +
         trajectory->dwell + phase_duration(trajectory->speed_profile, stroke, trajectory->withdrawal_speed);
}

double pp_needle_travel(const pp_needle_trajectory *trajectory, double t, double *velocity)
{
  t -= trajectory->start_time;
  const pp_needle_speed_profile profile = trajectory->speed_profile;
  const double stroke = pp_needle_stroke_length(trajectory);
  const double insertion = phase_duration(profile, stroke, trajectory->insertion_speed);
  const double withdrawal = phase_duration(profile, stroke, trajectory->withdrawal_speed);
  const double withdrawal_start = insertion + trajectory->dwell;
  double speed = 0, travel = 0;
  if (t >= 0 && t < insertion) {
    travel = phase_travel(profile, stroke, trajectory->insertion_speed, insertion, t, &speed);
  } else if (t >= insertion && t < withdrawal_start) {
    travel = stroke;
  } else if (t >= withdrawal_start && t < withdrawal_start + withdrawal) {
    travel = stroke - phase_travel(profile, stroke, trajectory->withdrawal_speed, withdrawal, t - withdrawal_start,
                                   &speed);
    speed = -speed;
  }
  if (velocity) *velocity = speed;
  return travel;
}

double pp_needle_tip_depth(const pp_needle_trajectory *trajectory, double t)
{
  return pp_needle_travel(trajectory, t, NULL) * -trajectory->direction[2] - trajectory->approach_gap;
}

void pp_needle_tip_position(const pp_needle_trajectory *trajectory, double t, double tip[3])
{
  /* The tip crosses the surface at the entry point after a travel of gap / (-d_z). */
  const double beyond_entry =
    pp_needle_travel(trajectory, t, NULL) - trajectory->approach_gap / -trajectory->direction[2];
  for (int i = 0; i < 3; ++i) tip[i] = trajectory->entry[i] + beyond_entry * trajectory->direction[i];
}

void pp_needle_params(const pp_needle *needle, double t, double params[PP_NEEDLE_SHAPE_PARAMS], double velocity[3])
{
  const pp_needle_shape *shape = &needle->shape;
  const pp_needle_trajectory *trajectory = &needle->trajectory;
  pp_needle_tip_position(trajectory, t, params);
  for (int i = 0; i < 3; ++i) params[3 + i] = -trajectory->direction[i];
  params[6] = shape->tip_radius;
  half_angle_sin_cos(shape->cone_half_angle, &params[7], &params[8]);
  params[9] = shape->shaft_radius;
  params[10] = shape->length;
  if (velocity) {
    double speed = 0;
    pp_needle_travel(trajectory, t, &speed);
    for (int i = 0; i < 3; ++i) velocity[i] = speed * trajectory->direction[i];
  }
}

/* ---- from the config ----------------------------------------------------------------------------- */

pp_err pp_needle_shape_from_config(const pp_config *config, pp_needle_shape *shape)
{
  PP_CHECK(config && shape, PP_ERR_ARGUMENT, "pp_needle_shape_from_config: NULL argument");
  const double base_radius = 0.5 * pp_config_real(config, "needle.base_diameter");
  const double shaft_diameter = pp_config_real(config, "needle.shaft_diameter");
  const double cone_half_angle = pp_config_real(config, "needle.cone_half_angle");
  shape->length = pp_config_real(config, "needle.length");
  shape->tip_radius = pp_config_real(config, "needle.tip_radius");
  shape->cone_half_angle = cone_half_angle > 0
                             ? cone_half_angle
                             : pp_needle_conical_half_angle(shape->length, shape->tip_radius, base_radius);
  shape->shaft_radius = shaft_diameter > 0 ? 0.5 * shaft_diameter : base_radius;
  shape->friction_coefficient = pp_config_real(config, "needle.friction_coefficient");
  if (pp_needle_shape_check(shape) != PP_OK) {
    static char why[1024];
    snprintf(why, sizeof why, "%s", pp_error_message());
    PP_RAISE(PP_ERR_CONFIG,
             "the needle.* keys (length, tip_radius, base_diameter, cone_half_angle, shaft_diameter) give no "
             "valid needle (pinprick check names the key): %s", why);
  }
  return PP_OK;
}

pp_err pp_needle_trajectory_from_config(const pp_config *config, double entry_x, double entry_y,
                                        pp_needle_trajectory *trajectory)
{
  PP_CHECK(config && trajectory, PP_ERR_ARGUMENT, "pp_needle_trajectory_from_config: NULL argument");
  memset(trajectory, 0, sizeof *trajectory);
  trajectory->entry[0] = entry_x;
  trajectory->entry[1] = entry_y;
  pp_needle_tilted_direction(pp_config_real(config, "needle.tilt"), trajectory->direction);
  trajectory->approach_gap = pp_config_real(config, "needle.approach_gap");
  trajectory->insertion_depth = pp_config_real(config, "needle.insertion_depth");
  trajectory->insertion_speed = pp_config_real(config, "needle.insertion_speed");
  trajectory->dwell = pp_config_real(config, "needle.dwell");
  const double withdrawal_speed = pp_config_real(config, "needle.withdrawal_speed");
  trajectory->withdrawal_speed = withdrawal_speed > 0 ? withdrawal_speed : trajectory->insertion_speed;
  trajectory->speed_profile = strcmp(pp_config_text(config, "needle.speed_profile"), "half_sine") == 0
                                ? PP_NEEDLE_SPEED_HALF_SINE
                                : PP_NEEDLE_SPEED_CONSTANT;
  if (pp_needle_trajectory_check(trajectory) != PP_OK) {
    static char why[1024];
    snprintf(why, sizeof why, "%s", pp_error_message());
    PP_RAISE(PP_ERR_CONFIG, "the needle.* stroke keys give no valid stroke (pinprick check names the key): %s", why);
  }
  return PP_OK;
}

pp_err pp_needles_from_config(const pp_config *config, pp_needle **needles, int *count)
{
  PP_CHECK(config && needles && count, PP_ERR_ARGUMENT, "pp_needles_from_config: NULL argument");
  *needles = NULL;
  *count = 0;
  int nx = 0, ny = 0;
  const double *xs = pp_config_real_list(config, "mesh.refine_x", &nx);
  const double *ys = pp_config_real_list(config, "mesh.refine_y", &ny);
  PP_CHECK(nx > 0 && ny > 0, PP_ERR_CONFIG,
           "no needles: the needle axes are the pairs of mesh.refine_x (%d positions) and mesh.refine_y (%d "
           "positions), and each needs at least one", nx, ny);
  pp_needle_shape shape;
  PP_CALL(pp_needle_shape_from_config(config, &shape));
  pp_needle *created;
  PP_MALLOC(created, (size_t)nx * (size_t)ny, "the needles");
  for (int i = 0; i < nx; ++i)
    for (int j = 0; j < ny; ++j) {
      pp_needle *needle = &created[(size_t)i * (size_t)ny + (size_t)j];
      needle->shape = shape;
      pp_err err = pp_needle_trajectory_from_config(config, xs[i], ys[j], &needle->trajectory);
      needle->trajectory.start_time = j * pp_config_real(config, "needle.stagger");
      if (err != PP_OK) {
        free(created);
        PP_CALL(err);
      }
    }
  *needles = created;
  *count = nx * ny;
  return PP_OK;
}
