/*
 * Virtio block device (VIRTIO 1.1, 5.2). See hw/virtio_blk.h for what it
 * offers and how each request type ends.
 *
 * Each popped chain gets one of VIRTIO_BLK_QUEUE_SIZE request slots,
 * holding the backend request (iovecs straight into guest RAM) and a host
 * pointer to the status byte, both from gm_ptr(). A driver that keeps
 * more chains in flight than that (by making one head available twice)
 * only stalls its queue until slots come back.
 */
#include "hw/virtio_blk.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ioreq/bytes.h"

struct vblk_req {
	struct blk_req br; /* first: done() gets &br */
	struct virtio_blk *s;
	struct vblk_req *next_free;
	uint8_t *status; /* in guest RAM */
	uint32_t used_len;
	uint16_t head;
	uint32_t type;
};

struct virtio_blk {
	struct virtio_dev vd;
	struct virtio_pci pci;
	bool on_pci;
	struct blk *blk;
	uint8_t serial[VIRTIO_BLK_ID_BYTES];
	struct vblk_req reqs[VIRTIO_BLK_QUEUE_SIZE];
	struct vblk_req *free_list;
	unsigned inflight; /* submitted to the backend */
	bool cancel;	   /* reset: completions only free their slot */
	bool stalled;	   /* out of slots with buffers waiting */
	struct virtq_elem elem;
	struct virtio_blk_stats stats;
};

static struct virtq *req_queue(struct virtio_blk *s)
{
	return &s->vd.vq[0];
}

static struct vblk_req *req_alloc(struct virtio_blk *s)
{
	struct vblk_req *r = s->free_list;
	if (r)
		s->free_list = r->next_free;
	return r;
}

static void req_free(struct virtio_blk *s, struct vblk_req *r)
{
	r->next_free = s->free_list;
	s->free_list = r;
}

static void count(struct virtio_blk *s, const struct vblk_req *r,
		  uint8_t status, uint64_t bytes)
{
	struct virtio_blk_stats *st = &s->stats;
	if (status == VIRTIO_BLK_S_UNSUPP) {
		st->unsupported++;
		return;
	}
	if (status != VIRTIO_BLK_S_OK)
		st->ioerrs++;
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
		st->reads++;
		st->read_bytes += status ? 0 : bytes;
		break;
	case VIRTIO_BLK_T_OUT:
		st->writes++;
		st->write_bytes += status ? 0 : bytes;
		break;
	case VIRTIO_BLK_T_FLUSH:
		st->flushes++;
		break;
	case VIRTIO_BLK_T_GET_ID:
		st->get_ids++;
		break;
	}
}

/* Status byte, used element, slot back. The interrupt is the caller's. */
static void finish(struct virtio_blk *s, struct vblk_req *r, uint8_t status,
		   uint32_t len)
{
	if (!s->vd.broken)
		*r->status = status; /* before used->idx (release) */
	virtq_push(req_queue(s), r->head, len);
	req_free(s, r);
}

/* ---- building a request ---- */

/*
 * iovecs for len bytes of segments seg[0, n), starting skip bytes in:
 * each piece mapped with gm_ptr (writable if write). -1 if a piece is not
 * RAM or there are more than BLK_MAX_IOV pieces.
 */
static int map_data(struct virtio_blk *s, const struct virtq_seg *seg,
		    unsigned n, uint64_t skip, uint64_t len, bool write,
		    struct blk_req *br)
{
	br->niov = 0;
	for (unsigned i = 0; i < n && len; i++) {
		if (skip >= seg[i].len) {
			skip -= seg[i].len;
			continue;
		}
		uint64_t k = seg[i].len - skip;
		if (k > len)
			k = len;
		void *p = gm_ptr(s->vd.gm, seg[i].addr + skip, k, write);
		if (!p || br->niov == BLK_MAX_IOV)
			return -1;
		br->iov[br->niov++] = (struct iovec){p, k};
		len -= k;
		skip = 0;
	}
	return len ? -1 : 0;
}

static bool in_range(const struct virtio_blk *s, uint64_t sector, uint64_t len)
{
	uint64_t cap = s->blk ? s->blk->size / VIRTIO_BLK_SECTOR : 0;
	return sector <= cap && len / VIRTIO_BLK_SECTOR <= cap - sector;
}

