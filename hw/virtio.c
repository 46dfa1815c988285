/*
 * Virtio 1.x device core and split virtqueues (VIRTIO 1.1, chapters 2-3).
 * See hw/virtio.h for the model and for what breaks the device.
 *
 * Ring accesses: the rings are in guest RAM, checked once when the queue
 * is enabled (guest RAM never moves), and kept as host pointers. Every
 * descriptor is copied to a local before it is checked, so a guest that
 * rewrites a descriptor while it is walked only ever gets one of its two
 * versions used. The host is little-endian (x86), as the modern virtio
 * rings are: 16-bit ring fields are read and written in place.
 */
#include "hw/virtio.h"

#include <string.h>

#include "ioreq/bytes.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "virtio rings are little-endian; this code reads them in place"
#endif

#define TRANSPORT_FEATURES                                                     \
	(VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC) | \
	 VIRTIO_BIT(VIRTIO_F_EVENT_IDX))
#define STATUS_DRIVER_BITS                                                     \
	(VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |                    \
	 VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK |                 \
	 VIRTIO_STATUS_FAILED)

static bool pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

static void raise_irq(struct virtio_dev *vd, int q)
{
	vd->interrupts++;
	if (vd->transport.interrupt)
		vd->transport.interrupt(vd->transport.opaque, q);
}

/* ---- ring fields (offsets from spec 2.6.6 and 2.6.8) ---- */

static uint16_t *avail_field(const struct virtq *vq, unsigned i)
{
	/* 0 flags, 1 idx, 2.. ring[], 2 + size used_event */
	return (uint16_t *)(vq->avail + 2 * i);
}

static uint16_t avail_idx(const struct virtq *vq)
{
	return __atomic_load_n(avail_field(vq, 1), __ATOMIC_ACQUIRE);
}

static uint16_t avail_flags(const struct virtq *vq)
{
	return __atomic_load_n(avail_field(vq, 0), __ATOMIC_RELAXED);
}

static uint16_t avail_ring(const struct virtq *vq, uint16_t idx)
{
	return __atomic_load_n(avail_field(vq, 2 + (idx & (vq->size - 1))),
			       __ATOMIC_RELAXED);
}

static uint16_t used_event(const struct virtq *vq)
{
	return __atomic_load_n(avail_field(vq, 2 + vq->size), __ATOMIC_RELAXED);
}

static void set_used_flags(struct virtq *vq, uint16_t v)
{
	__atomic_store_n((uint16_t *)vq->used, v, __ATOMIC_RELAXED);
}

static void set_avail_event(struct virtq *vq, uint16_t v)
{
	__atomic_store_n((uint16_t *)(vq->used + 4 + 8 * vq->size), v,
			 __ATOMIC_RELAXED);
}

static void put_used_elem(struct virtq *vq, uint16_t idx, uint32_t id,
			  uint32_t len)
{
	uint8_t b[8];
	put_le(b, 4, id);
	put_le(b + 4, 4, len);
	memcpy(vq->used + 4 + 8 * (idx & (vq->size - 1)), b, sizeof(b));
}

static void set_used_idx(struct virtq *vq, uint16_t v)
{
	__atomic_store_n((uint16_t *)(vq->used + 2), v, __ATOMIC_RELEASE);
}

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

/* One copy out of guest memory; only the copy is looked at. */
static void read_desc(const uint8_t *table, unsigned i, struct desc *d)
{
	uint8_t b[VIRTQ_DESC_SIZE];
	memcpy(b, table + (size_t)VIRTQ_DESC_SIZE * i, sizeof(b));
	d->addr = get_le(b, 8);
	d->len = get_le(b + 8, 4);
	d->flags = get_le(b + 12, 2);
	d->next = get_le(b + 14, 2);
}

/* ---- device state ---- */

static void queue_reset(struct virtq *vq)
{
	vq->size = vq->max_size;
	vq->enabled = false;
	vq->desc_addr = vq->avail_addr = vq->used_addr = 0;
	vq->desc = vq->avail = vq->used = NULL;
	vq->last_avail = vq->used_idx = vq->signalled_used = 0;
	vq->notify_on = true;
}

