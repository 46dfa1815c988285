#!/bin/bash
# IDE under a stock Linux guest, minivmm against QEMU-KVM in the same run:
# the Debian kernel (images/mklinux.sh) with Debian's own ata_piix, libata,
# scsi_mod and sd_mod in a busybox initramfs does sequential O_DIRECT I/O
# (what dd iflag/oflag=direct does; a small static tool, since busybox dd
# goes through the page cache at 512 B) on /dev/sda (-hda, a raw image in
# /dev/shm) at 512 B, 4 KiB and 64 KiB,
# write then read, on minivmm in each irqchip and dispatch mode and on
# qemu-system-x86_64 -accel kvm -cpu host -drive if=ide, and prints one
# table with IOPS (MB/s for 64 KiB) and minivmm's default options against
# QEMU.
#
#   tests/integration/ide-linux-bench.sh [MINIVMM]          (default ./minivmm)
#
# Each run has a count that grows 4x until it takes MIN_S seconds of
# guest time (CLOCK_MONOTONIC in the guest), then REPS more times at that count; the median
# is reported. Environment: LINUX_DIR (images/out/linux), WORK
# (build/ide-bench; logs, initramfs), CONFIGS (irqchip:ioreq pairs, default
# "user:dm user:inline user:poll kernel:dm kernel:inline kernel:poll"),
# QEMU (qemu-system-x86_64; QEMU=none skips it), MIN_S (1), REPS (3),
# TIMEOUT per boot (900 s), MEM (256), IMG_MB (256), EXTRA_ARGS (more
# minivmm options), MIN_RATIO (0.8: exit 1 when a row of the default
# options is below this fraction of QEMU's figure; 0 disables).
# Needs /dev/kvm (prints SKIP otherwise); run through tests/kvmhost/run.
set -u

src=$(cd "$(dirname "$0")/../.." && pwd)
name=ide-linux-bench
. "$src/tests/integration/guestlib.sh"
minivmm=$(realpath "${1:-${MINIVMM:-./minivmm}}")
work=${WORK:-build/ide-bench}
configs=${CONFIGS:-"user:dm user:inline user:poll kernel:dm kernel:inline kernel:poll"}
qemu=${QEMU:-qemu-system-x86_64}
min_s=${MIN_S:-1}
reps=${REPS:-3}
timeout=${TIMEOUT:-900}
mem=${MEM:-256}
img_mb=${IMG_MB:-256}
min_ratio=${MIN_RATIO:-0.8}

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

# --- the initramfs ------------------------------------------------------
root=$work/root
guest_root "$root" ata_piix sd_mod
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
	int wr = !strcmp(argv[1], "write");
	size_t bs = strtoul(argv[3], NULL, 0);
	long n = strtol(argv[4], NULL, 0);
	void *buf;
	if (posix_memalign(&buf, 4096, bs))
		return 1;
	memset(buf, 0x5a, bs);
	int fd = open(argv[2], (wr ? O_WRONLY : O_RDONLY) | O_DIRECT);
	if (fd < 0) {
		perror(argv[2]);
		return 1;
	}
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++) {
		ssize_t r = wr ? pwrite(fd, buf, bs, (off_t)i * bs)
			       : pread(fd, buf, bs, (off_t)i * bs);
		if (r != (ssize_t)bs) {
			perror(wr ? "pwrite" : "pread");
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.4f\n", (double)(b.tv_sec - a.tv_sec) +
			     (b.tv_nsec - a.tv_nsec) / 1e9);
	return 0;
}
EOF
${CC:-cc} -static -O2 -o "$root/bin/odio" "$work/odio.c" || {
	echo "ide-linux-bench: cannot build a static odio (libc6-dev)" >&2
	exit 1
}
# The count grows until a run takes MIN_S s; then REPS timed runs. The
# kernel hands unknown "a=b" parameters to init as environment: benchend.
cat >"$root/init" <<EOF
#!/bin/sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in \$(cat /lib/modules/load.list); do
	insmod /lib/modules/\$m || echo "IDEBENCH FAIL insmod \$m"
done
i=0
while [ ! -b /dev/sda ] && [ \$i -lt 100 ]; do
	sleep 0.2
	i=\$((i + 1))
done
# one OP BS COUNT: prints the guest seconds it took (0 on failure)
one() {
	if ! odio \$1 /dev/sda \$2 \$3 2>/tmp/err; then
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
	s0=\$(cat /sys/block/sda/stat)
	for r in \$(seq $reps); do ts="\$ts \$(one \$1 \$2 \$c)"; done
	echo "IDEBENCH \$1 \$2 \$c\$ts"
	# requests the disk completed per dd block: 1 when O_DIRECT held
	echo \$s0 \$(cat /sys/block/sda/stat) | awk -v op=\$1 -v bs=\$2 \\
		-v n=\$((c * $reps)) '{ i = op == "read" ? 1 : 5
		printf "IDEBENCH-IOS %s %s %.2f\\n", op, bs, (\$(i + 17) - \$i) / n }'
}
if [ -b /dev/sda ]; then
	echo "IDEBENCH disk \$(cat /sys/block/sda/size) sectors, irq \$(grep -E 'ata_piix' /proc/interrupts | head -n 1 | cut -c1-60)"
	for bs in 512 4096 65536; do
		row write \$bs
		row read \$bs
	done
	grep -E 'ata_piix|timer|^ *(0|14|15):' /proc/interrupts | sed 's/^/IDEBENCH irq /'
