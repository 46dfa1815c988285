#!/bin/bash
# Disk I/O under a stock Linux guest, minivmm against QEMU-KVM in the same
# run, on the emulated IDE disk and on virtio-blk: the Debian kernel
# (images/mklinux.sh) with Debian's own drivers in a busybox initramfs (one
# per disk kind: ata_piix, libata, scsi_mod and sd_mod for IDE, virtio_pci
# and virtio_blk for virtio) does sequential O_DIRECT I/O (what dd
# iflag/oflag=direct does; a small static tool, since busybox dd goes
# through the page cache at 512 B) at 512 B, 4 KiB and 64 KiB, write then
# read, on a raw image in /dev/shm: /dev/sda on IDE (minivmm -hda, QEMU
# -drive if=ide) or /dev/vda on virtio-blk-pci (-drive if=virtio on both;
# QEMU's default virtio-blk-pci: ioeventfd on, no iothread). It runs
# minivmm in each configuration and qemu-system-x86_64 -accel kvm -cpu host
# once per disk kind, and prints one table: a row per disk kind and
# configuration with IOPS (MB/s for 64 KiB) and the ratio to QEMU's figure
# on the same disk kind. Disk kind idepio is the IDE disk with the guest's
# libata in PIO mode (libata's dma=0, on QEMU too; the guest prints the
# parameter's value on its "IDEBENCH disk" line).
# OPS adds "mixed": odio alternates pwrite and pread (50/50, one request
# each in turn, at sequential offsets).
#
#   tests/integration/ide-linux-bench.sh [MINIVMM]          (default ./minivmm)
#
# Each run has a count that grows 4x until it takes MIN_S seconds of guest
# time (CLOCK_MONOTONIC in the guest), then REPS more times at that count;
# the median is reported. A run where the disk did not complete one request
# per block (page cache, or a split request) gets a warning line. Around the
# REPS timed runs of each row the guest prints a marker and the host
# samples the VM's KVM exit counter (debugfs, the same for both VMMs) and
# the VMM process's CPU time (user + system, all threads), giving exits and
# CPU ms per MiB moved (TSV only; "-" without debugfs).
# Environment:
#   DISKS      disk kinds, "ide virtio" by default; also idepio
#   OPS        "write read" by default; also mixed
#   TSV        a file for a machine-readable line per row (tab-separated:
#              disk DISK CONFIG OP BS REPS IOPS-median IOPS-min IOPS-max
#              MB/s-median MB/s-min MB/s-max exits/MiB CPU-ms/MiB); the
#              bench-guest target (tests/integration/bench-guest.sh) reads it
#   CONFIGS    minivmm configurations, irqchip:ioreq[:OPT,...], every OPT
#              appended to -machine (kernel:dm:ioeventfd=on runs -machine
#              irqchip=kernel,ioreq=dm,ioeventfd=on), or default (no
#              option: what minivmm picks, -machine pc); default "default
#              user:dm user:inline user:poll kernel:dm kernel:inline
#              kernel:poll".
#              A configuration that names ioeventfd or irqfd runs on virtio
#              only (both act on virtio queues and MSI-X vectors only).
#   MIN_RATIO  0.8: exit 1 when a figure of minivmm's default options
#              (config default) on IDE is below this fraction of QEMU's IDE
#              figure, or missing; 0 disables. No check without default on
#              IDE or without QEMU; the virtio rows are for information.
#   WARMUP     4: seconds of guest time of untimed 512 B writes and reads
#              before the first row (0: none). The first seconds after
#              boot are slower on both VMMs: without it, the first timed
#              row (512 B write) of one boot ran at 230 IOPS against 327
#              for the same row run again right after it on minivmm, 152
#              against 197 on QEMU-KVM (OPS="write write read", same run).
#   QEMU (qemu-system-x86_64; QEMU=none skips it), MIN_S (1), REPS (3),
#   TIMEOUT per boot (900 s), MEM (256), IMG_MB (256), EXTRA_ARGS (more
#   minivmm options), LINUX_DIR (images/out/linux), WORK (build/ide-bench;
#   logs, initramfs).
# Needs /dev/kvm (prints SKIP otherwise); run through tests/kvmhost/run.
set -u

