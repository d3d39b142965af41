/* stage1: see stage1.h. */
#include "stage1.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include "channel.h"
#include "contact.h"
#include "force_curve.h"
#include "io.h"
#include "log.h"
#include "mechanics.h"
#include "needle.h"
#include "reduce.h"
#include "run_record.h"

/* Penalty factor of the needle contact: 0.1, less where mechanics.step_safety leaves less room
 * (pp_mechanics_set_contact: stable while safety^2 (1 + factor) <= 1). */
static double penalty_factor(double safety) { return fmin(0.1, 0.5 * (1 / (safety * safety) - 1)); }
enum { SAMPLES = 500 };

typedef struct {
  double time, depth, axial, normal, friction, tip, nodes, penetration;
} force_row;

typedef struct {
  long long step;
  double time, dt, kinetic, stored, work, dissipated, closure, ratio, penalty, friction, needle_work, penetration;
  double contact_balance;
  long long handoffs;
  double eroded;
} energy_row;

typedef struct {
  int needles;
  size_t count, capacity;
  force_row *forces; /* [capacity * needles], sample-major */
  energy_row *energy;
} logbook;

static pp_err log_grow(logbook *log)
{
  if (log->count < log->capacity) return PP_OK;
  const size_t capacity = log->capacity ? 2 * log->capacity : SAMPLES + 8;
  force_row *forces = realloc(log->forces, capacity * (size_t)log->needles * sizeof *forces);
  PP_CHECK(forces, PP_ERR_MEMORY, "out of memory for the stage-1 force log");
  log->forces = forces;
  energy_row *energy = realloc(log->energy, capacity * sizeof *energy);
  PP_CHECK(energy, PP_ERR_MEMORY, "out of memory for the stage-1 energy log");
  log->energy = energy;
  log->capacity = capacity;
  return PP_OK;
}

typedef struct {
  const logbook *log;
  int needle;
} csv_context;

static pp_err write_needle_csv(FILE *out, const void *context)
{
  const csv_context *c = context;
  fputs("time_s,tip_depth_m,axial_force_N,normal_force_N,friction_force_N,tip_force_N,contact_nodes,"
        "mean_penetration_m\n",
        out);
  for (size_t i = 0; i < c->log->count; ++i) {
    const force_row *r = &c->log->forces[i * (size_t)c->log->needles + (size_t)c->needle];
    fprintf(out, "%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.0f,%.9g\n", r->time, r->depth, r->axial, r->normal,
            r->friction, r->tip, r->nodes, r->penetration);
  }
  return ferror(out) ? pp_error_raise(PP_ERR_IO, __FILE__, __LINE__, __func__, "write error") : PP_OK;
}

static pp_err write_energy_csv(FILE *out, const void *context)
{
  const logbook *log = context;
  fputs("step,time_s,dt_s,kinetic_J,stored_J,external_work_J,damping_dissipated_J,closure_J,kinetic_to_stored,"
        "penalty_energy_J,friction_dissipated_J,needle_work_J,max_penetration_m,contact_balance_J,tip_handoffs,"
        "eroded_energy_J\n",
        out);
  for (size_t i = 0; i < log->count; ++i) {
    const energy_row *r = &log->energy[i];
    fprintf(out, "%lld,%.17g,%.9g,%.17g,%.17g,%.17g,%.17g,%.9g,%.6g,%.17g,%.17g,%.17g,%.9g,%.9g,%lld,%.17g\n", r->step,
            r->time, r->dt, r->kinetic, r->stored, r->work, r->dissipated, r->closure, r->ratio, r->penalty, r->friction,
            r->needle_work, r->penetration, r->contact_balance, r->handoffs, r->eroded);
  }
  return ferror(out) ? pp_error_raise(PP_ERR_IO, __FILE__, __LINE__, __func__, "write error") : PP_OK;
}

/* Per needle: the metrics of its force-depth record (host/force_curve.h), its phases from its stroke. */
typedef struct {
  const logbook *log;
  const pp_needle *needles;
  pp_force_curve_metrics *metrics; /* [needles] */
  int *valid;                      /* [needles]: analysed (a record too short is not) */
} puncture_table;

static pp_err write_puncture_csv(FILE *out, const void *context)
{
  const puncture_table *p = context;
  fputs("needle,analysed,punctured,events,peak_prepuncture_force_N,puncture_depth_m,puncture_time_s,force_drop_N,"
        "prepuncture_stiffness_N_per_m,post_puncture_slope_N_per_m,max_insertion_force_N,full_depth_m,"
        "full_depth_force_N,withdrawal_mean_force_N,withdrawal_min_force_N,withdrawal_friction_work_J\n",
        out);
  for (int k = 0; k < p->log->needles; ++k) {
    const pp_force_curve_metrics *m = &p->metrics[k];
    if (!p->valid[k]) {
      fprintf(out, "%d,0,,,,,,,,,,,,,,\n", k);
      continue;
    }
    fprintf(out, "%d,1,%d,%d,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g\n", k, m->punctured,
            m->event_count, m->peak_prepuncture_force, m->puncture_depth, m->puncture_time, m->force_drop,
            m->prepuncture_stiffness, m->post_puncture_slope, m->max_insertion_force, m->full_depth,
            m->full_depth_force, m->withdrawal_mean_force, m->withdrawal_min_force, m->withdrawal_friction_work);
  }
  return ferror(out) ? pp_error_raise(PP_ERR_IO, __FILE__, __LINE__, __func__, "write error") : PP_OK;
}

