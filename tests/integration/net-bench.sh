#!/bin/bash
# Network throughput from a stock Linux guest, the emulated NE2000 against
# virtio-net: Debian's kernel with its own driver (ne2k-pci, or virtio_pci
# and virtio_net; one initramfs per NIC) sends PAYLOAD_KB to a peer over TCP
# (busybox nc) and then receives as much, on minivmm's NIC (-net
# nic,model=ne2k_pci or model=virtio-net-pci, in each configuration) and,
# where qemu-system-x86_64 is installed, on QEMU-KVM's (-device ne2k_pci or
# virtio-net-pci on -netdev tap; no vhost, QEMU's default, so its virtio-net
# runs in QEMU's user space, with ioeventfd on as QEMU's virtio-pci does by
# default), with the same kernel, initramfs and TAP, one after the other in
# the same run. The peer lives in a network namespace made here
# (10.199.3.1/24 on a tap; the guest is 10.199.3.2), removed at the end.
#
# A row per NIC and configuration gives, per direction, MB/s (the guest's
# clock from the first byte to the last) and its ratio to QEMU's figure on
# the same NIC, KVM exits per MiB (the VM's "exits" in KVM's debugfs
# statistics, the same counter for both VMMs) and host CPU per MiB (user +
# system time of the whole VMM process, all threads, guest time included);
# a second table splits the exits by kind. The peer samples both when the
# guest tells it a transfer starts and ends (a connection to port 5004).
# Payload bytes are checked (SHA-256) both ways: a wrong byte fails the run.
# With REPS > 1 each boot repeats the pair of transfers REPS times; MB/s is
# the median (the TSV also has min and max), exits and CPU per MiB are
# over all REPS transfers of that direction.
# Needs root and a /dev/kvm (run it through tests/kvmhost/run -o).
#
#   tests/integration/net-bench.sh
# Environment:
#   NICS     the NICs, "ne2k virtio" by default (ne2k: the PCI RTL8029;
#            virtio: virtio-net-pci, whose TAP minivmm opens with a virtio
#            net header)
#   CONFIGS  minivmm configurations, irqchip:ioreq[:OPT,...], every OPT
#            appended to -machine (kernel:dm:ioeventfd=on runs -machine
#            irqchip=kernel,ioreq=dm,ioeventfd=on); default "user:dm
#            kernel:dm". A configuration that names ioeventfd or irqfd runs
#            on virtio only (both act on virtio queues and MSI-X vectors only).
#   MINIVMM (./minivmm), QEMU (qemu-system-x86_64; none skips it),
#   PAYLOAD_KB (16384), REPS (1), TIMEOUT seconds per boot (900), MEM
#   (256), WORK (build/net-bench), EXTRA_ARGS (more minivmm options),
#   TSV (a file for a machine-readable line per NIC, configuration and
#   direction, tab-separated: net NIC CONFIG tx|rx - REPS - - - MB/s-median
#   MB/s-min MB/s-max exits/MiB CPU-ms/MiB; the same columns as
#   ide-linux-bench.sh's, read by tests/integration/bench-guest.sh).
set -u

src=$(cd "$(dirname "$0")/../.." && pwd)
name=net-bench
. "$src/tests/integration/guestlib.sh"
minivmm=$(realpath "${MINIVMM:-./minivmm}")
nics=${NICS:-ne2k virtio}
configs=${CONFIGS:-"user:dm kernel:dm"}
qemu=${QEMU:-qemu-system-x86_64}
kb=${PAYLOAD_KB:-16384}
reps=${REPS:-1}
tsv=${TSV:-}
timeout=${TIMEOUT:-900}
mem=${MEM:-256}
work=${WORK:-build/net-bench}
tap=mvtap2
host_ip=10.199.3.1
guest_ip=10.199.3.2

for nic in $nics; do
	case $nic in
	ne2k | virtio) ;;
	*)
		echo "net-bench: NICS: ne2k or virtio, not '$nic'" >&2
		exit 2
		;;
	esac
done
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
case $reps in '' | *[!0-9]* | 0) echo "net-bench: REPS: a count, not '$reps'" >&2; exit 2 ;; esac
mkdir -p "$work"
work=$(realpath "$work")
if [ -n "$tsv" ]; then
	: >"$tsv" || exit 1
	tsv=$(realpath "$tsv")
fi
trap guest_netns_del EXIT
mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug

# nic_setup NIC: sets kmods (Debian's driver), drv (its name in
# /proc/interrupts besides eth0), mnic (minivmm's -net nic model) and qnic
# (QEMU's -device).
nic_setup() {
	case $1 in
	ne2k) kmods=ne2k-pci drv=ne2k mnic=ne2k_pci qnic=ne2k_pci ;;
	virtio)
		kmods="virtio_pci virtio_net" drv=virtio
		mnic=virtio-net-pci qnic=virtio-net-pci
		;;
	esac
}

