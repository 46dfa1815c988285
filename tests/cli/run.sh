#!/bin/bash
# Bad input on the command line: each case must end with exactly one
# "minivmm: ..." line on stderr (usage text aside) and exit status 1,
# never a crash or a hang. Every input is checked before /dev/kvm is
# opened, so these run on hosts without KVM; the two cases about /dev/kvm
# itself print SKIP where they cannot apply.
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

# poke FILE OFFSET BYTE...: write hex bytes at a byte offset.
poke() {
	local f=$1 off=$2 b s=
	shift 2
	for b in "$@"; do s+="\\x$b"; done
	printf "$s" | dd of="$f" bs=1 seek=$((off)) conv=notrunc status=none
}
# A bzImage header the loader accepts (boot protocol 2.15, 64-bit entry,
# one setup sector, 3 KiB of "kernel" loaded at 1 MiB, init_size 4 KiB).
# Never run: only cases that fail before the guest starts use it.
head -c 4096 /dev/zero >"$T/bzImage"
poke "$T/bzImage" 0x1f1 01
poke "$T/bzImage" 0x1f4 c0 00 00 00
poke "$T/bzImage" 0x1fe 55 aa
poke "$T/bzImage" 0x202 48 64 72 53 0f 02
poke "$T/bzImage" 0x211 01
poke "$T/bzImage" 0x22c ff ff ff 7f
poke "$T/bzImage" 0x236 01 00 ff 07 00 00
poke "$T/bzImage" 0x260 00 10 00 00
cp "$T/bzImage" "$T/huge-bzImage"
poke "$T/huge-bzImage" 0x260 00 00 00 40 # init_size 1 GiB