int virtio_init(struct virtio_dev *vd, const struct virtio_dev_ops *ops,
		void *opaque, struct guest_mem *gm, uint16_t device_id,
		unsigned nqueues, uint16_t qsize, uint64_t dev_features)
{
	if (!nqueues || nqueues > VIRTIO_MAX_QUEUES || !pow2(qsize) ||
	    qsize > VIRTIO_QUEUE_MAX_SIZE)
		return -1;
	memset(vd, 0, sizeof(*vd));
	vd->ops = ops;
	vd->opaque = opaque;
	vd->gm = gm;
	vd->device_id = device_id;
	vd->host_features = dev_features | TRANSPORT_FEATURES;
	vd->nqueues = nqueues;
	for (unsigned i = 0; i < nqueues; i++) {
		vd->vq[i].vd = vd;
		vd->vq[i].index = i;
		vd->vq[i].max_size = qsize;
		queue_reset(&vd->vq[i]);
	}
	return 0;
}

void virtio_set_transport(struct virtio_dev *vd, struct virtio_transport t)
{
	vd->transport = t;
}

void virtio_reset(struct virtio_dev *vd)
{
	if (vd->ops && vd->ops->reset)
		vd->ops->reset(vd);
	vd->status = 0;
	vd->broken = false;
	vd->features = 0;
	for (unsigned i = 0; i < vd->nqueues; i++)
		queue_reset(&vd->vq[i]);
}

void virtio_error(struct virtio_dev *vd)
{
	if (vd->broken)
		return;
	vd->broken = true;
	vd->errors++;
	vd->status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
	if (vd->status & VIRTIO_STATUS_DRIVER_OK)
		raise_irq(vd, VIRTIO_CONFIG_IRQ);
}

void virtio_config_changed(struct virtio_dev *vd)
{
	vd->config_generation++;
	if (vd->status & VIRTIO_STATUS_DRIVER_OK)
		raise_irq(vd, VIRTIO_CONFIG_IRQ);
}

/* ---- features and status ---- */

uint32_t virtio_device_features(const struct virtio_dev *vd, uint32_t sel)
{
	return sel < 2 ? (uint32_t)(vd->host_features >> (32 * sel)) : 0;
}

uint32_t virtio_driver_features(const struct virtio_dev *vd, uint32_t sel)
{
	return sel < 2 ? (uint32_t)(vd->features >> (32 * sel)) : 0;
}

void virtio_set_driver_features(struct virtio_dev *vd, uint32_t sel,
				uint32_t val)
{
	if (sel >= 2 || (vd->status & VIRTIO_STATUS_FEATURES_OK))
		return;
	uint64_t mask = 0xffffffffull << (32 * sel);
	vd->features = (vd->features & ~mask) | ((uint64_t)val << (32 * sel));
}

static bool features_acceptable(struct virtio_dev *vd)
{
	uint64_t f = vd->features;
	if (!(f & VIRTIO_BIT(VIRTIO_F_VERSION_1)))
		return false; /* a legacy driver: not served here */
	if (f & ~vd->host_features)
		return false;
	return !vd->ops || !vd->ops->features_ok || vd->ops->features_ok(vd, f);
}

