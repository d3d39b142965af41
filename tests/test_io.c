/* Output series (host/io) on 1, 2 and 4 ranks, and the output schedule.
 *
 * A 5x4x3-element structured hex grid is built here, global ids lexicographic (x fastest), and
 * split so that no rank owns a contiguous id range (owner of column (i, j) = (i/2 + j) mod size,
 * runs of at most two ids). A series of three steps is written with fields that are analytic
 * functions of the global id and the time, then read back with plain serial HDF5 on rank 0 and
 * compared exactly. The folder io_np<size> (in the working directory, the build tree under
 * ctest) is compared across rank counts by the io_h5diff test.
 *
 * Rule (TOOLCHAIN.md §0.5): every collective first, then assertions on values that are the same
 * on every rank. Rank 0's findings are broadcast as a text before anyone asserts. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>

#include "mpi_suite.h"
#include "error.h"
#include "io.h"
#include "runtime.h"

enum { NX = 5, NY = 4, NZ = 3, NODES = (NX + 1) * (NY + 1) * (NZ + 1), CELLS = NX * NY * NZ };

static pp_runtime runtime;
static char out_dir[256];

typedef struct {
  pp_io_mesh view;
  long long *node_ids, *cell_ids, *cell_nodes;
  double *coords;
  int *layer, *cell_owner;
} test_grid;

static long long node_id(int i, int j, int k) { return i + (NX + 1) * (j + (NY + 1) * (long long)k); }

/* ranks: how many ranks own something (the others own nothing). */
static int owner_of(int i, int j, int ranks) { return (i / 2 + j) % ranks; }

static void grid_build(test_grid *g, int ranks)
{
  memset(g, 0, sizeof *g);
  g->node_ids = malloc(sizeof *g->node_ids * NODES);
  g->coords = malloc(sizeof *g->coords * NODES * 3);
  g->cell_ids = malloc(sizeof *g->cell_ids * CELLS);
  g->cell_nodes = malloc(sizeof *g->cell_nodes * CELLS * 8);
  g->layer = malloc(sizeof *g->layer * CELLS);
  g->cell_owner = malloc(sizeof *g->cell_owner * CELLS);
  int n = 0, c = 0;
  for (int k = 0; k <= NZ; ++k)
    for (int j = 0; j <= NY; ++j)
      for (int i = 0; i <= NX; ++i) {
        if (owner_of(i, j, ranks) != runtime.rank) continue;
        g->node_ids[n] = node_id(i, j, k);
        g->coords[3 * n] = i * 1e-4;
        g->coords[3 * n + 1] = j * 2e-4;
        g->coords[3 * n + 2] = -k * 5e-5;
        ++n;
      }
  for (int k = 0; k < NZ; ++k)
    for (int j = 0; j < NY; ++j)
      for (int i = 0; i < NX; ++i) {
        long long id = i + NX * (j + NY * (long long)k);
        g->cell_owner[id] = owner_of(i, j, ranks);
        if (owner_of(i, j, ranks) != runtime.rank) continue;
        g->cell_ids[c] = id;
        long long *v = &g->cell_nodes[8 * c];
        v[0] = node_id(i, j, k + 1), v[1] = node_id(i + 1, j, k + 1), v[2] = node_id(i + 1, j + 1, k + 1);
        v[3] = node_id(i, j + 1, k + 1);
        v[4] = node_id(i, j, k), v[5] = node_id(i + 1, j, k), v[6] = node_id(i + 1, j + 1, k);
        v[7] = node_id(i, j + 1, k);
        g->layer[c] = k;
        ++c;
      }
  g->view = (pp_io_mesh){NODES, CELLS, n, g->node_ids, g->coords, c, g->cell_ids, g->cell_nodes, g->layer};
}

static void grid_free(test_grid *g)
{
  free(g->node_ids), free(g->coords), free(g->cell_ids), free(g->cell_nodes), free(g->layer), free(g->cell_owner);
}

