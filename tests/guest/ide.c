/*
 * ide: the PIIX3 IDE function seen by a small polling driver (ide-drv.c)
 * in 32-bit protected mode at CPL0. Needs -hda with the IDET_SECTORS
 * disk of ide-pat.h (every sector filled with its LBA) and -cdrom with an
 * ISO holding IDET_ISO_NAME; run-tests.sh makes both with ide-img and
 * checks the disk image afterwards.
 *
 * Primary master (ATA): PCI discovery and BAR4, SRST signatures, IDENTIFY
 * (model, LBA28/LBA48 capacity), IRQ 14 in the 8259's IRR and nIEN, PIO
 * READ/WRITE SECTORS, READ MULTIPLE, READ/WRITE DMA through multi-entry
 * PRD tables, FLUSH CACHE, LBA48 READ SECTORS/DMA EXT, reads past the end.
 * Secondary master (ATAPI): IDENTIFY DEVICE abort, IDENTIFY PACKET DEVICE,
 * TEST UNIT READY / REQUEST SENSE through the initial UNIT ATTENTION, READ
 * CAPACITY, ISO9660 primary volume descriptor and root directory, READ(10)
 * of the file by PIO and by DMA, and READ(10) past the end.
 * Lines for the runner: "IDE capacity N", "ATAPI capacity N",
 * "ATAPI file lba L size S".
 */
#include "ide-drv.h"
#include "ide-pat.h"
#include "lib.h"

#define PRD_BASE 0x100000u
#define BUF	 ((uint32_t *)0x200000)
#define BUF2	 ((uint32_t *)0x300000)
#define OK_ST(st)                                                              \
	((st) >= 0 &&                                                          \
	 ((st) & (ST_BSY | ST_DRQ | ST_ERR | ST_DF | ST_DRDY)) == ST_DRDY)

static struct idechan *const pri = &idech[0], *const sec = &idech[1];

/* ---- helpers ---- */

static void fill(uint32_t *p, uint32_t words, uint32_t v)
{
	while (words--)
		*p++ = v;
}

/* Index of the first word that differs from sectors [lba, lba+n) written
 * as kind, or -1. */
static int bad_sectors(const uint32_t *p, uint32_t lba, uint32_t n,
		       enum idet_kind kind)
{
	for (uint32_t s = 0; s < n; s++)
		for (uint32_t i = 0; i < 128; i++)
			if (p[s * 128 + i] != idet_word(kind, lba + s, i))
				return (int)(s * 128 + i);
	return -1;
}

static void make_sectors(uint32_t *p, uint32_t lba, uint32_t n,
			 enum idet_kind kind)
{
	for (uint32_t s = 0; s < n; s++)
		for (uint32_t i = 0; i < 128; i++)
			p[s * 128 + i] = idet_word(kind, lba + s, i);
}

/* The ISO file's words [first, first + n) start at p; -1 when they match. */
static int bad_iso(const uint32_t *p, uint32_t first, uint32_t n)
{
	for (uint32_t k = 0; k < n; k++)
		if (p[k] != (IDET_ISO_MAGIC | (first + k)))
			return (int)k;
	return -1;
}

/* ATA string of nwords words (high byte first) equals s, space padded. */
static int ata_string_is(const uint16_t *w, int nwords, const char *s)
{
	for (int i = 0; i < nwords * 2; i++) {
		char c = (char)(i & 1 ? w[i / 2] : w[i / 2] >> 8);
		char want = *s ? *s++ : ' ';

		if (c != want)
			return 0;
	}
	return 1;
}

/* 8259s: vectors 0x20/0x28, everything masked but the cascade. A new
 * ICW1 also clears the latched edges, so IRR starts empty. */
static void pic_init(void)
{
	outb(0x20, 0x11);
	outb(0x21, 0x20);
	outb(0x21, 0x04);
	outb(0x21, 0x01);
	outb(0xA0, 0x11);
	outb(0xA1, 0x28);
	outb(0xA1, 0x02);
	outb(0xA1, 0x01);
	outb(0x21, 0xFB);
	outb(0xA1, 0xFF);
}

