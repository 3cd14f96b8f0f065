#!/usr/bin/env bash
# Writes a man page from a program's own --help, so that the page says what the binary does:
# balloonctl's page has every command's help (and its subcommands'), balloond's its flags.
# Usage: make-man.sh PROGRAM SECTION VERSION SUMMARY EXTRA_ROFF OUTPUT.gz
set -euo pipefail
program=$1 section=$2 version=$3 summary=$4 extra=$5 output=$6
name=$(basename "$program")

# Help text as roff: literal lines (no fill), backslashes and leading dots escaped, '-' as \-.
verbatim() {
  echo ".nf"
  sed -e 's/\\/\\e/g' -e 's/-/\\-/g' -e "s/^\([.']\)/\\\\\&\1/"
  echo ".fi"
}
# The subcommands a help text lists: the first word of each line under "Subcommands:".
subcommands() {
  awk '/^Subcommands:/ {on = 1; next} on && /^  [a-z]/ {print $1} on && /^[^ ]/ {on = 0}'
}

top=$("$program" --help)
{
  echo ".TH ${name^^} $section \"\" \"$name $version\" \"balloond\""
  echo ".SH NAME"
  echo "$name \\- $summary"
  echo ".SH SYNOPSIS"
  sed -n 's/^Usage: [^ ]* *\(.*\)/.B '"$name"'\n\1/p' <<<"$top"
  echo ".SH DESCRIPTION"
  sed '/^Usage:/d' <<<"$top" | verbatim
  commands=$(subcommands <<<"$top")
  if [[ -n $commands ]]; then
    echo ".SH COMMANDS"
    for command in $commands; do
      help=$("$program" "$command" --help)
      echo ".SS $name $command"
      sed '/^Usage:/d' <<<"$help" | verbatim
      for sub in $(subcommands <<<"$help"); do
        echo ".SS $name $command $sub"
        "$program" "$command" "$sub" --help | sed '/^Usage:/d' | verbatim
      done
    done
  fi
  cat "$extra"
} | gzip -9n >"$output"