/* The analytic fields. */
static double displacement(long long id, int c, double t) { return (double)id * 1e-6 * (c + 1) + t * (c - 1); }
static double temperature(long long id, double t) { return 310.0 + 0.5 * (double)id + 1e3 * t; }
static double damage(long long id, double t) { return (double)id / CELLS * (t > 0 ? 1.0 : 0.0) + t; }
static double stress(long long id, int c, double t) { return 1e3 * (double)id + c + t * 1e6; }
static int eroded(long long id, int step) { return (int)((id + step) % 2); }

static const double times[3] = {0.0, 2.5e-5, 1.0e-4};

static pp_err write_step(pp_io_series *series, const test_grid *g, int step, double t)
{
  int n = g->view.owned_node_count, c = g->view.owned_cell_count;
  double *u = malloc(sizeof *u * (size_t)(3 * n + 1)), *temp = malloc(sizeof *temp * (size_t)(n + 1));
  double *d = malloc(sizeof *d * (size_t)(c + 1)), *s = malloc(sizeof *s * (size_t)(9 * c + 1));
  int *e = malloc(sizeof *e * (size_t)(c + 1));
  for (int i = 0; i < n; ++i) {
    for (int k = 0; k < 3; ++k) u[3 * i + k] = displacement(g->node_ids[i], k, t);
    temp[i] = temperature(g->node_ids[i], t);
  }
  for (int i = 0; i < c; ++i) {
    d[i] = damage(g->cell_ids[i], t);
    e[i] = eroded(g->cell_ids[i], step);
    for (int k = 0; k < 9; ++k) s[9 * i + k] = stress(g->cell_ids[i], k, t);
  }
  pp_err code = pp_io_step_begin(series, t);
  if (code == PP_OK) code = pp_io_write_node_field(series, "displacement", "m", 3, u);
  if (code == PP_OK) code = pp_io_write_node_field(series, "temperature", "K", 1, temp);
  if (code == PP_OK) code = pp_io_write_cell_field(series, "damage", "1", 1, d);
  if (code == PP_OK) code = pp_io_write_cell_field_int(series, "eroded", "1", e);
  if (code == PP_OK) code = pp_io_write_cell_field(series, "stress", "Pa", 9, s);
  if (code == PP_OK) code = pp_io_step_end(series);
  free(u), free(temp), free(d), free(s), free(e);
  return code;
}

/* ---- rank-0 checks with plain serial HDF5; findings collected as text ---- */

static char findings[4096];
#define FINDING(...)                                                                                   \
  do {                                                                                                 \
    size_t used_ = strlen(findings);                                                                   \
    if (used_ + 200 < sizeof findings) snprintf(findings + used_, sizeof findings - used_, __VA_ARGS__); \
  } while (0)

static int read_all(hid_t file, const char *path, hid_t type, void *buffer)
{
  hid_t d = H5Dopen2(file, path, H5P_DEFAULT);
  if (d < 0) {
    FINDING("missing %s; ", path);
    return 0;
  }
  int ok = H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer) >= 0;
  H5Dclose(d);
  if (!ok) FINDING("cannot read %s; ", path);
  return ok;
}

static void expect_string_attr(hid_t location, const char *object, const char *name, const char *want)
{
  char got[256] = "";
  hid_t a = H5Aopen_by_name(location, object, name, H5P_DEFAULT, H5P_DEFAULT);
  if (a < 0) {
    FINDING("attribute %s of %s missing; ", name, object);
    return;
  }
  hid_t t = H5Aget_type(a);
  size_t size = H5Tget_size(t);
  if (H5Tget_strpad(t) != H5T_STR_NULLPAD) FINDING("attribute %s of %s is not NULLPAD; ", name, object);
  if (size < sizeof got) H5Aread(a, t, got);
  H5Tclose(t);
  H5Aclose(a);
  if (strcmp(got, want) != 0) FINDING("attribute %s of %s is '%s', expected '%s'; ", name, object, got, want);
}

static double read_double_attr(hid_t location, const char *name)
{
  double value = NAN;
  hid_t a = H5Aopen(location, name, H5P_DEFAULT);
  if (a >= 0) H5Aread(a, H5T_NATIVE_DOUBLE, &value), H5Aclose(a);
  return value;
}

