/*
 * IDE controller: two channels of two drives, the ATA register file, the
 * PIO and DMA data protocols and the ATAPI PACKET protocol.
 * Spec: ATA/ATAPI-6 (T13 1410D): 7.x (registers), 9.x (protocols: PIO
 * data-in/out, DMA, PACKET, device reset); register behaviour checked
 * against the QEMU, Bochs, SeaBIOS and Linux libata sources. See hw/ide.h.
 *
 * Choices where the spec leaves room:
 *  - A channel with no drive reads 0xFF on every register (floating bus);
 *    with one drive present, the absent one reads 0 (as QEMU does), and
 *    commands to it are ignored.
 *  - The data port with no DRQ reads 0 and ignores writes (QEMU).
 *  - Each drive keeps its own copy of the command-block registers; a write
 *    goes to both (as on a real cable), results go to the executing drive.
 *  - SRST: drives show BSY while it is asserted; on deassertion they are
 *    reset at once (signatures, error 01h). An outstanding block request is
 *    drained first, so no completion arrives after a reset.
 *  - A command to one drive while the channel is still moving data for the
 *    other is ignored (the host protocol forbids overlapping commands).
 *  - A host-side CD change or eject (atapi_set_medium) ends an ATAPI read
 *    of the old medium: a DMA still waiting for the bus master at once,
 *    with CHECK CONDITION and an interrupt; a read with a request in
 *    flight, or a PIO read, when that request completes (the medium's
 *    owner drains it before closing), keeping the blocks already read.
 *    No pointer to the old medium survives the change.
 */
#include "hw/ide.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CMD_DEVICE_RESET 0x08
#define CMD_PACKET	 0xa0
#define CMD_ID_PACKET	 0xa1
#define CMD_IDENTIFY	 0xec
#define CMD_DIAGNOSTIC	 0x90
#define CMD_SET_FEATURES 0xef
#define CMD_CHECK_POWER	 0xe5

static const char *const port_names[2][2] = {{"ide0-cmd", "ide0-ctl"},
					     {"ide1-cmd", "ide1-ctl"}};

/* ---- interrupt and status helpers ---- */

static struct ide_drive *sel(struct ide_channel *ch)
{
	return &ch->drive[ch->cur];
}

static bool any_present(const struct ide_channel *ch)
{
	return ch->drive[0].kind != IDE_NONE || ch->drive[1].kind != IDE_NONE;
}

static void update_irq(struct ide_channel *ch)
{
	bool level = ch->pending && !(ch->devctl & IDE_DC_NIEN);
	if (level == ch->line)
		return;
	ch->line = level;
	irq_set(ch->ctrl->irq, ch->irq, level);
	if (level && ch->ctrl->bm && ch->ctrl->bm->irq)
		ch->ctrl->bm->irq(ch->ctrl->bm_opaque, ch->idx);
}

void ide_raise(struct ide_channel *ch)
{
	ch->pending = true;
	update_irq(ch);
}

static void lower(struct ide_channel *ch)
{
	ch->pending = false;
	update_irq(ch);
}

static void end_xfer(struct ide_channel *ch)
{
	ch->xfer = XFER_NONE;
	ch->block_done = NULL;
	ch->dma_pending = ch->dma_running = false;
	ch->dma_blk = NULL;
	ch->medium_read = ch->medium_lost = false;
}

void ide_cmd_ok(struct ide_channel *ch, bool irq)
{
	end_xfer(ch);
	ch->act->r.status = IDE_ST_DRDY | IDE_ST_DSC;
	if (irq)
		ide_raise(ch);
}

void ide_cmd_error(struct ide_channel *ch, uint8_t error)
{
	end_xfer(ch);
	ch->act->r.status = IDE_ST_DRDY | IDE_ST_ERR;
	ch->act->r.error = error;
	ide_raise(ch);
}

void ide_cmd_abort(struct ide_channel *ch)
{
	ide_cmd_error(ch, IDE_ER_ABRT);
}

void ide_set_signature(struct ide_drive *d)
{
	struct ide_regs *r = &d->r;
	r->nsector = r->lbal = 1;
	r->hob_nsector = r->hob_lbal = r->hob_lbam = r->hob_lbah = 0;
	r->hob_feature = 0;
	if (d->kind == IDE_CDROM) {
		r->lbam = 0x14;
		r->lbah = 0xeb;
	} else {
		r->lbam = r->lbah = 0;
	}
	r->select &= IDE_DEV_DEV;
}

/* ---- block requests ---- */

static void req_done(struct blk_req *req, int err)
{
	struct ide_channel *ch = req->opaque;
	ch->req_busy = false;
	ch->req_blk = NULL;
	ch->ctrl->completed++;
	if (!ch->req_cancel && ch->req_cb)
		ch->req_cb(ch, err);
}

