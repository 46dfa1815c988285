/*
 * IDE controller, ATA disks, ATAPI PACKET protocol and the PIIX3 bus-master
 * engine, driven through the port bus the way SeaBIOS and libata do.
 * Guest RAM is a static array; disks are in-memory struct blk whose
 * requests complete only when the test drains them.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hw/atapi.h"
#include "hw/ide.h"
#include "hw/pci.h"
#include "hw/piix_ide.h"

#define RAM_SIZE (1u << 20)
#define BM_BASE	 0xc000
#define P0	 0x1f0
#define C0	 0x3f6
#define P1	 0x170
#define C1	 0x376
#define MIB	 (1024ull * 1024)

static uint8_t ram[RAM_SIZE];

/* ---- in-memory block device ---- */

struct fake_blk {
	struct blk b;
	uint8_t *data;
	uint64_t cap; /* bytes backed by data; the rest reads as zeros */
	struct blk_req *head, *tail;
	int queued, submits, completes, flushes, reads, writes;
	uint64_t last_off, last_len;
	int last_niov;
	int fail_next; /* negative errno for the next request */
	/* A bad byte range [bad_lo, bad_hi): requests of the ops in
	 * bad_ops (1 << BLK_READ ...) touching it move what lies before it
	 * and fail with bad_err, as a host file with bad sectors would;
	 * a flush fails whenever BLK_FLUSH is in bad_ops. */
	uint64_t bad_lo, bad_hi;
	unsigned bad_ops;
	int bad_err;
};

static uint64_t iov_len(const struct blk_req *r)
{
	uint64_t n = 0;
	for (int i = 0; i < r->niov; i++)
		n += r->iov[i].iov_len;
	return n;
}

static int fb_submit(struct blk *b, struct blk_req *r)
{
	struct fake_blk *f = (struct fake_blk *)b;
	cr_assert(r->niov >= 0 && r->niov <= BLK_MAX_IOV);
	r->next = NULL;
	if (f->tail)
		f->tail->next = r;
	else
		f->head = r;
	f->tail = r;
	f->queued++;
	f->submits++;
	return 0;
}

static int fb_run(struct fake_blk *f, struct blk_req *r)
{
	uint64_t len = iov_len(r), off = r->offset;
	if (f->fail_next) {
		int e = f->fail_next;
		f->fail_next = 0;
		return e;
	}
	f->last_off = off;
	f->last_len = len;
	f->last_niov = r->niov;
	r->moved = 0;
	int bad = 0;
	if (f->bad_ops & 1u << r->op) {
		if (r->op == BLK_FLUSH)
			return f->bad_err;
		if (off < f->bad_hi && off + len > f->bad_lo) {
			bad = f->bad_err;
			len = off < f->bad_lo ? f->bad_lo - off : 0;
		}
	}
	if (r->op == BLK_FLUSH) {
		f->flushes++;
		return 0;
	}
	if (off > f->b.size || len > f->b.size - off)
		return -EINVAL;
	if (r->op == BLK_WRITE && f->b.readonly)
		return -EROFS;
	uint64_t end = off + len;
	for (int i = 0; i < r->niov && off < end; i++) {
		uint8_t *p = r->iov[i].iov_base;
		for (size_t k = 0; k < r->iov[i].iov_len && off < end;
		     k++, off++) {
			if (r->op == BLK_READ)
				p[k] = off < f->cap ? f->data[off] : 0;
			else if (off < f->cap)
				f->data[off] = p[k];
		}
	}
	if (bad) {
		r->moved = len;
		return bad;
	}
	if (r->op == BLK_READ)
		f->reads++;
	else
		f->writes++;
	return 0;
}

static void fb_bad(struct fake_blk *f, uint64_t lo, uint64_t hi, unsigned ops,
		   int err)
{
	f->bad_lo = lo;
	f->bad_hi = hi;
	f->bad_ops = ops;
	f->bad_err = err;
}

static void fb_drain(struct blk *b)
{
	struct fake_blk *f = (struct fake_blk *)b;
	while (f->head) {
		struct blk_req *r = f->head;
		f->head = r->next;
		if (!f->head)
			f->tail = NULL;
		f->queued--;
		int err = fb_run(f, r);
		f->completes++;
		r->done(r, err); /* may queue the next request */
	}
}

static const struct blk_ops fb_ops = {.submit = fb_submit, .drain = fb_drain};

static void fb_init(struct fake_blk *f, uint64_t size, uint64_t cap,
		    const char *name)
{
	memset(f, 0, sizeof(*f));
	f->b.ops = &fb_ops;
	f->b.size = size;
	f->b.name = name;
	f->cap = cap;
	f->data = calloc(1, cap);
	cr_assert_not_null(f->data);
	/* A pattern that names its offset: byte k of sector s. */
	for (uint64_t i = 0; i < cap; i++)
		f->data[i] = (i / 512) * 7 + (i % 512) + 1;
}

/* ---- the machine ---- */

struct pic {
	int level[16];
	int edges[16];
};

static void pic_set(void *opaque, int line, int level)
{
	struct pic *p = opaque;
	if (!p->level[line] && level)
		p->edges[line]++;
	p->level[line] = level;
}

struct m {
	struct bus io, mmio;
	struct guest_mem gm;
	struct vclock *clk;
	struct pic pic;
	struct irq_chip irq;
	struct pci_bus *pb;
	struct ide_ctrl *ide;
	struct piix_ide piix;
	struct fake_blk disk, slave, cd;
	struct atapi *atapi;
};

static struct m *M;
static void teardown(void);

/* Tests that want another machine call this again: the old one goes. */
static void machine(uint64_t disk_size, bool with_cd)
{
	teardown();
	struct m *m = calloc(1, sizeof(*m));
	M = m;
	memset(ram, 0, sizeof(ram));
	bus_init(&m->io, "port");
	bus_init(&m->mmio, "mmio");
	gm_add(&m->gm, 0, RAM_SIZE, ram, false);
	m->clk = clock_new_manual(0);
	m->irq = (struct irq_chip){pic_set, &m->pic};
	m->pb = pci_bus_new(&m->io, &m->mmio);
	m->ide = ide_new(m->clk, &m->irq, &m->gm);
	cr_assert_not_null(m->ide);
	fb_init(&m->disk, disk_size, disk_size < 64 * MIB ? disk_size : MIB,
		"/images/disk.img");
	cr_assert_eq(ide_attach_disk(m->ide, 0, 0, &m->disk.b), 0);
	if (with_cd) {
		fb_init(&m->cd, 2048 * 100, 2048 * 100, "/images/cd.iso");
		m->cd.b.readonly = true;
		m->atapi = atapi_new();
		atapi_set_medium(m->atapi, &m->cd.b, false);
		cr_assert_eq(ide_attach_cdrom(m->ide, 1, 0, m->atapi), 0);
	}
	cr_assert_eq(piix_ide_init(&m->piix, m->pb, m->ide, &m->io), 0);
	pci_bus_cfg_write(m->pb, 0, 1, 1, 0x20, 4, BM_BASE);
	pci_bus_cfg_write(m->pb, 0, 1, 1, PCI_COMMAND, 2,
			  PCI_CMD_IO | PCI_CMD_MASTER);
}

static void teardown(void)
{
	struct m *m = M;
	if (!m)
		return;
	ide_free(m->ide);
	pci_bus_free(m->pb);
	if (m->atapi)
		atapi_free(m->atapi);
	free(m->disk.data);
	free(m->slave.data);
	free(m->cd.data);
	clock_free(m->clk);
	bus_destroy(&m->io);
	bus_destroy(&m->mmio);
	free(m);
	M = NULL;
}

static void setup_small(void)
{
	machine(10 * MIB, true);
}

static void settle(void)
{
	for (int again = 1; again;) {
		again = 0;
		struct fake_blk *f[] = {&M->disk, &M->slave, &M->cd};
		for (int i = 0; i < 3; i++) {
			if (f[i]->head) {
				fb_drain(&f[i]->b);
				again = 1;
			}
		}
	}
}

static uint32_t in(uint16_t port, unsigned size)
{
	uint32_t v = 0;
	bus_access(&M->io, port, size, false, &v, 1);
	return v;
}

static void out(uint16_t port, unsigned size, uint32_t v)
{
	bus_access(&M->io, port, size, true, &v, 1);
}

static uint8_t inb(uint16_t p)
{
	return in(p, 1);
}

static void outb(uint16_t p, uint8_t v)
{
	out(p, 1, v);
}

static void insw(uint16_t p, void *buf, uint32_t count)
{
	bus_access(&M->io, p, 2, false, buf, count);
}

