#include <criterion/criterion.h>

#include "hw/resetctl.h"

struct rcrig {
	struct bus io;
	struct resetctl *rc;
	int resets;
};

static void rc_on_reset(void *opaque, int v)
{
	struct rcrig *r = opaque;
	if (v)
		r->resets++;
}

static void rc_init(struct rcrig *r)
{
	memset(r, 0, sizeof(*r));
	bus_init(&r->io, "port");
	r->rc = resetctl_new((struct signal){rc_on_reset, r});
	cr_assert_not_null(r->rc);
	cr_assert_eq(resetctl_attach(r->rc, &r->io), 0);
}

static void rc_fini(struct rcrig *r)
{
	resetctl_free(r->rc);
	bus_destroy(&r->io);
}

static void rc_out(struct rcrig *r, uint8_t v)
{
	bus_access(&r->io, 0xcf9, 1, true, &v, 1);
}

static uint8_t rc_in(struct rcrig *r)
{
	uint8_t v = 0;
	bus_access(&r->io, 0xcf9, 1, false, &v, 1);
	return v;
}

Test(resetctl, claims_only_cf9)
{
	struct rcrig r;
	rc_init(&r);
	cr_assert_null(bus_find(&r.io, 0xcf8));
	cr_assert_null(bus_find(&r.io, 0xcfa));
	cr_assert_not_null(bus_find(&r.io, 0xcf9));
	/* With PCI conf1 owning 0xCF8-0xCFB, attach must fail cleanly. */
	struct bus io2;
	bus_init(&io2, "port");
	cr_assert_eq(bus_register(&io2, 0xcf8, 4, resetctl_ops(), NULL, "pci"),
		     0);
	cr_assert_eq(resetctl_attach(r.rc, &io2), -1);
	bus_destroy(&io2);
	cr_assert_eq(rc_in(&r), 0x00);
	rc_fini(&r);
}

/* Linux BOOT_CF9_FORCE and SeaBIOS: write 0x02, then 0x06. */
Test(resetctl, linux_cf9_reboot_sequence)
{
	struct rcrig r;
	rc_init(&r);
	uint8_t cf9 = rc_in(&r) & ~0x0e;
	rc_out(&r, cf9 | 0x02);
	cr_assert_eq(r.resets, 0);
	cr_assert_eq(rc_in(&r), 0x02);
	rc_out(&r, cf9 | 0x06);
	cr_assert_eq(r.resets, 1);
	cr_assert(resetctl_hard(r.rc));
	cr_assert_eq(rc_in(&r), 0x02, "RCPU does not stay set");
	/* Cold reboot variant writes 0x0e. */
	rc_out(&r, 0x0e);
	cr_assert_eq(r.resets, 2);
	cr_assert_eq(rc_in(&r), 0x0a);
	/* Soft reset: RCPU alone. */
	rc_out(&r, 0x04);
	cr_assert_eq(r.resets, 3);
	cr_assert(!resetctl_hard(r.rc));
	cr_assert_eq(rc_in(&r), 0x00);
	resetctl_reset(r.rc);
	cr_assert_eq(rc_in(&r), 0x00);
	rc_fini(&r);
}

Test(resetctl, forwarded_ops_and_garbage)
{
	struct rcrig r;
	rc_init(&r);
	const struct io_ops *ops = resetctl_ops();
	ops->write(r.rc, 0, 1, 0x06);
	cr_assert_eq(r.resets, 1);
	cr_assert_eq(ops->read(r.rc, 0, 1), 0x02);
	uint32_t seed = 0xcf9;
	int resets = 1;
	uint8_t model = 0x02;
	for (int i = 0; i < 100000; i++) {
		seed = seed * 1103515245u + 12345u;
		uint32_t x = seed >> 8;
		uint32_t w = x * 2654435761u;
		unsigned size = 1u << (x % 3);
		bool wr = x & 0x40;
		bus_access(&r.io, 0xcf9, size, wr, &w, 1);
		if (wr) {
			uint8_t b = w & 0xff;
			model = b & 0x0a;
			if (b & 0x04)
				resets++;
		}
	}
	cr_assert_eq(r.resets, resets);
	cr_assert_eq(rc_in(&r), model);
	rc_fini(&r);
}
