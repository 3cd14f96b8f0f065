#!/usr/bin/env bash
# Sets up a Debian 12 machine (as root) and runs every balloond test: unit tests, and integration
# tests against a real libvirtd with real QEMU guests; then, in a checked build (clang, ASan +
# UBSan), the unit tests again and each fuzz target for 30 s. Extra arguments go to the first ctest
# only (e.g. -L unit), and skip the checked build.
set -euo pipefail
# Warnings are errors here (CI); a plain build leaves them warnings.
export BALLOOND_WERROR=${BALLOOND_WERROR:-ON}
source "$(cd "$(dirname "$0")/.." && pwd)/deploy/host-setup.sh"
require_root
install_packages "${BALLOOND_TEST_PACKAGES[@]}"
start_libvirt
build_guest
build_project

# run_ctest DIR LOG [ARG...]: ctest in DIR, its output also in LOG; returns ctest's status.
run_ctest() {
  local dir=$1 log=$2
  shift 2
  (cd "$dir" && ctest --output-on-failure "$@") 2>&1 | tee "$log"
  return "${PIPESTATUS[0]}"
}

say "running tests"
set +e
run_ctest "$BALLOOND_BUILD" "$BALLOOND_BUILD/ctest.log" "$@"
rc=$?
logs=("$BALLOOND_BUILD/ctest.log")
if [[ $# == 0 ]]; then
  set -e
  build_checked
  set +e
  say "running the unit tests and fuzz targets in the checked build"
  run_ctest "$BALLOOND_CHECK_BUILD" "$BALLOOND_CHECK_BUILD/ctest.log" -L 'unit|fuzz' -j"$(nproc)"
  check_rc=$?
  (( rc == 0 )) && rc=$check_rc
  logs+=("$BALLOOND_CHECK_BUILD/ctest.log")
fi
set -e

# One closing line that any CI can read, over both runs.
passed=0 failed=0
for log in "${logs[@]}"; do
  summary=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -n1)
  [[ -n $summary ]] || continue
  f=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/' <<<"$summary")
  t=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$summary")
  passed=$((passed + t - f)) failed=$((failed + f))
done
echo "$passed passed, $failed failed"
exit "$rc"
