#!/usr/bin/env bash
# Churn at the benchmark's size: 1000 (CYCLES) paused transient domains created and destroyed, three
# at a time, under a balloond collecting every second; prints balloond's RSS and open files before
# and after, and how many of the churned domains it listed while they ran. CI runs the same test
# with 200 (its default); this size is for the README's figures (~12 min on 2 cores).
#
# Usage (as root, after tests/run.sh or a build): tests/bench/churn.sh
set -euo pipefail
source "$(cd "$(dirname "$0")/../.." && pwd)/deploy/host-setup.sh"
require_root
start_libvirt
build_guest >/dev/null
build_project churn_integration_test >/dev/null
BALLOOND_CHURN_CYCLES=${CYCLES:-1000} \
  "$BALLOOND_BUILD/tests/integration/churn_integration_test" \
  --gtest_filter='ChurnIntegrationTest.DomainsComeAndGoAndNothingOfThemStays'
