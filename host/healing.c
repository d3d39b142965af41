/* healing: stage 2 of a run, the healing model on the skin block (see healing.h for the model,
 * schedule, numerics and files). */
#include "healing.h"
#include "healing_model.h"
#include "healing_reaction.h"
#include "element.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "checkpoint.h"
#include "diffusion.h"
#include "io.h"
#include "log.h"
#include "reduce.h"
#include "run_record.h"

enum { S = PP_HEALING_SPECIES, FIB = S, C3 = S + 1, C1 = S + 2, STATE = S + 3, SAMPLES = 4, PATH_SIZE = 4096 };
enum { EVENT_STEP, EVENT_REJECT, EVENT_SESSION, EVENT_CLEAR };
static const char *const event_name[] = {"step", "reject", "session", "clear"};

static const char *const species_key[S] = {"pdgf", "tgf_beta"};
static const char *const component_name[STATE] = {"pdgf", "tgf_beta", "fibroblasts", "collagen_III", "collagen_I"};
static const char *const component_si_unit[STATE] = {"kg/m3", "kg/m3", "1/m3", "kg/m3", "kg/m3"};
static const double day = 86400.0;
static const double cells_per_mm3_per_si = 1e-9; /* 1 cell/m^3 = 1e-9 cells/mm^3 */
/* Collagen is written in mg/mL, which is kg/m^3: no factor. */

/* ---- parameters ------------------------------------------------------------------------------- */

typedef struct {
  pp_healing_params model;
  pp_healing_rest rest;
  double flat[PP_HEALING_PARAMS];
  pp_diffusion_species species[S]; /* diffusion; the reaction, decay included, is per node */
  double release[S];               /* kg/m^3 of injured volume: the platelet phase */
  double macrophage_release[S];    /* kg/m^3 of injured volume: the macrophage phase */
  double platelet_time, macrophage_time;
  int z_lines;                     /* healing.preconditioner: z_lines */
  double first_step, step_growth, max_step, duration, tolerance;
  double perturbation;             /* healing.initial_perturbation */
  double session_interval;
  int sessions;
  double output_interval, checkpoint_interval;
  double floor;                    /* kg/m^3: a growth factor whose maximum falls below is set to 0 */
  pp_solver_options solver;
  double tip_radius, surface_radius, depth; /* channel frustum; depth: the treated region's too */
  const char *library_path, *library_entry;  /* healing.channel_library, healing.channel_entry */
  const double *axes_x, *axes_y;
  int axes_x_count, axes_y_count;
  char physics_hash[17];
  char factor_unit[8];             /* output.growth_factor_unit */
  double factor_per_si;
  double scale[STATE];             /* the error controller's absolute scales (healing.tolerance) */
  double output_per_si[STATE];     /* SI -> output unit per component */
} parameters;

static double key_real(const pp_config *config, const char *format, const char *name)
{
  char path[128];
  snprintf(path, sizeof path, format, name);
  return pp_config_real(config, path);
}

static pp_err read_parameters(const pp_config *config, parameters *p)
{
  memset(p, 0, sizeof *p);
  PP_CALL(pp_healing_params_from_config(config, &p->model));
  PP_CALL(pp_healing_rest_state(&p->model, &p->rest));
  pp_healing_pack(&p->model, &p->rest, p->flat);
  const pp_healing_fibroblasts *f = &p->model.fibroblasts;
  PP_CHECK(f->motility > 0 || f->chemotactic_sensitivity == 0, PP_ERR_CONFIG,
           "healing.fibroblasts.chemotactic_sensitivity is %g m2/s per kg/m3 while healing.fibroblasts.motility is 0: "
           "expected a motility > 0 wherever the fibroblasts follow a gradient (chemotaxis without random motion is "
           "pure advection, which the transport does not do)", f->chemotactic_sensitivity);
  int count = 0;
  const double *factors = pp_config_real_list(config, "healing.diffusivity_factors", &count);
  for (int s = 0; s < S; ++s) {
    for (int layer = 0; layer < PP_LAYER_COUNT; ++layer)
      p->species[s].diffusivity[layer] = p->model.species[s].diffusivity * (layer < count ? factors[layer] : 1.0);
    p->species[s].decay_rate = 0; /* in the per-node rates of the linearly implicit reaction */
    p->release[s] = key_real(config, "healing.%s.release", species_key[s]);
    p->macrophage_release[s] = key_real(config, "healing.%s.macrophage_release", species_key[s]);
    p->scale[s] = fmax(p->rest.growth_factor[s], p->model.species[s].autocrine_half_saturation);
  }
  p->scale[FIB] = f->resting_density;
  p->scale[C3] = p->scale[C1] = p->model.collagen.normal_content;
  p->platelet_time = pp_config_real(config, "healing.platelet_release_time");
  p->macrophage_time = pp_config_real(config, "healing.macrophage_release_time");
  p->z_lines = !strcmp(pp_config_text(config, "healing.preconditioner"), "z_lines");
  p->first_step = pp_config_real(config, "healing.first_step");
  p->step_growth = pp_config_real(config, "healing.step_growth");
  p->max_step = pp_config_real(config, "healing.max_step");
  p->tolerance = pp_config_real(config, "healing.tolerance");
  p->perturbation = pp_config_real(config, "healing.initial_perturbation");
  p->duration = pp_config_real(config, "healing.duration");
  p->session_interval = pp_config_real(config, "treatment.session_interval");
  p->sessions = (int)pp_config_integer(config, "treatment.sessions");
  p->output_interval = pp_config_real(config, "output.healing_interval");
  p->checkpoint_interval = pp_config_real(config, "output.checkpoint_interval");
  p->floor = pp_config_real(config, "healing.concentration_floor");
  pp_solver_options_default(&p->solver);
  p->solver.relative_tolerance = pp_config_real(config, "healing.solver_tolerance");
  p->solver.max_iterations = (int)pp_config_integer(config, "healing.solver_max_iterations");
  double length = pp_config_real(config, "needle.length");
  p->tip_radius = pp_config_real(config, "needle.tip_radius");
  p->depth = pp_config_real(config, "needle.insertion_depth");
  double base_radius = 0.5 * pp_config_real(config, "needle.base_diameter");
  p->surface_radius = p->tip_radius + (base_radius - p->tip_radius) * p->depth / length;
  p->library_path = pp_config_text(config, "healing.channel_library");
  p->library_entry = pp_config_text(config, "healing.channel_entry");
  p->axes_x = pp_config_real_list(config, "mesh.refine_x", &p->axes_x_count);
  p->axes_y = pp_config_real_list(config, "mesh.refine_y", &p->axes_y_count);
  pp_config_physics_hash(config, p->physics_hash);
  const char *unit = pp_config_text(config, "output.growth_factor_unit");
  snprintf(p->factor_unit, sizeof p->factor_unit, "%s", unit);
  p->factor_per_si = !strcmp(unit, "pg/mL") ? 1e9 : !strcmp(unit, "kg/m3") ? 1.0 : 1e6;
  for (int s = 0; s < S; ++s) p->output_per_si[s] = p->factor_per_si;
  p->output_per_si[FIB] = cells_per_mm3_per_si;
  p->output_per_si[C3] = p->output_per_si[C1] = 1.0;
  return PP_OK;
}

static const char *output_unit(const parameters *p, int a)
{
  return a < S ? p->factor_unit : a == FIB ? "1/mm3" : "mg/mL";
}

/* ---- injury: the channels' volume per element ---------------------------------------------------- */

/* Position and |det J| of the trilinear map of the hex with corners xyz at reference point xi. */
static double map_point(const double *xyz, const double xi[3], double x[3])
{
  double jacobian[3][3] = {{0}};
  x[0] = x[1] = x[2] = 0;
  for (int k = 0; k < 8; ++k) {
    double s[3], f[3];
    for (int d = 0; d < 3; ++d) {
      s[d] = pp_hex_corner_bit(k, d) ? 1.0 : -1.0;
      f[d] = 1 + s[d] * xi[d];
    }
    double shape = 0.125 * f[0] * f[1] * f[2];
    double dn[3] = {0.125 * s[0] * f[1] * f[2], 0.125 * f[0] * s[1] * f[2], 0.125 * f[0] * f[1] * s[2]};
    for (int i = 0; i < 3; ++i) {
      x[i] += shape * xyz[3 * k + i];
      for (int j = 0; j < 3; ++j) jacobian[i][j] += xyz[3 * k + i] * dn[j];
    }
  }
  double det = jacobian[0][0] * (jacobian[1][1] * jacobian[2][2] - jacobian[1][2] * jacobian[2][1]) -
               jacobian[0][1] * (jacobian[1][0] * jacobian[2][2] - jacobian[1][2] * jacobian[2][0]) +
               jacobian[0][2] * (jacobian[1][0] * jacobian[2][1] - jacobian[1][1] * jacobian[2][0]);
  return fabs(det);
}

typedef struct {
  double x, y;              /* axis: where it meets the surface */
  double top;               /* z of the surface */
} channel_axis;

/* A channel's injury around its axis: the needle's frustum (an indicator), or a channel-library
 * entry's injured fraction per (s, r) bin. */
typedef struct {
  const parameters *p;
  double period_x, period_y; /* 0: not periodic */
  double reach_depth;        /* m along the axis, and m from it: nothing injured beyond */
  double reach_radius;
  double direction[3];       /* unit, into the skin */
  /* library only (density NULL: the frustum) */
  double *density;           /* [rows * columns] (eroded + damage-weighted volume) / bin volume */
  int rows, columns;
  double ds, dr;
  double volume;             /* the entry's binned injured volume (m^3) */
  double insertion_depth;    /* m, the entry key's */
  char entry[PP_CHANNEL_NAME_SIZE];
} channel_shape;

static void channel_shape_free(channel_shape *shape)
{
  free(shape->density);
  shape->density = NULL;
}

