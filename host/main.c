/* pinprick command line: parses arguments and dispatches to the modules; no physics here.
 *
 * Exit status: 0 success; 2 bad input (command line, config, units); 1 any other failure
 * (device, OpenCL, MPI, HDF5, I/O, another rank failed). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clrt.h"
#include "config.h"
#include "error.h"
#include "halo.h"
#include "healing.h"
#include "healing_model.h"
#include "io.h"
#include "log.h"
#include "mechanics.h"
#include "mesh.h"
#include "mesh_import.h"
#include "needle.h"
#include "run_record.h"
#include "runtime.h"
#include "selftest.h"
#include "stage1.h"
#include "version.h"

enum { MAX_SETS = 256, EXIT_BAD_INPUT = 2, EXIT_FAILURE_OTHER = 1 };

typedef struct {
  const char *command;
  const char *config_path;
  const char *output_dir;
  const char *explain_key;
  const char *device;          /* --device P:D or N */
  const char *sets[MAX_SETS];
  int set_count;
  int overwrite;
  int restart;                 /* run/demo --restart: continue from the newest checkpoint */
  int reference;               /* config --reference */
  pp_log_level log_level;
  char command_line[8192];
} cli_options;

static const char usage_text[] =
  "usage: pinprick [-v|-q] [--device P:D] COMMAND [ARGUMENTS]\n"
  "\n"
  "Commands:\n"
  "  run CONFIG --output DIR [--set KEY=VALUE]... [--overwrite | --restart]\n"
  "                     run a case (under `mpiexec -n R` for R ranks)\n"
  "  demo [--output DIR] [--set KEY=VALUE]... [--overwrite | --restart]\n"
  "                     run the embedded default microneedling case (output: out/)\n"
  "  check CONFIG [--set KEY=VALUE]...\n"
  "                     validate a config without running; print the effective values,\n"
  "                     their units and where each came from\n"
  "  config [--reference]\n"
  "                     print the embedded default case as YAML (--reference: the key table\n"
  "                     as Markdown)\n"
  "  explain KEY        meaning, unit, default and range of a config key\n"
  "  devices            list every OpenCL platform and device\n"
  "\n"
  "Options:\n"
  "  -h, --help         this text\n"
  "  --version          version, git hash, MPI/HDF5/OpenCL versions\n"
  "  -v, --verbose      debug messages\n"
  "  -q, --quiet        errors only\n"
  "  --device P:D|N     OpenCL device (platform:device or the index `pinprick devices` shows);\n"
  "                     overrides PINPRICK_DEVICE and runtime.platform/runtime.device\n"
  "  --set KEY=VALUE    override a config key (repeatable), e.g. --set needle.insertion_depth=0.8mm\n"
  "  --output DIR       output folder\n"
  "  --overwrite        replace a completed run in the output folder\n"
  "  --restart          continue an interrupted run from the newest checkpoint in its output folder\n"
  "                     (same config; any rank count)\n"
  "\n"
  "Environment: PINPRICK_DEVICE (device choice), PINPRICK_FAULT=RANK:PHASE (tests: fail a rank at a\n"
  "phase), PINPRICK_CL_SYNC_DEBUG=1 (finish after every kernel).\n";

static int exit_status_for(pp_err code)
{
  return (code == PP_ERR_USAGE || code == PP_ERR_CONFIG || code == PP_ERR_UNITS) ? EXIT_BAD_INPUT
                                                                                   : EXIT_FAILURE_OTHER;
}

/* Outside MPI (help, config, explain, devices, check): print and exit. */
static _Noreturn void fail_serial(void)
{
  pp_error_print(stderr, "");
  exit(exit_status_for(pp_error_code()));
}

static pp_err record_command_line(cli_options *options, int argc, char **argv)
{
  size_t used = 0;
  for (int i = 0; i < argc; ++i) {
    int written = snprintf(options->command_line + used, sizeof options->command_line - used, "%s%s",
                           i ? " " : "", argv[i]);
    PP_CHECK(written >= 0 && (size_t)written < sizeof options->command_line - used, PP_ERR_USAGE,
             "command line longer than %zu characters", sizeof options->command_line);
    used += (size_t)written;
  }
  return PP_OK;
}

