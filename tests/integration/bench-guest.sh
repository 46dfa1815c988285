#!/bin/bash
# The stock-Linux-guest benchmark end to end (make bench-guest): the disk
# part (tests/integration/ide-linux-bench.sh: O_DIRECT write, read and
# mixed at 512 B / 4 KiB / 64 KiB on IDE in PIO mode, IDE with bus-master
# DMA and virtio-blk) and the network part (tests/integration/net-bench.sh:
# TCP each way on the NE2000 and virtio-net), each on minivmm per
# configuration and on QEMU-KVM with the same devices in the same run. The
# two parts run in two KVM test VMs at once (tests/kvmhost/run; one host
# CPU each), or here where /dev/kvm works. Then one Markdown table (stdout
# and OUT/guest.md), the same rows as TSV (OUT/guest.tsv) and gnuplot PNGs
# (OUT/guest-*.png): grouped bars per block size and direction, a bar per
# device path and VMM. The firmware part (tests/integration/fw-bench.sh:
# SeaBIOS from reset to the boot sector and to the kernel's first line, on
# both VMMs) runs after them, in one VM, and adds a table of its own.
#
#   tests/integration/bench-guest.sh [MINIVMM]    run both parts, report
#   tests/integration/bench-guest.sh report       only the report, from
#                                                 OUT/disk.tsv, OUT/net.tsv
#
# Environment:
#   PARTS         "disk net fw" (any of them alone is fine)
#   DISKS         "idepio ide virtio"
#   DISK_CONFIGS  minivmm configurations on the disks (irqchip:ioreq[:OPT]),
#                 "user:dm user:inline kernel:dm kernel:inline
#                 kernel:dm:ioeventfd=on kernel:inline:ioeventfd=on"
#                 (ioeventfd ones run on virtio only)
#   OPS           "write read mixed" (mixed: odio alternates pwrite and
#                 pread, 50/50)
#   NICS          "ne2k virtio"
#   NET_CONFIGS   "user:dm user:inline kernel:dm kernel:inline"
#   REPS (3), MIN_S (1, seconds per disk run), PAYLOAD_KB (4096 per
#   network transfer), QEMU (qemu-system-x86_64; none: minivmm only),
#   SERIAL (1: one part after the other, for a one-CPU host), LIMIT
#   (seconds per part, 14400), OUT (build/bench), PLOT_CONFIGS (the
#   configurations in the all-disks figure, "kernel:dm
#   kernel:dm:ioeventfd=on qemu"), DISK_ARGS / NET_ARGS (more VAR=value
#   settings for one part only, e.g. NET_ARGS="TIMEOUT=3000").
# Absolute figures from the KVM test VM (QEMU TCG) mean nothing; only
# ratios within one run do (docs/BENCHMARKS.md).
set -u

src=$(cd "$(dirname "$0")/../.." && pwd)
out=${OUT:-build/bench}
mode=run
if [ "${1:-}" = report ]; then
	mode=report
	shift
fi
minivmm=${1:-${MINIVMM:-./minivmm}}
parts=${PARTS:-disk net fw}
disks=${DISKS:-idepio ide virtio}
disk_configs=${DISK_CONFIGS:-"user:dm user:inline kernel:dm kernel:inline kernel:dm:ioeventfd=on kernel:inline:ioeventfd=on"}
ops=${OPS:-write read mixed}
nics=${NICS:-ne2k virtio}
net_configs=${NET_CONFIGS:-"user:dm user:inline kernel:dm kernel:inline"}
reps=${REPS:-3}
min_s=${MIN_S:-1}
kb=${PAYLOAD_KB:-4096}
limit=${LIMIT:-14400}
plot_configs=${PLOT_CONFIGS:-"kernel:dm kernel:dm:ioeventfd=on qemu"}
mkdir -p "$out" || exit 1

