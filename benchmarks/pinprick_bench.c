/* pinprick_bench: device roofs for the performance figures of pinprick (see README.md).
 * Runs the cases of bench_cases.h on one OpenCL device chosen as pinprick chooses it, prints a
 * table and optionally appends CSV rows. Exit status: 0 all checks passed, 1 a result check
 * failed, 2 the benchmark could not run (usage, device, OpenCL). One MPI rank, or several for the
 * cases that support it (triad, cg: `mpiexec -n 2 --bind-to none pinprick_bench --only triad,cg`). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mpi.h>

#include "bench_cases.h"
#include "clrt.h"
#include "log.h"
#include "version.h"

typedef struct {
  const char *name;
  const char *what;
  pp_err (*run)(pp_bench *bench);
  int multi_rank; /* runs on several MPI ranks at once (the others measure one device from one rank) */
  int roofs;      /* reports against the roofline of this run: triad and fma run too */
} bench_case;

/* New cases go here. */
static const bench_case cases[] = {
  {"triad", "a[i] = b[i] + s*c[i], GB/s from 3 n sizeof(REAL) bytes (any rank count)", pp_bench_case_triad, 1, 0},
  {"copy", "b[i] = a[i], GB/s from 2 n sizeof(REAL) bytes", pp_bench_case_copy, 0, 0},
  {"fma", "chains of dependent fma, GFLOP/s (compute peak)", pp_bench_case_fma, 0, 0},
  {"plain_sum", "plain (non-reproducible) sum of n REALs, GB/s of n sizeof(REAL)", pp_bench_case_plain_sum, 0, 0},
  {"reduce", "exact reproducible sum (host/reduce), GB/s and its time / plain_sum's", pp_bench_case_reduce, 0, 0},
  {"cg", "stage-2 Jacobi-PCG iteration on size/36 DoF, DoF*iterations/s; GB/s from 22 rs + 28 B/DoF (any rank count)",
   pp_bench_case_cg, 1, 0},
  {"mechanics", "stage-1 explicit step and hex8 kernel on ~size/32 elements, element-steps/s and % of the roofline "
                "bound (runs triad and fma too)", pp_bench_case_mechanics, 0, 1},
};
enum { CASE_COUNT = sizeof cases / sizeof cases[0] };

typedef struct {
  pp_clrt_options clrt;
  size_t size, fma_size, local_size;
  int fma_iterations, fma_width, repeats, warmups, list, profile, reduce_expansion;
  const char *csv, *only;
} bench_options;

static void usage(FILE *out)
{
  fprintf(out,
          "usage: pinprick_bench [options]\n"
          "  --device P:D|N        OpenCL device (default: as pinprick chooses; PINPRICK_DEVICE also works)\n"
          "  --precision double|float   REAL of the kernels (default %s)\n"
          "  --size N              elements of the memory cases (default 33554432 = 2^25); mechanics: about\n"
          "                        N/32 hex elements\n"
          "  --fma-size N          work-items of the fma case (default 4096 per compute unit, at least 65536)\n"
          "  --fma-iterations N    outer iterations per fma chain, >= 16 (default 512)\n"
          "  --fma-width N         vector width of each fma chain: 1, 2, 4, 8, 16 (default: the device's\n"
          "                        preferred width for REAL)\n"
          "  --repeats N           timed repetitions (default 20); --warmups N untimed ones (default 1)\n"
          "  --local N             work-group size of every launch (default 256)\n"
          "  --only a,b            run only these cases\n"
          "  --csv FILE            append CSV rows (header written when FILE is empty)\n"
          "  --reduce-expansion N  levels of host/reduce's floating-point expansion for reduce and cg: -1 its\n"
          "                        own choice (default), 0 none, up to 8 (speed only: the sums are exact)\n"
          "  --profile             time every kernel with OpenCL events and print the table at the end\n"
          "                        (use with --only: the table sums over all cases run)\n"
          "  --list                list the OpenCL devices and exit\n"
          "Under mpiexec with several ranks only triad and cg run (--only triad,cg), every rank on its part\n"
          "at once; with PoCL give each rank POCL_MAX_PTHREAD_COUNT=cores/ranks and use --bind-to none.\n"
          "cases:\n",
          PINPRICK_DEFAULT_REAL);
  for (int i = 0; i < CASE_COUNT; ++i) fprintf(out, "  %-9s %s\n", cases[i].name, cases[i].what);
}

static pp_err parse_count(const char *option, const char *text, size_t minimum, size_t *value)
{
  char *end = NULL;
  errno = 0;
  unsigned long long v = text ? strtoull(text, &end, 10) : 0;
  PP_CHECK(text && *text && *end == '\0' && errno == 0 && text[0] != '-' && v >= minimum, PP_ERR_USAGE,
           "%s needs a whole number >= %zu, got '%s'", option, minimum, text ? text : "");
  *value = (size_t)v;
  return PP_OK;
}