static long long read_int_attr(hid_t location, const char *name)
{
  long long value = -999;
  hid_t a = H5Aopen(location, name, H5P_DEFAULT);
  if (a >= 0) H5Aread(a, H5T_NATIVE_LLONG, &value), H5Aclose(a);
  return value;
}

static void check_mesh_file(const char *path, int ranks)
{
  hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file < 0) {
    FINDING("cannot open %s; ", path);
    return;
  }
  expect_string_attr(file, ".", "format", PP_IO_FORMAT);
  if (read_int_attr(file, "format_version") != PP_IO_FORMAT_VERSION) FINDING("format_version wrong; ");
  if (read_int_attr(file, "n_nodes") != NODES || read_int_attr(file, "n_cells") != CELLS) FINDING("counts wrong; ");
  expect_string_attr(file, "mesh/points", "units", "m");
  expect_string_attr(file, "mesh/points", "center", "node");
  static double points[NODES][3];
  static long long hexes[CELLS][8];
  static int layer[CELLS], rank[CELLS];
  if (read_all(file, "/mesh/points", H5T_NATIVE_DOUBLE, points))
    for (int k = 0; k <= NZ; ++k)
      for (int j = 0; j <= NY; ++j)
        for (int i = 0; i <= NX; ++i) {
          long long id = node_id(i, j, k);
          if (points[id][0] != i * 1e-4 || points[id][1] != j * 2e-4 || points[id][2] != -k * 5e-5)
            FINDING("point %lld wrong; ", id);
        }
  if (read_all(file, "/mesh/hexes", H5T_NATIVE_LLONG, hexes) && read_all(file, "/mesh/layer", H5T_NATIVE_INT, layer) &&
      read_all(file, "/mesh/rank", H5T_NATIVE_INT, rank))
    for (int k = 0; k < NZ; ++k)
      for (int j = 0; j < NY; ++j)
        for (int i = 0; i < NX; ++i) {
          long long id = i + NX * (j + NY * k);
          if (hexes[id][0] != node_id(i, j, k + 1) || hexes[id][6] != node_id(i + 1, j + 1, k))
            FINDING("hex %lld wrong; ", id);
          if (layer[id] != k) FINDING("layer of %lld wrong; ", id);
          if (rank[id] != owner_of(i, j, ranks)) FINDING("rank of %lld is %d; ", id, rank[id]);
        }
  H5Fclose(file);
}

static void check_step_file(const char *path, int step, double t)
{
  hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file < 0) {
    FINDING("cannot open %s; ", path);
    return;
  }
  if (read_double_attr(file, "time") != t) FINDING("%s: time attribute wrong; ", path);
  if (read_int_attr(file, "step") != step) FINDING("%s: step attribute wrong; ", path);
  expect_string_attr(file, ".", "time_unit", "s");
  expect_string_attr(file, ".", "format", PP_IO_FORMAT);
  expect_string_attr(file, "fields/displacement", "units", "m");
  expect_string_attr(file, "fields/displacement", "center", "node");
  expect_string_attr(file, "fields/eroded", "center", "cell");
  expect_string_attr(file, "fields/stress", "units", "Pa");
  static double u[NODES][3], temp[NODES], d[CELLS], s[CELLS][9];
  static int e[CELLS];
  if (read_all(file, "/fields/displacement", H5T_NATIVE_DOUBLE, u) &&
      read_all(file, "/fields/temperature", H5T_NATIVE_DOUBLE, temp))
    for (long long id = 0; id < NODES; ++id) {
      for (int c = 0; c < 3; ++c)
        if (u[id][c] != displacement(id, c, t)) FINDING("%s: displacement[%lld][%d] wrong; ", path, id, c);
      if (temp[id] != temperature(id, t)) FINDING("%s: temperature[%lld] wrong; ", path, id);
    }
  if (read_all(file, "/fields/damage", H5T_NATIVE_DOUBLE, d) && read_all(file, "/fields/eroded", H5T_NATIVE_INT, e) &&
      read_all(file, "/fields/stress", H5T_NATIVE_DOUBLE, s))
    for (long long id = 0; id < CELLS; ++id) {
      if (d[id] != damage(id, t)) FINDING("%s: damage[%lld] wrong; ", path, id);
      if (e[id] != eroded(id, step)) FINDING("%s: eroded[%lld] wrong; ", path, id);
      for (int c = 0; c < 9; ++c)
        if (s[id][c] != stress(id, c, t)) FINDING("%s: stress[%lld][%d] wrong; ", path, id, c);
    }
  H5Fclose(file);
}

