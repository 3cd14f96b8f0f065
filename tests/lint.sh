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
# clang-tidy takes minutes; a file it passed is remembered by a key of its text, every header,
# proto and CMakeLists.txt of the tree, the checks and the tool's version, so that a run over the
# same tree (CI's fresh clone of it) checks only what changed. BALLOOND_TIDY_CACHE=0: no memory.
tidy_cache=${XDG_CACHE_HOME:-$HOME/.cache}/balloond/tidy
[[ ${BALLOOND_TIDY_CACHE:-1} != 0 ]] || tidy_cache=$(mktemp -d)
mkdir -p "$tidy_cache"
tree_key=$({
  clang-tidy-14 --version
  cat .clang-tidy
  git ls-files '*.h' '*.proto' 'CMakeLists.txt' '*/CMakeLists.txt' | xargs cat
} | sha256sum | cut -c1-64)
pending=()
for source in "${checked[@]}"; do
  key=$( (echo "$tree_key" && cat "$source") | sha256sum | cut -c1-64)
  [[ -e $tidy_cache/$key ]] || pending+=("$source" "$tidy_cache/$key")
done
echo "clang-tidy: ${#checked[@]} files, $((${#pending[@]} / 2)) not yet passed in this form"
# Each file alone, so that each one passed is remembered even when another fails.
((${#pending[@]} == 0)) || printf '%s\n' "${pending[@]}" |
  xargs -P"$(nproc)" -n2 sh -c 'clang-tidy-14 -p "$0" --quiet "$1" 2>/dev/null && touch "$2"' "$build"
echo "lint: clean"
