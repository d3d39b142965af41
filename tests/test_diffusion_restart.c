/* Restart of the stage-2 diffusion solver (host/diffusion + host/checkpoint) on another rank
 * count, bit for bit (issue 7: "a restart continues bit for bit on any rank count"), and its
 * series output (pp_diffusion_write_step).
 *
 *   test_diffusion_restart write DIR    (2 ranks) N steps, checkpoint, M more steps; rank 0 saves
 *                                       the final state (global id, value bits) and the CG
 *                                       iterations of the M steps in DIR/final.bin; the final
 *                                       state is written as a series step in DIR/np2
 *   test_diffusion_restart restart DIR  (1 and 4 ranks) reads the newest checkpoint (field, held
 *                                       source rates, time, step), does the M steps and requires
 *                                       the same bits and iteration counts; its series step
 *                                       (DIR/np<size>) must hold the same bits at every output
 *                                       node, periodic duplicates included
 * Both for backward Euler (in DIR) and for BDF2 (in DIR/bdf2, steps with ratios 2, 1, 2, 5/3,
 * 3/2: the steps after the checkpoint are BDF2 steps, which need the checkpointed history).
 * The mesh is periodic in x and y with an undulated junction, two species with a source.
 * Rule (as test_mesh.c): collectives first, then asserts on values equal on every rank. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>

#include "diffusion_cases.h"
#include "mpi_suite.h"
#include "checkpoint.h"
#include "clrt.h"
#include "diffusion.h"
#include "halo.h"
#include "io.h"
#include "mesh.h"
#include "reduce.h"
#include "runtime.h"

enum { BEFORE = 3, AFTER = 3, S = 2 };
static const char *const HASH = "diffusion-restart-test-0001";
static const char *const NAMES[S] = {"pdgf", "tgf_beta"};
static const char *const UNITS[S] = {"ng/mL", "ng/mL"};
static const double um = 1e-6;
static const double BE_DT[BEFORE + AFTER] = {30.0, 600.0, 600.0, 1800.0, 1800.0, 3600.0};
static const double BDF2_DT[BEFORE + AFTER] = {30.0, 60.0, 60.0, 120.0, 200.0, 300.0};

/* One restart case: the scheme, its steps, and the folder (under DIR) it writes to. */
typedef struct {
  pp_time_scheme scheme;
  const double *dt;
  const char *sub;
} restart_case;

static const restart_case BE_CASE = {PP_TIME_BACKWARD_EULER, BE_DT, ""};
static const restart_case BDF2_CASE = {PP_TIME_BDF2, BDF2_DT, "/bdf2"};

static pp_runtime runtime;
static pp_clrt *clrt;
static const char *mode = "", *dir = "";
static char folder[900]; /* DIR + the case's sub, set at the start of each test */

static int all_ranks(int condition)
{
  int all = 0;
  MPI_Allreduce(&condition, &all, 1, MPI_INT, MPI_MIN, runtime.comm);
  return all;
}



typedef struct {
  pp_mesh mesh;
  pp_io_mesh view;
  pp_halo *halo;
  pp_reduce *reduce;
  pp_diffusion *diffusion;
  pp_checkpoint *checkpoint;
} problem;

