/* The fake PC, the backends and the action interpreter shared by the
 * libFuzzer harnesses; the input encoding is in fuzz_common.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ioreq/bytes.h"
#include "tests/fuzz/fuzz_common.h"

void fz_fail(const char *what, ...)
{
	va_list ap;
	va_start(ap, what);
	fprintf(stderr, "fuzz: invariant broken: ");
	vfprintf(stderr, what, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	abort();
}

static void fz_pic(void *opaque, int line, int level)
{
	struct fz *f = opaque;
	if (line < 0 || line >= 16) {
		fprintf(stderr, "fuzz: IRQ line %d out of range\n", line);
		abort();
	}
	f->pic[line] = level;
}

static void fz_count(void *opaque, int value)
{
	struct fz *f = opaque;
	f->resets += value != 0;
}

struct signal fz_signal(struct fz *f)
{
	return (struct signal){fz_count, f};
}

static void fz_msi_send(void *opaque, uint64_t addr, uint32_t data)
{
	struct fz *f = opaque;
	f->msis++;
	f->sink += addr + data;
}

struct msi_sink fz_msi(struct fz *f)
{
	return (struct msi_sink){fz_msi_send, f};
}

static bool fz_vector_send(void *opaque, unsigned vector, uint64_t addr,
			   uint32_t data)
{
	struct fz *f = opaque;
	if (vector & 1)
		return false;
	f->msis++;
	f->sink += addr + data;
	return true;
}

struct msix_vector_sink fz_msix_vectors(struct fz *f)
{
	return (struct msix_vector_sink){fz_vector_send, f};
}

void fz_init(struct fz *f, const uint8_t *data, size_t size, bool pci)
{
	memset(f, 0, sizeof(*f));
	f->in = data;
	f->len = size;
	f->config = fz_u8(f);
	f->clock_left = FZ_CLOCK_BUDGET;
	bus_init(&f->io, "port");
	bus_init(&f->mmio, "mmio");
	/* Static, cleared for each input: a fresh mapping per input would
	 * cost more than the input itself. */
	static uint8_t ram[FZ_RAM_SIZE], rom[FZ_ROM_SIZE];
	memset(ram, 0, sizeof(ram));
	memset(rom, 0, sizeof(rom));
	f->ram = ram;
	f->rom = rom;
	gm_add(&f->gm, 0, FZ_RAM_SIZE, f->ram, false);
	gm_add(&f->gm, FZ_ROM_BASE, FZ_ROM_SIZE, f->rom, true);
	f->gm.ram_size = FZ_RAM_SIZE;
	f->clk = clock_new_manual(0);
	clock_set_wall(f->clk, 1700000000ll * 1000000000ll);
	f->irq = (struct irq_chip){fz_pic, f};
	if (!pci)
		return;
	f->pb = pci_bus_new(&f->io, &f->mmio);
	if (!f->pb || pci_bus_attach(f->pb) || i440fx_init(&f->nb, f->pb) ||
	    piix3_init(&f->sb, f->pb, f->irq)) {
		fprintf(stderr, "fuzz: cannot build the PCI bus\n");
		abort();
	}
	f->rc = resetctl_new(fz_signal(f));
	pci_bus_set_cf9(f->pb, resetctl_ops(), f->rc);
}

void fz_fini(struct fz *f)
{
	if (f->pb)
		pci_bus_free(f->pb);
	resetctl_free(f->rc);
	clock_free(f->clk);
	bus_destroy(&f->io);
	bus_destroy(&f->mmio);
}

bool fz_done(const struct fz *f)
{
	return f->pos >= f->len;
}

size_t fz_bytes(struct fz *f, void *buf, size_t n)
{
	size_t k = f->len - f->pos < n ? f->len - f->pos : n;
	memcpy(buf, f->in + f->pos, k);
	memset((uint8_t *)buf + k, 0, n - k);
	f->pos += k;
	return k;
}

uint64_t fz_uint(struct fz *f, unsigned size)
{
	uint8_t b[8];
	fz_bytes(f, b, size);
	return get_le(b, size);
}

uint8_t fz_u8(struct fz *f)
{
	return fz_uint(f, 1);
}

uint16_t fz_u16(struct fz *f)
{
	return fz_uint(f, 2);
}

uint32_t fz_u32(struct fz *f)
{
	return fz_uint(f, 4);
}

size_t fz_frame(struct fz *f, uint8_t *buf, size_t max)
{
	size_t len = fz_u16(f), n = fz_u8(f);
	if (len > max)
		len = max;
	if (n > len) {
		f->pos += n - len < f->len - f->pos ? n - len : f->len - f->pos;
		n = len;
	}
	fz_bytes(f, buf, n);
	memset(buf + n, 0, len - n);
	return len;
}

/* ---- bus helpers ---- */

static uint64_t rw(struct bus *b, uint64_t addr, unsigned size, bool write,
		   uint64_t v)
{
	bus_access(b, addr, size, write, &v, 1);
	return v;
}

