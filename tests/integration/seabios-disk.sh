#!/bin/bash
# SeaBIOS (Debian's bios.bin) boots a hard disk from each of minivmm's disk
# controllers: the IDE disk (-hda) and virtio-blk (-drive if=virtio, the
# only disk, so SeaBIOS's own virtio-blk driver is what reads it). The disk
# holds a boot sector built here (as/ld) and 64 KiB of random data behind
# it. The boot sector, started by SeaBIOS's INT 19h at 0000:7c00, asks
# INT 13h for the EDD extensions (AH=41h), reads the 128 sectors after it
# with an extended read (AH=42h, in two 64-sector requests), reads sector
# 1 again through the CHS call (AH=02h) and compares it with the first
# one, and reports on the debug port 0x402: its boot drive, a checksum of
# the 64 KiB (each byte folded into a rotating 32-bit sum) and the CHS
# comparison. A pass: SeaBIOS booted the disk ("Booting from Hard Disk"),
# the boot drive is 0x80, the checksum equals the one computed here from
# the image, and the CHS read matched.
#
#   tests/integration/seabios-disk.sh [MINIVMM]
# Environment: SEABIOS (/usr/share/seabios/bios.bin), WORK
# (build/seabios-disk), TIMEOUT seconds per boot (180), CASES (ide virtio
# virtio-ioeventfd), EXTRA_ARGS (more minivmm options). Needs a /dev/kvm
# (run it through tests/kvmhost/run) and binutils (as/ld).
set -u

src=$(cd "$(dirname "$0")/../.." && pwd)
name=seabios-disk
. "$src/tests/integration/guestlib.sh"
guest_need_kvm
minivmm=$(realpath "${1:-${MINIVMM:-./minivmm}}")
bios=${SEABIOS:-/usr/share/seabios/bios.bin}
work=${WORK:-build/seabios-disk}
timeout=${TIMEOUT:-180}
cases=${CASES:-ide virtio virtio-ioeventfd}
for f in "$minivmm" "$bios"; do
	[ -e "$f" ] || {
		echo "seabios-disk: missing $f" >&2
		exit 1
	}
done
mkdir -p "$work" || exit 1
work=$(realpath "$work")

# ---- the disk: boot sector, 64 KiB of data, padding to 1 MiB ----
cat >"$work/boot.S" <<'ASM'
	.code16
	.globl _start
_start:	cli
	xor %ax, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov $0x7c00, %sp
	sti
	mov %dl, drive
	mov $0x402, %dx
	mov $hello, %si
	call puts
	mov drive, %al
	call hex8
	mov $0x41, %ah		/* EDD installation check */
	mov $0x55aa, %bx
	mov drive, %dl
	int $0x13
	jc fail41
	cmp $0xaa55, %bx
	jne fail41
	mov $dap, %si		/* LBA 1..64 to 1000:0000 */
	mov $0x42, %ah
	mov drive, %dl
	int $0x13
	jc fail42
	movw $0x8000, dap_off	/* LBA 65..128 to 1000:8000 */
	movl $65, dap_lba
	mov $dap, %si
	mov $0x42, %ah
	mov drive, %dl
	int $0x13
	jc fail42
	/* The rotating sum over 1000:0000-1000:ffff. */
	xor %ebx, %ebx
	mov $0x1000, %ax
	mov %ax, %es
	xor %di, %di
2:	rol $5, %ebx
	movzbl %es:(%di), %eax
	xor %eax, %ebx
	inc %di
	jnz 2b
	mov $0x402, %dx
	mov $summ, %si
	call puts
	mov %ebx, %eax
	call hex32
	/* Sector 1 again through CHS (cylinder 0, head 0, sector 2) to
	 * 3000:0000, compared with the copy at 1000:0000. */
	mov $0x3000, %ax
	mov %ax, %es
	xor %bx, %bx
	mov $0x0201, %ax
	mov $0x0002, %cx
	xor %dh, %dh
	mov drive, %dl
	int $0x13
	jc fail02
	push %ds
	mov $0x1000, %ax
	mov %ax, %ds
	xor %si, %si
	xor %di, %di
	mov $256, %cx
	cld
	repe cmpsw
	pop %ds
	mov $0x402, %dx
	jne chsbad
	mov $chsok, %si
	call puts
	jmp done
chsbad:	mov $chsne, %si
	call puts
	jmp done
fail41:	mov $f41, %si
	jmp failp
fail42:	mov $f42, %si
	jmp failp
fail02:	mov $f02, %si
failp:	mov %ah, %al
	push %ax
	mov $0x402, %dx
	call puts
	pop %ax
	call hex8
done:	mov $0x402, %dx
	mov $end, %si
	call puts
3:	cli
	hlt
	jmp 3b
