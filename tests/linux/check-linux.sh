#!/bin/bash
# Boots the stock Debian kernel (images/mklinux.sh) with -kernel, once per
# irqchip mode, and checks that its built-in platform drivers found the
# emulated devices and that it reached /init. With panic=-1 and -no-reboot
# the kernel's reset (init exiting, or failing where user space cannot run)
# must end minivmm with status 0.
#
#   tests/linux/check-linux.sh [-k vmlinux|vmlinuz] [MODE...]   (MODE: user kernel)
# Environment: MINIVMM (./minivmm), LINUX_DIR (images/out/linux),
# LOG_DIR (build/linux), TIMEOUT seconds per boot (1500), MEM (256),
# EXTRA_APPEND (more kernel parameters), FAST=0 (without the speed-ups).
set -u

src=$(cd "$(dirname "$0")/../.." && pwd)
minivmm=${MINIVMM:-./minivmm}
linux=${LINUX_DIR:-$src/images/out/linux}
logs=${LOG_DIR:-build/linux}
timeout=${TIMEOUT:-1500}
mem=${MEM:-256}
image=vmlinux
if [ "${1:-}" = -k ]; then
	image=$2
	shift 2
fi
modes=${*:-user kernel}

if [ ! -c /dev/kvm ] || [ ! -w /dev/kvm ]; then
	echo "SKIP: no /dev/kvm"
	exit 0
fi
if [ ! -s "$linux/$image" ] || [ ! -s "$linux/initramfs.cpio" ]; then
	"$src/images/mklinux.sh" "$(dirname "$linux")" || exit 1
fi
[ -x "$minivmm" ] || {
	echo "check-linux: no minivmm binary at $minivmm" >&2
	exit 1
}
mkdir -p "$logs"

# The parameters this host needs (KVM-HOST-NOTES.md): KVM refuses xrstor,
# clac, ldmxcsr/stmxcsr here, and ignores CPUID masks for ISA extensions,
# so features are hidden from the kernel with clearcpuid=. The rest skips
# work a VM does not need (mitigations, KASLR, the TSC calibration, the
# rodata W^X walk, crypto self-tests, the NMI watchdog). panic=-1 makes a
# failing init reset the machine at once.
append="console=ttyS0 nokaslr mitigations=off nopti noxsave nofsgsbase
clearcpuid=smap,smep,erms,fsrm,popcnt,rdpid,avx,clflushopt,ssse3,sse4_1,sse4_2,aes,pclmulqdq,sha_ni
lpj=10384520 tsc=reliable clocksource=tsc highres=off no_timer_check
init_on_alloc=0 acpi=off 8250.nr_uarts=1 cryptomgr.notests nowatchdog
panic=-1 rodata=off"
# Speed-ups found by sampling the guest's RIP and stack (FAST=0 drops
# them). On this host CPL0 code runs at ~1 M instructions/s, and these
# two boot-time jobs took about half of the boot: ftrace's check of its
# 40k call sites against kallsyms (ftrace_check_for_weak_functions) and
# the rewrite of every trace event's format with the enum maps
# (trace_eval_init). Skipping them only leaves ftrace/trace-event
# metadata unchecked or unresolved; nothing else in the kernel uses them.
# nohz=off keeps the tick periodic, so the PIT is not reprogrammed on
# every tick (three port writes, each a VM exit, with irqchip=user).
if [ "${FAST:-1}" != 0 ]; then
	append="$append nohz=off
initcall_blacklist=ftrace_check_for_weak_functions,trace_eval_init"
fi
append="$append ${EXTRA_APPEND:-}"
append=$(echo $append)

# What the platform drivers print when they find minivmm's devices.
expect=(
	'clocksource: Switched to clocksource'
	'rtc_cmos.*(registered as rtc0|setting system clock)'
	'ttyS0 at I/O 0x3f8 \(irq = 4'
	'serio: i8042 KBD port at 0x60,0x64 irq 1'
	'Run /init as init process'
)

# Prefixes each line with the host's seconds since the boot started.
stamp() {
	perl -e 'use Time::HiRes qw(time); $|=1; $t0=time;
		while (<STDIN>) { printf("%8.1f| %s", time-$t0, $_) }'
}

boot() {
	local mode=$1 log=$logs/linux-$1.log t0 t1 rc
	echo "=== irqchip=$mode: $image, -m $mem, timeout ${timeout}s"
	t0=$(date +%s)
	timeout -s TERM -k 30 "$timeout" "$minivmm" -kernel "$linux/$image" \
		-initrd "$linux/initramfs.cpio" -append "$append" \
		-machine irqchip="$mode" -nographic -no-reboot -m "$mem" \
		-stats </dev/null 2>&1 | stamp >"$log"
	rc=${PIPESTATUS[0]}
	t1=$(date +%s)
	echo "exit status $rc after $((t1 - t0)) s (log: $log)"
	local fail=0 re line
	for re in "${expect[@]}"; do
		line=$(grep -E -m1 -- "$re" "$log")
		if [ -n "$line" ]; then
			echo "  ok   $line"
		else
			echo "  MISS /$re/"
			fail=1
		fi
	done
	line=$(grep -E -m1 'Kernel panic|MINIVMM-INIT-OK' "$log")
	echo "  end  ${line:-(no panic or init marker)}"
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		echo "  FAIL: timed out"
		fail=1
	elif [ "$rc" -ne 0 ]; then
		echo "  FAIL: minivmm exited with status $rc"
		grep -E -A12 'minivmm: vcpu' "$log" | head -n 20
		fail=1
	fi
	echo "  stats:"
	sed -n '/minivmm stats/,$p' "$log" | sed 's/^ *[0-9.]*| /    /'
	return $fail
}

status=0
for mode in $modes; do
	boot "$mode" || status=1
done
[ $status -eq 0 ] && echo "check-linux: PASS" || echo "check-linux: FAIL"
exit $status