void virtio_set_status(struct virtio_dev *vd, uint8_t val)
{
	uint8_t old = vd->status;
	if (val == 0) {
		virtio_reset(vd);
		return;
	}
	uint8_t v = (val & STATUS_DRIVER_BITS) | (old & STATUS_DRIVER_BITS);
	if ((v & VIRTIO_STATUS_FEATURES_OK) &&
	    !(old & VIRTIO_STATUS_FEATURES_OK) && !features_acceptable(vd))
		v &= ~VIRTIO_STATUS_FEATURES_OK;
	if (!(v & VIRTIO_STATUS_FEATURES_OK))
		v &= ~VIRTIO_STATUS_DRIVER_OK;
	vd->status = v | (old & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	/* Buffers made available before DRIVER_OK wait for no kick. */
	if ((v & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK))
		for (unsigned i = 0; i < vd->nqueues; i++)
			if (vd->vq[i].enabled)
				virtio_queue_kick(vd, i);
}

/* ---- queue setup ---- */

static struct virtq *setup_queue(struct virtio_dev *vd, unsigned q)
{
	if (q >= vd->nqueues || vd->vq[q].enabled ||
	    (vd->status & VIRTIO_STATUS_DRIVER_OK))
		return NULL;
	return &vd->vq[q];
}

void virtq_set_size(struct virtio_dev *vd, unsigned q, uint16_t size)
{
	struct virtq *vq = setup_queue(vd, q);
	if (vq)
		vq->size = size; /* checked by virtq_enable() */
}

void virtq_set_addr(struct virtio_dev *vd, unsigned q, int which, uint64_t addr)
{
	struct virtq *vq = setup_queue(vd, q);
	if (!vq)
		return;
	if (which == 0)
		vq->desc_addr = addr;
	else if (which == 1)
		vq->avail_addr = addr;
	else if (which == 2)
		vq->used_addr = addr;
}

int virtq_enable(struct virtio_dev *vd, unsigned q)
{
	if (q < vd->nqueues && vd->vq[q].enabled)
		return 0;
	struct virtq *vq = setup_queue(vd, q);
	if (!vq || vd->broken)
		return -1;
	uint16_t n = vq->size;
	if (!pow2(n) || n > vq->max_size || vq->desc_addr % VIRTQ_DESC_ALIGN ||
	    vq->avail_addr % VIRTQ_AVAIL_ALIGN ||
	    vq->used_addr % VIRTQ_USED_ALIGN)
		goto bad;
	/* Sizes with used_event/avail_event, whatever the features. */
	vq->desc =
	    gm_ptr(vd->gm, vq->desc_addr, (uint64_t)VIRTQ_DESC_SIZE * n, false);
	vq->avail = gm_ptr(vd->gm, vq->avail_addr, 6 + 2ull * n, false);
	vq->used = gm_ptr(vd->gm, vq->used_addr, 6 + 8ull * n, true);
	if (!vq->desc || !vq->avail || !vq->used)
		goto bad;
	vq->enabled = true;
	vq->last_avail = vq->used_idx = vq->signalled_used = 0;
	vq->notify_on = true;
	return 0;
bad:
	vq->desc = vq->avail = vq->used = NULL;
	virtio_error(vd);
	return -1;
}

void virtio_queue_kick(struct virtio_dev *vd, unsigned q)
{
	if (q >= vd->nqueues)
		return;
	vd->kicks++;
	if (!(vd->status & VIRTIO_STATUS_DRIVER_OK) || vd->broken ||
	    !vd->vq[q].enabled)
		return;
	if (vd->ops && vd->ops->queue_notify)
		vd->ops->queue_notify(vd, q);
}

/* ---- device-specific configuration ---- */

uint64_t virtio_config_read(const struct virtio_dev *vd, unsigned off,
			    unsigned size)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < size && i < 8; i++)
		if ((uint64_t)off + i < vd->config_len)
			v |= (uint64_t)vd->config[off + i] << (8 * i);
	return v;
}

void virtio_config_write(struct virtio_dev *vd, unsigned off, unsigned size,
			 uint64_t val)
{
	if (vd->ops && vd->ops->config_write && off < vd->config_len)
		vd->ops->config_write(vd, off, size, val);
}

/* ---- popping a chain ---- */

static bool queue_live(const struct virtq *vq)
{
	const struct virtio_dev *vd = vq->vd;
	return vq->enabled && !vd->broken &&
	       (vd->status & VIRTIO_STATUS_DRIVER_OK);
}

struct walk {
	struct virtq_elem *e;
	uint64_t total;
	bool seen_in;
};

