#!/usr/bin/env bash
# Sets up a Debian 12 machine (as root) and runs every balloond test: unit tests, and integration
# tests against a real libvirtd with real QEMU guests and a 3-minute soak of a real balloond under
# abuse; then, in a checked build (clang, ASan + UBSan), the unit tests again, each fuzz target for
# 30 s and the soak for 3 minutes. (Longer soaks are for notes: BALLOOND_SOAK_SECONDS, ctest -L soak.)
# Extra arguments go to one ctest over the plain build instead (e.g. -R Churn), and skip the rest.
# Ends with how long each phase took, the slowest tests, and one "N passed, N failed" line.
set -euo pipefail
# Warnings are errors here (CI); a plain build leaves them warnings.
export BALLOOND_WERROR=${BALLOOND_WERROR:-ON}
source "$(cd "$(dirname "$0")/.." && pwd)/deploy/host-setup.sh"
require_root

phases=()
# phase NAME COMMAND...: runs the command and notes how long it took.
phase() {
  local name=$1 start=$SECONDS
  shift
  "$@"
  phases+=("$(printf '%-34s %5d s' "$name" $((SECONDS - start)))")
}

logs=()
rc=0
# tests NAME DIR [CTEST_ARG...]: one ctest run, its output also in DIR/ctest-NAME.log; a failure
# is remembered, and the run goes on.
tests() {
  local name=$1 dir=$2
  shift 2
  local log="$dir/ctest-$name.log"
  say "tests: $name"
  logs+=("$log")
  local start=$SECONDS status
  set +e
  (cd "$dir" && ctest --output-on-failure "$@") 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
  set -e
  ((status == 0)) || rc=$status
  phases+=("$(printf '%-34s %5d s' "tests: $name" $((SECONDS - start)))")
}

phase "packages" install_packages "${BALLOOND_TEST_PACKAGES[@]}"
phase "buf (npm)" install_buf
phase "services (libvirtd, bus, polkit)" start_libvirt
phase "guest image" build_guest
phase "build" build_project

if [[ $# -gt 0 ]]; then
  tests selected "$BALLOOND_BUILD" "$@"
else
  # Unit tests and lint share the two cores; integration tests run one at a time (real guests).
  tests unit "$BALLOOND_BUILD" -L 'unit|lint' -j"$(nproc)"
  tests integration "$BALLOOND_BUILD" -L integration
  # The soak twice, 3 minutes each: here for memory (its growth after the first minute: its new
  # attacks take a minute to reach their pace), in the checked build for the sanitizers.
  BALLOOND_SOAK_SECONDS=180 tests soak "$BALLOOND_BUILD" -L soak
  phase "checked build" build_checked
  tests "checked unit" "$BALLOOND_CHECK_BUILD" -L unit -j"$(nproc)"
  tests "checked fuzzers" "$BALLOOND_CHECK_BUILD" -L fuzz -j"$(nproc)"
  BALLOOND_SOAK_SECONDS=180 tests "checked soak" "$BALLOOND_CHECK_BUILD" -L soak
fi

echo
echo "Time by phase:"
printf '  %s\n' "${phases[@]}"
echo "Slowest tests:"
# awk reads to the end: `head` would leave sort writing into a closed pipe, and with pipefail its
# SIGPIPE would end this script before the closing line (seen in a fresh-clone run).
cat "${logs[@]}" 2>/dev/null |
  sed -nE 's/^ *[0-9]+\/[0-9]+ Test +#[0-9]+: ([^ ]+) \.+.* ([0-9.]+) sec$/\2 \1/p' |
  sort -rn | awk 'NR <= 10 {printf "  %8.1f s  %s\n", $1, $2}'

# Why each failure failed, in a few lines, where a CI that keeps only the end of the log shows it.
if ((rc != 0)); then
  echo "Failures:"
  cat "${logs[@]}" 2>/dev/null | grep -E -A7 ': Failure$|\*\*\*(Failed|Timeout|Exception)|Sanitizer' |
    cut -c1-240 | awk 'NR <= 100 {print "  " $0}' || true
fi

# One closing line that any CI can read, over every run.
passed=0 failed=0
for log in "${logs[@]}"; do
  summary=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -n1 || true)
  [[ -n $summary ]] || continue
  f=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/' <<<"$summary")
  t=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$summary")
  passed=$((passed + t - f)) failed=$((failed + f))
done
echo "$passed passed, $failed failed"
exit "$rc"
