/* The ioreq protocol under concurrent vCPU threads, in every dispatch mode. */
#include <criterion/criterion.h>
#include <pthread.h>

#include "ioreq/dm.h"
#include "ioreq/ioreq.h"

#define N_REQ 20000

struct counter_dev {
	uint64_t writes[2];
	uint64_t last[2];
	int dup_or_lost;
};

/* Port 0x10+4*vcpu: a write must carry last+1; a read returns last. */
static uint64_t cnt_read(void *dev, uint64_t off, unsigned size)
{
	struct counter_dev *c = dev;
	(void)size;
	return c->last[off / 4];
}

static void cnt_write(void *dev, uint64_t off, unsigned size, uint64_t v)
{
	struct counter_dev *c = dev;
	(void)size;
	off /= 4;
	if (v != c->last[off] + 1)
		c->dup_or_lost++;
	c->last[off] = v;
	c->writes[off]++;
}

static const struct io_ops cnt_ops = {.read = cnt_read, .write = cnt_write};

struct vcpu_arg {
	struct dm *dm;
	unsigned id;
	int bad_reads;
};

static void *vcpu_thread(void *opaque)
{
	struct vcpu_arg *a = opaque;
	for (uint32_t i = 1; i <= N_REQ; i++) {
		uint32_t v = i;
		dm_access(a->dm, a->id, IOREQ_TYPE_PIO, 0x10 + 4 * a->id, 4,
			  true, &v, 1);
		uint32_t back = 0;
		dm_access(a->dm, a->id, IOREQ_TYPE_PIO, 0x10 + 4 * a->id, 4,
			  false, &back, 1);
		if (back != i)
			a->bad_reads++;
	}
	return NULL;
}

static void hammer(enum dm_mode mode)
{
	struct dm dm;
	struct counter_dev c = {0};
	cr_assert_eq(dm_init(&dm, mode, 2), 0);
	cr_assert_eq(bus_register(&dm.io, 0x10, 8, &cnt_ops, &c, "cnt"), 0);
	cr_assert_eq(dm_start(&dm), 0);
	pthread_t t[2];
	struct vcpu_arg a[2] = {{&dm, 0, 0}, {&dm, 1, 0}};
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, vcpu_thread, &a[i]);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	dm_stop(&dm);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(c.writes[i], N_REQ, "vcpu %d: %llu writes", i,
			     (unsigned long long)c.writes[i]);
		cr_assert_eq(a[i].bad_reads, 0);
	}
	cr_assert_eq(c.dup_or_lost, 0);
	cr_assert_eq(dm.io.r[0].writes, 2 * N_REQ);
	dm_destroy(&dm);
}

Test(ioreq, two_vcpus_dm_mode)
{
	hammer(DM_MODE_DM);
}

Test(ioreq, two_vcpus_poll_mode)
{
	hammer(DM_MODE_POLL);
}

Test(ioreq, two_vcpus_inline_mode)
{
	hammer(DM_MODE_INLINE);
}

static uint32_t str_seen;
static uint32_t str_read(void *dev, uint64_t off, unsigned size, void *buf,
			 uint32_t count)
{
	(void)dev;
	(void)off;
	uint8_t *p = buf;
	for (uint32_t i = 0; i < count * size; i++)
		p[i] = i;
	str_seen = count;
	return count;
}

static const struct io_ops str_ops = {.read_str = str_read};

Test(ioreq, string_io_is_one_request)
{
	struct dm dm;
	cr_assert_eq(dm_init(&dm, DM_MODE_DM, 1), 0);
	bus_register(&dm.io, 0x1f0, 2, &str_ops, NULL, "str");
	dm_start(&dm);
	uint16_t buf[256];
	dm_access(&dm, 0, IOREQ_TYPE_PIO, 0x1f0, 2, false, buf, 256);
	dm_stop(&dm);
	cr_assert_eq(str_seen, 256);
	cr_assert_eq(buf[255], 0xfffe);
	cr_assert_eq(dm.io.r[0].reads, 1);
	dm_destroy(&dm);
}

Test(ioreq, floor_and_unclaimed_read_ones)
{
	struct dm dm;
	struct counter_dev c = {0};
	cr_assert_eq(dm_init(&dm, DM_MODE_FLOOR, 1), 0);
	bus_register(&dm.io, 0x10, 8, &cnt_ops, &c, "cnt");
	dm.floor_pio_base = 0x10;
	dm.floor_pio_len = 4;
	uint32_t v = 0;
	dm_access(&dm, 0, IOREQ_TYPE_PIO, 0x10, 4, false, &v, 1);
	cr_assert_eq(v, 0xffffffff);
	v = 1;
	dm_access(&dm, 0, IOREQ_TYPE_PIO, 0x14, 4, true, &v, 1);
	cr_assert_eq(c.writes[1], 1, "outside the floor range: dispatched");
	dm_destroy(&dm);
	cr_assert_eq(dm_init(&dm, DM_MODE_DM, 1), 0);
	dm_start(&dm);
	v = 0;
	dm_access(&dm, 0, IOREQ_TYPE_MMIO, 0xfeb00000, 2, false, &v, 1);
	dm_stop(&dm);
	cr_assert_eq(v, 0xffff);
	cr_assert_eq(dm.mmio.unclaimed_reads, 1);
	dm_destroy(&dm);
}

Test(ioreq, state_machine)
{
	struct ioreq_page p;
	cr_assert_eq(ioreq_page_init(&p, 1, true), 0);
	struct ioreq *r = &p.slots[0].req;
	cr_assert_eq(ioreq_state(r), IOREQ_NONE);
	cr_assert_null(ioreq_claim(&p, 0));
	ioreq_submit(&p, 0);
	cr_assert_eq(ioreq_state(r), IOREQ_READY);
	cr_assert_eq(ioreq_claim(&p, 0), r);
	cr_assert_eq(ioreq_state(r), IOREQ_INPROCESS);
	cr_assert_null(ioreq_claim(&p, 0));
	ioreq_complete(&p, 0);
	ioreq_wait(&p, 0);
	cr_assert_eq(ioreq_state(r), IOREQ_NONE);
	ioreq_page_destroy(&p);
}
