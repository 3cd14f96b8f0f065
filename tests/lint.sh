#!/usr/bin/env bash
# Checks balloond's C++ against .clang-format and .clang-tidy, as tests/run.sh does in CI.
# Usage: tests/lint.sh [BUILD_DIR]   (a configured build: clang-tidy reads compile_commands.json)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
cd "$root"
mapfile -t sources < <(git ls-files '*.cc' '*.h')
echo "clang-format: ${#sources[@]} files"
clang-format-14 --dry-run --Werror "${sources[@]}"
# The product's sources; tests are held to the format only (gmock's macros trip the checks).
mapfile -t checked < <(git ls-files 'agent/*.cc' 'cli/*.cc' 'policy/*.cc')
echo "clang-tidy: ${#checked[@]} files"
printf '%s\n' "${checked[@]}" | xargs -P"$(nproc)" -n4 clang-tidy-14 -p "$build" --quiet 2>/dev/null
echo "lint: clean"
