/*
 * IDE (ATA) controller with two channels of two drives each: ATA hard disks
 * on a struct blk and ATAPI CD-ROMs on a struct atapi. Reference: ATA/ATAPI-6
 * (T13 1410D), chapters 6-9 (register file, command descriptions, protocols).
 *
 * Channel 0 is the primary (0x1F0-0x1F7, device control/alternate status at
 * 0x3F6, ISA IRQ 14), channel 1 the secondary (0x170-0x177, 0x376, IRQ 15).
 * ide_attach() registers these legacy ports; a PCI front end (hw/piix_ide.c)
 * may later switch a channel's decode off and on with ide_channel_decode()
 * and provides the bus-master DMA engine through struct ide_bm_ops.
 *
 * The interrupt line follows INTRQ = pending && !nIEN with irq_set(); the
 * 8259 in edge mode latches the rising edge, as ISA IRQ 14/15 are on a PC.
 *
 * hw/ide.c holds the channel, register file, PIO/DMA plumbing and the
 * ATAPI PACKET protocol; hw/ide_ata.c the ATA disk command set.
 */
#ifndef MINIVMM_IDE_H
#define MINIVMM_IDE_H

#include <stdbool.h>
#include <stdint.h>

#include "hw/atapi.h"
#include "hw/block.h"
#include "hw/hw.h"

#define IDE_IRQ_PRIMARY	  14
#define IDE_IRQ_SECONDARY 15

/* Status register */
#define IDE_ST_ERR  0x01
#define IDE_ST_DRQ  0x08
#define IDE_ST_DSC  0x10
#define IDE_ST_DF   0x20
#define IDE_ST_DRDY 0x40
#define IDE_ST_BSY  0x80
/* Error register */
#define IDE_ER_AMNF 0x01 /* also "device 0 passed" after diagnostics */
#define IDE_ER_ABRT 0x04
#define IDE_ER_IDNF 0x10
#define IDE_ER_UNC  0x40
/* Device control register */
#define IDE_DC_NIEN 0x02
#define IDE_DC_SRST 0x04
#define IDE_DC_HOB  0x80
/* Device register */
#define IDE_DEV_LBA 0x40
#define IDE_DEV_DEV 0x10
/* ATAPI interrupt reason (sector count register) */
#define IDE_IR_COD 0x01
#define IDE_IR_IO  0x02

#define IDE_SECTOR	512
#define IDE_MAX_MULT	16
#define IDE_BUF_SIZE	(64 * 1024)
#define IDE_ATAPI_CHUNK 16 /* 2048-byte blocks buffered per PIO read */
#define IDE_SET_SECTORS (IDE_BUF_SIZE / IDE_SECTOR)

enum ide_kind { IDE_NONE, IDE_DISK, IDE_CDROM };

/* The command-block registers as one drive holds them (with the HOB copy
 * that a second write of an LBA48 register pushes back). */
struct ide_regs {
	uint8_t feature, nsector, lbal, lbam, lbah;
	uint8_t hob_feature, hob_nsector, hob_lbal, hob_lbam, hob_lbah;
	uint8_t select;
	uint8_t status, error;
};

struct ide_drive {
	enum ide_kind kind;
	int unit;
	struct ide_regs r;
	struct blk *blk; /* disk image */
	struct atapi *atapi;
	uint64_t sectors; /* disk capacity */
	/* Default (IDENTIFY words 1/3/6) and current logical CHS geometry. */
	uint16_t cyls, heads, spt;
	uint16_t lcyls, lheads, lspt;
	uint8_t mult; /* sectors per READ/WRITE MULTIPLE block; 0: disabled */
	uint8_t xfer_mode;  /* SET FEATURES 03h value; 0: PIO default */
	bool wcache;	    /* write cache enabled (SET FEATURES 02h/82h) */
	bool keep_settings; /* SET FEATURES 66h: SRST keeps the above */
	char serial[21];
};

struct ide_ctrl;
struct ide_channel;

enum ide_xfer { XFER_NONE, XFER_PIO_IN, XFER_PIO_OUT, XFER_DMA };
enum ide_dma_end { IDE_DMA_OK, IDE_DMA_DEV_ERR, IDE_DMA_BM_ERR };

/*
 * The bus-master engine behind a controller (hw/piix_ide.c). All calls are
 * made on the device-model thread.
 */
struct ide_bm_ops {
	/* A drive on ch asserted DMARQ (a DMA command is waiting). If the
	 * engine is started it calls ide_dma_run(). */
	void (*dmarq)(void *opaque, int ch);
	/* Map up to len bytes of the next PRD entries into at most
	 * BLK_MAX_IOV host buffers. Returns the bytes mapped (fewer than len
	 * only when iov is full), or -1: bus mastering off, a PRD outside RAM,
	 * a table running off RAM or its 64 KiB page, or a table ending (EOT)
	 * before len bytes. */
	int64_t (*map)(void *opaque, int ch, bool to_mem, uint64_t len,
		       struct iovec *iov, int *niov);
	/* The drive's DMA transfer ended. */
	void (*end)(void *opaque, int ch, enum ide_dma_end how);
	/* The channel's interrupt line went high. */
	void (*irq)(void *opaque, int ch);
};