static pp_err parse_arguments(int argc, char **argv, cli_options *options)
{
  memset(options, 0, sizeof *options);
  options->log_level = PP_LOG_INFO;
  PP_CALL(record_command_line(options, argc, argv));
  for (int i = 1; i < argc; ++i) {
    const char *arg = argv[i];
    int has_value = i + 1 < argc;
    if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) options->command = "help";
    else if (!strcmp(arg, "--version")) options->command = "version";
    else if (!strcmp(arg, "-v") || !strcmp(arg, "--verbose")) options->log_level = PP_LOG_DEBUG;
    else if (!strcmp(arg, "-q") || !strcmp(arg, "--quiet")) options->log_level = PP_LOG_ERROR;
    else if (!strcmp(arg, "--overwrite")) options->overwrite = 1;
    else if (!strcmp(arg, "--restart")) options->restart = 1;
    else if (!strcmp(arg, "--reference")) options->reference = 1;
    else if (!strcmp(arg, "--device") || !strcmp(arg, "--output") || !strcmp(arg, "--set")) {
      PP_CHECK(has_value, PP_ERR_USAGE, "option %s needs a value (see pinprick --help)", arg);
      const char *value = argv[++i];
      if (!strcmp(arg, "--device")) options->device = value;
      else if (!strcmp(arg, "--output")) options->output_dir = value;
      else {
        PP_CHECK(options->set_count < MAX_SETS, PP_ERR_USAGE, "more than %d --set options", MAX_SETS);
        options->sets[options->set_count++] = value;
      }
    } else if (arg[0] == '-' && arg[1] != '\0') {
      PP_RAISE(PP_ERR_USAGE, "unknown option '%s' (see pinprick --help)", arg);
    } else if (!options->command) {
      static const char *const commands[] = {"run", "demo", "check", "config", "explain", "devices"};
      for (size_t c = 0; c < sizeof commands / sizeof commands[0]; ++c)
        if (!strcmp(arg, commands[c])) options->command = commands[c];
      PP_CHECK(options->command, PP_ERR_USAGE,
               "unknown command '%s'; expected one of run, demo, check, config, explain, devices", arg);
    } else if (!strcmp(options->command, "explain") && !options->explain_key) {
      options->explain_key = arg;
    } else if ((!strcmp(options->command, "run") || !strcmp(options->command, "check")) &&
               !options->config_path) {
      options->config_path = arg;
    } else {
      PP_RAISE(PP_ERR_USAGE, "unexpected argument '%s' for command '%s'", arg,
               options->command ? options->command : "");
    }
  }
  PP_CHECK(options->command, PP_ERR_USAGE, "no command given\n%s", usage_text);
  const char *command = options->command;
  if (!strcmp(command, "run")) {
    PP_CHECK(options->config_path, PP_ERR_USAGE,
             "pinprick run needs a config file: pinprick run CONFIG --output DIR "
             "(start one with `pinprick config > case.yaml`, or use `pinprick demo`)");
    PP_CHECK(options->output_dir, PP_ERR_USAGE, "pinprick run needs --output DIR");
  }
  if (!strcmp(command, "check"))
    PP_CHECK(options->config_path, PP_ERR_USAGE, "pinprick check needs a config file: pinprick check CONFIG");
  if (!strcmp(command, "explain"))
    PP_CHECK(options->explain_key, PP_ERR_USAGE, "pinprick explain needs a key, e.g. pinprick explain needle.tip_radius");
  int takes_sets = !strcmp(command, "run") || !strcmp(command, "demo") || !strcmp(command, "check");
  PP_CHECK(takes_sets || options->set_count == 0, PP_ERR_USAGE, "--set is not used by '%s'", command);
  int takes_output = !strcmp(command, "run") || !strcmp(command, "demo");
  PP_CHECK(takes_output || (!options->output_dir && !options->overwrite && !options->restart), PP_ERR_USAGE,
           "--output/--overwrite/--restart are not used by '%s'", command);
  PP_CHECK(!(options->overwrite && options->restart), PP_ERR_USAGE,
           "--overwrite and --restart contradict each other: --restart continues the run in the folder, "
           "--overwrite replaces it");
  if (!strcmp(command, "demo") && !options->output_dir) options->output_dir = "out";
  return PP_OK;
}

