/*
 * Virtio network device (VIRTIO 1.1, 5.1). See hw/virtio_net.h for what
 * it offers and what happens to each kind of bad frame.
 *
 * Flow control on receive. The backend asks can_receive() before each
 * read. It is true while the receive queue has a buffer. A frame that then
 * does not fit (with MRG_RXBUF: the chains run out in the middle) puts
 * its chains back (virtq_unpop) and is kept in `held`; from then on
 * can_receive() is false, so the backend stops reading, and the device
 * asks the driver for a kick once more buffers come (virtq_wait_more,
 * whose avail_event points past the buffers that were too few). The kick
 * delivers the kept frame and tells the backend to read again. While
 * frames flow, kicks on the receive queue are switched off: the driver
 * refills without an exit.
 */
#include "hw/virtio_net.h"

#include <stdlib.h>
#include <string.h>

#include "ioreq/bytes.h"

#define HDR	 VIRTIO_NET_HDR_LEN
#define ETH_HLEN 14
#define HELD_MAX (HDR + NET_MAX_GSO_FRAME)
#define GUEST_OFFLOAD                                                          \
	(VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM) |                                 \
	 VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4) |                                 \
	 VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO6) |                                 \
	 VIRTIO_BIT(VIRTIO_NET_F_GUEST_ECN))
#define HOST_OFFLOAD                                                           \
	(VIRTIO_BIT(VIRTIO_NET_F_CSUM) | VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO4) |  \
	 VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO6) |                                  \
	 VIRTIO_BIT(VIRTIO_NET_F_HOST_ECN))

struct virtio_net {
	struct virtio_dev vd;
	struct virtio_pci pci;
	bool on_pci;
	struct net_backend be;
	struct virtio_net_opts o;
	bool rx_waiting;  /* can_receive() said no: owe the backend rx_ready */
	uint8_t *held;	  /* a frame that found too few buffers */
	size_t held_len;  /* 0: none */
	uint16_t rx_have; /* buffers there were when it did not fit */
	/* One receive in progress (MRG_RXBUF: chains popped so far). */
	uint16_t rx_heads[VIRTIO_NET_QUEUE_SIZE];
	uint32_t rx_lens[VIRTIO_NET_QUEUE_SIZE];
	struct virtq_elem first, elem;
	struct iovec iov[1 + VIRTIO_QUEUE_MAX_SIZE];
	struct virtio_net_stats stats;
};

static struct virtq *rxq(struct virtio_net *s)
{
	return &s->vd.vq[VIRTIO_NET_RXQ];
}

static struct virtq *txq(struct virtio_net *s)
{
	return &s->vd.vq[VIRTIO_NET_TXQ];
}

static bool has(const struct virtio_net *s, int bit)
{
	return virtio_has_feature(&s->vd, bit);
}

/* ---- transmit ---- */

/*
 * The driver's header as the backend may see it; false when the frame
 * asks for an offload that was not negotiated (or one no backend here
 * does). Without a vnet header backend no offload is offered, so any
 * request for one is refused.
 */
