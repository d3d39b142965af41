/* face_set: see face_set.h. */
#include "face_set.h"

#include <stdlib.h>
#include <string.h>

const int pp_hex_face_corners[6][4] = {{0, 3, 2, 1}, {4, 5, 6, 7}, {0, 1, 5, 4},
                                       {1, 2, 6, 5}, {2, 3, 7, 6}, {3, 0, 4, 7}};

typedef struct {
  long long key;
  int element;
} face_key;

static int compare_faces(const void *pa, const void *pb)
{
  const face_key *a = pa, *b = pb;
  return (a->key > b->key) - (a->key < b->key);
}

static pp_err fill(const pp_mesh *mesh, const unsigned char *mask, pp_face_set *set, face_key *keys)
{
  const size_t owned = (size_t)mesh->owned_node_count, count = set->count;
  size_t k = 0;
  for (size_t e = 0; e < (size_t)mesh->element_count; ++e)
    for (int f = 0; f < 6; ++f)
      if ((mask[e] >> f) & 1) keys[k++] = (face_key){mesh->element_global_id[e] * 6 + f, (int)e};
  qsort(keys, count, sizeof *keys, compare_faces);
  /* offset is counted one place ahead, then turned into starts while the entries are placed */
  int *offset = calloc(owned + 2, sizeof *offset);
  PP_CHECK(offset, PP_ERR_MEMORY, "out of memory for a face list's node offsets");
  for (size_t i = 0; i < count; ++i) {
    const size_t e = (size_t)keys[i].element;
    const int face = (int)(keys[i].key % 6);
    set->key[i] = keys[i].key;
    set->element[i] = (int)e;
    for (int a = 0; a < 4; ++a) {
      const int corner = pp_hex_face_corners[face][a];
      const int node = mesh->element_nodes[8 * e + (size_t)corner];
      set->nodes[4 * i + (size_t)a] = node;
      for (int d = 0; d < 3; ++d)
        set->reference[12 * i + 3 * (size_t)a + (size_t)d] = mesh->element_corner_coords[24 * e + 3 * (size_t)corner + (size_t)d];
      if ((size_t)node < owned) offset[node + 2] += 1;
    }
  }
  for (size_t n = 0; n < owned; ++n) offset[n + 2] += offset[n + 1];
  for (size_t i = 0; i < count; ++i)
    for (int a = 0; a < 4; ++a) {
      const int node = set->nodes[4 * i + (size_t)a];
      if ((size_t)node < owned) set->entry[offset[node + 1]++] = (int)(4 * i + (size_t)a);
    }
  memcpy(set->offset, offset, (owned + 1) * sizeof *offset);
  free(offset);
  return PP_OK;
}

pp_err pp_face_set_build(const pp_mesh *mesh, const unsigned char *mask, pp_face_set *set)
{
  memset(set, 0, sizeof *set);
  size_t count = 0;
  for (size_t e = 0; e < (size_t)mesh->element_count; ++e)
    for (int f = 0; f < 6; ++f) count += (mask[e] >> f) & 1;
  set->count = count;
  const size_t owned = (size_t)mesh->owned_node_count;
  face_key *keys = malloc((count + 1) * sizeof *keys);
  set->key = malloc((count + 1) * sizeof *set->key);
  set->element = malloc((count + 1) * sizeof *set->element);
  set->reference = malloc((count * 12 + 1) * sizeof *set->reference);
  set->nodes = malloc((count * 4 + 1) * sizeof *set->nodes);
  set->offset = malloc((owned + 1) * sizeof *set->offset);
  set->entry = malloc((count * 4 + 1) * sizeof *set->entry);
  pp_err err = keys && set->key && set->element && set->reference && set->nodes && set->offset && set->entry
                 ? fill(mesh, mask, set, keys)
                 : pp_error_raise(PP_ERR_MEMORY, __FILE__, __LINE__, __func__, "out of memory for a list of %zu faces",
                                  count);
  free(keys);
  if (err != PP_OK) pp_face_set_free(set);
  return err;
}

void pp_face_set_free(pp_face_set *set)
{
  free(set->key);
  free(set->element);
  free(set->reference);
  free(set->nodes);
  free(set->offset);
  free(set->entry);
  memset(set, 0, sizeof *set);
}
