/* The guest's side for device tests; see fake_guest.h. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "hw/virtio.h"
#include "hw/virtio_pci.h"
#include "ioreq/bytes.h"
#include "tests/unit/fake_guest.h"

uint8_t *fake_ram_add(struct guest_mem *gm, uint64_t gpa, size_t size, bool rom)
{
	uint8_t *p = calloc(1, size);
	cr_assert_not_null(p);
	cr_assert_eq(gm_add(gm, gpa, size, p, rom), 0);
	return p;
}

/* ---- split virtqueues ---- */

void vring_put_desc(uint8_t *ram, uint64_t table, unsigned i, uint64_t addr,
		    uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *d = ram + table + 16 * i;
	put_le(d, 8, addr);
	put_le(d + 8, 4, len);
	put_le(d + 12, 2, flags);
	put_le(d + 14, 2, next);
}

void vring_init(struct vring_drv *q, uint8_t *ram, uint16_t size, uint64_t desc,
		uint64_t avail, uint64_t used)
{
	*q = (struct vring_drv){ram, desc, avail, used, size, 0, 0};
	memset(ram + desc, 0, 16 * size);
	memset(ram + avail, 0, 6 + 2 * size);
	memset(ram + used, 0, 6 + 8 * size);
}

void vring_add(struct vring_drv *q, uint16_t head)
{
	put_le(q->ram + q->avail + 4 + 2 * (q->avail_idx % q->size), 2, head);
	q->avail_idx++;
	put_le(q->ram + q->avail + 2, 2, q->avail_idx);
}

void vring_post(struct vring_drv *q, uint16_t head, const struct vring_buf *b,
		unsigned n, uint64_t table)
{
	for (unsigned i = 0; i < n; i++) {
		uint16_t fl = (b[i].write ? VIRTQ_DESC_F_WRITE : 0) |
			      (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0);
		if (table)
			vring_put_desc(q->ram, table, i, b[i].addr, b[i].len,
				       fl, i + 1);
		else
			vring_put_desc(q->ram, q->desc, (head + i) % q->size,
				       b[i].addr, b[i].len, fl,
				       (head + i + 1) % q->size);
	}
	if (table)
		vring_put_desc(q->ram, q->desc, head, table, 16 * n,
			       VIRTQ_DESC_F_INDIRECT, 0);
	vring_add(q, head);
}

uint16_t vring_used_idx(const struct vring_drv *q)
{
	return get_le(q->ram + q->used + 2, 2);
}

bool vring_take_used(struct vring_drv *q, uint32_t *id, uint32_t *len)
{
	if (vring_used_idx(q) == q->used_seen)
		return false;
	uint8_t *e = q->ram + q->used + 4 + 8 * (q->used_seen % q->size);
	*id = get_le(e, 4);
	*len = get_le(e + 4, 4);
	q->used_seen++;
	return true;
}

uint64_t vring_used_event(const struct vring_drv *q)
{
	return q->avail + 4 + 2 * q->size;
}

uint64_t vring_avail_event(const struct vring_drv *q)
{
	return q->used + 4 + 8 * q->size;
}

/* ---- virtio-pci ---- */

uint64_t vp_rd(const struct vp_drv *d, unsigned off, unsigned size)
{
	uint64_t v = 0;
	bus_access(d->mmio, d->bar + off, size, false, &v, 1);
	return v;
}

void vp_wr(const struct vp_drv *d, unsigned off, unsigned size, uint64_t v)
{
	bus_access(d->mmio, d->bar + off, size, true, &v, 1);
}

/* A common configuration register. */
static uint64_t common_rd(const struct vp_drv *d, unsigned reg, unsigned size)
{
	return vp_rd(d, VIRTIO_PCI_COMMON_OFF + reg, size);
}

static void common_wr(const struct vp_drv *d, unsigned reg, unsigned size,
		      uint64_t v)
{
	vp_wr(d, VIRTIO_PCI_COMMON_OFF + reg, size, v);
}

uint8_t vp_status(const struct vp_drv *d)
{
	return common_rd(d, VIRTIO_PCI_DEVICE_STATUS, 1);
}

uint64_t vp_offered(const struct vp_drv *d)
{
	uint64_t f = 0;
	for (unsigned sel = 0; sel < 2; sel++) {
		common_wr(d, VIRTIO_PCI_DEVICE_FEATURE_SELECT, 4, sel);
		f |= common_rd(d, VIRTIO_PCI_DEVICE_FEATURE, 4) << (32 * sel);
	}
	return f;
}

uint8_t vp_negotiate(const struct vp_drv *d, uint64_t features)
{
	common_wr(d, VIRTIO_PCI_DEVICE_STATUS, 1, 0);
	cr_assert_eq(vp_status(d), 0, "reset");
	common_wr(d, VIRTIO_PCI_DEVICE_STATUS, 1, VIRTIO_STATUS_ACKNOWLEDGE);
	common_wr(d, VIRTIO_PCI_DEVICE_STATUS, 1,
		  VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	for (unsigned sel = 0; sel < 2; sel++) {
		common_wr(d, VIRTIO_PCI_DRIVER_FEATURE_SELECT, 4, sel);
		common_wr(d, VIRTIO_PCI_DRIVER_FEATURE, 4,
			  (uint32_t)(features >> (32 * sel)));
	}
	common_wr(d, VIRTIO_PCI_DEVICE_STATUS, 1,
		  VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
		      VIRTIO_STATUS_FEATURES_OK);
	return vp_status(d);
}

void vp_queue(const struct vp_drv *d, unsigned q, const struct vring_drv *vq)
{
	common_wr(d, VIRTIO_PCI_QUEUE_SELECT, 2, q);
	common_wr(d, VIRTIO_PCI_QUEUE_SIZE, 2, vq->size);
	common_wr(d, VIRTIO_PCI_QUEUE_DESC, 8, vq->desc);
	common_wr(d, VIRTIO_PCI_QUEUE_DRIVER, 8, vq->avail);
	common_wr(d, VIRTIO_PCI_QUEUE_DEVICE, 8, vq->used);
	common_wr(d, VIRTIO_PCI_QUEUE_ENABLE, 2, 1);
}

void vp_driver_ok(const struct vp_drv *d)
{
	const uint8_t live = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			     VIRTIO_STATUS_FEATURES_OK |
			     VIRTIO_STATUS_DRIVER_OK;
	common_wr(d, VIRTIO_PCI_DEVICE_STATUS, 1, live);
	cr_assert_eq(vp_status(d), live);
}

void vp_kick(const struct vp_drv *d, unsigned q)
{
	vp_wr(d, VIRTIO_PCI_NOTIFY_OFF + VIRTIO_PCI_NOTIFY_MULT * q, 2, q);
}

uint32_t xorshift32(uint32_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 17;
	*state ^= *state << 5;
	return *state;
}
