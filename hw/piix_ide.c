/*
 * PIIX3 IDE function 00:01.1: PCI header, IDE timing registers with legacy
 * decode enable, and the SFF-8038i bus-master DMA engine. Facts from the
 * Intel 82371FB/SB datasheet (sections 2.3, 2.7, 3.4) and the QEMU/Linux
 * ata_piix sources. See hw/piix_ide.h.
 */
#include "hw/piix_ide.h"

#include <string.h>

#define PRD_EOT		  0x80000000u
#define PCI_STATUS_MABORT 0x2000 /* received master abort */

static struct piix_bm *bm_of(struct piix_ide *s, int ch)
{
	return &s->bm[ch & 1];
}

/* ---- the engine as the IDE layer sees it ---- */

static void bm_dmarq(void *opaque, int ch)
{
	struct piix_ide *s = opaque;
	struct piix_bm *b = bm_of(s, ch);
	if ((b->cmd & BM_CMD_START) && (b->status & BM_ST_ACTIVE))
		ide_dma_run(s->ide, ch);
}

/* Reads the current PRD; false if the table left RAM or its 64 KiB page. */
static bool prd_fetch(struct piix_ide *s, struct piix_bm *b, uint64_t *addr,
		      uint32_t *count, bool *eot)
{
	uint8_t e[8];
	if ((b->entry & 0xffff0000u) != (b->prd & 0xffff0000u) ||
	    gm_read(s->ide->gm, b->entry, e, sizeof(e)) < 0)
		return false;
	uint32_t a = e[0] | e[1] << 8 | e[2] << 16 | (uint32_t)e[3] << 24;
	uint32_t c = e[4] | e[5] << 8 | e[6] << 16 | (uint32_t)e[7] << 24;
	*addr = a & ~1u;
	*count = c & 0xfffe;
	if (!*count)
		*count = 0x10000;
	*eot = c & PRD_EOT;
	return true;
}

static int64_t bm_fail(struct piix_ide *s)
{
	pci_status_set(s->f, PCI_STATUS_MABORT);
	return -1;
}

/*
 * Walks a copy of the PRD state over len bytes: 0 if every entry is
 * readable and in RAM and the table long enough, -1 if memory is not RAM
 * (a master abort on PIIX), -2 if the table ends first. Bounded by the
 * table's 64 KiB page (8192 entries).
 */
static int table_check(struct piix_ide *s, const struct piix_bm *cur,
		       bool to_mem, uint64_t len)
{
	struct piix_bm b = *cur;
	while (len) {
		uint64_t addr;
		uint32_t count;
		bool eot;
		if (b.eot)
			return -2;
		if (!prd_fetch(s, &b, &addr, &count, &eot))
			return -1;
		uint64_t take = count - b.used;
		if (take > len)
			take = len;
		if (!gm_ptr(s->ide->gm, addr + b.used, take, to_mem))
			return -1;
		len -= take;
		b.used = 0;
		b.eot = eot;
		b.entry += 8;
	}
	return 0;
}

static int64_t bm_map(void *opaque, int ch, bool to_mem, uint64_t len,
		      struct iovec *iov, int *niov)
{
	struct piix_ide *s = opaque;
	struct piix_bm *b = bm_of(s, ch);
	uint64_t got = 0;
	int n = 0;

	if (!pci_bus_master(s->f) || !(b->status & BM_ST_ACTIVE) || b->eot)
		return -1;
	if (!b->checked) {
		int rc = table_check(s, b, to_mem, len);
		if (rc == -1)
			return bm_fail(s);
		if (rc < 0)
			return -1;
		b->checked = true;
	}
	while (got < len && n < BLK_MAX_IOV) {
		uint64_t addr;
		uint32_t count;
		bool eot;
		if (!prd_fetch(s, b, &addr, &count, &eot))
			return bm_fail(s);
		uint64_t take = count - b->used;
		if (take > len - got)
			take = len - got;
		void *p = gm_ptr(s->ide->gm, addr + b->used, take, to_mem);
		if (!p)
			return bm_fail(s);
		iov[n].iov_base = p;
		iov[n].iov_len = take;
		n++;
		got += take;
		b->used += take;
		if (b->used < count)
			continue;
		if (eot) {
			b->eot = true;
			break;
		}
		b->entry += 8;
		b->used = 0;
	}
	if (got < len && b->eot)
		return -1; /* the table is smaller than the transfer */
	*niov = n;
	return got;
}

static void bm_end(void *opaque, int ch, enum ide_dma_end how)
{
	struct piix_bm *b = bm_of(opaque, ch);
	/* A table larger than the transfer leaves active set (PIIX). */
	if (how != IDE_DMA_OK || b->eot)
		b->status &= ~BM_ST_ACTIVE;
	if (how == IDE_DMA_BM_ERR)
		b->status |= BM_ST_ERROR;
}

static void bm_irq(void *opaque, int ch)
{
	bm_of(opaque, ch)->status |= BM_ST_INTR;
}

static const struct ide_bm_ops piix_bm_ops = {
    .dmarq = bm_dmarq, .map = bm_map, .end = bm_end, .irq = bm_irq};

/* ---- bus-master registers (BAR4) ---- */

