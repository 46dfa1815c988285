/*
 * Virtio core (hw/virtio.c): status and feature negotiation, queue setup,
 * split-ring chains direct and indirect, every malformed ring the core
 * must survive, and notification suppression both ways with and without
 * VIRTIO_F_EVENT_IDX. Guest RAM is a malloc'd region; the test plays the
 * driver by writing the rings as Linux's virtio_ring would.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "hw/virtio.h"
#include "ioreq/bytes.h"
#include "tests/unit/fake_guest.h"

#define RAM_SIZE (1u << 20)
#define ROM_GPA	 0x200000u /* a read-only region after RAM */
#define ROM_SIZE 0x10000u
#define QSZ	 8
#define DESC	 0x1000u
#define AVAIL	 0x2000u
#define USED	 0x3000u
#define TABLE	 0x8000u
#define BUF	 0x10000u

#define F_V1	   VIRTIO_BIT(VIRTIO_F_VERSION_1)
#define F_INDIRECT VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC)
#define F_EVENT	   VIRTIO_BIT(VIRTIO_F_EVENT_IDX)
#define DEV_F_X	   VIRTIO_BIT(5) /* a device feature to offer */

struct rig {
	uint8_t *ram, *rom;
	struct guest_mem gm;
	struct virtio_dev vd;
	int irqs[VIRTIO_MAX_QUEUES], config_irqs;
	int resets, notifies;
	bool refuse_features;
	struct vring_drv vq; /* the driver's side of queue 0 */
};

static void dev_reset(struct virtio_dev *vd)
{
	((struct rig *)vd->opaque)->resets++;
}

static void dev_notify(struct virtio_dev *vd, unsigned q)
{
	(void)q;
	((struct rig *)vd->opaque)->notifies++;
}

static bool dev_features_ok(struct virtio_dev *vd, uint64_t f)
{
	(void)f;
	return !((struct rig *)vd->opaque)->refuse_features;
}

static const struct virtio_dev_ops dev_ops = {.reset = dev_reset,
					      .queue_notify = dev_notify,
					      .features_ok = dev_features_ok};

static void tr_irq(void *opaque, int q)
{
	struct rig *r = opaque;
	if (q == VIRTIO_CONFIG_IRQ)
		r->config_irqs++;
	else
		r->irqs[q]++;
}

static struct rig *rig_new(void)
{
	struct rig *r = calloc(1, sizeof(*r));
	r->ram = fake_ram_add(&r->gm, 0, RAM_SIZE, false);
	r->rom = fake_ram_add(&r->gm, ROM_GPA, ROM_SIZE, true);
	vring_init(&r->vq, r->ram, QSZ, DESC, AVAIL, USED);
	cr_assert_eq(
	    virtio_init(&r->vd, &dev_ops, r, &r->gm, 2, 2, QSZ, DEV_F_X), 0);
	virtio_set_transport(&r->vd, (struct virtio_transport){tr_irq, r});
	return r;
}

static void rig_free(struct rig *r)
{
	free(r->ram);
	free(r->rom);
	free(r);
}

static void w16(struct rig *r, uint32_t gpa, uint16_t v)
{
	put_le(r->ram + gpa, 2, v);
}

static uint16_t r16(struct rig *r, uint32_t gpa)
{
	return get_le(r->ram + gpa, 2);
}

/* Descriptor i of queue 0, and entry i of the indirect table at TABLE. */
static void set_desc(struct rig *r, unsigned i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	vring_put_desc(r->ram, DESC, i, addr, len, flags, next);
}

static void set_entry(struct rig *r, unsigned i, uint64_t addr, uint32_t len,
		      uint16_t flags, uint16_t next)
{
	vring_put_desc(r->ram, TABLE, i, addr, len, flags, next);
}

/* Head 0 pointing at len bytes of the indirect table, made available. */
static void post_table(struct rig *r, uint32_t len)
{
	set_desc(r, 0, TABLE, len, VIRTQ_DESC_F_INDIRECT, 0);
	vring_add(&r->vq, 0);
}

static void setup_queue(struct rig *r, unsigned q, uint16_t size, uint32_t desc,
			uint32_t avail, uint32_t used)
{
	virtq_set_size(&r->vd, q, size);
	virtq_set_addr(&r->vd, q, 0, desc);
	virtq_set_addr(&r->vd, q, 1, avail);
	virtq_set_addr(&r->vd, q, 2, used);
}

/* The driver's initialisation sequence (spec 3.1.1) up to FEATURES_OK,
 * which the device may refuse. */
