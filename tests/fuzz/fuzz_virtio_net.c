/*
 * libFuzzer harness for virtio-net over virtio-pci: receive and transmit
 * queues in guest RAM, frames arriving from a fake backend (with or
 * without the vnet header, offloads negotiated or refused), transmissions
 * gathered by the backend. Encoding: tests/fuzz/fuzz_common.h; BAR
 * addresses: tests/fuzz/fuzz_virtio.h.
 *
 * Config byte: bits 0-1 MSI-X wiring (fuzz_virtio.h), bit 2 backend in
 * vnet header mode, bit 3 it offers every offload (with bit 2), bit 4
 * link down, bit 5 the backend refuses set_offload, bit 6 no backend.
 * BACKEND: one frame (fz_frame), 61440 bytes longer with a & 8 (up to
 * 64 KiB + header, oversized ones included); with a & 4 offered only when
 * can_receive says yes (as the TAP backend does), else always.
 * AUX a & 7: 0-3 fz_virtio_aux, 4-7 link up/down (a & 1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hw/virtio_net.h"
#include "tests/fuzz/fuzz_virtio.h"

static void backend(struct fz *f, unsigned a)
{
	static uint8_t frame[NET_VNET_HDR_LEN + NET_MAX_GSO_FRAME + 16];
	struct virtio_net *vn = f->dev;
	size_t len = fz_frame(f, frame, sizeof(frame));
	if (a & 8) { /* reach the GSO limit: up to 64 KiB + 16 more zeros */
		size_t more = sizeof(frame) - len < 65536 - 4096
				  ? sizeof(frame) - len
				  : 65536 - 4096;
		memset(frame + len, 0, more);
		len += more;
	}
	if ((a & 4) && !virtio_net_can_receive(vn))
		return;
	f->sink += virtio_net_receive(vn, frame, len);
}

static void aux(struct fz *f, unsigned a)
{
	struct virtio_net *vn = f->dev;
	if (a & 4)
		virtio_net_set_link(vn, a & 1);
	else
		fz_virtio_aux(f, virtio_net_dev(vn), a);
}

static void check(struct fz *f)
{
	fz_virtio_check(f, virtio_net_dev(f->dev));
}

static const struct fz_ops ops = {
    .backend = backend, .aux = aux, .check = check};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f;
	struct fz_net net = {0};
	fz_init(&f, data, size, true);
	struct virtio_net_opts o = {
	    .mac = {0x52, 0x54, 0x00, 0x12, 0x34, 0x57},
	    .vnet_hdr = f.config & 4,
	    .offloads = (f.config & 12) == 12
			    ? NET_OFFLOAD_CSUM | NET_OFFLOAD_TSO4 |
				  NET_OFFLOAD_TSO6 | NET_OFFLOAD_ECN
			    : 0,
	    .link_up = !(f.config & 16)};
	net.refuse_offload = f.config & 32;
	struct net_backend be = {f.config & 64 ? NULL : &fz_net_ops, &net};
	struct virtio_net *vn = virtio_net_new(&o, be, &f.gm);
	struct virtio_pci_wiring w = fz_virtio_wiring(&f);
	if (!vn || !virtio_net_attach_pci(vn, f.pb, FZ_VIRTIO_SLOT, &w))
		abort();
	fz_virtio_setup(&f);

	fz_run(&f, &ops, vn);

	if (getenv("FZ_DEBUG")) {
		const struct virtio_net_stats *st = virtio_net_stats(vn);
		fprintf(stderr,
			"virtio-net: status %#x tx %llu (dropped %llu) rx %llu "
			"(dropped %llu) backend sent %llu msis %llu\n",
			(unsigned)virtio_net_dev(vn)->status,
			(unsigned long long)st->tx_frames,
			(unsigned long long)st->tx_dropped,
			(unsigned long long)st->rx_frames,
			(unsigned long long)st->rx_dropped,
			(unsigned long long)net.sent,
			(unsigned long long)f.msis);
	}
	virtio_net_free(vn);
	fz_fini(&f);
	return 0;
}
