/*
 * Virtio 1.x device core, independent of the transport: device status,
 * 64-bit feature negotiation, reset, the device-specific configuration
 * image, and split virtqueues. Spec: Virtual I/O Device (VIRTIO) Version
 * 1.1 (OASIS), chapters 2 (basic facilities: status, features, config
 * generation, split virtqueues and their notification suppression) and 3
 * (initialisation). Only the modern (non-legacy) interface exists here:
 * VIRTIO_F_VERSION_1 is always offered and FEATURES_OK is refused without
 * it.
 *
 * A device model (hw/virtio_blk.c) embeds a struct virtio_dev, fills in
 * its ops, feature bits and config image, and is put on a transport
 * (hw/virtio_pci.c), which maps registers onto the functions below and
 * delivers interrupts through struct virtio_transport.
 *
 * Virtqueues. virtq_pop() walks one descriptor chain (directly or through
 * one indirect table) into a list of guest-physical segments, the
 * device-readable ones first. It trusts nothing in guest memory: every
 * ring, table and index is checked, each descriptor is copied out once
 * before it is looked at, and every address goes through guestmem. What
 * the spec forbids the driver to do makes the device "broken": status
 * DEVICE_NEEDS_RESET, a configuration-change interrupt when DRIVER_OK is
 * set, and no more buffers are taken or returned until the driver resets
 * the device. That happens for
 *  - queue_enable with a size that is 0, not a power of two or above the
 *    maximum, or rings that are misaligned or not wholly in guest RAM;
 *  - avail->idx more than the queue size ahead of the device;
 *  - a head or next index past the queue size, a chain with more
 *    descriptors than the queue size (loops included), more than 4 GiB - 1
 *    bytes in total, or a device-readable buffer after a writable one;
 *  - an indirect descriptor without VIRTIO_F_INDIRECT_DESC, anywhere but
 *    at the head of a chain or with NEXT set, a table whose length is 0,
 *    not a multiple of 16 or more than queue-size entries, a table outside
 *    RAM, or an indirect descriptor inside a table.
 * Buffer addresses are not checked here: a device maps the segments of a
 * chain with virtio_map_segs() or copies with virtq_elem_read/write, and
 * fails that one request when a segment is not RAM (virtio-blk: IOERR).
 *
 * Notification suppression, both ways: without VIRTIO_F_EVENT_IDX the
 * used ring's NO_NOTIFY flag and the available ring's NO_INTERRUPT flag;
 * with it, avail_event (written by the device: "kick me once you add the
 * buffer at this index") and used_event (read by the device: interrupt
 * only when the used index passes it).
 *
 * Everything runs on the device-model thread (under the device lock);
 * guest vCPUs write the rings concurrently, so ring indices are read with
 * acquire and written with release ordering, and the two "re-check after
 * enabling notifications" points use full fences.
 */
#ifndef MINIVMM_HW_VIRTIO_H
#define MINIVMM_HW_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "ioreq/guestmem.h"

/* Device status (spec 2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE	 0x01
#define VIRTIO_STATUS_DRIVER		 0x02
#define VIRTIO_STATUS_DRIVER_OK		 0x04
#define VIRTIO_STATUS_FEATURES_OK	 0x08
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED		 0x80

/* Transport and ring feature bits (spec 6). */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX     29
#define VIRTIO_F_VERSION_1     32
#define VIRTIO_BIT(b)	       (1ull << (b))

/* Split virtqueue layout (spec 2.6). */
#define VIRTQ_DESC_F_NEXT	   1
#define VIRTQ_DESC_F_WRITE	   2
#define VIRTQ_DESC_F_INDIRECT	   4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY	   1
#define VIRTQ_DESC_SIZE		   16
#define VIRTQ_DESC_ALIGN	   16
#define VIRTQ_AVAIL_ALIGN	   2
#define VIRTQ_USED_ALIGN	   4

/* Limits of this implementation. */
#define VIRTIO_QUEUE_MAX_SIZE 256 /* also the longest chain */
#define VIRTIO_MAX_QUEUES     8
#define VIRTIO_CONFIG_MAX     256  /* bytes of device-specific config */
#define VIRTIO_CONFIG_IRQ     (-1) /* "queue" of a config interrupt */

/* One guest-physical buffer of a chain. */
struct virtq_seg {
	uint64_t addr;
	uint32_t len;
};

