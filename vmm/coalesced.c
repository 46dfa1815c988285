/* Coalesced port and MMIO writes; see coalesced.h. */
#include "vmm/coalesced.h"

#include <stdio.h>
#include <string.h>

void coalesced_init(struct coalesced *c, void *ring, size_t bytes,
		    const struct coalesced_ops *ops)
{
	memset(c, 0, sizeof(*c));
	if (ops)
		c->ops = *ops;
	size_t head = sizeof(struct kvm_coalesced_mmio_ring);
	if (!ring || bytes <= head + sizeof(struct kvm_coalesced_mmio))
		return;
	c->ring = ring;
	c->max = (bytes - head) / sizeof(struct kvm_coalesced_mmio);
}

bool coalesced_pending(const struct coalesced *c)
{
	if (!c->ring || c->broken)
		return false;
	return __atomic_load_n(&c->ring->last, __ATOMIC_ACQUIRE) !=
	       c->ring->first;
}

unsigned coalesced_drain(struct coalesced *c, coalesced_write_fn *fn,
			 void *opaque)
{
	if (!c->ring || c->broken)
		return 0;
	struct kvm_coalesced_mmio_ring *r = c->ring;
	uint32_t first = r->first;
	uint32_t last = __atomic_load_n(&r->last, __ATOMIC_ACQUIRE);
	if (first >= c->max || last >= c->max) {
		/* Not KVM's ring any more: stop using it rather than read
		 * outside the page. The zones' writes are lost from here on
		 * only if KVM keeps buffering them, so say so. */
		c->broken = true;
		fprintf(stderr,
			"minivmm: coalesced write ring indexes out of range "
			"(first %u, last %u, size %u); no longer drained\n",
			first, last, c->max);
		return 0;
	}
	unsigned n = 0;
	while (first != last) {
		const struct kvm_coalesced_mmio *e = &r->coalesced_mmio[first];
		uint32_t len = e->len;
		if (len != 1 && len != 2 && len != 4 && len != 8)
			c->bad++;
		else
			fn(opaque, e->pio != 0, e->phys_addr, len, e->data);
		first = (first + 1) % c->max;
		n++;
		/* Hand the slot back as soon as it is read. */
		__atomic_store_n(&r->first, first, __ATOMIC_RELEASE);
	}
	if (n) {
		c->writes += n;
		c->drains++;
	}
	return n;
}

void coalesced_zone_init(struct coalesced_zone *z, struct coalesced *c,
			 bool pio, uint64_t off, unsigned len)
{
	memset(z, 0, sizeof(*z));
	z->c = c;
	z->pio = pio;
	z->off = off;
	z->len = len;
}

void coalesced_zone_move(struct coalesced_zone *z, uint64_t base, bool mapped)
{
	struct coalesced *c = z->c;
	if (!c || !coalesced_on(c) || !c->ops.zone)
		return;
	if (z->assigned) {
		c->ops.zone(c->ops.opaque, z->addr, z->len, z->pio, false);
		z->assigned = false;
	}
	if (!mapped)
		return;
	uint64_t addr = base + z->off;
	int rc = c->ops.zone(c->ops.opaque, addr, z->len, z->pio, true);
	if (rc < 0) {
		if (!c->warned)
			fprintf(
			    stderr,
			    "minivmm: warning: coalesced %s zone at 0x%llx: "
			    "%s; those writes exit one by one\n",
			    z->pio ? "port" : "MMIO", (unsigned long long)addr,
			    strerror(-rc));
		c->warned = true;
		return;
	}
	z->assigned = true;
	z->addr = addr;
}
