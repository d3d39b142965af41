#include "mesh_import.h"

#include <stdlib.h>
#include <string.h>

static const char *const layer_stems[PP_LAYER_COUNT] = {
  "stratum_corneum", "viable_epidermis", "papillary_dermis", "reticular_dermis", "hypodermis"};

static int layer_of_stem(const char *name)
{
  for (int layer = 0; layer < PP_LAYER_COUNT; ++layer)
    if (!strcmp(name, layer_stems[layer])) return layer;
  return -1;
}

static void trim(char *text)
{
  char *start = text;
  while (*start == ' ' || *start == '\t') ++start;
  memmove(text, start, strlen(start) + 1);
  size_t length = strlen(text);
  while (length && (text[length - 1] == ' ' || text[length - 1] == '\t')) text[--length] = '\0';
}

/* The layer named for volume `name` in mesh.file_layer_map ("a=layer, b=layer"), -1 if none. */
static pp_err mapped_layer(const char *map, const char *name, int *layer)
{
  *layer = -1;
  char *copy = strdup(map ? map : "");
  PP_CHECK(copy, PP_ERR_MEMORY, "out of memory reading mesh.file_layer_map");
  pp_err result = PP_OK;
  for (char *save = NULL, *pair = strtok_r(copy, ",", &save); pair && result == PP_OK; pair = strtok_r(NULL, ",", &save)) {
    char *equals = strchr(pair, '=');
    if (!equals) {
      result = pp_error_raise(PP_ERR_CONFIG, __FILE__, __LINE__, __func__,
                              "mesh.file_layer_map: expected NAME=LAYER pairs separated by commas, found '%s'", pair);
      break;
    }
    *equals = '\0';
    char *volume = pair, *target = equals + 1;
    trim(volume);
    trim(target);
    int target_layer = layer_of_stem(target);
    if (target_layer < 0) {
      result = pp_error_raise(PP_ERR_CONFIG, __FILE__, __LINE__, __func__,
                              "mesh.file_layer_map: expected a layer (stratum_corneum, viable_epidermis, "
                              "papillary_dermis, reticular_dermis, hypodermis) after '%s=', found '%s'", volume, target);
      break;
    }
    if (name && !strcmp(volume, name)) *layer = target_layer;
  }
  free(copy);
  return result;
}

static pp_err layer_of_volume(const pp_gmsh_mesh *file, const char *path, const char *map, int tag, int *layer)
{
  const char *name = pp_gmsh_physical_name(file, 3, tag);
  PP_CHECK(tag != 0, PP_ERR_CONFIG, "%s: a hexahedron belongs to no physical volume; put every volume in a "
           "physical group named after its layer", path);
  if (name) {
    *layer = layer_of_stem(name);
    if (*layer >= 0) return PP_OK;
    PP_CALL(mapped_layer(map, name, layer));
    if (*layer >= 0) return PP_OK;
    PP_RAISE(PP_ERR_CONFIG, "%s: physical volume '%s' (tag %d) is not a layer: name it stratum_corneum, "
             "viable_epidermis, papillary_dermis, reticular_dermis or hypodermis, or map it with "
             "mesh.file_layer_map (e.g. \"%s=reticular_dermis\")", path, name, tag, name);
  }
  PP_CHECK(tag >= 1 && tag <= PP_LAYER_COUNT, PP_ERR_CONFIG,
           "%s: unnamed physical volume tag %d: expected tags 1-5 (layers from the surface down) or names", path, tag);
  *layer = tag - 1;
  return PP_OK;
}

static unsigned char boundary_flag(const char *name)
{
  static const struct { const char *name; unsigned char flag; } flags[] = {
    {"surface", PP_NODE_SURFACE}, {"base", PP_NODE_BASE}, {"side_x_min", PP_NODE_X_MIN},
    {"side_x_max", PP_NODE_X_MAX}, {"side_y_min", PP_NODE_Y_MIN}, {"side_y_max", PP_NODE_Y_MAX}};
  for (size_t f = 0; name && f < sizeof flags / sizeof flags[0]; ++f)
    if (!strcmp(name, flags[f].name)) return flags[f].flag;
  return 0;
}

