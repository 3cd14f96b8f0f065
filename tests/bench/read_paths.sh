#!/usr/bin/env bash
# Compares the ways of reading balloon statistics through libvirt (tests/bench/read_paths.py) on N
# paused TCG domains, and how each behaves when one QEMU stops answering. Not a test: figures for
# the README. Usage (as root, after tests/run.sh): tests/bench/read_paths.sh [N=20] [ROUNDS=50]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../deploy/host-setup.sh"
require_root
install_packages python3-libvirt
start_libvirt
build_guest >/dev/null
n=${1:-20}
dir=$(mktemp -d)
images=/var/lib/libvirt/images/balloond
cleanup() {
  for i in $(seq 1 "$n"); do virsh -q -c qemu:///system destroy "bench-$i" >/dev/null 2>&1 || true; done
  rm -rf "$dir"
}
trap cleanup EXIT
for i in $(seq 1 "$n"); do
  cat >"$dir/bench-$i.xml" <<XML
<domain type='qemu'><name>bench-$i</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type><kernel>$images/vmlinuz</kernel><initrd>$images/initrd.gz</initrd></os>
<devices><memballoon model='virtio'><alias name='ua-balloon'/><stats period='1'/></memballoon></devices></domain>
XML
  virsh -q -c qemu:///system create --paused "$dir/bench-$i.xml" >/dev/null
done
sleep 2
/usr/bin/python3 "$here/read_paths.py" "${2:-50}"