# ---- the guest ----
# bench_init: the guest's /init for the NIC of nic_setup, on stdout.
bench_init() {
	guest_net_init "NETBENCH" "$guest_ip/24"
	cat <<EOF
# Wait for the peer (ARP and its listeners), at most 60 tries.
i=0
until nc $host_ip 5004 </dev/null >/dev/null 2>&1; do
	i=\$((i + 1))
	[ \$i -ge 60 ] && { say "FAIL no peer"; reboot -f; }
	sleep 1
done
# Each repetition: upload, marker, download, marker (the peer samples
# the VMM at each marker connection).
r=1
while [ \$r -le $reps ]; do
	t0=\$(up)
	timeout 900 nc $host_ip 5001 </payload >/dev/null
	rc=\$?
	t1=\$(up)
	nc $host_ip 5004 </dev/null >/dev/null 2>&1
	sleep 1 # the peer samples before the next transfer
	say "tx \$r rc \$rc secs \$(echo \$t0 \$t1 | awk '{print \$2 - \$1}')"
	t0=\$(up)
	timeout 900 nc $host_ip 5002 </dev/null >/tmp/dl
	rc=\$?
	t1=\$(up)
	nc $host_ip 5004 </dev/null >/dev/null 2>&1
	sleep 1 # the peer samples before the next transfer or the reboot
	say "rx \$r rc \$rc secs \$(echo \$t0 \$t1 | awk '{print \$2 - \$1}')"
	if [ "\$(sha256sum /tmp/dl | cut -d' ' -f1)" = $sum ]; then say "rx \$r sum ok"; else say "FAIL rx \$r sum (\$(wc -c </tmp/dl) bytes)"; fi
	r=\$((r + 1))
done
grep -E 'eth0|$drv' /proc/interrupts | sed 's/^ */NETBENCH irq /'
# frames the NIC sent against the TCP segments: fewer frames than
# segments means the guest handed the NIC TSO/GSO frames
say "dev \$(grep eth0 /proc/net/dev | tr -s ' ')"
say "tcp \$(awk '/^Tcp:/ { if (h) print; h = 1 }' /proc/net/snmp | tr -s ' ')"
say END
reboot -f
EOF
}

# One payload for every NIC's initramfs (the peer checks against it).
sum=
for nic in $nics; do
	nic_setup "$nic"
	root=$work/root-$nic
	guest_root "$root" $kmods
	if [ -z "$sum" ]; then
		guest_payload "$root" "$kb"
	else
		cp "$work/payload" "$root/payload" || exit 1
	fi
	bench_init >"$root/init"
	chmod +x "$root/init"
	guest_cpio "$root" "$work/initramfs-$nic.cpio"
done

guest_netns "mvmbench$$" "$tap" "$host_ip/24"