static void outsw(uint16_t p, const void *buf, uint32_t count)
{
	bus_access(&M->io, p, 2, true, (void *)buf, count);
}

static int edges(int line)
{
	return M->pic.edges[line];
}

/* LBA28 task file and command on channel base p (device dev). */
static void ata28(uint16_t p, int dev, uint32_t lba, uint8_t count, uint8_t cmd)
{
	outb(p + 6, 0xe0 | dev << 4 | ((lba >> 24) & 0xf));
	outb(p + 2, count);
	outb(p + 3, lba);
	outb(p + 4, lba >> 8);
	outb(p + 5, lba >> 16);
	outb(p + 7, cmd);
}

static void ata48(uint16_t p, uint64_t lba, uint16_t count, uint8_t cmd)
{
	outb(p + 6, 0x40);
	outb(p + 2, count >> 8);
	outb(p + 3, lba >> 24);
	outb(p + 4, lba >> 32);
	outb(p + 5, lba >> 40);
	outb(p + 2, count);
	outb(p + 3, lba);
	outb(p + 4, lba >> 8);
	outb(p + 5, lba >> 16);
	outb(p + 7, cmd);
}

static void identify(uint16_t *id)
{
	ata28(P0, 0, 0, 0, 0xec);
	cr_assert_eq(inb(P0 + 7), 0x58);
	insw(P0, id, 256);
	cr_assert_eq(inb(P0 + 7), 0x50);
}

static uint8_t expect(uint64_t off)
{
	return (off / 512) * 7 + (off % 512) + 1;
}

TestSuite(ide, .init = setup_small, .fini = teardown);

/* ---- IDENTIFY ---- */

static void check_checksum(const uint16_t *id)
{
	uint8_t sum = 0;
	const uint8_t *b = (const uint8_t *)id;
	for (int i = 0; i < 512; i++)
		sum += b[i];
	cr_assert_eq(sum, 0);
	cr_assert_eq(id[255] & 0xff, 0xa5);
}

Test(ide, identify_10mib)
{
	uint16_t id[256];
	int e = edges(14);
	identify(id);
	cr_assert_eq(edges(14), e + 1);
	cr_assert_eq(id[0], 0x0040);
	cr_assert_eq(id[1], 20); /* 20480 / (16 * 63) */
	cr_assert_eq(id[3], 16);
	cr_assert_eq(id[6], 63);
	cr_assert_eq(id[60] | id[61] << 16, 20480);
	cr_assert_eq(id[100], 20480);
	cr_assert_eq(id[101] | id[102] | id[103], 0);
	cr_assert_eq(id[47], 0x8010);
	cr_assert_eq(id[59], 0x0110);
	cr_assert_eq(id[49] & 0x0300, 0x0300);
	cr_assert_eq(id[83] & 0x7400, 0x7400);
	cr_assert_eq(id[85] & 0x20, 0x20);
	cr_assert_eq(id[88] & 0x3f, 0x3f);
	/* Model: first character in the high byte of each word. */
	const uint8_t *b = (const uint8_t *)id;
	cr_assert_eq(b[54], 'I');
	cr_assert_eq(b[55], 'M');
	char model[41];
	for (int i = 0; i < 20; i++) {
		model[2 * i] = id[27 + i] >> 8;
		model[2 * i + 1] = id[27 + i] & 0xff;
	}
	model[40] = 0;
	cr_assert_str_eq(model, "MINIVMM HARDDISK                        ");
	check_checksum(id);
	/* Serial: stable for the path. */
	char serial[3] = {id[10] >> 8, id[10] & 0xff, 0};
	cr_assert_str_eq(serial, "MV");
}

Test(ide, identify_200gib)
{
	machine(200ull << 30, false);
	uint16_t id[256];
	identify(id);
	cr_assert_eq(id[1], 16383);
	cr_assert_eq(id[60] | id[61] << 16, 0x0fffffff);
	uint64_t n = id[100] | (uint64_t)id[101] << 16 |
		     (uint64_t)id[102] << 32 | (uint64_t)id[103] << 48;
	cr_assert_eq(n, (200ull << 30) / 512);
	check_checksum(id);
}

Test(ide, set_features_update_identify)
{
	uint16_t id[256];
	outb(P0 + 1, 0x03);
	outb(P0 + 2, 0x22); /* MWDMA 2 */
	outb(P0 + 7, 0xef);
	cr_assert_eq(inb(P0 + 7), 0x50);
	outb(P0 + 1, 0x82); /* write cache off */
	outb(P0 + 7, 0xef);
	identify(id);
	cr_assert_eq(id[63], 0x0407);
	cr_assert_eq(id[85] & 0x20, 0);
	check_checksum(id);
	outb(P0 + 1, 0x03);
	outb(P0 + 2, 0x50); /* no such mode */
	outb(P0 + 7, 0xef);
	cr_assert_eq(inb(P0 + 7), 0x41);
	cr_assert_eq(inb(P0 + 1), 0x04);
}

/* ---- PIO ---- */

Test(ide, pio_read_single_and_multi_with_string_io)
{
	uint8_t buf[512 * 3];
	int e = edges(14);
	ata28(P0, 0, 7, 1, 0x20);
	cr_assert_eq(inb(C0) & 0x88, 0x80, "BSY while the read is queued");
	cr_assert_eq(edges(14), e);
	settle();
	cr_assert_eq(edges(14), e + 1);
	cr_assert_eq(inb(C0), 0x58);
	struct bus_range *r = bus_find(&M->io, P0);
	uint64_t reads = r->reads;
	insw(P0, buf, 256);
	cr_assert_eq(r->reads, reads + 1, "one callback for the burst");
	for (int i = 0; i < 512; i++)
		cr_assert_eq(buf[i], expect(7 * 512 + i));
	cr_assert_eq(inb(P0 + 7), 0x50);

	/* Three sectors: one block request, three DRQ blocks and interrupts */
	int subs = M->disk.submits;
	e = edges(14);
	ata28(P0, 0, 100, 3, 0x20);
	settle();
	cr_assert_eq(M->disk.submits, subs + 1);
	for (int s = 0; s < 3; s++) {
		cr_assert_eq(inb(P0 + 7), 0x58);
		insw(P0, buf + s * 512, 256);
	}
	cr_assert_eq(edges(14), e + 3);
	cr_assert_eq(inb(P0 + 7), 0x50);
	for (int i = 0; i < 3 * 512; i++)
		cr_assert_eq(buf[i], expect(100 * 512 + i));
	/* No DRQ: the data port reads 0 and nothing moves. */
	cr_assert_eq(in(P0, 2), 0);
}

Test(ide, pio_read_32bit_accesses)
{
	uint32_t w[128];
	ata28(P0, 0, 3, 1, 0x20);
	settle();
	bus_access(&M->io, P0, 4, false, w, 128);
	const uint8_t *b = (const uint8_t *)w;
	for (int i = 0; i < 512; i++)
		cr_assert_eq(b[i], expect(3 * 512 + i));
	cr_assert_eq(inb(P0 + 7), 0x50);
}

Test(ide, pio_write_multi_sector)
{
	uint8_t buf[512 * 3];
	for (int i = 0; i < (int)sizeof(buf); i++)
		buf[i] = i * 13 + 5;
	int e = edges(14);
	ata28(P0, 0, 5, 3, 0x30);
	cr_assert_eq(inb(C0), 0x58);
	cr_assert_eq(edges(14), e, "no interrupt before the first block");
	for (int s = 0; s < 3; s++) {
		outsw(P0, buf + s * 512, 256);
		cr_assert_eq(inb(C0) & 0x88, 0x80, "BSY while it is written");
		cr_assert_eq(M->disk.queued, 1);
		settle();
		cr_assert_eq(edges(14), e + s + 1);
		cr_assert_eq(inb(P0 + 7), s < 2 ? 0x58 : 0x50);
	}
	cr_assert_eq(memcmp(M->disk.data + 5 * 512, buf, sizeof(buf)), 0);
	cr_assert_eq(M->disk.data[8 * 512], expect(8 * 512), "no overrun");
	cr_assert_eq(M->disk.flushes, 0, "write cache on: no flush");
}

Test(ide, write_cache_off_flushes_each_write)
{
	uint8_t buf[512] = {1, 2, 3};
	outb(P0 + 1, 0x82);
	outb(P0 + 7, 0xef);
	ata28(P0, 0, 9, 1, 0x30);
	outsw(P0, buf, 256);
	settle();
	cr_assert_eq(M->disk.flushes, 1);
	cr_assert_eq(inb(P0 + 7), 0x50);
}