static char *read_text(const char *path)
{
  FILE *f = fopen(path, "r");
  if (!f) return NULL;
  char *text = calloc(1, 1 << 20);
  size_t n = fread(text, 1, (1 << 20) - 1, f);
  text[n] = '\0';
  fclose(f);
  return text;
}

static int count_occurrences(const char *text, const char *what)
{
  int n = 0;
  for (const char *p = text; (p = strstr(p, what)); p += strlen(what)) ++n;
  return n;
}

/* The index lists exactly the given steps with their times, relative paths, no HyperSlab. */
static void check_index(const char *path, const char *series, int step_count, const int *steps, const double *t)
{
  char *text = read_text(path);
  if (!text) {
    FINDING("cannot read %s; ", path);
    return;
  }
  if (count_occurrences(text, "GridType=\"Uniform\"") != step_count)
    FINDING("%s lists %d grids, expected %d; ", path, count_occurrences(text, "GridType=\"Uniform\""), step_count);
  if (strstr(text, "HyperSlab") || strstr(text, "Tensor6")) FINDING("%s uses HyperSlab or Tensor6; ", path);
  if (!strstr(text, "CollectionType=\"Temporal\"")) FINDING("%s is not a temporal collection; ", path);
  if (strstr(text, ">/")) FINDING("%s has an absolute path; ", path);
  for (int i = 0; i < step_count; ++i) {
    char want[256];
    snprintf(want, sizeof want, "<Grid Name=\"step_%06d\" GridType=\"Uniform\">\n    <Time Value=\"%.17g\"/>", steps[i],
             t[i]);
    if (!strstr(text, want)) FINDING("%s lacks '%s'; ", path, want);
    snprintf(want, sizeof want, ">%s/step_%06d.h5:/fields/displacement</DataItem>", series, steps[i]);
    if (!strstr(text, want)) FINDING("%s lacks '%s'; ", path, want);
  }
  char want[256];
  snprintf(want, sizeof want, "Dimensions=\"%d 9\" NumberType=\"Float\" Precision=\"8\" Format=\"HDF\">%s/step_", CELLS,
           series);
  if (step_count && !strstr(text, want)) FINDING("%s: tensor DataItem wrong; ", path);
  if (step_count && !strstr(text, "AttributeType=\"Tensor\" Center=\"Cell\"")) FINDING("%s: no Tensor; ", path);
  if (step_count && !strstr(text, "Name=\"eroded\" AttributeType=\"Scalar\" Center=\"Cell\""))
    FINDING("%s: no eroded; ", path);
  free(text);
}

/* Rank 0 ran checks into findings: every rank gets the text, so all assert the same thing. */
static void share_findings(void)
{
  MPI_Bcast(findings, sizeof findings, MPI_CHAR, 0, runtime.comm);
}

static int every_rank(int condition)
{
  int all = 0;
  MPI_Allreduce(&condition, &all, 1, MPI_INT, MPI_MIN, runtime.comm);
  return all;
}

static int file_exists(const char *path) { return access(path, F_OK) == 0; }

