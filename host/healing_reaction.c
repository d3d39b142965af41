/* healing_reaction: see healing_reaction.h; the integrator is kernels/healing_reaction.cl. */
#include "healing_reaction.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* kernels/healing_reaction.cl's control table (RX_* there) and failure codes. */
enum {
  CONTROL_ATOL = 0,
  CONTROL_FAST_TIME = CONTROL_ATOL + PP_HEALING_MAX_STATE,
  CONTROL_SLOW_TIME = CONTROL_FAST_TIME + PP_HEALING_MAX_SPECIES,
  CONTROL_FAST_WEIGHT = CONTROL_SLOW_TIME + PP_HEALING_MAX_SPECIES,
  CONTROL_SLOW_WEIGHT = CONTROL_FAST_WEIGHT + PP_HEALING_MAX_SPECIES,
  CONTROL_PULSE_START = CONTROL_SLOW_WEIGHT + PP_HEALING_MAX_SPECIES,
  CONTROL_SIZE = CONTROL_PULSE_START + PP_HEALING_MAX_PULSES,
  FAILED_SUBSTEPS = 1,
  FAILED_MIN_STEP = 2,
  FAILED_START = 3
};

struct pp_healing_reaction {
  pp_clrt *clrt;
  size_t node_count, node_stride, component_stride;
  cl_kernel kernel;                                 /* owned (not clrt's cache: its arguments are ours) */
  cl_mem params, control, report, detail, dummy;
  cl_mem amplitude[PP_HEALING_MAX_SPECIES];         /* owned, from pp_healing_reaction_set_amplitude */
  cl_mem borrowed[PP_HEALING_MAX_SPECIES];          /* the caller's, from _set_amplitude_buffer */
  int has_parameters, has_options, species_count;
  double flat[PP_HEALING_PARAMS];
  pp_healing_reaction_options options;
  pp_healing_release_profile release[PP_HEALING_MAX_SPECIES];
  int pulse_count;
  double pulse_start[PP_HEALING_MAX_PULSES];
  long long *global_id;                             /* [node_count] or NULL */
  int *report_host;                                 /* [4 node_count]: kernels/healing_reaction.cl's report */
};

void pp_healing_reaction_default_options(const pp_healing_params *params, const pp_healing_rest *rest, double rtol,
                                         pp_healing_reaction_options *options)
{
  memset(options, 0, sizeof *options);
  const int G = params->species_count;
  options->relative_tolerance = rtol;
  for (int i = 0; i < G; ++i)
    options->absolute_tolerance[i] = rtol * fmax(rest->growth_factor[i], params->species[i].autocrine_half_saturation);
  options->absolute_tolerance[G] = rtol * params->fibroblasts.resting_density;
  options->absolute_tolerance[G + 1] = rtol * params->collagen.normal_content;
  options->absolute_tolerance[G + 2] = rtol * params->collagen.normal_content;
  options->max_substeps = 10000;
  options->min_substep = 1e-3;
  options->include_decay = 0;
  options->loss_cap = 1;
}

/* kernels/healing_rates.cl in front of kernels/healing_reaction.cl, so the kernel integrates the
 * very rates the host model checks. */
static pp_err build(pp_healing_reaction *rx)
{
  const pp_kernel_source *rates = pp_kernel_source_find("healing_rates"),
                         *source = pp_kernel_source_find("healing_reaction");
  PP_CHECK(rates && source, PP_ERR_ARGUMENT,
           "healing reaction: no embedded OpenCL source 'healing_rates' or 'healing_reaction'");
  const size_t length = rates->length + 1 + source->length;
  char *text = malloc(length + 1), file[256], options[64];
  PP_CHECK(text, PP_ERR_MEMORY, "out of memory for the healing reaction kernel source");
  memcpy(text, rates->text, rates->length);
  text[rates->length] = '\n';
  memcpy(text + rates->length + 1, source->text, source->length + 1);
  snprintf(file, sizeof file, "%s (behind %s)", source->file, rates->file);
  snprintf(options, sizeof options, "-DHEALING_MAX_PULSES=%d", (int)PP_HEALING_MAX_PULSES);
  const pp_kernel_source combined = {source->name, file, text, length};
  cl_program program = NULL;
  pp_err err = pp_clrt_build_text(rx->clrt, &combined, options, &program);
  free(text);
  PP_CALL(err);
  cl_int status = CL_SUCCESS;
  rx->kernel = clCreateKernel(program, "healing_reaction_advance", &status);
  PP_CL(status, "creating kernel 'healing_reaction_advance'");
  return PP_OK;
}

