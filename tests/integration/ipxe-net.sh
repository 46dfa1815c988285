#!/bin/bash
# A real network client on minivmm's RTL8029: Debian's iPXE (ipxe.iso,
# booted by SeaBIOS from the CD; its rtl8029 driver on the PCI NE2000, or
# with NIC=virtio its virtio-net driver on minivmm's virtio-net-pci)
# gets a DHCP lease from dnsmasq, fetches an iPXE script and a 1 MiB random
# file over TFTP from dnsmasq, and the file is shown to have arrived byte
# for byte.
#
# What a pass proves:
#   - DHCP: iPXE prints the address dnsmasq leased it (10.199.2.x) and
#     dnsmasq's log has the DHCPACK for it;
#   - TFTP: iPXE ran the script it fetched (it prints a nonce the test put
#     into that script only), fetched a tiny multiboot kernel and, as that
#     kernel's module, the payload (imgstat: 1048576 bytes);
#   - byte for byte: iPXE boots the kernel (multiboot; assembled here with
#     as/ld), which writes where iPXE placed the module in guest RAM and its
#     length to the debug port 0x402 (-debugcon file:...) and spins; the
#     test saves those bytes through the monitor (pmemsave) and compares
#     them with the file dnsmasq served (cmp), so one wrong, lost or
#     repeated byte fails. (Debian's iPXE has no sha1sum/md5sum: DIGEST_CMD
#     is off in its build, hence the kernel. Dumping 1 MiB through the port
#     takes an exit per byte: minutes here.) Every TFTP datagram also
#     passed iPXE's UDP checksum check on the way.
# SeaBIOS's sercon (-fw_cfg name=etc/sercon-port: f8 03) puts iPXE's INT 10h
# output on COM1, which the test reads. dnsmasq and the TAP live in a
# network namespace made here (10.199.2.1/24), removed at the end.
# Needs root and a /dev/kvm (run it through tests/kvmhost/run -o), dnsmasq
# (dnsmasq-base), ipxe, seabios, binutils (as/ld for i386) and python3.
#
#   tests/integration/ipxe-net.sh
# Environment: MINIVMM (./minivmm), IPXE_ISO (/usr/lib/ipxe/ipxe.iso),
# SEABIOS (/usr/share/seabios/bios.bin), WORK (build/ipxe-net), TIMEOUT
# seconds for the whole boot (600), PAYLOAD_KB (1024), IOREQ (dm),
# IRQCHIP (user), NIC (ne2k or virtio), EXTRA_ARGS (more minivmm options).
set -u

src=$(cd "$(dirname "$0")/../.." && pwd)
name=ipxe-net
. "$src/tests/integration/guestlib.sh"
minivmm=$(realpath "${MINIVMM:-./minivmm}")
iso=${IPXE_ISO:-/usr/lib/ipxe/ipxe.iso}
bios=${SEABIOS:-/usr/share/seabios/bios.bin}
work=${WORK:-build/ipxe-net}
timeout=${TIMEOUT:-600}
kb=${PAYLOAD_KB:-1024}
tap=mvtap1
case ${NIC:=ne2k} in
ne2k) model=ne2k_pci ipxe_drv=rtl8029 ;;
virtio) model=virtio-net-pci ipxe_drv=virtio-net ;;
*)
	echo "ipxe-net: NIC must be ne2k or virtio, not '$NIC'" >&2
	exit 2
	;;
esac
host_ip=10.199.2.1

guest_need_kvm
guest_need_root
dnsmasq=$(command -v dnsmasq || echo /usr/sbin/dnsmasq)
for f in "$minivmm" "$iso" "$bios" "$dnsmasq"; do
	[ -e "$f" ] || {
		echo "ipxe-net: missing $f (packages ipxe, dnsmasq-base, seabios)" >&2
		exit 1
	}
done
mkdir -p "$work" || exit 1
work=$(realpath "$work")
tftp=$work/tftp
rm -rf "$tftp" "$work"/{console,stderr,debugcon,module,dnsmasq.log,leases,pcap,monitor.log}
mkdir -p "$tftp" || exit 1

