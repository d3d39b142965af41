#!/bin/bash
# A quasi-static stroke (mechanics.quasi_static_increment > 0; host/stage1.h), the CI smoke version
# of the V9a calibration case (tests/validation/olatunji_polymer.yaml) on a small, coarse block:
# every increment reaches equilibrium (out-of-balance at most the tolerance, kinetic/stored at most
# its square); an elastic stroke gives the same force on the way in and out; the needles' energy
# balance closes; and the whole run (forces, energies, mechanics series, channel library) is the same bits
# on 1, 2 and 4 ranks.
. "$(dirname "$0")/common.sh"
case_file=$(dirname "$0")/../validation/olatunji_polymer.yaml
tolerance=3e-3
# A 300 um cell, 2352 elements: about 3000 relaxation steps in all, 10-20 s a run.
case_sets=(--set mesh.refine_x=[150um] --set mesh.refine_y=[150um] --set mesh.lateral_fine_size=30um
           --set mesh.lateral_fine_radius=30um --set mesh.lateral_max_size=60um --set mesh.surface_size=20um
           --set mesh.depth_max_size=250um --set mesh.min_elements_per_layer=1 --set skin.reticular_dermis.thickness=200um
           --set needle.insertion_depth=40um --set mechanics.quasi_static_increment=20um
           --set mechanics.quasi_static_tolerance=$tolerance --set mechanics.end_time=1s
           --set "output.mechanics_times=[0.08 s, 0.12 s, 0.16 s]" --set healing.duration=1d)

for ranks in 1 2 4; do
  expect_status "quasi-static stroke on $ranks rank(s)" 0 "$MPIEXEC" -n "$ranks" "$PINPRICK" run "$case_file" \
    --output "$WORK/np$ranks" "${case_sets[@]}"
done
out=$WORK/np1
json=$out/run.json
value() { sed -n "s/.*\"$1\": \([^,}]*\).*/\1/p" "$json" | head -1; }
# 40 um in, 40 um out, 20 um at a time.
increments=$(value quasi_static_increments)
[ "$increments" = 4 ] && pass "4 quasi-static increments" || fail "$increments increments, expected 4"
[ "$(value quasi_static_unconverged)" = 0 ] && pass "every increment converged" || fail "unconverged increments"
awk -v r="$(value quasi_static_worst_residual)" -v t=$tolerance 'BEGIN { exit !(r <= t) }' \
  && pass "out-of-balance $(value quasi_static_worst_residual) within the tolerance" || fail "out-of-balance above the tolerance"
# At every increment's end the kinetic energy is at most tolerance^2 of the stroke's stored energy
# so far (the stop test's floor once the needle withdraws).
awk -F, -v t=$tolerance 'NR > 1 { if ($5 > top) top = $5; if ($4 > t * t * top * (1 + 1e-9)) bad++; rows++ }
  END { exit !(rows == 4 && !bad) }' "$out/mechanics_energy.csv" \
  && pass "kinetic energy within the tolerance squared at every increment" || fail "kinetic energy above the tolerance"
# The needles' work = the skin's contact work + penalty energy + friction heat, within the
# trapezoidal rule's O(dt) over the run (issue 8's bound for the dynamic stroke is 3.3e-3).
awk -v d="$(value contact_balance_drift)" 'BEGIN { exit !(d < 3.3e-3) }' \
  && pass "needles' balance drift $(value contact_balance_drift)" || fail "needles' balance drift $(value contact_balance_drift)"
# Path independence: at 40 um only the node under the rounded tip touches the needle, and its
# friction is horizontal, so the skin is elastic along the stroke and the force at 20 um on the way
# out equals the one on the way in, to the relaxation's tolerance (each state's out-of-balance at
# most tolerance x the forces); nothing once the needle is out.
awk -F, -v t=$tolerance 'NR > 1 && $2 > 19.9e-6 && $2 < 20.1e-6 { if ($1 < 0.08) f_in = $3; else f_out = $3 }
  NR > 1 && $1 > 0.159 { f_end = $3 }
  END { d = f_out - f_in; if (d < 0) d = -d; print "force at 20 um: in " f_in " N, out " f_out " N; out of the skin " f_end " N";
        exit !(f_in > 0 && d <= 2 * t * f_in && f_end == 0) }' "$out/needle_0.csv" \
  && pass "the same force at 20 um on the way in and out; none once out" || fail "force not path-independent"
expect_in "channel library written" "$out/run.json" '"channel_open_depth_m"'

for ranks in 2 4; do
  for f in needle_0.csv mechanics_energy.csv puncture.csv mechanics.xdmf; do
    cmp -s "$out/$f" "$WORK/np$ranks/$f" && pass "np1 and np$ranks: same $f" || fail "np1 and np$ranks: $f differs"
  done
  for f in $(cd "$out" && find mechanics -name 'step_*.h5' | sort) channels.h5; do
    if h5diff -r "$out/$f" "$WORK/np$ranks/$f" >"$WORK/diff" 2>&1; then pass "np1 and np$ranks identical: $f"
    else fail "np1 and np$ranks differ in $f"; head -10 "$WORK/diff" >&2; fi
  done
done
finish
