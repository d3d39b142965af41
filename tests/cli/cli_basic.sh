#!/bin/bash
# The command-line contract: help, version, devices, config, explain, check, and bad usage.
. "$(dirname "$0")/common.sh"

expect_status "--help" 0 "$PINPRICK" --help
expect_in "--help lists run" "$WORK/out" "run CONFIG --output DIR"
expect_status "--version" 0 "$PINPRICK" --version
for word in "pinprick 0." "MPI: " "HDF5: " "OpenCL platform 0"; do expect_in "--version names $word" "$WORK/out" "$word"; done

# A missing OpenCL device is a failure, never a skip.
expect_status "devices" 0 "$PINPRICK" devices
expect_in "devices shows fp64 column" "$WORK/out" "fp64"
expect_in "devices shows a device at index 0" "$WORK/out" "0:0"

expect_status "no command" 2 "$PINPRICK"
expect_status "unknown command" 2 "$PINPRICK" frobnicate
expect_in "unknown command named" "$WORK/err" "unknown command 'frobnicate'"
expect_status "bare run" 2 "$PINPRICK" run
expect_in "bare run says a config is needed" "$WORK/err" "needs a config file"
expect_status "run without --output" 2 "$PINPRICK" run case.yaml
expect_in "run without --output explained" "$WORK/err" "needs --output"
expect_status "unknown option" 2 "$PINPRICK" demo --frobnicate
expect_in "unknown option named" "$WORK/err" "--frobnicate"
expect_status "--set without value" 2 "$PINPRICK" check case.yaml --set
expect_status "bad --device" 2 "$PINPRICK" --device x:y demo --output "$WORK/never"
[ ! -e "$WORK/never" ] && pass "bad --device creates no folder" || fail "bad --device created a folder"

# config prints the embedded case; check accepts it and shows provenance.
expect_status "config" 0 "$PINPRICK" config
cp "$WORK/out" "$WORK/case.yaml"
expect_in "config has schema_version" "$WORK/case.yaml" "schema_version: 1"
expect_status "check default case" 0 "$PINPRICK" check "$WORK/case.yaml"
expect_in "check shows provenance of a file value" "$WORK/out" "case.yaml:"
expect_status "check with --set" 0 "$PINPRICK" check "$WORK/case.yaml" --set needle.insertion_depth=0.8mm
expect_in "check shows --set provenance" "$WORK/out" "--set"
expect_in "check reports the healing model's resting state" "$WORK/out" "unwounded tissue is stable over"
# The healing model's resting state (host/healing_model): an autocrine loop gain sigma Nbar/Ks of
# 18/d against a decay of 15/d is refused, and so is a maturation flux type I cannot balance.
expect_status "check refuses an unstable autocrine loop" 2 "$PINPRICK" check "$WORK/case.yaml" \
  --set "healing.tgf_beta.autocrine_secretion=0.006 pg/d"
expect_in "the refusal names the secretion key" "$WORK/err" "healing.tgf_beta.autocrine_secretion"
expect_status "check refuses maturation beyond homeostasis" 2 "$PINPRICK" check "$WORK/case.yaml" \
  --set "healing.collagen.maturation_rate=0.0167 1/d"
expect_in "the refusal names the maturation key" "$WORK/err" "healing.collagen.maturation_rate"
expect_status "check with wrong dimension in --set" 2 "$PINPRICK" check "$WORK/case.yaml" --set needle.tip_radius=3s
expect_in "--set error names the key" "$WORK/err" "needle.tip_radius"
expect_status "check missing file" 1 "$PINPRICK" check "$WORK/does-not-exist.yaml"
expect_in "missing file named" "$WORK/err" "does-not-exist.yaml"

printf 'schema_version: 1\nneedle:\n  tip_radius: 3 s\n  colour: red\n' > "$WORK/bad.yaml"
expect_status "check bad file" 2 "$PINPRICK" check "$WORK/bad.yaml"
expect_in "bad file: line and key of wrong dimension" "$WORK/err" "bad.yaml:3:"
expect_in "bad file: unknown key reported in the same run" "$WORK/err" "needle.colour"

expect_status "explain known key" 0 "$PINPRICK" explain needle.tip_radius
expect_in "explain gives the unit" "$WORK/out" "um"
expect_status "explain unknown key" 2 "$PINPRICK" explain needle.tip_radiu
expect_in "explain suggests the closest key" "$WORK/err" "needle.tip_radius"

# The README's config reference is generated from the key table: it must be current.
readme="${PINPRICK_SOURCE_DIR:-}/README.md"
if [ -f "$readme" ]; then
  "$PINPRICK" config --reference > "$WORK/reference.md"
  sed -n '/<!-- config-reference:begin -->/,/<!-- config-reference:end -->/p' "$readme" | sed '1d;$d' > "$WORK/readme_reference.md"
  if diff -q "$WORK/reference.md" "$WORK/readme_reference.md" >/dev/null; then pass "README config reference is current"; else
    fail "README config reference differs from 'pinprick config --reference' (regenerate with scripts/update-readme-reference)"; fi
else
  fail "README.md not found at $readme"
fi
finish