/* The library entry's injured fraction per bin: the bin's eroded and damage-weighted volume over the
 * annulus volume pi (r2^2 - r1^2) ds. Every rank reads the file (serial HDF5, a few kB). */
static pp_err load_library_shape(const parameters *p, channel_shape *shape)
{
  pp_channel channel;
  pp_channel_key key;
  pp_err err = pp_channel_library_entry_name(p->library_path, p->library_entry, shape->entry, sizeof shape->entry);
  if (err == PP_OK) err = pp_channel_library_read(p->library_path, shape->entry, &channel);
  if (err != PP_OK)
    return pp_error_context(err, "reading healing.channel_library '%s' (healing.channel_entry '%s')",
                            p->library_path, p->library_entry);
  err = pp_channel_library_read_key(p->library_path, shape->entry, &key);
  const pp_channel_options *o = &channel.options;
  shape->rows = o->depth_bin_count;
  shape->columns = o->radius_bin_count;
  shape->ds = o->depth_bin_width;
  shape->dr = o->radius_bin_width;
  memcpy(shape->direction, channel.axis.direction, sizeof shape->direction);
  const size_t bins = (size_t)shape->rows * (size_t)shape->columns;
  shape->density = err == PP_OK ? malloc((bins + 1) * sizeof *shape->density) : NULL;
  if (err == PP_OK && !shape->density)
    err = pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory for a channel's injury profile");
  int deepest = -1, widest = -1;
  double volume = 0;
  for (int i = 0; err == PP_OK && i < shape->rows; ++i)
    for (int j = 0; j < shape->columns; ++j) {
      const size_t b = (size_t)i * (size_t)shape->columns + (size_t)j;
      const double injured = channel.eroded_histogram[b] + channel.damage_histogram[b];
      const double r1 = j * shape->dr, r2 = (j + 1) * shape->dr;
      shape->density[b] = injured / (M_PI * (r2 * r2 - r1 * r1) * shape->ds);
      if (!(injured >= 0) || !isfinite(injured)) {
        err = pp_error_raise(PP_ERR_IO, __FILE__, __LINE__, __func__, "channel library %s, entry %s: bin (%d, %d) "
                             "holds an injured volume of %g m3: expected a finite value >= 0", p->library_path,
                             shape->entry, i, j, injured);
        break;
      }
      if (injured > 0) {
        deepest = i > deepest ? i : deepest;
        widest = j > widest ? j : widest;
      }
      volume += injured;
    }
  if (err == PP_OK && !(volume > 0))
    err = pp_error_raise(PP_ERR_CONFIG, __FILE__, __LINE__, __func__, "healing.channel_library: entry %s of %s holds "
                         "no injured volume (no eroded or damaged element in its grid): expected a channel",
                         shape->entry, p->library_path);
  shape->reach_depth = (deepest + 1) * shape->ds;
  shape->reach_radius = (widest + 1) * shape->dr;
  shape->volume = volume;
  shape->insertion_depth = key.insertion_depth;
  if (err == PP_OK && (channel.eroded_volume_outside > 0 || channel.damage_volume_outside > 0))
    pp_log(PP_LOG_WARN, "healing.channel_library: entry %s of %s has %.4g pL of its injury outside its grid "
           "(eroded %.4g, damage-weighted %.4g pL), which stage 2 cannot place: left out", shape->entry,
           p->library_path, (channel.eroded_volume_outside + channel.damage_volume_outside) * 1e15,
           channel.eroded_volume_outside * 1e15, channel.damage_volume_outside * 1e15);
  if (err == PP_OK) {
    pp_log(PP_LOG_INFO, "stage 2 injury from %s, entry %s (needle %s, tip depth %.1f um, %s, %s): %.4g pL per "
           "channel (eroded %.4g, damage-weighted %.4g), %d x %d bins of %.3g x %.3g um, reaching %.1f um deep and "
           "%.1f um from the axis", p->library_path, shape->entry, *key.needle_name ? key.needle_name : "(shape)",
           key.insertion_depth * 1e6, key.body_site, key.skin_state, volume * 1e15,
           (channel.eroded_volume - channel.eroded_volume_outside) * 1e15,
           (channel.damage_volume - channel.damage_volume_outside) * 1e15, shape->rows, shape->columns,
           shape->ds * 1e6, shape->dr * 1e6, shape->reach_depth * 1e6, shape->reach_radius * 1e6);
  }
  pp_channel_free(&channel);
  if (err != PP_OK) channel_shape_free(shape);
  return err;
}

pp_err pp_healing_check_channel_library(const pp_config *config, FILE *report)
{
  const char *path = pp_config_text(config, "healing.channel_library");
  if (!path || !*path) return PP_OK;
  const char *entry = pp_config_text(config, "healing.channel_entry");
  char name[PP_CHANNEL_NAME_SIZE];
  pp_channel channel;
  pp_err err = pp_channel_library_entry_name(path, entry, name, sizeof name);
  if (err == PP_OK) err = pp_channel_library_read(path, name, &channel);
  if (err != PP_OK)
    return pp_error_context(err, "reading healing.channel_library '%s' (healing.channel_entry '%s')", path, entry);
  const double eroded = channel.eroded_volume - channel.eroded_volume_outside;
  const double damage = channel.damage_volume - channel.damage_volume_outside;
  if (!(eroded + damage > 0)) {
    pp_channel_free(&channel);
    PP_RAISE(PP_ERR_CONFIG, "healing.channel_library: entry %s of %s holds no injured volume in its grid (eroded %g, "
             "damage-weighted %g pL; the stroke eroded and damaged nothing?): expected a channel", name, path,
             eroded * 1e15, damage * 1e15);
  }
  if (report)
    fprintf(report, "# Stage 2's channel: %s, entry %s: %.4g pL injured per channel (eroded %.4g, damage-weighted "
            "%.4g), open %.1f um deep, injury %.1f um deep, surface diameter %.1f um\n", path, name,
            (eroded + damage) * 1e15, eroded * 1e15, damage * 1e15, channel.open_depth * 1e6,
            channel.injury_depth * 1e6, channel.surface_diameter * 1e6);
  pp_channel_free(&channel);
  return PP_OK;
}

/* Lateral offset from the axis, the nearest periodic image where the side is periodic. */
static double wrapped(double d, double period)
{
  if (period > 0) d -= period * floor(d / period + 0.5);
  return d;
}

/* The injured fraction at x: 1 or 0 in the frustum, the bin's density for a library entry. */
static double injured_density(const channel_shape *shape, const channel_axis *axis, const double x[3])
{
  double v[3] = {wrapped(x[0] - axis->x, shape->period_x), wrapped(x[1] - axis->y, shape->period_y), x[2] - axis->top};
  if (!shape->density) {
    const parameters *p = shape->p;
    double below = -v[2];
    if (below < 0 || below > p->depth) return 0;
    double radius = p->surface_radius + (p->tip_radius - p->surface_radius) * below / p->depth;
    return v[0] * v[0] + v[1] * v[1] <= radius * radius;
  }
  const double *d = shape->direction;
  const double s = v[0] * d[0] + v[1] * d[1] + v[2] * d[2];
  const double w[3] = {v[0] - s * d[0], v[1] - s * d[1], v[2] - s * d[2]}; /* the offset normal to the axis */
  const double r = sqrt(w[0] * w[0] + w[1] * w[1] + w[2] * w[2]);
  const double row = s < 0 ? 0 : floor(s / shape->ds), column = floor(r / shape->dr);
  if (row >= shape->rows || column >= shape->columns) return 0;
  return shape->density[(size_t)row * (size_t)shape->columns + (size_t)column];
}

/* Could any point of the element be injured? (its bounding box against the reach) */
static int near(const channel_shape *shape, const channel_axis *axis, const double *xyz)
{
  double low[3] = {DBL_MAX, DBL_MAX, DBL_MAX}, high[3] = {-DBL_MAX, -DBL_MAX, -DBL_MAX};
  for (int c = 0; c < 8; ++c)
    for (int d = 0; d < 3; ++d) {
      low[d] = fmin(low[d], xyz[3 * c + d]);
      high[d] = fmax(high[d], xyz[3 * c + d]);
    }
  if (high[2] < axis->top - shape->reach_depth - shape->reach_radius || low[2] > axis->top) return 0;
  /* a tilted axis drifts sideways by up to reach_depth sin(tilt) */
  const double drift = shape->reach_depth * sqrt(fmax(0, 1 - shape->direction[2] * shape->direction[2]));
  const double reach = shape->reach_radius + drift;
  double centre_x = 0.5 * (low[0] + high[0]), centre_y = 0.5 * (low[1] + high[1]);
  double dx = fabs(wrapped(centre_x - axis->x, shape->period_x)) - 0.5 * (high[0] - low[0]);
  double dy = fabs(wrapped(centre_y - axis->y, shape->period_y)) - 0.5 * (high[1] - low[1]);
  return dx <= reach && dy <= reach;
}

/* Quadrature (SAMPLES^3 midpoints) of the channel's injured fraction over the element. */
static double injured_quadrature(const channel_shape *shape, const channel_axis *axis, const double *xyz)
{
  if (!near(shape, axis, xyz)) return 0;
  const double weight = 8.0 / (SAMPLES * SAMPLES * SAMPLES);
  double sum = 0, x[3];
  for (int i = 0; i < SAMPLES; ++i)
    for (int j = 0; j < SAMPLES; ++j)
      for (int k = 0; k < SAMPLES; ++k) {
        double xi[3] = {-1 + (2 * i + 1.0) / SAMPLES, -1 + (2 * j + 1.0) / SAMPLES, -1 + (2 * k + 1.0) / SAMPLES};
        double det = map_point(xyz, xi, x);
        double density = injured_density(shape, axis, x);
        if (density > 0) sum += weight * det * density;
      }
  return sum;
}