# expect NAME PATTERN ARGS...: exit status 1, stderr matches PATTERN and has
# exactly one "minivmm: " line.
expect() {
	local name=$1 pat=$2
	shift 2
	timeout 20 $PREFIX "$VMM" "$@" </dev/null >"$T/out" 2>"$T/err"
	local rc=$?
	if [ $rc -eq 1 ] && grep -q -- "$pat" "$T/err" &&
		[ "$(grep -c '^minivmm: ' "$T/err")" -eq 1 ]; then
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
expect machine-ioeventfd-bad "bad -machine option" $B -machine ioeventfd=maybe
expect machine-irqfd-bad "bad -machine option" $B -machine irqfd=maybe
expect machine-irqfd-user "irqfd=on needs irqchip=kernel" $B -machine irqfd=on
expect machine-irqfd-user2 "irqfd=on needs irqchip=kernel" $B \
	-machine irqchip=kernel,irqfd=on,irqchip=user
expect cpu-model-bad "unknown CPU model" $B -cpu pentium9
expect cpu-feature-bad "unknown CPU feature" $B -cpu minivmm,+warpdrive
expect smp-bad "only 1 vCPU" $B -smp 4
expect device-bad "unknown device" $B -device sb16
expect display-bad "unknown display" $B -display gtk
expect vga-bad "-vga cirrus: not supported" $B -vga cirrus
expect display-sdl-no-vga "needs a VGA" -bios $T/bios.bin -display sdl -vga none
expect drive-if-bad "if=scsi is not supported" $B -drive file=$T/disk.img,if=scsi
expect drive-format-bad "format=qcow2 is not supported" $B -drive file=$T/disk.img,format=qcow2
expect drive-key-bad "unknown -drive option" $B -drive file=$T/disk.img,speed=fast
expect drive-index-bad "bad -drive index" $B -drive file=$T/disk.img,index=9
expect drive-twice "given twice" $B -hdc "$T/disk.img" -cdrom "$T/disk.img"
expect disk-missing "could not open disk image" $B -hda "$T/nonexistent.img"
# virtio-blk: -drive if=virtio, and if=none + -device virtio-blk-pci.
D="file=$T/disk.img"
expect virtio-missing "could not open disk image .*nonexistent" $B \
	-drive file="$T/nonexistent.img",if=virtio
expect virtio-odd-size "512" $B -drive file="$T/odd.img",if=virtio
expect virtio-cdrom "media=cdrom needs if=ide" $B -drive $D,if=virtio,media=cdrom
expect virtio-index "index= is for if=ide only" $B -drive $D,if=virtio,index=1
expect virtio-no-file "if=virtio needs file=" $B -drive if=virtio
expect drive-none-no-id "if=none needs id=" $B -drive $D,if=none
expect drive-id-twice "id=d0 is given twice" $B -drive $D,if=none,id=d0 \
	-drive file="$T/odd.img",if=none,id=d0
expect drive-id-bad "bad -drive id=" $B -drive $D,if=none,id=
expect vblk-no-drive "needs drive=ID" $B -device virtio-blk-pci
expect vblk-unknown-drive "drive=nope: no -drive with that id" $B \
	-device virtio-blk-pci,drive=nope
expect vblk-drive-twice "drive=d0: that -drive is already in use" $B \
	-drive $D,if=none,id=d0 -device virtio-blk-pci,drive=d0 \
	-device virtio-blk,drive=d0
expect vblk-ide-drive "drive=d0: that -drive is an IDE drive" $B \
	-drive $D,id=d0 -device virtio-blk-pci,drive=d0
expect vblk-virtio-drive "drive=v0: that -drive is already in use" $B \
	-drive $D,if=virtio,id=v0 -device virtio-blk-pci,drive=v0
expect vblk-bad-option "unknown option 'bus'" $B -drive $D,if=none,id=d0 \
	-device virtio-blk-pci,drive=d0,bus=pci.0
expect vblk-serial-long "serial=.* longer than 20 characters" $B \
	-drive $D,if=none,id=d0 \
	-device virtio-blk-pci,drive=d0,serial=123456789012345678901
expect vblk-file-missing "could not open disk image .*nonexistent" $B \
	-drive file="$T/nonexistent.img",if=none,id=d0 \
	-device virtio-blk-pci,drive=d0
expect disk-odd-size "512" $B -hda "$T/odd.img"
expect boot-bad "bad boot order" $B -boot xyz
expect serial-bad "serial" $B -serial telnet:1234
expect serial-file-bad "-serial: .*No such file" $B -serial "file:$T/nodir/out"
expect debugcon-bad "debugcon" $B -debugcon telnet:1234
expect stdio-twice "stdio is already in use" $B -serial stdio -debugcon stdio
expect monitor-bad "unknown monitor" $B -monitor telnet:1234
expect trace-bad "cannot open trace file" $B -trace "$T/nodir/trace"
expect mem-unaligned "multiple of 4 KiB" $B -m 4097K
expect initrd-without-kernel "need -kernel" $B -initrd "$T/disk.img"
expect append-without-kernel "need -kernel" $B -append console=ttyS0
expect kernel-missing "-kernel: cannot open" -kernel "$T/nonexistent"
expect kernel-directory "-kernel: .* not a regular file" -kernel "$T"
expect kernel-not-linux "not a Linux kernel" -kernel "$T/odd.img"
expect kernel-too-big "the kernel needs 1024 MiB" -kernel "$T/huge-bzImage" -m 16
expect initrd-missing "-initrd: cannot open" -kernel "$T/bzImage" \
	-initrd "$T/nonexistent"
expect initrd-too-big "-initrd: .* do not fit" -kernel "$T/bzImage" \
	-initrd "$T/disk.img" -m 2
expect append-too-long "-append: the command line is 3000 bytes" \
	-kernel "$T/bzImage" -append "$(head -c 3000 /dev/zero | tr '\0' x)"
expect cdrom-missing "could not open CD image" $B -cdrom "$T/nonexistent.iso"
expect disk-directory "could not open disk image .*: Is a directory" $B -hda "$T"
# Network options (checked before KVM; no tap is created by these).
expect net-model-bad "unknown NIC model 'e1000'" $B -net nic,model=e1000
expect net-mac-bad "bad macaddr 'zz:00'" $B -net nic,macaddr=zz:00
expect net-mac-multicast "multicast address" $B \
	-net nic,macaddr=01:00:5e:00:00:01
expect net-mac-zero "not a valid address" $B -nic tap,ifname=t0,mac=00:00:00:00:00:00
expect net-tap-no-ifname "ifname= is missing" $B -net nic -net tap,script=no
expect nic-no-ifname "ifname= is missing" $B -nic tap,model=ne2k_pci
expect net-script "runs no scripts" $B -net nic -net tap,ifname=t0,script=/etc/qemu-ifup
expect net-user "-net user: not supported" $B -net user
expect net-key-bad "unknown option 'vlan'" $B -net nic,vlan=1
expect net-name-long "neither a network type nor an interface name" $B \
	-net averyveryverylongname
expect net-tap-alone "has no -net nic" $B -net tap,ifname=t0,script=no
expect net-none-mixed "cannot be combined" $B -net none -net tap0
expect net-tap-twice "tap t0 is given to two NICs" $B -net t0 -nic tap,ifname=t0
expect net-isa-twice "only one ne2k_isa" $B -net nic,model=ne2k_isa \
	-net nic,model=ne2k_isa
expect net-mac-twice "two NICs have the MAC" $B -net nic,macaddr=52:54:00:00:00:01 \
	-net nic,macaddr=52:54:00:00:00:01
expect netdev-missing "no -netdev with id=n1" $B -device ne2k_pci,netdev=n1
expect netdev-unused "not used by any NIC" $B -netdev tap,id=n0,ifname=t0
expect net-too-many "at most 4 NICs" $B -net nic -net nic -net nic -net nic -net nic
expect net-dump-bad "-net dump: cannot write" $B -net nic -net dump,file=$T/nodir/x.pcap
# virtio-net-pci (model=virtio, -device virtio-net-pci|virtio-net).
expect vnet-model-bad "unknown NIC model 'virtio-blk'" $B \
	-nic tap,ifname=t0,model=virtio-blk
expect vnet-key-bad "unknown option 'drive'" $B -device virtio-net-pci,drive=d0
expect vnet-netdev-missing "no -netdev with id=nope" $B \
	-device virtio-net-pci,netdev=nope
expect vnet-netdev-twice "netdev 'n0' is used by two NICs" $B \
	-netdev tap,id=n0,ifname=t0 -device virtio-net-pci,netdev=n0 \
	-device ne2k_pci,netdev=n0
expect vnet-mac-bad "bad mac '52:54:00'" $B -device virtio-net,mac=52:54:00
expect vnet-mac-twice "two NICs have the MAC" $B \
	-nic tap,ifname=t0,model=virtio,mac=52:54:00:00:00:01 \
	-nic tap,ifname=t1,model=virtio-net-pci,mac=52:54:00:00:00:01
expect vnet-tap-twice "tap t0 is given to two NICs" $B \
	-nic tap,ifname=t0,model=virtio -net nic,model=virtio -net tap,ifname=t0
expect vnet-tap-lo "tap lo: cannot" $B -nic tap,ifname=lo,model=virtio-net-pci
expect vnet-too-many "at most 4 NICs" $B -device virtio-net-pci \
	-device virtio-net-pci -device virtio-net -net nic,model=virtio \
	-nic tap,ifname=t4,model=virtio
# -fw_cfg (QEMU's rules; opt/ names, as etc/ ones add QEMU's warning line).
expect fw-cfg-no-name "name, plus exactly one of file and string" $B \
	-fw_cfg string=x
expect fw-cfg-no-content "name, plus exactly one of file and string" $B \
	-fw_cfg name=opt/x
expect fw-cfg-both "name, plus exactly one of file and string" $B \
	-fw_cfg "name=opt/x,file=$T/disk.img,string=y"
expect fw-cfg-name-long "name too long (max. 55 char)" $B \
	-fw_cfg "name=opt/$(head -c 52 /dev/zero | tr '\0' a),string=x"
expect fw-cfg-name-empty "the name is empty" $B -fw_cfg name=,string=x
expect fw-cfg-key-bad "Invalid parameter 'size'" $B -fw_cfg opt/x,string=x,size=1
expect fw-cfg-gen-id "gen_id= is not supported" $B -fw_cfg opt/x,gen_id=g0
expect fw-cfg-twice "duplicate fw_cfg file name: opt/x" $B \
	-fw_cfg opt/x,string=1 -fw_cfg name=opt/x,file="$T/disk.img"
expect fw-cfg-own-name "duplicate fw_cfg file name: etc/e820" $B \
	-fw_cfg name=etc/e820,string=x
expect fw-cfg-file-missing "-fw_cfg: cannot open '$T/nonexistent'" $B \
	-fw_cfg name=opt/x,file="$T/nonexistent"
expect fw-cfg-file-directory "-fw_cfg: .* not a regular file" $B \
	-fw_cfg name=opt/x,file="$T"
# A tap that cannot be had: "lo" exists and is no tap (EINVAL), or there is
# no /dev/net/tun, or no permission: one line either way.
expect net-tap-lo "tap lo: cannot" $B -net lo
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	chmod 755 "$T"
	cp "$T/bios.bin" "$T/pub-net.bin" && chmod 644 "$T/pub-net.bin"
	cp "$VMM" "$T/minivmm-net" && VMM_SAVE=$VMM && VMM=$T/minivmm-net
	PREFIX="setpriv --reuid=65534 --regid=65534 --clear-groups --"
	expect net-tap-permission "tap mvmtest0: cannot" -bios "$T/pub-net.bin" \
		-nographic -no-reboot -net mvmtest0
	expect vnet-tap-permission "tap mvmtest1: cannot" \
		-bios "$T/pub-net.bin" -nographic -no-reboot \
		-nic tap,ifname=mvmtest1,model=virtio-net-pci
	PREFIX= VMM=$VMM_SAVE
else
	echo "SKIP   net-tap-permission: needs root and setpriv"
fi
# The lock's holder is the sleep itself (no flock(1) parent left behind
# holding a child when it is killed).
(
	exec 9>>"$T/disk.img"
	flock -x 9
	exec sleep 30
) &
LOCKER=$!
sleep 0.2
expect disk-locked "in use by another process" $B -hda "$T/disk.img"
kill "$LOCKER" 2>/dev/null
wait "$LOCKER" 2>/dev/null
# /dev/kvm itself: the one error left when every input is good.
if [ ! -e /dev/kvm ]; then
	expect kvm-missing "cannot open /dev/kvm: No such file" $B
	expect kvm-missing-kernel "cannot open /dev/kvm: No such file" \
		-kernel "$T/bzImage" -initrd "$T/disk.img" -append quiet -m 16 \
		-nographic -no-reboot
	# Good virtio-blk options get as far as KVM (fresh images: the
	# locker above may still hold disk.img).
	cp "$T/odd.img" "$T/v1.img" && truncate -s 1M "$T/v1.img"
	cp "$T/v1.img" "$T/v2.img"
	expect kvm-missing-virtio "cannot open /dev/kvm: No such file" $B \
		-drive file="$T/v1.img",if=virtio,readonly=on,format=raw \
		-drive file="$T/v2.img",if=none,id=d1,cache=writethrough \
		-device virtio-blk-pci,drive=d1,serial=MV-0001,id=vd1 \
		-machine pc,ioeventfd=on
	# Good virtio-net options (no TAP: a NIC without a cable) get as
	# far as KVM; with a TAP where one can be created (root), too, the
	# TAP opened in vnet header mode and the dump file written.
	expect kvm-missing-virtio-net "cannot open /dev/kvm: No such file" $B \
		-net nic,model=virtio -device virtio-net-pci,mac=52:54:00:0a:0b:0c \
		-machine irqchip=kernel,ioeventfd=on,irqfd=on
	if [ "$(id -u)" = 0 ] && [ -c /dev/net/tun ]; then
		expect kvm-missing-virtio-net-tap "cannot open /dev/kvm: No such" \
			$B -nic tap,ifname=mvt%d,model=virtio-net-pci \
			-netdev tap,id=n1,ifname=mvu%d \
			-device virtio-net,netdev=n1 -net dump,file="$T/v.pcap"
	else
		echo "SKIP   kvm-missing-virtio-net-tap: needs root and /dev/net/tun"
	fi
	# Good -fw_cfg items get as far as KVM.
	expect kvm-missing-fw-cfg "cannot open /dev/kvm: No such file" $B \
		-fw_cfg opt/x,string=a,,b -fw_cfg name=opt/y,file="$T/disk.img"
else
	echo "SKIP   kvm-missing: this host has /dev/kvm"
fi
if ! [ -e /dev/kvm ]; then
	# Where /dev/kvm exists this case runs here; without one,
	# tests/guest/run-tests.sh checks it in the KVM test VM.
	:
elif ! command -v setpriv >/dev/null || [ "$(id -u)" != 0 ]; then
	echo "SKIP   kvm-permission: needs root and setpriv"
else
	chmod 755 "$T"
	cp "$T/bios.bin" "$T/pub.bin" && chmod 644 "$T/pub.bin"
	cp "$VMM" "$T/minivmm" && VMM_SAVE=$VMM && VMM=$T/minivmm
	PREFIX="setpriv --reuid=65534 --regid=65534 --clear-groups --"
	expect kvm-permission "cannot open /dev/kvm" -bios "$T/pub.bin"
	PREFIX= VMM=$VMM_SAVE
fi
# Accepted cases (no KVM needed), so the harness itself is known to work.
for ok in -version -help; do
	if timeout 20 "$VMM" $ok >/dev/null 2>"$T/err" && [ ! -s "$T/err" ]; then
		pass=$((pass + 1))
		echo "ok     $ok"
	else
		fail=$((fail + 1))
		echo "FAILED $ok"
	fi
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
