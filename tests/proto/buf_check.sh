#!/usr/bin/env bash
# The API's checks with buf: `buf lint` (buf.yaml's rules) and `buf breaking` against the newest
# release tag (v*), so that no change breaks a client of a released API unnoticed.
#   tests/proto/buf_check.sh [BUF]   BUF defaults to $BALLOOND_BUF, then the one
#                                    deploy/host-setup.sh's install_buf put in build-tools/.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
buf=${1:-${BALLOOND_BUF:-$root/build-tools/node_modules/.bin/buf}}
if [[ ! -x $buf ]]; then
  echo "buf not found at $buf: install it with" \
    "'source deploy/host-setup.sh && install_buf' (npm's @bufbuild/buf)" >&2
  exit 1
fi
cd "$root"
echo "buf $("$buf" --version): lint"
"$buf" lint
if ! git rev-parse --git-dir >/dev/null 2>&1; then
  echo "not a git checkout: no release tag to compare with (buf breaking skipped)"
  exit 0
fi
release=$(git tag --list 'v*' --sort=-v:refname | head -n1)
if [[ -z $release ]]; then
  echo "no release tag (v*) in this checkout: nothing released to compare with (buf breaking skipped)"
  exit 0
fi
echo "buf breaking against $release"
"$buf" breaking --against ".git#tag=$release"
echo "the API keeps every promise of $release"
