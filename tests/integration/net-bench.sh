#!/bin/bash
# NE2000 throughput from a stock Linux guest: Debian's kernel with its own
# ne2k-pci driver sends PAYLOAD_KB to a peer over TCP (busybox nc) and then
# receives as much, on minivmm's RTL8029 (each irqchip mode) and, where
# qemu-system-x86_64 is installed, on QEMU-KVM's ne2k_pci with the same
# kernel, initramfs and TAP, one after the other in the same run.
# The peer lives in a network namespace made here (10.199.3.1/24 on a tap;
# the guest is 10.199.3.2), removed at the end.
#
# Per direction the table gives MB/s (the guest's clock from the first
# byte to the last), KVM exits per MiB (the VM's "exits" in KVM's debugfs
# statistics, the same counter for both VMMs) and host CPU per MiB (user +
# system time of the whole VMM process, all threads, guest time
# included). The peer samples both when the guest tells it a transfer
# starts and ends (a connection to port 5004). Payload bytes are checked
# (SHA-256) both ways: a wrong byte fails the run.
# Needs root and a /dev/kvm (run it through tests/kvmhost/run -o).
#
#   tests/integration/net-bench.sh
# Environment: MINIVMM (./minivmm), CONFIGS ("user:dm kernel:dm": minivmm
# irqchip:ioreq pairs), QEMU (qemu-system-x86_64; none skips it),
# PAYLOAD_KB (16384), TIMEOUT seconds per boot (900), MEM (256), WORK
# (build/net-bench), EXTRA_ARGS (more minivmm options).
set -u

src=$(cd "$(dirname "$0")/../.." && pwd)
name=net-bench
. "$src/tests/integration/guestlib.sh"
minivmm=$(realpath "${MINIVMM:-./minivmm}")
configs=${CONFIGS:-"user:dm kernel:dm"}
qemu=${QEMU:-qemu-system-x86_64}
kb=${PAYLOAD_KB:-16384}
timeout=${TIMEOUT:-900}
mem=${MEM:-256}
work=${WORK:-build/net-bench}
tap=mvtap2
host_ip=10.199.3.1
guest_ip=10.199.3.2

guest_need_kvm
guest_need_root
guest_need_linux
[ -x "$minivmm" ] || {
	echo "net-bench: no minivmm binary at $minivmm" >&2
	exit 1
}
[ "$qemu" = none ] || command -v "$qemu" >/dev/null || {
	echo "net-bench: no $qemu; minivmm figures only"
	qemu=none
}
mkdir -p "$work"
work=$(realpath "$work")
trap guest_netns_del EXIT
mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug

# ---- the guest ----
root=$work/root
guest_root "$root" ne2k-pci
guest_payload "$root" "$kb"
{
	guest_net_init "NETBENCH" "$guest_ip/24"
	cat <<EOF
# Wait for the peer (ARP and its listeners), at most 60 tries.
i=0
until nc $host_ip 5004 </dev/null >/dev/null 2>&1; do
	i=\$((i + 1))
	[ \$i -ge 60 ] && { say "FAIL no peer"; reboot -f; }
	sleep 1
done
t0=\$(up)
timeout 900 nc $host_ip 5001 </payload >/dev/null
rc=\$?
t1=\$(up)
nc $host_ip 5004 </dev/null >/dev/null 2>&1
say "tx rc \$rc secs \$(echo \$t0 \$t1 | awk '{print \$2 - \$1}')"
t0=\$(up)
timeout 900 nc $host_ip 5002 </dev/null >/tmp/dl
rc=\$?
t1=\$(up)
nc $host_ip 5004 </dev/null >/dev/null 2>&1
say "rx rc \$rc secs \$(echo \$t0 \$t1 | awk '{print \$2 - \$1}')"
if [ "\$(sha256sum /tmp/dl | cut -d' ' -f1)" = $sum ]; then say "rx sum ok"; else say "FAIL rx sum (\$(wc -c </tmp/dl) bytes)"; fi
say END
reboot -f
EOF
} >"$root/init"
chmod +x "$root/init"
guest_cpio "$root" "$work/initramfs.cpio"

guest_netns "mvmbench$$" "$tap" "$host_ip/24"

# snap LOG: the VMM's CPU time (clock ticks) and KVM exit counters now.
snap() {
	local pid d cpu
	# The VMM's process: the one VM running now has a KVM debugfs
	# directory named PID-FD.
	d=$(ls -d /sys/kernel/debug/kvm/[0-9]*-* 2>/dev/null | head -n 1)
	pid=${d##*/}
	pid=${pid%%-*}
	cpu=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null)
	echo "$cpu $(cat "$d/exits" "$d/io_exits" "$d/mmio_exits" \
		"$d/irq_exits" "$d/halt_exits" 2>/dev/null | tr '\n' ' ')" >>"$1"
}

# peer LOG: serves one boot: the marker port (3 samples), the sink, the
# source.
peer() {
	local log=$1 i
	nsx timeout "$timeout" "$bb" nc -l -p 5001 -e "$bb" sh -c \
		"exec $bb cat >$log.up" </dev/null &
	nsx timeout "$timeout" "$bb" nc -l -p 5002 -e "$bb" cat \
		"$work/payload" </dev/null &
	for i in 1 2 3; do
		nsx timeout "$timeout" "$bb" nc -l -p 5004 </dev/null >/dev/null ||
			break
		snap "$log.snap"
	done
	wait
}

