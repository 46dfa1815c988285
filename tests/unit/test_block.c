/* Raw image backend (vmm/backend/block.c): data placement, media rules,
 * locking, O_DIRECT bouncing, host errors and completion delivery. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ioreq/dm.h"
#include "vmm/backend/block.h"

static char dir[64];
static char errbuf[256];

static void setup(void)
{
	strcpy(dir, "/tmp/blktest.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static int rm_one(const char *p, const struct stat *s, int flag, struct FTW *f)
{
	(void)s;
	(void)flag;
	(void)f;
	return remove(p);
}

static void teardown(void)
{
	if (dir[0])
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(block, .init = setup, .fini = teardown, .timeout = 60);

/* cr_skip_test() does not run .fini: clean up first. */
#define SKIP(...)                                                              \
	do {                                                                   \
		teardown();                                                    \
		dir[0] = 0;                                                    \
		cr_skip_test(__VA_ARGS__);                                     \
	} while (0)

static uint8_t pat(uint64_t off)
{
	return (uint8_t)(off * 7 + (off >> 9) + 1);
}

/* A file of size bytes holding pat(offset), in directory d. */
static char *make_image_in(const char *d, const char *name, size_t size)
{
	char *path;
	cr_assert_gt(asprintf(&path, "%s/%s", d, name), 0);
	int fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0644);
	cr_assert_geq(fd, 0);
	uint8_t *buf = malloc(size + 1);
	for (size_t i = 0; i < size; i++)
		buf[i] = pat(i);
	cr_assert_eq(pwrite(fd, buf, size, 0), (ssize_t)size);
	free(buf);
	close(fd);
	return path;
}

static char *make_image(const char *name, size_t size)
{
	return make_image_in(dir, name, size);
}

static struct blk *open_img(const char *path, bool ro, bool cd,
			    enum blk_cache cache)
{
	struct blk_opts o = {
	    .path = path, .readonly = ro, .cdrom = cd, .cache = cache};
	errbuf[0] = 0;
	return blk_open(&o, NULL, errbuf, sizeof(errbuf));
}

static void count_done(struct blk_req *req, int err)
{
	int *res = req->opaque;
	res[0]++;
	res[1] = err;
}

/* Submits one request and drains; returns its error (done must run once). */
static int run_iov(struct blk *b, enum blk_op op, uint64_t off,
		   const struct iovec *iov, int niov)
{
	int res[2] = {0, 12345};
	struct blk_req req = {.op = op, .offset = off, .niov = niov};
	if (niov > 0)
		memcpy(req.iov, iov, sizeof(*iov) * niov);
	req.done = count_done;
	req.opaque = res;
	cr_assert_eq(blk_submit(b, &req), 0);
	cr_assert_eq(res[0], 0, "done() ran inside blk_submit()");
	blk_drain(b);
	cr_assert_eq(res[0], 1, "done() ran %d times", res[0]);
	return res[1];
}

static int run1(struct blk *b, enum blk_op op, uint64_t off, void *buf,
		size_t len)
{
	struct iovec v = {buf, len};
	return run_iov(b, op, off, &v, buf ? 1 : 0);
}

static void file_read(const char *path, void *buf, size_t len, off_t off)
{
	int fd = open(path, O_RDONLY);
	cr_assert_geq(fd, 0);
	cr_assert_eq(pread(fd, buf, len, off), (ssize_t)len);
	close(fd);
}

static off_t file_size(const char *path)
{
	struct stat s;
	cr_assert_eq(stat(path, &s), 0);
	return s.st_size;
}

Test(block, open_reports_geometry)
{
	char *p = make_image("d.img", 64 * 1024);
	struct blk *b = open_img(p, false, false, BLK_CACHE_WRITEBACK);
	cr_assert_not_null(b, "%s", errbuf);
	cr_assert_eq(b->size, 64 * 1024);
	cr_assert_not(b->readonly);
	cr_assert_str_eq(b->name, p);
	blk_close(b);
	free(p);
}

