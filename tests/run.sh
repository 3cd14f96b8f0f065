#!/usr/bin/env bash
# Sets up a Debian 12 machine (as root) and runs every balloond test: unit tests, and integration
# tests against a real libvirtd with real QEMU guests. Extra arguments go to ctest, e.g. -L unit.
set -euo pipefail
source "$(cd "$(dirname "$0")/.." && pwd)/deploy/host-setup.sh"
require_root
install_packages
start_libvirt
build_guest
build_project
say "running tests"
cd "$BALLOOND_BUILD"
set +e
ctest --output-on-failure "$@" 2>&1 | tee ctest.log
rc=${PIPESTATUS[0]}
set -e
# One closing line that any CI can read.
summary=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests failed out of [0-9]+' ctest.log | tail -n1)
if [[ -n $summary ]]; then
  failed=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/' <<<"$summary")
  total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$summary")
  echo "$((total - failed)) passed, $failed failed"
fi
exit "$rc"