Test(ide, read_write_multiple)
{
	uint8_t buf[512 * 10];
	outb(P0 + 2, 4);
	outb(P0 + 7, 0xc6);
	cr_assert_eq(inb(P0 + 7), 0x50);
	int e = edges(14);
	ata28(P0, 0, 40, 10, 0xc4);
	settle();
	static const int sizes[] = {2048, 2048, 1024};
	for (int b = 0; b < 3; b++) {
		cr_assert_eq(edges(14), e + b + 1, "one interrupt per block");
		cr_assert_eq(inb(P0 + 7), 0x58);
		insw(P0, buf + b * 2048, sizes[b] / 2);
	}
	cr_assert_eq(inb(P0 + 7), 0x50);
	cr_assert_eq(edges(14), e + 3);
	for (int i = 0; i < 5120; i++)
		cr_assert_eq(buf[i], expect(40 * 512 + i));

	/* WRITE MULTIPLE: 6 sectors in blocks of 4 and 2. */
	for (int i = 0; i < 3072; i++)
		buf[i] = i ^ 0x5a;
	int subs = M->disk.submits;
	ata28(P0, 0, 60, 6, 0xc5);
	outsw(P0, buf, 1024);
	settle();
	cr_assert_eq(inb(P0 + 7), 0x58);
	outsw(P0, buf + 2048, 512);
	settle();
	cr_assert_eq(inb(P0 + 7), 0x50);
	cr_assert_eq(M->disk.submits, subs + 2);
	cr_assert_eq(memcmp(M->disk.data + 60 * 512, buf, 3072), 0);

	/* Not a power of two: aborted, the mode stays. 0 disables. */
	outb(P0 + 2, 3);
	outb(P0 + 7, 0xc6);
	cr_assert_eq(inb(P0 + 7), 0x41);
	outb(P0 + 2, 0);
	outb(P0 + 7, 0xc6);
	cr_assert_eq(inb(P0 + 7), 0x50);
	ata28(P0, 0, 40, 1, 0xc4);
	cr_assert_eq(inb(P0 + 7), 0x41);
	cr_assert_eq(inb(P0 + 1), 0x04);
}

Test(ide, lba48_read_and_hob)
{
	machine(200ull << 30, false);
	uint64_t lba = 300000000; /* above 2^28 */
	ata48(P0, lba, 2, 0x24);
	settle();
	cr_assert_eq(M->disk.last_off, lba * 512);
	cr_assert_eq(M->disk.last_len, 1024);
	uint8_t buf[1024];
	insw(P0, buf, 256);
	insw(P0, buf + 512, 256);
	cr_assert_eq(inb(P0 + 7), 0x50);
	/* HOB: the previous contents of each register */
	outb(P0 + 3, 0x11);
	outb(P0 + 3, 0x22);
	outb(C0, 0x80);
	cr_assert_eq(inb(P0 + 3), 0x11);
	outb(C0, 0x00);
	cr_assert_eq(inb(P0 + 3), 0x22);
	outb(C0, 0x80);
	outb(P0 + 4, 0x33); /* a register write clears HOB */
	cr_assert_eq(inb(P0 + 4), 0x33);
	/* READ NATIVE MAX ADDRESS EXT */
	outb(P0 + 7, 0x27);
	uint64_t max = inb(P0 + 3) | inb(P0 + 4) << 8 | inb(P0 + 5) << 16;
	outb(C0, 0x80);
	max |= (uint64_t)inb(P0 + 3) << 24 | (uint64_t)inb(P0 + 4) << 32;
	cr_assert_eq(max, (200ull << 30) / 512 - 1);
	/* Past the end: IDNF */
	ata48(P0, (200ull << 30) / 512 - 1, 2, 0x24);
	cr_assert_eq(inb(P0 + 7), 0x41);
	cr_assert_eq(inb(P0 + 1), 0x10);
}

Test(ide, chs_and_initialize_device_parameters)
{
	uint8_t buf[512];
	/* cyl 1, head 2, sector 3 with 16 heads / 63 sectors */
	outb(P0 + 6, 0xa0 | 2);
	outb(P0 + 2, 1);
	outb(P0 + 3, 3);
	outb(P0 + 4, 1);
	outb(P0 + 5, 0);
	outb(P0 + 7, 0x20);
	settle();
	insw(P0, buf, 256);
	cr_assert_eq(M->disk.last_off, ((1 * 16 + 2) * 63 + 2) * 512ull);
	cr_assert_eq(buf[0], expect(M->disk.last_off));
	/* 4 heads, 17 sectors */
	outb(P0 + 6, 0xa0 | 3);
	outb(P0 + 2, 17);
	outb(P0 + 7, 0x91);
	cr_assert_eq(inb(P0 + 7), 0x50);
	outb(P0 + 6, 0xa0 | 1);
	outb(P0 + 2, 1);
	outb(P0 + 3, 1);
	outb(P0 + 4, 2);
	outb(P0 + 7, 0x20);
	settle();
	cr_assert_eq(M->disk.last_off, ((2 * 4 + 1) * 17 + 0) * 512ull);
	insw(P0, buf, 256);
	uint16_t id[256];
	identify(id);
	cr_assert_eq(id[55], 4);
	cr_assert_eq(id[56], 17);
	cr_assert_eq(id[54], 20480 / 68);
	/* sector 0 and head beyond the geometry: IDNF */
	outb(P0 + 6, 0xa0);
	outb(P0 + 3, 0);
	outb(P0 + 7, 0x20);
	cr_assert_eq(inb(P0 + 7), 0x41);
	cr_assert_eq(inb(P0 + 1), 0x10);
	outb(P0 + 6, 0xa0 | 5);
	outb(P0 + 3, 1);
	outb(P0 + 7, 0x20);
	cr_assert_eq(inb(P0 + 1), 0x10);
}

/* ---- DMA ---- */

static void prd(uint32_t table, int i, uint32_t addr, uint32_t count, bool eot)
{
	uint32_t e[2] = {addr, (count & 0xffff) | (eot ? 0x80000000u : 0)};
	memcpy(ram + table + 8 * i, e, 8);
}

static void bm_setup(uint32_t table, bool to_mem)
{
	out(BM_BASE + 4, 4, table);
	outb(BM_BASE, to_mem ? 0x08 : 0x00);
	outb(BM_BASE + 2, 0x06); /* clear error and interrupt */
}

Test(ide, dma_read_three_prds)
{
	prd(0x8000, 0, 0x10000, 1024, false);
	prd(0x8000, 1, 0x20000, 2048, false);
	prd(0x8000, 2, 0x30000, 1024, true);
	bm_setup(0x8000, true);
	int e = edges(14);
	/* start first, then the command */
	outb(BM_BASE, 0x09);
	cr_assert_eq(inb(BM_BASE + 2) & 1, 1);
	ata28(P0, 0, 50, 8, 0xc8);
	cr_assert_eq(M->disk.queued, 1, "one request for the whole command");
	cr_assert_eq(M->disk.head->niov, 3);
	settle();
	cr_assert_eq(edges(14), e + 1);
	cr_assert_eq(inb(BM_BASE + 2) & 7, 0x04, "inactive, interrupt");
	cr_assert_eq(inb(P0 + 7), 0x50);
	outb(BM_BASE, 0x08);
	for (int i = 0; i < 1024; i++)
		cr_assert_eq(ram[0x10000 + i], expect(50 * 512 + i));
	for (int i = 0; i < 2048; i++)
		cr_assert_eq(ram[0x20000 + i], expect(50 * 512 + 1024 + i));
	for (int i = 0; i < 1024; i++)
		cr_assert_eq(ram[0x30000 + i], expect(50 * 512 + 3072 + i));
	cr_assert_eq(ram[0x30000 + 1024], 0, "nothing past the PRD");
}

Test(ide, dma_write_command_then_start_lands_in_image)
{
	for (int i = 0; i < 1536; i++)
		ram[0x40000 + i] = i * 3 + 1;
	prd(0x9000, 0, 0x40000, 512, false);
	prd(0x9000, 1, 0x40200, 1024, true);
	bm_setup(0x9000, false);
	ata28(P0, 0, 200, 3, 0xca);
	cr_assert_eq(M->disk.queued, 0, "waits for the engine");
	cr_assert_eq(inb(C0), 0x58);
	outb(BM_BASE, 0x01);
	settle();
	cr_assert_eq(inb(P0 + 7), 0x50);
	cr_assert_eq(inb(BM_BASE + 2) & 7, 4);
	cr_assert_eq(memcmp(M->disk.data + 200 * 512, ram + 0x40000, 1536), 0);
	/* and read back through PIO */
	uint8_t buf[512];
	ata28(P0, 0, 201, 1, 0x20);
	settle();
	insw(P0, buf, 256);
	cr_assert_eq(memcmp(buf, ram + 0x40200, 512), 0);
}

