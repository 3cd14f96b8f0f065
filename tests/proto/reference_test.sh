#!/usr/bin/env bash
# proto/REFERENCE.md is what proto/reference.py makes of balloon.proto's comments now: a change of
# the API's comments must come with the reference regenerated.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
if ! diff -u "$root/proto/REFERENCE.md" <(/usr/bin/python3 "$root/proto/reference.py"); then
  echo "proto/REFERENCE.md is out of date: run proto/reference.py > proto/REFERENCE.md" >&2
  exit 1
fi
echo "proto/REFERENCE.md matches balloon.proto"
