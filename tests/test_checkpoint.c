/* Checkpoints (host/checkpoint): written on one rank count, read back on others.
 *
 *   test_checkpoint write DIR    (2 ranks) writes steps 10, 20, 30 into DIR; only 20 and 30 stay
 *   test_checkpoint read DIR     (1 and 4 ranks) reads DIR's newest back and compares it bit for
 *                                bit with the analytic state of step 30
 *   test_checkpoint restart DIR  a bare restart that leaves through pp_runtime_fail on error, so
 *                                ctest can check a damaged checkpoint ends the job non-zero
 * Both Check modes also refuse a config-hash mismatch, a truncated file and a file with a
 * changed byte, in their own folder DIR_damaged_np<size>, on every rank.
 *
 * The grid is a 4x3x2-element hex block; ownership is round-robin over (i + 2j + k), so every
 * rank's ids are scattered, and each rank count partitions differently.
 * Rule (TOOLCHAIN.md §0.5): every collective first, then assertions on values that are the same
 * on every rank. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>

#include "mpi_suite.h"
#include "checkpoint.h"
#include "error.h"
#include "runtime.h"

enum { NX = 4, NY = 3, NZ = 2, NODES = (NX + 1) * (NY + 1) * (NZ + 1), CELLS = NX * NY * NZ };
static const char *const HASH = "a3f1c2d4e5b60718";

static pp_runtime runtime;
static const char *mode = "", *shared_dir = "";

typedef struct {
  pp_io_mesh view;
  long long node_ids[NODES], cell_ids[CELLS], cell_nodes[CELLS * 8];
  double coords[NODES * 3];
  int layer[CELLS];
  /* the state */
  double displacement[NODES * 3], pressure[NODES], stress[CELLS * 9], damage[CELLS];
  int eroded[CELLS];
  double dt, needle_depth;
  long long contact_count;
} state;

static long long node_id(int i, int j, int k) { return i + (NX + 1) * (j + (NY + 1) * (long long)k); }
static int owner(int i, int j, int k) { return (i + 2 * j + k) % runtime.size; }

static void build(state *s)
{
  memset(s, 0, sizeof *s);
  int n = 0, c = 0;
  for (int k = 0; k <= NZ; ++k)
    for (int j = 0; j <= NY; ++j)
      for (int i = 0; i <= NX; ++i)
        if (owner(i, j, k) == runtime.rank) {
          s->node_ids[n] = node_id(i, j, k);
          s->coords[3 * n] = i * 1e-4, s->coords[3 * n + 1] = j * 1e-4, s->coords[3 * n + 2] = -k * 1e-4;
          ++n;
        }
  for (int k = 0; k < NZ; ++k)
    for (int j = 0; j < NY; ++j)
      for (int i = 0; i < NX; ++i)
        if (owner(i, j, k) == runtime.rank) {
          s->cell_ids[c] = i + NX * (j + NY * (long long)k);
          long long *v = &s->cell_nodes[8 * c];
          v[0] = node_id(i, j, k + 1), v[1] = node_id(i + 1, j, k + 1), v[2] = node_id(i + 1, j + 1, k + 1);
          v[3] = node_id(i, j + 1, k + 1), v[4] = node_id(i, j, k), v[5] = node_id(i + 1, j, k);
          v[6] = node_id(i + 1, j + 1, k), v[7] = node_id(i, j + 1, k);
          s->layer[c] = k;
          ++c;
        }
  s->view = (pp_io_mesh){NODES, CELLS, n, s->node_ids, s->coords, c, s->cell_ids, s->cell_nodes, s->layer};
}

/* The analytic state at a step: bits that do not depend on where a value lives. */
static double u_of(long long id, int c, long long step) { return sin(0.1 * (double)id + c) * 1e-6 * (double)step; }
static double p_of(long long id, long long step) { return exp(-0.01 * (double)id) * (double)step; }
static double s_of(long long id, int c, long long step) { return cos((double)id * (c + 1)) * 1e5 + (double)step; }
static double d_of(long long id, long long step) { return fmod(0.37 * (double)(id * step), 1.0); }
static int e_of(long long id, long long step) { return (int)((id * 7 + step) % 2); }

static void fill(state *s, long long step)
{
  for (int i = 0; i < s->view.owned_node_count; ++i) {
    for (int c = 0; c < 3; ++c) s->displacement[3 * i + c] = u_of(s->node_ids[i], c, step);
    s->pressure[i] = p_of(s->node_ids[i], step);
  }
  for (int i = 0; i < s->view.owned_cell_count; ++i) {
    for (int c = 0; c < 9; ++c) s->stress[9 * i + c] = s_of(s->cell_ids[i], c, step);
    s->damage[i] = d_of(s->cell_ids[i], step);
    s->eroded[i] = e_of(s->cell_ids[i], step);
  }
  s->dt = 1.0 / 3.0 * 1e-7 * (double)step;
  s->needle_depth = 1e-5 * sqrt((double)step);
  s->contact_count = 1000 + step;
}