pp_err pp_healing_reaction_create(pp_healing_reaction **reaction, pp_clrt *clrt, size_t node_count)
{
  PP_CHECK(reaction && clrt, PP_ERR_ARGUMENT, "pp_healing_reaction_create: NULL argument");
  *reaction = NULL;
  PP_CHECK(node_count <= (size_t)1 << 40, PP_ERR_ARGUMENT, "healing reaction: %zu nodes", node_count);
  pp_healing_reaction *rx = calloc(1, sizeof *rx);
  PP_CHECK(rx, PP_ERR_MEMORY, "out of memory for the healing reaction");
  rx->clrt = clrt;
  rx->node_count = node_count;
  rx->node_stride = 1;
  rx->component_stride = node_count ? node_count : 1;
  const size_t rs = (size_t)pp_clrt_real_size(clrt);
  pp_err err = PP_OK;
  rx->report_host = malloc((4 * node_count + 1) * sizeof *rx->report_host);
  if (!rx->report_host)
    err = pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory for the reaction report");
  if (err == PP_OK) err = build(rx);
  if (err == PP_OK)
    err = pp_clrt_buffer(clrt, CL_MEM_READ_ONLY, PP_HEALING_PARAMS * rs, "healing reaction parameters", &rx->params);
  if (err == PP_OK)
    err = pp_clrt_buffer(clrt, CL_MEM_READ_ONLY, CONTROL_SIZE * rs, "healing reaction control table", &rx->control);
  if (err == PP_OK)
    err = pp_clrt_buffer(clrt, CL_MEM_WRITE_ONLY, 4 * node_count * sizeof(cl_int), "healing reaction report", &rx->report);
  if (err == PP_OK)
    err = pp_clrt_buffer(clrt, CL_MEM_WRITE_ONLY, 2 * node_count * rs, "healing reaction failure detail", &rx->detail);
  if (err == PP_OK) err = pp_clrt_buffer(clrt, CL_MEM_READ_ONLY, rs, "healing reaction empty amplitude", &rx->dummy);
  if (err != PP_OK) {
    pp_healing_reaction_destroy(rx);
    return pp_error_trace(err, __FILE__, __LINE__, __func__);
  }
  *reaction = rx;
  return PP_OK;
}

void pp_healing_reaction_destroy(pp_healing_reaction *rx)
{
  if (!rx) return;
  if (rx->kernel) clReleaseKernel(rx->kernel);
  cl_mem owned[] = {rx->params, rx->control, rx->report, rx->detail, rx->dummy};
  for (size_t i = 0; i < sizeof owned / sizeof *owned; ++i)
    if (owned[i]) clReleaseMemObject(owned[i]);
  for (int i = 0; i < PP_HEALING_MAX_SPECIES; ++i)
    if (rx->amplitude[i]) clReleaseMemObject(rx->amplitude[i]);
  free(rx->global_id);
  free(rx->report_host);
  free(rx);
}

pp_err pp_healing_reaction_set_layout(pp_healing_reaction *rx, size_t node_stride, size_t component_stride)
{
  PP_CHECK(rx, PP_ERR_ARGUMENT, "pp_healing_reaction_set_layout: NULL reaction");
  PP_CHECK(node_stride >= 1 && component_stride >= 1, PP_ERR_ARGUMENT,
           "healing reaction: node stride %zu and component stride %zu must be >= 1", node_stride, component_stride);
  rx->node_stride = node_stride;
  rx->component_stride = component_stride;
  return PP_OK;
}

pp_err pp_healing_reaction_set_parameters(pp_healing_reaction *rx, const double flat[PP_HEALING_PARAMS])
{
  PP_CHECK(rx && flat, PP_ERR_ARGUMENT, "pp_healing_reaction_set_parameters: NULL argument");
  for (int a = 0; a < PP_HEALING_PARAMS; ++a)
    PP_CHECK(isfinite(flat[a]), PP_ERR_ARGUMENT, "healing reaction: parameter %d is %g", a, flat[a]);
  const int G = (int)flat[0];
  PP_CHECK(G >= 1 && G <= PP_HEALING_MAX_SPECIES && flat[0] == G, PP_ERR_ARGUMENT,
           "healing reaction: %g growth-factor species in the parameters, expected 1 to %d", flat[0],
           PP_HEALING_MAX_SPECIES);
  PP_CALL(pp_clrt_write_reals(rx->clrt, rx->params, flat, PP_HEALING_PARAMS, "healing reaction parameters"));
  memcpy(rx->flat, flat, sizeof rx->flat);
  rx->species_count = G;
  rx->has_parameters = 1;
  return PP_OK;
}

