/*
 * Raw image backend (see block.h). Two worker threads take requests from a
 * FIFO, run them with preadv/pwritev/fdatasync and put them on a done list;
 * the done list is emptied, and done() called, by the eventfd watcher on
 * the device-model thread or by blk_drain(). Every request is taken off the
 * done list exactly once, under the queue lock, so done() runs exactly once.
 */
#include "vmm/backend/block.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ioreq/dm.h"

#define NR_WORKERS	 2
#define SECTOR		 512
#define CD_SECTOR	 2048
#define BOUNCE_MAX	 (1u << 20) /* largest bounce buffer per step */
#define DIRECT_ALIGN_MAX 4096
#define ERR_LINE_GAP_NS	 (5 * 1000000000ull) /* host-error lines at most */

struct raw_blk {
	struct blk blk; /* first: a struct blk * is a struct raw_blk * */
	int fd;
	bool cdrom, direct, regular;
	size_t align;	    /* O_DIRECT alignment; 1 when buffered */
	uint64_t file_size; /* bytes in the file (blk.size may be padded) */
	struct dm *dm;
	int efd;	     /* completion eventfd, -1 without a dm */
	struct event *ev;    /* watcher of efd */
	pthread_mutex_t rmw; /* serialises bounce read-modify-writes */

	pthread_mutex_t lock; /* everything below */
	pthread_cond_t work;  /* queue not empty, or stopping */
	pthread_cond_t done;  /* done list not empty */
	struct blk_req *q_head, *q_tail;
	struct blk_req *d_head, *d_tail;
	unsigned outstanding; /* submitted, done() not yet called */
	bool stopping;
	struct blk_stats st;
	/* Host I/O errors, per operation (read, write, flush): one stderr
	 * line, then at most one each ERR_LINE_GAP_NS. */
	struct err_rate {
		uint64_t lines, hidden, last_ns;
	} errs[3];
	bool flush_failed; /* a flush failed: all later ones fail (do_flush) */
	bool flush_told;   /* and the error line said so */
	pthread_t workers[NR_WORKERS];
	int nworkers;
};

static struct raw_blk *to_raw(struct blk *b)
{
	return (struct raw_blk *)b;
}

/* ---- iovec helpers ---- */

static size_t iov_total(const struct iovec *iov, int n, bool *overflow)
{
	size_t sum = 0;
	*overflow = false;
	for (int i = 0; i < n; i++) {
		if (iov[i].iov_len > SIZE_MAX - sum)
			*overflow = true;
		sum += iov[i].iov_len;
	}
	return sum;
}

/* Drops the first n bytes of the vector (updates *cnt). */
static struct iovec *iov_advance(struct iovec *iov, int *cnt, size_t n)
{
	while (*cnt > 0 && n >= iov->iov_len) {
		n -= iov->iov_len;
		iov++;
		(*cnt)--;
	}
	if (*cnt > 0) {
		iov->iov_base = (char *)iov->iov_base + n;
		iov->iov_len -= n;
	}
	return iov;
}

/* Copies n bytes between buf and the vector starting skip bytes in. */
static void iov_copy(const struct iovec *iov, int cnt, size_t skip, void *buf,
		     size_t n, bool to_iov)
{
	char *p = buf;
	for (int i = 0; i < cnt && n; i++) {
		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		size_t k = iov[i].iov_len - skip;
		if (k > n)
			k = n;
		char *v = (char *)iov[i].iov_base + skip;
		if (to_iov)
			memcpy(v, p, k);
		else
			memcpy(p, v, k);
		p += k;
		n -= k;
		skip = 0;
	}
}

static void iov_zero(struct iovec *iov, int cnt)
{
	for (int i = 0; i < cnt; i++)
		memset(iov[i].iov_base, 0, iov[i].iov_len);
}

static bool is_aligned(const struct raw_blk *rb, uint64_t pos, size_t len,
		       const struct iovec *iov, int cnt)
{
	uint64_t m = rb->align - 1;
	if ((pos | len) & m)
		return false;
	for (int i = 0; i < cnt; i++)
		if (((uintptr_t)iov[i].iov_base | iov[i].iov_len) & m)
			return false;
	return true;
}

/* ---- the I/O itself (worker threads) ---- */

/*
 * Reads up to n bytes at pos into buf; stops early only at end-of-file (or,
 * with O_DIRECT, at an unaligned short count, which is end-of-file too).
 * Returns the bytes read or a negative errno.
 */
