/*
 * Virtio block device (hw/virtio_blk.c) over virtio-pci on a real image
 * file (vmm/backend/block.c, no device-model loop: completions run in
 * blk_drain()). The test is the driver: it sets the device up through
 * BAR 4 as Linux does, builds descriptor chains in a malloc'd guest RAM,
 * kicks the notify register and checks the used ring, the status bytes,
 * the image file and the interrupt line.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hw/pci.h"
#include "hw/virtio_blk.h"
#include "ioreq/bytes.h"
#include "tests/unit/fake_guest.h"
#include "tests/unit/fake_pc.h"
#include "vmm/backend/block.h"

#define SLOT	     6
#define BAR	     0xfebf0000u
#define IRQ	     10
#define RAM_SIZE     (4u << 20)
#define ROM_GPA	     0x1000000u
#define ROM_SIZE     0x10000u
#define DISK_SIZE    (1u << 20)
#define DESC	     0x1000u
#define AVAIL	     0x8000u
#define USED	     0x9000u
#define TABLE	     0x20000u /* indirect tables, TABLE_STRIDE apart */
#define TABLE_STRIDE 0x600u
#define HDR	     0x10000u /* request headers, 16 bytes per slot */
#define STATUS	     0x18000u /* status bytes, one per slot */
#define DATA	     0x100000u
#define SECTOR	     512
#define MAX_CHAIN    80

#define F_V1	   VIRTIO_BIT(VIRTIO_F_VERSION_1)
#define F_INDIRECT VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC)
#define F_EVENT	   VIRTIO_BIT(VIRTIO_F_EVENT_IDX)
#define F_FLUSH	   VIRTIO_BIT(VIRTIO_BLK_F_FLUSH)

static char dir[64];

static int rm_one(const char *p, const struct stat *s, int flag, struct FTW *f)
{
	(void)s;
	(void)flag;
	(void)f;
	return remove(p);
}