static void req_done(struct blk_req *br, int err)
{
	struct vblk_req *r = (struct vblk_req *)br;
	struct virtio_blk *s = r->s;
	s->inflight--;
	if (s->cancel) {
		req_free(s, r);
		return;
	}
	uint8_t status = err ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
	uint64_t bytes = r->type == VIRTIO_BLK_T_IN ? r->used_len - 1 : 0;
	if (r->type == VIRTIO_BLK_T_OUT)
		for (int i = 0; i < br->niov; i++)
			bytes += br->iov[i].iov_len;
	count(s, r, status, bytes);
	/* Used length: the bytes written into the driver's buffers. A failed
	 * IN wrote only what the backend moved before the error, then the
	 * status byte. */
	uint32_t len = r->used_len;
	if (err && r->type == VIRTIO_BLK_T_IN)
		len = 1 + (br->moved < len - 1 ? (uint32_t)br->moved : len - 1);
	else if (err)
		len = 1;
	finish(s, r, status, len);
	virtq_notify(req_queue(s));
	if (s->stalled) {
		s->stalled = false;
		virtio_queue_kick(&s->vd, 0);
	}
}

/* What starting a request gives: a status to answer with now, or this. */
#define SUBMITTED (-1)

static int submit(struct virtio_blk *s, struct vblk_req *r, enum blk_op op,
		  uint64_t off)
{
	if (!s->blk)
		return VIRTIO_BLK_S_IOERR;
	r->br.op = op;
	r->br.offset = off;
	r->br.done = req_done;
	r->br.opaque = r;
	r->br.moved = 0;
	s->inflight++;
	if (blk_submit(s->blk, &r->br) < 0) {
		s->inflight--;
		return VIRTIO_BLK_S_IOERR;
	}
	return SUBMITTED;
}

/* IN and OUT: the data after the header (OUT) or before the status
 * byte (IN). */
static int start_rw(struct virtio_blk *s, struct vblk_req *r,
		    const struct virtq_elem *e, uint64_t sector)
{
	bool in = r->type == VIRTIO_BLK_T_IN;
	uint64_t len = in ? e->in_len - 1 : e->out_len - VIRTIO_BLK_HDR_SIZE;
	r->br.niov = 0;
	if (!in && s->blk && s->blk->readonly)
		return VIRTIO_BLK_S_IOERR;
	if (len % VIRTIO_BLK_SECTOR || !in_range(s, sector, len))
		return VIRTIO_BLK_S_IOERR;
	int rc =
	    in ? map_data(s, e->seg + e->n_out, e->n_in, 0, len, true, &r->br)
	       : map_data(s, e->seg, e->n_out, VIRTIO_BLK_HDR_SIZE, len, false,
			  &r->br);
	if (rc)
		return VIRTIO_BLK_S_IOERR;
	if (!len)
		return VIRTIO_BLK_S_OK;
	r->used_len = in ? len + 1 : 1;
	return submit(s, r, in ? BLK_READ : BLK_WRITE,
		      sector * VIRTIO_BLK_SECTOR);
}

static int get_id(struct virtio_blk *s, struct vblk_req *r,
		  const struct virtq_elem *e)
{
	uint32_t n = e->in_len - 1;
	if (n > VIRTIO_BLK_ID_BYTES)
		n = VIRTIO_BLK_ID_BYTES;
	if (virtq_elem_write(&s->vd, e, 0, s->serial, n))
		return VIRTIO_BLK_S_IOERR;
	r->used_len = n + 1;
	return VIRTIO_BLK_S_OK;
}

/* The status byte: the last device-writable byte. NULL: there is none, or
 * it is not RAM. */
static uint8_t *status_byte(struct virtio_blk *s, const struct virtq_elem *e)
{
	if (!e->n_in)
		return NULL;
	const struct virtq_seg *last = &e->seg[e->n_out + e->n_in - 1];
	return gm_ptr(s->vd.gm, last->addr + last->len - 1, 1, true);
}

static int dispatch(struct virtio_blk *s, struct vblk_req *r,
		    const struct virtq_elem *e)
{
	uint8_t hdr[VIRTIO_BLK_HDR_SIZE];
	if (e->out_len < VIRTIO_BLK_HDR_SIZE ||
	    virtq_elem_read(&s->vd, e, 0, hdr, sizeof(hdr)))
		return VIRTIO_BLK_S_IOERR; /* no header to act on */
	r->type = get_le(hdr, 4);
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		return start_rw(s, r, e, get_le(hdr + 8, 8));
	case VIRTIO_BLK_T_FLUSH:
		return submit(s, r, BLK_FLUSH, 0);
	case VIRTIO_BLK_T_GET_ID:
		return get_id(s, r, e);
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}

/* One popped chain. False when it cannot be answered (no status byte):
 * the device is broken then. */
static bool start_request(struct virtio_blk *s, const struct virtq_elem *e)
{
	struct vblk_req *r = req_alloc(s);
	r->head = e->head;
	r->used_len = 1;
	r->type = ~0u; /* unknown until the header is read */
	r->br.niov = 0;
	r->status = status_byte(s, e);
	if (!r->status) {
		req_free(s, r);
		virtio_error(&s->vd);
		return false;
	}
	int status = dispatch(s, r, e);
	if (status != SUBMITTED) {
		count(s, r, status, 0);
		finish(s, r, status, status ? 1 : r->used_len);
	}
	return true;
}