Test(block, multi_iov_write_lands_at_offset)
{
	char *p = make_image("d.img", 64 * 1024);
	struct blk *b = open_img(p, false, false, BLK_CACHE_WRITEBACK);
	cr_assert_not_null(b, "%s", errbuf);
	uint8_t a[100], c[412], d[1024];
	memset(a, 0x11, sizeof(a));
	memset(c, 0x22, sizeof(c));
	memset(d, 0x33, sizeof(d));
	struct iovec v[4] = {
	    {a, sizeof(a)}, {c, 0}, {c, sizeof(c)}, {d, sizeof(d)}};
	cr_assert_eq(run_iov(b, BLK_WRITE, 1536, v, 4), 0);

	uint8_t back[2048];
	file_read(p, back, sizeof(back), 1024);
	for (int i = 0; i < 2048; i++) {
		uint64_t off = 1024 + i;
		uint8_t want = off < 1536   ? pat(off)
			       : off < 1636 ? 0x11
			       : off < 2048 ? 0x22
			       : off < 3072 ? 0x33
					    : pat(off);
		cr_assert_eq(back[i], want, "byte at %llu",
			     (unsigned long long)off);
	}

	/* Read it back split differently. */
	uint8_t r1[7], r2[1529];
	struct iovec rv[2] = {{r1, sizeof(r1)}, {r2, sizeof(r2)}};
	cr_assert_eq(run_iov(b, BLK_READ, 1536, rv, 2), 0);
	cr_assert_eq(r1[0], 0x11);
	cr_assert_eq(r2[92], 0x11);
	cr_assert_eq(r2[93], 0x22);
	cr_assert_eq(r2[504], 0x22);
	cr_assert_eq(r2[505], 0x33);
	cr_assert_eq(r2[1528], 0x33);

	struct blk_stats st;
	blk_get_stats(b, &st);
	cr_assert_eq(st.writes, 1);
	cr_assert_eq(st.reads, 1);
	cr_assert_eq(st.write_bytes, 1536);
	cr_assert_eq(st.read_bytes, 1536);
	cr_assert_eq(st.errors, 0);
	blk_close(b);
	free(p);
}

Test(block, read_returns_file_contents)
{
	char *p = make_image("d.img", 8192);
	struct blk *b = open_img(p, true, false, BLK_CACHE_WRITEBACK);
	cr_assert_not_null(b, "%s", errbuf);
	uint8_t buf[8192];
	cr_assert_eq(run1(b, BLK_READ, 0, buf, sizeof(buf)), 0);
	for (int i = 0; i < 8192; i++)
		cr_assert_eq(buf[i], pat(i));
	blk_close(b);
	free(p);
}

Test(block, flush_syncs_unless_readonly)
{
	char *p = make_image("d.img", 4096);
	struct blk *b = open_img(p, false, false, BLK_CACHE_WRITEBACK);
	cr_assert_not_null(b, "%s", errbuf);
	cr_assert_eq(run1(b, BLK_FLUSH, 0, NULL, 0), 0);
	cr_assert_eq(run1(b, BLK_FLUSH, 0, NULL, 0), 0);
	struct blk_stats st;
	blk_get_stats(b, &st);
	cr_assert_eq(st.flushes, 2);
	cr_assert_eq(st.syncs, 2);
	blk_close(b);

	b = open_img(p, true, false, BLK_CACHE_WRITEBACK);
	cr_assert_not_null(b, "%s", errbuf);
	cr_assert_eq(run1(b, BLK_FLUSH, 0, NULL, 0), 0);
	blk_get_stats(b, &st);
	cr_assert_eq(st.flushes, 1);
	cr_assert_eq(st.syncs, 0);
	blk_close(b);
	free(p);
}

Test(block, readonly_refuses_writes)
{
	char *p = make_image("d.img", 4096);
	struct blk *b = open_img(p, true, false, BLK_CACHE_WRITEBACK);
	cr_assert_not_null(b, "%s", errbuf);
	cr_assert(b->readonly);
	uint8_t buf[512];
	memset(buf, 0xee, sizeof(buf));
	cr_assert_eq(run1(b, BLK_WRITE, 0, buf, sizeof(buf)), -EROFS);
	file_read(p, buf, sizeof(buf), 0);
	cr_assert_eq(buf[0], pat(0));
	cr_assert_eq(buf[511], pat(511));
	cr_assert_eq(run1(b, BLK_READ, 512, buf, sizeof(buf)), 0);
	cr_assert_eq(buf[0], pat(512));
	struct blk_stats st;
	blk_get_stats(b, &st);
	cr_assert_eq(st.errors, 1);
	cr_assert_eq(st.write_bytes, 0);
	blk_close(b);

	/* A CD is read-only whatever readonly says. */
	b = open_img(p, false, true, BLK_CACHE_WRITEBACK);
	cr_assert_not_null(b, "%s", errbuf);
	cr_assert(b->readonly);
	cr_assert_eq(run1(b, BLK_WRITE, 0, buf, sizeof(buf)), -EROFS);
	blk_close(b);
	free(p);
}

