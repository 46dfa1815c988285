#!/bin/bash
# Data that survives a kill: a guest writes numbered 4 KiB blocks, each
# followed by a flush, and prints "ACK n" once the flush has completed
# without error; the host kills minivmm with SIGKILL at a random moment
# and checks that every acknowledged block is on the image
# (tests/guest/killtest-check.c), for each cache= mode. Two guests:
# - the small driver (tests/guest/killtest.c): WRITE DMA + FLUSH CACHE on
#   the IDE disk;
# - the stock Linux kernel with Debian's drivers (ata_piix + sd_mod on
#   -hda, virtio_blk on -drive if=virtio): busybox dd with oflag=direct
#   and conv=fsync (a write, then fsync(2) of the block device: a cache
#   flush to the disk).
# Also: a second minivmm on an image a running one has open is refused
# (the image lock, across processes), and a read-only image
# (readonly=on) is never written: the guest's write fails and the file
# stays byte for byte the same.
# SIGKILL ends the process, not the host: what was written to the image
# file is in the host's page cache, so this checks that minivmm never
# acknowledges a flush (or a write) before the data reached the file, not
# what a power cut would lose.
#
#   tests/integration/kill-test.sh [MINIVMM] [GUEST_DIR]
#       (defaults ./minivmm, build/tests/guest; GUEST_DIR holds
#       killtest.bin and killtest-check)
# Environment: KILL_SEED (the random kill points; printed, so a failure
# can be run again), CACHES (writeback writethrough none), KILLS (2: kills
# per guest and cache mode), LINUX (1; 0: the small guest only), TIMEOUT
# per boot (240 s), WORK (build/kill-test), LINUX_DIR.
# Needs /dev/kvm: run it through tests/kvmhost/run. cache=none needs a
# file system with O_DIRECT; where WORK's has none (tmpfs before Linux
# 6.6), the image goes on a small ext4 file system in a loop device.
set -u

src=$(cd "$(dirname "$0")/../.." && pwd)
name=kill-test
. "$src/tests/integration/guestlib.sh"
guest_need_kvm
minivmm=$(realpath "${1:-${MINIVMM:-./minivmm}}")
gdir=$(realpath "${2:-build/tests/guest}")
work=${WORK:-build/kill-test}
timeout=${TIMEOUT:-240}
caches=${CACHES:-writeback writethrough none}
kills=${KILLS:-2}
with_linux=${LINUX:-1}
seed=${KILL_SEED:-$((RANDOM * 32768 + RANDOM))}
for f in "$minivmm" "$gdir/killtest.bin" "$gdir/killtest-check"; do
	[ -e "$f" ] || {
		echo "kill-test: missing $f" >&2
		exit 1
	}
done
[ "$with_linux" = 1 ] && guest_need_linux
mkdir -p "$work" || exit 1
work=$(realpath "$work")
RANDOM=$seed
echo "kill-test: KILL_SEED=$seed"

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

# The directory for images: WORK, or an ext4 loop mount where WORK's file
# system refuses O_DIRECT and cache=none is asked for.
imgdir=$work mnt=
direct_ok() { # DIR
	dd if=/dev/zero of="$1/.odirect" bs=4096 count=1 oflag=direct \
		status=none 2>/dev/null
	local rc=$?
	rm -f "$1/.odirect"
	return $rc
}
cleanup() {
	[ -n "$mnt" ] && umount "$mnt" 2>/dev/null && rmdir "$mnt"
	[ -n "$mnt" ] && rm -f "$work/ext4.img"
}
trap cleanup EXIT
case " $caches " in
*" none "*)
	if ! direct_ok "$work"; then
		mnt=$work/ext4
		mkdir -p "$mnt"
		truncate -s 160M "$work/ext4.img" &&
			mkfs.ext4 -q -F "$work/ext4.img" &&
			mount -o loop "$work/ext4.img" "$mnt" 2>"$work/mount.err" &&
			direct_ok "$mnt" && imgdir=$mnt || {
			res cache-none-setup 0 "$work's file system has no O_DIRECT and no ext4 loop mount: $(head -c 200 "$work/mount.err" 2>/dev/null)"
			rmdir "$mnt" 2>/dev/null
			mnt=
			caches=${caches//none/}
		}
	fi
	;;
esac

# killrun LOG KILLAT COMMAND...: runs COMMAND, its output to LOG; at the
# line "ACK KILLAT" (or after TIMEOUT s) sends it SIGKILL. Sets last (the
# highest n of the ACK lines it printed, -1 for none), done (1 when it
# printed its end line) and killed (1 when killed at the ACK).
killrun() {
	local log=$1 at=$2 line pid n end=$((SECONDS + timeout)) left rc
	shift 2
	last=-1 done=0 killed=0
	: >"$log"
	# the process substitution execs COMMAND: $! is the VMM itself
	exec 4< <(exec "$@" </dev/null 2>&1)
	pid=$!
	while :; do
		left=$((end - SECONDS)) rc=142
		[ $left -gt 0 ] && {
			IFS= read -r -t $left line <&4
			rc=$?
		}
		if [ $rc -ne 0 ]; then
			# EOF: the VMM ended; a time-out (above 128): kill it
			[ $rc -gt 128 ] &&
				echo "kill-test: no end after $timeout s: killed" >>"$log"
			kill -KILL "$pid" 2>/dev/null
			break
		fi
		printf '%s\n' "$line" >>"$log"
		line=${line%$'\r'}
		case $line in
		"ACK "*)
			n=${line#ACK }
			[ "$n" -gt "$last" ] 2>/dev/null && last=$n
			if [ "$n" = "$at" ]; then
				kill -KILL "$pid" 2>/dev/null
				killed=1
			fi
			;;
		DONE | "KT DONE") done=1 ;;
		esac
	done
	exec 4<&-
	wait "$pid" 2>/dev/null
}

