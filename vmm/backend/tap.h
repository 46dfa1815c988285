/*
 * TAP network backend: a Linux tun/tap interface opened through
 * /dev/net/tun with IFF_TAP | IFF_NO_PI, so each read() is one Ethernet
 * frame and each write() sends one (no packet-information header). One
 * backend serves both NICs:
 *  - plain (the NE2000): frames only, at most NET_MAX_FRAME bytes read;
 *  - vnet header (virtio-net, TAP_VNET_HDR): IFF_VNET_HDR with
 *    TUNSETVNETHDRSZ 12, so every frame both ways is preceded by the
 *    virtio-net header of hw/net.h, and TUNSETOFFLOAD says which
 *    offloaded frames (partial checksums, TSO) the kernel may hand us.
 *    A kernel without IFF_VNET_HDR gives a plain TAP (tap_vnet_hdr()
 *    tells), and the NIC offers no offloads.
 *
 * Receive: the descriptor is non-blocking and watched on the device-model
 * loop. Frames are read only while the NIC says it can take one; when it
 * cannot, the watch is removed and frames wait in the kernel's queue (the
 * TAP's txqueuelen, after which the kernel drops them, as a full wire
 * would) until the NIC's rx_ready re-arms it. Nothing is read that the
 * guest could not be given.
 * Transmit: write(); a full kernel queue (EAGAIN) or an interface that is
 * down (EIO) drops the frame and counts it: the vCPU never waits for the
 * host network.
 */
#ifndef MINIVMM_VMM_BACKEND_TAP_H
#define MINIVMM_VMM_BACKEND_TAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "hw/net.h"

struct dm;
struct tap;

struct tap_stats {
	/* Byte counts are of frames, without a vnet header. */
	uint64_t rx_frames, rx_bytes; /* read from the TAP, given to the NIC */
	uint64_t rx_refused;	      /* of rx_frames: the NIC dropped them */
	uint64_t rx_oversize;	      /* longer than NET_MAX_FRAME, dropped */
	uint64_t rx_pauses;	      /* times reading stopped: NIC full */
	uint64_t rx_errors;	      /* read() failures other than EAGAIN */
	uint64_t tx_frames, tx_bytes; /* written to the TAP */
	uint64_t tx_dropped;	      /* EAGAIN: the kernel queue was full */
	uint64_t tx_errors;	      /* other write() failures (EIO: down) */
};

#define TAP_VNET_HDR 1u /* tap_open flag: ask for the vnet header */

/*
 * Attaches to the TAP interface ifname, creating it (as a non-persistent
 * interface that goes away on close) when it does not exist; that needs
 * CAP_NET_ADMIN, attaching to an existing persistent TAP owned by the
 * caller does not. NULL with one line in err on failure (no
 * /dev/net/tun, no permission, a tun (not tap) device of that name, busy).
 * Nothing is read until tap_start().
 */
/* A read error other than EAGAIN (the interface was deleted), or end of
 * file, stops reading for good (the watch is removed, one line on stderr)
 * and tells the NIC its link is down. */
struct tap *tap_open(const char *ifname, unsigned flags, char *err,
		     size_t errlen);

/* Whether frames carry the vnet header; the NET_OFFLOAD_* set that
 * TUNSETOFFLOAD took when tap_open tried them (0 on a plain TAP). */
bool tap_vnet_hdr(const struct tap *t);
unsigned tap_offloads(const struct tap *t);
/* Which offloaded frames the kernel may hand us now. 0 or -1. */
int tap_set_offload(struct tap *t, unsigned offloads);
/* Longest frame read (without the vnet header); longer ones are dropped
 * (rx_oversize). NET_MAX_FRAME after tap_open, NET_MAX_GSO_FRAME at
 * most. */
void tap_set_max_frame(struct tap *t, size_t len);

/* Starts reading on dm's loop, feeding nic (called with the dm lock held).
 * 0 or -1. */
int tap_start(struct tap *t, struct dm *dm, const struct net_nic_ops *nic,
	      void *nic_opaque);

/* The NIC's side: send() and rx_ready() for a struct net_backend. */
struct net_backend tap_backend(struct tap *t);

/* The same as free functions (lock held). */
void tap_send(struct tap *t, const uint8_t *buf, size_t len);
void tap_sendv(struct tap *t, const struct iovec *iov, unsigned n);
void tap_rx_ready(struct tap *t);

const struct tap_stats *tap_stats(const struct tap *t);
const char *tap_ifname(const struct tap *t);

/* For tests: a TAP on a descriptor that keeps frame boundaries (a
 * SOCK_SEQPACKET socket); it is made non-blocking and becomes the tap's.
 * TAP_VNET_HDR in flags: its frames carry the header (no offloads). */
struct tap *tap_open_fd(int fd, const char *name, unsigned flags);

/* Stops reading and closes the descriptor. NULL is ignored. */
void tap_close(struct tap *t);

/* Whether name can be a Linux interface name (1-15 bytes, no '/', ':',
 * ',', '=' or white space, not "." or ".."). */
int tap_name_valid(const char *name);

#endif
