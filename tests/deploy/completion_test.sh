#!/usr/bin/env bash
# balloonctl's bash completion offers the names balloond reports (domains, reservation ids, policy
# keys) as text: a name holding $(...), backquotes, ${IFS}, quotes or spaces completes quoted for
# the command line and runs nothing. A stand-in balloonctl on PATH answers the completion's
# questions with such names; the test passes when each is offered, quoted, and no command in them
# ran. Run once with bash-completion's _init_completion when it is installed, once without.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir "$dir/bin"
# Each would create a file under $dir/ran if anything expanded it.
names=(
  "x-\$(touch $dir/ran-dollar)"
  "y-\`touch $dir/ran-backquote\`"
  "z-\$(touch\${IFS}$dir/ran-ifs)"
  "quote-'a\"b"
  "my vm"
  "plain-web1"
)
printf '%s\n' "${names[@]}" >"$dir/names"
printf '%s\n' "r-1" "r-\$(touch $dir/ran-id)" >"$dir/ids"
printf '%s\n' "mode" "defaults.headroom_bytes" "k\$(touch $dir/ran-key)" >"$dir/keys"
cat >"$dir/bin/balloonctl" <<STUB
#!/bin/sh
case "\$*" in
  *"list -o name"*) cat "$dir/names" ;;
  *list*) echo "NAME STATE"; sed 's/\$/ running/' "$dir/names" ;;
  *"reservations -o name"*) cat "$dir/ids" ;;
  *"policy show -o name"*) cat "$dir/keys" ;;
esac
STUB
chmod +x "$dir/bin/balloonctl"

failures=0
fail() {
  echo "FAIL ($1): $2"
  failures=$((failures + 1))
}

# COMPREPLY for the words of a line; the last is the word being completed.
complete_line() {
  COMP_WORDS=("$@")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMP_LINE="${COMP_WORDS[*]}"
  COMP_POINT=${#COMP_LINE}
  COMPREPLY=()
  _balloonctl
}

# Every one of `expected` is offered, quoted as printf %q quotes it.
expect_offered() {
  local mode=$1 what=$2
  shift 2
  local e reply found
  for e in "$@"; do
    found=0
    for reply in "${COMPREPLY[@]}"; do
      [[ $reply == "$(printf '%q' "$e")" ]] && found=1
    done
    ((found)) || fail "$mode" "$what: '$e' not offered as $(printf '%q' "$e") (got: ${COMPREPLY[*]})"
  done
}

run() {
  local mode=$1
  PATH="$dir/bin:$PATH"
  # shellcheck disable=SC1091
  source "$root/deploy/bash-completion/balloonctl"
  complete_line balloonctl stats ""
  expect_offered "$mode" "stats <TAB>" "${names[@]}"
  complete_line balloonctl --socket=/nowhere set ""
  expect_offered "$mode" "set <TAB>" "${names[@]}"
  complete_line balloonctl reserve 1G --domain ""
  expect_offered "$mode" "--domain <TAB>" "${names[@]}"
  complete_line balloonctl events x-
  expect_offered "$mode" "events x-<TAB>" "${names[0]}"
  [[ ${#COMPREPLY[@]} == 1 ]] || fail "$mode" "events x-<TAB> offered ${#COMPREPLY[@]} names"
  complete_line balloonctl unreserve ""
  expect_offered "$mode" "unreserve <TAB>" "r-1" "r-\$(touch $dir/ran-id)"
  complete_line balloonctl reservations release ""
  expect_offered "$mode" "reservations release <TAB>" "r-1" "r-\$(touch $dir/ran-id)"
  complete_line balloonctl reservations ""
  expect_offered "$mode" "reservations <TAB>" release
  complete_line balloonctl policy set ""
  expect_offered "$mode" "policy set <TAB>" "mode=" "k\$(touch $dir/ran-key)="
  complete_line balloonctl ""
  expect_offered "$mode" "<TAB>" list stats policy
  if compgen -G "$dir/ran-*" >/dev/null; then
    fail "$mode" "a name was run as a command: $(ls "$dir" | grep ran-)"
    rm -f "$dir"/ran-*
  fi
  ((failures == 0))
}

(run "without bash-completion") || failures=$((failures + 1))
if [[ -f /usr/share/bash-completion/bash_completion ]]; then
  # shellcheck disable=SC1091
  (source /usr/share/bash-completion/bash_completion && run "with bash-completion") ||
    failures=$((failures + 1))
fi
if ((failures > 0)); then
  echo "$failures failure(s)"
  exit 1
fi
echo "completion offers every hostile name as text, and runs none"
