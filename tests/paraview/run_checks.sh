#!/bin/bash
# ParaView 5.11 reads what pinprick writes: an output series from test_io (2 ranks) and a
# checkpoint from test_checkpoint (2 ranks), each through its XDMF index, with both XDMF readers,
# and renders the series under Xvfb. Usage: run_checks.sh BUILD_DIR
# A missing ParaView is a failure, not a skip: a check that cannot run has validated nothing
# (install with scripts/setup-deps, which adds python3-paraview, xvfb and xauth).
set -u
build=${1:?usage: run_checks.sh BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
for tool in pvpython xvfb-run xauth; do
  if ! command -v "$tool" >/dev/null; then
    echo "FAIL: $tool not found; run scripts/setup-deps (python3-paraview xvfb xauth)" >&2
    exit 1
  fi
done
status=0
# Step 2 of series "mech": t = 1e-4 s (values as tests/test_io.c computes them).
xvfb-run -a pvpython "$here/check_series.py" "$build/io_np2/mech.xdmf" \
  --points 120 --cells 60 --times 0,2.5e-05,1e-4 \
  --point-arrays displacement:3,temperature:1 --cell-arrays layer:1,rank:1,damage:1,eroded:1,stress:9 \
  --value "point:temperature:7:0:310.0 + 0.5 * 7 + 1e3 * 1.0e-4" \
  --value "point:displacement:7:2:7 * 1e-6 * 3 + 1.0e-4 * 1" \
  --value "cell:stress:11:4:1e3 * 11 + 4 + 1.0e-4 * 1e6" \
  --value "cell:eroded:11:0:(11 + 2) % 2" \
  --value "cell:layer:59:0:2" \
  --png "$build/paraview_mech.png" --colour-by stress || status=1
# Checkpoint of step 30 (t = 3e-5 s), values as tests/test_checkpoint.c computes them.
pvpython "$here/check_series.py" "$build/ckpt_np2/checkpoint/ckpt_000000030.xdmf" \
  --points 60 --cells 24 --times 2.9999999999999997e-05 \
  --point-arrays displacement:3,pressure:1 --cell-arrays layer:1,stress:9,damage:1,eroded:1 \
  --value "point:pressure:5:0:math.exp(-0.01 * 5) * 30" \
  --value "cell:eroded:3:0:(3 * 7 + 30) % 2" || status=1
# The demo's own mesh series (2 ranks): the layered skin block, coloured by layer. Element 0 is
# at the surface (stratum corneum, layer 0); the last element (id 16127) is at the base
# (hypodermis, layer 4): counts from the default case (24 x 24 x 28 elements; periodic faces are
# written twice for drawing, so 25 x 25 x 29 points).
if [ -n "${PINPRICK:-}" ]; then
  rm -rf "$build/paraview_demo"
  # One day of stage 2, outputs every 12 h (times in days in the healing series).
  if "${MPIEXEC:-mpiexec}" -n 2 "$PINPRICK" demo --output "$build/paraview_demo" -q --set healing.duration=1d \
      --set treatment.sessions=1 --set healing.first_step=2h --set healing.max_step=12h \
      --set output.healing_interval=12h --set mechanics.end_time=2us --set "output.mechanics_times=[1 us, 2 us]"; then
    xvfb-run -a pvpython "$here/check_series.py" "$build/paraview_demo/mesh.xdmf" \
      --points 18125 --cells 16128 --times 0 --cell-arrays layer:1,rank:1 \
      --value "cell:layer:0:0:0" --value "cell:layer:16127:0:4" \
      --png "$build/paraview_demo_mesh.png" --colour-by layer || status=1
    # Stage 1: the needle stroke's fields at 1 and 2 us (time in s).
    xvfb-run -a pvpython "$here/check_series.py" "$build/paraview_demo/mechanics.xdmf" \
      --points 18125 --cells 16128 --times 1e-6,2e-6 --point-arrays displacement:3,velocity:3 \
      --cell-arrays layer:1,rank:1,cauchy_stress:9,von_mises:1,principal_stretch:3,dilatation:1,eroded:1,damage:1 \
      --value "cell:layer:16127:0:4" --png "$build/paraview_demo_mechanics.png" --colour-by von_mises || status=1
    # Stage 2: no channel reaches the base element, so its injured fraction is 0.
    xvfb-run -a pvpython "$here/check_series.py" "$build/paraview_demo/healing.xdmf" \
      --points 18125 --cells 16128 --times 0,0.5,1 \
      --point-arrays pdgf:1,tgf_beta:1,fibroblasts:1,collagen_III:1,collagen_I:1,collagen_gain:1 \
      --cell-arrays layer:1,rank:1,injury:1 --value "cell:injury:16127:0:0" --value "cell:layer:16127:0:4" \
      --png "$build/paraview_demo_healing.png" --colour-by injury || status=1
  else
    echo "FAIL: pinprick demo did not run" >&2
    status=1
  fi
else
  echo "FAIL: PINPRICK (the pinprick executable) is not set" >&2
  status=1
fi
exit $status
