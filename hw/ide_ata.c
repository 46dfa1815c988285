/*
 * The ATA command set of an IDE hard disk (ATA/ATAPI-6, chapter 8):
 * IDENTIFY DEVICE, PIO/multiple/DMA reads and writes in LBA28, LBA48 and
 * CHS addressing, READ VERIFY, FLUSH CACHE, SET FEATURES, SET MULTIPLE MODE,
 * INITIALIZE DEVICE PARAMETERS, power management, READ NATIVE MAX ADDRESS.
 * The transport (PIO windows, DMA, interrupts) is hw/ide.c.
 *
 * Errors: an address or count past the end is IDNF; a backend read error
 * UNC, a backend write or flush error ABRT; write commands to a read-only
 * image are aborted (ABRT) before any data moves. A failed read or write
 * leaves the first sector it did not move in the address registers (the
 * sectors before it were transferred: libata/sd complete those), in the
 * command's addressing mode. A PIO read hands out the sectors a short
 * backend read did get before it fails at the next one.
 */
#include "hw/ide.h"

#include <string.h>

#define DEF_HEADS 16
#define DEF_SPT	  63
#define MAX_CYLS  16383

void ide_put_string(uint16_t *words, const char *s, int nwords)
{
	/* ATA strings: two characters a word, the first in the high byte,
	 * padded with spaces. */
	size_t len = strlen(s);
	for (int i = 0; i < nwords * 2; i++) {
		uint8_t c = (size_t)i < len ? (uint8_t)s[i] : ' ';
		if (i & 1)
			words[i / 2] |= c;
		else
			words[i / 2] = c << 8;
	}
}

static uint16_t cap16(uint64_t v, uint16_t max)
{
	return v > max ? max : v;
}

static void update_lcyls(struct ide_drive *d)
{
	uint64_t per_cyl = (uint64_t)d->lheads * d->lspt;
	d->lcyls = cap16(d->sectors / per_cyl, 65535);
	if (d->lheads == DEF_HEADS && d->lspt == DEF_SPT && d->lcyls > MAX_CYLS)
		d->lcyls = MAX_CYLS;
}

void ide_ata_init_geometry(struct ide_drive *d)
{
	d->sectors = d->blk->size / IDE_SECTOR;
	d->heads = DEF_HEADS;
	d->spt = DEF_SPT;
	d->cyls = cap16(d->sectors / (DEF_HEADS * DEF_SPT), MAX_CYLS);
	if (!d->cyls)
		d->cyls = 1;
}

void ide_ata_set_defaults(struct ide_drive *d)
{
	d->lheads = d->heads;
	d->lspt = d->spt;
	update_lcyls(d);
	d->mult = IDE_MAX_MULT;
	d->xfer_mode = 0;
	d->wcache = true;
	d->keep_settings = false;
}

static void put32(uint16_t *w, uint32_t v)
{
	w[0] = v & 0xffff;
	w[1] = v >> 16;
}

void ide_ata_identify(const struct ide_drive *d, uint16_t *id)
{
	memset(id, 0, 512);
	id[0] = 0x0040; /* fixed device */
	id[1] = d->cyls;
	id[3] = d->heads;
	id[6] = d->spt;
	ide_put_string(&id[10], d->serial, 10);
	ide_put_string(&id[23], "1.0", 4);
	ide_put_string(&id[27], "MINIVMM HARDDISK", 20);
	id[47] = 0x8000 | IDE_MAX_MULT;
	id[49] = 1 << 11 | 1 << 9 | 1 << 8; /* IORDY, LBA, DMA */
	id[50] = 0x4000;
	id[51] = id[52] = 0x0200;
	id[53] = 0x0007; /* words 54-58, 64-70, 88 valid */
	id[54] = d->lcyls;
	id[55] = d->lheads;
	id[56] = d->lspt;
	put32(&id[57], (uint32_t)d->lcyls * d->lheads * d->lspt);
	id[59] = d->mult ? 0x0100 | d->mult : 0;
	put32(&id[60], d->sectors > 0x0fffffff ? 0x0fffffff : d->sectors);
	id[63] = 0x0007; /* multiword DMA 0-2 */
	if ((d->xfer_mode & 0xf8) == 0x20)
		id[63] |= 1 << (8 + (d->xfer_mode & 7));
	id[64] = 0x0003; /* PIO 3 and 4 */
	id[65] = id[66] = id[67] = id[68] = 120;
	id[80] = 0x007e;		    /* ATA-1 to ATA-6 */
	id[82] = 1 << 14 | 1 << 5 | 1 << 3; /* NOP, write cache, power mgmt */
	id[83] = 1 << 14 | 1 << 13 | 1 << 12 | 1 << 10; /* FLUSH (EXT), LBA48 */
	id[84] = 0x4000;
	id[85] = 1 << 14 | (d->wcache ? 1 << 5 : 0) | 1 << 3;
	id[86] = 1 << 13 | 1 << 12 | 1 << 10;
	id[87] = 0x4000;
	id[88] = 0x003f; /* UDMA 0-5 */
	if ((d->xfer_mode & 0xf8) == 0x40)
		id[88] |= 1 << (8 + (d->xfer_mode & 7));
	/* Hardware reset result: 80-conductor cable, device 0 by jumper,
	 * diagnostics passed; device 1 by jumper. */
	id[93] = d->unit ? 0x6300 : 0x600b;
	for (int i = 0; i < 4; i++)
		id[100 + i] = d->sectors >> (16 * i);
	uint8_t sum = 0xa5;
	for (int i = 0; i < 255; i++)
		sum += (id[i] & 0xff) + (id[i] >> 8);
	id[255] = (uint16_t)(uint8_t)-sum << 8 | 0xa5;
}

