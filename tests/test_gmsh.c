/* test_gmsh: the Gmsh reader (host/gmsh.c).
 *
 * Good meshes: meshes/layered_patch in all four MSH variants (2.2/4.1, ASCII/binary) parse to
 * the same mesh; layer counts and volumes are what layered_patch.geo says (area x thickness);
 * the boundary sets lie on their planes; the lesion patch has its scar column. Bad meshes: a
 * table of small files in tests/gmsh/ plus truncated and edited copies of the good files, each
 * asserting the message names the file, the line or byte offset, what was expected and the
 * element. Fuzzing: deterministic random edits of good files never crash the reader (CI runs
 * this under ASan + UBSan) and every failure is a config error with a positioned message. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gmsh.h"

/* ------------------------------------------------------------------------------------------ */
/* Helpers                                                                                    */

static void source_path(char *out, size_t size, const char *relative)
{
  const char *root = getenv("PINPRICK_SOURCE_DIR");
  snprintf(out, size, "%s/%s", root && *root ? root : ".", relative);
}

static char *read_whole(const char *relative, size_t *size)
{
  char path[4096];
  source_path(path, sizeof path, relative);
  FILE *file = fopen(path, "rb");
  ck_assert_msg(file != NULL, "cannot open %s (set PINPRICK_SOURCE_DIR)", path);
  fseek(file, 0, SEEK_END);
  long length = ftell(file);
  fseek(file, 0, SEEK_SET);
  char *bytes = malloc((size_t)length + 1);
  ck_assert_ptr_nonnull(bytes);
  ck_assert_uint_eq(fread(bytes, 1, (size_t)length, file), (size_t)length);
  fclose(file);
  bytes[length] = '\0';
  *size = (size_t)length;
  return bytes;
}

static void load(const char *relative, pp_gmsh_mesh *mesh)
{
  char path[4096];
  source_path(path, sizeof path, relative);
  pp_error_clear();
  pp_err err = pp_gmsh_read(path, mesh);
  ck_assert_msg(err == PP_OK, "reading %s failed: %s", path, pp_error_message());
}

static void assert_contains(const char *haystack, const char *needle)
{
  ck_assert_msg(strstr(haystack, needle) != NULL, "expected '%s' in:\n%s", needle, haystack);
}

static void assert_empty(const pp_gmsh_mesh *mesh)
{
  ck_assert(mesh->node_count == 0 && mesh->hex_count == 0 && mesh->quad_count == 0 && mesh->physical_count == 0);
  ck_assert(mesh->node_coords == NULL && mesh->hex_nodes == NULL && mesh->quad_nodes == NULL &&
            mesh->physicals == NULL);
}

static const char *find_bytes(const char *bytes, size_t size, const char *word)
{
  size_t length = strlen(word);
  for (size_t i = 0; i + length <= size; ++i)
    if (memcmp(bytes + i, word, length) == 0) return bytes + i;
  return NULL;
}

static const char *const variant_files[4] = {"meshes/layered_patch_msh41.msh", "meshes/layered_patch_msh22.msh",
                                             "meshes/layered_patch_msh41_bin.msh",
                                             "meshes/layered_patch_msh22_bin.msh"};

/* layered_patch.geo */
static const double patch_side = 0.632e-3;
static const double layer_thickness[5] = {15e-6, 60e-6, 300e-6, 1200e-6, 3000e-6};
static const int layer_levels[5] = {1, 2, 4, 6, 6};
static const char *const layer_names[5] = {"stratum_corneum", "viable_epidermis", "papillary_dermis",
                                           "reticular_dermis", "hypodermis"};

/* ------------------------------------------------------------------------------------------ */
/* Good meshes                                                                                */

/* The same mesh in all four variants. Integers and tags are identical. Coordinates are
 * identical bit for bit within one encoding; ASCII holds 16 significant digits (Gmsh writes
 * %.16g), so ASCII and binary differ by at most a few units in the last place. */
