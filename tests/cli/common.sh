# Shared helpers for the command-line tests. PINPRICK and MPIEXEC come from ctest's environment.
set -u
: "${PINPRICK:?set PINPRICK to the pinprick executable}"
MPIEXEC=${MPIEXEC:-mpiexec}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pinprick-cli.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
failures=0

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

# expect_status NAME WANT COMMAND... : runs COMMAND, keeps stdout/stderr in $WORK/out, $WORK/err.
expect_status() {
  local name=$1 want=$2; shift 2
  "$@" >"$WORK/out" 2>"$WORK/err"
  local got=$?
  if [ "$got" -eq "$want" ]; then pass "$name (exit $got)"; else
    fail "$name: exit $got, expected $want"; sed 's/^/  | /' "$WORK/err" | head -20 >&2; fi
}

# expect_in NAME FILE TEXT : FILE contains TEXT (fixed string).
expect_in() {
  if grep -qF -- "$3" "$2"; then pass "$1"; else fail "$1: '$3' not in $(basename "$2")"; sed 's/^/  | /' "$2" | head -20 >&2; fi
}

finish() {
  if [ "$failures" -ne 0 ]; then echo "$failures check(s) failed" >&2; exit 1; fi
  echo "all checks passed"
}

# Short stages for tests that run whole cases: 2 us of needle stroke (the default 100 us take
# minutes) and one day of healing in a few long steps (the default 180 days take minutes); QUICK
# also coarsens the block. Physics checks live in the Check suites.
# (healing.tolerance 5e-2: these tests check files and bits, not accuracy, which healing_verification does)
QUICK_HEALING=(--set mechanics.end_time=2us --set "output.mechanics_times=[1 us, 2 us]"
               --set healing.duration=1d --set treatment.sessions=1 --set healing.first_step=2h
               --set healing.max_step=12h --set output.healing_interval=12h --set output.checkpoint_interval=12h
               --set healing.tolerance=5e-2)
QUICK=("${QUICK_HEALING[@]}" --set mesh.lateral_fine_size=16um --set mesh.surface_size=10um)