static void ask_features_ok(struct rig *r, uint64_t f)
{
	virtio_set_status(&r->vd, 0);
	virtio_set_status(&r->vd, VIRTIO_STATUS_ACKNOWLEDGE);
	virtio_set_status(&r->vd,
			  VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	virtio_set_driver_features(&r->vd, 0, (uint32_t)f);
	virtio_set_driver_features(&r->vd, 1, f >> 32);
	virtio_set_status(&r->vd, VIRTIO_STATUS_ACKNOWLEDGE |
				      VIRTIO_STATUS_DRIVER |
				      VIRTIO_STATUS_FEATURES_OK);
}

/* The whole sequence, queue 0 at DESC/AVAIL/USED with QSZ entries. */
static void drv_init(struct rig *r, uint64_t features)
{
	ask_features_ok(r, features);
	cr_assert(r->vd.status & VIRTIO_STATUS_FEATURES_OK);
	vring_init(&r->vq, r->ram, QSZ, DESC, AVAIL, USED);
	setup_queue(r, 0, QSZ, DESC, AVAIL, USED);
	cr_assert_eq(virtq_enable(&r->vd, 0), 0);
	virtio_set_status(&r->vd, r->vd.status | VIRTIO_STATUS_DRIVER_OK);
	cr_assert(r->vd.status & VIRTIO_STATUS_DRIVER_OK);
}

static struct virtq *q0(struct rig *r)
{
	return &r->vd.vq[0];
}

static void assert_broken(struct rig *r, int config_irqs)
{
	cr_assert(r->vd.broken);
	cr_assert(r->vd.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	cr_assert_eq(r->config_irqs, config_irqs);
}

/* ---- status and features ---- */

Test(virtio, features_offered)
{
	struct rig *r = rig_new();
	cr_assert_eq(virtio_device_features(&r->vd, 0),
		     (uint32_t)(DEV_F_X | F_INDIRECT | F_EVENT));
	cr_assert_eq(virtio_device_features(&r->vd, 1), 1); /* VERSION_1 */
	cr_assert_eq(virtio_device_features(&r->vd, 2), 0);
	cr_assert_eq(virtio_device_features(&r->vd, 0xffffffff), 0);
	virtio_set_driver_features(&r->vd, 0, 0x20);
	virtio_set_driver_features(&r->vd, 1, 1);
	virtio_set_driver_features(&r->vd, 7, 0xffffffff); /* ignored */
	cr_assert_eq(r->vd.features, DEV_F_X | F_V1);
	cr_assert_eq(virtio_driver_features(&r->vd, 0), 0x20);
	cr_assert_eq(virtio_driver_features(&r->vd, 1), 1);
	cr_assert_eq(virtio_driver_features(&r->vd, 2), 0);
	/* Bad limits. */
	struct virtio_dev vd;
	cr_assert_eq(virtio_init(&vd, &dev_ops, r, &r->gm, 2, 0, 8, 0), -1);
	cr_assert_eq(virtio_init(&vd, &dev_ops, r, &r->gm, 2, 9, 8, 0), -1);
	cr_assert_eq(virtio_init(&vd, &dev_ops, r, &r->gm, 2, 1, 6, 0), -1);
	cr_assert_eq(virtio_init(&vd, &dev_ops, r, &r->gm, 2, 1, 512, 0), -1);
	rig_free(r);
}

Test(virtio, features_ok_needs_version_1_and_offered_bits)
{
	struct rig *r = rig_new();
	ask_features_ok(r, DEV_F_X); /* a legacy driver */
	cr_assert_eq(r->vd.status,
		     VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	ask_features_ok(r, F_V1 | VIRTIO_BIT(7)); /* never offered */
	cr_assert_eq(r->vd.status & VIRTIO_STATUS_FEATURES_OK, 0);
	ask_features_ok(r, F_V1 | VIRTIO_BIT(40));
	cr_assert_eq(r->vd.status & VIRTIO_STATUS_FEATURES_OK, 0);
	r->refuse_features = true; /* the device says no */
	ask_features_ok(r, F_V1);
	cr_assert_eq(r->vd.status & VIRTIO_STATUS_FEATURES_OK, 0);
	/* DRIVER_OK without FEATURES_OK does not make the device live. */
	virtio_set_status(&r->vd, r->vd.status | VIRTIO_STATUS_DRIVER_OK);
	cr_assert_eq(r->vd.status & VIRTIO_STATUS_DRIVER_OK, 0);
	r->refuse_features = false;
	ask_features_ok(r, F_V1 | F_EVENT | DEV_F_X);
	cr_assert(r->vd.status & VIRTIO_STATUS_FEATURES_OK);
	/* Features are frozen once FEATURES_OK is set. */
	virtio_set_driver_features(&r->vd, 0, 0);
	virtio_set_driver_features(&r->vd, 1, 0);
	cr_assert_eq(r->vd.features, F_V1 | F_EVENT | DEV_F_X);
	rig_free(r);
}

Test(virtio, status_bits_accumulate_and_reset)
{
	struct rig *r = rig_new();
	drv_init(r, F_V1);
	int resets = r->resets;
	/* The driver cannot clear bits but by writing 0. */
	virtio_set_status(&r->vd, VIRTIO_STATUS_ACKNOWLEDGE);
	cr_assert(r->vd.status & VIRTIO_STATUS_DRIVER_OK);
	/* Nor set DEVICE_NEEDS_RESET. */
	virtio_set_status(&r->vd, 0xff & ~VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	virtio_set_status(&r->vd, VIRTIO_STATUS_DEVICE_NEEDS_RESET | 1);
	cr_assert_eq(r->vd.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
	cr_assert(r->vd.status & VIRTIO_STATUS_FAILED);
	virtio_set_status(&r->vd, 0);
	cr_assert_eq(r->resets, resets + 1);
	cr_assert_eq(r->vd.status, 0);
	cr_assert_eq(r->vd.features, 0);
	cr_assert(!q0(r)->enabled);
	cr_assert_eq(q0(r)->size, QSZ);
	cr_assert_eq(q0(r)->desc_addr, 0);
	rig_free(r);
}

Test(virtio, kicks_wait_for_driver_ok)
{
	struct rig *r = rig_new();
	ask_features_ok(r, F_V1);
	setup_queue(r, 0, QSZ, DESC, AVAIL, USED);
	cr_assert_eq(virtq_enable(&r->vd, 0), 0);
	set_desc(r, 0, BUF, 4, 0, 0);
	vring_add(&r->vq, 0);
	virtio_queue_kick(&r->vd, 0);
	virtio_queue_kick(&r->vd, 1); /* not enabled */
	virtio_queue_kick(&r->vd, 9); /* no such queue */
	cr_assert_eq(r->notifies, 0);
	struct virtq_elem e;
	cr_assert_eq(virtq_pop(q0(r), &e), 0, "popped before DRIVER_OK");
	/* DRIVER_OK looks at the enabled queue once. */
	virtio_set_status(&r->vd, r->vd.status | VIRTIO_STATUS_DRIVER_OK);
	cr_assert_eq(r->notifies, 1);
	virtio_queue_kick(&r->vd, 0);
	cr_assert_eq(r->notifies, 2);
	rig_free(r);
}

Test(virtio, config_image_and_generation)
{
	struct rig *r = rig_new();
	r->vd.config_len = 6;
	memcpy(r->vd.config, "\x11\x22\x33\x44\x55\x66", 6);
	cr_assert_eq(virtio_config_read(&r->vd, 0, 4), 0x44332211);
	cr_assert_eq(virtio_config_read(&r->vd, 4, 4), 0x6655);
	cr_assert_eq(virtio_config_read(&r->vd, 2, 8), 0x66554433ull);
	cr_assert_eq(virtio_config_read(&r->vd, 200, 4), 0);
	cr_assert_eq(virtio_config_read(&r->vd, 0xffffffff, 4), 0);
	virtio_config_write(&r->vd, 0, 4, 0); /* no hook: ignored */
	uint8_t gen = r->vd.config_generation;
	virtio_config_changed(&r->vd); /* before DRIVER_OK: no interrupt */
	cr_assert_eq(r->vd.config_generation, (uint8_t)(gen + 1));
	cr_assert_eq(r->config_irqs, 0);
	drv_init(r, F_V1);
	virtio_config_changed(&r->vd);
	cr_assert_eq(r->config_irqs, 1);
	rig_free(r);
}

/* ---- queue setup ---- */

/* A queue_enable that must break the device. */
static void bad_enable(uint16_t size, uint32_t desc, uint32_t avail,
		       uint32_t used)
{
	struct rig *r = rig_new();
	ask_features_ok(r, F_V1);
	setup_queue(r, 0, size, desc, avail, used);
	cr_assert_eq(virtq_enable(&r->vd, 0), -1,
		     "size %u desc %x avail %x used %x", size, desc, avail,
		     used);
	cr_assert(!q0(r)->enabled);
	assert_broken(r, 0); /* no DRIVER_OK yet: no interrupt */
	/* Broken until reset; then the same queue works. */
	setup_queue(r, 1, QSZ, DESC, AVAIL, USED);
	cr_assert_eq(virtq_enable(&r->vd, 1), -1);
	drv_init(r, F_V1);
	cr_assert(q0(r)->enabled && !r->vd.broken);
	rig_free(r);
}

Test(virtio, queue_enable_checks)
{
	bad_enable(0, DESC, AVAIL, USED);
	bad_enable(6, DESC, AVAIL, USED);	     /* not a power of two */
	bad_enable(2 * QSZ, DESC, AVAIL, USED);	     /* above the maximum */
	bad_enable(0xffff, DESC, AVAIL, USED);	     /* both */
	bad_enable(QSZ, DESC + 8, AVAIL, USED);	     /* desc not 16-aligned */
	bad_enable(QSZ, DESC, AVAIL + 1, USED);	     /* avail not 2-aligned */
	bad_enable(QSZ, DESC, AVAIL, USED + 2);	     /* used not 4-aligned */
	bad_enable(QSZ, RAM_SIZE, AVAIL, USED);	     /* outside RAM */
	bad_enable(QSZ, RAM_SIZE - 64, AVAIL, USED); /* runs off RAM */
	bad_enable(QSZ, DESC, RAM_SIZE - 16, USED);
	bad_enable(QSZ, DESC, AVAIL, RAM_SIZE - 64);
	bad_enable(QSZ, DESC, 0xfffffffe, USED);
	bad_enable(QSZ, DESC, AVAIL, ROM_GPA); /* used ring must be writable */
}

Test(virtio, queue_setup_rules)
{
	struct rig *r = rig_new();
	ask_features_ok(r, F_V1);
	/* A smaller power of two is fine (SeaBIOS shrinks queues). */
	setup_queue(r, 0, 2, DESC, AVAIL, USED);
	cr_assert_eq(virtq_enable(&r->vd, 0), 0);
	cr_assert_eq(q0(r)->size, 2);
	/* Frozen once enabled. */
	setup_queue(r, 0, 4, 0x5000, 0x6000, 0x7000);
	cr_assert_eq(q0(r)->size, 2);
	cr_assert_eq(q0(r)->desc_addr, DESC);
	cr_assert_eq(virtq_enable(&r->vd, 0), 0); /* again: no-op */
	/* Absent queues take nothing. */
	setup_queue(r, 5, 4, 0x5000, 0x6000, 0x7000);
	cr_assert_eq(virtq_enable(&r->vd, 5), -1);
	cr_assert(!r->vd.broken);
	/* After DRIVER_OK no queue setup. */
	virtio_set_status(&r->vd, r->vd.status | VIRTIO_STATUS_DRIVER_OK);
	setup_queue(r, 1, 4, 0x5000, 0x6000, 0x7000);
	cr_assert_eq(virtq_enable(&r->vd, 1), -1);
	cr_assert_eq(r->vd.vq[1].desc_addr, 0);
	cr_assert(!r->vd.broken);
	rig_free(r);
}

/* ---- chains ---- */

/* Pops the next chain: its head, how many readable and writable buffers. */
static void pop_chain(struct rig *r, struct virtq_elem *e, uint16_t head,
		      unsigned n_out, unsigned n_in)
{
	cr_assert_eq(virtq_pop(q0(r), e), 1);
	cr_assert_eq(e->head, head);
	cr_assert_eq(e->n_out, n_out);
	cr_assert_eq(e->n_in, n_in);
}

Test(virtio, direct_chain_readable_then_writable)
{
	struct rig *r = rig_new();
	drv_init(r, F_V1);
	set_desc(r, 3, BUF, 16, VIRTQ_DESC_F_NEXT, 5);
	set_desc(r, 5, BUF + 0x100, 0, VIRTQ_DESC_F_NEXT, 1); /* dropped */
	set_desc(r, 1, BUF + 0x200, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE,
		 7);
	set_desc(r, 7, BUF + 0x400, 1, VIRTQ_DESC_F_WRITE, 0xffff);
	vring_add(&r->vq, 3);
	struct virtq_elem e;
	pop_chain(r, &e, 3, 1, 2);
	cr_assert_eq(e.out_len, 16);
	cr_assert_eq(e.in_len, 513);
	cr_assert_eq(e.seg[0].addr, BUF);
	cr_assert_eq(e.seg[1].addr, BUF + 0x200);
	cr_assert_eq(e.seg[1].len, 512);
	cr_assert_eq(e.seg[2].addr, BUF + 0x400);
	cr_assert_eq(virtq_pop(q0(r), &e), 0);
	/* Give it back. */
	virtq_push(q0(r), 3, 513);
	uint32_t id, len;
	cr_assert(vring_take_used(&r->vq, &id, &len));
	cr_assert_eq(id, 3);
	cr_assert_eq(len, 513);
	virtq_notify(q0(r));
	cr_assert_eq(r->irqs[0], 1);
	cr_assert(!r->vd.broken);
	rig_free(r);
}

Test(virtio, a_chain_as_long_as_the_queue)
{
	struct rig *r = rig_new();
	drv_init(r, F_V1);
	for (unsigned i = 0; i < QSZ; i++)
		set_desc(r, i, BUF + 16 * i, 16,
			 i + 1 < QSZ ? VIRTQ_DESC_F_NEXT : 0, i + 1);
	vring_add(&r->vq, 0);
	struct virtq_elem e;
	cr_assert_eq(virtq_pop(q0(r), &e), 1);
	cr_assert_eq(e.n_out, QSZ);
	cr_assert_eq(e.out_len, 16 * QSZ);
	rig_free(r);
}

Test(virtio, indirect_chain)
{
	struct rig *r = rig_new();
	drv_init(r, F_V1 | F_INDIRECT);
	/* The WRITE flag on the pointing descriptor is ignored. */
	set_desc(r, 2, TABLE, 4 * 16,
		 VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_WRITE, 0);
	set_entry(r, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 3);
	set_entry(r, 3, BUF + 0x1000, 4096,
		  VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	set_entry(r, 1, BUF + 0x3000, 1, VIRTQ_DESC_F_WRITE, 0);
	vring_add(&r->vq, 2);
	struct virtq_elem e;
	pop_chain(r, &e, 2, 1, 2);
	cr_assert_eq(e.seg[1].addr, BUF + 0x1000);
	cr_assert_eq(e.in_len, 4097);
	/* A table can hold as many entries as the queue has. */
	for (unsigned i = 0; i < QSZ; i++)
		set_entry(r, i, BUF, 8, i + 1 < QSZ ? VIRTQ_DESC_F_NEXT : 0,
			  i + 1);
	set_desc(r, 4, TABLE, QSZ * 16, VIRTQ_DESC_F_INDIRECT, 0);
	vring_add(&r->vq, 4);
	cr_assert_eq(virtq_pop(q0(r), &e), 1);
	cr_assert_eq(e.n_out, QSZ);
	cr_assert(!r->vd.broken);
	rig_free(r);
}

Test(virtio, elem_copy_across_segments)
{
	struct rig *r = rig_new();
	drv_init(r, F_V1);
	memcpy(r->ram + BUF, "abc", 3);
	memcpy(r->ram + BUF + 0x100, "defgh", 5);
	set_desc(r, 0, BUF, 3, VIRTQ_DESC_F_NEXT, 1);
	set_desc(r, 1, BUF + 0x100, 5, VIRTQ_DESC_F_NEXT, 2);
	set_desc(r, 2, BUF + 0x200, 2, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT,
		 3);
	set_desc(r, 3, BUF + 0x300, 3, VIRTQ_DESC_F_WRITE, 0);
	vring_add(&r->vq, 0);
	struct virtq_elem e;
	cr_assert_eq(virtq_pop(q0(r), &e), 1);
	char buf[8] = {0};
	cr_assert_eq(virtq_elem_read(&r->vd, &e, 1, buf, 6), 0);
	cr_assert_str_eq(buf, "bcdefg");
	cr_assert_eq(virtq_elem_read(&r->vd, &e, 4, buf, 5), -1); /* short */
	cr_assert_eq(virtq_elem_write(&r->vd, &e, 1, "XYZ", 3), 0);
	cr_assert_eq(memcmp(r->ram + BUF + 0x201, "X", 1), 0);
	cr_assert_eq(memcmp(r->ram + BUF + 0x300, "YZ", 2), 0);
	cr_assert_eq(virtq_elem_write(&r->vd, &e, 5, "!", 1), -1);
	struct iovec iov[4];
	cr_assert_eq(virtio_map_segs(&r->gm, e.seg, e.n_out, false, iov), 0);
	cr_assert_eq(iov[1].iov_base, r->ram + BUF + 0x100);
	cr_assert_eq(iov[1].iov_len, 5);
	rig_free(r);
}

Test(virtio, buffer_outside_ram_fails_only_that_request)
{
	struct rig *r = rig_new();
	drv_init(r, F_V1);
	set_desc(r, 0, RAM_SIZE - 8, 16, VIRTQ_DESC_F_NEXT, 1);
	set_desc(r, 1, ROM_GPA, 16, VIRTQ_DESC_F_WRITE, 0);
	vring_add(&r->vq, 0);
	struct virtq_elem e;
	cr_assert_eq(virtq_pop(q0(r), &e), 1);
	struct iovec iov[2];
	cr_assert_eq(virtio_map_segs(&r->gm, e.seg, 1, false, iov), -1);
	/* ROM can be read, not written. */
	cr_assert_eq(virtio_map_segs(&r->gm, e.seg + 1, 1, false, iov), 0);
	cr_assert_eq(virtio_map_segs(&r->gm, e.seg + 1, 1, true, iov), -1);
	char c;
	cr_assert_eq(virtq_elem_read(&r->vd, &e, 0, &c, 1), 0);
	cr_assert_eq(virtq_elem_read(&r->vd, &e, 8, &c, 1), -1);
	cr_assert_eq(virtq_elem_write(&r->vd, &e, 0, "x", 1), -1);
	cr_assert(!r->vd.broken);
	rig_free(r);
}

/* ---- bad rings: each breaks the device, never the VMM ---- */

typedef void (*ring_setup)(struct rig *r);

static void check_bad_ring(ring_setup setup, uint64_t features,
			   const char *what)
{
	struct rig *r = rig_new();
	drv_init(r, F_V1 | features);
	setup(r);
	struct virtq_elem e;
	cr_assert_eq(virtq_pop(q0(r), &e), -1, "%s: popped", what);
	assert_broken(r, 1);
	/* Nothing more is taken or given back, kicks are ignored. */
	int notifies = r->notifies;
	virtio_queue_kick(&r->vd, 0);
	cr_assert_eq(r->notifies, notifies);
	cr_assert_eq(virtq_pop(q0(r), &e), 0);
	uint16_t used = vring_used_idx(&r->vq);
	virtq_push(q0(r), 0, 1);
	virtq_notify(q0(r));
	cr_assert_eq(vring_used_idx(&r->vq), used);
	cr_assert_eq(r->irqs[0], 0);
	virtio_error(&r->vd); /* once only */
	cr_assert_eq(r->config_irqs, 1);
	/* A reset brings it back. */
	memset(r->ram, 0, 0x20000);
	drv_init(r, F_V1 | features);
	cr_assert(!r->vd.broken);
	set_desc(r, 0, BUF, 4, 0, 0);
	vring_add(&r->vq, 0);
	cr_assert_eq(virtq_pop(q0(r), &e), 1, "%s: no recovery", what);
	rig_free(r);
}

static void loop2(struct rig *r)
{
	set_desc(r, 0, BUF, 4, VIRTQ_DESC_F_NEXT, 1);
	set_desc(r, 1, BUF, 4, VIRTQ_DESC_F_NEXT, 0);
	vring_add(&r->vq, 0);
}

static void self_loop(struct rig *r)
{
	set_desc(r, 6, BUF, 4, VIRTQ_DESC_F_NEXT, 6);
	vring_add(&r->vq, 6);
}

static void loop_writable(struct rig *r)
{
	/* A loop in which every length is 0: still ends. */
	set_desc(r, 0, BUF, 0, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	set_desc(r, 1, BUF, 0, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 0);
	vring_add(&r->vq, 0);
}

static void next_out_of_range(struct rig *r)
{
	set_desc(r, 0, BUF, 4, VIRTQ_DESC_F_NEXT, QSZ);
	vring_add(&r->vq, 0);
}

static void next_far_out(struct rig *r)
{
	set_desc(r, 0, BUF, 4, VIRTQ_DESC_F_NEXT, 0xffff);
	vring_add(&r->vq, 0);
}

static void head_out_of_range(struct rig *r)
{
	vring_add(&r->vq, QSZ);
}

static void avail_jump(struct rig *r)
{
	set_desc(r, 0, BUF, 4, 0, 0);
	w16(r, AVAIL + 2, QSZ + 1);
}

static void avail_backwards(struct rig *r)
{
	set_desc(r, 0, BUF, 4, 0, 0);
	w16(r, AVAIL + 2, 0xffff); /* 65535 ahead */
}

static void total_past_4g(struct rig *r)
{
	set_desc(r, 0, BUF, 0x80000000u, VIRTQ_DESC_F_NEXT, 1);
	set_desc(r, 1, BUF, 0x80000000u, VIRTQ_DESC_F_WRITE, 0);
	vring_add(&r->vq, 0);
}

static void readable_after_writable(struct rig *r)
{
	set_desc(r, 0, BUF, 4, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	set_desc(r, 1, BUF, 4, 0, 0);
	vring_add(&r->vq, 0);
}

static void indirect_without_feature(struct rig *r)
{
	set_entry(r, 0, BUF, 4, 0, 0);
	post_table(r, 16);
}

static void indirect_len(struct rig *r, uint32_t len)
{
	for (unsigned i = 0; i < 2 * QSZ; i++)
		set_entry(r, i, BUF, 4, 0, 0);
	post_table(r, len);
}

static void indirect_len_0(struct rig *r)
{
	indirect_len(r, 0);
}

static void indirect_len_odd(struct rig *r)
{
	indirect_len(r, 24);
}

static void indirect_len_huge(struct rig *r)
{
	indirect_len(r, (QSZ + 1) * 16);
}

static void indirect_len_4g(struct rig *r)
{
	indirect_len(r, 0xfffffff0u);
}

static void indirect_outside_ram(struct rig *r)
{
	set_desc(r, 0, RAM_SIZE - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
	vring_add(&r->vq, 0);
}

static void indirect_nested(struct rig *r)
{
	set_entry(r, 0, BUF, 4, VIRTQ_DESC_F_NEXT, 1);
	set_entry(r, 1, TABLE + 0x100, 16, VIRTQ_DESC_F_INDIRECT, 0);
	vring_put_desc(r->ram, TABLE + 0x100, 0, BUF, 4, 0, 0);
	post_table(r, 32);
}

static void indirect_with_next(struct rig *r)
{
	set_entry(r, 0, BUF, 4, 0, 0);
	set_desc(r, 0, TABLE, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
	set_desc(r, 1, BUF, 4, 0, 0);
	vring_add(&r->vq, 0);
}

static void indirect_not_at_head(struct rig *r)
{
	set_entry(r, 0, BUF, 4, 0, 0);
	set_desc(r, 0, BUF, 4, VIRTQ_DESC_F_NEXT, 1);
	set_desc(r, 1, TABLE, 16, VIRTQ_DESC_F_INDIRECT, 0);
	vring_add(&r->vq, 0);
}

static void indirect_loop(struct rig *r)
{
	set_entry(r, 0, BUF, 4, VIRTQ_DESC_F_NEXT, 1);
	set_entry(r, 1, BUF, 4, VIRTQ_DESC_F_NEXT, 0);
	post_table(r, 32);
}

static void indirect_next_out_of_table(struct rig *r)
{
	set_entry(r, 0, BUF, 4, VIRTQ_DESC_F_NEXT, 2);
	set_entry(r, 2, BUF, 4, 0, 0); /* past len: not the table */
	post_table(r, 32);
}

static void indirect_order(struct rig *r)
{
	set_entry(r, 0, BUF, 4, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	set_entry(r, 1, BUF, 4, 0, 0);
	post_table(r, 32);
}

static void indirect_past_4g(struct rig *r)
{
	set_entry(r, 0, BUF, 0xffffffffu, VIRTQ_DESC_F_NEXT, 1);
	set_entry(r, 1, BUF, 1, VIRTQ_DESC_F_WRITE, 0);
	post_table(r, 32);
}

Test(virtio, bad_rings_break_the_device)
{
	static const struct {
		ring_setup fn;
		uint64_t features;
		const char *what;
	} cases[] = {
	    {loop2, 0, "two-descriptor loop"},
	    {self_loop, 0, "descriptor pointing at itself"},
	    {loop_writable, 0, "loop of empty buffers"},
	    {next_out_of_range, 0, "next == queue size"},
	    {next_far_out, 0, "next 0xffff"},
	    {head_out_of_range, 0, "head == queue size"},
	    {avail_jump, 0, "avail idx jumps by size + 1"},
	    {avail_backwards, 0, "avail idx goes back"},
	    {total_past_4g, 0, "chain of 4 GiB"},
	    {readable_after_writable, 0, "readable after writable"},
	    {indirect_without_feature, 0, "indirect not negotiated"},
	    {indirect_len_0, F_INDIRECT, "indirect table of 0 bytes"},
	    {indirect_len_odd, F_INDIRECT, "indirect length 24"},
	    {indirect_len_huge, F_INDIRECT, "indirect table > queue size"},
	    {indirect_len_4g, F_INDIRECT, "indirect table of 4 GiB"},
	    {indirect_outside_ram, F_INDIRECT, "indirect table off RAM"},
	    {indirect_nested, F_INDIRECT, "nested indirect"},
	    {indirect_with_next, F_INDIRECT, "indirect with NEXT"},
	    {indirect_not_at_head, F_INDIRECT, "indirect after a buffer"},
	    {indirect_loop, F_INDIRECT, "loop in the table"},
	    {indirect_next_out_of_table, F_INDIRECT, "next past the table"},
	    {indirect_order, F_INDIRECT, "indirect readable after writable"},
	    {indirect_past_4g, F_INDIRECT, "indirect chain of 4 GiB"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_bad_ring(cases[i].fn, cases[i].features, cases[i].what);
}

Test(virtio, avail_idx_wraps_at_65536)
{
	struct rig *r = rig_new();
	drv_init(r, F_V1 | F_EVENT);
	set_desc(r, 0, BUF, 4, 0, 0);
	struct virtq_elem e;
	for (unsigned n = 0; n < 70000; n++) {
		vring_add(&r->vq, 0);
		cr_assert_eq(virtq_pop(q0(r), &e), 1, "at %u", n);
		virtq_push(q0(r), 0, 0);
	}
	cr_assert_eq(vring_used_idx(&r->vq), (uint16_t)70000);
	cr_assert_eq(r16(r, vring_avail_event(&r->vq)), (uint16_t)70000);
	cr_assert(!r->vd.broken);
	rig_free(r);
}

/* ---- notification suppression ---- */

/* Pushes one buffer and says whether the driver gets an interrupt. */
static bool push_one(struct rig *r)
{
	virtq_push(q0(r), 0, 0);
	int before = r->irqs[0];
	virtq_notify(q0(r));
	return r->irqs[0] != before;
}

Test(virtio, used_event_suppresses_interrupts)
{
	struct rig *r = rig_new();
	drv_init(r, F_V1 | F_EVENT);
	const uint32_t used_event = vring_used_event(&r->vq);
	/* used_event 0: interrupt when used idx goes 0 -> 1. */
	cr_assert(push_one(r));
	cr_assert(!push_one(r)); /* 1 -> 2: not asked for */
	/* The driver wants to hear when idx passes 4 (entry 4 used). */
	w16(r, used_event, 4);
	cr_assert(!push_one(r)); /* 3 */
	cr_assert(!push_one(r)); /* 4 */
	cr_assert(push_one(r));	 /* 5: entry 4 is used */
	cr_assert(!push_one(r));
	/* Several pushes between two decisions: any crossing counts. */
	w16(r, used_event, 7);
	virtq_push(q0(r), 0, 0);
	virtq_push(q0(r), 0, 0);
	virtq_push(q0(r), 0, 0); /* 6 -> 9 passes 7 */
	int before = r->irqs[0];
	virtq_notify(q0(r));
	cr_assert_eq(r->irqs[0], before + 1);
	/* Nothing new pushed: no interrupt whatever used_event says. */
	w16(r, used_event, 8);
	virtq_notify(q0(r));
	cr_assert_eq(r->irqs[0], before + 1);
	/* The avail ring's NO_INTERRUPT flag is not looked at with
	 * EVENT_IDX. */
	w16(r, AVAIL, VIRTQ_AVAIL_F_NO_INTERRUPT);
	w16(r, used_event, 9);
	cr_assert(push_one(r));
	/* Wrap-around of the 16-bit indices. */
	for (unsigned i = 0; i < 65530; i++)
		virtq_push(q0(r), 0, 0);
	w16(r, used_event, (uint16_t)(q0(r)->used_idx + 1));
	virtq_notify(q0(r)); /* settles signalled_used */
	cr_assert(!push_one(r));
	cr_assert(push_one(r));
	rig_free(r);
}

Test(virtio, no_interrupt_flag_without_event_idx)
{
	struct rig *r = rig_new();
	drv_init(r, F_V1);
	cr_assert(push_one(r));
	w16(r, AVAIL, VIRTQ_AVAIL_F_NO_INTERRUPT);
	cr_assert(!push_one(r));
	cr_assert(!push_one(r));
	w16(r, AVAIL, 0);
	cr_assert(push_one(r));
	/* used_event is not looked at without EVENT_IDX. */
	w16(r, vring_used_event(&r->vq), 1000);
	cr_assert(push_one(r));
	rig_free(r);
}

Test(virtio, avail_event_suppresses_kicks)
{
	struct rig *r = rig_new();
	drv_init(r, F_V1 | F_EVENT);
	const uint32_t avail_event = vring_avail_event(&r->vq);
	struct virtq_elem e;
	set_desc(r, 0, BUF, 4, 0, 0);
	/* Each pop asks for a kick at the next entry. */
	vring_add(&r->vq, 0);
	vring_add(&r->vq, 0);
	cr_assert_eq(virtq_pop(q0(r), &e), 1);
	cr_assert_eq(r16(r, avail_event), 1);
	cr_assert_eq(virtq_pop(q0(r), &e), 1);
	cr_assert_eq(r16(r, avail_event), 2);
	/* While draining, avail_event stays behind: the driver's
	 * need_event(avail_event, new, old) is false for new entries. */
	virtq_disable_notify(q0(r));
	vring_add(&r->vq, 0);
	vring_add(&r->vq, 0);
	cr_assert_eq(virtq_pop(q0(r), &e), 1);
	cr_assert_eq(r16(r, avail_event), 2);
	cr_assert_eq(r16(r, USED), 0, "used flags touched with EVENT_IDX");
	/* Enabling publishes where we are, and sees the entry still
	 * waiting. */
	cr_assert(virtq_enable_notify(q0(r)));
	cr_assert_eq(r16(r, avail_event), 3);
	cr_assert_eq(virtq_pop(q0(r), &e), 1);
	cr_assert_eq(r16(r, avail_event), 4);
	cr_assert(!virtq_enable_notify(q0(r)));
	cr_assert(!virtq_has_work(q0(r)));
	rig_free(r);
}

Test(virtio, no_notify_flag_without_event_idx)
{
	struct rig *r = rig_new();
	drv_init(r, F_V1);
	struct virtq_elem e;
	set_desc(r, 0, BUF, 4, 0, 0);
	cr_assert_eq(r16(r, USED), 0);
	virtq_disable_notify(q0(r));
	cr_assert_eq(r16(r, USED), VIRTQ_USED_F_NO_NOTIFY);
	vring_add(&r->vq, 0);
	cr_assert(virtq_has_work(q0(r)));
	cr_assert_eq(virtq_pop(q0(r), &e), 1);
	cr_assert(!virtq_enable_notify(q0(r)));
	cr_assert_eq(r16(r, USED), 0);
	/* avail_event is not written without EVENT_IDX. */
	cr_assert_eq(r16(r, vring_avail_event(&r->vq)), 0);
	vring_add(&r->vq, 0);
	virtq_disable_notify(q0(r));
	cr_assert(virtq_enable_notify(q0(r)));
	rig_free(r);
}

/* ---- garbage ---- */

static uint32_t rng_state = 0x2545f491;

static uint32_t rng(void)
{
	return xorshift32(&rng_state);
}

/* Random descriptor tables, indirect tables and avail rings: every pop
 * ends, stays within its limits, and breaks the device or yields a chain
 * that obeys the rules. */
Test(virtio, random_rings)
{
	struct rig *r = rig_new();
	int popped = 0, broken = 0;
	for (int round = 0; round < 3000; round++) {
		drv_init(r, F_V1 | F_INDIRECT | F_EVENT);
		for (unsigned i = 0; i < QSZ; i++) {
			uint32_t fl = rng() & 7, nx = rng() % (QSZ + 2);
			uint32_t len = rng() % 4 ? rng() % 64 : rng();
			uint64_t addr = rng() % 2 ? TABLE : rng();
			if (fl & VIRTQ_DESC_F_INDIRECT && rng() % 2)
				len = 16 * (1 + rng() % (QSZ + 1));
			set_desc(r, i, addr, len, fl, nx);
			set_entry(r, i, rng(), rng() % 4096, rng() & 7,
				  rng() % (QSZ + 2));
		}
		for (unsigned i = 0; i < 4; i++)
			vring_add(&r->vq, rng() % (QSZ + 1));
		if (rng() % 8 == 0)
			w16(r, AVAIL + 2, rng());
		struct virtq_elem e;
		for (int n = 0; n < 6; n++) {
			int rc = virtq_pop(q0(r), &e);
			if (rc <= 0) {
				broken += rc < 0;
				cr_assert_eq(rc < 0, r->vd.broken);
				break;
			}
			popped++;
			cr_assert_leq(e.n_out + e.n_in, QSZ);
			cr_assert_leq((uint64_t)e.out_len + e.in_len,
				      UINT32_MAX);
			virtq_push(q0(r), e.head, e.in_len);
		}
		r->config_irqs = 0;
	}
	cr_assert_gt(popped, 100);
	cr_assert_gt(broken, 100);
	rig_free(r);
}