static ssize_t read_full(struct raw_blk *rb, void *buf, size_t n, uint64_t pos)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r =
		    pread(rb->fd, (char *)buf + got, n - got, pos + got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		got += r;
		if (got % rb->align)
			break;
	}
	return got;
}

static int write_full(struct raw_blk *rb, const void *buf, size_t n,
		      uint64_t pos)
{
	size_t put = 0;
	while (put < n) {
		ssize_t r =
		    pwrite(rb->fd, (const char *)buf + put, n - put, pos + put);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO;
		put += r;
	}
	return 0;
}

/*
 * Reads [start, start + n) into an aligned buffer; bytes past end-of-file
 * read as zeros if fill_eof, else the read fails with -EIO unless the
 * missing bytes lie at or beyond need (padding the caller does not want).
 */
static int bounce_read(struct raw_blk *rb, char *buf, uint64_t start, size_t n,
		       size_t need, bool fill_eof)
{
	ssize_t got = read_full(rb, buf, n, start);
	if (got < 0)
		return got;
	if ((size_t)got < need && !fill_eof)
		return -EIO;
	memset(buf + got, 0, n - got);
	return 0;
}

/* One step of a bounced request: [pos, pos + n) within one buffer. */
static int bounce_step(struct raw_blk *rb, char *buf, bool write, uint64_t pos,
		       size_t n, const struct iovec *iov, int cnt, size_t skip)
{
	uint64_t start = pos & ~(uint64_t)(rb->align - 1);
	uint64_t end = (pos + n + rb->align - 1) & ~(uint64_t)(rb->align - 1);
	size_t head = pos - start, len = end - start;
	int err;

	if (!write) {
		err = bounce_read(rb, buf, start, len, head + n, rb->cdrom);
		if (!err)
			iov_copy(iov, cnt, skip, buf + head, n, true);
		return err;
	}
	/* Another worker must not write back a stale copy of this block. */
	pthread_mutex_lock(&rb->rmw);
	err = 0;
	if (head || len != n)
		err = bounce_read(rb, buf, start, len, 0, true);
	if (!err) {
		iov_copy(iov, cnt, skip, buf + head, n, false);
		err = write_full(rb, buf, len, start);
	}
	/* A 4096-aligned block may reach past a 512-multiple image's end. */
	if (!err && rb->regular && end > rb->file_size &&
	    ftruncate(rb->fd, rb->file_size) < 0)
		err = -errno;
	pthread_mutex_unlock(&rb->rmw);
	return err;
}

/* *moved: bytes of the steps that completed before an error. */
static int bounce_rw(struct raw_blk *rb, bool write, uint64_t pos,
		     const struct iovec *iov, int cnt, size_t len,
		     uint64_t *moved)
{
	/* Big enough for len plus the partial blocks at either end. */
	size_t cap = ((len + rb->align - 1) & ~(rb->align - 1)) + rb->align;
	if (cap > BOUNCE_MAX)
		cap = BOUNCE_MAX;
	char *buf = aligned_alloc(DIRECT_ALIGN_MAX,
				  (cap + DIRECT_ALIGN_MAX - 1) &
				      ~(size_t)(DIRECT_ALIGN_MAX - 1));
	if (!buf)
		return -ENOMEM;
	int err = 0;
	for (size_t done = 0; done < len && !err;) {
		uint64_t p = pos + done;
		size_t n = len - done;
		size_t room = cap - (p & (rb->align - 1));
		if (n > room)
			n = room;
		err = bounce_step(rb, buf, write, p, n, iov, cnt, done);
		if (!err)
			*moved += n;
		done += n;
	}
	free(buf);
	return err;
}

/* req->moved counts the bytes transferred, for an error's report. */
static int do_rw(struct raw_blk *rb, struct blk_req *req, size_t len)
{
	bool write = req->op == BLK_WRITE;
	struct iovec vec[BLK_MAX_IOV], *v = vec;
	int cnt = req->niov;
	uint64_t pos = req->offset;

	memcpy(vec, req->iov, sizeof(vec[0]) * cnt);
	while (len) {
		/* After a short O_DIRECT transfer the rest may be unaligned. */
		if (rb->direct && !is_aligned(rb, pos, len, v, cnt))
			return bounce_rw(rb, write, pos, v, cnt, len,
					 &req->moved);
		ssize_t r = write ? pwritev(rb->fd, v, cnt, pos)
				  : preadv(rb->fd, v, cnt, pos);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0) {
			if (write || !rb->cdrom)
				return -EIO;
			iov_zero(v, cnt); /* the CD's zero padding */
			return 0;
		}
		pos += r;
		len -= r;
		req->moved += r;
		v = iov_advance(v, &cnt, r);
	}
	return 0;
}

