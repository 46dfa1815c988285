# check-net: a stock Debian kernel with Debian's ne2k-pci on minivmm's
# RTL8029 and a TAP exchanges pings and TCP payloads with a peer in a
# network namespace, under irqchip=user and irqchip=kernel
# (tests/integration/net-linux.sh), through the KVM test VM where this host
# has no usable /dev/kvm. NET_MODES picks the irqchip modes, NET_ARGS passes
# more settings (e.g. PAYLOAD_KB=16384).
NET_MODES ?= user kernel
check-net: minivmm
	@$(MAKE) --no-print-directory linux-image >/dev/null
	$(NET_ARGS) MINIVMM=./minivmm \
		$(SRCDIR)/tests/kvmhost/run -o -t 900 -- \
		$(SRCDIR)/tests/integration/net-linux.sh $(NET_MODES)
.PHONY: check-net
