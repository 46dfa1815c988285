#!/bin/sh
# Build the VGA test CD: ISOLINUX with Syslinux's graphical menu
# (vesamenu.c32 and the libcom32.c32 and libutil.c32 it needs) configured by
# images/vgamenu.cfg on a one-colour PNG background, and Debian's
# memtest86+ (memtest86+x64.bin, booted as a Linux-protocol kernel, as
# ISOLINUX boots it on real hardware). Everything comes from Debian
# packages: isolinux, syslinux-common, xorriso, memtest86+.
#
# usage: images/mkvgaiso.sh [OUT]     (default OUT: images/out)
# writes OUT/vgamenu.iso. Does nothing when it is newer than this script
# and vgamenu.cfg.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/out}
mkdir -p "$out"
out=$(cd "$out" && pwd)
iso=$out/vgamenu.iso

if [ -f "$iso" ] && [ "$iso" -nt "$here/mkvgaiso.sh" ] &&
	[ "$iso" -nt "$here/vgamenu.cfg" ]; then
	echo "mkvgaiso: $iso is up to date"
	exit 0
fi

isolinux_bin=/usr/lib/ISOLINUX/isolinux.bin
c32dir=/usr/lib/syslinux/modules/bios
memtest=/boot/memtest86+x64.bin
missing=
[ -f $isolinux_bin ] || missing="$missing isolinux"
[ -f $c32dir/vesamenu.c32 ] || missing="$missing syslinux-common"
[ -f $memtest ] || missing="$missing memtest86+"
command -v xorriso >/dev/null || missing="$missing xorriso"
command -v python3 >/dev/null || missing="$missing python3"
if [ -n "$missing" ]; then
	echo "mkvgaiso: missing packages; run: apt-get install$missing" >&2
	exit 1
fi

work=$(mktemp -d "$out/vgawork.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
root=$work/iso
mkdir -p "$root/isolinux"
cp $isolinux_bin "$root/isolinux/"
for m in ldlinux.c32 libcom32.c32 libutil.c32 vesamenu.c32; do
	cp "$c32dir/$m" "$root/isolinux/"
done
cp "$here/vgamenu.cfg" "$root/isolinux/isolinux.cfg"
cp $memtest "$root/memtest.bin"

# The background: 640x480, every pixel #204080 (8-bit RGB PNG).
python3 - "$root/isolinux/bg.png" <<'PYEOF'
import struct, sys, zlib
w, h, rgb = 640, 480, b"\x20\x40\x80"
def chunk(kind, body):
    return (struct.pack(">I", len(body)) + kind + body +
            struct.pack(">I", zlib.crc32(kind + body) & 0xffffffff))
raw = (b"\0" + rgb * w) * h
png = (b"\x89PNG\r\n\x1a\n" +
       chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
       chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
open(sys.argv[1], "wb").write(png)
PYEOF

SOURCE_DATE_EPOCH=1700000000 xorriso -as mkisofs -quiet -o "$iso.tmp" \
	-V MINIVMM_VGA -R -J \
	-b isolinux/isolinux.bin -c isolinux/boot.cat \
	-no-emul-boot -boot-load-size 4 -boot-info-table "$root" \
	2>"$work/xorriso.log" || { cat "$work/xorriso.log" >&2; exit 1; }
mv "$iso.tmp" "$iso"
echo "mkvgaiso: wrote $iso ($(du -k "$iso" | cut -f1) KiB)"