src=$(cd "$(dirname "$0")/../.." && pwd)
name=ide-linux-bench
. "$src/tests/integration/guestlib.sh"
minivmm=$(realpath "${1:-${MINIVMM:-./minivmm}}")
work=${WORK:-build/ide-bench}
disks=${DISKS:-ide virtio}
configs=${CONFIGS:-"default user:dm user:inline user:poll kernel:dm kernel:inline kernel:poll"}
qemu=${QEMU:-qemu-system-x86_64}
min_s=${MIN_S:-1}
reps=${REPS:-3}
timeout=${TIMEOUT:-900}
mem=${MEM:-256}
img_mb=${IMG_MB:-256}
min_ratio=${MIN_RATIO:-0.8}
ops=${OPS:-write read}
tsv=${TSV:-}
warmup=${WARMUP:-4}

for disk in $disks; do
	case $disk in
	ide | idepio | virtio) ;;
	*)
		echo "ide-linux-bench: DISKS: ide, idepio or virtio, not '$disk'" >&2
		exit 2
		;;
	esac
done
for op in $ops; do
	case $op in
	write | read | mixed) ;;
	*)
		echo "ide-linux-bench: OPS: write, read or mixed, not '$op'" >&2
		exit 2
		;;
	esac
done
guest_need_kvm
guest_need_linux
[ -x "$minivmm" ] || {
	echo "ide-linux-bench: no minivmm binary at $minivmm" >&2
	exit 1
}
[ "$qemu" = none ] || command -v "$qemu" >/dev/null || {
	echo "ide-linux-bench: no $qemu; minivmm figures only"
	qemu=none
}
mkdir -p "$work"
work=$(realpath "$work")
img=/dev/shm/ide-linux-bench-$$.img
trap 'rm -f "$img"' EXIT
if [ -n "$tsv" ]; then
	: >"$tsv" || exit 1
	tsv=$(realpath "$tsv")
fi
# KVM's statistics per VM (exits), where we may mount debugfs.
mountpoint -q /sys/kernel/debug 2>/dev/null ||
	mount -t debugfs none /sys/kernel/debug 2>/dev/null

# disk_setup DISK: sets dev (the guest's block device), kmods (Debian's
# drivers), irqs (its name in /proc/interrupts), kapp (more kernel
# parameters), libata (libata's module parameters: busybox's insmod does
# not take them from the kernel command line as modprobe does) and the
# options that attach the image: mdrive (minivmm), qdrive (QEMU).
disk_setup() {
	kapp= libata=
	case $1 in
	ide | idepio)
		dev=sda irqs=ata_piix kmods="ata_piix sd_mod"
		# PIO only: libata's dma=0 (kept on the command line as well,
		# where it would act if libata were built in)
		[ "$1" = idepio ] && kapp=libata.dma=0 libata=dma=0
		mdrive=(-hda "$img")
		qdrive=(-drive "file=$img,if=ide,format=raw")
		;;
	virtio)
		dev=vda irqs=virtio kmods="virtio_pci virtio_blk"
		mdrive=(-drive "file=$img,if=virtio,format=raw")
		qdrive=(-drive "file=$img,if=virtio,format=raw")
		;;
	esac
}

