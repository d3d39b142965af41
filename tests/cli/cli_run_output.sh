#!/bin/bash
# pinprick run/demo: the output folder describes itself, a completed folder is refused unless
# --overwrite, a bad config leaves nothing behind, and two ranks record two devices.
. "$(dirname "$0")/common.sh"
MPI=("$MPIEXEC" -n)

expect_status "demo on 1 rank" 0 "${MPI[@]}" 1 "$PINPRICK" demo --output "$WORK/run1" "${QUICK[@]}"
expect_in "run.json completed" "$WORK/run1/run.json" '"status": "completed"'
expect_in "run.json records ranks" "$WORK/run1/run.json" '"ranks": 1'
grep -q '"not implemented"' "$WORK/run1/run.json" && fail "run.json lists a stage as not implemented" \
  || pass "every stage of the run is implemented"
expect_in "run.json records stage 2 as the healing model" "$WORK/run1/run.json" '"name": "healing (stage 2)"'
expect_in "run.json records the command line" "$WORK/run1/run.json" "demo --output"
grep -q "not implemented yet" "$WORK/err" && fail "the log announces a missing stage" || pass "no stage is skipped"
expect_in "config.yaml has provenance" "$WORK/run1/config.yaml" "# "
ls "$WORK/run1" | grep -q '\.tmp$' && fail "temporary files left in output" || pass "no temporary files left"
expect_status "resolved config loads back" 0 "$PINPRICK" check "$WORK/run1/config.yaml"

before=$(stat -c %Y.%s "$WORK/run1/run.json")
expect_status "completed folder refused" 2 "${MPI[@]}" 1 "$PINPRICK" demo --output "$WORK/run1" "${QUICK[@]}"
expect_in "refusal names --overwrite" "$WORK/err" "--overwrite"
[ "$before" = "$(stat -c %Y.%s "$WORK/run1/run.json")" ] && pass "refused run left run.json alone" || fail "run.json changed"
expect_status "--overwrite accepted" 0 "${MPI[@]}" 1 "$PINPRICK" demo --output "$WORK/run1" --overwrite "${QUICK[@]}"

"$PINPRICK" config > "$WORK/case.yaml"
expect_status "run with a config and --set" 0 "${MPI[@]}" 1 "$PINPRICK" run "$WORK/case.yaml" --output "$WORK/run2" "${QUICK[@]}" \
  --set needle.insertion_speed=0.2m/s
expect_in "--set value in resolved config" "$WORK/run2/config.yaml" "--set"

printf 'schema_version: 1\nneedle:\n  length: -1 mm\n' > "$WORK/bad.yaml"
expect_status "bad config refused" 2 "${MPI[@]}" 2 "$PINPRICK" run "$WORK/bad.yaml" --output "$WORK/run3"
expect_in "bad config message names the key" "$WORK/err" "needle.length"
[ ! -e "$WORK/run3" ] && pass "bad config leaves no output folder" || fail "bad config created $WORK/run3"
[ "$(grep -c 'needle.length' "$WORK/err")" -le 2 ] && pass "the error is printed once, not once per rank" || fail "error repeated per rank"

# A healing model whose unwounded tissue would not stay at rest is refused before any work, on every
# rank, and leaves no output folder.
expect_status "unstable healing model refused" 2 "${MPI[@]}" 2 "$PINPRICK" run "$WORK/case.yaml" --output "$WORK/run5" \
  "${QUICK[@]}" --set "healing.tgf_beta.autocrine_secretion=0.006 pg/d"
expect_in "the refusal names the parameter" "$WORK/err" "healing.tgf_beta.autocrine_secretion"
[ ! -e "$WORK/run5" ] && pass "refused healing model leaves no output folder" || fail "refused run created $WORK/run5"

expect_status "demo on 2 ranks" 0 "${MPI[@]}" 2 "$PINPRICK" demo --output "$WORK/run4" "${QUICK[@]}"
expect_in "run.json records 2 ranks" "$WORK/run4/run.json" '"ranks": 2'
expect_in "run.json has rank 1's device" "$WORK/run4/run.json" '"rank 1 on '
finish
