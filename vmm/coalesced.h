/*
 * Coalesced port and MMIO writes (KVM_CAP_COALESCED_MMIO/_PIO; QEMU's
 * memory_region_add_coalescing, Xen's buffered ioreq page). A guest write
 * inside a registered zone does not leave KVM_RUN: the kernel appends
 * {address, length, data} to a ring page shared with user space and the
 * vCPU goes on. Reads in the zone still exit, and so does a write when the
 * ring is full.
 *
 * The vCPU thread drains the ring, in order and under the device lock,
 * after every return from KVM_RUN and before it handles that exit, so a
 * device sees the buffered writes before any later access: the order the
 * guest issued them in is kept. Only registers whose writes have no reply
 * and whose effects the guest can only observe through a later exit are
 * zoned: the NE2000's remote-DMA data port (a frame sent by `rep outsw`
 * is one exit per word otherwise; KVM batches string reads but not
 * string writes), the IDE taskfile registers 0x1F1-0x1F6/0x171-0x176
 * (not the command register or the data port) and the RTC's index port
 * (as QEMU does). The zones are set up in vmm/machine.c.
 *
 * The ring layout is KVM's: struct kvm_coalesced_mmio_ring, `first`
 * written by user space, `last` by the kernel, entries in between.
 */
#ifndef MINIVMM_VMM_COALESCED_H
#define MINIVMM_VMM_COALESCED_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* KVM_(UN)REGISTER_COALESCED_MMIO: coalesced_zone_ioctl() in vmm/kvm.c;
 * tests fake it. 0 or a negative errno. */
struct coalesced_ops {
	int (*zone)(void *opaque, uint64_t addr, unsigned len, bool pio,
		    bool assign);
	void *opaque;
};

struct coalesced {
	struct kvm_coalesced_mmio_ring *ring; /* NULL: coalescing is off */
	unsigned max;			      /* entries the ring holds */
	struct coalesced_ops ops;
	uint64_t writes; /* entries replayed */
	uint64_t drains; /* drains that found entries */
	uint64_t bad;	 /* entries skipped: length not 1, 2, 4 or 8 */
	bool broken;	 /* the kernel's index was out of range */
	bool warned;
};

/* One buffered write: replayed through the device buses. */
typedef void coalesced_write_fn(void *opaque, bool pio, uint64_t addr,
				unsigned len, const uint8_t *data);

/* Coalescing through ring (bytes long, one page as mapped from the vCPU
 * fd), or off when ring is NULL. */
void coalesced_init(struct coalesced *c, void *ring, size_t bytes,
		    const struct coalesced_ops *ops);
static inline bool coalesced_on(const struct coalesced *c)
{
	return c->ring != NULL;
}
/* Entries wait in the ring (a cheap look, no lock). */
bool coalesced_pending(const struct coalesced *c);
/* Replays every waiting entry through fn, oldest first; returns how many.
 * The caller holds the device lock. */
unsigned coalesced_drain(struct coalesced *c, coalesced_write_fn *fn,
			 void *opaque);

/* A zone at a fixed offset inside a range that may move (a PCI BAR). */
struct coalesced_zone {
	struct coalesced *c;
	uint64_t off;
	unsigned len;
	bool pio;
	bool assigned; /* KVM has [addr, addr + len) */
	uint64_t addr;
};

void coalesced_zone_init(struct coalesced_zone *z, struct coalesced *c,
			 bool pio, uint64_t off, unsigned len);
/* The range now starts at base (mapped) or is gone: the old registration
 * goes, the new one comes. A refusal is said once on stderr and only costs
 * speed (the writes exit as before). Callable with coalescing off. */
void coalesced_zone_move(struct coalesced_zone *z, uint64_t base, bool mapped);

#endif
