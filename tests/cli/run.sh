#!/bin/bash
# Bad input on the command line: each case must end with exactly one
# "minivmm: ..." line on stderr (usage text aside) and a non-zero status,
# never a crash or a hang.
#   run.sh [MINIVMM]
set -u
VMM=${1:-./minivmm}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
PREFIX=
head -c 65536 /dev/zero >"$T/bios.bin"
head -c 1000 /dev/zero >"$T/odd.img"
head -c 1048576 /dev/zero >"$T/disk.img"

# expect NAME PATTERN ARGS...: non-zero exit (not a signal), stderr matches.
expect() {
	local name=$1 pat=$2
	shift 2
	timeout 20 $PREFIX "$VMM" "$@" </dev/null >"$T/out" 2>"$T/err"
	local rc=$?
	if [ $rc -ne 0 ] && [ $rc -lt 124 ] && grep -q -- "$pat" "$T/err"; then
		pass=$((pass + 1))
		echo "ok     $name"
	else
		fail=$((fail + 1))
		echo "FAILED $name (status $rc): $(head -c 300 "$T/err")"
	fi
}

B="-bios $T/bios.bin -nographic -no-reboot"
expect unknown-option "unknown option '-frobnicate'" -frobnicate
expect missing-argument "needs an argument" -m
expect no-bios "no firmware" -nographic
expect bios-missing "cannot open BIOS" -bios "$T/nonexistent.bin"
expect bios-directory "not a regular file" -bios "$T"
expect bios-bad-size "multiple of 4 KiB" -bios "$T/odd.img"
expect mem-garbage "bad memory size" $B -m lots
expect mem-negative "bad memory size" $B -m -5
expect mem-too-small "at least 2 MiB" $B -m 1M
expect mem-too-large "more RAM than this host has" $B -m 64T
expect mem-overflow "bad memory size" $B -m 99999999999999999999G
expect machine-bad "bad -machine option" $B -machine ioreq=telepathy
expect cpu-model-bad "unknown CPU model" $B -cpu pentium9
expect cpu-feature-bad "unknown CPU feature" $B -cpu minivmm,+warpdrive
expect smp-bad "only 1 vCPU" $B -smp 4
expect device-bad "unknown device" $B -device sb16
expect display-bad "unknown display" $B -display gtk
expect drive-if-bad "if=scsi is not supported" $B -drive file=$T/disk.img,if=scsi
expect drive-format-bad "format=qcow2 is not supported" $B -drive file=$T/disk.img,format=qcow2
expect drive-key-bad "unknown -drive option" $B -drive file=$T/disk.img,speed=fast
expect drive-index-bad "bad -drive index" $B -drive file=$T/disk.img,index=9
expect drive-twice "given twice" $B -hdc "$T/disk.img" -cdrom "$T/disk.img"
expect disk-missing "could not open disk image" $B -hda "$T/nonexistent.img"
expect disk-odd-size "512" $B -hda "$T/odd.img"
expect boot-bad "bad boot order" $B -boot xyz
expect serial-bad "serial" $B -serial telnet:1234
if command -v setpriv >/dev/null && [ "$(id -u)" = 0 ] && [ -e /dev/kvm ]; then
	chmod 755 "$T"
	cp "$T/bios.bin" "$T/pub.bin" && chmod 644 "$T/pub.bin"
	cp "$VMM" "$T/minivmm" && VMM_SAVE=$VMM && VMM=$T/minivmm
	PREFIX="setpriv --reuid=65534 --regid=65534 --clear-groups --"
	expect kvm-permission "cannot open /dev/kvm" -bios "$T/pub.bin"
	PREFIX= VMM=$VMM_SAVE
fi
# One accepted case, so the harness itself is known to work.
if [ -c /dev/kvm ] && { : <>/dev/kvm; } 2>/dev/null; then
	timeout 20 "$VMM" -version >/dev/null && pass=$((pass + 1)) ||
		{ fail=$((fail + 1)); echo "FAILED -version"; }
fi
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
