/*
 * Intel 82371SB PIIX3 IDE function, 00:01.1 (8086:7010), class 0x010180:
 * mass storage / IDE, prog-if 80h (both channels in legacy "compatibility"
 * mode at 0x1F0/0x3F6 IRQ 14 and 0x170/0x376 IRQ 15, bus-master capable).
 * Datasheet: Intel 82371FB (PIIX) and 82371SB (PIIX3) PCI ISA IDE
 * Xcelerator, section 2.3 (IDE configuration registers) and 2.7 (bus
 * master IDE I/O registers); SFF-8038i for the PRD format.
 *
 * - BAR4: 16 bytes of bus-master registers, primary at +0, secondary +8:
 *   command (bit 0 start/stop, bit 3 direction: 1 = write to memory),
 *   status (bit 0 active, bit 1 error and bit 2 interrupt write-1-to-clear,
 *   bits 5/6 drive 0/1 DMA capable, bit 7 simplex = 0), PRD table pointer.
 * - IDETIM 0x40 (primary) and 0x42 (secondary), SIDETIM 0x44: stored;
 *   bit 15 of IDETIM (IDE decode enable) registers or removes that
 *   channel's legacy ports. Deviation: the datasheet's reset value is 0000h
 *   (decode off) and every PC BIOS sets bit 15; we come out of reset with
 *   8000h on both channels, so firmware that never programs IDETIM still
 *   finds its disks (QEMU decodes unconditionally).
 * - The PCI command register's I/O enable gates BAR4 (pci.c) but not the
 *   legacy ports (as QEMU); bus master enable gates DMA: a transfer with it
 *   off fails like a bad PRD.
 *
 * DMA: the PRD table (dword aligned, within one 64 KiB page) holds
 * {address[31:1], count[15:1] (0 = 64 KiB), bit 31 of the second dword =
 * end of table}. Entries are mapped with gm_ptr() straight into guest RAM
 * and handed to the drive as up to BLK_MAX_IOV iovecs per block request.
 * The table is first checked against the whole transfer, so a bad one
 * fails the command before any data moves.
 * A PRD outside RAM, a table leaving RAM or its 64 KiB page, a table ending
 * before the transfer, or bus mastering off: error bit, active cleared, the
 * ATA command fails with ERR/ABRT and interrupts. A table larger than the
 * transfer: the command completes, active stays set (as on PIIX). The
 * interrupt bit follows the rising edge of the channel's IRQ line.
 * The transfer runs when start is set and the drive has a DMA command, in
 * either order; clearing start mid-transfer aborts the command. The
 * direction bit is not checked against the command (the drive's wins).
 */
#ifndef MINIVMM_PIIX_IDE_H
#define MINIVMM_PIIX_IDE_H

#include <stdbool.h>
#include <stdint.h>

#include "hw/ide.h"
#include "hw/pci.h"

#define PIIX_IDE_DEVFN_DEV 1
#define PIIX_IDE_DEVFN_FN  1
#define PIIX_IDE_IDETIM	   0x40 /* primary; secondary at 0x42 */
#define PIIX_IDE_SIDETIM   0x44
#define PIIX_IDE_DECODE	   0x8000

#define BM_CMD_START   0x01
#define BM_CMD_WRITE   0x08 /* device to memory */
#define BM_ST_ACTIVE   0x01
#define BM_ST_ERROR    0x02
#define BM_ST_INTR     0x04
#define BM_ST_DRV0_DMA 0x20
#define BM_ST_DRV1_DMA 0x40

struct piix_bm {
	uint8_t cmd, status;
	uint32_t prd; /* descriptor table pointer register */
	/* PRD walk: current entry, bytes of it used, end of table reached */
	uint32_t entry, used;
	bool eot;
	bool checked; /* table validated against the current transfer */
};

struct piix_ide {
	struct pci_func *f;
	struct ide_ctrl *ide;
	struct piix_bm bm[2];
};

/*
 * Creates 00:01.1 on pb for ide, attaches ide's legacy ports on io
 * (ide_attach: the caller must not) and becomes its bus-master engine;
 * then resets. 0 or -1.
 */
int piix_ide_init(struct piix_ide *s, struct pci_bus *pb, struct ide_ctrl *ide,
		  struct bus *io);
/* Registers 0x40+ and the bus-master registers to their reset values,
 * legacy decode per IDETIM, then ide_reset(). pci_bus_reset() does the
 * header. */
void piix_ide_reset(struct piix_ide *s);

#endif