static void cfg_addr(struct fz *f, unsigned devfn, unsigned off)
{
	rw(&f->io, PCI_CONFIG_ADDRESS_PORT, 4, true,
	   0x80000000u | devfn << 8 | (off & 0xfc));
}

void fz_cfg_write(struct fz *f, unsigned devfn, unsigned off, unsigned size,
		  uint32_t v)
{
	cfg_addr(f, devfn, off);
	rw(&f->io, PCI_CONFIG_DATA_PORT + (off & 3), size, true, v);
}

void fz_setup_bar(struct fz *f, unsigned devfn, unsigned bar, uint32_t addr,
		  uint16_t command)
{
	fz_cfg_write(f, devfn, PCI_BAR0 + 4 * bar, 4, addr);
	fz_cfg_write(f, devfn, PCI_COMMAND, 2, command);
}

/* ---- the interpreter ---- */

static uint32_t ram_addr(struct fz *f)
{
	return fz_u32(f) % FZ_RAM_TOP;
}

/* Host pointer for [gpa, gpa + n) of RAM or ROM, clipped to the region. */
static uint8_t *ram_at(struct fz *f, uint32_t gpa, size_t *n)
{
	uint8_t *base =
	    gpa < FZ_ROM_BASE ? f->ram + gpa : f->rom + (gpa - FZ_ROM_BASE);
	uint32_t end = gpa < FZ_ROM_BASE ? FZ_RAM_SIZE : FZ_RAM_TOP;
	if (*n > end - gpa)
		*n = end - gpa;
	return base;
}

static void string_io(struct fz *f, unsigned size, bool write)
{
	static uint8_t buf[FZ_STR_MAX];
	uint16_t port = fz_u16(f);
	uint32_t count = fz_u8(f) + 1u;
	if (count * size > sizeof(buf))
		count = sizeof(buf) / size;
	if (write)
		fz_bytes(f, buf, count * size);
	else
		memset(buf, 0, count * size);
	bus_access(&f->io, port, size, write, buf, count);
	if (!write)
		for (uint32_t i = 0; i < count * size; i++)
			f->sink += buf[i];
}

static void action(struct fz *f, uint8_t op)
{
	unsigned a = op >> 4, size = 1u << (a & 3);
	unsigned psize = size > 4 ? 4 : size; /* port and config I/O */
	switch (op & 0x0f) {
	case FZ_IN:
		f->sink += rw(&f->io, fz_u16(f), psize, false, 0);
		break;
	case FZ_OUT: {
		uint16_t port = fz_u16(f);
		rw(&f->io, port, psize, true, fz_uint(f, psize));
		break;
	}
	case FZ_MMIO_RD:
		f->sink += rw(&f->mmio, fz_u32(f), size, false, 0);
		break;
	case FZ_MMIO_WR: {
		uint32_t gpa = fz_u32(f);
		rw(&f->mmio, gpa, size, true, fz_uint(f, size));
		break;
	}
	case FZ_CFG_RD:
	case FZ_CFG_WR: {
		unsigned devfn = fz_u8(f), off = fz_u8(f);
		cfg_addr(f, devfn, off);
		bool write = (op & 0x0f) == FZ_CFG_WR;
		uint64_t v = write ? fz_uint(f, psize) : 0;
		f->sink += rw(&f->io, PCI_CONFIG_DATA_PORT + (off & 3), psize,
			      write, v);
		break;
	}
	case FZ_RAM_WR: {
		uint32_t gpa = ram_addr(f);
		size_t n = fz_u8(f);
		uint8_t *p = ram_at(f, gpa, &n);
		fz_bytes(f, p, n);
		break;
	}
	case FZ_RAM_FILL: {
		uint32_t gpa = ram_addr(f);
		size_t n = fz_u16(f) + 1u;
		uint8_t *p = ram_at(f, gpa, &n);
		memset(p, fz_u8(f), n);
		break;
	}
	case FZ_INS:
	case FZ_OUTS:
		string_io(f, psize, (op & 0x0f) == FZ_OUTS);
		break;
	case FZ_CLOCK: {
		int64_t ns = ((int64_t)fz_u16(f) + 1) << (3 * (a & 7));
		if (ns > f->clock_left)
			ns = f->clock_left;
		f->clock_left -= ns;
		clock_advance(f->clk, ns);
		break;
	}
	case FZ_BACKEND:
		if (f->ops->backend)
			f->ops->backend(f, a);
		break;
	case FZ_AUX:
		if (f->ops->aux)
			f->ops->aux(f, a);
		break;
	case FZ_RAM_LE: {
		uint32_t gpa = ram_addr(f);
		size_t n = size;
		uint8_t *p = ram_at(f, gpa, &n);
		uint8_t b[8];
		put_le(b, size, fz_uint(f, size));
		memcpy(p, b, n);
		break;
	}
	default:
		break;
	}
}

void fz_run(struct fz *f, const struct fz_ops *ops, void *dev)
{
	f->ops = ops;
	f->dev = dev;
	for (int i = 0; i < FZ_MAX_ACTIONS && !fz_done(f); i++) {
		action(f, fz_u8(f));
		if (ops->check)
			ops->check(f);
	}
}