/* Submits ch->req as filled in (iov/niov) for bytes bytes at off. */
static void submit_req(struct ide_channel *ch, struct blk *b, enum blk_op op,
		       uint64_t off, uint64_t bytes,
		       void (*cb)(struct ide_channel *ch, int err))
{
	ch->req.moved = 0; /* what a failure moved; the backend sets it */
	if (ch->req_busy || !b) {
		/* A request the backend never finished after a drain, or no
		 * backend: fail the command rather than reuse the request. */
		cb(ch, -EIO);
		return;
	}
	ch->req.op = op;
	ch->req.offset = off;
	ch->req.done = req_done;
	ch->req.opaque = ch;
	ch->req_cb = cb;
	ch->req_blk = b;
	ch->req_bytes = bytes;
	ch->req_busy = true;
	ch->ctrl->submitted++;
	int rc = blk_submit(b, &ch->req);
	if (rc < 0) {
		ch->req_busy = false;
		ch->req_blk = NULL;
		ch->ctrl->completed++;
		cb(ch, rc);
	}
}

void ide_submit(struct ide_channel *ch, struct blk *b, enum blk_op op,
		uint64_t off, uint64_t len,
		void (*cb)(struct ide_channel *ch, int err))
{
	ch->req.niov = 0;
	if (len) {
		ch->req.iov[0].iov_base = ch->buf;
		ch->req.iov[0].iov_len = len;
		ch->req.niov = 1;
	}
	submit_req(ch, b, op, off, len, cb);
}

static void bm_end(struct ide_channel *ch, enum ide_dma_end how);

/*
 * Waits for an outstanding request and drops its result (resets, bus
 * master stopped). A DMA transfer the engine was running ends for it too,
 * unless the engine itself is the one stopping (tell_bm false).
 */
static void cancel_io(struct ide_channel *ch, bool tell_bm)
{
	bool running = ch->dma_running;
	if (ch->req_busy && ch->req_blk) {
		ch->req_cancel = true;
		blk_drain(ch->req_blk);
		ch->req_cancel = false;
	}
	end_xfer(ch);
	if (running && tell_bm)
		bm_end(ch, IDE_DMA_DEV_ERR);
}

static bool chan_busy(const struct ide_channel *ch)
{
	return ch->req_busy || ch->xfer != XFER_NONE || ch->dma_pending;
}

/* ---- PIO ---- */

void ide_pio_start(struct ide_channel *ch, enum ide_xfer dir, uint32_t len,
		   void (*block_done)(struct ide_channel *ch))
{
	/* The window starts where the previous block ended (ch->pos). */
	ch->xfer = dir;
	ch->end = ch->pos + len;
	ch->block_done = block_done;
	ch->act->r.status = IDE_ST_DRDY | IDE_ST_DSC | IDE_ST_DRQ;
}

static bool pio_ready(struct ide_channel *ch, enum ide_xfer dir)
{
	return ch->xfer == dir && ch->act == sel(ch) &&
	       (ch->act->r.status & IDE_ST_DRQ) && ch->pos < ch->end;
}

static void pio_block_end(struct ide_channel *ch)
{
	void (*fn)(struct ide_channel *) = ch->block_done;
	ch->xfer = XFER_NONE;
	ch->block_done = NULL;
	ch->act->r.status &= ~IDE_ST_DRQ;
	if (fn)
		fn(ch);
}

/* Moves up to len bytes between p and the DRQ window; returns bytes. */
static uint32_t pio_move(struct ide_channel *ch, enum ide_xfer dir, void *p,
			 uint32_t len)
{
	uint32_t done = 0;
	while (done < len && pio_ready(ch, dir)) {
		uint32_t n = ch->end - ch->pos;
		if (n > len - done)
			n = len - done;
		if (dir == XFER_PIO_IN)
			memcpy((uint8_t *)p + done, ch->buf + ch->pos, n);
		else
			memcpy(ch->buf + ch->pos, (uint8_t *)p + done, n);
		ch->pos += n;
		done += n;
		if (ch->pos == ch->end)
			pio_block_end(ch);
	}
	return done;
}

/* ---- DMA ---- */

static void dma_step(struct ide_channel *ch);
static void atapi_ok(struct ide_channel *ch);
static void atapi_fail(struct ide_channel *ch);
static void atapi_error(struct ide_channel *ch, uint8_t error);
static void atapi_medium_lost(struct ide_channel *ch);

void ide_dma_start(struct ide_channel *ch, struct blk *b, bool to_mem,
		   uint64_t off, uint64_t len)
{
	ch->xfer = XFER_DMA;
	ch->dma_pending = true;
	ch->dma_running = false;
	ch->dma_blk = b;
	ch->dma_to_mem = to_mem;
	ch->dma_off = off;
	ch->dma_left = len;
	ch->act->r.status = IDE_ST_DRDY | IDE_ST_DSC | IDE_ST_DRQ;
	if (ch->ctrl->bm && ch->ctrl->bm->dmarq)
		ch->ctrl->bm->dmarq(ch->ctrl->bm_opaque, ch->idx);
}