/* One buffer of the chain; -1 if the chain breaks the rules. */
static int add_seg(struct walk *w, const struct desc *d)
{
	struct virtq_elem *e = w->e;
	bool in = d->flags & VIRTQ_DESC_F_WRITE;
	if (!in && w->seen_in)
		return -1; /* readable after writable */
	w->seen_in |= in;
	w->total += d->len;
	if (w->total > UINT32_MAX)
		return -1;
	if (!d->len)
		return 0;
	e->seg[e->n_out + e->n_in] = (struct virtq_seg){d->addr, d->len};
	if (in) {
		e->n_in++;
		e->in_len += d->len;
	} else {
		e->n_out++;
		e->out_len += d->len;
	}
	return 0;
}

/* The chain inside an indirect table (spec 2.6.5.3). At most n entries
 * are visited, so a loop ends as "too long". */
static int walk_indirect(struct virtq *vq, const struct desc *ind,
			 struct walk *w)
{
	if (!(vq->vd->features & VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC)) ||
	    (ind->flags & VIRTQ_DESC_F_NEXT) || !ind->len ||
	    ind->len % VIRTQ_DESC_SIZE || ind->len / VIRTQ_DESC_SIZE > vq->size)
		return -1;
	unsigned n = ind->len / VIRTQ_DESC_SIZE;
	const uint8_t *table = gm_ptr(vq->vd->gm, ind->addr, ind->len, false);
	if (!table)
		return -1;
	struct desc d;
	unsigned i = 0;
	for (unsigned count = 1; count <= n; count++) {
		read_desc(table, i, &d);
		if ((d.flags & VIRTQ_DESC_F_INDIRECT) || add_seg(w, &d))
			return -1;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.next >= n)
			return -1;
		i = d.next;
	}
	return -1;
}

static int walk_chain(struct virtq *vq, uint16_t head, struct virtq_elem *e)
{
	struct walk w = {.e = e};
	struct desc d;
	e->head = head;
	e->n_out = e->n_in = 0;
	e->out_len = e->in_len = 0;
	read_desc(vq->desc, head, &d);
	if (d.flags & VIRTQ_DESC_F_INDIRECT)
		return walk_indirect(vq, &d, &w);
	for (unsigned count = 1; count <= vq->size; count++) {
		if ((d.flags & VIRTQ_DESC_F_INDIRECT) || add_seg(&w, &d))
			return -1; /* indirect only at the head */
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.next >= vq->size)
			return -1;
		read_desc(vq->desc, d.next, &d);
	}
	return -1; /* longer than the queue: a loop, or a broken chain */
}

bool virtq_has_work(struct virtq *vq)
{
	return queue_live(vq) && avail_idx(vq) != vq->last_avail;
}

int virtq_pop(struct virtq *vq, struct virtq_elem *e)
{
	if (!queue_live(vq))
		return 0;
	uint16_t pending = avail_idx(vq) - vq->last_avail;
	if (!pending)
		return 0;
	if (pending > vq->size)
		goto bad;
	uint16_t head = avail_ring(vq, vq->last_avail);
	if (head >= vq->size || walk_chain(vq, head, e))
		goto bad;
	vq->last_avail++;
	if (vq->notify_on &&
	    (vq->vd->features & VIRTIO_BIT(VIRTIO_F_EVENT_IDX)))
		set_avail_event(vq, vq->last_avail);
	return 1;
bad:
	virtio_error(vq->vd);
	return -1;
}

void virtq_unpop(struct virtq *vq, uint16_t n)
{
	vq->last_avail -= n;
	if (n && queue_live(vq) && vq->notify_on &&
	    (vq->vd->features & VIRTIO_BIT(VIRTIO_F_EVENT_IDX)))
		set_avail_event(vq, vq->last_avail);
}

/* ---- giving buffers back, and interrupts ---- */

void virtq_push(struct virtq *vq, uint16_t head, uint32_t len)
{
	if (!vq->enabled || vq->vd->broken)
		return; /* reset or broken meanwhile: the ring is not ours */
	put_used_elem(vq, vq->used_idx, head, len);
	vq->used_idx++;
	set_used_idx(vq, vq->used_idx);
}

