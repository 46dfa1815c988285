#include <criterion/criterion.h>

#include "ioreq/bus.h"
#include "ioreq/clock.h"
#include "ioreq/guestmem.h"

struct fake {
	uint64_t last_off, last_val;
	unsigned last_size;
	int reads, writes;
};

static uint64_t fake_read(void *dev, uint64_t off, unsigned size)
{
	struct fake *f = dev;
	f->reads++;
	f->last_off = off;
	f->last_size = size;
	return 0x1000 + off;
}

static void fake_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct fake *f = dev;
	f->writes++;
	f->last_off = off;
	f->last_size = size;
	f->last_val = val;
}

static const struct io_ops fake_ops = {.read = fake_read, .write = fake_write};

Test(bus, register_rejects_overlap_and_zero_len)
{
	struct bus b;
	struct fake f = {0};
	bus_init(&b, "port");
	cr_assert_eq(bus_register(&b, 0x60, 1, &fake_ops, &f, "a"), 0);
	cr_assert_eq(bus_register(&b, 0x64, 1, &fake_ops, &f, "b"), 0);
	cr_assert_eq(bus_register(&b, 0x60, 1, &fake_ops, &f, "c"), -1);
	cr_assert_eq(bus_register(&b, 0x5f, 2, &fake_ops, &f, "d"), -1);
	cr_assert_eq(bus_register(&b, 0x61, 0, &fake_ops, &f, "e"), -1);
	cr_assert_eq(bus_register(&b, UINT64_MAX, 2, &fake_ops, &f, "w"), -1);
	cr_assert_eq(bus_register(&b, 0x61, 3, &fake_ops, &f, "f"), 0);
	cr_assert_eq(bus_find(&b, 0x63)->name, "f");
	cr_assert_null(bus_find(&b, 0x65));
	cr_assert_eq(bus_unregister(&b, 0x61, &f), 0);
	cr_assert_null(bus_find(&b, 0x62));
	cr_assert_eq(bus_unregister(&b, 0x61, &f), -1);
	bus_destroy(&b);
}

Test(bus, dispatch_offsets_and_unclaimed)
{
	struct bus b;
	struct fake f = {0};
	bus_init(&b, "mmio");
	bus_register(&b, 0x1000, 0x100, &fake_ops, &f, "dev");
	uint32_t v = 0;
	cr_assert_not_null(bus_access(&b, 0x1010, 4, false, &v, 1));
	cr_assert_eq(v, 0x1010);
	cr_assert_eq(f.last_size, 4);
	v = 0xdeadbeef;
	bus_access(&b, 0x1020, 2, true, &v, 1);
	cr_assert_eq(f.last_val, 0xbeef);
	cr_assert_eq(f.last_off, 0x20);
	uint64_t q = 0;
	cr_assert_null(bus_access(&b, 0x5000, 8, false, &q, 1));
	cr_assert_eq(q, ~0ull);
	cr_assert_eq(b.unclaimed_reads, 1);
	bus_access(&b, 0x5000, 4, true, &q, 1);
	cr_assert_eq(b.unclaimed_writes, 1);
	cr_assert_eq(f.writes, 1);
	bus_destroy(&b);
}

Test(bus, string_io_falls_back_per_element)
{
	struct bus b;
	struct fake f = {0};
	bus_init(&b, "port");
	bus_register(&b, 0x1f0, 8, &fake_ops, &f, "ide");
	uint16_t buf[4];
	bus_access(&b, 0x1f0, 2, false, buf, 4);
	cr_assert_eq(f.reads, 4);
	cr_assert_eq(buf[3], 0x1000);
	bus_destroy(&b);
}

Test(bus, straddling_access_splits)
{
	struct bus b;
	struct fake f = {0};
	bus_init(&b, "port");
	bus_register(&b, 0x10, 2, &fake_ops, &f, "dev");
	uint32_t v = 0;
	bus_access(&b, 0x10, 4, false, &v, 1);
	/* bytes 0,1 from the device (0x1000, 0x1001 truncated), 2,3 unclaimed
	 */
	cr_assert_eq(v, 0xffff0100);
	bus_destroy(&b);
}

