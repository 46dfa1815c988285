/*
 * The network interface between NIC models (hw/ne2000.c, later
 * virtio-net) and host backends (TAP, pcap dump, unit-test fakes), in the
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

#define NET_ETH_ALEN  6
#define NET_MIN_FRAME 60   /* without FCS; shorter frames are padded */
#define NET_MAX_FRAME 1518 /* without FCS, with one VLAN tag */

/*
 * The host side of the wire, as a NIC calls it.
 *  - send: one frame the guest transmitted; buf is valid only during the
 *    call. A backend that cannot take it drops it (a frame lost on the
 *    wire); the NIC never retries.
 *  - rx_ready: optional; the NIC said it could not receive (its
 *    can_receive query returned false) and now has room again. The
 *    backend should re-arm its reader, not call the NIC's receive from
 *    inside this callback.
 */
struct net_backend_ops {
	void (*send)(void *opaque, const uint8_t *buf, size_t len);
	void (*rx_ready)(void *opaque);
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

/*
 * The NIC's receive side, as a backend calls it, so that a backend does
 * not depend on the NIC model. A backend reads from the host only while
 * can_receive() is true, hands each frame to receive(), and otherwise
 * waits for rx_ready. receive() always consumes the frame: it is stored,
 * or dropped by the NIC's rules (address filter, receiver off, overflow);
 * it returns true only when the frame went into guest-visible memory.
 */
struct net_nic_ops {
	bool (*can_receive)(void *nic);
	bool (*receive)(void *nic, const uint8_t *buf, size_t len);
};

#endif