Test(block, disk_size_rules)
{
	char *p = make_image("odd.img", 1000);
	cr_assert_null(open_img(p, false, false, BLK_CACHE_WRITEBACK));
	cr_assert(strstr(errbuf, "multiple of 512"), "%s", errbuf);
	cr_assert(strstr(errbuf, p), "%s", errbuf);
	free(p);

	p = make_image("empty.img", 0);
	cr_assert_null(open_img(p, true, false, BLK_CACHE_WRITEBACK));
	cr_assert(strstr(errbuf, "size 0"), "%s", errbuf);
	free(p);

	cr_assert_null(open_img(dir, true, false, BLK_CACHE_WRITEBACK));
	cr_assert(strstr(errbuf, "not a regular file or block device"), "%s",
		  errbuf);
	cr_assert_null(
	    open_img("/dev/null", false, false, BLK_CACHE_WRITEBACK));
	cr_assert(strstr(errbuf, "not a regular file or block device"), "%s",
		  errbuf);

	char *fifo;
	cr_assert_gt(asprintf(&fifo, "%s/fifo", dir), 0);
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	cr_assert_null(open_img(fifo, true, false, BLK_CACHE_WRITEBACK));
	cr_assert(strstr(errbuf, "not a regular file"), "%s", errbuf);
	free(fifo);
}

Test(block, missing_file_message)
{
	char *p;
	cr_assert_gt(asprintf(&p, "%s/nope.img", dir), 0);
	cr_assert_null(open_img(p, false, false, BLK_CACHE_WRITEBACK));
	char want[512];
	snprintf(want, sizeof(want),
		 "could not open disk image %s: No such file or directory", p);
	cr_assert_str_eq(errbuf, want);
	free(p);
}

Test(block, permission_denied_message)
{
	char *p = make_image("ro.img", 4096);
	cr_assert_eq(chmod(p, 0444), 0);
	cr_assert_eq(chmod(dir, 0755), 0);
	char want[512];
	snprintf(want, sizeof(want),
		 "could not open disk image %s: Permission denied", p);
	/* root ignores file modes: try as nobody, in a child process */
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		if (geteuid() == 0 && setresuid(65534, 65534, 65534))
			_exit(2);
		struct blk *b = open_img(p, false, false, BLK_CACHE_WRITEBACK);
		_exit(b ? 3 : strcmp(errbuf, want) ? 4 : 0);
	}
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status));
	cr_assert_eq(WEXITSTATUS(status), 0, "child status %d",
		     WEXITSTATUS(status));
	struct blk *b = open_img(p, true, false, BLK_CACHE_WRITEBACK);
	cr_assert_not_null(b, "%s", errbuf);
	blk_close(b);
	free(p);
}

Test(block, cdrom_any_size_zero_padded)
{
	char *p = make_image("cd.iso", 3000);
	struct blk *b = open_img(p, false, true, BLK_CACHE_WRITEBACK);
	cr_assert_not_null(b, "%s", errbuf);
	cr_assert_eq(b->size, 4096);
	uint8_t a[1000], c[1048];
	memset(a, 0xaa, sizeof(a));
	memset(c, 0xaa, sizeof(c));
	struct iovec v[2] = {{a, sizeof(a)}, {c, sizeof(c)}};
	cr_assert_eq(run_iov(b, BLK_READ, 2048, v, 2), 0);
	for (int i = 0; i < 1000; i++) {
		uint8_t want = 2048 + i < 3000 ? pat(2048 + i) : 0;
		cr_assert_eq(a[i], want, "a[%d]", i);
	}
	for (int i = 0; i < 1048; i++)
		cr_assert_eq(c[i], 0, "c[%d]", i);
	cr_assert_eq(run1(b, BLK_READ, 4096, a, 1), -EINVAL);
	blk_close(b);
	free(p);
}

Test(block, disk_shrunk_under_us_reads_eio)
{
	char *p = make_image("d.img", 8192);
	struct blk *b = open_img(p, false, false, BLK_CACHE_WRITEBACK);
	cr_assert_not_null(b, "%s", errbuf);
	cr_assert_eq(truncate(p, 4096), 0);
	uint8_t buf[1024];
	cr_assert_eq(run1(b, BLK_READ, 3584, buf, sizeof(buf)), -EIO);
	cr_assert_eq(run1(b, BLK_READ, 3072, buf, sizeof(buf)), 0);
	cr_assert_eq(buf[1023], pat(4095));
	blk_close(b);
	free(p);
}

