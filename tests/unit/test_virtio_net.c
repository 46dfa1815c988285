/*
 * Virtio network device (hw/virtio_net.c) over virtio-pci with a fake
 * backend that records what it is given. The test is the driver: it sets
 * the device up through BAR 4 as Linux does, builds chains in a malloc'd
 * guest RAM and kicks the notify registers; it is also the backend's
 * reader, calling can_receive/receive as vmm/backend/tap.c does.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "hw/pci.h"
#include "hw/virtio_net.h"
#include "ioreq/bytes.h"
#include "tests/unit/fake_guest.h"
#include "tests/unit/fake_pc.h"

#define SLOT	 6
#define BAR	 0xfebf0000u
#define IRQ	 10
#define RAM_SIZE (4u << 20)
#define HDR	 VIRTIO_NET_HDR_LEN
#define TABLE	 0x20000u  /* indirect tables */
#define DATA	 0x100000u /* frames and buffers */
#define BIG	 0x200000u /* 1 MiB for 64 KiB frames */

#define F_V1	 VIRTIO_BIT(VIRTIO_F_VERSION_1)
#define F_EVENT	 VIRTIO_BIT(VIRTIO_F_EVENT_IDX)
#define F_IND	 VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC)
#define F_MAC	 VIRTIO_BIT(VIRTIO_NET_F_MAC)
#define F_STATUS VIRTIO_BIT(VIRTIO_NET_F_STATUS)
#define F_MRG	 VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF)
#define F_CSUM	 VIRTIO_BIT(VIRTIO_NET_F_CSUM)
#define F_GCSUM	 VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM)
#define F_GTSO4	 VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4)
#define F_HTSO4	 VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO4)
#define F_HTSO6	 VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO6)
#define F_HECN	 VIRTIO_BIT(VIRTIO_NET_F_HOST_ECN)

static const uint8_t MAC[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x99};

/* Rings of queue q (0 rx, 1 tx). */
static const uint32_t ring_desc[2] = {0x1000, 0x6000};
static const uint32_t ring_avail[2] = {0x3000, 0x8000};
static const uint32_t ring_used[2] = {0x4000, 0x9000};

struct fake_be {
	unsigned sent, rx_ready, offload_calls;
	int offload_rc;
	unsigned offloads;
	size_t last_len;
	uint8_t last[NET_VNET_HDR_LEN + NET_MAX_GSO_FRAME];
};

static void be_send(void *opaque, const uint8_t *buf, size_t len)
{
	(void)opaque;
	(void)buf;
	(void)len;
	cr_assert_fail("send() used: virtio-net gathers with sendv()");
}

