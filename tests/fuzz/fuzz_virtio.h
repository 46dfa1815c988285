/*
 * What the two virtio-pci harnesses (fuzz_virtio_blk.c, fuzz_virtio_net.c)
 * share: the wiring (MSI, per-vector sink, a notify_moved that checks its
 * arguments), BAR placement as firmware leaves it, and the AUX actions.
 */
#ifndef TESTS_FUZZ_FUZZ_VIRTIO_H
#define TESTS_FUZZ_FUZZ_VIRTIO_H

#include "hw/virtio.h"
#include "hw/virtio_pci.h"
#include "tests/fuzz/fuzz_common.h"

#define FZ_VIRTIO_SLOT 4
#define FZ_VIRTIO_BAR4 0xfebf0000u /* 16 KiB: common, ISR, device, notify */
#define FZ_VIRTIO_BAR1 0xfebe0000u /* MSI-X table and PBA */

/* Config bit 0: MSI-X offered (an msi_sink); bit 1: with the per-vector
 * sink as well. */
struct virtio_pci_wiring fz_virtio_wiring(struct fz *f);
/* BAR 4 and BAR 1, memory decode and bus mastering, INTA# to IRQ 10. */
void fz_virtio_setup(struct fz *f);
/*
 * AUX a & 3 for a device vd: 0 the ioeventfd kick path
 * (virtio_queue_kick, queue u8 % 10, nonexistent ones included), 1 the
 * VMM's virtio_reset, 2 PCI RST# then virtio_reset, 3 a configuration
 * change interrupt.
 */
void fz_virtio_aux(struct fz *f, struct virtio_dev *vd, unsigned a);

/* Each enabled queue has at most its size in flight (popped, not yet
 * returned). */
void fz_virtio_check(struct fz *f, struct virtio_dev *vd);

#endif