static void bm_end(struct ide_channel *ch, enum ide_dma_end how)
{
	if (ch->ctrl->bm && ch->ctrl->bm->end)
		ch->ctrl->bm->end(ch->ctrl->bm_opaque, ch->idx, how);
}

/* Image offset of the first byte a failed DMA request did not move. */
static uint64_t dma_fail_off(const struct ide_channel *ch)
{
	uint64_t moved = ch->req.moved;
	return ch->dma_off + (moved < ch->req_bytes ? moved : ch->req_bytes);
}

static void dma_fail(struct ide_channel *ch, enum ide_dma_end how, int err)
{
	struct ide_drive *d = ch->act;
	bool medium = ch->dma_blk != NULL;
	end_xfer(ch);
	bm_end(ch, how);
	if (d->kind == IDE_CDROM) {
		if (medium && how == IDE_DMA_DEV_ERR)
			atapi_read_failed(d->atapi, err,
					  dma_fail_off(ch) / ATAPI_BLOCK_SIZE);
		if (how == IDE_DMA_DEV_ERR)
			atapi_fail(ch);
		else
			atapi_error(ch,
				    SENSE_ABORTED_COMMAND << 4 | IDE_ER_ABRT);
		return;
	}
	if (how != IDE_DMA_DEV_ERR) {
		ide_cmd_abort(ch);
		return;
	}
	/* Where the backend stopped: the sectors before it are in place. */
	ide_ata_fail_at(ch, dma_fail_off(ch) / IDE_SECTOR,
			ch->dma_to_mem ? IDE_ER_UNC : IDE_ER_ABRT);
}

static void dma_finish(struct ide_channel *ch)
{
	end_xfer(ch);
	bm_end(ch, IDE_DMA_OK);
	if (ch->act->kind == IDE_CDROM)
		atapi_ok(ch);
	else if (ch->is_write)
		ide_finish_write(ch);
	else
		ide_cmd_ok(ch, true);
}

static void dma_chunk_done(struct ide_channel *ch, int err)
{
	if (err >= 0) {
		ch->dma_left -= ch->req_bytes;
		ch->dma_off += ch->req_bytes;
		if (!ch->dma_left) {
			dma_finish(ch);
			return;
		}
	}
	if (ch->medium_lost)
		atapi_medium_lost(ch); /* the rest is on no medium we hold */
	else if (err < 0)
		dma_fail(ch, IDE_DMA_DEV_ERR, err);
	else
		dma_step(ch);
}

/* Copies the buffered response (ATAPI) into the mapped guest buffers. */
static void dma_copy_out(struct ide_channel *ch, const struct iovec *iov,
			 int niov)
{
	for (int i = 0; i < niov; i++) {
		memcpy(iov[i].iov_base, ch->buf + ch->pos, iov[i].iov_len);
		ch->pos += iov[i].iov_len;
	}
}

static void dma_step(struct ide_channel *ch)
{
	const struct ide_bm_ops *bm = ch->ctrl->bm;
	while (ch->dma_left) {
		int niov = 0;
		int64_t n =
		    bm->map(ch->ctrl->bm_opaque, ch->idx, ch->dma_to_mem,
			    ch->dma_left, ch->req.iov, &niov);
		if (n <= 0 || (uint64_t)n > ch->dma_left || niov <= 0 ||
		    niov > BLK_MAX_IOV) {
			dma_fail(ch, IDE_DMA_BM_ERR, -EFAULT);
			return;
		}
		if (ch->dma_blk) {
			ch->req.niov = niov;
			submit_req(ch, ch->dma_blk,
				   ch->dma_to_mem ? BLK_READ : BLK_WRITE,
				   ch->dma_off, n, dma_chunk_done);
			return;
		}
		dma_copy_out(ch, ch->req.iov, niov);
		ch->dma_left -= n;
	}
	dma_finish(ch);
}

void ide_dma_run(struct ide_ctrl *c, int chn)
{
	if (chn < 0 || chn > 1)
		return;
	struct ide_channel *ch = &c->ch[chn];
	if (!ch->dma_pending || ch->dma_running || !c->bm || !c->bm->map)
		return;
	ch->dma_running = true;
	dma_step(ch);
}

void ide_dma_cancel(struct ide_ctrl *c, int chn)
{
	if (chn < 0 || chn > 1)
		return;
	struct ide_channel *ch = &c->ch[chn];
	if (!ch->dma_pending || !ch->dma_running)
		return;
	cancel_io(ch, false);
	ch->act->r.status = IDE_ST_DRDY | IDE_ST_ERR;
	ch->act->r.error = IDE_ER_ABRT;
}

/* ---- write completion (write cache off: flush before reporting) ---- */

static void flush_done(struct ide_channel *ch, int err)
{
	if (err < 0)
		ide_cmd_abort(ch);
	else
		ide_cmd_ok(ch, true);
}

void ide_finish_write(struct ide_channel *ch)
{
	if (ch->act->wcache) {
		ide_cmd_ok(ch, true);
		return;
	}
	ch->act->r.status = IDE_ST_BSY;
	ide_submit(ch, ch->act->blk, BLK_FLUSH, 0, 0, flush_done);
}