# --- the runs ---------------------------------------------------------
status=0
if [ $mode = run ]; then
	# Work directories whose names tests/kvmhost/run leaves out of the
	# VM's copy of this tree (build/ide-bench*, build/net-bench*).
	dwork=build/ide-bench-guest nwork=build/net-bench-guest
	fwork=build/fw-bench-guest
	[ -x "$minivmm" ] || {
		echo "bench-guest: no minivmm binary at $minivmm" >&2
		exit 1
	}
	# The report covers this run's parts only.
	rm -f "$out/disk.tsv" "$out/net.tsv" "$out/fw.tsv" "$out/guest.tsv" "$out/guest.md" \
		"$out"/guest-*.png
	# What the report says about this run.
	{
		echo "Run: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$src" describe --always --dirty 2>/dev/null || echo ?)," \
			"REPS=$reps MIN_S=$min_s PAYLOAD_KB=$kb, parts: $parts${QEMU:+, QEMU=$QEMU}."
	} >"$out/run.txt"
	t0=$SECONDS
	pids=() what=()
	start() { # PART COMMAND...: in the background, output to OUT/PART.log
		local part=$1
		shift
		echo "bench-guest: $part part started ($out/$part.log)"
		if [ "${SERIAL:-}" = 1 ]; then
			"$@" >"$out/$part.log" 2>&1
			echo "bench-guest: $part part: status $? after $((SECONDS - t0)) s"
		else
			"$@" >"$out/$part.log" 2>&1 &
			pids+=($!) what+=("$part")
		fi
	}
	for part in $parts; do
		case $part in
		disk)
			rm -f "$dwork/disk.tsv"
			start disk env REPS="$reps" MIN_S="$min_s" DISKS="$disks" \
				CONFIGS="$disk_configs" OPS="$ops" MIN_RATIO=0 TIMEOUT=2400 \
				TSV="$dwork/disk.tsv" WORK="$dwork" ${QEMU:+QEMU="$QEMU"} \
				${DISK_ARGS:-} "$src/tests/kvmhost/run" -o -t "$limit" -- \
				"$src/tests/integration/ide-linux-bench.sh" "$minivmm"
			;;
		net)
			rm -f "$nwork/net.tsv"
			# Each boot moves PAYLOAD_KB each way REPS times: the
			# NE2000's uploads are slow, so more time per boot.
			start net env REPS="$reps" NICS="$nics" CONFIGS="$net_configs" \
				PAYLOAD_KB="$kb" TIMEOUT=2400 MINIVMM="$minivmm" \
				TSV="$nwork/net.tsv" WORK="$nwork" ${QEMU:+QEMU="$QEMU"} \
				${NET_ARGS:-} "$src/tests/kvmhost/run" -o -t "$limit" -- \
				"$src/tests/integration/net-bench.sh"
			;;
		fw) ;; # after the others: below
		*)
			echo "bench-guest: PARTS: disk, net or fw, not '$part'" >&2
			exit 2
			;;
		esac
	done
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}"
		rc=$?
		echo "bench-guest: ${what[$i]} part: status $rc after $((SECONDS - t0)) s"
	done
	# Firmware boot time: short, so alone after the others (its boots
	# are timed on the host clock too).
	case " $parts " in
	*" fw "*)
		pids=() what=()
		rm -f "$fwork/fw.tsv"
		start fw env REPS="$reps" TSV="$fwork/fw.tsv" WORK="$fwork" \
			${QEMU:+QEMU="$QEMU"} ${FW_ARGS:-} \
			"$src/tests/kvmhost/run" -o -t "$limit" -- \
			"$src/tests/integration/fw-bench.sh" "$minivmm"
		for i in "${!pids[@]}"; do
			wait "${pids[$i]}"
			echo "bench-guest: ${what[$i]} part: status $? after $((SECONDS - t0)) s"
		done
		;;
	esac
	for part in $parts; do
		if grep -q '^SKIP' "$out/$part.log"; then
			echo "bench-guest: $part part skipped: $(grep -m1 '^SKIP' "$out/$part.log")"
		fi
		# The scripts' own failure lines, for the record.
		grep -E 'FAIL|runs failed|no IDEBENCH END|disk requests per dd block' \
			"$out/$part.log" | head -n 20 | sed "s/^/$part: /"
	done
	[ -s "$dwork/disk.tsv" ] && cp "$dwork/disk.tsv" "$out/disk.tsv"
	[ -s "$nwork/net.tsv" ] && cp "$nwork/net.tsv" "$out/net.tsv"
	[ -s "$fwork/fw.tsv" ] && cp "$fwork/fw.tsv" "$out/fw.tsv"
	for part in $parts; do
		[ -s "$out/$part.tsv" ] || {
			echo "bench-guest: no figures from the $part part; its log: $out/$part.log"
			tail -n 15 "$out/$part.log" | sed 's/^/  | /'
			status=1
		}
	done
	echo
fi

# --- the report -------------------------------------------------------
# guest.tsv: both parts' rows with the ratio to QEMU-KVM (median MB/s over
# QEMU's on the same device path, operation and block size).
tsv=$out/guest.tsv
cat "$out/disk.tsv" "$out/net.tsv" 2>/dev/null | awk -F'\t' -v OFS='\t' '
	{ row[NR] = $0; key = $1 SUBSEP $2 SUBSEP $4 SUBSEP $5
	  if ($3 == "qemu") q[key] = $10 }
	END {
		print "part", "device", "config", "op", "bs", "reps", "iops",
			"iops_min", "iops_max", "mbs", "mbs_min", "mbs_max",
			"ratio_qemu", "exits_per_mib", "cpu_ms_per_mib"
		for (i = 1; i <= NR; i++) {
			n = split(row[i], f, "\t")
			key = f[1] SUBSEP f[2] SUBSEP f[4] SUBSEP f[5]
			r = "-"
			if (f[3] != "qemu" && (key in q) && q[key] > 0 && f[10] > 0)
				r = sprintf("%.2f", f[10] / q[key])
			printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
				f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9],
				f[10], f[11], f[12], r, f[13], f[14]
		}
	}' >"$tsv"