Test(block, beyond_end_einval_untouched)
{
	char *p = make_image("d.img", 4096);
	struct blk *b = open_img(p, false, false, BLK_CACHE_WRITEBACK);
	cr_assert_not_null(b, "%s", errbuf);
	uint8_t buf[1024] = {0};
	cr_assert_eq(run1(b, BLK_READ, 4096, buf, 512), -EINVAL);
	cr_assert_eq(run1(b, BLK_WRITE, 3584, buf, 1024), -EINVAL);
	cr_assert_eq(run1(b, BLK_WRITE, 4096, buf, 512), -EINVAL);
	cr_assert_eq(run1(b, BLK_WRITE, UINT64_MAX - 100, buf, 512), -EINVAL);
	cr_assert_eq(run1(b, BLK_READ, UINT64_MAX, buf, 1), -EINVAL);
	cr_assert_eq(file_size(p), 4096);
	file_read(p, buf, 512, 3584);
	cr_assert_eq(buf[0], pat(3584));
	/* The last byte and an empty request at the very end are fine. */
	cr_assert_eq(run1(b, BLK_READ, 4095, buf, 1), 0);
	cr_assert_eq(buf[0], pat(4095));
	cr_assert_eq(run1(b, BLK_READ, 4096, buf, 0), 0);
	blk_close(b);
	free(p);
}

Test(block, malformed_requests)
{
	char *p = make_image("d.img", 4096);
	struct blk *b = open_img(p, false, false, BLK_CACHE_WRITEBACK);
	cr_assert_not_null(b, "%s", errbuf);
	uint8_t buf[16];
	struct iovec v[2] = {{buf, 16}, {buf, SIZE_MAX - 8}};
	cr_assert_eq(run_iov(b, BLK_READ, 0, v, 2), -EINVAL);
	cr_assert_eq(run_iov(b, BLK_READ, 0, v, -1), -EINVAL);
	cr_assert_eq(run_iov(b, (enum blk_op)7, 0, v, 1), -EINVAL);
	struct blk_req req = {.op = BLK_READ, .niov = BLK_MAX_IOV + 1};
	int res[2] = {0, 0};
	req.done = count_done;
	req.opaque = res;
	cr_assert_eq(blk_submit(b, &req), 0);
	blk_drain(b);
	cr_assert_eq(res[0], 1);
	cr_assert_eq(res[1], -EINVAL);
	req.done = NULL;
	cr_assert_eq(blk_submit(b, &req), -EINVAL);
	blk_drain(b); /* nothing outstanding: returns */
	cr_assert_eq(run_iov(b, BLK_WRITE, 100, v, 0), 0);
	blk_close(b);
	free(p);
}

Test(block, locking)
{
	char *p = make_image("d.img", 4096);
	struct blk *w = open_img(p, false, false, BLK_CACHE_WRITEBACK);
	cr_assert_not_null(w, "%s", errbuf);
	cr_assert_null(open_img(p, false, false, BLK_CACHE_WRITEBACK));
	char want[512];
	snprintf(want, sizeof(want),
		 "image %s is in use by another process (locked)", p);
	cr_assert_str_eq(errbuf, want);
	cr_assert_null(open_img(p, true, false, BLK_CACHE_WRITEBACK));
	cr_assert_str_eq(errbuf, want);
	blk_close(w);

	struct blk *r1 = open_img(p, true, false, BLK_CACHE_WRITEBACK);
	cr_assert_not_null(r1, "%s", errbuf);
	struct blk *r2 = open_img(p, false, true, BLK_CACHE_WRITEBACK);
	cr_assert_not_null(r2, "%s", errbuf);
	cr_assert_null(open_img(p, false, false, BLK_CACHE_WRITEBACK));
	cr_assert(strstr(errbuf, "locked"), "%s", errbuf);
	blk_close(r1);
	blk_close(r2);
	w = open_img(p, false, false, BLK_CACHE_WRITEBACK);
	cr_assert_not_null(w, "%s", errbuf);
	blk_close(w);
	free(p);
}

Test(block, writethrough_roundtrip)
{
	char *p = make_image("d.img", 8192);
	struct blk *b = open_img(p, false, false, BLK_CACHE_WRITETHROUGH);
	cr_assert_not_null(b, "%s", errbuf);
	uint8_t buf[512], back[512];
	memset(buf, 0x5a, sizeof(buf));
	cr_assert_eq(run1(b, BLK_WRITE, 512, buf, sizeof(buf)), 0);
	file_read(p, back, sizeof(back), 512);
	cr_assert_arr_eq(back, buf, sizeof(buf));
	blk_close(b);
	free(p);
}