/* ---- block backend ---- */

static int fzb_submit(struct blk *b, struct blk_req *r)
{
	struct fz_blk *k = (struct fz_blk *)b;
	if (r->niov < 0 || r->niov > BLK_MAX_IOV) {
		fprintf(stderr, "fuzz: request with %d iovecs\n", r->niov);
		abort();
	}
	if (k->fail_submit) {
		int e = k->fail_submit;
		k->fail_submit = 0;
		return -e;
	}
	r->next = NULL;
	if (k->tail)
		k->tail->next = r;
	else
		k->head = r;
	k->tail = r;
	return 0;
}

/* Moves the data of r as a file would; 0 or a negative errno. */
static int fzb_run(struct fz_blk *k, struct blk_req *r)
{
	uint64_t len = 0, off = r->offset;
	for (int i = 0; i < r->niov; i++)
		len += r->iov[i].iov_len;
	if (r->op == BLK_FLUSH)
		return 0;
	if (off > k->b.size || len > k->b.size - off)
		return -EINVAL;
	if (r->op == BLK_WRITE && k->b.readonly)
		return -EROFS;
	for (int i = 0; i < r->niov; i++) {
		uint8_t *p = r->iov[i].iov_base;
		size_t n = r->iov[i].iov_len;
		/* The part of this piece that is stored (memcpy: a byte
		 * loop under coverage instrumentation made a 32 MiB
		 * transfer take a second). Written bytes past it are lost,
		 * read ones are zeros. */
		size_t in = 0;
		if (off < k->cap)
			in = k->cap - off < n ? k->cap - off : n;
		if (r->op == BLK_READ) {
			if (in)
				memcpy(p, k->data + off, in);
			memset(p + in, 0, n - in);
		} else if (in) {
			memcpy(k->data + off, p, in);
		}
		off += n;
	}
	return 0;
}

bool fz_blk_complete(struct fz_blk *k, int err)
{
	struct blk_req *r = k->head;
	if (!r)
		return false;
	k->head = r->next;
	if (!k->head)
		k->tail = NULL;
	int e = fzb_run(k, r);
	r->moved = err || e ? k->moved : 0;
	r->done(r, err ? err : e); /* may submit the next one */
	return true;
}

static void fzb_drain(struct blk *b)
{
	while (fz_blk_complete((struct fz_blk *)b, 0))
		;
}

static const struct blk_ops fzb_ops = {.submit = fzb_submit,
				       .drain = fzb_drain};

void fz_blk_init(struct fz_blk *k, uint64_t size, uint8_t *store, uint64_t cap,
		 bool readonly)
{
	memset(k, 0, sizeof(*k));
	k->b.ops = &fzb_ops;
	k->b.size = size;
	k->b.readonly = readonly;
	k->b.name = "fuzz.img";
	k->cap = cap;
	k->data = store;
	memset(store, 0, cap);
	for (uint64_t i = 0; i < cap; i += 512)
		k->data[i] = i / 512;
}

void fz_blk_fini(struct fz_blk *k)
{
	if (k->head) {
		fprintf(stderr, "fuzz: block request left behind\n");
		abort();
	}
}

void fz_blk_action(struct fz_blk *k, unsigned a)
{
	static const int errs[] = {0, -EIO, -EINVAL, -ENOSPC};
	k->moved = (uint64_t)(a >> 3) * 1000;
	switch (a & 7) {
	case 0:
	case 1:
	case 2:
	case 3:
		fz_blk_complete(k, errs[a & 3]);
		break;
	case 4:
		fzb_drain(&k->b);
		break;
	case 5:
		k->fail_submit = EIO;
		break;
	default:
		for (int i = 0; i < 4; i++)
			fz_blk_complete(k, 0);
		break;
	}
}

/* ---- network backend ---- */

static void fzn_send(void *opaque, const uint8_t *buf, size_t len)
{
	struct fz_net *n = opaque;
	n->sent++;
	n->bytes += len;
	for (size_t i = 0; i < len; i++)
		n->sink += buf[i];
}

static void fzn_sendv(void *opaque, const struct iovec *iov, unsigned cnt)
{
	struct fz_net *n = opaque;
	n->sent++;
	for (unsigned i = 0; i < cnt; i++) {
		const uint8_t *p = iov[i].iov_base;
		n->bytes += iov[i].iov_len;
		for (size_t j = 0; j < iov[i].iov_len; j++)
			n->sink += p[j];
	}
}

static void fzn_rx_ready(void *opaque)
{
	struct fz_net *n = opaque;
	n->rx_ready++;
}

static int fzn_set_offload(void *opaque, unsigned offloads)
{
	struct fz_net *n = opaque;
	if (n->refuse_offload && offloads)
		return -1;
	n->offloads = offloads;
	return 0;
}

const struct net_backend_ops fz_net_ops = {.send = fzn_send,
					   .sendv = fzn_sendv,
					   .rx_ready = fzn_rx_ready,
					   .set_offload = fzn_set_offload};