static void problem_create(problem *p, const restart_case *rc)
{
  memset(p, 0, sizeof *p);
  ck_assert_int_lt(snprintf(folder, sizeof folder, "%s%s", dir, rc->sub), (int)sizeof folder);
  pp_mesh_spec s = diffusion_cell_spec();
  ck_assert_int_eq(pp_mesh_generate(&s, runtime.rank, runtime.size, &p->mesh), PP_OK);
  ck_assert_int_eq(pp_mesh_io_view(&p->mesh, &p->view), PP_OK);
  ck_assert_int_eq(pp_halo_create(&p->halo, &p->mesh, clrt, runtime.comm), PP_OK);
  ck_assert_int_eq(pp_reduce_create(&p->reduce, clrt, runtime.comm), PP_OK);
  pp_err err = pp_diffusion_create(&p->diffusion, &p->mesh, clrt, p->halo, p->reduce, runtime.comm, S, diffusion_two_species);
  ck_assert_msg(err == PP_OK, "%s", pp_error_message());
  /* Before the registration: BDF2's history is registered only then. */
  ck_assert_int_eq(pp_diffusion_set_time_scheme(p->diffusion, rc->scheme), PP_OK);
  ck_assert_int_eq(pp_checkpoint_create(&p->checkpoint, &runtime, folder, &p->view), PP_OK);
  err = pp_diffusion_register_checkpoint(p->diffusion, p->checkpoint, NAMES, UNITS);
  ck_assert_msg(err == PP_OK, "%s", pp_error_message());
}

static void problem_free(problem *p)
{
  pp_checkpoint_free(&p->checkpoint);
  pp_diffusion_destroy(p->diffusion);
  pp_reduce_destroy(p->reduce);
  pp_halo_destroy(p->halo);
  pp_mesh_free(&p->mesh);
}

/* Steps first..end-1 of the case's dt; iterations[step - first][s]. Every step of a BDF2 run
 * but the two start steps is a BDF2 step (ratios below 1 + sqrt(2)), restarted ones included. */
static void run_steps(problem *p, const restart_case *rc, int first, int end, int iterations[][S])
{
  for (int step = first; step < end; ++step) {
    pp_diffusion_step_info info;
    pp_err err = pp_diffusion_step(p->diffusion, rc->dt[step], &info);
    ck_assert_msg(all_ranks(err == PP_OK), "step %d: %s", step, pp_error_message());
    for (int s = 0; s < S; ++s) iterations[step - first][s] = info.solver.species_iterations[s];
    ck_assert(info.scheme == (rc->scheme == PP_TIME_BDF2 && step > 1 ? PP_TIME_BDF2 : PP_TIME_BACKWARD_EULER));
  }
}

/* The final state in ascending global id on rank 0: [global count] records of (id, S values). */
typedef struct {
  long long id;
  double value[S];
} record;

static int by_id(const void *a, const void *b)
{
  long long x = ((const record *)a)->id, y = ((const record *)b)->id;
  return (x > y) - (x < y);
}

static void path_of(char *path, size_t size, const char *name)
{
  ck_assert_int_lt(snprintf(path, size, "%s/%s", folder, name), (int)size);
}

/* Writes the final state as a series step into <case folder>/np<size>. */
static void write_series(problem *p)
{
  char sub[512];
  snprintf(sub, sizeof sub, "np%d", runtime.size);
  char series_folder[1024];
  path_of(series_folder, sizeof series_folder, sub);
  pp_io_series *series = NULL;
  ck_assert_int_eq(pp_io_series_open(&series, &runtime, series_folder, "diffusion", "s", &p->view), PP_OK);
  ck_assert_int_eq(pp_io_step_begin(series, pp_diffusion_time(p->diffusion)), PP_OK);
  pp_err err = pp_diffusion_write_step(p->diffusion, series, NAMES, UNITS);
  ck_assert_msg(err == PP_OK, "%s", pp_error_message());
  ck_assert_int_eq(pp_io_step_end(series), PP_OK);
  ck_assert_int_eq(pp_io_series_close(&series), PP_OK);
}