/* ---- addressing ---- */

/* Start sector and count of the command from the registers; false (and
 * IDNF reported) when they leave the disk. */
static bool get_range(struct ide_channel *ch, struct ide_drive *d, bool lba48,
		      uint64_t *lba, uint32_t *count)
{
	const struct ide_regs *r = &d->r;
	uint64_t start;

	if (lba48) {
		start = (uint64_t)r->lbal | (uint64_t)r->lbam << 8 |
			(uint64_t)r->lbah << 16 | (uint64_t)r->hob_lbal << 24 |
			(uint64_t)r->hob_lbam << 32 |
			(uint64_t)r->hob_lbah << 40;
		*count = r->nsector | r->hob_nsector << 8;
		if (!*count)
			*count = 65536;
	} else {
		*count = r->nsector ? r->nsector : 256;
		if (r->select & IDE_DEV_LBA) {
			start = r->lbal | r->lbam << 8 | r->lbah << 16 |
				(uint32_t)(r->select & 0xf) << 24;
		} else {
			uint32_t cyl = r->lbam | r->lbah << 8;
			uint32_t head = r->select & 0xf, sect = r->lbal;
			if (!sect || sect > d->lspt || head >= d->lheads) {
				ide_cmd_error(ch, IDE_ER_IDNF);
				return false;
			}
			start = ((uint64_t)cyl * d->lheads + head) * d->lspt +
				sect - 1;
		}
	}
	if (start >= d->sectors || *count > d->sectors - start) {
		ide_cmd_error(ch, IDE_ER_IDNF);
		return false;
	}
	*lba = start;
	ch->lba48 = lba48;
	ch->use_lba = lba48 || (r->select & IDE_DEV_LBA);
	return true;
}

/* Puts sector lba into the address registers in the command's mode
 * (where the error happened, or READ NATIVE MAX ADDRESS). */
static void set_address(struct ide_channel *ch, struct ide_drive *d,
			uint64_t lba)
{
	struct ide_regs *r = &d->r;
	if (!ch->use_lba) {
		uint32_t per_cyl = d->lheads * d->lspt;
		uint32_t cyl = lba / per_cyl, rem = lba % per_cyl;
		r->lbam = cyl & 0xff;
		r->lbah = cyl >> 8;
		r->select = (r->select & 0xf0) | (rem / d->lspt);
		r->lbal = rem % d->lspt + 1;
		return;
	}
	r->lbal = lba;
	r->lbam = lba >> 8;
	r->lbah = lba >> 16;
	if (ch->lba48) {
		r->hob_lbal = lba >> 24;
		r->hob_lbam = lba >> 32;
		r->hob_lbah = lba >> 40;
	} else {
		r->select = (r->select & 0xf0) | ((lba >> 24) & 0xf);
	}
}

void ide_ata_fail_at(struct ide_channel *ch, uint64_t lba, uint8_t error)
{
	set_address(ch, ch->act, lba);
	ide_cmd_error(ch, error);
}

/* The backend request of ch->chunk sectors at ch->lba failed after moving
 * req.moved bytes: the whole sectors among them. */
static uint32_t moved_sectors(const struct ide_channel *ch)
{
	uint64_t n = ch->req.moved / IDE_SECTOR;
	return n < ch->chunk ? (uint32_t)n : ch->chunk;
}

/* ---- PIO data-in: read ahead into the buffer, hand out DRQ blocks ---- */

static void read_fill(struct ide_channel *ch);

static void read_next_block(struct ide_channel *ch);