if [ "$(wc -l <"$tsv")" -le 1 ]; then
	echo "bench-guest: no figures (no $out/disk.tsv or $out/net.tsv)"
	exit 1
fi

# The Markdown table: a row per device path, block size, operation and
# VMM configuration, configurations side by side (in the order they ran,
# QEMU-KVM last), device paths and operations in the order they ran.
md=$out/guest.md
{
	echo "# Stock Linux guest: minivmm against QEMU-KVM, same run"
	echo
	[ -s "$out/run.txt" ] && cat "$out/run.txt" && echo
	echo "Median of the runs (min-max in parentheses). Disk: O_DIRECT, sequential, one request at a time (mixed: pwrite and pread alternating, 50/50). Network: TCP, one stream, PAYLOAD_KB per transfer; TX is guest to peer. x QEMU: minivmm's median MB/s over QEMU-KVM's on the same device path, operation and block size. Exits: KVM's exit counter for the VM; CPU: the VMM process, all threads, guest time included. Under the TCG-hosted KVM test VM only the ratios within one run carry (docs/BENCHMARKS.md)."
	echo
	echo "| device path | VMM | op | block | MB/s | IOPS | x QEMU | exits/MiB | CPU ms/MiB | runs |"
	echo "|---|---|---|---|---:|---:|---:|---:|---:|---:|"
	awk -F'\t' '
	function path(part, d) {
		if (part == "disk")
			return d == "idepio" ? "IDE PIO" : d == "ide" ? "IDE DMA" : d == "virtio" ? "virtio-blk" : d
		return d == "ne2k" ? "NE2000" : d == "virtio" ? "virtio-net" : d
	}
	function vmm(c) { return c == "qemu" ? "QEMU-KVM" : "minivmm " c }
	function size(b) { return b == 512 ? "512 B" : b == 4096 ? "4 KiB" : b == 65536 ? "64 KiB" : b }
	function spread(m, a, b) { return m " (" a "-" b ")" }
	# three significant digits below 100, none above
	function num(v) { return v >= 100 ? sprintf("%.0f", v) : sprintf("%.3g", v) }
	NR == 1 { next }
	{
		if (!(($1, $2) in di)) di[$1, $2] = ++nd
		if (!($4 in oi)) oi[$4] = ++no
		op = $1 == "net" ? ($4 == "tx" ? "TX" : "RX") : $4
		iops = $7 == "-" ? "-" : spread(num($7), num($8), num($9))
		mbs = $10 == "-" ? "-" : spread(num($10), num($11), num($12))
		printf "%d %d %d %d %d\t| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			($1 == "net"), di[$1, $2], ($5 == "-" ? 0 : $5), oi[$4],
			($3 == "qemu" ? 1000000 + NR : NR),
			path($1, $2), vmm($3), op, ($1 == "net" ? "-" : size($5)),
			mbs, iops, $13, $14, $15, $6
	}' "$tsv" | sort -n -k1,1 -k2,2 -k3,3 -k4,4 -k5,5 | cut -f2-
	# The firmware part: a table of its own.
	if [ -s "$out/fw.tsv" ]; then
		echo
		echo "SeaBIOS (Debian's bios.bin) on both VMMs, ms, median (min-max); reset to the boot sector from the guest's TSC (KVM starts it at 0 with the vCPU), the others on the host clock from the VMM's start (its own start-up included)."
		echo
		echo "| firmware time | minivmm | QEMU-KVM | minivmm / QEMU |"
		echo "|---|---:|---:|---:|"
		awk -F'\t' '
		{ k[$2] = 1; v[$2, $3] = $5 == "-" ? "-" : $5 " (" $6 "-" $7 ")"; m[$2, $3] = $5 }
		END {
			n = split("tsc disk cd", order, " ")
			split("reset to boot sector (guest TSC)|VMM start to boot sector|VMM start to kernel first line", lab, "|")
			for (i = 1; i <= n; i++) {
				w = order[i]
				if (!(w in k)) continue
				a = m[w, "minivmm"]; b = m[w, "qemu"]
				r = (a > 0 && b > 0) ? sprintf("%.2f", a / b) : "-"
				printf "| %s | %s | %s | %s |\n", lab[i],
					((w, "minivmm") in v) ? v[w, "minivmm"] : "-",
					((w, "qemu") in v) ? v[w, "qemu"] : "-", r
			}
		}' "$out/fw.tsv"
	fi
} >"$md"
cat "$md"
echo
echo "bench-guest: $md, $tsv"