pp_err pp_healing_reaction_set_options(pp_healing_reaction *rx, const pp_healing_reaction_options *options)
{
  PP_CHECK(rx && options, PP_ERR_ARGUMENT, "pp_healing_reaction_set_options: NULL argument");
  PP_CHECK(options->relative_tolerance > 0 && options->relative_tolerance < 1, PP_ERR_ARGUMENT,
           "healing reaction: relative tolerance %g, expected in (0, 1)", options->relative_tolerance);
  for (int a = 0; a < PP_HEALING_MAX_STATE; ++a)
    PP_CHECK(options->absolute_tolerance[a] >= 0 && isfinite(options->absolute_tolerance[a]), PP_ERR_ARGUMENT,
             "healing reaction: absolute tolerance of component %d is %g, expected >= 0", a,
             options->absolute_tolerance[a]);
  PP_CHECK(options->max_substeps >= 1, PP_ERR_ARGUMENT, "healing reaction: sub-step limit %d, expected >= 1",
           options->max_substeps);
  PP_CHECK(options->min_substep >= 0 && isfinite(options->min_substep), PP_ERR_ARGUMENT,
           "healing reaction: minimum sub-step %g s, expected >= 0", options->min_substep);
  PP_CHECK(options->loss_cap >= 0 && isfinite(options->loss_cap), PP_ERR_ARGUMENT,
           "healing reaction: loss cap %g, expected >= 0", options->loss_cap);
  rx->options = *options;
  rx->has_options = 1;
  return PP_OK;
}

pp_err pp_healing_reaction_set_release(pp_healing_reaction *rx, int species, const pp_healing_release_profile *profile)
{
  PP_CHECK(rx && profile, PP_ERR_ARGUMENT, "pp_healing_reaction_set_release: NULL argument");
  PP_CHECK(species >= 0 && species < PP_HEALING_MAX_SPECIES, PP_ERR_ARGUMENT, "healing reaction: species %d", species);
  const double weight[2] = {profile->fast_weight, profile->slow_weight}, time[2] = {profile->fast_time, profile->slow_time};
  for (int phase = 0; phase < 2; ++phase) {
    PP_CHECK(weight[phase] >= 0 && isfinite(weight[phase]), PP_ERR_ARGUMENT,
             "healing reaction: species %d's %s release weight is %g, expected >= 0", species,
             phase ? "slow" : "fast", weight[phase]);
    PP_CHECK(weight[phase] == 0 || (time[phase] > 0 && isfinite(time[phase])), PP_ERR_ARGUMENT,
             "healing reaction: species %d's %s release time is %g s, expected > 0", species, phase ? "slow" : "fast",
             time[phase]);
  }
  rx->release[species] = *profile;
  return PP_OK;
}

pp_err pp_healing_reaction_set_pulses(pp_healing_reaction *rx, int count, const double *start_times)
{
  PP_CHECK(rx && (count == 0 || start_times), PP_ERR_ARGUMENT, "pp_healing_reaction_set_pulses: NULL argument");
  PP_CHECK(count >= 0 && count <= PP_HEALING_MAX_PULSES, PP_ERR_ARGUMENT,
           "healing reaction: %d pulses, at most %d supported (PP_HEALING_MAX_PULSES)", count, PP_HEALING_MAX_PULSES);
  for (int k = 0; k < count; ++k) {
    PP_CHECK(isfinite(start_times[k]), PP_ERR_ARGUMENT, "healing reaction: pulse %d starts at %g s", k, start_times[k]);
    PP_CHECK(k == 0 || start_times[k] >= start_times[k - 1], PP_ERR_ARGUMENT,
             "healing reaction: pulse starts must ascend, but pulse %d starts at %g s, before pulse %d at %g s", k,
             start_times[k], k - 1, start_times[k - 1]);
  }
  rx->pulse_count = count;
  if (count) memcpy(rx->pulse_start, start_times, (size_t)count * sizeof *start_times);
  return PP_OK;
}