declare -A RES
names=()
fail=0
# run NAME COMMAND...: one boot, its figures into RES.
run() {
	local name=$1 log=$work/$1 rc t0
	shift
	rm -f "$log".*
	peer "$log" &
	local ppid=$!
	t0=$SECONDS
	nsx timeout -k 10 "$timeout" "$@" </dev/null >"$log.console" 2>"$log.stderr"
	rc=$?
	kill $ppid 2>/dev/null
	ip netns pids "$GUEST_NS" | xargs -r kill 2>/dev/null
	wait $ppid 2>/dev/null
	names+=("$name")
	echo "$name: exit status $rc after $((SECONDS - t0)) s ($log.console)"
	tr -d '\r' <"$log.console" | grep -a '^NETBENCH ' | sed 's/^/  /'
	local ok=1
	tr -d '\r' <"$log.console" | grep -aq '^NETBENCH END' || ok=
	tr -d '\r' <"$log.console" | grep -aq '^NETBENCH FAIL' && ok=
	[ "$(sha256sum <"$log.up" 2>/dev/null | cut -d' ' -f1)" = "$sum" ] || {
		echo "  FAIL: the peer received $(stat -c %s "$log.up" 2>/dev/null || echo no) bytes, not the payload"
		ok=
	}
	[ "$(wc -l <"$log.snap" 2>/dev/null)" = 3 ] || {
		echo "  FAIL: $(wc -l <"$log.snap" 2>/dev/null || echo 0) samples, not 3"
		ok=
	}
	if [ -z "$ok" ]; then
		fail=$((fail + 1))
		tail -n 12 "$log.console" | sed 's/^/  | /'
		tail -n 4 "$log.stderr" | sed 's/^/  | /'
		return
	fi
	grep -E '^  net0' "$log.stderr"
	local tx rx
	tx=$(tr -d '\r' <"$log.console" | sed -n 's/^NETBENCH tx rc 0 secs //p')
	rx=$(tr -d '\r' <"$log.console" | sed -n 's/^NETBENCH rx rc 0 secs //p')
	local hz
	hz=$(getconf CLK_TCK)
	# Per direction: MB/s, exits per MiB, CPU ms per MiB, and the exits
	# by kind (io, mmio, irq, hlt) per MiB.
	local k
	for k in 1 2; do
		local dir secs
		[ $k = 1 ] && dir=tx secs=$tx || dir=rx secs=$rx
		read -r RES[$name,$dir,mbs] RES[$name,$dir,exits] \
			RES[$name,$dir,cpu] RES[$name,$dir,kinds] < <(awk -v k=$k \
			-v secs="$secs" -v kb="$kb" -v hz="$hz" '
			{ for (i = 1; i <= NF; i++) v[NR, i] = $i }
			END {
				mib = kb / 1024
				printf "%.2f %.0f %.1f %.0f/%.0f/%.0f/%.0f\n",
					secs > 0 ? kb * 1024 / secs / 1e6 : 0,
					(v[k + 1, 2] - v[k, 2]) / mib,
					(v[k + 1, 1] - v[k, 1]) * 1000 / hz / mib,
					(v[k + 1, 3] - v[k, 3]) / mib,
					(v[k + 1, 4] - v[k, 4]) / mib,
					(v[k + 1, 5] - v[k, 5]) / mib,
					(v[k + 1, 6] - v[k, 6]) / mib
			}' "$log.snap")
	done
}

for cfg in $configs; do
	ic=${cfg%%:*}
	io=${cfg#*:}
	run "minivmm-$ic-$io" "$minivmm" -kernel "$linux/vmlinuz" \
		-initrd "$work/initramfs.cpio" -append "$GUEST_APPEND" -m "$mem" \
		-machine "irqchip=$ic,ioreq=$io" -nographic -no-reboot -stats \
		-net nic,model=ne2k_pci -net tap,ifname="$tap",script=no,downscript=no \
		${EXTRA_ARGS:-}
done
if [ "$qemu" != none ]; then
	run qemu-kvm "$qemu" -accel kvm -cpu host -m "$mem" -nodefaults \
		-display none -serial stdio -no-reboot -kernel "$linux/vmlinuz" \
		-initrd "$work/initramfs.cpio" -append "$GUEST_APPEND" \
		-netdev tap,id=n0,ifname="$tap",script=no,downscript=no \
		-device ne2k_pci,netdev=n0
fi

# ---- the table ----
echo
echo "NE2000 (ne2k-pci in Debian's kernel) TCP throughput to a peer on the TAP, ${kb} KiB each way"
printf '%-24s' ""
for n in "${names[@]}"; do printf ' %18s' "${n#minivmm-}"; done
echo
row() { # LABEL KEY
	printf '%-24s' "$1"
	for n in "${names[@]}"; do printf ' %18s' "${RES[$n,$2]:--}"; done
	echo
}
row "TX (guest->peer) MB/s" tx,mbs
row "RX (peer->guest) MB/s" rx,mbs
row "TX exits/MiB" tx,exits
row "RX exits/MiB" rx,exits
row "TX io/mmio/irq/hlt" tx,kinds
row "RX io/mmio/irq/hlt" rx,kinds
row "TX host CPU ms/MiB" tx,cpu
row "RX host CPU ms/MiB" rx,cpu
echo "(exits: KVM's debugfs counters for the VM; CPU: the VMM process, all threads, guest time included)"
[ $fail = 0 ] && echo "net-bench: all runs passed" || echo "net-bench: $fail runs failed"
[ $fail = 0 ]