# --- the plots --------------------------------------------------------
if ! command -v gnuplot >/dev/null; then
	echo "bench-guest: no gnuplot (Debian package gnuplot-nox): no plots"
	exit $status
fi
gp=$src/tests/integration/bench-plot.gp
# table FILTER-AWK: a gnuplot data file on stdout from guest.tsv: a row
# per group (block size and operation, or direction), a column per series
# (device path and VMM) of the rows the awk condition FILTER selects; the
# value is column VCOL (MB/s by default).
table() {
	awk -F'\t' -v vcol="${VCOL:-10}" '
	function path(part, d) {
		if (part == "disk")
			return d == "idepio" ? "IDE PIO" : d == "ide" ? "IDE DMA" : d == "virtio" ? "virtio-blk" : d
		return d == "ne2k" ? "NE2000" : d == "virtio" ? "virtio-net" : d
	}
	function vmm(c) {
		if (c == "qemu") return "QEMU-KVM"
		sub(/:ioeventfd=on/, "+ioeventfd", c)
		return "minivmm " c
	}
	function size(b) { return b == 512 ? "512 B" : b == 4096 ? "4 KiB" : b == 65536 ? "64 KiB" : b }
	NR == 1 { next }
	'"$1"' {
		s = path($1, $2) " " vmm($3)
		g = $1 == "net" ? ($4 == "tx" ? "TX" : "RX") : size($5) " " $4
		if (!(s in si)) { si[s] = ++ns; sn[ns] = s }
		if (!(g in gi)) { gi[g] = ++ng; gn[ng] = g }
		v[gi[g], si[s]] = $vcol
	}
	END {
		printf "\"group\""
		for (j = 1; j <= ns; j++) printf " \"%s\"", sn[j]
		print ""
		for (i = 1; i <= ng; i++) {
			printf "\"%s\"", gn[i]
			for (j = 1; j <= ns; j++)
				printf " %s", ((i, j) in v && v[i, j] != "-" && v[i, j] > 0) ? v[i, j] : "-"
			print ""
		}
	}' "$tsv"
}
# plot NAME TITLE YLABEL LOGY: OUT/NAME.png from the data file OUT/NAME.dat.
plot() {
	local dat=$out/$1.dat n
	n=$(head -n 1 "$dat" | grep -o '"[^"]*"' | wc -l)
	if [ "$n" -lt 2 ] || [ "$(wc -l <"$dat")" -lt 2 ]; then
		rm -f "$dat"
		return
	fi
	if gnuplot -e "datafile='$dat'; outfile='$out/$1.png'; ttl='$2'; ylab='$3'; logy=$4; ncols=$n" \
		"$gp" 2>"$out/$1.err"; then
		echo "bench-guest: $out/$1.png"
		rm -f "$out/$1.err"
	else
		echo "bench-guest: gnuplot failed on $1: $(head -n 3 "$out/$1.err")"
		status=1
	fi
}
pc=" $plot_configs "
table "\$1 == \"disk\" && index(\"$pc\", \" \" \$3 \" \")" >"$out/guest-disk.dat"
# None of PLOT_CONFIGS ran on minivmm: every configuration instead.
head -n 1 "$out/guest-disk.dat" | grep -q minivmm ||
	table '$1 == "disk"' >"$out/guest-disk.dat"
plot guest-disk "Disk: MB/s by device path and VMM (same run)" "MB/s (log scale)" 1
VCOL=13 table "\$1 == \"disk\" && \$3 != \"qemu\" && index(\"$pc\", \" \" \$3 \" \")" \
	>"$out/guest-disk-ratio.dat"
head -n 1 "$out/guest-disk-ratio.dat" | grep -q minivmm ||
	VCOL=13 table '$1 == "disk" && $3 != "qemu"' >"$out/guest-disk-ratio.dat"
plot guest-disk-ratio "Disk: minivmm over QEMU-KVM (1 = QEMU-KVM on the same path)" "x QEMU-KVM" 0
for d in $(awk -F'\t' 'NR > 1 && $1 == "disk" && !s[$2]++ { print $2 }' "$tsv"); do
	table "\$1 == \"disk\" && \$2 == \"$d\"" >"$out/guest-disk-$d.dat"
	case $d in
	idepio) t="IDE PIO" ;;
	ide) t="IDE DMA" ;;
	virtio) t=virtio-blk ;;
	*) t=$d ;;
	esac
	plot "guest-disk-$d" "$t: MB/s per configuration (same run)" "MB/s (log scale)" 1
done
table '$1 == "net"' >"$out/guest-net.dat"
plot guest-net "Network: TCP MB/s by NIC and VMM (same run)" "MB/s (log scale)" 1
exit $status