/*
 * One popped chain: seg[0, n_out) are device-readable, seg[n_out, n_out +
 * n_in) device-writable. Zero-length descriptors are left out. out_len and
 * in_len are the byte totals (their sum is below 4 GiB).
 */
struct virtq_elem {
	uint16_t head; /* the id to give back with virtq_push() */
	unsigned n_out, n_in;
	uint32_t out_len, in_len;
	struct virtq_seg seg[VIRTIO_QUEUE_MAX_SIZE];
};

struct virtio_dev;

struct virtq {
	struct virtio_dev *vd;
	unsigned index;
	uint16_t max_size; /* what queue_size reads after reset */
	/* Driver-programmed; frozen once enabled. */
	uint16_t size;
	bool enabled;
	uint64_t desc_addr, avail_addr, used_addr;
	/* Host pointers to the rings, checked at enable time. */
	uint8_t *desc, *avail, *used;
	/* Device state. */
	uint16_t last_avail;	 /* next avail ring entry to take */
	uint16_t used_idx;	 /* our copy of used->idx */
	uint16_t signalled_used; /* used_idx at the last interrupt */
	bool notify_on;		 /* driver kicks wanted (see disable_notify) */
};

/* What a device model provides. Called on the device-model thread. */
struct virtio_dev_ops {
	/* The driver reset the device (device_status = 0), or the VMM did:
	 * drop in-flight work without touching guest memory for it. */
	void (*reset)(struct virtio_dev *vd);
	/* Buffers may be available on queue q (the driver kicked it). Only
	 * called with DRIVER_OK set, the queue enabled, the device not
	 * broken. */
	void (*queue_notify)(struct virtio_dev *vd, unsigned q);
	/* Optional: the driver wrote device-specific config (the image is
	 * not changed by the core). */
	void (*config_write)(struct virtio_dev *vd, unsigned off, unsigned size,
			     uint64_t val);
	/* Optional: the driver asks for FEATURES_OK with these features
	 * (already checked against the offered ones); false refuses. */
	bool (*features_ok)(struct virtio_dev *vd, uint64_t features);
};

/* How the core asks the transport for an interrupt: queue q's used
 * buffer notification, or (q == VIRTIO_CONFIG_IRQ) a configuration
 * change. The transport decides how (ISR + INTx, MSI-X vector). */
struct virtio_transport {
	void (*interrupt)(void *opaque, int q);
	void *opaque;
};

struct virtio_dev {
	const struct virtio_dev_ops *ops;
	void *opaque; /* the device model */
	struct guest_mem *gm;
	uint16_t device_id; /* virtio device type: 1 net, 2 block */
	uint64_t host_features;
	uint64_t features; /* accepted by the driver */
	uint8_t status;
	bool broken; /* DEVICE_NEEDS_RESET: wait for a reset */
	uint8_t config_generation;
	uint8_t config[VIRTIO_CONFIG_MAX];
	unsigned config_len;
	unsigned nqueues;
	struct virtq vq[VIRTIO_MAX_QUEUES];
	struct virtio_transport transport;
	/* Counters, for tests and -stats. */
	uint64_t errors, interrupts, kicks;
};

/*
 * Power-on state for a device with nqueues queues of at most qsize
 * entries (a power of two <= VIRTIO_QUEUE_MAX_SIZE) and device feature
 * bits dev_features (VERSION_1, INDIRECT_DESC and EVENT_IDX are added).
 * The device fills vd->config/config_len itself. 0, or -1 for bad limits.
 */
int virtio_init(struct virtio_dev *vd, const struct virtio_dev_ops *ops,
		void *opaque, struct guest_mem *gm, uint16_t device_id,
		unsigned nqueues, uint16_t qsize, uint64_t dev_features);
void virtio_set_transport(struct virtio_dev *vd, struct virtio_transport t);

/* Back to the power-on state; calls ops->reset first. */
void virtio_reset(struct virtio_dev *vd);

/* ---- the transport's side: what the registers do ---- */

/* 32 feature bits of the device's (select 0 or 1; others read 0). */
uint32_t virtio_device_features(const struct virtio_dev *vd, uint32_t sel);
/* The driver's 32 bits for select 0 or 1; ignored for other selects and
 * once FEATURES_OK is set. */
void virtio_set_driver_features(struct virtio_dev *vd, uint32_t sel,
				uint32_t val);