typedef struct {
  double *injured;          /* [element_count] m^3, owned and ghost elements */
  double *fraction;         /* [owned_element_count] injured / element volume (output) */
  double *element_volume;   /* [element_count] */
  int channels;
  double channel_volume;    /* exact, all channels */
  char entry[PP_CHANNEL_NAME_SIZE]; /* the library entry; "": the frustum */
  double treated_depth;     /* m: the insertion depth (the library entry's, or needle.insertion_depth) */
} injury;

static void injury_free(injury *j)
{
  free(j->injured);
  free(j->fraction);
  free(j->element_volume);
  memset(j, 0, sizeof *j);
}

static pp_err build_injury(const parameters *p, const pp_runtime *runtime, const pp_mesh *mesh, injury *j)
{
  memset(j, 0, sizeof *j);
  j->treated_depth = p->depth;
  const int elements = mesh->element_count, owned = mesh->owned_element_count;
  channel_shape shape = {.p = p, .reach_depth = p->depth, .reach_radius = p->surface_radius, .direction = {0, 0, -1}};
  double one_channel = M_PI * p->depth *
                       (p->surface_radius * p->surface_radius + p->surface_radius * p->tip_radius +
                        p->tip_radius * p->tip_radius) / 3.0;
  if (*p->library_path) {
    PP_CALL(pp_runtime_agree(runtime, load_library_shape(p, &shape), "reading healing.channel_library"));
    one_channel = shape.volume;
    j->treated_depth = shape.insertion_depth;
    snprintf(j->entry, sizeof j->entry, "%s", shape.entry);
  }
  if (!mesh->imported && mesh->spec.side_x == PP_SIDE_PERIODIC) shape.period_x = mesh->spec.length_x;
  if (!mesh->imported && mesh->spec.side_y == PP_SIDE_PERIODIC) shape.period_y = mesh->spec.length_y;
  double *owned_share = malloc(((size_t)owned + 1) * sizeof *owned_share);
  j->injured = malloc(((size_t)elements + 1) * sizeof *j->injured);
  j->fraction = malloc(((size_t)owned + 1) * sizeof *j->fraction);
  j->element_volume = malloc(((size_t)elements + 1) * sizeof *j->element_volume);
  pp_err err = owned_share && j->injured && j->fraction && j->element_volume
                 ? PP_OK
                 : pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory for the stage-2 injury");
  err = pp_runtime_agree(runtime, err, "stage-2 injury memory"); /* before the collectives below */
  if (err != PP_OK) {
    free(owned_share);
    channel_shape_free(&shape);
    return err;
  }
  for (int e = 0; e < elements; ++e) {
    j->injured[e] = 0;
    j->element_volume[e] = pp_hex8_volume(mesh->element_corner_coords + 24 * (size_t)e);
  }
  /* The surface: the highest node of the block (z = 0 for generated meshes). */
  double top = -DBL_MAX, global_top = 0;
  for (int n = 0; n < mesh->owned_node_count; ++n) top = fmax(top, mesh->node_coords[3 * n + 2]);
  int mpi = MPI_Allreduce(&top, &global_top, 1, MPI_DOUBLE, MPI_MAX, runtime->comm);
  if (mpi != MPI_SUCCESS) err = pp_mpi_error(mpi, __FILE__, __LINE__, __func__, "surface height");
  for (int ix = 0; ix < p->axes_x_count && err == PP_OK; ++ix)
    for (int iy = 0; iy < p->axes_y_count && err == PP_OK; ++iy) {
      channel_axis axis = {p->axes_x[ix], p->axes_y[iy], global_top};
      for (int e = 0; e < owned; ++e)
        owned_share[e] = injured_quadrature(&shape, &axis, mesh->element_corner_coords + 24 * (size_t)e);
      double quadrature = 0;
      err = pp_reduce_sum_host(owned_share, (size_t)owned, runtime->comm, &quadrature);
      if (err != PP_OK) break;
      if (!(quadrature > 0)) {
        if (shape.density)
          err = pp_error_raise(PP_ERR_CONFIG, __FILE__, __LINE__, __func__,
                               "the needle channel at x = %g um, y = %g um (mesh.refine_x, mesh.refine_y) holds no "
                               "quadrature point of the mesh: the injury of %s's entry %s (reaching %g um from the "
                               "axis, %g um deep) is outside the block or finer than its elements",
                               axis.x * 1e6, axis.y * 1e6, p->library_path, shape.entry, shape.reach_radius * 1e6,
                               shape.reach_depth * 1e6);
        else
          err = pp_error_raise(PP_ERR_CONFIG, __FILE__, __LINE__, __func__,
                               "the needle channel at x = %g um, y = %g um (mesh.refine_x, mesh.refine_y) holds no "
                               "quadrature point of the mesh: the channel (radius %g um at the surface, depth %g um) "
                               "is outside the block or finer than its elements",
                               axis.x * 1e6, axis.y * 1e6, p->surface_radius * 1e6, p->depth * 1e6);
        pp_error_set_collective(runtime->rank == 0 ? PP_ERROR_COLLECTIVE : PP_ERROR_COLLECTIVE_QUIET);
        break;
      }
      /* Scale so the channel's volume is exact (the frustum's, or the entry's binned total); ghosts
       * get the same scale. */
      double scale = one_channel / quadrature;
      for (int e = 0; e < elements; ++e) {
        double share = e < owned ? owned_share[e]
                                 : injured_quadrature(&shape, &axis, mesh->element_corner_coords + 24 * (size_t)e);
        j->injured[e] += scale * share;
      }
      j->channels += 1;
    }
  free(owned_share);
  channel_shape_free(&shape);
  PP_CALL(err);
  for (int e = 0; e < owned; ++e) j->fraction[e] = j->injured[e] / j->element_volume[e];
  j->channel_volume = one_channel * j->channels;
  return PP_OK;
}

/* ---- the CSV files: lines kept as written -----------------------------------------------------------
 * Both files are rewritten whole (atomically) at every checkpoint and at the end; a restart keeps the
 * previous invocation's lines up to the restart time verbatim, so a continued run writes the same
 * bytes as an uninterrupted one. */

typedef struct {
  char **lines;
  size_t count, capacity;
  const char *header;
  const char *file;
  int time_column;          /* the column holding the time in s */
} text_log;

static pp_err text_log_add(text_log *log, const char *line)
{
  if (log->count == log->capacity) {
    size_t capacity = log->capacity ? 2 * log->capacity : 256;
    char **bigger = realloc(log->lines, capacity * sizeof *bigger);
    PP_CHECK(bigger, PP_ERR_MEMORY, "out of memory for the stage-2 log %s", log->file);
    log->lines = bigger;
    log->capacity = capacity;
  }
  size_t length = strlen(line);
  char *copy = malloc(length + 1);
  PP_CHECK(copy, PP_ERR_MEMORY, "out of memory for the stage-2 log %s", log->file);
  memcpy(copy, line, length + 1);
  log->lines[log->count++] = copy;
  return PP_OK;
}

static void text_log_free(text_log *log)
{
  for (size_t i = 0; i < log->count; ++i) free(log->lines[i]);
  free(log->lines);
  log->lines = NULL;
  log->count = log->capacity = 0;
}

static pp_err write_text_log(FILE *out, const void *context)
{
  const text_log *log = context;
  fputs(log->header, out);
  for (size_t i = 0; i < log->count; ++i) fputs(log->lines[i], out);
  return ferror(out) ? pp_error_raise(PP_ERR_IO, __FILE__, __LINE__, __func__, "write error") : PP_OK;
}

/* Rank 0 writes DIR/<file> (atomically); every rank learns the result. */
static pp_err save_text_log(const pp_runtime *runtime, const char *dir, const text_log *log)
{
  pp_err local = PP_OK;
  if (runtime->rank == 0) {
    char path[PATH_SIZE];
    snprintf(path, sizeof path, "%s/%s", dir, log->file);
    local = pp_write_file_atomic(path, write_text_log, log);
  }
  PP_CALL(pp_runtime_agree(runtime, local, log->file));
  return PP_OK;
}

/* After a restart: the previous invocation's lines with a time at or before `until` (rank 0 reads,
 * every rank keeps the same copy). */
static pp_err load_text_log(const pp_runtime *runtime, const char *dir, double until, text_log *log)
{
  char *text = NULL;
  pp_err local = PP_OK;
  char path[PATH_SIZE];
  snprintf(path, sizeof path, "%s/%s", dir, log->file);
  if (runtime->rank == 0) {
    FILE *in = fopen(path, "rb");
    if (!in) {
      local = pp_error_raise(PP_ERR_IO, __FILE__, __LINE__, __func__, "cannot open %s to continue it: %s", path,
                             strerror(errno));
    } else {
      fseek(in, 0, SEEK_END);
      long size = ftell(in);
      fseek(in, 0, SEEK_SET);
      text = size >= 0 ? malloc((size_t)size + 1) : NULL;
      if (!text || fread(text, 1, (size_t)size, in) != (size_t)size)
        local = pp_error_raise(PP_ERR_IO, __FILE__, __LINE__, __func__, "cannot read %s", path);
      else
        text[size] = '\0';
      fclose(in);
    }
    if (local == PP_OK && strncmp(text, log->header, strlen(log->header)) != 0)
      local = pp_error_raise(PP_ERR_IO, __FILE__, __LINE__, __func__,
                             "%s: its header is not this version's (expected \"%.60s...\"): cannot continue it", path,
                             log->header);
  }
  PP_CALL(pp_runtime_agree(runtime, local, log->file));
  PP_CALL(pp_runtime_broadcast_text(runtime, &text, 0));
  pp_err err = PP_OK;
  int number = 1;
  for (char *line = text + strlen(log->header); err == PP_OK && *line; ++number) {
    char *end = strchr(line, '\n');
    if (!end) {
      err = pp_error_raise(PP_ERR_IO, __FILE__, __LINE__, __func__, "%s line %d: the last line is cut off (no newline)",
                           path, number + 1);
      break;
    }
    const char *field = line;
    for (int c = 0; c < log->time_column && field; ++c) field = strchr(field, ',') ? strchr(field, ',') + 1 : NULL;
    char *after = NULL;
    double time = field ? strtod(field, &after) : 0;
    if (!field || after == field) {
      err = pp_error_raise(PP_ERR_IO, __FILE__, __LINE__, __func__, "%s line %d: expected a time in s in column %d",
                           path, number + 1, log->time_column + 1);
      break;
    }
    char saved = end[1];
    end[1] = '\0';
    if (time <= until) err = text_log_add(log, line);
    end[1] = saved;
    line = end + 1;
  }
  free(text);
  PP_CALL(err);
  return PP_OK;
}