static bool tx_header(const struct virtio_net *s, uint8_t *h)
{
	uint8_t flags = h[VIRTIO_NET_HDR_FLAGS];
	uint8_t gso = h[VIRTIO_NET_HDR_GSO_TYPE];
	if ((flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && !has(s, VIRTIO_NET_F_CSUM))
		return false;
	if ((gso & VIRTIO_NET_HDR_GSO_ECN) && !has(s, VIRTIO_NET_F_HOST_ECN))
		return false;
	switch (gso & ~VIRTIO_NET_HDR_GSO_ECN) {
	case VIRTIO_NET_HDR_GSO_NONE:
		if (gso & VIRTIO_NET_HDR_GSO_ECN)
			return false;
		break;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		if (!has(s, VIRTIO_NET_F_HOST_TSO4))
			return false;
		break;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		if (!has(s, VIRTIO_NET_F_HOST_TSO6))
			return false;
		break;
	default:
		return false;
	}
	h[VIRTIO_NET_HDR_FLAGS] = flags & VIRTIO_NET_HDR_F_NEEDS_CSUM;
	put_le(h + VIRTIO_NET_HDR_NUM_BUFFERS, 2, 0);
	return true;
}

/* iovecs for the frame: the readable part of e from byte HDR on, straight
 * into guest RAM. Number of them, or -1 if a piece is not RAM. */
static int tx_map(struct virtio_net *s, const struct virtq_elem *e,
		  struct iovec *iov)
{
	uint32_t skip = HDR;
	int n = 0;
	for (unsigned i = 0; i < e->n_out; i++) {
		const struct virtq_seg *g = &e->seg[i];
		if (skip >= g->len) {
			skip -= g->len;
			continue;
		}
		void *p =
		    gm_ptr(s->vd.gm, g->addr + skip, g->len - skip, false);
		if (!p)
			return -1;
		iov[n++] = (struct iovec){p, g->len - skip};
		skip = 0;
	}
	return n;
}

/* One chain: a frame to the backend, or a drop. */
static void tx_one(struct virtio_net *s, const struct virtq_elem *e)
{
	uint8_t h[HDR];
	uint32_t len = e->out_len - HDR;
	if (e->n_in || e->out_len < HDR + ETH_HLEN || len > NET_MAX_GSO_FRAME ||
	    virtq_elem_read(&s->vd, e, 0, h, HDR) || !tx_header(s, h))
		goto drop;
	struct iovec *iov = s->iov;
	if (s->o.vnet_hdr)
		*iov++ = (struct iovec){h, HDR};
	int n = tx_map(s, e, iov);
	if (n < 0)
		goto drop;
	net_sendv(&s->be, s->iov, (unsigned)(n + (iov - s->iov)));
	s->stats.tx_frames++;
	s->stats.tx_bytes += len;
	return;
drop:
	s->stats.tx_dropped++;
}

static void tx_kick(struct virtio_net *s)
{
	struct virtq *vq = txq(s);
	int r;
	for (;;) {
		virtq_disable_notify(vq);
		while ((r = virtq_pop(vq, &s->elem)) > 0) {
			tx_one(s, &s->elem);
			virtq_push(vq, s->elem.head, 0);
		}
		if (r < 0 || !virtq_enable_notify(vq))
			break;
	}
	virtq_notify(vq);
}

/* ---- receive ---- */

enum { RX_DONE, RX_DROPPED, RX_NO_ROOM };

/* Bytes [off, off + k) of header-then-frame at the start of chain e. */
static int rx_put(struct virtio_net *s, const struct virtq_elem *e,
		  uint32_t off, uint32_t k, const uint8_t *h,
		  const uint8_t *frame)
{
	uint32_t pos = 0;
	if (off < HDR) {
		uint32_t n = HDR - off < k ? HDR - off : k;
		if (virtq_elem_write(&s->vd, e, 0, h + off, n))
			return -1;
		pos = n;
		off += n;
		k -= n;
	}
	return k ? virtq_elem_write(&s->vd, e, pos, frame + (off - HDR), k) : 0;
}

/* Without MRG_RXBUF: the whole frame in one chain. */
static int rx_single(struct virtio_net *s, const uint8_t *h,
		     const uint8_t *frame, uint32_t total)
{
	struct virtq *vq = rxq(s);
	int r = virtq_pop(vq, &s->elem);
	if (r <= 0) {
		s->rx_have = 0;
		return r ? RX_DROPPED : RX_NO_ROOM;
	}
	if (s->elem.in_len < total) {
		virtq_push(vq, s->elem.head, 0); /* too small: unused */
		return RX_DROPPED;
	}
	if (rx_put(s, &s->elem, 0, total, h, frame)) {
		virtio_error(&s->vd); /* a buffer outside RAM */
		return RX_DROPPED;
	}
	virtq_push(vq, s->elem.head, total);
	return RX_DONE;
}

/* With MRG_RXBUF: as many chains as it takes, their count in the first
 * one's num_buffers. Too few: all of them go back. */
static int rx_merged(struct virtio_net *s, uint8_t *h, const uint8_t *frame,
		     uint32_t total)
{
	struct virtq *vq = rxq(s);
	uint32_t off = 0;
	uint16_t n = 0;
	while (off < total) {
		struct virtq_elem *e = n ? &s->elem : &s->first;
		int r = virtq_pop(vq, e);
		if (r < 0)
			return RX_DROPPED;
		if (r == 0) {
			virtq_unpop(vq, n);
			s->rx_have = n;
			/* A full ring that cannot hold it never will. */
			return n == vq->size ? RX_DROPPED : RX_NO_ROOM;
		}
		uint32_t k = e->in_len < total - off ? e->in_len : total - off;
		if (!n && k < HDR) {
			virtq_push(vq, e->head, 0); /* no room for a header */
			return RX_DROPPED;
		}
		if (rx_put(s, e, off, k, h, frame)) {
			virtio_error(&s->vd);
			return RX_DROPPED;
		}
		s->rx_heads[n] = e->head;
		s->rx_lens[n++] = k;
		off += k;
	}
	uint8_t nb[2];
	put_le(nb, 2, n);
	if (virtq_elem_write(&s->vd, &s->first, VIRTIO_NET_HDR_NUM_BUFFERS, nb,
			     2)) {
		virtio_error(&s->vd);
		return RX_DROPPED;
	}
	for (uint16_t i = 0; i < n; i++)
		virtq_push(vq, s->rx_heads[i], s->rx_lens[i]);
	return RX_DONE;
}

/*
 * The header the driver gets: zeros without a vnet header backend; the
 * backend's otherwise, minus what the driver did not negotiate (a frame
 * that needs one of those cannot be given). False: drop it.
 */
static bool rx_header(const struct virtio_net *s, const uint8_t *in, uint8_t *h)
{
	memset(h, 0, HDR);
	if (!s->o.vnet_hdr)
		return true;
	memcpy(h, in, HDR);
	uint8_t gso = h[VIRTIO_NET_HDR_GSO_TYPE];
	if (!has(s, VIRTIO_NET_F_GUEST_CSUM)) {
		if (h[VIRTIO_NET_HDR_FLAGS] & VIRTIO_NET_HDR_F_NEEDS_CSUM)
			return false;
		h[VIRTIO_NET_HDR_FLAGS] = 0;
	}
	h[VIRTIO_NET_HDR_FLAGS] &=
	    VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID;
	if ((gso & VIRTIO_NET_HDR_GSO_ECN) && !has(s, VIRTIO_NET_F_GUEST_ECN))
		return false;
	switch (gso & ~VIRTIO_NET_HDR_GSO_ECN) {
	case VIRTIO_NET_HDR_GSO_NONE:
		return !(gso & VIRTIO_NET_HDR_GSO_ECN);
	case VIRTIO_NET_HDR_GSO_TCPV4:
		return has(s, VIRTIO_NET_F_GUEST_TSO4);
	case VIRTIO_NET_HDR_GSO_TCPV6:
		return has(s, VIRTIO_NET_F_GUEST_TSO6);
	default:
		return false;
	}
}

/* One frame from the backend (with its vnet header in that mode) into
 * guest buffers. */
static int rx_deliver(struct virtio_net *s, const uint8_t *buf, size_t len)
{
	uint8_t h[HDR];
	size_t skip = s->o.vnet_hdr ? HDR : 0;
	if (len < skip || len - skip > NET_MAX_GSO_FRAME ||
	    !rx_header(s, buf, h))
		return RX_DROPPED;
	const uint8_t *frame = buf + skip;
	uint32_t flen = (uint32_t)(len - skip), total = HDR + flen;
	int r;
	if (has(s, VIRTIO_NET_F_MRG_RXBUF)) {
		r = rx_merged(s, h, frame, total);
	} else {
		put_le(h + VIRTIO_NET_HDR_NUM_BUFFERS, 2, 1);
		r = rx_single(s, h, frame, total);
	}
	if (r == RX_DONE) {
		s->stats.rx_frames++;
		s->stats.rx_bytes += flen;
	}
	if (r != RX_NO_ROOM)
		virtq_notify(rxq(s));
	return r;
}

/* The kept frame, once more; true when it is gone (given or dropped). */
static bool rx_flush_held(struct virtio_net *s)
{
	for (;;) {
		int r = rx_deliver(s, s->held, s->held_len);
		if (r != RX_NO_ROOM) {
			if (r == RX_DROPPED)
				s->stats.rx_dropped++;
			s->held_len = 0;
			return true;
		}
		if (!virtq_wait_more(rxq(s), s->rx_have))
			return false;
	}
}

static void rx_stall(struct virtio_net *s)
{
	if (!s->rx_waiting)
		s->stats.rx_stalls++;
	s->rx_waiting = true;
}

bool virtio_net_can_receive(struct virtio_net *s)
{
	struct virtq *vq = rxq(s);
	if (s->held_len) {
		rx_stall(s);
		return false;
	}
	if (virtq_has_work(vq))
		return true;
	/* Out of buffers: a kick when the driver adds one. It may have
	 * added one just now. */
	if (virtq_enable_notify(vq)) {
		virtq_disable_notify(vq);
		return true;
	}
	rx_stall(s);
	return false;
}

bool virtio_net_receive(struct virtio_net *s, const uint8_t *buf, size_t len)
{
	if (s->held_len) { /* asked without can_receive(): one is kept */
		s->stats.rx_dropped++;
		return false;
	}
	int r = rx_deliver(s, buf, len);
	if (r == RX_DROPPED)
		s->stats.rx_dropped++;
	if (r != RX_NO_ROOM)
		return r == RX_DONE;
	memcpy(s->held, buf, len);
	s->held_len = len;
	rx_stall(s);
	rx_flush_held(s); /* buffers may have come meanwhile */
	return true;	  /* else it goes with the next buffers */
}

/* The driver added receive buffers (or DRIVER_OK was set). */
static void rx_kick(struct virtio_net *s)
{
	if (s->held_len && !rx_flush_held(s))
		return; /* still too few: wait_more asked for the next kick */
	virtq_disable_notify(rxq(s));
	if (s->rx_waiting) {
		s->rx_waiting = false;
		net_rx_ready(&s->be);
	}
}

static bool nic_can_receive(void *opaque)
{
	return virtio_net_can_receive(opaque);
}

static bool nic_receive(void *opaque, const uint8_t *buf, size_t len)
{
	return virtio_net_receive(opaque, buf, len);
}

static void nic_link(void *opaque, bool up)
{
	virtio_net_set_link(opaque, up);
}

const struct net_nic_ops virtio_net_nic_ops = {
    .can_receive = nic_can_receive, .receive = nic_receive, .link = nic_link};

/* ---- the device ---- */

static void vnet_queue_notify(struct virtio_dev *vd, unsigned q)
{
	struct virtio_net *s = vd->opaque;
	if (q == VIRTIO_NET_RXQ)
		rx_kick(s);
	else if (q == VIRTIO_NET_TXQ)
		tx_kick(s);
}

static unsigned guest_offloads(uint64_t f)
{
	unsigned o = 0;
	if (f & VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM))
		o |= NET_OFFLOAD_CSUM;
	if (f & VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4))
		o |= NET_OFFLOAD_TSO4;
	if (f & VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO6))
		o |= NET_OFFLOAD_TSO6;
	if (f & VIRTIO_BIT(VIRTIO_NET_F_GUEST_ECN))
		o |= NET_OFFLOAD_ECN;
	return o;
}

