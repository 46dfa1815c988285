/*
 * The block-device interface device models use (IDE disk, ATAPI, later
 * virtio-blk). A request describes a byte range of the image and host
 * buffers (usually pointers straight into guest RAM from gm_ptr()).
 * Requests complete asynchronously: done() is called later, on the
 * device-model thread with the device lock held, never from inside
 * blk_submit(). The implementation for raw image files is vmm/backend/block.c;
 * unit tests may provide their own struct blk_ops.
 */
#ifndef MINIVMM_BLOCK_H
#define MINIVMM_BLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#define BLK_MAX_IOV 64

enum blk_op { BLK_READ, BLK_WRITE, BLK_FLUSH };

struct blk_req {
	enum blk_op op;
	uint64_t offset; /* bytes from the start of the image */
	struct iovec iov[BLK_MAX_IOV];
	int niov;
	/* err is 0 or a negative errno: -EIO, -ENOSPC, -EROFS (read-only
	 * image), -EINVAL (beyond the end). */
	void (*done)(struct blk_req *req, int err);
	void *opaque;
	/* Set by the implementation before done(): on error, how many bytes
	 * at the start of the request are known to have moved (a short
	 * transfer before the failing one); 0 when nothing is known. Those
	 * bytes are good (read into the buffers, or in the image); nothing
	 * is known about the rest. */
	uint64_t moved;
	/* for the implementation */
	struct blk_req *next;
	int err;
};

struct blk;

struct blk_ops {
	/* Queue req; 0, or a negative errno if it cannot be queued. */
	int (*submit)(struct blk *b, struct blk_req *req);
	/* Wait for every queued request and run their done() callbacks
	 * (for reset and tests). */
	void (*drain)(struct blk *b);
};

struct blk {
	const struct blk_ops *ops;
	uint64_t size; /* bytes */
	bool readonly;
	const char *name; /* the image path, for messages */
};

static inline int blk_submit(struct blk *b, struct blk_req *req)
{
	return b->ops->submit(b, req);
}

static inline void blk_drain(struct blk *b)
{
	if (b->ops->drain)
		b->ops->drain(b);
}

#endif