/* The puncture metrics of every needle (every rank: the logs are the same everywhere), needle 0's
 * into the summary; puncture.csv by rank 0 (DIR as save_logs). */
static pp_err analyse_punctures(const pp_runtime *runtime, const char *dir, const logbook *log,
                                const pp_needle *needles, pp_stage1_summary *summary)
{
  const size_t n = log->count, K = (size_t)log->needles;
  double *columns = malloc((3 * n + 1) * sizeof *columns);
  puncture_table table = {log, needles, calloc(K + 1, sizeof *table.metrics), calloc(K + 1, sizeof *table.valid)};
  pp_err err = columns && table.metrics && table.valid
                 ? PP_OK
                 : pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory for the puncture metrics");
  snprintf(summary->puncture_json, sizeof summary->puncture_json, "null");
  for (size_t k = 0; err == PP_OK && k < K; ++k) {
    for (size_t i = 0; i < n; ++i) {
      const force_row *r = &log->forces[i * K + k];
      columns[i] = r->time;
      columns[n + i] = r->depth;
      columns[2 * n + i] = r->axial;
    }
    const pp_needle_trajectory *t = &needles[k].trajectory;
    const double insertion_end = t->start_time + pp_needle_insertion_time(t), withdrawal_start = insertion_end + t->dwell;
    /* A drop counts when it is 10 % of the force before it and 2 % of the stroke's largest force:
       the ringing of first contact (explicit dynamics, a few nN) is no puncture. */
    pp_force_curve_options options = pp_force_curve_default_options();
    double largest = 0;
    for (size_t i = 0; i < n; ++i)
      if (columns[i] <= insertion_end) largest = fmax(largest, columns[2 * n + i]);
    options.drop_minimum = 0.02 * largest;
    /* a record that ends before the needle arrives, or too short, has nothing to analyse */
    table.valid[k] = n >= 2 && columns[0] <= insertion_end &&
                     pp_force_curve_analyse(columns, columns + n, columns + 2 * n, n, insertion_end, withdrawal_start,
                                            &options, &table.metrics[k]) == PP_OK;
    if (k == 0 && table.valid[k]) err = pp_force_curve_json(&table.metrics[0], summary->puncture_json,
                                                            sizeof summary->puncture_json);
  }
  pp_err local = err;
  if (local == PP_OK && runtime->rank == 0) {
    char path[4096];
    snprintf(path, sizeof path, "%s/puncture.csv", dir);
    local = pp_write_file_atomic(path, write_puncture_csv, &table);
  }
  free(columns);
  free(table.metrics);
  free(table.valid);
  PP_CALL(pp_runtime_agree(runtime, local, "writing puncture.csv"));
  return PP_OK;
}

/* Each needle's channel at the current state into DIR/channels.h5 (host/channel.h), needle 0's
 * numbers into the summary. Eroded elements are measured where they were (their nodes may drift). */
static pp_err measure_channels(pp_runtime *runtime, const pp_config *config, const pp_mesh *mesh,
                               pp_mechanics *mechanics, const pp_needle *needles, int count, const char *dir,
                               pp_stage1_summary *summary)
{
  const size_t E = (size_t)mesh->owned_element_count;
  double *u = malloc(((size_t)mesh->node_count * 3 + 1) * sizeof *u), *flags = malloc((E + 1) * sizeof *flags);
  double *damage = malloc((E + 1) * sizeof *damage);
  unsigned char *eroded = malloc(E + 1);
  pp_err err = u && flags && damage && eroded
                 ? PP_OK
                 : pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory measuring the channels");
  err = pp_runtime_agree(runtime, err, "channel buffers");
  if (err == PP_OK) err = pp_mechanics_get_local_displacement(mechanics, u);
  if (err == PP_OK) err = pp_runtime_agree(runtime, pp_mechanics_get_damage(mechanics, flags, damage), "damage");
  for (size_t e = 0; err == PP_OK && e < E; ++e) eroded[e] = flags[e] != 0;
  const char *preset = pp_config_text(config, "needle.preset"), *site = pp_config_text(config, "preset");
  char path[4096];
  snprintf(path, sizeof path, "%s/channels.h5", dir);
  for (int k = 0; err == PP_OK && k < count; ++k) {
    const pp_needle *needle = &needles[k];
    pp_channel_options options;
    pp_channel_options_default(&options, needle->trajectory.insertion_depth + 100e-6,
                               3 * needle->shape.shaft_radius);
    options.eroded_in_reference = 1;
    /* each needle's own channel: within half the distance to the nearest other needle */
    double spacing = INFINITY;
    for (int j = 0; j < count; ++j)
      if (j != k)
        spacing = fmin(spacing, hypot(needles[j].trajectory.entry[0] - needle->trajectory.entry[0],
                                      needles[j].trajectory.entry[1] - needle->trajectory.entry[1]));
    options.region_radius = isfinite(spacing) ? spacing / 2 : 0;
    pp_channel_axis axis;
    memcpy(axis.entry, needle->trajectory.entry, sizeof axis.entry);
    memcpy(axis.direction, needle->trajectory.direction, sizeof axis.direction);
    pp_channel channel;
    err = pp_channel_measure(mesh, u, eroded, damage, &axis, &options, runtime->comm, &channel);
    if (err != PP_OK) break;
    /* several needles: each entry names its needle, or they would replace each other */
    char name[PP_CHANNEL_TEXT_SIZE];
    snprintf(name, sizeof name, "%s", strcmp(preset, "none") ? preset : (count > 1 ? "needle" : ""));
    if (count > 1) snprintf(name + strlen(name), sizeof name - strlen(name), "-%d", k);
    pp_channel_key key;
    err = pp_channel_key_from_needle(needle, name, strcmp(site, "none") ? site : "generic", "normal", &key);
    if (err == PP_OK) err = pp_channel_library_write(runtime, path, &key, &channel);
    if (err == PP_OK && k == 0) {
      summary->channel_open_depth = channel.open_depth;
      summary->channel_injury_depth = channel.injury_depth;
      summary->channel_surface_diameter = channel.surface_diameter;
      summary->channel_eroded_volume = channel.eroded_volume;
      summary->channel_damaged_volume = channel.damaged_volume;
    }
    pp_channel_free(&channel);
  }
  free(u);
  free(flags);
  free(damage);
  free(eroded);
  return err;
}