static pp_err read_text_file(const char *path, char **text)
{
  FILE *in = fopen(path, "rb");
  PP_CHECK(in, PP_ERR_IO, "cannot open config file %s: %s", path, strerror(errno));
  size_t capacity = 4096, length = 0;
  char *buffer = malloc(capacity);
  PP_CHECK(buffer, PP_ERR_MEMORY, "out of memory reading %s", path);
  size_t got;
  while ((got = fread(buffer + length, 1, capacity - length - 1, in)) > 0) {
    length += got;
    if (capacity - length - 1 == 0) {
      char *bigger = capacity < ((size_t)1 << 26) ? realloc(buffer, capacity * 2) : NULL;
      if (!bigger) {
        free(buffer);
        fclose(in);
        PP_RAISE(PP_ERR_CONFIG, "config file %s is larger than 64 MiB; is it really a config?", path);
      }
      buffer = bigger;
      capacity *= 2;
    }
  }
  int failed = ferror(in);
  fclose(in);
  if (failed) {
    free(buffer);
    PP_RAISE(PP_ERR_IO, "error reading config file %s", path);
  }
  buffer[length] = '\0';
  *text = buffer;
  return PP_OK;
}

/* Defaults, then the file (or the embedded case), then each --set. */
static pp_err load_config_text(pp_config *config, const char *origin, const char *text, const cli_options *options)
{
  PP_CALL(pp_config_init(config));
  PP_CALL(pp_config_load_text(config, origin, text));
  for (int i = 0; i < options->set_count; ++i) PP_CALL(pp_config_apply_set(config, options->sets[i]));
  PP_CALL(pp_config_validate(config));
  return PP_OK;
}

/* `check`: the healing model's resting state on the planned mesh (pp_healing_check_model in a run).
 * The generated block's elements are the products of its axes' intervals. */
static pp_err check_healing_model(const pp_config *config, const pp_mesh_axis *x, const pp_mesh_axis *y,
                                  const pp_mesh_axis *z, const pp_mesh_spec *spec)
{
  pp_healing_domain domain;
  double bounds[6];
  pp_healing_domain_begin(&domain, bounds);
  const pp_mesh_axis *axes[3] = {x, y, z};
  for (int a = 0; a < 3; ++a) {
    bounds[2 * a] = axes[a]->position[0];
    bounds[2 * a + 1] = axes[a]->position[axes[a]->element_count];
    for (int i = 0; i < axes[a]->element_count; ++i)
      domain.element_size[a] = fmin(domain.element_size[a], fabs(axes[a]->position[i + 1] - axes[a]->position[i]));
    if (bounds[2 * a] > bounds[2 * a + 1]) { /* an axis numbered downwards */
      const double t = bounds[2 * a];
      bounds[2 * a] = bounds[2 * a + 1];
      bounds[2 * a + 1] = t;
    }
  }
  pp_healing_domain_end(&domain, bounds, spec->side_x == PP_SIDE_PERIODIC, spec->side_y == PP_SIDE_PERIODIC);
  return pp_healing_check_resting_state(config, &domain, "#   ", stdout);
}

/* `check` also reads the mesh the case names (or plans the generated one) and reports it. */
static pp_err describe_mesh(const pp_config *config)
{
  const char *mesh_file = pp_config_text(config, "mesh.file");
  if (mesh_file && *mesh_file) {
    pp_imported_mesh imported;
    PP_CALL(pp_mesh_import_read(config, &imported));
    printf("# The mesh is read from mesh.file (volumes in cubic file units):\n");
    pp_mesh_import_print_summary(&imported, mesh_file, "#   ", stdout);
    pp_healing_domain domain;
    double bounds[6];
    pp_healing_domain_begin(&domain, bounds);
    for (long long e = 0; e < imported.global.element_count; ++e) {
      double corners[8][3];
      for (int k = 0; k < 8; ++k)
        memcpy(corners[k], imported.global.node_coords + 3 * imported.global.element_nodes[8 * e + k], sizeof corners[k]);
      pp_healing_domain_add_element(&domain, bounds, corners);
    }
    pp_healing_domain_end(&domain, bounds, 0, 0); /* an imported mesh has no periodic sides */
    pp_err err = pp_healing_check_resting_state(config, &domain, "#   ", stdout);
    pp_mesh_import_free(&imported);
    PP_CALL(err);
    return PP_OK;
  }
  pp_mesh_spec spec;
  pp_mesh plan;
  PP_CALL(pp_mesh_spec_from_config(config, &spec));
  PP_CALL(pp_mesh_plan(&spec, &plan));
  printf("# The layered mesh is generated from skin.* and mesh.*:\n");
  pp_mesh_print_summary(&plan, "#   ", stdout);
  pp_mechanics_options mechanics;
  pp_err err = pp_mechanics_options_from_config(config, &mechanics);
  if (err == PP_OK) {
    /* stage 1's simulated time: the last needle's stroke, or mechanics.end_time if that comes first */
    pp_needle *needles = NULL;
    int needle_count = 0;
    err = pp_needles_from_config(config, &needles, &needle_count);
    double stroke_end = 0;
    for (int k = 0; k < needle_count; ++k) stroke_end = fmax(stroke_end, pp_needle_end_time(&needles[k].trajectory));
    free(needles);
    if (err == PP_OK)
      pp_mechanics_print_plan(&plan, &mechanics, fmin(stroke_end, pp_config_real(config, "mechanics.end_time")), "#   ",
                              stdout);
  }
  if (err == PP_OK) err = check_healing_model(config, &plan.axis_x, &plan.axis_y, &plan.axis_z, &spec);
  pp_mesh_free(&plan);
  PP_CALL(err);
  return PP_OK;
}

