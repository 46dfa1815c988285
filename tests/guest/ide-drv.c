/*
 * Polling IDE/ATAPI driver for the guest programs; see ide-drv.h.
 */
#include "ide-drv.h"
#include "lib.h"

#define PIIX3_IDE_ID 0x70108086u
#define PCI_BAR4     0x20
#define PCI_CMD_IO   0x0001
#define PCI_CMD_BM   0x0004

struct idechan idech[2] = {
    {0x1F0, 0x3F6, 0, 0, 0},
    {0x170, 0x376, 0, 0, 0},
};
uint32_t ide_bdf;

uint32_t pci_read(uint32_t bdf, unsigned reg)
{
	outl(0xCF8, bdf | (reg & 0xFC));
	return inl(0xCFC);
}

void pci_write(uint32_t bdf, unsigned reg, uint32_t v)
{
	outl(0xCF8, bdf | (reg & 0xFC));
	outl(0xCFC, v);
}

/* Bus 0 only: the PIIX3 is an on-board function of the host bridge's bus. */
static int find_piix_ide(void)
{
	for (uint32_t dev = 0; dev < 32; dev++) {
		uint32_t base = 0x80000000u | dev << 11;
		int nfn = 1;

		if (pci_read(base, 0) == 0xFFFFFFFFu)
			continue;
		if (pci_read(base, 0x0C) & 0x00800000u) /* multi-function */
			nfn = 8;
		for (int fn = 0; fn < nfn; fn++) {
			uint32_t bdf = base | (uint32_t)fn << 8;

			if (pci_read(bdf, 0) == PIIX3_IDE_ID) {
				ide_bdf = bdf;
				return 0;
			}
		}
	}
	return -1;
}

int idedrv_init(uint32_t prd_base)
{
	uint32_t bar;

	if (find_piix_ide())
		return -1;
	bar = pci_read(ide_bdf, PCI_BAR4) & 0xFFFCu;
	if (!bar) {
		pci_write(ide_bdf, PCI_BAR4, PIIX_BM_BAR);
		bar = pci_read(ide_bdf, PCI_BAR4) & 0xFFFCu;
	}
	pci_write(ide_bdf, 0x04,
		  (pci_read(ide_bdf, 0x04) & 0xFFFF) | PCI_CMD_IO | PCI_CMD_BM);
	for (int i = 0; i < 2; i++) {
		idech[i].bm = (uint16_t)(bar + 8 * i);
		idech[i].prd = (uint32_t *)(prd_base + 256 * i);
		idech[i].polls = 0;
	}
	return 0;
}

int ide_wait(struct idechan *c)
{
	for (uint32_t n = 0; n < IDE_POLL_LIMIT; n++) {
		uint8_t st = inb(c->ctl);

		c->polls++;
		if (!(st & ST_BSY))
			return st;
	}
	return IDE_TIMEOUT;
}

int ide_select(struct idechan *c, int unit)
{
	outb(c->cmd + REG_DEV, (uint8_t)(0xE0 | unit << 4));
	return ide_wait(c);
}

void ide_issue(struct idechan *c, int unit, uint8_t cmd, uint64_t lba,
	       uint32_t count, int lba48)
{
	uint16_t p = c->cmd;

	if (lba48) {
		outb(p + REG_DEV, (uint8_t)(0x40 | unit << 4));
		/* First write: the "previous" (HOB) bytes. */
		outb(p + REG_NSECT, (uint8_t)(count >> 8));
		outb(p + REG_LBAL, (uint8_t)(lba >> 24));
		outb(p + REG_LBAM, (uint8_t)(lba >> 32));
		outb(p + REG_LBAH, (uint8_t)(lba >> 40));
	} else {
		outb(p + REG_DEV,
		     (uint8_t)(0xE0 | unit << 4 | ((uint32_t)lba >> 24 & 0xF)));
	}
	outb(p + REG_NSECT, (uint8_t)count);
	outb(p + REG_LBAL, (uint8_t)lba);
	outb(p + REG_LBAM, (uint8_t)(lba >> 8));
	outb(p + REG_LBAH, (uint8_t)(lba >> 16));
	outb(p + REG_CMD, cmd);
}

static void insw(uint16_t port, void *buf, uint32_t words)
{
	asm volatile("rep insw"
		     : "+D"(buf), "+c"(words)
		     : "d"(port)
		     : "memory");
}

static void outsw(uint16_t port, const void *buf, uint32_t words)
{
	asm volatile("rep outsw" : "+S"(buf), "+c"(words) : "d"(port));
}

/* BSY clear; then DRQ must be set unless the drive reports an error. */
static int wait_drq(struct idechan *c)
{
	int st = ide_wait(c);

	if (st < 0 || (st & ST_ERR))
		return st;
	return (st & ST_DRQ) ? st : IDE_NO_DRQ;
}

/* After the data phase: BSY clear, then the status register to ack. */
static int finish(struct idechan *c)
{
	int st = ide_wait(c);

	if (st < 0)
		return st;
	return inb(c->cmd + REG_STATUS);
}