START_TEST(test_series_written_and_read_back)
{
  pp_error_clear();
  findings[0] = '\0';
  test_grid g;
  grid_build(&g, runtime.size);
  pp_io_series *series = NULL;
  pp_err code = pp_io_series_open(&series, &runtime, out_dir, "mech", "s", &g.view);
  for (int s = 0; code == PP_OK && s < 3; ++s) code = write_step(series, &g, s, times[s]);
  /* A fourth step that never ends: not in the index, no final name, removed on close. */
  char path[512];
  int tmp_seen = 0, final_seen = 1, listed = -1;
  if (code == PP_OK) code = pp_io_step_begin(series, 2e-4);
  if (code == PP_OK) {
    snprintf(path, sizeof path, "%s/mech/step_000003.h5.tmp", out_dir);
    tmp_seen = file_exists(path);
    snprintf(path, sizeof path, "%s/mech/step_000003.h5", out_dir);
    final_seen = file_exists(path);
    listed = (int)pp_io_series_completed_steps(series);
  }
  pp_err close_code = pp_io_series_close(&series);
  MPI_Barrier(runtime.comm);
  snprintf(path, sizeof path, "%s/mech/step_000003.h5.tmp", out_dir);
  int tmp_after_close = file_exists(path);
  if (runtime.rank == 0 && code == PP_OK) {
    char file[512];
    snprintf(file, sizeof file, "%s/mech/mesh.h5", out_dir);
    check_mesh_file(file, runtime.size);
    for (int s = 0; s < 3; ++s) {
      snprintf(file, sizeof file, "%s/mech/step_%06d.h5", out_dir, s);
      check_step_file(file, s, times[s]);
    }
    snprintf(file, sizeof file, "%s/mech.xdmf", out_dir);
    check_index(file, "mech", 3, (const int[]){0, 1, 2}, times);
  }
  share_findings();
  grid_free(&g);
  ck_assert_msg(code == PP_OK, "%s", pp_error_message());
  ck_assert_int_eq(close_code, PP_OK);
  ck_assert_msg(findings[0] == '\0', "rank 0 found: %s", findings);
  ck_assert_int_eq(tmp_seen, 1);
  ck_assert_int_eq(final_seen, 0);
  ck_assert_int_eq(listed, 3);
  ck_assert_int_eq(tmp_after_close, 0);
}
END_TEST

/* Ranks that own nothing still take part (empty selections); values still right. */
START_TEST(test_rank_owning_nothing)
{
  pp_error_clear();
  findings[0] = '\0';
  test_grid g;
  int owners = runtime.size > 1 ? runtime.size - 1 : 1;
  grid_build(&g, owners);
  pp_io_series *series = NULL;
  pp_err code = pp_io_series_open(&series, &runtime, out_dir, "empty_rank", "s", &g.view);
  if (code == PP_OK) code = write_step(series, &g, 0, times[1]);
  pp_io_series_close(&series);
  if (runtime.rank == 0 && code == PP_OK) {
    char file[512];
    snprintf(file, sizeof file, "%s/empty_rank/mesh.h5", out_dir);
    check_mesh_file(file, owners);
    snprintf(file, sizeof file, "%s/empty_rank/step_000000.h5", out_dir);
    check_step_file(file, 0, times[1]);
  }
  share_findings();
  grid_free(&g);
  ck_assert_msg(code == PP_OK, "%s", pp_error_message());
  ck_assert_msg(findings[0] == '\0', "rank 0 found: %s", findings);
}
END_TEST

/* Refused on every rank: 6 components, a time that goes backwards, a changed field set. */
START_TEST(test_refusals)
{
  pp_error_clear();
  test_grid g;
  grid_build(&g, runtime.size);
  double *values = calloc((size_t)g.view.owned_node_count * 9 + 1, sizeof *values);
  pp_io_series *series = NULL;
  pp_err open_code = pp_io_series_open(&series, &runtime, out_dir, "refusals", "s", &g.view);
  pp_err six = PP_OK, backwards = PP_OK, changed = PP_OK, bad_name = PP_OK;
  char six_message[512] = "", changed_message[512] = "";
  if (open_code == PP_OK) {
    pp_io_step_begin(series, 1.0);
    six = pp_io_write_node_field(series, "stress6", "Pa", 6, values);
    snprintf(six_message, sizeof six_message, "%s", pp_error_message());
    bad_name = pp_io_write_node_field(series, "a b", "Pa", 1, values);
    pp_io_write_node_field(series, "p", "Pa", 1, values);
    pp_io_step_end(series);
    backwards = pp_io_step_begin(series, 0.5);
    pp_io_step_begin(series, 2.0);
    pp_io_write_node_field(series, "q", "Pa", 1, values);
    changed = pp_io_step_end(series);
    snprintf(changed_message, sizeof changed_message, "%s", pp_error_message());
  }
  long long completed = series ? pp_io_series_completed_steps(series) : -1;
  pp_io_series_close(&series);
  free(values);
  grid_free(&g);
  ck_assert_int_eq(open_code, PP_OK);
  ck_assert_int_eq(every_rank(six != PP_OK), 1);
  ck_assert_int_eq(every_rank(bad_name != PP_OK), 1);
  ck_assert_int_eq(every_rank(backwards != PP_OK), 1);
  ck_assert_int_eq(every_rank(changed != PP_OK), 1);
  ck_assert_int_eq(completed, 1);
  ck_assert_ptr_nonnull(strstr(six_message, "6 components"));
  ck_assert_ptr_nonnull(strstr(changed_message, "different set of fields"));
}
END_TEST

