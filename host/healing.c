/* healing: stage 2's growth factors in a run (see healing.h for the model, schedule and files). */
#include "healing.h"
#include "healing_model.h"
#include "element.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "diffusion.h"
#include "io.h"
#include "log.h"
#include "reduce.h"
#include "run_record.h"

enum { S = PP_HEALING_SPECIES, SAMPLES = 4, PATH_SIZE = 4096 };
enum { EVENT_STEP, EVENT_PULSE, EVENT_CLEAR };
static const char *const event_name[] = {"step", "pulse", "clear"};

static const char *const species_key[S] = {"pdgf", "tgf_beta"};
static const char *const field_unit_out = "ng/mL";
static const double out_per_si = 1e6; /* 1 kg/m^3 = 10^6 ng/mL */
static const double day = 86400.0;

/* ---- parameters ------------------------------------------------------------------------------- */

typedef struct {
  pp_diffusion_species species[S];
  double release[S];              /* kg/m^3 in the injured volume */
  int bdf2;
  int z_lines;                    /* healing.preconditioner: z_lines */
  double first_step, step_growth, max_step, duration;
  double session_interval;
  int sessions;
  double output_interval, checkpoint_interval;
  double floor;                   /* kg/m^3: a species whose maximum falls below is set to 0 */
  pp_solver_options solver;
  double tip_radius, surface_radius, depth; /* channel frustum */
  const double *axes_x, *axes_y;
  int axes_x_count, axes_y_count;
  char physics_hash[17];
} parameters;

static double key_real(const pp_config *config, const char *format, const char *name)
{
  char path[128];
  snprintf(path, sizeof path, format, name);
  return pp_config_real(config, path);
}

static void read_parameters(const pp_config *config, parameters *p)
{
  memset(p, 0, sizeof *p);
  int count = 0;
  const double *factors = pp_config_real_list(config, "healing.diffusivity_factors", &count);
  for (int s = 0; s < S; ++s) {
    double diffusivity = key_real(config, "healing.%s.diffusivity", species_key[s]);
    for (int layer = 0; layer < PP_LAYER_COUNT; ++layer)
      p->species[s].diffusivity[layer] = diffusivity * (layer < count ? factors[layer] : 1.0);
    p->species[s].decay_rate = key_real(config, "healing.%s.decay_rate", species_key[s]);
    p->release[s] = key_real(config, "healing.%s.release", species_key[s]);
  }
  p->bdf2 = !strcmp(pp_config_text(config, "healing.time_scheme"), "bdf2");
  p->z_lines = !strcmp(pp_config_text(config, "healing.preconditioner"), "z_lines");
  p->first_step = pp_config_real(config, "healing.first_step");
  p->step_growth = pp_config_real(config, "healing.step_growth");
  p->max_step = pp_config_real(config, "healing.max_step");
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
  p->axes_x = pp_config_real_list(config, "mesh.refine_x", &p->axes_x_count);
  p->axes_y = pp_config_real_list(config, "mesh.refine_y", &p->axes_y_count);
  pp_config_physics_hash(config, p->physics_hash);
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
  double x, y;              /* axis */
  double top;               /* z of the surface */
} channel_axis;

typedef struct {
  const parameters *p;
  double period_x, period_y; /* 0: not periodic */
} channel_shape;

/* Lateral offset from the axis, the nearest periodic image where the side is periodic. */
static double wrapped(double d, double period)
{
  if (period > 0) d -= period * floor(d / period + 0.5);
  return d;
}

static int inside(const channel_shape *shape, const channel_axis *axis, const double x[3])
{
  const parameters *p = shape->p;
  double below = axis->top - x[2];
  if (below < 0 || below > p->depth) return 0;
  double radius = p->surface_radius + (p->tip_radius - p->surface_radius) * below / p->depth;
  double dx = wrapped(x[0] - axis->x, shape->period_x), dy = wrapped(x[1] - axis->y, shape->period_y);
  return dx * dx + dy * dy <= radius * radius;
}

/* Could any point of the element be inside? (bounding box against the widest radius) */
static int near(const channel_shape *shape, const channel_axis *axis, const double *xyz)
{
  double low[3] = {DBL_MAX, DBL_MAX, DBL_MAX}, high[3] = {-DBL_MAX, -DBL_MAX, -DBL_MAX};
  for (int c = 0; c < 8; ++c)
    for (int d = 0; d < 3; ++d) {
      low[d] = fmin(low[d], xyz[3 * c + d]);
      high[d] = fmax(high[d], xyz[3 * c + d]);
    }
  if (high[2] < axis->top - shape->p->depth || low[2] > axis->top) return 0;
  double reach = shape->p->surface_radius;
  double centre_x = 0.5 * (low[0] + high[0]), centre_y = 0.5 * (low[1] + high[1]);
  double dx = fabs(wrapped(centre_x - axis->x, shape->period_x)) - 0.5 * (high[0] - low[0]);
  double dy = fabs(wrapped(centre_y - axis->y, shape->period_y)) - 0.5 * (high[1] - low[1]);
  return dx <= reach && dy <= reach;
}