# --- the initramfs ------------------------------------------------------
# The I/O loop: busybox dd falls back to the page cache at bs=512 (0 disk
# requests per block measured; 4 KiB and up are direct), so a static tool
# does what dd iflag/oflag=direct does: an aligned buffer, O_DIRECT,
# sequential pread/pwrite; it prints the seconds it took.
cat >"$work/odio.c" <<'EOF'
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	if (argc != 5)
		return 2;
	/* mixed: even requests write, odd ones read, at sequential offsets */
	int mixed = !strcmp(argv[1], "mixed");
	int wr = !strcmp(argv[1], "write");
	size_t bs = strtoul(argv[3], NULL, 0);
	long n = strtol(argv[4], NULL, 0);
	void *buf;
	if (posix_memalign(&buf, 4096, bs))
		return 1;
	memset(buf, 0x5a, bs);
	int fd = open(argv[2],
		      (mixed ? O_RDWR : wr ? O_WRONLY : O_RDONLY) | O_DIRECT);
	if (fd < 0) {
		perror(argv[2]);
		return 1;
	}
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++) {
		int w = mixed ? !(i & 1) : wr;
		ssize_t r = w ? pwrite(fd, buf, bs, (off_t)i * bs)
			      : pread(fd, buf, bs, (off_t)i * bs);
		if (r != (ssize_t)bs) {
			perror(w ? "pwrite" : "pread");
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.4f\n", (double)(b.tv_sec - a.tv_sec) +
			     (b.tv_nsec - a.tv_nsec) / 1e9);
	return 0;
}
EOF
${CC:-cc} -static -O2 -o "$work/odio" "$work/odio.c" || {
	echo "ide-linux-bench: cannot build a static odio (libc6-dev)" >&2
	exit 1
}

# bench_init: the guest's /init for the disk of disk_setup, on stdout. The
# count grows until a run takes MIN_S s; then REPS timed runs. The kernel
# hands unknown "a=b" parameters to init as environment: benchend.
bench_init() {
	cat <<EOF
#!/bin/sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in \$(cat /lib/modules/load.list); do
	a=
	case \$m in libata.ko*) a="$libata" ;; esac
	insmod /lib/modules/\$m \$a || echo "IDEBENCH FAIL insmod \$m \$a"
done
i=0
while [ ! -b /dev/$dev ] && [ \$i -lt 100 ]; do
	sleep 0.2
	i=\$((i + 1))
done
# one OP BS COUNT: prints the guest seconds it took (0 on failure)
one() {
	if ! odio \$1 /dev/$dev \$2 \$3 2>/tmp/err; then
		echo "IDEBENCH FAIL odio \$*: \$(cat /tmp/err)" >/dev/console
		echo 0
	fi
}
row() {
	c=16
	max=\$(( $img_mb * 1048576 / \$2 ))
	while :; do
		t=\$(one \$1 \$2 \$c)
		[ "\$t" = 0 ] && return
		awk -v t=\$t 'BEGIN { exit !(t >= $min_s) }' && break
		[ \$((c * 4)) -gt \$max ] && break
		c=\$((c * 4))
	done
	ts=
	# the host samples exits and CPU time at each marker
	echo "IDEBENCH MARK \$1 \$2 start" >/dev/console
	sleep 0.5
	s0=\$(cat /sys/block/$dev/stat)
	for r in \$(seq $reps); do ts="\$ts \$(one \$1 \$2 \$c)"; done
	s1=\$(cat /sys/block/$dev/stat)
	echo "IDEBENCH MARK \$1 \$2 end" >/dev/console
	sleep 0.5
	echo "IDEBENCH \$1 \$2 \$c\$ts"
	# requests the disk completed per dd block: 1 when O_DIRECT held
	echo \$s0 \$s1 | awk -v op=\$1 -v bs=\$2 \\
		-v n=\$((c * $reps)) '{ r = \$18 - \$1; w = \$22 - \$5
		v = op == "read" ? r : op == "write" ? w : r + w
		printf "IDEBENCH-IOS %s %s %.2f\\n", op, bs, v / n }'
}
if [ -b /dev/$dev ]; then
	echo "IDEBENCH disk \$(cat /sys/block/$dev/size) sectors, libata dma=\$(cat /sys/module/libata/parameters/dma 2>/dev/null || echo -), irq \$(grep -E '$irqs' /proc/interrupts | head -n 1 | cut -c1-60)"
	# the guest's clocks differ per boot on a software CPU (TSC
	# calibration, a clocksource switch): printed for the log
	echo "IDEBENCH clock source \$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2>/dev/null) event \$(cat /sys/devices/system/clockevents/clockevent0/current_device 2>/dev/null)"
	dmesg | grep -iE 'tsc:|clocksource|hrtimer' | head -n 12 | sed 's/^/IDEBENCH dmesg /'
	# warm-up, untimed: 512 B writes then reads for WARMUP s of guest time
	w=0
	while awk -v w=\$w 'BEGIN { exit !(w < $warmup) }'; do
		t1=\$(one write 512 256)
		t2=\$(one read 512 256)
		[ "\$t1" = 0 ] || [ "\$t2" = 0 ] && break
		w=\$(awk -v w=\$w -v a=\$t1 -v b=\$t2 'BEGIN { print w + a + b }')
	done
	echo "IDEBENCH warm-up \$w s"
	for bs in 512 4096 65536; do
		for op in $ops; do row \$op \$bs; done
	done
	grep -E '$irqs|timer|^ *0:' /proc/interrupts | sed 's/^/IDEBENCH irq /'