static void be_sendv(void *opaque, const struct iovec *iov, unsigned n)
{
	struct fake_be *b = opaque;
	size_t len = 0;
	for (unsigned i = 0; i < n; i++) {
		cr_assert_leq(len + iov[i].iov_len, sizeof(b->last));
		memcpy(b->last + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	b->last_len = len;
	b->sent++;
}

static void be_rx_ready(void *opaque)
{
	struct fake_be *b = opaque;
	b->rx_ready++;
}

static int be_set_offload(void *opaque, unsigned offloads)
{
	struct fake_be *b = opaque;
	b->offload_calls++;
	if (b->offload_rc)
		return b->offload_rc;
	b->offloads = offloads;
	return 0;
}

static const struct net_backend_ops be_ops = {.send = be_send,
					      .rx_ready = be_rx_ready,
					      .sendv = be_sendv,
					      .set_offload = be_set_offload};

struct rig {
	struct fake_pc pc;
	uint8_t *ram;
	struct guest_mem gm;
	struct virtio_net *vn;
	struct fake_be be;
	struct vp_drv drv;
	struct vring_drv vq[2];
	uint64_t features;
};

static uint64_t dev_cfg(struct rig *r, unsigned off, unsigned size)
{
	return vp_rd(&r->drv, VIRTIO_PCI_DEVICE_OFF + off, size);
}

static struct rig *rig_new_opts(bool vnet_hdr, unsigned offloads, bool cable)
{
	struct rig *r = calloc(1, sizeof(*r));
	fake_pc_init(&r->pc);
	r->ram = fake_ram_add(&r->gm, 0, RAM_SIZE, false);
	struct virtio_net_opts o = {
	    .vnet_hdr = vnet_hdr, .offloads = offloads, .link_up = cable};
	memcpy(o.mac, MAC, 6);
	struct net_backend be = {cable ? &be_ops : NULL, &r->be};
	r->vn = virtio_net_new(&o, be, &r->gm);
	cr_assert_not_null(r->vn);
	cr_assert_not_null(virtio_net_attach_pci(r->vn, r->pc.pb, SLOT, NULL));
	pc_setup_virtio(&r->pc, SLOT, BAR, 1, IRQ); /* slot 6 INTA is PIRQB */
	r->drv = (struct vp_drv){&r->pc.mmio, BAR};
	return r;
}

static struct rig *rig_new(void)
{
	return rig_new_opts(false, 0, true);
}

static void rig_free(struct rig *r)
{
	virtio_net_free(r->vn);
	fake_pc_fini(&r->pc);
	free(r->ram);
	free(r);
}

static uint8_t status(struct rig *r)
{
	return vp_status(&r->drv);
}

/* Linux's probe: both queues of qsz, DRIVER_OK. */
static void drv_init(struct rig *r, uint64_t features, uint16_t qsz)
{
	cr_assert_eq(vp_negotiate(&r->drv, features), 0x0b);
	for (unsigned q = 0; q < 2; q++) {
		vring_init(&r->vq[q], r->ram, qsz, ring_desc[q], ring_avail[q],
			   ring_used[q]);
		vp_queue(&r->drv, q, &r->vq[q]);
	}
	vp_driver_ok(&r->drv);
	r->features = features;
}

/* The chain at descriptors head.. of queue q (or in an indirect table),
 * made available; no kick. */
static void post(struct rig *r, unsigned q, uint16_t head,
		 const struct vring_buf *b, unsigned n, bool indirect)
{
	vring_post(&r->vq[q], head, b, n, indirect ? TABLE + 0x400 * head : 0);
}

static void kick(struct rig *r, unsigned q)
{
	vp_kick(&r->drv, q);
}

static void expect_used(struct rig *r, unsigned q, uint32_t id, uint32_t len)
{
	uint32_t gid, glen;
	cr_assert(vring_take_used(&r->vq[q], &gid, &glen),
		  "no used element on queue %u", q);
	cr_assert_eq(gid, id, "used id %u, want %u", gid, id);
	cr_assert_eq(glen, len, "used len %u, want %u", glen, len);
}

static uint8_t pat(unsigned seed, size_t i)
{
	return (uint8_t)(seed * 31 + i * 7 + (i >> 8));
}

/* A frame of len bytes (pattern seed) with a header in front, at gpa. */
static void put_frame(struct rig *r, uint64_t gpa, unsigned seed, size_t len,
		      bool hdr)
{
	uint8_t *p = r->ram + gpa;
	if (hdr) {
		memset(p, 0, HDR);
		p += HDR;
	}
	for (size_t i = 0; i < len; i++)
		p[i] = pat(seed, i);
}

static bool frame_ok(const uint8_t *p, unsigned seed, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != pat(seed, i))
			return false;
	return true;
}

/* A frame from the backend: header (zeros, or h) then pattern. */
static size_t backend_frame(uint8_t *buf, bool vnet, const uint8_t *h,
			    unsigned seed, size_t len)
{
	size_t off = 0;
	if (vnet) {
		if (h)
			memcpy(buf, h, HDR);
		else
			memset(buf, 0, HDR);
		off = HDR;
	}
	for (size_t i = 0; i < len; i++)
		buf[off + i] = pat(seed, i);
	return off + len;
}

static const struct virtio_net_stats *st(struct rig *r)
{
	return virtio_net_stats(r->vn);
}

/* ---- config and features ---- */

Test(virtio_net, pci_identity_and_config)
{
	struct rig *r = rig_new();
	cr_assert_eq(pc_cfg_rd(&r->pc, SLOT, 0, 4), 0x10411af4);
	cr_assert_eq(pc_cfg_rd(&r->pc, SLOT, PCI_CLASS_REVISION, 4),
		     0x02000001);
	for (unsigned i = 0; i < 6; i++)
		cr_assert_eq(dev_cfg(r, VIRTIO_NET_CFG_MAC + i, 1), MAC[i]);
	cr_assert_eq(dev_cfg(r, VIRTIO_NET_CFG_MAC, 4), 0x12005452);
	cr_assert_eq(dev_cfg(r, VIRTIO_NET_CFG_STATUS, 2),
		     VIRTIO_NET_S_LINK_UP);
	cr_assert_eq(dev_cfg(r, VIRTIO_NET_CFG_MAX_PAIRS, 2), 1);
	cr_assert_eq(dev_cfg(r, VIRTIO_NET_CFG_LEN, 2), 0, "no mtu field");
	cr_assert_eq(vp_rd(&r->drv, VIRTIO_PCI_NUM_QUEUES, 2), 2);
	cr_assert_eq(vp_rd(&r->drv, VIRTIO_PCI_QUEUE_SIZE, 2), 256);
	/* Driver writes to the config change nothing. */
	vp_wr(&r->drv, VIRTIO_PCI_DEVICE_OFF + VIRTIO_NET_CFG_MAC, 4,
	      0xdeadbeef);
	vp_wr(&r->drv, VIRTIO_PCI_DEVICE_OFF + VIRTIO_NET_CFG_STATUS, 2, 0);
	cr_assert_eq(dev_cfg(r, VIRTIO_NET_CFG_MAC, 4), 0x12005452);
	cr_assert_eq(dev_cfg(r, VIRTIO_NET_CFG_STATUS, 2), 1);
	/* Pulling the cable: status, generation, a config interrupt. */
	drv_init(r, F_V1 | F_MAC | F_STATUS, 16);
	uint8_t gen = vp_rd(&r->drv, VIRTIO_PCI_CONFIG_GENERATION, 1);
	virtio_net_set_link(r->vn, false);
	cr_assert_eq(dev_cfg(r, VIRTIO_NET_CFG_STATUS, 2), 0);
	cr_assert_neq(vp_rd(&r->drv, VIRTIO_PCI_CONFIG_GENERATION, 1), gen);
	cr_assert_eq(r->pc.pic[IRQ], 1);
	cr_assert_eq(vp_rd(&r->drv, VIRTIO_PCI_ISR_OFF, 1),
		     VIRTIO_PCI_ISR_CONFIG);
	virtio_net_nic_ops.link(r->vn, false); /* no change: none */
	cr_assert_eq(r->pc.pic[IRQ], 0);
	virtio_net_set_link(r->vn, true);
	cr_assert_eq(dev_cfg(r, VIRTIO_NET_CFG_STATUS, 2), 1);
	rig_free(r);
	/* No cable: link down from the start. */
	r = rig_new_opts(false, 0, false);
	cr_assert_eq(dev_cfg(r, VIRTIO_NET_CFG_STATUS, 2), 0);
	rig_free(r);
}

Test(virtio_net, no_offloads_without_a_vnet_header)
{
	struct rig *r = rig_new();
	uint64_t want = F_V1 | F_EVENT | F_IND | F_MAC | F_STATUS | F_MRG;
	cr_assert_eq(vp_offered(&r->drv), want, "offered %llx",
		     (unsigned long long)vp_offered(&r->drv));
	/* Asking for CSUM anyway is refused. */
	cr_assert_eq(vp_negotiate(&r->drv, F_V1 | F_CSUM) & 0x08, 0);
	cr_assert_eq(vp_negotiate(&r->drv, F_V1 | F_GCSUM) & 0x08, 0);
	cr_assert_eq(r->be.offload_calls, 0);
	rig_free(r);
}

Test(virtio_net, offloads_with_a_vnet_header)
{
	/* The backend cannot switch offloads on: host side only. */
	struct rig *r = rig_new_opts(true, 0, true);
	uint64_t host = F_CSUM | F_HTSO4 | F_HTSO6 | F_HECN;
	uint64_t base = F_V1 | F_EVENT | F_IND | F_MAC | F_STATUS | F_MRG;
	cr_assert_eq(vp_offered(&r->drv), base | host);
	rig_free(r);
	/* Checksums only. */
	r = rig_new_opts(true, NET_OFFLOAD_CSUM, true);
	cr_assert_eq(vp_offered(&r->drv), base | host | F_GCSUM);
	rig_free(r);
	/* Everything. */
	r = rig_new_opts(true,
			 NET_OFFLOAD_CSUM | NET_OFFLOAD_TSO4 |
			     NET_OFFLOAD_TSO6 | NET_OFFLOAD_ECN,
			 true);
	uint64_t guest = F_GCSUM | F_GTSO4 |
			 VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO6) |
			 VIRTIO_BIT(VIRTIO_NET_F_GUEST_ECN);
	cr_assert_eq(vp_offered(&r->drv), base | host | guest);
	/* What the driver takes goes to the backend at FEATURES_OK. */
	cr_assert_eq(vp_negotiate(&r->drv, F_V1 | F_GCSUM | F_GTSO4), 0x0b);
	cr_assert_eq(r->be.offloads, NET_OFFLOAD_CSUM | NET_OFFLOAD_TSO4);
	/* Reset switches them off. */
	vp_wr(&r->drv, VIRTIO_PCI_DEVICE_STATUS, 1, 0);
	cr_assert_eq(r->be.offloads, 0);
	/* The spec's dependencies: TSO needs CSUM, ECN needs TSO. */
	cr_assert_eq(vp_negotiate(&r->drv, F_V1 | F_GTSO4) & 0x08, 0);
	cr_assert_eq(vp_negotiate(&r->drv, F_V1 | F_HTSO4) & 0x08, 0);
	cr_assert_eq(vp_negotiate(&r->drv, F_V1 | F_CSUM | F_HECN) & 0x08, 0);
	cr_assert_eq(
	    vp_negotiate(&r->drv,
			 F_V1 | F_GCSUM | VIRTIO_BIT(VIRTIO_NET_F_GUEST_ECN)) &
		0x08,
	    0);
	cr_assert_eq(vp_negotiate(&r->drv, F_V1 | F_CSUM | F_HTSO4 | F_HECN),
		     0x0b);
	/* Never offered: UFO, control queue, MQ. */
	cr_assert_eq(vp_offered(&r->drv) & (VIRTIO_BIT(VIRTIO_NET_F_HOST_UFO) |
					    VIRTIO_BIT(VIRTIO_NET_F_GUEST_UFO) |
					    VIRTIO_BIT(VIRTIO_NET_F_CTRL_VQ) |
					    VIRTIO_BIT(VIRTIO_NET_F_MQ)),
		     0);
	/* A backend that refuses: FEATURES_OK is refused. */
	r->be.offload_rc = -1;
	cr_assert_eq(vp_negotiate(&r->drv, F_V1 | F_GCSUM) & 0x08, 0);
	rig_free(r);
}