static pp_err command_check(const cli_options *options)
{
  char *text = NULL;
  PP_CALL(read_text_file(options->config_path, &text));
  pp_config config;
  pp_err result = load_config_text(&config, options->config_path, text, options);
  free(text);
  if (result != PP_OK) {
    pp_config_free(&config);
    return pp_error_trace(result, __FILE__, __LINE__, __func__);
  }
  printf("# %s is valid. Effective configuration (SI inside; shown in display units),\n"
         "# with where each value came from:\n", options->config_path);
  result = pp_config_write_yaml(&config, stdout, 1);
  if (result == PP_OK) result = describe_mesh(&config);
  if (result == PP_OK) result = pp_healing_check_channel_library(&config, stdout);
  pp_config_free(&config);
  PP_CALL(result);
  return PP_OK;
}

static pp_err command_devices(void)
{
  pp_device_info *devices = NULL;
  int count = 0;
  PP_CALL(pp_clrt_list_devices(&devices, &count));
  if (count == 0) {
    free(devices);
    PP_RAISE(PP_ERR_DEVICE, "no OpenCL device found: install a platform (e.g. Debian's pocl-opencl-icd "
                            "for CPUs, or the GPU vendor's ICD) and check /etc/OpenCL/vendors");
  }
  pp_clrt_print_devices(stdout, devices, count);
  free(devices);
  return PP_OK;
}

static void print_version(void)
{
  char libraries[4096];
  pp_version_libraries(libraries, sizeof libraries);
  printf("pinprick %s (git %s)\ncompiler: %s\nkernel precision default: %s\n%s", pp_version(), pp_version_git(),
         pp_version_compiler(), PINPRICK_DEFAULT_REAL, libraries);
}

typedef struct {
  pp_runtime runtime;
  pp_config config;
  int config_ready;
  pp_clrt *clrt;
  char device_line[512];
  pp_mesh mesh;
  pp_halo *halo;
} run_state;

