/*
 * Issue 13: the monitor changes or ejects the CD while an ATAPI DMA read
 * waits for the bus master (or is in flight). Everything here is the real
 * thing except KVM: the IDE controller behind the PIIX3 bus-master engine,
 * raw ISO images through vmm/backend/block.c, and eject/change sent over the
 * monitor's unix socket, so that the monitor's own medium swap drains and
 * closes the old image. Guest port accesses take the device lock as the
 * device-model thread would. Before the fix, a START after the swap called
 * blk_submit() on the freed image (ASan: heap-use-after-free).
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "hw/atapi.h"
#include "hw/ide.h"
#include "hw/pci.h"
#include "hw/piix_ide.h"
#include "vmm/backend/block.h"
#include "vmm/machine.h"
#include "vmm/monitor.h"
#include "vmm/vm.h"

#define RAM_SIZE  (1u << 20)
#define BM_BASE	  0xc000
#define BM1	  (BM_BASE + 8) /* secondary channel's registers */
#define P1	  0x170
#define C1	  0x376
#define SLOT	  2 /* secondary master */
#define A_BLOCKS  80
#define B_BLOCKS  8
#define PRD_TABLE 0x8000
#define BUF	  0x10000

struct pic {
	int level[16], edges[16];
};

struct rig {
	char dir[32], sock[64], iso_a[64], iso_b[64];
	struct vm vm;
	struct machine m;
	struct bus io, mmio;
	struct guest_mem gm;
	struct vclock *clk;
	struct pic pic;
	struct irq_chip irq;
	int fd; /* monitor connection */
};

static struct rig R;
static uint8_t ram[RAM_SIZE];

/* Byte k of image which ('a' or 'b'): a pattern naming image and offset. */
static uint8_t pattern(char which, uint64_t k)
{
	return (uint8_t)(which == 'a' ? k * 7 + k / 2048 + 1
				      : k * 13 + k / 2048 + 0x55);
}

static void make_iso(const char *path, char which, unsigned blocks)
{
	static uint8_t blk[2048];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cr_assert_geq(fd, 0);
	for (unsigned b = 0; b < blocks; b++) {
		for (unsigned i = 0; i < sizeof(blk); i++)
			blk[i] = pattern(which, (uint64_t)b * 2048 + i);
		cr_assert_eq(write(fd, blk, sizeof(blk)), (ssize_t)sizeof(blk));
	}
	close(fd);
}

static void pic_set(void *opaque, int line, int level)
{
	struct pic *p = opaque;
	if (!p->level[line] && level)
		p->edges[line]++;
	p->level[line] = level;
}

/* ---- the guest's side: port accesses under the device lock ---- */

static uint32_t in(uint16_t port, unsigned size)
{
	uint32_t v = 0;
	dm_lock(&R.vm.dm);
	bus_access(&R.io, port, size, false, &v, 1);
	dm_unlock(&R.vm.dm);
	return v;
}

static void out(uint16_t port, unsigned size, uint32_t v)
{
	dm_lock(&R.vm.dm);
	bus_access(&R.io, port, size, true, &v, 1);
	dm_unlock(&R.vm.dm);
}

static uint8_t inb(uint16_t p)
{
	return in(p, 1);
}

static void outb(uint16_t p, uint8_t v)
{
	out(p, 1, v);
}

static void prd(int i, uint32_t addr, uint32_t count, bool eot)
{
	uint32_t e[2] = {addr, (count & 0xffff) | (eot ? 0x80000000u : 0)};
	memcpy(ram + PRD_TABLE + 8 * i, e, 8);
}

/* PACKET with the 12-byte cdb on the secondary master. */
static void packet(bool dma, const uint8_t *cdb)
{
	outb(P1 + 6, 0xa0);
	outb(P1 + 1, dma ? 1 : 0);
	outb(P1 + 4, 0xfe);
	outb(P1 + 5, 0xff);
	outb(P1 + 7, 0xa0);
	cr_assert_eq(inb(C1), 0x48, "DRQ for the packet");
	dm_lock(&R.vm.dm);
	bus_access(&R.io, P1, 2, true, (void *)cdb, 6);
	dm_unlock(&R.vm.dm);
}