static void write_case(const restart_case *rc)
{
  problem p;
  problem_create(&p, rc);
  const int owned = p.mesh.owned_node_count;
  double *c = malloc((size_t)owned * S * sizeof *c + 8), *rates = malloc((size_t)owned * S * sizeof *rates + 8);
  double *density = malloc((size_t)p.mesh.element_count * S * sizeof *density + 8);
  for (int i = 0; i < owned; ++i) {
    const double *x = p.mesh.node_coords + 3 * i;
    double r2 = (x[0] - 60 * um) * (x[0] - 60 * um) + (x[1] - 50 * um) * (x[1] - 50 * um) + x[2] * x[2];
    for (int s = 0; s < S; ++s) c[i * S + s] = (1 + s) * exp(-r2 / (2 * 400 * um * um));
  }
  for (int e = 0; e < p.mesh.element_count; ++e)
    for (int s = 0; s < S; ++s) density[(size_t)e * S + s] = p.mesh.element_layer[e] == 2 ? 0.1 * (s + 1) : 0;
  ck_assert_int_eq(pp_diffusion_source_from_elements(p.diffusion, density, rates), PP_OK);
  ck_assert_int_eq(pp_diffusion_set_source_rate(p.diffusion, rates), PP_OK);
  ck_assert_int_eq(pp_diffusion_set_field(p.diffusion, c), PP_OK);
  int before[BEFORE][S], after[AFTER][S];
  run_steps(&p, rc, 0, BEFORE, before);
  ck_assert_int_eq(pp_diffusion_checkpoint_save(p.diffusion), PP_OK);
  pp_err err = pp_checkpoint_write(p.checkpoint, pp_diffusion_step_count(p.diffusion), pp_diffusion_time(p.diffusion),
                                   HASH);
  ck_assert_msg(err == PP_OK, "%s", pp_error_message());
  run_steps(&p, rc, BEFORE, BEFORE + AFTER, after);
  ck_assert_int_eq(pp_diffusion_get_field(p.diffusion, c), PP_OK);
  /* Gather (id, values) on rank 0, sorted by id, and save with the iteration counts. */
  record *mine = malloc((size_t)owned * sizeof *mine + sizeof *mine);
  for (int i = 0; i < owned; ++i) {
    mine[i].id = p.mesh.node_global_id[i];
    for (int s = 0; s < S; ++s) mine[i].value[s] = c[i * S + s];
  }
  int bytes = owned * (int)sizeof(record), *counts = malloc((size_t)runtime.size * sizeof *counts);
  int *offsets = malloc((size_t)runtime.size * sizeof *offsets);
  MPI_Gather(&bytes, 1, MPI_INT, counts, 1, MPI_INT, 0, runtime.comm);
  long long total = 0;
  for (int r = 0; runtime.rank == 0 && r < runtime.size; ++r) {
    offsets[r] = (int)total;
    total += counts[r];
  }
  record *all = malloc((size_t)total + sizeof *all);
  MPI_Gatherv(mine, bytes, MPI_BYTE, all, counts, offsets, MPI_BYTE, 0, runtime.comm);
  int saved = 1;
  if (runtime.rank == 0) {
    long long count = total / (long long)sizeof(record);
    qsort(all, (size_t)count, sizeof *all, by_id);
    char path[1024];
    path_of(path, sizeof path, "final.bin");
    FILE *f = fopen(path, "wb");
    saved = f && fwrite(&count, sizeof count, 1, f) == 1 && fwrite(after, sizeof after, 1, f) == 1 &&
            fwrite(all, sizeof *all, (size_t)count, f) == (size_t)count;
    if (f) saved = (fclose(f) == 0) && saved;
    printf("write %s (%d ranks): %lld nodes, checkpoint at step %lld, t = %.1f s; %d more steps, CG iterations",
           rc->scheme == PP_TIME_BDF2 ? "BDF2" : "backward Euler", runtime.size, count, (long long)BEFORE,
           rc->dt[0] + rc->dt[1] + rc->dt[2], AFTER);
    for (int k = 0; k < AFTER; ++k) printf(" %d/%d", after[k][0], after[k][1]);
    printf("\n");
  }
  write_series(&p);
  ck_assert(all_ranks(saved));
  free(all);
  free(mine);
  free(counts);
  free(offsets);
  free(c);
  free(rates);
  free(density);
  problem_free(&p);
}

