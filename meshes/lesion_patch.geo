// lesion_patch.geo: a five-layer skin patch with a refined scar (lesion) region in the dermis,
// all 8-node hexahedra (for pinprick's Gmsh import).
//
// Units: METRES (pinprick works in SI: no scale factor). z up, the skin surface at z = 0, the base
// at z = -4.575 mm. The patch is 1.5 mm x 1.5 mm, x and y in [0, 1.5 mm]; the scar is the column
// under the central 0.5 mm x 0.5 mm square, through the papillary and reticular dermis.
//
// Refinement: the lateral plane is a 3 x 3 grid of transfinite quadrangle blocks. The central
// block has 8 x 8 elements (62.5 um); the outer blocks have 4 elements across, graded
// geometrically (ratio 1.6) from 221 um at the patch sides to 54 um next to the scar, close to
// the scar's own size where the blocks meet. 16 x 16 elements per level, 13 element levels: 3328 hexahedra.
//
// Physical volumes (tags 1-5 as in layered_patch.geo, surface down, and 6 for the scar):
//   1 stratum_corneum 15 um (1 level)  2 viable_epidermis 60 um (2)  3 papillary_dermis 300 um (3)
//   4 reticular_dermis 1200 um (4)     5 hypodermis 3 mm (3)         6 scar (the dermis column)
// Physical surfaces: "surface" 11, "base" 12, "side_x_min" 13, "side_x_max" 14, "side_y_min" 15,
// "side_y_max" 16.
//
// Regenerate (meshes/README.md):  gmsh lesion_patch.geo -3 -format msh41 -o lesion_patch_msh41.msh

L = 1.5e-3;                                        // lateral size (m)
c[] = {0, 0.5e-3, 1.0e-3, 1.5e-3};                 // block breakpoints in x and y (m)
n_center = 8;                                      // elements across the scar
n_outer = 4;                                       // elements across each outer block
ratio = 1.6;                                       // size ratio of neighbouring outer elements
t[] = {15e-6, 60e-6, 300e-6, 1200e-6, 3000e-6};    // layer thickness, surface first (m)
n[] = {1, 2, 3, 4, 3};                             // element levels per layer
eps = 1e-9;                                        // bounding-box slack for selections (m)

// Grid points p(i, j) = point 1 + i + 4 j at (c[i], c[j], 0).
For j In {0:3}
  For i In {0:3}
    Point(1 + i + 4 * j) = {c[i], c[j], 0};
  EndFor
EndFor
// Lines in +x: 100 + i + 3 j (from p(i,j) to p(i+1,j)); lines in +y: 200 + i + 4 j.
For j In {0:3}
  For i In {0:2}
    Line(100 + i + 3 * j) = {1 + i + 4 * j, 2 + i + 4 * j};
  EndFor
EndFor
For j In {0:2}
  For i In {0:3}
    Line(200 + i + 4 * j) = {1 + i + 4 * j, 5 + i + 4 * j};
  EndFor
EndFor
// Segment 0 runs towards the scar (sizes shrink: progression 1/ratio), segment 2 away from it.
For k In {0:3}
  Transfinite Curve{100 + 0 + 3 * k, 200 + k + 4 * 0} = n_outer + 1 Using Progression 1 / ratio;
  Transfinite Curve{100 + 1 + 3 * k, 200 + k + 4 * 1} = n_center + 1;
  Transfinite Curve{100 + 2 + 3 * k, 200 + k + 4 * 2} = n_outer + 1 Using Progression ratio;
EndFor
// Blocks: surface 1 + i + 3 j bounded by the four lines around cell (i, j).
For j In {0:2}
  For i In {0:2}
    Curve Loop(1 + i + 3 * j) = {100 + i + 3 * j, 200 + i + 1 + 4 * j, -(100 + i + 3 * (j + 1)), -(200 + i + 4 * j)};
    Plane Surface(1 + i + 3 * j) = {1 + i + 3 * j};
    Transfinite Surface{1 + i + 3 * j};
    Recombine Surface{1 + i + 3 * j};
  EndFor
EndFor

// Extrude the nine blocks down, layer by layer (Gmsh orients the hexahedra). For several
// surfaces Extrude returns, per surface, {top, volume, 4 lateral surfaces}: stride 6.
top[] = {1:9};
z = 0;
For k In {0:4}
  e[] = Extrude {0, 0, -t[k]} { Surface{top[]}; Layers{n[k]}; Recombine; };
  layer~{k}[] = {};
  center~{k} = e[6 * 4 + 1];  // block 4 is the central one (i = j = 1)
  For s In {0:8}
    top[s] = e[6 * s];
    If (s != 4)
      layer~{k}[] += e[6 * s + 1];
    EndIf
  EndFor
  z -= t[k];
EndFor
H = -z;

Physical Volume("stratum_corneum", 1) = {layer~{0}[], center~{0}};
Physical Volume("viable_epidermis", 2) = {layer~{1}[], center~{1}};
Physical Volume("papillary_dermis", 3) = {layer~{2}[]};
Physical Volume("reticular_dermis", 4) = {layer~{3}[]};
Physical Volume("hypodermis", 5) = {layer~{4}[], center~{4}};
Physical Volume("scar", 6) = {center~{2}, center~{3}};
// Boundary faces by bounding box (an entity is selected when its box lies inside the given one).
Physical Surface("surface", 11) = Surface In BoundingBox {-eps, -eps, -eps, L + eps, L + eps, eps};
Physical Surface("base", 12) = Surface In BoundingBox {-eps, -eps, -H - eps, L + eps, L + eps, -H + eps};
Physical Surface("side_x_min", 13) = Surface In BoundingBox {-eps, -eps, -H - eps, eps, L + eps, eps};
Physical Surface("side_x_max", 14) = Surface In BoundingBox {L - eps, -eps, -H - eps, L + eps, L + eps, eps};
Physical Surface("side_y_min", 15) = Surface In BoundingBox {-eps, -eps, -H - eps, L + eps, eps, eps};
Physical Surface("side_y_max", 16) = Surface In BoundingBox {-eps, L - eps, -H - eps, L + eps, L + eps, eps};
