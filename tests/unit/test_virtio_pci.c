/*
 * Virtio PCI modern transport (hw/virtio_pci.c): the capability list as a
 * driver walks it, the common configuration through BAR 4, feature
 * negotiation, queue setup, notifications and their addresses, ISR and
 * INTx through PIIX3, MSI-X table/mask/PBA with a fake MSI sink, the PCI
 * configuration access capability, and garbage in every register.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "hw/pci.h"
#include "hw/virtio_pci.h"
#include "ioreq/bytes.h"
#include "tests/unit/fake_guest.h"
#include "tests/unit/fake_pc.h"

#define SLOT	 5
#define BAR	 0xfebf0000u
#define MSIX_BAR 0xfebf8000u
#define IRQ	 11
#define RAM_SIZE (1u << 20)
#define QSZ	 16
#define NQ	 2
#define DESC	 0x1000u
#define AVAIL	 0x2000u
#define USED	 0x3000u

#define F_V1 VIRTIO_BIT(VIRTIO_F_VERSION_1)

struct msi {
	uint64_t addr;
	uint32_t data;
};

struct notify_map {
	uint64_t gpa;
	unsigned len;
	bool mapped;
	int calls;
};

struct rig {
	struct fake_pc pc;
	uint8_t *ram;
	struct guest_mem gm;
	struct virtio_dev vd;
	struct virtio_pci vp;
	struct pci_func *f;
	int notifies[NQ], resets;
	struct msi msi[64];
	int nmsi;
	struct notify_map nm[NQ];
	struct vp_drv drv;
};

static void dev_reset(struct virtio_dev *vd)
{
	((struct rig *)vd->opaque)->resets++;
}

static void dev_notify(struct virtio_dev *vd, unsigned q)
{
	cr_assert_lt(q, NQ);
	((struct rig *)vd->opaque)->notifies[q]++;
}

static const struct virtio_dev_ops dev_ops = {.reset = dev_reset,
					      .queue_notify = dev_notify};

static void sink(void *opaque, uint64_t addr, uint32_t data)
{
	struct rig *r = opaque;
	if (r->nmsi < 64)
		r->msi[r->nmsi] = (struct msi){addr, data};
	r->nmsi++;
}

static void notify_moved(void *opaque, unsigned q, uint64_t gpa, unsigned len,
			 bool mapped)
{
	struct rig *r = opaque;
	cr_assert_lt(q, NQ);
	/* An unmapped call is always about where it was mapped. */
	if (!mapped)
		cr_assert(r->nm[q].mapped && r->nm[q].gpa == gpa);
	r->nm[q] = (struct notify_map){gpa, len, mapped, r->nm[q].calls + 1};
}

static void cfg_wr(struct rig *r, unsigned off, unsigned size, uint32_t v)
{
	pc_cfg_wr(&r->pc, SLOT, off, size, v);
}

static uint32_t cfg_rd(struct rig *r, unsigned off, unsigned size)
{
	return pc_cfg_rd(&r->pc, SLOT, off, size);
}

static uint64_t rd(struct rig *r, uint64_t a, unsigned size)
{
	return pc_rd(&r->pc, a, size);
}

static void wr(struct rig *r, uint64_t a, unsigned size, uint64_t v)
{
	pc_wr(&r->pc, a, size, v);
}

/* Common configuration register at BAR 4. */
static uint64_t crd(struct rig *r, unsigned off, unsigned size)
{
	return rd(r, BAR + VIRTIO_PCI_COMMON_OFF + off, size);
}

static void cwr(struct rig *r, unsigned off, unsigned size, uint64_t v)
{
	wr(r, BAR + VIRTIO_PCI_COMMON_OFF + off, size, v);
}

/* Slot 5 INTA is PIRQA ((5 - 1) & 3), routed to IRQ 11; both BARs
 * programmed and memory decode on, as firmware would leave it. */
static struct rig *rig_new(bool msix)
{
	struct rig *r = calloc(1, sizeof(*r));
	fake_pc_init(&r->pc);
	r->ram = fake_ram_add(&r->gm, 0, RAM_SIZE, false);
	cr_assert_eq(
	    virtio_init(&r->vd, &dev_ops, r, &r->gm, 2, NQ, QSZ, VIRTIO_BIT(9)),
	    0);
	r->vd.config_len = 12;
	for (unsigned i = 0; i < 12; i++)
		r->vd.config[i] = 0xa0 + i;
	struct virtio_pci_wiring w = {.notify_moved = notify_moved,
				      .opaque = r};
	if (msix)
		w.msi = (struct msi_sink){sink, r};
	r->f = virtio_pci_init(&r->vp, &r->vd, r->pc.pb, SLOT, 0x010000, &w);
	cr_assert_not_null(r->f);
	cfg_wr(r, PCI_BAR0 + 4 * VIRTIO_PCI_BAR, 4, BAR);
	if (msix)
		cfg_wr(r, PCI_BAR0 + 4 * VIRTIO_PCI_MSIX_BAR, 4, MSIX_BAR);
	cfg_wr(r, PCI_COMMAND, 2, PCI_CMD_MEMORY | PCI_CMD_MASTER);
	cfg_wr(r, 0x3c, 1, IRQ);
	pc_route_pirq(&r->pc, 0, IRQ);
	r->drv = (struct vp_drv){&r->pc.mmio, BAR};
	return r;
}

static void rig_free(struct rig *r)
{
	virtio_pci_detach(&r->vp);
	pci_bus_free(r->pc.pb);
	r->pc.pb = NULL;
	cr_assert_eq(r->pc.mmio.n, 0);
	fake_pc_fini(&r->pc);
	free(r->ram);
	free(r);
}

/* ---- the driver's view ---- */

struct vcap {
	bool found;
	unsigned at, bar;
	uint32_t off, len;
};

