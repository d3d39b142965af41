#!/bin/bash
# Usage: fault_injection.sh RANKS
# The fault switch fails the last rank at a phase. At collective points every rank must leave
# with a non-zero status (each rank's status is recorded by a wrapper shell); at a point where
# the others are already waiting in a collective, the job must be aborted. Either way the job
# ends within the time limit (no rank hangs).
. "$(dirname "$0")/common.sh"
RANKS=${1:?ranks}
LAST=$((RANKS - 1))
LIMIT=60

for phase in startup config device mesh output stage1 healing; do
  rm -f "$WORK"/status.*
  start=$(date +%s)
  PINPRICK_FAULT="$LAST:$phase" timeout $LIMIT "$MPIEXEC" -n "$RANKS" bash -c \
    '"$PINPRICK" demo --output "$0/out-$1" "${@:2}"; echo $? > "$0/status.${OMPI_COMM_WORLD_RANK:-${PMI_RANK:-0}}"' \
    "$WORK" "$phase" "${QUICK[@]}" >"$WORK/out" 2>"$WORK/err"
  rc=$?
  elapsed=$(( $(date +%s) - start ))
  [ $rc -ne 124 ] && pass "$phase: job ended in ${elapsed}s" || fail "$phase: job hung (killed after ${LIMIT}s)"
  nonzero=0
  for r in $(seq 0 $LAST); do
    s=$(cat "$WORK/status.$r" 2>/dev/null || echo missing)
    if [ "$s" != missing ] && [ "$s" -ne 0 ]; then nonzero=$((nonzero + 1)); fi
  done
  [ $nonzero -eq "$RANKS" ] && pass "$phase: all $RANKS ranks exited non-zero" || fail "$phase: only $nonzero of $RANKS ranks exited non-zero"
  expect_in "$phase: message names the injected fault" "$WORK/err" "fault injected by PINPRICK_FAULT on rank $LAST at phase '$phase'"
  if [ -f "$WORK/out-$phase/run.json" ]; then fail "$phase: a run.json was written"; else pass "$phase: no run record written"; fi
done

# Outside a collective check: the last rank fails while the others wait in MPI_Allreduce.
start=$(date +%s)
PINPRICK_FAULT="$LAST:self-test" timeout $LIMIT "$MPIEXEC" -n "$RANKS" "$PINPRICK" demo --output "$WORK/out-abort" \
  >"$WORK/out" 2>"$WORK/err"
rc=$?
elapsed=$(( $(date +%s) - start ))
[ $rc -ne 0 ] && [ $rc -ne 124 ] && pass "self-test: job failed (exit $rc) in ${elapsed}s" || fail "self-test: exit $rc after ${elapsed}s"
expect_in "self-test: message names the fault" "$WORK/err" "phase 'self-test'"
if [ "$RANKS" -gt 1 ]; then expect_in "self-test: whole job aborted" "$WORK/err" "aborting every rank"; fi
[ -f "$WORK/out-abort/run.json" ] && fail "self-test: run.json written" || pass "self-test: no run record written"
finish
