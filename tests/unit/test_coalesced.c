/* vmm/coalesced.c: draining KVM's coalesced-write ring (a fake ring page
 * laid out as struct kvm_coalesced_mmio_ring) and zones that follow a BAR. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/coalesced.h"

#define PAGE 4096

struct seen {
	unsigned n;
	bool pio[64];
	uint64_t addr[64];
	unsigned len[64];
	uint64_t val[64];
};

static void record(void *opaque, bool pio, uint64_t addr, unsigned len,
		   const uint8_t *data)
{
	struct seen *s = opaque;
	if (s->n >= 64)
		return;
	s->pio[s->n] = pio;
	s->addr[s->n] = addr;
	s->len[s->n] = len;
	uint64_t v = 0;
	memcpy(&v, data, len);
	s->val[s->n] = v;
	s->n++;
}

static _Alignas(8) uint8_t page[PAGE];

static struct kvm_coalesced_mmio_ring *ring(void)
{
	return (struct kvm_coalesced_mmio_ring *)page;
}

/* What KVM does for one write in a zone. */
static void kernel_push(struct coalesced *c, bool pio, uint64_t addr,
			unsigned len, uint64_t val)
{
	struct kvm_coalesced_mmio_ring *r = ring();
	struct kvm_coalesced_mmio *e = &r->coalesced_mmio[r->last];
	e->phys_addr = addr;
	e->len = len;
	e->pio = pio;
	memcpy(e->data, &val, sizeof(e->data));
	r->last = (r->last + 1) % c->max;
}

static struct coalesced c;

static void setup(void)
{
	memset(page, 0, sizeof(page));
	coalesced_init(&c, page, PAGE, NULL);
}

TestSuite(coalesced, .init = setup);

Test(coalesced, ring_size_is_kvms)
{
	/* KVM_COALESCED_MMIO_MAX for a 4 KiB page. */
	cr_assert(coalesced_on(&c));
	cr_assert_eq(c.max, (PAGE - sizeof(struct kvm_coalesced_mmio_ring)) /
				sizeof(struct kvm_coalesced_mmio));
	cr_assert_eq(c.max, 170); /* (4096 - 8) / 24 */
}

Test(coalesced, off_without_a_ring)
{
	struct coalesced off;
	coalesced_init(&off, NULL, 0, NULL);
	cr_assert_not(coalesced_on(&off));
	cr_assert_not(coalesced_pending(&off));
	struct seen s = {0};
	cr_assert_eq(coalesced_drain(&off, record, &s), 0);
	/* A page too small for one entry is no ring either. */
	coalesced_init(&off, page, 16, NULL);
	cr_assert_not(coalesced_on(&off));
}

Test(coalesced, empty_ring_drains_nothing)
{
	struct seen s = {0};
	cr_assert_not(coalesced_pending(&c));
	cr_assert_eq(coalesced_drain(&c, record, &s), 0);
	cr_assert_eq(s.n, 0);
	cr_assert_eq(c.drains, 0);
}

Test(coalesced, writes_replayed_in_order_with_their_data)
{
	kernel_push(&c, true, 0x70, 1, 0x8f);
	kernel_push(&c, true, 0xc010, 2, 0xbeef);
	kernel_push(&c, true, 0xc010, 4, 0x12345678);
	kernel_push(&c, false, 0xfe000000, 8, 0x1122334455667788ull);
	cr_assert(coalesced_pending(&c));
	struct seen s = {0};
	cr_assert_eq(coalesced_drain(&c, record, &s), 4);
	cr_assert_eq(s.n, 4);
	cr_assert(s.pio[0] && s.addr[0] == 0x70 && s.len[0] == 1 &&
		  s.val[0] == 0x8f);
	cr_assert(s.pio[1] && s.addr[1] == 0xc010 && s.len[1] == 2 &&
		  s.val[1] == 0xbeef);
	cr_assert(s.len[2] == 4 && s.val[2] == 0x12345678);
	cr_assert(!s.pio[3] && s.addr[3] == 0xfe000000 && s.len[3] == 8 &&
		  s.val[3] == 0x1122334455667788ull);
	/* Slots handed back: first caught up with last. */
	cr_assert_eq(ring()->first, ring()->last);
	cr_assert_not(coalesced_pending(&c));
	cr_assert_eq(c.writes, 4);
	cr_assert_eq(c.drains, 1);
}

Test(coalesced, wraps_at_the_end_of_the_page)
{
	/* Start near the end, as after a long run. */
	ring()->first = ring()->last = c.max - 2;
	for (unsigned i = 0; i < 5; i++)
		kernel_push(&c, true, 0x300 + i, 2, i);
	cr_assert_eq(ring()->last, 3);
	struct seen s = {0};
	cr_assert_eq(coalesced_drain(&c, record, &s), 5);
	for (unsigned i = 0; i < 5; i++)
		cr_assert_eq(s.val[i], i);
	cr_assert_eq(ring()->first, 3);
}