struct caps {
	struct vcap v[6]; /* by cfg_type 1-5 */
	unsigned msix, n;
	uint32_t notify_mult;
};

/* Walks the capability list from 0x34 as Linux's virtio_pci_modern
 * does, with every pointer checked. */
static void walk_caps(struct rig *r, struct caps *c)
{
	memset(c, 0, sizeof(*c));
	cr_assert(cfg_rd(r, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	unsigned p = cfg_rd(r, PCI_CAP_PTR, 1);
	while (p) {
		cr_assert(p >= 0x40 && p <= 0xfc && !(p & 3), "cap at %x", p);
		cr_assert_lt(c->n++, 16, "capability loop");
		unsigned id = cfg_rd(r, p, 1);
		if (id == PCI_CAP_ID_VNDR) {
			unsigned len = cfg_rd(r, p + 2, 1);
			unsigned type = cfg_rd(r, p + 3, 1);
			cr_assert_geq(len, 16);
			cr_assert_leq(p + len, 256);
			cr_assert(type >= 1 && type <= 5, "type %u", type);
			cr_assert(!c->v[type].found, "type %u twice", type);
			c->v[type] = (struct vcap){true, p, cfg_rd(r, p + 4, 1),
						   cfg_rd(r, p + 8, 4),
						   cfg_rd(r, p + 12, 4)};
			if (type == VIRTIO_PCI_CAP_NOTIFY_CFG) {
				cr_assert_geq(len, 20);
				c->notify_mult = cfg_rd(r, p + 16, 4);
			}
		} else if (id == PCI_CAP_ID_MSIX) {
			c->msix = p;
		} else {
			cr_assert_fail("unexpected capability %x", id);
		}
		p = cfg_rd(r, p + 1, 1);
	}
}

Test(virtio_pci, identity)
{
	struct rig *r = rig_new(false);
	cr_assert_eq(cfg_rd(r, 0, 4), 0x10421af4);
	cr_assert_eq(cfg_rd(r, PCI_CLASS_REVISION, 4), 0x01000001);
	cr_assert_eq(cfg_rd(r, PCI_SUBSYS_VENDOR, 4), 0x11001af4);
	cr_assert_eq(cfg_rd(r, PCI_HEADER_TYPE, 1), 0);
	cr_assert_eq(cfg_rd(r, PCI_INTERRUPT_PIN, 1), 1);
	/* BAR 4: 16 KiB of 32-bit memory; no MSI-X BAR without a sink. */
	cfg_wr(r, PCI_BAR0 + 16, 4, 0xffffffff);
	cr_assert_eq(cfg_rd(r, PCI_BAR0 + 16, 4), 0xffffc000);
	cfg_wr(r, PCI_BAR0 + 4, 4, 0xffffffff);
	cr_assert_eq(cfg_rd(r, PCI_BAR0 + 4, 4), 0);
	cfg_wr(r, PCI_BAR0 + 16, 4, BAR);
	struct caps c;
	walk_caps(r, &c);
	cr_assert_eq(c.msix, 0);
	rig_free(r);
}

Test(virtio_pci, capabilities_as_a_driver_finds_them)
{
	struct rig *r = rig_new(true);
	struct caps c;
	walk_caps(r, &c);
	cr_assert_eq(c.n, 6);
	for (int t = 1; t <= 5; t++)
		cr_assert(c.v[t].found, "no cfg_type %d", t);
	struct vcap *com = &c.v[VIRTIO_PCI_CAP_COMMON_CFG];
	cr_assert_eq(com->bar, 4);
	cr_assert_eq(com->off, 0);
	cr_assert_geq(com->len, 0x38);
	struct vcap *isr = &c.v[VIRTIO_PCI_CAP_ISR_CFG];
	cr_assert_eq(isr->bar, 4);
	cr_assert_geq(isr->len, 1);
	struct vcap *dev = &c.v[VIRTIO_PCI_CAP_DEVICE_CFG];
	cr_assert_eq(dev->bar, 4);
	cr_assert_eq(dev->len, 12);
	struct vcap *nt = &c.v[VIRTIO_PCI_CAP_NOTIFY_CFG];
	cr_assert_eq(nt->bar, 4);
	cr_assert_eq(c.notify_mult, 4);
	/* Every structure lies inside the BAR, none overlaps another. */
	for (int t = 1; t <= 4; t++) {
		struct vcap *a = &c.v[t];
		cr_assert_leq(a->off + a->len, VIRTIO_PCI_BAR_SIZE);
		for (int u = t + 1; u <= 4; u++) {
			struct vcap *b = &c.v[u];
			cr_assert(a->off + a->len <= b->off ||
				  b->off + b->len <= a->off);
		}
	}
	/* Each queue's notify address (Linux's check: off * mult + 2 fits
	 * in the capability's length). */
	for (unsigned q = 0; q < NQ; q++) {
		cwr(r, VIRTIO_PCI_QUEUE_SELECT, 2, q);
		uint32_t noff = crd(r, VIRTIO_PCI_QUEUE_NOTIFY_OFF, 2);
		cr_assert_leq(noff * c.notify_mult + 2, nt->len);
		wr(r, BAR + nt->off + noff * c.notify_mult, 2, q);
	}
	/* Not live yet: kicks before DRIVER_OK do nothing. */
	cr_assert_eq(r->notifies[0] + r->notifies[1], 0);
	/* MSI-X: table and PBA in BAR 1, one vector per queue + config. */
	cr_assert_eq(cfg_rd(r, c.msix + 2, 2), NQ); /* N - 1 */
	cr_assert_eq(cfg_rd(r, c.msix + 4, 4), 0x000 | 1);
	cr_assert_eq(cfg_rd(r, c.msix + 8, 4), 0x800 | 1);
	/* The device config reads through BAR 4. */
	cr_assert_eq(rd(r, BAR + dev->off, 4), 0xa3a2a1a0);
	cr_assert_eq(rd(r, BAR + dev->off + 10, 2), 0xabaa);
	cr_assert_eq(rd(r, BAR + dev->off + 12, 4), 0);
	/* The vendor capabilities are read-only but for the window of the
	 * PCI config access capability. */
	unsigned at = com->at;
	uint32_t before[4];
	for (int i = 0; i < 4; i++)
		before[i] = cfg_rd(r, at + 4 * i, 4);
	for (int i = 0; i < 4; i++)
		cfg_wr(r, at + 4 * i, 4, 0x5a5a5a5a);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(cfg_rd(r, at + 4 * i, 4), before[i]);
	rig_free(r);
}

static void setup_queue(struct rig *r, unsigned q, uint32_t base)
{
	cwr(r, VIRTIO_PCI_QUEUE_SELECT, 2, q);
	cwr(r, VIRTIO_PCI_QUEUE_SIZE, 2, QSZ);
	cwr(r, VIRTIO_PCI_QUEUE_DESC, 4, base + DESC);
	cwr(r, VIRTIO_PCI_QUEUE_DESC + 4, 4, 0);
	cwr(r, VIRTIO_PCI_QUEUE_DRIVER, 4, base + AVAIL);
	cwr(r, VIRTIO_PCI_QUEUE_DRIVER + 4, 4, 0);
	cwr(r, VIRTIO_PCI_QUEUE_DEVICE, 8, base + USED);
	cwr(r, VIRTIO_PCI_QUEUE_ENABLE, 2, 1);
	cr_assert_eq(crd(r, VIRTIO_PCI_QUEUE_ENABLE, 2), 1);
}

static void driver_ok(struct rig *r, uint64_t features)
{
	vp_negotiate(&r->drv, features);
	cr_assert(crd(r, VIRTIO_PCI_DEVICE_STATUS, 1) &
		  VIRTIO_STATUS_FEATURES_OK);
	for (unsigned q = 0; q < NQ; q++)
		setup_queue(r, q, 0x10000 * (q + 1));
	cwr(r, VIRTIO_PCI_DEVICE_STATUS, 1, 0x0f);
	cr_assert_eq(crd(r, VIRTIO_PCI_DEVICE_STATUS, 1), 0x0f);
}

Test(virtio_pci, feature_negotiation)
{
	struct rig *r = rig_new(false);
	cwr(r, VIRTIO_PCI_DEVICE_FEATURE_SELECT, 4, 0);
	cr_assert_eq(crd(r, VIRTIO_PCI_DEVICE_FEATURE, 4),
		     (1u << 9) | (1u << 28) | (1u << 29));
	cwr(r, VIRTIO_PCI_DEVICE_FEATURE_SELECT, 4, 1);
	cr_assert_eq(crd(r, VIRTIO_PCI_DEVICE_FEATURE, 4), 1);
	cr_assert_eq(crd(r, VIRTIO_PCI_DEVICE_FEATURE_SELECT, 4), 1);
	cwr(r, VIRTIO_PCI_DEVICE_FEATURE_SELECT, 4, 2);
	cr_assert_eq(crd(r, VIRTIO_PCI_DEVICE_FEATURE, 4), 0);
	/* Without VERSION_1 FEATURES_OK does not stick. */
	vp_negotiate(&r->drv, VIRTIO_BIT(9));
	cr_assert_eq(crd(r, VIRTIO_PCI_DEVICE_STATUS, 1),
		     VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	/* Nor with a bit that was not offered. */
	vp_negotiate(&r->drv, F_V1 | VIRTIO_BIT(3));
	cr_assert_eq(
	    crd(r, VIRTIO_PCI_DEVICE_STATUS, 1) & VIRTIO_STATUS_FEATURES_OK, 0);
	vp_negotiate(&r->drv, F_V1 | VIRTIO_BIT(9));
	cr_assert_eq(crd(r, VIRTIO_PCI_DEVICE_STATUS, 1), 0x0b);
	cwr(r, VIRTIO_PCI_DRIVER_FEATURE_SELECT, 4, 0);
	cr_assert_eq(crd(r, VIRTIO_PCI_DRIVER_FEATURE, 4), 1u << 9);
	cwr(r, VIRTIO_PCI_DRIVER_FEATURE_SELECT, 4, 1);
	cr_assert_eq(crd(r, VIRTIO_PCI_DRIVER_FEATURE, 4), 1);
	/* Frozen now. */
	cwr(r, VIRTIO_PCI_DRIVER_FEATURE, 4, 0);
	cr_assert_eq(crd(r, VIRTIO_PCI_DRIVER_FEATURE, 4), 1);
	cr_assert_eq(r->vd.features, F_V1 | VIRTIO_BIT(9));
	rig_free(r);
}

Test(virtio_pci, queue_setup)
{
	struct rig *r = rig_new(true);
	cr_assert_eq(crd(r, VIRTIO_PCI_NUM_QUEUES, 2), NQ);
	vp_negotiate(&r->drv, F_V1);
	for (unsigned q = 0; q < NQ; q++) {
		cwr(r, VIRTIO_PCI_QUEUE_SELECT, 2, q);
		cr_assert_eq(crd(r, VIRTIO_PCI_QUEUE_SELECT, 2), q);
		cr_assert_eq(crd(r, VIRTIO_PCI_QUEUE_SIZE, 2), QSZ);
		cr_assert_eq(crd(r, VIRTIO_PCI_QUEUE_ENABLE, 2), 0);
		cr_assert_eq(crd(r, VIRTIO_PCI_QUEUE_NOTIFY_OFF, 2), q);
		cr_assert_eq(crd(r, VIRTIO_PCI_QUEUE_MSIX_VECTOR, 2),
			     VIRTIO_MSI_NO_VECTOR);
	}
	/* A smaller size, 64-bit addresses whole and in halves. */
	cwr(r, VIRTIO_PCI_QUEUE_SELECT, 2, 1);
	cwr(r, VIRTIO_PCI_QUEUE_SIZE, 2, 4);
	cwr(r, VIRTIO_PCI_QUEUE_DESC, 8, 0x123456789a0ull);
	cr_assert_eq(crd(r, VIRTIO_PCI_QUEUE_DESC, 8), 0x123456789a0ull);
	cwr(r, VIRTIO_PCI_QUEUE_DESC, 4, 0x4000);
	cr_assert_eq(crd(r, VIRTIO_PCI_QUEUE_DESC, 8), 0x12300004000ull);
	cwr(r, VIRTIO_PCI_QUEUE_DESC + 4, 4, 0);
	cr_assert_eq(crd(r, VIRTIO_PCI_QUEUE_DESC, 4), 0x4000);
	cr_assert_eq(crd(r, VIRTIO_PCI_QUEUE_DESC + 4, 4), 0);
	cwr(r, VIRTIO_PCI_QUEUE_DRIVER, 4, 0x5000);
	cwr(r, VIRTIO_PCI_QUEUE_DEVICE + 4, 4, 0);
	cwr(r, VIRTIO_PCI_QUEUE_DEVICE, 4, 0x6000);
	cwr(r, VIRTIO_PCI_QUEUE_MSIX_VECTOR, 2, 1);
	cr_assert_eq(crd(r, VIRTIO_PCI_QUEUE_MSIX_VECTOR, 2), 1);
	cwr(r, VIRTIO_PCI_QUEUE_MSIX_VECTOR, 2, NQ + 1); /* past the table */
	cr_assert_eq(crd(r, VIRTIO_PCI_QUEUE_MSIX_VECTOR, 2),
		     VIRTIO_MSI_NO_VECTOR);
	cwr(r, VIRTIO_PCI_QUEUE_ENABLE, 2, 0); /* ignored */
	cr_assert_eq(crd(r, VIRTIO_PCI_QUEUE_ENABLE, 2), 0);
	cwr(r, VIRTIO_PCI_QUEUE_ENABLE, 2, 1);
	cr_assert_eq(crd(r, VIRTIO_PCI_QUEUE_ENABLE, 2), 1);
	cr_assert_eq(r->vd.vq[1].size, 4);
	cr_assert_eq(r->vd.vq[1].avail_addr, 0x5000);
	cr_assert_eq(r->vd.vq[1].used_addr, 0x6000);
	/* Frozen once enabled. */
	cwr(r, VIRTIO_PCI_QUEUE_SIZE, 2, 8);
	cwr(r, VIRTIO_PCI_QUEUE_DESC, 8, 0x8000);
	cr_assert_eq(crd(r, VIRTIO_PCI_QUEUE_SIZE, 2), 4);
	cr_assert_eq(crd(r, VIRTIO_PCI_QUEUE_DESC, 8), 0x4000);
	/* A queue that does not exist. */
	cwr(r, VIRTIO_PCI_QUEUE_SELECT, 2, NQ);
	cr_assert_eq(crd(r, VIRTIO_PCI_QUEUE_SIZE, 2), 0);
	cwr(r, VIRTIO_PCI_QUEUE_SIZE, 2, 4);
	cwr(r, VIRTIO_PCI_QUEUE_ENABLE, 2, 1);
	cr_assert_eq(crd(r, VIRTIO_PCI_QUEUE_SIZE, 2), 0);
	cr_assert_eq(crd(r, VIRTIO_PCI_QUEUE_ENABLE, 2), 0);
	cr_assert(!r->vd.broken);
	/* A bad size breaks the device (DEVICE_NEEDS_RESET). */
	cwr(r, VIRTIO_PCI_QUEUE_SELECT, 2, 0);
	cwr(r, VIRTIO_PCI_QUEUE_SIZE, 2, 3);
	cwr(r, VIRTIO_PCI_QUEUE_ENABLE, 2, 1);
	cr_assert(crd(r, VIRTIO_PCI_DEVICE_STATUS, 1) &
		  VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	/* Reset: queues and vectors back to their defaults. */
	cwr(r, VIRTIO_PCI_QUEUE_SELECT, 2, 1);
	cwr(r, VIRTIO_PCI_DEVICE_STATUS, 1, 0);
	cr_assert_eq(crd(r, VIRTIO_PCI_DEVICE_STATUS, 1), 0);
	cr_assert_eq(crd(r, VIRTIO_PCI_QUEUE_SELECT, 2), 0);
	cwr(r, VIRTIO_PCI_QUEUE_SELECT, 2, 1);
	cr_assert_eq(crd(r, VIRTIO_PCI_QUEUE_SIZE, 2), QSZ);
	cr_assert_eq(crd(r, VIRTIO_PCI_QUEUE_ENABLE, 2), 0);
	cr_assert_eq(crd(r, VIRTIO_PCI_QUEUE_DESC, 8), 0);
	cr_assert_eq(crd(r, VIRTIO_PCI_QUEUE_MSIX_VECTOR, 2),
		     VIRTIO_MSI_NO_VECTOR);
	rig_free(r);
}

Test(virtio_pci, notify_registers_and_their_addresses)
{
	struct rig *r = rig_new(false);
	uint64_t gpa;
	unsigned len;
	/* Mapped by rig_new(): the vmm was told where. */
	for (unsigned q = 0; q < NQ; q++) {
		cr_assert(virtio_pci_notify_addr(&r->vp, q, &gpa, &len));
		cr_assert_eq(gpa, BAR + VIRTIO_PCI_NOTIFY_OFF + 4 * q);
		cr_assert_eq(len, 2);
		cr_assert(r->nm[q].mapped);
		cr_assert_eq(r->nm[q].gpa, gpa);
		cr_assert_eq(r->nm[q].len, 2);
	}
	cr_assert(!virtio_pci_notify_addr(&r->vp, NQ, &gpa, &len));
	driver_ok(r, F_V1);
	int n0 = r->notifies[0], n1 = r->notifies[1];
	wr(r, BAR + VIRTIO_PCI_NOTIFY_OFF, 2, 0);
	wr(r, BAR + VIRTIO_PCI_NOTIFY_OFF + 4, 2, 1);
	wr(r, BAR + VIRTIO_PCI_NOTIFY_OFF + 4, 4, 0xdead); /* value unused */
	cr_assert_eq(r->notifies[0], n0 + 1);
	cr_assert_eq(r->notifies[1], n1 + 2);
	/* The address of a queue that does not exist kicks nothing. */
	wr(r, BAR + VIRTIO_PCI_NOTIFY_OFF + 4 * NQ, 2, NQ);
	wr(r, BAR + VIRTIO_PCI_BAR_SIZE - 2, 2, 0);
	cr_assert_eq(r->notifies[0] + r->notifies[1], n0 + n1 + 3);
	/* What an ioeventfd that fired does. */
	virtio_queue_kick(&r->vd, 1);
	cr_assert_eq(r->notifies[1], n1 + 3);
	/* Move the BAR: old place unmapped, new one mapped. */
	int calls = r->nm[0].calls;
	cfg_wr(r, PCI_BAR0 + 16, 4, 0xfe000000);
	cr_assert_eq(r->nm[0].calls, calls + 2);
	cr_assert(r->nm[1].mapped);
	cr_assert_eq(r->nm[1].gpa, 0xfe000000 + VIRTIO_PCI_NOTIFY_OFF + 4);
	cr_assert(virtio_pci_notify_addr(&r->vp, 1, &gpa, &len));
	cr_assert_eq(gpa, 0xfe003004);
	/* Memory decode off: gone. */
	cfg_wr(r, PCI_COMMAND, 2, 0);
	cr_assert(!r->nm[0].mapped && !r->nm[1].mapped);
	cr_assert(!virtio_pci_notify_addr(&r->vp, 0, &gpa, &len));
	cfg_wr(r, PCI_COMMAND, 2, PCI_CMD_MEMORY);
	cr_assert(r->nm[0].mapped);
	/* Detach: unmapped for good. */
	virtio_pci_detach(&r->vp);
	cr_assert(!r->nm[0].mapped && !r->nm[1].mapped);
	cr_assert_null(bus_find(&r->pc.mmio, 0xfe000000));
	cfg_wr(r, PCI_COMMAND, 2, PCI_CMD_MEMORY);
	cr_assert_null(bus_find(&r->pc.mmio, 0xfe000000));
	rig_free(r);
}

Test(virtio_pci, isr_read_clears_and_drops_intx)
{
	struct rig *r = rig_new(false);
	driver_ok(r, F_V1);
	cr_assert_eq(r->pc.pic[IRQ], 0);
	virtio_config_changed(&r->vd);
	cr_assert_eq(r->pc.pic[IRQ], 1);
	cr_assert(virtio_pci_intx(&r->vp));
	/* Reading other ISR bytes, or the device config, does not clear. */
	cr_assert_eq(rd(r, BAR + VIRTIO_PCI_ISR_OFF + 1, 1), 0);
	cr_assert_eq(r->pc.pic[IRQ], 1);
	cr_assert_eq(crd(r, VIRTIO_PCI_CONFIG_GENERATION, 1), 1);
	/* A queue interrupt adds bit 0. */
	r->vd.transport.interrupt(r->vd.transport.opaque, 1);
	cr_assert_eq(rd(r, BAR + VIRTIO_PCI_ISR_OFF, 1),
		     VIRTIO_PCI_ISR_QUEUE | VIRTIO_PCI_ISR_CONFIG);
	cr_assert_eq(r->pc.pic[IRQ], 0);
	cr_assert_eq(rd(r, BAR + VIRTIO_PCI_ISR_OFF, 1), 0);
	/* Writes to the ISR do nothing. */
	r->vd.transport.interrupt(r->vd.transport.opaque, 0);
	wr(r, BAR + VIRTIO_PCI_ISR_OFF, 1, 0xff);
	cr_assert_eq(r->pc.pic[IRQ], 1);
	/* INTx Disable masks the pin; the status bit still shows it. */
	cfg_wr(r, PCI_COMMAND, 2, PCI_CMD_MEMORY | PCI_CMD_INTX_DISABLE);
	cr_assert_eq(r->pc.pic[IRQ], 0);
	cr_assert(cfg_rd(r, PCI_STATUS, 2) & PCI_STATUS_INTX);
	cfg_wr(r, PCI_COMMAND, 2, PCI_CMD_MEMORY);
	cr_assert_eq(r->pc.pic[IRQ], 1);
	/* A device reset clears the ISR and the line. */
	cwr(r, VIRTIO_PCI_DEVICE_STATUS, 1, 0);
	cr_assert_eq(r->pc.pic[IRQ], 0);
	cr_assert_eq(rd(r, BAR + VIRTIO_PCI_ISR_OFF, 1), 0);
	rig_free(r);
}

/* ---- MSI-X ---- */

static void msix_entry(struct rig *r, unsigned v, uint64_t addr, uint32_t data,
		       bool masked)
{
	pc_msix_entry(&r->pc, MSIX_BAR, v, addr, data, masked);
}

static void msix_ctrl(struct rig *r, unsigned cap, uint16_t flags)
{
	cfg_wr(r, cap + 2, 2, flags);
}

static void fire(struct rig *r, int q)
{
	r->vd.transport.interrupt(r->vd.transport.opaque, q);
}

Test(virtio_pci, msix_table_mask_and_pba)
{
	struct rig *r = rig_new(true);
	struct caps c;
	walk_caps(r, &c);
	/* Out of reset every vector is masked, the PBA clear. */
	for (unsigned v = 0; v <= NQ; v++)
		cr_assert_eq(rd(r, MSIX_BAR + 16 * v + 12, 4), 1);
	cr_assert_eq(rd(r, MSIX_BAR + 0x800, 8), 0);
	driver_ok(r, F_V1);
	msix_entry(r, 0, 0xfee00000, 0x4041, false);
	msix_entry(r, 1, 0xfee01000, 0x4042, false);
	msix_entry(r, 2, 0xfee02003, 0x4043, true); /* bits 1:0 reserved */
	cr_assert_eq(rd(r, MSIX_BAR + 32, 4), 0xfee02000);
	cr_assert_eq(rd(r, MSIX_BAR + 8, 4), 0x4041);
	cr_assert_eq(rd(r, MSIX_BAR + 16, 8), 0xfee01000);
	cwr(r, VIRTIO_PCI_MSIX_CONFIG, 2, 0);
	cwr(r, VIRTIO_PCI_QUEUE_SELECT, 2, 0);
	cwr(r, VIRTIO_PCI_QUEUE_MSIX_VECTOR, 2, 1);
	cwr(r, VIRTIO_PCI_QUEUE_SELECT, 2, 1);
	cwr(r, VIRTIO_PCI_QUEUE_MSIX_VECTOR, 2, 2);
	cr_assert_eq(crd(r, VIRTIO_PCI_MSIX_CONFIG, 2), 0);
	/* MSI-X still off: INTx and the ISR. */
	fire(r, 0);
	cr_assert_eq(r->nmsi, 0);
	cr_assert_eq(r->pc.pic[IRQ], 1);
	/* Enabling MSI-X takes INTx down. */
	msix_ctrl(r, c.msix, PCI_MSIX_FLAGS_ENABLE);
	cr_assert_eq(cfg_rd(r, c.msix + 2, 2), PCI_MSIX_FLAGS_ENABLE | NQ);
	cr_assert_eq(r->pc.pic[IRQ], 0);
	fire(r, 0);
	cr_assert_eq(r->nmsi, 1);
	cr_assert_eq(r->msi[0].addr, 0xfee01000);
	cr_assert_eq(r->msi[0].data, 0x4042);
	virtio_config_changed(&r->vd);
	cr_assert_eq(r->nmsi, 2);
	cr_assert_eq(r->msi[1].data, 0x4041);
	cr_assert_eq(r->pc.pic[IRQ], 0);
	/* Masked vector: pending bit, no message; unmask sends it. */
	fire(r, 1);
	fire(r, 1);
	cr_assert_eq(r->nmsi, 2);
	cr_assert_eq(rd(r, MSIX_BAR + 0x800, 4), 1u << 2);
	wr(r, MSIX_BAR + 0x800, 4, 0); /* the PBA is read-only */
	cr_assert_eq(rd(r, MSIX_BAR + 0x800, 4), 1u << 2);
	wr(r, MSIX_BAR + 32 + 12, 4, 0);
	cr_assert_eq(r->nmsi, 3);
	cr_assert_eq(r->msi[2].data, 0x4043);
	cr_assert_eq(rd(r, MSIX_BAR + 0x800, 4), 0);
	/* The function mask holds every vector. */
	msix_ctrl(r, c.msix, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	fire(r, 0);
	virtio_config_changed(&r->vd);
	cr_assert_eq(r->nmsi, 3);
	cr_assert_eq(rd(r, MSIX_BAR + 0x800, 1), 3);
	msix_ctrl(r, c.msix, PCI_MSIX_FLAGS_ENABLE);
	cr_assert_eq(r->nmsi, 5);
	cr_assert_eq(rd(r, MSIX_BAR + 0x800, 1), 0);
	/* NO_VECTOR: no interrupt at all. */
	cwr(r, VIRTIO_PCI_MSIX_CONFIG, 2, VIRTIO_MSI_NO_VECTOR);
	virtio_config_changed(&r->vd);
	cr_assert_eq(r->nmsi, 5);
	cr_assert_eq(r->pc.pic[IRQ], 0);
	cr_assert_eq(r->vp.msis, 5);
	/* MSI-X off again: back to the ISR and INTx. */
	msix_ctrl(r, c.msix, 0);
	fire(r, 1);
	cr_assert_eq(r->nmsi, 5);
	cr_assert_eq(r->pc.pic[IRQ], 1);
	cr_assert_eq(rd(r, BAR + VIRTIO_PCI_ISR_OFF, 1), 1);
	/* Writes the table does not take: byte, word, misaligned, past
	 * the last vector. */
	wr(r, MSIX_BAR + 8, 1, 0xff);
	wr(r, MSIX_BAR + 8, 2, 0xffff);
	wr(r, MSIX_BAR + 10, 4, 0xffffffff);
	wr(r, MSIX_BAR + 16 * (NQ + 1), 4, 0xffffffff);
	cr_assert_eq(rd(r, MSIX_BAR + 8, 4), 0x4041);
	cr_assert_eq(rd(r, MSIX_BAR + 16 * (NQ + 1), 4), 0);
	/* Vector control keeps the mask bit only. */
	wr(r, MSIX_BAR + 12, 4, 0xffffffff);
	cr_assert_eq(rd(r, MSIX_BAR + 12, 4), 1);
	rig_free(r);
}

/* ---- PCI configuration access capability ---- */

static uint32_t window_rd(struct rig *r, unsigned cap, unsigned bar,
			  uint32_t off, uint32_t len)
{
	cfg_wr(r, cap + 4, 1, bar);
	cfg_wr(r, cap + 8, 4, off);
	cfg_wr(r, cap + 12, 4, len);
	return cfg_rd(r, cap + 16, len == 1 || len == 2 ? len : 4);
}

static void window_wr(struct rig *r, unsigned cap, unsigned bar, uint32_t off,
		      uint32_t len, uint32_t v)
{
	cfg_wr(r, cap + 4, 1, bar);
	cfg_wr(r, cap + 8, 4, off);
	cfg_wr(r, cap + 12, 4, len);
	cfg_wr(r, cap + 16, len == 1 || len == 2 ? len : 4, v);
}

Test(virtio_pci, pci_config_access_window)
{
	struct rig *r = rig_new(true);
	struct caps c;
	walk_caps(r, &c);
	unsigned cap = c.v[VIRTIO_PCI_CAP_PCI_CFG].at;
	/* Works with the BAR not decoded, as SeaBIOS may use it. */
	cfg_wr(r, PCI_COMMAND, 2, 0);
	cr_assert_eq(window_rd(r, cap, 4, VIRTIO_PCI_NUM_QUEUES, 2), NQ);
	cr_assert_eq(window_rd(r, cap, 4, VIRTIO_PCI_DEVICE_OFF, 4),
		     0xa3a2a1a0);
	window_wr(r, cap, 4, VIRTIO_PCI_DEVICE_STATUS, 1,
		  VIRTIO_STATUS_ACKNOWLEDGE);
	cr_assert_eq(r->vd.status, VIRTIO_STATUS_ACKNOWLEDGE);
	window_wr(r, cap, 4, VIRTIO_PCI_DEVICE_FEATURE_SELECT, 4, 1);
	cr_assert_eq(window_rd(r, cap, 4, VIRTIO_PCI_DEVICE_FEATURE, 4), 1);
	/* The MSI-X BAR too. */
	cr_assert_eq(window_rd(r, cap, 1, 12, 4), 1);
	/* ISR through the window clears it. */
	cwr(r, VIRTIO_PCI_DEVICE_STATUS, 1, 0);
	cfg_wr(r, PCI_COMMAND, 2, PCI_CMD_MEMORY);
	driver_ok(r, F_V1);
	cfg_wr(r, PCI_COMMAND, 2, 0);
	fire(r, 0);
	cr_assert_eq(window_rd(r, cap, 4, VIRTIO_PCI_ISR_OFF, 1), 1);
	cr_assert_eq(r->pc.pic[IRQ], 0);
	/* Bad windows do nothing: length 3 or 8, misaligned, past the
	 * BAR, a BAR that does not exist. */
	uint8_t st = r->vd.status;
	window_wr(r, cap, 4, VIRTIO_PCI_DEVICE_STATUS, 3, 0);
	window_wr(r, cap, 4, VIRTIO_PCI_DEVICE_STATUS, 8, 0);
	window_wr(r, cap, 4, VIRTIO_PCI_DEVICE_STATUS - 1, 2, 0);
	window_wr(r, cap, 4, VIRTIO_PCI_BAR_SIZE, 1, 0);
	window_wr(r, cap, 4, 0xfffffffc, 4, 0);
	window_wr(r, cap, 0, VIRTIO_PCI_DEVICE_STATUS, 1, 0);
	window_wr(r, cap, 7, VIRTIO_PCI_DEVICE_STATUS, 1, 0);
	cr_assert_eq(r->vd.status, st);
	/* Reading a bad window gives back what the data field holds. */
	cfg_wr(r, cap + 16, 4, 0x12345678);
	cr_assert_eq(window_rd(r, cap, 4, 0xfffffffc, 4), 0x12345678);
	rig_free(r);
}

Test(virtio_pci, odd_accesses_to_common_config)
{
	struct rig *r = rig_new(false);
	vp_negotiate(&r->drv, F_V1);
	uint8_t st = r->vd.status;
	/* Wrong widths: read 0, write nothing. */
	cr_assert_eq(crd(r, VIRTIO_PCI_NUM_QUEUES, 4), 0);
	cr_assert_eq(crd(r, VIRTIO_PCI_DEVICE_STATUS, 2), 0);
	cr_assert_eq(crd(r, VIRTIO_PCI_NUM_QUEUES + 1, 2), 0);
	/* Narrower reads inside one field return its bytes (iPXE reads the
	 * feature words 16 bits at a time). */
	cr_assert_eq(crd(r, VIRTIO_PCI_NUM_QUEUES, 1), NQ);
	cwr(r, VIRTIO_PCI_DEVICE_FEATURE_SELECT, 4, 1);
	uint32_t hi = crd(r, VIRTIO_PCI_DEVICE_FEATURE, 4);
	cr_assert_eq(hi & 1, 1, "VERSION_1 offered");
	cr_assert_eq(crd(r, VIRTIO_PCI_DEVICE_FEATURE, 2), hi & 0xffff);
	cr_assert_eq(crd(r, VIRTIO_PCI_DEVICE_FEATURE + 2, 2), hi >> 16);
	cr_assert_eq(crd(r, VIRTIO_PCI_DEVICE_FEATURE + 3, 1), hi >> 24);
	cr_assert_eq(crd(r, VIRTIO_PCI_DEVICE_FEATURE + 1, 2), 0);
	cwr(r, VIRTIO_PCI_DEVICE_FEATURE_SELECT, 4, 0);
	cr_assert_eq(crd(r, VIRTIO_PCI_QUEUE_DESC + 4, 4),
		     crd(r, VIRTIO_PCI_QUEUE_DESC, 8) >> 32);
	cr_assert_eq(crd(r, VIRTIO_PCI_QUEUE_DESC + 2, 4), 0);
	cr_assert_eq(crd(r, VIRTIO_PCI_COMMON_LEN, 4), 0);
	cr_assert_eq(crd(r, 0xffc, 4), 0);
	cwr(r, VIRTIO_PCI_DEVICE_STATUS, 2, 0);
	cwr(r, VIRTIO_PCI_DEVICE_STATUS - 2, 4, 0);
	cwr(r, VIRTIO_PCI_DEVICE_STATUS, 8, 0);
	cr_assert_eq(r->vd.status, st);
	cwr(r, VIRTIO_PCI_QUEUE_SELECT, 1, 1);
	cr_assert_eq(crd(r, VIRTIO_PCI_QUEUE_SELECT, 2), 0);
	/* Read-only fields ignore writes. */
	cwr(r, VIRTIO_PCI_NUM_QUEUES, 2, 7);
	cwr(r, VIRTIO_PCI_CONFIG_GENERATION, 1, 7);
	cwr(r, VIRTIO_PCI_DEVICE_FEATURE, 4, 0);
	cwr(r, VIRTIO_PCI_QUEUE_NOTIFY_OFF, 2, 7);
	cr_assert_eq(crd(r, VIRTIO_PCI_NUM_QUEUES, 2), NQ);
	cr_assert_eq(crd(r, VIRTIO_PCI_CONFIG_GENERATION, 1), 0);
	cr_assert_eq(crd(r, VIRTIO_PCI_QUEUE_NOTIFY_OFF, 2), 0);
	/* No MSI-X: vectors read NO_VECTOR whatever is written. */
	cwr(r, VIRTIO_PCI_MSIX_CONFIG, 2, 0);
	cwr(r, VIRTIO_PCI_QUEUE_MSIX_VECTOR, 2, 0);
	cr_assert_eq(crd(r, VIRTIO_PCI_MSIX_CONFIG, 2), VIRTIO_MSI_NO_VECTOR);
	cr_assert_eq(crd(r, VIRTIO_PCI_QUEUE_MSIX_VECTOR, 2),
		     VIRTIO_MSI_NO_VECTOR);
	/* Device config writes with no hook change nothing. */
	wr(r, BAR + VIRTIO_PCI_DEVICE_OFF, 4, 0);
	cr_assert_eq(rd(r, BAR + VIRTIO_PCI_DEVICE_OFF, 1), 0xa0);
	rig_free(r);
}

static uint32_t rng_state = 0x9e3779b9;

static uint32_t rng(void)
{
	return xorshift32(&rng_state);
}

/* Random accesses of every size to both BARs and the whole
 * configuration space, mixed with interrupts: nothing crashes, INTx
 * always matches the ISR and MSI-X state, vectors stay in range, BAR 4
 * stays where the guest put it. */
Test(virtio_pci, garbage_everywhere)
{
	struct rig *r = rig_new(true);
	struct caps c;
	walk_caps(r, &c);
	static const unsigned sizes[] = {1, 2, 4, 8};
	for (int i = 0; i < 200000; i++) {
		unsigned size = sizes[rng() % 4];
		uint64_t val = (uint64_t)rng() << 32 | rng();
		if (rng() % 4 == 0)
			val &= 0xff;
		switch (rng() % 10) {
		case 0:
		case 1:
		case 2: { /* common config, biased to real fields */
			static const uint8_t fields[][2] = {
			    {0x14, 1}, {0x16, 2}, {0x18, 2}, {0x1a, 2},
			    {0x1c, 2}, {0x10, 2}, {0x0c, 4}, {0x20, 4}};
			unsigned off = rng() % 0x40;
			if (rng() % 2)
				off &= ~(size - 1);
			if (rng() % 2) {
				unsigned k = rng() % 8;
				off = fields[k][0];
				size = fields[k][1];
				val = rng() % 2 ? rng() % 20 : val;
			}
			if (rng() % 2)
				rd(r, BAR + off, size);
			else
				wr(r, BAR + off, size, val);
			break;
		}
		case 3:
			wr(r, BAR + (rng() % VIRTIO_PCI_BAR_SIZE), size, val);
			break;
		case 4:
			rd(r, BAR + (rng() % VIRTIO_PCI_BAR_SIZE), size);
			break;
		case 5:
			wr(r, MSIX_BAR + (rng() % 0x900), size, val);
			break;
		case 6:
			rd(r, MSIX_BAR + (rng() % 0x900), size);
			break;
		case 7: { /* capabilities and the MSI-X control word */
			unsigned off = 0x40 + rng() % 0xc0;
			if (size > 4)
				size = 4;
			if (off % 4 + size > 4)
				size = 1;
			if (rng() % 2)
				cfg_rd(r, off, size);
			else
				cfg_wr(r, off, size, val);
			break;
		}
		case 8:
			fire(r, rng() % 4 == 0 ? VIRTIO_CONFIG_IRQ
					       : (int)(rng() % NQ));
			break;
		default:
			virtio_queue_kick(&r->vd, rng() % (NQ + 2));
			break;
		}
		bool msix = cfg_rd(r, c.msix + 2, 2) & PCI_MSIX_FLAGS_ENABLE;
		cr_assert_eq(virtio_pci_intx(&r->vp), r->vp.isr && !msix);
		cr_assert_eq(r->pc.pic[IRQ], virtio_pci_intx(&r->vp));
		cr_assert(r->vp.config_vector == VIRTIO_MSI_NO_VECTOR ||
			  r->vp.config_vector <= NQ);
		cr_assert_eq(r->vp.msix_pending >> (NQ + 1), 0);
		cr_assert_not_null(bus_find(&r->pc.mmio, BAR));
	}
	cr_assert_gt(r->nmsi, 0);
	cr_assert_gt(r->vd.errors + r->resets, 0);
	rig_free(r);
}