/* Number of values that differ from the analytic state of step (0 = bit-identical). */
static int mismatches(const state *s, long long step)
{
  int bad = 0;
  for (int i = 0; i < s->view.owned_node_count; ++i) {
    for (int c = 0; c < 3; ++c) bad += s->displacement[3 * i + c] != u_of(s->node_ids[i], c, step);
    bad += s->pressure[i] != p_of(s->node_ids[i], step);
  }
  for (int i = 0; i < s->view.owned_cell_count; ++i) {
    for (int c = 0; c < 9; ++c) bad += s->stress[9 * i + c] != s_of(s->cell_ids[i], c, step);
    bad += s->damage[i] != d_of(s->cell_ids[i], step);
    bad += s->eroded[i] != e_of(s->cell_ids[i], step);
  }
  bad += s->dt != 1.0 / 3.0 * 1e-7 * (double)step;
  bad += s->needle_depth != 1e-5 * sqrt((double)step);
  bad += s->contact_count != 1000 + step;
  return bad;
}

static pp_err open_checkpoint(pp_checkpoint **cp, state *s, const char *dir)
{
  PP_CALL(pp_checkpoint_create(cp, &runtime, dir, &s->view));
  PP_CALL(pp_checkpoint_register_node_field(*cp, "displacement", "m", 3, s->displacement));
  PP_CALL(pp_checkpoint_register_node_field(*cp, "pressure", "Pa", 1, s->pressure));
  PP_CALL(pp_checkpoint_register_cell_field(*cp, "stress", "Pa", 9, s->stress));
  PP_CALL(pp_checkpoint_register_cell_field(*cp, "damage", "1", 1, s->damage));
  PP_CALL(pp_checkpoint_register_cell_field_int(*cp, "eroded", "1", s->eroded));
  PP_CALL(pp_checkpoint_register_scalar_double(*cp, "dt", &s->dt));
  PP_CALL(pp_checkpoint_register_scalar_double(*cp, "needle_depth", &s->needle_depth));
  PP_CALL(pp_checkpoint_register_scalar_int64(*cp, "contact_count", &s->contact_count));
  return PP_OK;
}

static int every_rank(int condition)
{
  int all = 0;
  MPI_Allreduce(&condition, &all, 1, MPI_INT, MPI_MIN, runtime.comm);
  return all;
}

static int sum_over_ranks(int value)
{
  int sum = 0;
  MPI_Allreduce(&value, &sum, 1, MPI_INT, MPI_SUM, runtime.comm);
  return sum;
}

static void remove_folder(const char *dir)
{
  char command[600];
  snprintf(command, sizeof command, "rm -rf '%s'", dir);
  if (runtime.rank == 0 && system(command) != 0) fprintf(stderr, "could not remove %s\n", dir);
  MPI_Barrier(runtime.comm);
}

/* write mode: steps 10, 20, 30; the last two are kept with their indexes. */
START_TEST(test_write_keeps_last_two)
{
  pp_error_clear();
  remove_folder(shared_dir);
  static state s;
  build(&s);
  pp_checkpoint *cp = NULL;
  pp_err code = open_checkpoint(&cp, &s, shared_dir);
  for (long long step = 10; code == PP_OK && step <= 30; step += 10) {
    fill(&s, step);
    code = pp_checkpoint_write(cp, step, 1e-6 * (double)step, HASH);
  }
  pp_checkpoint_free(&cp);
  char listing[1024] = "";
  if (runtime.rank == 0) {
    const char *names[] = {"ckpt_000000010.h5", "ckpt_000000010.xdmf", "ckpt_000000020.h5", "ckpt_000000020.xdmf",
                           "ckpt_000000030.h5", "ckpt_000000030.xdmf", "ckpt_000000030.h5.tmp"};
    for (int i = 0; i < 7; ++i) {
      char path[512];
      snprintf(path, sizeof path, "%s/checkpoint/%s", shared_dir, names[i]);
      if (access(path, F_OK) == 0) strcat(listing, names[i]), strcat(listing, " ");
    }
  }
  MPI_Bcast(listing, sizeof listing, MPI_CHAR, 0, runtime.comm);
  ck_assert_msg(code == PP_OK, "%s", pp_error_message());
  ck_assert_str_eq(listing, "ckpt_000000020.h5 ckpt_000000020.xdmf ckpt_000000030.h5 ckpt_000000030.xdmf ");
}
END_TEST