static uint8_t slave_irr(void)
{
	outb(0xA0, 0x0A); /* OCW3: read IRR */
	return inb(0xA0);
}

static uint8_t reg(struct idechan *c, unsigned r)
{
	return inb(c->cmd + r);
}

/* ---- primary master: ATA disk ---- */

static void t_pci(void)
{
	uint32_t bar, cmd;

	if (idedrv_init(PRD_BASE)) {
		fail("ide-pci", "no 8086:7010 function on bus 0");
		guest_done();
	}
	bar = pci_read(ide_bdf, 0x20);
	cmd = pci_read(ide_bdf, 0x04) & 0xFFFF;
	gprintf("IDE pci %x bar4 %x cmd %x class %x\n", ide_bdf, bar, cmd,
		pci_read(ide_bdf, 0x08) >> 8);
	check((ide_bdf & 0xFFFF00) == 0x0900 && (bar & 0xFFF1) == 0xC001 &&
		  (cmd & 5) == 5 && pci_read(ide_bdf, 0x08) >> 8 == 0x010180,
	      "ide-pci", "bdf %x bar4 %x command %x", ide_bdf, bar, cmd);
}

/* Software reset of both channels; drives show their signatures. */
static void t_signature(void)
{
	int ok = 1;

	for (int i = 0; i < 2; i++) {
		outb(idech[i].ctl, DC_SRST);
		outb(idech[i].ctl, 0);
		ok &= ide_wait(&idech[i]) >= 0;
	}
	outb(pri->cmd + REG_DEV, 0xA0);
	outb(sec->cmd + REG_DEV, 0xA0);
	ok &= check(reg(pri, REG_NSECT) == 1 && reg(pri, REG_LBAL) == 1 &&
			reg(pri, REG_LBAM) == 0 && reg(pri, REG_LBAH) == 0,
		    "ide-signature-ata", "%x %x %x %x", reg(pri, REG_NSECT),
		    reg(pri, REG_LBAL), reg(pri, REG_LBAM), reg(pri, REG_LBAH));
	check(ok && reg(sec, REG_LBAM) == 0x14 && reg(sec, REG_LBAH) == 0xEB,
	      "ide-signature-atapi", "lbam %x lbah %x", reg(sec, REG_LBAM),
	      reg(sec, REG_LBAH));
}

/* IDENTIFY DEVICE; also the first look at IRQ 14 in the slave's IRR. */
static void t_identify(void)
{
	uint16_t *id = (uint16_t *)BUF;
	uint32_t cap28, cap48;
	uint8_t irr;
	int st;

	pic_init();
	ide_select(pri, 0);
	ide_issue(pri, 0, 0xEC, 0, 0, 0);
	st = ide_wait(pri);
	irr = slave_irr();
	st = ide_pio_in(pri, id, 1, 1);
	check(irr & 0x40, "ide-irq14", "slave IRR %x after IDENTIFY", irr);
	cap28 = id[60] | (uint32_t)id[61] << 16;
	cap48 = id[100] | (uint32_t)id[101] << 16;
	gprintf("IDE capacity %u\n", cap28);
	check(OK_ST(st) && ata_string_is(&id[27], 20, "MINIVMM HARDDISK"),
	      "ide-identify", "status %x model word %x", st, id[27]);
	check(cap28 == IDET_SECTORS && cap48 == IDET_SECTORS && !id[102] &&
		  !id[103] && (id[49] & 0x300) == 0x300 && (id[83] & 0x400),
	      "ide-identify-capacity", "words 60-61 %u, 100-101 %u, 49 %x",
	      cap28, cap48, id[49]);
}

