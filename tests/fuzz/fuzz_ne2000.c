/*
 * libFuzzer harness for the NE2000 (DP8390 core, remote DMA, receive ring,
 * PROM): either face, frames arriving from a fake network backend and the
 * guest's transmissions counted by it. Encoding: tests/fuzz/fuzz_common.h.
 *
 * Config byte: bit 0 the PCI face (RTL8029, slot 3, BAR 0 at 0xC100 with
 * I/O decode on, INTA# routed to IRQ 11) instead of ISA at 0x300 IRQ 9;
 * bit 1 no backend (an unplugged cable).
 * BACKEND: one frame (fz_frame, up to 1600 bytes),
 * its destination replaced by the station address (a & 3 == 1), the
 * broadcast address (2), or kept (0, 3); with a & 4 offered only when
 * can_receive says yes, as the TAP backend does, otherwise always (the
 * NIC must then count an overflow).
 * AUX: ne2000_reset (power-on reset).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hw/ne2000.h"
#include "tests/fuzz/fuzz_common.h"

#define NE_SLOT	  3
#define NE_IOBAR  0xc100
#define PIIX3_FN0 (1 << 3)

static const uint8_t mac[NET_ETH_ALEN] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

static void backend(struct fz *f, unsigned a)
{
	static uint8_t frame[1600];
	struct ne2000 *nic = f->dev;
	size_t len = fz_frame(f, frame, sizeof(frame));
	if ((a & 3) == 1)
		memcpy(frame, mac, NET_ETH_ALEN);
	else if ((a & 3) == 2)
		memset(frame, 0xff, NET_ETH_ALEN);
	if ((a & 4) && !ne2000_can_receive(nic))
		return;
	f->sink += ne2000_receive(nic, frame, len);
}

static void aux(struct fz *f, unsigned a)
{
	(void)a;
	ne2000_reset(f->dev);
}

static const struct fz_ops ops = {.backend = backend, .aux = aux};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f;
	struct fz_net net = {0};
	bool pci = data && size && (data[0] & 1);
	fz_init(&f, data, size, pci);
	struct net_backend be = {f.config & 2 ? NULL : &fz_net_ops, &net};
	struct ne2000 *nic = ne2000_new(mac, be);
	if (!nic)
		abort();
	if (pci) {
		if (!ne2000_attach_pci(nic, f.pb, NE_SLOT))
			abort();
		fz_setup_bar(&f, NE_SLOT << 3, 0, NE_IOBAR, PCI_CMD_IO);
		fz_cfg_write(&f, PIIX3_FN0, PIIX3_PIRQRC + 2, 1, 11);
	} else if (ne2000_attach_isa(nic, &f.io, NE2000_ISA_BASE, &f.irq,
				     NE2000_ISA_IRQ)) {
		abort();
	}

	fz_run(&f, &ops, nic);

	if (getenv("FZ_DEBUG")) {
		const struct ne2000_stats *st = ne2000_stats(nic);
		fprintf(stderr,
			"ne2000: tx %llu (errors %llu) rx %llu filtered %llu "
			"dropped %llu overflows %llu\n",
			(unsigned long long)st->tx_frames,
			(unsigned long long)st->tx_errors,
			(unsigned long long)st->rx_frames,
			(unsigned long long)st->rx_filtered,
			(unsigned long long)st->rx_dropped,
			(unsigned long long)st->rx_overflows);
	}
	if (f.pb)
		pci_bus_free(f.pb); /* unmaps BAR 0 before the NIC goes */
	f.pb = NULL;
	ne2000_free(nic);
	fz_fini(&f);
	return 0;
}