/* ---- ATAPI PACKET protocol ---- */

static void atapi_ok(struct ide_channel *ch)
{
	end_xfer(ch);
	ch->act->r.status = IDE_ST_DRDY | IDE_ST_DSC;
	ch->act->r.error = 0;
	ch->act->r.nsector = IDE_IR_IO | IDE_IR_COD;
	ide_raise(ch);
}

/* A packet command ends in error: interrupt reason says "status". */
static void atapi_error(struct ide_channel *ch, uint8_t error)
{
	ide_cmd_error(ch, error);
	ch->act->r.nsector = IDE_IR_IO | IDE_IR_COD;
}

/* CHECK CONDITION: the sense key in the error register's upper nibble. */
static void atapi_fail(struct ide_channel *ch)
{
	uint8_t key = atapi_sense_key(ch->act->atapi) & 0xf;
	uint8_t err = key << 4;
	if (key == SENSE_ILLEGAL_REQUEST || key == SENSE_ABORTED_COMMAND)
		err |= IDE_ER_ABRT;
	atapi_error(ch, err);
}

/* The read's medium was changed: the command ends in CHECK CONDITION with
 * the sense atapi.c picks for eject or change. A DMA transfer the engine
 * was running ends for it too (active cleared, as on a device error). */
static void atapi_medium_lost(struct ide_channel *ch)
{
	bool running = ch->dma_running;
	end_xfer(ch);
	if (running)
		bm_end(ch, IDE_DMA_DEV_ERR);
	atapi_read_medium_changed(ch->act->atapi);
	atapi_fail(ch);
}

/* atapi_set_medium() hook of a CD-ROM on ch: the drive's old medium may be
 * closed as soon as the device lock is dropped, so a read of it lets go
 * now. A DMA transfer still waiting for the bus master ends at once (the
 * guest may never start the engine); one with a request in flight, and a
 * PIO read, end when that request completes: its owner drains it first. */
static void cdrom_medium_changed(void *opaque, struct atapi *a)
{
	struct ide_channel *ch = opaque;
	if (!ch->act || ch->act->atapi != a || !ch->medium_read)
		return;
	ch->dma_blk = NULL;
	ch->medium_lost = true;
	if (ch->dma_pending && !ch->dma_running)
		atapi_medium_lost(ch);
}

/* One DRQ block of at most the byte count limit, from buf[pos]. */
static void atapi_pio_block(struct ide_channel *ch, uint32_t avail,
			    void (*done)(struct ide_channel *ch))
{
	uint32_t n = avail < ch->bcl ? avail : ch->bcl;
	struct ide_regs *r = &ch->act->r;
	ide_pio_start(ch, XFER_PIO_IN, n, done);
	r->lbam = n & 0xff;
	r->lbah = n >> 8;
	r->nsector = IDE_IR_IO;
	ide_raise(ch);
}

static void atapi_buf_block_done(struct ide_channel *ch)
{
	if (ch->pos < ch->dlen)
		atapi_pio_block(ch, ch->dlen - ch->pos, atapi_buf_block_done);
	else
		atapi_ok(ch);
}

static void atapi_fill(struct ide_channel *ch);

static void atapi_read_block_done(struct ide_channel *ch)
{
	if (ch->pos < ch->fill) {
		atapi_pio_block(ch, ch->fill - ch->pos, atapi_read_block_done);
		return;
	}
	ch->lba += ch->chunk;
	ch->left -= ch->chunk;
	if (!ch->left)
		atapi_ok(ch);
	else if (ch->medium_lost)
		atapi_medium_lost(ch); /* not from the new medium */
	else
		atapi_fill(ch);
}

static void atapi_filled(struct ide_channel *ch, int err)
{
	if (err < 0 && ch->medium_lost) {
		atapi_medium_lost(ch);
		return;
	}
	uint64_t got = ch->req.moved / ATAPI_BLOCK_SIZE;
	if (err < 0 && (!got || got >= ch->chunk)) {
		atapi_read_failed(ch->act->atapi, err, ch->lba);
		atapi_fail(ch);
		return;
	}
	if (err < 0)
		ch->chunk = got; /* hand these out; the next fill fails */
	ch->fill = ch->chunk * ATAPI_BLOCK_SIZE;
	ch->pos = 0;
	atapi_pio_block(ch, ch->fill, atapi_read_block_done);
}

static void atapi_fill(struct ide_channel *ch)
{
	ch->chunk = ch->left < IDE_ATAPI_CHUNK ? ch->left : IDE_ATAPI_CHUNK;
	ch->act->r.status = IDE_ST_BSY;
	ide_submit(ch, atapi_medium(ch->act->atapi), BLK_READ,
		   ch->lba * ATAPI_BLOCK_SIZE, ch->chunk * ATAPI_BLOCK_SIZE,
		   atapi_filled);
}