START_TEST(test_write)
{
  write_case(&BE_CASE);
  /* BDF2 chosen after a backward-Euler registration would checkpoint without its history:
   * refused, on every rank alike. */
  problem p;
  problem_create(&p, &BE_CASE);
  pp_err err = pp_diffusion_set_time_scheme(p.diffusion, PP_TIME_BDF2);
  ck_assert(all_ranks(err == PP_ERR_ARGUMENT));
  ck_assert_msg(strstr(pp_error_message(), "pp_diffusion_register_checkpoint"), "message: %s", pp_error_message());
  pp_error_clear();
  ck_assert(pp_diffusion_time_scheme(p.diffusion) == PP_TIME_BACKWARD_EULER);
  problem_free(&p);
}
END_TEST

START_TEST(test_write_bdf2)
{
  write_case(&BDF2_CASE);
}
END_TEST

/* Reads dataset /fields/<name> of a series step file (rank 0 only). */
static double *read_field(const char *file, const char *name, long long *count)
{
  hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) return NULL;
  char path[128];
  snprintf(path, sizeof path, "/fields/%s", name);
  hid_t d = H5Dopen2(f, path, H5P_DEFAULT), space = d >= 0 ? H5Dget_space(d) : -1;
  double *values = NULL;
  if (space >= 0) {
    hsize_t n = (hsize_t)H5Sget_simple_extent_npoints(space);
    values = malloc(n * sizeof *values + 8);
    if (H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values) < 0) {
      free(values);
      values = NULL;
    }
    *count = (long long)n;
    H5Sclose(space);
  }
  if (d >= 0) H5Dclose(d);
  H5Fclose(f);
  return values;
}

static void restart_case_run(const restart_case *rc)
{
  problem p;
  problem_create(&p, rc);
  long long step = -1;
  double time = -1;
  pp_err err = pp_checkpoint_read_latest(p.checkpoint, HASH, 0, &step, &time);
  ck_assert_msg(err == PP_OK, "%s", pp_error_message());
  err = pp_diffusion_checkpoint_restore(p.diffusion);
  ck_assert_msg(err == PP_OK, "%s", pp_error_message());
  ck_assert_int_eq(step, BEFORE);
  ck_assert(pp_diffusion_step_count(p.diffusion) == BEFORE);
  ck_assert(pp_diffusion_time(p.diffusion) == time && time == rc->dt[0] + rc->dt[1] + rc->dt[2]);
  int after[AFTER][S];
  run_steps(&p, rc, BEFORE, BEFORE + AFTER, after);
  const int owned = p.mesh.owned_node_count;
  double *c = malloc((size_t)owned * S * sizeof *c + 8);
  ck_assert_int_eq(pp_diffusion_get_field(p.diffusion, c), PP_OK);
  write_series(&p);
  /* Every rank reads the saved final state (small) and compares its owned nodes. */
  char path[1024];
  path_of(path, sizeof path, "final.bin");
  FILE *f = fopen(path, "rb");
  long long count = 0;
  int saved_after[AFTER][S];
  record *all = NULL;
  int readable = f && fread(&count, sizeof count, 1, f) == 1 && count > 0 && count < 100000000 &&
                 fread(saved_after, sizeof saved_after, 1, f) == 1;
  if (readable) {
    all = malloc((size_t)count * sizeof *all);
    readable = fread(all, sizeof *all, (size_t)count, f) == (size_t)count;
  }
  if (f) fclose(f);
  ck_assert_msg(all_ranks(readable), "cannot read %s (run the write mode first)", path);
  long long mismatches = 0, local = 0;
  for (int i = 0; i < owned; ++i) {
    record key = {.id = p.mesh.node_global_id[i]};
    const record *r = bsearch(&key, all, (size_t)count, sizeof *all, by_id);
    local += !r || memcmp(r->value, &c[i * S], sizeof r->value) != 0;
  }
  MPI_Allreduce(&local, &mismatches, 1, MPI_LONG_LONG, MPI_SUM, runtime.comm);
  /* The series step against the final state, at every output node (rank 0; mesh axes global). */
  long long series_mismatches = 0, series_nodes = 0;
  if (runtime.rank == 0) {
    char file[1024], sub[64];
    snprintf(sub, sizeof sub, "np%d/diffusion/step_000000.h5", runtime.size);
    path_of(file, sizeof file, sub);
    const long NX = p.mesh.node_columns_x, NY = p.mesh.node_columns_y, OX = NX + 1;
    const int NZ = p.mesh.node_layers;
    for (int s = 0; s < S; ++s) {
      long long n = 0;
      double *values = read_field(file, NAMES[s], &n);
      series_nodes = values ? n : -1;
      for (long long id = 0; values && id < n; ++id) {
        long long column = id / NZ;
        long i = (long)(column % OX) % NX, j = (long)(column / OX) % NY;
        record key = {.id = ((long long)j * NX + i) * NZ + id % NZ};
        const record *r = bsearch(&key, all, (size_t)count, sizeof *all, by_id);
        series_mismatches += !r || memcmp(&r->value[s], &values[id], sizeof(double)) != 0;
      }
      free(values);
    }
  }
  MPI_Bcast(&series_mismatches, 1, MPI_LONG_LONG, 0, runtime.comm);
  MPI_Bcast(&series_nodes, 1, MPI_LONG_LONG, 0, runtime.comm);
  if (runtime.rank == 0) {
    printf("restart %s (%d ranks) from step %lld, t = %.1f s: %lld of %lld node values differ; CG iterations",
           rc->scheme == PP_TIME_BDF2 ? "BDF2" : "backward Euler", runtime.size, step, time, mismatches, count);
    for (int k = 0; k < AFTER; ++k) printf(" %d/%d (written %d/%d)", after[k][0], after[k][1], saved_after[k][0],
                                           saved_after[k][1]);
    printf("; series step: %lld output nodes, %lld differ\n", series_nodes, series_mismatches);
  }
  ck_assert_int_eq(mismatches, 0);
  ck_assert_int_eq(memcmp(after, saved_after, sizeof after), 0);
  ck_assert_int_eq(series_nodes, p.view.global_node_count);
  ck_assert_int_gt(series_nodes, count); /* the periodic faces are written twice */
  ck_assert_int_eq(series_mismatches, 0);
  free(all);
  free(c);
  problem_free(&p);
}