/* nIEN set: a command completes without touching the interrupt line. */
static void t_nien(void)
{
	uint8_t irr;
	int st;

	pic_init();
	outb(pri->ctl, DC_NIEN);
	ide_issue(pri, 0, 0x40, 0, 1, 0); /* READ VERIFY SECTORS */
	st = ide_wait(pri);
	irr = slave_irr();
	reg(pri, REG_STATUS);
	outb(pri->ctl, 0);
	check(OK_ST(st) && !(irr & 0x40), "ide-nien", "status %x IRR %x", st,
	      irr);
}

static void t_pio_read(void)
{
	int st, bad;

	fill(BUF, 4 * 128, 0xEEEEEEEE);
	ide_issue(pri, 0, 0x20, 16, 4, 0);
	st = ide_pio_in(pri, BUF, 4, 1);
	bad = bad_sectors(BUF, 16, 4, IDET_ORIG);
	check(OK_ST(st) && bad < 0, "ide-pio-read", "status %x word %d = %x",
	      st, bad, bad < 0 ? 0 : BUF[bad]);
}

static void t_pio_write(void)
{
	int st, st2, bad;

	make_sectors(BUF2, IDET_PIO_LBA, IDET_PIO_N, IDET_PIO);
	ide_issue(pri, 0, 0x30, IDET_PIO_LBA, IDET_PIO_N, 0);
	st = ide_pio_out(pri, BUF2, IDET_PIO_N, 1);
	fill(BUF, IDET_PIO_N * 128, 0);
	ide_issue(pri, 0, 0x20, IDET_PIO_LBA, IDET_PIO_N, 0);
	st2 = ide_pio_in(pri, BUF, IDET_PIO_N, 1);
	bad = bad_sectors(BUF, IDET_PIO_LBA, IDET_PIO_N, IDET_PIO);
	check(OK_ST(st) && OK_ST(st2) && bad < 0, "ide-pio-write",
	      "status %x/%x word %d", st, st2, bad);
}

/* DMA status: the command ended cleanly, engine idle, interrupt seen. */
static int dma_ok(int r)
{
	return r >= 0 && OK_ST(r & 0xFF) &&
	       ((r >> 8) & (BMS_ACTIVE | BMS_ERROR | BMS_INTR)) == BMS_INTR;
}

/* 24 sectors into three PRD regions, one of them ending mid-sector. */
static void t_dma_read(void)
{
	uint8_t *a = (uint8_t *)BUF, *b = a + 0x8000, *c = a + 0x10000;
	int r, bad;

	fill(BUF, 0x18000 / 4, 0xEEEEEEEE);
	ide_prd(pri, 0, (uint32_t)a, 0x1000, 0);
	ide_prd(pri, 1, (uint32_t)b, 0x0A00, 0);
	ide_prd(pri, 2, (uint32_t)c, 0x1600, 1);
	r = ide_dma(pri, 0, 0xC8, 200, 24, 0, 1);
	/* Gather the regions back into one run of sectors at BUF2. */
	memcpy(BUF2, a, 0x1000);
	memcpy((uint8_t *)BUF2 + 0x1000, b, 0x0A00);
	memcpy((uint8_t *)BUF2 + 0x1A00, c, 0x1600);
	bad = bad_sectors(BUF2, 200, 24, IDET_ORIG);
	check(dma_ok(r) && bad < 0 && a[0x1000] == 0xEE && b[0xA00] == 0xEE &&
		  c[0x1600] == 0xEE,
	      "ide-dma-read", "status %x bm %x word %d", r & 0xFF, r >> 8, bad);
}

