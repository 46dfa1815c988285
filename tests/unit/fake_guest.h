/*
 * The guest's side for device tests: RAM in a guest_mem, a virtio driver
 * laying out split virtqueues (spec 2.7) and taking used entries back as
 * Linux's virtio_ring does, the virtio-pci modern probe through BAR 4
 * (spec 4.1.4) as Linux's virtio_pci_modern does it, and a fixed random
 * sequence for tests that feed garbage.
 */
#ifndef TESTS_UNIT_FAKE_GUEST_H
#define TESTS_UNIT_FAKE_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ioreq/bus.h"
#include "ioreq/guestmem.h"

/* size zeroed bytes at gpa in gm, read-only to DMA when rom; the caller
 * frees them. */
uint8_t *fake_ram_add(struct guest_mem *gm, uint64_t gpa, size_t size,
		      bool rom);

/* Descriptor i of the table at gpa table. */
void vring_put_desc(uint8_t *ram, uint64_t table, unsigned i, uint64_t addr,
		    uint32_t len, uint16_t flags, uint16_t next);

/* The driver's view of one split virtqueue in guest RAM. */
struct vring_drv {
	uint8_t *ram;
	uint64_t desc, avail, used; /* where its three parts are */
	uint16_t size;
	uint16_t avail_idx; /* the driver's avail->idx */
	uint16_t used_seen; /* used entries taken back */
};

/* A fresh queue: rings zeroed, nothing made available or taken back. */
void vring_init(struct vring_drv *q, uint8_t *ram, uint16_t size, uint64_t desc,
		uint64_t avail, uint64_t used);
/* Makes head available: the ring entry, then avail->idx. */
void vring_add(struct vring_drv *q, uint16_t head);

/* One buffer of a chain. */
struct vring_buf {
	uint64_t addr;
	uint32_t len;
	bool write;
};

/* The chain b[0..n) at descriptors head, head + 1, ... (modulo the queue
 * size), or with table set in an indirect table there pointed to by
 * descriptor head; made available, not kicked. */
void vring_post(struct vring_drv *q, uint16_t head, const struct vring_buf *b,
		unsigned n, uint64_t table);
uint16_t vring_used_idx(const struct vring_drv *q);
/* The next used element; false if the device has not given one back. */
bool vring_take_used(struct vring_drv *q, uint32_t *id, uint32_t *len);
/* With VIRTIO_F_EVENT_IDX: where the driver's used_event and the
 * device's avail_event are. */
uint64_t vring_used_event(const struct vring_drv *q);
uint64_t vring_avail_event(const struct vring_drv *q);

/* The driver's view of a virtio-pci function whose BAR 4 is at bar. */
struct vp_drv {
	struct bus *mmio;
	uint64_t bar;
};

/* off is an offset in BAR 4 (common config, ISR, device config, notify). */
uint64_t vp_rd(const struct vp_drv *d, unsigned off, unsigned size);
void vp_wr(const struct vp_drv *d, unsigned off, unsigned size, uint64_t v);
uint8_t vp_status(const struct vp_drv *d);
uint64_t vp_offered(const struct vp_drv *d);
/* Reset, ACKNOWLEDGE, DRIVER, the features, FEATURES_OK (spec 3.1.1);
 * returns the status read back, 0x0b if the device took the features. */
uint8_t vp_negotiate(const struct vp_drv *d, uint64_t features);
/* Queue q of q->size entries at q's rings, enabled. */
void vp_queue(const struct vp_drv *d, unsigned q, const struct vring_drv *vq);
void vp_driver_ok(const struct vp_drv *d);
void vp_kick(const struct vp_drv *d, unsigned q);

/* xorshift32: a fixed seed gives the same sequence on every host. */
uint32_t xorshift32(uint32_t *state);

#endif
