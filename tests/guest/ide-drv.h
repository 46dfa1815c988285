/*
 * A small polling IDE driver for the 32-bit guest programs (ide.c,
 * bench-ide.c): finds the PIIX3 IDE function through PCI configuration
 * mechanism #1, gives it a bus-master BAR if firmware did not, and runs
 * ATA PIO/DMA commands and ATAPI packets on the legacy channels
 * (0x1F0/0x3F6 and 0x170/0x376). Completion is found by polling the
 * alternate status (PIO) or the bus-master status (DMA); the interrupt
 * lines are left to the 8259, where a test can look at IRR.
 * Every wait is bounded: a drive that never answers gives IDE_TIMEOUT.
 * References: ATA/ATAPI-6 (T13 1410D) sections 7-9, SFF-8038i.
 */
#ifndef GUEST_IDE_DRV_H
#define GUEST_IDE_DRV_H

#include <stdint.h>

/* Command block registers (offsets from the channel's command base). */
#define REG_DATA    0
#define REG_ERROR   1 /* read */
#define REG_FEATURE 1 /* write */
#define REG_NSECT   2 /* ATAPI: interrupt reason */
#define REG_LBAL    3
#define REG_LBAM    4 /* ATAPI: byte count low */
#define REG_LBAH    5 /* ATAPI: byte count high */
#define REG_DEV	    6
#define REG_STATUS  7 /* read */
#define REG_CMD	    7 /* write */

#define ST_ERR	0x01
#define ST_DRQ	0x08
#define ST_DF	0x20
#define ST_DRDY 0x40
#define ST_BSY	0x80

#define ER_ABRT 0x04
#define ER_IDNF 0x10

#define DC_NIEN 0x02
#define DC_SRST 0x04

/* Bus-master registers (offsets from the channel's part of BAR4). */
#define BM_CMD	    0
#define BM_STATUS   2
#define BM_PRD	    4
#define BMC_START   0x01
#define BMC_TO_MEM  0x08
#define BMS_ACTIVE  0x01
#define BMS_ERROR   0x02
#define BMS_INTR    0x04
#define PRD_EOT	    0x80000000u
#define PIIX_BM_BAR 0xC000 /* given to BAR4 when it is unassigned */

/* Results below 0: no answer, or a data phase the drive did not offer. */
#define IDE_TIMEOUT (-1)
#define IDE_NO_DRQ  (-2)

#define IDE_POLL_LIMIT 2000000u

struct idechan {
	uint16_t cmd, ctl, bm;
	uint32_t *prd;	/* this channel's PRD table, 8-byte entries */
	uint32_t polls; /* status reads spent waiting, for the benchmark */
};

extern struct idechan idech[2];
extern uint32_t ide_bdf; /* CF8 address of the IDE function, reg 0 */

uint32_t pci_read(uint32_t bdf, unsigned reg);
void pci_write(uint32_t bdf, unsigned reg, uint32_t v);
/*
 * Finds 8086:7010, assigns BAR4 (PIIX_BM_BAR) if it reads 0, enables I/O
 * decode and bus mastering, puts the PRD tables at prd_base (two tables of
 * 256 bytes, must not cross 64 KiB). 0, or -1 when there is no such
 * function.
 */
int idedrv_init(uint32_t prd_base);

/* Poll alternate status until BSY clears; the status, or IDE_TIMEOUT. */
int ide_wait(struct idechan *c);
/* Writes the device register (LBA mode) and waits for BSY clear. */
int ide_select(struct idechan *c, int unit);
/* Loads the address registers (LBA48 with the HOB bytes first, or LBA28)
 * and writes the command. count 0 means 256 (65536 for LBA48). */
void ide_issue(struct idechan *c, int unit, uint8_t cmd, uint64_t lba,
	       uint32_t count, int lba48);
/*
 * PIO data-in or data-out of sectors sectors, per_block sectors per DRQ
 * block (1, or the READ/WRITE MULTIPLE block size), after ide_issue().
 * Returns the final status (read from the status register, which clears
 * the interrupt), or IDE_TIMEOUT/IDE_NO_DRQ, or the status with ERR at
 * the block where the drive failed.
 */
int ide_pio_in(struct idechan *c, void *buf, uint32_t sectors,
	       uint32_t per_block);
int ide_pio_out(struct idechan *c, const void *buf, uint32_t sectors,
		uint32_t per_block);
/* Fills PRD entry i of c's table; last sets end-of-table. */
void ide_prd(struct idechan *c, unsigned i, uint32_t addr, uint32_t bytes,
	     int last);
/*
 * A DMA command through c's PRD table: arms the engine, ide_issue(),
 * starts it, polls the bus-master status for the interrupt, stops it.
 * Returns status | bus-master status << 8, or IDE_TIMEOUT.
 */
int ide_dma(struct idechan *c, int unit, uint8_t cmd, uint64_t lba,
	    uint32_t count, int lba48, int to_mem);
/*
 * One ATAPI packet command. PIO (dma 0): the data phase's DRQ blocks of
 * at most bcl bytes are read into buf (bytes beyond len are drained and
 * dropped); *got is the byte count the drive sent. DMA: the data lands
 * where c's PRD table points, *got is 0. Returns the final status (ERR
 * set: CHECK CONDITION, sense key in the error register's high nibble),
 * or below 0.
 */
int atapi_packet(struct idechan *c, int unit, const uint8_t cdb[12], void *buf,
		 uint32_t len, uint32_t bcl, int dma, uint32_t *got);

#endif
