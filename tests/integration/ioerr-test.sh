#!/bin/bash
# Host I/O errors reach the guest as the device's error status, and
# minivmm keeps running. An LD_PRELOAD shim (tests/integration/
# ioerr-shim.c, over the pread/pwrite/preadv/pwritev/fdatasync calls of
# the block backend) makes 8 KiB of an image, from byte 1 MiB (sector
# 2048; CD block 512), fail with EIO or ENOSPC. Then:
# - the small IDE driver (tests/guest/ioerr.c) runs DMA and PIO reads and
#   writes across the bad range, FLUSH CACHE, and an ATAPI read across the
#   CD's bad blocks; every line it prints must show the error the ATA/
#   ATAPI specs give (ERR with UNC for reads, ABRT for writes and
#   flushes, the first sector not moved in the address registers; CHECK
#   CONDITION, MEDIUM ERROR with the block in the sense data), and the
#   commands after it must work. Run 1: EIO on reads and writes (disk and
#   CD); run 2: ENOSPC on writes, and the next flush after one fails
#   (and every flush after that: a failed host flush is sticky).
# - stock Linux with Debian's ata_piix (sda) and virtio_blk (vda):
#   dd oflag=direct into the bad range fails with an I/O error, so does
#   dd iflag=direct from it; the kernel log names the error (libata's
#   { UNC } / { ABRT }, the block layer's "I/O error, dev X, sector
#   2048"; for IDE the read is a media error with the failing LBA in the
#   result registers, so a read of 2040-2063 fails at 2048 in the guest's
#   log, where virtio-blk, which cannot say, fails at 2040); with the shim's next fdatasync failing too,
#   dd conv=fsync fails (the flush), twice (sticky); a write and read
#   outside the range afterwards work.
# Each run: minivmm's stderr has the backend's one-line report (not one a
# sector) and it ends with status 0 when the guest ends.
#
#   tests/integration/ioerr-test.sh [MINIVMM] [GUEST_DIR] [SHIM]
#       (defaults ./minivmm, build/tests/guest, build/tests/ioerr-shim.so)
# Environment: LINUX (1; 0: the small guest only), TIMEOUT per boot
# (120 s), WORK (build/ioerr-test), LINUX_DIR.
# Needs /dev/kvm: run it through tests/kvmhost/run.
set -u

src=$(cd "$(dirname "$0")/../.." && pwd)
name=ioerr-test
. "$src/tests/integration/guestlib.sh"
guest_need_kvm
minivmm=$(realpath "${1:-${MINIVMM:-./minivmm}}")
gdir=$(realpath "${2:-build/tests/guest}")
shim=$(realpath "${3:-build/tests/ioerr-shim.so}")
work=${WORK:-build/ioerr-test}
timeout=${TIMEOUT:-120}
with_linux=${LINUX:-1}
for f in "$minivmm" "$gdir/ioerr.bin" "$shim"; do
	[ -e "$f" ] || {
		echo "$name: missing $f" >&2
		exit 1
	}
done
[ "$with_linux" = 1 ] && guest_need_linux
mkdir -p "$work" || exit 1
work=$(realpath "$work")
BAD_LO=1048576 BAD_HI=$((1048576 + 8192))

fail=0 passed=0
res() { # NAME OK WHY
	if [ "$2" = 1 ]; then
		echo "PASS $1"
		passed=$((passed + 1))
	else
		echo "FAIL $1: $3"
		fail=$((fail + 1))
	fi
}

# vm LOG OPS ERRNO ARGS...: minivmm with the shim on files named
# *ioerr-bad*, stdout to LOG, stderr to LOG.err; sets rc (124: killed at
# TIMEOUT).
vm() {
	local log=$1 ops=$2 errno=$3
	shift 3
	IOERR_MATCH=ioerr-bad IOERR_LO=$BAD_LO IOERR_HI=$BAD_HI \
		IOERR_OPS=$ops IOERR_ERRNO=$errno LD_PRELOAD=$shim \
		timeout -k 5 "$timeout" "$minivmm" -nographic -no-reboot "$@" \
		</dev/null >"$log" 2>"$log.err"
	rc=$?
}