/* The whole run, every phase ending in a collective agreement so that no rank is left waiting. */
static pp_err run_case(run_state *state, const cli_options *options, int embedded)
{
  pp_runtime *runtime = &state->runtime;
  PP_CALL(pp_runtime_agree(runtime, pp_runtime_fault_point(runtime, "startup"), "start-up"));

  /* Config: rank 0 reads the file, every rank parses the same text. */
  const char *origin = embedded ? "embedded demo case" : options->config_path;
  char *text = NULL;
  pp_err local = PP_OK;
  if (runtime->rank == 0) {
    if (embedded) {
      text = strdup(pp_demo_case_yaml);
      if (!text) local = pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory");
    } else {
      local = read_text_file(options->config_path, &text);
    }
  }
  PP_CALL(pp_runtime_agree(runtime, local, "reading the config"));
  PP_CALL(pp_runtime_broadcast_text(runtime, &text, 0));
  local = load_config_text(&state->config, origin, text, options);
  state->config_ready = 1;
  free(text);
  if (local == PP_OK) local = pp_runtime_fault_point(runtime, "config");
  PP_CALL(pp_runtime_agree(runtime, local, "config validation"));
  pp_log(PP_LOG_INFO, "case '%s' from %s, %d rank(s)", pp_config_text(&state->config, "case.name"), origin,
         runtime->size);

  /* Device: one per rank, chosen from the node-local rank (clrt), overridable. */
  pp_clrt_options cl_options = {
    .platform = (int)pp_config_integer(&state->config, "runtime.platform"),
    .device = (int)pp_config_integer(&state->config, "runtime.device"),
    .flat_index = -1,
    .choice_from_command_line = options->device != NULL,
    .allow_shared_device = pp_config_boolean(&state->config, "runtime.allow_shared_device"),
    .use_double = strcmp(pp_config_text(&state->config, "runtime.precision"), "double") == 0,
    .profiling = pp_config_boolean(&state->config, "runtime.kernel_profiling"),
  };
  local = options->device ? pp_clrt_parse_device(options->device, "--device", &cl_options) : PP_OK;
  PP_CALL(pp_runtime_agree(runtime, local, "reading --device"));
  local = pp_runtime_fault_point(runtime, "device");
  PP_CALL(pp_runtime_agree(runtime, local, "device set-up"));
  PP_CALL(pp_clrt_create(&state->clrt, runtime->comm, &cl_options));
  pp_clrt_describe(state->clrt, state->device_line, sizeof state->device_line);
  pp_log_all(PP_LOG_INFO, "%s", state->device_line);

  /* Stage 2's channel library is read now, so that a wrong path or entry fails before stage 1. */
  PP_CALL(pp_runtime_agree(runtime, pp_healing_check_channel_library(&state->config, NULL), "healing.channel_library"));

  /* The layered mesh: each rank generates its own block and ghosts, then its halo plan. */
  pp_mesh_spec spec;
  PP_CALL(pp_mesh_spec_from_config(&state->config, &spec));
  const char *mesh_file = pp_config_text(&state->config, "mesh.file");
  int imported = mesh_file && *mesh_file;
  PP_CALL(pp_runtime_agree(runtime, pp_runtime_fault_point(runtime, "mesh"), "mesh set-up"));
  if (imported) {
    pp_partition_stats stats;
    PP_CALL(pp_mesh_import(&state->config, runtime, &state->mesh, &stats));
    pp_log(PP_LOG_INFO, "mesh: %s: %lld hexahedra, %lld nodes; METIS partition over %d rank(s): edge cut %lld faces, "
           "balance %.3f (elements) %.3f (nodes)", mesh_file, state->mesh.global_element_count,
           state->mesh.global_node_count, runtime->size, stats.edge_cut, stats.element_balance, stats.node_balance);
  } else {
    local = pp_mesh_generate(&spec, runtime->rank, runtime->size, &state->mesh);
    PP_CALL(pp_runtime_agree(runtime, local, "mesh generation"));
  }
  /* Collective (all-to-alls): only after every rank has its mesh. */
  PP_CALL(pp_runtime_agree(runtime, pp_halo_create(&state->halo, &state->mesh, state->clrt, runtime->comm),
                           "halo plan"));
  if (!imported && runtime->rank == 0 && pp_log_get_level() >= PP_LOG_INFO) pp_mesh_print_summary(&state->mesh, "", stdout);
  double volumes[PP_LAYER_COUNT];
  PP_CALL(pp_mesh_layer_volumes(&state->mesh, runtime->comm, volumes));
  for (int layer = 0; layer < PP_LAYER_COUNT; ++layer) {
    if (imported) {
      pp_log(PP_LOG_INFO, "mesh: layer %d (%s) volume %.17g mm3", layer, pp_mesh_layer_name(layer), volumes[layer] * 1e9);
      continue;
    }
    double expected = spec.length_x * spec.length_y * spec.layer_thickness[layer];
    pp_log(PP_LOG_INFO, "mesh: layer %d (%s) volume %.17g mm3 (flat-layer value %.9g mm3, relative difference %.1e)",
           layer, pp_mesh_layer_name(layer), volumes[layer] * 1e9, expected * 1e9, (volumes[layer] - expected) / expected);
  }
  pp_log_all(PP_LOG_DEBUG, "mesh block %ld x %ld node columns: %d owned + %d ghost nodes, %d owned + %d ghost "
             "elements, %d halo neighbours", state->mesh.owned_x_end - state->mesh.owned_x_first,
             state->mesh.owned_y_end - state->mesh.owned_y_first, state->mesh.owned_node_count,
             state->mesh.node_count - state->mesh.owned_node_count, state->mesh.owned_element_count,
             state->mesh.element_count - state->mesh.owned_element_count, pp_halo_neighbour_count(state->halo));

  /* Stage 2's model must hold unwounded tissue at rest on this mesh: refused before any work. */
  PP_CALL(pp_healing_check_model(&state->config, runtime, &state->mesh));

  /* Output folder before any work, so a refused folder costs nothing. */
  local = pp_runtime_fault_point(runtime, "output");
  PP_CALL(pp_runtime_agree(runtime, local, "output set-up"));
  PP_CALL(pp_output_prepare(runtime, options->output_dir, options->overwrite));

  long correct = 0;
  PP_CALL(pp_selftest_device(runtime, state->clrt, &correct));
  pp_log(PP_LOG_INFO, "device self-test: %ld triad values exact on %d rank(s)", correct, runtime->size);

  /* The mesh as a series of its own (layer and rank per cell), so ParaView shows the skin block
   * before any physics: one step at t = 0 with no fields beyond the mesh's. */
  pp_io_mesh view;
  PP_CALL(pp_mesh_io_view(&state->mesh, &view));
  pp_io_series *series = NULL;
  PP_CALL(pp_io_series_open(&series, runtime, options->output_dir, "mesh", "s", &view));
  pp_err written = pp_io_step_begin(series, 0.0);
  if (written == PP_OK) written = pp_io_step_end(series);
  pp_err closed = pp_io_series_close(&series);
  PP_CALL(written);
  PP_CALL(closed);
  pp_log(PP_LOG_INFO, "mesh written: %s/mesh.xdmf (open it in ParaView)", options->output_dir);

  /* Stage 1: the needle stroke on the skin block, puncture by erosion and the channel left. */
  pp_stage1_summary stage1;
  PP_CALL(pp_runtime_agree(runtime, pp_runtime_fault_point(runtime, "stage1"), "stage 1 set-up"));
  PP_CALL(pp_stage1_run(&state->config, runtime, state->clrt, &state->mesh, state->halo, options->output_dir, &stage1));
  char stage1_json[4096], stage1_note[512];
  pp_stage1_summary_json(&stage1, stage1_json, sizeof stage1_json);
  snprintf(stage1_note, sizeof stage1_note,
           "%d needle(s) to %.4g um (TLED, penalty contact with friction): %lld steps to %.4g us, peak force %.4g mN, "
           "worst energy closure %.1e of the work; %lld elements eroded, needle 0's channel %.4g um open, surface "
           "diameter %.4g um (channels.h5, which stage 2 of a later run can take: healing.channel_library); series "
           "%s/mechanics.xdmf",
           stage1.needles, stage1.final_tip_depth * 1e6, stage1.steps, stage1.end_time * 1e6, stage1.peak_force * 1e3,
           stage1.worst_closure, stage1.eroded.elements, stage1.channel_open_depth * 1e6,
           stage1.channel_surface_diameter * 1e6, options->output_dir);

  /* Stage 2: the healing model — growth factors released by each session's channels, fibroblasts,
     collagen I/III. */
  pp_healing_summary healing;
  PP_CALL(pp_runtime_agree(runtime, pp_runtime_fault_point(runtime, "healing"), "stage 2 set-up"));
  PP_CALL(pp_healing_run(&state->config, runtime, state->clrt, &state->mesh, state->halo, options->output_dir,
                         options->restart, &healing));
  char healing_json[2048], healing_note[768];
  pp_healing_summary_json(&healing, healing_json, sizeof healing_json);
  snprintf(healing_note, sizeof healing_note,
           "growth factors, fibroblasts and collagen I/III from %d channel(s) x %d session(s): %lld steps (%lld "
           "rejected), %lld CG iterations; peak PDGF %.4g %s, TGF-beta %.4g %s, fibroblasts %.4g/mm3; collagen in the "
           "treated upper dermis %+.1f %% (type III %.1f %%) at the end; series %s/healing.xdmf, healing_summary.csv, "
           "healing_steps.csv",
           healing.channels, healing.pulses, healing.steps, healing.rejected_steps, healing.cg_iterations,
           healing.peak[0] * healing.factor_per_si, healing.factor_unit, healing.peak[1] * healing.factor_per_si,
           healing.factor_unit, healing.peak_fibroblasts * 1e-9, 100 * healing.treated_collagen_gain,
           100 * healing.treated_type_III_share, options->output_dir);
  pp_log(PP_LOG_INFO, "stage 2 (healing): %s", healing_note);

  pp_stage_report stages[] = {
    {"device self-test", PP_STAGE_COMPLETED, "triad on every rank's device, checked exactly, summed over ranks", NULL},
    {"layered mesh", PP_STAGE_COMPLETED, "five-layer skin block generated in parallel, with ghosts and halo plan",
     NULL},
    {"needle mechanics (stage 1)", PP_STAGE_COMPLETED, stage1_note, stage1_json},
    {"healing (stage 2)", PP_STAGE_COMPLETED, healing_note, healing_json},
  };
  int stage_count = (int)(sizeof stages / sizeof stages[0]);
  for (int s = 0; s < stage_count; ++s)
    if (stages[s].status == PP_STAGE_NOT_IMPLEMENTED)
      pp_log(PP_LOG_WARN, "stage '%s' skipped: %s; no results for it are written", stages[s].name, stages[s].note);

  if (cl_options.profiling && runtime->rank == 0) pp_clrt_print_timing(state->clrt, stdout);
  pp_run_info info = {
    .command_line = options->command_line,
    .config = &state->config,
    .device_line = state->device_line,
    .precision = cl_options.use_double ? "double" : "float",
    .stages = stages,
    .stage_count = stage_count,
    .status = "completed",
  };
  PP_CALL(pp_run_record_write(runtime, options->output_dir, &info));
  pp_log(PP_LOG_INFO, "run record written to %s/run.json (resolved config: %s/config.yaml)", options->output_dir,
         options->output_dir);
  return PP_OK;
}

