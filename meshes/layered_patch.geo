// layered_patch.geo: a five-layer skin patch, all 8-node hexahedra (for pinprick's Gmsh import).
//
// Units: METRES (pinprick works in SI, so the mesh needs no scale factor). z is up: the skin
// surface is at z = 0 and the base at z = -(total thickness) = -4.575 mm, as in pinprick's own
// generated mesh (host/mesh.h). The patch is 0.632 mm x 0.632 mm, x and y in [0, 0.632 mm].
//
// Layers, surface down (physical volume tags 1-5, named as pinprick's layer stems):
//   1 stratum_corneum   15 um     1 element layer
//   2 viable_epidermis  60 um     2
//   3 papillary_dermis  300 um    4
//   4 reticular_dermis  1200 um   6
//   5 hypodermis        3 mm      6
// Lateral: 8 x 8 elements. 8*8*19 = 1216 hexahedra, 9*9*20 = 1620 nodes; boundary quads on the six
// faces as physical surfaces "surface", "base", "side_x_min", "side_x_max", "side_y_min",
// "side_y_max" (tags 11-16).
//
// Regenerate (meshes/README.md):  gmsh layered_patch.geo -3 -format msh41 -o layered_patch_msh41.msh

L = 0.632e-3;   // lateral size (m)
N = 8;          // elements per lateral side
t[] = {15e-6, 60e-6, 300e-6, 1200e-6, 3000e-6};  // thickness, surface first (m)
n[] = {1, 2, 4, 6, 6};                            // element layers per skin layer

// The surface square at z = 0 (exactly: the skin surface is pinprick's z = 0), extruded down
// layer by layer, so only the base carries the round-off of summing the thicknesses. Gmsh orients
// extruded hexahedra itself (Gmsh/VTK node order, positive Jacobians) whichever way the square
// runs; pinprick's reader checks every corner Jacobian anyway.
Point(1) = {0, 0, 0}; Point(2) = {0, L, 0}; Point(3) = {L, L, 0}; Point(4) = {L, 0, 0};
Line(1) = {1, 2}; Line(2) = {2, 3}; Line(3) = {3, 4}; Line(4) = {4, 1};
Curve Loop(1) = {1, 2, 3, 4}; Plane Surface(1) = {1};
Transfinite Curve{1, 2, 3, 4} = N + 1; Transfinite Surface{1}; Recombine Surface{1};

// Extrude returns {top, volume, the 4 lateral surfaces in the order of the source surface's
// curves}: here x_min (curve 1), y_max (2), x_max (3), y_min (4).
top = 1;
For k In {0:4}
  e[] = Extrude {0, 0, -t[k]} { Surface{top}; Layers{n[k]}; Recombine; };
  volume~{k} = e[1];
  side_x_min[] += e[2]; side_y_max[] += e[3]; side_x_max[] += e[4]; side_y_min[] += e[5];
  top = e[0];
EndFor

Physical Volume("stratum_corneum", 1) = {volume~{0}};
Physical Volume("viable_epidermis", 2) = {volume~{1}};
Physical Volume("papillary_dermis", 3) = {volume~{2}};
Physical Volume("reticular_dermis", 4) = {volume~{3}};
Physical Volume("hypodermis", 5) = {volume~{4}};
Physical Surface("surface", 11) = {1};
Physical Surface("base", 12) = {top};
Physical Surface("side_x_min", 13) = {side_x_min[]};
Physical Surface("side_x_max", 14) = {side_x_max[]};
Physical Surface("side_y_min", 15) = {side_y_min[]};
Physical Surface("side_y_max", 16) = {side_y_max[]};