static void atapi_start_read(struct ide_channel *ch, uint64_t lba,
			     uint32_t blocks)
{
	struct blk *m = atapi_medium(ch->act->atapi);
	if (!m) {
		atapi_read_failed(ch->act->atapi, -ENOMEDIUM, lba);
		atapi_fail(ch);
		return;
	}
	ch->medium_read = true;
	if (ch->atapi_dma) {
		ide_dma_start(ch, m, true, lba * ATAPI_BLOCK_SIZE,
			      (uint64_t)blocks * ATAPI_BLOCK_SIZE);
		return;
	}
	ch->lba = lba;
	ch->left = blocks;
	atapi_fill(ch);
}

static void atapi_send(struct ide_channel *ch, const uint8_t *data,
		       uint32_t len)
{
	if (len > IDE_BUF_SIZE)
		len = IDE_BUF_SIZE;
	memcpy(ch->buf, data, len);
	ch->pos = 0;
	if (ch->atapi_dma) {
		ide_dma_start(ch, NULL, true, 0, len);
		return;
	}
	ch->dlen = len;
	atapi_pio_block(ch, len, atapi_buf_block_done);
}

static void atapi_packet_done(struct ide_channel *ch)
{
	uint8_t cdb[12];
	struct atapi_result res;

	memcpy(cdb, ch->buf, sizeof(cdb));
	memset(&res, 0, sizeof(res));
	ch->act->r.status = IDE_ST_BSY;
	atapi_command(ch->act->atapi, cdb, &res);
	if (res.status != ATAPI_GOOD)
		atapi_fail(ch);
	else if (res.len && res.data)
		atapi_send(ch, res.data, res.len);
	else if (res.read_blocks)
		atapi_start_read(ch, res.read_lba, res.read_blocks);
	else
		atapi_ok(ch);
}

static void atapi_packet(struct ide_channel *ch, struct ide_drive *d)
{
	/* Byte count limit from LBA mid/high: even, 0 means the maximum. */
	uint32_t bcl = (d->r.lbam | d->r.lbah << 8) & ~1u;
	ch->bcl = bcl ? bcl : 0xfffe;
	ch->atapi_dma = d->r.feature & 1;
	ch->pos = 0;
	ide_pio_start(ch, XFER_PIO_OUT, 12, atapi_packet_done);
	/* DRQ within 50 us, no interrupt for the packet (IDENTIFY word 0). */
	d->r.status = IDE_ST_DRDY | IDE_ST_DRQ;
	d->r.nsector = IDE_IR_COD;
}

static void identify_done(struct ide_channel *ch)
{
	ide_cmd_ok(ch, false);
}

static void put_ident(struct ide_channel *ch, const uint16_t *id)
{
	for (int i = 0; i < 256; i++) {
		ch->buf[2 * i] = id[i] & 0xff;
		ch->buf[2 * i + 1] = id[i] >> 8;
	}
	ch->pos = 0;
	ide_pio_start(ch, XFER_PIO_IN, 512, identify_done);
	ide_raise(ch);
}

static void atapi_identify(const struct ide_drive *d, uint16_t *id)
{
	memset(id, 0, 512);
	/* ATAPI, CD-ROM, removable, DRQ within 50 us, 12-byte packets */
	id[0] = 2 << 14 | 5 << 8 | 1 << 7 | 2 << 5;
	ide_put_string(&id[10], d->serial, 10);
	ide_put_string(&id[23], "1.0", 4);
	ide_put_string(&id[27], "MINIVMM CD-ROM", 20);
	id[49] = 1 << 11 | 1 << 9 | 1 << 8; /* IORDY, LBA, DMA */
	id[50] = 0x4000;
	id[53] = 0x0006; /* words 64-70 and 88 valid */
	id[63] = 0x0007;
	if ((d->xfer_mode & 0xf8) == 0x20)
		id[63] |= 1 << (8 + (d->xfer_mode & 7));
	id[64] = 0x0003; /* PIO 3 and 4 */
	id[65] = id[66] = id[67] = id[68] = 120;
	id[71] = id[72] = 30;
	id[80] = 0x007e;		    /* ATA/ATAPI-1 to -6 */
	id[82] = 1 << 14 | 1 << 4 | 1 << 3; /* NOP, PACKET, power mgmt */
	id[83] = id[84] = id[87] = 0x4000;
	id[85] = id[82];
	id[88] = 0x003f;
	if ((d->xfer_mode & 0xf8) == 0x40)
		id[88] |= 1 << (8 + (d->xfer_mode & 7));
	id[93] = d->unit ? 0x6300 : 0x600b;
	uint8_t sum = 0xa5;
	for (int i = 0; i < 255; i++)
		sum += (id[i] & 0xff) + (id[i] >> 8);
	id[255] = (uint16_t)(uint8_t)-sum << 8 | 0xa5;
}

static bool xfer_mode_ok(uint8_t m)
{
	return m <= 1 || (m >= 0x08 && m <= 0x0c) || (m >= 0x20 && m <= 0x22) ||
	       (m >= 0x40 && m <= 0x45);
}

