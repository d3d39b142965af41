#!/bin/bash
# `cmake --install` puts a working pinprick into a prefix (kernels embedded: no files needed beside it).
. "$(dirname "$0")/common.sh"
: "${PINPRICK_BUILD_DIR:?}"
expect_status "cmake --install" 0 cmake --install "$PINPRICK_BUILD_DIR" --prefix "$WORK/prefix"
expect_status "installed pinprick runs" 0 "$WORK/prefix/bin/pinprick" --version
expect_in "installed pinprick names itself" "$WORK/out" "pinprick 0."
(cd "$WORK" && "$WORK/prefix/bin/pinprick" config > "$WORK/case.yaml")
expect_status "installed pinprick checks a case from another folder" 0 "$WORK/prefix/bin/pinprick" check "$WORK/case.yaml"
finish