/* Rank 0 writes the CSV files (each atomically); every rank learns the result. */
static pp_err save_logs(const pp_runtime *runtime, const char *dir, const logbook *log)
{
  pp_err local = PP_OK;
  if (runtime->rank == 0) {
    char path[4096];
    for (int k = 0; k < log->needles && local == PP_OK; ++k) {
      snprintf(path, sizeof path, "%s/needle_%d.csv", dir, k);
      const csv_context context = {log, k};
      local = pp_write_file_atomic(path, write_needle_csv, &context);
    }
    snprintf(path, sizeof path, "%s/mechanics_energy.csv", dir);
    if (local == PP_OK) local = pp_write_file_atomic(path, write_energy_csv, log);
  }
  PP_CALL(pp_runtime_agree(runtime, local, "writing the stage-1 CSV files"));
  return PP_OK;
}

typedef struct {
  pp_runtime *runtime;
  const pp_mesh *mesh;
  pp_reduce *reduce;
  pp_mechanics *mechanics;
  pp_contact *contact;
  pp_needle *needles;
  int needle_count;
  double *params, *velocity, *friction; /* per needle, for pp_contact_set_needles */
  pp_io_series *series;
  logbook log;
  pp_stage1_summary *summary;
  double largest_work, largest_closure;
  double contact_balance;      /* pp_contact_closure after the last step */
  long long balance_handoffs;  /* start_handoffs there */
  double smooth_drift, handoff_drift; /* J, sums of |its change| (stage1.h) */
  double quasi_static_increment, quasi_static_tolerance; /* mechanics.quasi_static_*: 0 = dynamics */
  double quasi_static_puncture_increment;                /* near the first erosion; 0: none */
  int nonlocal;                                          /* mechanics.puncture_criterion: nonlocal */
  long long quasi_static_max_steps;
} stage;

/* Every needle where it is at time t. */
static pp_err place_needles(stage *st, double t)
{
  for (int k = 0; k < st->needle_count; ++k) {
    pp_needle_params(&st->needles[k], t, st->params + (size_t)k * PP_NEEDLE_SHAPE_PARAMS, st->velocity + 3 * k);
    st->friction[k] = st->needles[k].shape.friction_coefficient;
  }
  PP_CALL(pp_contact_set_needles(st->contact, st->params, st->velocity, st->friction));
  return PP_OK;
}

/* One row of the logs at the current state (info: the last step's). */
static pp_err sample(stage *st, const pp_mechanics_step_info *info)
{
  PP_CALL(pp_runtime_agree(st->runtime, log_grow(&st->log), "stage-1 log"));
  const double t = info->time;
  pp_contact_energy energy;
  PP_CALL(pp_contact_energy_terms(st->contact, &energy));
  for (int k = 0; k < st->needle_count; ++k) {
    pp_contact_needle_totals totals;
    PP_CALL(pp_contact_needle(st->contact, k, &totals));
    force_row *r = &st->log.forces[st->log.count * (size_t)st->needle_count + (size_t)k];
    r->time = t;
    r->depth = pp_needle_tip_depth(&st->needles[k].trajectory, t);
    r->axial = totals.axial_force;
    r->normal = totals.normal_force;
    r->friction = totals.friction_force;
    r->tip = totals.tip_force;
    r->nodes = (double)totals.contact_nodes;
    r->penetration = totals.mean_penetration;
    st->summary->peak_force = fmax(st->summary->peak_force, totals.axial_force);
  }
  energy_row *e = &st->log.energy[st->log.count];
  *e = (energy_row){info->step,         t,           info->dt, info->kinetic, info->stored, info->external_work,
                    info->dissipated,   info->closure, info->kinetic_ratio, energy.penalty_energy,
                    energy.friction_dissipated, energy.needle_work, energy.max_penetration,
                    st->contact_balance, energy.start_handoffs, info->eroded};
  st->log.count += 1;
  st->largest_work = fmax(st->largest_work, fabs(info->external_work));
  st->largest_closure = fmax(st->largest_closure, fabs(info->closure));
  st->summary->max_penetration = fmax(st->summary->max_penetration, energy.max_penetration);
  st->summary->friction_dissipated = energy.friction_dissipated;
  st->summary->needle_work = energy.needle_work;
  return PP_OK;
}