static int fired;
static int64_t fired_at;
static struct vclock *gclk;
static void on_timer(void *opaque)
{
	(void)opaque;
	fired++;
	fired_at = clock_ns(gclk);
}

Test(clock, manual_timers_fire_in_order)
{
	struct vclock *c = clock_new_manual(1000);
	gclk = c;
	struct vtimer *t = vtimer_new(c, on_timer, NULL);
	vtimer_mod(t, 5000);
	clock_advance(c, 3000);
	cr_assert_eq(fired, 0);
	cr_assert(vtimer_pending(t));
	clock_advance(c, 1000);
	cr_assert_eq(fired, 1);
	cr_assert_eq(fired_at, 5000);
	cr_assert(!vtimer_pending(t));
	cr_assert_eq(clock_ns(c), 5000);
	vtimer_mod(t, 6000);
	vtimer_del(t);
	clock_advance(c, 5000);
	cr_assert_eq(fired, 1);
	vtimer_free(t);
	clock_free(c);
}

Test(guestmem, refuses_non_ram)
{
	static uint8_t ram[4096], rom[512];
	struct guest_mem gm = {0};
	gm_add(&gm, 0, sizeof(ram), ram, false);
	gm_add(&gm, 0xf0000, sizeof(rom), rom, true);
	cr_assert_eq(gm_ptr(&gm, 16, 16, true), ram + 16);
	cr_assert_null(gm_ptr(&gm, 4090, 16, false));
	cr_assert_null(gm_ptr(&gm, 0xf0000, 1, true));
	cr_assert_eq(gm_ptr(&gm, 0xf0000, 1, false), rom);
	cr_assert_null(gm_ptr(&gm, UINT64_MAX - 2, 8, false));
	cr_assert_null(gm_ptr(&gm, 0, 0, false));
	uint8_t x = 7;
	cr_assert_eq(gm_write(&gm, 100, &x, 1), 0);
	cr_assert_eq(ram[100], 7);
	cr_assert_eq(gm_write(&gm, 1 << 20, &x, 1), -1);
}

Test(bus, wide_access_reaches_device_in_its_middle)
{
	struct bus b;
	struct fake f = {0};
	bus_init(&b, "port");
	bus_register(&b, 0x92, 1, &fake_ops, &f, "p92");
	uint32_t v = 0x00aa0000;
	bus_access(&b, 0x90, 4, true, &v, 1);
	cr_assert_eq(f.writes, 1);
	cr_assert_eq(f.last_val, 0xaa);
	cr_assert_eq(f.last_off, 0);
	v = 0;
	bus_access(&b, 0x90, 4, false, &v, 1);
	cr_assert_eq(v, 0xff00ffff); /* 0x1000 + 0, low byte */
	bus_destroy(&b);
}

static const struct io_ops byte_ops = {
    .read = fake_read, .write = fake_write, .width = 1};

Test(bus, byte_wide_device_sees_byte_accesses)
{
	struct bus b;
	struct fake f = {0};
	bus_init(&b, "port");
	bus_register(&b, 0x40, 4, &byte_ops, &f, "pit");
	uint32_t v = 0x44332211;
	bus_access(&b, 0x40, 4, true, &v, 1);
	cr_assert_eq(f.writes, 4);
	cr_assert_eq(f.last_size, 1);
	cr_assert_eq(f.last_off, 3);
	cr_assert_eq(f.last_val, 0x44);
	bus_access(&b, 0x42, 2, false, &v, 1);
	cr_assert_eq(f.reads, 2);
	cr_assert_eq(v & 0xffff, 0x0302); /* 0x1000 + off, low bytes */
	bus_destroy(&b);
}