/* The driver kicked the request queue, or a slot came back. */
static void vblk_queue_notify(struct virtio_dev *vd, unsigned q)
{
	struct virtio_blk *s = vd->opaque;
	struct virtq *vq = req_queue(s);
	if (q != 0)
		return;
	for (;;) {
		virtq_disable_notify(vq);
		while (s->free_list && virtq_pop(vq, &s->elem) > 0)
			if (!start_request(s, &s->elem))
				return;
		if (!s->free_list && virtq_has_work(vq)) {
			s->stalled = true; /* req_done() comes back here */
			break;
		}
		if (!virtq_enable_notify(vq))
			break;
	}
	virtq_notify(vq); /* for the requests answered at once */
}

static void vblk_reset(struct virtio_dev *vd)
{
	struct virtio_blk *s = vd->opaque;
	s->cancel = true;
	if (s->inflight && s->blk)
		blk_drain(s->blk);
	s->cancel = false;
	s->stalled = false;
}

static const struct virtio_dev_ops vblk_ops = {
    .reset = vblk_reset, .queue_notify = vblk_queue_notify};

static void fill_config(struct virtio_blk *s)
{
	uint8_t *c = s->vd.config;
	uint64_t cap = s->blk ? s->blk->size / VIRTIO_BLK_SECTOR : 0;
	put_le(c + VIRTIO_BLK_CFG_CAPACITY, 8, cap);
	/* size_max stays 0: SIZE_MAX is not offered (hw/virtio_blk.h). */
	put_le(c + VIRTIO_BLK_CFG_SEG_MAX, 4, VIRTIO_BLK_SEG_MAX);
	put_le(c + VIRTIO_BLK_CFG_BLK_SIZE, 4, VIRTIO_BLK_SECTOR);
	c[VIRTIO_BLK_CFG_PHYS_BLOCK_EXP] = 0; /* physical = logical */
	c[VIRTIO_BLK_CFG_ALIGNMENT_OFFSET] = 0;
	put_le(c + VIRTIO_BLK_CFG_MIN_IO_SIZE, 2, 1); /* in logical blocks */
	put_le(c + VIRTIO_BLK_CFG_OPT_IO_SIZE, 4, 0); /* no preference */
	s->vd.config_len = VIRTIO_BLK_CFG_LEN;
}

struct virtio_blk *virtio_blk_new(struct blk *disk, struct guest_mem *gm,
				  const char *serial)
{
	struct virtio_blk *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	uint64_t f = VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) |
		     VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE) |
		     VIRTIO_BIT(VIRTIO_BLK_F_TOPOLOGY) |
		     VIRTIO_BIT(VIRTIO_BLK_F_FLUSH);
	if (disk && disk->readonly)
		f |= VIRTIO_BIT(VIRTIO_BLK_F_RO);
	if (virtio_init(&s->vd, &vblk_ops, s, gm, VIRTIO_ID_BLOCK, 1,
			VIRTIO_BLK_QUEUE_SIZE, f)) {
		free(s);
		return NULL;
	}
	s->blk = disk;
	/* Not NUL-terminated when it is 20 bytes long (spec 5.2.6). */
	size_t n = serial ? strnlen(serial, sizeof(s->serial)) : 0;
	memcpy(s->serial, serial ? serial : "", n);
	for (unsigned i = 0; i < VIRTIO_BLK_QUEUE_SIZE; i++) {
		s->reqs[i].s = s;
		req_free(s, &s->reqs[i]);
	}
	fill_config(s);
	return s;
}

struct pci_func *virtio_blk_attach_pci(struct virtio_blk *s, struct pci_bus *pb,
				       int devnr,
				       const struct virtio_pci_wiring *w)
{
	struct pci_func *f =
	    virtio_pci_init(&s->pci, &s->vd, pb, devnr, VIRTIO_BLK_CLASS, w);
	s->on_pci = f != NULL;
	return f;
}

void virtio_blk_free(struct virtio_blk *s)
{
	if (!s)
		return;
	vblk_reset(&s->vd);
	if (s->on_pci)
		virtio_pci_detach(&s->pci);
	free(s);
}

struct virtio_dev *virtio_blk_dev(struct virtio_blk *s)
{
	return &s->vd;
}

struct virtio_pci *virtio_blk_pci(struct virtio_blk *s)
{
	return &s->pci;
}

const struct virtio_blk_stats *virtio_blk_stats(const struct virtio_blk *s)
{
	return &s->stats;
}
