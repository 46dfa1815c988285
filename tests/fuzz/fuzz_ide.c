/*
 * libFuzzer harness for the IDE controller: ATA disks and an ATAPI CD-ROM
 * behind the PIIX3 IDE function (00:01.1) with bus-master DMA, PRD tables
 * and data buffers in guest RAM, in-memory backends whose requests
 * complete only on BACKEND actions. The bus-master registers start at
 * 0xC000 (BAR 4) with I/O decode and bus mastering on; CFG_WR may move or
 * switch them off, and IDETIM writes switch the legacy ports.
 * Encoding: tests/fuzz/fuzz_common.h.
 *
 * Config byte: bit 0 a slave disk on the primary channel, bit 1 a CD-ROM
 * as secondary master, bit 2 the primary disk is 8 GiB (LBA48, the first
 * 256 KiB stored) instead of 256 KiB, bit 3 the CD starts empty, bit 4
 * the disks are read-only.
 * BACKEND: fz_blk_action(a) on each of the disk, slave and CD backends.
 * AUX a & 3: 0 medium change (u8: bit 0 insert/remove, bit 1 force),
 * 1 piix_ide_reset, 2 PCI RST# then piix_ide_reset, 3 nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hw/atapi.h"
#include "hw/ide.h"
#include "hw/piix_ide.h"
#include "tests/fuzz/fuzz_common.h"

#define BM_BASE	  0xc000
#define IDE_DEVFN (PIIX_IDE_DEVFN_DEV << 3 | PIIX_IDE_DEVFN_FN)

struct idefz {
	struct ide_ctrl *ide;
	struct piix_ide piix;
	struct atapi *atapi;
	struct fz_blk disk, slave, cd;
};

static void backend(struct fz *f, unsigned a)
{
	struct idefz *s = f->dev;
	fz_blk_action(&s->disk, a);
	fz_blk_action(&s->slave, a);
	fz_blk_action(&s->cd, a);
}

static void aux(struct fz *f, unsigned a)
{
	struct idefz *s = f->dev;
	switch (a & 3) {
	case 0: {
		uint8_t v = fz_u8(f);
		if (s->atapi)
			atapi_set_medium(s->atapi, v & 1 ? &s->cd.b : NULL,
					 v & 2);
		break;
	}
	case 1:
		piix_ide_reset(&s->piix);
		break;
	case 2:
		pci_bus_reset(f->pb);
		piix_ide_reset(&s->piix);
		break;
	default:
		break;
	}
}

/* The PIO window inside the buffer, a selected unit that exists, the
 * IRQ line following INTRQ = pending && !nIEN (ide.h). */
static void check(struct fz *f)
{
	struct idefz *s = f->dev;
	for (int i = 0; i < 2; i++) {
		struct ide_channel *ch = &s->ide->ch[i];
		if (ch->cur != 0 && ch->cur != 1)
			fz_fail("ch%d cur %d", i, ch->cur);
		if (ch->act && ch->act != &ch->drive[0] &&
		    ch->act != &ch->drive[1])
			fz_fail("ch%d act not a drive", i);
		if (ch->xfer == XFER_PIO_IN || ch->xfer == XFER_PIO_OUT) {
			if (ch->pos > ch->end || ch->end > IDE_BUF_SIZE)
				fz_fail("ch%d PIO window [%u, %u)", i, ch->pos,
					ch->end);
			if (!ch->act)
				fz_fail("ch%d PIO without a drive", i);
		}
		bool want = ch->pending && !(ch->devctl & IDE_DC_NIEN);
		if (ch->line != want || f->pic[ch->irq] != ch->line)
			fz_fail("ch%d INTRQ: line %d pending %d nIEN %d pic %d",
				i, ch->line, ch->pending,
				!!(ch->devctl & IDE_DC_NIEN), f->pic[ch->irq]);
	}
}

static const struct fz_ops ops = {
    .backend = backend, .aux = aux, .check = check};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct idefz s;
	struct fz f;
	fz_init(&f, data, size, true);
	memset(&s, 0, sizeof(s));
	bool ro = f.config & 16;
	static uint8_t disk[256 << 10], slave[64 << 10];
	static uint8_t cd[100 * ATAPI_BLOCK_SIZE];
	fz_blk_init(&s.disk, f.config & 4 ? 8ull << 30 : sizeof(disk), disk,
		    sizeof(disk), ro);
	fz_blk_init(&s.slave, sizeof(slave), slave, sizeof(slave), ro);
	fz_blk_init(&s.cd, sizeof(cd), cd, sizeof(cd), true);
	s.ide = ide_new(f.clk, &f.irq, &f.gm);
	if (!s.ide || ide_attach_disk(s.ide, 0, 0, &s.disk.b))
		abort();
	if ((f.config & 1) && ide_attach_disk(s.ide, 0, 1, &s.slave.b))
		abort();
	if (f.config & 2) {
		s.atapi = atapi_new();
		if (!s.atapi ||
		    atapi_set_medium(s.atapi, f.config & 8 ? NULL : &s.cd.b,
				     false) ||
		    ide_attach_cdrom(s.ide, 1, 0, s.atapi))
			abort();
	}
	if (piix_ide_init(&s.piix, f.pb, s.ide, &f.io))
		abort();
	fz_setup_bar(&f, IDE_DEVFN, 4, BM_BASE, PCI_CMD_IO | PCI_CMD_MASTER);

	fz_run(&f, &ops, &s);

	if (getenv("FZ_DEBUG"))
		fprintf(stderr,
			"ide: submitted %llu completed %llu st0 %#x st1 %#x "
			"bm %#x %#x\n",
			(unsigned long long)s.ide->submitted,
			(unsigned long long)s.ide->completed,
			s.ide->ch[0].drive[s.ide->ch[0].cur].r.status,
			s.ide->ch[1].drive[s.ide->ch[1].cur].r.status,
			s.piix.bm[0].status, s.piix.bm[1].status);
	ide_free(s.ide);
	if (s.atapi)
		atapi_free(s.atapi);
	fz_blk_fini(&s.disk);
	fz_blk_fini(&s.slave);
	fz_blk_fini(&s.cd);
	fz_fini(&f);
	return 0;
}