/* WRITE DMA from two regions, read back with READ MULTIPLE. */
static void t_dma_write(void)
{
	uint32_t half = IDET_DMA_N / 2 * 512;
	int r, st, bad;

	make_sectors(BUF2, IDET_DMA_LBA, IDET_DMA_N / 2, IDET_DMA);
	make_sectors(BUF2 + 0x4000, IDET_DMA_LBA + IDET_DMA_N / 2,
		     IDET_DMA_N / 2, IDET_DMA);
	ide_prd(pri, 0, (uint32_t)BUF2, half, 0);
	ide_prd(pri, 1, (uint32_t)(BUF2 + 0x4000), half, 1);
	r = ide_dma(pri, 0, 0xCA, IDET_DMA_LBA, IDET_DMA_N, 0, 0);
	fill(BUF, IDET_DMA_N * 128, 0);
	ide_issue(pri, 0, 0xC6, 0, 8, 0); /* SET MULTIPLE MODE 8 */
	st = ide_wait(pri);
	reg(pri, REG_STATUS);
	ide_issue(pri, 0, 0xC4, IDET_DMA_LBA, IDET_DMA_N, 0);
	st = OK_ST(st) ? ide_pio_in(pri, BUF, IDET_DMA_N, 8) : st;
	bad = bad_sectors(BUF, IDET_DMA_LBA, IDET_DMA_N, IDET_DMA);
	check(dma_ok(r) && OK_ST(st) && bad < 0, "ide-dma-write",
	      "dma %x bm %x, read multiple %x, word %d", r & 0xFF, r >> 8, st,
	      bad);
}

static void t_flush(void)
{
	int st;

	ide_issue(pri, 0, 0xE7, 0, 0, 0);
	st = ide_wait(pri);
	st = st < 0 ? st : reg(pri, REG_STATUS);
	check(OK_ST(st), "ide-flush", "status %x", st);
}

static void t_lba48(void)
{
	int st, r, bad, bad2;

	fill(BUF, 5 * 128, 0);
	ide_issue(pri, 0, 0x24, 8000, 3, 1); /* READ SECTORS EXT */
	st = ide_pio_in(pri, BUF, 3, 1);
	bad = bad_sectors(BUF, 8000, 3, IDET_ORIG);
	check(OK_ST(st) && bad < 0, "ide-lba48-pio", "status %x word %d", st,
	      bad);
	ide_prd(pri, 0, (uint32_t)BUF2, 1024, 1);
	r = ide_dma(pri, 0, 0x25, IDET_SECTORS - 2, 2, 1, 1);
	bad2 = bad_sectors(BUF2, IDET_SECTORS - 2, 2, IDET_ORIG);
	check(dma_ok(r) && bad2 < 0, "ide-lba48-dma", "status %x bm %x word %d",
	      r & 0xFF, r >> 8, bad2);
}

/* Status ERR with IDNF in the error register. */
static int idnf(int st)
{
	return st >= 0 && (st & ST_ERR) && !(st & (ST_BSY | ST_DRQ)) &&
	       (reg(pri, REG_ERROR) & ER_IDNF);
}

static void t_past_end(void)
{
	int st, st48, r;

	ide_issue(pri, 0, 0x20, IDET_SECTORS - 2, 4, 0);
	st = ide_pio_in(pri, BUF, 4, 1);
	check(idnf(st), "ide-read-past-end", "status %x error %x", st,
	      reg(pri, REG_ERROR));
	/* Only the HOB byte puts this one out of range. */
	ide_issue(pri, 0, 0x24, 0x100000010ull, 1, 1);
	st48 = ide_pio_in(pri, BUF, 1, 1);
	check(idnf(st48), "ide-lba48-past-end", "status %x error %x", st48,
	      reg(pri, REG_ERROR));
	ide_prd(pri, 0, (uint32_t)BUF, 512, 1);
	r = ide_dma(pri, 0, 0xC8, IDET_SECTORS, 1, 0, 1);
	/* No data moved, so the engine may still be active (SFF-8038i);
	 * clearing start (done by ide_dma) must idle it. */
	check(r >= 0 && idnf(r & 0xFF) && ((r >> 8) & BMS_INTR) &&
		  !((r >> 8) & BMS_ERROR) &&
		  !(inb(pri->bm + BM_STATUS) & BMS_ACTIVE),
	      "ide-dma-past-end", "status %x bm %x error %x", r & 0xFF, r >> 8,
	      reg(pri, REG_ERROR));
}

/* ---- secondary master: ATAPI CD-ROM ---- */

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

