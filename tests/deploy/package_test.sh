#!/usr/bin/env bash
# The .deb as an operator gets it: built by cpack from BUILD_DIR, its control fields and contents,
# the shipped systemd unit rated by `systemd-analyze security` (2.5 or lower) and clean under
# `verify`, and an install with dpkg that leaves balloond/balloonctl on PATH, the user balloond in
# group libvirt and the bash completion in place (undone afterwards unless it was installed before).
# Usage (as root): tests/deploy/package_test.sh BUILD_DIR
set -euo pipefail
build=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)
work=$(mktemp -d)
fails=0
check() {  # DESCRIPTION COMMAND...
  local what=$1
  shift
  if "$@" >/dev/null 2>&1; then echo "ok: $what"; else echo "FAILED: $what"; fails=$((fails + 1)); fi
}
installed_before=$(dpkg-query -W -f='${Status}' balloond 2>/dev/null || true)
cleanup() {
  [[ $installed_before == *installed* ]] || dpkg --purge balloond >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

(cd "$build" && cpack -G DEB -B "$work/out" >"$work/cpack.log" 2>&1) || { cat "$work/cpack.log"; exit 1; }
version=$(sed -n 's/^project(balloond VERSION \([0-9.]*\).*/\1/p' "$build/../CMakeLists.txt" 2>/dev/null ||
  true)
deb=$(ls "$work"/out/balloond_*_amd64.deb)
echo "built $(basename "$deb") ($(du -k "$deb" | cut -f1) KiB)"
field() { dpkg-deb -f "$deb" "$1"; }
check "Package is balloond" test "$(field Package)" = balloond
check "Architecture is amd64" test "$(field Architecture)" = amd64
[[ -n $version ]] && check "Version is the project's ($version)" test "$(field Version)" = "$version"
for dep in adduser 'libgrpc++1.51' libvirt0 libprotobuf32 libprometheus-cpp-pull1.0 libabsl20220623; do
  check "Depends names $dep" grep -qF "$dep" <<<"$(field Depends)"
done
contents=$(dpkg-deb -c "$deb" | awk '{print $6}')
for path in ./usr/sbin/balloond ./usr/bin/balloonctl ./usr/lib/systemd/system/balloond.service \
  ./etc/balloond/balloond.textproto ./usr/share/bash-completion/completions/balloonctl \
  ./usr/share/doc/balloond/README.md ./usr/share/doc/balloond/examples/balloond-dashboard.json \
  ./usr/share/doc/balloond/examples/orchestrator.py ./usr/share/doc/balloond/examples/vm-template.xml \
  ./usr/share/balloond/proto/balloon/v1/balloon.proto ./usr/share/man/man1/balloonctl.1.gz \
  ./usr/share/man/man8/balloond.8.gz; do
  check "contains $path" grep -qxF "$path" <<<"$contents"
done
check "the example orchestrator is executable" \
  grep -qE '^-rwxr-xr-x .* ./usr/share/doc/balloond/examples/orchestrator.py$' <<<"$(dpkg-deb -c "$deb")"
dpkg-deb --ctrl-tarfile "$deb" | tar -x -C "$work" ./conffiles ./postinst ./prerm
check "the config is a conffile" grep -qx /etc/balloond/balloond.textproto "$work/conffiles"
check "postinst creates the user balloond" grep -q 'adduser --system' "$work/postinst"

# The maintainer scripts as dpkg runs them on a systemd host: in a mount namespace whose /run has
# /run/systemd/system, with systemctl, deb-systemd-invoke and adduser recording what they are asked.
mkdir -p "$work/stubs"
for tool in systemctl deb-systemd-invoke adduser; do
  printf '#!/bin/sh\necho "%s $*" >>"%s"\n' "$tool" "$work/calls" >"$work/stubs/$tool"
  chmod +x "$work/stubs/$tool"
done
on_systemd() {  # SCRIPT ARG...: what the script asked of systemd
  : >"$work/calls"
  unshare --mount --propagation private sh -c \
    'mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/system && PATH="$0:$PATH" exec sh "$@"' \
    "$work/stubs" "$@" >/dev/null 2>&1
  grep -E '^(systemctl|deb-systemd-invoke)' "$work/calls" | grep -v daemon-reload | tr '\n' ';'
}
check "a first install enables the unit and starts nothing" \
  test "$(on_systemd "$work/postinst" configure '')" = "systemctl enable balloond.service;"
check "an upgrade restarts a running balloond on the new binary" \
  test "$(on_systemd "$work/postinst" configure 0.0.9)" = "deb-systemd-invoke try-restart balloond.service;"
check "a removal stops balloond" \
  test "$(on_systemd "$work/prerm" remove)" = "deb-systemd-invoke stop balloond.service;"
check "an upgrade does not stop it in prerm" test -z "$(on_systemd "$work/prerm" upgrade 0.1.1)"

# The unit as shipped: its sandbox rating, and verify (with its ExecStart pointed at the binary in
# the package, since verify checks that the command exists).
dpkg-deb -x "$deb" "$work/root"

# The man pages render without a warning and document what the binaries do now.
man_page() { MANWIDTH=100 man --warnings -l "$work/root/usr/share/man/$1" 2>"$work/man.err"; }
ctl_page=$(man_page man1/balloonctl.1.gz)
check "balloonctl(1) renders without warnings" test ! -s "$work/man.err"
check "balloonctl(1) has set's --force" grep -q -- '--force .*floor' <<<"$ctl_page"
check "balloonctl(1) has policy unset" grep -q 'balloonctl policy unset' <<<"$ctl_page"
check "balloonctl(1) has the exit status" grep -q 'EXIT STATUS' <<<"$ctl_page"
daemon_page=$(man_page man8/balloond.8.gz)
check "balloond(8) renders without warnings" test ! -s "$work/man.err"
check "balloond(8) has its flags" grep -q -- '--qom-on-read-only-socket' <<<"$daemon_page"
check "balloond(8) has its signals" grep -q 'SIGHUP' <<<"$daemon_page"
unit=$work/root/usr/lib/systemd/system/balloond.service
exposure=$(systemd-analyze security --offline=true "$unit" 2>&1 | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
echo "systemd-analyze security: overall exposure $exposure"
check "exposure $exposure is 2.5 or lower" awk -v e="$exposure" 'BEGIN { exit !(e != "" && e <= 2.5) }'
mkdir -p "$work/verify"
sed "s|/usr/sbin/balloond|$work/root/usr/sbin/balloond|" "$unit" >"$work/verify/balloond.service"
if systemd-analyze verify "$work/verify/balloond.service" >"$work/verify.log" 2>&1 && [[ ! -s $work/verify.log ]]; then
  echo "ok: systemd-analyze verify is clean"
else
  echo "FAILED: systemd-analyze verify:"; cat "$work/verify.log"; fails=$((fails + 1))
fi

# Installed as an operator would.
apt-get install -y -q "$deb" >"$work/install.log" 2>&1 || dpkg -i "$deb" >>"$work/install.log" 2>&1 ||
  { cat "$work/install.log"; exit 1; }
check "balloonctl is on PATH" test "$(command -v balloonctl)" = /usr/bin/balloonctl
check "balloonctl runs" balloonctl version
check "balloond runs" /usr/sbin/balloond --version
check "user balloond exists, in group libvirt" grep -qw libvirt <<<"$(id -Gn balloond)"
check "bash completes balloonctl's commands" bash -c \
  'source /usr/share/bash-completion/completions/balloonctl; COMP_WORDS=(balloonctl st); COMP_CWORD=1; _balloonctl; [[ " ${COMPREPLY[*]} " == *" stats "* ]]'

((fails == 0)) && echo "package: every check passed" || echo "package: $fails checks failed"
((fails == 0))
