#!/bin/bash
# Firmware time: SeaBIOS (Debian's bios.bin) from reset to the boot sector
# and to the kernel's first line, on minivmm and on QEMU-KVM in the same
# run, with the same firmware file and the same images.
#
# - boot sector: a hard disk (-hda; QEMU -drive if=ide) whose boot sector
#   reads the TSC first thing and prints it on COM1 ("FWB tsc HEX"), then
#   triple-faults (-no-reboot ends both VMMs). KVM starts a vCPU's TSC at
#   0 when the VMM creates it, so that value is the guest's time from
#   reset to 0000:7c00 (the host's TSC rate, measured here, turns it into
#   ms); the host also times the VMM's start to that line (VMM start-up
#   included).
# - kernel: a CD (-cdrom) with ISOLINUX set to boot the stock kernel at
#   once (no prompt, no timeout) with earlyprintk on COM1; the host times
#   the VMM's start to the kernel's "Linux version" line, then kills it.
#   SeaBIOS, ISOLINUX reading the kernel and initramfs over ATAPI, and the
#   kernel's decompression are inside that figure.
#
#   tests/integration/fw-bench.sh [MINIVMM]      (default ./minivmm)
# Environment: SEABIOS (/usr/share/seabios/bios.bin), QEMU
# (qemu-system-x86_64; none: minivmm only), REPS (3; the median is
# printed with min-max), TIMEOUT per boot (300 s), WORK (build/fw-bench),
# TSV (a file for machine-readable rows: fw WHAT VMM REPS median-ms min-ms
# max-ms), EXTRA_ARGS (more minivmm options), LINUX_DIR.
# Needs /dev/kvm (run it through tests/kvmhost/run), binutils, xorriso and
# isolinux.
set -u

src=$(cd "$(dirname "$0")/../.." && pwd)
name=fw-bench
. "$src/tests/integration/guestlib.sh"
guest_need_kvm
guest_need_linux
minivmm=$(realpath "${1:-${MINIVMM:-./minivmm}}")
bios=${SEABIOS:-/usr/share/seabios/bios.bin}
qemu=${QEMU:-qemu-system-x86_64}
reps=${REPS:-3}
timeout=${TIMEOUT:-300}
work=${WORK:-build/fw-bench}
tsv=${TSV:-}
isolinux_bin=/usr/lib/ISOLINUX/isolinux.bin
ldlinux=/usr/lib/syslinux/modules/bios/ldlinux.c32
for f in "$minivmm" "$bios" "$isolinux_bin" "$ldlinux" "$linux/vmlinuz"; do
	[ -e "$f" ] || {
		echo "fw-bench: missing $f" >&2
		exit 1
	}
done
[ "$qemu" = none ] || command -v "$qemu" >/dev/null || {
	echo "fw-bench: no $qemu; minivmm figures only"
	qemu=none
}
mkdir -p "$work" || exit 1
work=$(realpath "$work")
if [ -n "$tsv" ]; then
	: >"$tsv" || exit 1
	tsv=$(realpath "$tsv")
fi

# ---- the boot sector -------------------------------------------------
cat >"$work/boot.S" <<'ASM'
	.code16
	.globl _start
_start:	rdtsc
	mov %edx, %ebx
	mov %eax, %ebp
	xor %ax, %ax
	mov %ax, %ds
	mov %ax, %ss
	mov $0x7c00, %sp
	mov $msg, %si
	call puts
	mov %ebx, %eax
	call hex32
	mov %ebp, %eax
	call hex32
	mov $'\n', %al
	call putc
	/* a triple fault: -no-reboot ends the VMM */
	lidt zidt
	int3
1:	hlt
	jmp 1b
puts:	lodsb
	test %al, %al
	jz 2f
	call putc
	jmp puts
2:	ret
/* %al to COM1, once the transmitter holds no byte (bounded wait) */
putc:	mov %al, %ah
	mov $0x3fd, %dx
	mov $0xffff, %cx
3:	in %dx, %al
	test $0x20, %al
	loopz 3b
	mov $0x3f8, %dx
	mov %ah, %al
	out %al, %dx
	ret
/* %eax as 8 hex digits */
hex32:	mov $8, %di
	mov %eax, %esi
4:	rol $4, %esi
	mov %si, %ax
	and $15, %al
	add $'0', %al
	cmp $'9', %al
	jbe 5f
	add $'a' - '9' - 1, %al
5:	call putc
	dec %di
	jnz 4b
	ret
msg:	.asciz "\nFWB tsc "
	.balign 8
zidt:	.word 0
	.long 0
	.org 510
	.byte 0x55, 0xaa
ASM
guest_bootsector "$work/boot.S" "$work/boot.bin" || exit 1
disk=$work/disk.img
cp "$work/boot.bin" "$disk" && truncate -s 1M "$disk" || exit 1

# ---- the CD: ISOLINUX boots the kernel at once -----------------------
iso=$work/fw.iso
root=$work/iso
rm -rf "$root"
mkdir -p "$root/isolinux" || exit 1
cp "$isolinux_bin" "$ldlinux" "$root/isolinux/" &&
	cp "$linux/vmlinuz" "$root/vmlinuz" || exit 1
cat >"$root/isolinux/isolinux.cfg" <<'EOF'
PROMPT 0
TIMEOUT 0
DEFAULT linux
LABEL linux
	KERNEL /vmlinuz
	APPEND console=ttyS0 earlyprintk=ttyS0 panic=-1