else
	echo "IDEBENCH FAIL no /dev/$dev"
fi
echo "IDEBENCH END"
if [ "\${benchend:-}" = reboot ]; then reboot -f; fi
poweroff -f
EOF
}

for disk in $disks; do
	disk_setup "$disk"
	root=$work/root-$disk
	guest_root "$root" $kmods
	cp "$work/odio" "$root/bin/odio" || exit 1
	bench_init >"$root/init"
	chmod +x "$root/init"
	guest_cpio "$root" "$work/initramfs-$disk.cpio"
done

# snap FILE: appends the VMM's CPU time (clock ticks, user + system, all
# threads) and the VM's KVM exit count now; the one VM running has a KVM
# debugfs directory named PID-FD ("- -" without one).
# Shell builtins only, so the sample lands close to the marker.
snap() {
	local d pid cpu=- ex=- st
	for d in /sys/kernel/debug/kvm/[0-9]*-*; do break; done
	pid=${d##*/}
	pid=${pid%%-*}
	# utime and stime (fields 14, 15; the VMM's name has no spaces)
	read -ra st <"/proc/$pid/stat" 2>/dev/null && cpu=$((st[13] + st[14]))
	read -r ex <"$d/exits" 2>/dev/null || ex=-
	echo "$cpu $ex" >>"$1"
}
# sampler LOG: snaps into LOG.snap at each IDEBENCH MARK line the guest
# prints, until the guest's END or the VM is gone (killed by run). One
# tail(1) following the log (inotify) and no other process: the test VM
# has one CPU, and a loop forking greps every 50 ms took enough of it to
# slow the guest being measured by 3x.
sampler() {
	tail -n +1 -F "$1" 2>/dev/null | while IFS= read -r line; do
		case $line in
		*'IDEBENCH MARK'*) snap "$1.snap" ;;
		*'IDEBENCH END'*) break ;;
		esac
	done
}