uint32_t virtio_driver_features(const struct virtio_dev *vd, uint32_t sel);
/*
 * A device_status write. 0 resets. Otherwise bits accumulate (the driver
 * cannot clear one but by reset); FEATURES_OK is refused (reads back
 * clear) unless the driver's features include VERSION_1, are all offered
 * and the device agrees; DRIVER_OK is refused without FEATURES_OK.
 * Setting DRIVER_OK looks at every enabled queue once.
 */
void virtio_set_status(struct virtio_dev *vd, uint8_t val);
/* queue_size and the ring addresses: writes are ignored for a queue that
 * does not exist or is enabled, or with DRIVER_OK set. */
void virtq_set_size(struct virtio_dev *vd, unsigned q, uint16_t size);
void virtq_set_addr(struct virtio_dev *vd, unsigned q, int which,
		    uint64_t addr); /* which: 0 desc, 1 driver, 2 device */
/* queue_enable = 1: checks size and rings; a bad queue breaks the
 * device. Returns 0 if the queue is now enabled. */
int virtq_enable(struct virtio_dev *vd, unsigned q);
/* The driver notified queue q (the notify register, or an ioeventfd).
 * Ignored before DRIVER_OK, for a missing or disabled queue, or while
 * the device is broken. */
void virtio_queue_kick(struct virtio_dev *vd, unsigned q);
/* Device-specific config access by the driver (reads outside the image
 * are 0; writes go to ops->config_write). */
uint64_t virtio_config_read(const struct virtio_dev *vd, unsigned off,
			    unsigned size);
void virtio_config_write(struct virtio_dev *vd, unsigned off, unsigned size,
			 uint64_t val);

/* ---- the device model's side ---- */

static inline bool virtio_has_feature(const struct virtio_dev *vd, int bit)
{
	return vd->features & VIRTIO_BIT(bit);
}

/* The device changed its config: generation++ and, after DRIVER_OK, a
 * configuration-change interrupt. */
void virtio_config_changed(struct virtio_dev *vd);
/* Something the driver did cannot go on: DEVICE_NEEDS_RESET, and a
 * configuration-change interrupt if DRIVER_OK is set. Once only. */
void virtio_error(struct virtio_dev *vd);

/* 1 with a chain in e, 0 when the queue is empty (or not usable), -1 when
 * the chain was bad (the device is broken now). */
int virtq_pop(struct virtq *vq, struct virtq_elem *e);
/* Puts the last n popped chains back, unused (nothing was pushed since):
 * they are popped again next time. */
void virtq_unpop(struct virtq *vq, uint16_t n);
/* Gives chain head back with len bytes written into it (used ring). */
void virtq_push(struct virtq *vq, uint16_t head, uint32_t len);
/* Should the driver get an interrupt for what was pushed since the last
 * one (never when nothing was)? Updates the "last signalled" mark. */
bool virtq_should_notify(struct virtq *vq);
/* virtq_should_notify() and, if so, the interrupt. */
void virtq_notify(struct virtq *vq);
/* While a device drains the queue it needs no kicks: disable, pop until
 * empty, enable; enable returns true when buffers arrived meanwhile (pop
 * again). Kicks are wanted after reset. */
void virtq_disable_notify(struct virtq *vq);
bool virtq_enable_notify(struct virtq *vq);
/* For a device that found the available buffers too few (it popped and
 * put back `have` of them): asks for a kick once the driver adds one more.
 * True when one came meanwhile (try again). */
bool virtq_wait_more(struct virtq *vq, uint16_t have);
/* Buffers waiting in the available ring. */
bool virtq_has_work(struct virtq *vq);

/* Host iovecs for n segments, each wholly in RAM (writable if write);
 * -1 if one is not. */
int virtio_map_segs(const struct guest_mem *gm, const struct virtq_seg *s,
		    unsigned n, bool write, struct iovec *iov);
/* Copy len bytes at byte offset off of the readable (out) or writable
 * (in) part of e; -1 if the part is shorter or a segment is not RAM. */
int virtq_elem_read(const struct virtio_dev *vd, const struct virtq_elem *e,
		    uint64_t off, void *buf, uint32_t len);
int virtq_elem_write(const struct virtio_dev *vd, const struct virtq_elem *e,
		     uint64_t off, const void *buf, uint32_t len);

#endif