pp_err pp_healing_reaction_set_amplitude(pp_healing_reaction *rx, int species, const double *values)
{
  PP_CHECK(rx, PP_ERR_ARGUMENT, "pp_healing_reaction_set_amplitude: NULL reaction");
  PP_CHECK(species >= 0 && species < PP_HEALING_MAX_SPECIES, PP_ERR_ARGUMENT, "healing reaction: species %d", species);
  if (!values) {
    if (rx->amplitude[species]) clReleaseMemObject(rx->amplitude[species]);
    rx->amplitude[species] = NULL;
    return PP_OK;
  }
  for (size_t n = 0; n < rx->node_count; ++n)
    PP_CHECK(values[n] >= 0 && isfinite(values[n]), PP_ERR_ARGUMENT,
             "healing reaction: species %d's amplitude at local node %zu is %g, expected >= 0", species, n, values[n]);
  if (!rx->amplitude[species])
    PP_CALL(pp_clrt_buffer(rx->clrt, CL_MEM_READ_ONLY, rx->node_count * (size_t)pp_clrt_real_size(rx->clrt),
                           "healing reaction amplitude", &rx->amplitude[species]));
  PP_CALL(pp_clrt_write_reals(rx->clrt, rx->amplitude[species], values, rx->node_count, "healing reaction amplitude"));
  return PP_OK;
}

/* Bytes of a buffer, for the size checks. */
static pp_err buffer_bytes(cl_mem buffer, const char *what, size_t *bytes)
{
  PP_CL(clGetMemObjectInfo(buffer, CL_MEM_SIZE, sizeof *bytes, bytes, NULL), what);
  return PP_OK;
}

pp_err pp_healing_reaction_set_amplitude_buffer(pp_healing_reaction *rx, int species, cl_mem buffer)
{
  PP_CHECK(rx, PP_ERR_ARGUMENT, "pp_healing_reaction_set_amplitude_buffer: NULL reaction");
  PP_CHECK(species >= 0 && species < PP_HEALING_MAX_SPECIES, PP_ERR_ARGUMENT, "healing reaction: species %d", species);
  if (buffer) {
    size_t bytes = 0, need = rx->node_count * (size_t)pp_clrt_real_size(rx->clrt);
    PP_CALL(buffer_bytes(buffer, "querying the size of an amplitude buffer", &bytes));
    PP_CHECK(bytes >= need, PP_ERR_ARGUMENT,
             "healing reaction: species %d's amplitude buffer has %zu bytes, %zu nodes need %zu", species, bytes,
             rx->node_count, need);
  }
  rx->borrowed[species] = buffer;
  return PP_OK;
}

pp_err pp_healing_reaction_set_node_ids(pp_healing_reaction *rx, const long long *global_ids)
{
  PP_CHECK(rx, PP_ERR_ARGUMENT, "pp_healing_reaction_set_node_ids: NULL reaction");
  free(rx->global_id);
  rx->global_id = NULL;
  if (!global_ids || rx->node_count == 0) return PP_OK;
  PP_MALLOC(rx->global_id, rx->node_count, "the healing reaction's node ids");
  memcpy(rx->global_id, global_ids, rx->node_count * sizeof *global_ids);
  return PP_OK;
}

/* One REAL of a buffer, at index (in REALs), widened to double. */
static pp_err read_one(pp_healing_reaction *rx, cl_mem buffer, size_t index, const char *what, double *value)
{
  if (pp_clrt_real_size(rx->clrt) == 8) {
    PP_CALL(pp_clrt_read(rx->clrt, buffer, index * sizeof(double), sizeof(double), value, what));
  } else {
    float f = 0;
    PP_CALL(pp_clrt_read(rx->clrt, buffer, index * sizeof f, sizeof f, &f, what));
    *value = f;
  }
  return PP_OK;
}