/* ---- O_DIRECT ---- */

static struct blk *open_direct(const char *path)
{
	struct blk *b = open_img(path, false, false, BLK_CACHE_NONE);
	if (!b && strstr(errbuf, "does not support O_DIRECT"))
		SKIP("filesystem refuses O_DIRECT: %s", errbuf);
	cr_assert_not_null(b, "%s", errbuf);
	return b;
}

Test(block, direct_unaligned_requests)
{
	char vdir[] = "/var/tmp/blktest.XXXXXX";
	cr_assert_not_null(mkdtemp(vdir));
	rmdir(dir);
	strcpy(dir, vdir);	       /* teardown removes it */
	size_t size = 64 * 1024 + 512; /* not a multiple of 4096 */
	char *p = make_image_in(vdir, "direct.img", size);
	struct blk *b = open_direct(p);
	uint8_t *model = malloc(size);
	for (size_t i = 0; i < size; i++)
		model[i] = pat(i);

	/* Unaligned offset, lengths and buffers, several iovecs. */
	uint8_t *raw = malloc(8192);
	uint8_t *x = raw + 1, *y = raw + 1000, *z = raw + 3001;
	memset(x, 0xa1, 300);
	memset(y, 0xb2, 777);
	memset(z, 0xc3, 4000);
	struct iovec v[3] = {{x, 300}, {y, 777}, {z, 4000}};
	cr_assert_eq(run_iov(b, BLK_WRITE, 100, v, 3), 0);
	memset(model + 100, 0xa1, 300);
	memset(model + 400, 0xb2, 777);
	memset(model + 1177, 0xc3, 4000);

	/* The last sector, with a buffer that is not aligned. */
	memset(x, 0xd4, 512);
	cr_assert_eq(run1(b, BLK_WRITE, size - 512, x, 512), 0);
	memset(model + size - 512, 0xd4, 512);

	/* Aligned request: goes straight through. */
	uint8_t *al = aligned_alloc(4096, 8192);
	memset(al, 0xe5, 8192);
	cr_assert_eq(run1(b, BLK_WRITE, 16384, al, 8192), 0);
	memset(model + 16384, 0xe5, 8192);

	uint8_t *back = malloc(size);
	file_read(p, back, size, 0);
	cr_assert_eq(file_size(p), (off_t)size);
	for (size_t i = 0; i < size; i++)
		cr_assert_eq(back[i], model[i], "byte %zu", i);

	/* Unaligned reads. */
	memset(raw, 0, 8192);
	struct iovec rv[2] = {{raw + 3, 1234}, {raw + 5000, 2000}};
	cr_assert_eq(run_iov(b, BLK_READ, 77, rv, 2), 0);
	cr_assert_arr_eq(raw + 3, model + 77, 1234);
	cr_assert_arr_eq(raw + 5000, model + 77 + 1234, 2000);
	cr_assert_eq(run1(b, BLK_READ, size - 700, raw + 1, 700), 0);
	cr_assert_arr_eq(raw + 1, model + size - 700, 700);
	cr_assert_eq(run1(b, BLK_READ, 16384, al, 8192), 0);
	cr_assert_arr_eq(al, model + 16384, 8192);
	blk_close(b);
	free(al);
	free(raw);
	free(back);
	free(model);
	free(p);
}

Test(block, direct_cdrom_tail)
{
	char vdir[] = "/var/tmp/blktest.XXXXXX";
	cr_assert_not_null(mkdtemp(vdir));
	rmdir(dir);
	strcpy(dir, vdir);
	char *p = make_image_in(vdir, "cd.iso", 5000);
	struct blk_opts o = {.path = p, .cdrom = true, .cache = BLK_CACHE_NONE};
	struct blk *b = blk_open(&o, NULL, errbuf, sizeof(errbuf));
	if (!b && strstr(errbuf, "does not support O_DIRECT"))
		SKIP("filesystem refuses O_DIRECT: %s", errbuf);
	cr_assert_not_null(b, "%s", errbuf);
	cr_assert_eq(b->size, 6144);
	uint8_t *buf = aligned_alloc(4096, 4096);
	memset(buf, 0xaa, 4096);
	cr_assert_eq(run1(b, BLK_READ, 2048, buf, 4096), 0);
	for (int i = 0; i < 4096; i++) {
		uint8_t want = 2048 + i < 5000 ? pat(2048 + i) : 0;
		cr_assert_eq(buf[i], want, "buf[%d]", i);
	}
	blk_close(b);
	free(buf);
	free(p);
}