static pp_err write_output(stage *st, const pp_mechanics_step_info *info)
{
  PP_CALL(pp_io_step_begin(st->series, info->time));
  PP_CALL(pp_mechanics_write_step(st->mechanics, st->series));
  PP_CALL(pp_io_step_end(st->series));
  st->summary->outputs += 1;
  const force_row *r = &st->log.forces[(st->log.count - 1) * (size_t)st->needle_count];
  pp_mechanics_erosion_totals eroded;
  PP_CALL(pp_mechanics_erosion(st->mechanics, &eroded));
  pp_log(PP_LOG_INFO,
         "stage 1: t = %.4g us, needle 0 tip %.4g um deep, axial force %.4g mN; step %lld (dt %.3g ns); energy "
         "closure %.2e of the work done (%.4g nJ), kinetic/stored %.3g, deepest penetration %.3g um; %lld elements "
         "eroded (%.4g pL, %.3g nJ released)",
         info->time * 1e6, r->depth * 1e6, r->axial * 1e3, info->step, info->dt * 1e9,
         st->largest_work > 0 ? fabs(info->closure) / st->largest_work : 0.0, info->external_work * 1e9,
         info->kinetic_ratio, st->log.energy[st->log.count - 1].penetration * 1e6, eroded.elements,
         eroded.volume * 1e15, eroded.energy * 1e9);
  return PP_OK;
}

/* After every step: the needles' side of the balance, at the step's start like the skin's (the
 * needles are the only external load here), and the step statistics. */
static void account_step(stage *st, const pp_mechanics_step_info *info)
{
  pp_contact_energy work;
  pp_contact_work_terms(st->contact, &work);
  const double balance = pp_contact_closure(&work, info->external_work);
  if (work.start_handoffs == st->balance_handoffs)
    st->smooth_drift += fabs(balance - st->contact_balance);
  else
    st->handoff_drift += fabs(balance - st->contact_balance);
  st->contact_balance = balance;
  st->balance_handoffs = work.start_handoffs;
  st->summary->steps += 1;
  st->summary->smallest_step = st->summary->steps == 1 ? info->dt : fmin(st->summary->smallest_step, info->dt);
  st->summary->largest_step = fmax(st->summary->largest_step, info->dt);
}

/* The summary at the end of the stroke (t, info: the last step's, at stroke time t). */
static pp_err finish_run(stage *st, double t, const pp_mechanics_step_info *info, double wall_start)
{
  st->summary->wall_seconds = MPI_Wtime() - wall_start;
  /* inertia's share once something is stored: against the run's largest stored energy, so that
     the ringing of first contact (nearly nothing stored yet) does not count */
  double largest_stored = 0;
  for (size_t i = 0; i < st->log.count; ++i) largest_stored = fmax(largest_stored, st->log.energy[i].stored);
  for (size_t i = 0; i < st->log.count; ++i)
    if (st->log.energy[i].stored >= 1e-3 * largest_stored)
      st->summary->worst_kinetic_ratio = fmax(st->summary->worst_kinetic_ratio, st->log.energy[i].ratio);
  pp_contact_energy work;
  pp_contact_work_terms(st->contact, &work);
  st->summary->handoffs = work.handoffs;
  PP_CALL(pp_mechanics_erosion(st->mechanics, &st->summary->eroded));
  if (work.needle_work > 0) {
    st->summary->contact_drift = st->smooth_drift / work.needle_work;
    st->summary->handoff_drift = st->handoff_drift / work.needle_work;
  }
  st->summary->worst_closure = st->largest_work > 0 ? st->largest_closure / st->largest_work : 0;
  st->summary->end_time = t;
  st->summary->work = info->external_work;
  st->summary->final_kinetic_ratio = info->kinetic_ratio;
  st->summary->final_tip_depth = pp_needle_tip_depth(&st->needles[0].trajectory, t);
  if (st->summary->wall_seconds > 0)
    st->summary->element_steps_per_second =
      (double)st->mesh->global_element_count * (double)st->summary->steps / st->summary->wall_seconds;
  return PP_OK;
}

/* Steps between the non-local criterion's checks in a dynamic run (an average over the mesh costs
 * a CG solve: a few steps' worth; a needle at 0.5 m/s moves 0.5 um in 100 steps of 10 ns). */
enum { NONLOCAL_INTERVAL = 100 };

