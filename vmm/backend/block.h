/*
 * Raw image files (and host block devices) behind the struct blk interface
 * of hw/block.h, for -drive / -cdrom.
 *
 * Requests run on a pool of worker threads doing preadv/pwritev straight
 * into the request's buffers (guest RAM). Completions come back through an
 * eventfd watched on the device-model loop, so done() runs on the
 * device-model thread with the device lock held. Without a dm, done() runs
 * only inside blk_drain() (device unit tests).
 *
 * Media:
 *   disk   size must be a non-zero multiple of 512 bytes; a read that hits
 *          end-of-file early (the file shrank under us) fails with -EIO.
 *   cdrom  read-only, any size: blk.size is rounded up to a 2048-byte
 *          sector and the tail past the file's end reads as zeros (ISO
 *          images whose length is not a multiple of 2048 are common).
 * Requests beyond blk.size fail with -EINVAL without touching the file;
 * writes to read-only media fail with -EROFS; host errors (EIO, ENOSPC,
 * EFBIG, ...) become the request's negative errno.
 *
 * Cache modes (QEMU's names):
 *   writeback     page cache; data reaches the disk on BLK_FLUSH
 *   writethrough  O_DSYNC: every write is on disk when it completes
 *   none          O_DIRECT; requests not aligned to the device's block
 *                 (512, or 4096 when the filesystem needs it) go through an
 *                 aligned bounce buffer, writes by read-modify-write
 * BLK_FLUSH is fdatasync() in every mode (skipped for read-only images).
 * Once one has failed, every later BLK_FLUSH of the image fails with -EIO
 * (the kernel reports a lost write-back once; the data stays lost).
 * Host errors print one line on stderr, rate-limited per operation.
 *
 * Images are locked with flock(): exclusive when writable, shared when
 * read-only, so two VMMs cannot both write one image.
 */
#ifndef MINIVMM_VMM_BACKEND_BLOCK_H
#define MINIVMM_VMM_BACKEND_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hw/block.h"

struct dm;

enum blk_cache { BLK_CACHE_WRITEBACK, BLK_CACHE_WRITETHROUGH, BLK_CACHE_NONE };

struct blk_opts {
	const char *path;
	bool readonly;
	bool cdrom; /* implies readonly */
	enum blk_cache cache;
};

struct blk_stats {
	uint64_t reads, writes, flushes;  /* completed requests, any result */
	uint64_t read_bytes, write_bytes; /* of successful requests */
	uint64_t errors;		  /* requests completed with err < 0 */
	uint64_t syncs;			  /* fdatasync() calls made */
	uint64_t error_lines; /* host-error lines printed (rate-limited) */
};

/*
 * Opens an image. dm may be NULL (completions then run only in
 * blk_drain()). On failure returns NULL with a one-line message in err,
 * e.g. "could not open disk image X: Permission denied".
 */
struct blk *blk_open(const struct blk_opts *o, struct dm *dm, char *err,
		     size_t errlen);

/*
 * Drains, stops the workers and closes the image. Call it on the
 * device-model thread, or from another thread that does not hold the
 * device lock, or after dm_stop().
 */
void blk_close(struct blk *b);

/* Counters so far, for -stats. b must come from blk_open(). */
void blk_get_stats(struct blk *b, struct blk_stats *st);

/*
 * For tests only: replaces the image's descriptor with path opened with
 * flags (e.g. O_RDONLY, or /dev/full for ENOSPC), to inject host errors.
 * Call with no request in flight. 0 or a negative errno.
 */
int blk_test_swap_fd(struct blk *b, const char *path, int flags);

#endif
