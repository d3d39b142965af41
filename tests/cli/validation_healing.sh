#!/bin/bash
# Stage-2 plausibility (issue 10; PHYSICS.md 5.4, 7.2, V10b), label `validation` (scripts/test --full):
# the default case (4 sessions 28 days apart, 250 channels/cm2, the needle cell), its collagen synthesis
# gains calibrated on another protocol (Lotfi 2013: 5 monthly sessions, +53.2 % collagen-fibre content
# in the papillary dermis 8 weeks after the last; the calibration is healing.collagen.type_*_stimulation,
# README "The healing model"). Checked, without re-tuning:
#  - day-1 PDGF in the channel of the published order: wound fluid on day 1, median 2.1 ng/mL (range
#    0.017-66.5 ng/mL; PHYSICS.md 5.4): within a factor 10 of 2 ng/mL;
#  - collagen gain of the treated upper dermis at 3-6 months (days 90-180) inside 20-100 % (PHYSICS.md
#    7.2: Lotfi +53 %, Kenkel +102 % dermal density);
#  - the type III share high early and falling: its value at day 180 below its largest value.
# The calibration itself is reproduced too (Lotfi's protocol: +53.2 % at day 176 within 2 %).
# V10c, two more protocols, not fitted (the 20-100 % band at 3-6 months, PHYSICS.md 7.2):
#  - Kenkel 2021: 4 monthly sessions (days 0, 30, 60, 90), measured 3 months after the last (day 181):
#    dermal density +101.86 % (ultrasound; a proxy for collagen content). Checked: the treated-dermis
#    collagen gain at day 181 inside the band; its ratio to Kenkel's figure is reported;
#  - El-Domyati 2015: 6 sessions 2 weeks apart (days 0-70), measured at 3 months (day 160): collagen I
#    and III up significantly (percentages not confirmed). Checked: gain at day 160 inside the band and
#    type III's share above normal (15 %).
# Numbers, misses included, go to tests/validation/HEALING.md.
. "$(dirname "$0")/common.sh"
expect_status "default case, 180 days" 0 "$PINPRICK" demo --output "$WORK/default" --set mechanics.end_time=2us \
  --set "output.mechanics_times=[1 us, 2 us]"
summary=$WORK/default/healing_summary.csv
awk -F, 'NR > 1 && $2 + 0 == 1 { p = $3 } END { printf "day-1 PDGF max %.4g ng/mL\n", p; exit !(p >= 0.2 && p <= 20) }' \
  "$summary" && pass "day-1 PDGF of the published order" || fail "day-1 PDGF off the published order"
awk -F, 'NR > 1 && $2 + 0 >= 90 && $2 + 0 <= 180 { if (lo == "" || $6 < lo) lo = $6; if ($6 > hi) hi = $6 }
  END { printf "treated upper dermis, days 90-180: collagen gain %.1f %% to %.1f %%\n", 100 * lo, 100 * hi
        exit !(lo >= 0.2 && hi <= 1.0) }' "$summary" && pass "collagen gain at 3-6 months inside 20-100 %" \
  || fail "collagen gain at 3-6 months outside 20-100 %"
awk -F, 'NR > 1 { if ($7 > top) { top = $7; at = $2 } last = $7 }
  END { printf "type III share: largest %.1f %% (day %g), day 180 %.1f %%\n", 100 * top, at, 100 * last
        exit !(last < top && top > 0.15) }' "$summary" && pass "type III share high early, falling" \
  || fail "type III share does not fall"
expect_status "Lotfi's protocol, 176 days" 0 "$PINPRICK" demo --output "$WORK/lotfi" --set mechanics.end_time=2us \
  --set "output.mechanics_times=[1 us, 2 us]" --set treatment.sessions=5 --set treatment.session_interval=30d \
  --set healing.duration=176d --set output.healing_interval=4d
awk -F, 'NR > 1 && $2 + 0 == 176 { g = $6 } END { printf "Lotfi protocol, day 176: gain %.2f %% (calibrated to 53.2 %%)\n", 100 * g
  e = (g - 0.532) / 0.532; if (e < 0) e = -e; exit !(e < 0.02) }' "$WORK/lotfi/healing_summary.csv" \
  && pass "the calibration holds on the default mesh" || fail "the calibration does not hold on the default mesh"
expect_status "Kenkel's protocol, 181 days" 0 "$PINPRICK" demo --output "$WORK/kenkel" --set mechanics.end_time=2us \
  --set "output.mechanics_times=[1 us, 2 us]" --set treatment.sessions=4 --set treatment.session_interval=30d \
  --set healing.duration=181d --set output.healing_interval=1d
awk -F, 'NR > 1 && $2 + 0 == 181 { g = $6 } END {
  printf "Kenkel protocol, day 181: gain %.2f %% (Kenkel 2021: dermal density +101.86 %%; ratio %.3f)\n", 100 * g, g / 1.0186
  exit !(g >= 0.2 && g <= 1.0) }' "$WORK/kenkel/healing_summary.csv" \
  && pass "Kenkel's protocol: gain 3 months after the last session inside 20-100 %" \
  || fail "Kenkel's protocol: gain 3 months after the last session outside 20-100 %"
expect_status "El-Domyati's protocol, 160 days" 0 "$PINPRICK" demo --output "$WORK/domyati" --set mechanics.end_time=2us \
  --set "output.mechanics_times=[1 us, 2 us]" --set treatment.sessions=6 --set treatment.session_interval=14d \
  --set healing.duration=160d --set output.healing_interval=1d
awk -F, 'NR > 1 && $2 + 0 == 160 { g = $6; t = $7 } END {
  printf "El-Domyati protocol, day 160: gain %.2f %%, type III share %.1f %%\n", 100 * g, 100 * t
  exit !(g >= 0.2 && g <= 1.0 && t > 0.15) }' "$WORK/domyati/healing_summary.csv" \
  && pass "El-Domyati's protocol: gain at 3 months inside 20-100 %, type III above normal" \
  || fail "El-Domyati's protocol: gain at 3 months outside 20-100 % or type III not above normal"
finish