static pp_err run_steps(stage *st, const double *times, int time_count, double end_time)
{
  const double sample_interval = end_time / SAMPLES;
  double next_sample = sample_interval, t = 0;
  int next_output = 0;
  while (next_output < time_count && times[next_output] <= 0) ++next_output;
  pp_mechanics_step_info info = {0};
  const double start = MPI_Wtime();
  while (t < end_time) {
    const double target = next_output < time_count ? fmin(times[next_output], end_time) : end_time;
    double dt = pp_mechanics_automatic_step(st->mechanics);
    /* land exactly on the next output or the end; avoid a sliver step just before it */
    if (t + dt >= target || t + 1.5 * dt > target) dt = t + dt >= target ? target - t : (target - t) / 2;
    const double t_next = t + dt >= target ? target : t + dt;
    PP_CALL(place_needles(st, t_next));
    PP_CALL(pp_mechanics_step(st->mechanics, t_next - t, &info));
    t = t_next;
    account_step(st, &info);
    if (st->nonlocal && info.step % NONLOCAL_INTERVAL == 0) { /* erodes at the next step's evaluation */
      long long marked = 0;
      PP_CALL(pp_mechanics_nonlocal_mark(st->mechanics, &marked));
    }
    info.time = t; /* the exact landing time, not t + dt rounded */
    const int at_output = t >= target;
    if (t >= next_sample || at_output) {
      PP_CALL(sample(st, &info));
      while (next_sample <= t) next_sample += sample_interval;
    }
    if (at_output) {
      PP_CALL(write_output(st, &info));
      if (next_output < time_count && times[next_output] <= t) ++next_output;
    }
  }
  return finish_run(st, t, &info, start);
}

/* ---- the quasi-static stroke ---------------------------------------------------------------------
 * The stroke's time t only says where the needles are. Each increment takes them from t to t' (at
 * most mechanics.quasi_static_increment of travel) and relaxes the skin to equilibrium there
 * (pp_mechanics_relax_driven, on the mechanics' own pseudo-time). The needles do not jump: over
 * the first steps of the relaxation they move from where they were to where they go, at most
 * RAMP_TRAVEL_NM a step, with the rigid velocity of that motion, so that the contact's Coulomb
 * friction (its stick test) sees the needle slide past the skin as it does; then they hold while
 * the skin settles, and a node the static needle can hold (tangential force at most mu N) sticks.
 * The needles' work is that motion's, so the needles' energy balance still closes; the relaxation's
 * damping is the skin's dissipated energy. */
enum { RAMP_TRAVEL_NM = 50 };
/* Erode-and-settle rounds of the non-local criterion per increment (each erodes at least one
 * element); what is still marked after them waits for the next increment. */
enum { NONLOCAL_ROUNDS = 50 };

typedef struct {
  stage *st;
  double from, to; /* stroke times */
  long long ramp;  /* steps over which the needles move */
} increment_drive;

/* The needles where they are at stroke time `after`, moving with the velocity that takes them
 * there from where they were at `before` in one step of dt. */
static pp_err place_needles_moving(stage *st, double before, double after, double dt)
{
  for (int k = 0; k < st->needle_count; ++k) {
    double a[3], b[3];
    pp_needle_params(&st->needles[k], after, st->params + (size_t)k * PP_NEEDLE_SHAPE_PARAMS, NULL);
    pp_needle_tip_position(&st->needles[k].trajectory, before, a);
    pp_needle_tip_position(&st->needles[k].trajectory, after, b);
    for (int d = 0; d < 3; ++d) st->velocity[3 * k + d] = (b[d] - a[d]) / dt;
    st->friction[k] = st->needles[k].shape.friction_coefficient;
  }
  PP_CALL(pp_contact_set_needles(st->contact, st->params, st->velocity, st->friction));
  return PP_OK;
}

static pp_err drive_increment(void *context, long long index, double dt, const pp_mechanics_step_info *last,
                              int *loading)
{
  increment_drive *drive = context;
  if (last) account_step(drive->st, last);
  const long long before = index < drive->ramp ? index : drive->ramp, after = index < drive->ramp ? index + 1 : drive->ramp;
  const double span = drive->to - drive->from;
  const double t_before = before == drive->ramp ? drive->to : drive->from + span * (double)before / (double)drive->ramp;
  const double t_after = after == drive->ramp ? drive->to : drive->from + span * (double)after / (double)drive->ramp;
  *loading = index < drive->ramp;
  return place_needles_moving(drive->st, t_before, t_after, dt);
}