START_TEST(test_restart)
{
  restart_case_run(&BE_CASE);
}
END_TEST

START_TEST(test_restart_bdf2)
{
  restart_case_run(&BDF2_CASE);
}
END_TEST

int main(int argc, char **argv)
{
  if (pp_runtime_start(&runtime, &argc, &argv) != PP_OK) {
    pp_error_print(stderr, "");
    return EXIT_FAILURE;
  }
  if (argc != 3 || (strcmp(argv[1], "write") != 0 && strcmp(argv[1], "restart") != 0)) {
    if (runtime.rank == 0) fprintf(stderr, "usage: test_diffusion_restart write|restart DIR\n");
    pp_runtime_stop(&runtime);
    return EXIT_FAILURE;
  }
  mode = argv[1];
  dir = argv[2];
  pp_clrt_options options;
  pp_clrt_options_default(&options);
  options.use_double = 1;
  if (pp_clrt_create(&clrt, runtime.comm, &options) != PP_OK) {
    pp_error_print(stderr, "");
    pp_runtime_stop(&runtime);
    return EXIT_FAILURE;
  }
  Suite *suite = suite_create("diffusion_restart");
  TCase *tc = tcase_create(mode);
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, strcmp(mode, "write") == 0 ? test_write : test_restart);
  tcase_add_test(tc, strcmp(mode, "write") == 0 ? test_write_bdf2 : test_restart_bdf2);
  suite_add_tcase(suite, tc);
  int status = pp_test_run_mpi_suite(suite, runtime.comm);
  pp_clrt_destroy(clrt);
  pp_runtime_stop(&runtime);
  return status;
}
