#!/bin/bash
# Stage 2 verification (issue 10), whole runs through the split, adaptive stage:
#  - homeostasis: unwounded tissue stays at rest to 1e-8 over 180 days, also with a basal TGF-beta
#    level (gbar > 0 from the secretion quadratic, computed here);
#  - a 1e-3 uniform disturbance of fibroblasts and growth factors decays at the linearised rate,
#    which with no basal secretion is r0 - delta_n exactly (the fibroblast row of the Jacobian at rest:
#    r_rest (1 - 2 Nbar/Kcap) - delta_n with Kcap = Nbar/(1 - delta_n/r0)), within 2 %;
#  - well-mixed kinetics: a 30 % disturbance (no gradients) against an independent Dormand-Prince
#    integration at rtol 1e-10 (healing_wellmixed.py) over 60 days, within 10x the controller's
#    tolerance, the error falling as the tolerance is tightened;
#  - adaptive steps: halving healing.tolerance changes the 90-day collagen gain of a treated run by
#    less than 1 % and takes more steps.
. "$(dirname "$0")/common.sh"
here=$(cd "$(dirname "$0")" && pwd)
# A coarse block: these cases have no gradients (or the gain is a volume mean); what is checked is time.
coarse=(--set mechanics.end_time=2us --set "output.mechanics_times=[1 us, 2 us]" --set mesh.lateral_fine_size=40um
        --set mesh.lateral_fine_radius=40um --set mesh.surface_size=20um --set output.checkpoint_interval=1000d)
# The parameters healing_wellmixed.py writes out (the defaults, pinned).
pinned=(--set "healing.pdgf.decay_rate=15 1/d" --set "healing.tgf_beta.decay_rate=15 1/d"
        --set "healing.pdgf.autocrine_secretion=0 pg/d" --set "healing.tgf_beta.autocrine_secretion=0.004 pg/d"
        --set "healing.fibroblasts.proliferation_rate=0.25 1/d" --set "healing.fibroblasts.apoptosis_rate=0.12 1/d"
        --set "healing.fibroblasts.mitogen_proliferation_rate=0.674 1/d" --set "healing.fibroblasts.resting_density=3000 mm-3"
        --set "healing.collagen.type_III_stimulation=30" --set "healing.collagen.type_I_stimulation=10"
        --set "healing.collagen.maturation_rate=1e-4 1/d" --set "healing.collagen.type_III_degradation_rate=0.01667 1/d"
        --set "healing.collagen.type_I_degradation_rate=1.266e-4 1/d")
no_injury=(--set "healing.pdgf.release=0 ng/mL" --set "healing.tgf_beta.release=0 ng/mL"
           --set "healing.pdgf.macrophage_release=0 ng/mL" --set "healing.tgf_beta.macrophage_release=0 ng/mL")

# Homeostasis, 180 days, at rest and with a basal TGF-beta secretion of 0.001 pg/d per cell.
# (steps up to 10 days: at rest nothing limits them, and 180 days in daily steps would only cost time)
expect_status "180 days unwounded" 0 "$PINPRICK" demo --output "$WORK/rest" "${coarse[@]}" "${pinned[@]}" "${no_injury[@]}" \
  --set healing.max_step=10d --set output.healing_interval=30d
# step log columns 16/17: fibroblasts min/max (per mm3), 18-21: collagen III, I min/max (mg/mL)
awk -F, 'NR > 1 && $5 == "step" { d = 0; v[16] = 3000; v[17] = 3000; v[18] = 30; v[19] = 30; v[20] = 170; v[21] = 170
  for (c = 16; c <= 21; ++c) { e = ($c - v[c]) / v[c]; if (e < 0) e = -e; if (e > d) d = e }
  if (d > worst) worst = d; steps++ }
  END { printf "rest: %d steps, largest relative drift %.2e\n", steps, worst; exit !(steps > 0 && worst <= 1e-8) }' \
  "$WORK/rest/healing_steps.csv" && pass "resting tissue steady to 1e-8 over 180 days" || fail "resting tissue drifts"
expect_status "180 days unwounded with basal TGF-beta" 0 "$PINPRICK" demo --output "$WORK/basal" "${coarse[@]}" \
  "${pinned[@]}" "${no_injury[@]}" --set "healing.tgf_beta.basal_secretion=0.001 pg/d" --set healing.max_step=10d \
  --set output.healing_interval=30d