/* ---- where the summary looks: treated upper dermis and untreated tissue -------------------------- */

enum { REGION_NONE = 0, REGION_TREATED = 1, REGION_UNTREATED = 2 };

/* Per owned node: treated upper dermis = a node of the papillary or reticular dermis only (all its
 * elements there) no deeper than the insertion depth; untreated = such a dermal node farther than
 * three growth-factor lengths sqrt(D/k) (the larger species') from every channel's axis segment,
 * where the injury's signals have fallen below e^-3 of their level at the channel. */
static void classify_nodes(const parameters *p, const pp_mesh *mesh, double top, double treated_depth,
                           unsigned char *region)
{
  double length = 0;
  for (int s = 0; s < S; ++s) {
    double k = p->model.species[s].decay_rate;
    length = fmax(length, k > 0 ? sqrt(p->model.species[s].diffusivity / k) : INFINITY);
  }
  const double far = 3 * length;
  const double period_x = !mesh->imported && mesh->spec.side_x == PP_SIDE_PERIODIC ? mesh->spec.length_x : 0;
  const double period_y = !mesh->imported && mesh->spec.side_y == PP_SIDE_PERIODIC ? mesh->spec.length_y : 0;
  for (int n = 0; n < mesh->owned_node_count; ++n) {
    int dermal = 1;
    for (int i = mesh->node_element_offset[n]; i < mesh->node_element_offset[n + 1]; ++i) {
      int layer = mesh->element_layer[mesh->node_element_entry[i] / 8];
      dermal &= layer == 2 || layer == 3;
    }
    region[n] = REGION_NONE;
    if (!dermal) continue;
    const double *x = mesh->node_coords + 3 * (size_t)n;
    double depth = top - x[2];
    if (depth <= treated_depth) {
      region[n] = REGION_TREATED;
      continue;
    }
    double nearest = INFINITY;
    for (int ix = 0; ix < p->axes_x_count; ++ix)
      for (int iy = 0; iy < p->axes_y_count; ++iy) {
        double dx = x[0] - p->axes_x[ix], dy = x[1] - p->axes_y[iy];
        if (period_x > 0) dx -= period_x * floor(dx / period_x + 0.5);
        if (period_y > 0) dy -= period_y * floor(dy / period_y + 0.5);
        nearest = fmin(nearest, hypot(hypot(dx, dy), fmax(0, depth - treated_depth)));
      }
    if (nearest > far) region[n] = REGION_UNTREATED;
  }
}

/* ---- the stage ----------------------------------------------------------------------------------- */

typedef struct {
  const parameters *p;
  const pp_runtime *runtime;
  pp_clrt *clrt;
  pp_mesh *mesh;
  pp_halo *halo;
  const char *dir;
  pp_reduce *reduce;
  pp_diffusion *diffusion;   /* growth-factor transport: diffusion, no decay */
  pp_chemotaxis *chemotaxis; /* fibroblast transport (NULL with no motility) */
  pp_healing_reaction *reaction;
  cl_mem state;              /* [STATE * owned] REALs, component a of node n at [a * owned + n] */
  pp_checkpoint *checkpoint;
  pp_io_series *series;
  injury injury;
  text_log step_log, summary_log;
  size_t owned;
  double *u;                 /* [STATE * owned] the accepted state, same layout */
  double *whole;             /* one step of h */
  double *halves;            /* two steps of h/2 */
  double *factors;           /* [owned * S] interleaved, the diffusion object's layout */
  double *cells;             /* [owned] */
  double *local, *single, *output; /* output staging: [nodes * STATE], [nodes], [output nodes] */
  double *saved;             /* [STATE][output nodes]: the checkpointed state */
  double *weighted;          /* [owned] */
  double *amplitude;         /* [owned] injured share of each node's control volume */
  double *rates;             /* [owned * S] the growth factors' source over a transport step, kg/s */
  double *kappa;             /* [owned * S] their implicit per-node rate over it, 1/s */
  unsigned char *region;     /* [owned] REGION_* */
  double region_volume[3];
  double release_volume;     /* sum over nodes of M A: the injured volume the source sees */
  /* checkpointed */
  double time, next_dt;
  long long next_session, steps, rejected, cleared, cg_iterations, reaction_substeps, max_step_cg;
  double peak[FIB + 1];      /* SI, over accepted steps */
  long long checkpoints;
} stage;

static pp_err allocate(stage *st)
{
  const size_t owned = st->owned, nodes = (size_t)st->mesh->node_count, out = (size_t)st->mesh->output_node_count;
  PP_MALLOC(st->u, STATE * owned + 1, "stage-2 state");
  PP_MALLOC(st->whole, STATE * owned + 1, "stage-2 state");
  PP_MALLOC(st->halves, STATE * owned + 1, "stage-2 state");
  PP_MALLOC(st->factors, S * owned + 1, "stage-2 growth factors");
  PP_MALLOC(st->cells, owned + 1, "stage-2 fibroblasts");
  PP_MALLOC(st->local, STATE * nodes + 1, "stage-2 output");
  PP_MALLOC(st->single, nodes + 1, "stage-2 output");
  PP_MALLOC(st->output, out + 1, "stage-2 output");
  PP_MALLOC(st->saved, STATE * out + 1, "stage-2 checkpoint");
  PP_MALLOC(st->weighted, owned + 1, "stage-2 summary");
  PP_MALLOC(st->amplitude, owned + 1, "stage-2 injury source");
  PP_MALLOC(st->rates, S * owned + 1, "stage-2 sources");
  PP_MALLOC(st->kappa, S * owned + 1, "stage-2 rates");
  PP_MALLOC(st->region, owned + 1, "stage-2 regions");
  return PP_OK;
}

static void stage_free(stage *st)
{
  pp_io_series_close(&st->series);
  pp_checkpoint_free(&st->checkpoint);
  pp_healing_reaction_destroy(st->reaction);
  if (st->state) clReleaseMemObject(st->state);
  pp_chemotaxis_destroy(st->chemotaxis);
  pp_diffusion_destroy(st->diffusion);
  pp_reduce_destroy(st->reduce);
  injury_free(&st->injury);
  text_log_free(&st->step_log);
  text_log_free(&st->summary_log);
  free(st->u);
  free(st->whole);
  free(st->halves);
  free(st->factors);
  free(st->cells);
  free(st->local);
  free(st->single);
  free(st->output);
  free(st->saved);
  free(st->weighted);
  free(st->amplitude);
  free(st->rates);
  free(st->kappa);
  free(st->region);
}

/* ---- one split step ----------------------------------------------------------------------------- */

typedef struct {
  int cg[S], cell_cg;         /* CG iterations of the transport solves */
  long long substeps, rejected_substeps;
  int reaction_failed;        /* some node's reaction integrator gave up (every rank knows) */
} step_work;

/* Reactions of every node from t0 over h, on the device state. A node whose integrator gives up
 * (PP_ERR_SOLVER: its sub-step limit or a non-finite value) only marks the step as failed, so the
 * controller retries it shorter; anything else is an error. */
static pp_err react(stage *st, double t0, double h, step_work *work)
{
  pp_healing_reaction_info info;
  memset(&info, 0, sizeof info);
  pp_err err = pp_healing_reaction_advance(st->reaction, st->state, t0, h, &info);
  long long counts[3] = {info.substeps, info.rejected, err == PP_ERR_SOLVER};
  if (err == PP_ERR_SOLVER) {
    pp_log(PP_LOG_DEBUG, "stage 2: reaction sub-step from day %.6g over %.4g s gave up on rank %d: %s", t0 / day, h,
           st->runtime->rank, pp_error_message());
    pp_error_clear();
    err = PP_OK;
  }
  PP_CALL(pp_runtime_agree(st->runtime, err, "stage-2 reactions"));
  PP_MPI(MPI_Allreduce(MPI_IN_PLACE, counts, 3, MPI_LONG_LONG, MPI_SUM, st->runtime->comm), "reaction statistics");
  work->substeps += counts[0];
  work->rejected_substeps += counts[1];
  work->reaction_failed |= counts[2] > 0;
  return PP_OK;
}

static pp_err state_to_device(stage *st, const double *values)
{
  pp_err err = pp_clrt_write_reals(st->clrt, st->state, values, STATE * st->owned, "stage-2 state");
  PP_CALL(pp_runtime_agree(st->runtime, err, "stage-2 state to the device"));
  return PP_OK;
}

static pp_err state_from_device(stage *st, double *values)
{
  pp_err err = pp_clrt_read_reals(st->clrt, st->state, values, STATE * st->owned, "stage-2 state");
  PP_CALL(pp_runtime_agree(st->runtime, err, "stage-2 state from the device"));
  return PP_OK;
}

/* Mean over [t, t + h] of species s's release profile, kg/m^3/s per unit injured share: the sum
 * over the sessions begun by t of e_1 e^(-age/tau_1)/tau_1 + e_2 e^(-age/tau_2)/tau_2, integrated
 * exactly (so the released mass does not depend on the steps). */
