# check-net (part of make check): a stock Debian kernel with Debian's
# ne2k-pci on minivmm's RTL8029, then with virtio_net on virtio-net-pci,
# and a TAP exchanges pings and TCP payloads with a peer in a network
# namespace, under irqchip=user and irqchip=kernel
# (tests/integration/net-linux.sh), through the KVM test VM where this host
# has no usable /dev/kvm. NET_MODES picks the irqchip modes, NET_ARGS passes
# more settings (e.g. EXTRA_ARGS=-machine\ ioeventfd=on).
# NET_RUNS: NIC:KIB runs in one test VM, each in every NET_MODES mode:
# 16 MiB each way on both NICs (the NE2000's upload took 8 minutes before
# its data port writes were coalesced, under 3 after).
NET_MODES ?= user kernel
NET_RUNS ?= ne2k:16384 virtio:16384
check-net: minivmm
	@$(MAKE) --no-print-directory linux-image >/dev/null
	$(NET_ARGS) MINIVMM=./minivmm $(KVMRUN) -o -t 1500 -- sh -c \
		'rc=0; for r in $(NET_RUNS); do \
		NIC=$${r%%:*} PAYLOAD_KB=$${r#*:} WORK=$(B)/net-linux-$${r%%:*} \
		$(SRCDIR)/tests/integration/net-linux.sh $(NET_MODES) || rc=1; \
		done; exit $$rc'
.PHONY: check-net

# bench-net: TCP throughput, KVM exits and host CPU per MiB each way from a
# stock Debian kernel's ne2k-pci on minivmm's RTL8029 and its virtio_net on
# virtio-net-pci (each CONFIGS entry, irqchip:ioreq[:opts]), and on
# QEMU-KVM's ne2k_pci and virtio-net-pci (no vhost) in the same run
# (tests/integration/net-bench.sh), through the KVM test VM where this host
# has no usable /dev/kvm. NET_BENCH_ARGS passes settings, e.g.
# NET_BENCH_ARGS='NICS=virtio CONFIGS="kernel:dm kernel:dm:ioeventfd=on"'
# or NET_BENCH_ARGS='PAYLOAD_KB=4096 QEMU=none'.
bench-net: minivmm
	@$(MAKE) --no-print-directory linux-image >/dev/null
	$(NET_BENCH_ARGS) MINIVMM=./minivmm WORK=$(B)/net-bench \
		$(SRCDIR)/tests/kvmhost/run -o -t 3600 -- \
		$(SRCDIR)/tests/integration/net-bench.sh
.PHONY: bench-net