/* ANCHORS.md §5 rule 7: after a restart at t, later steps go, the index is rebuilt from the
 * remaining files, numbering continues, leftovers from a killed step are removed. */
START_TEST(test_restart_truncation)
{
  pp_error_clear();
  findings[0] = '\0';
  test_grid g;
  grid_build(&g, runtime.size);
  pp_io_series *series = NULL;
  const double days[3] = {0.0, 1.0, 2.0};
  pp_err code = pp_io_series_open(&series, &runtime, out_dir, "healing", "d", &g.view);
  for (int s = 0; code == PP_OK && s < 3; ++s) code = write_step(series, &g, s, days[s]);
  pp_io_series_close(&series);
  char path[512];
  if (runtime.rank == 0) {
    /* What a run killed while writing step 7 would leave. */
    snprintf(path, sizeof path, "%s/healing/step_000007.h5.tmp", out_dir);
    FILE *f = fopen(path, "w");
    if (f) fputs("partial", f), fclose(f);
  }
  MPI_Barrier(runtime.comm);
  /* Restart on a different partition: every rank count reads the same files. */
  test_grid g2;
  grid_build(&g2, runtime.size > 1 ? runtime.size - 1 : 1);
  long long kept = -1;
  if (code == PP_OK) code = pp_io_series_reopen(&series, &runtime, out_dir, "healing", "d", &g2.view, 1.0);
  if (code == PP_OK) kept = pp_io_series_completed_steps(series);
  if (code == PP_OK) code = write_step(series, &g2, 2, 1.5);
  pp_io_series_close(&series);
  /* Reopening a series that does not exist starts it. */
  pp_err fresh = pp_io_series_reopen(&series, &runtime, out_dir, "never_written", "d", &g.view, 3.0);
  long long fresh_steps = series ? pp_io_series_completed_steps(series) : -1;
  pp_io_series_close(&series);
  if (runtime.rank == 0 && code == PP_OK) {
    char file[512];
    snprintf(file, sizeof file, "%s/healing.xdmf", out_dir);
    char *text = read_text(file);
    if (!text || !strstr(text, "<Grid Name=\"step_000002\" GridType=\"Uniform\">\n    <Time Value=\"1.5\"/>") ||
        strstr(text, "Value=\"2\"") || count_occurrences(text, "GridType=\"Uniform\"") != 3 ||
        !strstr(text, "<Information Name=\"time_unit\" Value=\"d\"/>"))
      FINDING("healing.xdmf not rebuilt right: %s; ", text ? text : "(missing)");
    free(text);
    snprintf(file, sizeof file, "%s/healing/step_000007.h5.tmp", out_dir);
    if (file_exists(file)) FINDING("leftover .tmp not removed; ");
    snprintf(file, sizeof file, "%s/healing/step_000002.h5", out_dir);
    hid_t h = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (h < 0 || read_double_attr(h, "time") != 1.5) FINDING("step 2 is not the new one; ");
    if (h >= 0) H5Fclose(h);
  }
  share_findings();
  grid_free(&g);
  grid_free(&g2);
  ck_assert_msg(code == PP_OK, "%s", pp_error_message());
  ck_assert_int_eq(kept, 2);
  ck_assert_int_eq(fresh, PP_OK);
  ck_assert_int_eq(fresh_steps, 0);
  ck_assert_msg(findings[0] == '\0', "rank 0 found: %s", findings);
}
END_TEST