static double release_rate(const parameters *p, int s, double t, double h)
{
  double total = 0;
  for (int k = 0; k < p->sessions; ++k) {
    const double start = k * p->session_interval;
    if (start > t + 1e-9 * p->session_interval) break;
    const double age = t - start;
    const double weight[2] = {p->release[s], p->macrophage_release[s]}, tau[2] = {p->platelet_time, p->macrophage_time};
    for (int phase = 0; phase < 2; ++phase)
      if (weight[phase] > 0) total += -weight[phase] * exp(-age / tau[phase]) * expm1(-h / tau[phase]) / h;
  }
  return total;
}

/* One step of the split scheme, in `out` from `in` (they may be the same array): reactions of n,
 * c3, c1 over h/2; transport over h (fibroblasts, then the growth factors with their reaction
 * linearly implicit); reactions over h/2 (healing.h). */
static pp_err split_step(stage *st, double t, double h, const double *in, double *out, step_work *work)
{
  const parameters *p = st->p;
  const size_t N = st->owned;
  PP_CALL(state_to_device(st, in));
  PP_CALL(react(st, t, h / 2, work));
  if (work->reaction_failed) return PP_OK;
  PP_CALL(state_from_device(st, out));
  const double *volume = pp_diffusion_node_volume(st->diffusion);
  double release[S];
  for (int s = 0; s < S; ++s) release[s] = st->injury.channels > 0 ? release_rate(p, s, t, h) : 0;
  for (size_t n = 0; n < N; ++n) {
    const double cells = out[(size_t)FIB * N + n];
    for (int s = 0; s < S; ++s) {
      const pp_healing_species *g = &p->model.species[s];
      const double level = out[(size_t)s * N + n], saturation = g->autocrine_half_saturation + level;
      /* r(g) = -k g + n (beta + sigma g/(Ks + g)), J = dr/dg; the step takes kappa = -J implicitly
         (not below -1/(2h), which keeps the diagonal positive) and r + kappa g explicitly, which is
         n beta + n sigma g^2/(Ks + g)^2 + (kappa + J) g >= 0, written so, without cancellation */
      const double J = -g->decay_rate + cells * g->autocrine_secretion * g->autocrine_half_saturation /
                                          (saturation * saturation);
      const double kappa = fmax(-J, -0.5 / h);
      const double explicit_part = cells * (g->basal_secretion + g->autocrine_secretion * level * level /
                                                                     (saturation * saturation)) +
                                   (kappa + J) * level;
      st->factors[n * S + (size_t)s] = level;
      st->kappa[n * S + (size_t)s] = kappa;
      st->rates[n * S + (size_t)s] = volume[n] * (explicit_part + st->amplitude[n] * release[s]);
    }
  }
  if (st->chemotaxis) {
    PP_CALL(pp_runtime_agree(st->runtime, pp_chemotaxis_set_field(st->chemotaxis, out + (size_t)FIB * N),
                             "stage-2 fibroblasts"));
    pp_chemotaxis_step_info info;
    pp_err err = pp_chemotaxis_step_host(st->chemotaxis, h, st->factors, (size_t)p->model.fibroblasts.chemoattractant,
                                         S, &info);
    if (err != PP_OK)
      return pp_error_context(err, "stage 2, fibroblast transport from day %.6g over %.6g s", t / day, h);
    work->cell_cg += info.solver.iterations;
    PP_CALL(pp_runtime_agree(st->runtime, pp_chemotaxis_get_field(st->chemotaxis, out + (size_t)FIB * N),
                             "stage-2 fibroblasts"));
  }
  PP_CALL(pp_runtime_agree(st->runtime, pp_diffusion_set_field(st->diffusion, st->factors), "stage-2 growth factors"));
  PP_CALL(pp_runtime_agree(st->runtime, pp_diffusion_set_source_rate(st->diffusion, st->rates), "stage-2 sources"));
  PP_CALL(pp_diffusion_set_node_rates(st->diffusion, st->kappa));
  pp_diffusion_step_info info;
  pp_err err = pp_diffusion_step(st->diffusion, h, &info);
  if (err != PP_OK) return pp_error_context(err, "stage 2, growth-factor diffusion from day %.6g over %.6g s", t / day, h);
  for (int s = 0; s < S; ++s) work->cg[s] += info.solver.species_iterations[s];
  PP_CALL(pp_runtime_agree(st->runtime, pp_diffusion_get_field(st->diffusion, st->factors), "stage-2 growth factors"));
  /* Backward Euler's matrices are M-matrices, so the exact solutions are >= 0; what CG leaves below
     zero is its tolerance's error (-3e-14 of the maximum at 1e-12, host/diffusion.h), which the
     reactions would refuse as a start state: set to zero. */
  for (size_t n = 0; n < N; ++n)
    for (int s = 0; s < S; ++s) out[(size_t)s * N + n] = fmax(0, st->factors[n * S + (size_t)s]);
  for (size_t n = 0; n < N; ++n) out[(size_t)FIB * N + n] = fmax(0, out[(size_t)FIB * N + n]);
  PP_CALL(state_to_device(st, out));
  PP_CALL(react(st, t + h / 2, h / 2, work));
  if (work->reaction_failed) return PP_OK;
  PP_CALL(state_from_device(st, out));
  return PP_OK;
}

/* The controller's error of the two half steps, max over nodes and components of
 * |halves - whole| / (tolerance (scale + |halves|)): the leading error of the half steps for a first-
 * order scheme. A global maximum is exact, so every rank takes the same decision. */
static pp_err error_norm(stage *st, double *norm, int *worst)
{
  const size_t N = st->owned;
  double local[STATE], global[STATE];
  for (int a = 0; a < STATE; ++a) {
    const double *x = st->halves + (size_t)a * N, *y = st->whole + (size_t)a * N;
    const double scale = st->p->scale[a];
    local[a] = 0;
    for (size_t n = 0; n < N; ++n) local[a] = fmax(local[a], fabs(x[n] - y[n]) / (scale + fabs(x[n])));
    local[a] /= st->p->tolerance;
    if (local[a] != local[a]) local[a] = INFINITY;
  }
  PP_MPI(MPI_Allreduce(local, global, STATE, MPI_DOUBLE, MPI_MAX, st->runtime->comm), "the step's error");
  *norm = 0;
  *worst = 0;
  for (int a = 0; a < STATE; ++a)
    if (global[a] > *norm) {
      *norm = global[a];
      *worst = a;
    }
  return PP_OK;
}

/* Global min and max of every component of the accepted state (exact). */
static pp_err state_range(stage *st, double min[STATE], double max[STATE])
{
  const size_t N = st->owned;
  double local[2 * STATE], global[2 * STATE];
  for (int a = 0; a < STATE; ++a) {
    local[a] = DBL_MAX;
    local[STATE + a] = DBL_MAX;
    for (size_t n = 0; n < N; ++n) {
      local[a] = fmin(local[a], st->u[(size_t)a * N + n]);
      local[STATE + a] = fmin(local[STATE + a], -st->u[(size_t)a * N + n]);
    }
  }
  PP_MPI(MPI_Allreduce(local, global, 2 * STATE, MPI_DOUBLE, MPI_MIN, st->runtime->comm), "the state's range");
  for (int a = 0; a < STATE; ++a) {
    min[a] = global[a];
    max[a] = -global[STATE + a];
  }
  return PP_OK;
}

static pp_err log_step(stage *st, int event, double time, double dt, double error, const step_work *work,
                       const double *min, const double *max)
{
  const parameters *p = st->p;
  char line[1024];
  int at = snprintf(line, sizeof line, "%lld,%.17g,%.9g,%.17g,%s,%.3e,%d,%d,%d,%lld,%lld", st->steps, time, time / day,
                    dt, event_name[event], error, work ? work->cg[0] : 0, work ? work->cg[1] : 0,
                    work ? work->cell_cg : 0, work ? work->substeps : 0, work ? work->rejected_substeps : 0);
  for (int a = 0; a < STATE && at < (int)sizeof line; ++a)
    at += snprintf(line + at, sizeof line - (size_t)at, ",%.9g,%.9g", min ? min[a] * p->output_per_si[a] : 0.0,
                   max ? max[a] * p->output_per_si[a] : 0.0);
  if (at < (int)sizeof line) snprintf(line + at, sizeof line - (size_t)at, "\n");
  PP_CALL(text_log_add(&st->step_log, line));
  return PP_OK;
}

/* A growth factor whose largest value has fallen below healing.concentration_floor is set to zero:
 * far below a molecule per element, such a field carries no information, yet each step would still
 * solve it to the relative tolerance (hundreds of CG iterations for values of 1e-40 ng/mL). */
static pp_err clear_negligible(stage *st, double *min, double *max)
{
  const size_t N = st->owned;
  for (int s = 0; s < S; ++s) {
    if (!(max[s] < st->p->floor) || (max[s] == 0 && min[s] == 0)) continue;
    pp_log(PP_LOG_INFO, "healing day %.4g: %s below %.3g %s everywhere (max %.3g %s): set to zero", st->time / day,
           species_key[s], st->p->floor * st->p->factor_per_si, st->p->factor_unit, max[s] * st->p->factor_per_si,
           st->p->factor_unit);
    for (size_t n = 0; n < N; ++n) st->u[(size_t)s * N + n] = 0;
    min[s] = max[s] = 0;
    st->cleared += 1;
    PP_CALL(log_step(st, EVENT_CLEAR, st->time, 0, 0, NULL, min, max));
  }
  return PP_OK;
}

/* ---- output, summary and checkpoints ----------------------------------------------------------- */

static const char steps_header[] =
  "step,time_s,time_d,dt_s,event,error,pdgf_cg_iterations,tgf_beta_cg_iterations,fibroblast_cg_iterations,"
  "reaction_substeps,reaction_rejected_substeps,pdgf_min,pdgf_max,tgf_beta_min,tgf_beta_max,fibroblasts_min_per_mm3,"
  "fibroblasts_max_per_mm3,collagen_III_min_mg_per_ml,collagen_III_max_mg_per_ml,collagen_I_min_mg_per_ml,"
  "collagen_I_max_mg_per_ml\n";