Test(ide, dma_lba48_write_and_more_than_64_prds)
{
	/* 100 PRDs of 512 bytes: two block requests (64 + 36 iovecs). */
	for (int i = 0; i < 100; i++) {
		prd(0xa000, i, 0x50000 + i * 1024, 512, i == 99);
		memset(ram + 0x50000 + i * 1024, i + 1, 512);
	}
	bm_setup(0xa000, false);
	outb(BM_BASE, 0x01);
	ata48(P0, 1000, 100, 0x35);
	cr_assert_eq(M->disk.head->niov, BLK_MAX_IOV);
	settle();
	cr_assert_eq(M->disk.last_niov, 36);
	cr_assert_eq(inb(P0 + 7), 0x50);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(M->disk.data[(1000 + i) * 512 + 17], i + 1);
}

Test(ide, dma_prd_larger_than_transfer_keeps_active)
{
	prd(0x8000, 0, 0x10000, 0, true); /* 64 KiB */
	bm_setup(0x8000, true);
	ata28(P0, 0, 0, 2, 0xc8);
	outb(BM_BASE, 0x09);
	settle();
	cr_assert_eq(inb(BM_BASE + 2) & 7, 0x05, "active stays, interrupt");
	cr_assert_eq(inb(P0 + 7), 0x50);
	outb(BM_BASE, 0x08);
	cr_assert_eq(inb(BM_BASE + 2) & 1, 0);
}

static void expect_bm_error(void)
{
	cr_assert_eq(inb(BM_BASE + 2) & 7, 0x06, "error + interrupt");
	cr_assert_eq(inb(P0 + 7), 0x41);
	cr_assert_eq(inb(P0 + 1), 0x04);
}

Test(ide, dma_prd_smaller_than_transfer)
{
	prd(0x8000, 0, 0x10000, 512, true);
	bm_setup(0x8000, true);
	outb(BM_BASE, 0x09);
	ata28(P0, 0, 0, 2, 0xc8);
	settle();
	expect_bm_error();
}

Test(ide, dma_prd_without_eot)
{
	/* A full 64 KiB table of 2-byte entries, no EOT: 16 KiB < 32 KiB */
	for (int i = 0; i < 8192; i++)
		prd(0x60000, i, 0x10000, 2, false);
	bm_setup(0x60000, true);
	outb(BM_BASE, 0x09);
	ata28(P0, 0, 0, 64, 0xc8);
	settle();
	expect_bm_error();
	cr_assert_eq(M->disk.submits, 0);
}

Test(ide, dma_prd_outside_ram)
{
	prd(0x8000, 0, 0x10000, 512, false);
	prd(0x8000, 1, 0xfee00000, 512, true);
	bm_setup(0x8000, true);
	outb(BM_BASE, 0x09);
	ata28(P0, 0, 0, 2, 0xc8);
	settle();
	expect_bm_error();
	uint16_t st = pci_bus_cfg_read(M->pb, 0, 1, 1, PCI_STATUS, 2);
	cr_assert(st & 0x2000, "received master abort");
	/* A table in non-RAM */
	bm_setup(0xfffffff0, true);
	outb(BM_BASE, 0x00);
	outb(BM_BASE, 0x09);
	ata28(P0, 0, 0, 1, 0xc8);
	expect_bm_error();
}

Test(ide, dma_bus_master_disabled_is_an_error)
{
	pci_bus_cfg_write(M->pb, 0, 1, 1, PCI_COMMAND, 2, PCI_CMD_IO);
	prd(0x8000, 0, 0x10000, 512, true);
	bm_setup(0x8000, true);
	outb(BM_BASE, 0x09);
	ata28(P0, 0, 0, 1, 0xc8);
	settle();
	expect_bm_error();
	cr_assert_eq(ram[0x10000], 0);
}

Test(ide, dma_started_without_command_does_nothing)
{
	prd(0x8000, 0, 0x10000, 512, true);
	bm_setup(0x8000, true);
	outb(BM_BASE, 0x09);
	settle();
	cr_assert_eq(inb(BM_BASE + 2) & 7, 0x01);
	cr_assert_eq(M->disk.submits, 0);
	cr_assert_eq(ram[0x10000], 0);
	outb(BM_BASE, 0x08);
	cr_assert_eq(inb(BM_BASE + 2) & 7, 0x00);
}

Test(ide, dma_stop_mid_transfer_aborts)
{
	prd(0x8000, 0, 0x10000, 1024, true);
	bm_setup(0x8000, true);
	outb(BM_BASE, 0x09);
	int e = edges(14);
	ata28(P0, 0, 0, 2, 0xc8);
	cr_assert_eq(M->disk.queued, 1);
	outb(BM_BASE, 0x08); /* stop: the request is drained and dropped */
	cr_assert_eq(M->disk.queued, 0);
	cr_assert_eq(inb(BM_BASE + 2) & 1, 0);
	cr_assert_eq(inb(C0), 0x41);
	cr_assert_eq(edges(14), e);
	cr_assert_eq(M->ide->submitted, M->ide->completed);
	/* the drive takes new commands */
	ata28(P0, 0, 1, 1, 0x20);
	settle();
	cr_assert_eq(inb(P0 + 7), 0x58);
}

Test(ide, srst_during_dma_ends_the_engine_transfer)
{
	prd(0x8000, 0, 0x10000, 1024, true);
	bm_setup(0x8000, true);
	outb(BM_BASE, 0x09);
	int e = edges(14);
	ata28(P0, 0, 0, 2, 0xc8);
	cr_assert_eq(M->disk.queued, 1);
	outb(C0, 0x04);
	outb(C0, 0x00);
	cr_assert_eq(M->disk.queued, 0);
	cr_assert_eq(inb(BM_BASE + 2) & 1, 0, "active cleared");
	cr_assert_eq(inb(C0), 0x50);
	cr_assert_eq(edges(14), e);
	cr_assert_eq(M->ide->submitted, M->ide->completed);
}

Test(ide, atapi_dma_bad_prd)
{
	prd(0x8000, 0, 0xf0000000, 2048, true);
	out(BM_BASE + 12, 4, 0x8000);
	outb(BM_BASE + 8, 0x09);
	uint8_t cdb[12] = {0x28, 0, 0, 0, 0, 7, 0, 0, 1};
	outb(P1 + 6, 0xa0);
	outb(P1 + 1, 1);
	outb(P1 + 7, 0xa0);
	outsw(P1, cdb, 6);
	cr_assert_eq(inb(BM_BASE + 10) & 7, 0x06);
	cr_assert_eq(inb(P1 + 7), 0x41);
	cr_assert_eq(inb(P1 + 2) & 3, 3);
	cr_assert_eq(M->cd.submits, 0);
}

Test(ide, backend_errors_and_readonly)
{
	M->disk.fail_next = -EIO;
	ata28(P0, 0, 4, 1, 0x20);
	settle();
	cr_assert_eq(inb(P0 + 7), 0x41);
	cr_assert_eq(inb(P0 + 1), 0x40, "UNC");
	cr_assert_eq(inb(P0 + 3), 4, "LBA of the failure");
	uint8_t buf[512] = {0};
	M->disk.fail_next = -ENOSPC;
	ata28(P0, 0, 4, 1, 0x30);
	outsw(P0, buf, 256);
	settle();
	cr_assert_eq(inb(P0 + 7), 0x41);
	cr_assert_eq(inb(P0 + 1), 0x04, "ABRT");
	M->disk.b.readonly = true;
	ata28(P0, 0, 4, 1, 0x30);
	cr_assert_eq(inb(P0 + 7), 0x41);
	cr_assert_eq(inb(P0 + 1), 0x04);
	ata28(P0, 0, 4, 1, 0xca);
	cr_assert_eq(inb(P0 + 1), 0x04);
	cr_assert_eq(M->disk.submits, 2);
}