# stderr: the backend's report lines, at least one, not one per sector.
check_stderr() { # NAME LOG WHAT
	local n
	n=$(grep -c "host .* failed.*: $3 (the guest gets a device error" "$2.err")
	res "$1-stderr" $((n >= 1 && n <= 4)) \
		"$n report lines for '$3' (want 1-4): $(head -c 300 "$2.err")"
}

# expect NAME LOG REGEX...: each REGEX matches a whole line of LOG.
expect() {
	local n=$1 log=$2 miss=
	shift 2
	for re in "$@"; do
		grep -aqxE "$re"$'\r?' "$log" || miss+=" [$re]"
	done
	res "$n" $([ -z "$miss" ] && echo 1 || echo 0) \
		"no line$miss in $log: $(grep -a '^IE' "$log" | tr '\n' '|' | head -c 1500)"
}

# ---- the small guest ----
disk=$work/disk.ioerr-bad.img
cd=$work/cd.ioerr-bad.iso
rm -f "$disk" && truncate -s 4M "$disk" || exit 1
head -c 2M /dev/urandom >"$cd" || exit 1

log=$work/small-eio.log
vm "$log" rw EIO -bios "$gdir/ioerr.bin" -m 16 -hda "$disk" -cdrom "$cd"
res small-eio-exit $((rc == 0)) "minivmm status $rc (log $log)"
expect small-eio "$log" \
	'IE dma-write-good bm=4' 'IE dma-write-good st=50 .*' \
	'IE dma-write-bad bm=4' 'IE dma-write-bad st=41 er=4 lba=2048' \
	'IE dma-read-bad bm=4' 'IE dma-read-bad st=41 er=40 lba=2048' \
	'IE dma-read-bad good=4' \
	'IE pio-read-bad sectors=2 good=2' 'IE pio-read-bad st=41 er=40 lba=2048' \
	'IE pio-write-bad st=41 er=4 lba=2050' \
	'IE flush st=50 .*' 'IE flush-again st=50 .*' \
	'IE dma-read-good st=50 .*' 'IE dma-read-good good=8' \
	'IE cd-read-bad st=41 sensekey=3 bytes=4096' \
	'IE cd-sense st=50 key=3 asc=11 valid=1 info=512' \
	'IE cd-read-good st=50 bytes=2048' 'DONE'
check_stderr small-eio "$log" 'Input/output error'

log=$work/small-enospc.log
vm "$log" wf ENOSPC -bios "$gdir/ioerr.bin" -m 16 -hda "$disk"
res small-enospc-exit $((rc == 0)) "minivmm status $rc (log $log)"
expect small-enospc "$log" \
	'IE dma-write-good st=50 .*' \
	'IE dma-write-bad bm=4' 'IE dma-write-bad st=41 er=4 lba=2048' \
	'IE dma-read-bad st=50 .*' 'IE dma-read-bad good=4' \
	'IE pio-read-bad sectors=4 good=2' 'IE pio-read-bad st=50 .*' \
	'IE pio-write-bad st=41 er=4 lba=2050' \
	'IE flush st=41 er=4 .*' 'IE flush-again st=41 er=4 .*' \
	'IE dma-read-good good=8' 'DONE'
check_stderr small-enospc "$log" 'No space left on device'
n=$(grep -c 'every later flush of this image fails too' "$log.err")
res small-enospc-flush-sticky-stderr $((n == 1)) "$n lines on the sticky flush error"

# ---- stock Linux: ata_piix and virtio_blk ----
if [ "$with_linux" = 1 ]; then
	for kind in ide virtio; do
		case $kind in
		ide) dev=sda kmods="ata_piix sd_mod" ;;
		virtio) dev=vda kmods="virtio_pci virtio_blk" ;;
		esac
		root=$work/root-$kind
		guest_root "$root" $kmods
		guest_disk_init LX $dev >"$root/init"
		cat >>"$root/init" <<EOF
dmesg -c >/dev/null
head -c 4096 /dev/urandom >/tmp/pat
dd if=/tmp/pat of=/dev/$dev bs=4096 seek=256 count=1 oflag=direct \\
	conv=notrunc 2>/tmp/err