/* ATA commands a PACKET device answers. */
static void atapi_ata_command(struct ide_channel *ch, struct ide_drive *d,
			      uint8_t cmd)
{
	uint16_t id[256];

	switch (cmd) {
	case CMD_PACKET:
		atapi_packet(ch, d);
		break;
	case CMD_ID_PACKET:
		atapi_identify(d, id);
		put_ident(ch, id);
		break;
	case CMD_IDENTIFY: /* the signature tells the host what we are */
		ide_set_signature(d);
		ide_cmd_abort(ch);
		break;
	case CMD_DEVICE_RESET:
		atapi_reset(d->atapi);
		ide_set_signature(d);
		d->r.status = 0;
		d->r.error = 1;
		break;
	case CMD_SET_FEATURES:
		if (d->r.feature == 0x03 && xfer_mode_ok(d->r.nsector))
			d->xfer_mode = d->r.nsector;
		else if (d->r.feature != 0x66 && d->r.feature != 0xcc)
			goto abort;
		ide_cmd_ok(ch, true);
		break;
	case CMD_CHECK_POWER:
		d->r.nsector = 0xff;
		ide_cmd_ok(ch, true);
		break;
	case 0xe0: /* STANDBY IMMEDIATE */
	case 0xe1: /* IDLE IMMEDIATE */
	case 0xe6: /* SLEEP */
		ide_cmd_ok(ch, true);
		break;
	default:
	abort:
		ide_cmd_abort(ch);
	}
}

/* ---- reset, diagnostics, command dispatch ---- */

static void drive_reset(struct ide_drive *d, bool hard)
{
	if (d->kind == IDE_NONE)
		return;
	d->r.feature = 0;
	d->r.select = 0;
	ide_set_signature(d);
	d->r.error = 1;
	if (d->kind == IDE_DISK) {
		d->r.status = IDE_ST_DRDY | IDE_ST_DSC;
		if (hard || !d->keep_settings)
			ide_ata_set_defaults(d);
	} else {
		d->r.status = 0;
		if (hard)
			d->xfer_mode = 0;
		atapi_reset(d->atapi);
	}
}

static void channel_reset(struct ide_channel *ch, bool hard)
{
	cancel_io(ch, true);
	ch->act = NULL;
	ch->cur = 0;
	ch->pending = false;
	if (hard)
		ch->devctl = 0;
	for (int u = 0; u < 2; u++)
		drive_reset(&ch->drive[u], hard);
	update_irq(ch);
}

/* EXECUTE DEVICE DIAGNOSTIC: both drives run it; device 0 reports. */
static void diagnostic(struct ide_channel *ch)
{
	for (int u = 0; u < 2; u++) {
		struct ide_drive *d = &ch->drive[u];
		if (d->kind == IDE_NONE)
			continue;
		ide_set_signature(d);
		d->r.error = 0x01; /* passed (and device 1 passed or absent) */
		d->r.status =
		    d->kind == IDE_DISK ? IDE_ST_DRDY | IDE_ST_DSC : 0;
	}
	ide_raise(ch);
}

static void exec_command(struct ide_channel *ch, uint8_t cmd)
{
	struct ide_drive *d = sel(ch);
	bool reset = cmd == CMD_DEVICE_RESET && d->kind == IDE_CDROM;

	if (d->kind == IDE_NONE || (ch->devctl & IDE_DC_SRST))
		return;
	if (chan_busy(ch) || (d->r.status & (IDE_ST_BSY | IDE_ST_DRQ))) {
		/* Only DEVICE RESET gets through, to the busy ATAPI drive. */
		if (!reset || (ch->act && ch->act != d))
			return;
		cancel_io(ch, true);
	}
	lower(ch);
	ch->act = d;
	ch->cmd = cmd;
	d->r.error = 0;
	if (cmd == CMD_DIAGNOSTIC)
		diagnostic(ch);
	else if (d->kind == IDE_DISK)
		ide_ata_command(ch, d, cmd);
	else
		atapi_ata_command(ch, d, cmd);
}

/* ---- register file ---- */

static void write_both(struct ide_channel *ch, unsigned reg, uint8_t v)
{
	for (int u = 0; u < 2; u++) {
		struct ide_regs *r = &ch->drive[u].r;
		switch (reg) {
		case 1:
			r->hob_feature = r->feature;
			r->feature = v;
			break;
		case 2:
			r->hob_nsector = r->nsector;
			r->nsector = v;
			break;
		case 3:
			r->hob_lbal = r->lbal;
			r->lbal = v;
			break;
		case 4:
			r->hob_lbam = r->lbam;
			r->lbam = v;
			break;
		case 5:
			r->hob_lbah = r->lbah;
			r->lbah = v;
			break;
		case 6:
			r->select = v;
			break;
		}
	}
}