Test(ide, flush_and_misc_commands)
{
	outb(P0 + 7, 0xe7);
	cr_assert_eq(inb(C0) & 0x80, 0x80);
	settle();
	cr_assert_eq(M->disk.flushes, 1);
	cr_assert_eq(inb(P0 + 7), 0x50);
	outb(P0 + 7, 0xea);
	settle();
	cr_assert_eq(M->disk.flushes, 2);
	outb(P0 + 7, 0xe5);
	cr_assert_eq(inb(P0 + 2), 0xff);
	outb(P0 + 7, 0x00); /* NOP aborts */
	cr_assert_eq(inb(P0 + 7), 0x41);
	outb(P0 + 7, 0x08); /* DEVICE RESET is for ATAPI */
	cr_assert_eq(inb(P0 + 7), 0x41);
	outb(P0 + 7, 0x10);
	cr_assert_eq(inb(P0 + 7), 0x50);
	outb(P0 + 7, 0xe1);
	cr_assert_eq(inb(P0 + 7), 0x50);
	ata28(P0, 0, 0, 1, 0x40);
	cr_assert_eq(inb(P0 + 7), 0x50);
	ata28(P0, 0, 20480, 1, 0x40);
	cr_assert_eq(inb(P0 + 1), 0x10);
	outb(P0 + 6, 0xe0);
	outb(P0 + 7, 0xf8);
	cr_assert_eq(inb(P0 + 3) | inb(P0 + 4) << 8 | inb(P0 + 5) << 16, 20479);
	outb(P0 + 7, 0xb0); /* SMART: not supported */
	cr_assert_eq(inb(P0 + 1), 0x04);
}

/* ---- reset, signatures, absent drives, interrupts ---- */

Test(ide, srst_signatures_and_diagnostic)
{
	outb(C0, 0x04);
	cr_assert_eq(inb(C0), 0x80, "BSY during reset");
	outb(C0, 0x00);
	cr_assert_eq(inb(P0 + 7), 0x50);
	cr_assert_eq(inb(P0 + 1), 0x01);
	cr_assert_eq(inb(P0 + 2), 0x01);
	cr_assert_eq(inb(P0 + 3), 0x01);
	cr_assert_eq(inb(P0 + 4), 0x00);
	cr_assert_eq(inb(P0 + 5), 0x00);
	cr_assert_eq(inb(P0 + 6), 0x00);
	outb(C1, 0x04);
	outb(C1, 0x00);
	cr_assert_eq(inb(P1 + 7), 0x00);
	cr_assert_eq(inb(P1 + 2), 0x01);
	cr_assert_eq(inb(P1 + 3), 0x01);
	cr_assert_eq(inb(P1 + 4), 0x14);
	cr_assert_eq(inb(P1 + 5), 0xeb);
	int e = edges(15);
	outb(P1 + 4, 0);
	outb(P1 + 7, 0x90);
	cr_assert_eq(edges(15), e + 1);
	cr_assert_eq(inb(P1 + 1), 0x01);
	cr_assert_eq(inb(P1 + 4), 0x14);
}

Test(ide, srst_mid_transfer)
{
	ata28(P0, 0, 0, 4, 0x20);
	cr_assert_eq(M->disk.queued, 1);
	outb(C0, 0x04);
	cr_assert_eq(M->disk.queued, 0, "drained");
	outb(C0, 0x00);
	cr_assert_eq(inb(P0 + 7), 0x50);
	cr_assert_eq(in(P0, 2), 0);
	/* again while DRQ is up */
	ata28(P0, 0, 0, 4, 0x20);
	settle();
	cr_assert_eq(inb(C0), 0x58);
	outb(C0, 0x04);
	outb(C0, 0x00);
	cr_assert_eq(inb(C0), 0x50);
	cr_assert_eq(M->ide->submitted, M->ide->completed);
}

Test(ide, absent_slave_and_empty_channel)
{
	machine(10 * MIB, false);
	int e = edges(14);
	outb(P0 + 6, 0xb0);
	cr_assert_eq(inb(P0 + 7), 0x00);
	cr_assert_eq(inb(C0), 0x00);
	outb(P0 + 2, 0x55);
	cr_assert_eq(inb(P0 + 2), 0x00);
	outb(P0 + 7, 0xec);
	outb(P0 + 7, 0x20);
	settle();
	cr_assert_eq(edges(14), e, "commands to the absent slave ignored");
	cr_assert_eq(M->disk.submits, 0);
	outb(P0 + 6, 0xa0);
	cr_assert_eq(inb(P0 + 7), 0x50);
	cr_assert_eq(inb(P0 + 2), 0x55, "the write reached the master");
	/* secondary channel empty: floating bus */
	cr_assert_eq(inb(P1 + 7), 0xff);
	cr_assert_eq(inb(C1), 0xff);
	outb(P1 + 7, 0xec);
	cr_assert_eq(edges(15), 0);
}

Test(ide, nien_masks_the_line)
{
	outb(C0, 0x02);
	ata28(P0, 0, 0, 1, 0x20);
	settle();
	cr_assert_eq(M->pic.level[14], 0);
	cr_assert_eq(inb(C0), 0x58);
	outb(C0, 0x00); /* pending interrupt appears */
	cr_assert_eq(M->pic.level[14], 1);
	cr_assert_eq(inb(C0), 0x58, "alternate status does not clear");
	cr_assert_eq(M->pic.level[14], 1);
	inb(P0 + 7);
	cr_assert_eq(M->pic.level[14], 0);
}

Test(ide, idetim_decode_enable)
{
	cr_assert_eq(pci_bus_cfg_read(M->pb, 0, 1, 1, 0x40, 2), 0x8000);
	cr_assert_eq(pci_bus_cfg_read(M->pb, 0, 1, 1, 0x08, 4), 0x01018000);
	cr_assert_eq(pci_bus_cfg_read(M->pb, 0, 1, 1, 0x00, 4), 0x70108086);
	pci_bus_cfg_write(M->pb, 0, 1, 1, 0x40, 2, 0x0000);
	cr_assert_eq(inb(P0 + 7), 0xff);
	cr_assert_null(bus_find(&M->io, P0));
	cr_assert_null(bus_find(&M->io, C0));
	cr_assert_not_null(bus_find(&M->io, P1));
	pci_bus_cfg_write(M->pb, 0, 1, 1, 0x41, 1, 0x80);
	cr_assert_eq(inb(P0 + 7), 0x50);
	pci_bus_cfg_write(M->pb, 0, 1, 1, 0x40, 4, 0x00008000);
	cr_assert_null(bus_find(&M->io, P1));
	cr_assert_not_null(bus_find(&M->io, P0));
}

Test(ide, bm_registers)
{
	outb(BM_BASE, 0xff);
	cr_assert_eq(inb(BM_BASE), 0x09);
	outb(BM_BASE, 0);
	outb(BM_BASE + 2, 0xff);
	cr_assert_eq(inb(BM_BASE + 2), 0x60);
	out(BM_BASE + 4, 4, 0x12345677);
	cr_assert_eq(in(BM_BASE + 4, 4), 0x12345674);
	cr_assert_eq(inb(BM_BASE + 1), 0);
	cr_assert_eq(inb(BM_BASE + 8 + 2), 0);
	/* Any interrupt of the channel sets the interrupt bit. */
	ata28(P0, 0, 0, 1, 0xec);
	cr_assert_eq(inb(BM_BASE + 2), 0x64);
	outb(BM_BASE + 2, 0x64); /* write-1-to-clear, capable bits kept */
	cr_assert_eq(inb(BM_BASE + 2), 0x60);
}

/* ---- ATAPI ---- */

static void packet(uint16_t bcl, bool dma, const uint8_t *cdb)
{
	outb(P1 + 6, 0xa0);
	outb(P1 + 1, dma ? 1 : 0);
	outb(P1 + 4, bcl);
	outb(P1 + 5, bcl >> 8);
	outb(P1 + 7, 0xa0);
	cr_assert_eq(inb(C1), 0x48, "DRQ for the packet");
	cr_assert_eq(inb(P1 + 2) & 3, 1, "CoD");
	outsw(P1, cdb, 6);
}

/* Reads DRQ blocks until completion; returns bytes, counts blocks. */
static uint32_t atapi_pio_in(uint8_t *buf, uint32_t max, int *blocks,
			     uint32_t expect_bc)
{
	uint32_t got = 0;
	*blocks = 0;
	for (;;) {
		settle();
		uint8_t st = inb(P1 + 7);
		if (!(st & 0x08)) {
			cr_assert_eq(st & 0x81, 0, "status %02x", st);
			cr_assert_eq(inb(P1 + 2) & 3, 3, "IO|CoD at the end");
			return got;
		}
		cr_assert_eq(inb(P1 + 2) & 3, 2, "IO during data");
		uint32_t bc = inb(P1 + 4) | inb(P1 + 5) << 8;
		cr_assert(bc <= expect_bc, "bc %u", bc);
		cr_assert(got + bc <= max);
		insw(P1, buf + got, (bc + 1) / 2);
		got += bc;
		(*blocks)++;
	}
}

