/*
 * ioerr-shim.so: an LD_PRELOAD library for tests/integration/ioerr-test.sh
 * that makes a host file behave as if a byte range of it were bad, so
 * that minivmm's block backend (vmm/backend/block.c: pread/pwrite,
 * preadv/pwritev and fdatasync on worker threads, no io_uring) meets real
 * EIO/ENOSPC returns from libc.
 *
 * Environment (read once):
 *   IOERR_MATCH  a substring of the file's path (/proc/self/fd/N): only
 *                matching files are affected (required)
 *   IOERR_LO, IOERR_HI  the bad byte range [LO, HI)
 *   IOERR_OPS    letters: r (reads fail), w (writes fail), f (the first
 *                fdatasync/fsync after a write that touched the range
 *                fails, once, as a deferred writeback error does)
 *   IOERR_ERRNO  EIO (default) or ENOSPC
 * A read or write that starts before the range and runs into it is cut
 * short at LO (as the kernel returns a short count before an error); one
 * that starts inside the range fails with IOERR_ERRNO.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

struct shim {
	const char *match;
	unsigned long long lo, hi;
	int err;
	int rd, wr, fl;
	atomic_int armed; /* a write touched the range since the last sync */
	ssize_t (*pread)(int, void *, size_t, off_t);
	ssize_t (*pwrite)(int, const void *, size_t, off_t);
	ssize_t (*preadv)(int, const struct iovec *, int, off_t);
	ssize_t (*pwritev)(int, const struct iovec *, int, off_t);
	int (*fdatasync)(int);
	int (*fsync)(int);
};

static struct shim S;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init(void)
{
	const char *ops = getenv("IOERR_OPS"), *e = getenv("IOERR_ERRNO");
	S.match = getenv("IOERR_MATCH");
	S.lo = strtoull(getenv("IOERR_LO") ? getenv("IOERR_LO") : "0", 0, 0);
	S.hi = strtoull(getenv("IOERR_HI") ? getenv("IOERR_HI") : "0", 0, 0);
	S.err = e && !strcmp(e, "ENOSPC") ? ENOSPC : EIO;
	S.rd = ops && strchr(ops, 'r');
	S.wr = ops && strchr(ops, 'w');
	S.fl = ops && strchr(ops, 'f');
	S.pread = dlsym(RTLD_NEXT, "pread");
	S.pwrite = dlsym(RTLD_NEXT, "pwrite");
	S.preadv = dlsym(RTLD_NEXT, "preadv");
	S.pwritev = dlsym(RTLD_NEXT, "pwritev");
	S.fdatasync = dlsym(RTLD_NEXT, "fdatasync");
	S.fsync = dlsym(RTLD_NEXT, "fsync");
}

static int matches(int fd)
{
	char link[64], path[PATH_MAX];
	pthread_once(&once, init);
	if (!S.match || !*S.match)
		return 0;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, sizeof(path) - 1);
	if (n < 0)
		return 0;
	path[n] = 0;
	return strstr(path, S.match) != NULL;
}

/*
 * How much of [off, off + len) may go through: len when the range is not
 * touched (or this op does not fail), LO - off when it is reached later,
 * -1 (errno set) when it starts inside.
 */
static ssize_t allowed(int fd, off_t off, size_t len, int write)
{
	unsigned long long a = off, b = off + len;
	if (!len || b <= S.lo || a >= S.hi || !matches(fd))
		return len;
	if (write && S.fl)
		atomic_store(&S.armed, 1);
	if (!(write ? S.wr : S.rd))
		return len;
	if (a < S.lo)
		return S.lo - a;
	errno = S.err;
	return -1;
}

static size_t iov_sum(const struct iovec *v, int n)
{
	size_t s = 0;
	for (int i = 0; i < n; i++)
		s += v[i].iov_len;
	return s;
}

/* The first max bytes of v in out (at most IOV_MAX entries). */
static int iov_cut(const struct iovec *v, int n, size_t max, struct iovec *out)
{
	int k = 0;
	for (int i = 0; i < n && max; i++) {
		out[k] = v[i];
		if (out[k].iov_len > max)
			out[k].iov_len = max;
		max -= out[k].iov_len;
		k++;
	}
	return k;
}

ssize_t pread(int fd, void *buf, size_t len, off_t off)
{
	pthread_once(&once, init);
	ssize_t ok = allowed(fd, off, len, 0);
	return ok < 0 ? -1 : S.pread(fd, buf, ok, off);
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
	pthread_once(&once, init);
	ssize_t ok = allowed(fd, off, len, 1);
	return ok < 0 ? -1 : S.pwrite(fd, buf, ok, off);
}

static ssize_t rwv(int fd, const struct iovec *v, int n, off_t off, int write)
{
	pthread_once(&once, init);
	size_t len = iov_sum(v, n);
	ssize_t ok = allowed(fd, off, len, write);
	if (ok < 0)
		return -1;
	if ((size_t)ok < len) {
		if (n > IOV_MAX) {
			errno = EINVAL;
			return -1;
		}
		struct iovec cut[IOV_MAX];
		n = iov_cut(v, n, ok, cut);
		return write ? S.pwritev(fd, cut, n, off)
			     : S.preadv(fd, cut, n, off);
	}
	return write ? S.pwritev(fd, v, n, off) : S.preadv(fd, v, n, off);
}

ssize_t preadv(int fd, const struct iovec *v, int n, off_t off)
{
	return rwv(fd, v, n, off, 0);
}

ssize_t pwritev(int fd, const struct iovec *v, int n, off_t off)
{
	return rwv(fd, v, n, off, 1);
}

static int sync_fails(int fd)
{
	pthread_once(&once, init);
	if (!S.fl || !matches(fd) || !atomic_exchange(&S.armed, 0))
		return 0;
	errno = S.err;
	return 1;
}

int fdatasync(int fd)
{
	return sync_fails(fd) ? -1 : S.fdatasync(fd);
}

int fsync(int fd)
{
	return sync_fails(fd) ? -1 : S.fsync(fd);
}

/* The large-file names (the same functions on 64-bit hosts), for
 * programs built with _FILE_OFFSET_BITS=64. */
ssize_t pread64(int fd, void *buf, size_t len, off_t off)
{
	return pread(fd, buf, len, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off_t off)
{
	return pwrite(fd, buf, len, off);
}

ssize_t preadv64(int fd, const struct iovec *v, int n, off_t off)
{
	return rwv(fd, v, n, off, 0);
}

ssize_t pwritev64(int fd, const struct iovec *v, int n, off_t off)
{
	return rwv(fd, v, n, off, 1);
}