START_TEST(four_variants_parse_alike)
{
  pp_gmsh_mesh mesh[4];
  for (int v = 0; v < 4; ++v) load(variant_files[v], &mesh[v]);
  ck_assert_int_eq(mesh[0].version, 41);
  ck_assert_int_eq(mesh[1].version, 22);
  ck_assert_int_eq(mesh[2].binary, 1);
  ck_assert_int_eq(mesh[3].binary, 1);
  double worst = 0;
  for (int v = 1; v < 4; ++v) {
    const pp_gmsh_mesh *a = &mesh[0], *b = &mesh[v];
    ck_assert_int_eq(a->node_count, b->node_count);
    ck_assert_int_eq(a->hex_count, b->hex_count);
    ck_assert_int_eq(a->quad_count, b->quad_count);
    ck_assert_int_eq(a->physical_count, b->physical_count);
    ck_assert(memcmp(a->node_tags, b->node_tags, (size_t)a->node_count * sizeof *a->node_tags) == 0);
    ck_assert(memcmp(a->hex_nodes, b->hex_nodes, (size_t)a->hex_count * 8 * sizeof *a->hex_nodes) == 0);
    ck_assert(memcmp(a->hex_tags, b->hex_tags, (size_t)a->hex_count * sizeof *a->hex_tags) == 0);
    ck_assert(memcmp(a->hex_physical, b->hex_physical, (size_t)a->hex_count * sizeof *a->hex_physical) == 0);
    ck_assert(memcmp(a->quad_nodes, b->quad_nodes, (size_t)a->quad_count * 4 * sizeof *a->quad_nodes) == 0);
    ck_assert(memcmp(a->quad_tags, b->quad_tags, (size_t)a->quad_count * sizeof *a->quad_tags) == 0);
    ck_assert(memcmp(a->quad_physical, b->quad_physical, (size_t)a->quad_count * sizeof *a->quad_physical) == 0);
    for (int p = 0; p < a->physical_count; ++p) {
      ck_assert_int_eq(a->physicals[p].dim, b->physicals[p].dim);
      ck_assert_int_eq(a->physicals[p].tag, b->physicals[p].tag);
      ck_assert_str_eq(a->physicals[p].name, b->physicals[p].name);
    }
    for (long long i = 0; i < 3 * a->node_count; ++i) {
      double x = mesh[v == 3 ? 2 : 0].node_coords[i], y = b->node_coords[i];
      if (v == 1 || v == 3)
        ck_assert_msg(x == y, "variant %d coordinate %lld: %.17g vs %.17g (same encoding)", v, i, x, y);
      double difference = fabs(a->node_coords[i] - y);
      if (difference > worst) worst = difference;
      ck_assert_msg(difference <= 1e-15 * fabs(y), "variant %d coordinate %lld: %.17g vs %.17g", v, i,
                    a->node_coords[i], y);
    }
  }
  printf("four variants: identical tags and connectivity; ASCII vs binary coordinates differ by at most %.3g m\n",
         worst);
  for (int v = 0; v < 4; ++v) pp_gmsh_free(&mesh[v]);
}
END_TEST

START_TEST(layered_patch_layers_volumes_and_boundaries)
{
  pp_gmsh_mesh mesh;
  load(variant_files[_i], &mesh);
  const int lateral = 8 * 8;
  ck_assert_int_eq(mesh.node_count, 9 * 9 * 20);
  ck_assert_int_eq(mesh.hex_count, lateral * 19);
  ck_assert_int_eq(mesh.unused_node_count, 0);
  ck_assert_int_eq(mesh.physical_count, 11);

  double total_thickness = 0, layer_volume[6] = {0}, total_volume = 0;
  long long layer_count[6] = {0};
  for (int k = 0; k < 5; ++k) total_thickness += layer_thickness[k];
  for (long long h = 0; h < mesh.hex_count; ++h) {
    int p = mesh.hex_physical[h];
    ck_assert_msg(p >= 1 && p <= 5, "hex %lld physical %d", h, p);
    double volume = pp_gmsh_hex_volume(&mesh, h);
    ck_assert(volume > 0);
    layer_volume[p] += volume;
    total_volume += volume;
    ++layer_count[p];
  }
  double area = patch_side * patch_side;
  for (int k = 0; k < 5; ++k) {
    ck_assert_int_eq(pp_gmsh_physical_tag(&mesh, 3, layer_names[k]), k + 1);
    ck_assert_str_eq(pp_gmsh_physical_name(&mesh, 3, k + 1), layer_names[k]);
    ck_assert_int_eq(layer_count[k + 1], (long long)lateral * layer_levels[k]);
    double expected = area * layer_thickness[k];
    ck_assert_msg(fabs(layer_volume[k + 1] - expected) <= 1e-13 * expected, "%s: volume %.17g, expected %.17g",
                  layer_names[k], layer_volume[k + 1], expected);
  }
  double expected_total = 0.632e-3 * 0.632e-3 * 4.575e-3;
  ck_assert_msg(fabs(total_volume - expected_total) <= 1e-13 * expected_total, "total volume %.17g, expected %.17g",
                total_volume, expected_total);

  /* Boundary sets: counts, and every node on its plane (tolerance: round-off of the summed
   * thicknesses at the base). */
  struct {
    const char *name;
    int axis;
    double position;
    long long count;
  } sets[6] = {{"surface", 2, 0, lateral},
               {"base", 2, -total_thickness, lateral},
               {"side_x_min", 0, 0, 8 * 19},
               {"side_x_max", 0, patch_side, 8 * 19},
               {"side_y_min", 1, 0, 8 * 19},
               {"side_y_max", 1, patch_side, 8 * 19}};
  for (int b = 0; b < 6; ++b) {
    int tag = pp_gmsh_physical_tag(&mesh, 2, sets[b].name);
    ck_assert_int_eq(tag, 11 + b);
    long long count = 0;
    for (long long q = 0; q < mesh.quad_count; ++q) {
      if (mesh.quad_physical[q] != tag) continue;
      ++count;
      for (int a = 0; a < 4; ++a) {
        double x = mesh.node_coords[3 * mesh.quad_nodes[4 * q + a] + sets[b].axis];
        ck_assert_msg(fabs(x - sets[b].position) <= 1e-15, "%s quad %lld: %.17g, expected %.17g", sets[b].name, q, x,
                      sets[b].position);
      }
    }
    ck_assert_int_eq(count, sets[b].count);
  }
  ck_assert_int_eq(mesh.quad_count, 2 * lateral + 4 * 8 * 19);
  /* The surface is exactly z = 0 (the .geo extrudes down from it). */
  for (long long i = 0; i < mesh.node_count; ++i) ck_assert(mesh.node_coords[3 * i + 2] <= 0);
  pp_gmsh_free(&mesh);
}
END_TEST