Test(coalesced, full_ring_drains_completely)
{
	/* KVM keeps one slot free: max - 1 entries is full. */
	for (unsigned i = 0; i < c.max - 1; i++)
		kernel_push(&c, true, 0xc010, 2, i & 0xffff);
	struct seen s = {0};
	cr_assert_eq(coalesced_drain(&c, record, &s), c.max - 1);
	cr_assert_eq(s.n, 64); /* the recorder keeps the first 64 */
	cr_assert_eq(s.val[63], 63);
	cr_assert_not(coalesced_pending(&c));
}

Test(coalesced, bad_lengths_are_skipped_not_replayed)
{
	kernel_push(&c, true, 0x70, 0, 1);
	kernel_push(&c, true, 0x70, 3, 2);
	kernel_push(&c, true, 0x70, 9, 3);
	kernel_push(&c, true, 0x70, 0xffffffffu, 4);
	kernel_push(&c, true, 0x70, 1, 5);
	struct seen s = {0};
	cr_assert_eq(coalesced_drain(&c, record, &s), 5);
	cr_assert_eq(s.n, 1);
	cr_assert_eq(s.val[0], 5);
	cr_assert_eq(c.bad, 4);
}

Test(coalesced, indexes_out_of_range_stop_the_ring)
{
	kernel_push(&c, true, 0x70, 1, 1);
	ring()->last = c.max + 7; /* garbage: not KVM's ring */
	struct seen s = {0};
	cr_assert_eq(coalesced_drain(&c, record, &s), 0);
	cr_assert(c.broken);
	cr_assert_eq(s.n, 0);
	cr_assert_not(coalesced_pending(&c));
	/* A garbage first index as well: never read past the page. */
	setup();
	ring()->first = 0xffffffffu;
	ring()->last = 0;
	cr_assert_eq(coalesced_drain(&c, record, &s), 0);
	cr_assert(c.broken);
}

/* --- zones ----------------------------------------------------------- */

struct fake_kvm {
	unsigned calls;
	uint64_t addr[8];
	unsigned len[8];
	bool pio[8], assign[8];
	int fail; /* negative errno for the next assign */
};

static int fake_zone(void *opaque, uint64_t addr, unsigned len, bool pio,
		     bool assign)
{
	struct fake_kvm *k = opaque;
	if (k->calls < 8) {
		k->addr[k->calls] = addr;
		k->len[k->calls] = len;
		k->pio[k->calls] = pio;
		k->assign[k->calls] = assign;
	}
	k->calls++;
	if (assign && k->fail) {
		int rc = k->fail;
		k->fail = 0;
		return rc;
	}
	return 0;
}

Test(coalesced, zone_follows_its_bar)
{
	struct fake_kvm k = {0};
	struct coalesced_ops ops = {fake_zone, &k};
	coalesced_init(&c, page, PAGE, &ops);
	struct coalesced_zone z;
	coalesced_zone_init(&z, &c, true, 0x10, 8);
	coalesced_zone_move(&z, 0xc000, true);
	cr_assert_eq(k.calls, 1);
	cr_assert(k.assign[0] && k.pio[0] && k.addr[0] == 0xc010 &&
		  k.len[0] == 8);
	/* Moved: the old zone goes first, then the new one comes. */
	coalesced_zone_move(&z, 0xd000, true);
	cr_assert_eq(k.calls, 3);
	cr_assert(!k.assign[1] && k.addr[1] == 0xc010);
	cr_assert(k.assign[2] && k.addr[2] == 0xd010);
	/* Decode off: only the removal. */
	coalesced_zone_move(&z, 0xd000, false);
	cr_assert_eq(k.calls, 4);
	cr_assert(!k.assign[3] && k.addr[3] == 0xd010);
	cr_assert_not(z.assigned);
	/* Still unmapped: nothing to remove. */
	coalesced_zone_move(&z, 0, false);
	cr_assert_eq(k.calls, 4);
}

Test(coalesced, refused_zone_only_costs_speed)
{
	struct fake_kvm k = {.fail = -ENOSPC};
	struct coalesced_ops ops = {fake_zone, &k};
	coalesced_init(&c, page, PAGE, &ops);
	struct coalesced_zone z;
	coalesced_zone_init(&z, &c, true, 0, 1);
	coalesced_zone_move(&z, 0x70, true);
	cr_assert_not(z.assigned);
	cr_assert(c.warned);
	/* The next move does not try to remove what KVM never had. */
	coalesced_zone_move(&z, 0x70, true);
	cr_assert_eq(k.calls, 2);
	cr_assert(k.assign[1]);
	cr_assert(z.assigned);
}

Test(coalesced, zones_do_nothing_with_coalescing_off)
{
	struct fake_kvm k = {0};
	struct coalesced_ops ops = {fake_zone, &k};
	struct coalesced off;
	coalesced_init(&off, NULL, 0, &ops);
	struct coalesced_zone z;
	coalesced_zone_init(&z, &off, true, 0x10, 8);
	coalesced_zone_move(&z, 0x300, true);
	cr_assert_eq(k.calls, 0);
	cr_assert_not(z.assigned);
}