/* Spec 5.1.3.1: what each offload depends on. */
static bool deps_ok(uint64_t f)
{
#define F(b) ((f & VIRTIO_BIT(VIRTIO_NET_F_##b)) != 0)
	if ((F(GUEST_TSO4) || F(GUEST_TSO6)) && !F(GUEST_CSUM))
		return false;
	if (F(GUEST_ECN) && !F(GUEST_TSO4) && !F(GUEST_TSO6))
		return false;
	if ((F(HOST_TSO4) || F(HOST_TSO6)) && !F(CSUM))
		return false;
	return !F(HOST_ECN) || F(HOST_TSO4) || F(HOST_TSO6);
#undef F
}

static bool vnet_features_ok(struct virtio_dev *vd, uint64_t f)
{
	struct virtio_net *s = vd->opaque;
	if (!deps_ok(f))
		return false;
	if (!s->o.vnet_hdr || !s->o.offloads)
		return true;
	return net_set_offload(&s->be, guest_offloads(f)) == 0;
}

static void vnet_reset(struct virtio_dev *vd)
{
	struct virtio_net *s = vd->opaque;
	if (s->held_len)
		s->stats.rx_reset_drops++;
	s->held_len = 0;
	/* rx_waiting stays: the backend reads again at the next DRIVER_OK. */
	if (s->o.vnet_hdr && s->o.offloads)
		net_set_offload(&s->be, 0);
}