/* Cost of a fragmented ownership: every rank owns every size-th id, so each rank's selection
 * has RUNS runs of length 1. Reported, not asserted beyond "it works and values are right". */
START_TEST(test_many_runs_cost)
{
  pp_error_clear();
  enum { RUNS = 10000 };
  long long global = (long long)RUNS * runtime.size;
  long long *ids = malloc(sizeof *ids * RUNS);
  double *coords = malloc(sizeof *coords * RUNS * 3), *values = malloc(sizeof *values * RUNS * 3);
  for (int i = 0; i < RUNS; ++i) {
    ids[i] = (long long)i * runtime.size + runtime.rank;
    for (int c = 0; c < 3; ++c) coords[3 * i + c] = values[3 * i + c] = (double)ids[i] + c;
  }
  /* No cells: the mesh view allows an empty topology, which keeps this about node rows. */
  pp_io_mesh view = {global, 0, RUNS, ids, coords, 0, NULL, NULL, NULL};
  pp_io_series *series = NULL;
  double start = MPI_Wtime();
  pp_err code = pp_io_series_open(&series, &runtime, out_dir, "many_runs", "s", &view);
  double opened = MPI_Wtime();
  if (code == PP_OK) code = pp_io_step_begin(series, 0.0);
  double field_start = MPI_Wtime();
  if (code == PP_OK) code = pp_io_write_node_field(series, "u", "m", 3, values);
  double field_end = MPI_Wtime();
  if (code == PP_OK) code = pp_io_step_end(series);
  pp_io_series_close(&series);
  if (runtime.rank == 0)
    printf("many runs: %d runs/rank on %d ranks: open+mesh %.3f s, one 3-component field %.3f s\n", RUNS,
           runtime.size, opened - start, field_end - field_start);
  int right = 1;
  if (runtime.rank == 0 && code == PP_OK) {
    char file[512];
    snprintf(file, sizeof file, "%s/many_runs/step_000000.h5", out_dir);
    hid_t h = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    double *all = malloc(sizeof *all * (size_t)global * 3);
    hid_t d = h >= 0 ? H5Dopen2(h, "/fields/u", H5P_DEFAULT) : -1;
    right = d >= 0 && H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, all) >= 0;
    for (long long i = 0; right && i < global * 3; ++i) right = all[i] == (double)(i / 3) + (double)(i % 3);
    if (d >= 0) H5Dclose(d);
    if (h >= 0) H5Fclose(h);
    free(all);
  }
  MPI_Bcast(&right, 1, MPI_INT, 0, runtime.comm);
  free(ids), free(coords), free(values);
  ck_assert_msg(code == PP_OK, "%s", pp_error_message());
  ck_assert_int_eq(right, 1);
}
END_TEST

/* ---- output schedule (no MPI inside; every rank runs the same) ---- */

START_TEST(test_schedule_list)
{
  pp_output_schedule s;
  ck_assert_int_eq(pp_output_schedule_list(&s, (const double[]){3, 1, 2, 2}, 4), PP_OK);
  ck_assert_int_eq(s.count, 3);
  double t = -1;
  ck_assert_int_eq(pp_output_schedule_next(&s, 0.0, 1.5, &t), 1);
  ck_assert_double_eq(t, 1.0);
  ck_assert_int_eq(pp_output_schedule_next(&s, 1.0, 0.5, &t), 0); /* (1, 1.5]: 1 is not found again */
  ck_assert_int_eq(pp_output_schedule_next(&s, 1.0, 1.0, &t), 1); /* (1, 2]: 2 is found (closed end) */
  ck_assert_double_eq(t, 2.0);
  ck_assert_int_eq(pp_output_schedule_next(&s, 3.0, 10.0, &t), 0);
  ck_assert_int_eq(pp_output_schedule_contains(&s, 2.0), 1);
  ck_assert_int_eq(pp_output_schedule_contains(&s, 2.5), 0);
  pp_output_schedule_free(&s);
  ck_assert_int_eq(pp_output_schedule_list(&s, NULL, 0), PP_ERR_CONFIG);
  ck_assert_int_eq(pp_output_schedule_list(&s, (const double[]){NAN}, 1), PP_ERR_CONFIG);
}
END_TEST