bool virtq_should_notify(struct virtq *vq)
{
	if (!vq->enabled || vq->vd->broken)
		return false;
	/* used->idx must be visible before the driver's flag is read, or
	 * the driver may sleep on an interrupt we decide not to send. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	uint16_t old = vq->signalled_used, now = vq->used_idx;
	vq->signalled_used = now;
	if (now == old)
		return false; /* nothing new to tell */
	if (vq->vd->features & VIRTIO_BIT(VIRTIO_F_EVENT_IDX))
		/* used_event in [old, now): the driver asked for this one */
		return (uint16_t)(now - used_event(vq) - 1) <
		       (uint16_t)(now - old);
	return !(avail_flags(vq) & VIRTQ_AVAIL_F_NO_INTERRUPT);
}

void virtq_notify(struct virtq *vq)
{
	if (virtq_should_notify(vq))
		raise_irq(vq->vd, vq->index);
}

void virtq_disable_notify(struct virtq *vq)
{
	vq->notify_on = false;
	/* With EVENT_IDX an avail_event left behind suppresses kicks. */
	if (queue_live(vq) &&
	    !(vq->vd->features & VIRTIO_BIT(VIRTIO_F_EVENT_IDX)))
		set_used_flags(vq, VIRTQ_USED_F_NO_NOTIFY);
}

bool virtq_enable_notify(struct virtq *vq)
{
	vq->notify_on = true;
	if (!queue_live(vq))
		return false;
	if (vq->vd->features & VIRTIO_BIT(VIRTIO_F_EVENT_IDX))
		set_avail_event(vq, vq->last_avail);
	else
		set_used_flags(vq, 0);
	/* The driver reads our flag after publishing avail->idx; we read
	 * its idx after publishing the flag: one of us sees the other. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return avail_idx(vq) != vq->last_avail;
}

bool virtq_wait_more(struct virtq *vq, uint16_t have)
{
	uint16_t next = vq->last_avail + have;
	vq->notify_on = true;
	if (!queue_live(vq))
		return false;
	/* avail_event = last_avail would ask for a kick at an index the
	 * driver has passed already: it would never come. */
	if (vq->vd->features & VIRTIO_BIT(VIRTIO_F_EVENT_IDX))
		set_avail_event(vq, next);
	else
		set_used_flags(vq, 0);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return avail_idx(vq) != next;
}

/* ---- buffers ---- */

int virtio_map_segs(const struct guest_mem *gm, const struct virtq_seg *s,
		    unsigned n, bool write, struct iovec *iov)
{
	for (unsigned i = 0; i < n; i++) {
		void *p = gm_ptr(gm, s[i].addr, s[i].len, write);
		if (!p)
			return -1;
		iov[i] = (struct iovec){p, s[i].len};
	}
	return 0;
}

/* Copies between buf and bytes [off, off + len) of the segments. */
static int elem_copy(const struct virtio_dev *vd, const struct virtq_seg *s,
		     unsigned n, uint64_t off, uint8_t *buf, uint32_t len,
		     bool write)
{
	for (unsigned i = 0; i < n && len; i++) {
		if (off >= s[i].len) {
			off -= s[i].len;
			continue;
		}
		uint32_t k = s[i].len - off;
		if (k > len)
			k = len;
		int rc = write ? gm_write(vd->gm, s[i].addr + off, buf, k)
			       : gm_read(vd->gm, s[i].addr + off, buf, k);
		if (rc)
			return -1;
		buf += k;
		len -= k;
		off = 0;
	}
	return len ? -1 : 0;
}

int virtq_elem_read(const struct virtio_dev *vd, const struct virtq_elem *e,
		    uint64_t off, void *buf, uint32_t len)
{
	return elem_copy(vd, e->seg, e->n_out, off, buf, len, false);
}

int virtq_elem_write(const struct virtio_dev *vd, const struct virtq_elem *e,
		     uint64_t off, const void *buf, uint32_t len)
{
	return elem_copy(vd, e->seg + e->n_out, e->n_in, off, (uint8_t *)buf,
			 len, true);
}