# run DISK CONFIG COMMAND...: boots one VM on a fresh image; its log in
# $work/DISK-CONFIG.log, its IDEBENCH lines kept for the table under
# RES[DISK CONFIG,OP,BS] (operations per second) and, with TSV, a line per
# row there.
declare -A RES RAN
names=()
run() {
	local name="$1 $2" log=$work/$1-${2//[:,]/-}.log t0 rc spid
	shift 2
	truncate -s 0 "$img"
	truncate -s "${img_mb}M" "$img"
	rm -f "$log.snap"
	: >"$log"
	sampler "$log" &
	spid=$!
	t0=$SECONDS
	timeout -s TERM -k 30 "$timeout" "$@" </dev/null >"$log" 2>&1
	rc=$?
	pkill -P $spid 2>/dev/null
	kill $spid 2>/dev/null
	wait $spid 2>/dev/null
	echo "$name: exit status $rc after $((SECONDS - t0)) s ($log)"
	if ! grep -q 'IDEBENCH END' "$log"; then
		echo "$name: FAIL: no IDEBENCH END; last lines:"
		tail -n 8 "$log" | sed 's/^/  | /'
	fi
	grep 'IDEBENCH FAIL' "$log"
	grep -E '^IDEBENCH-IOS' "$log" | tr -d '\r' |
		awk '$4 < 0.9 || $4 > 1.1 { printf "%s: %s %s B: %.2f disk requests per dd block (page cache or split?)\n", name, $2, $3, $4 }' name="$name"
	names+=("$name")
	RAN[$name]=1
	local op bs c rest
	while read -r _ op bs c rest; do
		RES[$name,$op,$bs]=$(echo "$c $rest" | awk '{
			n = split($0, f, " "); for (i = 2; i <= n; i++) t[i-1] = f[i]
			m = n - 1
			for (i = 2; i <= m; i++)
				for (j = i; j > 1 && t[j-1] > t[j]; j--) {
					x = t[j]; t[j] = t[j-1]; t[j-1] = x
				}
			med = (m % 2) ? t[(m + 1) / 2] : (t[m / 2] + t[m / 2 + 1]) / 2
			if (med > 0) printf "%.1f", f[1] / med }')
	done < <(grep -aE '^IDEBENCH (read|write|mixed) ' "$log" | tr -d '\r')
	[ -n "$tsv" ] || return 0
	# The TSV: row k (in the guest's order) has markers 2k-1 and 2k.
	local hz
	hz=$(getconf CLK_TCK)
	grep -aE '^IDEBENCH (read|write|mixed) ' "$log" | tr -d '\r' |
		awk -v snapf="$log.snap" -v hz="$hz" -v disk="${name%% *}" \
			-v cfg="${name#* }" '
		BEGIN { OFS = "\t"; ns = 0
			while ((getline l < snapf) > 0) { ns++; split(l, a, " ")
				cpu[ns] = a[1]; ex[ns] = a[2] } }
		{
			op = $2; bs = $3; c = $4; m = 0; bad = 0
			for (i = 5; i <= NF; i++) { t[++m] = $i; if ($i <= 0) bad = 1 }
			if (m == 0 || bad) next
			for (i = 2; i <= m; i++)
				for (j = i; j > 1 && t[j-1] > t[j]; j--) {
					x = t[j]; t[j] = t[j-1]; t[j-1] = x }
			med = (m % 2) ? t[(m + 1) / 2] : (t[m / 2] + t[m / 2 + 1]) / 2
			mib = c * m * bs / 1048576
			k = NR * 2; e = "-"; u = "-"
			if (k <= ns && ex[k] != "-" && ex[k - 1] != "-")
				e = sprintf("%.0f", (ex[k] - ex[k - 1]) / mib)
			if (k <= ns && cpu[k] != "-" && cpu[k - 1] != "-")
				u = sprintf("%.1f", (cpu[k] - cpu[k - 1]) * 1000 / hz / mib)
			# t[1] fastest, t[m] slowest
			print "disk", disk, cfg, op, bs, m,
				sprintf("%.1f", c / med), sprintf("%.1f", c / t[m]),
				sprintf("%.1f", c / t[1]),
				sprintf("%.3f", c * bs / med / 1e6),
				sprintf("%.3f", c * bs / t[m] / 1e6),
				sprintf("%.3f", c * bs / t[1] / 1e6), e, u
		}' >>"$tsv"
}

for disk in $disks; do
	disk_setup "$disk"
	for cfg in $configs; do
		case $disk:$cfg in
		ide*:*ioeventfd* | ide*:*irqfd*)
			echo "$disk $cfg: skipped (ioeventfd and irqfd act on virtio only)"
			continue
			;;
		esac
		run "$disk" "$cfg" "$minivmm" -kernel "$linux/vmlinuz" \
			-initrd "$work/initramfs-$disk.cpio" \
			-append "$GUEST_APPEND${kapp:+ $kapp}" \
			-machine "$(guest_machine "$cfg")" -nographic -no-reboot \
			-m "$mem" "${mdrive[@]}" -stats ${EXTRA_ARGS:-}
	done
	if [ "$qemu" != none ]; then
		run "$disk" qemu "$qemu" -accel kvm -cpu host -m "$mem" -nodefaults \
			-display none -serial stdio -no-reboot -kernel "$linux/vmlinuz" \
			-initrd "$work/initramfs-$disk.cpio" \
			-append "$GUEST_APPEND${kapp:+ $kapp} benchend=reboot" \
			"${qdrive[@]}"
	fi