static pp_err map_file(const pp_config *config, const char *path, pp_imported_mesh *imported)
{
  const pp_gmsh_mesh *file = &imported->file;
  double scale = pp_config_real(config, "mesh.file_length_unit");
  const char *map = pp_config_text(config, "mesh.file_layer_map");
  PP_CALL(mapped_layer(map, NULL, &(int){0})); /* the map itself must be well formed */
  size_t nodes = (size_t)file->node_count, hexes = (size_t)file->hex_count;
  PP_MALLOC(imported->coords, 3 * nodes + 1, "imported node coordinates");
  PP_MALLOC(imported->layer, hexes + 1, "imported layers");
  PP_MALLOC(imported->boundary, nodes + 1, "imported boundary flags");
  for (size_t i = 0; i < 3 * nodes; ++i) imported->coords[i] = file->node_coords[i] * scale;
  /* One lookup per physical tag: meshes have a handful of groups and many elements. */
  int cached_tag = -1, cached_layer = -1;
  for (size_t h = 0; h < hexes; ++h) {
    if (file->hex_physical[h] != cached_tag) {
      PP_CALL(layer_of_volume(file, path, map, file->hex_physical[h], &cached_layer));
      cached_tag = file->hex_physical[h];
    }
    imported->layer[h] = cached_layer;
  }
  for (size_t q = 0; q < (size_t)file->quad_count; ++q) {
    unsigned char flag = boundary_flag(pp_gmsh_physical_name(file, 2, file->quad_physical[q]));
    for (int c = 0; c < 4; ++c) imported->boundary[file->quad_nodes[4 * q + c]] |= flag;
  }
  imported->global = (pp_global_mesh){file->node_count, file->hex_count, imported->coords, file->hex_nodes,
                                      imported->layer, imported->boundary};
  return PP_OK;
}

pp_err pp_mesh_import_read(const pp_config *config, pp_imported_mesh *imported)
{
  memset(imported, 0, sizeof *imported);
  const char *path = pp_config_text(config, "mesh.file");
  PP_CHECK(path && *path, PP_ERR_ARGUMENT, "mesh import without mesh.file");
  PP_CALL(pp_gmsh_read(path, &imported->file));
  pp_err result = map_file(config, path, imported);
  if (result != PP_OK) {
    pp_mesh_import_free(imported);
    return pp_error_trace(result, __FILE__, __LINE__, __func__);
  }
  return PP_OK;
}

void pp_mesh_import_free(pp_imported_mesh *imported)
{
  pp_gmsh_free(&imported->file);
  free(imported->coords);
  free(imported->layer);
  free(imported->boundary);
  memset(imported, 0, sizeof *imported);
}

void pp_mesh_import_print_summary(const pp_imported_mesh *imported, const char *path, const char *prefix, FILE *out)
{
  const pp_gmsh_mesh *file = &imported->file;
  fprintf(out, "%smesh: %s (MSH %d.%d %s): %lld hexahedra, %lld nodes, %lld boundary quadrangles\n", prefix, path,
          file->version / 10, file->version % 10, file->binary ? "binary" : "ASCII", file->hex_count, file->node_count,
          file->quad_count);
  double volume[PP_LAYER_COUNT] = {0};
  long long count[PP_LAYER_COUNT] = {0};
  for (long long h = 0; h < file->hex_count; ++h) {
    volume[imported->layer[h]] += pp_gmsh_hex_volume(file, h);
    ++count[imported->layer[h]];
  }
  for (int layer = 0; layer < PP_LAYER_COUNT; ++layer)
    fprintf(out, "%smesh: layer %d (%s): %lld hexahedra, %.9g cubic file units\n", prefix, layer, pp_mesh_layer_name(layer),
            count[layer], volume[layer]);
}

pp_err pp_mesh_import(const pp_config *config, const pp_runtime *runtime, pp_mesh *mesh, pp_partition_stats *stats)
{
  pp_imported_mesh imported;
  memset(&imported, 0, sizeof imported);
  pp_err local = runtime->rank == 0 ? pp_mesh_import_read(config, &imported) : PP_OK;
  /* Everyone learns whether the file was good before the collective distribution starts. */
  pp_err agreed = pp_runtime_agree(runtime, local, "reading mesh.file");
  if (agreed != PP_OK) {
    pp_mesh_import_free(&imported);
    return pp_error_trace(agreed, __FILE__, __LINE__, __func__);
  }
  pp_err result = pp_mesh_distribute(runtime->rank == 0 ? &imported.global : NULL, 0, runtime->comm, mesh, stats);
  pp_mesh_import_free(&imported);
  PP_CALL(result);
  return PP_OK;
}