static void bm_cmd_write(struct piix_ide *s, int ch, uint8_t v)
{
	struct piix_bm *b = bm_of(s, ch);
	bool was = b->cmd & BM_CMD_START, now = v & BM_CMD_START;
	uint8_t dir = (b->status & BM_ST_ACTIVE) ? b->cmd & BM_CMD_WRITE
						 : v & BM_CMD_WRITE;

	b->cmd = dir | (now ? BM_CMD_START : 0);
	if (!was && now) {
		/* Every start walks the table from its beginning. */
		b->status |= BM_ST_ACTIVE;
		b->entry = b->prd;
		b->used = 0;
		b->eot = false;
		b->checked = false;
		ide_dma_run(s->ide, ch);
	} else if (was && !now) {
		b->status &= ~BM_ST_ACTIVE;
		ide_dma_cancel(s->ide, ch);
	}
}

static uint8_t bm_reg_read(struct piix_ide *s, unsigned off)
{
	struct piix_bm *b = bm_of(s, off >> 3);
	switch (off & 7) {
	case 0:
		return b->cmd;
	case 2:
		return b->status;
	case 4:
	case 5:
	case 6:
	case 7:
		return b->prd >> (8 * ((off & 7) - 4));
	default:
		return 0;
	}
}

static void bm_reg_write(struct piix_ide *s, unsigned off, uint8_t v)
{
	struct piix_bm *b = bm_of(s, off >> 3);
	unsigned sh = 8 * ((off & 7) - 4);
	switch (off & 7) {
	case 0:
		bm_cmd_write(s, off >> 3, v);
		break;
	case 2:
		b->status &= ~(v & (BM_ST_ERROR | BM_ST_INTR));
		b->status = (b->status & ~(BM_ST_DRV0_DMA | BM_ST_DRV1_DMA)) |
			    (v & (BM_ST_DRV0_DMA | BM_ST_DRV1_DMA));
		break;
	case 4:
	case 5:
	case 6:
	case 7:
		b->prd = ((b->prd & ~(0xffu << sh)) | (uint32_t)v << sh) & ~3u;
		break;
	}
}

static uint64_t bm_io_read(void *dev, uint64_t off, unsigned size)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < size && off + i < 16; i++)
		v |= (uint64_t)bm_reg_read(dev, off + i) << (8 * i);
	return v;
}

static void bm_io_write(void *dev, uint64_t off, unsigned size, uint64_t v)
{
	for (unsigned i = 0; i < size && off + i < 16; i++)
		bm_reg_write(dev, off + i, v >> (8 * i));
}

static const struct io_ops bm_io_ops = {.read = bm_io_read,
					.write = bm_io_write};

/* ---- configuration space ---- */

static void update_decode(struct piix_ide *s)
{
	for (int ch = 0; ch < 2; ch++) {
		bool on = s->f->cfg[PIIX_IDE_IDETIM + 2 * ch + 1] & 0x80;
		ide_channel_decode(s->ide, ch, on);
	}
}

static void piix_ide_cfg_write(void *dev, unsigned off, unsigned size,
			       uint32_t val)
{
	(void)val;
	if (off < PIIX_IDE_IDETIM + 4 && off + size > PIIX_IDE_IDETIM)
		update_decode(dev);
}

static const struct pci_cfg_ops piix_ide_cfg_ops = {.write =
							piix_ide_cfg_write};

void piix_ide_reset(struct piix_ide *s)
{
	struct pci_func *f = s->f;
	for (int ch = 0; ch < 2; ch++) {
		if (s->bm[ch].cmd & BM_CMD_START)
			ide_dma_cancel(s->ide, ch);
		memset(&s->bm[ch], 0, sizeof(s->bm[ch]));
	}
	f->cfg[PCI_STATUS] = PCI_STATUS_FAST_BACK;
	f->cfg[PCI_STATUS + 1] = PCI_STATUS_DEVSEL_MED >> 8;
	for (unsigned off = PIIX_IDE_IDETIM; off <= PIIX_IDE_SIDETIM; off++)
		f->cfg[off] = 0;
	f->cfg[PIIX_IDE_IDETIM + 1] = PIIX_IDE_DECODE >> 8;
	f->cfg[PIIX_IDE_IDETIM + 3] = PIIX_IDE_DECODE >> 8;
	update_decode(s);
	ide_reset(s->ide);
}

int piix_ide_init(struct piix_ide *s, struct pci_bus *pb, struct ide_ctrl *ide,
		  struct bus *io)
{
	memset(s, 0, sizeof(*s));
	s->ide = ide;
	if (!ide || ide_attach(ide, io) < 0)
		return -1;
	s->f = pci_add_func(pb, PIIX_IDE_DEVFN_DEV, PIIX_IDE_DEVFN_FN, 0x8086,
			    0x7010, 0x01018000, 0x1af4, 0x1100, 0);
	if (!s->f)
		return -1;
	if (pci_set_bar(s->f, 4, 16, PCI_BAR_IO, &bm_io_ops, s) < 0)
		return -1;
	pci_set_writable(s->f, PIIX_IDE_IDETIM, 5, 0xff);
	pci_set_cfg_ops(s->f, &piix_ide_cfg_ops, s);
	ide_set_bm(ide, &piix_bm_ops, s);
	piix_ide_reset(s);
	return 0;
}