EOF
xorriso -as mkisofs -quiet -o "$iso" -V FWBENCH -R -J \
	-b isolinux/isolinux.bin -c isolinux/boot.cat \
	-no-emul-boot -boot-load-size 4 -boot-info-table "$root" \
	2>"$work/xorriso.log" || {
	cat "$work/xorriso.log" >&2
	exit 1
}

# The TSC rate: the guest's TSC runs at this (the test VM's) rate.
tsc_hz=
# (tests/guest/tschz.c, the same measurement as make bench's)
${CC:-cc} -O2 -o "$work/tschz" "$src/tests/guest/tschz.c" &&
	tsc_hz=$("$work/tschz")
case ${tsc_hz:-} in
'' | *[!0-9]*) tsc_hz= ;;
esac

# boot PATTERN LOG COMMAND...: runs COMMAND until a line of its output
# matches PATTERN (then kills it) or it ends or TIMEOUT passes; prints the
# ms from the start to that line, or "-". The log keeps the output.
boot() {
	local pat=$1 log=$2 start line ms=- pid
	shift 2
	start=$EPOCHREALTIME
	exec 3< <(exec timeout -k 5 "$timeout" "$@" </dev/null 2>&1)
	pid=$!
	: >"$log"
	while IFS= read -r line <&3; do
		printf '%s\n' "$line" >>"$log"
		case $line in
		*$pat*)
			ms=$(awk -v a="$start" -v b="$EPOCHREALTIME" \
				'BEGIN { printf "%.0f", (b - a) * 1000 }')
			break
			;;
		esac
	done
	pkill -P "$pid" 2>/dev/null
	kill "$pid" 2>/dev/null
	exec 3<&-
	wait "$pid" 2>/dev/null
	echo "$ms"
}

# stats VALUES...: "median (min-max)" of numbers, or "-".
stats() {
	printf '%s\n' "$@" | grep -E '^[0-9.]+$' | sort -g | awk '
		{ v[++n] = $1 }
		END { if (!n) { print "- - -"; exit }
			m = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
			printf "%.0f %.0f %.0f\n", m, v[1], v[n] }'
}

declare -A RES
vmms=minivmm
[ "$qemu" = none ] || vmms="minivmm qemu"
for vmm in $vmms; do
	for what in disk cd; do
		if [ $vmm = minivmm ]; then
			cmd=("$minivmm" -bios "$bios" -m 256 -nographic -no-reboot
				${EXTRA_ARGS:-})
			[ $what = disk ] && cmd+=(-hda "$disk") || cmd+=(-cdrom "$iso" -boot d)
		else
			cmd=("$qemu" -accel kvm -cpu host -m 256 -nodefaults
				-display none -serial stdio -no-reboot -bios "$bios")
			[ $what = disk ] && cmd+=(-drive "file=$disk,if=ide,format=raw") ||
				cmd+=(-cdrom "$iso" -boot d)
		fi
		wall=() guest=()
		for r in $(seq "$reps"); do
			log=$work/$vmm-$what-$r.log
			if [ $what = disk ]; then
				ms=$(boot 'FWB tsc ' "$log" "${cmd[@]}")
				hex=$(grep -a 'FWB tsc ' "$log" | tr -d '\r' | sed -n 's/.*FWB tsc \([0-9a-f]\{16\}\).*/\1/p' | head -n 1)
				if [ -n "$hex" ] && [ -n "$tsc_hz" ]; then
					guest+=("$(awk -v t=$((16#$hex)) -v hz="$tsc_hz" 'BEGIN { printf "%.1f", t * 1000 / hz }')")
				else
					guest+=(-)
				fi
			else
				ms=$(boot 'Linux version' "$log" "${cmd[@]}")
			fi
			[ "$ms" = - ] && {
				echo "fw-bench: $vmm $what run $r: FAIL: no such line within $timeout s; last lines:"
				tail -n 5 "$log" | sed 's/^/  | /'
			}
			wall+=("$ms")
		done
		RES[$vmm,$what]=$(stats "${wall[@]}")
		[ $what = disk ] && RES[$vmm,tsc]=$(stats "${guest[@]}")
		echo "$vmm $what: wall ms ${wall[*]}${guest:+; guest TSC ms ${guest[*]}}"
	done
done

# ---- the table -------------------------------------------------------
row() { # LABEL KEY
	local vmm m lo hi out="" r
	printf '%-44s' "$1"
	for vmm in $vmms; do
		read -r m lo hi <<<"${RES[$vmm,$2]:-- - -}"
		if [ "$m" = - ]; then
			printf ' %22s' -
		else
			printf ' %22s' "$m ($lo-$hi)"
		fi
		[ -n "$tsv" ] && printf 'fw\t%s\t%s\t%s\t%s\t%s\t%s\n' "$2" "$vmm" "$reps" "$m" "$lo" "$hi" >>"$tsv"
	done
	if [ "$qemu" != none ]; then
		r=$(awk -v a="${RES[minivmm,$2]%% *}" -v b="${RES[qemu,$2]%% *}" \
			'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else print "-" }')
		printf ' %10s' "$r"
	fi
	echo
}
echo
echo "SeaBIOS ($bios) boot time, ms: median (min-max) of $reps boots${tsc_hz:+; TSC $((tsc_hz / 1000000)) MHz}"
printf '%-44s' ''
for vmm in $vmms; do printf ' %22s' "$vmm"; done
[ "$qemu" != none ] && printf ' %10s' "minivmm/QEMU"
echo
row "reset to boot sector (guest TSC)" tsc
row "VMM start to boot sector (host clock)" disk
row "VMM start to kernel's first line (host clock)" cd
echo "(a ratio below 1: minivmm is faster)"