/* the NUL-terminated string at %si to port %dx */
puts:	lodsb
	test %al, %al
	jz 4f
	out %al, %dx
	jmp puts
4:	ret
/* %eax (hex32) or %al (hex8) in hex to port 0x402 */
hex32:	mov $8, %cx
	mov %eax, %ebp
	jmp 5f
hex8:	mov $2, %cx
	movzbl %al, %ebp
	shl $24, %ebp
5:	mov $0x402, %dx
6:	rol $4, %ebp
	mov %bp, %ax
	and $15, %ax
	mov %ax, %bx
	mov digits(%bx), %al
	out %al, %dx
	loop 6b
	ret
digits:	.ascii "0123456789abcdef"
hello:	.asciz "\nSBD: drive "
summ:	.asciz "\nSBD: sum "
chsok:	.asciz "\nSBD: chs same\n"
chsne:	.asciz "\nSBD: chs differs\n"
f41:	.asciz "\nSBD: FAIL int13 41h status "
f42:	.asciz "\nSBD: FAIL int13 42h status "
f02:	.asciz "\nSBD: FAIL int13 02h status "
end:	.asciz "\nSBD: end\n"
drive:	.byte 0
	.balign 4
dap:	.byte 16, 0
	.word 64
dap_off: .word 0
dap_seg: .word 0x1000
dap_lba: .long 1, 0
	.org 510
	.byte 0x55, 0xaa
ASM
guest_bootsector "$work/boot.S" "$work/boot.bin" || exit 1
head -c 65536 /dev/urandom >"$work/data" || exit 1
want=$(python3 -c '
import sys
h = 0
for b in open(sys.argv[1], "rb").read():
    h = ((h << 5 | h >> 27) & 0xffffffff) ^ b
print("%08x" % h)' "$work/data")
img=$work/disk.img
cat "$work/boot.bin" "$work/data" >"$img" && truncate -s 1M "$img" || exit 1

fail=0
res() { # NAME OK
	if [ "${2:-}" = 1 ]; then
		echo "PASS $1"
	else
		echo "FAIL $1"
		fail=$((fail + 1))
	fi
}
for c in $cases; do
	case $c in
	ide) disk=(-hda "$img") ;;
	virtio) disk=(-drive "file=$img,if=virtio,format=raw") ;;
	virtio-ioeventfd)
		disk=(-drive "file=$img,if=virtio,format=raw" -machine ioeventfd=on)
		;;
	*)
		echo "seabios-disk: unknown case $c" >&2
		exit 2
		;;
	esac
	log=$work/$c
	rm -f "$log".*
	t0=$(date +%s.%N)
	timeout -k 5 "$timeout" "$minivmm" -bios "$bios" -m 64 "${disk[@]}" \
		-nographic -no-reboot -debugcon file:"$log.debugcon" \
		${EXTRA_ARGS:-} </dev/null >"$log.console" 2>"$log.stderr" &
	pid=$!
	# Bounded: the boot sector ends with "SBD: end" and halts.
	end=$((SECONDS + timeout))
	while [ $SECONDS -lt $end ] && kill -0 $pid 2>/dev/null &&
		! grep -aq '^SBD: end' "$log.debugcon" 2>/dev/null; do
		sleep 0.5
	done
	secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	kill $pid 2>/dev/null
	for i in 1 2 3 4 5 6 7 8 9 10; do
		kill -0 $pid 2>/dev/null || break
		sleep 0.5
	done
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	echo "== seabios-disk: $c (${secs} s): minivmm ${disk[*]}"
	grep -a -iE 'virtio|^ata0-0|Booting from' "$log.debugcon" | sed 's/^/  seabios: /'
	grep -a '^SBD: ' "$log.debugcon" | sed 's/^/  /'
	res "$c: SeaBIOS booted the hard disk" \
		$(grep -aq 'Booting from Hard Disk' "$log.debugcon" && echo 1)
	res "$c: the boot sector ran from drive 0x80" \
		$(grep -aq '^SBD: drive 80$' "$log.debugcon" && echo 1)
	res "$c: 64 KiB read by INT 13h AH=42h, checksum $want" \
		$(grep -aq "^SBD: sum $want\$" "$log.debugcon" && echo 1)
	res "$c: sector 1 read again by INT 13h AH=02h (CHS) is the same" \
		$(grep -aq '^SBD: chs same$' "$log.debugcon" && echo 1)
	if ! grep -aq '^SBD: end' "$log.debugcon"; then
		echo "--- stderr:"
		tail -n 5 "$log.stderr"
		echo "--- debug port:"
		tail -n 15 "$log.debugcon"
	fi
done
[ $fail = 0 ] && echo "seabios-disk: all passed" || echo "seabios-disk: $fail failed"
[ $fail = 0 ]