# The monitor's socket: not on the work directory (9p in the KVM test VM
# has no sockets).
sockdir=$(mktemp -d /tmp/ipxe-net.XXXXXX) || exit 1
sock=$sockdir/mon.sock
vmm_pid=
dns_pid=
cleanup() {
	[ -n "$vmm_pid" ] && kill "$vmm_pid" 2>/dev/null
	[ -n "$dns_pid" ] && kill "$dns_pid" 2>/dev/null
	guest_netns_del
	rm -rf "$sockdir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# ---- what dnsmasq serves ----
head -c $((kb * 1024)) /dev/urandom >"$tftp/payload.bin"
nonce=$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')
# Every console line the test reads starts with "IPXE-NET:".
cat >"$tftp/boot.ipxe" <<IPXE
#!ipxe
echo IPXE-NET: script $nonce ip \${net0/ip} server \${next-server}
kernel tftp://$host_ip/check.elf || goto failed
echo IPXE-NET: fetch start
module tftp://$host_ip/payload.bin || goto failed
echo IPXE-NET: fetch end
imgstat
echo IPXE-NET: booting the checker
boot || goto failed
:failed
echo IPXE-NET: fetch failed
IPXE
# The checker: a multiboot kernel that tells where iPXE put its one module
# ("IPXE-NET-MODULE <start> <length>" in hex, on port 0x402), then spins.
# The test saves those bytes with the monitor's pmemsave and compares them.
cat >"$work/check.S" <<'ASM'
	.code32
	.text
	.globl _start
	.align 4
mb:	.long 0x1badb002, 0x00000001, -(0x1badb002 + 0x00000001)
_start:	cld
	mov $0x402, %dx
	cmp $0x2badb002, %eax		/* multiboot magic */
	jne bad
	testl $8, (%ebx)		/* mbi flags: mods_* valid */
	jz bad
	cmpl $1, 20(%ebx)		/* mods_count */
	jne bad
	mov 24(%ebx), %ebx		/* the module: start, end */
	lea tag, %esi
	mov $(end_tag - tag), %ecx
	rep outsb
	mov (%ebx), %eax
	call hex
	mov $' ', %al
	out %al, %dx
	mov 4(%ebx), %eax
	sub (%ebx), %eax
	call hex
	mov $'\n', %al
	out %al, %dx
	jmp halt
bad:	lea badm, %esi
	mov $(end_badm - badm), %ecx
	rep outsb
/* Spins (interrupts off): a halt with interrupts off would end minivmm
 * before the monitor has saved the module. */
halt:	cli
1:	pause
	jmp 1b
/* %eax as 8 hex digits on port %dx */
hex:	mov %eax, %ebp
	mov $8, %ecx
2:	rol $4, %ebp
	mov %ebp, %eax
	and $15, %eax
	movb digits(%eax), %al
	out %al, %dx
	loop 2b
	ret
	.data
digits:	.ascii "0123456789abcdef"
tag:	.ascii "\nIPXE-NET-MODULE "
end_tag:
badm:	.ascii "\nIPXE-NET-MODULE-BAD\n"
end_badm:
ASM
as --32 -o "$work/check.o" "$work/check.S" &&
	ld -m elf_i386 -N -Ttext=0x100000 -e _start --build-id=none \
		-o "$tftp/check.elf" "$work/check.o" 2>&1 |
	grep -v 'LOAD segment with RWX' >&2
[ -s "$tftp/check.elf" ] || {
	echo "ipxe-net: cannot build the checker (binutils for i386?)" >&2
	exit 1
}
# SeaBIOS's sercon: INT 10h on the UART at 0x3F8 (a 2-byte integer).
printf '\xf8\x03' >"$work/sercon"

# ---- the peer: a namespace with the tap and dnsmasq ----
guest_netns "mvmipxe$$" "$tap" "$host_ip/24"
# No DNS (port=0), no config file, no daemon; the lease file in $work.
nsx "$dnsmasq" --keep-in-foreground --conf-file=/dev/null --port=0 \
	--no-resolv --no-hosts --user=root --group=root \
	--interface="$tap" --bind-interfaces --pid-file= \
	--dhcp-range=10.199.2.100,10.199.2.150,255.255.255.0,10m \
	--dhcp-leasefile="$work/leases" --dhcp-authoritative \
	--dhcp-boot="tftp://$host_ip/boot.ipxe" \
	--enable-tftp --tftp-root="$tftp" --log-dhcp \
	--log-facility="$work/dnsmasq.log" 2>>"$work/dnsmasq.log" &
dns_pid=$!

# ---- iPXE on minivmm ----
t0=$(date +%s.%N)
nsx timeout "$timeout" "$minivmm" -bios "$bios" -cdrom "$iso" -m 128 \
	-machine "irqchip=${IRQCHIP:-user},ioreq=${IOREQ:-dm}" -nographic \
	-no-reboot -stats -debugcon file:"$work/debugcon" \
	-monitor unix:"$sock",server,nowait \
	-fw_cfg name=etc/sercon-port,file="$work/sercon" \
	-net nic,model=$model -net dump,file="$work/pcap" \
	-net tap,ifname="$tap",script=no,downscript=no \
	${EXTRA_ARGS:-} </dev/null >"$work/console" 2>"$work/stderr" &
vmm_pid=$!

# The console without CRs and escape sequences; its IPXE-NET lines.
clean() { tr -d '\r' <"$work/console" | sed 's/\x1b\[[0-9;?]*[A-Za-z]//g'; }
lines() { clean | grep -a '^IPXE-NET: '; }
# The checker's line on port 0x402: "IPXE-NET-MODULE START LENGTH" (hex).
modline() { grep -aoE 'IPXE-NET-MODULE( [0-9a-f]{8} [0-9a-f]{8}$|-BAD)' \
	"$work/debugcon" 2>/dev/null | tail -n 1; }
# The monitor: runs each argument as a command, prints what it said, then
# ends minivmm (quit).
monitor() { # COMMAND...
	python3 - "$sock" "$@" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.settimeout(120)
s.connect(sys.argv[1])
def until_prompt():
    buf = b""
    while not buf.endswith(b"(minivmm) "):
        c = s.recv(4096)
        if not c:
            break
        buf += c
    return buf.decode(errors="replace")
until_prompt()
for cmd in sys.argv[2:]:
    s.sendall((cmd + "\n").encode())
    out = until_prompt()
    print(out.replace("(minivmm) ", "").strip() or cmd.split()[0] + ": ok")
s.sendall(b"quit\n")
time.sleep(0.5)
PY
}
# When the payload's fetch started and ended (polled every 0.2 s); then
# the checker's line, the monitor's dump and quit; timeout(1) bounds all.
t_start= t_end= mod=
end=$((SECONDS + timeout + 5))
while [ $SECONDS -lt $end ] && kill -0 "$vmm_pid" 2>/dev/null; do
	l=$(lines)
	if [ -z "$t_start" ] && echo "$l" | grep -q 'fetch start'; then
		t_start=$(date +%s.%N)
	fi
	if [ -z "$t_end" ] && echo "$l" | grep -qE 'fetch (end|failed)'; then
		t_end=$(date +%s.%N)
	fi
	echo "$l" | grep -q 'fetch failed' && break
	# dnsmasq gives up on a transfer the guest stopped acknowledging:
	# nothing more will come.
	grep -q 'failed sending' "$work/dnsmasq.log" 2>/dev/null && break
	mod=$(modline)
	if [ -n "$mod" ]; then
		[ "$mod" != IPXE-NET-MODULE-BAD ] &&
			set -- ${mod#IPXE-NET-MODULE } &&
			monitor "pmemsave 0x$1 0x$2 $work/module" \
				>"$work/monitor.log" 2>&1
		break
	fi
	sleep 0.2
done
# No module: what the vCPU was doing, for the log.
[ -z "$mod" ] && kill -0 "$vmm_pid" 2>/dev/null &&
	monitor "info status" "info registers" >"$work/monitor.log" 2>&1
# minivmm ends at the monitor's quit; anything else is killed here.
for i in $(seq 50); do
	kill -0 "$vmm_pid" 2>/dev/null || break
	sleep 0.2
done
kill "$vmm_pid" 2>/dev/null
wait "$vmm_pid"
rc=$?
vmm_pid=
t1=$(date +%s.%N)
kill "$dns_pid" 2>/dev/null
wait "$dns_pid" 2>/dev/null
dns_pid=

# ---- the verdict ----
fail=0
res() { # NAME OK
	if [ "${2:-}" = 1 ]; then
		echo "PASS $1"
	else
		echo "FAIL $1"
		fail=$((fail + 1))
	fi
}
out=$(clean)
lines | sed 's/^/  /'
res "minivmm ended by the monitor's quit, status 0 (was $rc)" \
	$([ $rc = 0 ] && echo 1)
res "iPXE used the $ipxe_drv driver" \
	$(echo "$out" | grep -q "using $ipxe_drv on" && echo 1)
lease=$(echo "$out" |
	sed -n "s/^IPXE-NET: script $nonce ip \(10\.199\.2\.[0-9]*\) .*/\1/p" |
	head -n 1)
res "DHCP: iPXE has lease ${lease:-none}, dnsmasq sent a DHCPACK" \
	$([ -n "$lease" ] && grep -q "DHCPACK.* $lease " "$work/dnsmasq.log" &&
		echo 1)
res "TFTP: iPXE ran the fetched script" \
	$(echo "$out" | grep -q "^IPXE-NET: script $nonce " && echo 1)
size=$(echo "$out" | grep -aE '^payload.bin *:' | head -n 1)
res "TFTP: payload.bin fetched (imgstat: ${size:-no line})" \
	$(echo "$out" | grep -q '^IPXE-NET: fetch end' &&
		echo "$size" | grep -q " $((kb * 1024)) bytes" && echo 1)
res "checker: iPXE's module at ${mod:-?}" \
	$(echo "$mod" | grep -qE "^IPXE-NET-MODULE [0-9a-f]{8} $(printf %08x $((kb * 1024)))$" && echo 1)
got=$(stat -c %s "$work/module" 2>/dev/null)
res "monitor: pmemsave of the module ($(cat "$work/monitor.log" 2>/dev/null | tr '\n' ' ')${got:-no} bytes)" \
	$(grep -qx 'pmemsave: ok' "$work/monitor.log" 2>/dev/null && echo 1)
diff=$(cmp "$work/module" "$tftp/payload.bin" 2>&1 | head -n 1)
res "byte for byte: the module in guest RAM = payload.bin${diff:+ ($diff)}" \
	$(cmp -s "$work/module" "$tftp/payload.bin" && echo 1)
xfer=
[ -n "$t_start" ] && [ -n "$t_end" ] &&
	xfer=$(echo "$t_start $t_end" | awk '{printf "%.1f", $2 - $1}')
echo "ipxe-net: start to end $(echo "$t0 $t1" | awk '{printf "%.1f", $2 - $1}') s," \
	"TFTP of ${kb} KiB ${xfer:-?} s (polled, +-0.2 s)"
grep -E '^  net0' "$work/stderr"
grep -E 'tftp|DHCPACK' "$work/dnsmasq.log" | tail -n 4 | sed 's/^/  dnsmasq: /'
if [ $fail != 0 ]; then
	echo "--- last console lines ($work/console):"
	echo "$out" | tail -n 25
	echo "--- stderr:"
	tail -n 8 "$work/stderr"
	[ -z "$mod" ] && [ -s "$work/monitor.log" ] &&
		echo "--- the monitor before quit:" && cat "$work/monitor.log"
fi
[ $fail = 0 ] && echo "ipxe-net: all passed" || echo "ipxe-net: $fail failed"
[ $fail = 0 ]