START_TEST(test_schedule_interval)
{
  pp_output_schedule s;
  ck_assert_int_eq(pp_output_schedule_interval(&s, 0.0, 1.0, 0.1), PP_OK);
  ck_assert_int_eq(s.count, 11);
  ck_assert_double_eq(s.times[10], 1.0); /* end exactly, not 0.1 * 10 accumulated */
  ck_assert_double_eq(s.times[3], 3 * 0.1);
  /* A stepper with dt = 0.07 that clamps to each output time meets all ten after t = 0. */
  double t = 0.0, t_out = 0.0;
  int outputs = pp_output_schedule_contains(&s, t), steps = 0;
  while (t < 1.0 && steps < 1000) {
    double dt = 0.07;
    if (pp_output_schedule_next(&s, t, dt, &t_out)) {
      t = t_out;
      ++outputs;
    } else {
      t += dt;
    }
    ++steps;
  }
  ck_assert_int_eq(outputs, 11);
  ck_assert_double_eq(t, 1.0);
  pp_output_schedule_free(&s);
  ck_assert_int_eq(pp_output_schedule_interval(&s, 0.0, 1.0, 0.3), PP_OK);
  ck_assert_int_eq(s.count, 4); /* 0, 0.3, 0.6, 0.9: end is not on the grid */
  ck_assert_double_eq_tol(s.times[3], 0.9, 1e-15);
  pp_output_schedule_free(&s);
  ck_assert_int_eq(pp_output_schedule_interval(&s, 0.0, 1.0, 0.0), PP_ERR_CONFIG);
  ck_assert_int_eq(pp_output_schedule_interval(&s, 2.0, 1.0, 0.1), PP_ERR_CONFIG);
}
END_TEST

START_TEST(test_schedule_log)
{
  pp_output_schedule s;
  ck_assert_int_eq(pp_output_schedule_log(&s, 1e-3, 10.0, 5), PP_OK);
  ck_assert_int_eq(s.count, 5);
  ck_assert_double_eq(s.times[0], 1e-3);
  ck_assert_double_eq(s.times[4], 10.0);
  for (int i = 1; i < 5; ++i) ck_assert_double_eq_tol(s.times[i] / s.times[i - 1], 10.0, 1e-12);
  double t = 0;
  ck_assert_int_eq(pp_output_schedule_next(&s, 0.05, 0.1, &t), 1);
  ck_assert_double_eq_tol(t, 0.1, 1e-15);
  pp_output_schedule_free(&s);
  ck_assert_int_eq(pp_output_schedule_log(&s, 0.0, 10.0, 5), PP_ERR_CONFIG);
  ck_assert_int_eq(pp_output_schedule_log(&s, 1.0, 10.0, 1), PP_ERR_CONFIG);
}
END_TEST

int main(int argc, char **argv)
{
  if (pp_runtime_start(&runtime, &argc, &argv) != PP_OK) {
    pp_error_print(stderr, "");
    return EXIT_FAILURE;
  }
  /* One folder per rank count, in the working directory: io_h5diff compares them. */
  snprintf(out_dir, sizeof out_dir, "io_np%d", runtime.size);
  if (runtime.rank == 0) mkdir(out_dir, 0777);
  MPI_Barrier(runtime.comm);
  Suite *suite = suite_create("io");
  TCase *series = tcase_create("series");
  tcase_set_timeout(series, 60);
  tcase_add_test(series, test_series_written_and_read_back);
  tcase_add_test(series, test_rank_owning_nothing);
  tcase_add_test(series, test_refusals);
  tcase_add_test(series, test_restart_truncation);
  tcase_add_test(series, test_many_runs_cost);
  suite_add_tcase(suite, series);
  TCase *schedule = tcase_create("schedule");
  tcase_add_test(schedule, test_schedule_list);
  tcase_add_test(schedule, test_schedule_interval);
  tcase_add_test(schedule, test_schedule_log);
  suite_add_tcase(suite, schedule);
  int status = pp_test_run_mpi_suite(suite, runtime.comm);
  pp_runtime_stop(&runtime);
  return status;
}