# gbar: the positive root of k g^2 + (k Ks - N (beta + sigma)) g - N beta Ks = 0 (healing_model.h), in ng/mL
awk -F, 'BEGIN { day = 86400; k = 15 / day; Ks = 1e-6; N = 3000e9; beta = 0.001e-15 / day; sigma = 0.004e-15 / day
  b = k * Ks - N * (beta + sigma); c = -N * beta * Ks; g = (-b + sqrt(b * b - 4 * k * c)) / (2 * k) * 1e6 }
  NR > 1 && $5 == "step" { for (c = 14; c <= 15; ++c) { e = ($c - g) / g; if (e < 0) e = -e; if (e > worst) worst = e }
    for (c = 16; c <= 17; ++c) { e = ($c - 3000) / 3000; if (e < 0) e = -e; if (e > worst) worst = e } steps++ }
  END { printf "basal: gbar %.6g ng/mL, %d steps, largest relative drift %.2e\n", g, steps, worst
        exit !(steps > 0 && g > 0.01 && worst <= 1e-8) }' "$WORK/basal/healing_steps.csv" \
  && pass "a basal TGF-beta level is kept to 1e-8 over 180 days" || fail "the basal level drifts"

# A 1e-3 disturbance decays at r0 - delta_n = 0.13 1/d: measured between days 10 and 40.
expect_status "disturbance of 1e-3" 0 "$PINPRICK" demo --output "$WORK/decay" "${coarse[@]}" "${pinned[@]}" \
  "${no_injury[@]}" --set healing.initial_perturbation=1e-3 --set healing.duration=40d --set treatment.sessions=1
awk -F, 'NR > 1 && $2 + 0 == 10 { a = $8 - 1 } NR > 1 && $2 + 0 == 40 { b = $8 - 1 }
  END { rate = log(a / b) / 30; e = (rate - 0.13) / 0.13; if (e < 0) e = -e
        printf "decay: %.6e -> %.6e, rate %.5f 1/d (linearised 0.13), off by %.2e\n", a, b, rate, e
        exit !(a > 0 && b > 0 && e < 0.02) }' "$WORK/decay/healing_summary.csv" \
  && pass "the disturbance decays at the linearised rate within 2 %" || fail "the disturbance's decay rate is off"

# Well-mixed kinetics at three tolerances: within 10x the tolerance, and the error falls.
previous=""
for tol in 1e-2 5e-3 2.5e-3; do
  expect_status "well-mixed run at tolerance $tol" 0 "$PINPRICK" demo --output "$WORK/mixed$tol" "${coarse[@]}" \
    "${pinned[@]}" "${no_injury[@]}" --set healing.initial_perturbation=0.3 --set healing.duration=60d --set treatment.sessions=1 \
    --set healing.tolerance=$tol --set healing.max_step=10d
  report=$(python3 "$here/healing_wellmixed.py" "$WORK/mixed$tol/healing_summary.csv" 0.3 "$tol")
  steps=$(awk -F, 'NR > 1 && $5 == "step" { n++ } END { print n }' "$WORK/mixed$tol/healing_steps.csv")
  echo "tolerance $tol, $steps steps: $report"
  worst=$(echo "$report" | sed -n 's/.*worst=\([^ ]*\).*/\1/p')
  awk -v w="$worst" 'BEGIN { exit !(w != "" && w + 0 <= 10) }' && pass "tolerance $tol: within 10x the tolerance ($worst)" \
    || fail "tolerance $tol: error $worst x the tolerance"
  error=$(awk -v w="$worst" -v t="$tol" 'BEGIN { printf "%.6e", w * t }')
  if [ -n "$previous" ]; then
    awk -v a="$previous" -v b="$error" 'BEGIN { exit !(b < a) }' && pass "error falls: $previous -> $error" \
      || fail "error does not fall: $previous -> $error"
  fi
  previous=$error
done

# Tolerance halving on a treated run: the 90-day collagen gain moves by < 1 %, with more steps.
for tol in 1e-2 5e-3; do
  expect_status "90 days treated at tolerance $tol" 0 "$PINPRICK" demo --output "$WORK/treated$tol" "${coarse[@]}" \
    --set healing.duration=90d --set healing.tolerance=$tol --set output.healing_interval=15d
done
awk -F, 'FNR == 1 { file++ } FNR > 1 && $2 + 0 == 90 { gain[file] = $6 } FNR > 1 && $5 == "step" { steps[file]++ }
  END { e = (gain[2] - gain[1]) / gain[2]; if (e < 0) e = -e
        printf "90-day gain %.6f / %.6f (change %.2e), %d / %d steps\n", gain[1], gain[2], e, steps[3], steps[4]
        exit !(gain[2] > 0 && e < 0.01 && steps[4] > steps[3]) }' \
  "$WORK/treated1e-2/healing_summary.csv" "$WORK/treated5e-3/healing_summary.csv" \
  "$WORK/treated1e-2/healing_steps.csv" "$WORK/treated5e-3/healing_steps.csv" \
  && pass "halving the tolerance moves the 90-day gain by < 1 % and takes more steps" \
  || fail "the 90-day gain depends on the tolerance"
finish