static void read10(bool dma, uint32_t lba, uint16_t blocks)
{
	uint8_t cdb[12] = {0x28};
	for (int i = 0; i < 4; i++)
		cdb[2 + i] = lba >> (24 - 8 * i);
	cdb[7] = blocks >> 8;
	cdb[8] = blocks & 0xff;
	packet(dma, cdb);
}

/* REQUEST SENSE over PIO: sense key << 16 | ASC << 8 | ASCQ. */
static uint32_t request_sense(void)
{
	uint8_t cdb[12] = {0x03, 0, 0, 0, 18}, s[18];
	packet(false, cdb);
	cr_assert_eq(inb(P1 + 7) & 0x89, 0x08, "sense data ready");
	cr_assert_eq(inb(P1 + 4), 18);
	dm_lock(&R.vm.dm);
	bus_access(&R.io, P1, 2, false, s, 9);
	dm_unlock(&R.vm.dm);
	cr_assert_eq(inb(P1 + 7), 0x50);
	return (uint32_t)(s[2] & 0xf) << 16 | s[12] << 8 | s[13];
}

/* TEST UNIT READY: 0, or the sense key of its CHECK CONDITION. */
static int test_unit_ready(void)
{
	uint8_t cdb[12] = {0};
	packet(false, cdb);
	uint8_t st = inb(P1 + 7);
	return st & 0x01 ? inb(P1 + 1) >> 4 : 0;
}

/* Runs the completions of reads the real backend has finished. */
static void settle(void)
{
	dm_lock(&R.vm.dm);
	struct blk *b = R.m.blk[SLOT];
	dm_unlock(&R.vm.dm);
	if (b)
		blk_drain(b);
}

/* ---- the monitor ---- */

