#!/usr/bin/env bash
# Builds balloond's test guest from Debian packages only: the cloud kernel and a busybox initramfs
# that loads virtio_balloon, virtio_blk and virtio_mem and obeys commands on its serial console (see
# tests/guest/init),
# with pagetouch (tests/guest/pagetouch.c, built static) to reread a hot file set through a mapping.
# Usage: build-guest.sh [OUT_DIR]   (default /var/lib/libvirt/images/balloond, readable by QEMU)
# Writes OUT_DIR/vmlinuz, OUT_DIR/initrd.gz and OUT_DIR/disk.img (1 GiB, sparse: the disk a guest's
# page cache is filled from); does nothing when they are already newer than init and pagetouch.c.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-/var/lib/libvirt/images/balloond}
if [[ -s $out/vmlinuz && -s $out/initrd.gz && -f $out/disk.img && $out/initrd.gz -nt $here/init &&
      $out/initrd.gz -nt $here/pagetouch.c && $out/initrd.gz -nt $0 ]]; then
  exit 0
fi
command -v busybox >/dev/null || { echo "build-guest: busybox-static is not installed (apt-get install busybox-static)" >&2; exit 1; }
command -v cc >/dev/null || { echo "build-guest: no C compiler (apt-get install gcc libc6-dev)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
kpkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[[ -n $kpkg ]] || { echo "build-guest: cannot resolve linux-image-cloud-amd64 (run apt-get update)" >&2; exit 1; }
(cd "$work" && apt-get download -q "$kpkg" >/dev/null 2>&1) || { echo "build-guest: apt-get download $kpkg failed" >&2; exit 1; }
dpkg -x "$work"/linux-image-*.deb "$work/kernel"
mods=$(echo "$work"/kernel/lib/modules/*)
root=$work/root
mkdir -p "$root"/{bin,proc,sys,dev,lib/modules}
cp /bin/busybox "$root/bin/busybox"
cc -static -O2 -o "$root/bin/pagetouch" "$here/pagetouch.c"
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_balloon virtio_blk virtio_mem; do
  f=$(find "$mods" -name "$m.ko*" | head -n1)
  [[ -n $f ]] || { echo "build-guest: module $m not found in $kpkg" >&2; exit 1; }
  case $f in
    *.xz) xz -dc "$f" >"$root/lib/modules/$m.ko" ;;
    *.zst) zstd -qdc "$f" >"$root/lib/modules/$m.ko" ;;
    *) cp "$f" "$root/lib/modules/$m.ko" ;;
  esac
done
install -m 0755 "$here/init" "$root/init"
mkdir -p "$out"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -9) >"$out/initrd.gz.tmp"
cp "$work"/kernel/boot/vmlinuz-* "$out/vmlinuz.tmp"
mv "$out/vmlinuz.tmp" "$out/vmlinuz"
# Sparse: reads of it are real virtio-blk reads in the guest, and cost the host no disk.
[[ -f $out/disk.img ]] || truncate -s 1G "$out/disk.img"
chmod 0644 "$out/disk.img"
mv "$out/initrd.gz.tmp" "$out/initrd.gz"
chmod 0644 "$out/vmlinuz" "$out/initrd.gz"
echo "build-guest: $out/vmlinuz, $out/initrd.gz and $out/disk.img from $kpkg"
