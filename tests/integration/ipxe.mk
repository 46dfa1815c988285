# check-ipxe: Debian's iPXE (ipxe.iso through SeaBIOS, its rtl8029 driver
# on minivmm's RTL8029 and a TAP) gets a DHCP lease from dnsmasq in a
# network namespace and fetches a script, a multiboot checker and a 1 MiB
# random file over TFTP; the file's bytes in guest RAM, saved through the
# monitor's pmemsave, must equal the file served
# (tests/integration/ipxe-net.sh), through the KVM test VM where this host
# has no usable /dev/kvm. IPXE_ARGS passes more settings (e.g.
# IRQCHIP=kernel, PAYLOAD_KB=4096).
check-ipxe: minivmm
	$(IPXE_ARGS) MINIVMM=./minivmm WORK=$(B)/ipxe-net \
		$(SRCDIR)/tests/kvmhost/run -o -t 900 -- \
		$(SRCDIR)/tests/integration/ipxe-net.sh
.PHONY: check-ipxe