/*
 * A failed fdatasync() is sticky: the kernel may have dropped the dirty
 * pages it could not write and reports that only once, so a later
 * fdatasync() can succeed although data the guest wrote before is lost.
 * Every later flush of the image fails (-EIO) instead, without asking
 * the kernel, and the guest is never told its data is safe when it may
 * not be. Only a new minivmm process clears it.
 */
static int do_flush(struct raw_blk *rb)
{
	if (rb->blk.readonly)
		return 0;
	pthread_mutex_lock(&rb->lock);
	bool failed = rb->flush_failed;
	if (!failed)
		rb->st.syncs++;
	pthread_mutex_unlock(&rb->lock);
	if (failed)
		return -EIO;
	int err = 0;
	while (!err && fdatasync(rb->fd) < 0)
		if (errno != EINTR)
			err = -errno;
	if (!err)
		return 0;
	pthread_mutex_lock(&rb->lock);
	rb->flush_failed = true;
	pthread_mutex_unlock(&rb->lock);
	return err;
}

/* The checks that need no I/O; 0 or the request's error. */
static int check_req(struct raw_blk *rb, const struct blk_req *req, size_t *len)
{
	bool overflow;
	*len = 0;
	if (req->op == BLK_FLUSH)
		return 0;
	if (req->op != BLK_READ && req->op != BLK_WRITE)
		return -EINVAL;
	if (req->niov < 0 || req->niov > BLK_MAX_IOV)
		return -EINVAL;
	*len = iov_total(req->iov, req->niov, &overflow);
	if (overflow || req->offset > rb->blk.size ||
	    *len > rb->blk.size - req->offset)
		return -EINVAL;
	if (req->op == BLK_WRITE && rb->blk.readonly)
		return -EROFS;
	return 0;
}

static void account(struct raw_blk *rb, const struct blk_req *req, size_t len)
{
	struct blk_stats *st = &rb->st;
	if (req->op == BLK_READ)
		st->reads++;
	else if (req->op == BLK_WRITE)
		st->writes++;
	else
		st->flushes++;
	if (req->err < 0)
		st->errors++;
	else if (req->op == BLK_READ)
		st->read_bytes += len;
	else if (req->op == BLK_WRITE)
		st->write_bytes += len;
}