START_TEST(lesion_patch_has_its_scar)
{
  pp_gmsh_mesh mesh;
  load("meshes/lesion_patch_msh41.msh", &mesh);
  const double side = 1.5e-3, scar_side = 0.5e-3;
  const int lateral = 16 * 16, scar_lateral = 8 * 8, levels[5] = {1, 2, 3, 4, 3};
  ck_assert_int_eq(mesh.hex_count, lateral * 13);
  ck_assert_int_eq(pp_gmsh_physical_tag(&mesh, 3, "scar"), 6);
  double volume[7] = {0}, scar_min_width = 1, scar_max_width = 0, outer_max_width = 0;
  long long count[7] = {0};
  for (long long h = 0; h < mesh.hex_count; ++h) {
    int p = mesh.hex_physical[h];
    ck_assert(p >= 1 && p <= 6);
    volume[p] += pp_gmsh_hex_volume(&mesh, h);
    ++count[p];
    double lo = 1, hi = -1;
    for (int a = 0; a < 8; ++a) {
      double x = mesh.node_coords[3 * mesh.hex_nodes[8 * h + a]];
      lo = fmin(lo, x), hi = fmax(hi, x);
    }
    if (p == 6)
      scar_min_width = fmin(scar_min_width, hi - lo), scar_max_width = fmax(scar_max_width, hi - lo);
    else
      outer_max_width = fmax(outer_max_width, hi - lo);
  }
  double expected[7] = {0};
  long long expected_count[7] = {0};
  for (int k = 0; k < 5; ++k) {
    int dermis = k == 2 || k == 3;
    expected[k + 1] = (side * side - (dermis ? scar_side * scar_side : 0)) * layer_thickness[k];
    expected_count[k + 1] = (long long)(lateral - (dermis ? scar_lateral : 0)) * levels[k];
  }
  expected[6] = scar_side * scar_side * (layer_thickness[2] + layer_thickness[3]);
  expected_count[6] = (long long)scar_lateral * (levels[2] + levels[3]);
  for (int p = 1; p <= 6; ++p) {
    ck_assert_int_eq(count[p], expected_count[p]);
    ck_assert_msg(fabs(volume[p] - expected[p]) <= 1e-13 * expected[p], "physical %d volume %.17g, expected %.17g",
                  p, volume[p], expected[p]);
  }
  /* Refined: the scar's elements are 62.5 um across, the coarsest outer ones over three times that. */
  ck_assert_msg(fabs(scar_min_width - 62.5e-6) < 1e-15 && fabs(scar_max_width - 62.5e-6) < 1e-15,
                "scar widths %.17g-%.17g", scar_min_width, scar_max_width);
  ck_assert_msg(outer_max_width > 3 * 62.5e-6, "outer width %g", outer_max_width);
  ck_assert_int_eq(mesh.quad_count, 2 * lateral + 4 * 16 * 13);
  pp_gmsh_free(&mesh);
}
END_TEST