# check NAME IMAGE: every acknowledged block (0..last) on the image.
check() {
	local out
	if [ "$last" -lt 0 ]; then
		res "$1" 0 "no block acknowledged (log: $log)"
		return
	fi
	out=$("$gdir/killtest-check" "$2" "$last")
	res "$1" $((! $?)) "$out (killed after ACK $last; log: $log)"
	[ "$killed" = 1 ] || [ "$done" = 1 ] ||
		echo "  note: $1 ended by itself before the kill point"
}

# ---- the small guest ----
for cache in $caches; do
	for k in $(seq "$kills"); do
		img=$imgdir/small-$cache-$k.img
		rm -f "$img"
		truncate -s 20M "$img" || exit 1
		at=$((RANDOM % 1500 + 1))
		log=$work/small-$cache-$k.log
		killrun "$log" "$at" "$minivmm" -bios "$gdir/killtest.bin" -m 16 \
			-nographic -no-reboot \
			-drive "file=$img,if=ide,index=0,media=disk,format=raw,cache=$cache"
		echo "small $cache #$k: killed at ACK $at, last ACK $last"
		check "kill-small-$cache-$k" "$img"
	done
done

# ---- the image lock across processes, and a read-only image ----
img=$imgdir/lock.img
truncate -s 20M "$img"
"$minivmm" -bios "$gdir/killtest.bin" -m 16 -nographic -no-reboot \
	-hda "$img" </dev/null >"$work/lock-first.log" 2>&1 &
first=$!
# the first one holds the lock once it prints its first ACK
for i in $(seq 100); do
	grep -q '^ACK' "$work/lock-first.log" && break
	kill -0 $first 2>/dev/null || break
	sleep 0.1
done
out=$(timeout 30 "$minivmm" -bios "$gdir/killtest.bin" -m 16 -nographic \
	-no-reboot -hda "$img" </dev/null 2>&1)
rc=$?
running=0
kill -0 $first 2>/dev/null && running=1
kill -KILL $first 2>/dev/null
wait $first 2>/dev/null
ok=0
[ $running = 1 ] && [ $rc -ne 0 ] && grep -q 'in use by another process' <<<"$out" && ok=1
res image-lock-two-processes $ok "second minivmm: status $rc, '$(head -c 200 <<<"$out")'; first still running: $running"

img=$work/readonly.img
head -c 1048576 /dev/urandom >"$img" && truncate -s 20M "$img"
before=$(sha256sum <"$img")
log=$work/readonly.log
killrun "$log" -1 "$minivmm" -bios "$gdir/killtest.bin" -m 16 -nographic \
	-no-reboot -drive "file=$img,if=ide,index=0,media=disk,format=raw,readonly=on"
after=$(sha256sum <"$img")
ok=0
[ "$before" = "$after" ] && [ "$last" = -1 ] &&
	grep -q 'FAIL killtest: WRITE DMA of block 0' "$log" && ok=1
res readonly-image-never-written $ok "image $([ "$before" = "$after" ] && echo unchanged || echo CHANGED), last ACK $last, guest: $(grep -m1 FAIL "$log")"

# ---- the stock Linux guest ----
if [ "$with_linux" = 1 ]; then
	for disk in ide virtio; do
		case $disk in
		ide) dev=sda kmods="ata_piix sd_mod" ;;
		virtio) dev=vda kmods="virtio_pci virtio_blk" ;;
		esac
		root=$work/root-$disk
		guest_root "$root" $kmods
		guest_disk_init KT $dev >"$root/init"
		cat >>"$root/init" <<EOF
n=0
while [ \$n -lt 2000 ]; do
	l=\$(printf 'KILLTEST%07d' \$n)
	j=0
	: >/tmp/b
	while [ \$j -lt 256 ]; do echo "\$l"; j=\$((j + 1)); done >/tmp/b
	dd if=/tmp/b of=/dev/$dev bs=4096 seek=\$n count=1 oflag=direct \\
		conv=fsync,notrunc status=none || { echo "KT FAIL dd \$n"; break; }
	echo "ACK \$n"
	n=\$((n + 1))
done
echo "KT DONE"
poweroff -f
EOF
		chmod +x "$root/init"
		guest_cpio "$root" "$work/initramfs-$disk.cpio"
		for cache in $caches; do
			img=$imgdir/linux-$disk-$cache.img
			rm -f "$img"
			truncate -s 16M "$img" || exit 1
			if [ $disk = ide ]; then
				drive="file=$img,if=ide,index=0,media=disk,format=raw,cache=$cache"
			else
				drive="file=$img,if=virtio,format=raw,cache=$cache"
			fi
			at=$((RANDOM % 40 + 3))
			log=$work/linux-$disk-$cache.log
			killrun "$log" "$at" "$minivmm" -kernel "$linux/vmlinuz" \
				-initrd "$work/initramfs-$disk.cpio" \
				-append "$GUEST_APPEND" -m 256 -nographic -no-reboot \
				-drive "$drive"
			echo "linux $disk $cache: killed at ACK $at, last ACK $last"
			grep -a 'KT FAIL' "$log"
			check "kill-linux-$disk-$cache" "$img"
		done
	done
fi

echo "kill-test: $passed passed, $fail failed (KILL_SEED=$seed)"
[ $fail = 0 ]