/* Same rank count round trip (write mode) or another rank count (read mode): bit-identical. */
START_TEST(test_read_back_identical)
{
  pp_error_clear();
  static state s;
  build(&s);
  fill(&s, 0); /* anything but the checkpointed state */
  pp_checkpoint *cp = NULL;
  long long step = -1;
  double time = -1;
  pp_err code = open_checkpoint(&cp, &s, shared_dir);
  if (code == PP_OK) code = pp_checkpoint_read_latest(cp, HASH, 0, &step, &time);
  pp_checkpoint_free(&cp);
  int bad = sum_over_ranks(code == PP_OK ? mismatches(&s, 30) : -1);
  ck_assert_msg(code == PP_OK, "%s", pp_error_message());
  ck_assert_int_eq(step, 30);
  ck_assert_double_eq(time, 1e-6 * 30.0);
  ck_assert_int_eq(bad, 0);
}
END_TEST

/* A different config hash is refused on every rank, naming both hashes; force overrides. */
START_TEST(test_config_hash_mismatch)
{
  pp_error_clear();
  static state s;
  build(&s);
  fill(&s, 0);
  pp_checkpoint *cp = NULL;
  pp_err code = open_checkpoint(&cp, &s, shared_dir);
  pp_err refused = code == PP_OK ? pp_checkpoint_read_latest(cp, "ffff000011112222", 0, NULL, NULL) : code;
  int names_both = strstr(pp_error_message(), "ffff000011112222") && strstr(pp_error_message(), HASH);
  int untouched = sum_over_ranks(mismatches(&s, 0));
  pp_err forced = code == PP_OK ? pp_checkpoint_read_latest(cp, "ffff000011112222", 1, NULL, NULL) : code;
  int loaded = sum_over_ranks(mismatches(&s, 30));
  pp_checkpoint_free(&cp);
  ck_assert_int_eq(code, PP_OK);
  ck_assert_int_eq(every_rank(refused != PP_OK), 1);
  ck_assert_int_eq(every_rank(names_both), 1);
  ck_assert_int_eq(untouched, 0); /* a refused read leaves the state as it was */
  ck_assert_int_eq(every_rank(forced == PP_OK), 1);
  ck_assert_int_eq(loaded, 0);
}
END_TEST

/* Writes two checkpoints into this rank count's own folder; returns the newest's path. */
static pp_err write_two(const char *dir, char *newest, size_t size)
{
  static state s;
  build(&s);
  pp_checkpoint *cp = NULL;
  pp_err code = open_checkpoint(&cp, &s, dir);
  for (long long step = 1; code == PP_OK && step <= 2; ++step) {
    fill(&s, step);
    code = pp_checkpoint_write(cp, step, (double)step, HASH);
  }
  if (code == PP_OK) code = pp_checkpoint_latest_path(cp, newest, size);
  pp_checkpoint_free(&cp);
  return code;
}

static pp_err try_read(const char *dir)
{
  static state s;
  build(&s);
  pp_checkpoint *cp = NULL;
  pp_err code = open_checkpoint(&cp, &s, dir);
  if (code == PP_OK) code = pp_checkpoint_read_latest(cp, HASH, 0, NULL, NULL);
  pp_checkpoint_free(&cp);
  return code;
}

/* A truncated file (a job killed while copying, a full disk) is refused on every rank with a
 * message that names it, and says that the previous one is still there. */
START_TEST(test_truncated_refused)
{
  pp_error_clear();
  char dir[512], newest[4096] = "";
  snprintf(dir, sizeof dir, "%s_damaged_np%d", shared_dir, runtime.size);
  remove_folder(dir);
  pp_err code = write_two(dir, newest, sizeof newest);
  if (runtime.rank == 0 && code == PP_OK) {
    struct stat info;
    if (stat(newest, &info) != 0 || truncate(newest, info.st_size / 2) != 0) code = PP_ERR_IO;
  }
  MPI_Bcast(&code, 1, MPI_INT, 0, runtime.comm);
  double start = MPI_Wtime();
  pp_err refused = try_read(dir);
  double seconds = MPI_Wtime() - start;
  const char *message = pp_error_message();
  int clear = strstr(message, "damaged or truncated") && strstr(message, "ckpt_000000002.h5") &&
              strstr(message, "truncated file") && strstr(message, "previous checkpoint");
  int all_clear = every_rank(clear);
  if (runtime.rank == 0 && !all_clear) fprintf(stderr, "message: %s\n", message);
  ck_assert_int_eq(code, PP_OK);
  ck_assert_int_eq(every_rank(refused != PP_OK), 1);
  ck_assert_int_eq(all_clear, 1);
  ck_assert_int_eq(every_rank(seconds < 10), 1);
}
END_TEST

