/* gmsh: MSH 2.2 / 4.1 reader (see gmsh.h). Layouts: TOOLCHAIN.md section 6 and the Gmsh
 * reference manual, "MSH file format".
 *
 * The whole file is in memory and read through one cursor (reader) that knows the line of its
 * position, so every message can say where it is. ASCII data is read as whitespace-separated
 * tokens, as Gmsh itself reads it (fscanf), so line breaks inside a record do not matter. Binary
 * files keep ASCII section headers; after a header exactly one '\n' precedes the binary data
 * (no whitespace skipping there: a data byte may look like a space). In a binary file every
 * message gives the byte offset, lines meaning little there. */
#include "gmsh.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------------------------ */
/* Cursor and messages                                                                        */

typedef struct {
  const char *name;
  const unsigned char *data;
  size_t size, pos;
  long long line;       /* line of pos, from 1 */
  int binary;           /* messages give byte offsets */
  size_t at;            /* start of the item being read, for messages */
  long long at_line;
} reader;

static void mark(reader *r)
{
  r->at = r->pos;
  r->at_line = r->line;
}

/* A position as one number: the line (ASCII) or the byte offset (binary). */
static long long where_now(const reader *r)
{
  return r->binary ? (long long)r->at : r->at_line;
}

static void set_where(reader *r, long long where)
{
  if (r->binary)
    r->at = (size_t)where;
  else
    r->at_line = where;
}

static const char *where_word(const reader *r)
{
  return r->binary ? "byte" : "line";
}

__attribute__((format(printf, 4, 5)))
static pp_err gm_fail(const reader *r, int source_line, const char *func, const char *format, ...)
{
  char text[1024];
  va_list args;
  va_start(args, format);
  vsnprintf(text, sizeof text, format, args);
  va_end(args);
  if (r->binary)
    return pp_error_raise(PP_ERR_CONFIG, __FILE__, source_line, func, "%s: byte %zu: %s", r->name, r->at, text);
  return pp_error_raise(PP_ERR_CONFIG, __FILE__, source_line, func, "%s:%lld: %s", r->name, r->at_line, text);
}

#define GM_FAIL(r, ...) return gm_fail((r), __LINE__, __func__, __VA_ARGS__)
#define GM_CHECK(cond, r, ...)                   \
  do {                                           \
    if (!(cond)) GM_FAIL((r), __VA_ARGS__);      \
  } while (0)