/* PP_ERR_SOLVER for the first failed node. */
static pp_err failure_error(pp_healing_reaction *rx, cl_mem state, size_t node, long long failures, double t0, double h)
{
  const int G = rx->species_count, N = G + 3, code = rx->report_host[2 * rx->node_count + node];
  double reached = 0, last = 0, u[PP_HEALING_MAX_STATE] = {0};
  PP_CALL(read_one(rx, rx->detail, node, "healing reaction failure detail", &reached));
  PP_CALL(read_one(rx, rx->detail, rx->node_count + node, "healing reaction failure detail", &last));
  for (int a = 0; a < N; ++a)
    PP_CALL(read_one(rx, state, node * rx->node_stride + (size_t)a * rx->component_stride, "healing state", &u[a]));
  char where[96], state_text[512];
  if (rx->global_id) snprintf(where, sizeof where, "node %lld (local index %zu)", rx->global_id[node], node);
  else snprintf(where, sizeof where, "local node %zu", node);
  size_t used = 0;
  for (int a = 0; a < N && used < sizeof state_text; ++a) {
    char name[16];
    if (a < G) snprintf(name, sizeof name, "g_%d", a);
    else snprintf(name, sizeof name, "%s", a == G ? "n" : a == G + 1 ? "c3" : "c1");
    used += (size_t)snprintf(state_text + used, sizeof state_text - used, "%s%s = %.6g %s", a ? ", " : "", name, u[a],
                             a == G ? "cells/m3" : "kg/m3");
  }
  const double day = 86400.0;
  const char *why = code == FAILED_SUBSTEPS  ? "reached the sub-step limit"
                    : code == FAILED_MIN_STEP ? "needed a sub-step below the minimum"
                    : code == FAILED_START    ? "has a negative or non-finite start state"
                                              : "failed";
  PP_RAISE(PP_ERR_SOLVER,
           "healing reaction: %s %s (%d sub-steps accepted, %d rejected; limit %d, minimum sub-step %g s) at t0 + %.6g "
           "s of the interval [%.9g, %.9g] d, last sub-step %.3g s; its start state (kept): %s; %lld of %zu nodes "
           "failed (rtol %g)",
           where, why, rx->report_host[node], rx->report_host[rx->node_count + node], rx->options.max_substeps,
           rx->options.min_substep, reached, t0 / day, (t0 + h) / day, last, state_text, failures, rx->node_count,
           rx->options.relative_tolerance);
}