static void read_block_done(struct ide_channel *ch)
{
	uint32_t n = ch->chunk < ch->blksz ? ch->chunk : ch->blksz;
	/* n sectors of the buffer went out; chunk counts what is left. */
	ch->lba += n;
	ch->left -= n;
	ch->chunk -= n;
	if (!ch->left)
		ide_cmd_ok(ch, false); /* no interrupt after the last block */
	else if (ch->chunk)
		read_next_block(ch);
	else
		read_fill(ch);
}

static void read_next_block(struct ide_channel *ch)
{
	uint32_t n = ch->chunk < ch->blksz ? ch->chunk : ch->blksz;
	ide_pio_start(ch, XFER_PIO_IN, n * IDE_SECTOR, read_block_done);
	ide_raise(ch);
}

static void read_filled(struct ide_channel *ch, int err)
{
	if (err < 0 && !moved_sectors(ch)) {
		ide_ata_fail_at(ch, ch->lba, IDE_ER_UNC);
		return;
	}
	if (err < 0)
		ch->chunk = moved_sectors(ch); /* the next fill fails */
	ch->pos = 0;
	read_next_block(ch);
}

static void read_fill(struct ide_channel *ch)
{
	ch->chunk = ch->left < IDE_SET_SECTORS ? ch->left : IDE_SET_SECTORS;
	ch->act->r.status = IDE_ST_BSY;
	ide_submit(ch, ch->act->blk, BLK_READ, ch->lba * IDE_SECTOR,
		   (uint64_t)ch->chunk * IDE_SECTOR, read_filled);
}

/* ---- PIO data-out: each DRQ block is written when the host filled it */

static void write_done(struct ide_channel *ch, int err);

static void write_block_done(struct ide_channel *ch)
{
	ch->act->r.status = IDE_ST_BSY;
	ide_submit(ch, ch->act->blk, BLK_WRITE, ch->lba * IDE_SECTOR,
		   (uint64_t)ch->chunk * IDE_SECTOR, write_done);
}

static void write_next_block(struct ide_channel *ch)
{
	ch->chunk = ch->left < ch->blksz ? ch->left : ch->blksz;
	ch->pos = 0;
	ide_pio_start(ch, XFER_PIO_OUT, ch->chunk * IDE_SECTOR,
		      write_block_done);
}

static void write_done(struct ide_channel *ch, int err)
{
	if (err < 0) {
		ide_ata_fail_at(ch, ch->lba + moved_sectors(ch), IDE_ER_ABRT);
		return;
	}
	ch->lba += ch->chunk;
	ch->left -= ch->chunk;
	if (!ch->left) {
		ide_finish_write(ch);
		return;
	}
	write_next_block(ch);
	ide_raise(ch);
}

/* ---- read/write commands ---- */

enum rw_mode { RW_PIO, RW_MULTIPLE, RW_DMA };

static void rw_command(struct ide_channel *ch, struct ide_drive *d, bool write,
		       bool lba48, enum rw_mode mode)
{
	uint64_t lba;
	uint32_t count;

	if ((mode == RW_MULTIPLE && !d->mult) || (write && d->blk->readonly)) {
		ide_cmd_abort(ch);
		return;
	}
	if (!get_range(ch, d, lba48, &lba, &count))
		return;
	ch->is_write = write;
	ch->lba = lba;
	ch->left = count;
	ch->blksz = mode == RW_MULTIPLE ? d->mult : 1;
	if (mode == RW_DMA) {
		ide_dma_start(ch, d->blk, !write, lba * IDE_SECTOR,
			      (uint64_t)count * IDE_SECTOR);
	} else if (write) {
		write_next_block(ch); /* no interrupt for the first block */
	} else {
		read_fill(ch);
	}
}

static void verify(struct ide_channel *ch, struct ide_drive *d, bool lba48)
{
	uint64_t lba;
	uint32_t count;
	if (get_range(ch, d, lba48, &lba, &count))
		ide_cmd_ok(ch, true);
}

static void flush_done(struct ide_channel *ch, int err)
{
	if (err < 0)
		ide_cmd_abort(ch);
	else
		ide_cmd_ok(ch, true);
}

static void flush(struct ide_channel *ch, struct ide_drive *d)
{
	d->r.status = IDE_ST_BSY;
	ide_submit(ch, d->blk, BLK_FLUSH, 0, 0, flush_done);
}

static void identify(struct ide_channel *ch, struct ide_drive *d)
{
	uint16_t id[256];
	ide_ata_identify(d, id);
	for (int i = 0; i < 256; i++) {
		ch->buf[2 * i] = id[i] & 0xff;
		ch->buf[2 * i + 1] = id[i] >> 8;
	}
	ch->pos = 0;
	ch->left = 1;
	ch->chunk = 1;
	ch->blksz = 1;
	ide_pio_start(ch, XFER_PIO_IN, IDE_SECTOR, read_block_done);
	ide_raise(ch);
}

