/*
 * ioerr: the small-driver side of the host I/O error test
 * (tests/integration/ioerr-test.sh). The host makes sectors
 * IE_BAD..IE_BAD+15 of the primary master's image (and the same bytes of
 * the CD image, blocks 512-515) fail with EIO or ENOSPC through an
 * LD_PRELOAD shim; this guest runs commands inside and outside that range
 * and prints, for each, one line with what the drive showed:
 *
 *   IE <name> st=<status> er=<error> lba=<address registers> [more]
 *
 * (st/er in hex; lba the LBA28 address registers after the command). The
 * host compares the lines with what the mode it chose must give; this
 * program judges nothing, so an error that is swallowed shows as st=50.
 * Every wait is bounded (ide-drv.c); a drive that never answers prints
 * st=timeout.
 */
#include "ide-drv.h"
#include "lib.h"

#define PRD_BASE 0x100000u
#define BUF	 ((uint8_t *)0x200000)
#define IE_BAD	 2048u /* first bad sector: byte 1 MiB */

static struct idechan *c = &idech[0];

static uint8_t pat(uint32_t lba, uint32_t i)
{
	return (uint8_t)(lba * 13 + i * 7 + 1);
}

static void fill(uint32_t lba, uint32_t n)
{
	for (uint32_t s = 0; s < n; s++)
		for (uint32_t i = 0; i < 512; i++)
			BUF[s * 512 + i] = pat(lba + s, i);
}

/* Sectors of BUF that hold the pattern of lba.., counted from the start. */
static uint32_t good_prefix(uint32_t lba, uint32_t n)
{
	for (uint32_t s = 0; s < n; s++)
		for (uint32_t i = 0; i < 512; i++)
			if (BUF[s * 512 + i] != pat(lba + s, i))
				return s;
	return n;
}

static uint32_t lba_regs(void)
{
	uint16_t p = c->cmd;
	return inb(p + REG_LBAL) | inb(p + REG_LBAM) << 8 |
	       inb(p + REG_LBAH) << 16 | (inb(p + REG_DEV) & 0xF) << 24;
}

/* One result line; st below 0 is a driver failure (timeout, no DRQ). */
static void report(const char *name, int st, const char *more)
{
	if (st < 0) {
		gprintf("IE %s st=timeout(%d)\n", name, st);
		return;
	}
	gprintf("IE %s st=%x er=%x lba=%u%s\n", name, st & 0xFF,
		inb(c->cmd + REG_ERROR), lba_regs(), more);
}

static void dma(const char *name, uint8_t cmd, uint32_t lba, uint32_t n,
		int to_mem)
{
	ide_prd(c, 0, (uint32_t)BUF, n * 512, 1);
	int r = ide_dma(c, 0, cmd, lba, n, 0, to_mem);
	if (r >= 0)
		gprintf("IE %s bm=%x\n", name,
			(r >> 8) & (BMS_ACTIVE | BMS_ERROR | BMS_INTR));
	report(name, r, "");
}

static void insw(uint16_t port, void *buf, uint32_t words)
{
	asm volatile("rep insw"
		     : "+D"(buf), "+c"(words)
		     : "d"(port)
		     : "memory");
}

/* READ SECTORS of n: the sectors handed out before the drive stopped. */
static void pio_read(const char *name, uint32_t lba, uint32_t n)
{
	uint32_t got = 0;
	int st;
	ide_issue(c, 0, 0x20, lba, n, 0);
	for (;;) {
		st = ide_wait(c);
		if (st < 0 || !(st & ST_DRQ) || (st & ST_ERR) || got == n)
			break;
		inb(c->cmd + REG_STATUS);
		insw(c->cmd + REG_DATA, BUF + got * 512, 256);
		got++;
	}
	if (st >= 0)
		st = inb(c->cmd + REG_STATUS);
	gprintf("IE %s sectors=%u good=%u\n", name, got, good_prefix(lba, got));
	report(name, st, "");
}

static void pio_write(const char *name, uint32_t lba)
{
	fill(lba, 1);
	ide_issue(c, 0, 0x30, lba, 1, 0);
	report(name, ide_pio_out(c, BUF, 1, 1), "");
}

static void flush(const char *name)
{
	ide_issue(c, 0, 0xE7, 0, 0, 0);
	int st = ide_wait(c);
	report(name, st < 0 ? st : inb(c->cmd + REG_STATUS), "");
}

/* The CD on the secondary master, if there is one: a read across block
 * 512 (the bad bytes), REQUEST SENSE, then a read elsewhere. */
static void cdrom(void)
{
	struct idechan *cd = &idech[1];
	uint8_t rd[12] = {0x28, 0, 0, 0, 0x01, 0xFE, 0, 0, 4}; /* 510, 4 */
	uint8_t rs[12] = {0x03, 0, 0, 0, 18};
	uint8_t ok[12] = {0x28, 0, 0, 0, 0, 16, 0, 0, 1};
	uint8_t sense[18];
	uint32_t got;

	if ((inb(cd->cmd + REG_LBAM) != 0x14 ||
	     inb(cd->cmd + REG_LBAH) != 0xEB))
		return;
	int st = atapi_packet(cd, 0, rd, BUF, 4 * 2048, 2048, 0, &got);
	if (st < 0) {
		gprintf("IE cd-read-bad st=timeout(%d)\n", st);
		return;
	}
	gprintf("IE cd-read-bad st=%x sensekey=%x bytes=%u\n", st,
		inb(cd->cmd + REG_ERROR) >> 4, got);
	for (int i = 0; i < 18; i++)
		sense[i] = 0;
	st = atapi_packet(cd, 0, rs, sense, sizeof(sense), 18, 0, &got);
	gprintf("IE cd-sense st=%x key=%x asc=%x valid=%u info=%u\n", st,
		sense[2] & 0xF, sense[12], sense[0] >> 7,
		(uint32_t)sense[3] << 24 | sense[4] << 16 | sense[5] << 8 |
		    sense[6]);
	st = atapi_packet(cd, 0, ok, BUF, 2048, 2048, 0, &got);
	gprintf("IE cd-read-good st=%x bytes=%u\n", st, got);
}

int main(void)
{
	if (idedrv_init(PRD_BASE)) {
		fail("ioerr", "no 8086:7010 function on bus 0");
		guest_done();
	}
	if (ide_select(c, 0) < 0) {
		fail("ioerr", "no primary master");
		guest_done();
	}
	fill(0, 8);
	dma("dma-write-good", 0xCA, 0, 8, 0);
	fill(IE_BAD - 4, 8);
	dma("dma-write-bad", 0xCA, IE_BAD - 4, 8, 0); /* 4 good, 4 bad */
	for (uint32_t i = 0; i < 16 * 512; i++)
		BUF[i] = 0;
	dma("dma-read-bad", 0xC8, IE_BAD - 4, 16, 1);
	gprintf("IE dma-read-bad good=%u\n", good_prefix(IE_BAD - 4, 4));
	pio_read("pio-read-bad", IE_BAD - 2, 4);
	pio_write("pio-write-bad", IE_BAD + 2);
	flush("flush");
	flush("flush-again");
	for (uint32_t i = 0; i < 8 * 512; i++)
		BUF[i] = 0;
	dma("dma-read-good", 0xC8, 0, 8, 1);
	gprintf("IE dma-read-good good=%u\n", good_prefix(0, 8));
	cdrom();
	guest_done();
}