static pp_err parse_int(const char *option, const char *text, int minimum, int *value)
{
  size_t v = 0;
  PP_CALL(parse_count(option, text, (size_t)minimum, &v));
  PP_CHECK(v <= 1000000000u, PP_ERR_USAGE, "%s is too large: %s", option, text);
  *value = (int)v;
  return PP_OK;
}

static int known_case(const char *name, size_t length)
{
  for (int i = 0; i < CASE_COUNT; ++i)
    if (strlen(cases[i].name) == length && strncmp(cases[i].name, name, length) == 0) return 1;
  return 0;
}

/* Whether case `name` is in the comma-separated list (NULL: all). */
static int selected(const char *only, const char *name)
{
  if (!only) return 1;
  size_t n = strlen(name);
  for (const char *p = only; *p;) {
    const char *comma = strchr(p, ',');
    size_t length = comma ? (size_t)(comma - p) : strlen(p);
    if (length == n && strncmp(p, name, n) == 0) return 1;
    if (!comma) break;
    p = comma + 1;
  }
  return 0;
}

/* Whether case i runs: selected, or a roof (triad, fma) of a selected case that reports against
 * the roofline of the same run. */
static int wanted(const char *only, int i)
{
  if (selected(only, cases[i].name)) return 1;
  if (strcmp(cases[i].name, "triad") != 0 && strcmp(cases[i].name, "fma") != 0) return 0;
  for (int k = 0; k < CASE_COUNT; ++k)
    if (cases[k].roofs && selected(only, cases[k].name)) return 1;
  return 0;
}

static pp_err parse_arguments(int argc, char **argv, bench_options *o, int *help)
{
  pp_clrt_options_default(&o->clrt);
  o->size = (size_t)1 << 25;
  o->fma_size = 0;
  o->local_size = 256;
  o->fma_iterations = 512;
  o->repeats = 20;
  o->warmups = 1;
  o->reduce_expansion = -1;
  for (int i = 1; i < argc; ++i) {
    const char *arg = argv[i];
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
      *help = 1;
      return PP_OK;
    }
    if (strcmp(arg, "--list") == 0) {
      o->list = 1;
      continue;
    }
    if (strcmp(arg, "--profile") == 0) {
      o->profile = 1;
      o->clrt.profiling = 1;
      continue;
    }
    /* Every other option takes a value, as "--opt value" or "--opt=value". */
    char name[64];
    const char *value = NULL, *equals = strchr(arg, '=');
    if (equals && (size_t)(equals - arg) < sizeof name) {
      memcpy(name, arg, (size_t)(equals - arg));
      name[equals - arg] = '\0';
      value = equals + 1;
    } else {
      snprintf(name, sizeof name, "%s", arg);
      PP_CHECK(i + 1 < argc, PP_ERR_USAGE, "%s needs a value (see --help)", arg);
      value = argv[++i];
    }
    if (strcmp(name, "--device") == 0) {
      PP_CALL(pp_clrt_parse_device(value, "--device", &o->clrt));
      o->clrt.choice_from_command_line = 1;
    } else if (strcmp(name, "--precision") == 0) {
      PP_CHECK(strcmp(value, "double") == 0 || strcmp(value, "float") == 0, PP_ERR_USAGE,
               "--precision must be double or float, got '%s'", value);
      o->clrt.use_double = strcmp(value, "double") == 0;
    } else if (strcmp(name, "--size") == 0) {
      PP_CALL(parse_count(name, value, 1, &o->size));
    } else if (strcmp(name, "--fma-size") == 0) {
      PP_CALL(parse_count(name, value, 1, &o->fma_size));
    } else if (strcmp(name, "--fma-iterations") == 0) {
      PP_CALL(parse_int(name, value, 16, &o->fma_iterations));
    } else if (strcmp(name, "--fma-width") == 0) {
      PP_CALL(parse_int(name, value, 1, &o->fma_width));
    } else if (strcmp(name, "--repeats") == 0) {
      PP_CALL(parse_int(name, value, 1, &o->repeats));
    } else if (strcmp(name, "--warmups") == 0) {
      PP_CALL(parse_int(name, value, 0, &o->warmups));
    } else if (strcmp(name, "--reduce-expansion") == 0) {
      PP_CHECK(value && (strcmp(value, "-1") == 0 || (value[0] >= '0' && value[0] <= '8' && value[1] == '\0')),
               PP_ERR_USAGE, "--reduce-expansion must be -1 or 0 to 8, got '%s'", value ? value : "");
      o->reduce_expansion = atoi(value);
    } else if (strcmp(name, "--local") == 0) {
      PP_CALL(parse_count(name, value, 1, &o->local_size));
    } else if (strcmp(name, "--csv") == 0) {
      o->csv = value;
    } else if (strcmp(name, "--only") == 0) {
      for (const char *p = value; *p;) {
        const char *comma = strchr(p, ',');
        size_t length = comma ? (size_t)(comma - p) : strlen(p);
        PP_CHECK(known_case(p, length), PP_ERR_USAGE, "--only: unknown case '%.*s' (see --help)", (int)length, p);
        if (!comma) break;
        p = comma + 1;
      }
      o->only = value;
    } else {
      PP_RAISE(PP_ERR_USAGE, "unknown option '%s' (see --help)", name);
    }
  }
  return PP_OK;
}

