/*
 * Virtio network device (VIRTIO 1.1, 5.1) over the virtio core
 * (hw/virtio.h) and the modern PCI transport (hw/virtio_pci.h): 1af4:1041,
 * class 0x020000, receiveq0 (queue 0) and transmitq0 (queue 1) of 256
 * entries each, no control queue (the driver cannot change the MAC or the
 * receive filter: every frame from the backend is delivered).
 *
 * Config space: mac (6 bytes), status (le16, VIRTIO_NET_S_LINK_UP while
 * the cable is plugged into a backend), max_virtqueue_pairs = 1; driver
 * writes are ignored.
 *
 * Features: MAC, STATUS, MRG_RXBUF, and the core's VERSION_1,
 * INDIRECT_DESC, EVENT_IDX. With a backend in vnet header mode (hw/net.h)
 * also CSUM, HOST_TSO4, HOST_TSO6, HOST_ECN (the TAP takes such frames as
 * they are), and, when the backend said it can switch them on
 * (opts.offloads), GUEST_CSUM, GUEST_TSO4, GUEST_TSO6, GUEST_ECN: what the
 * driver accepts is given to the backend's set_offload at FEATURES_OK.
 * Never UFO/USO, hash reports, RSC or guest announce. FEATURES_OK is
 * refused for a set the spec forbids (5.1.3.1: TSO without CSUM, ECN
 * without TSO) or that the backend cannot take.
 *
 * Every frame on either queue is preceded by the 12-byte virtio_net_hdr.
 *
 * Transmit: each chain is one frame: header then data, framed any way (the
 * header may share a descriptor with data). The data goes to the backend
 * straight from guest RAM (sendv); the header is copied out first and
 * checked: without a vnet header backend it is dropped (a frame that asks
 * for an offload is dropped), with one it is passed on with only the
 * negotiated offloads allowed. Dropped and counted, the buffer returned
 * all the same: a chain with a device-writable descriptor, one shorter
 * than the header, data over NET_MAX_GSO_FRAME bytes, a segment outside
 * RAM, an offload not negotiated.
 *
 * Receive: a frame fills one chain (header + frame) or, with MRG_RXBUF,
 * as many chains as it takes, num_buffers in the first one's header
 * saying how many. Without MRG_RXBUF a chain too small for the frame gets
 * the frame dropped (counted; the chain goes back unused, length 0).
 * When the guest has no buffers the frame is kept (one at most: it is
 * read, it cannot go back) and the backend is told to stop reading
 * (can_receive is false), so frames wait in the host's queue; the guest's
 * kick on the receive queue delivers the kept frame and restarts the
 * backend (rx_ready).
 *
 * Reset forgets the queues, drops a kept frame, and switches the backend's
 * offloads off.
 */
#ifndef MINIVMM_HW_VIRTIO_NET_H
#define MINIVMM_HW_VIRTIO_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "hw/net.h"
#include "hw/pci.h"
#include "hw/virtio.h"
#include "hw/virtio_pci.h"

#define VIRTIO_ID_NET 1

#define VIRTIO_NET_F_CSUM	    0
#define VIRTIO_NET_F_GUEST_CSUM	    1
#define VIRTIO_NET_F_MTU	    3
#define VIRTIO_NET_F_MAC	    5
#define VIRTIO_NET_F_GUEST_TSO4	    7
#define VIRTIO_NET_F_GUEST_TSO6	    8
#define VIRTIO_NET_F_GUEST_ECN	    9
#define VIRTIO_NET_F_GUEST_UFO	    10
#define VIRTIO_NET_F_HOST_TSO4	    11
#define VIRTIO_NET_F_HOST_TSO6	    12
#define VIRTIO_NET_F_HOST_ECN	    13
#define VIRTIO_NET_F_HOST_UFO	    14
#define VIRTIO_NET_F_MRG_RXBUF	    15
#define VIRTIO_NET_F_STATUS	    16
#define VIRTIO_NET_F_CTRL_VQ	    17
#define VIRTIO_NET_F_MQ		    22
#define VIRTIO_NET_S_LINK_UP	    1
#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_F_DATA_VALID 2
#define VIRTIO_NET_HDR_GSO_NONE	    0
#define VIRTIO_NET_HDR_GSO_TCPV4    1
#define VIRTIO_NET_HDR_GSO_UDP	    3
#define VIRTIO_NET_HDR_GSO_TCPV6    4
#define VIRTIO_NET_HDR_GSO_ECN	    0x80

/* struct virtio_net_config offsets. */
#define VIRTIO_NET_CFG_MAC	 0
#define VIRTIO_NET_CFG_STATUS	 6
#define VIRTIO_NET_CFG_MAX_PAIRS 8
#define VIRTIO_NET_CFG_LEN	 10

/* struct virtio_net_hdr offsets. */
#define VIRTIO_NET_HDR_FLAGS	   0
#define VIRTIO_NET_HDR_GSO_TYPE	   1
#define VIRTIO_NET_HDR_NUM_BUFFERS 10
#define VIRTIO_NET_HDR_LEN	   NET_VNET_HDR_LEN

#define VIRTIO_NET_RXQ	      0
#define VIRTIO_NET_TXQ	      1
#define VIRTIO_NET_QUEUE_SIZE VIRTIO_QUEUE_MAX_SIZE
#define VIRTIO_NET_CLASS      0x020000 /* network, Ethernet */

struct virtio_net_opts {
	uint8_t mac[NET_ETH_ALEN];
	/* The backend's frames carry the vnet header (hw/net.h). */
	bool vnet_hdr;
	/* NET_OFFLOAD_* the backend can be asked for (vnet_hdr only). */
	unsigned offloads;
	/* A backend is plugged in: link up. */
	bool link_up;
};

/* Host-side counters, for -stats and tests. */
struct virtio_net_stats {
	uint64_t tx_frames, tx_bytes; /* handed to the backend */
	uint64_t tx_dropped;	      /* malformed, oversize, bad offload */
	uint64_t rx_frames, rx_bytes; /* put into guest buffers */
	uint64_t rx_dropped;	      /* too small a buffer, bad header */
	uint64_t rx_stalls;	      /* no guest buffers: backend paused */
	uint64_t rx_reset_drops;      /* a kept frame lost to a reset */
};

struct virtio_net;

/* A device sending to be (whose ops may be NULL: no cable). gm is the
 * guest memory all addresses go through. NULL on bad opts or no memory. */
struct virtio_net *virtio_net_new(const struct virtio_net_opts *o,
				  struct net_backend be, struct guest_mem *gm);
/* Puts it on pb as function devnr.0; NULL if the slot is taken. */
struct pci_func *virtio_net_attach_pci(struct virtio_net *s, struct pci_bus *pb,
				       int devnr,
				       const struct virtio_pci_wiring *w);
/* Detaches from PCI, frees. NULL is ignored. */
void virtio_net_free(struct virtio_net *s);

/* The backend's side (struct net_nic_ops with opaque = the device). */
bool virtio_net_can_receive(struct virtio_net *s);
bool virtio_net_receive(struct virtio_net *s, const uint8_t *buf, size_t len);
extern const struct net_nic_ops virtio_net_nic_ops;

/* The cable was plugged in or pulled: status and a config interrupt. */
void virtio_net_set_link(struct virtio_net *s, bool up);

struct virtio_dev *virtio_net_dev(struct virtio_net *s);
struct virtio_pci *virtio_net_pci(struct virtio_net *s);
const struct virtio_net_stats *virtio_net_stats(const struct virtio_net *s);

#endif
