#!/usr/bin/env bash
# What balloond costs a host, per domain per collection cycle: N paused TCG domains (their QEMUs
# answer, their guests never run: an idle fleet), a baseline window without balloond, then a
# window with balloond reading every domain every period (policy off) and one with collection
# following activity (policy observe, the default).
#
# Prints, for each N: balloond's CPU, context switches (/proc/PID/task/*/status) and threads
# created in the window; libvirtd's and the QEMUs' CPU above the baseline; balloond's RSS (of
# which most is shared libraries' code: "anon" is its own heap and stacks) and threads; when its
# first collection was complete after start; and how long a collection round took (mean of the
# last 20, from its --log-level=debug lines). Not a test: figures for the README.
#
# Usage (as root, after tests/run.sh or a build): tests/bench/agent_cost.sh [N...] (default 20 100
# 250); WINDOW=30 (seconds per window), PERIOD=1 (balloond's --stats-period, seconds).
set -euo pipefail
source "$(cd "$(dirname "$0")/../.." && pwd)/deploy/host-setup.sh"
require_root
start_libvirt
build_guest >/dev/null
counts=("$@")
((${#counts[@]})) || counts=(20 100 250)
window=${WINDOW:-30}
period=${PERIOD:-1}
tick=$(getconf CLK_TCK)
dir=$(mktemp -d)
images=/var/lib/libvirt/images/balloond
agent=
cleanup() {
  [[ -n $agent ]] && kill "$agent" 2>/dev/null
  virsh -q -c qemu:///system list --name | grep '^bench-' | while read -r d; do
    virsh -q -c qemu:///system destroy "$d" >/dev/null 2>&1 || true
  done
  rm -rf "$dir"
}
trap cleanup EXIT

# start_domains N: bench-1..bench-N, paused, each with a balloon reporting every second.
start_domains() {
  local have
  have=$(virsh -q -c qemu:///system list --name | grep -c '^bench-' || true)
  for i in $(seq $((have + 1)) "$1"); do
    cat >"$dir/bench-$i.xml" <<XML
<domain type='qemu'><name>bench-$i</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type><kernel>$images/vmlinuz</kernel><initrd>$images/initrd.gz</initrd></os>
<devices><memballoon model='virtio'><stats period='1'/></memballoon></devices></domain>
XML
    virsh -q -c qemu:///system create --paused "$dir/bench-$i.xml" >/dev/null
  done
}

# CPU ms (user + system) of the given PIDs.
cpu_ms() {
  local t=0 p
  for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done
  echo $((t * 1000 / tick))
}
qemus() { pgrep -f 'qemu-system-x86_64 -name guest=bench-' | tr '\n' ' '; }
# Context switches of every thread of PID, and its thread IDs.
switches() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ {s += $2} END {print s}'; }
tids() { ls /proc/"$1"/task | sort; }

# window_cpu: prints "libvirtd_ms qemu_ms agent_ms agent_switches agent_new_threads" over the window.
window_cpu() {
  local l0 q0 a0 s0 l1 q1 a1 s1 t0 new=0
  l0=$(cpu_ms $(pgrep -x libvirtd)); q0=$(cpu_ms $(qemus)); a0=0 s0=0
  if [[ -n $agent ]]; then a0=$(cpu_ms "$agent"); s0=$(switches "$agent"); t0=$(tids "$agent"); fi
  sleep "$window"
  l1=$(cpu_ms $(pgrep -x libvirtd)); q1=$(cpu_ms $(qemus)); a1=0 s1=0
  if [[ -n $agent ]]; then
    a1=$(cpu_ms "$agent"); s1=$(switches "$agent")
    new=$(comm -13 <(echo "$t0") <(tids "$agent") | wc -l)
  fi
  echo "$((l1 - l0)) $((q1 - q0)) $((a1 - a0)) $((s1 - s0)) $new"
}

per() { awk -v v="$1" -v n="$2" -v c="$window" -v p="$period" 'BEGIN { printf "%.3f", v / n / (c / p) }'; }

# run_agent N MODE: balloond with the policy in MODE over N domains; prints one table row.
run_agent() {
  local n=$1 mode=$2 base_l=$3 base_q=$4 first rss anon threads l q a s new rounds
  rm -rf "$dir/state"
  "$BALLOOND_BUILD/agent/balloond" --listen="unix:$dir/rw.sock" --listen-ro="unix:$dir/ro.sock" \
    --state-dir="$dir/state" --stats-period=${period}s --policy-mode="$mode" --log-level=debug 2>"$dir/agent.log" &
  agent=$!
  first=$( (timeout 60 tail -n +1 -f "$dir/agent.log" || true) | grep -m1 'first collection:' |
    awk '{ for (i = 1; i <= NF; i++) if ($i == "after") print $(i - 1) }' || true)
  sleep 12  # reporting switched on, and a steady fleet's collection plan at its longest
  read -r l q a s new < <(window_cpu)
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$agent/status")
  anon=$(awk '/RssAnon/ {print $2}' "/proc/$agent/status")
  threads=$(awk '/Threads/ {print $2}' "/proc/$agent/status")
  kill "$agent"
  wait "$agent" 2>/dev/null || true
  agent=
  rounds=$(grep -o 'collection round of .* took [0-9.]*ms' "$dir/agent.log" | tail -n 20 |
    awk '{sum += $NF + 0; n++} END { if (n) printf "%.1f", sum / n; else printf "-" }')
  printf "| %4d | %-9s | %8s | %6s | %8s | %8s | %8s | %5d | %7d | %8.1f | %7s | %10s | %9s |\n" \
    "$n" "$mode" "$(per "$a" "$n")" "$(per "$s" "$n")" "$(per $((l - base_l)) "$n")" \
    "$(per $((q - base_q)) "$n")" "$(per $((a + l - base_l + q - base_q)) "$n")" "$new" \
    "$((rss / 1024))" "$(awk -v k="$anon" 'BEGIN { print k / 1024 }')" "$threads" "$first" "$rounds"
}

echo "balloond cost on $(nproc) cores, $(awk '/MemTotal/ {printf "%d GiB", $2 / 1048576}' /proc/meminfo), $(date -u +%F):"
echo "paused domains, stats every ${period}s, ${window}s windows; per domain per cycle (ms, switches)."
echo "\"off\": every domain read every period; \"observe\": collection following activity."
echo
echo "|    N | policy    | agent ms | ctxsw  | libvirtd | QEMU     | total ms | new t | RSS MiB | anon MiB | threads | first coll | round ms |"
echo "|------|-----------|----------|--------|----------|----------|----------|-------|---------|----------|---------|------------|----------|"
for n in "${counts[@]}"; do
  start_domains "$n"
  sleep 3
  read -r base_l base_q _ < <(window_cpu)
  run_agent "$n" off "$base_l" "$base_q"
  run_agent "$n" observe "$base_l" "$base_q"
done