static const struct virtio_dev_ops vnet_ops = {.reset = vnet_reset,
					       .queue_notify =
						   vnet_queue_notify,
					       .features_ok = vnet_features_ok};

static void put_status(struct virtio_net *s)
{
	put_le(s->vd.config + VIRTIO_NET_CFG_STATUS, 2,
	       s->o.link_up ? VIRTIO_NET_S_LINK_UP : 0);
}

void virtio_net_set_link(struct virtio_net *s, bool up)
{
	if (s->o.link_up == up)
		return;
	s->o.link_up = up;
	put_status(s);
	virtio_config_changed(&s->vd);
}

struct virtio_net *virtio_net_new(const struct virtio_net_opts *o,
				  struct net_backend be, struct guest_mem *gm)
{
	if ((o->mac[0] & 1) || (o->offloads && !o->vnet_hdr))
		return NULL;
	struct virtio_net *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->held = malloc(HELD_MAX);
	uint64_t f = VIRTIO_BIT(VIRTIO_NET_F_MAC) |
		     VIRTIO_BIT(VIRTIO_NET_F_STATUS) |
		     VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF);
	if (o->vnet_hdr)
		f |= HOST_OFFLOAD;
	/* The driver may take any subset: the backend must switch each
	 * on alone (CSUM, TSO4, TSO6 with CSUM, ECN with a TSO). */
	unsigned all = NET_OFFLOAD_CSUM | NET_OFFLOAD_TSO4 | NET_OFFLOAD_TSO6 |
		       NET_OFFLOAD_ECN;
	if (o->vnet_hdr && (o->offloads & all) == all)
		f |= GUEST_OFFLOAD;
	else if (o->vnet_hdr && (o->offloads & NET_OFFLOAD_CSUM))
		f |= VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM);
	if (!s->held || virtio_init(&s->vd, &vnet_ops, s, gm, VIRTIO_ID_NET, 2,
				    VIRTIO_NET_QUEUE_SIZE, f)) {
		free(s->held);
		free(s);
		return NULL;
	}
	s->o = *o;
	s->be = be;
	memcpy(s->vd.config + VIRTIO_NET_CFG_MAC, o->mac, NET_ETH_ALEN);
	put_status(s);
	put_le(s->vd.config + VIRTIO_NET_CFG_MAX_PAIRS, 2, 1);
	s->vd.config_len = VIRTIO_NET_CFG_LEN;
	return s;
}

struct pci_func *virtio_net_attach_pci(struct virtio_net *s, struct pci_bus *pb,
				       int devnr,
				       const struct virtio_pci_wiring *w)
{
	struct pci_func *f =
	    virtio_pci_init(&s->pci, &s->vd, pb, devnr, VIRTIO_NET_CLASS, w);
	s->on_pci = f != NULL;
	return f;
}

void virtio_net_free(struct virtio_net *s)
{
	if (!s)
		return;
	if (s->on_pci)
		virtio_pci_detach(&s->pci);
	free(s->held);
	free(s);
}

struct virtio_dev *virtio_net_dev(struct virtio_net *s)
{
	return &s->vd;
}

struct virtio_pci *virtio_net_pci(struct virtio_net *s)
{
	return &s->pci;
}

const struct virtio_net_stats *virtio_net_stats(const struct virtio_net *s)
{
	return &s->stats;
}