/* Quadrature (SAMPLES^3 midpoints) of the channel's indicator over the element. */
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
        if (inside(shape, axis, x)) sum += weight * det;
      }
  return sum;
}

typedef struct {
  double *injured;          /* [element_count] m^3, owned and ghost elements */
  double *fraction;         /* [owned_element_count] injured / element volume (output) */
  double *element_volume;   /* [element_count] */
  int channels;
  double channel_volume;    /* exact, all channels */
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
  const int elements = mesh->element_count, owned = mesh->owned_element_count;
  PP_MALLOC(j->injured, (size_t)elements + 1, "injured volumes");
  PP_MALLOC(j->fraction, (size_t)owned + 1, "injured fractions");
  PP_MALLOC(j->element_volume, (size_t)elements + 1, "element volumes");
  double *owned_share = NULL;
  PP_MALLOC(owned_share, (size_t)owned + 1, "channel volumes");
  for (int e = 0; e < elements; ++e) {
    j->injured[e] = 0;
    j->element_volume[e] = pp_hex8_volume(mesh->element_corner_coords + 24 * (size_t)e);
  }
  /* The surface: the highest node of the block (z = 0 for generated meshes). */
  double top = -DBL_MAX, global_top = 0;
  for (int n = 0; n < mesh->owned_node_count; ++n) top = fmax(top, mesh->node_coords[3 * n + 2]);
  pp_err err = PP_OK;
  int mpi = MPI_Allreduce(&top, &global_top, 1, MPI_DOUBLE, MPI_MAX, runtime->comm);
  if (mpi != MPI_SUCCESS) err = pp_mpi_error(mpi, __FILE__, __LINE__, __func__, "surface height");
  channel_shape shape = {p, 0, 0};
  if (!mesh->imported && mesh->spec.side_x == PP_SIDE_PERIODIC) shape.period_x = mesh->spec.length_x;
  if (!mesh->imported && mesh->spec.side_y == PP_SIDE_PERIODIC) shape.period_y = mesh->spec.length_y;
  const double frustum = M_PI * p->depth *
                         (p->surface_radius * p->surface_radius + p->surface_radius * p->tip_radius +
                          p->tip_radius * p->tip_radius) / 3.0;
  for (int ix = 0; ix < p->axes_x_count && err == PP_OK; ++ix)
    for (int iy = 0; iy < p->axes_y_count && err == PP_OK; ++iy) {
      channel_axis axis = {p->axes_x[ix], p->axes_y[iy], global_top};
      for (int e = 0; e < owned; ++e)
        owned_share[e] = injured_quadrature(&shape, &axis, mesh->element_corner_coords + 24 * (size_t)e);
      double quadrature = 0;
      err = pp_reduce_sum_host(owned_share, (size_t)owned, runtime->comm, &quadrature);
      if (err != PP_OK) break;
      if (!(quadrature > 0)) {
        err = pp_error_raise(PP_ERR_CONFIG, __FILE__, __LINE__, __func__,
                             "the needle channel at x = %g um, y = %g um (mesh.refine_x, mesh.refine_y) holds no "
                             "quadrature point of the mesh: the channel (radius %g um at the surface, depth %g um) "
                             "is outside the block or finer than its elements",
                             axis.x * 1e6, axis.y * 1e6, p->surface_radius * 1e6, p->depth * 1e6);
        pp_error_set_collective(runtime->rank == 0 ? PP_ERROR_COLLECTIVE : PP_ERROR_COLLECTIVE_QUIET);
        break;
      }
      /* Scale so the channel's volume is the frustum's exactly; ghosts get the same scale. */
      double scale = frustum / quadrature;
      for (int e = 0; e < elements; ++e) {
        double share = e < owned ? owned_share[e]
                                 : injured_quadrature(&shape, &axis, mesh->element_corner_coords + 24 * (size_t)e);
        j->injured[e] += scale * share;
      }
      j->channels += 1;
    }
  free(owned_share);
  PP_CALL(err);
  for (int e = 0; e < owned; ++e) j->fraction[e] = j->injured[e] / j->element_volume[e];
  j->channel_volume = frustum * j->channels;
  return PP_OK;
}

/* ---- diagnostics ----------------------------------------------------------------------------------- */