static const char summary_header[] =
  "time_s,time_d,pdgf_max,tgf_beta_max,fibroblasts_max_per_mm3,treated_collagen_gain,treated_type_III_share,"
  "treated_fibroblasts_relative,treated_tgf_beta_mean,untreated_collagen_gain,untreated_type_III_share,"
  "untreated_fibroblasts_relative\n";

typedef struct {
  double collagen_gain, type_III_share, fibroblasts, stimulus; /* NAN where the region is empty */
} region_means;

/* Volume-weighted means over a region (exact sums: the same bits on any rank count). */
static pp_err region_average(stage *st, int which, region_means *means)
{
  const size_t N = st->owned;
  const double *volume = pp_diffusion_node_volume(st->diffusion);
  const parameters *p = st->p;
  double sums[4] = {0};
  const int stimulus = p->model.collagen.stimulus;
  for (int q = 0; q < 4; ++q) {
    for (size_t n = 0; n < N; ++n) {
      double w = st->region[n] == which ? volume[n] : 0, v = 0;
      if (q == 0) v = st->u[(size_t)C3 * N + n] + st->u[(size_t)C1 * N + n];
      if (q == 1) v = st->u[(size_t)C3 * N + n];
      if (q == 2) v = st->u[(size_t)FIB * N + n];
      if (q == 3) v = st->u[(size_t)stimulus * N + n];
      st->weighted[n] = w * v;
    }
    PP_CALL(pp_reduce_sum_host(st->weighted, N, st->runtime->comm, &sums[q]));
  }
  const double V = st->region_volume[which];
  means->collagen_gain = V > 0 ? sums[0] / (V * p->model.collagen.normal_content) - 1 : NAN;
  means->type_III_share = V > 0 ? sums[1] / sums[0] : NAN;
  means->fibroblasts = V > 0 ? sums[2] / (V * p->model.fibroblasts.resting_density) : NAN;
  means->stimulus = V > 0 ? sums[3] / V : NAN;
  return PP_OK;
}

static pp_err write_summary_row(stage *st, const double *max)
{
  region_means treated, untreated;
  PP_CALL(region_average(st, REGION_TREATED, &treated));
  PP_CALL(region_average(st, REGION_UNTREATED, &untreated));
  const parameters *p = st->p;
  char line[512];
  snprintf(line, sizeof line, "%.17g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g\n", st->time,
           st->time / day, max[0] * p->factor_per_si, max[1] * p->factor_per_si, max[FIB] * cells_per_mm3_per_si,
           treated.collagen_gain, treated.type_III_share, treated.fibroblasts, treated.stimulus * p->factor_per_si,
           untreated.collagen_gain, untreated.type_III_share, untreated.fibroblasts);
  PP_CALL(text_log_add(&st->summary_log, line));
  pp_log(PP_LOG_INFO, "healing day %.4g (step %lld): PDGF max %.4g %s, TGF-beta max %.4g %s, fibroblasts max %.4g/mm3; "
         "treated upper dermis: collagen %+.2f %%, type III %.1f %%", st->time / day, st->steps,
         max[0] * p->factor_per_si, p->factor_unit, max[1] * p->factor_per_si, p->factor_unit,
         max[FIB] * cells_per_mm3_per_si, 100 * treated.collagen_gain, 100 * treated.type_III_share);
  return PP_OK;
}

/* owned SoA state -> per component in output order (ghosts exchanged). Collective. */
static pp_err state_to_output(stage *st, const double *state, double *out)
{
  const size_t N = st->owned, nodes = (size_t)st->mesh->node_count, count = (size_t)st->mesh->output_node_count;
  for (size_t n = 0; n < N; ++n)
    for (int a = 0; a < STATE; ++a) st->local[n * STATE + (size_t)a] = state[(size_t)a * N + n];
  PP_CALL(pp_halo_exchange_host(st->halo, st->local, STATE));
  pp_err err = PP_OK;
  for (int a = 0; a < STATE && err == PP_OK; ++a) {
    for (size_t n = 0; n < nodes; ++n) st->single[n] = st->local[n * STATE + (size_t)a];
    err = pp_mesh_output_node_values(st->mesh, st->single, 1, out + (size_t)a * count);
  }
  PP_CALL(pp_runtime_agree(st->runtime, err, "arranging stage-2 output"));
  return PP_OK;
}

/* One series step: every component in its output unit, the collagen gain and the injured fraction. */
static pp_err write_output(stage *st)
{
  const parameters *p = st->p;
  const size_t count = (size_t)st->mesh->output_node_count;
  PP_CALL(state_to_output(st, st->u, st->saved));
  PP_CALL(pp_io_step_begin(st->series, st->time / day));
  for (int a = 0; a < STATE; ++a) {
    for (size_t i = 0; i < count; ++i) st->output[i] = st->saved[(size_t)a * count + i] * p->output_per_si[a];
    PP_CALL(pp_io_write_node_field(st->series, component_name[a], output_unit(p, a), 1, st->output));
  }
  for (size_t i = 0; i < count; ++i)
    st->output[i] = (st->saved[(size_t)C3 * count + i] + st->saved[(size_t)C1 * count + i]) /
                      p->model.collagen.normal_content - 1;
  PP_CALL(pp_io_write_node_field(st->series, "collagen_gain", "1", 1, st->output));
  PP_CALL(pp_io_write_cell_field(st->series, "injury", "1", 1, st->injury.fraction));
  PP_CALL(pp_io_step_end(st->series));
  return PP_OK;
}

static pp_err write_checkpoint(stage *st)
{
  PP_CALL(state_to_output(st, st->u, st->saved));
  PP_CALL(pp_checkpoint_write(st->checkpoint, st->steps, st->time, st->p->physics_hash));
  PP_CALL(save_text_log(st->runtime, st->dir, &st->step_log));
  PP_CALL(save_text_log(st->runtime, st->dir, &st->summary_log));
  st->checkpoints += 1;
  return PP_OK;
}

static pp_err make_schedules(const parameters *p, pp_output_schedule *outputs, pp_output_schedule *checkpoints,
                             pp_output_schedule *sessions)
{
  PP_CALL(pp_output_schedule_interval(outputs, 0, p->duration, p->output_interval));
  if (p->checkpoint_interval <= p->duration)
    PP_CALL(pp_output_schedule_interval(checkpoints, p->checkpoint_interval, p->duration, p->checkpoint_interval));
  else
    PP_CALL(pp_output_schedule_list(checkpoints, &p->duration, 1));
  double times[PP_HEALING_MAX_PULSES];
  int count = p->sessions < PP_HEALING_MAX_PULSES ? p->sessions : PP_HEALING_MAX_PULSES;
  for (int k = 0; k < count; ++k) times[k] = k * p->session_interval;
  PP_CALL(pp_output_schedule_list(sessions, times, count));
  return PP_OK;
}

/* The injury source of the reactions: per node the injured share of its control volume (the
 * channels' element volumes by corner-volume shares), the same for every species, times each
 * species' two-phase release (kg/m^3 of injured volume). */
static pp_err set_source(stage *st)
{
  const size_t owned = st->owned, elements = (size_t)st->mesh->element_count;
  double *density = malloc((elements * S + 1) * sizeof *density), *rates = malloc((owned * S + 1) * sizeof *rates);
  pp_err err = density && rates ? PP_OK
                                             : pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__,
                                                              "out of memory for the injury source");
  for (size_t e = 0; e < elements && err == PP_OK; ++e)
    for (int s = 0; s < S; ++s) density[e * S + (size_t)s] = st->injury.injured[e] / st->injury.element_volume[e];
  if (err == PP_OK) err = pp_diffusion_source_from_elements(st->diffusion, density, rates);
  const double *volume = pp_diffusion_node_volume(st->diffusion);
  for (size_t n = 0; n < owned && err == PP_OK; ++n) {
    st->amplitude[n] = rates[n * S] / volume[n];
    density[n] = rates[n * S]; /* reused: each node's injured volume */
  }
  err = pp_runtime_agree(st->runtime, err, "stage-2 injury source");
  if (err == PP_OK) err = pp_reduce_sum_host(density, owned, st->runtime->comm, &st->release_volume);
  free(density);
  free(rates);
  PP_CALL(err);
  return PP_OK;
}

