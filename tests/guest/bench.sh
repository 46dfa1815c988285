#!/bin/bash
# Exit round-trip benchmark: the bench guest under each ioreq dispatch mode.
#   bench.sh [MINIVMM] [GUEST_DIR]     (defaults: ./minivmm build/tests/guest)
# BENCH_N (default 200000) accesses per loop, BENCH_MODES the modes. Prints a table of cycles and
# nanoseconds per access (TSC rate measured on the host by tschz), the
# ratio to the "floor" mode (exit completed in the vCPU thread, no device),
# and minivmm -stats' host-side cost: average host ns per PIO/MMIO exit and
# the testdev device's ns per access.
set -u

VMM=${1:-./minivmm}
DIR=${2:-build/tests/guest}
N=${BENCH_N:-200000}
MODES=${BENCH_MODES:-"dm inline poll floor"}

if [ ! -c /dev/kvm ] || ! { : <>/dev/kvm; } 2>/dev/null; then
	echo "SKIP: no /dev/kvm"
	exit 0
fi
HZ=$("$DIR/tschz") || exit 1
IMG=$DIR/bench-run.bin
cp "$DIR/bench.bin" "$IMG"
printf "\\x$(printf %02x $((N & 255)))\\x$(printf %02x $((N >> 8 & 255)))\\x$(printf %02x $((N >> 16 & 255)))\\x$(printf %02x $((N >> 24 & 255)))" |
	dd of="$IMG" bs=1 seek=$((0xFFE0)) conv=notrunc status=none

declare -A PIO MMIO MMIO64 LOOP PIOX MMIOX DEVP DEVM
for m in $MODES; do
	out=$(timeout 900 "$VMM" -bios "$IMG" -m 16 -nographic -no-reboot \
		-device testdev -machine ioreq=$m -stats </dev/null \
		2>"$DIR/bench-$m.err")
	rc=$?
	if [ $rc -ne 0 ] || ! grep -q '^BENCH pio' <<<"$out"; then
		echo "bench.sh: mode $m failed (exit $rc):" >&2
		tail -n 5 <<<"$out" >&2
		tail -n 5 "$DIR/bench-$m.err" >&2
		exit 1
	fi
	get() { awk -v k="$1" '$1 == "BENCH" && $2 == k { print $3 }' <<<"$out"; }
	PIO[$m]=$(get pio)
	MMIO[$m]=$(get mmio)
	MMIO64[$m]=$(get mmio64)
	LOOP[$m]=$(get loop)
	err=$DIR/bench-$m.err
	PIOX[$m]=$(awk '/^ *port I\/O /{ print $(NF) }' "$err")
	MMIOX[$m]=$(awk '/^ *MMIO /{ print $(NF) }' "$err")
	DEVP[$m]=$(awk '/^ *port +testdev /{ print $(NF) }' "$err")
	DEVM[$m]=$(awk '/^ *mmio +testdev /{ print $(NF) }' "$err")
done

echo "minivmm exit round trip: N=$N accesses per loop, TSC $(awk -v h="$HZ" 'BEGIN { printf "%.3f GHz", h / 1e9 }')"
echo "guest loops at CPL3 (IOPL=3); pio/mmio from 32-bit code, loop cost (${LOOP[dm]} cycles) subtracted; mmio64 from 64-bit code"
printf '%-7s %10s %9s %10s %9s %10s %9s %8s %8s %10s %10s %9s %9s\n' \
	mode pio-cyc pio-ns mmio-cyc mmio-ns mmio64-cyc mmio64-ns \
	pio/flr mmio/flr host-pio host-mmio dev-pio dev-mmio
for m in $MODES; do
	awk -v m="$m" -v hz="$HZ" -v p="${PIO[$m]}" -v q="${MMIO[$m]}" \
		-v r="${MMIO64[$m]}" -v fp="${PIO[floor]:-0}" -v fq="${MMIO[floor]:-0}" \
		-v hp="${PIOX[$m]:--}" -v hm="${MMIOX[$m]:--}" \
		-v dp="${DEVP[$m]:--}" -v dm="${DEVM[$m]:--}" 'BEGIN {
		printf "%-7s %10.1f %9.0f %10.1f %9.0f %10.1f %9.0f %8.2f %8.2f %10s %10s %9s %9s\n",
			m, p, p * 1e9 / hz, q, q * 1e9 / hz, r, r * 1e9 / hz,
			(fp > 0 ? p / fp : 0), (fq > 0 ? q / fq : 0), hp, hm, dp, dm
	}'
done
echo "(host-pio/host-mmio: minivmm -stats average host ns per exit; dev-*: testdev ns per access)"