Test(block, direct_on_tmpfs_is_refused_clearly)
{
	char *p = make_image_in("/dev/shm", "blktest-direct.img", 4096);
	struct blk *b = open_img(p, false, false, BLK_CACHE_NONE);
	unlink(p);
	free(p);
	if (b) {
		blk_close(b);
		SKIP("this kernel's tmpfs supports O_DIRECT");
	}
	cr_assert(strstr(errbuf, "does not support O_DIRECT"), "%s", errbuf);
}

/* ---- host errors ---- */

Test(block, write_through_readonly_fd_reports_error)
{
	char *p = make_image("d.img", 4096);
	struct blk *b = open_img(p, false, false, BLK_CACHE_WRITEBACK);
	cr_assert_not_null(b, "%s", errbuf);
	cr_assert_eq(blk_test_swap_fd(b, p, O_RDONLY), 0);
	uint8_t buf[512];
	memset(buf, 1, sizeof(buf));
	cr_assert_eq(run1(b, BLK_WRITE, 0, buf, sizeof(buf)), -EBADF);
	cr_assert_eq(run1(b, BLK_READ, 0, buf, sizeof(buf)), 0);
	cr_assert_eq(buf[5], pat(5));
	struct blk_stats st;
	blk_get_stats(b, &st);
	cr_assert_eq(st.errors, 1);
	blk_close(b);
	free(p);
}

Test(block, enospc_from_full_device)
{
	char *p = make_image("d.img", 4096);
	struct blk *b = open_img(p, false, false, BLK_CACHE_WRITEBACK);
	cr_assert_not_null(b, "%s", errbuf);
	cr_assert_eq(blk_test_swap_fd(b, "/dev/full", O_RDWR), 0);
	uint8_t buf[512] = {0};
	cr_assert_eq(run1(b, BLK_WRITE, 512, buf, sizeof(buf)), -ENOSPC);
	blk_close(b);
	free(p);
}

static void keep_done(struct blk_req *req, int err)
{
	(void)req;
	(void)err;
}

/* A read that ends early (end-of-file) fails, and says how much of it
 * arrived first; a request that cannot start says nothing moved. */
Test(block, short_transfer_then_error_reports_moved)
{
	char *p = make_image("d.img", 8192);
	struct blk *b = open_img(p, false, false, BLK_CACHE_WRITEBACK);
	cr_assert_not_null(b, "%s", errbuf);
	cr_assert_eq(truncate(p, 4096), 0);
	uint8_t buf[1536];
	struct blk_req req = {.op = BLK_READ, .offset = 3072, .niov = 1};
	req.iov[0] = (struct iovec){buf, sizeof(buf)};
	req.done = keep_done;
	req.moved = 999;
	cr_assert_eq(blk_submit(b, &req), 0);
	blk_drain(b);
	cr_assert_eq(req.err, -EIO);
	cr_assert_eq(req.moved, 1024);
	cr_assert_eq(buf[1023], pat(4095));
	req.offset = 4096; /* nothing there */
	req.moved = 999;
	cr_assert_eq(blk_submit(b, &req), 0);
	blk_drain(b);
	cr_assert_eq(req.err, -EIO);
	cr_assert_eq(req.moved, 0);
	blk_close(b);
	free(p);
}

/* A failed fdatasync may have lost data the kernel will not report
 * again: every later flush fails, although the file could sync now. */
Test(block, failed_flush_is_sticky)
{
	char *p = make_image("d.img", 4096);
	struct blk *b = open_img(p, false, false, BLK_CACHE_WRITEBACK);
	cr_assert_not_null(b, "%s", errbuf);
	cr_assert_eq(run1(b, BLK_FLUSH, 0, NULL, 0), 0);
	cr_assert_eq(blk_test_swap_fd(b, "/dev/null", O_RDWR), 0);
	cr_assert_eq(run1(b, BLK_FLUSH, 0, NULL, 0), -EINVAL);
	cr_assert_eq(blk_test_swap_fd(b, p, O_RDWR), 0);
	cr_assert_eq(run1(b, BLK_FLUSH, 0, NULL, 0), -EIO);
	cr_assert_eq(run1(b, BLK_FLUSH, 0, NULL, 0), -EIO);
	uint8_t buf[512] = {0};
	cr_assert_eq(run1(b, BLK_WRITE, 0, buf, sizeof(buf)), 0,
		     "writes go on");
	struct blk_stats st;
	blk_get_stats(b, &st);
	cr_assert_eq(st.syncs, 2, "no fdatasync after the failure");
	cr_assert_eq(st.errors, 3);
	cr_assert_eq(st.error_lines, 1, "the later ones within the gap");
	blk_close(b);
	free(p);
}

