/*
 * The network interface between NIC models (hw/ne2000.c, hw/virtio_net.c)
 * and host backends (TAP, pcap dump, unit-test fakes), in the
 * spirit of hw/block.h: two small tables of callbacks, one for each
 * direction.
 *
 * Frames are Ethernet frames without preamble and FCS: destination,
 * source, type/length, payload; at most NET_MAX_FRAME bytes (a 1514-byte
 * frame plus an 802.1Q tag). All callbacks run on the device-model
 * thread with the device lock held.
 */
#ifndef MINIVMM_NET_H
#define MINIVMM_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define NET_ETH_ALEN  6
#define NET_MIN_FRAME 60   /* without FCS; shorter frames are padded */
#define NET_MAX_FRAME 1518 /* without FCS, with one VLAN tag */

/*
 * A backend in "vnet header" mode (a TAP opened with IFF_VNET_HDR, for
 * virtio-net) puts the 12-byte struct virtio_net_hdr of VIRTIO 1.1 5.1.6
 * (flags, gso_type, hdr_len, gso_size, csum_start, csum_offset,
 * num_buffers; little-endian) before every frame, both ways. A NIC knows
 * whether its backend is in that mode when it is created; in it, frames
 * with offloads (a partial checksum, TCP segmentation) can pass, bounded
 * by NET_MAX_GSO_FRAME rather than NET_MAX_FRAME.
 */
#define NET_VNET_HDR_LEN  12
#define NET_MAX_GSO_FRAME 65550 /* 64 KiB of IP plus the Ethernet header */

/* Offloaded frames a NIC's driver can take from the backend (the TAP's
 * TUNSETOFFLOAD): partial checksums, TCP over IPv4/IPv6 in segments of
 * up to 64 KiB, and those with the ECN bit. */
#define NET_OFFLOAD_CSUM (1u << 0)
#define NET_OFFLOAD_TSO4 (1u << 1)
#define NET_OFFLOAD_TSO6 (1u << 2)
#define NET_OFFLOAD_ECN	 (1u << 3)

/*
 * The host side of the wire, as a NIC calls it.
 *  - send: one frame the guest transmitted; buf is valid only during the
 *    call. A backend that cannot take it drops it (a frame lost on the
 *    wire); the NIC never retries.
 *  - rx_ready: optional; the NIC said it could not receive (its
 *    can_receive query returned false) and now has room again. The
 *    backend should re-arm its reader, not call the NIC's receive from
 *    inside this callback.
 *  - sendv: optional; one frame in n pieces (a NIC gathering it straight
 *    from guest memory), the vnet header first in that mode. Same rules
 *    as send.
 *  - set_offload: optional; which NET_OFFLOAD_* frames the backend may
 *    hand the NIC from now on (vnet header mode only). 0, or -1 when the
 *    backend cannot (it then hands plain frames only).
 */
struct net_backend_ops {
	void (*send)(void *opaque, const uint8_t *buf, size_t len);
	void (*rx_ready)(void *opaque);
	void (*sendv)(void *opaque, const struct iovec *iov, unsigned n);
	int (*set_offload)(void *opaque, unsigned offloads);
};

struct net_backend {
	const struct net_backend_ops *ops; /* NULL: an unplugged cable */
	void *opaque;
};

static inline void net_send(const struct net_backend *be, const uint8_t *buf,
			    size_t len)
{
	if (be && be->ops && be->ops->send)
		be->ops->send(be->opaque, buf, len);
}

static inline void net_rx_ready(const struct net_backend *be)
{
	if (be && be->ops && be->ops->rx_ready)
		be->ops->rx_ready(be->opaque);
}

static inline void net_sendv(const struct net_backend *be,
			     const struct iovec *iov, unsigned n)
{
	if (be && be->ops && be->ops->sendv)
		be->ops->sendv(be->opaque, iov, n);
}

static inline int net_set_offload(const struct net_backend *be,
				  unsigned offloads)
{
	if (be && be->ops && be->ops->set_offload)
		return be->ops->set_offload(be->opaque, offloads);
	return offloads ? -1 : 0;
}

/*
 * The NIC's receive side, as a backend calls it, so that a backend does
 * not depend on the NIC model. A backend reads from the host only while
 * can_receive() is true, hands each frame to receive(), and otherwise
 * waits for rx_ready. receive() always consumes the frame: it is stored,
 * or dropped by the NIC's rules (address filter, receiver off, overflow);
 * it returns true only when the frame went into guest-visible memory (or,
 * for virtio-net, is kept to go there as soon as the guest gives buffers).
 * In vnet header mode buf starts with the header. link, optional: the
 * host side of the cable went away (up false) or came back.
 */
struct net_nic_ops {
	bool (*can_receive)(void *nic);
	bool (*receive)(void *nic, const uint8_t *buf, size_t len);
	void (*link)(void *nic, bool up);
};

#endif