/* ---- transmit ---- */

Test(virtio_net, tx_single_and_multi_descriptor)
{
	struct rig *r = rig_new();
	drv_init(r, F_V1 | F_MAC | F_STATUS | F_IND, 16);
	/* Header and frame in one descriptor. */
	put_frame(r, DATA, 1, 60, true);
	struct vring_buf one = {DATA, HDR + 60, false};
	post(r, 1, 0, &one, 1, false);
	kick(r, 1);
	expect_used(r, 1, 0, 0);
	cr_assert_eq(r->be.sent, 1);
	cr_assert_eq(r->be.last_len, 60, "header stripped");
	cr_assert(frame_ok(r->be.last, 1, 60));
	cr_assert_eq(r->pc.pic[IRQ], 1);
	vp_rd(&r->drv, VIRTIO_PCI_ISR_OFF, 1);
	/* Header alone, the frame over three descriptors. */
	memset(r->ram + DATA, 0, HDR);
	put_frame(r, DATA + 0x1000, 2, 1514, false);
	memmove(r->ram + DATA + 0x3000, r->ram + DATA + 0x1000 + 100, 1000);
	struct vring_buf three[4] = {{DATA, HDR, false},
				     {DATA + 0x1000, 100, false},
				     {DATA + 0x3000, 1000, false},
				     {DATA + 0x1000 + 1100, 414, false}};
	post(r, 1, 1, three, 4, false);
	kick(r, 1);
	expect_used(r, 1, 1, 0);
	cr_assert_eq(r->be.last_len, 1514);
	cr_assert(frame_ok(r->be.last, 2, 1514));
	/* The header sharing a descriptor with the first data bytes, the
	 * rest indirect. */
	put_frame(r, DATA + 0x5000, 3, 200, true);
	struct vring_buf shared[2] = {{DATA + 0x5000, HDR + 50, false},
				      {DATA + 0x5000 + HDR + 50, 150, false}};
	post(r, 1, 5, shared, 2, false);
	post(r, 1, 7, shared, 2, true);
	kick(r, 1);
	expect_used(r, 1, 5, 0);
	expect_used(r, 1, 7, 0);
	cr_assert_eq(r->be.sent, 4);
	cr_assert_eq(r->be.last_len, 200);
	cr_assert(frame_ok(r->be.last, 3, 200));
	cr_assert_eq(st(r)->tx_frames, 4);
	cr_assert_eq(st(r)->tx_bytes, 60 + 1514 + 400);
	cr_assert_eq(st(r)->tx_dropped, 0);
	rig_free(r);
}