static int command_run(const cli_options *options, int embedded, int *argc, char ***argv)
{
  run_state state;
  memset(&state, 0, sizeof state);
  if (pp_runtime_start(&state.runtime, argc, argv) != PP_OK) {
    pp_error_print(stderr, "");
    return EXIT_FAILURE_OTHER;
  }
  pp_log_init(state.runtime.rank, options->log_level);
  pp_err result = run_case(&state, options, embedded);
  if (state.halo) pp_halo_destroy(state.halo);
  pp_mesh_free(&state.mesh);
  if (state.clrt) pp_clrt_destroy(state.clrt);
  if (state.config_ready) pp_config_free(&state.config);
  if (result != PP_OK) {
    /* Every rank leaves with the status of the rank that failed first, so the job's status does
     * not depend on which process mpiexec saw end first. */
    pp_err code = pp_error_code() == PP_ERR_OTHER_RANK ? pp_error_origin_code() : pp_error_code();
    pp_runtime_fail(&state.runtime, exit_status_for(code));
  }
  pp_runtime_stop(&state.runtime);
  return EXIT_SUCCESS;
}

int main(int argc, char **argv)
{
  cli_options options;
  if (parse_arguments(argc, argv, &options) != PP_OK) fail_serial();
  pp_log_init(0, options.log_level);
  const char *command = options.command;
  if (!strcmp(command, "help")) {
    fputs(usage_text, stdout);
    return EXIT_SUCCESS;
  }
  if (!strcmp(command, "version")) {
    print_version();
    return EXIT_SUCCESS;
  }
  if (!strcmp(command, "config")) {
    if (options.reference) pp_config_write_reference(stdout);
    else fputs(pp_demo_case_yaml, stdout);
    return EXIT_SUCCESS;
  }
  if (!strcmp(command, "explain")) {
    if (pp_config_explain(options.explain_key, stdout) != PP_OK) fail_serial();
    return EXIT_SUCCESS;
  }
  if (!strcmp(command, "devices")) {
    if (command_devices() != PP_OK) fail_serial();
    return EXIT_SUCCESS;
  }
  if (!strcmp(command, "check")) {
    if (command_check(&options) != PP_OK) fail_serial();
    return EXIT_SUCCESS;
  }
  return command_run(&options, !strcmp(command, "demo"), &argc, &argv);
}