static void setup(void)
{
	strcpy(dir, "/tmp/vblktest.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(virtio_blk, .init = setup, .fini = teardown, .timeout = 60);

static uint8_t pat(uint64_t off)
{
	return (uint8_t)(off * 13 + (off >> 9) + 5);
}

struct rig {
	struct fake_pc pc;
	uint8_t *ram, *rom;
	struct guest_mem gm;
	char *path;
	struct blk *blk;
	struct virtio_blk *vb;
	struct vp_drv drv;
	struct vring_drv vq;
	uint64_t features;
};

static uint64_t dev_cfg(struct rig *r, unsigned off, unsigned size)
{
	return vp_rd(&r->drv, VIRTIO_PCI_DEVICE_OFF + off, size);
}

static char *make_image(const char *name)
{
	char *path;
	cr_assert_gt(asprintf(&path, "%s/%s", dir, name), 0);
	int fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0644);
	cr_assert_geq(fd, 0);
	uint8_t *buf = malloc(DISK_SIZE);
	for (size_t i = 0; i < DISK_SIZE; i++)
		buf[i] = pat(i);
	cr_assert_eq(pwrite(fd, buf, DISK_SIZE, 0), DISK_SIZE);
	free(buf);
	close(fd);
	return path;
}

static struct rig *rig_new(bool readonly, const char *serial)
{
	struct rig *r = calloc(1, sizeof(*r));
	fake_pc_init(&r->pc);
	r->ram = fake_ram_add(&r->gm, 0, RAM_SIZE, false);
	r->rom = fake_ram_add(&r->gm, ROM_GPA, ROM_SIZE, true);
	r->path = make_image("disk.img");
	char err[256] = "";
	struct blk_opts o = {.path = r->path, .readonly = readonly};
	r->blk = blk_open(&o, NULL, err, sizeof(err));
	cr_assert_not_null(r->blk, "%s", err);
	r->vb = virtio_blk_new(r->blk, &r->gm, serial);
	cr_assert_not_null(r->vb);
	cr_assert_not_null(virtio_blk_attach_pci(r->vb, r->pc.pb, SLOT, NULL));
	pc_setup_virtio(&r->pc, SLOT, BAR, 1, IRQ); /* slot 6 INTA is PIRQB */
	r->drv = (struct vp_drv){&r->pc.mmio, BAR};
	return r;
}

static void rig_free(struct rig *r)
{
	virtio_blk_free(r->vb);
	blk_close(r->blk);
	fake_pc_fini(&r->pc);
	free(r->ram);
	free(r->rom);
	free(r->path);
	free(r);
}

static uint8_t status(struct rig *r)
{
	return vp_status(&r->drv);
}

/* Linux's virtio_pci_modern + virtio_blk probe, queue 0 of qsz. */
static void drv_init(struct rig *r, uint64_t features, uint16_t qsz)
{
	uint64_t offered = vp_offered(&r->drv);
	cr_assert_eq(features & ~offered, 0, "asks for %llx",
		     (unsigned long long)(features & ~offered));
	cr_assert_eq(vp_negotiate(&r->drv, features), 0x0b);
	vring_init(&r->vq, r->ram, qsz, DESC, AVAIL, USED);
	vp_queue(&r->drv, 0, &r->vq);
	vp_driver_ok(&r->drv);
	r->features = features;
}

/* Puts the chain at descriptor head..head+n-1 (or, indirect, in a table
 * at TABLE + TABLE_STRIDE * head) and makes it available. */
static void post(struct rig *r, uint16_t head, const struct vring_buf *b,
		 unsigned n, bool indirect)
{
	vring_post(&r->vq, head, b, n,
		   indirect ? TABLE + TABLE_STRIDE * head : 0);
}

static void kick(struct rig *r)
{
	vp_kick(&r->drv, 0);
}

static bool take_used(struct rig *r, uint32_t *id, uint32_t *len)
{
	return vring_take_used(&r->vq, id, len);
}

static void set_hdr(struct rig *r, unsigned slot, uint32_t type,
		    uint64_t sector)
{
	uint8_t *h = r->ram + HDR + 16 * slot;
	put_le(h, 4, type);
	put_le(h + 4, 4, 0);
	put_le(h + 8, 8, sector);
	r->ram[STATUS + slot] = 0xee;
}

/* One request in slot (header, data buffers, status), posted as chain
 * head (descriptors head.. onwards). */
static void request(struct rig *r, uint16_t head, uint32_t type,
		    uint64_t sector, const struct vring_buf *data, unsigned n,
		    bool indirect)
{
	struct vring_buf b[MAX_CHAIN];
	cr_assert_leq(n + 2, MAX_CHAIN);
	set_hdr(r, head, type, sector);
	b[0] = (struct vring_buf){HDR + 16 * head, 16, false};
	for (unsigned i = 0; i < n; i++)
		b[1 + i] = data[i];
	b[n + 1] = (struct vring_buf){STATUS + head, 1, true};
	post(r, head, b, n + 2, indirect);
}

/* Runs every outstanding backend request to completion. */
static void settle(struct rig *r)
{
	blk_drain(r->blk);
}

/* Kicks, completes, and returns the status byte of the one request in
 * slot head, checking its used element. */
static uint8_t run_one(struct rig *r, uint16_t head, uint32_t want_len)
{
	kick(r);
	settle(r);
	uint32_t id, len;
	cr_assert(take_used(r, &id, &len), "no used element");
	cr_assert_eq(id, head);
	cr_assert_eq(len, want_len, "used len %u, want %u", len, want_len);
	cr_assert(!take_used(r, &id, &len), "a second used element");
	return r->ram[STATUS + head];
}

static void file_read(struct rig *r, uint64_t off, void *buf, size_t n)
{
	int fd = open(r->path, O_RDONLY);
	cr_assert_geq(fd, 0);
	cr_assert_eq(pread(fd, buf, n, off), (ssize_t)n);
	close(fd);
}

/* ---- tests ---- */

Test(virtio_blk, config_and_features)
{
	struct rig *r = rig_new(false, "vblk-serial");
	cr_assert_eq(pc_cfg_rd(&r->pc, SLOT, 0, 4), 0x10421af4);
	cr_assert_eq(pc_cfg_rd(&r->pc, SLOT, PCI_CLASS_REVISION, 4),
		     0x01000001);
	cr_assert_eq(dev_cfg(r, VIRTIO_BLK_CFG_CAPACITY, 8), DISK_SIZE / 512);
	cr_assert_eq(dev_cfg(r, VIRTIO_BLK_CFG_CAPACITY, 4), DISK_SIZE / 512);
	cr_assert_eq(dev_cfg(r, VIRTIO_BLK_CFG_SIZE_MAX, 4), 0);
	cr_assert_eq(dev_cfg(r, VIRTIO_BLK_CFG_SEG_MAX, 4), BLK_MAX_IOV);
	cr_assert_eq(dev_cfg(r, VIRTIO_BLK_CFG_BLK_SIZE, 4), 512);
	cr_assert_eq(dev_cfg(r, VIRTIO_BLK_CFG_PHYS_BLOCK_EXP, 1), 0);
	cr_assert_eq(dev_cfg(r, VIRTIO_BLK_CFG_MIN_IO_SIZE, 2), 1);
	vp_wr(&r->drv, VIRTIO_PCI_DEVICE_FEATURE_SELECT, 4, 0);
	uint32_t f = vp_rd(&r->drv, VIRTIO_PCI_DEVICE_FEATURE, 4);
	uint32_t want = 1u << VIRTIO_BLK_F_SEG_MAX |
			1u << VIRTIO_BLK_F_BLK_SIZE | 1u << VIRTIO_BLK_F_FLUSH |
			1u << VIRTIO_BLK_F_TOPOLOGY |
			1u << VIRTIO_F_INDIRECT_DESC | 1u << VIRTIO_F_EVENT_IDX;
	cr_assert_eq(f, want, "features %08x", f);
	vp_wr(&r->drv, VIRTIO_PCI_DEVICE_FEATURE_SELECT, 4, 1);
	cr_assert_eq(vp_rd(&r->drv, VIRTIO_PCI_DEVICE_FEATURE, 4), 1);
	cr_assert_eq(vp_rd(&r->drv, VIRTIO_PCI_NUM_QUEUES, 2), 1);
	cr_assert_eq(vp_rd(&r->drv, VIRTIO_PCI_QUEUE_SIZE, 2),
		     VIRTIO_BLK_QUEUE_SIZE);
	rig_free(r);
	/* Read-only images offer RO. */
	r = rig_new(true, NULL);
	vp_wr(&r->drv, VIRTIO_PCI_DEVICE_FEATURE_SELECT, 4, 0);
	cr_assert_eq(vp_rd(&r->drv, VIRTIO_PCI_DEVICE_FEATURE, 4),
		     want | 1u << VIRTIO_BLK_F_RO);
	rig_free(r);
}

Test(virtio_blk, write_then_read_multi_segment)
{
	struct rig *r = rig_new(false, NULL);
	drv_init(r, F_V1 | F_FLUSH, 16);
	/* 8 KiB at sector 10 from three segments of odd sizes. */
	for (unsigned i = 0; i < 8192; i++)
		r->ram[DATA + 0x10000 + i] = (uint8_t)(i * 7 + 3);
	struct vring_buf w[3] = {{DATA + 0x10000, 1024, false},
				 {DATA + 0x10000 + 1024, 3072, false},
				 {DATA + 0x10000 + 4096, 4096, false}};
	/* Scatter the source so that each segment is elsewhere. */
	memmove(r->ram + DATA + 0x20000, r->ram + DATA + 0x10000 + 1024, 3072);
	w[1].addr = DATA + 0x20000;
	request(r, 0, VIRTIO_BLK_T_OUT, 10, w, 3, false);
	cr_assert_eq(r->pc.pic[IRQ], 0);
	cr_assert_eq(run_one(r, 0, 1), VIRTIO_BLK_S_OK);
	cr_assert_eq(r->pc.pic[IRQ], 1, "no interrupt");
	cr_assert_eq(vp_rd(&r->drv, VIRTIO_PCI_ISR_OFF, 1),
		     VIRTIO_PCI_ISR_QUEUE);
	cr_assert_eq(r->pc.pic[IRQ], 0);
	uint8_t file[8192];
	file_read(r, 10 * 512, file, sizeof(file));
	cr_assert_eq(memcmp(file, r->ram + DATA + 0x10000, 1024), 0);
	cr_assert_eq(memcmp(file + 1024, r->ram + DATA + 0x20000, 3072), 0);
	cr_assert_eq(memcmp(file + 4096, r->ram + DATA + 0x11000, 4096), 0);
	/* The sectors around it are untouched. */
	file_read(r, 9 * 512, file, 512);
	for (unsigned i = 0; i < 512; i++)
		cr_assert_eq(file[i], pat(9 * 512 + i));
	/* Read it back in two different pieces. */
	struct vring_buf rb[2] = {{DATA + 0x40000, 512, true},
				  {DATA + 0x50000, 7680, true}};
	request(r, 3, VIRTIO_BLK_T_IN, 10, rb, 2, false);
	cr_assert_eq(run_one(r, 3, 8192 + 1), VIRTIO_BLK_S_OK);
	file_read(r, 10 * 512, file, sizeof(file));
	cr_assert_eq(memcmp(r->ram + DATA + 0x40000, file, 512), 0);
	cr_assert_eq(memcmp(r->ram + DATA + 0x50000, file + 512, 7680), 0);
	/* The last sector of the disk. */
	struct vring_buf last = {DATA, 512, true};
	request(r, 5, VIRTIO_BLK_T_IN, DISK_SIZE / 512 - 1, &last, 1, false);
	cr_assert_eq(run_one(r, 5, 513), VIRTIO_BLK_S_OK);
	for (unsigned i = 0; i < 512; i++)
		cr_assert_eq(r->ram[DATA + i], pat(DISK_SIZE - 512 + i));
	const struct virtio_blk_stats *st = virtio_blk_stats(r->vb);
	cr_assert_eq(st->writes, 1);
	cr_assert_eq(st->reads, 2);
	cr_assert_eq(st->write_bytes, 8192);
	cr_assert_eq(st->read_bytes, 8192 + 512);
	cr_assert_eq(st->ioerrs, 0);
	rig_free(r);
}

/* The device must not assume a framing (spec 2.6.4): header and data in
 * one readable buffer, data and status in one writable buffer. */
Test(virtio_blk, any_framing)
{
	struct rig *r = rig_new(false, NULL);
	drv_init(r, F_V1, 16);
	set_hdr(r, 0, VIRTIO_BLK_T_OUT, 4);
	memcpy(r->ram + DATA, r->ram + HDR, 16);
	memset(r->ram + DATA + 16, 0x5a, 1024);
	struct vring_buf out[2] = {{DATA, 16 + 1024, false}, {STATUS, 1, true}};
	post(r, 0, out, 2, false);
	cr_assert_eq(run_one(r, 0, 1), VIRTIO_BLK_S_OK);
	uint8_t file[1024];
	file_read(r, 4 * 512, file, sizeof(file));
	for (unsigned i = 0; i < sizeof(file); i++)
		cr_assert_eq(file[i], 0x5a);
	/* IN: the header split over two buffers, data + status in one. */
	set_hdr(r, 4, VIRTIO_BLK_T_IN, 5);
	struct vring_buf in[3] = {{HDR + 64, 5, false},
				  {HDR + 64 + 5, 11, false},
				  {DATA + 0x1000, 512 + 1, true}};
	r->ram[DATA + 0x1000 + 512] = 0xee;
	post(r, 4, in, 3, false);
	run_one(r, 4, 513); /* its status is not at STATUS */
	cr_assert_eq(r->ram[DATA + 0x1000 + 512], VIRTIO_BLK_S_OK);
	for (unsigned i = 0; i < 512; i++)
		cr_assert_eq(r->ram[DATA + 0x1000 + i], 0x5a);
	rig_free(r);
}

Test(virtio_blk, flush_and_get_id)
{
	struct rig *r = rig_new(false, "MINIVMM-VBLK-0123456789");
	drv_init(r, F_V1 | F_FLUSH, 16);
	struct blk_stats before, after;
	blk_get_stats(r->blk, &before);
	request(r, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, false);
	cr_assert_eq(run_one(r, 0, 1), VIRTIO_BLK_S_OK);
	blk_get_stats(r->blk, &after);
	cr_assert_eq(after.syncs, before.syncs + 1, "no fdatasync");
	cr_assert_eq(virtio_blk_stats(r->vb)->flushes, 1);
	/* GET_ID: 20 bytes, no NUL when the serial fills them. */
	memset(r->ram + DATA, 0xff, 32);
	struct vring_buf id = {DATA, 20, true};
	request(r, 2, VIRTIO_BLK_T_GET_ID, 0, &id, 1, false);
	cr_assert_eq(run_one(r, 2, 21), VIRTIO_BLK_S_OK);
	cr_assert_eq(memcmp(r->ram + DATA, "MINIVMM-VBLK-0123456", 20), 0);
	cr_assert_eq(r->ram[DATA + 20], 0xff);
	/* A shorter buffer gets what fits. */
	memset(r->ram + DATA, 0xff, 32);
	id.len = 8;
	request(r, 4, VIRTIO_BLK_T_GET_ID, 0, &id, 1, false);
	cr_assert_eq(run_one(r, 4, 9), VIRTIO_BLK_S_OK);
	cr_assert_eq(memcmp(r->ram + DATA, "MINIVMM-", 8), 0);
	cr_assert_eq(r->ram[DATA + 8], 0xff);
	rig_free(r);
	/* No serial: 20 zero bytes. */
	r = rig_new(false, NULL);
	drv_init(r, F_V1, 16);
	memset(r->ram + DATA, 0xff, 32);
	id.len = 32;
	request(r, 0, VIRTIO_BLK_T_GET_ID, 0, &id, 1, false);
	cr_assert_eq(run_one(r, 0, 21), VIRTIO_BLK_S_OK);
	for (unsigned i = 0; i < 20; i++)
		cr_assert_eq(r->ram[DATA + i], 0);
	cr_assert_eq(r->ram[DATA + 20], 0xff);
	rig_free(r);
}

Test(virtio_blk, read_only_image_refuses_writes)
{
	struct rig *r = rig_new(true, NULL);
	drv_init(r, F_V1 | F_FLUSH | VIRTIO_BIT(VIRTIO_BLK_F_RO), 16);
	memset(r->ram + DATA, 0x11, 4096);
	struct vring_buf w = {DATA, 4096, false};
	request(r, 0, VIRTIO_BLK_T_OUT, 0, &w, 1, false);
	cr_assert_eq(run_one(r, 0, 1), VIRTIO_BLK_S_IOERR);
	uint8_t file[4096];
	file_read(r, 0, file, sizeof(file));
	for (unsigned i = 0; i < sizeof(file); i++)
		cr_assert_eq(file[i], pat(i));
	/* Reads and flushes work. */
	struct vring_buf rb = {DATA, 4096, true};
	request(r, 2, VIRTIO_BLK_T_IN, 0, &rb, 1, false);
	cr_assert_eq(run_one(r, 2, 4097), VIRTIO_BLK_S_OK);
	cr_assert_eq(memcmp(r->ram + DATA, file, 4096), 0);
	request(r, 4, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, false);
	cr_assert_eq(run_one(r, 4, 1), VIRTIO_BLK_S_OK);
	cr_assert_eq(virtio_blk_stats(r->vb)->ioerrs, 1);
	rig_free(r);
}

Test(virtio_blk, unsupported_types)
{
	struct rig *r = rig_new(false, NULL);
	drv_init(r, F_V1, 16);
	static const uint32_t types[] = {
	    2,	3,	   VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_T_WRITE_ZEROES,
	    10, 0xffffffff};
	for (unsigned i = 0; i < sizeof(types) / sizeof(*types); i++) {
		struct vring_buf d = {DATA, 16, false};
		request(r, 0, types[i], 0, &d, 1, false);
		cr_assert_eq(run_one(r, 0, 1), VIRTIO_BLK_S_UNSUPP, "type %u",
			     types[i]);
	}
	cr_assert_eq(virtio_blk_stats(r->vb)->unsupported, 6);
	cr_assert_eq(status(r), 0x0f);
	rig_free(r);
}

/* A request that must end with IOERR, leaving the image alone. */
static void expect_ioerr(struct rig *r, uint32_t type, uint64_t sector,
			 const struct vring_buf *d, unsigned n,
			 const char *what)
{
	request(r, 0, type, sector, d, n, r->features & F_INDIRECT);
	kick(r);
	settle(r);
	uint32_t id, len;
	cr_assert(take_used(r, &id, &len), "%s: not answered", what);
	cr_assert_eq(r->ram[STATUS], VIRTIO_BLK_S_IOERR, "%s: status %u", what,
		     r->ram[STATUS]);
	cr_assert_eq(status(r), 0x0f, "%s: device broken", what);
}

Test(virtio_blk, malformed_requests_fail_cleanly)
{
	struct rig *r = rig_new(false, NULL);
	drv_init(r, F_V1 | F_INDIRECT, 128);
	struct vring_buf d = {DATA, 512, true};
	/* Not a multiple of 512; beyond the end; the sector wrapping. */
	d.len = 100;
	expect_ioerr(r, VIRTIO_BLK_T_IN, 0, &d, 1, "100 bytes");
	d.len = 1024;
	expect_ioerr(r, VIRTIO_BLK_T_IN, DISK_SIZE / 512 - 1, &d, 1,
		     "past the end");
	expect_ioerr(r, VIRTIO_BLK_T_IN, DISK_SIZE / 512, &d, 1, "at the end");
	expect_ioerr(r, VIRTIO_BLK_T_IN, ~0ull, &d, 1, "sector 2^64-1");
	expect_ioerr(r, VIRTIO_BLK_T_IN, ~0ull / 512, &d, 1, "offset wraps");
	/* Data outside RAM, or read into ROM. */
	d = (struct vring_buf){RAM_SIZE - 512, 1024, true};
	expect_ioerr(r, VIRTIO_BLK_T_IN, 0, &d, 1, "buffer off RAM");
	d = (struct vring_buf){ROM_GPA, 512, true};
	expect_ioerr(r, VIRTIO_BLK_T_IN, 0, &d, 1, "read into ROM");
	d = (struct vring_buf){0xfee00000, 512, false};
	expect_ioerr(r, VIRTIO_BLK_T_OUT, 0, &d, 1, "write from MMIO");
	/* More data segments than seg_max. */
	struct vring_buf many[70];
	for (unsigned i = 0; i < 70; i++)
		many[i] = (struct vring_buf){DATA + 512 * i, 512, true};
	expect_ioerr(r, VIRTIO_BLK_T_IN, 0, many, 70, "70 segments");
	/* seg_max segments are fine. */
	request(r, 0, VIRTIO_BLK_T_IN, 0, many, BLK_MAX_IOV, true);
	cr_assert_eq(run_one(r, 0, BLK_MAX_IOV * 512 + 1), VIRTIO_BLK_S_OK);
	for (unsigned i = 0; i < BLK_MAX_IOV * 512; i++)
		cr_assert_eq(r->ram[DATA + i], pat(i));
	/* A header shorter than 16 bytes. */
	set_hdr(r, 1, VIRTIO_BLK_T_IN, 0);
	struct vring_buf shorthdr[3] = {
	    {HDR + 16, 12, false}, {DATA, 512, true}, {STATUS + 1, 1, true}};
	post(r, 1, shorthdr, 3, true);
	kick(r);
	settle(r);
	uint32_t id, len;
	cr_assert(take_used(r, &id, &len));
	cr_assert_eq(id, 1);
	cr_assert_eq(r->ram[STATUS + 1], VIRTIO_BLK_S_IOERR);
	/* The header outside RAM. */
	struct vring_buf badhdr[2] = {{RAM_SIZE - 8, 16, false},
				      {STATUS + 1, 1, true}};
	r->ram[STATUS + 1] = 0xee;
	post(r, 1, badhdr, 2, true);
	kick(r);
	settle(r);
	cr_assert(take_used(r, &id, &len));
	cr_assert_eq(r->ram[STATUS + 1], VIRTIO_BLK_S_IOERR);
	cr_assert_eq(status(r), 0x0f);
	cr_assert_geq(virtio_blk_stats(r->vb)->ioerrs, 10);
	/* The image is as it was. */
	uint8_t file[4096];
	file_read(r, 0, file, sizeof(file));
	for (unsigned i = 0; i < sizeof(file); i++)
		cr_assert_eq(file[i], pat(i));
	rig_free(r);
}

/* No status byte to answer in: DEVICE_NEEDS_RESET and a configuration
 * interrupt, then a reset brings the device back. */
static void expect_broken(const struct vring_buf *b, unsigned n,
			  const char *what)
{
	struct rig *r = rig_new(false, NULL);
	drv_init(r, F_V1, 16);
	set_hdr(r, 0, VIRTIO_BLK_T_IN, 0);
	post(r, 0, b, n, false);
	kick(r);
	settle(r);
	cr_assert_eq(status(r), 0x0f | VIRTIO_STATUS_DEVICE_NEEDS_RESET,
		     "%s: status %x", what, status(r));
	cr_assert_eq(vring_used_idx(&r->vq), 0, "%s: answered", what);
	cr_assert_eq(vp_rd(&r->drv, VIRTIO_PCI_ISR_OFF, 1),
		     VIRTIO_PCI_ISR_CONFIG);
	drv_init(r, F_V1, 16);
	struct vring_buf ok[3] = {
	    {HDR, 16, false}, {DATA, 512, true}, {STATUS, 1, true}};
	set_hdr(r, 0, VIRTIO_BLK_T_IN, 0);
	post(r, 0, ok, 3, false);
	cr_assert_eq(run_one(r, 0, 513), VIRTIO_BLK_S_OK, "%s", what);
	rig_free(r);
}

Test(virtio_blk, requests_without_a_status_byte_break_the_device)
{
	struct vring_buf nostatus[2] = {{HDR, 16, false}, {DATA, 512, false}};
	expect_broken(nostatus, 2, "no writable buffer");
	struct vring_buf hdronly[1] = {{HDR, 16, false}};
	expect_broken(hdronly, 1, "header only");
	struct vring_buf offram[3] = {
	    {HDR, 16, false}, {DATA, 512, true}, {RAM_SIZE, 1, true}};
	expect_broken(offram, 3, "status off RAM");
	struct vring_buf inrom[3] = {
	    {HDR, 16, false}, {DATA, 512, true}, {ROM_GPA, 1, true}};
	expect_broken(inrom, 3, "status in ROM");
}

Test(virtio_blk, host_errors_become_ioerr)
{
	struct rig *r = rig_new(false, NULL);
	drv_init(r, F_V1 | F_FLUSH, 16);
	cr_assert_eq(blk_test_swap_fd(r->blk, "/dev/full", O_RDWR), 0);
	struct vring_buf w = {DATA, 4096, false};
	request(r, 0, VIRTIO_BLK_T_OUT, 0, &w, 1, false);
	cr_assert_eq(run_one(r, 0, 1), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(status(r), 0x0f);
	/* an IN that fails before any byte: the status byte alone */
	cr_assert_eq(blk_test_swap_fd(r->blk, r->path, O_WRONLY), 0);
	struct vring_buf rd = {DATA, 4096, true};
	request(r, 1, VIRTIO_BLK_T_IN, 0, &rd, 1, false);
	cr_assert_eq(run_one(r, 1, 1), VIRTIO_BLK_S_IOERR);
	/* the image back: the same queue carries on */
	cr_assert_eq(blk_test_swap_fd(r->blk, r->path, O_RDWR), 0);
	request(r, 2, VIRTIO_BLK_T_OUT, 0, &w, 1, false);
	cr_assert_eq(run_one(r, 2, 1), VIRTIO_BLK_S_OK);
	rig_free(r);
}

/* A host read error after a short read: IOERR, the used length counts the
 * bytes read before it and the status byte, the interrupt fires, and the
 * queue serves the next request. A failed flush (fdatasync on a device
 * that cannot sync) is IOERR too. */
Test(virtio_blk, host_read_and_flush_errors_become_ioerr)
{
	struct rig *r = rig_new(false, NULL);
	drv_init(r, F_V1 | F_FLUSH, 16);
	char *shortp;
	cr_assert_gt(asprintf(&shortp, "%s/short.img", dir), 0);
	int fd = open(shortp, O_CREAT | O_RDWR | O_TRUNC, 0644);
	uint8_t two[2048];
	for (int i = 0; i < 2048; i++)
		two[i] = pat(i);
	cr_assert_eq(pwrite(fd, two, sizeof(two), 0), 2048);
	close(fd);
	cr_assert_eq(blk_test_swap_fd(r->blk, shortp, O_RDWR), 0);
	memset(r->ram + DATA, 0xcc, 8192);
	unsigned irqs = virtio_blk_dev(r->vb)->interrupts;
	struct vring_buf d[2] = {{DATA, 1024, true}, {DATA + 4096, 3072, true}};
	request(r, 0, VIRTIO_BLK_T_IN, 0, d, 2, false);
	cr_assert_eq(run_one(r, 0, 2048 + 1), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(virtio_blk_dev(r->vb)->interrupts, irqs + 1);
	cr_assert_eq(memcmp(r->ram + DATA, two, 1024), 0);
	cr_assert_eq(memcmp(r->ram + DATA + 4096, two + 1024, 1024), 0);
	/* a read inside what the file has works */
	struct vring_buf ok = {DATA, 512, true};
	request(r, 1, VIRTIO_BLK_T_IN, 2, &ok, 1, false);
	cr_assert_eq(run_one(r, 1, 513), VIRTIO_BLK_S_OK);
	cr_assert_eq(memcmp(r->ram + DATA, two + 1024, 512), 0);
	/* a write whose target cannot sync, then FLUSH */
	cr_assert_eq(blk_test_swap_fd(r->blk, "/dev/null", O_RDWR), 0);
	request(r, 2, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, false);
	cr_assert_eq(run_one(r, 2, 1), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(status(r), 0x0f, "the device is not broken");
	cr_assert_eq(virtio_blk_stats(r->vb)->ioerrs, 2);
	free(shortp);
	rig_free(r);
}

/* Every slot of a 256-entry queue in flight, indirect and EVENT_IDX on:
 * all complete, data lands, and used_event holds the interrupt back. */
Test(virtio_blk, full_queue_indirect_event_idx)
{
	struct rig *r = rig_new(false, NULL);
	const uint16_t n = VIRTIO_BLK_QUEUE_SIZE;
	drv_init(r, F_V1 | F_INDIRECT | F_EVENT, n);
	/* Interrupt only when the last one is used. */
	put_le(r->ram + vring_used_event(&r->vq), 2, n - 1);
	for (uint16_t h = 0; h < n; h++) {
		struct vring_buf d = {DATA + 2048 * h, 2048, true};
		request(r, h, VIRTIO_BLK_T_IN, 4 * h % (DISK_SIZE / 512), &d, 1,
			true);
	}
	kick(r);
	/* The device asked to be kicked at entry n again. */
	cr_assert_eq(get_le(r->ram + vring_avail_event(&r->vq), 2), n);
	settle(r);
	cr_assert_eq(vring_used_idx(&r->vq), n);
	cr_assert_eq(r->pc.pic[IRQ], 1);
	cr_assert_eq(virtio_blk_dev(r->vb)->interrupts, 1);
	cr_assert_eq(vp_rd(&r->drv, VIRTIO_PCI_ISR_OFF, 1),
		     VIRTIO_PCI_ISR_QUEUE);
	bool seen[VIRTIO_BLK_QUEUE_SIZE] = {0};
	uint32_t id, len;
	while (take_used(r, &id, &len)) {
		cr_assert_lt(id, n);
		cr_assert(!seen[id]);
		seen[id] = true;
		cr_assert_eq(len, 2049);
		cr_assert_eq(r->ram[STATUS + id], VIRTIO_BLK_S_OK);
		uint64_t off = (uint64_t)(4 * id % (DISK_SIZE / 512)) * 512;
		for (unsigned i = 0; i < 2048; i += 97)
			cr_assert_eq(r->ram[DATA + 2048 * id + i],
				     pat(off + i));
	}
	rig_free(r);
}

/* A driver that makes a head available again while it is in flight
 * runs the device out of slots: the queue waits, then goes on. */
Test(virtio_blk, out_of_slots_stalls_then_resumes)
{
	struct rig *r = rig_new(false, NULL);
	const uint16_t n = VIRTIO_BLK_QUEUE_SIZE;
	drv_init(r, F_V1 | F_INDIRECT, n);
	for (uint16_t h = 0; h < n; h++) {
		struct vring_buf d = {DATA + 512 * h, 512, true};
		request(r, h, VIRTIO_BLK_T_IN, h, &d, 1, true);
	}
	kick(r);
	/* Head 0 again (same chain) before anything completed. */
	vring_add(&r->vq, 0);
	kick(r);
	settle(r);
	cr_assert_eq(vring_used_idx(&r->vq), n + 1);
	cr_assert_eq(status(r), 0x0f);
	rig_free(r);
}

/* A reset with requests in flight: they are waited for and dropped; no
 * used element, no status byte written, and the device works after. */
Test(virtio_blk, reset_drops_requests_in_flight)
{
	struct rig *r = rig_new(false, NULL);
	drv_init(r, F_V1, 16);
	struct vring_buf d = {DATA, 4096, true};
	request(r, 0, VIRTIO_BLK_T_IN, 0, &d, 1, false);
	kick(r);
	vp_wr(&r->drv, VIRTIO_PCI_DEVICE_STATUS, 1, 0);
	cr_assert_eq(status(r), 0);
	settle(r);
	cr_assert_eq(vring_used_idx(&r->vq), 0);
	cr_assert_eq(r->ram[STATUS], 0xee);
	cr_assert_eq(r->pc.pic[IRQ], 0);
	drv_init(r, F_V1, 16);
	request(r, 0, VIRTIO_BLK_T_IN, 0, &d, 1, false);
	cr_assert_eq(run_one(r, 0, 4097), VIRTIO_BLK_S_OK);
	rig_free(r);
}

static uint32_t rng_state = 0x1234abcd;

static uint32_t rng(void)
{
	return xorshift32(&rng_state);
}

/* Random requests (types, sectors, framings, addresses): the device
 * answers each with a valid status or breaks itself, and nothing is
 * written to the image outside the sectors of write requests. */
static void random_rounds(struct rig *r);

Test(virtio_blk, random_requests)
{
	struct rig *r = rig_new(false, "x");
	random_rounds(r);
	rig_free(r);
}

/* The same on a host file that is half the disk, read-only: reads past
 * it fail after a short read, writes fail (EBADF): every answer still
 * claims no more bytes than the chain can take, and the device lives. */
Test(virtio_blk, random_requests_failing_backend)
{
	struct rig *r = rig_new(false, "x");
	cr_assert_eq(truncate(r->path, DISK_SIZE / 2), 0);
	cr_assert_eq(blk_test_swap_fd(r->blk, r->path, O_RDONLY), 0);
	random_rounds(r);
	cr_assert_gt(virtio_blk_stats(r->vb)->ioerrs, 50);
	rig_free(r);
}

static void random_rounds(struct rig *r)
{
	int answered = 0, broken = 0;
	for (int round = 0; round < 400; round++) {
		if (round % 20 == 0 || status(r) != 0x0f) {
			broken += status(r) != 0x0f && round;
			drv_init(r, F_V1 | F_INDIRECT | F_EVENT | F_FLUSH, 32);
		}
		unsigned nb = 1 + rng() % 5;
		struct vring_buf b[6];
		uint16_t head = rng() % 8;
		static const uint32_t types[] = {0, 1, 4, 8, 11, 77};
		set_hdr(r, head, types[rng() % 6],
			rng() % 4 ? rng() % 2100 : rng());
		b[0] = (struct vring_buf){HDR + 16 * head,
					  rng() % 8 ? 16 : rng() % 32, false};
		for (unsigned i = 1; i < nb; i++) {
			uint32_t len =
			    rng() % 4 ? 512 * (rng() % 4) : rng() % 700;
			uint64_t addr = rng() % 16 ? DATA + (rng() % 64) * 4096
						   : (uint64_t)rng() << 4;
			b[i] = (struct vring_buf){addr, len, rng() % 3 != 0};
		}
		b[nb] = (struct vring_buf){STATUS + head, 1, rng() % 16 != 0};
		if (rng() % 2) /* keep the readable-then-writable order */
			for (unsigned i = 1; i < nb; i++)
				b[i].write = b[i].write || b[i - 1].write;
		post(r, head, b, nb + 1, rng() % 2);
		uint64_t writable = 0;
		for (unsigned i = 0; i <= nb; i++)
			writable += b[i].write ? b[i].len : 0;
		kick(r);
		settle(r);
		uint32_t id, len;
		while (take_used(r, &id, &len)) {
			answered++;
			cr_assert_lt(id, 32);
			if (id == head)
				cr_assert_leq(len, writable);
		}
	}
	cr_assert_gt(answered, 100);
	cr_assert_gt(broken, 5);
}
