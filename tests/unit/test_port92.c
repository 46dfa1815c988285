#include <criterion/criterion.h>

#include "hw/port92.h"

struct p92rig {
	struct bus io;
	struct port92 *p;
	int resets, a20, a20_calls;
};

static void p92_on_reset(void *opaque, int v)
{
	struct p92rig *r = opaque;
	if (v)
		r->resets++;
}

static void p92_on_a20(void *opaque, int v)
{
	struct p92rig *r = opaque;
	r->a20 = v;
	r->a20_calls++;
}

static void p92_init(struct p92rig *r)
{
	memset(r, 0, sizeof(*r));
	r->a20 = -1;
	bus_init(&r->io, "port");
	r->p = port92_new((struct signal){p92_on_reset, r},
			  (struct signal){p92_on_a20, r});
	cr_assert_not_null(r->p);
	cr_assert_eq(port92_attach(r->p, &r->io), 0);
}

static void p92_fini(struct p92rig *r)
{
	port92_free(r->p);
	bus_destroy(&r->io);
}

static void p92_out(struct p92rig *r, uint8_t v)
{
	bus_access(&r->io, 0x92, 1, true, &v, 1);
}

static uint8_t p92_in(struct p92rig *r)
{
	uint8_t v = 0;
	bus_access(&r->io, 0x92, 1, false, &v, 1);
	return v;
}

Test(port92, power_on_and_attach)
{
	struct p92rig r;
	p92_init(&r);
	cr_assert_eq(p92_in(&r), 0x02);
	cr_assert_null(bus_find(&r.io, 0x91));
	cr_assert_null(bus_find(&r.io, 0x93));
	cr_assert_eq(port92_attach(r.p, &r.io), -1);
	cr_assert_eq(r.a20_calls, 0);
	p92_fini(&r);
}

/* Linux arch/x86/boot/a20.c enable_a20_fast: set bit 1, keep bit 0 clear. */
Test(port92, fast_a20)
{
	struct p92rig r;
	p92_init(&r);
	p92_out(&r, 0x00);
	cr_assert_eq(r.a20, 0);
	cr_assert_eq(p92_in(&r), 0x00);
	uint8_t v = p92_in(&r);
	v |= 0x02;
	v &= ~0x01;
	p92_out(&r, v);
	cr_assert_eq(r.a20, 1);
	cr_assert_eq(p92_in(&r), 0x02);
	cr_assert_eq(r.resets, 0);
	p92_fini(&r);
}

Test(port92, fast_reset_on_rising_edge)
{
	struct p92rig r;
	p92_init(&r);
	p92_out(&r, 0x03);
	cr_assert_eq(r.resets, 1);
	cr_assert_eq(r.a20, 1);
	p92_out(&r, 0x03); /* still 1: no new edge */
	p92_out(&r, 0x01);
	cr_assert_eq(r.resets, 1);
	cr_assert_eq(r.a20, 0);
	p92_out(&r, 0x00);
	p92_out(&r, 0x01);
	cr_assert_eq(r.resets, 2);
	cr_assert_eq(p92_in(&r), 0x01);
	/* The machine reset clears the bit, so the next 1 resets again. */
	port92_reset(r.p);
	cr_assert_eq(p92_in(&r), 0x00);
	p92_out(&r, 0x0b);
	cr_assert_eq(r.resets, 3);
	cr_assert_eq(port92_value(r.p), 0x0b);
	p92_fini(&r);
}

static uint32_t p92_lcg(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

Test(port92, garbage_matches_model)
{
	struct p92rig r;
	p92_init(&r);
	uint32_t seed = 92;
	uint8_t model = 0x02;
	int resets = 0;
	for (int i = 0; i < 100000; i++) {
		uint32_t x = p92_lcg(&seed);
		uint32_t w = p92_lcg(&seed);
		unsigned size = 1u << (x % 3);
		bool wr = x & 8;
		/* Wider accesses straddle the one-byte port: the bus hands
		 * the device the low byte only. */
		bus_access(&r.io, 0x92, size, wr, &w, 1);
		if (wr) {
			uint8_t b = w & 0xff;
			if ((b & 1) && !(model & 1))
				resets++;
			model = b;
		}
		if (x % 97 == 0)
			cr_assert_eq(p92_in(&r), model);
	}
	cr_assert_eq(r.resets, resets);
	cr_assert_eq(port92_value(r.p), model);
	p92_fini(&r);
}