typedef struct {
  long long step;           /* steps completed */
  double time, dt;          /* s */
  int event;                /* EVENT_STEP, EVENT_PULSE, EVENT_CLEAR */
  int iterations[S];
  double residual[S], mass[S], mass_error[S], min[S], max[S];
} step_row;

typedef struct {
  step_row *rows;
  size_t count, capacity;
} step_log;

static pp_err log_append(step_log *log, const step_row *row)
{
  if (log->count == log->capacity) {
    size_t capacity = log->capacity ? 2 * log->capacity : 256;
    step_row *bigger = realloc(log->rows, capacity * sizeof *bigger);
    PP_CHECK(bigger, PP_ERR_MEMORY, "out of memory for the stage-2 step log");
    log->rows = bigger;
    log->capacity = capacity;
  }
  log->rows[log->count++] = *row;
  return PP_OK;
}

static const char csv_header[] =
  "step,time_s,time_d,dt_s,event,pdgf_cg_iterations,pdgf_relative_residual,pdgf_mass_kg,pdgf_mass_error,"
  "pdgf_min_ng_per_ml,pdgf_max_ng_per_ml,tgf_beta_cg_iterations,tgf_beta_relative_residual,tgf_beta_mass_kg,"
  "tgf_beta_mass_error,tgf_beta_min_ng_per_ml,tgf_beta_max_ng_per_ml\n";

static pp_err write_csv(FILE *out, const void *context)
{
  const step_log *log = context;
  fputs(csv_header, out);
  for (size_t i = 0; i < log->count; ++i) {
    const step_row *r = &log->rows[i];
    fprintf(out, "%lld,%.17g,%.9g,%.17g,%s", r->step, r->time, r->time / day, r->dt, event_name[r->event]);
    for (int s = 0; s < S; ++s)
      fprintf(out, ",%d,%.6e,%.17g,%.3e,%.17g,%.17g", r->iterations[s], r->residual[s], r->mass[s],
              r->mass_error[s], r->min[s] * out_per_si, r->max[s] * out_per_si);
    fputc('\n', out);
  }
  return ferror(out) ? pp_error_raise(PP_ERR_IO, __FILE__, __LINE__, __func__, "write error") : PP_OK;
}

/* Rank 0 writes DIR/healing_steps.csv (atomically); every rank learns the result. */
static pp_err save_csv(const pp_runtime *runtime, const char *dir, const step_log *log)
{
  pp_err local = PP_OK;
  if (runtime->rank == 0) {
    char path[PATH_SIZE];
    snprintf(path, sizeof path, "%s/healing_steps.csv", dir);
    local = pp_write_file_atomic(path, write_csv, log);
  }
  PP_CALL(pp_runtime_agree(runtime, local, "writing healing_steps.csv"));
  return PP_OK;
}

/* After a restart: the rows up to the restart time from the previous invocation's file (rank 0
 * reads; the rows only feed the file and the summary, which rank 0 writes, but every rank keeps
 * the same copy so the summary is the same everywhere). */