Test(ide, atapi_identify_and_signature)
{
	outb(P1 + 6, 0xa0);
	outb(P1 + 7, 0xec);
	cr_assert_eq(inb(P1 + 7), 0x41);
	cr_assert_eq(inb(P1 + 1), 0x04);
	cr_assert_eq(inb(P1 + 2), 0x01);
	cr_assert_eq(inb(P1 + 3), 0x01);
	cr_assert_eq(inb(P1 + 4), 0x14);
	cr_assert_eq(inb(P1 + 5), 0xeb);
	uint16_t id[256];
	outb(P1 + 7, 0xa1);
	cr_assert_eq(inb(P1 + 7), 0x58);
	insw(P1, id, 256);
	cr_assert_eq(id[0], 0x85c0);
	cr_assert_eq(id[49] & 0x0300, 0x0300);
	cr_assert_eq(id[27], 'M' << 8 | 'I');
	check_checksum(id);
	cr_assert_eq(inb(P1 + 7), 0x50);
	outb(P1 + 7, 0x08); /* DEVICE RESET */
	cr_assert_eq(inb(P1 + 7), 0x00);
	cr_assert_eq(inb(P1 + 4), 0x14);
}

Test(ide, atapi_inquiry_pio_small_byte_count)
{
	uint8_t cdb[12] = {0x12, 0, 0, 0, 36};
	uint8_t buf[64];
	int blocks;
	int e = edges(15);
	packet(16, false, cdb);
	uint32_t n = atapi_pio_in(buf, sizeof(buf), &blocks, 16);
	cr_assert_eq(n, 36);
	cr_assert_eq(blocks, 3);
	cr_assert_eq(edges(15) - e >= 1, 1);
	cr_assert_eq(buf[0], 0x05, "CD-ROM peripheral type");
	cr_assert_eq(memcmp(buf + 8, "MINIVMM ", 8), 0);
}

Test(ide, atapi_read10_pio)
{
	/* 3 blocks from LBA 5, byte count limit 2048, then 512 */
	uint8_t cdb[12] = {0x28, 0, 0, 0, 0, 5, 0, 0, 3};
	static uint8_t buf[3 * 2048];
	int blocks;
	packet(2048, false, cdb);
	cr_assert_eq(atapi_pio_in(buf, sizeof(buf), &blocks, 2048), 6144);
	cr_assert_eq(blocks, 3);
	cr_assert_eq(memcmp(buf, M->cd.data + 5 * 2048, 6144), 0);
	packet(512, false, cdb);
	cr_assert_eq(atapi_pio_in(buf, sizeof(buf), &blocks, 512), 6144);
	cr_assert_eq(blocks, 12);
	cr_assert_eq(memcmp(buf, M->cd.data + 5 * 2048, 6144), 0);
	/* 40 blocks: buffered 16 at a time, every DRQ block <= 0xfffe */
	uint8_t cdb40[12] = {0x28, 0, 0, 0, 0, 10, 0, 0, 40};
	static uint8_t big[40 * 2048];
	int subs = M->cd.submits;
	packet(0, false, cdb40);
	cr_assert_eq(atapi_pio_in(big, sizeof(big), &blocks, 0xfffe), 81920);
	cr_assert_eq(M->cd.submits - subs, 3);
	cr_assert_eq(memcmp(big, M->cd.data + 10 * 2048, 81920), 0);
}

Test(ide, atapi_check_condition)
{
	uint8_t cdb[12] = {0xff};
	packet(2048, false, cdb);
	settle();
	cr_assert_eq(inb(P1 + 7), 0x41);
	cr_assert_eq(inb(P1 + 1), SENSE_ILLEGAL_REQUEST << 4 | 0x04);
	cr_assert_eq(inb(P1 + 2) & 3, 3);
	/* medium read error -> MEDIUM ERROR */
	uint8_t rd[12] = {0x28, 0, 0, 0, 0, 1, 0, 0, 1};
	M->cd.fail_next = -EIO;
	packet(2048, false, rd);
	settle();
	cr_assert_eq(inb(P1 + 7), 0x41);
	cr_assert_eq(inb(P1 + 1) >> 4, SENSE_MEDIUM_ERROR);
	/* TEST UNIT READY: no data, completes at once */
	uint8_t tur[12] = {0};
	packet(2048, false, tur);
	cr_assert_eq(inb(P1 + 7), 0x50);
	cr_assert_eq(inb(P1 + 2) & 3, 3);
}

static void bm1_setup(uint32_t table)
{
	out(BM_BASE + 12, 4, table);
	outb(BM_BASE + 8, 0x08);
	outb(BM_BASE + 10, 0x06);
}

Test(ide, atapi_dma_read10_and_inquiry)
{
	prd(0x8000, 0, 0x10000, 2048, false);
	prd(0x8000, 1, 0x20000, 4096, true);
	bm1_setup(0x8000);
	uint8_t cdb[12] = {0x28, 0, 0, 0, 0, 7, 0, 0, 3};
	packet(0xfffe, true, cdb);
	cr_assert_eq(inb(C1) & 0x08, 0x08);
	outb(BM_BASE + 8, 0x09);
	settle();
	cr_assert_eq(inb(BM_BASE + 10) & 7, 0x04);
	cr_assert_eq(inb(P1 + 7), 0x50);
	cr_assert_eq(inb(P1 + 2) & 3, 3);
	cr_assert_eq(memcmp(ram + 0x10000, M->cd.data + 7 * 2048, 2048), 0);
	cr_assert_eq(memcmp(ram + 0x20000, M->cd.data + 8 * 2048, 4096), 0);
	outb(BM_BASE + 8, 0x08);

	prd(0x8000, 0, 0x30000, 36, true);
	bm1_setup(0x8000);
	outb(BM_BASE + 8, 0x09);
	uint8_t inq[12] = {0x12, 0, 0, 0, 36};
	packet(0xfffe, true, inq);
	cr_assert_eq(inb(BM_BASE + 10) & 7, 0x04);
	cr_assert_eq(ram[0x30000], 0x05);
	cr_assert_eq(memcmp(ram + 0x30008, "MINIVMM ", 8), 0);
}

/* ---- host I/O errors (EIO, ENOSPC) reaching the guest ---- */

#define BAD_LBA 100 /* sectors 100-107 of the disk fail */

static void bad_disk(unsigned ops, int err)
{
	fb_bad(&M->disk, BAD_LBA * 512, (BAD_LBA + 8) * 512, ops, err);
}

/* The LBA28 address registers. */
static uint32_t lba28_regs(uint16_t p)
{
	return inb(p + 3) | inb(p + 4) << 8 | inb(p + 5) << 16 |
	       (inb(p + 6) & 0xf) << 24;
}

Test(ide, ioerr_dma_read_partial_reports_unc_at_first_bad_sector)
{
	bad_disk(1u << BLK_READ, -EIO);
	prd(0x8000, 0, 0x10000, 16 * 512, true);
	bm_setup(0x8000, true);
	int e = edges(14);
	ata28(P0, 0, BAD_LBA - 4, 16, 0xc8);
	outb(BM_BASE, 0x09);
	settle();
	cr_assert_eq(edges(14), e + 1, "the interrupt fires");
	cr_assert_eq(inb(BM_BASE + 2) & 7, 0x04,
		     "inactive, interrupt, no BM error");
	cr_assert_eq(inb(P0 + 7), 0x41, "DRDY|ERR");
	cr_assert_eq(inb(P0 + 1), 0x40, "UNC");
	cr_assert_eq(lba28_regs(P0), BAD_LBA, "first sector not read");
	for (int i = 0; i < 4 * 512; i++)
		cr_assert_eq(ram[0x10000 + i], expect((BAD_LBA - 4) * 512 + i));
	outb(BM_BASE, 0x08);
	/* the next request works */
	bm_setup(0x8000, true);
	ata28(P0, 0, 0, 1, 0xc8);
	outb(BM_BASE, 0x09);
	settle();
	cr_assert_eq(inb(P0 + 7), 0x50);
	cr_assert_eq(inb(P0 + 1), 0);
	cr_assert_eq(ram[0x10000 + 511], expect(511));
}

Test(ide, ioerr_dma_write_enospc_aborts_at_first_bad_sector)
{
	bad_disk(1u << BLK_WRITE, -ENOSPC);
	memset(ram + 0x10000, 0xab, 4 * 512);
	prd(0x8000, 0, 0x10000, 4 * 512, true);
	bm_setup(0x8000, false);
	int e = edges(14);
	ata48(P0, BAD_LBA - 2, 4, 0x35); /* WRITE DMA EXT */
	outb(BM_BASE, 0x01);
	settle();
	cr_assert_eq(edges(14), e + 1);
	cr_assert_eq(inb(BM_BASE + 2) & 7, 0x04);
	cr_assert_eq(inb(P0 + 7), 0x41);
	cr_assert_eq(inb(P0 + 1), 0x04, "ABRT");
	cr_assert_eq(lba28_regs(P0) & 0xffffff, BAD_LBA);
	outb(C0, IDE_DC_HOB);
	cr_assert_eq(inb(P0 + 3) | inb(P0 + 4) | inb(P0 + 5), 0, "HOB bytes");
	outb(C0, 0);
	cr_assert_eq(M->disk.data[(BAD_LBA - 1) * 512 + 7], 0xab,
		     "before: written");
	cr_assert_eq(M->disk.data[BAD_LBA * 512], expect(BAD_LBA * 512));
	/* a read of the same sectors is fine (only writes fail) */
	ata28(P0, 0, BAD_LBA, 1, 0x20);
	settle();
	cr_assert_eq(inb(P0 + 7), 0x58);
}

