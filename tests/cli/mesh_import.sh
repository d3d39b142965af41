#!/bin/bash
# Gmsh meshes through the command line: check and run read them, the same imported mesh gives
# identical files on 1, 2 and 4 ranks (h5diff, no tolerance, /mesh/rank excluded), its layer
# volumes equal the generated block's of the same layers to round-off, and a broken file is a
# clear error that leaves no output behind.
. "$(dirname "$0")/common.sh"
src=${PINPRICK_SOURCE_DIR:?}
msh=$src/meshes/layered_patch_msh41.msh

for variant in msh41 msh41_bin msh22 msh22_bin; do
  expect_status "check $variant" 0 "$PINPRICK" check "$src/host/demo_case.yaml" --set "mesh.file=$src/meshes/layered_patch_$variant.msh"
  expect_in "check $variant reports the hexahedra" "$WORK/out" "1216 hexahedra, 1620 nodes"
done

for ranks in 1 2 4; do
  expect_status "run imported mesh on $ranks rank(s)" 0 "$MPIEXEC" -n "$ranks" "$PINPRICK" demo --output "$WORK/imp$ranks" \
    --set "mesh.file=$msh" "${QUICK_HEALING[@]}"
  cp "$WORK/out" "$WORK/log$ranks"
done
expect_in "the log reports the METIS partition" "$WORK/log4" "METIS partition over 4 rank(s)"
for ranks in 2 4; do
  ok=1
  h5diff -r --exclude-path /mesh/rank "$WORK/imp1/mesh/mesh.h5" "$WORK/imp$ranks/mesh/mesh.h5" >/dev/null || ok=0
  h5diff -r "$WORK/imp1/mesh/step_000000.h5" "$WORK/imp$ranks/mesh/step_000000.h5" >/dev/null || ok=0
  # Stage 2 on the METIS-partitioned mesh: the growth factors after a day, bit for bit.
  h5diff -r "$WORK/imp1/healing/step_000002.h5" "$WORK/imp$ranks/healing/step_000002.h5" >/dev/null || ok=0
  [ $ok -eq 1 ] && pass "imported mesh output identical on 1 and $ranks ranks" || fail "imported output differs on $ranks ranks"
done

# Generated block with the same size and layers (the demo case defaults) versus the file.
expect_status "generated block" 0 "$MPIEXEC" -n 2 "$PINPRICK" demo --output "$WORK/gen" "${QUICK_HEALING[@]}"
cp "$WORK/out" "$WORK/log_generated"
for layer in 0 1 2 3 4; do
  a=$(grep "mesh: layer $layer (.*volume" "$WORK/log1" | sed 's/.*volume \([^ ]*\) mm3.*/\1/')
  b=$(grep "mesh: layer $layer (.*volume" "$WORK/log_generated" | sed 's/.*volume \([^ ]*\) mm3.*/\1/')
  if awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a > 0 && d <= 1e-12 * a) }'; then
    pass "layer $layer volume: imported $a = generated $b mm3 (to 1e-12)"
  else
    fail "layer $layer volume: imported $a, generated $b mm3"
  fi
done

# A broken file: the message names file and line, exit 2, and nothing is written.
bad=$src/tests/gmsh/inverted_hex.msh
expect_status "run with a broken mesh" 2 "$MPIEXEC" -n 2 "$PINPRICK" demo --output "$WORK/broken" --set "mesh.file=$bad"
expect_in "broken mesh: file and line named" "$WORK/err" "inverted_hex.msh:"
[ ! -e "$WORK/broken" ] && pass "broken mesh leaves no output folder" || fail "broken mesh created $WORK/broken"
expect_status "check with a missing mesh file" 1 "$PINPRICK" check "$src/host/demo_case.yaml" --set "mesh.file=$WORK/none.msh"
expect_in "missing mesh file named" "$WORK/err" "none.msh"

# A volume that is not a layer must be mapped.
lesion=$src/meshes/lesion_patch_msh41.msh
expect_status "lesion patch without a layer map" 2 "$PINPRICK" check "$src/host/demo_case.yaml" --set "mesh.file=$lesion"
expect_in "unmapped volume named" "$WORK/err" "'scar'"
expect_status "lesion patch with a layer map" 0 "$PINPRICK" check "$src/host/demo_case.yaml" --set "mesh.file=$lesion" \
  --set "mesh.file_layer_map=scar=reticular_dermis"
finish
