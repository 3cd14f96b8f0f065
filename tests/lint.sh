#!/usr/bin/env bash
# Checks balloond's C++ against .clang-format and .clang-tidy, as tests/run.sh does in CI; and two
# rules of agent/: time is read only through its Clock (agent/base/clock.h), and every source has
# its test beside it in tests/agent/ (a component's in tests/agent/<component>/).
# Usage: tests/lint.sh [BUILD_DIR]   (a configured build: clang-tidy reads compile_commands.json)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
cd "$root"
mapfile -t sources < <(git ls-files '*.cc' '*.h')
fails=0
# Real time read, slept on or waited for outside the clock: a test's fake clock could not drive it.
if grep -nE 'absl::Now\(\)|absl::SleepFor|std::chrono::[a-z_]+_clock::now|sleep_for|AwaitWith(Timeout|Deadline)\(absl::Condition|WaitForNotificationWith' \
  $(git ls-files 'agent/*.cc' 'agent/*.h' | grep -v '^agent/base/clock.h$'); then
  echo "lint: read time and wait through the Clock (agent/base/clock.h), not directly (lines above)"
  fails=1
fi
for source in $(git ls-files 'agent/*.cc' 'agent/*.h' | grep -v '^agent/main.cc$'); do
  test_file=tests/${source%.*}_test.cc
  if [[ ! -f $test_file ]]; then
    echo "lint: $source has no test ($test_file)"
    fails=1
  fi
done
((fails == 0)) || exit 1
echo "clang-format: ${#sources[@]} files"
clang-format-14 --dry-run --Werror "${sources[@]}"
# The product's sources; tests are held to the format only (gmock's macros trip the checks).
mapfile -t checked < <(git ls-files 'agent/*.cc' 'cli/*.cc' 'policy/*.cc')
echo "clang-tidy: ${#checked[@]} files"
printf '%s\n' "${checked[@]}" | xargs -P"$(nproc)" -n4 clang-tidy-14 -p "$build" --quiet 2>/dev/null
echo "lint: clean"