echo "LX write-bad rc=\$? \$(tr '\n' ' ' </tmp/err)"
dd if=/dev/$dev of=/dev/null bs=4096 skip=256 count=1 iflag=direct 2>/tmp/err
echo "LX read-bad rc=\$? \$(tr '\n' ' ' </tmp/err)"
dmesg -c >/tmp/dmesg
dd if=/dev/$dev of=/dev/null bs=12288 skip=85 count=1 iflag=direct 2>/tmp/err
echo "LX read-span rc=\$? \$(tr '\n' ' ' </tmp/err)"
dmesg -c | tee -a /tmp/dmesg | grep 'I/O error' | sed 's/^/LX span /'
dd if=/tmp/pat of=/dev/$dev bs=4096 seek=32 count=1 oflag=direct \\
	conv=notrunc,fsync 2>/tmp/err
echo "LX flush-bad rc=\$? \$(tr '\n' ' ' </tmp/err)"
dd if=/tmp/pat of=/dev/$dev bs=4096 seek=48 count=1 oflag=direct \\
	conv=notrunc,fsync 2>/tmp/err
echo "LX flush-again rc=\$? \$(tr '\n' ' ' </tmp/err)"
dd if=/tmp/pat of=/dev/$dev bs=4096 seek=16 count=1 oflag=direct \\
	conv=notrunc status=none
echo "LX write-good rc=\$?"
dd if=/dev/$dev of=/tmp/back bs=4096 skip=16 count=1 iflag=direct status=none
cmp -s /tmp/pat /tmp/back
echo "LX read-good cmp=\$?"
dmesg >>/tmp/dmesg
sed 's/^/LX dmesg /' /tmp/dmesg
echo "LX DONE"
poweroff -f
EOF
		chmod +x "$root/init"
		guest_cpio "$root" "$work/initramfs-$kind.cpio"
		img=$work/linux-$kind.ioerr-bad.img
		rm -f "$img" && truncate -s 16M "$img" || exit 1
		if [ $kind = ide ]; then
			drive="file=$img,if=ide,index=0,media=disk,format=raw"
		else
			drive="file=$img,if=virtio,format=raw"
		fi
		log=$work/linux-$kind.log
		t0=$SECONDS
		vm "$log" rwf EIO -kernel "$linux/vmlinuz" \
			-initrd "$work/initramfs-$kind.cpio" \
			-append "$GUEST_APPEND" -m 256 -drive "$drive"
		echo "linux $kind: $((SECONDS - t0)) s, minivmm status $rc"
		res "linux-$kind-exit" $((rc == 0)) "minivmm status $rc (log $log)"
		tr -d '\r' <"$log" >"$log.txt"
		# one read of sectors 2040-2063: libata's UNC at 2048 lets sd
		# complete the first half; virtio-blk cannot say where
		if [ $kind = ide ]; then
			span=2048
		else
			span=2040
		fi
		if [ $kind = ide ]; then
			kern=('LX dmesg .*ata1.00: error: \{ ABRT \}'
				'LX dmesg .*ata1.00: error: \{ UNC \}'
				'LX dmesg .*res 41/40:08:00:08:00/.*media error.*'
				'LX dmesg .*Sense Key : Medium Error.*'
				'LX dmesg .*failed command: FLUSH CACHE.*')
		else
			kern=()
		fi
		expect "linux-$kind" "$log.txt" \
			'LX write-bad rc=1 .*Input/output error.*' \
			'LX read-bad rc=1 .*Input/output error.*' \
			'LX flush-bad rc=1 .*Input/output error.*' \
			'LX flush-again rc=1 .*Input/output error.*' \
			'LX read-span rc=1 .*Input/output error.*' \
			"LX span .*I/O error, dev $dev, sector $span op 0x0:.READ.*" \
			'LX write-good rc=0' 'LX read-good cmp=0' \
			"LX dmesg .*I/O error, dev $dev, sector 2048 op 0x1:.WRITE.*" \
			"LX dmesg .*I/O error, dev $dev, sector 2048 op 0x0:.READ.*" \
			"${kern[@]}" 'LX DONE'
		check_stderr "linux-$kind" "$log" 'Input/output error'
	done
fi

echo "$name: $passed passed, $fail failed"
[ $fail = 0 ]
