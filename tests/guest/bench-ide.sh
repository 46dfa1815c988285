#!/bin/bash
# IDE throughput benchmark: bench-ide.bin (a polling guest driver at CPL0)
# under minivmm on a RAM-backed disk image, per ioreq dispatch mode.
#   bench-ide.sh [MINIVMM] [GUEST_DIR]    (defaults: ./minivmm build/tests/guest)
# IDEBENCH_MODES (default "dm inline"): -machine ioreq= values.
# IDEBENCH_KIB (default "8192 1024 64"): KiB per case for DMA and PIO
#   multiple reads / 512 B commands and one-sector PIO reads / PIO writes.
# For each case the guest prints a mark and halts until we answer on COM1,
# so minivmm's CPU time (all threads, from /proc/PID/task/*/schedstat, ns)
# is read while the vCPU sleeps: host CPU per case = end - begin.
# Guest throughput comes from the guest's rdtsc and the host's TSC rate.
set -u

VMM=${1:-./minivmm}
DIR=${2:-build/tests/guest}
MODES=${IDEBENCH_MODES:-"dm inline"}
read -r KIB_FAST KIB_SLOW KIB_PIOW <<<"${IDEBENCH_KIB:-8192 1024 64}"

if [ ! -c /dev/kvm ] || ! { : <>/dev/kvm; } 2>/dev/null; then
	echo "SKIP: no /dev/kvm"
	exit 0
fi
HZ=$("$DIR/tschz") || exit 1

# Disk image in RAM (tmpfs) when possible, else next to the binaries.
IMGDIR=/dev/shm
[ -d "$IMGDIR" ] && [ -w "$IMGDIR" ] || IMGDIR=$DIR
IMG=$(mktemp -p "$IMGDIR" minivmm-bench-ide.XXXXXX) || exit 1
BIN=$DIR/bench-ide-run.bin
trap 'rm -f "$IMG"' EXIT
dd if=/dev/zero of="$IMG" bs=1M count=16 status=none || exit 1

# le32 FILE OFFSET VALUE
le32() {
	local v=$3
	printf "\\x$(printf %02x $((v & 255)))\\x$(printf %02x $((v >> 8 & 255)))\\x$(printf %02x $((v >> 16 & 255)))\\x$(printf %02x $((v >> 24 & 255)))" |
		dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
cp "$DIR/bench-ide.bin" "$BIN"
le32 "$BIN" $((0xFFE0)) "$KIB_FAST"
le32 "$BIN" $((0xFFE4)) "$KIB_SLOW"
le32 "$BIN" $((0xFFE8)) "$KIB_PIOW"
le32 "$BIN" $((0xFFEC)) 1

# CPU time of every thread of process $1 so far, in ns, into CPU:
# schedstat's run time (ns), or without CONFIG_SCHED_INFO utime + stime
# from stat (clock ticks, so only 10 ms resolution).
CPU=0
TICK_NS=$((1000000000 / $(getconf CLK_TCK)))
cpu_ns() {
	local f a rest
	CPU=0
	if [ -e "/proc/$1/schedstat" ]; then
		for f in /proc/"$1"/task/*/schedstat; do
			read -r a rest <"$f" 2>/dev/null && CPU=$((CPU + a))
		done
		return
	fi
	read -r -a a <"/proc/$1/stat" # no spaces in comm: (minivmm)
	CPU=$(((a[13] + a[14]) * TICK_NS))
}

declare -a ROWS STATS
for m in $MODES; do
	err=$DIR/bench-ide-$m.err
	coproc VM { exec "$VMM" -bios "$BIN" -m 16 -nographic -no-reboot \
		-machine ioreq="$m" -hda "$IMG" -stats 2>"$err"; }
	pid=$VM_PID
	in=${VM[0]}
	out=${VM[1]}
	c0=0 c1=0 done=
	while IFS= read -r -t 300 line <&"$in"; do
		case $line in
		"IDEBENCH begin "*)
			cpu_ns "$pid"
			c0=$CPU
			printf g >&"$out"
			;;
		"IDEBENCH end")
			cpu_ns "$pid"
			c1=$CPU
			printf g >&"$out"
			;;
		"IDEBENCH result "*)
			# mode op size bytes cmds cycles(hex) polls errors
			set -- ${line#IDEBENCH result }
			ROWS+=("$m $1 $2 $3 $4 $5 $((16#$6)) $7 $8 $((c1 - c0))")
			;;
		FAIL*)
			echo "bench-ide.sh: mode $m: $line" >&2
			;;
		DONE)
			done=1
			;;
		esac
	done
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	if [ -z "$done" ]; then
		echo "bench-ide.sh: mode $m did not finish; see $err" >&2
		tail -n 5 "$err" >&2
		exit 1
	fi
	# Whole-run -stats: exits and the device models' own time.
	STATS+=("$(awk -v m="$m" '
		/^ *port I\/O / { x = $(NF - 1); ns = $NF }
		/^ *port +(ide|pci01\.1-bar4)/ { d = d sprintf(" %s %s ns,", $2, $NF) }
		END { printf "%-7s %s port I/O exits, %s host ns each; device ns/access:%s",
			m, x, ns, d }' "$err")")
done

echo
echo "minivmm IDE throughput: guest driver at CPL0 polling status, disk image in $IMGDIR, TSC $(awk -v h="$HZ" 'BEGIN { printf "%.3f GHz", h / 1e9 }')"
echo "pio: READ/WRITE SECTORS (DRQ per sector); mult: READ/WRITE MULTIPLE (16 sectors per DRQ); dma: READ/WRITE DMA, one PRD entry"
printf '%-7s %-5s %-6s %6s %6s %9s %10s %10s %10s %10s %8s\n' \
	ioreq mode op xfer KiB "MiB/s" "us/cmd" "host-ms/MiB" "host-us/cmd" "cpu/wall" polls/cmd
for r in "${ROWS[@]}"; do
	awk -v hz="$HZ" '{
		m = $1; mode = $2; op = $3; size = $4; bytes = $5; cmds = $6
		cyc = $7; polls = $8; errs = $9; ns = $10
		sec = cyc / hz; mib = bytes / 1048576
		x = size >= 65536 ? "64K" : size >= 4096 ? "4K" : size
		printf "%-7s %-5s %-6s %6s %6d %9.2f %10.1f %10.2f %10.1f %10.2f %8.1f%s\n",
			m, mode, op, x, bytes / 1024, (sec > 0 ? mib / sec : 0),
			sec * 1e6 / cmds, ns / 1e6 / mib, ns / 1e3 / cmds,
			(sec > 0 ? ns / 1e9 / sec : 0), polls / cmds,
			(errs > 0 ? "  (" errs " errors)" : "")
	}' <<<"$r"
done
echo "(MiB/s, us/cmd: guest-visible, rdtsc; host-*: minivmm CPU time, all threads; cpu/wall: host CPU seconds per guest second)"
echo "minivmm -stats over each whole run:"
printf '  %s\n' "${STATS[@]}"
if command -v qemu-system-x86_64 >/dev/null; then
	echo "qemu-system-x86_64 found, but not compared: these guest images need the BIOS area writable (minivmm's RAM copy at 0xF0000), which QEMU's BIOS ROM alias is not."
else
	echo "qemu-system-x86_64 not installed: no QEMU comparison."
fi