# snap LOG: the VMM's CPU time (clock ticks) and KVM exit counters now.
snap() {
	local pid d cpu= st f x line
	# The VMM's process: the one VM running now has a KVM debugfs
	# directory named PID-FD. Shell builtins only, to sample soon after
	# the marker.
	for d in /sys/kernel/debug/kvm/[0-9]*-*; do break; done
	pid=${d##*/}
	pid=${pid%%-*}
	# utime + stime (fields 14 and 15; the VMM's name has no spaces)
	read -ra st <"/proc/$pid/stat" 2>/dev/null && cpu=$((st[13] + st[14]))
	line=$cpu
	for f in exits io_exits mmio_exits irq_exits halt_exits; do
		read -r x <"$d/$f" 2>/dev/null || break
		line="$line $x"
	done
	echo "$line" >>"$1"
}

# peer LOG: serves one boot: the marker port (1 + 2 REPS samples), the
# sink (LOG.up.N for repetition N), the source, each REPS times.
peer() {
	local log=$1 i p1 p2
	(
		for i in $(seq "$reps"); do
			nsx timeout "$timeout" "$bb" nc -l -p 5001 -e "$bb" sh -c \
				"exec $bb cat >$log.up.$i" </dev/null || break
		done
	) &
	p1=$!
	(
		for i in $(seq "$reps"); do
			nsx timeout "$timeout" "$bb" nc -l -p 5002 -e "$bb" cat \
				"$work/payload" </dev/null || break
		done
	) &
	p2=$!
	# run kills this subshell when the boot ends: the loops go with it,
	# so they start no listener for the next boot (run sweeps the
	# namespace after).
	trap "kill $p1 $p2 2>/dev/null; exit" TERM
	for i in $(seq $((1 + 2 * reps))); do
		nsx timeout "$timeout" "$bb" nc -l -p 5004 </dev/null >/dev/null ||
			break
		snap "$log.snap"
	done
	wait
}

declare -A RES
names=()
fail=0
# run NIC CONFIG COMMAND...: one boot, its figures into RES[NIC CONFIG,..];
# its files are $work/NIC-CONFIG.*.
run() {
	local name="$1 $2" log=$work/$1-${2//[:,]/-} rc t0
	shift 2
	rm -f "$log".*
	peer "$log" &
	local ppid=$!
	t0=$SECONDS
	nsx timeout -k 10 "$timeout" "$@" </dev/null >"$log.console" 2>"$log.stderr"
	rc=$?
	kill $ppid 2>/dev/null
	ip netns pids "$GUEST_NS" | xargs -r kill 2>/dev/null
	wait $ppid 2>/dev/null
	ip netns pids "$GUEST_NS" | xargs -r kill 2>/dev/null
	names+=("$name")
	echo "$name: exit status $rc after $((SECONDS - t0)) s ($log.console)"
	tr -d '\r' <"$log.console" | grep -a '^NETBENCH ' | sed 's/^/  /'
	local ok=1
	tr -d '\r' <"$log.console" | grep -aq '^NETBENCH END' || ok=
	tr -d '\r' <"$log.console" | grep -aq '^NETBENCH FAIL' && ok=
	local r
	for r in $(seq "$reps"); do
		[ "$(sha256sum <"$log.up.$r" 2>/dev/null | cut -d' ' -f1)" = "$sum" ] || {
			echo "  FAIL: upload $r: the peer received $(stat -c %s "$log.up.$r" 2>/dev/null || echo no) bytes, not the payload"
			ok=
		}
	done
	[ "$(wc -l <"$log.snap" 2>/dev/null)" = $((1 + 2 * reps)) ] || {
		echo "  FAIL: $(wc -l <"$log.snap" 2>/dev/null || echo 0) samples, not $((1 + 2 * reps))"
		ok=
	}
	if [ -z "$ok" ]; then
		fail=$((fail + 1))
		tail -n 12 "$log.console" | sed 's/^/  | /'
		tail -n 4 "$log.stderr" | sed 's/^/  | /'
		return
	fi
	grep -E '^  net0' "$log.stderr"
	local hz
	hz=$(getconf CLK_TCK)
	# Per direction: MB/s (median of the repetitions, and min and max),
	# exits per MiB, CPU ms per MiB, and the exits by kind (io, mmio, irq,
	# hlt) per MiB, these over all repetitions. Samples: 1 at the start,
	# then per repetition r 2r (after its upload) and 2r + 1 (after its
	# download): the upload of r is 2r-1 -> 2r, its download 2r -> 2r+1.
	local dir secs mn mx
	for dir in tx rx; do
		secs=$(tr -d '\r' <"$log.console" |
			sed -n "s/^NETBENCH $dir [0-9]* rc 0 secs //p" | tr '\n' ' ')
		read -r "RES[$name,$dir,mbs]" mn mx "RES[$name,$dir,exits]" \
			"RES[$name,$dir,cpu]" "RES[$name,$dir,kinds]" < <(awk \
			-v d=$dir -v secs="$secs" -v kb="$kb" -v hz="$hz" '
			{ for (i = 1; i <= NF; i++) v[NR, i] = $i }
			END {
				m = split(secs, t, " ")
				for (i = 2; i <= m; i++)
					for (j = i; j > 1 && t[j-1] > t[j]; j--) {
						x = t[j]; t[j] = t[j-1]; t[j-1] = x }
				med = (m % 2) ? t[(m + 1) / 2] : (t[m / 2] + t[m / 2 + 1]) / 2
				# a sample without the counters (the VM already
				# gone): "-" for what needs it
				for (c = 1; c <= 6; c++) { s[c] = 0; ok[c] = 1 }
				for (r = 1; r <= m; r++) {
					a = d == "tx" ? 2 * r - 1 : 2 * r
					for (c = 1; c <= 6; c++) {
						if (v[a + 1, c] == "" || v[a, c] == "") ok[c] = 0
						s[c] += v[a + 1, c] - v[a, c]
					}
				}
				mib = m * kb / 1024
				if (mib <= 0) mib = 1
				ex = ok[2] ? sprintf("%.0f", s[2] / mib) : "-"
				cpu = ok[1] ? sprintf("%.1f", s[1] * 1000 / hz / mib) : "-"
				kinds = ok[3] && ok[4] && ok[5] && ok[6] ? sprintf("%.0f/%.0f/%.0f/%.0f",
					s[3] / mib, s[4] / mib, s[5] / mib, s[6] / mib) : "-"
				printf "%.2f %.2f %.2f %s %s %s\n",
					(med > 0 ? kb * 1024 / med / 1e6 : 0),
					(t[m] > 0 ? kb * 1024 / t[m] / 1e6 : 0),
					(t[1] > 0 ? kb * 1024 / t[1] / 1e6 : 0),
					ex, cpu, kinds
			}' "$log.snap")
		[ -n "$tsv" ] && printf 'net\t%s\t%s\t%s\t-\t%s\t-\t-\t-\t%s\t%s\t%s\t%s\t%s\n' \
			"${name%% *}" "${name#* }" "$dir" "$reps" "${RES[$name,$dir,mbs]}" \
			"$mn" "$mx" "${RES[$name,$dir,exits]}" "${RES[$name,$dir,cpu]}" >>"$tsv"
	done
}

for nic in $nics; do
	nic_setup "$nic"
	for cfg in $configs; do
		case $nic:$cfg in
		ne2k:*ioeventfd* | ne2k:*irqfd*)
			echo "ne2k $cfg: skipped (ioeventfd and irqfd act on virtio only)"
			continue
			;;
		esac
		run "$nic" "$cfg" "$minivmm" -kernel "$linux/vmlinuz" \
			-initrd "$work/initramfs-$nic.cpio" -append "$GUEST_APPEND" \
			-m "$mem" -machine "$(guest_machine "$cfg")" -nographic \
			-no-reboot -stats -net nic,model="$mnic" \
			-net tap,ifname="$tap",script=no,downscript=no ${EXTRA_ARGS:-}
	done
	if [ "$qemu" != none ]; then
		run "$nic" qemu "$qemu" -accel kvm -cpu host -m "$mem" -nodefaults \
			-display none -serial stdio -no-reboot -kernel "$linux/vmlinuz" \
			-initrd "$work/initramfs-$nic.cpio" -append "$GUEST_APPEND" \
			-netdev tap,id=n0,ifname="$tap",script=no,downscript=no \
			-device "$qnic,netdev=n0"
	fi
done

# ---- the tables: a row per NIC and configuration ----
# ratio NAME DIR: NAME's MB/s over QEMU's on the same NIC, or -.
ratio() {
	awk -v a="${RES[$1,$2,mbs]:-0}" -v b="${RES[${1%% *} qemu,$2,mbs]:-0}" \
		'BEGIN { if (a > 0 && b > 0) printf "%.2f\n", a / b; else print "-" }'
}
w=6 # the config column's width
for n in "${names[@]}"; do
	c=${n#* }
	[ ${#c} -gt $w ] && w=${#c}
done
fmt="%-6s %-${w}s %8s %6s %8s %6s %13s %13s %14s %14s\n"
echo
echo "TCP throughput to a peer on the TAP, ${kb} KiB each way (TX: guest->peer, RX: peer->guest), median of $reps; /QEMU: MB/s over QEMU-KVM's on the same NIC"
printf "$fmt" nic config "TX MB/s" /QEMU "RX MB/s" /QEMU "TX exits/MiB" \
	"RX exits/MiB" "TX CPU ms/MiB" "RX CPU ms/MiB"
for n in "${names[@]}"; do
	tq='' rq=''
	if [ "$qemu" != none ] && [ "${n#* }" != qemu ]; then
		tq=$(ratio "$n" tx) rq=$(ratio "$n" rx)
	fi
	printf "$fmt" "${n%% *}" "${n#* }" "${RES[$n,tx,mbs]:--}" "$tq" \
		"${RES[$n,rx,mbs]:--}" "$rq" "${RES[$n,tx,exits]:--}" \
		"${RES[$n,rx,exits]:--}" "${RES[$n,tx,cpu]:--}" "${RES[$n,rx,cpu]:--}"
done
echo
echo "KVM exits per MiB by kind: io/mmio/irq/hlt"
printf "%-6s %-${w}s %24s %24s\n" nic config TX RX
for n in "${names[@]}"; do
	printf "%-6s %-${w}s %24s %24s\n" "${n%% *}" "${n#* }" \
		"${RES[$n,tx,kinds]:--}" "${RES[$n,rx,kinds]:--}"
done
echo "(exits: KVM's debugfs counters for the VM; CPU: the VMM process, all threads, guest time included)"
[ $fail = 0 ] && echo "net-bench: all runs passed" || echo "net-bench: $fail runs failed"
[ $fail = 0 ]