static uint32_t le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static int packet(uint8_t op, uint32_t lba, uint32_t n, void *buf, uint32_t len,
		  int dma, uint32_t *got)
{
	uint8_t cdb[12] = {op};

	if (op == 0x03 || op == 0x12) { /* allocation length in byte 4 */
		cdb[4] = (uint8_t)n;
	} else if (op == 0x28) { /* READ(10) */
		cdb[2] = (uint8_t)(lba >> 24);
		cdb[3] = (uint8_t)(lba >> 16);
		cdb[4] = (uint8_t)(lba >> 8);
		cdb[5] = (uint8_t)lba;
		cdb[7] = (uint8_t)(n >> 8);
		cdb[8] = (uint8_t)n;
	}
	return atapi_packet(sec, 0, cdb, buf, len, 0x3000, dma, got);
}

static uint8_t sense_key(void)
{
	return reg(sec, REG_ERROR) >> 4;
}

static void t_atapi_identify(void)
{
	uint16_t *id = (uint16_t *)BUF;
	uint8_t irr;
	int st;

	ide_select(sec, 0);
	ide_issue(sec, 0, 0xEC, 0, 0, 0);
	st = ide_wait(sec);
	st = st < 0 ? st : reg(sec, REG_STATUS);
	check(st >= 0 && (st & ST_ERR) && (reg(sec, REG_ERROR) & ER_ABRT) &&
		  reg(sec, REG_LBAM) == 0x14 && reg(sec, REG_LBAH) == 0xEB,
	      "atapi-identify-device-aborts", "status %x error %x", st,
	      reg(sec, REG_ERROR));
	pic_init();
	outb(sec->cmd + REG_FEATURE, 0);
	outb(sec->cmd + REG_CMD, 0xA1);
	st = ide_wait(sec);
	irr = slave_irr();
	st = ide_pio_in(sec, id, 1, 1);
	check(irr & 0x80, "ide-irq15", "slave IRR %x after IDENTIFY PACKET",
	      irr);
	check(OK_ST(st) && (id[0] & 0xDF00) == 0x8500 &&
		  ata_string_is(&id[27], 20, "MINIVMM CD-ROM"),
	      "atapi-identify", "status %x word 0 %x", st, id[0]);
}

/* A fresh medium reports UNIT ATTENTION once; then the drive is ready. */
static void t_atapi_ready(void)
{
	uint8_t *s = (uint8_t *)BUF;
	uint32_t got;
	int st, tries, ua = 0, sense_ok = 1;

	for (tries = 0; tries < 4; tries++) {
		st = packet(0x00, 0, 0, 0, 0, 0, &got);
		if (st >= 0 && !(st & ST_ERR))
			break;
		if (st < 0 || sense_key() != 6) {
			tries = 4;
			break;
		}
		ua++;
		packet(0x03, 0, 18, s, 18, 0, &got);
		sense_ok &=
		    got == 18 && (s[0] & 0x7F) == 0x70 && (s[2] & 0xF) == 6;
	}
	gprintf("ATAPI unit attentions %d\n", ua);
	check(tries < 4 && ua <= 2 && sense_ok, "atapi-test-unit-ready",
	      "status %x sense key %x after %d unit attentions", st,
	      sense_key(), ua);
	fill(BUF, 8, 0xEEEEEEEE);
	st = packet(0x03, 0, 18, s, 18, 0, &got);
	check(OK_ST(st) && got == 18 && (s[0] & 0x7F) == 0x70 &&
		  (s[2] & 0xF) == 0 && s[7] >= 10,
	      "atapi-request-sense", "status %x got %u bytes %x %x %x", st, got,
	      s[0], s[2], s[7]);
}