pp_err pp_healing_reaction_advance(pp_healing_reaction *rx, cl_mem state, double t0, double h,
                                   pp_healing_reaction_info *info)
{
  PP_CHECK(rx && state, PP_ERR_ARGUMENT, "pp_healing_reaction_advance: NULL argument");
  if (info) memset(info, 0, sizeof *info);
  PP_CHECK(rx->has_parameters && rx->has_options, PP_ERR_ARGUMENT,
           "healing reaction: set the parameters and the options before advancing");
  PP_CHECK(isfinite(t0) && isfinite(h) && h > 0, PP_ERR_ARGUMENT, "healing reaction: interval from %g s over %g s",
           t0, h);
  const int G = rx->species_count, N = G + 3;
  for (int a = 0; a < N; ++a)
    PP_CHECK(rx->options.absolute_tolerance[a] > 0, PP_ERR_ARGUMENT,
             "healing reaction: the absolute tolerance of state component %d is %g, expected > 0 (a zero component "
             "would have no error scale)",
             a, rx->options.absolute_tolerance[a]);
  const size_t Nn = rx->node_count;
  if (Nn == 0) return PP_OK;
  const size_t rs = (size_t)pp_clrt_real_size(rx->clrt);
  {
    size_t bytes = 0;
    const size_t last = (Nn - 1) * rx->node_stride + (size_t)(N - 1) * rx->component_stride;
    PP_CALL(buffer_bytes(state, "querying the size of the healing state buffer", &bytes));
    PP_CHECK(bytes >= (last + 1) * rs, PP_ERR_ARGUMENT,
             "healing reaction: the state buffer has %zu bytes, but %zu nodes of %d components with strides %zu, %zu "
             "need %zu",
             bytes, Nn, N, rx->node_stride, rx->component_stride, (last + 1) * rs);
  }

  /* the control table: tolerances, profiles, and the pulses that start before t0 + h, from t0 */
  double control[CONTROL_SIZE] = {0};
  for (int a = 0; a < N; ++a) control[CONTROL_ATOL + a] = rx->options.absolute_tolerance[a];
  for (int i = 0; i < G; ++i) {
    const pp_healing_release_profile *p = &rx->release[i];
    control[CONTROL_FAST_TIME + i] = p->fast_weight > 0 ? p->fast_time : 1;
    control[CONTROL_SLOW_TIME + i] = p->slow_weight > 0 ? p->slow_time : 1;
    control[CONTROL_FAST_WEIGHT + i] = p->fast_weight;
    control[CONTROL_SLOW_WEIGHT + i] = p->slow_weight;
  }
  int pulses = 0;
  while (pulses < rx->pulse_count && rx->pulse_start[pulses] < t0 + h) {
    control[CONTROL_PULSE_START + pulses] = rx->pulse_start[pulses] - t0;
    ++pulses;
  }
  PP_CALL(pp_clrt_write_reals(rx->clrt, rx->control, control, CONTROL_SIZE, "healing reaction control table"));

  cl_mem amplitude[PP_HEALING_MAX_SPECIES];
  cl_int mask = 0;
  for (int i = 0; i < PP_HEALING_MAX_SPECIES; ++i) {
    amplitude[i] = rx->borrowed[i] ? rx->borrowed[i] : rx->amplitude[i] ? rx->amplitude[i] : rx->dummy;
    if (i < G && amplitude[i] != rx->dummy) mask |= 1 << i;
  }
  const cl_ulong count = Nn, node_stride = rx->node_stride, component_stride = rx->component_stride;
  const cl_int pulse_count = pulses, max_substeps = rx->options.max_substeps,
               mode = (rx->options.include_decay ? 1 : 0) | (rx->options.freeze_growth_factors ? 2 : 0);
  cl_kernel k = rx->kernel;
  PP_CL(clSetKernelArg(k, 0, sizeof count, &count), "setting healing reaction argument node_count");
  PP_CL(clSetKernelArg(k, 1, sizeof node_stride, &node_stride), "setting healing reaction argument node_stride");
  PP_CL(clSetKernelArg(k, 2, sizeof component_stride, &component_stride),
        "setting healing reaction argument component_stride");
  PP_CL(clSetKernelArg(k, 3, sizeof state, &state), "setting healing reaction argument state");
  PP_CL(clSetKernelArg(k, 4, sizeof rx->params, &rx->params), "setting healing reaction argument params");
  PP_CL(clSetKernelArg(k, 5, sizeof rx->control, &rx->control), "setting healing reaction argument control");
  PP_CL(clSetKernelArg(k, 6, sizeof pulse_count, &pulse_count), "setting healing reaction argument pulse_count");
  for (int i = 0; i < PP_HEALING_MAX_SPECIES; ++i)
    PP_CL(clSetKernelArg(k, (cl_uint)(7 + i), sizeof amplitude[i], &amplitude[i]),
          "setting healing reaction argument amplitude");
  PP_CL(clSetKernelArg(k, 11, sizeof mask, &mask), "setting healing reaction argument amplitude_mask");
  PP_CALL(pp_clrt_set_real_arg(rx->clrt, k, 12, h, "healing reaction argument interval"));
  PP_CALL(pp_clrt_set_real_arg(rx->clrt, k, 13, rx->options.relative_tolerance, "healing reaction argument rtol"));
  PP_CALL(pp_clrt_set_real_arg(rx->clrt, k, 14, rx->options.min_substep, "healing reaction argument min_substep"));
  PP_CL(clSetKernelArg(k, 15, sizeof max_substeps, &max_substeps), "setting healing reaction argument max_substeps");
  PP_CL(clSetKernelArg(k, 16, sizeof mode, &mode), "setting healing reaction argument mode");
  PP_CL(clSetKernelArg(k, 17, sizeof rx->report, &rx->report), "setting healing reaction argument report");
  PP_CL(clSetKernelArg(k, 18, sizeof rx->detail, &rx->detail), "setting healing reaction argument detail");
  PP_CALL(pp_clrt_set_real_arg(rx->clrt, k, 19, rx->options.loss_cap, "healing reaction argument cap_factor"));
  PP_CALL(pp_clrt_launch(rx->clrt, k, "healing_reaction", Nn, 0));
  PP_CALL(pp_clrt_read(rx->clrt, rx->report, 0, 4 * Nn * sizeof(cl_int), rx->report_host, "healing reaction report"));

  pp_healing_reaction_info local = {0, 0, 0, 0, 0};
  size_t first_failed = Nn;
  for (size_t n = 0; n < Nn; ++n) {
    const int accepted = rx->report_host[n], rejected = rx->report_host[Nn + n];
    local.substeps += accepted;
    local.rejected += rejected;
    local.rejected_negative += rx->report_host[3 * Nn + n];
    if (accepted + rejected > local.max_node_substeps) local.max_node_substeps = accepted + rejected;
    if (rx->report_host[2 * Nn + n] != 0) {
      if (local.failures++ == 0) first_failed = n;
    }
  }
  if (info) *info = local;
  if (local.failures) return failure_error(rx, state, first_failed, local.failures, t0, h);
  return PP_OK;
}