static pp_err set_up(stage *st, int restart, double *restarted_from)
{
  const parameters *p = st->p;
  const pp_runtime *runtime = st->runtime;
  *restarted_from = -1;
  st->owned = (size_t)st->mesh->owned_node_count;
  pp_err local = build_injury(p, runtime, st->mesh, &st->injury);
  PP_CALL(pp_runtime_agree(runtime, local, "stage-2 injury"));
  if (st->injury.channels == 0)
    pp_log(PP_LOG_WARN, "stage 2: no needle axes (mesh.refine_x x mesh.refine_y are empty), so nothing is released");
  PP_CHECK(p->sessions <= PP_HEALING_MAX_PULSES, PP_ERR_CONFIG, "treatment.sessions is %d: at most %d are supported",
           p->sessions, PP_HEALING_MAX_PULSES);
  PP_CALL(pp_runtime_agree(runtime, allocate(st), "stage-2 memory"));
  PP_CALL(pp_reduce_create(&st->reduce, st->clrt, runtime->comm));
  PP_CALL(pp_diffusion_create(&st->diffusion, st->mesh, st->clrt, st->halo, st->reduce, runtime->comm, S, p->species));
  pp_solver_options solver = p->solver;
  if (pp_clrt_real_size(st->clrt) == 4 && solver.relative_tolerance < 1e-6) {
    pp_log(PP_LOG_WARN, "healing.solver_tolerance %.1e is below what float arithmetic reaches: using 1e-6",
           solver.relative_tolerance);
    solver.relative_tolerance = 1e-6;
  }
  pp_diffusion_set_solver_options(st->diffusion, &solver);
  if (p->z_lines) pp_diffusion_set_preconditioner(st->diffusion, PP_PRECONDITIONER_Z_LINES);
  const pp_healing_fibroblasts *f = &p->model.fibroblasts;
  if (f->motility > 0) {
    PP_CALL(pp_chemotaxis_create(&st->chemotaxis, st->diffusion, f->motility, f->chemotactic_sensitivity));
    pp_chemotaxis_set_solver_options(st->chemotaxis, &solver);
  }
  PP_CALL(pp_healing_reaction_create(&st->reaction, st->clrt, st->owned));
  PP_CALL(pp_healing_reaction_set_parameters(st->reaction, p->flat));
  pp_healing_reaction_options options;
  pp_healing_reaction_default_options(&p->model, &p->rest, p->tolerance / 100, &options);
  options.include_decay = 0;
  options.freeze_growth_factors = 1;
  PP_CALL(pp_healing_reaction_set_options(st->reaction, &options));
  PP_CALL(pp_healing_reaction_set_node_ids(st->reaction, st->mesh->node_global_id));
  PP_CALL(set_source(st));
  PP_CALL(pp_clrt_buffer(st->clrt, CL_MEM_READ_WRITE, (STATE * st->owned + 1) * (size_t)pp_clrt_real_size(st->clrt),
                         "stage-2 state", &st->state));

  /* the summary's regions */
  double top = -DBL_MAX;
  for (int n = 0; n < st->mesh->owned_node_count; ++n) top = fmax(top, st->mesh->node_coords[3 * n + 2]);
  PP_MPI(MPI_Allreduce(MPI_IN_PLACE, &top, 1, MPI_DOUBLE, MPI_MAX, runtime->comm), "surface height");
  classify_nodes(p, st->mesh, top, st->injury.treated_depth, st->region);
  const double *volume = pp_diffusion_node_volume(st->diffusion);
  for (int which = REGION_TREATED; which <= REGION_UNTREATED; ++which) {
    for (size_t n = 0; n < st->owned; ++n) st->weighted[n] = st->region[n] == which ? volume[n] : 0;
    PP_CALL(pp_reduce_sum_host(st->weighted, st->owned, runtime->comm, &st->region_volume[which]));
  }

  pp_io_mesh view;
  PP_CALL(pp_mesh_io_view(st->mesh, &view));
  PP_CALL(pp_checkpoint_create(&st->checkpoint, runtime, st->dir, &view));
  const size_t count = (size_t)st->mesh->output_node_count;
  for (int a = 0; a < STATE; ++a)
    PP_CALL(pp_checkpoint_register_node_field(st->checkpoint, component_name[a], component_si_unit[a], 1,
                                              st->saved + (size_t)a * count));
  PP_CALL(pp_checkpoint_register_cell_field(st->checkpoint, "injury", "1", 1, st->injury.fraction));
  PP_CALL(pp_checkpoint_register_scalar_double(st->checkpoint, "healing_time", &st->time));
  PP_CALL(pp_checkpoint_register_scalar_double(st->checkpoint, "healing_next_dt", &st->next_dt));
  PP_CALL(pp_checkpoint_register_scalar_int64(st->checkpoint, "healing_next_session", &st->next_session));
  PP_CALL(pp_checkpoint_register_scalar_int64(st->checkpoint, "healing_steps", &st->steps));
  PP_CALL(pp_checkpoint_register_scalar_int64(st->checkpoint, "healing_rejected_steps", &st->rejected));
  PP_CALL(pp_checkpoint_register_scalar_int64(st->checkpoint, "healing_cleared", &st->cleared));
  PP_CALL(pp_checkpoint_register_scalar_int64(st->checkpoint, "healing_cg_iterations", &st->cg_iterations));
  PP_CALL(pp_checkpoint_register_scalar_int64(st->checkpoint, "healing_most_cg_iterations", &st->max_step_cg));
  PP_CALL(pp_checkpoint_register_scalar_int64(st->checkpoint, "healing_reaction_substeps", &st->reaction_substeps));
  for (int a = 0; a <= FIB; ++a) {
    char name[64];
    snprintf(name, sizeof name, "healing_%s_peak", component_name[a]);
    PP_CALL(pp_checkpoint_register_scalar_double(st->checkpoint, name, &st->peak[a]));
  }
  st->step_log.header = steps_header;
  st->step_log.file = "healing_steps.csv";
  st->step_log.time_column = 1;
  st->summary_log.header = summary_header;
  st->summary_log.file = "healing_summary.csv";
  st->summary_log.time_column = 0;

  if (!restart) {
    double rest[STATE];
    pp_healing_rest_vector(&p->model, &p->rest, rest);
    for (int s = 0; s < S; ++s) rest[s] += p->perturbation * p->model.species[s].autocrine_half_saturation;
    rest[FIB] *= 1 + p->perturbation;
    for (int a = 0; a < STATE; ++a)
      for (size_t n = 0; n < st->owned; ++n) st->u[(size_t)a * st->owned + n] = rest[a];
    st->time = 0;
    st->next_dt = p->first_step;
    PP_CALL(pp_io_series_open(&st->series, runtime, st->dir, "healing", "d", &view));
    return PP_OK;
  }
  long long step = 0;
  double time = 0;
  PP_CALL(pp_checkpoint_read_latest(st->checkpoint, p->physics_hash, 0, &step, &time));
  pp_err err = PP_OK;
  for (int a = 0; a < STATE && err == PP_OK; ++a) {
    err = pp_mesh_local_from_output(st->mesh, st->saved + (size_t)a * count, 1, st->single);
    for (size_t n = 0; n < st->owned && err == PP_OK; ++n) st->u[(size_t)a * st->owned + n] = st->single[n];
  }
  PP_CALL(pp_runtime_agree(runtime, err, "restoring the stage-2 state"));
  PP_CALL(load_text_log(runtime, st->dir, st->time, &st->step_log));
  PP_CALL(load_text_log(runtime, st->dir, st->time, &st->summary_log));
  PP_CALL(pp_io_series_reopen(&st->series, runtime, st->dir, "healing", "d", &view, st->time / day));
  *restarted_from = st->time;
  pp_log(PP_LOG_INFO, "stage 2 restarts from its checkpoint at day %.6g (step %lld, %lld session(s) begun)",
         st->time / day, st->steps, st->next_session);
  return PP_OK;
}

/* A session begins: its release is already in the reactions' source (all pulses are known from the
 * start); the steps start short again. */
static pp_err begin_session(stage *st)
{
  const parameters *p = st->p;
  double released[S];
  for (int s = 0; s < S; ++s) released[s] = (p->release[s] + p->macrophage_release[s]) * st->release_volume;
  const double exact = st->injury.channel_volume, mismatch = exact > 0 ? fabs(st->release_volume - exact) / exact : 0;
  pp_log(PP_LOG_INFO, "healing day %.4g: session %lld begins; %d channel(s) (%.4g nL, the source's volume matches to "
         "%.1e) release %.4g ng PDGF and %.4g ng TGF-beta over the platelet (%.3g min) and macrophage (%.3g d) phases",
         st->time / day, st->next_session + 1, st->injury.channels, exact * 1e12, mismatch, released[0] * 1e12,
         released[1] * 1e12, p->platelet_time / 60, p->macrophage_time / day);
  st->next_session += 1;
  st->next_dt = p->first_step;
  PP_CALL(log_step(st, EVENT_SESSION, st->time, 0, 0, NULL, NULL, NULL));
  return PP_OK;
}

enum { SMALLEST_STEP_S = 1 };

static pp_err time_loop(stage *st, const pp_output_schedule *outputs, const pp_output_schedule *checkpoints,
                        const pp_output_schedule *sessions, int restarted)
{
  const parameters *p = st->p;
  double min[STATE], max[STATE];
  PP_CALL(state_range(st, min, max));
  if (!restarted) {
    for (int a = 0; a <= FIB; ++a) st->peak[a] = max[a];
    if (pp_output_schedule_contains(sessions, 0) && st->injury.channels > 0) PP_CALL(begin_session(st));
    if (pp_output_schedule_contains(outputs, 0)) {
      PP_CALL(write_output(st));
      PP_CALL(write_summary_row(st, max));
    }
  }
  while (st->time < p->duration) {
    const double t = st->time, planned = fmin(st->next_dt, p->max_step);
    double t_new = t + planned, t_event = 0;
    /* land exactly on the first of: end, session, output, checkpoint */
    int landed = 0;
    if (t_new >= p->duration) landed = (t_new = p->duration) < t + planned;
    if (pp_output_schedule_next(sessions, t, t_new - t, &t_event)) landed = (t_new = t_event) < t + planned;
    if (pp_output_schedule_next(outputs, t, t_new - t, &t_event)) landed = (t_new = t_event) < t + planned;
    if (pp_output_schedule_next(checkpoints, t, t_new - t, &t_event)) landed = (t_new = t_event) < t + planned;
    const double h = t_new - t;
    step_work work;
    memset(&work, 0, sizeof work);
    PP_CALL(split_step(st, t, h, st->u, st->whole, &work));
    if (!work.reaction_failed) PP_CALL(split_step(st, t, h / 2, st->u, st->halves, &work));
    if (!work.reaction_failed) PP_CALL(split_step(st, t + h / 2, h / 2, st->halves, st->halves, &work));
    double error = INFINITY;
    int worst = 0;
    if (!work.reaction_failed) PP_CALL(error_norm(st, &error, &worst));
    int step_cg = work.cg[0] + work.cg[1] + work.cell_cg;
    st->cg_iterations += step_cg;
    st->reaction_substeps += work.substeps;
    if (!(error <= 1)) {
      st->rejected += 1;
      st->next_dt = h * (work.reaction_failed ? 0.25 : fmax(0.1, 0.9 / sqrt(error)));
      PP_CALL(log_step(st, EVENT_REJECT, t_new, h, error, &work, NULL, NULL));
      pp_log(PP_LOG_DEBUG, "healing: step from day %.6g over %.4g s rejected (%s %.3g); retried over %.4g s", t / day, h,
             work.reaction_failed ? "a node's reactions gave up; error" : "error", error, st->next_dt);
      PP_CHECK(st->next_dt >= SMALLEST_STEP_S, PP_ERR_SOLVER,
               "stage 2: the error controller wants a step of %.3g s at day %.6g (below %d s; error %.3g at %.3g s%s): "
               "the model is too stiff or too fast for healing.tolerance %g", st->next_dt, t / day, SMALLEST_STEP_S,
               error, h, work.reaction_failed ? ", a node's reaction integrator gave up" : "", p->tolerance);
      continue;
    }
    /* local extrapolation: 2 u_h/2 - u_h cancels the leading O(h) error of the two half steps */
    for (size_t i = 0; i < STATE * st->owned; ++i) {
      const double extrapolated = 2 * st->halves[i] - st->whole[i];
      st->u[i] = extrapolated > 0 ? extrapolated : 0;
    }
    st->time = t_new;
    st->steps += 1;
    st->max_step_cg = step_cg > st->max_step_cg ? step_cg : st->max_step_cg;
    double factor = error > 0 ? fmin(p->step_growth, 0.9 / sqrt(error)) : p->step_growth;
    factor = fmax(factor, 0.2);
    /* a step cut short to land on an event says little about the step the controller had planned */
    st->next_dt = landed && factor >= 1 ? fmax(planned, h * factor) : h * factor;
    PP_CALL(state_range(st, min, max));
    for (int a = 0; a <= FIB; ++a) st->peak[a] = fmax(st->peak[a], max[a]);
    PP_CALL(log_step(st, EVENT_STEP, st->time, h, error, &work, min, max));
    PP_CALL(clear_negligible(st, min, max));
    pp_log(PP_LOG_DEBUG, "healing step %lld: day %.6g, dt %.4g s, error %.3g (%s), CG %d/%d/%d, reaction sub-steps %lld",
           st->steps, st->time / day, h, error, component_name[worst], work.cg[0], work.cg[1], work.cell_cg,
           work.substeps);
    if (pp_output_schedule_contains(sessions, st->time) && st->injury.channels > 0) PP_CALL(begin_session(st));
    if (pp_output_schedule_contains(outputs, st->time)) {
      PP_CALL(write_output(st));
      PP_CALL(write_summary_row(st, max));
    }
    if (pp_output_schedule_contains(checkpoints, st->time) || st->time >= p->duration) PP_CALL(write_checkpoint(st));
  }
  return PP_OK;
}

