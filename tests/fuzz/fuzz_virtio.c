/* Shared setup of the virtio-pci harnesses; see fuzz_virtio.h. */
#include <stdio.h>
#include <stdlib.h>

#include "tests/fuzz/fuzz_virtio.h"

#define PIIX3_FN0 (1 << 3)

static void notify_moved(void *opaque, unsigned q, uint64_t gpa, unsigned len,
			 bool mapped)
{
	struct fz *f = opaque;
	if (q >= VIRTIO_MAX_QUEUES || !len || gpa + len > 1ull << 32) {
		fprintf(stderr, "fuzz: notify_moved q %u gpa %#llx len %u\n", q,
			(unsigned long long)gpa, len);
		abort();
	}
	f->sink += mapped;
}

struct virtio_pci_wiring fz_virtio_wiring(struct fz *f)
{
	struct virtio_pci_wiring w = {.notify_moved = notify_moved,
				      .opaque = f};
	if (f->config & 1)
		w.msi = fz_msi(f);
	if ((f->config & 3) == 3)
		w.vectors = fz_msix_vectors(f);
	return w;
}

void fz_virtio_setup(struct fz *f)
{
	unsigned devfn = FZ_VIRTIO_SLOT << 3;
	fz_cfg_write(f, devfn, PCI_BAR0 + 4 * VIRTIO_PCI_MSIX_BAR, 4,
		     FZ_VIRTIO_BAR1);
	fz_setup_bar(f, devfn, VIRTIO_PCI_BAR, FZ_VIRTIO_BAR4,
		     PCI_CMD_MEMORY | PCI_CMD_MASTER);
	/* Slot 4 INTA# is PIRQD. */
	fz_cfg_write(f, PIIX3_FN0, PIIX3_PIRQRC + 3, 1, 10);
}

void fz_virtio_check(struct fz *f, struct virtio_dev *vd)
{
	(void)f;
	for (unsigned q = 0; q < vd->nqueues; q++) {
		const struct virtq *vq = &vd->vq[q];
		uint16_t inflight = vq->last_avail - vq->used_idx;
		if (vq->enabled && inflight > vq->size)
			fz_fail("queue %u: %u in flight, size %u", q, inflight,
				vq->size);
	}
}

void fz_virtio_aux(struct fz *f, struct virtio_dev *vd, unsigned a)
{
	switch (a & 3) {
	case 0:
		virtio_queue_kick(vd, fz_u8(f) % 10);
		break;
	case 1:
		virtio_reset(vd);
		break;
	case 2:
		pci_bus_reset(f->pb);
		virtio_reset(vd);
		break;
	default:
		virtio_config_changed(vd);
		break;
	}
}
