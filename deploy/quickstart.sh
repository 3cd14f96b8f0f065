#!/usr/bin/env bash
# balloond in one command on a fresh Debian 12 machine (as root): installs packages, builds and
# installs balloond's .deb (balloond, balloonctl on PATH, the systemd unit, bash completion), starts
# virtlogd/libvirtd if needed, boots two small demo guests, starts balloond, and shows what it sees.
#   deploy/quickstart.sh          set up and run the demo (balloond keeps running)
#   deploy/quickstart.sh --stop   stop balloond, destroy the demo guests and the VMs the example
#                                 orchestrator placed
# balloond manages only the demo guests (defaults.enabled=false, each demo guest enabled=true):
# other VMs on the host are left alone. BALLOOND_FLAGS adds flags to balloond's command line, e.g.
#   BALLOOND_FLAGS="--log-level=debug --metrics-address=127.0.0.1:9860" deploy/quickstart.sh
set -euo pipefail
source "$(cd "$(dirname "$0")/.." && pwd)/deploy/host-setup.sh"

STATE=/run/balloond-quickstart
DEMO_GUESTS=(balloond-demo-1:512 balloond-demo-2:768)
IMAGES=/var/lib/libvirt/images/balloond
CTL=balloonctl
ORCHESTRATOR_MARK="placed by the balloond example orchestrator"

stop_demo() {
  if [[ -f $STATE/balloond.pid ]]; then
    kill "$(cat "$STATE/balloond.pid")" 2>/dev/null || true
    rm -f "$STATE/balloond.pid"
    say "stopped balloond"
  fi
  for g in "${DEMO_GUESTS[@]}"; do
    virsh -q -c qemu:///system destroy "${g%%:*}" >/dev/null 2>&1 && say "destroyed ${g%%:*}" || true
  done
  # The example orchestrator's VMs (deploy/examples/vm-template.xml says so in <description>).
  local vm
  for vm in $(virsh -q -c qemu:///system list --name); do
    if [[ $(virsh -q -c qemu:///system desc "$vm" 2>/dev/null) == "$ORCHESTRATOR_MARK" ]]; then
      virsh -q -c qemu:///system destroy "$vm" >/dev/null 2>&1 && say "destroyed $vm (placed by the example orchestrator)"
    fi
  done
}

demo_xml() {  # NAME MEMORY_MIB
  cat <<XML
<domain type='qemu'>
  <name>$1</name>
  <memory unit='MiB'>$2</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$IMAGES/vmlinuz</kernel><initrd>$IMAGES/initrd.gz</initrd>
    <cmdline>console=ttyS0 panic=-1 quiet</cmdline></os>
  <on_reboot>destroy</on_reboot>
  <devices>
    <serial type='pty'/><console type='pty'/>
    <memballoon model='virtio'/>
  </devices>
</domain>
XML
}

if [[ ${1:-} == --stop ]]; then
  stop_demo
  exit 0
fi
[[ $# == 0 ]] || die "usage: $0 [--stop]"

require_root
install_packages
start_libvirt
build_guest
build_package
say "installing balloond's package"
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --reinstall \
  "$BALLOOND_PACKAGE_BUILD"/package/balloond_*_amd64.deb >/dev/null
stop_demo >/dev/null

mkdir -p "$STATE"
for g in "${DEMO_GUESTS[@]}"; do
  name=${g%%:*} mib=${g##*:}
  demo_xml "$name" "$mib" >"$STATE/$name.xml"
  virsh -q -c qemu:///system create "$STATE/$name.xml" >/dev/null
  say "booted $name ($mib MiB, TCG; its console: virsh console $name)"
done

say "starting balloond (log: $STATE/balloond.log)"
# As a plain process (the demo also runs where there is no systemd); on a systemd host the package's
# unit runs it for real: systemctl start balloond.
# shellcheck disable=SC2086  # BALLOOND_FLAGS is words on purpose
nohup /usr/sbin/balloond --state-dir="$STATE/state" ${BALLOOND_FLAGS:-} >"$STATE/balloond.log" 2>&1 &
echo $! >"$STATE/balloond.pid"
for _ in $(seq 1 50); do
  "$CTL" health >/dev/null 2>&1 && break
  sleep 0.2
done
"$CTL" health >/dev/null || die "balloond is not serving; see $STATE/balloond.log"

# The demo's policy manages the demo guests only: on a host with VMs of its own, `policy mode
# enforce` must not move them (the partial-rollout pattern: off by default, on per domain).
"$CTL" policy set enabled=false >/dev/null
for g in "${DEMO_GUESTS[@]}"; do
  "$CTL" policy set --domain "${g%%:*}" enabled=true >/dev/null
done
others=$(virsh -q -c qemu:///system list --name | grep -cv '^balloond-demo-' || true)
say "the policy manages the 2 demo guests only; the host's $others other running VMs are left alone"

# Give the guests a moment to load virtio_balloon and report their first statistics.
sleep 4
say "balloonctl list"
"$CTL" list
say "balloonctl stats balloond-demo-2"
"$CTL" stats balloond-demo-2
say "balloonctl set balloond-demo-2 512M --wait"
"$CTL" set balloond-demo-2 512M --wait
say "balloonctl stats balloond-demo-2 --watch (6 s)"
"$CTL" --timeout=6s stats balloond-demo-2 --watch || true
say "balloonctl list (balloond-demo-2 is held at 512 MiB: the policy leaves it there for an hour)"
"$CTL" list
say "balloonctl decisions (the policy starts in observe mode: it decides, explains, sends nothing)"
"$CTL" decisions

cat <<TXT

balloond is running (pid $(cat "$STATE/balloond.pid")) on /run/balloond/balloond.sock and
/run/balloond/balloond-ro.sock. Try:
  $CTL list
  $CTL stats balloond-demo-1 --watch
  $CTL set balloond-demo-1 384M --wait
  $CTL qom ls balloond-demo-1 /machine/peripheral
  $CTL policy show
  $CTL release balloond-demo-2       # end the hold the set above made (or: set ... --hold=10m)
  $CTL policy mode enforce           # let the policy move the demo guests' balloons (no other VM:
                                     # defaults.enabled=false); watch: $CTL decisions --watch
  $CTL top                           # every domain, live (q quits)
  virsh console balloond-demo-1      # then type: alloc 200   (MiB; "free" releases it, Ctrl-] leaves)
Stop everything with: $0 --stop
TXT