/* Hand-written cubes: sparse node tags (10..80 and 10^12), an unused node, a point element. */
START_TEST(small_files_sparse_tags_and_defaults)
{
  pp_gmsh_mesh a, b;
  load("tests/gmsh/good_cube_41.msh", &a);
  load("tests/gmsh/good_cube_22.msh", &b);
  ck_assert_int_eq(a.node_count, 8);
  ck_assert_int_eq(a.unused_node_count, 1);       /* tag 10^12, on no hexahedron */
  ck_assert_int_eq(a.skipped_element_count, 1);   /* the point */
  for (int i = 0; i < 8; ++i) ck_assert_int_eq(a.node_tags[i], 10 * (i + 1));
  for (int i = 0; i < 8; ++i) ck_assert_int_eq(b.node_tags[i], i + 1);
  ck_assert(memcmp(a.node_coords, b.node_coords, 24 * sizeof(double)) == 0);
  ck_assert(memcmp(a.hex_nodes, b.hex_nodes, 8 * sizeof(long long)) == 0);
  ck_assert(memcmp(a.quad_nodes, b.quad_nodes, 4 * sizeof(long long)) == 0);
  ck_assert_int_eq(a.hex_physical[0], 1);
  ck_assert_int_eq(b.hex_physical[0], 1);
  ck_assert_int_eq(a.quad_physical[0], 11);
  ck_assert_str_eq(pp_gmsh_physical_name(&a, 2, 11), "base");
  ck_assert_ptr_null(pp_gmsh_physical_name(&a, 3, 11));
  ck_assert_int_eq(pp_gmsh_physical_tag(&a, 3, "base"), -1);
  ck_assert(fabs(pp_gmsh_hex_volume(&a, 0) - 1) < 1e-15);
  pp_gmsh_free(&a);
  pp_gmsh_free(&b);

  /* An element without physical tags (MSH 2.2 with 0 tags) gets physical 0. */
  size_t size;
  char *text = read_whole("tests/gmsh/good_cube_22.msh", &size);
  char *hex = strstr(text, "2 5 2 1 1 ");
  ck_assert_ptr_nonnull(hex);
  memcpy(hex, "2 5 0     ", 10); /* same length: no tags */
  pp_error_clear();
  ck_assert_int_eq(pp_gmsh_read_memory("untagged.msh", text, size, &a), PP_OK);
  ck_assert_int_eq(a.hex_physical[0], 0);
  pp_gmsh_free(&a);
  free(text);

  /* Sections pinprick does not use are skipped; one left open is an error naming it. */
  text = read_whole("tests/gmsh/good_cube_22.msh", &size);
  char *longer = malloc(size + 200);
  ck_assert_ptr_nonnull(longer);
  int length = snprintf(longer, size + 200, "%s$NodeData\n1\n\"u\"\n1\n0.0\n3\n0\n1\n8\n1 0.5\n$EndNodeData\n", text);
  ck_assert_int_eq(pp_gmsh_read_memory("extra.msh", longer, (size_t)length, &a), PP_OK);
  ck_assert_int_eq(a.hex_count, 1);
  pp_gmsh_free(&a);
  length = snprintf(longer, size + 200, "%s$Comments\nno end\n", text);
  ck_assert_int_eq(pp_gmsh_read_memory("open.msh", longer, (size_t)length, &a), PP_ERR_CONFIG);
  assert_contains(pp_error_message(), "open.msh:27: expected $EndComments to close $Comments (opened at line 25)");
  free(longer);
  free(text);

  /* MSH 4.1: a surface in two physical groups gives its quadrangle once per group (Gmsh may
   * write a group's tag negative, for orientation: the group is its absolute value). */
  text = read_whole("tests/gmsh/good_cube_41.msh", &size);
  const char *surface_line = "1 0 0 0 1 1 0 1 11 0\n";
  char *entity = strstr(text, surface_line);
  ck_assert_ptr_nonnull(entity);
  longer = malloc(size + 64);
  ck_assert_ptr_nonnull(longer);
  length = snprintf(longer, size + 64, "%.*s1 0 0 0 1 1 0 2 12 -11 0\n%s", (int)(entity - text), text,
                    entity + strlen(surface_line));
  pp_error_clear();
  ck_assert_msg(pp_gmsh_read_memory("two_groups.msh", longer, (size_t)length, &a) == PP_OK, "%s",
                pp_error_message());
  ck_assert_int_eq(a.quad_count, 2);
  ck_assert_int_eq(a.quad_physical[0], 11);
  ck_assert_int_eq(a.quad_physical[1], 12);
  ck_assert(memcmp(a.quad_nodes, a.quad_nodes + 4, 4 * sizeof *a.quad_nodes) == 0);
  pp_gmsh_free(&a);
  free(longer);
  free(text);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* Broken files                                                                               */

typedef struct {
  const char *file;      /* in tests/gmsh/ */
  int line;              /* the message must say FILE:LINE: */
  const char *expect[3]; /* what the message must also contain: what was expected, found what, the element */
} broken_case;

static const broken_case broken_cases[] = {
  {"missing_meshformat.msh", 1, {"expected $MeshFormat at the start", "found '$PhysicalNames'"}},
  {"version_3.msh", 2, {"expected MSH version 2.2 or 4.1", "found version '3.0'"}},
  {"binary_data_size_4.msh", 2, {"expected data size 8", "found 4"}},
  {"missing_endnodes.msh", 19, {"expected $EndNodes to close $Nodes (opened at line 9)", "found '$Elements'"}},
  {"elements_before_nodes.msh", 9, {"expected $Nodes before $Elements", "found $Elements first"}},
  {"entities_after_elements_41.msh", 41, {"expected $Entities before $Elements", "found $Entities after"}},
  {"missing_elements.msh", 20, {"expected an $Elements section", "found the end of the file"}},
  {"unclosed_elements.msh", 24,
   {"expected $EndElements to close $Elements (opened at line 20)", "found the end of the file"}},
  {"partitioned_41.msh", 14, {"expected an unpartitioned mesh", "found $PartitionedEntities"}},
  {"huge_count.msh", 10, {"expected the number of nodes", "found '99999999999999999999999' (too large)"}},
  {"count_beyond_file.msh", 10,
   {"expected a count of nodes the rest of the file can hold", "found 4611686018427387904"}},
  {"negative_count.msh", 10, {"expected the number of nodes (an integer >= 0)", "found '-8'"}},
  {"bad_coordinate.msh", 14, {"expected the y coordinate of node 4 (a finite number)", "found 'abc'"}},
  {"duplicate_node_tag.msh", 13, {"expected a new node tag", "found node 2 again (first at line 12)"}},
  {"undefined_node.msh", 23,
   {"expected node tags defined in $Nodes", "found node 99", "element 2 (8-node hexahedron)"}},
  {"tetrahedron_41.msh", 42,
   {"expected an 8-node hexahedron (type 5)", "found a 4-node tetrahedron (type 4)", "element 5"}},
  {"hex27_second_order.msh", 23,
   {"expected an 8-node hexahedron", "found a 27-node second-order hexahedron (type 12)", "element 2"}},
  {"prism.msh", 23, {"expected an 8-node hexahedron", "found a 6-node prism (type 6)", "element 2"}},
  {"triangle.msh", 22, {"expected an 8-node hexahedron", "found a 3-node triangle (type 2)", "element 1"}},
  {"inverted_hex.msh", 23,
   {"expected a positive Jacobian determinant at every corner", "inverted", "element 2 (hexahedron)"}},
  {"mirrored_hex.msh", 23,
   {"expected a positive Jacobian determinant at every corner", "found all 8 negative", "element 2 (hexahedron)"}},
  {"repeated_node_hex.msh", 23, {"expected 8 distinct nodes", "found node 7 at corners 6 and 7", "element 2"}},
  {"flat_hex.msh", 23,
   {"expected a positive Jacobian determinant at every corner", "degenerate", "element 2 (hexahedron)"}},
  {"hex_in_two_volumes.msh", 24, {"expected each hexahedron once", "same 8 nodes as element 2 (line 23)", "element 3"}},
  {"duplicate_element_tag.msh", 24, {"expected unique element tags", "found element 2 again (first at line 23)"}},
  {"quad_off_the_mesh.msh", 23,
   {"expected nodes of hexahedra", "found node 9 (on no hexahedron)", "element 1 (boundary quadrangle)"}},
  {"volume_in_two_layers_41.msh", 42,
   {"expected one physical volume (one layer) per hexahedron", "found 2 (physical tags 1 and 2)", "element 2"}},
  {"unknown_entity_41.msh", 41, {"expected its volume 7 in $Entities", "found no such entity", "element block 2"}},
};
enum { BROKEN_CASE_COUNT = sizeof broken_cases / sizeof broken_cases[0] };

START_TEST(broken_file_is_refused_with_position)
{
  const broken_case *c = &broken_cases[_i];
  char relative[256], path[4096], where[4200];
  snprintf(relative, sizeof relative, "tests/gmsh/%s", c->file);
  source_path(path, sizeof path, relative);
  pp_gmsh_mesh mesh;
  pp_error_clear();
  pp_err err = pp_gmsh_read(path, &mesh);
  ck_assert_msg(err == PP_ERR_CONFIG, "%s: code %d (%s)", c->file, err, pp_error_message());
  assert_empty(&mesh);
  const char *message = pp_error_message();
  snprintf(where, sizeof where, "%s:%d: ", path, c->line);
  ck_assert_msg(strncmp(message, where, strlen(where)) == 0, "expected the message to start with '%s':\n%s", where,
                message);
  for (int k = 0; k < 3 && c->expect[k]; ++k) assert_contains(message, c->expect[k]);
}
END_TEST

/* The byte offset of a binary-file message, checked against [lo, hi]. */
static void assert_byte_offset(const char *message, const char *name, size_t lo, size_t hi)
{
  char prefix[256];
  snprintf(prefix, sizeof prefix, "%s: byte ", name);
  ck_assert_msg(strncmp(message, prefix, strlen(prefix)) == 0, "expected '%s' at the start of:\n%s", prefix, message);
  unsigned long long offset = strtoull(message + strlen(prefix), NULL, 10);
  ck_assert_msg(offset >= lo && offset <= hi, "offset %llu not in [%zu, %zu]: %s", offset, lo, hi, message);
}

/* Truncated in the middle of $Elements: ASCII names the line (the last line there is), binary
 * the byte offset of the value it could not read; both name the element. */
START_TEST(truncated_in_elements)
{
  for (int v = 0; v < 4; ++v) {
    size_t size;
    char *bytes = read_whole(variant_files[v], &size);
    const char *start = find_bytes(bytes, size, "$Elements"), *end = find_bytes(bytes, size, "$EndElements");
    ck_assert(start && end);
    size_t cut = (size_t)(start - bytes) + (size_t)(end - start) / 2;
    /* ASCII: cut after a whole line, so no number is shortened into another valid one. */
    if (v < 2)
      while (bytes[cut - 1] != '\n') ++cut;
    pp_gmsh_mesh mesh;
    pp_error_clear();
    pp_err err = pp_gmsh_read_memory("cut.msh", bytes, cut, &mesh);
    ck_assert_int_eq(err, PP_ERR_CONFIG);
    assert_empty(&mesh);
    const char *message = pp_error_message();
    if (v < 2) {
      int lines = 1;
      for (size_t i = 0; i < cut; ++i) lines += bytes[i] == '\n';
      char where[64];
      snprintf(where, sizeof where, "cut.msh:%d: ", lines);
      ck_assert_msg(strncmp(message, where, strlen(where)) == 0, "expected '%s' at the start of:\n%s", where, message);
      assert_contains(message, "found the end of the file (truncated?)");
    } else {
      assert_byte_offset(message, "cut.msh", (size_t)(start - bytes), cut);
      assert_contains(message, "found the end of the file after");
    }
    assert_contains(message, "element");
    free(bytes);
  }
}
END_TEST

/* Truncations every size/250 bytes of the binary files: each fails with a byte offset inside the file, except those
 * that only drop the final line break. */
START_TEST(binary_truncated_anywhere)
{
  for (int v = 2; v < 4; ++v) {
    size_t size;
    char *bytes = read_whole(variant_files[v], &size);
    for (size_t cut = 0; cut < size - 1; cut += size / 250 + 1) {
      pp_gmsh_mesh mesh;
      pp_error_clear();
      pp_err err = pp_gmsh_read_memory("cut.msh", bytes, cut, &mesh);
      ck_assert_msg(err == PP_ERR_CONFIG, "cut at %zu: %d", cut, err);
      const char *message = pp_error_message();
      const char *marker = find_bytes(bytes, size, "\n$EndMeshFormat");
      if (cut > (size_t)(marker - bytes)) assert_byte_offset(message, "cut.msh", 0, cut);
      ck_assert(strncmp(message, "cut.msh", 7) == 0);
    }
    free(bytes);
  }
}
END_TEST

/* Binary headers: the byte-order marker swapped, and a data size of 4. */
START_TEST(binary_header_errors)
{
  size_t size;
  char *bytes = read_whole("meshes/layered_patch_msh41_bin.msh", &size);
  char *header = (char *)find_bytes(bytes, size, "4.1 1 8\n");
  ck_assert_ptr_nonnull(header);
  char *marker = header + 8;
  char swapped[4] = {marker[3], marker[2], marker[1], marker[0]};
  memcpy(marker, swapped, 4);
  pp_gmsh_mesh mesh;
  pp_error_clear();
  ck_assert_int_eq(pp_gmsh_read_memory("swapped.msh", bytes, size, &mesh), PP_ERR_CONFIG);
  assert_byte_offset(pp_error_message(), "swapped.msh", (size_t)(marker - bytes), (size_t)(marker - bytes));
  assert_contains(pp_error_message(), "expected the byte-order marker 1, found it byte-swapped");
  int32_t value = 7;
  memcpy(marker, &value, 4);
  ck_assert_int_eq(pp_gmsh_read_memory("marker.msh", bytes, size, &mesh), PP_ERR_CONFIG);
  assert_contains(pp_error_message(), "expected the byte-order marker (the 4-byte integer 1), found 7");
  value = 1;
  memcpy(marker, &value, 4);
  header[6] = '4';
  ck_assert_int_eq(pp_gmsh_read_memory("size4.msh", bytes, size, &mesh), PP_ERR_CONFIG);
  assert_contains(pp_error_message(), "size4.msh:2: expected data size 8 (8-byte size_t and double), found 4");
  free(bytes);
}
END_TEST

/* A binary element naming an undefined node: the byte offset of that element. */
START_TEST(binary_undefined_node_names_element_and_offset)
{
  size_t size;
  char *bytes = read_whole("meshes/layered_patch_msh22_bin.msh", &size);
  const char *elements = find_bytes(bytes, size, "$Elements\n");
  ck_assert_ptr_nonnull(elements);
  size_t data = (size_t)(elements - bytes) + strlen("$Elements\n");
  while (bytes[data] != '\n') ++data; /* the ASCII count line */
  ++data;
  /* MSH 2.2 binary: a block header (type, count, ntags) then records (tag, tags, nodes). */
  int32_t header[3], record[1 + 2 + 4];
  memcpy(header, bytes + data, sizeof header);
  ck_assert_int_eq(header[0], 3); /* Gmsh writes the quadrangles first */
  ck_assert_int_eq(header[2], 2);
  memcpy(record, bytes + data + sizeof header, sizeof record);
  record[3] = 1000000; /* first node of the first quadrangle */
  memcpy(bytes + data + sizeof header, record, sizeof record);
  pp_gmsh_mesh mesh;
  pp_error_clear();
  ck_assert_int_eq(pp_gmsh_read_memory("undefined.msh", bytes, size, &mesh), PP_ERR_CONFIG);
  assert_byte_offset(pp_error_message(), "undefined.msh", data + sizeof header, data + sizeof header);
  char expect[128];
  snprintf(expect, sizeof expect,
           "element %d (4-node quadrangle): expected node tags defined in $Nodes, found node 1000000", record[0]);
  assert_contains(pp_error_message(), expect);
  free(bytes);
}
END_TEST

START_TEST(unreadable_files_are_io_errors)
{
  pp_gmsh_mesh mesh;
  pp_error_clear();
  ck_assert_int_eq(pp_gmsh_read("/nonexistent/dir/mesh.msh", &mesh), PP_ERR_IO);
  assert_contains(pp_error_message(), "cannot open Gmsh mesh '/nonexistent/dir/mesh.msh': No such file");
  assert_empty(&mesh);
  char path[4096];
  source_path(path, sizeof path, "tests/gmsh");
  ck_assert_int_eq(pp_gmsh_read(path, &mesh), PP_ERR_IO);
  assert_contains(pp_error_message(), "Is a directory");
  pp_error_clear();
  ck_assert_int_eq(pp_gmsh_read_memory("empty.msh", "", 0, &mesh), PP_ERR_CONFIG);
  assert_contains(pp_error_message(),
                  "empty.msh:1: expected $MeshFormat at the start of a Gmsh mesh file, found the end");
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* Fuzzing                                                                                    */

static uint64_t fuzz_state;

static uint64_t fuzz_next(void)
{
  /* xorshift64*: deterministic, so a failure reproduces with the same iteration number. */
  fuzz_state ^= fuzz_state >> 12;
  fuzz_state ^= fuzz_state << 25;
  fuzz_state ^= fuzz_state >> 27;
  return fuzz_state * 2685821657736338717ULL;
}

static size_t fuzz_below(size_t n)
{
  return n ? (size_t)(fuzz_next() % n) : 0;
}

/* One random edit of buffer[0..*size) (capacity size_limit). */
static void mutate(char *buffer, size_t *size, size_t size_limit)
{
  static const char interesting_bytes[] = "0123456789-+.eE $\n\"\t";
  static const char *const interesting_tokens[] = {"0",     "-1",  "1",   "2147483648", "4294967296",
                                                   "99999999999999999999", "1e308", "nan", "inf",
                                                   "9223372036854775807", "5", "12", "$End"};
  size_t n = *size;
  if (n == 0) return;
  switch (fuzz_below(6)) {
    case 0: buffer[fuzz_below(n)] = (char)fuzz_next(); break;
    case 1: buffer[fuzz_below(n)] = interesting_bytes[fuzz_below(sizeof interesting_bytes - 1)]; break;
    case 2: *size = fuzz_below(n); break;
    case 3: { /* delete a short range */
      size_t at = fuzz_below(n), length = 1 + fuzz_below(16);
      if (length > n - at) length = n - at;
      memmove(buffer + at, buffer + at + length, n - at - length);
      *size = n - length;
      break;
    }
    case 4: { /* duplicate a short range */
      size_t at = fuzz_below(n), length = 1 + fuzz_below(32);
      if (length > n - at) length = n - at;
      if (n + length > size_limit) break;
      memmove(buffer + at + length, buffer + at, n - at);
      *size = n + length;
      break;
    }
    default: { /* replace the token at a random place with an interesting one */
      size_t at = fuzz_below(n), end = at;
      while (end < n && buffer[end] != ' ' && buffer[end] != '\n') ++end;
      const char *token = interesting_tokens[fuzz_below(sizeof interesting_tokens / sizeof *interesting_tokens)];
      size_t length = strlen(token);
      if (n - (end - at) + length > size_limit) break;
      memmove(buffer + at + length, buffer + end, n - end);
      memcpy(buffer + at, token, length);
      *size = n - (end - at) + length;
      break;
    }
  }
}

static void fuzz_file(const char *relative, int iterations, uint64_t seed)
{
  size_t size;
  char *original = read_whole(relative, &size);
  size_t limit = size + 4096;
  char *buffer = malloc(limit);
  ck_assert_ptr_nonnull(buffer);
  fuzz_state = seed;
  int accepted = 0;
  for (int it = 0; it < iterations; ++it) {
    memcpy(buffer, original, size);
    size_t length = size;
    int edits = 1 + (int)fuzz_below(3);
    for (int e = 0; e < edits; ++e) mutate(buffer, &length, limit);
    /* An exact-size copy, so ASan sees any read past the end. */
    char *exact = malloc(length ? length : 1);
    ck_assert_ptr_nonnull(exact);
    memcpy(exact, buffer, length);
    pp_gmsh_mesh mesh;
    pp_error_clear();
    pp_err err = pp_gmsh_read_memory("fuzz.msh", exact, length, &mesh);
    const char *message = pp_error_message();
    if (err == PP_OK) {
      ++accepted;
      ck_assert(mesh.hex_count > 0);
      for (long long k = 0; k < 8 * mesh.hex_count; ++k)
        ck_assert(mesh.hex_nodes[k] >= 0 && mesh.hex_nodes[k] < mesh.node_count);
      for (long long k = 0; k < 4 * mesh.quad_count; ++k)
        ck_assert(mesh.quad_nodes[k] >= 0 && mesh.quad_nodes[k] < mesh.node_count);
      for (long long h = 0; h < mesh.hex_count; ++h) ck_assert(pp_gmsh_hex_volume(&mesh, h) > 0);
      pp_gmsh_free(&mesh);
    } else {
      ck_assert_msg(err == PP_ERR_CONFIG, "%s iteration %d: code %d: %s", relative, it, err, message);
      ck_assert_msg(strncmp(message, "fuzz.msh:", 9) == 0 && strlen(message) > 20,
                    "%s iteration %d: message without position: '%s'", relative, it, message);
      assert_empty(&mesh);
    }
    free(exact);
  }
  printf("fuzz %s: %d edited copies, %d still valid meshes, the rest refused with messages\n", relative, iterations,
         accepted);
  free(buffer);
  free(original);
}

START_TEST(fuzz_small_files)
{
  fuzz_file("tests/gmsh/good_cube_22.msh", 1000, 0x9e3779b97f4a7c15ULL);
  fuzz_file("tests/gmsh/good_cube_41.msh", 1000, 0x2545f4914f6cdd1dULL);
}
END_TEST

START_TEST(fuzz_layered_patch)
{
  fuzz_file(variant_files[0], 100, 0x1234567887654321ULL);
  fuzz_file(variant_files[1], 60, 0x0badc0ffee0ddf00ULL);
  fuzz_file(variant_files[2], 100, 0x5555aaaa5555aaaaULL);
  fuzz_file(variant_files[3], 100, 0x0123456789abcdefULL);
}
END_TEST

static Suite *gmsh_suite(void)
{
  Suite *suite = suite_create("gmsh");
  TCase *good = tcase_create("good meshes");
  tcase_add_test(good, four_variants_parse_alike);
  tcase_add_loop_test(good, layered_patch_layers_volumes_and_boundaries, 0, 4);
  tcase_add_test(good, lesion_patch_has_its_scar);
  tcase_add_test(good, small_files_sparse_tags_and_defaults);
  suite_add_tcase(suite, good);

  TCase *bad = tcase_create("broken meshes");
  tcase_add_loop_test(bad, broken_file_is_refused_with_position, 0, BROKEN_CASE_COUNT);
  tcase_add_test(bad, truncated_in_elements);
  tcase_add_test(bad, binary_truncated_anywhere);
  tcase_add_test(bad, binary_header_errors);
  tcase_add_test(bad, binary_undefined_node_names_element_and_offset);
  tcase_add_test(bad, unreadable_files_are_io_errors);
  suite_add_tcase(suite, bad);

  TCase *fuzz = tcase_create("fuzz");
  tcase_add_test(fuzz, fuzz_small_files);
  tcase_add_test(fuzz, fuzz_layered_patch);
  suite_add_tcase(suite, fuzz);
  return suite;
}

int main(void)
{
  SRunner *runner = srunner_create(gmsh_suite());
  srunner_run_all(runner, CK_NORMAL);
  int failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
