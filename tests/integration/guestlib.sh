# Shared pieces of the stock-Linux guest tests and benchmarks (sourced by
# net-linux.sh, net-bench.sh, ide-linux-bench.sh, ipxe-net.sh): the checks
# every run needs, the busybox initramfs, the kernel command line, the
# benchmarks' -machine configurations, and the peer's network namespace.
# Callers set src (the source tree) and name (for messages) first.

# guest_need_kvm: prints SKIP and exits 0 where there is no /dev/kvm (run
# the caller through tests/kvmhost/run, which provides one).
guest_need_kvm() {
	if [ ! -c /dev/kvm ] || [ ! -w /dev/kvm ]; then
		echo "SKIP: no /dev/kvm"
		exit 0
	fi
}

# guest_need_root: the network tests need root and ip(8).
guest_need_root() {
	if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null; then
		echo "SKIP: needs root and ip(8) for the network namespace"
		exit 0
	fi
}

# guest_need_linux: sets bb (a static busybox) and linux (vmlinuz and pkg/
# from images/mklinux.sh, built if missing).
guest_need_linux() {
	bb=$(command -v busybox || echo /bin/busybox)
	if ! file -L "$bb" 2>/dev/null | grep -q 'statically linked' &&
		! ldd "$bb" 2>&1 | grep -q 'not a dynamic'; then
		echo "$name: need busybox-static" >&2
		exit 1
	fi
	linux=${LINUX_DIR:-$src/images/out/linux}
	if [ ! -s "$linux/vmlinuz" ] || [ ! -d "$linux/pkg/lib/modules" ]; then
		"$src/images/mklinux.sh" "$(dirname "$linux")" || exit 1
	fi
}

# guest_root DIR MODULE...: a fresh initramfs tree with busybox (and
# /bin/sh) and Debian's MODULEs with their dependencies (listed in
# /lib/modules/load.list in load order). The caller adds /init.
guest_root() {
	local dir=$1
	shift
	rm -rf "$dir"
	mkdir -p "$dir"/{bin,dev,proc,sys,tmp} || exit 1
	cp "$bb" "$dir/bin/busybox" || exit 1
	ln -s busybox "$dir/bin/sh"
	"$src/images/kmods.sh" "$linux/pkg" "$dir" "$@" || exit 1
}

# guest_payload DIR KB: KB KiB of random bytes in $work/payload and
# DIR/payload; sets sum (their SHA-256).
guest_payload() {
	head -c $(($2 * 1024)) /dev/urandom >"$work/payload" || exit 1
	cp "$work/payload" "$1/payload" || exit 1
	sum=$(sha256sum "$work/payload" | cut -d' ' -f1)
}

# guest_net_init TAG ADDR/LEN: the start of a network test's /init on
# stdout: busybox's applets, /proc, /sys, /dev, the modules of load.list,
# eth0 up at ADDR; say() prints a line that starts with TAG, up() the
# uptime in seconds. The caller appends the rest.
guest_net_init() {
	cat <<EOF
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
say() { echo "$1 \$*"; }
up() { cut -d' ' -f1 /proc/uptime; }
for m in \$(cat /lib/modules/load.list); do
	insmod /lib/modules/\$m || say "FAIL insmod \$m"
done
i=0
while [ ! -e /sys/class/net/eth0 ] && [ \$i -lt 50 ]; do
	sleep 0.2
	i=\$((i + 1))
done
ip link set eth0 up
ip addr add $2 dev eth0
EOF
}

# guest_disk_init TAG DEV: the start of a disk test's /init on stdout:
# busybox's applets, /proc, /sys, /dev, the modules of load.list (a
# failure prints "TAG FAIL insmod ..."), then up to 20 s for /dev/DEV.
# The caller appends the rest.
guest_disk_init() {
	cat <<EOF
#!/bin/sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in \$(cat /lib/modules/load.list); do
	insmod /lib/modules/\$m || echo "$1 FAIL insmod \$m"
done
i=0
while [ ! -b /dev/$2 ] && [ \$i -lt 100 ]; do
	sleep 0.2
	i=\$((i + 1))
done
EOF
}

# guest_bootsector SRC OUT: a 512-byte boot sector (linked at 0x7c00) from
# the 16-bit assembly SRC, with binutils; an error and status 1 otherwise.
guest_bootsector() {
	local o=${2%.bin}.o
	as --32 -o "$o" "$1" &&
		ld -m elf_i386 -N -Ttext=0x7c00 -e _start --oformat binary \
			-o "$2" "$o" 2>&1 | grep -v 'RWX' >&2
	[ "$(stat -c %s "$2" 2>/dev/null)" = 512 ] || {
		echo "$name: cannot build the boot sector $2 (binutils?)" >&2
		return 1
	}
}

# guest_cpio DIR OUT: the tree as a newc cpio archive.
guest_cpio() {
	(cd "$1" && find . | cpio -o -H newc --quiet) >"$2" || exit 1
}

# The kernel command line: serial console; what this host's software CPU
# needs (no features the KVM test VM's emulated CPU lacks or makes slow, a
# fixed loops_per_jiffy instead of calibration) and what a test VM can
# skip (ACPI, self-tests, the watchdog, KASLR).
GUEST_APPEND=$(echo "console=ttyS0 nokaslr mitigations=off nopti noxsave
nofsgsbase
clearcpuid=smap,smep,erms,fsrm,popcnt,rdpid,avx,clflushopt,ssse3,sse4_1,sse4_2,aes,pclmulqdq,sha_ni
lpj=10384520 tsc=reliable clocksource=tsc highres=off no_timer_check
init_on_alloc=0 acpi=off 8250.nr_uarts=1 cryptomgr.notests nowatchdog
panic=-1 rodata=off nohz=off loglevel=4
initcall_blacklist=ftrace_check_for_weak_functions,trace_eval_init")

# guest_machine CONFIG: the -machine value of a benchmark configuration
# irqchip:ioreq[:OPT,...] (CONFIGS of net-bench.sh and ide-linux-bench.sh):
# "irqchip=kernel,ioreq=dm,ioeventfd=on" for kernel:dm:ioeventfd=on;
# "pc" (minivmm's default options) for default.
guest_machine() {
	local ic=${1%%:*} rest=${1#*:}
	[ "$1" = default ] && { echo pc; return; }
	case $rest in
	*:*) echo "irqchip=$ic,ioreq=${rest%%:*},${rest#*:}" ;;
	*) echo "irqchip=$ic,ioreq=$rest" ;;
	esac
}

# guest_netns NS TAP ADDR/LEN: a network namespace with a tap device (the
# VMM's backend, opened from inside the namespace) at ADDR and a loopback;
# nsx runs a command in it. guest_netns_del removes it and kills what runs
# there (call it from an EXIT trap).
guest_netns() {
	ip netns add "$1" || exit 1
	nsx() { ip netns exec "$GUEST_NS" "$@"; }
	GUEST_NS=$1
	nsx ip link set lo up
	nsx ip tuntap add dev "$2" mode tap || exit 1
	nsx ip addr add "$3" dev "$2"
	nsx ip link set "$2" up
}
guest_netns_del() {
	[ -n "${GUEST_NS:-}" ] || return 0
	ip netns pids "$GUEST_NS" 2>/dev/null | xargs -r kill 2>/dev/null
	ip netns del "$GUEST_NS" 2>/dev/null
	GUEST_NS=
}