static void reg_write(struct ide_channel *ch, unsigned reg, uint8_t v)
{
	if (reg == 7) {
		exec_command(ch, v);
		return;
	}
	/* Any command-block write clears HOB (ATA-6 7.9). */
	ch->devctl &= ~IDE_DC_HOB;
	write_both(ch, reg, v);
	if (reg == 6)
		ch->cur = (v & IDE_DEV_DEV) ? 1 : 0;
}

static uint8_t reg_read(struct ide_channel *ch, unsigned reg)
{
	struct ide_drive *d = sel(ch);
	const struct ide_regs *r = &d->r;
	bool hob = ch->devctl & IDE_DC_HOB;

	if (reg == 7)
		lower(ch);
	if (!any_present(ch))
		return 0xff;
	if (d->kind == IDE_NONE)
		return 0;
	switch (reg) {
	case 1:
		return hob ? r->hob_feature : r->error;
	case 2:
		return hob ? r->hob_nsector : r->nsector;
	case 3:
		return hob ? r->hob_lbal : r->lbal;
	case 4:
		return hob ? r->hob_lbam : r->lbam;
	case 5:
		return hob ? r->hob_lbah : r->lbah;
	case 6:
		return r->select;
	default:
		return r->status;
	}
}

static uint64_t data_read(struct ide_channel *ch, unsigned size)
{
	uint8_t b[4] = {0, 0, 0, 0};
	if (!any_present(ch))
		return size == 1 ? 0xff : size == 2 ? 0xffff : 0xffffffffu;
	pio_move(ch, XFER_PIO_IN, b, size);
	return b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24;
}

static void data_write(struct ide_channel *ch, unsigned size, uint64_t v)
{
	uint8_t b[4] = {v, v >> 8, v >> 16, v >> 24};
	pio_move(ch, XFER_PIO_OUT, b, size);
}

static uint64_t cmd_io_read(void *dev, uint64_t off, unsigned size)
{
	struct ide_channel *ch = dev;
	if (off == 0)
		return data_read(ch, size > 4 ? 4 : size);
	uint64_t v = 0;
	for (unsigned i = 0; i < size && off + i < 8; i++)
		v |= (uint64_t)reg_read(ch, off + i) << (8 * i);
	return v;
}

static void cmd_io_write(void *dev, uint64_t off, unsigned size, uint64_t v)
{
	struct ide_channel *ch = dev;
	if (off == 0) {
		data_write(ch, size > 4 ? 4 : size, v);
		return;
	}
	for (unsigned i = 0; i < size && off + i < 8; i++)
		reg_write(ch, off + i, v >> (8 * i));
}

/* Bytes of a string access, capped so that they fit a uint32_t. */
static uint32_t str_bytes(unsigned size, uint32_t count)
{
	return count > UINT32_MAX / size ? UINT32_MAX / size * size
					 : count * size;
}

/* rep insw/insd: the whole burst in one call, across DRQ blocks that are
 * ready; what no DRQ block covers reads as zeros. */
static uint32_t cmd_read_str(void *dev, uint64_t off, unsigned size, void *buf,
			     uint32_t count)
{
	struct ide_channel *ch = dev;
	if (off != 0 || (size != 2 && size != 4) || !any_present(ch))
		return 0;
	uint32_t want = str_bytes(size, count);
	uint32_t got = pio_move(ch, XFER_PIO_IN, buf, want);
	memset((uint8_t *)buf + got, 0, want - got);
	return want / size;
}

static uint32_t cmd_write_str(void *dev, uint64_t off, unsigned size,
			      const void *buf, uint32_t count)
{
	struct ide_channel *ch = dev;
	if (off != 0 || (size != 2 && size != 4))
		return 0;
	uint32_t want = str_bytes(size, count);
	/* Elements no DRQ block takes are dropped, as single writes are. */
	pio_move(ch, XFER_PIO_OUT, (void *)(uintptr_t)buf, want);
	return want / size;
}

static uint64_t ctl_io_read(void *dev, uint64_t off, unsigned size)
{
	struct ide_channel *ch = dev;
	(void)off;
	(void)size;
	/* Alternate status: the status without clearing the interrupt. */
	if (!any_present(ch))
		return 0xff;
	if (sel(ch)->kind == IDE_NONE)
		return 0;
	return sel(ch)->r.status;
}

static void ctl_io_write(void *dev, uint64_t off, unsigned size, uint64_t v)
{
	struct ide_channel *ch = dev;
	(void)off;
	(void)size;
	bool was = ch->devctl & IDE_DC_SRST, now = v & IDE_DC_SRST;

	ch->devctl = v & (IDE_DC_NIEN | IDE_DC_SRST | IDE_DC_HOB);
	if (!was && now) {
		cancel_io(ch, true);
		ch->pending = false;
		for (int u = 0; u < 2; u++)
			if (ch->drive[u].kind != IDE_NONE)
				ch->drive[u].r.status = IDE_ST_BSY;
	} else if (was && !now) {
		channel_reset(ch, false);
	}
	update_irq(ch);
}

static const struct io_ops cmd_ops = {.read = cmd_io_read,
				      .write = cmd_io_write,
				      .read_str = cmd_read_str,
				      .write_str = cmd_write_str};