int ide_pio_in(struct idechan *c, void *buf, uint32_t sectors,
	       uint32_t per_block)
{
	uint8_t *p = buf;

	while (sectors) {
		uint32_t n = sectors < per_block ? sectors : per_block;
		int st = wait_drq(c);

		if (st < 0 || (st & ST_ERR))
			return st < 0 ? st : inb(c->cmd + REG_STATUS);
		inb(c->cmd + REG_STATUS); /* acknowledge the block's INTRQ */
		insw(c->cmd + REG_DATA, p, n * 256);
		p += n * 512;
		sectors -= n;
	}
	return finish(c);
}

int ide_pio_out(struct idechan *c, const void *buf, uint32_t sectors,
		uint32_t per_block)
{
	const uint8_t *p = buf;

	while (sectors) {
		uint32_t n = sectors < per_block ? sectors : per_block;
		int st = wait_drq(c);

		if (st < 0 || (st & ST_ERR))
			return st < 0 ? st : inb(c->cmd + REG_STATUS);
		inb(c->cmd + REG_STATUS);
		outsw(c->cmd + REG_DATA, p, n * 256);
		p += n * 512;
		sectors -= n;
	}
	return finish(c);
}

void ide_prd(struct idechan *c, unsigned i, uint32_t addr, uint32_t bytes,
	     int last)
{
	c->prd[2 * i] = addr;
	c->prd[2 * i + 1] = (bytes & 0xFFFF) | (last ? PRD_EOT : 0);
}

/* Stopped, direction set, table loaded, error and interrupt cleared. */
static void bm_arm(struct idechan *c, int to_mem)
{
	outb(c->bm + BM_CMD, to_mem ? BMC_TO_MEM : 0);
	outl(c->bm + BM_PRD, (uint32_t)c->prd);
	outb(c->bm + BM_STATUS, BMS_INTR | BMS_ERROR);
}

/* Start, wait for the interrupt (or the engine giving up), stop. */
static int bm_run(struct idechan *c, int to_mem)
{
	uint8_t dir = to_mem ? BMC_TO_MEM : 0, bst = 0;
	uint32_t n;

	outb(c->bm + BM_CMD, dir | BMC_START);
	for (n = 0; n < IDE_POLL_LIMIT; n++) {
		bst = inb(c->bm + BM_STATUS);
		c->polls++;
		if (bst & (BMS_INTR | BMS_ERROR))
			break;
	}
	outb(c->bm + BM_CMD, dir);
	if (n == IDE_POLL_LIMIT)
		return IDE_TIMEOUT;
	outb(c->bm + BM_STATUS, bst & (BMS_INTR | BMS_ERROR));
	return inb(c->cmd + REG_STATUS) | bst << 8;
}

int ide_dma(struct idechan *c, int unit, uint8_t cmd, uint64_t lba,
	    uint32_t count, int lba48, int to_mem)
{
	bm_arm(c, to_mem);
	ide_issue(c, unit, cmd, lba, count, lba48);
	return bm_run(c, to_mem);
}

/* Command phase: the drive asks for the 12 packet bytes (C/D = 1). */
static int send_cdb(struct idechan *c, const uint8_t cdb[12])
{
	int st = wait_drq(c);

	if (st < 0 || (st & ST_ERR))
		return st;
	if ((inb(c->cmd + REG_NSECT) & 3) != 1)
		return IDE_NO_DRQ;
	outsw(c->cmd + REG_DATA, cdb, 6);
	return 0;
}

/* Data-in DRQ blocks until the drive shows status without DRQ. */
static int packet_pio_in(struct idechan *c, uint8_t *buf, uint32_t len,
			 uint32_t *got)
{
	for (;;) {
		int st = ide_wait(c);
		uint32_t n;

		if (st < 0 || !(st & ST_DRQ) || (st & ST_ERR))
			return st;
		n = inb(c->cmd + REG_LBAM) | inb(c->cmd + REG_LBAH) << 8;
		inb(c->cmd + REG_STATUS);
		if (!n)
			return IDE_NO_DRQ;
		if (*got + n + (n & 1) <= len) {
			insw(c->cmd + REG_DATA, buf + *got, (n + 1) / 2);
		} else {
			/* More than the caller wants: keep what fits. */
			for (uint32_t i = 0; i < n; i += 2) {
				uint16_t w = inw(c->cmd + REG_DATA);
				uint32_t at = *got + i;

				if (at + 2 <= len) {
					buf[at] = (uint8_t)w;
					buf[at + 1] = (uint8_t)(w >> 8);
				}
			}
		}
		*got += n;
	}
}

int atapi_packet(struct idechan *c, int unit, const uint8_t cdb[12], void *buf,
		 uint32_t len, uint32_t bcl, int dma, uint32_t *got)
{
	uint16_t p = c->cmd;
	int st;

	*got = 0;
	st = ide_select(c, unit);
	if (st < 0)
		return st;
	if (dma)
		bm_arm(c, 1);
	outb(p + REG_FEATURE, dma ? 1 : 0);
	outb(p + REG_LBAM, (uint8_t)bcl);
	outb(p + REG_LBAH, (uint8_t)(bcl >> 8));
	outb(p + REG_CMD, 0xA0);
	st = send_cdb(c, cdb);
	if (st)
		return st > 0 ? inb(p + REG_STATUS) : st;
	if (dma) {
		st = bm_run(c, 1);
		return st < 0 ? st : st & 0xFF;
	}
	st = packet_pio_in(c, buf, len, got);
	if (st < 0)
		return st;
	return inb(p + REG_STATUS);
}
