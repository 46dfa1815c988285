#!/bin/bash
# A stock Debian kernel with Debian's own ne2k-pci and 8390 modules, on
# minivmm's RTL8029 and a TAP (or, with NIC=virtio, Debian's virtio_net on
# minivmm's virtio-net-pci with a vnet-header TAP), talks to a peer across
# the wire, once per irqchip mode:
#   - ping guest -> peer and peer -> guest (5 each, no loss)
#   - TCP (busybox nc) of a random payload each way, SHA-256 compared
#   - the frame counters of -stats (NIC and TAP agree, nothing dropped)
# Everything of the peer lives in a network namespace made here (a tap
# inside it, 10.199.1.1/24; the guest is 10.199.1.2), removed at the end.
# Needs root and a /dev/kvm (run it through tests/kvmhost/run -o).
#
#   tests/integration/net-linux.sh [MODE...]     (MODE: user kernel)
# Environment: MINIVMM (./minivmm), LINUX_DIR (images/out/linux: vmlinuz
# and pkg/ from images/mklinux.sh), WORK (build/net-linux), PAYLOAD_KB
# (1024), TIMEOUT seconds per boot (600), MEM (256), IOREQ (dm),
# NIC (ne2k: the PCI RTL8029; virtio: virtio-net-pci), EXTRA_ARGS (more
# minivmm options).
set -u

src=$(cd "$(dirname "$0")/../.." && pwd)
name=net-linux
. "$src/tests/integration/guestlib.sh"
minivmm=$(realpath "${MINIVMM:-./minivmm}")
work=${WORK:-build/net-linux}
kb=${PAYLOAD_KB:-1024}
timeout=${TIMEOUT:-600}
mem=${MEM:-256}
modes=${*:-user kernel}
tap=mvtap0
host_ip=10.199.1.1
guest_ip=10.199.1.2

guest_need_kvm
guest_need_root
guest_need_linux
[ -x "$minivmm" ] || {
	echo "net-linux: no minivmm binary at $minivmm" >&2
	exit 1
}
mkdir -p "$work"
work=$(realpath "$work")

trap guest_netns_del EXIT

# ---- the guest's initramfs: busybox, the modules, a payload, /init ----
root=$work/root
case ${NIC:=ne2k} in
ne2k) model=ne2k_pci kmod=ne2k-pci drv=ne2k ;;
virtio) model=virtio-net-pci kmod="virtio_pci virtio_net" drv=virtio ;;
*)
	echo "net-linux: NIC must be ne2k or virtio, not '$NIC'" >&2
	exit 2
	;;
