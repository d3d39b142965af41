#!/bin/bash
# Stage 2 reading a channel library (healing.channel_library): entries whose injury is known exactly
# (tests/write_cylinder_library.c: an open cylinder with a damage ring, and a tilted cylinder) land in
# the injury field where the geometry puts them with the entry's exact volume (tests/cli/healing_library.py
# computes the references from the geometry); the same bits on 1 and 2 ranks; a library that is
# missing, not a library, or ambiguous is refused with the key, the file and the entries named, by
# `check` and by `run` on 2 ranks before stage 1 starts (no rank hangs).
. "$(dirname "$0")/common.sh"
: "${WRITE_CYLINDER_LIBRARY:?set WRITE_CYLINDER_LIBRARY to tests/write_cylinder_library}"
here=$(dirname "$0")
"$PINPRICK" config >"$WORK/case.yaml"
# The QUICK block's needle axis: x = y = 316 um (mesh.refine_x, mesh.refine_y of the default case).
axis=316
sets=("${QUICK[@]}")

cylinder=$("$WRITE_CYLINDER_LIBRARY" "$WORK/cylinder.h5" 40 100 80 0.5) && pass "cylinder library written" \
  || fail "could not write the cylinder library"
for ranks in 1 2; do
  expect_status "run with the cylinder library on $ranks rank(s)" 0 "$MPIEXEC" -n "$ranks" "$PINPRICK" run \
    "$WORK/case.yaml" --output "$WORK/np$ranks" "${sets[@]}" --set healing.channel_library="$WORK/cylinder.h5"
done
expect_in "run.json names the entry" "$WORK/np2/run.json" '"channel_library_entry": "cylinder_d100um_v1mps_test_normal"'
expect_in "the log names the entry and its volume" "$WORK/out" "entry cylinder_d100um_v1mps_test_normal"
python3 "$here/healing_library.py" "$WORK/np2" $axis $axis 40 100 80 0.5 0 "$cylinder" \
  && pass "cylinder and ring: injury where the geometry puts it" || fail "cylinder and ring: injury misplaced"
for f in $(cd "$WORK/np1" && find healing checkpoint -name '*.h5' | sort); do
  h5diff -r --exclude-path /mesh/rank "$WORK/np1/$f" "$WORK/np2/$f" >"$WORK/diff" 2>&1 \
    && pass "np1 and np2 identical: $f" || { fail "np1 and np2 differ: $f"; head -5 "$WORK/diff" >&2; }
done

tilted=$("$WRITE_CYLINDER_LIBRARY" "$WORK/tilted.h5" 40 150 40 0 20) || fail "could not write the tilted library"
expect_status "run with a tilted channel" 0 "$MPIEXEC" -n 2 "$PINPRICK" run "$WORK/case.yaml" --output "$WORK/tilted" \
  "${sets[@]}" --set healing.channel_library="$WORK/tilted.h5"
python3 "$here/healing_library.py" "$WORK/tilted" $axis $axis 40 150 40 0 20 "$tilted" \
  && pass "tilted channel: injury along the tilted axis" || fail "tilted channel: injury misplaced"

# Refusals: exit status non-zero, the key and the file named.
expect_status "check refuses a missing library" 1 "$PINPRICK" check "$WORK/case.yaml" \
  --set healing.channel_library="$WORK/none.h5"
expect_in "... naming the key and the file" "$WORK/err" "healing.channel_library '$WORK/none.h5'"
expect_status "check refuses a file that is not a library" 1 "$PINPRICK" check "$WORK/case.yaml" \
  --set healing.channel_library="$WORK/np1/healing/mesh.h5"
expect_in "... saying what it is" "$WORK/err" "is not a pinprick channel library"
cp "$WORK/cylinder.h5" "$WORK/two.h5"
"$WRITE_CYLINDER_LIBRARY" "$WORK/two.h5" 40 200 >/dev/null || fail "could not add a second entry"
expect_status "check refuses two entries without healing.channel_entry" 1 "$PINPRICK" check "$WORK/case.yaml" \
  --set healing.channel_library="$WORK/two.h5"
expect_in "... listing them" "$WORK/err" "cylinder_d100um_v1mps_test_normal, cylinder_d200um_v1mps_test_normal"
expect_status "check takes the entry named" 0 "$PINPRICK" check "$WORK/case.yaml" \
  --set healing.channel_library="$WORK/two.h5" --set healing.channel_entry=cylinder_d200um_v1mps_test_normal
expect_in "... and reports its volume" "$WORK/out" "entry cylinder_d200um_v1mps_test_normal: 1005 pL"
expect_status "run on 2 ranks refuses an unknown entry" 1 "$MPIEXEC" -n 2 "$PINPRICK" run "$WORK/case.yaml" \
  --output "$WORK/bad" "${sets[@]}" --set healing.channel_library="$WORK/two.h5" --set healing.channel_entry=other
expect_in "... naming the entries there are" "$WORK/err" "has no entry 'other' (2 entries"
[ ! -e "$WORK/bad/mechanics" ] && [ ! -e "$WORK/bad/healing" ] && [ ! -e "$WORK/bad/run.json" ] \
  && pass "... before stage 1 started (no stage output, no run record)" || fail "the run wrote stage output before failing"
finish