static int is_space(unsigned char c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static void skip_space(reader *r)
{
  while (r->pos < r->size && is_space(r->data[r->pos])) {
    if (r->data[r->pos] == '\n') ++r->line;
    ++r->pos;
  }
}

/* The next whitespace-separated token (length 0 at the end of the file); marks its start. */
static size_t next_token(reader *r, const char **text)
{
  skip_space(r);
  mark(r);
  size_t start = r->pos;
  while (r->pos < r->size && !is_space(r->data[r->pos])) ++r->pos;
  *text = (const char *)r->data + start;
  return r->pos - start;
}

static int token_is(const char *text, size_t length, const char *word)
{
  return length == strlen(word) && memcmp(text, word, length) == 0;
}

/* A token for a message: quoted, non-printable bytes escaped, long ones cut; or "the end of the
 * file" for an empty one. */
static const char *describe(const char *text, size_t length, char *out, size_t out_size)
{
  if (length == 0) {
    snprintf(out, out_size, "the end of the file (truncated?)");
    return out;
  }
  size_t o = 0;
  out[o++] = '\'';
  for (size_t i = 0; i < length && o + 8 < out_size; ++i) {
    unsigned char c = (unsigned char)text[i];
    if (i == 40) {
      o += (size_t)snprintf(out + o, out_size - o, "...");
      break;
    }
    if (c >= 0x20 && c < 0x7f)
      out[o++] = (char)c;
    else
      o += (size_t)snprintf(out + o, out_size - o, "\\x%02x", c);
  }
  out[o++] = '\'';
  out[o] = '\0';
  return out;
}

/* `what` is a format with one %lld (the record's number) so that messages cost nothing until
 * they are needed; a description without a number writes "%.0lld" and passes 0 (prints nothing). */
static void what_text(char *out, size_t size, const char *what, long long arg)
{
  snprintf(out, size, what, arg);
}

static pp_err read_integer(reader *r, const char *what, long long arg, long long min, long long max,
                           long long *value)
{
  const char *text;
  size_t length = next_token(r, &text);
  char buffer[64], found[128], thing[256], range[96];
  int ok = length > 0 && length < sizeof buffer;
  long long v = 0;
  int too_large = 0;
  if (ok) {
    memcpy(buffer, text, length);
    buffer[length] = '\0';
    char *end = NULL;
    errno = 0;
    v = strtoll(buffer, &end, 10);
    too_large = errno == ERANGE;
    ok = end == buffer + length && !too_large && v >= min && v <= max;
  }
  if (ok) {
    *value = v;
    return PP_OK;
  }
  what_text(thing, sizeof thing, what, arg);
  if (max == LLONG_MAX)
    snprintf(range, sizeof range, "an integer >= %lld", min);
  else
    snprintf(range, sizeof range, "an integer from %lld to %lld", min, max);
  describe(text, length, found, sizeof found);
  if (too_large) GM_FAIL(r, "expected %s (%s), found %s (too large)", thing, range, found);
  GM_FAIL(r, "expected %s (%s), found %s", thing, range, found);
}

static pp_err read_double(reader *r, const char *what, long long arg, double *value)
{
  const char *text;
  size_t length = next_token(r, &text);
  char buffer[64], found[128], thing[256];
  if (length > 0 && length < sizeof buffer) {
    memcpy(buffer, text, length);
    buffer[length] = '\0';
    char *end = NULL;
    double v = strtod(buffer, &end);
    if (end == buffer + length && isfinite(v)) {
      *value = v;
      return PP_OK;
    }
  }
  what_text(thing, sizeof thing, what, arg);
  GM_FAIL(r, "expected %s (a finite number), found %s", thing, describe(text, length, found, sizeof found));
}

/* A section's closing word, e.g. $EndNodes; opened_at is where the section started. */
static pp_err expect_end(reader *r, const char *word, const char *section, long long opened_at)
{
  const char *text;
  size_t length = next_token(r, &text);
  char found[128];
  GM_CHECK(token_is(text, length, word), r, "expected %s to close %s (opened at %s %lld), found %s", word,
           section, where_word(r), opened_at, describe(text, length, found, sizeof found));
  return PP_OK;
}

/* Binary data follows a header line: exactly one '\n', then the bytes. */
static pp_err binary_line_break(reader *r)
{
  mark(r);
  char found[128];
  GM_CHECK(r->pos < r->size && r->data[r->pos] == '\n', r,
           "expected a line break before the binary data, found %s",
           describe((const char *)r->data + r->pos, r->pos < r->size ? 1 : 0, found, sizeof found));
  ++r->pos;
  ++r->line;
  return PP_OK;
}

static pp_err read_bytes(reader *r, void *out, size_t count, const char *what, long long arg)
{
  mark(r);
  if (r->size - r->pos < count) {
    char thing[256];
    what_text(thing, sizeof thing, what, arg);
    GM_FAIL(r, "expected %s (%zu bytes), found the end of the file after %zu bytes (truncated?)", thing, count,
            r->size - r->pos);
  }
  memcpy(out, r->data + r->pos, count);
  r->pos += count;
  return PP_OK;
}

static pp_err read_int32(reader *r, const char *what, long long arg, long long min, long long max, long long *value)
{
  int32_t v = 0;
  PP_CALL(read_bytes(r, &v, sizeof v, what, arg));
  if (v < min || v > max) {
    char thing[256];
    what_text(thing, sizeof thing, what, arg);
    GM_FAIL(r, "expected %s (a 4-byte integer from %lld to %lld), found %d", thing, min, max, (int)v);
  }
  *value = v;
  return PP_OK;
}

static pp_err read_uint64(reader *r, const char *what, long long arg, long long min, long long max, long long *value)
{
  uint64_t v = 0;
  PP_CALL(read_bytes(r, &v, sizeof v, what, arg));
  if (v < (uint64_t)min || v > (uint64_t)max) {
    char thing[256];
    what_text(thing, sizeof thing, what, arg);
    GM_FAIL(r, "expected %s (an 8-byte unsigned integer from %lld to %lld), found %llu", thing, min, max,
            (unsigned long long)v);
  }
  *value = (long long)v;
  return PP_OK;
}

static pp_err read_float64(reader *r, const char *what, long long arg, double *value)
{
  double v = 0;
  PP_CALL(read_bytes(r, &v, sizeof v, what, arg));
  if (!isfinite(v)) {
    char thing[256];
    what_text(thing, sizeof thing, what, arg);
    GM_FAIL(r, "expected %s (a finite 8-byte number), found %g", thing, v);
  }
  *value = v;
  return PP_OK;
}

/* Values that are ints in one layout and size_t or text in others: one call per kind. */
typedef enum { FIELD_INT, FIELD_SIZE } field_kind;

static pp_err read_field(reader *r, field_kind kind, const char *what, long long arg, long long min, long long max,
                         long long *value)
{
  if (!r->binary) return read_integer(r, what, arg, min, max, value);
  if (kind == FIELD_INT) {
    if (max > INT32_MAX) max = INT32_MAX;
    if (min < INT32_MIN) min = INT32_MIN;
    return read_int32(r, what, arg, min, max, value);
  }
  return read_uint64(r, what, arg, min, max, value);
}

static pp_err read_real(reader *r, const char *what, long long arg, double *value)
{
  return r->binary ? read_float64(r, what, arg, value) : read_double(r, what, arg, value);
}

/* A count must fit in the rest of the file at min_bytes per item: a corrupt count is an error
 * here, not a huge allocation (and products like count * 8 cannot overflow). */
static pp_err check_count(reader *r, long long count, size_t min_bytes, const char *what)
{
  size_t left = r->size - r->pos;
  GM_CHECK((unsigned long long)count <= left / min_bytes, r,
           "expected a count of %s the rest of the file can hold (at most %zu in its %zu bytes), found %lld", what,
           left / min_bytes, left, count);
  return PP_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Parse state                                                                                */

typedef struct {
  int tag;
  long long physical_first, physical_count; /* into entity_physicals */
} entity;

typedef struct {
  int version, binary;
  int has_physical_names, has_entities, has_nodes, has_elements;

  pp_gmsh_physical *physicals;
  int physical_count, physical_capacity;

  entity *entities[4];               /* by dimension (only 2 and 3 are kept) */
  long long entity_count[4];
  int *entity_physicals;
  long long entity_physical_count, entity_physical_capacity;

  /* Nodes in ascending tag after $Nodes (sorted), with where they were read. */
  long long node_count;
  long long *node_tags;
  double *node_coords;
  long long *node_where;
  int node_tags_dense;               /* tags are exactly 1..node_count: index = tag - 1 */

  long long hex_count, hex_capacity;
  long long *hex_nodes, *hex_tags, *hex_where;
  int *hex_physical;

  long long quad_count, quad_capacity;
  long long *quad_nodes, *quad_tags, *quad_where;
  int *quad_physical;

  long long skipped_elements;
} parse_state;

static void state_free(parse_state *s)
{
  for (int i = 0; i < s->physical_count; ++i) free(s->physicals[i].name);
  free(s->physicals);
  for (int d = 0; d < 4; ++d) free(s->entities[d]);
  free(s->entity_physicals);
  free(s->node_tags);
  free(s->node_coords);
  free(s->node_where);
  free(s->hex_nodes);
  free(s->hex_tags);
  free(s->hex_where);
  free(s->hex_physical);
  free(s->quad_nodes);
  free(s->quad_tags);
  free(s->quad_where);
  free(s->quad_physical);
  memset(s, 0, sizeof *s);
}

/* Grow an array to hold at least `needed` items of `size` bytes (doubling). */
static pp_err grow(void **array, long long *capacity, long long needed, size_t size, const char *what)
{
  if (needed <= *capacity) return PP_OK;
  long long next = *capacity ? *capacity : 64;
  while (next < needed) next *= 2;
  void *bigger = realloc(*array, (size_t)next * size);
  PP_CHECK(bigger != NULL, PP_ERR_MEMORY, "out of memory growing %s to %lld items", what, next);
  *array = bigger;
  *capacity = next;
  return PP_OK;
}

/* Grow parallel arrays that share one capacity. A failed realloc leaves every array valid at
 * the old capacity. */
static pp_err grow_together(void **arrays[], const size_t sizes[], int count, long long *capacity, long long needed,
                            const char *what)
{
  if (needed <= *capacity) return PP_OK;
  long long next = *capacity ? 2 * *capacity : 256;
  while (next < needed) next *= 2;
  for (int i = 0; i < count; ++i) {
    void *bigger = realloc(*arrays[i], (size_t)next * sizes[i]);
    PP_CHECK(bigger != NULL, PP_ERR_MEMORY, "out of memory growing %s to %lld items", what, next);
    *arrays[i] = bigger;
  }
  *capacity = next;
  return PP_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Element types                                                                              */

enum { TYPE_LINE = 1, TYPE_TRIANGLE = 2, TYPE_QUAD = 3, TYPE_HEX = 5, TYPE_POINT = 15 };

/* Words for a Gmsh element type, for messages (Gmsh manual, "MSH file format"). */
static const char *type_name(long long type)
{
  switch (type) {
    case 1: return "2-node line";
    case 2: return "3-node triangle";
    case 3: return "4-node quadrangle";
    case 4: return "4-node tetrahedron";
    case 5: return "8-node hexahedron";
    case 6: return "6-node prism";
    case 7: return "5-node pyramid";
    case 8: return "3-node second-order line";
    case 9: return "6-node second-order triangle";
    case 10: return "9-node second-order quadrangle";
    case 11: return "10-node second-order tetrahedron";
    case 12: return "27-node second-order hexahedron";
    case 13: return "18-node second-order prism";
    case 14: return "14-node second-order pyramid";
    case 15: return "1-node point";
    case 16: return "8-node second-order quadrangle";
    case 17: return "20-node second-order hexahedron";
    case 18: return "15-node second-order prism";
    case 19: return "13-node second-order pyramid";
    case 29: return "20-node third-order tetrahedron";
    case 92: return "64-node third-order hexahedron";
    case 93: return "125-node fourth-order hexahedron";
    default: return "higher-order or unknown element";
  }
}

/* Nodes per element of the types pinprick reads; 0 for every other type. */
static int type_nodes(long long type)
{
  switch (type) {
    case TYPE_POINT: return 1;
    case TYPE_LINE: return 2;
    case TYPE_QUAD: return 4;
    case TYPE_HEX: return 8;
    default: return 0;
  }
}

static pp_err unsupported_type(reader *r, long long type, long long element_tag)
{
  /* Types 1-7 and 15 are the first-order ones; everything else is second order or higher. */
  const char *advice = " (set Mesh.ElementOrder = 1)";
  if (type == 2 || type == 4 || type == 6 || type == 7)
    advice = " (mesh with Transfinite and Recombine, or extrude with Layers{...}; Recombine;)";
  GM_FAIL(r,
          "element %lld: expected an 8-node hexahedron (type 5), a 4-node boundary quadrangle (type 3), a line or "
          "a point, found a %s (type %lld)%s: pinprick needs first-order hexahedral meshes",
          element_tag, type_name(type), type, advice);
}

/* ------------------------------------------------------------------------------------------ */
/* Geometry                                                                                   */

/* Reference corners of Gmsh's (= VTK's) hexahedron: 0-3 the face zeta = -1, counter-clockwise
 * seen from zeta = +1, then 4-7 above them. */
static const double hex_corner[8][3] = {{-1, -1, -1}, {1, -1, -1}, {1, 1, -1}, {-1, 1, -1},
                                        {-1, -1, 1},  {1, -1, 1},  {1, 1, 1},  {-1, 1, 1}};

/* det J of the trilinear map at reference point (xi, eta, zeta). At a corner this is the triple
 * product of the three edges leaving it (over 8), so positive at every corner means no corner
 * is folded. */
static double hex_det_jacobian(const double x[8][3], double xi, double eta, double zeta)
{
  double j[3][3] = {{0}};
  for (int a = 0; a < 8; ++a) {
    double sx = hex_corner[a][0], sy = hex_corner[a][1], sz = hex_corner[a][2];
    double d[3] = {sx * (1 + sy * eta) * (1 + sz * zeta) / 8, sy * (1 + sx * xi) * (1 + sz * zeta) / 8,
                   sz * (1 + sx * xi) * (1 + sy * eta) / 8};
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c) j[r][c] += d[r] * x[a][c];
  }
  return j[0][0] * (j[1][1] * j[2][2] - j[1][2] * j[2][1]) - j[0][1] * (j[1][0] * j[2][2] - j[1][2] * j[2][0]) +
         j[0][2] * (j[1][0] * j[2][1] - j[1][1] * j[2][0]);
}

static void hex_coords(const double *coords, const long long *nodes, double x[8][3])
{
  for (int a = 0; a < 8; ++a)
    for (int c = 0; c < 3; ++c) x[a][c] = coords[nodes[a] * 3 + c];
}

/* Refuse a hexahedron that is not a proper trilinear element. Degenerate: |det J| at a corner
 * below 1e-12 of the bounding box's (half-diagonal)^3, i.e. zero to round-off (coincident
 * nodes, a flat element). Mirrored: every corner negative (a node order other than Gmsh's).
 * Inverted: some corners negative (a folded element). */
static pp_err check_hex_geometry(reader *r, long long element_tag, const double x[8][3])
{
  double lo[3], hi[3];
  for (int c = 0; c < 3; ++c) lo[c] = hi[c] = x[0][c];
  for (int a = 1; a < 8; ++a)
    for (int c = 0; c < 3; ++c) {
      if (x[a][c] < lo[c]) lo[c] = x[a][c];
      if (x[a][c] > hi[c]) hi[c] = x[a][c];
    }
  double half_diagonal = 0.5 * sqrt((hi[0] - lo[0]) * (hi[0] - lo[0]) + (hi[1] - lo[1]) * (hi[1] - lo[1]) +
                                    (hi[2] - lo[2]) * (hi[2] - lo[2]));
  double tolerance = 1e-12 * half_diagonal * half_diagonal * half_diagonal;
  int negative = 0, zero = -1, first_negative = -1;
  double det[8];
  for (int a = 0; a < 8; ++a) {
    det[a] = hex_det_jacobian(x, hex_corner[a][0], hex_corner[a][1], hex_corner[a][2]);
    if (!(fabs(det[a]) > tolerance)) {
      if (zero < 0) zero = a;
    } else if (det[a] < 0) {
      ++negative;
      if (first_negative < 0) first_negative = a;
    }
  }
  if (zero >= 0)
    GM_FAIL(r,
            "element %lld (hexahedron): expected a positive Jacobian determinant at every corner, found %.3g at "
            "corner %d: the element is degenerate (zero volume there: coincident or coplanar nodes)",
            element_tag, det[zero], zero);
  if (negative == 8)
    GM_FAIL(r,
            "element %lld (hexahedron): expected a positive Jacobian determinant at every corner, found all 8 "
            "negative: the element is mirrored; pinprick needs Gmsh's node order (corners 0-3 one face, "
            "counter-clockwise seen from the face 4-7 above them)",
            element_tag);
  if (negative > 0)
    GM_FAIL(r,
            "element %lld (hexahedron): expected a positive Jacobian determinant at every corner, found %.3g at "
            "corner %d (%d of 8 corners negative): the element is inverted (folded)",
            element_tag, det[first_negative], first_negative, negative);
  return PP_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Nodes: tag -> index                                                                        */

/* Index (ascending tag order) of node tag, or -1. */
static long long node_index(const parse_state *s, long long tag)
{
  if (s->node_tags_dense) return tag >= 1 && tag <= s->node_count ? tag - 1 : -1;
  long long lo = 0, hi = s->node_count - 1;
  while (lo <= hi) {
    long long mid = lo + (hi - lo) / 2;
    if (s->node_tags[mid] == tag) return mid;
    if (s->node_tags[mid] < tag)
      lo = mid + 1;
    else
      hi = mid - 1;
  }
  return -1;
}

typedef struct {
  long long key, index;
} key_index;

static int compare_key_index(const void *a, const void *b)
{
  const key_index *x = a, *y = b;
  if (x->key != y->key) return x->key < y->key ? -1 : 1;
  return (x->index > y->index) - (x->index < y->index);
}

/* Sort the nodes by tag (the dense numbering) and refuse duplicate tags. */
static pp_err sort_nodes(reader *r, parse_state *s)
{
  long long n = s->node_count;
  if (n == 0) return PP_OK;
  key_index *order = malloc((size_t)n * sizeof *order);
  long long *tags = malloc((size_t)n * sizeof *tags), *where = malloc((size_t)n * sizeof *where);
  double *coords = malloc((size_t)n * 3 * sizeof *coords);
  if (!order || !tags || !where || !coords) {
    free(order), free(tags), free(where), free(coords);
    PP_RAISE(PP_ERR_MEMORY, "out of memory sorting %lld nodes", n);
  }
  for (long long i = 0; i < n; ++i) order[i] = (key_index){s->node_tags[i], i};
  qsort(order, (size_t)n, sizeof *order, compare_key_index);
  for (long long i = 0; i < n; ++i) {
    long long from = order[i].index;
    tags[i] = s->node_tags[from];
    where[i] = s->node_where[from];
    memcpy(coords + 3 * i, s->node_coords + 3 * from, 3 * sizeof *coords);
  }
  free(order);
  free(s->node_tags), free(s->node_where), free(s->node_coords);
  s->node_tags = tags, s->node_where = where, s->node_coords = coords;
  for (long long i = 1; i < n; ++i)
    if (tags[i] == tags[i - 1]) {
      long long first = where[i - 1] < where[i] ? where[i - 1] : where[i];
      set_where(r, where[i - 1] < where[i] ? where[i] : where[i - 1]);
      GM_FAIL(r, "expected a new node tag, found node %lld again (first at %s %lld)", tags[i], where_word(r), first);
    }
  s->node_tags_dense = tags[n - 1] == n;
  return PP_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Elements                                                                                   */

/* One element of a type pinprick reads. where: its position; physicals: the physical tags the
 * element carries (from its entity in 4.1, its first tag in 2.2). */
static pp_err add_element(reader *r, parse_state *s, long long type, long long tag, const long long *node_tags,
                          const int *physicals, long long physical_count, long long where)
{
  int nodes = type_nodes(type);
  long long index[8];
  for (int a = 0; a < nodes; ++a) {
    index[a] = node_index(s, node_tags[a]);
    if (index[a] < 0) {
      set_where(r, where);
      GM_FAIL(r, "element %lld (%s): expected node tags defined in $Nodes, found node %lld (not defined)", tag,
              type_name(type), node_tags[a]);
    }
  }
  if (type == TYPE_POINT || type == TYPE_LINE) {
    ++s->skipped_elements;
    return PP_OK;
  }
  for (int a = 0; a < nodes; ++a)
    for (int b = a + 1; b < nodes; ++b)
      if (index[a] == index[b]) {
        set_where(r, where);
        GM_FAIL(r, "element %lld (%s): expected %d distinct nodes, found node %lld at corners %d and %d: the "
                "element is degenerate", tag, type_name(type), nodes, node_tags[a], a, b);
      }
  if (type == TYPE_HEX) {
    set_where(r, where);
    double x[8][3];
    hex_coords(s->node_coords, index, x);
    PP_CALL(check_hex_geometry(r, tag, x));
    GM_CHECK(physical_count <= 1, r,
             "element %lld (hexahedron): expected one physical volume (one layer) per hexahedron, found %lld "
             "(physical tags %d and %d)", tag, physical_count, physicals[0], physicals[1]);
    long long h = s->hex_count;
    void **arrays[] = {(void **)&s->hex_nodes, (void **)&s->hex_tags, (void **)&s->hex_where,
                       (void **)&s->hex_physical};
    const size_t sizes[] = {8 * sizeof *s->hex_nodes, sizeof *s->hex_tags, sizeof *s->hex_where,
                            sizeof *s->hex_physical};
    PP_CALL(grow_together(arrays, sizes, 4, &s->hex_capacity, h + 1, "the hexahedra"));
    memcpy(s->hex_nodes + 8 * h, index, sizeof index);
    s->hex_tags[h] = tag;
    s->hex_where[h] = where;
    s->hex_physical[h] = physical_count ? physicals[0] : 0;
    s->hex_count = h + 1;
    return PP_OK;
  }
  /* A quadrangle: one copy per physical surface it belongs to (boundary sets may overlap). */
  long long copies = physical_count ? physical_count : 1;
  for (long long k = 0; k < copies; ++k) {
    long long q = s->quad_count;
    void **arrays[] = {(void **)&s->quad_nodes, (void **)&s->quad_tags, (void **)&s->quad_where,
                       (void **)&s->quad_physical};
    const size_t sizes[] = {4 * sizeof *s->quad_nodes, sizeof *s->quad_tags, sizeof *s->quad_where,
                            sizeof *s->quad_physical};
    PP_CALL(grow_together(arrays, sizes, 4, &s->quad_capacity, q + 1, "the quadrangles"));
    memcpy(s->quad_nodes + 4 * q, index, 4 * sizeof *index);
    s->quad_tags[q] = tag;
    s->quad_where[q] = where;
    s->quad_physical[q] = physical_count ? physicals[k] : 0;
    s->quad_count = q + 1;
  }
  return PP_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Sections                                                                                   */

static pp_err read_mesh_format(reader *r, parse_state *s)
{
  long long opened = where_now(r);
  const char *text;
  char found[128];
  size_t length = next_token(r, &text);
  if (token_is(text, length, "2.2"))
    s->version = 22;
  else if (token_is(text, length, "4.1"))
    s->version = 41;
  else
    GM_FAIL(r, "expected MSH version 2.2 or 4.1, found version %s (save with gmsh -format msh41 or -format msh22)",
            describe(text, length, found, sizeof found));
  long long file_type, data_size;
  PP_CALL(read_integer(r, "the file type (%lld: ASCII, 1: binary)", 0, 0, 1, &file_type));
  PP_CALL(read_integer(r, "the data size%.0lld", 0, 0, LLONG_MAX, &data_size));
  GM_CHECK(data_size == 8, r, "expected data size 8 (8-byte size_t and double), found %lld", data_size);
  s->binary = (int)file_type;
  if (s->binary) {
    PP_CALL(binary_line_break(r));
    r->binary = 1;
    int32_t one = 0;
    PP_CALL(read_bytes(r, &one, sizeof one, "the byte-order marker (the 4-byte integer %lld)", 1));
    GM_CHECK(one != 0x01000000, r,
             "expected the byte-order marker 1, found it byte-swapped: the file was written on a machine of the "
             "other byte order (save it as ASCII there: gmsh -format msh41 without -bin)");
    GM_CHECK(one == 1, r, "expected the byte-order marker (the 4-byte integer 1), found %d", (int)one);
  }
  return expect_end(r, "$EndMeshFormat", "$MeshFormat", opened);
}

/* Physical names are ASCII in every variant: dim tag "name". */
static pp_err read_physical_names(reader *r, parse_state *s)
{
  long long opened = where_now(r);
  long long count;
  PP_CALL(read_integer(r, "the number of physical names%.0lld", 0, 0, LLONG_MAX, &count));
  PP_CALL(check_count(r, count, 6, "physical names"));
  s->physicals = calloc(count ? (size_t)count : 1, sizeof *s->physicals);
  PP_CHECK(s->physicals != NULL, PP_ERR_MEMORY, "out of memory for %lld physical names", count);
  s->physical_capacity = (int)(count < INT_MAX ? count : INT_MAX);
  for (long long i = 0; i < count; ++i) {
    long long dim, tag;
    PP_CALL(read_integer(r, "the dimension of physical name %lld (0-3)", i + 1, 0, 3, &dim));
    PP_CALL(read_integer(r, "the tag of physical name %lld", i + 1, 1, INT_MAX, &tag));
    skip_space(r);
    mark(r);
    char found[128];
    GM_CHECK(r->pos < r->size && r->data[r->pos] == '"', r, "expected the quoted name of physical group %lld, found %s",
             tag, describe((const char *)r->data + r->pos, r->pos < r->size ? 1 : 0, found, sizeof found));
    size_t start = ++r->pos;
    while (r->pos < r->size && r->data[r->pos] != '"' && r->data[r->pos] != '\n') ++r->pos;
    GM_CHECK(r->pos < r->size && r->data[r->pos] == '"', r,
             "expected a closing quote after the name of physical group %lld on the same line, found %s", tag,
             r->pos < r->size ? "the end of the line" : "the end of the file (truncated?)");
    size_t name_length = r->pos - start;
    ++r->pos;
    for (int k = 0; k < s->physical_count; ++k)
      GM_CHECK(s->physicals[k].dim != dim || s->physicals[k].tag != tag, r,
               "expected one name per physical group, found a second name for dimension %lld tag %lld", dim, tag);
    pp_gmsh_physical *p = &s->physicals[s->physical_count];
    p->name = malloc(name_length + 1);
    PP_CHECK(p->name != NULL, PP_ERR_MEMORY, "out of memory for a physical name");
    memcpy(p->name, r->data + start, name_length);
    p->name[name_length] = '\0';
    p->dim = (int)dim;
    p->tag = (int)tag;
    ++s->physical_count;
  }
  return expect_end(r, "$EndPhysicalNames", "$PhysicalNames", opened);
}

/* MSH 4.1 $Entities: only the physical tags of surfaces and volumes are kept (element blocks
 * refer to an entity, and its physical groups are the element's). */
static pp_err read_entities(reader *r, parse_state *s)
{
  long long opened = where_now(r);
  if (r->binary) PP_CALL(binary_line_break(r));
  static const char *const count_what[4] = {"the number of points in $Entities%.0lld",
                                            "the number of curves in $Entities%.0lld",
                                            "the number of surfaces in $Entities%.0lld",
                                            "the number of volumes in $Entities%.0lld"};
  static const char *const tag_what[4] = {"the tag of point %lld in $Entities", "the tag of curve %lld in $Entities",
                                          "the tag of surface %lld in $Entities",
                                          "the tag of volume %lld in $Entities"};
  long long counts[4];
  for (int d = 0; d < 4; ++d) PP_CALL(read_field(r, FIELD_SIZE, count_what[d], 0, 0, LLONG_MAX, &counts[d]));
  for (int d = 0; d < 4; ++d) {
    /* Smallest record: ASCII "t x y z n" (10 bytes), binary point 4+24+8, others more. */
    PP_CALL(check_count(r, counts[d], r->binary ? 36 : 10, "entities"));
    if (d >= 2) {
      s->entities[d] = calloc(counts[d] ? (size_t)counts[d] : 1, sizeof *s->entities[d]);
      PP_CHECK(s->entities[d] != NULL, PP_ERR_MEMORY, "out of memory for %lld entities", counts[d]);
      s->entity_count[d] = counts[d];
    }
    for (long long i = 0; i < counts[d]; ++i) {
      long long tag, physical_count, bounding_count;
      double unused;
      PP_CALL(read_field(r, FIELD_INT, tag_what[d], i + 1, INT_MIN, INT_MAX, &tag));
      for (int k = 0; k < (d == 0 ? 3 : 6); ++k)
        PP_CALL(read_real(r, "a coordinate of the bounding box of entity %lld", tag, &unused));
      PP_CALL(read_field(r, FIELD_SIZE, "the number of physical tags of entity %lld", tag, 0, LLONG_MAX,
                         &physical_count));
      PP_CALL(check_count(r, physical_count, r->binary ? 4 : 2, "physical tags"));
      if (d >= 2) {
        PP_CALL(grow((void **)&s->entity_physicals, &s->entity_physical_capacity,
                     s->entity_physical_count + physical_count, sizeof *s->entity_physicals, "entity physical tags"));
        s->entities[d][i] = (entity){(int)tag, s->entity_physical_count, physical_count};
      }
      for (long long k = 0; k < physical_count; ++k) {
        long long physical;
        PP_CALL(read_field(r, FIELD_INT, "a physical tag of entity %lld", tag, INT_MIN, INT_MAX, &physical));
        /* Gmsh writes the tag of a group and its negative for an orientation; the group is |tag|. */
        if (d >= 2) s->entity_physicals[s->entity_physical_count++] = (int)(physical < 0 ? -physical : physical);
      }
      if (d == 0) continue;
      PP_CALL(read_field(r, FIELD_SIZE, "the number of bounding entities of entity %lld", tag, 0, LLONG_MAX,
                         &bounding_count));
      PP_CALL(check_count(r, bounding_count, r->binary ? 4 : 2, "bounding entities"));
      for (long long k = 0; k < bounding_count; ++k) {
        long long bounding;
        PP_CALL(read_field(r, FIELD_INT, "a bounding entity of entity %lld", tag, INT_MIN, INT_MAX, &bounding));
      }
    }
  }
  return expect_end(r, "$EndEntities", "$Entities", opened);
}

static pp_err allocate_nodes(parse_state *s, long long count)
{
  s->node_count = count;
  size_t n = count ? (size_t)count : 1;
  s->node_tags = malloc(n * sizeof *s->node_tags);
  s->node_where = malloc(n * sizeof *s->node_where);
  s->node_coords = malloc(n * 3 * sizeof *s->node_coords);
  PP_CHECK(s->node_tags && s->node_where && s->node_coords, PP_ERR_MEMORY, "out of memory for %lld nodes", count);
  return PP_OK;
}

static pp_err read_nodes_22(reader *r, parse_state *s)
{
  long long opened = where_now(r), count;
  PP_CALL(read_integer(r, "the number of nodes%.0lld", 0, 0, LLONG_MAX, &count));
  if (r->binary) PP_CALL(binary_line_break(r));
  PP_CALL(check_count(r, count, r->binary ? 28 : 8, "nodes"));
  PP_CALL(allocate_nodes(s, count));
  for (long long i = 0; i < count; ++i) {
    long long tag;
    PP_CALL(read_field(r, FIELD_INT, "the tag of node %lld (of the count above)", i + 1, 1, LLONG_MAX, &tag));
    s->node_tags[i] = tag;
    s->node_where[i] = where_now(r);
    for (int c = 0; c < 3; ++c)
      PP_CALL(read_real(r, c == 0 ? "the x coordinate of node %lld" : c == 1 ? "the y coordinate of node %lld"
                                                                              : "the z coordinate of node %lld",
                        tag, &s->node_coords[3 * i + c]));
  }
  PP_CALL(expect_end(r, "$EndNodes", "$Nodes", opened));
  return sort_nodes(r, s);
}

static pp_err read_nodes_41(reader *r, parse_state *s)
{
  long long opened = where_now(r);
  if (r->binary) PP_CALL(binary_line_break(r));
  long long block_count, count, min_tag, max_tag;
  PP_CALL(read_field(r, FIELD_SIZE, "the number of node blocks%.0lld", 0, 0, LLONG_MAX, &block_count));
  PP_CALL(read_field(r, FIELD_SIZE, "the number of nodes%.0lld", 0, 0, LLONG_MAX, &count));
  PP_CALL(check_count(r, count, r->binary ? 32 : 8, "nodes"));
  PP_CALL(read_field(r, FIELD_SIZE, "the smallest node tag%.0lld", 0, 0, LLONG_MAX, &min_tag));
  PP_CALL(read_field(r, FIELD_SIZE, "the largest node tag%.0lld", 0, 0, LLONG_MAX, &max_tag));
  PP_CALL(check_count(r, block_count, r->binary ? 20 : 8, "node blocks"));
  PP_CALL(allocate_nodes(s, count));
  long long done = 0;
  for (long long b = 0; b < block_count; ++b) {
    long long dim, entity_tag, parametric, in_block;
    PP_CALL(read_field(r, FIELD_INT, "the entity dimension of node block %lld (0-3)", b + 1, 0, 3, &dim));
    PP_CALL(read_field(r, FIELD_INT, "the entity tag of node block %lld", b + 1, INT_MIN, INT_MAX, &entity_tag));
    PP_CALL(read_field(r, FIELD_INT, "the parametric flag of node block %lld (0 or 1)", b + 1, 0, 1, &parametric));
    PP_CALL(read_field(r, FIELD_SIZE, "the number of nodes in node block %lld", b + 1, 0, LLONG_MAX, &in_block));
    GM_CHECK(in_block <= count - done, r,
             "expected node blocks adding up to the %lld nodes of the $Nodes header, found a block of %lld with %lld "
             "already read", count, in_block, done);
    for (long long i = 0; i < in_block; ++i) {
      PP_CALL(read_field(r, FIELD_SIZE, "the tag of node %lld of its block", i + 1, 1, LLONG_MAX,
                         &s->node_tags[done + i]));
      s->node_where[done + i] = where_now(r);
    }
    for (long long i = 0; i < in_block; ++i) {
      long long tag = s->node_tags[done + i];
      for (int c = 0; c < 3; ++c)
        PP_CALL(read_real(r, c == 0 ? "the x coordinate of node %lld" : c == 1 ? "the y coordinate of node %lld"
                                                                                : "the z coordinate of node %lld",
                          tag, &s->node_coords[3 * (done + i) + c]));
      for (long long k = 0; k < (parametric ? dim : 0); ++k) {
        double unused;
        PP_CALL(read_real(r, "a parametric coordinate of node %lld", tag, &unused));
      }
      /* Where a node is named in messages: its coordinates' line (ASCII), its tag's offset (binary). */
      if (!r->binary) s->node_where[done + i] = where_now(r);
    }
    done += in_block;
  }
  GM_CHECK(done == count, r, "expected %lld nodes (the $Nodes header), found %lld in its blocks", count, done);
  PP_CALL(expect_end(r, "$EndNodes", "$Nodes", opened));
  return sort_nodes(r, s);
}

/* Physical tags of entity (dim, tag) in $Entities. */
static pp_err entity_physicals(reader *r, const parse_state *s, long long block, long long dim, long long tag,
                               const int **physicals, long long *count)
{
  *physicals = NULL;
  *count = 0;
  if (!s->has_entities || dim < 2) return PP_OK;
  for (long long i = 0; i < s->entity_count[dim]; ++i)
    if (s->entities[dim][i].tag == tag) {
      *physicals = s->entity_physicals + s->entities[dim][i].physical_first;
      *count = s->entities[dim][i].physical_count;
      return PP_OK;
    }
  GM_FAIL(r, "element block %lld: expected its %s %lld in $Entities, found no such entity", block,
          dim == 3 ? "volume" : "surface", tag);
}

static pp_err read_elements_41(reader *r, parse_state *s)
{
  long long opened = where_now(r);
  if (r->binary) PP_CALL(binary_line_break(r));
  long long block_count, count, min_tag, max_tag;
  PP_CALL(read_field(r, FIELD_SIZE, "the number of element blocks%.0lld", 0, 0, LLONG_MAX, &block_count));
  PP_CALL(read_field(r, FIELD_SIZE, "the number of elements%.0lld", 0, 0, LLONG_MAX, &count));
  PP_CALL(check_count(r, count, r->binary ? 16 : 4, "elements"));
  PP_CALL(read_field(r, FIELD_SIZE, "the smallest element tag%.0lld", 0, 0, LLONG_MAX, &min_tag));
  PP_CALL(read_field(r, FIELD_SIZE, "the largest element tag%.0lld", 0, 0, LLONG_MAX, &max_tag));
  PP_CALL(check_count(r, block_count, r->binary ? 20 : 8, "element blocks"));
  long long done = 0;
  for (long long b = 0; b < block_count; ++b) {
    long long dim, entity_tag, type, in_block;
    PP_CALL(read_field(r, FIELD_INT, "the entity dimension of element block %lld (0-3)", b + 1, 0, 3, &dim));
    PP_CALL(read_field(r, FIELD_INT, "the entity tag of element block %lld", b + 1, INT_MIN, INT_MAX, &entity_tag));
    PP_CALL(read_field(r, FIELD_INT, "the element type of element block %lld", b + 1, 1, INT_MAX, &type));
    PP_CALL(read_field(r, FIELD_SIZE, "the number of elements in element block %lld", b + 1, 0, LLONG_MAX,
                       &in_block));
    long long block_where = where_now(r);
    GM_CHECK(in_block <= count - done, r,
             "expected element blocks adding up to the %lld elements of the $Elements header, found a block of %lld "
             "with %lld already read", count, in_block, done);
    int nodes = type_nodes(type);
    if (nodes == 0 && in_block > 0) {
      /* Name the first element of the block, at the element's own position. */
      long long first_tag;
      PP_CALL(read_field(r, FIELD_SIZE, "the tag of element %lld of its block", 1, 1, LLONG_MAX, &first_tag));
      return unsupported_type(r, type, first_tag);
    }
    GM_CHECK(type != TYPE_HEX || dim == 3, r,
             "expected hexahedra in a volume (entity dimension 3), found them in an entity of dimension %lld", dim);
    const int *physicals = NULL;
    long long physical_count = 0;
    if (type == TYPE_HEX || type == TYPE_QUAD) {
      set_where(r, block_where);
      PP_CALL(entity_physicals(r, s, b + 1, dim, entity_tag, &physicals, &physical_count));
    }
    for (long long i = 0; i < in_block; ++i) {
      long long tag, node_tags[8];
      PP_CALL(read_field(r, FIELD_SIZE, "the tag of element %lld of its block", i + 1, 1, LLONG_MAX, &tag));
      long long element_where = where_now(r);
      for (int a = 0; a < nodes; ++a)
        PP_CALL(read_field(r, FIELD_SIZE, "a node tag of element %lld", tag, 1, LLONG_MAX, &node_tags[a]));
      PP_CALL(add_element(r, s, type, tag, node_tags, physicals, physical_count, element_where));
    }
    done += in_block;
  }
  GM_CHECK(done == count, r, "expected %lld elements (the $Elements header), found %lld in its blocks", count, done);
  return expect_end(r, "$EndElements", "$Elements", opened);
}

/* MSH 2.2: ASCII lines "tag type ntags tags... nodes..."; binary blocks of one type with a
 * header "type count ntags" and records "tag tags... nodes..." (all 4-byte ints). The first tag
 * is the physical group. */
static pp_err read_elements_22(reader *r, parse_state *s)
{
  long long opened = where_now(r), count;
  PP_CALL(read_integer(r, "the number of elements%.0lld", 0, 0, LLONG_MAX, &count));
  if (r->binary) PP_CALL(binary_line_break(r));
  PP_CALL(check_count(r, count, 8, "elements"));
  long long done = 0;
  while (done < count) {
    long long type = 0, in_block = 1, tag_count = 0;
    if (r->binary) {
      PP_CALL(read_int32(r, "the element type of an element block%.0lld", 0, 1, INT_MAX, &type));
      PP_CALL(read_int32(r, "the number of elements in an element block%.0lld", 0, 1, INT_MAX, &in_block));
      PP_CALL(read_int32(r, "the number of tags of an element block%.0lld", 0, 0, INT_MAX, &tag_count));
      GM_CHECK(in_block <= count - done, r,
               "expected element blocks adding up to the %lld elements of the $Elements header, found a block of "
               "%lld with %lld already read", count, in_block, done);
      PP_CALL(check_count(r, tag_count, 4, "element tags"));
    }
    for (long long i = 0; i < in_block; ++i) {
      long long tag;
      PP_CALL(read_field(r, FIELD_INT, "the tag of element %lld (of the count above)", done + i + 1, 1, INT_MAX, &tag));
      long long element_where = where_now(r);
      if (!r->binary) {
        PP_CALL(read_integer(r, "the type of element %lld", tag, 1, INT_MAX, &type));
        PP_CALL(read_integer(r, "the number of tags of element %lld", tag, 0, 1000, &tag_count));
      }
      int nodes = type_nodes(type);
      if (nodes == 0) {
        set_where(r, element_where);
        return unsupported_type(r, type, tag);
      }
      int physical = 0;
      for (long long k = 0; k < tag_count; ++k) {
        long long value;
        PP_CALL(read_field(r, FIELD_INT, "a tag of element %lld", tag, INT_MIN, INT_MAX, &value));
        if (k == 0) physical = (int)(value < 0 ? -value : value);
      }
      long long node_tags[8];
      for (int a = 0; a < nodes; ++a)
        PP_CALL(read_field(r, FIELD_INT, "a node tag of element %lld", tag, 1, INT_MAX, &node_tags[a]));
      PP_CALL(add_element(r, s, type, tag, node_tags, &physical, physical ? 1 : 0, element_where));
    }
    done += in_block;
  }
  return expect_end(r, "$EndElements", "$Elements", opened);
}

/* A section pinprick does not use ($Periodic, $NodeData, ...): skip to its $End line. The name
 * is a plain word of at most 60 characters (is_section_name). */
static pp_err skip_section(reader *r, const char *name, size_t name_length)
{
  char end[80];
  long long opened = where_now(r);
  snprintf(end, sizeof end, "$End%.*s", (int)name_length - 1, name + 1);
  size_t end_length = strlen(end);
  while (r->pos < r->size) {
    if (r->data[r->pos] == '\n') {
      ++r->line;
      if (r->size - r->pos - 1 >= end_length && memcmp(r->data + r->pos + 1, end, end_length) == 0 &&
          (r->pos + 1 + end_length == r->size || is_space(r->data[r->pos + 1 + end_length]))) {
        r->pos += 1 + end_length;
        return PP_OK;
      }
    }
    ++r->pos;
  }
  mark(r);
  GM_FAIL(r, "expected %s to close %.*s (opened at %s %lld), found the end of the file (truncated?)", end,
          (int)name_length, name, where_word(r), opened);
}

/* ------------------------------------------------------------------------------------------ */
/* After the last section                                                                     */

typedef struct {
  long long key[8];
  long long index;
} hex_key;

static int compare_hex_key(const void *a, const void *b)
{
  const hex_key *x = a, *y = b;
  for (int k = 0; k < 8; ++k)
    if (x->key[k] != y->key[k]) return x->key[k] < y->key[k] ? -1 : 1;
  return (x->index > y->index) - (x->index < y->index);
}

static int compare_long_long(const void *a, const void *b)
{
  long long x = *(const long long *)a, y = *(const long long *)b;
  return (x > y) - (x < y);
}

/* Refuse duplicate element tags and the same hexahedron twice (MSH 2.2 repeats an element for
 * each physical group it is in: a volume in two layers would double its mass). */
static pp_err check_duplicate_hexes(reader *r, const parse_state *s)
{
  long long n = s->hex_count;
  if (n < 2) return PP_OK;
  hex_key *keys = malloc((size_t)n * sizeof *keys);
  PP_CHECK(keys != NULL, PP_ERR_MEMORY, "out of memory checking %lld hexahedra", n);
  for (long long h = 0; h < n; ++h) {
    keys[h].key[0] = s->hex_tags[h];
    keys[h].index = h;
  }
  qsort(keys, (size_t)n, sizeof *keys, compare_hex_key);
  for (long long i = 1; i < n; ++i)
    if (keys[i].key[0] == keys[i - 1].key[0]) {
      long long first = s->hex_where[keys[i - 1].index], tag = keys[i].key[0];
      set_where(r, s->hex_where[keys[i].index]);
      free(keys);
      GM_FAIL(r, "expected unique element tags, found element %lld again (first at %s %lld)", tag, where_word(r),
              first);
    }
  for (long long h = 0; h < n; ++h) {
    memcpy(keys[h].key, s->hex_nodes + 8 * h, sizeof keys[h].key);
    qsort(keys[h].key, 8, sizeof keys[h].key[0], compare_long_long);
    keys[h].index = h;
  }
  qsort(keys, (size_t)n, sizeof *keys, compare_hex_key);
  for (long long i = 1; i < n; ++i)
    if (memcmp(keys[i].key, keys[i - 1].key, sizeof keys[i].key) == 0) {
      long long a = keys[i - 1].index, b = keys[i].index;
      set_where(r, s->hex_where[b]);
      long long first_tag = s->hex_tags[a], first_where = s->hex_where[a], tag = s->hex_tags[b];
      free(keys);
      GM_FAIL(r,
              "element %lld (hexahedron): expected each hexahedron once, found the same 8 nodes as element %lld (%s "
              "%lld): is the volume in two physical groups?", tag, first_tag, where_word(r), first_where);
    }
  free(keys);
  return PP_OK;
}

typedef struct {
  long long tag;
  int physical;
  long long index;
} quad_key;

static int compare_quad_key(const void *a, const void *b)
{
  const quad_key *x = a, *y = b;
  if (x->tag != y->tag) return x->tag < y->tag ? -1 : 1;
  if (x->physical != y->physical) return x->physical < y->physical ? -1 : 1;
  return (x->index > y->index) - (x->index < y->index);
}

/* Move the result into mesh: nodes on no hexahedron dropped, hexahedra by tag, quadrangles by
 * (tag, physical). */
static pp_err finish(reader *r, parse_state *s, pp_gmsh_mesh *mesh)
{
  GM_CHECK(s->hex_count > 0, r, "expected 8-node hexahedra (type 5) in $Elements, found none");
  PP_CALL(check_duplicate_hexes(r, s));

  long long n = s->node_count;
  long long *new_index = malloc((size_t)n * sizeof *new_index);
  PP_CHECK(new_index != NULL, PP_ERR_MEMORY, "out of memory renumbering %lld nodes", n);
  for (long long i = 0; i < n; ++i) new_index[i] = -1;
  for (long long k = 0; k < 8 * s->hex_count; ++k) new_index[s->hex_nodes[k]] = 0;
  long long used = 0;
  for (long long i = 0; i < n; ++i)
    if (new_index[i] == 0) new_index[i] = used++;
  for (long long k = 0; k < 4 * s->quad_count; ++k)
    if (new_index[s->quad_nodes[k]] < 0) {
      long long q = k / 4, tag = s->node_tags[s->quad_nodes[k]];
      set_where(r, s->quad_where[q]);
      free(new_index);
      GM_FAIL(r, "element %lld (boundary quadrangle): expected nodes of hexahedra, found node %lld (on no hexahedron)",
              s->quad_tags[q], tag);
    }

  mesh->version = s->version;
  mesh->binary = s->binary;
  mesh->node_count = used;
  mesh->unused_node_count = n - used;
  mesh->hex_count = s->hex_count;
  mesh->quad_count = s->quad_count;
  mesh->skipped_element_count = s->skipped_elements;
  mesh->node_coords = malloc((size_t)used * 3 * sizeof *mesh->node_coords);
  mesh->node_tags = malloc((size_t)used * sizeof *mesh->node_tags);
  mesh->hex_nodes = malloc((size_t)s->hex_count * 8 * sizeof *mesh->hex_nodes);
  mesh->hex_tags = malloc((size_t)s->hex_count * sizeof *mesh->hex_tags);
  mesh->hex_physical = malloc((size_t)s->hex_count * sizeof *mesh->hex_physical);
  size_t quads = s->quad_count ? (size_t)s->quad_count : 1;
  mesh->quad_nodes = malloc(quads * 4 * sizeof *mesh->quad_nodes);
  mesh->quad_tags = malloc(quads * sizeof *mesh->quad_tags);
  mesh->quad_physical = malloc(quads * sizeof *mesh->quad_physical);
  key_index *order = malloc((size_t)s->hex_count * sizeof *order);
  if (!mesh->node_coords || !mesh->node_tags || !mesh->hex_nodes || !mesh->hex_tags || !mesh->hex_physical ||
      !mesh->quad_nodes || !mesh->quad_tags || !mesh->quad_physical || !order) {
    free(new_index);
    free(order);
    PP_RAISE(PP_ERR_MEMORY, "out of memory for a mesh of %lld nodes and %lld hexahedra", used, s->hex_count);
  }
  for (long long i = 0; i < n; ++i)
    if (new_index[i] >= 0) {
      mesh->node_tags[new_index[i]] = s->node_tags[i];
      memcpy(mesh->node_coords + 3 * new_index[i], s->node_coords + 3 * i, 3 * sizeof(double));
    }

  for (long long h = 0; h < s->hex_count; ++h) order[h] = (key_index){s->hex_tags[h], h};
  qsort(order, (size_t)s->hex_count, sizeof *order, compare_key_index);
  for (long long h = 0; h < s->hex_count; ++h) {
    long long from = order[h].index;
    for (int a = 0; a < 8; ++a) mesh->hex_nodes[8 * h + a] = new_index[s->hex_nodes[8 * from + a]];
    mesh->hex_tags[h] = s->hex_tags[from];
    mesh->hex_physical[h] = s->hex_physical[from];
  }

  /* Quadrangles: by tag, then physical tag (a quadrangle in two groups is listed twice). */
  quad_key *quad_order = malloc((s->quad_count ? (size_t)s->quad_count : 1) * sizeof *quad_order);
  if (!quad_order) {
    free(new_index);
    free(order);
    PP_RAISE(PP_ERR_MEMORY, "out of memory sorting %lld quadrangles", s->quad_count);
  }
  for (long long q = 0; q < s->quad_count; ++q) quad_order[q] = (quad_key){s->quad_tags[q], s->quad_physical[q], q};
  if (s->quad_count) qsort(quad_order, (size_t)s->quad_count, sizeof *quad_order, compare_quad_key);
  for (long long q = 0; q < s->quad_count; ++q) {
    long long from = quad_order[q].index;
    for (int a = 0; a < 4; ++a) mesh->quad_nodes[4 * q + a] = new_index[s->quad_nodes[4 * from + a]];
    mesh->quad_tags[q] = s->quad_tags[from];
    mesh->quad_physical[q] = s->quad_physical[from];
  }
  free(quad_order);
  free(order);
  free(new_index);

  mesh->physical_count = s->physical_count;
  mesh->physicals = s->physicals;
  s->physicals = NULL;
  s->physical_count = 0;
  return PP_OK;
}

/* "$Name" with a plain name (letters, digits, '_'): only such a section is skipped unread, so
 * a corrupt byte is reported as what it is rather than as a section name. */
static int is_section_name(const char *text, size_t length)
{
  if (length < 2 || length > 60 || text[0] != '$') return 0;
  for (size_t i = 1; i < length; ++i) {
    char c = text[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return 0;
  }
  return 1;
}

static pp_err parse(reader *r, parse_state *s, pp_gmsh_mesh *mesh)
{
  const char *text;
  char found[128];
  size_t length = next_token(r, &text);
  GM_CHECK(token_is(text, length, "$MeshFormat"), r, "expected $MeshFormat at the start of a Gmsh mesh file, found %s",
           describe(text, length, found, sizeof found));
  PP_CALL(read_mesh_format(r, s));
  long long nodes_at = 0, elements_at = 0, entities_at = 0, names_at = 0;
  for (;;) {
    length = next_token(r, &text);
    if (length == 0) break;
    long long here = where_now(r);
    if (token_is(text, length, "$Nodes")) {
      GM_CHECK(!s->has_nodes, r, "expected one $Nodes section, found a second one (the first at %s %lld)",
               where_word(r), nodes_at);
      s->has_nodes = 1;
      nodes_at = here;
      PP_CALL(s->version == 41 ? read_nodes_41(r, s) : read_nodes_22(r, s));
    } else if (token_is(text, length, "$Elements")) {
      GM_CHECK(!s->has_elements, r, "expected one $Elements section, found a second one (the first at %s %lld)",
               where_word(r), elements_at);
      GM_CHECK(s->has_nodes, r,
               "expected $Nodes before $Elements (the order Gmsh writes: $MeshFormat, $PhysicalNames, $Entities, "
               "$Nodes, $Elements), found $Elements first");
      s->has_elements = 1;
      elements_at = here;
      PP_CALL(s->version == 41 ? read_elements_41(r, s) : read_elements_22(r, s));
    } else if (token_is(text, length, "$Entities") && s->version == 41) {
      GM_CHECK(!s->has_entities, r, "expected one $Entities section, found a second one (the first at %s %lld)",
               where_word(r), entities_at);
      GM_CHECK(!s->has_elements, r,
               "expected $Entities before $Elements (the order Gmsh writes: $MeshFormat, $PhysicalNames, $Entities, "
               "$Nodes, $Elements), found $Entities after $Elements");
      s->has_entities = 1;
      entities_at = here;
      PP_CALL(read_entities(r, s));
    } else if (token_is(text, length, "$PhysicalNames")) {
      GM_CHECK(!s->has_physical_names, r,
               "expected one $PhysicalNames section, found a second one (the first at %s %lld)", where_word(r),
               names_at);
      s->has_physical_names = 1;
      names_at = here;
      PP_CALL(read_physical_names(r, s));
    } else if (token_is(text, length, "$PartitionedEntities")) {
      GM_FAIL(r, "expected an unpartitioned mesh, found $PartitionedEntities: save the mesh without partitions "
              "(pinprick partitions it itself)");
    } else if (token_is(text, length, "$MeshFormat")) {
      GM_FAIL(r, "expected one $MeshFormat section, found a second one");
    } else if (is_section_name(text, length) && !(length >= 4 && memcmp(text, "$End", 4) == 0)) {
      PP_CALL(skip_section(r, text, length));
    } else {
      GM_FAIL(r, "expected a section ($Nodes, $Elements, ...), found %s", describe(text, length, found, sizeof found));
    }
  }
  mark(r);
  GM_CHECK(s->has_nodes, r, "expected a $Nodes section, found the end of the file");
  GM_CHECK(s->has_elements, r, "expected an $Elements section, found the end of the file");
  return finish(r, s, mesh);
}

/* ------------------------------------------------------------------------------------------ */
/* Public                                                                                     */

void pp_gmsh_free(pp_gmsh_mesh *mesh)
{
  if (!mesh) return;
  free(mesh->node_coords);
  free(mesh->node_tags);
  free(mesh->hex_nodes);
  free(mesh->hex_tags);
  free(mesh->hex_physical);
  free(mesh->quad_nodes);
  free(mesh->quad_tags);
  free(mesh->quad_physical);
  for (int i = 0; i < mesh->physical_count; ++i) free(mesh->physicals[i].name);
  free(mesh->physicals);
  memset(mesh, 0, sizeof *mesh);
}

pp_err pp_gmsh_read_memory(const char *name, const char *bytes, size_t size, pp_gmsh_mesh *mesh)
{
  PP_CHECK(mesh != NULL, PP_ERR_ARGUMENT, "pp_gmsh_read_memory: mesh is NULL");
  memset(mesh, 0, sizeof *mesh);
  PP_CHECK(bytes != NULL || size == 0, PP_ERR_ARGUMENT, "pp_gmsh_read_memory: bytes is NULL");
  reader r = {.name = name ? name : "(memory)", .data = (const unsigned char *)bytes, .size = size, .line = 1};
  r.at_line = 1;
  parse_state s = {0};
  pp_err err = parse(&r, &s, mesh);
  state_free(&s);
  if (err != PP_OK) {
    pp_gmsh_free(mesh);
    return pp_error_trace(err, __FILE__, __LINE__, __func__);
  }
  return PP_OK;
}

pp_err pp_gmsh_read(const char *path, pp_gmsh_mesh *mesh)
{
  PP_CHECK(path != NULL && mesh != NULL, PP_ERR_ARGUMENT, "pp_gmsh_read: NULL path or mesh");
  memset(mesh, 0, sizeof *mesh);
  FILE *file = fopen(path, "rb");
  PP_CHECK(file != NULL, PP_ERR_IO, "cannot open Gmsh mesh '%s': %s", path, strerror(errno));
  /* Read in chunks rather than by ftell: works for pipes and /dev/stdin too. */
  size_t size = 0, capacity = 1 << 16;
  char *bytes = malloc(capacity);
  int read_error = 0; /* errno of a failed fread, 0 at the end of the file */
  while (bytes) {
    if (size == capacity) {
      char *bigger = capacity <= SIZE_MAX / 2 ? realloc(bytes, capacity * 2) : NULL;
      if (!bigger) {
        free(bytes);
        bytes = NULL;
        break;
      }
      bytes = bigger;
      capacity *= 2;
    }
    size_t got = fread(bytes + size, 1, capacity - size, file);
    size += got;
    if (got == 0) {
      if (ferror(file)) read_error = errno ? errno : EIO;
      break;
    }
  }
  fclose(file);
  PP_CHECK(bytes != NULL, PP_ERR_MEMORY, "out of memory reading Gmsh mesh '%s'", path);
  if (read_error) {
    free(bytes);
    PP_RAISE(PP_ERR_IO, "cannot read Gmsh mesh '%s': %s", path, strerror(read_error));
  }
  pp_err err = pp_gmsh_read_memory(path, bytes, size, mesh);
  free(bytes);
  if (err != PP_OK) return pp_error_trace(err, __FILE__, __LINE__, __func__);
  return PP_OK;
}

const char *pp_gmsh_physical_name(const pp_gmsh_mesh *mesh, int dim, int tag)
{
  for (int i = 0; i < mesh->physical_count; ++i)
    if (mesh->physicals[i].dim == dim && mesh->physicals[i].tag == tag) return mesh->physicals[i].name;
  return NULL;
}

int pp_gmsh_physical_tag(const pp_gmsh_mesh *mesh, int dim, const char *name)
{
  for (int i = 0; i < mesh->physical_count; ++i)
    if (mesh->physicals[i].dim == dim && strcmp(mesh->physicals[i].name, name) == 0) return mesh->physicals[i].tag;
  return -1;
}

double pp_gmsh_hex_volume(const pp_gmsh_mesh *mesh, long long hex)
{
  double x[8][3];
  hex_coords(mesh->node_coords, mesh->hex_nodes + 8 * hex, x);
  const double g = 1.0 / sqrt(3.0);
  double volume = 0;
  for (int a = 0; a < 8; ++a)
    volume += hex_det_jacobian(x, g * hex_corner[a][0], g * hex_corner[a][1], g * hex_corner[a][2]);
  return volume;
}
