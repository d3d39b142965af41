/* gmsh: read a Gmsh mesh file (MSH 2.2 or 4.1, ASCII or binary) of 8-node hexahedra into one
 * global mesh. A plain function (no MPI, no OpenCL): one rank reads, then the mesh is
 * distributed (distribute.h), and tests and fuzzers call it alone.
 *
 * What is kept: nodes, hexahedra (type 5) with the physical volume each belongs to (a skin
 * layer), boundary quadrangles (type 3) with their physical surfaces (fixed base, free surface,
 * sides), and the table of physical names. Points (type 15) and lines (type 1) are skipped.
 * Every other element type (triangles, tetrahedra, prisms, pyramids, any second-order element)
 * is an error naming the element and its type: pinprick's mechanics is written for trilinear
 * hexahedra only.
 *
 * Numbering, independent of the file variant (the same mesh saved as 2.2/4.1, ASCII/binary
 * parses to the same arrays): nodes in ascending Gmsh node tag, hexahedra in ascending element
 * tag, quadrangles in ascending (element tag, physical tag). The Gmsh tags are kept beside them.
 * Nodes on no hexahedron (a stray geometry point, say) are dropped and counted.
 *
 * Checks, each a PP_ERR_CONFIG whose message is `FILE:LINE: expected ..., found ...` (binary
 * data: `FILE: byte OFFSET: ...`) and names the element where one is involved: $MeshFormat
 * first, version 2.2 or 4.1, data size 8, the binary byte-order marker; every section closed,
 * $Nodes before $Elements, $Entities before $Elements; counts non-negative and small enough for
 * the bytes left in the file (so a corrupt count cannot ask for terabytes); truncation; duplicate
 * node or element tags; elements naming undefined nodes; and hexahedron geometry: the Jacobian
 * determinant of the trilinear map must be positive at all 8 corners (an inverted, mirrored or
 * degenerate hexahedron is refused, with its element tag and line). Coordinates are returned
 * in the file's units: the caller scales them to metres. */
#ifndef PP_GMSH_H
#define PP_GMSH_H

#include <stddef.h>

#include "error.h"

/* One entry of $PhysicalNames. */
typedef struct {
  int dim;      /* 0 point, 1 curve, 2 surface, 3 volume */
  int tag;
  char *name;
} pp_gmsh_physical;

typedef struct {
  int version;                  /* 22 or 41 */
  int binary;                   /* 1: binary file */

  long long node_count;
  double *node_coords;          /* [node_count * 3], file units */
  long long *node_tags;         /* [node_count] Gmsh node tag, ascending */

  long long hex_count;
  long long *hex_nodes;         /* [hex_count * 8] 0-based node indices, Gmsh = VTK corner order */
  long long *hex_tags;          /* [hex_count] Gmsh element tag, ascending */
  int *hex_physical;            /* [hex_count] physical volume tag, 0 when in none */

  long long quad_count;         /* a quadrangle in several physical surfaces appears once per group */
  long long *quad_nodes;        /* [quad_count * 4] 0-based node indices */
  long long *quad_tags;         /* [quad_count] Gmsh element tag */
  int *quad_physical;           /* [quad_count] physical surface tag, 0 when in none */

  int physical_count;
  pp_gmsh_physical *physicals;  /* [physical_count], as listed in $PhysicalNames */

  long long skipped_element_count; /* points and lines, ignored */
  long long unused_node_count;     /* nodes on no hexahedron, dropped */
} pp_gmsh_mesh;

/* Read the file at path. PP_ERR_IO when it cannot be read (with strerror), PP_ERR_CONFIG when it
 * is not a mesh pinprick can use. On error *mesh is left empty (nothing to free). */
pp_err pp_gmsh_read(const char *path, pp_gmsh_mesh *mesh);
/* The same from bytes in memory; name stands for the file in messages. */
pp_err pp_gmsh_read_memory(const char *name, const char *bytes, size_t size, pp_gmsh_mesh *mesh);
void pp_gmsh_free(pp_gmsh_mesh *mesh);

/* Name of physical group (dim, tag), or NULL when $PhysicalNames does not name it. */
const char *pp_gmsh_physical_name(const pp_gmsh_mesh *mesh, int dim, int tag);
/* Tag of the physical group of dimension dim named name; -1 when there is none. */
int pp_gmsh_physical_tag(const pp_gmsh_mesh *mesh, int dim, const char *name);

/* Volume of hexahedron h (2x2x2 Gauss quadrature of det J: exact for a trilinear hexahedron),
 * in file units cubed. */
double pp_gmsh_hex_volume(const pp_gmsh_mesh *mesh, long long hex);

#endif