static bool set_features(struct ide_drive *d)
{
	uint8_t m = d->r.nsector;
	switch (d->r.feature) {
	case 0x03: /* set transfer mode */
		if (!(m <= 1 || (m >= 0x08 && m <= 0x0c) ||
		      (m >= 0x20 && m <= 0x22) || (m >= 0x40 && m <= 0x45)))
			return false;
		d->xfer_mode = m;
		return true;
	case 0x02:
		d->wcache = true;
		return true;
	case 0x82:
		d->wcache = false;
		return true;
	case 0x66: /* keep settings over a software reset */
		d->keep_settings = true;
		return true;
	case 0xcc:
		d->keep_settings = false;
		return true;
	case 0x55: /* read look-ahead off/on */
	case 0xaa:
		return true;
	default:
		return false;
	}
}

static bool init_params(struct ide_drive *d)
{
	if (!d->r.nsector)
		return false;
	d->lheads = (d->r.select & 0xf) + 1;
	d->lspt = d->r.nsector;
	update_lcyls(d);
	return true;
}

static void native_max(struct ide_channel *ch, struct ide_drive *d, bool lba48)
{
	uint64_t max = d->sectors - 1;
	if (!lba48 && max > 0x0fffffff)
		max = 0x0fffffff;
	ch->lba48 = lba48;
	ch->use_lba = true;
	set_address(ch, d, max);
	ide_cmd_ok(ch, true);
}

static void ok_if(struct ide_channel *ch, bool ok)
{
	if (ok)
		ide_cmd_ok(ch, true);
	else
		ide_cmd_abort(ch);
}

/* Accepted without effect: RECALIBRATE, SEEK, power management. */
static bool no_op_command(uint8_t cmd)
{
	return (cmd & 0xf0) == 0x10 || (cmd & 0xf0) == 0x70 ||
	       (cmd >= 0xe0 && cmd <= 0xe3) || cmd == 0xe6 ||
	       (cmd >= 0x94 && cmd <= 0x99);
}

void ide_ata_command(struct ide_channel *ch, struct ide_drive *d, uint8_t cmd)
{
	switch (cmd) {
	case 0xec:
		identify(ch, d);
		break;
	case 0x20: /* READ SECTORS (with/without retry) */
	case 0x21:
		rw_command(ch, d, false, false, RW_PIO);
		break;
	case 0x24:
		rw_command(ch, d, false, true, RW_PIO);
		break;
	case 0xc4:
		rw_command(ch, d, false, false, RW_MULTIPLE);
		break;
	case 0x29:
		rw_command(ch, d, false, true, RW_MULTIPLE);
		break;
	case 0xc8: /* READ DMA (with/without retry) */
	case 0xc9:
		rw_command(ch, d, false, false, RW_DMA);
		break;
	case 0x25:
		rw_command(ch, d, false, true, RW_DMA);
		break;
	case 0x30: /* WRITE SECTORS */
	case 0x31:
		rw_command(ch, d, true, false, RW_PIO);
		break;
	case 0x34:
		rw_command(ch, d, true, true, RW_PIO);
		break;
	case 0xc5:
		rw_command(ch, d, true, false, RW_MULTIPLE);
		break;
	case 0x39:
		rw_command(ch, d, true, true, RW_MULTIPLE);
		break;
	case 0xca: /* WRITE DMA */
	case 0xcb:
		rw_command(ch, d, true, false, RW_DMA);
		break;
	case 0x35:
		rw_command(ch, d, true, true, RW_DMA);
		break;
	case 0x40: /* READ VERIFY SECTORS */
	case 0x41:
		verify(ch, d, false);
		break;
	case 0x42:
		verify(ch, d, true);
		break;
	case 0xe7: /* FLUSH CACHE (EXT) */
	case 0xea:
		flush(ch, d);
		break;
	case 0xef:
		ok_if(ch, set_features(d));
		break;
	case 0xc6: /* SET MULTIPLE MODE: 0 disables, else a power of 2 */
		if (d->r.nsector > IDE_MAX_MULT ||
		    (d->r.nsector & (d->r.nsector - 1))) {
			ide_cmd_abort(ch);
			break;
		}
		d->mult = d->r.nsector;
		ide_cmd_ok(ch, true);
		break;
	case 0x91:
		ok_if(ch, init_params(d));
		break;
	case 0xe5: /* CHECK POWER MODE: always active */
		d->r.nsector = 0xff;
		ide_cmd_ok(ch, true);
		break;
	case 0xf8:
		native_max(ch, d, false);
		break;
	case 0x27:
		native_max(ch, d, true);
		break;
	default:
		ok_if(ch, no_op_command(cmd));
	}
}