else
	echo "IDEBENCH FAIL no /dev/sda"
fi
echo "IDEBENCH END"
if [ "\${benchend:-}" = reboot ]; then reboot -f; fi
poweroff -f
EOF
chmod +x "$root/init"
guest_cpio "$root" "$work/initramfs.cpio"

# run NAME COMMAND...: boots one VM on a fresh image; its log in
# $work/NAME.log, its IDEBENCH lines kept for the table.
declare -A RES
names=()
run() {
	local name=$1 t0 rc
	shift
	truncate -s 0 "$img"
	truncate -s "${img_mb}M" "$img"
	t0=$SECONDS
	timeout -s TERM -k 30 "$timeout" "$@" </dev/null >"$work/$name.log" 2>&1
	rc=$?
	echo "$name: exit status $rc after $((SECONDS - t0)) s ($work/$name.log)"
	grep -q 'IDEBENCH END' "$work/$name.log" ||
		echo "$name: FAIL: no IDEBENCH END; last lines:" &&
		grep -q 'IDEBENCH END' "$work/$name.log" ||
		tail -n 8 "$work/$name.log" | sed 's/^/  | /'
	grep 'IDEBENCH FAIL' "$work/$name.log"
	grep -E '^IDEBENCH-IOS' "$work/$name.log" | tr -d '\r' |
		awk '$4 < 0.9 || $4 > 1.1 { printf "%s: %s %s B: %.2f disk requests per dd block (page cache or split?)\n", name, $2, $3, $4 }' name="$name"
	names+=("$name")
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
	done < <(grep -E '^IDEBENCH (read|write) ' "$work/$name.log" | tr -d '\r')
}

for cfg in $configs; do
	ic=${cfg%%:*}
	io=${cfg#*:}
	run "minivmm-$ic-$io" "$minivmm" -kernel "$linux/vmlinuz" \
		-initrd "$work/initramfs.cpio" -append "$GUEST_APPEND" \
		-machine "irqchip=$ic,ioreq=$io" -nographic -no-reboot \
		-m "$mem" -hda "$img" -stats ${EXTRA_ARGS:-}
done
if [ "$qemu" != none ]; then
	run qemu-kvm "$qemu" -accel kvm -cpu host -m "$mem" -nodefaults \
		-display none -serial stdio -no-reboot -kernel "$linux/vmlinuz" \
		-initrd "$work/initramfs.cpio" -append "$GUEST_APPEND benchend=reboot" \
		-drive "file=$img,if=ide,format=raw"
fi

# --- the table: IOPS, MB/s for 64 KiB ---------------------------------
def=minivmm-user-dm
status=0
echo
echo "O_DIRECT sequential I/O (as dd iflag/oflag=direct) on /dev/sda (ata_piix), median of $reps runs >= ${min_s} s each; IOPS (64 KiB: MB/s)"
printf '%-12s' row
for n in "${names[@]}"; do printf ' %15s' "${n#minivmm-}"; done
[ "$qemu" != none ] && printf ' %10s' "dflt/qemu"
echo
for bs in 512 4096 65536; do
	for op in write read; do
		case $bs in 512) lab="512 B" ;; 4096) lab="4 KiB" ;; *) lab="64 KiB" ;; esac
		printf '%-12s' "$lab $op"
		for n in "${names[@]}"; do
			v=${RES[$n,$op,$bs]:-}
			[ -n "$v" ] && [ "$bs" = 65536 ] &&
				v=$(awk -v v="$v" 'BEGIN { printf "%.2f MB/s", v * 65536 / 1e6 }')
			printf ' %15s' "${v:--}"
		done
		if [ "$qemu" != none ]; then
			r=$(awk -v a="${RES[$def,$op,$bs]:-0}" -v b="${RES[qemu-kvm,$op,$bs]:-0}" \
				'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
			printf ' %10s' "$r"
			if [ "$r" = - ] || awk -v r="$r" -v m="$min_ratio" 'BEGIN { exit !(r < m) }'; then
				[ "${RES[$def,$op,$bs]:-}" ] || r=-
				status=1
			fi
		fi
		echo
	done
done
if [ "$qemu" != none ] && [ "$status" != 0 ]; then
	echo "ide-linux-bench: minivmm's default options ($def) below ${min_ratio}x QEMU-KVM on some row"
fi
[ "$min_ratio" = 0 ] && status=0
exit $status