done

# --- the table: IOPS, MB/s for 64 KiB, and the ratio to QEMU ------------
cols=
for bs in 512 4096 65536; do
	for op in $ops; do cols="$cols $op,$bs"; done
done
# label OP,BS: a column's name.
label() {
	case ${1#*,} in
	512) echo "512 B ${1%,*}" ;;
	4096) echo "4 KiB ${1%,*}" ;;
	*) echo "64 KiB ${1%,*}" ;;
	esac
}
# fig NAME OP BS: the figure as printed (IOPS; MB/s at 64 KiB), or -.
fig() {
	local v=${RES[$1,$2,$3]:-}
	if [ -z "$v" ]; then
		echo -
	elif [ "$3" = 65536 ]; then
		awk -v v="$v" 'BEGIN { printf "%.2f\n", v * 65536 / 1e6 }'
	else
		awk -v v="$v" 'BEGIN { printf "%.0f\n", v }'
	fi
}
# ratio NAME OP BS: NAME's figure over QEMU's on the same disk kind, or -.
ratio() {
	awk -v a="${RES[$1,$2,$3]:-0}" -v b="${RES[${1%% *} qemu,$2,$3]:-0}" \
		'BEGIN { if (a > 0 && b > 0) printf "%.2f\n", a / b; else print "-" }'
}
w=6 # the config column's width
for n in "${names[@]}"; do
	c=${n#* }
	[ ${#c} -gt $w ] && w=${#c}
done
echo
echo "O_DIRECT sequential I/O (as dd iflag/oflag=direct), median of $reps runs >= ${min_s} s each"
if [ "$qemu" = none ]; then
	echo "IOPS (64 KiB: MB/s)"
else
	echo "IOPS (64 KiB: MB/s); in parentheses: minivmm over QEMU-KVM on the same disk kind"
fi
printf '%-6s %-*s' disk "$w" config
for c in $cols; do printf ' %14s' "$(label "$c")"; done
echo
for n in "${names[@]}"; do
	printf '%-6s %-*s' "${n%% *}" "$w" "${n#* }"
	for c in $cols; do
		v=$(fig "$n" "${c%,*}" "${c#*,}")
		if [ "$qemu" != none ] && [ "${n#* }" != qemu ] && [ "$v" != - ]; then
			v="$v ($(ratio "$n" "${c%,*}" "${c#*,}"))"
		fi
		printf ' %14s' "$v"
	done
	echo
done

# The regression check: minivmm's default options on IDE against QEMU.
def="ide default"
if [ -n "${RAN[$def]:-}" ]; then
	# the irqchip the defaults chose (kernel where KVM has one)
	echo "default options ran as: $(grep -ao 'minivmm stats (.*)' "$work/ide-default.log" | head -n 1)"
fi
status=0
if [ "$qemu" = none ] || [ "$min_ratio" = 0 ]; then
	:
elif [ -z "${RAN[$def]:-}" ]; then
	echo "ide-linux-bench: no check against QEMU (needs ide in DISKS and default in CONFIGS)"
else
	low=
	for c in $cols; do
		r=$(ratio "$def" "${c%,*}" "${c#*,}")
		if [ "$r" = - ] || awk -v r="$r" -v m="$min_ratio" 'BEGIN { exit !(r < m) }'; then
			low="$low, $(label "$c") $r"
		fi
	done
	if [ -n "$low" ]; then
		echo "ide-linux-bench: minivmm's default options ($def) below ${min_ratio}x QEMU-KVM's IDE: ${low#, }"
		status=1
	fi
fi
exit $status