static pp_err load_csv(const pp_runtime *runtime, const char *dir, double until, step_log *log)
{
  char *text = NULL;
  pp_err local = PP_OK;
  if (runtime->rank == 0) {
    char path[PATH_SIZE];
    snprintf(path, sizeof path, "%s/healing_steps.csv", dir);
    FILE *in = fopen(path, "rb");
    if (!in) {
      local = pp_error_raise(PP_ERR_IO, __FILE__, __LINE__, __func__, "cannot open %s to continue its step log: %s",
                             path, strerror(errno));
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
  }
  PP_CALL(pp_runtime_agree(runtime, local, "reading healing_steps.csv"));
  PP_CALL(pp_runtime_broadcast_text(runtime, &text, 0));
  pp_err err = PP_OK;
  char *line = strchr(text, '\n'); /* after the header */
  int number = 1;
  while (err == PP_OK && line && line[1]) {
    ++line;
    ++number;
    step_row r;
    memset(&r, 0, sizeof r);
    char event[16] = "";
    double time_d = 0;
    int used = 0;
    int fields = sscanf(line, "%lld,%lf,%lf,%lf,%15[a-z]%n", &r.step, &r.time, &time_d, &r.dt, event, &used);
    const char *rest = line + used;
    for (int s = 0; s < S && fields == 5; ++s) {
      int more = 0;
      if (sscanf(rest, ",%d,%lf,%lf,%lf,%lf,%lf%n", &r.iterations[s], &r.residual[s], &r.mass[s], &r.mass_error[s],
                 &r.min[s], &r.max[s], &more) != 6)
        fields = -1;
      rest += more;
      r.min[s] /= out_per_si;
      r.max[s] /= out_per_si;
    }
    if (fields != 5) {
      err = pp_error_raise(PP_ERR_IO, __FILE__, __LINE__, __func__,
                           "%s/healing_steps.csv line %d: expected %d comma-separated numbers as the file's header "
                           "names, found \"%.60s\"", dir, number, 17, line);
      break;
    }
    r.event = !strcmp(event, "pulse") ? EVENT_PULSE : !strcmp(event, "clear") ? EVENT_CLEAR : EVENT_STEP;
    if (r.time <= until) err = log_append(log, &r);
    line = strchr(line, '\n');
  }
  free(text);
  PP_CALL(err);
  return PP_OK;
}

/* Min and max per species over all nodes of an owned field on the host (exact: MPI's MIN/MAX). */
static pp_err host_field_range(const pp_runtime *runtime, const pp_mesh *mesh, const double *field, double min[S],
                               double max[S])
{
  double local[2 * S], global[2 * S];
  for (int s = 0; s < S; ++s) {
    local[s] = DBL_MAX;
    local[S + s] = -DBL_MAX;
  }
  for (int n = 0; n < mesh->owned_node_count; ++n)
    for (int s = 0; s < S; ++s) {
      local[s] = fmin(local[s], field[n * S + s]);
      local[S + s] = fmax(local[S + s], field[n * S + s]);
    }
  for (int s = 0; s < S; ++s) local[S + s] = -local[S + s];
  int mpi = MPI_Allreduce(local, global, 2 * S, MPI_DOUBLE, MPI_MIN, runtime->comm);
  if (mpi != MPI_SUCCESS) return pp_mpi_error(mpi, __FILE__, __LINE__, __func__, "field range");
  for (int s = 0; s < S; ++s) {
    min[s] = global[s];
    max[s] = -global[S + s];
  }
  return PP_OK;
}

/* The same after reading the field from the device into `field`. */
static pp_err field_range(pp_diffusion *d, const pp_runtime *runtime, const pp_mesh *mesh, double *field,
                          double min[S], double max[S])
{
  PP_CALL(pp_runtime_agree(runtime, pp_diffusion_get_field(d, field), "reading the stage-2 field"));
  PP_CALL(host_field_range(runtime, mesh, field, min, max));
  return PP_OK;
}

/* ---- the run ----------------------------------------------------------------------------------------- */

typedef struct {
  const parameters *p;
  const pp_runtime *runtime;
  pp_mesh *mesh;
  pp_halo *halo;
  const char *dir;
  pp_reduce *reduce;
  pp_diffusion *diffusion;
  pp_checkpoint *checkpoint;
  pp_io_series *series;
  injury injury;
  step_log log;
  double *field;            /* [owned nodes * S] host scratch */
  double *local;            /* [nodes * S] */
  double *single;           /* [nodes] */
  double *output;           /* [output nodes] */
  double *pulse_mass;       /* [owned nodes * S] */
  double *element_density;  /* [elements * S] */
  long long next_session;   /* checkpointed */
  double next_dt;           /* checkpointed */
  long long pulses;         /* checkpointed */
  long long outputs, checkpoints;
  double previous_mass[S];  /* checkpointed: m^{n-1}, the mass before the last step (BDF2's check) */
  double mass[S];           /* total mass of the field now: kept through steps, pulses and clears so
                               that no step needs a reduction of its own for it */
} stage;

static pp_err allocate(stage *st)
{
  const size_t owned = (size_t)st->mesh->owned_node_count, nodes = (size_t)st->mesh->node_count;
  PP_MALLOC(st->field, owned * S + 1, "stage-2 field");
  PP_MALLOC(st->local, nodes * S + 1, "stage-2 field with ghosts");
  PP_MALLOC(st->single, nodes + 1, "stage-2 output");
  PP_MALLOC(st->output, (size_t)st->mesh->output_node_count + 1, "stage-2 output");
  PP_MALLOC(st->pulse_mass, owned * S + 1, "release pulse");
  PP_MALLOC(st->element_density, (size_t)st->mesh->element_count * S + 1, "release pulse");
  return PP_OK;
}

static void stage_free(stage *st)
{
  pp_io_series_close(&st->series);
  pp_checkpoint_free(&st->checkpoint);
  pp_diffusion_destroy(st->diffusion);
  pp_reduce_destroy(st->reduce);
  injury_free(&st->injury);
  free(st->log.rows);
  free(st->field);
  free(st->local);
  free(st->single);
  free(st->output);
  free(st->pulse_mass);
  free(st->element_density);
}

/* One series step: the species in ng/mL and the injured fraction. Local work first, then one
 * agreement, then the collective writes, so a failing rank cannot leave the others waiting. */
static pp_err write_output(stage *st, double time)
{
  const size_t owned = (size_t)st->mesh->owned_node_count, nodes = (size_t)st->mesh->node_count;
  pp_err local = pp_diffusion_get_field(st->diffusion, st->field);
  PP_CALL(pp_runtime_agree(st->runtime, local, "reading the stage-2 field"));
  for (size_t i = 0; i < owned * S; ++i) st->local[i] = st->field[i] * out_per_si;
  PP_CALL(pp_halo_exchange_host(st->halo, st->local, S));
  PP_CALL(pp_io_step_begin(st->series, time / day));
  for (int s = 0; s < S; ++s) {
    for (size_t n = 0; n < nodes; ++n) st->single[n] = st->local[n * S + (size_t)s];
    PP_CALL(pp_runtime_agree(st->runtime, pp_mesh_output_node_values(st->mesh, st->single, 1, st->output),
                             "arranging stage-2 output"));
    PP_CALL(pp_io_write_node_field(st->series, species_key[s], field_unit_out, 1, st->output));
  }
  PP_CALL(pp_io_write_cell_field(st->series, "injury", "1", 1, st->injury.fraction));
  PP_CALL(pp_io_step_end(st->series));
  st->outputs += 1;
  return PP_OK;
}

static pp_err write_checkpoint(stage *st)
{
  PP_CALL(pp_diffusion_checkpoint_save(st->diffusion));
  PP_CALL(pp_checkpoint_write(st->checkpoint, pp_diffusion_step_count(st->diffusion), pp_diffusion_time(st->diffusion),
                              st->p->physics_hash));
  PP_CALL(save_csv(st->runtime, st->dir, &st->log));
  st->checkpoints += 1;
  return PP_OK;
}

/* A session's release: each species' concentration in the injured volume, added to the nodes by
 * corner-volume shares, then compared with the exact released mass. */
static pp_err release_pulse(stage *st)
{
  const parameters *p = st->p;
  const size_t owned = (size_t)st->mesh->owned_node_count;
  for (int e = 0; e < st->mesh->element_count; ++e)
    for (int s = 0; s < S; ++s)
      st->element_density[(size_t)e * S + (size_t)s] = p->release[s] * st->injury.injured[e] /
                                                        st->injury.element_volume[e];
  pp_err local = pp_diffusion_source_from_elements(st->diffusion, st->element_density, st->pulse_mass);
  PP_CALL(pp_runtime_agree(st->runtime, local, "release pulse"));
  double after[S];
  const double *before = st->mass;
  local = pp_diffusion_get_field(st->diffusion, st->field);
  PP_CALL(pp_runtime_agree(st->runtime, local, "reading the stage-2 field"));
  const double *volume = pp_diffusion_node_volume(st->diffusion);
  for (size_t n = 0; n < owned; ++n)
    for (int s = 0; s < S; ++s) st->field[n * S + (size_t)s] += st->pulse_mass[n * S + (size_t)s] / volume[n];
  PP_CALL(pp_runtime_agree(st->runtime, pp_diffusion_set_field(st->diffusion, st->field), "release pulse"));
  PP_CALL(pp_diffusion_total_mass(st->diffusion, after));
  step_row row;
  memset(&row, 0, sizeof row);
  row.step = pp_diffusion_step_count(st->diffusion);
  row.time = pp_diffusion_time(st->diffusion);
  row.event = EVENT_PULSE;
  for (int s = 0; s < S; ++s) {
    double released = p->release[s] * st->injury.channel_volume;
    row.mass[s] = after[s];
    row.mass_error[s] = released > 0 ? fabs((after[s] - before[s]) - released) / released : 0;
  }
  for (int s = 0; s < S; ++s) st->mass[s] = after[s]; /* `before` is st->mass: only now */
  PP_CALL(host_field_range(st->runtime, st->mesh, st->field, row.min, row.max)); /* the field set above */
  PP_CALL(log_append(&st->log, &row));
  pp_log(PP_LOG_INFO, "healing day %.4g: session %lld releases %.4g ng PDGF and %.4g ng TGF-beta from %d channel(s) "
         "(%.4g nL; added mass matches to %.1e)", row.time / day, st->next_session + 1,
         p->release[0] * st->injury.channel_volume * 1e12, p->release[1] * st->injury.channel_volume * 1e12,
         st->injury.channels, st->injury.channel_volume * 1e12, fmax(row.mass_error[0], row.mass_error[1]));
  st->pulses += 1;
  st->next_session += 1;
  st->next_dt = p->first_step;
  return PP_OK;
}

/* A species whose largest value has fallen below healing.concentration_floor is set to zero
 * until the next release: far below a molecule per element, such a field carries no information,
 * yet each step would still solve it to the relative tolerance (hundreds of CG iterations for
 * values of 1e-40 ng/mL). The mass removed is logged as a "clear" row. st->field holds the field
 * after the step (field_range). */
static pp_err clear_negligible(stage *st, const step_row *after)
{
  int clear[S], any = 0;
  for (int s = 0; s < S; ++s) {
    clear[s] = after->max[s] < st->p->floor && (after->max[s] != 0 || after->min[s] != 0);
    any |= clear[s];
  }
  if (!any) return PP_OK;
  const size_t owned = (size_t)st->mesh->owned_node_count;
  for (size_t n = 0; n < owned; ++n)
    for (int s = 0; s < S; ++s)
      if (clear[s]) st->field[n * S + (size_t)s] = 0;
  PP_CALL(pp_runtime_agree(st->runtime, pp_diffusion_set_field(st->diffusion, st->field), "clearing a species"));
  step_row row = *after;
  row.event = EVENT_CLEAR;
  row.dt = 0;
  for (int s = 0; s < S; ++s) {
    row.iterations[s] = 0;
    row.residual[s] = 0;
    row.mass_error[s] = 0;
    if (!clear[s]) continue;
    /* mass: what was removed; min and max: the field is now zero */
    row.min[s] = row.max[s] = 0;
    st->mass[s] = 0; /* an all-zero field: its exact sum is +0 */
    pp_log(PP_LOG_INFO, "healing day %.4g: %s below %.3g ng/mL everywhere (max %.3g ng/mL): set to zero until the next "
           "release, removing %.3g kg of it", after->time / day, species_key[s], st->p->floor * out_per_si,
           after->max[s] * out_per_si, after->mass[s]);
  }
  PP_CALL(log_append(&st->log, &row));
  return PP_OK;
}

static pp_err take_step(stage *st, double dt, double t_new)
{
  double before[S];
  memcpy(before, st->mass, sizeof before);
  pp_diffusion_step_info info;

  pp_err err = pp_diffusion_step(st->diffusion, dt, &info);
  if (err != PP_OK)
    return pp_error_context(err, "stage 2 (healing), step %lld from day %.6g by dt = %.6g s",
                            pp_diffusion_step_count(st->diffusion) + 1, (t_new - dt) / day, dt);
  pp_diffusion_set_time(st->diffusion, t_new, info.step);
  step_row row;
  memset(&row, 0, sizeof row);
  row.step = info.step;
  row.time = t_new;
  row.dt = dt;
  for (int s = 0; s < S; ++s) {
    row.iterations[s] = info.solver.species_iterations[s];
    row.residual[s] = info.solver.relative_residual[s];
    row.mass[s] = info.mass[s];
    /* The scheme's discrete decay (diffusion.h), no sources between pulses:
     * (a0 + k dt) m^{n+1} = a1 m^n - a2 m^{n-1}; backward Euler m^{n+1} (1 + k dt) = m^n. */
    const double *a = info.coefficient;
    double expected = (a[1] * before[s] - a[2] * st->previous_mass[s]) / (a[0] + st->p->species[s].decay_rate * dt);
    row.mass_error[s] = expected > 0 ? fabs(info.mass[s] - expected) / expected : fabs(info.mass[s]);
  }
  for (int s = 0; s < S; ++s) {
    st->previous_mass[s] = before[s];
    st->mass[s] = info.mass[s];
  }
  PP_CALL(field_range(st->diffusion, st->runtime, st->mesh, st->field, row.min, row.max));
  PP_CALL(log_append(&st->log, &row));
  PP_CALL(clear_negligible(st, &row));
  pp_log(PP_LOG_DEBUG, "healing step %lld: day %.6g, dt %.4g s, CG %d/%d its, residual %.2e/%.2e, max %.4g/%.4g ng/mL",
         row.step, t_new / day, dt, row.iterations[0], row.iterations[1], row.residual[0], row.residual[1],
         row.max[0] * out_per_si, row.max[1] * out_per_si);
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
  double times[64];
  int count = p->sessions < 64 ? p->sessions : 64;
  for (int k = 0; k < count; ++k) times[k] = k * p->session_interval;
  PP_CALL(pp_output_schedule_list(sessions, times, count));
  return PP_OK;
}

static void summarise(const stage *st, double restarted_from, pp_healing_summary *summary)
{
  memset(summary, 0, sizeof *summary);
  summary->restarted_from = restarted_from;
  summary->channels = st->injury.channels;
  summary->channel_volume = st->injury.channel_volume;
  summary->outputs = pp_io_series_completed_steps(st->series);
  summary->checkpoints = st->checkpoints;
  for (size_t i = 0; i < st->log.count; ++i) {
    const step_row *r = &st->log.rows[i];
    if (r->event == EVENT_PULSE) summary->pulses += 1;
    if (r->event == EVENT_STEP) summary->steps += 1;
    if (r->event == EVENT_CLEAR) summary->cleared += 1;
    int slowest = 0;
    for (int s = 0; s < S; ++s) {
      slowest = r->iterations[s] > slowest ? r->iterations[s] : slowest;
      summary->worst_residual = fmax(summary->worst_residual, r->residual[s]);
      if (r->event == EVENT_STEP) summary->worst_mass_error = fmax(summary->worst_mass_error, r->mass_error[s]);
      summary->peak[s] = fmax(summary->peak[s], r->max[s]);
    }
    summary->cg_iterations += slowest;
    summary->max_cg_iterations = slowest > summary->max_cg_iterations ? slowest : summary->max_cg_iterations;
  }
  for (size_t i = 0; i < st->log.count; ++i)
    for (int s = 0; s < S; ++s)
      if (summary->peak[s] > 0)
        summary->most_negative[s] = fmin(summary->most_negative[s], st->log.rows[i].min[s] / summary->peak[s]);
}

static pp_err set_up(stage *st, pp_clrt *clrt, int restart, double *restarted_from)
{
  const parameters *p = st->p;
  const pp_runtime *runtime = st->runtime;
  *restarted_from = -1;
  pp_err local = build_injury(p, runtime, st->mesh, &st->injury);
  PP_CALL(pp_runtime_agree(runtime, local, "stage-2 injury"));
  if (st->injury.channels == 0)
    pp_log(PP_LOG_WARN, "stage 2: no needle axes (mesh.refine_x x mesh.refine_y are empty), so nothing is released");
  PP_CALL(pp_runtime_agree(runtime, allocate(st), "stage-2 memory"));
  PP_CALL(pp_reduce_create(&st->reduce, clrt, runtime->comm));
  PP_CALL(pp_diffusion_create(&st->diffusion, st->mesh, clrt, st->halo, st->reduce, runtime->comm, S, p->species));
  pp_solver_options solver = p->solver;
  if (pp_clrt_real_size(clrt) == 4 && solver.relative_tolerance < 1e-6) {
    pp_log(PP_LOG_WARN, "healing.solver_tolerance %.1e is below what float arithmetic reaches: using 1e-6",
           solver.relative_tolerance);
    solver.relative_tolerance = 1e-6;
  }
  pp_diffusion_set_solver_options(st->diffusion, &solver);
  if (p->bdf2) PP_CALL(pp_diffusion_set_time_scheme(st->diffusion, PP_TIME_BDF2));
  if (p->z_lines) pp_diffusion_set_preconditioner(st->diffusion, PP_PRECONDITIONER_Z_LINES);

  pp_io_mesh view;
  PP_CALL(pp_mesh_io_view(st->mesh, &view));
  PP_CALL(pp_checkpoint_create(&st->checkpoint, runtime, st->dir, &view));
  static const char *const units[S] = {"kg/m3", "kg/m3"};
  PP_CALL(pp_diffusion_register_checkpoint(st->diffusion, st->checkpoint, species_key, units));
  PP_CALL(pp_checkpoint_register_scalar_int64(st->checkpoint, "healing_next_session", &st->next_session));
  PP_CALL(pp_checkpoint_register_scalar_int64(st->checkpoint, "healing_pulses", &st->pulses));
  PP_CALL(pp_checkpoint_register_scalar_double(st->checkpoint, "healing_next_dt", &st->next_dt));
  for (int s = 0; s < S && p->bdf2; ++s) {
    char name[64];
    snprintf(name, sizeof name, "healing_%s_previous_mass", species_key[s]);
    PP_CALL(pp_checkpoint_register_scalar_double(st->checkpoint, name, &st->previous_mass[s]));
  }
  PP_CALL(pp_checkpoint_register_cell_field(st->checkpoint, "injury", "1", 1, st->injury.fraction));

  if (!restart) {
    PP_CALL(pp_io_series_open(&st->series, runtime, st->dir, "healing", "d", &view));
    st->next_dt = p->first_step;
    return PP_OK;
  }
  long long step = 0;
  double time = 0;
  PP_CALL(pp_checkpoint_read_latest(st->checkpoint, p->physics_hash, 0, &step, &time));
  PP_CALL(pp_diffusion_checkpoint_restore(st->diffusion));
  PP_CALL(pp_diffusion_total_mass(st->diffusion, st->mass));
  PP_CALL(load_csv(runtime, st->dir, time, &st->log));
  PP_CALL(pp_io_series_reopen(&st->series, runtime, st->dir, "healing", "d", &view, time / day));
  *restarted_from = time;
  pp_log(PP_LOG_INFO, "stage 2 restarts from its checkpoint at day %.6g (step %lld, %lld session(s) released)",
         time / day, step, st->pulses);
  return PP_OK;
}

static pp_err time_loop(stage *st, const pp_output_schedule *outputs, const pp_output_schedule *checkpoints,
                        const pp_output_schedule *sessions)
{
  const parameters *p = st->p;
  double t = pp_diffusion_time(st->diffusion);
  if (st->pulses == 0 && st->next_session == 0) {
    if (st->injury.channels > 0) PP_CALL(release_pulse(st));
    else st->next_session = 1;
    if (pp_output_schedule_contains(outputs, 0)) PP_CALL(write_output(st, 0));
  }
  /* BDF2 needs k dt <= 1/2 for every species: beyond it the decay's characteristic roots are
   * complex and a decaying field changes sign (diffusion.h). */
  double largest_step = p->max_step;
  for (int s = 0; s < S && p->bdf2; ++s)
    if (p->species[s].decay_rate > 0) largest_step = fmin(largest_step, 0.5 / p->species[s].decay_rate);
  if (largest_step < p->max_step)
    pp_log(PP_LOG_INFO, "stage 2 with bdf2: steps at most %.4g min (k dt <= 1/2 for the fastest decay)",
           largest_step / 60);
  while (t < p->duration) {
    double dt = fmin(st->next_dt, largest_step);
    double t_new = t + dt, t_event = 0;
    /* Land exactly on the first of: end, session, output, checkpoint. */
    if (t_new >= p->duration) t_new = p->duration;
    if (pp_output_schedule_next(sessions, t, t_new - t, &t_event)) t_new = t_event;
    if (pp_output_schedule_next(outputs, t, t_new - t, &t_event)) t_new = t_event;
    if (pp_output_schedule_next(checkpoints, t, t_new - t, &t_event)) t_new = t_event;
    PP_CALL(take_step(st, t_new - t, t_new));
    st->next_dt = fmin(dt * p->step_growth, largest_step);
    t = t_new;
    if (pp_output_schedule_contains(sessions, t) && st->injury.channels > 0) PP_CALL(release_pulse(st));
    if (pp_output_schedule_contains(outputs, t)) {
      PP_CALL(write_output(st, t));
      const step_row *last = &st->log.rows[st->log.count - 1];
      pp_log(PP_LOG_INFO, "healing day %.4g (step %lld): PDGF max %.4g ng/mL, TGF-beta max %.4g ng/mL", t / day,
             last->step, last->max[0] * out_per_si, last->max[1] * out_per_si);
    }
    if (pp_output_schedule_contains(checkpoints, t) || t >= p->duration) PP_CALL(write_checkpoint(st));
  }
  return PP_OK;
}

pp_err pp_healing_run(const pp_config *config, const pp_runtime *runtime, pp_clrt *clrt, pp_mesh *mesh,
                      pp_halo *halo, const char *output_dir, int restart, pp_healing_summary *summary)
{
  parameters p;
  read_parameters(config, &p);
  stage st;
  memset(&st, 0, sizeof st);
  st.p = &p;
  st.runtime = runtime;
  st.mesh = mesh;
  st.halo = halo;
  st.dir = output_dir;
  pp_output_schedule outputs = {0}, checkpoints = {0}, sessions = {0};
  double restarted_from = -1;
  pp_err err = make_schedules(&p, &outputs, &checkpoints, &sessions);
  if (err == PP_OK) err = set_up(&st, clrt, restart, &restarted_from);
  if (err == PP_OK) err = time_loop(&st, &outputs, &checkpoints, &sessions);
  if (err == PP_OK) err = save_csv(runtime, output_dir, &st.log);
  if (err == PP_OK) summarise(&st, restarted_from, summary);
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

void pp_healing_summary_json(const pp_healing_summary *s, char *text, size_t size)
{
  snprintf(text, size,
           "{\"species\": [\"pdgf\", \"tgf_beta\"], \"channels_per_session\": %d, \"channel_volume_m3\": %.9g, "
           "\"pulses\": %d, \"cleared\": %d, \"steps\": %lld, \"cg_iterations\": %lld, \"max_cg_iterations_per_step\": %d, "
           "\"worst_relative_residual\": %.3e, \"worst_mass_balance_error\": %.3e, "
           "\"peak_ng_per_ml\": [%.9g, %.9g], \"most_negative_relative\": [%.3e, %.3e], \"outputs\": %lld, "
           "\"checkpoints_written\": %lld, \"restarted_from_s\": %.17g}",
           s->channels, s->channel_volume, s->pulses, s->cleared, s->steps, s->cg_iterations, s->max_cg_iterations,
           s->worst_residual, s->worst_mass_error, s->peak[0] * out_per_si, s->peak[1] * out_per_si,
           s->most_negative[0], s->most_negative[1], s->outputs, s->checkpoints, s->restarted_from);
}