Test(virtio_net, tx_with_vnet_header_passes_negotiated_offloads)
{
	struct rig *r = rig_new_opts(true, 0, true);
	drv_init(r, F_V1 | F_CSUM | F_HTSO4, 16);
	put_frame(r, DATA, 4, 3000, true);
	uint8_t *h = r->ram + DATA;
	h[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID;
	h[1] = VIRTIO_NET_HDR_GSO_TCPV4;
	put_le(h + 2, 2, 54);	  /* hdr_len */
	put_le(h + 4, 2, 1448);	  /* gso_size */
	put_le(h + 6, 2, 34);	  /* csum_start */
	put_le(h + 8, 2, 16);	  /* csum_offset */
	put_le(h + 10, 2, 0x777); /* num_buffers: not the driver's */
	struct vring_buf b = {DATA, HDR + 3000, false};
	post(r, 1, 0, &b, 1, false);
	kick(r, 1);
	expect_used(r, 1, 0, 0);
	cr_assert_eq(r->be.last_len, HDR + 3000);
	cr_assert_eq(r->be.last[0], VIRTIO_NET_HDR_F_NEEDS_CSUM);
	cr_assert_eq(r->be.last[1], VIRTIO_NET_HDR_GSO_TCPV4);
	cr_assert_eq(get_le(r->be.last + 4, 2), 1448);
	cr_assert_eq(get_le(r->be.last + 6, 2), 34);
	cr_assert_eq(get_le(r->be.last + 8, 2), 16);
	cr_assert_eq(get_le(r->be.last + 10, 2), 0);
	cr_assert(frame_ok(r->be.last + HDR, 4, 3000));
	/* TSO6 and ECN were not negotiated: dropped. */
	h[1] = VIRTIO_NET_HDR_GSO_TCPV6;
	post(r, 1, 1, &b, 1, false);
	kick(r, 1);
	expect_used(r, 1, 1, 0);
	r->ram[DATA + 1] = VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN;
	post(r, 1, 2, &b, 1, false);
	kick(r, 1);
	expect_used(r, 1, 2, 0);
	r->ram[DATA + 1] = VIRTIO_NET_HDR_GSO_UDP;
	post(r, 1, 3, &b, 1, false);
	kick(r, 1);
	expect_used(r, 1, 3, 0);
	cr_assert_eq(r->be.sent, 1);
	cr_assert_eq(st(r)->tx_dropped, 3);
	rig_free(r);
	/* Without CSUM negotiated NEEDS_CSUM cannot be honoured: dropped. */
	r = rig_new_opts(true, 0, true);
	drv_init(r, F_V1, 16);
	put_frame(r, DATA, 5, 100, true);
	r->ram[DATA] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	struct vring_buf c = {DATA, HDR + 100, false};
	post(r, 1, 0, &c, 1, false);
	r->ram[DATA + 0x1000] = 0; /* a plain one after it */
	put_frame(r, DATA + 0x1000, 6, 100, true);
	struct vring_buf d = {DATA + 0x1000, HDR + 100, false};
	post(r, 1, 1, &d, 1, false);
	kick(r, 1);
	expect_used(r, 1, 0, 0);
	expect_used(r, 1, 1, 0);
	cr_assert_eq(r->be.sent, 1);
	cr_assert(frame_ok(r->be.last + HDR, 6, 100));
	cr_assert_eq(st(r)->tx_dropped, 1);
	rig_free(r);
}

Test(virtio_net, tx_oversize_and_malformed_chains_are_dropped)
{
	struct rig *r = rig_new_opts(true, 0, true);
	drv_init(r, F_V1 | F_CSUM | F_HTSO4, 64);
	memset(r->ram + BIG, 0, HDR);
	/* 65550 bytes of frame is the largest. */
	struct vring_buf max = {BIG, HDR + NET_MAX_GSO_FRAME, false};
	post(r, 1, 0, &max, 1, false);
	struct vring_buf over = {BIG, HDR + NET_MAX_GSO_FRAME + 1, false};
	post(r, 1, 1, &over, 1, false);
	/* A writable descriptor in a TX chain. */
	struct vring_buf wr[2] = {{DATA, HDR + 60, false},
				  {DATA + 0x1000, 64, true}};
	post(r, 1, 2, wr, 2, false);
	/* Shorter than a header plus an Ethernet header. */
	struct vring_buf shorty = {DATA, HDR + 13, false};
	post(r, 1, 4, &shorty, 1, false);
	struct vring_buf tiny = {DATA, 5, false};
	post(r, 1, 5, &tiny, 1, false);
	/* A data segment outside RAM. */
	struct vring_buf off[2] = {{DATA, HDR, false},
				   {RAM_SIZE - 10, 100, false}};
	post(r, 1, 6, off, 2, false);
	/* The header outside RAM. */
	struct vring_buf hoff[2] = {{0xfff00000u, HDR, false},
				    {DATA, 100, false}};
	post(r, 1, 8, hoff, 2, false);
	kick(r, 1);
	expect_used(r, 1, 0, 0);
	expect_used(r, 1, 1, 0);
	expect_used(r, 1, 2, 0);
	expect_used(r, 1, 4, 0);
	expect_used(r, 1, 5, 0);
	expect_used(r, 1, 6, 0);
	expect_used(r, 1, 8, 0);
	cr_assert_eq(r->be.sent, 1);
	cr_assert_eq(r->be.last_len, HDR + NET_MAX_GSO_FRAME);
	cr_assert_eq(st(r)->tx_dropped, 6);
	cr_assert_eq(status(r), 0x0f, "the device goes on");
	rig_free(r);
}

/* ---- receive ---- */

Test(virtio_net, rx_without_mrg_rxbuf)
{
	struct rig *r = rig_new();
	drv_init(r, F_V1 | F_MAC, 16);
	static uint8_t in[2048];
	cr_assert_not(virtio_net_can_receive(r->vn), "no buffers yet");
	/* Linux without MRG_RXBUF: header and data in one 1526-byte buffer
	 * (here split in two descriptors to check the gather). */
	memset(r->ram + DATA, 0xee, 0x2000);
	struct vring_buf b[2] = {{DATA, 100, true},
				 {DATA + 0x1000, 1426, true}};
	post(r, 0, 0, b, 2, false);
	kick(r, 0);
	cr_assert_eq(r->be.rx_ready, 1, "kick after a stall: read again");
	cr_assert(virtio_net_can_receive(r->vn));
	size_t len = backend_frame(in, false, NULL, 7, 1000);
	cr_assert(virtio_net_receive(r->vn, in, len));
	expect_used(r, 0, 0, HDR + 1000);
	const uint8_t *h = r->ram + DATA;
	for (unsigned i = 0; i < 10; i++)
		cr_assert_eq(h[i], 0);
	cr_assert_eq(get_le(h + 10, 2), 1, "num_buffers 1");
	cr_assert(frame_ok(h + HDR, 7, 100 - HDR));
	cr_assert_eq(memcmp(r->ram + DATA + 0x1000, in + (100 - HDR),
			    1000 - (100 - HDR)),
		     0);
	cr_assert_eq(r->ram[DATA + 0x1000 + 1000 - (100 - HDR)], 0xee);
	cr_assert_eq(r->pc.pic[IRQ], 1);
	/* A buffer too small for the frame: dropped, the buffer back. */
	struct vring_buf small = {DATA + 0x4000, 500, true};
	post(r, 0, 2, &small, 1, false);
	len = backend_frame(in, false, NULL, 8, 1000);
	cr_assert(virtio_net_can_receive(r->vn));
	cr_assert_not(virtio_net_receive(r->vn, in, len));
	expect_used(r, 0, 2, 0);
	cr_assert_eq(st(r)->rx_frames, 1);
	cr_assert_eq(st(r)->rx_bytes, 1000);
	cr_assert_eq(st(r)->rx_dropped, 1);
	rig_free(r);
}

Test(virtio_net, rx_mergeable_buffers)
{
	struct rig *r = rig_new();
	drv_init(r, F_V1 | F_MAC | F_MRG, 16);
	static uint8_t in[4096];
	for (unsigned i = 0; i < 6; i++) {
		struct vring_buf b = {DATA + 0x1000 * i, 512, true};
		post(r, 0, i, &b, 1, false);
	}
	kick(r, 0);
	/* 1400 bytes + header = 1412: 512 + 512 + 388. */
	size_t len = backend_frame(in, false, NULL, 9, 1400);
	cr_assert(virtio_net_can_receive(r->vn));
	cr_assert(virtio_net_receive(r->vn, in, len));
	expect_used(r, 0, 0, 512);
	expect_used(r, 0, 1, 512);
	expect_used(r, 0, 2, 388);
	cr_assert_eq(get_le(r->ram + DATA + 10, 2), 3, "num_buffers");
	uint8_t got[1400];
	memcpy(got, r->ram + DATA + HDR, 500);
	memcpy(got + 500, r->ram + DATA + 0x1000, 512);
	memcpy(got + 1012, r->ram + DATA + 0x2000, 388);
	cr_assert(frame_ok(got, 9, 1400), "frame bytes across buffers");
	/* A small one fits the next buffer: num_buffers 1. */
	len = backend_frame(in, false, NULL, 10, 60);
	cr_assert(virtio_net_receive(r->vn, in, len));
	expect_used(r, 0, 3, HDR + 60);
	cr_assert_eq(get_le(r->ram + DATA + 0x3000 + 10, 2), 1);
	cr_assert(frame_ok(r->ram + DATA + 0x3000 + HDR, 10, 60));
	cr_assert_eq(st(r)->rx_frames, 2);
	cr_assert_eq(st(r)->rx_bytes, 1460);
	rig_free(r);
}

/* A 64 KiB TSO frame from a vnet header backend into Linux-style 4 KiB
 * mergeable buffers, the backend's header kept. */
Test(virtio_net, rx_gso_frame_with_vnet_header)
{
	unsigned all = NET_OFFLOAD_CSUM | NET_OFFLOAD_TSO4 | NET_OFFLOAD_TSO6 |
		       NET_OFFLOAD_ECN;
	struct rig *r = rig_new_opts(true, all, true);
	drv_init(r, F_V1 | F_MRG | F_GCSUM | F_GTSO4, 32);
	static uint8_t in[NET_VNET_HDR_LEN + NET_MAX_GSO_FRAME];
	for (unsigned i = 0; i < 32; i++) {
		struct vring_buf b = {BIG + 0x1000 * i, 4096, true};
		post(r, 0, i, &b, 1, false);
	}
	kick(r, 0);
	uint8_t h[HDR] = {VIRTIO_NET_HDR_F_NEEDS_CSUM,
			  VIRTIO_NET_HDR_GSO_TCPV4,
			  54,
			  0,
			  0xa8,
			  0x05,
			  34,
			  0,
			  16,
			  0,
			  0x55,
			  0x55};
	size_t len = backend_frame(in, true, h, 11, NET_MAX_GSO_FRAME);
	cr_assert(virtio_net_receive(r->vn, in, len));
	unsigned total = HDR + NET_MAX_GSO_FRAME, n = (total + 4095) / 4096;
	for (unsigned i = 0; i < n; i++)
		expect_used(r, 0, i, i + 1 < n ? 4096 : total - 4096 * (n - 1));
	cr_assert_eq(memcmp(r->ram + BIG, h, 10), 0, "the backend's header");
	cr_assert_eq(get_le(r->ram + BIG + 10, 2), n);
	cr_assert(frame_ok(r->ram + BIG + HDR, 11, NET_MAX_GSO_FRAME));
	/* A TSO6 frame: not negotiated, dropped. */
	h[1] = VIRTIO_NET_HDR_GSO_TCPV6;
	len = backend_frame(in, true, h, 12, 3000);
	cr_assert_not(virtio_net_receive(r->vn, in, len));
	cr_assert_eq(st(r)->rx_dropped, 1);
	rig_free(r);
	/* Without GUEST_CSUM: DATA_VALID is cleared, NEEDS_CSUM dropped. */
	r = rig_new_opts(true, 0, true);
	drv_init(r, F_V1 | F_MRG, 16);
	struct vring_buf b = {DATA, 2048, true};
	post(r, 0, 0, &b, 1, false);
	kick(r, 0);
	uint8_t dv[HDR] = {VIRTIO_NET_HDR_F_DATA_VALID};
	len = backend_frame(in, true, dv, 13, 100);
	cr_assert(virtio_net_receive(r->vn, in, len));
	expect_used(r, 0, 0, HDR + 100);
	cr_assert_eq(r->ram[DATA], 0);
	cr_assert(frame_ok(r->ram + DATA + HDR, 13, 100));
	dv[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	len = backend_frame(in, true, dv, 14, 100);
	cr_assert_not(virtio_net_receive(r->vn, in, len));
	/* Shorter than the header. */
	cr_assert_not(virtio_net_receive(r->vn, in, 5));
	cr_assert_eq(st(r)->rx_dropped, 2);
	rig_free(r);
}

/* No buffers: the backend is told to stop, the frame that found too few
 * is kept, and the guest's kick brings both back. */
Test(virtio_net, rx_exhaustion_pauses_the_backend_until_the_kick)
{
	struct rig *r = rig_new();
	drv_init(r, F_V1 | F_MRG | F_EVENT, 16);
	static uint8_t in[4096];
	cr_assert_not(virtio_net_can_receive(r->vn));
	cr_assert_not(virtio_net_can_receive(r->vn));
	cr_assert_eq(st(r)->rx_stalls, 1, "one stall, asked twice");
	/* avail_event asks for a kick at the next buffer. */
	cr_assert_eq(get_le(r->ram + vring_avail_event(&r->vq[0]), 2), 0);
	struct vring_buf b0 = {DATA, 1024, true};
	post(r, 0, 0, &b0, 1, false);
	kick(r, 0);
	cr_assert_eq(r->be.rx_ready, 1);
	/* 1500 bytes do not fit the one 1024-byte buffer: kept, and the
	 * backend stops. */
	cr_assert(virtio_net_can_receive(r->vn));
	size_t len = backend_frame(in, false, NULL, 15, 1500);
	cr_assert(virtio_net_receive(r->vn, in, len));
	cr_assert_eq(vring_used_idx(&r->vq[0]), 0, "nothing used yet");
	cr_assert_not(virtio_net_can_receive(r->vn));
	cr_assert_eq(st(r)->rx_stalls, 2);
	/* The kick is asked for past the buffer that was too small: a
	 * driver that adds one more (avail 1 -> 2) must kick. */
	cr_assert_eq(get_le(r->ram + vring_avail_event(&r->vq[0]), 2), 1);
	struct vring_buf b1 = {DATA + 0x1000, 1024, true};
	post(r, 0, 1, &b1, 1, false);
	kick(r, 0);
	expect_used(r, 0, 0, 1024);
	expect_used(r, 0, 1, HDR + 1500 - 1024);
	cr_assert_eq(get_le(r->ram + DATA + 10, 2), 2);
	uint8_t got[1500];
	memcpy(got, r->ram + DATA + HDR, 1024 - HDR);
	memcpy(got + 1024 - HDR, r->ram + DATA + 0x1000, 1500 - 1024 + HDR);
	cr_assert(frame_ok(got, 15, 1500));
	cr_assert_eq(r->be.rx_ready, 2, "the backend reads again");
	cr_assert_eq(st(r)->rx_dropped, 0, "nothing lost");
	cr_assert_eq(st(r)->rx_frames, 1);
	/* Buffers added while the device is happy cost no kick (EVENT_IDX:
	 * avail_event is left behind). */
	uint16_t ev = get_le(r->ram + vring_avail_event(&r->vq[0]), 2);
	struct vring_buf b2 = {DATA + 0x2000, 2048, true};
	post(r, 0, 2, &b2, 1, false);
	len = backend_frame(in, false, NULL, 16, 200);
	cr_assert(virtio_net_can_receive(r->vn));
	cr_assert(virtio_net_receive(r->vn, in, len));
	expect_used(r, 0, 2, HDR + 200);
	cr_assert_eq(get_le(r->ram + vring_avail_event(&r->vq[0]), 2), ev);
	rig_free(r);
}

Test(virtio_net, rx_without_mrg_stalls_and_resumes)
{
	struct rig *r = rig_new();
	drv_init(r, F_V1, 8);
	static uint8_t in[2048];
	/* Before DRIVER_OK the backend is paused too. */
	vp_wr(&r->drv, VIRTIO_PCI_DEVICE_STATUS, 1, 0);
	cr_assert_not(virtio_net_can_receive(r->vn));
	drv_init(r, F_V1, 8);
	cr_assert_eq(r->be.rx_ready, 1, "DRIVER_OK looks at the queue");
	cr_assert_not(virtio_net_can_receive(r->vn));
	for (unsigned i = 0; i < 8; i++) {
		struct vring_buf b = {DATA + 0x1000 * i, 1526, true};
		post(r, 0, i, &b, 1, false);
	}
	kick(r, 0);
	cr_assert_eq(r->be.rx_ready, 2);
	unsigned got = 0;
	while (virtio_net_can_receive(r->vn)) {
		size_t len = backend_frame(in, false, NULL, got, 1514);
		cr_assert(virtio_net_receive(r->vn, in, len));
		got++;
		cr_assert_leq(got, 8);
	}
	cr_assert_eq(got, 8, "every buffer used before the pause");
	for (unsigned i = 0; i < 8; i++) {
		expect_used(r, 0, i, HDR + 1514);
		cr_assert(frame_ok(r->ram + DATA + 0x1000 * i + HDR, i, 1514));
	}
	cr_assert_eq(st(r)->rx_dropped, 0);
	rig_free(r);
}

Test(virtio_net, interrupts_follow_used_event)
{
	struct rig *r = rig_new();
	drv_init(r, F_V1 | F_EVENT, 16);
	static uint8_t in[256];
	for (unsigned i = 0; i < 4; i++) {
		struct vring_buf b = {DATA + 0x1000 * i, 1526, true};
		post(r, 0, i, &b, 1, false);
	}
	/* used_event = 2: the interrupt when the third used entry comes. */
	put_le(r->ram + vring_used_event(&r->vq[0]), 2, 2);
	kick(r, 0);
	size_t len = backend_frame(in, false, NULL, 1, 100);
	virtio_net_receive(r->vn, in, len);
	virtio_net_receive(r->vn, in, len);
	cr_assert_eq(r->pc.pic[IRQ], 0);
	virtio_net_receive(r->vn, in, len);
	cr_assert_eq(r->pc.pic[IRQ], 1);
	rig_free(r);
}

Test(virtio_net, reset_in_flight_forgets_the_kept_frame)
{
	unsigned all = NET_OFFLOAD_CSUM | NET_OFFLOAD_TSO4 | NET_OFFLOAD_TSO6 |
		       NET_OFFLOAD_ECN;
	struct rig *r = rig_new_opts(true, all, true);
	drv_init(r, F_V1 | F_MRG | F_GCSUM, 16);
	static uint8_t in[4096];
	struct vring_buf b = {DATA, 256, true};
	post(r, 0, 0, &b, 1, false);
	kick(r, 0);
	size_t len = backend_frame(in, true, NULL, 17, 1000);
	cr_assert(virtio_net_receive(r->vn, in, len));
	cr_assert_not(virtio_net_can_receive(r->vn));
	/* TX chains waiting unkicked are forgotten too. */
	put_frame(r, DATA + 0x8000, 18, 100, true);
	struct vring_buf t = {DATA + 0x8000, HDR + 100, false};
	post(r, 1, 0, &t, 1, false);
	vp_wr(&r->drv, VIRTIO_PCI_DEVICE_STATUS, 1, 0);
	cr_assert_eq(status(r), 0);
	cr_assert_eq(st(r)->rx_reset_drops, 1);
	cr_assert_eq(r->be.offloads, 0);
	cr_assert_eq(r->be.sent, 0);
	/* The rings are the driver's again; a fresh start works. */
	memset(r->ram + DATA, 0xcc, 0x1000);
	drv_init(r, F_V1 | F_MRG, 16);
	cr_assert_eq(r->be.rx_ready, 1, "the backend reads again");
	post(r, 0, 0, &b, 1, false);
	kick(r, 0);
	len = backend_frame(in, true, NULL, 19, 100);
	cr_assert(virtio_net_can_receive(r->vn));
	cr_assert(virtio_net_receive(r->vn, in, len));
	expect_used(r, 0, 0, HDR + 100);
	cr_assert(frame_ok(r->ram + DATA + HDR, 19, 100));
	post(r, 1, 0, &t, 1, false);
	kick(r, 1);
	expect_used(r, 1, 0, 0);
	cr_assert_eq(r->be.sent, 1);
	rig_free(r);
}

Test(virtio_net, no_cable_drops_quietly)
{
	struct rig *r = rig_new_opts(false, 0, false);
	drv_init(r, F_V1 | F_STATUS, 16);
	put_frame(r, DATA, 20, 100, true);
	struct vring_buf t = {DATA, HDR + 100, false};
	post(r, 1, 0, &t, 1, false);
	kick(r, 1);
	expect_used(r, 1, 0, 0);
	rig_free(r);
}

/* A driver writing garbage everywhere: registers, device config, both
 * rings, descriptors; the backend sending garbage frames. Nothing may
 * crash, hang or touch memory outside guest RAM (ASan build). */
Test(virtio_net, random_garbage)
{
	static uint8_t in[NET_VNET_HDR_LEN + NET_MAX_GSO_FRAME + 64];
	srand(12345);
	for (int round = 0; round < 40; round++) {
		bool vnet = round & 1;
		struct rig *r = rig_new_opts(vnet, vnet ? 15 : 0, true);
		uint64_t f = F_V1;
		if (rand() % 2)
			f |= F_MRG | F_MAC | F_STATUS;
		if (rand() % 2)
			f |= F_EVENT | F_IND;
		if (vnet && rand() % 2)
			f |= F_CSUM | F_HTSO4 | F_GCSUM | F_GTSO4;
		drv_init(r, f, 16);
		for (int i = 0; i < 300; i++) {
			unsigned what = rand() % 8;
			uint32_t a = rand() % 0xa000;
			if (what == 0)
				vp_wr(&r->drv,
				      VIRTIO_PCI_DEVICE_OFF + rand() % 16,
				      1u << (rand() % 4), rand());
			else if (what == 1)
				put_le(r->ram + a, 4, rand());
			else if (what == 2)
				put_le(r->ram + ring_avail[rand() % 2] + 2, 2,
				       rand() % 40);
			else if (what == 3)
				vring_put_desc(
				    r->ram, ring_desc[rand() % 2], rand() % 16,
				    rand() % 2 ? DATA + rand() % 0x10000
					       : (uint64_t)rand() << 8,
				    rand() % 3000, rand() % 8, rand() % 20);
			else if (what == 4)
				kick(r, rand() % 3);
			else if (what == 5) {
				size_t len = rand() % sizeof(in);
				for (size_t k = 0; k < 64 && k < len; k++)
					in[k] = rand();
				if (virtio_net_can_receive(r->vn))
					virtio_net_receive(r->vn, in, len);
			} else if (what == 6 && rand() % 20 == 0) {
				vp_wr(&r->drv, VIRTIO_PCI_DEVICE_STATUS, 1, 0);
				drv_init(r, f, 16);
			} else {
				vp_wr(&r->drv, rand() % VIRTIO_PCI_COMMON_LEN,
				      1u << (rand() % 3), rand());
			}
		}
		rig_free(r);
	}
}