pp_err pp_healing_run(const pp_config *config, const pp_runtime *runtime, pp_clrt *clrt, pp_mesh *mesh,
                      pp_halo *halo, const char *output_dir, int restart, pp_healing_summary *summary)
{
  parameters p;
  PP_CALL(pp_runtime_agree(runtime, read_parameters(config, &p), "stage-2 parameters"));
  stage st;
  memset(&st, 0, sizeof st);
  st.p = &p;
  st.runtime = runtime;
  st.clrt = clrt;
  st.mesh = mesh;
  st.halo = halo;
  st.dir = output_dir;
  pp_output_schedule outputs = {0}, checkpoints = {0}, sessions = {0};
  double restarted_from = -1;
  pp_err err = make_schedules(&p, &outputs, &checkpoints, &sessions);
  if (err == PP_OK) err = set_up(&st, restart, &restarted_from);
  if (err == PP_OK) err = time_loop(&st, &outputs, &checkpoints, &sessions, restart);
  region_means treated = {NAN, NAN, NAN, NAN}, untreated = {NAN, NAN, NAN, NAN};
  if (err == PP_OK) err = region_average(&st, REGION_TREATED, &treated);
  if (err == PP_OK) err = region_average(&st, REGION_UNTREATED, &untreated);
  if (err == PP_OK) {
    memset(summary, 0, sizeof *summary);
    summary->restarted_from = restarted_from;
    summary->channels = st.injury.channels;
    snprintf(summary->channel_entry, sizeof summary->channel_entry, "%s", st.injury.entry);
    summary->channel_volume = st.injury.channel_volume;
    summary->source_volume_error = st.injury.channel_volume > 0
                                     ? fabs(st.release_volume - st.injury.channel_volume) / st.injury.channel_volume
                                     : 0;
    summary->pulses = (int)st.next_session;
    summary->steps = st.steps;
    summary->rejected_steps = st.rejected;
    summary->cleared = (int)st.cleared;
    summary->cg_iterations = st.cg_iterations;
    summary->max_cg_iterations = (int)st.max_step_cg;
    summary->reaction_substeps = st.reaction_substeps;
    for (int s = 0; s < S; ++s) summary->peak[s] = st.peak[s];
    summary->peak_fibroblasts = st.peak[FIB];
    summary->treated_collagen_gain = treated.collagen_gain;
    summary->treated_type_III_share = treated.type_III_share;
    summary->untreated_collagen_gain = untreated.collagen_gain;
    summary->treated_volume = st.region_volume[REGION_TREATED];
    summary->untreated_volume = st.region_volume[REGION_UNTREATED];
    summary->outputs = pp_io_series_completed_steps(st.series);
    summary->checkpoints = st.checkpoints;
    summary->factor_per_si = p.factor_per_si;
    snprintf(summary->factor_unit, sizeof summary->factor_unit, "%s", p.factor_unit);
  }
  pp_output_schedule_free(&outputs);
  pp_output_schedule_free(&checkpoints);
  pp_output_schedule_free(&sessions);
  stage_free(&st);
  PP_CALL(err);
  return PP_OK;
}

pp_err pp_healing_check_model(const pp_config *config, const pp_runtime *runtime, const pp_mesh *mesh)
{
  pp_healing_domain domain;
  double bounds[6];
  pp_healing_domain_begin(&domain, bounds);
  for (int e = 0; e < mesh->owned_element_count; ++e) {
    double corners[8][3];
    memcpy(corners, mesh->element_corner_coords + 24 * (size_t)e, sizeof corners);
    pp_healing_domain_add_element(&domain, bounds, corners);
  }
  /* min of every lower bound and size, max of every upper bound: order-independent, the same
   * numbers on every rank, so every rank reaches the same verdict */
  double low[6] = {bounds[0], bounds[2], bounds[4], domain.element_size[0], domain.element_size[1],
                   domain.element_size[2]};
  double high[3] = {bounds[1], bounds[3], bounds[5]};
  PP_MPI(MPI_Allreduce(MPI_IN_PLACE, low, 6, MPI_DOUBLE, MPI_MIN, runtime->comm), "the healing check's domain");
  PP_MPI(MPI_Allreduce(MPI_IN_PLACE, high, 3, MPI_DOUBLE, MPI_MAX, runtime->comm), "the healing check's domain");
  for (int a = 0; a < 3; ++a) {
    bounds[2 * a] = low[a];
    bounds[2 * a + 1] = high[a];
    domain.element_size[a] = low[3 + a];
  }
  const int generated = !mesh->imported;
  pp_healing_domain_end(&domain, bounds, generated && mesh->spec.side_x == PP_SIDE_PERIODIC,
                        generated && mesh->spec.side_y == PP_SIDE_PERIODIC);
  if (generated) { /* the block's own lengths: a periodic side's owned elements end one element short */
    domain.length[0] = mesh->spec.length_x;
    domain.length[1] = mesh->spec.length_y;
  }
  char text[1024] = "";
  FILE *summary = runtime->rank == 0 ? fmemopen(text, sizeof text, "w") : NULL;
  pp_err err = pp_healing_check_resting_state(config, &domain, "", summary);
  if (summary) fclose(summary);
  if (err == PP_OK && runtime->rank == 0) {
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) pp_log(PP_LOG_INFO, "%s", line);
  }
  PP_CALL(err);
  return PP_OK;
}

/* A JSON number, or null where the value is not finite (a region that is absent: JSON has no NaN). */
static const char *json_number(char *text, size_t size, double value)
{
  if (isfinite(value))
    snprintf(text, size, "%.9g", value);
  else
    snprintf(text, size, "null");
  return text;
}

void pp_healing_summary_json(const pp_healing_summary *s, char *text, size_t size)
{
  const double f = s->factor_per_si;
  char gain[32], share[32], untreated[32];
  snprintf(text, size,
           "{\"species\": [\"pdgf\", \"tgf_beta\"], \"channels_per_session\": %d, \"channel_library_entry\": \"%s\", "
           "\"channel_volume_m3\": %.9g, "
           "\"source_volume_error\": %.3e, \"sessions\": %d, \"steps\": %lld, \"rejected_steps\": %lld, "
           "\"cleared\": %d, \"cg_iterations\": %lld, \"max_cg_iterations_per_step\": %d, \"reaction_substeps\": %lld, "
           "\"growth_factor_unit\": \"%s\", \"peak_growth_factor\": [%.9g, %.9g], \"peak_fibroblasts_per_mm3\": %.9g, "
           "\"treated_upper_dermis\": {\"volume_m3\": %.9g, \"collagen_gain\": %s, \"type_III_share\": %s}, "
           "\"untreated\": {\"volume_m3\": %.9g, \"collagen_gain\": %s}, \"outputs\": %lld, "
           "\"checkpoints_written\": %lld, \"restarted_from_s\": %.17g}",
           s->channels, s->channel_entry, s->channel_volume, s->source_volume_error, s->pulses, s->steps,
           s->rejected_steps, s->cleared, s->cg_iterations, s->max_cg_iterations, s->reaction_substeps, s->factor_unit,
           s->peak[0] * f, s->peak[1] * f, s->peak_fibroblasts * 1e-9, s->treated_volume,
           json_number(gain, sizeof gain, s->treated_collagen_gain),
           json_number(share, sizeof share, s->treated_type_III_share), s->untreated_volume,
           json_number(untreated, sizeof untreated, s->untreated_collagen_gain), s->outputs, s->checkpoints,
           s->restarted_from);
}