/* A changed byte inside a field's data (the file still opens) is caught by the checksum. */
START_TEST(test_changed_byte_refused)
{
  pp_error_clear();
  char dir[512], newest[4096] = "";
  snprintf(dir, sizeof dir, "%s_flipped_np%d", shared_dir, runtime.size);
  remove_folder(dir);
  pp_err code = write_two(dir, newest, sizeof newest);
  if (runtime.rank == 0 && code == PP_OK) {
    hid_t file = H5Fopen(newest, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t dataset = H5Dopen2(file, "/fields/stress", H5P_DEFAULT);
    haddr_t offset = H5Dget_offset(dataset);
    H5Dclose(dataset);
    H5Fclose(file);
    FILE *f = fopen(newest, "r+b");
    unsigned char byte = 0;
    if (!f || offset == HADDR_UNDEF || fseek(f, (long)offset + 8 * 37 + 3, SEEK_SET) != 0 || fread(&byte, 1, 1, f) != 1)
      code = PP_ERR_IO;
    byte ^= 0x10;
    if (code == PP_OK && (fseek(f, (long)offset + 8 * 37 + 3, SEEK_SET) != 0 || fwrite(&byte, 1, 1, f) != 1))
      code = PP_ERR_IO;
    if (f) fclose(f);
  }
  MPI_Bcast(&code, 1, MPI_INT, 0, runtime.comm);
  pp_err refused = try_read(dir);
  int clear = strstr(pp_error_message(), "does not match its checksum") && strstr(pp_error_message(), "stress");
  ck_assert_int_eq(code, PP_OK);
  ck_assert_int_eq(every_rank(refused != PP_OK), 1);
  ck_assert_int_eq(every_rank(clear), 1);
}
END_TEST

START_TEST(test_nothing_to_restart_from)
{
  pp_error_clear();
  char dir[512];
  snprintf(dir, sizeof dir, "%s_empty_np%d", shared_dir, runtime.size);
  remove_folder(dir);
  pp_err refused = try_read(dir);
  int clear = strstr(pp_error_message(), "no checkpoint to restart from") != NULL;
  ck_assert_int_eq(every_rank(refused != PP_OK), 1);
  ck_assert_int_eq(every_rank(clear), 1);
}
END_TEST

/* restart mode: what main will do — read, and leave through pp_runtime_fail on error. */
static int restart_mode(void)
{
  static state s;
  build(&s);
  pp_checkpoint *cp = NULL;
  pp_err code = open_checkpoint(&cp, &s, shared_dir);
  if (code == PP_OK) code = pp_checkpoint_read_latest(cp, HASH, 0, NULL, NULL);
  pp_checkpoint_free(&cp);
  if (code != PP_OK) pp_runtime_fail(&runtime, 3);
  if (runtime.rank == 0) printf("restart succeeded\n");
  pp_runtime_stop(&runtime);
  return EXIT_SUCCESS;
}

int main(int argc, char **argv)
{
  if (pp_runtime_start(&runtime, &argc, &argv) != PP_OK) {
    pp_error_print(stderr, "");
    return EXIT_FAILURE;
  }
  if (argc != 3 || (strcmp(argv[1], "write") != 0 && strcmp(argv[1], "read") != 0 && strcmp(argv[1], "restart") != 0)) {
    if (runtime.rank == 0) fprintf(stderr, "usage: test_checkpoint write|read|restart DIR\n");
    pp_runtime_stop(&runtime);
    return EXIT_FAILURE;
  }
  mode = argv[1];
  shared_dir = argv[2];
  if (strcmp(mode, "restart") == 0) return restart_mode();
  Suite *suite = suite_create("checkpoint");
  TCase *tc = tcase_create(mode);
  tcase_set_timeout(tc, 60);
  if (strcmp(mode, "write") == 0) tcase_add_test(tc, test_write_keeps_last_two);
  tcase_add_test(tc, test_read_back_identical);
  tcase_add_test(tc, test_config_hash_mismatch);
  tcase_add_test(tc, test_truncated_refused);
  tcase_add_test(tc, test_changed_byte_refused);
  tcase_add_test(tc, test_nothing_to_restart_from);
  suite_add_tcase(suite, tc);
  int status = pp_test_run_mpi_suite(suite, runtime.comm);
  pp_runtime_stop(&runtime);
  return status;
}