static const char *until_prompt(int timeout_ms)
{
	static char buf[8192];
	size_t n = 0;
	buf[0] = '\0';
	while (n < sizeof(buf) - 1) {
		struct pollfd p = {R.fd, POLLIN, 0};
		if (poll(&p, 1, timeout_ms) <= 0)
			break;
		ssize_t r = read(R.fd, buf + n, sizeof(buf) - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		buf[n] = '\0';
		if (n >= 10 && !strcmp(buf + n - 10, "(minivmm) "))
			break;
	}
	return buf;
}

/* One command; its answer (without the prompt) must be empty. */
static void monitor(const char *fmt, const char *arg)
{
	char line[256];
	int n = snprintf(line, sizeof(line), fmt, arg);
	cr_assert_eq(write(R.fd, line, n), n);
	cr_assert_str_eq(until_prompt(3000), "(minivmm) ", "%s", line);
}

static void connect_monitor(void)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", R.sock);
	R.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(R.fd, 0);
	cr_assert_eq(connect(R.fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert(strstr(until_prompt(3000), "minivmm monitor"));
}

/* ---- the machine ---- */

static void devices(void)
{
	char e[256];
	struct machine *m = &R.m;
	bus_init(&R.io, "port");
	bus_init(&R.mmio, "mmio");
	gm_add(&R.gm, 0, RAM_SIZE, ram, false);
	R.clk = clock_new_manual(0);
	R.irq = (struct irq_chip){pic_set, &R.pic};
	m->pci = pci_bus_new(&R.io, &R.mmio);
	m->ide = ide_new(R.clk, &R.irq, &R.gm);
	cr_assert_not_null(m->ide);
	m->atapi[SLOT] = atapi_new();
	struct blk_opts o = {.path = R.iso_a, .cdrom = true};
	m->blk[SLOT] = blk_open(&o, &R.vm.dm, e, sizeof(e));
	cr_assert_not_null(m->blk[SLOT], "%s", e);
	atapi_set_medium(m->atapi[SLOT], m->blk[SLOT], true);
	cr_assert_eq(ide_attach_cdrom(m->ide, 1, 0, m->atapi[SLOT]), 0);
	cr_assert_eq(piix_ide_init(&m->ide_fn, m->pci, m->ide, &R.io), 0);
	pci_bus_cfg_write(m->pci, 0, 1, 1, 0x20, 4, BM_BASE);
	pci_bus_cfg_write(m->pci, 0, 1, 1, PCI_COMMAND, 2,
			  PCI_CMD_IO | PCI_CMD_MASTER);
}

static void setup(void)
{
	char e[256], spec[160];
	memset(&R, 0, sizeof(R));
	memset(ram, 0, sizeof(ram));
	snprintf(R.dir, sizeof(R.dir), "/tmp/swap-test.XXXXXX");
	cr_assert_not_null(mkdtemp(R.dir));
	snprintf(R.sock, sizeof(R.sock), "%s/mon.sock", R.dir);
	snprintf(R.iso_a, sizeof(R.iso_a), "%s/a.iso", R.dir);
	snprintf(R.iso_b, sizeof(R.iso_b), "%s/b.iso", R.dir);
	make_iso(R.iso_a, 'a', A_BLOCKS);
	make_iso(R.iso_b, 'b', B_BLOCKS);
	cr_assert_eq(dm_init(&R.vm.dm, DM_MODE_INLINE, 1), 0);
	R.vm.vcpus[0].fd = -1;
	R.m.vm = &R.vm;
	devices();
	snprintf(spec, sizeof(spec), "unix:%s,server,nowait", R.sock);
	R.m.monitor = monitor_new(&R.m, spec, e, sizeof(e));
	cr_assert_not_null(R.m.monitor, "%s", e);
	connect_monitor();
	/* A first command: a medium inserted before it counts as there
	 * since power-on, later changes arm UNIT ATTENTION. */
	cr_assert_eq(test_unit_ready(), 0);
}

static void teardown(void)
{
	struct machine *m = &R.m;
	close(R.fd);
	monitor_free(m->monitor);
	ide_free(m->ide);
	pci_bus_free(m->pci);
	atapi_free(m->atapi[SLOT]);
	if (m->blk[SLOT])
		blk_close(m->blk[SLOT]);
	clock_free(R.clk);
	bus_destroy(&R.io);
	bus_destroy(&R.mmio);
	dm_destroy(&R.vm.dm);
	unlink(R.iso_a);
	unlink(R.iso_b);
	unlink(R.sock);
	rmdir(R.dir);
}

TestSuite(medium_swap, .init = setup, .fini = teardown, .timeout = 60);

/* Steps 1-2 of the issue: a PRD table for one 2 KiB block, then READ(10)
 * of LBA 0 with the DMA bit; the drive waits for the bus master. */
static void dma_read_waiting_for_bus_master(void)
{
	prd(0, BUF, 2048, true);
	read10(true, 0, 1);
	cr_assert_eq(inb(C1), 0x58, "DRQ: the drive waits for the engine");
}

/* Step 4: the guest points the engine at the table and starts it. */
static void start_bus_master(void)
{
	out(BM1 + 4, 4, PRD_TABLE);
	outb(BM1 + 2, 0x06); /* clear error and interrupt */
	outb(BM1, 0x09);     /* START, device to memory */
}

/* After the swap the read ended with CHECK CONDITION and an interrupt;
 * the guest's START (step 4, issued before anything is checked, as the
 * issue's sequence has it) finds nothing to move and touches no image. */
static void start_and_expect_aborted(uint8_t key, int edges_before)
{
	uint8_t st = inb(C1), err = inb(P1 + 1), ir = inb(P1 + 2);
	uint8_t bm = inb(BM1 + 2);
	int edges = R.pic.edges[15];
	start_bus_master();
	settle();
	cr_assert_eq(inb(BM1 + 2) & 0x03, 0x01, "started, no transfer");
	cr_assert_eq(st, 0x41, "DRDY|ERR, no DRQ");
	cr_assert_eq(err, key << 4, "sense key in the error register");
	cr_assert_eq(ir & 3, 3, "IO|CoD: status phase");
	cr_assert_eq(edges, edges_before + 1, "one interrupt");
	cr_assert_eq(bm & 0x07, 0x04, "engine idle, INTR");
	outb(BM1, 0x08); /* the driver stops the engine */
	cr_assert_eq(inb(BM1 + 2) & 0x03, 0x00);
	for (int i = 0; i < 2048; i++)
		cr_assert_eq(ram[BUF + i], 0, "no data moved");
	cr_assert_eq(inb(P1 + 7), 0x41);
}

Test(medium_swap, eject_while_dma_read_waits_for_bus_master)
{
	dma_read_waiting_for_bus_master();
	int e = R.pic.edges[15];
	monitor("eject %s\n", "ide1-cd0");
	cr_assert_null(R.m.blk[SLOT], "the old image is closed");
	start_and_expect_aborted(SENSE_NOT_READY, e);
	cr_assert_eq(request_sense(), SENSE_NOT_READY << 16 | 0x3a00);
	/* The medium change itself is still owed to the host. */
	cr_assert_eq(test_unit_ready(), SENSE_UNIT_ATTENTION);
	cr_assert_eq(test_unit_ready(), SENSE_NOT_READY);
}

Test(medium_swap, change_while_dma_read_waits_for_bus_master)
{
	dma_read_waiting_for_bus_master();
	int e = R.pic.edges[15];
	monitor("change ide1-cd0 %s\n", R.iso_b);
	start_and_expect_aborted(SENSE_UNIT_ATTENTION, e);
	cr_assert_eq(request_sense(), SENSE_UNIT_ATTENTION << 16 | 0x2800);
	/* The attention was reported by the aborted read: the new disc is
	 * ready, and a DMA read now comes from it. */
	cr_assert_eq(test_unit_ready(), 0);
	read10(true, 2, 1);
	start_bus_master();
	settle();
	cr_assert_eq(inb(P1 + 7), 0x50);
	cr_assert_eq(inb(BM1 + 2) & 0x07, 0x04);
	for (int i = 0; i < 2048; i++)
		cr_assert_eq(ram[BUF + i], pattern('b', 2 * 2048 + i));
}

/* A transfer larger than one request (65 PRDs, the engine maps 64 per
 * request): the change comes while the first request is in flight. The
 * swap's drain completes it; the rest is not read from either disc. */
Test(medium_swap, change_while_dma_read_in_flight)
{
	for (int i = 0; i < 65; i++)
		prd(i, BUF + i * 4096, 2048, i == 64);
	read10(true, 0, 65);
	start_bus_master();
	cr_assert_eq(inb(C1), 0x58, "first request in flight");
	int e = R.pic.edges[15];
	monitor("change ide1-cd0 %s\n", R.iso_b);
	cr_assert_eq(inb(C1), 0x41);
	cr_assert_eq(inb(P1 + 1), SENSE_UNIT_ATTENTION << 4);
	cr_assert_eq(R.pic.edges[15], e + 1);
	cr_assert_eq(inb(BM1 + 2) & 0x07, 0x04, "engine stopped by the drive");
	for (int i = 0; i < 2048; i++)
		cr_assert_eq(ram[BUF + i], pattern('a', i), "first request");
	for (int i = 0; i < 2048; i++)
		cr_assert_eq(ram[BUF + 64 * 4096 + i], 0, "no second request");
	outb(BM1, 0x08);
	cr_assert_eq(request_sense(), SENSE_UNIT_ATTENTION << 16 | 0x2800);
	cr_assert_eq(test_unit_ready(), 0);
}

/* A PIO read keeps the blocks it buffered before the change, then fails
 * instead of reading the rest from the new disc. */
Test(medium_swap, change_during_pio_read)
{
	static uint8_t got[16 * 2048];
	read10(false, 0, 40);
	settle();
	cr_assert_eq(inb(P1 + 7) & 0x89, 0x08, "first 16 blocks buffered");
	monitor("change ide1-cd0 %s\n", R.iso_b);
	uint32_t bc = inb(P1 + 4) | inb(P1 + 5) << 8;
	cr_assert_eq(bc, sizeof(got));
	dm_lock(&R.vm.dm);
	bus_access(&R.io, P1, 2, false, got, sizeof(got) / 2);
	dm_unlock(&R.vm.dm);
	for (unsigned i = 0; i < sizeof(got); i++)
		cr_assert_eq(got[i], pattern('a', i));
	settle();
	cr_assert_eq(inb(P1 + 7), 0x41);
	cr_assert_eq(inb(P1 + 1), SENSE_UNIT_ATTENTION << 4);
	cr_assert_eq(request_sense(), SENSE_UNIT_ATTENTION << 16 | 0x2800);
}
