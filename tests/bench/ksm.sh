#!/usr/bin/env bash
# Page sharing at 2, 4 and 8 identical guests: what merging saves and ksmd's CPU in 2 minutes under
# balloond's KSM controller (host.ksm.mode=always), against ksmd at a fixed 1250 pages per 20 ms
# (ksmtuned's fastest pace) for the same time, in the same run; README's "Page sharing" figures.
# The host's KSM settings are put back afterwards. About 15 minutes on 2 cores.
#
# Usage (as root, after tests/run.sh or a build): tests/bench/ksm.sh [GUEST_COUNTS]   e.g. "2 4"
set -euo pipefail
source "$(cd "$(dirname "$0")/../.." && pwd)/deploy/host-setup.sh"
require_root
start_libvirt
build_guest >/dev/null
build_project ksm_integration_test >/dev/null
BALLOOND_KSM_GUESTS=${1:-2 4 8} BALLOOND_KSM_SECONDS=${SECONDS_PER_RUN:-120} \
  "$BALLOOND_BUILD/tests/integration/ksm_integration_test" --gtest_also_run_disabled_tests \
  --gtest_filter='KsmIntegrationTest.DISABLED_BenchSavingsAndCpuByGuestCount'