static pp_err list_devices(void)
{
  pp_device_info *devices = NULL;
  int count = 0;
  PP_CALL(pp_clrt_list_devices(&devices, &count));
  pp_clrt_print_devices(stdout, devices, count);
  free(devices);
  return PP_OK;
}

static pp_err run(const bench_options *o, pp_bench *bench)
{
  char line[1024];
  pp_clrt_describe(bench->clrt, line, sizeof line);
  if (bench->rank == 0) {
    printf("pinprick_bench %s (git %s)\ndevice: %s\n", pp_version(), pp_version_git(), line);
    if (bench->ranks > 1)
      printf("%d MPI ranks, each with its own queue on its device, running every case at once; a repetition "
             "lasts as long as the slowest rank\n",
             bench->ranks);
    printf("memory cases: %zu elements; %d warm-up + %d timed repetitions; work-group size %zu; rates from the "
           "minimum time\n\n",
           o->size, o->warmups, o->repeats, o->local_size);
    pp_bench_print_header(stdout);
  }
  for (int i = 0; i < CASE_COUNT; ++i) {
    if (!wanted(o->only, i)) continue;
    pp_err err = cases[i].run(bench);
    if (err != PP_OK) return pp_error_context(err, "in benchmark case '%s'", cases[i].name);
  }
  if (bench->rank == 0) printf("\n");
  pp_bench_print_summary(bench, stdout);
  if (o->profile && bench->rank == 0) {
    /* Kernels only (event times): host work, read-backs and MPI between them are not in it. */
    printf("\nkernel time per label over every repetition, warm-up and check of the cases run (rank 0):\n");
    PP_CALL(pp_clrt_print_timing(bench->clrt, stdout));
  }
  return PP_OK;
}

int main(int argc, char **argv)
{
  MPI_Init(&argc, &argv);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  pp_log_init(rank, PP_LOG_INFO);

  bench_options options;
  memset(&options, 0, sizeof options);
  int help = 0, status = 0;
  pp_err err = parse_arguments(argc, argv, &options, &help);
  for (int i = 0; err == PP_OK && size != 1 && !help && !options.list && i < CASE_COUNT; ++i)
    if (wanted(options.only, i) && !cases[i].multi_rank)
      err = pp_error_raise(PP_ERR_USAGE, __FILE__, __LINE__, __func__,
                           "case '%s' measures one device from one rank, but %d ranks were started: run it without "
                           "mpiexec, or choose the cases that run on several ranks (--only triad,cg)",
                           cases[i].name, size);
  if (err == PP_OK && help) {
    if (rank == 0) usage(stdout);
  } else if (err == PP_OK && options.list) {
    if (rank == 0) err = list_devices();
  }
  else if (err == PP_OK) {
    pp_bench bench;
    memset(&bench, 0, sizeof bench);
    bench.size = options.size;
    bench.fma_size = options.fma_size;
    bench.fma_iterations = options.fma_iterations;
    bench.fma_width = options.fma_width;
    bench.repeats = options.repeats;
    bench.warmups = options.warmups;
    bench.local_size = options.local_size;
    bench.reduce_expansion = options.reduce_expansion;
    bench.comm = MPI_COMM_WORLD;
    bench.rank = rank;
    bench.ranks = size;
    time_t now = time(NULL);
    struct tm utc;
    gmtime_r(&now, &utc);
    strftime(bench.date, sizeof bench.date, "%Y-%m-%dT%H:%M:%SZ", &utc);
    err = pp_clrt_create(&bench.clrt, MPI_COMM_WORLD, &options.clrt);
    if (err == PP_ERR_DEVICE && options.clrt.use_double != 0)
      pp_error_context(err, "pinprick_bench: --precision float runs without fp64");
    if (err == PP_OK && options.csv && rank == 0) {
      bench.csv = fopen(options.csv, "a");
      if (!bench.csv)
        err = pp_error_raise(PP_ERR_IO, __FILE__, __LINE__, __func__, "cannot open the CSV file %s: %s", options.csv,
                             strerror(errno));
      else if (ftell(bench.csv) == 0) pp_bench_csv_header(bench.csv);
    }
    if (err == PP_OK) err = run(&options, &bench);
    if (err == PP_OK && bench.failures) status = 1;
    if (bench.csv) fclose(bench.csv);
    free(bench.results);
    pp_clrt_destroy(bench.clrt);
  }
  if (err != PP_OK) {
    /* A failure elsewhere is reported by the rank where it happened. */
    if (err != PP_ERR_OTHER_RANK && (rank == 0 || err != PP_ERR_USAGE)) pp_error_print(stderr, "pinprick_bench: ");
    status = 2;
  }
  MPI_Finalize();
  return status;
}