/* Host errors in a burst: every one counted, one stderr line. */
Test(block, host_error_lines_are_rate_limited)
{
	char *p = make_image("d.img", 4096);
	struct blk *b = open_img(p, false, false, BLK_CACHE_WRITEBACK);
	cr_assert_not_null(b, "%s", errbuf);
	cr_assert_eq(blk_test_swap_fd(b, "/dev/full", O_RDWR), 0);
	uint8_t buf[512] = {0};
	for (int i = 0; i < 50; i++)
		cr_assert_eq(run1(b, BLK_WRITE, 512, buf, sizeof(buf)),
			     -ENOSPC);
	b->readonly = true; /* the guest's fault: no line, not a host error */
	cr_assert_eq(run1(b, BLK_WRITE, 512, buf, sizeof(buf)), -EROFS);
	cr_assert_eq(run1(b, BLK_READ, 8192, buf, sizeof(buf)), -EINVAL);
	struct blk_stats st;
	blk_get_stats(b, &st);
	cr_assert_eq(st.errors, 52);
	cr_assert_eq(st.error_lines, 1);
	/* a read error has its own line, once */
	cr_assert_eq(blk_test_swap_fd(b, p, O_WRONLY), 0);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(run1(b, BLK_READ, 0, buf, sizeof(buf)), -EBADF);
	blk_get_stats(b, &st);
	cr_assert_eq(st.error_lines, 2);
	blk_close(b);
	free(p);
}

Test(block, efbig_from_file_size_limit)
{
	char *p = make_image("d.img", 16384);
	struct blk *b = open_img(p, false, false, BLK_CACHE_WRITEBACK);
	cr_assert_not_null(b, "%s", errbuf);
	signal(SIGXFSZ, SIG_IGN);
	struct rlimit rl = {4096, 4096};
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	uint8_t buf[512] = {0};
	cr_assert_eq(run1(b, BLK_WRITE, 8192, buf, sizeof(buf)), -EFBIG);
	cr_assert_eq(run1(b, BLK_WRITE, 0, buf, sizeof(buf)), 0);
	blk_close(b);
	free(p);
}

/* ---- completion delivery ---- */

struct many {
	pthread_mutex_t m;
	pthread_cond_t c;
	int ndone, bad_err, wrong_thread;
	struct dm *dm;
};

/* Runs on the dm thread when there is one: record, assert later. */
static void many_done(struct many *st, int err)
{
	pthread_mutex_lock(&st->m);
	if (err)
		st->bad_err++;
	if (st->dm && !pthread_equal(pthread_self(), st->dm->thread))
		st->wrong_thread++;
	st->ndone++;
	pthread_cond_broadcast(&st->c);
	pthread_mutex_unlock(&st->m);
}

#define NREQ 1000

struct slot {
	struct many *st;
	int n;
};

static void slot_done(struct blk_req *req, int err)
{
	struct slot *s = req->opaque;
	s->n++;
	many_done(s->st, err);
}

static void submit_many(struct blk *b, struct blk_req *reqs, struct slot *slots,
			uint8_t *bufs, enum blk_op op)
{
	for (int i = 0; i < NREQ; i++) {
		if (op == BLK_WRITE)
			memset(bufs + i * 512, (uint8_t)(i * 13 + 5), 512);
		else
			memset(bufs + i * 512, 0, 512);
		reqs[i] = (struct blk_req){.op = op,
					   .offset = (uint64_t)i * 512,
					   .niov = 1,
					   .done = slot_done,
					   .opaque = &slots[i]};
		reqs[i].iov[0] = (struct iovec){bufs + i * 512, 512};
		cr_assert_eq(blk_submit(b, &reqs[i]), 0);
	}
}

static void check_many(struct slot *slots, uint8_t *bufs)
{
	for (int i = 0; i < NREQ; i++) {
		cr_assert_eq(slots[i].n, 1, "request %d completed %d times", i,
			     slots[i].n);
		cr_assert_eq(bufs[i * 512], (uint8_t)(i * 13 + 5));
		cr_assert_eq(bufs[i * 512 + 511], (uint8_t)(i * 13 + 5));
	}
}