Test(ide, ioerr_pio_read_hands_out_good_sectors_then_unc)
{
	bad_disk(1u << BLK_READ, -EIO);
	uint8_t buf[512];
	int e = edges(14);
	ata28(P0, 0, BAD_LBA - 2, 4, 0x20); /* READ SECTORS */
	for (int s = 0; s < 2; s++) {
		settle();
		cr_assert_eq(inb(P0 + 7), 0x58, "sector %d: DRQ", s);
		insw(P0, buf, 256);
		cr_assert_eq(buf[3], expect((BAD_LBA - 2 + s) * 512 + 3));
	}
	settle();
	cr_assert_eq(edges(14), e + 3, "an interrupt per block and the error");
	cr_assert_eq(inb(P0 + 7), 0x41);
	cr_assert_eq(inb(P0 + 1), 0x40, "UNC");
	cr_assert_eq(lba28_regs(P0), BAD_LBA);
	/* no data phase is left over: the data port reads 0 */
	cr_assert_eq(in(P0, 2), 0);
	ata28(P0, 0, BAD_LBA + 8, 1, 0x20);
	settle();
	cr_assert_eq(inb(P0 + 7), 0x58);
	insw(P0, buf, 256);
	cr_assert_eq(buf[0], expect((BAD_LBA + 8) * 512));
}

Test(ide, ioerr_pio_write_multiple_aborts_at_first_bad_sector)
{
	bad_disk(1u << BLK_WRITE, -EIO);
	uint8_t buf[4 * 512];
	memset(buf, 0x5a, sizeof(buf));
	outb(P0 + 2, 4);
	outb(P0 + 7, 0xc6); /* SET MULTIPLE MODE 4 */
	cr_assert_eq(inb(P0 + 7), 0x50);
	ata28(P0, 0, BAD_LBA - 1, 4, 0xc5); /* WRITE MULTIPLE */
	cr_assert_eq(inb(P0 + 7), 0x58);
	outsw(P0, buf, 4 * 256);
	settle();
	cr_assert_eq(inb(P0 + 7), 0x41);
	cr_assert_eq(inb(P0 + 1), 0x04, "ABRT");
	cr_assert_eq(lba28_regs(P0), BAD_LBA);
	cr_assert_eq(M->disk.data[(BAD_LBA - 1) * 512], 0x5a);
	cr_assert_eq(M->disk.data[BAD_LBA * 512], expect(BAD_LBA * 512));
}

Test(ide, ioerr_flush_aborts_and_next_flush_works)
{
	fb_bad(&M->disk, 0, 0, 1u << BLK_FLUSH, -EIO);
	int e = edges(14);
	outb(P0 + 7, 0xe7);
	settle();
	cr_assert_eq(edges(14), e + 1);
	cr_assert_eq(inb(P0 + 7), 0x41);
	cr_assert_eq(inb(P0 + 1), 0x04, "ABRT");
	/* write cache off: a write's implied flush fails the write */
	outb(P0 + 1, 0x82);
	outb(P0 + 7, 0xef);
	cr_assert_eq(inb(P0 + 7), 0x50);
	uint8_t buf[512] = {0};
	ata28(P0, 0, 7, 1, 0x30);
	outsw(P0, buf, 256);
	settle();
	cr_assert_eq(inb(P0 + 7), 0x41);
	cr_assert_eq(inb(P0 + 1), 0x04);
	M->disk.bad_ops = 0;
	outb(P0 + 7, 0xea);
	settle();
	cr_assert_eq(inb(P0 + 7), 0x50);
	cr_assert_eq(inb(P0 + 1), 0);
}

/* REQUEST SENSE over PIO: key, ASC, and the information field. */
static void cd_sense(uint8_t *key, uint8_t *asc, uint32_t *info, bool *valid)
{
	uint8_t cdb[12] = {0x03, 0, 0, 0, 18};
	uint8_t b[18];
	int blocks;
	packet(18, false, cdb);
	cr_assert_eq(atapi_pio_in(b, sizeof(b), &blocks, 18), 18);
	*key = b[2] & 0xf;
	*asc = b[12];
	*valid = b[0] >> 7;
	*info = (uint32_t)b[3] << 24 | b[4] << 16 | b[5] << 8 | b[6];
}

Test(ide, ioerr_atapi_pio_read_medium_error_after_good_blocks)
{
	fb_bad(&M->cd, 20 * 2048, 22 * 2048, 1u << BLK_READ, -EIO);
	uint8_t cdb[12] = {0x28, 0, 0, 0, 0, 18, 0, 0, 4};
	static uint8_t buf[4 * 2048];
	packet(2048, false, cdb);
	int got = 0;
	for (int i = 0; i < 10; i++) {
		settle();
		if (!(inb(C1) & 0x08))
			break;
		insw(P1, buf + got, 1024);
		got += 2048;
	}
	cr_assert_eq(got, 2 * 2048, "the two good blocks arrive");
	cr_assert_eq(memcmp(buf, M->cd.data + 18 * 2048, 4096), 0);
	cr_assert_eq(inb(P1 + 7), 0x41, "CHECK CONDITION");
	cr_assert_eq(inb(P1 + 1) >> 4, SENSE_MEDIUM_ERROR);
	cr_assert_eq(inb(P1 + 2) & 3, 3);
	uint8_t key, asc;
	uint32_t info;
	bool valid;
	cd_sense(&key, &asc, &info, &valid);
	cr_assert(key == SENSE_MEDIUM_ERROR && asc == 0x11);
	cr_assert(valid && info == 20, "info %u", info);
	/* the drive goes on */
	uint8_t ok[12] = {0x28, 0, 0, 0, 0, 1, 0, 0, 1};
	int blocks;
	packet(2048, false, ok);
	cr_assert_eq(atapi_pio_in(buf, sizeof(buf), &blocks, 2048), 2048);
	cr_assert_eq(memcmp(buf, M->cd.data + 2048, 2048), 0);
}

Test(ide, ioerr_atapi_dma_read_medium_error)
{
	fb_bad(&M->cd, 20 * 2048, 22 * 2048, 1u << BLK_READ, -EIO);
	prd(0x8000, 0, 0x10000, 3 * 2048, true);
	bm1_setup(0x8000);
	uint8_t cdb[12] = {0x28, 0, 0, 0, 0, 19, 0, 0, 3};
	int e = edges(15);
	packet(0xfffe, true, cdb);
	outb(BM_BASE + 8, 0x09);
	settle();
	cr_assert_eq(edges(15), e + 1);
	cr_assert_eq(inb(BM_BASE + 10) & 7, 0x04, "device error, not a BM one");
	cr_assert_eq(inb(P1 + 7), 0x41);
	cr_assert_eq(inb(P1 + 1) >> 4, SENSE_MEDIUM_ERROR);
	outb(BM_BASE + 8, 0x08);
	cr_assert_eq(memcmp(ram + 0x10000, M->cd.data + 19 * 2048, 2048), 0);
	uint8_t key, asc;
	uint32_t info;
	bool valid;
	cd_sense(&key, &asc, &info, &valid);
	cr_assert(key == SENSE_MEDIUM_ERROR && valid && info == 20, "info %u",
		  info);
}

/* A medium change reaches the channel through the drive's hook
 * (tests/unit/test_medium_swap.c has the real backend and monitor); the
 * hook goes with the controller, since the machine frees the IDE
 * controller before the drives. Under ASan a stale hook is a
 * heap-use-after-free here. */
Test(ide, atapi_medium_hook_dropped_by_ide_free)
{
	struct fake_blk other;
	fb_init(&other, 2048 * 4, 2048 * 4, "/images/other.iso");
	prd(0x8000, 0, 0x10000, 2048, true);
	uint8_t cdb[12] = {0x28, 0, 0, 0, 0, 0, 0, 0, 1};
	packet(0xfffe, true, cdb);
	cr_assert_eq(atapi_set_medium(M->atapi, &other.b, false), 0);
	cr_assert_eq(inb(P1 + 7), 0x41, "the waiting DMA read ended");
	cr_assert_eq(inb(P1 + 1), SENSE_UNIT_ATTENTION << 4);
	ide_free(M->ide);
	M->ide = NULL;
	cr_assert_eq(atapi_set_medium(M->atapi, NULL, true), 0);
	cr_assert_eq(M->cd.submits + other.submits, 0);
	free(other.data);
}