/* Lock held. Puts req on the done list and wakes whoever completes it. */
static void finish_locked(struct raw_blk *rb, struct blk_req *req, size_t len)
{
	account(rb, req, len);
	req->next = NULL;
	if (rb->d_tail)
		rb->d_tail->next = req;
	else
		rb->d_head = req;
	rb->d_tail = req;
	pthread_cond_broadcast(&rb->done);
	if (rb->efd >= 0) {
		uint64_t one = 1;
		/* Cannot fail short of counter overflow; the watcher and
		 * blk_drain() both empty the list whatever the count. */
		if (write(rb->efd, &one, sizeof(one)) < 0)
			(void)0;
	}
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/*
 * Lock held. A host I/O error on req (what the guest did wrong, such as
 * writing a read-only image, never gets here): one line on stderr, then
 * at most one per ERR_LINE_GAP_NS for each of read, write and flush,
 * which counts the ones not shown. The
 * guest sees the device's error status; the VMM goes on (werror=report).
 */
static void report_error(struct raw_blk *rb, const struct blk_req *req,
			 size_t len, int err)
{
	struct err_rate *e = &rb->errs[req->op];
	uint64_t now = now_ns();
	/* The first flush error is never rate-limited away: it says what
	 * happens to every flush after it. */
	bool first_flush = req->op == BLK_FLUSH && !rb->flush_told;
	if (e->lines && now - e->last_ns < ERR_LINE_GAP_NS && !first_flush) {
		e->hidden++;
		return;
	}
	char what[128], more[64] = "";
	if (req->op == BLK_FLUSH)
		snprintf(what, sizeof(what), "%s",
			 first_flush ? "flush (fdatasync) failed"
				     : "flush failed (an earlier one did)");
	else
		snprintf(what, sizeof(what),
			 "%s of %zu bytes at offset %llu failed at offset %llu",
			 req->op == BLK_READ ? "read" : "write", len,
			 (unsigned long long)req->offset,
			 (unsigned long long)(req->offset + req->moved));
	if (e->hidden)
		snprintf(more, sizeof(more), "; %llu more since the last line",
			 (unsigned long long)e->hidden);
	fprintf(
	    stderr,
	    "minivmm: %s: host %s: %s (the guest gets a device error%s)%s\n",
	    rb->blk.name, what, strerror(-err), more,
	    first_flush ? "; data written before it may be lost, so every "
			  "later flush of this image fails too"
			: "");
	rb->flush_told |= first_flush;
	e->lines++;
	rb->st.error_lines++;
	e->hidden = 0;
	e->last_ns = now;
}

static void run_req(struct raw_blk *rb, struct blk_req *req)
{
	size_t len;
	int err = check_req(rb, req, &len);
	bool io = !err;
	req->moved = 0;
	if (!err && req->op == BLK_FLUSH)
		err = do_flush(rb);
	else if (!err && len)
		err = do_rw(rb, req, len);
	pthread_mutex_lock(&rb->lock);
	if (io && err < 0)
		report_error(rb, req, len, err);
	req->err = err;
	finish_locked(rb, req, len);
	pthread_mutex_unlock(&rb->lock);
}

static void *worker(void *opaque)
{
	struct raw_blk *rb = opaque;
	pthread_mutex_lock(&rb->lock);
	for (;;) {
		while (!rb->q_head && !rb->stopping)
			pthread_cond_wait(&rb->work, &rb->lock);
		if (!rb->q_head)
			break;
		struct blk_req *req = rb->q_head;
		rb->q_head = req->next;
		if (!rb->q_head)
			rb->q_tail = NULL;
		pthread_mutex_unlock(&rb->lock);
		run_req(rb, req);
		pthread_mutex_lock(&rb->lock);
	}
	pthread_mutex_unlock(&rb->lock);
	return NULL;
}

/* ---- submission and completion ---- */

static int raw_submit(struct blk *b, struct blk_req *req)
{
	struct raw_blk *rb = to_raw(b);
	if (!req || !req->done)
		return -EINVAL;
	size_t len;
	int err = check_req(rb, req, &len);
	pthread_mutex_lock(&rb->lock);
	if (rb->stopping) {
		pthread_mutex_unlock(&rb->lock);
		return -ESHUTDOWN;
	}
	rb->outstanding++;
	if (err) {
		/* Refused without I/O, but still completed asynchronously. */
		req->err = err;
		req->moved = 0;
		finish_locked(rb, req, 0);
	} else {
		req->next = NULL;
		if (rb->q_tail)
			rb->q_tail->next = req;
		else
			rb->q_head = req;
		rb->q_tail = req;
		pthread_cond_signal(&rb->work);
	}
	pthread_mutex_unlock(&rb->lock);
	return 0;
}

/* Runs done() for what is on the done list now. Lock not held. */
static void run_completions(struct raw_blk *rb)
{
	pthread_mutex_lock(&rb->lock);
	struct blk_req *req = rb->d_head;
	rb->d_head = rb->d_tail = NULL;
	for (struct blk_req *r = req; r; r = r->next)
		rb->outstanding--;
	pthread_mutex_unlock(&rb->lock);
	while (req) {
		/* done() may reuse or free req: read next first. */
		struct blk_req *next = req->next;
		req->done(req, req->err);
		req = next;
	}
}

/* Device-model thread, device lock held (dm_watch_fd). */
static void completion_ready(void *opaque)
{
	struct raw_blk *rb = opaque;
	uint64_t n;
	if (read(rb->efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	run_completions(rb);
}

static void raw_drain(struct blk *b)
{
	struct raw_blk *rb = to_raw(b);
	if (rb->dm)
		dm_lock(rb->dm); /* recursive: fine on the dm thread */
	pthread_mutex_lock(&rb->lock);
	while (rb->outstanding) {
		while (!rb->d_head)
			pthread_cond_wait(&rb->done, &rb->lock);
		pthread_mutex_unlock(&rb->lock);
		run_completions(rb); /* done() may submit more */
		pthread_mutex_lock(&rb->lock);
	}
	pthread_mutex_unlock(&rb->lock);
	if (rb->dm)
		dm_unlock(rb->dm);
}

static const struct blk_ops raw_ops = {.submit = raw_submit,
				       .drain = raw_drain};

void blk_get_stats(struct blk *b, struct blk_stats *st)
{
	struct raw_blk *rb = to_raw(b);
	pthread_mutex_lock(&rb->lock);
	*st = rb->st;
	pthread_mutex_unlock(&rb->lock);
}

/* ---- open and close ---- */

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int open_flags(const struct blk_opts *o)
{
	int fl = O_CLOEXEC | O_NONBLOCK; /* a FIFO must not block the open */
	fl |= (o->readonly || o->cdrom) ? O_RDONLY : O_RDWR;
	if (o->cache == BLK_CACHE_WRITETHROUGH)
		fl |= O_DSYNC;
	if (o->cache == BLK_CACHE_NONE)
		fl |= O_DIRECT;
	return fl;
}

static int open_image(struct raw_blk *rb, const struct blk_opts *o, char *err,
		      size_t errlen)
{
	const char *kind = o->cdrom ? "CD image" : "disk image";
	rb->fd = open(o->path, open_flags(o));
	if (rb->fd < 0 && errno == EINVAL && o->cache == BLK_CACHE_NONE) {
		set_err(err, errlen,
			"could not open %s %s: the filesystem does not support "
			"O_DIRECT (cache=none); use cache=writeback",
			kind, o->path);
		return -1;
	}
	if (rb->fd < 0) {
		set_err(err, errlen, "could not open %s %s: %s", kind, o->path,
			strerror(errno));
		return -1;
	}
	int fl = fcntl(rb->fd, F_GETFL);
	if (fl < 0 || fcntl(rb->fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		set_err(err, errlen, "could not open %s %s: %s", kind, o->path,
			strerror(errno));
		return -1;
	}
	if (flock(rb->fd, (rb->blk.readonly ? LOCK_SH : LOCK_EX) | LOCK_NB)) {
		if (errno == EWOULDBLOCK)
			set_err(err, errlen,
				"image %s is in use by another process "
				"(locked)",
				o->path);
		else
			set_err(err, errlen, "could not lock image %s: %s",
				o->path, strerror(errno));
		return -1;
	}
	return 0;
}

static int image_size(struct raw_blk *rb, const struct blk_opts *o, char *err,
		      size_t errlen)
{
	struct stat s;
	const char *kind = o->cdrom ? "CD image" : "disk image";
	if (fstat(rb->fd, &s) < 0) {
		set_err(err, errlen, "could not open %s %s: %s", kind, o->path,
			strerror(errno));
		return -1;
	}
	if (S_ISREG(s.st_mode)) {
		rb->regular = true;
		rb->file_size = s.st_size;
	} else if (S_ISBLK(s.st_mode)) {
		if (ioctl(rb->fd, BLKGETSIZE64, &rb->file_size) < 0) {
			set_err(err, errlen, "could not size %s %s: %s", kind,
				o->path, strerror(errno));
			return -1;
		}
	} else {
		set_err(err, errlen,
			"could not open %s %s: not a regular file or block "
			"device",
			kind, o->path);
		return -1;
	}
	if (o->cdrom) {
		uint64_t pad = CD_SECTOR - 1;
		rb->blk.size = (rb->file_size + pad) & ~pad;
		return 0;
	}
	if (!rb->file_size || rb->file_size % SECTOR) {
		set_err(err, errlen,
			"disk image %s: size %llu is not a non-zero multiple "
			"of %d bytes",
			o->path, (unsigned long long)rb->file_size, SECTOR);
		return -1;
	}
	rb->blk.size = rb->file_size;
	return 0;
}

/*
 * O_DIRECT wants offsets, lengths and buffers aligned to the device's
 * logical block: 512 almost everywhere, 4096 on 4Kn disks. Probe it.
 */
static int probe_align(struct raw_blk *rb, const char *path, char *err,
		       size_t errlen)
{
	char *buf = aligned_alloc(DIRECT_ALIGN_MAX, 2 * DIRECT_ALIGN_MAX);
	int res = -1;
	if (!buf) {
		set_err(err, errlen, "out of memory");
		return -1;
	}
	for (size_t a = SECTOR; a <= DIRECT_ALIGN_MAX && res; a *= 8) {
		/* buf + a is aligned to a, and 512 not to 1024 */
		ssize_t r;
		do
			r = pread(rb->fd, buf + a, a, 0);
		while (r < 0 && errno == EINTR);
		if (r >= 0) {
			rb->align = a;
			res = 0;
		} else if (errno != EINVAL) {
			break;
		}
	}
	if (res)
		set_err(err, errlen,
			"could not open image %s: O_DIRECT (cache=none) reads "
			"fail: %s",
			path, strerror(errno));
	free(buf);
	return res;
}

static int start_workers(struct raw_blk *rb, char *err, size_t errlen)
{
	for (; rb->nworkers < NR_WORKERS; rb->nworkers++) {
		int e = pthread_create(&rb->workers[rb->nworkers], NULL, worker,
				       rb);
		if (e) {
			set_err(err, errlen, "cannot start block workers: %s",
				strerror(e));
			return -1;
		}
	}
	return 0;
}

static int watch_completions(struct raw_blk *rb, char *err, size_t errlen)
{
	rb->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (rb->efd < 0) {
		set_err(err, errlen, "eventfd: %s", strerror(errno));
		return -1;
	}
	rb->ev = dm_watch_fd(rb->dm, rb->efd, completion_ready, rb);
	if (!rb->ev) {
		set_err(err, errlen, "cannot watch block completions");
		return -1;
	}
	return 0;
}

struct blk *blk_open(const struct blk_opts *o, struct dm *dm, char *err,
		     size_t errlen)
{
	struct raw_blk *rb = calloc(1, sizeof(*rb));
	char *name = strdup(o->path);
	if (!rb || !name) {
		free(rb);
		free(name);
		set_err(err, errlen, "out of memory");
		return NULL;
	}
	rb->blk = (struct blk){
	    .ops = &raw_ops, .readonly = o->readonly || o->cdrom, .name = name};
	rb->fd = rb->efd = -1;
	rb->cdrom = o->cdrom;
	rb->direct = o->cache == BLK_CACHE_NONE;
	rb->align = 1;
	rb->dm = dm;
	pthread_mutex_init(&rb->lock, NULL);
	pthread_mutex_init(&rb->rmw, NULL);
	pthread_cond_init(&rb->work, NULL);
	pthread_cond_init(&rb->done, NULL);
	if (open_image(rb, o, err, errlen) || image_size(rb, o, err, errlen) ||
	    (rb->direct && probe_align(rb, o->path, err, errlen)) ||
	    (dm && watch_completions(rb, err, errlen)) ||
	    start_workers(rb, err, errlen)) {
		blk_close(&rb->blk);
		return NULL;
	}
	return &rb->blk;
}

void blk_close(struct blk *b)
{
	struct raw_blk *rb = to_raw(b);
	if (!b)
		return;
	if (rb->nworkers)
		raw_drain(b);
	pthread_mutex_lock(&rb->lock);
	rb->stopping = true;
	pthread_cond_broadcast(&rb->work);
	pthread_mutex_unlock(&rb->lock);
	for (int i = 0; i < rb->nworkers; i++)
		pthread_join(rb->workers[i], NULL);
	/* Waits for a running completion_ready() on the dm thread. */
	dm_unwatch(rb->ev);
	if (rb->efd >= 0)
		close(rb->efd);
	if (rb->fd >= 0)
		close(rb->fd); /* drops the flock */
	uint64_t hidden = 0;
	for (int i = 0; i < 3; i++)
		hidden += rb->errs[i].hidden;
	if (hidden)
		fprintf(stderr,
			"minivmm: %s: %llu more host I/O errors not shown "
			"(each reported to the guest)\n",
			rb->blk.name, (unsigned long long)hidden);
	pthread_cond_destroy(&rb->work);
	pthread_cond_destroy(&rb->done);
	pthread_mutex_destroy(&rb->lock);
	pthread_mutex_destroy(&rb->rmw);
	free((char *)rb->blk.name);
	free(rb);
}

int blk_test_swap_fd(struct blk *b, const char *path, int flags)
{
	struct raw_blk *rb = to_raw(b);
	int fd = open(path, flags | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = dup3(fd, rb->fd, O_CLOEXEC) < 0 ? -errno : 0;
	close(fd);
	return r;
}
