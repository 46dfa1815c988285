# check-ipxe (part of make check): Debian's iPXE (ipxe.iso through
# SeaBIOS, its rtl8029 driver on minivmm's RTL8029, then its virtio-net
# driver on virtio-net-pci, with a TAP) gets a DHCP lease from dnsmasq in a
# network namespace and fetches a script, a multiboot checker and a 1 MiB
# random file over TFTP; the file's bytes in guest RAM, saved through the
# monitor's pmemsave, must equal the file served
# (tests/integration/ipxe-net.sh), through the KVM test VM where this host
# has no usable /dev/kvm. IPXE_ARGS passes more settings (e.g.
# IRQCHIP=kernel, PAYLOAD_KB=4096).
# IPXE_NICS: the NICs, one boot each (ne2k: the RTL8029; virtio:
# virtio-net-pci with iPXE's virtio-net driver), in one test VM.
IPXE_NICS ?= ne2k virtio
check-ipxe: minivmm
	$(IPXE_ARGS) MINIVMM=./minivmm $(KVMRUN) -o -t 1200 -- sh -c \
		'rc=0; for n in $(IPXE_NICS); do \
		NIC=$$n WORK=$(B)/ipxe-net-$$n \
		$(SRCDIR)/tests/integration/ipxe-net.sh || rc=1; done; exit $$rc'
.PHONY: check-ipxe