/* ---- garbage ---- */

static uint32_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s >> 11;
}

/* Mostly values a driver would write, so that commands get going. */
static uint32_t plausible(uint16_t p, uint32_t v)
{
	static const uint8_t cmds[] = {0x20, 0x24, 0x30, 0x34, 0xc4, 0xc5,
				       0xc8, 0xca, 0x25, 0x35, 0xec, 0xa0,
				       0xa1, 0x08, 0x90, 0xe7, 0xef, 0xc6};
	if (p == P0 + 7 || p == P1 + 7)
		return cmds[v % sizeof(cmds)];
	if ((p == C0 || p == C1) && (v & 0xf0))
		return v & 0x02;
	if (p >= BM_BASE)
		return v;
	if ((p & 7) == 6 && (v & 0x300))
		return 0xe0 | (v & 0x10);
	if (((p & 7) == 4 || (p & 7) == 5) && (v & 0x300))
		return 0;
	if ((p & 7) == 2 && (v & 0x300))
		return v & 0x1f;
	return v;
}

static void random_ports(void);

Test(ide, random_port_writes_never_crash)
{
	random_ports();
}

/* The same with host errors on most of the disk and the CD: partial
 * transfers, failed flushes. */
Test(ide, random_port_writes_with_failing_backend)
{
	fb_bad(&M->disk, 4096, 8 * MIB, 7, -EIO);
	fb_bad(&M->cd, 20 * 2048, 90 * 2048, 1u << BLK_READ, -EIO);
	random_ports();
	cr_assert(M->disk.completes > 0);
}

static void random_ports(void)
{
	static const uint16_t ports[] = {
	    P0,		 P0 + 1,      P0 + 2,	    P0 + 3,	 P0 + 4,
	    P0 + 5,	 P0 + 6,      P0 + 7,	    C0,		 P1,
	    P1 + 1,	 P1 + 2,      P1 + 3,	    P1 + 4,	 P1 + 5,
	    P1 + 6,	 P1 + 7,      C1,	    BM_BASE,	 BM_BASE + 2,
	    BM_BASE + 4, BM_BASE + 8, BM_BASE + 10, BM_BASE + 12};
	uint64_t seed = 0x1de5eed;
	uint8_t buf[4096];
	const int n = sizeof(ports) / sizeof(ports[0]);

	/* Some plausible PRDs in RAM so that DMA sometimes moves data. */
	for (int i = 0; i < 16; i++)
		prd(0x1000, i, 0x10000 + i * 0x1000, 0x1000, i == 15);
	for (int i = 0; i < 100000; i++) {
		uint32_t r = rnd(&seed);
		uint16_t p = ports[r % n];
		uint32_t v = rnd(&seed);
		switch ((r >> 8) % 8) {
		case 0:
			in(p, 1 << ((r >> 12) % 3));
			break;
		case 1:
			insw(p, buf, 1 + v % 2048);
			break;
		case 2:
			outsw(p, buf, 1 + v % 2048);
			break;
		case 3:
			out(p, 1, plausible(p, v));
			break;
		case 4:
			if (p == BM_BASE + 4 || p == BM_BASE + 12)
				v = (v & 1) ? 0x1000 : v;
			out(p, 4, v);
			break;
		case 5:
			settle();
			break;
		case 6:
			/* Decode and bus mastering off now and then. */
			if ((v & 0xff) < 4)
				pci_bus_cfg_write(
				    M->pb, 0, 1, 1, 0x40 + (v >> 8) % 4, 1,
				    (v >> 16) | (v & 0x1000000 ? 0x80 : 0));
			else if ((v & 0xff) < 6)
				pci_bus_cfg_write(
				    M->pb, 0, 1, 1, PCI_COMMAND, 2,
				    v & 0x1000000 ? 5 : (v >> 8) & 7);
			out(p, 2, v);
			break;
		default:
			out(p, 1, (v & 0x3000) ? plausible(p, v) : v);
		}
		cr_assert(M->disk.queued <= 1 && M->cd.queued <= 1,
			  "one request per channel");
	}
	settle();
	cr_assert_eq(M->ide->submitted, M->ide->completed);
	cr_assert_eq(M->disk.submits, M->disk.completes);
	cr_assert_eq(M->cd.submits, M->cd.completes);
	cr_assert(M->ide->submitted > 20, "the fuzzer reached the disk: %llu",
		  (unsigned long long)M->ide->submitted);
	/* The controller still works afterwards. */
	pci_bus_cfg_write(M->pb, 0, 1, 1, 0x40, 4, 0x80008000);
	pci_bus_cfg_write(M->pb, 0, 1, 1, PCI_COMMAND, 2, 5);
	outb(C0, 0x04);
	outb(C0, 0x00);
	outb(BM_BASE, 0);
	uint16_t id[256];
	identify(id);
	check_checksum(id);
}

/* Random well-formed transfers, PIO and DMA, checked against a shadow. */
static void random_write(uint64_t *seed, uint8_t *shadow)
{
	uint32_t lba = rnd(seed) % 2000, n = 1 + rnd(seed) % 24;
	static uint8_t data[24 * 512];
	for (uint32_t i = 0; i < n * 512; i++)
		data[i] = rnd(seed);
	if (rnd(seed) & 1) {
		ata28(P0, 0, lba, n, 0x30);
		for (uint32_t s = 0; s < n; s++) {
			cr_assert_eq(inb(P0 + 7), 0x58);
			outsw(P0, data + s * 512, 256);
			settle();
		}
	} else {
		/* split over PRDs of 512..4096 bytes */
		uint32_t off = 0;
		int i = 0;
		while (off < n * 512) {
			uint32_t len = 512 * (1 + rnd(seed) % 8);
			if (len > n * 512 - off)
				len = n * 512 - off;
			memcpy(ram + 0x20000 + off * 2, data + off, len);
			prd(0x8000, i++, 0x20000 + off * 2, len,
			    off + len == n * 512);
			off += len;
		}
		bm_setup(0x8000, false);
		ata28(P0, 0, lba, n, 0xca);
		outb(BM_BASE, 0x01);
		settle();
		outb(BM_BASE, 0x00);
	}
	cr_assert_eq(inb(P0 + 7), 0x50);
	memcpy(shadow + lba * 512, data, n * 512);
}

static void random_read(uint64_t *seed, const uint8_t *shadow)
{
	uint32_t lba = rnd(seed) % 2000, n = 1 + rnd(seed) % 24;
	static uint8_t data[24 * 512];
	if (rnd(seed) & 1) {
		ata28(P0, 0, lba, n, 0x20);
		settle();
		for (uint32_t s = 0; s < n; s++) {
			cr_assert_eq(inb(P0 + 7), 0x58);
			insw(P0, data + s * 512, 256);
		}
	} else {
		prd(0x8000, 0, 0x20000, n * 512, true);
		bm_setup(0x8000, true);
		outb(BM_BASE, 0x09);
		ata28(P0, 0, lba, n, 0xc8);
		settle();
		outb(BM_BASE, 0x08);
		memcpy(data, ram + 0x20000, n * 512);
	}
	cr_assert_eq(inb(P0 + 7), 0x50);
	cr_assert_eq(memcmp(data, shadow + lba * 512, n * 512), 0,
		     "lba %u n %u", lba, n);
}

Test(ide, random_transfers_match_shadow)
{
	uint64_t seed = 42;
	uint8_t *shadow = malloc(M->disk.cap);
	memcpy(shadow, M->disk.data, M->disk.cap);
	for (int i = 0; i < 400; i++) {
		if (rnd(&seed) & 1)
			random_write(&seed, shadow);
		else
			random_read(&seed, shadow);
	}
	cr_assert_eq(memcmp(shadow, M->disk.data, M->disk.cap), 0);
	cr_assert_eq(M->ide->submitted, M->ide->completed);
	free(shadow);
}

Test(ide, hardware_reset_restores_defaults)
{
	outb(P0 + 2, 2);
	outb(P0 + 7, 0xc6);
	outb(P0 + 1, 0x82);
	outb(P0 + 7, 0xef);
	outb(C0, 0x02);
	piix_ide_reset(&M->piix);
	uint16_t id[256];
	outb(C0, 0x00);
	identify(id);
	cr_assert_eq(id[59], 0x0110);
	cr_assert_eq(id[85] & 0x20, 0x20);
}
