#!/bin/sh
# Stock Debian kernel for minivmm's direct kernel boot (-kernel/-initrd).
#
#   images/mklinux.sh [OUTDIR]      (default: images/out next to this script)
#
# Produces, under OUTDIR/linux/:
#   vmlinuz        the package's bzImage, unmodified
#   vmlinux        the ELF kernel inside it (decompressed, unmodified), which
#                  minivmm enters through its PVH note
#   initramfs.cpio a busybox initramfs whose /init prints a marker and resets
#   release        the kernel release string
# The .deb is fetched with `apt-get download` (never installed) into
# OUTDIR/cache/ and reused on later runs.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/out}
cache=$out/cache
dst=$out/linux
mkdir -p "$cache" "$dst"

die() {
	echo "mklinux: $*" >&2
	exit 1
}

# linux-image-amd64 is a metapackage; the real image is its dependency.
pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
	awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
[ -n "$pkg" ] || die "cannot resolve linux-image-amd64 (apt-get update?)"

deb=$(ls "$cache"/"$pkg"_*.deb 2>/dev/null | head -n 1 || true)
if [ -z "$deb" ]; then
	echo "mklinux: downloading $pkg"
	(cd "$cache" && apt-get download "$pkg") || die "apt-get download $pkg failed"
	deb=$(ls "$cache"/"$pkg"_*.deb | head -n 1)
fi

# Unpack only once per package version.
stamp=$dst/.unpacked-$(basename "$deb")
if [ ! -e "$stamp" ]; then
	rm -rf "$dst/pkg" "$dst"/.unpacked-*
	dpkg-deb -x "$deb" "$dst/pkg"
	# modules.dep for images/kmods.sh (the package ships none): made
	# here, on the host, not later inside a slow test VM.
	rel=$(ls "$dst/pkg/lib/modules" | head -n 1)
	PATH=$PATH:/sbin:/usr/sbin depmod -b "$dst/pkg" "$rel" ||
		die "depmod failed (apt-get install kmod)"
	touch "$stamp"
fi
vmlinuz=$(ls "$dst"/pkg/boot/vmlinuz-* | head -n 1)
[ -f "$vmlinuz" ] || die "no vmlinuz in $deb"
# Every file is written beside its place and renamed into it: make check
# runs tests two at a time, and a test VM copying this directory must see
# the old file or the new one, never half of one.
basename "$vmlinuz" | sed 's/^vmlinuz-//' >"$dst/release.tmp.$$"
mv "$dst/release.tmp.$$" "$dst/release"
if ! cmp -s "$vmlinuz" "$dst/vmlinuz"; then
	cp "$vmlinuz" "$dst/vmlinuz.tmp.$$"
	mv "$dst/vmlinuz.tmp.$$" "$dst/vmlinuz"
fi

# Little-endian unsigned integer of $2 bytes at offset $1 of file $3.
le() {
	od -An -tu1 -j "$1" -N "$2" "$3" |
		awk '{ for (i = NF; i >= 1; i--) v = v * 256 + $i } END { print v }'
}

# The bzImage setup header (Documentation/arch/x86/boot.rst): the protected
# mode part starts after (setup_sects + 1) sectors; payload_offset and
# payload_length (protocol 2.08+) locate the compressed vmlinux inside it.
# The build appends the decompressed size (4 bytes) to the payload.
extract_vmlinux() {
	z=$1
	[ "$(dd if="$z" bs=1 skip=514 count=4 2>/dev/null)" = HdrS ] ||
		die "$z: no Linux boot header"
	sects=$(le 497 1 "$z")
	[ "$sects" -ne 0 ] || sects=4
	poff=$(le 584 4 "$z")
	plen=$(le 588 4 "$z")
	start=$(((sects + 1) * 512 + poff))
	tmp=$dst/payload.bin.$$
	tail -c +$((start + 1)) "$z" | head -c $((plen - 4)) >"$tmp"
	magic=$(od -An -tx1 -N 4 "$tmp" | tr -d ' \n')
	case $magic in
	28b52ffd) zstd -dqc "$tmp" >"$dst/vmlinux.tmp.$$" ;;
	fd377a58) xz -dqc --single-stream "$tmp" >"$dst/vmlinux.tmp.$$" ;;
	1f8b*) gzip -dqc "$tmp" >"$dst/vmlinux.tmp.$$" || true ;;
	*) die "$z: unknown payload compression (magic $magic)" ;;
	esac
	rm -f "$tmp"
	[ "$(od -An -tx1 -N 4 "$dst/vmlinux.tmp.$$" | tr -d ' \n')" = 7f454c46 ] ||
		die "$z: the decompressed payload is not an ELF file"
	mv "$dst/vmlinux.tmp.$$" "$dst/vmlinux"
}
if [ ! -s "$dst/vmlinux" ] || [ "$vmlinuz" -nt "$dst/vmlinux" ]; then
	extract_vmlinux "$dst/vmlinuz"
fi

# The initramfs: busybox-static, and an /init that says it ran and resets.
bb=$(command -v busybox || true)
[ -n "$bb" ] && file -L "$bb" 2>/dev/null | grep -q 'statically linked' ||
	bb=/bin/busybox
[ -x "$bb" ] || die "busybox-static is not installed (apt-get install busybox-static)"
root=$dst/initramfs.$$
rm -rf "$root"
mkdir -p "$root/bin" "$root/dev" "$root/proc" "$root/sys"
cp "$bb" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
# A console for /init's output (needs root; devtmpfs is not mounted yet).
mknod "$root/dev/console" c 5 1 2>/dev/null || true
cat >"$root/init" <<'EOF'
#!/bin/sh
/bin/busybox mount -t proc proc /proc
echo "MINIVMM-INIT-OK $(/bin/busybox uname -r)"
/bin/busybox reboot -f
EOF
chmod 755 "$root/init"
(cd "$root" && find . | sort | busybox cpio -o -H newc -R 0:0 2>/dev/null) \
	>"$dst/initramfs.cpio.tmp.$$"
mv "$dst/initramfs.cpio.tmp.$$" "$dst/initramfs.cpio"
rm -rf "$root"

echo "mklinux: $(cat "$dst/release"): $dst/vmlinux $dst/vmlinuz $dst/initramfs.cpio"