static void many_round(struct blk *b, struct many *st, struct blk_req *reqs,
		       struct slot *slots, uint8_t *bufs, enum blk_op op,
		       bool wait_cond)
{
	for (int i = 0; i < NREQ; i++)
		slots[i] = (struct slot){st, 0};
	st->ndone = 0;
	submit_many(b, reqs, slots, bufs, op);
	if (wait_cond) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 20;
		pthread_mutex_lock(&st->m);
		while (st->ndone < NREQ)
			if (pthread_cond_timedwait(&st->c, &st->m, &ts))
				break;
		pthread_mutex_unlock(&st->m);
	} else {
		blk_drain(b);
	}
	cr_assert_eq(st->ndone, NREQ);
	cr_assert_eq(st->bad_err, 0);
	cr_assert_eq(st->wrong_thread, 0);
}

Test(block, thousand_concurrent_requests_complete_once)
{
	char *p = make_image("d.img", NREQ * 512);
	struct blk *b = open_img(p, false, false, BLK_CACHE_WRITEBACK);
	cr_assert_not_null(b, "%s", errbuf);
	struct many st = {.m = PTHREAD_MUTEX_INITIALIZER,
			  .c = PTHREAD_COND_INITIALIZER};
	struct blk_req *reqs = calloc(NREQ, sizeof(*reqs));
	struct slot *slots = calloc(NREQ, sizeof(*slots));
	uint8_t *bufs = malloc(NREQ * 512);
	many_round(b, &st, reqs, slots, bufs, BLK_WRITE, false);
	many_round(b, &st, reqs, slots, bufs, BLK_READ, false);
	check_many(slots, bufs);
	struct blk_stats bs;
	blk_get_stats(b, &bs);
	cr_assert_eq(bs.writes, NREQ);
	cr_assert_eq(bs.reads, NREQ);
	cr_assert_eq(bs.read_bytes, NREQ * 512);
	blk_close(b);
	free(reqs);
	free(slots);
	free(bufs);
	free(p);
}

Test(block, completions_on_dm_thread)
{
	struct dm dm;
	cr_assert_eq(dm_init(&dm, DM_MODE_INLINE, 1), 0);
	cr_assert_eq(dm_start(&dm), 0);
	char *p = make_image("d.img", NREQ * 512);
	struct blk_opts o = {.path = p};
	struct blk *b = blk_open(&o, &dm, errbuf, sizeof(errbuf));
	cr_assert_not_null(b, "%s", errbuf);
	struct many st = {.m = PTHREAD_MUTEX_INITIALIZER,
			  .c = PTHREAD_COND_INITIALIZER};
	st.dm = &dm;
	struct blk_req *reqs = calloc(NREQ, sizeof(*reqs));
	struct slot *slots = calloc(NREQ, sizeof(*slots));
	uint8_t *bufs = malloc(NREQ * 512);
	many_round(b, &st, reqs, slots, bufs, BLK_WRITE, true);
	many_round(b, &st, reqs, slots, bufs, BLK_READ, true);
	check_many(slots, bufs);

	/* Requests left in flight are completed by blk_close(). */
	for (int i = 0; i < NREQ; i++)
		slots[i] = (struct slot){&st, 0};
	st.ndone = 0;
	submit_many(b, reqs, slots, bufs, BLK_READ);
	blk_close(b);
	cr_assert_eq(st.ndone, NREQ);
	for (int i = 0; i < NREQ; i++)
		cr_assert_eq(slots[i].n, 1);
	dm_stop(&dm);
	dm_destroy(&dm);
	free(reqs);
	free(slots);
	free(bufs);
	free(p);
}

struct chain {
	struct blk *b;
	struct blk_req req;
	uint8_t buf[512];
	int left, ndone;
};

/* Each completion submits the next, as a multi-part device command does. */
static void chain_done(struct blk_req *req, int err)
{
	struct chain *c = req->opaque;
	cr_assert_eq(err, 0);
	c->ndone++;
	if (--c->left > 0) {
		req->offset += 512;
		cr_assert_eq(blk_submit(c->b, req), 0);
	}
}

Test(block, drain_follows_resubmission_from_done)
{
	char *p = make_image("d.img", 16 * 512);
	struct blk *b = open_img(p, false, false, BLK_CACHE_WRITEBACK);
	cr_assert_not_null(b, "%s", errbuf);
	struct chain c = {.b = b, .left = 16};
	c.req = (struct blk_req){
	    .op = BLK_READ, .niov = 1, .done = chain_done, .opaque = &c};
	c.req.iov[0] = (struct iovec){c.buf, 512};
	cr_assert_eq(blk_submit(b, &c.req), 0);
	blk_drain(b);
	cr_assert_eq(c.ndone, 16);
	cr_assert_eq(c.buf[0], pat(15 * 512));
	blk_close(b);
	free(p);
}