static int compare_doubles(const void *a, const void *b)
{
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static pp_err run_quasi_static(stage *st, const double *times, int time_count, double end_time)
{
  /* land on every output time and on the ends of every needle's phases (the force curve's corners) */
  const size_t K = (size_t)st->needle_count, capacity = (size_t)time_count + 4 * K + 1;
  double *stops = malloc(capacity * sizeof *stops);
  PP_CALL(pp_runtime_agree(st->runtime,
                           stops ? PP_OK : pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory"),
                           "quasi-static stops"));
  size_t stop_count = 0;
  double speed = 0;
  for (int i = 0; i < time_count; ++i) stops[stop_count++] = times[i];
  for (size_t k = 0; k < K; ++k) {
    const pp_needle_trajectory *t = &st->needles[k].trajectory;
    const double in = t->start_time + pp_needle_insertion_time(t);
    stops[stop_count++] = t->start_time;
    stops[stop_count++] = in;
    stops[stop_count++] = in + t->dwell;
    stops[stop_count++] = pp_needle_end_time(t);
    speed = fmax(speed, fmax(t->insertion_speed, t->withdrawal_speed));
  }
  stops[stop_count++] = end_time;
  qsort(stops, stop_count, sizeof *stops, compare_doubles);
  const double largest_increment = st->quasi_static_increment / speed;
  /* Near the first erosion the increments shrink, so that the force just before it (the peak before
     puncture) and the drop are sampled finely; W+ grows by about 1 % per um of travel in V9a, so a
     quarter below the threshold leaves several fine increments before it. */
  const double puncture_increment = st->quasi_static_puncture_increment > 0 &&
                                        st->quasi_static_puncture_increment < st->quasi_static_increment
                                      ? st->quasi_static_puncture_increment / speed
                                      : largest_increment;
  int near_puncture = 0;
  int next_output = 0;
  while (next_output < time_count && times[next_output] <= 0) ++next_output;
  size_t next_stop = 0;
  double t = 0;
  pp_mechanics_step_info info = {0};
  const double start = MPI_Wtime();
  pp_err err = PP_OK;
  /* stops closer than this to where the needles are count as reached (phase ends and output times
     computed two ways differ in the last bits) */
  const double reached = 1e-9 * largest_increment;
  double largest_force = 0, largest_stored = 0;
  while (err == PP_OK && t < end_time - reached) {
    while (next_stop < stop_count && stops[next_stop] <= t + reached) ++next_stop;
    const double target = next_stop < stop_count ? fmin(stops[next_stop], end_time) : end_time;
    double span = near_puncture ? puncture_increment : largest_increment;
    if (t + span >= target - reached)
      span = target - t;
    else if (t + 1.5 * span > target)
      span = (target - t) / 2;
    const double t_next = t + span >= target - reached ? target : t + span;
    double travel = 0;
    for (size_t k = 0; k < K; ++k) {
      double a[3], b[3];
      pp_needle_tip_position(&st->needles[k].trajectory, t, a);
      pp_needle_tip_position(&st->needles[k].trajectory, t_next, b);
      travel = fmax(travel, hypot(hypot(b[0] - a[0], b[1] - a[1]), b[2] - a[2]));
    }
    increment_drive drive = {st, t, t_next, (long long)fmax(1, ceil(travel / (RAMP_TRAVEL_NM * 1e-9)))};
    pp_mechanics_relax_info relax;
    /* the masses and the penalty follow the skin's stiffening (pp_mechanics_refit_masses) */
    err = pp_mechanics_refit_masses(st->mechanics);
    if (err != PP_OK) break;
    /* the stroke's loads so far set the scale of equilibrium: once withdrawn, the skin holds little */
    err = pp_mechanics_relax_driven(st->mechanics, st->quasi_static_tolerance, st->quasi_static_max_steps + drive.ramp,
                                    largest_force, largest_stored, drive_increment, &drive, &relax);
    if (err != PP_OK) break;
    account_step(st, &relax.last);
    /* the non-local criterion judges the equilibrium: what it marks erodes, the skin settles again
       without the needles moving, and so on until nothing more reaches the threshold */
    for (int round = 0; err == PP_OK && st->nonlocal && round < NONLOCAL_ROUNDS; ++round) {
      long long marked = 0;
      err = pp_mechanics_nonlocal_mark(st->mechanics, &marked);
      if (err != PP_OK || marked == 0) break;
      pp_mechanics_relax_info settle;
      increment_drive hold = {st, t_next, t_next, 1};
      err = pp_mechanics_relax_driven(st->mechanics, st->quasi_static_tolerance, st->quasi_static_max_steps + 1,
                                      largest_force, largest_stored, drive_increment, &hold, &settle);
      if (err != PP_OK) break;
      account_step(st, &settle.last);
      relax.steps += settle.steps;
      relax.converged = settle.converged;
      relax.last = settle.last;
    }
    if (err == PP_OK && st->nonlocal) err = pp_mechanics_nonlocal_release(st->mechanics);
    if (err != PP_OK) break;
    t = t_next;
    info = relax.last;
    info.time = t;
    pp_stage1_summary *summary = st->summary;
    summary->quasi_static_increments += 1;
    summary->quasi_static_most_steps = relax.steps > summary->quasi_static_most_steps ? relax.steps
                                                                                       : summary->quasi_static_most_steps;
    /* out of balance against the stroke's forces so far, as the stop test measured it */
    const double force_scale = fmax(relax.last.force_norm, largest_force);
    const double out_of_balance = force_scale > 0 ? relax.last.residual_norm / force_scale : 0;
    summary->quasi_static_worst_residual = fmax(summary->quasi_static_worst_residual, out_of_balance);
    largest_force = fmax(largest_force, relax.last.force_norm);
    largest_stored = fmax(largest_stored, relax.last.stored);
    if (!relax.converged) {
      summary->quasi_static_unconverged += 1;
      pp_log(PP_LOG_WARN,
             "stage 1: the quasi-static increment to t = %.6g s (needle 0 tip %.4g um deep) has not reached "
             "equilibrium in %lld steps (out-of-balance %.3g of the stroke's largest internal forces, kinetic/stored "
             "%.3g; mechanics.quasi_static_tolerance %g): its forces are not static",
             t, pp_needle_tip_depth(&st->needles[0].trajectory, t) * 1e6, relax.steps, out_of_balance,
             info.kinetic_ratio, st->quasi_static_tolerance);
    }
    err = sample(st, &info);
    /* once something has eroded the refinement is over: no read-back */
    if (err == PP_OK && puncture_increment < largest_increment && info.eroded == 0) {
      double proximity = 0;
      err = pp_mechanics_erosion_proximity(st->mechanics, &proximity);
      near_puncture = proximity >= 0.75;
    } else {
      near_puncture = 0;
    }
    /* the eroded count reads the flags back (collective; the log level is every rank's): only for -v */
    pp_mechanics_erosion_totals eroded = {0};
    const int debug = pp_log_get_level() >= PP_LOG_DEBUG;
    if (err == PP_OK && debug) err = pp_mechanics_erosion(st->mechanics, &eroded);
    if (err == PP_OK && debug) {
      const force_row *r = &st->log.forces[(st->log.count - 1) * K];
      char nearness[64] = "";
      double proximity = 0;
      if (st->nonlocal && pp_mechanics_erosion_proximity(st->mechanics, &proximity) == PP_OK)
        snprintf(nearness, sizeof nearness, "; largest non-local W+ / threshold %.3g", proximity);
      pp_log(PP_LOG_DEBUG, "stage 1: increment %lld to t = %.6g s: needle 0 tip %.4g um deep, axial force %.4g mN; "
             "%lld relaxation steps, out-of-balance %.2e, kinetic/stored %.2e; %lld elements eroded%s",
             summary->quasi_static_increments, t, r->depth * 1e6, r->axial * 1e3, relax.steps, out_of_balance,
             info.kinetic_ratio, eroded.elements, nearness);
    }
    if (err == PP_OK && next_output < time_count && times[next_output] <= t + reached) {
      err = write_output(st, &info);
      while (next_output < time_count && times[next_output] <= t + reached) ++next_output;
    }
  }
  free(stops);
  PP_CALL(err);
  return finish_run(st, t, &info, start);
}

static pp_err set_up(stage *st, const pp_config *config, pp_clrt *clrt, pp_halo *halo, pp_mesh *mesh,
                     const char *output_dir)
{
  PP_CALL(pp_needles_from_config(config, &st->needles, &st->needle_count));
  st->log.needles = st->needle_count;
  st->summary->needles = st->needle_count;
  const size_t K = (size_t)st->needle_count;
  st->params = calloc(K * PP_NEEDLE_SHAPE_PARAMS, sizeof *st->params);
  st->velocity = calloc(K * 3, sizeof *st->velocity);
  st->friction = calloc(K, sizeof *st->friction);
  PP_CALL(pp_runtime_agree(st->runtime,
                           st->params && st->velocity && st->friction
                             ? PP_OK
                             : pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory for the needles"),
                           "stage-1 needles"));
  pp_mechanics_options options;
  PP_CALL(pp_mechanics_options_from_config(config, &options));
  st->quasi_static_increment = pp_config_real(config, "mechanics.quasi_static_increment");
  st->quasi_static_tolerance = pp_config_real(config, "mechanics.quasi_static_tolerance");
  st->quasi_static_max_steps = pp_config_integer(config, "mechanics.quasi_static_max_steps");
  st->quasi_static_puncture_increment = pp_config_real(config, "mechanics.quasi_static_puncture_increment");
  st->nonlocal = options.erosion && options.nonlocal;
  /* a quasi-static stroke has no inertia to keep: the relaxation's masses are its own */
  options.mass_scaling_uniform = st->quasi_static_increment > 0;
  PP_CALL(pp_reduce_create(&st->reduce, clrt, st->runtime->comm));
  PP_CALL(pp_mechanics_create(&st->mechanics, mesh, clrt, halo, st->reduce, st->runtime->comm, &options));
  st->summary->added_mass = pp_mechanics_added_mass(st->mechanics);
  PP_CALL(pp_contact_create(&st->contact, mesh, clrt, st->reduce, st->runtime->comm, st->needle_count));
  PP_CALL(place_needles(st, 0));
  const double factor = penalty_factor(options.step_safety);
  PP_CHECK(factor >= 0.01, PP_ERR_CONFIG,
           "mechanics.step_safety %g leaves no room for the needle contact's penalty stiffness (it needs "
           "step_safety^2 (1 + 0.02) <= 1): use 0.99 or less", options.step_safety);
  PP_CALL(pp_mechanics_set_contact(st->mechanics, st->contact, factor));
  pp_io_mesh view;
  PP_CALL(pp_mesh_io_view(mesh, &view));
  PP_CALL(pp_io_series_open(&st->series, st->runtime, output_dir, "mechanics", "s", &view));
  return PP_OK;
}

pp_err pp_stage1_run(const pp_config *config, pp_runtime *runtime, pp_clrt *clrt, pp_mesh *mesh, pp_halo *halo,
                     const char *output_dir, pp_stage1_summary *summary)
{
  memset(summary, 0, sizeof *summary);
  stage st = {.runtime = runtime, .mesh = mesh, .summary = summary};
  pp_err err = set_up(&st, config, clrt, halo, mesh, output_dir);
  err = pp_runtime_agree(runtime, err, "stage 1 set-up");
  if (err == PP_OK) {
    double end_time = pp_config_real(config, "mechanics.end_time"), trajectory_end = 0;
    for (int k = 0; k < st.needle_count; ++k)
      trajectory_end = fmax(trajectory_end, pp_needle_end_time(&st.needles[k].trajectory));
    end_time = fmin(end_time, trajectory_end);
    int time_count = 0;
    const double *times = pp_config_real_list(config, "output.mechanics_times", &time_count);
    pp_log(PP_LOG_INFO, "stage 1: %d needle(s), %lld elements, until t = %.4g us (%s); stable step %.3g ns", st.needle_count,
           mesh->global_element_count, end_time * 1e6,
           end_time < trajectory_end ? "mechanics.end_time" : "the end of the needle stroke",
           pp_mechanics_stable_step(st.mechanics) * 1e9);
    err = st.quasi_static_increment > 0 ? run_quasi_static(&st, times, time_count, end_time)
                                        : run_steps(&st, times, time_count, end_time);
  }
  if (err == PP_OK) err = save_logs(runtime, output_dir, &st.log);
  if (err == PP_OK) err = analyse_punctures(runtime, output_dir, &st.log, st.needles, summary);
  if (err == PP_OK)
    err = measure_channels(runtime, config, mesh, st.mechanics, st.needles, st.needle_count, output_dir, summary);
  pp_err closed = pp_io_series_close(&st.series);
  if (err == PP_OK) err = closed;
  pp_mechanics_destroy(st.mechanics);
  pp_contact_destroy(st.contact);
  pp_reduce_destroy(st.reduce);
  free(st.needles);
  free(st.params);
  free(st.velocity);
  free(st.friction);
  free(st.log.forces);
  free(st.log.energy);
  PP_CALL(err);
  pp_log(PP_LOG_INFO,
         "stage 1 done: %lld steps to t = %.4g us in %.3g s (%.3g M element-steps/s); worst energy closure %.2e of the "
         "work; needles' balance drift %.2e of their work (%lld tip hand-offs: %.2e more); peak needle force %.4g mN; deepest penetration %.3g um; series %s/mechanics.xdmf, forces in "
         "needle_*.csv, energies in mechanics_energy.csv",
         summary->steps, summary->end_time * 1e6, summary->wall_seconds, summary->element_steps_per_second * 1e-6,
         summary->worst_closure, summary->contact_drift, summary->handoffs, summary->handoff_drift, summary->peak_force * 1e3, summary->max_penetration * 1e6, output_dir);
  return PP_OK;
}

void pp_stage1_summary_json(const pp_stage1_summary *s, char *text, size_t size)
{
  snprintf(text, size,
           "{\"needles\": %d, \"steps\": %lld, \"end_time_s\": %.9g, \"smallest_step_s\": %.6g, \"largest_step_s\": %.6g, "
           "\"external_work_J\": %.9g, \"worst_energy_closure\": %.3e, \"final_kinetic_to_stored\": %.4g, "
           "\"peak_needle_force_N\": %.9g, \"final_tip_depth_m\": %.9g, \"max_penetration_m\": %.6g, "
           "\"friction_dissipated_J\": %.9g, \"needle_work_J\": %.9g, \"contact_balance_drift\": %.3e, "
           "\"tip_handoff_drift\": %.3e, \"tip_handoffs\": %lld, \"eroded_elements\": %lld, \"distortion_eroded_elements\": %lld, "
           "\"eroded_volume_m3\": %.6g, "
           "\"eroded_mass_kg\": %.6g, \"orphan_node_mass_kg\": %.6g, \"erosion_energy_J\": %.9g, "
           "\"worst_kinetic_to_stored\": %.4g, \"puncture\": %s, \"channel_open_depth_m\": %.6g, "
           "\"channel_injury_depth_m\": %.6g, \"channel_surface_diameter_m\": %.6g, \"channel_eroded_volume_m3\": %.6g, "
           "\"channel_damaged_volume_m3\": %.6g, \"added_mass_kg\": %.6g, \"quasi_static_increments\": %lld, "
           "\"quasi_static_unconverged\": %lld, \"quasi_static_most_steps\": %lld, "
           "\"quasi_static_worst_residual\": %.3e, \"outputs\": %lld, "
           "\"wall_seconds\": %.4g, \"element_steps_per_second\": %.4g}",
           s->needles, s->steps, s->end_time, s->smallest_step, s->largest_step, s->work, s->worst_closure,
           s->final_kinetic_ratio, s->peak_force, s->final_tip_depth, s->max_penetration, s->friction_dissipated,
           s->needle_work, s->contact_drift, s->handoff_drift, s->handoffs, s->eroded.elements, s->eroded.distorted,
           s->eroded.volume,
           s->eroded.mass, s->eroded.orphan_mass, s->eroded.energy, s->worst_kinetic_ratio, s->puncture_json,
           s->channel_open_depth, s->channel_injury_depth, s->channel_surface_diameter, s->channel_eroded_volume,
           s->channel_damaged_volume,
           s->added_mass, s->quasi_static_increments, s->quasi_static_unconverged, s->quasi_static_most_steps,
           s->quasi_static_worst_residual, s->outputs, s->wall_seconds, s->element_steps_per_second);
}