struct ide_channel {
	struct ide_ctrl *ctrl;
	int idx;
	struct ide_drive drive[2];
	int cur; /* selected unit (DEV bit) */
	uint8_t devctl;
	bool pending; /* INTRQ requested by the selected drive */
	bool line;    /* level driven on the irq_chip */
	bool decode;  /* legacy ports registered */
	uint16_t cmd_base, ctl_base;
	int irq;

	/* Command in progress. */
	struct ide_drive *act;
	uint8_t cmd;
	bool lba48, use_lba, is_write;
	uint64_t lba;	/* next sector (or ATAPI block) */
	uint32_t left;	/* sectors (ATAPI: blocks) still to transfer */
	uint32_t blksz; /* sectors per DRQ block (ATA) */
	uint32_t chunk; /* sectors or blocks in the buffer / last request */
	uint32_t bcl;	/* ATAPI byte count limit (even) */
	uint32_t dlen;	/* ATAPI buffered response bytes left */
	bool atapi_dma;
	/* An ATAPI read of act's medium is in progress; that medium was
	 * changed meanwhile (the drive holds no pointer to it any more). */
	bool medium_read, medium_lost;

	/* PIO data window buf[pos, end). */
	enum ide_xfer xfer;
	uint8_t *buf;
	uint32_t pos, end, fill;
	void (*block_done)(struct ide_channel *ch);

	/* DMA: bytes left, image offset, source (NULL: from buf). dma_blk
	 * is only valid while the transfer is; a medium change clears it. */
	bool dma_pending, dma_running;
	bool dma_to_mem;
	uint64_t dma_left, dma_off;
	struct blk *dma_blk;

	/* The one block request of this channel. */
	struct blk_req req;
	struct blk *req_blk; /* while req_busy */
	bool req_busy, req_cancel;
	void (*req_cb)(struct ide_channel *ch, int err);
	uint64_t req_bytes;
};

struct ide_ctrl {
	struct vclock *clk;
	const struct irq_chip *irq;
	struct guest_mem *gm;
	struct bus *io;
	struct ide_channel ch[2];
	const struct ide_bm_ops *bm;
	void *bm_opaque;
	uint64_t submitted, completed; /* block requests, for tests */
};

struct ide_ctrl *ide_new(struct vclock *clk, const struct irq_chip *irq,
			 struct guest_mem *gm);
/* Drains outstanding requests, unregisters the ports and frees. */
void ide_free(struct ide_ctrl *c);
/* An ATA disk on disk (its size rounded down to whole sectors) or an
 * ATAPI CD-ROM driving a. Channel 0-1, unit 0 (master) or 1 (slave);
 * 0, or -1 if taken or out of range. Attach before ide_reset(). */
int ide_attach_disk(struct ide_ctrl *c, int ch, int unit, struct blk *disk);
int ide_attach_cdrom(struct ide_ctrl *c, int ch, int unit, struct atapi *a);
/* Registers the legacy ports of both channels on io; 0 or -1. */
int ide_attach(struct ide_ctrl *c, struct bus *io);
/* Registers (on) or removes (off) one channel's legacy ports; 0 or -1. */
int ide_channel_decode(struct ide_ctrl *c, int ch, bool on);
/* Hardware reset (power-on defaults): outstanding requests are drained. */
void ide_reset(struct ide_ctrl *c);
void ide_set_bm(struct ide_ctrl *c, const struct ide_bm_ops *ops, void *opaque);
/* The bus-master engine was started: move a waiting DMA transfer. */
void ide_dma_run(struct ide_ctrl *c, int ch);
/* The engine was stopped: a transfer in progress is aborted (the command
 * ends with ERR/ABRT and no interrupt). */
void ide_dma_cancel(struct ide_ctrl *c, int ch);

/* ---- shared by hw/ide.c and hw/ide_ata.c only ---- */
void ide_cmd_ok(struct ide_channel *ch, bool irq);
void ide_cmd_abort(struct ide_channel *ch);
void ide_cmd_error(struct ide_channel *ch, uint8_t error);
void ide_raise(struct ide_channel *ch);
void ide_set_signature(struct ide_drive *d);
void ide_submit(struct ide_channel *ch, struct blk *b, enum blk_op op,
		uint64_t off, uint64_t len,
		void (*cb)(struct ide_channel *ch, int err));
void ide_pio_start(struct ide_channel *ch, enum ide_xfer dir, uint32_t len,
		   void (*block_done)(struct ide_channel *ch));
void ide_dma_start(struct ide_channel *ch, struct blk *b, bool to_mem,
		   uint64_t off, uint64_t len);
void ide_finish_write(struct ide_channel *ch);
/* ATA command on a disk drive (hw/ide_ata.c). */
void ide_ata_fail_at(struct ide_channel *ch, uint64_t lba, uint8_t error);
void ide_ata_command(struct ide_channel *ch, struct ide_drive *d, uint8_t cmd);
void ide_ata_identify(const struct ide_drive *d, uint16_t *id);
void ide_ata_set_defaults(struct ide_drive *d);
void ide_ata_init_geometry(struct ide_drive *d);
void ide_put_string(uint16_t *words, const char *s, int nwords);

#endif
