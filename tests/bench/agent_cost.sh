#!/usr/bin/env bash
# Measures what balloond costs a host per domain per collection cycle, against a baseline taken in
# the same run without it: N paused TCG domains (their QEMUs answer QMP), then the CPU time used
# over a window by balloond, libvirtd and the QEMU processes, without and with balloond running.
# Usage (as root, after tests/run.sh or a build): tests/bench/agent_cost.sh [DOMAINS=20] [SECONDS=30]
set -euo pipefail
source "$(cd "$(dirname "$0")/../.." && pwd)/deploy/host-setup.sh"
require_root
start_libvirt
build_guest >/dev/null
n=${1:-20}
window=${2:-30}
period=1
dir=$(mktemp -d)
trap 'kill "${agent:-0}" 2>/dev/null || true; for i in $(seq 1 "$n"); do virsh -q -c qemu:///system destroy "bench-$i" >/dev/null 2>&1 || true; done; rm -rf "$dir"' EXIT
images=/var/lib/libvirt/images/balloond
for i in $(seq 1 "$n"); do
  cat >"$dir/bench-$i.xml" <<XML
<domain type='qemu'><name>bench-$i</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type><kernel>$images/vmlinuz</kernel><initrd>$images/initrd.gz</initrd></os>
<devices><memballoon model='virtio'/></devices></domain>
XML
  virsh -q -c qemu:///system create --paused "$dir/bench-$i.xml" >/dev/null
done

# CPU seconds (user + system) of the processes whose PIDs are given.
cpu() { local t=0; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo "$t"; }
qemus() { pgrep -f 'qemu-system-x86_64 -name guest=bench-' | tr '\n' ' '; }
tick=$(getconf CLK_TCK)
measure() {  # prints CPU ms of: libvirtd qemus agent, over the window
  local l0 q0 a0 l1 q1 a1
  l0=$(cpu $(pgrep -x libvirtd)); q0=$(cpu $(qemus)); a0=$(cpu ${agent:-})
  sleep "$window"
  l1=$(cpu $(pgrep -x libvirtd)); q1=$(cpu $(qemus)); a1=$(cpu ${agent:-})
  echo "$(( (l1 - l0) * 1000 / tick )) $(( (q1 - q0) * 1000 / tick )) $(( (a1 - a0) * 1000 / tick ))"
}
sleep 2
read -r base_l base_q _ < <(measure)
"$BALLOOND_BUILD/agent/balloond" --listen="unix:$dir/rw.sock" --listen-ro="unix:$dir/ro.sock" \
  --state-dir="$dir/state" --stats-period=${period}s --policy-mode=observe 2>"$dir/agent.log" &
agent=$!
sleep 3  # discovery and polling switched on
read -r with_l with_q with_a < <(measure)
rss=$(awk '/VmRSS/ {print $2}' "/proc/$agent/status")
threads=$(awk '/Threads/ {print $2}' "/proc/$agent/status")
cycles=$(( window / period ))
per() { awk -v ms="$1" -v n="$n" -v c="$cycles" 'BEGIN { printf "%.3f", ms / n / c }'; }
echo "balloond cost: $n paused domains, stats every ${period}s, ${window}s window (baseline: same domains, no agent, same run)"
echo "  balloond CPU        $with_a ms  = $(per "$with_a") ms per domain per cycle; RSS ${rss} KiB, ${threads} threads"
echo "  libvirtd CPU        $with_l ms (baseline $base_l ms)  = +$(per $((with_l - base_l))) ms per domain per cycle"
echo "  QEMU processes CPU  $with_q ms (baseline $base_q ms)  = +$(per $((with_q - base_q))) ms per domain per cycle"
