/*
 * libFuzzer harness for PCI configuration: conf1 at 0xCF8/0xCFC, the
 * i440FX host bridge (PAM, SMRAM lock), the PIIX3 (PIRQ routing into the
 * recording PIC, 0xCF9 reset control), and a test device in slot 2 with
 * functions 0 and 3: I/O and memory BARs of several sizes, an expansion
 * ROM, a capability and INTA#/INTB#, whose BAR handlers check that the bus
 * only hands them offsets inside the BAR. BAR moves, decode switches and
 * overlapping BARs (with each other, with 0xCF8, with the chipset) come
 * from CFG_WR actions. Encoding: tests/fuzz/fuzz_common.h.
 *
 * Config byte: unused.
 * AUX a & 3: 0 INTx level of function (u8 bit 0: fn 0/3, bit 1 level),
 * 1 PCI RST# (pci_bus_reset, i440fx_reset, piix3_reset), 2 an error
 * status bit set by the device (u16), 3 nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz_common.h"

struct tdev {
	struct pci_func *fn[2];
	uint8_t regs[8][4096]; /* fn 0 BARs 0-5 and ROM, fn 3 BAR 0 */
	uint32_t len[8];
	int moves;
};

struct tbar {
	struct tdev *d;
	int bar;
};

static void check(struct tbar *b, uint64_t off, unsigned size)
{
	if (off + size > b->d->len[b->bar] || !size || size > 8) {
		fprintf(stderr, "fuzz: BAR %d access at %#llx size %u\n",
			b->bar, (unsigned long long)off, size);
		abort();
	}
}

static uint64_t bar_read(void *dev, uint64_t off, unsigned size)
{
	struct tbar *b = dev;
	check(b, off, size);
	uint64_t v = 0;
	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)b->d->regs[b->bar][off + i] << (8 * i);
	return v;
}

static void bar_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct tbar *b = dev;
	check(b, off, size);
	for (unsigned i = 0; i < size; i++)
		b->d->regs[b->bar][off + i] = val >> (8 * i);
}

static const struct io_ops bar_ops = {.read = bar_read, .write = bar_write};

static uint32_t cfg_read(void *dev, unsigned off, unsigned size, uint32_t val)
{
	(void)dev;
	if (off >= 256 || off + size > 256)
		abort();
	return val;
}

static void cfg_write(void *dev, unsigned off, unsigned size, uint32_t val)
{
	(void)dev;
	(void)val;
	if (off >= 256 || off + size > 256)
		abort();
}

static void bar_moved(void *dev, int bar, uint32_t addr, bool mapped)
{
	struct tdev *d = dev;
	(void)addr;
	(void)mapped;
	if (bar < 0 || bar > PCI_ROM_SLOT)
		abort();
	d->moves++;
}

static const struct pci_cfg_ops tcfg = {
    .read = cfg_read, .write = cfg_write, .bar_moved = bar_moved};

static void aux(struct fz *f, unsigned a)
{
	struct tdev *d = f->dev;
	switch (a & 3) {
	case 0: {
		uint8_t v = fz_u8(f);
		pci_set_irq(d->fn[v & 1], (v >> 1) & 1);
		break;
	}
	case 1:
		pci_bus_reset(f->pb);
		i440fx_reset(&f->nb);
		piix3_reset(&f->sb);
		resetctl_reset(f->rc);
		break;
	case 2:
		pci_status_set(d->fn[0], fz_u16(f));
		break;
	default:
		break;
	}
}

static const struct fz_ops ops = {.aux = aux};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tdev d;
	struct tbar tb[8];
	struct fz f;
	fz_init(&f, data, size, true);
	memset(&d, 0, sizeof(d));
	d.fn[0] =
	    pci_add_func(f.pb, 2, 0, 0x1234, 0x5678, 0x0bfe0000, 0x1234, 1, 1);
	d.fn[1] =
	    pci_add_func(f.pb, 2, 3, 0x1234, 0x5679, 0x0bfe0100, 0x1234, 2, 2);
	if (!d.fn[0] || !d.fn[1])
		abort();
	static const uint32_t sz[6] = {32, 4096, 16, 4, 256, 2048};
	static const uint32_t fl[6] = {PCI_BAR_IO,	 PCI_BAR_MEM32,
				       PCI_BAR_PREFETCH, PCI_BAR_IO,
				       PCI_BAR_IO,	 PCI_BAR_MEM32};
	for (int i = 0; i < 8; i++)
		tb[i] = (struct tbar){&d, i};
	for (int i = 0; i < 6; i++) {
		d.len[i] = sz[i];
		if (pci_set_bar(d.fn[0], i, sz[i], fl[i], &bar_ops, &tb[i]))
			abort();
	}
	d.len[PCI_ROM_SLOT] = 2048;
	d.len[7] = 16;
	if (pci_set_rom(d.fn[0], 2048, &bar_ops, &tb[PCI_ROM_SLOT]) ||
	    pci_set_bar(d.fn[1], 0, 16, PCI_BAR_IO, &bar_ops, &tb[7]) < 0 ||
	    pci_add_cap(d.fn[0], 0x09, 0x40, 8) < 0 ||
	    pci_add_cap(d.fn[0], 0x05, 0x50, 16) < 0)
		abort();
	pci_set_writable(d.fn[0], 0x44, 4, 0xff);
	pci_set_cfg_ops(d.fn[0], &tcfg, &d);

	fz_run(&f, &ops, &d);

	fz_fini(&f);
	return 0;
}
