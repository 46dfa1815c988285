#!/bin/sh
# Build the KVM test VM: Debian's stock kernel and a busybox initramfs that
# loads kvm-amd/kvm-intel (so the VM, run by QEMU's TCG with an emulated
# SVM CPU, has a real /dev/kvm), mounts the host's root read-only over
# virtio-9p with a tmpfs overlay, and runs one command in a chroot of it.
#
#   tests/kvmhost/mkvm.sh OUTDIR
#
# Writes OUTDIR/vmlinuz and OUTDIR/initramfs.gz. The kernel package comes
# from images/out/cache/ (shared with images/mkiso.sh), fetched once with
# `apt-get download` and never installed. Does nothing when both files are
# newer than this script and the package.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
out=$1
cache=$src/images/out/cache
mkdir -p "$out" "$cache"
out=$(cd "$out" && pwd)

die() {
	echo "mkvm: $*" >&2
	exit 1
}

kernel_pkg() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[^ ]*-amd64\)$/\1/p' | head -n 1
}
if [ -n "${KVMHOST_KERNEL:-}" ]; then
	# A chosen kernel package (e.g. linux-image-6.12.100+deb12-amd64).
	# Its own cache directory: images/mkiso.sh takes the newest package
	# in images/out/cache.
	pkg=$KVMHOST_KERNEL
	mkdir -p "$cache/kvmhost"
	deb=$(ls "$cache/kvmhost/${pkg}"_*.deb 2>/dev/null | tail -n 1 || true)
	if [ -z "$deb" ]; then
		echo "mkvm: apt-get download $pkg" >&2
		(cd "$cache/kvmhost" && apt-get download -q "$pkg" >&2) || die "apt-get download $pkg failed"
		deb=$(ls "$cache/kvmhost/${pkg}"_*.deb | tail -n 1)
	fi
else
	deb=$(ls "$cache"/linux-image-*-amd64_*.deb 2>/dev/null | tail -n 1 || true)
	if [ -z "$deb" ]; then
		pkg=$(kernel_pkg)
		if [ -z "$pkg" ]; then
			sudo=
			[ "$(id -u)" = 0 ] || sudo=sudo
			$sudo apt-get update -q >&2 || true
			pkg=$(kernel_pkg)
		fi
		[ -n "$pkg" ] || die "cannot resolve linux-image-amd64 (apt-get update?)"
		echo "mkvm: apt-get download $pkg" >&2
		(cd "$cache" && apt-get download -q "$pkg" >&2) || die "apt-get download $pkg failed"
		deb=$(ls "$cache"/linux-image-*-amd64_*.deb | tail -n 1)
	fi
fi

if [ -s "$out/vmlinuz" ] && [ -s "$out/initramfs.gz" ] &&
	[ "$out/initramfs.gz" -nt "$here/mkvm.sh" ] &&
	[ "$out/initramfs.gz" -nt "$here/init" ] &&
	[ "$out/initramfs.gz" -nt "$deb" ]; then
	exit 0
fi

bb=/bin/busybox
dpkg-query -W -f '${Status}' busybox-static 2>/dev/null | grep -q ' installed' ||
	die "busybox-static is not installed (apt-get install busybox-static)"
command -v cpio >/dev/null || die "cpio is not installed (apt-get install cpio)"

work=$(mktemp -d "$out/work.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
echo "mkvm: unpacking $(basename "$deb")" >&2
dpkg-deb -x "$deb" "$work/pkg"

root=$work/root
mkdir -p "$root/bin" "$root/dev" "$root/proc" "$root/sys" "$root/host" \
	"$root/upper" "$root/new" "$root/ctl"
cp $bb "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
cp "$here/init" "$root/init"
chmod 755 "$root/init"
# KVM for both vendors (the VM's CPU is AMD under TCG's -cpu max, a real
# host may be Intel), virtio-9p for the shares, overlayfs, and what the
# network tests need inside (tun, veth, bridge), and a file system with
# O_DIRECT for cache=none images (loop, ext4 and its crc32c: the VM's
# tmpfs has no O_DIRECT before Linux 6.6).
"$src/images/kmods.sh" "$work/pkg" "$root" kvm-amd kvm-intel virtio_pci \
	9pnet_virtio 9p overlay tun veth bridge loop crc32c_generic ext4
(cd "$root" && find . | sort | cpio -o -H newc -R 0:0 --quiet) |
	gzip -1 >"$out/initramfs.gz.tmp"
cp "$(ls "$work"/pkg/boot/vmlinuz-* | head -n 1)" "$out/vmlinuz"
mv "$out/initramfs.gz.tmp" "$out/initramfs.gz"
echo "mkvm: $out/vmlinuz $out/initramfs.gz" >&2