static uint32_t t_atapi_capacity(void)
{
	uint8_t *d = (uint8_t *)BUF;
	uint32_t got, last;
	int st;

	st = packet(0x25, 0, 0, d, 8, 0, &got);
	last = be32(d);
	gprintf("ATAPI capacity %u\n", last + 1);
	check(OK_ST(st) && got == 8 && be32(d + 4) == 2048,
	      "atapi-read-capacity", "status %x got %u block size %u", st, got,
	      be32(d + 4));
	return last + 1;
}

/* Root directory record of the PVD, then IDET_ISO_NAME in it. */
static int find_file(uint32_t *lba, uint32_t *size)
{
	uint8_t *d = (uint8_t *)BUF;
	uint32_t got, root;
	int st;

	st = packet(0x28, 16, 1, d, 2048, 0, &got);
	if (!OK_ST(st) || got != 2048 || d[0] != 1 ||
	    memcmp(d + 1, "CD001", 5)) {
		fail("atapi-iso-pvd", "status %x got %u type %x", st, got,
		     d[0]);
		return -1;
	}
	pass("atapi-iso-pvd");
	root = le32(d + 156 + 2);
	st = packet(0x28, root, 1, d, 2048, 0, &got);
	for (uint32_t off = 0; OK_ST(st) && off + 33 < 2048;) {
		const uint8_t *r = d + off;
		const char *want = IDET_ISO_NAME;
		int i;

		if (!r[0])
			break;
		for (i = 0; i < r[32] && want[i] && r[33 + i] == want[i]; i++)
			;
		if (!want[i] && (i == r[32] || r[33 + i] == ';')) {
			*lba = le32(r + 2);
			*size = le32(r + 10);
			return 0;
		}
		off += r[0];
	}
	fail("atapi-iso-file", "%s not in the root directory (status %x)",
	     IDET_ISO_NAME, st);
	return -1;
}

static void t_atapi_read(uint32_t capacity)
{
	uint32_t lba, size, got, blocks = IDET_ISO_FILE / 2048;
	int st, bad;

	if (find_file(&lba, &size))
		return;
	gprintf("ATAPI file lba %u size %u\n", lba, size);
	check(size == IDET_ISO_FILE && lba + blocks <= capacity,
	      "atapi-iso-file", "size %u lba %u", size, lba);
	fill(BUF, IDET_ISO_FILE / 4, 0xEEEEEEEE);
	st = packet(0x28, lba, blocks, BUF, IDET_ISO_FILE, 0, &got);
	bad = bad_iso(BUF, 0, IDET_ISO_FILE / 4);
	check(OK_ST(st) && got == IDET_ISO_FILE && bad < 0, "atapi-read-pio",
	      "status %x got %u word %d", st, got, bad);

	/* DMA: 24 KiB then 40 KiB, in separate places. */
	fill(BUF2, 0x20000 / 4, 0xEEEEEEEE);
	ide_prd(sec, 0, (uint32_t)BUF2, 0x6000, 0);
	ide_prd(sec, 1, (uint32_t)BUF2 + 0x10000, 0xA000, 1);
	st = packet(0x28, lba, blocks, 0, 0, 1, &got);
	bad = bad_iso(BUF2, 0, 0x6000 / 4);
	if (bad < 0)
		bad = bad_iso(BUF2 + 0x4000, 0x6000 / 4, 0xA000 / 4);
	check(OK_ST(st) && bad < 0 && BUF2[0x6000 / 4] == 0xEEEEEEEE,
	      "atapi-read-dma", "status %x word %d", st, bad);

	st = packet(0x28, capacity, 1, BUF, 2048, 0, &got);
	check(st >= 0 && (st & ST_ERR) && sense_key() == 5 && !got,
	      "atapi-read-past-end", "status %x sense key %x got %u", st,
	      sense_key(), got);
}

int main(void)
{
	t_pci();
	t_signature();
	t_identify();
	t_nien();
	t_pio_read();
	t_pio_write();
	t_dma_read();
	t_dma_write();
	t_flush();
	t_lba48();
	t_past_end();
	t_atapi_identify();
	t_atapi_ready();
	t_atapi_read(t_atapi_capacity());
	return 0;
}