static const struct io_ops ctl_ops = {.read = ctl_io_read,
				      .write = ctl_io_write};

/* ---- construction ---- */

struct ide_ctrl *ide_new(struct vclock *clk, const struct irq_chip *irq,
			 struct guest_mem *gm)
{
	struct ide_ctrl *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->clk = clk;
	c->irq = irq;
	c->gm = gm;
	for (int i = 0; i < 2; i++) {
		struct ide_channel *ch = &c->ch[i];
		ch->ctrl = c;
		ch->idx = i;
		ch->cmd_base = i ? 0x170 : 0x1f0;
		ch->ctl_base = i ? 0x376 : 0x3f6;
		ch->irq = i ? IDE_IRQ_SECONDARY : IDE_IRQ_PRIMARY;
		ch->drive[0].unit = 0;
		ch->drive[1].unit = 1;
		ch->buf = calloc(1, IDE_BUF_SIZE);
		if (!ch->buf) {
			ide_free(c);
			return NULL;
		}
	}
	return c;
}

void ide_free(struct ide_ctrl *c)
{
	if (!c)
		return;
	for (int i = 0; i < 2; i++) {
		cancel_io(&c->ch[i], false);
		if (c->io)
			ide_channel_decode(c, i, false);
		for (int u = 0; u < 2; u++)
			if (c->ch[i].drive[u].kind == IDE_CDROM)
				atapi_set_medium_hook(c->ch[i].drive[u].atapi,
						      NULL, NULL);
		free(c->ch[i].buf);
	}
	free(c);
}

static struct ide_drive *free_slot(struct ide_ctrl *c, int ch, int unit)
{
	if (!c || ch < 0 || ch > 1 || unit < 0 || unit > 1)
		return NULL;
	struct ide_drive *d = &c->ch[ch].drive[unit];
	return d->kind == IDE_NONE ? d : NULL;
}

/* FNV-1a of the image path: a serial number that survives restarts. */
static void make_serial(struct ide_drive *d, const char *name)
{
	static const char hex[] = "0123456789ABCDEF";
	uint32_t h = 2166136261u;
	for (const char *p = name ? name : ""; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	memcpy(d->serial, "MV", 2);
	for (int i = 0; i < 8; i++)
		d->serial[2 + i] = hex[(h >> (28 - 4 * i)) & 15];
	d->serial[10] = 0;
}

int ide_attach_disk(struct ide_ctrl *c, int ch, int unit, struct blk *disk)
{
	struct ide_drive *d = free_slot(c, ch, unit);
	if (!d || !disk || disk->size < IDE_SECTOR)
		return -1;
	d->kind = IDE_DISK;
	d->blk = disk;
	make_serial(d, disk->name);
	ide_ata_init_geometry(d);
	drive_reset(d, true);
	return 0;
}

int ide_attach_cdrom(struct ide_ctrl *c, int ch, int unit, struct atapi *a)
{
	struct ide_drive *d = free_slot(c, ch, unit);
	if (!d || !a)
		return -1;
	d->kind = IDE_CDROM;
	d->atapi = a;
	atapi_set_medium_hook(a, cdrom_medium_changed, &c->ch[ch]);
	struct blk *m = atapi_medium(a);
	make_serial(d, m && m->name ? m->name : "cdrom");
	drive_reset(d, true);
	return 0;
}

int ide_channel_decode(struct ide_ctrl *c, int chn, bool on)
{
	if (!c || !c->io || chn < 0 || chn > 1)
		return -1;
	struct ide_channel *ch = &c->ch[chn];
	if (ch->decode == on)
		return 0;
	if (!on) {
		bus_unregister(c->io, ch->cmd_base, ch);
		bus_unregister(c->io, ch->ctl_base, ch);
		ch->decode = false;
		return 0;
	}
	if (bus_register(c->io, ch->cmd_base, 8, &cmd_ops, ch,
			 port_names[chn][0]) < 0)
		return -1;
	if (bus_register(c->io, ch->ctl_base, 1, &ctl_ops, ch,
			 port_names[chn][1]) < 0) {
		bus_unregister(c->io, ch->cmd_base, ch);
		return -1;
	}
	ch->decode = true;
	return 0;
}

int ide_attach(struct ide_ctrl *c, struct bus *io)
{
	if (!c || !io || c->io)
		return -1;
	c->io = io;
	if (ide_channel_decode(c, 0, true) < 0 ||
	    ide_channel_decode(c, 1, true) < 0) {
		ide_channel_decode(c, 0, false);
		c->io = NULL;
		return -1;
	}
	return 0;
}

void ide_reset(struct ide_ctrl *c)
{
	for (int i = 0; i < 2; i++)
		channel_reset(&c->ch[i], true);
}

void ide_set_bm(struct ide_ctrl *c, const struct ide_bm_ops *ops, void *opaque)
{
	c->bm = ops;
	c->bm_opaque = opaque;
}