esac
guest_root "$root" $kmod
guest_payload "$root" "$kb"
{
	guest_net_init "NET:" "$guest_ip/24"
	cat <<EOF
say "eth0 \$(cat /sys/class/net/eth0/address) irq \$(cat /sys/class/net/eth0/device/irq 2>/dev/null)"
diag() {
	grep -E 'eth0|$drv' /proc/interrupts | sed 's/^/NET: diag: /'
	say "diag: rx \$(cat /sys/class/net/eth0/statistics/rx_packets) tx \$(cat /sys/class/net/eth0/statistics/tx_packets) rx_errors \$(cat /sys/class/net/eth0/statistics/rx_errors)"
	tail -n +2 /proc/net/arp | sed 's/^/NET: diag: arp /'
	dmesg | grep -iE 'eth0|8390|$drv' | tail -n 8 | sed 's/^/NET: diag: /'
	# virtio: the feature bits the driver accepted (bit 0 first).
	for f in /sys/bus/virtio/devices/*/features; do
		[ -r "\$f" ] && say "diag: virtio features \$(cat "\$f")"
	done
}
sleep 3
diag
# Peer -> guest first: the peer pings once it sees us, then hands over its
# summary on port 5003.
i=0
while [ \$i -lt 20 ]; do
	timeout 10 nc $host_ip 5003 </dev/null >/tmp/h2g 2>/dev/null
	[ -s /tmp/h2g ] && break
	sleep 1
	i=\$((i + 1))
	if [ \$((i % 5)) = 0 ]; then
		say "waiting for the peer (\$i)"
		diag
	fi
done
sed 's/^/NET: peer: /' /tmp/h2g
if grep -q ' 0% packet loss' /tmp/h2g; then say "PASS ping-peer-to-guest"; else say "FAIL ping-peer-to-guest"; fi
timeout 60 ping -c 5 -W 5 $host_ip >/tmp/g2h 2>&1
sed 's/^/NET: /' /tmp/g2h | grep -E 'packets|round-trip'
if grep -q ' 0% packet loss' /tmp/g2h; then say "PASS ping-guest-to-peer"; else say "FAIL ping-guest-to-peer"; fi
t0=\$(up)
timeout 600 nc $host_ip 5001 </payload >/dev/null
say "upload rc \$? ${kb} KiB in \$(echo \$t0 \$(up) | awk '{printf "%.2f", \$2 - \$1}') s"
t0=\$(up)
timeout 600 nc $host_ip 5002 </dev/null >/tmp/dl
rc=\$?
say "download rc \$rc ${kb} KiB in \$(echo \$t0 \$(up) | awk '{printf "%.2f", \$2 - \$1}') s"
if [ "\$(sha256sum /tmp/dl | cut -d' ' -f1)" = $sum ]; then say "PASS tcp-peer-to-guest"; else say "FAIL tcp-peer-to-guest (\$(wc -c </tmp/dl) bytes)"; fi
cat /proc/interrupts | grep -E 'eth0|$drv' | sed 's/^/NET: /'
diag
say done
poweroff -f
EOF
} >"$root/init"
chmod +x "$root/init"
guest_cpio "$root" "$work/initramfs.cpio"

# ---- the peer: a namespace with the tap ----
guest_netns "mvmnet$$" "$tap" "$host_ip/24"

# Serves the guest: TCP sinks/sources, and a ping once the guest answers.
peer() {
	local out=$1
	# busybox nc ends at the first EOF either way: with -e, what is
	# sent or received does not depend on the other side's half-close.
	nsx timeout "$timeout" "$bb" nc -l -p 5001 -e "$bb" sh -c \
		"exec $bb cat >$out.up" </dev/null &
	nsx timeout "$timeout" "$bb" nc -l -p 5002 -e "$bb" cat \
		"$work/payload" </dev/null &
	local end=$((SECONDS + timeout))
	while [ $SECONDS -lt $end ]; do
		nsx "$bb" ping -c 1 -W 1 "$guest_ip" >/dev/null 2>&1 && break
		sleep 1
	done
	nsx "$bb" ping -c 5 -W 5 "$guest_ip" >"$out.h2g" 2>&1
	{ nsx ip neigh; nsx ip -s link show "$tap"; } >"$out.peer" 2>&1
	nsx timeout 120 "$bb" nc -l -p 5003 <"$out.h2g" >/dev/null
	wait
}

# -machine coalesced-pio is on unless EXTRA_ARGS turns it off.
coalesce=1
case ${EXTRA_ARGS:-} in *coalesced-pio=off*) coalesce= ;; esac
fail=0
for mode in $modes; do
	log=$work/$mode
	rm -f "$log".*
	echo "== net-linux: $model, irqchip=$mode ioreq=${IOREQ:-dm}, ${kb} KiB each way"
	peer "$log" &
	peer_pid=$!
	t0=$SECONDS
	nsx timeout "$timeout" "$minivmm" -kernel "$linux/vmlinuz" \
		-initrd "$work/initramfs.cpio" -append "$GUEST_APPEND" -m "$mem" \
		-machine "irqchip=$mode,ioreq=${IOREQ:-dm}" -nographic \
		-no-reboot -stats -net nic,model=$model -net dump,file="$log.pcap" \
		-net tap,ifname="$tap",script=no,downscript=no \
		${EXTRA_ARGS:-} </dev/null >"$log.console" 2>"$log.stderr"
	rc=$?
	secs=$((SECONDS - t0))
	wait "$peer_pid" 2>/dev/null
	grep -a '^NET: ' "$log.console" | grep -v '^NET: peer: $'
	res() { # NAME OK
		if [ "${2:-}" = 1 ]; then
			echo "PASS $mode $1"
		else
			echo "FAIL $mode $1"
			fail=$((fail + 1))
		fi
	}
	res "minivmm exit status 0 (was $rc, ${secs} s)" $([ $rc = 0 ] && echo 1)
	for t in ping-peer-to-guest ping-guest-to-peer tcp-peer-to-guest; do
		res "$t" $(grep -aq "^NET: PASS $t" "$log.console" && echo 1)
	done
	got=$(sha256sum <"$log.up" 2>/dev/null | cut -d' ' -f1)
	res "tcp-guest-to-peer ($(stat -c %s "$log.up" 2>/dev/null) bytes)" \
		$([ "$got" = "$sum" ] && echo 1)
	grep -E '^  net0' "$log.stderr"
	# -stats: the NIC sent what the TAP wrote, received what it read.
	nic=$(grep -E "^  net0 ($model|ne2k)" "$log.stderr")
	tapl=$(grep -E '^  net0 tap' "$log.stderr")
	ntx=$(echo "$nic" | sed -n 's/.*tx \([0-9]*\) frames.*/\1/p')
	nrx=$(echo "$nic" | sed -n 's/.*rx \([0-9]*\) frames.*/\1/p')
	twr=$(echo "$tapl" | sed -n 's/.*wrote \([0-9]*\) frames.*/\1/p')
	trd=$(echo "$tapl" | sed -n 's/.*read \([0-9]*\) frames.*/\1/p')
	tdrop=$(echo "$tapl" | sed -n 's/.*(\([0-9]*\) dropped.*/\1/p')
	ntb=$(echo "$nic" | sed -n 's/.*tx [0-9]* frames \([0-9]*\) bytes.*/\1/p')
	nrb=$(echo "$nic" | sed -n 's/.*rx [0-9]* frames \([0-9]*\) bytes.*/\1/p')
	# At least the payload crossed each way (virtio-net's segmentation
	# offloads carry it in fewer, larger frames than 1514 bytes).
	min=$((kb * 1024))
	res "stats: NIC tx $ntx = TAP wrote $twr, $tdrop dropped, $ntb bytes" \
		$([ -n "$ntx" ] && [ "$ntx" = "$twr" ] && [ "$tdrop" = 0 ] &&
			[ "${ntb:-0}" -gt "$min" ] && echo 1)
	res "stats: NIC rx $nrx <= TAP read $trd, $nrb bytes" \
		$([ -n "$nrx" ] && [ "${nrb:-0}" -gt "$min" ] && [ "$nrx" -le "$trd" ] &&
			echo 1)
	# The NE2000's transmit path: the data port's writes are buffered by
	# KVM (coalesced PIO) unless switched off, at least a word each.
	grep -E '^  (port I/O|string port I/O|coalesced) ' "$log.stderr"
	if [ "$NIC" = ne2k ] && [ -n "$coalesce" ]; then
		co=$(sed -n 's/.*coalesced writes (no exit): \([0-9]*\) .*/\1/p' \
			"$log.stderr")
		res "stats: ${co:-no} data-port writes coalesced (>= $((min / 4)))" \
			$([ "${co:-0}" -ge $((min / 4)) ] && echo 1)
	fi
	if [ $rc != 0 ] || ! grep -aq '^NET: done' "$log.console"; then
		echo "--- last console lines ($log.console):"
		tail -n 25 "$log.console"
		echo "--- stderr:"
		tail -n 5 "$log.stderr"
	fi
done
[ $fail = 0 ] && echo "net-linux: all passed" || echo "net-linux: $fail failed"
[ $fail = 0 ]
