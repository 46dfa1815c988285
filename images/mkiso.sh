#!/bin/sh
# Build the demo CD: an El Torito no-emulation ISO booting ISOLINUX, with
# cat.c32, a known-content /TEST.TXT, Debian's stock kernel and a busybox
# initramfs. Everything comes from Debian packages:
#   isolinux, syslinux-common, xorriso, busybox-static (installed), and
#   linux-image-<abi>-amd64 (downloaded with apt-get download, never
#   installed; the .deb is kept in OUT/cache so later runs work offline).
#
# usage: images/mkiso.sh [OUT]     (default OUT: images/out)
# writes OUT/demo.iso, OUT/TEST.TXT (the reference copy for the tests), and
# OUT/vmlinuz and OUT/initrd.gz (the ISO's kernel and initramfs, for -kernel).
# Does nothing when OUT/demo.iso is newer than this script and isolinux.cfg.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/out}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cache=$out/cache
iso=$out/demo.iso

if [ -f "$iso" ] && [ -f "$out/initrd.gz" ] && [ "$iso" -nt "$here/mkiso.sh" ] &&
	[ "$iso" -nt "$here/isolinux.cfg" ] && [ "$iso" -nt "$here/kmods.sh" ]; then
	echo "mkiso: $iso is up to date"
	exit 0
fi

isolinux_bin=/usr/lib/ISOLINUX/isolinux.bin
c32dir=/usr/lib/syslinux/modules/bios
busybox=/bin/busybox
missing=
[ -f $isolinux_bin ] || missing="$missing isolinux"
[ -f $c32dir/cat.c32 ] || missing="$missing syslinux-common"
command -v xorriso >/dev/null || missing="$missing xorriso"
# busybox-static's binary is the one that runs in an initramfs without libc.
dpkg-query -W -f '${Status}' busybox-static 2>/dev/null | grep -q ' installed' ||
	missing="$missing busybox-static"
if [ -n "$missing" ]; then
	echo "mkiso: missing packages; run: apt-get install$missing" >&2
	exit 1
fi

# The kernel: the ABI package linux-image-amd64 currently depends on. The
# name comes from the local package lists (no network); the .deb from the
# cache when it is there, otherwise from apt. If apt cannot be reached, any
# cached kernel package will do.
kernel_pkg() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[^ ]*-amd64\)$/\1/p' | head -n 1
}
kernel_deb() {
	mkdir -p "$cache"
	pkg=$(kernel_pkg)
	# Package lists never fetched (a fresh machine): fetch them once.
	if [ -z "$pkg" ] && ! ls "$cache"/linux-image-*.deb >/dev/null 2>&1; then
		sudo=
		[ "$(id -u)" = 0 ] || sudo=sudo
		$sudo apt-get update -q >&2 || true
		pkg=$(kernel_pkg)
	fi
	if [ -n "$pkg" ]; then
		deb=$(ls "$cache/${pkg}"_*.deb 2>/dev/null | tail -n 1)
		if [ -z "$deb" ]; then
			echo "mkiso: apt-get download $pkg" >&2
			(cd "$cache" && apt-get download -q "$pkg" >&2) || true
			deb=$(ls "$cache/${pkg}"_*.deb 2>/dev/null | tail -n 1)
		fi
	fi
	[ -n "${deb:-}" ] ||
		deb=$(ls "$cache"/linux-image-*-amd64_*.deb 2>/dev/null | tail -n 1)
	if [ -z "$deb" ]; then
		echo "mkiso: no linux-image-*-amd64 package (apt-get update?)" >&2
		exit 1
	fi
	echo "$deb"
}

work=$(mktemp -d "$out/work.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
root=$work/iso
mkdir -p "$root/isolinux" "$work/kernel"

deb=$(kernel_deb)
echo "mkiso: kernel from $(basename "$deb")"
dpkg-deb -x "$deb" "$work/kernel"
cp "$(ls "$work"/kernel/boot/vmlinuz-* | head -n 1)" "$root/vmlinuz"

# The initramfs: static busybox, Debian's own drivers for minivmm's disk,
# CD-ROM and NICs (emulated and paravirtual) with what they depend on, and
# an /init that loads them, greets and gives a shell.
ird=$work/initramfs
mkdir -p "$ird/bin" "$ird/dev" "$ird/proc" "$ird/sys" "$ird/mnt"
cp $busybox "$ird/bin/busybox"
"$here/kmods.sh" "$work/kernel" "$ird" ata_piix sd_mod sr_mod isofs \
	ne2k-pci virtio_pci virtio_blk virtio_net
cat >"$ird/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs dev /dev
while read -r m; do insmod "/lib/modules/$m"; done </lib/modules/load.list
echo "minivmm demo initramfs: $(uname -sr), up $(cut -d' ' -f1 /proc/uptime) s"
echo "disks: $(cd /sys/block && echo sd* sr* vd* | tr ' ' '\n' | grep -v '\*' | tr '\n' ' ')"
exec setsid cttyhack sh
EOF
chmod 755 "$ird/init"
(cd "$ird" && find . | sort | busybox cpio -o -H newc -R 0:0 2>/dev/null) |
	gzip -9n >"$root/initrd.gz"

# TEST.TXT: deterministic, several KB, every printable ASCII character, so a
# dropped, duplicated or corrupted byte or sector shows in the comparison.
awk 'BEGIN {
	for (i = 0; i < 95; i++) pr = pr sprintf("%c", 32 + i);
	for (n = 1; n <= 120; n++) {
		s = 0;
		for (k = 1; k <= n; k++) s = (s * 31 + k * 7) % 65521;
		printf "%04d %05d %s\n", n, s, substr(pr, (n * 13) % 95 + 1, 48);
	}
}' >"$root/TEST.TXT"
cp "$root/TEST.TXT" "$out/TEST.TXT"
# The same kernel and initramfs for -kernel/-initrd boots.
cp "$root/vmlinuz" "$out/vmlinuz"
cp "$root/initrd.gz" "$out/initrd.gz"

cp $isolinux_bin "$root/isolinux/"
for m in ldlinux.c32 libcom32.c32 libutil.c32 cat.c32; do
	cp "$c32dir/$m" "$root/isolinux/"
done
cp "$here/isolinux.cfg" "$root/isolinux/isolinux.cfg"

SOURCE_DATE_EPOCH=1700000000 xorriso -as mkisofs -quiet -o "$iso.tmp" \
	-V MINIVMM_DEMO -R -J \
	-b isolinux/isolinux.bin -c isolinux/boot.cat \
	-no-emul-boot -boot-load-size 4 -boot-info-table "$root" \
	2>"$work/xorriso.log" || { cat "$work/xorriso.log" >&2; exit 1; }
mv "$iso.tmp" "$iso"
echo "mkiso: wrote $iso ($(du -k "$iso" | cut -f1) KiB)"
