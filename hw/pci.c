/*
 * PCI bus 0: configuration mechanism #1 and generic type 0 configuration
 * space handling (PCI Local Bus Specification 3.0, 3.2.2.3.2 and 6.1-6.7).
 * See hw/pci.h for the model; notes on choices made here:
 *  - CONFIG_ADDRESS is claimed only by dword accesses at 0xCF8. Byte and
 *    word accesses to 0xCF8-0xCFB behave like unclaimed ports (all ones,
 *    writes dropped, counted in the port bus's unclaimed counters), except
 *    the byte at 0xCF9, which goes to the reset-control hook. A wider
 *    non-dword access is split per byte, as a chipset would.
 *  - CONFIG_ADDRESS bits 30-24 and 1-0 are reserved and read as zero.
 *  - A BAR is decoded when its command-register enable is set and its
 *    address is non-zero and fits (I/O below 64 KiB; memory not wrapping
 *    and not ending at 0xFFFFFFFF, which is the all-ones sizing pattern).
 *  - A BAR that the bus refuses (overlap) is marked conflict and counted in
 *    pci_bus.bar_conflicts; it is tried again whenever any BAR is unmapped.
 */
#include "ioreq/bytes.h"
#include "hw/pci.h"

#include <stdlib.h>
#include <string.h>

#define CFG_ADDR_ENABLE 0x80000000u
#define CFG_ADDR_MASK	0x80fffffcu /* reserved bits read as zero */

static bool overlaps(unsigned off, unsigned size, unsigned start, unsigned len)
{
	return off < start + len && start < off + size;
}

static uint32_t size_mask(unsigned size)
{
	return size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
}

static uint16_t cmd_of(const struct pci_func *f)
{
	return get_le(&f->cfg[PCI_COMMAND], 2);
}

static unsigned bar_off(int bar)
{
	return bar == PCI_ROM_SLOT ? PCI_ROM_ADDRESS : PCI_BAR0 + 4 * bar;
}

static bool bar_is_io(const struct pci_func *f, int bar)
{
	return bar != PCI_ROM_SLOT && (f->bar[bar].flags & PCI_BAR_IO);
}

static struct bus *bar_bus(const struct pci_func *f, int bar)
{
	return bar_is_io(f, bar) ? f->bus->io : f->bus->mmio;
}

/* ---- BAR mapping ---- */

/* Where the BAR should be decoded now; false when it should not be. */
static bool bar_target(const struct pci_func *f, int bar, uint32_t *addr)
{
	const struct pci_bar *b = &f->bar[bar];
	uint16_t cmd = cmd_of(f);
	uint32_t raw = get_le(&f->cfg[bar_off(bar)], 4);
	uint32_t a = raw & ~(b->size - 1);
	uint32_t last;

	if (!b->size || !bar_bus(f, bar))
		return false;
	if (bar == PCI_ROM_SLOT) {
		if (!(cmd & PCI_CMD_MEMORY) || !(raw & PCI_ROM_ENABLE))
			return false;
		a &= 0xfffff800u;
	} else if (bar_is_io(f, bar)) {
		if (!(cmd & PCI_CMD_IO))
			return false;
		a &= ~3u;
	} else {
		if (!(cmd & PCI_CMD_MEMORY))
			return false;
		a &= ~0xfu;
	}
	last = a + (b->size - 1);
	if (a == 0 || last < a || last == 0xffffffffu)
		return false;
	if (bar_is_io(f, bar) && last > 0xffff)
		return false;
	*addr = a;
	return true;
}

static void bar_notify(struct pci_func *f, int bar)
{
	const struct pci_bar *b = &f->bar[bar];
	if (f->cfg_ops && f->cfg_ops->bar_moved)
		f->cfg_ops->bar_moved(f->cfg_dev, bar, b->map_addr, b->mapped);
}

/* Brings one BAR's bus registration in line with its registers.
 * Returns true if a range was removed from a bus. */
static bool bar_update(struct pci_func *f, int bar)
{
	struct pci_bar *b = &f->bar[bar];
	uint32_t addr = 0;
	bool want = bar_target(f, bar, &addr);
	bool removed = false;

	if (b->mapped && want && addr == b->map_addr)
		return false;
	if (!b->mapped && !want) {
		b->conflict = false;
		return false;
	}
	if (b->mapped) {
		bus_unregister(bar_bus(f, bar), b->map_addr, b->dev);
		b->mapped = false;
		removed = true;
	}
	if (want) {
		if (bus_register(bar_bus(f, bar), addr, b->size, b->ops, b->dev,
				 b->name) == 0) {
			b->mapped = true;
			b->map_addr = addr;
			b->conflict = false;
		} else {
			b->conflict = true;
			f->bus->bar_conflicts++;
		}
	}
	if (removed || b->mapped)
		bar_notify(f, bar);
	return removed;
}

/* A range went away: BARs that were refused may fit now. */
static void retry_conflicts(struct pci_bus *pb)
{
	for (unsigned i = 0; i < 256; i++) {
		struct pci_func *f = pb->func[i];
		for (int bar = 0; f && bar <= PCI_ROM_SLOT; bar++)
			if (f->bar[bar].conflict)
				bar_update(f, bar);
	}
}

static void update_mappings(struct pci_func *f)
{
	bool removed = false;
	for (int bar = 0; bar <= PCI_ROM_SLOT; bar++)
		removed |= bar_update(f, bar);
	if (removed)
		retry_conflicts(f->bus);
}

static void unmap_all(struct pci_func *f)
{
	for (int bar = 0; bar <= PCI_ROM_SLOT; bar++) {
		struct pci_bar *b = &f->bar[bar];
		if (b->mapped)
			bus_unregister(bar_bus(f, bar), b->map_addr, b->dev);
		b->mapped = false;
		b->conflict = false;
	}
}

/* ---- INTx ---- */

static int func_pirq(const struct pci_func *f)
{
	int pin = f->cfg[PCI_INTERRUPT_PIN];
	return ((int)f->devnr - 1 + pin - 1) & 3;
}

/* Drives the PIRQ line from the requested level and Interrupt Disable. */
static void update_intx(struct pci_func *f)
{
	struct pci_bus *pb = f->bus;
	int pin = f->cfg[PCI_INTERRUPT_PIN];
	bool out = f->irq_level && pin >= 1 && pin <= 4 &&
		   !(cmd_of(f) & PCI_CMD_INTX_DISABLE);

	/* Interrupt Status reflects the request even while masked. */
	if (f->irq_level)
		f->cfg[PCI_STATUS] |= PCI_STATUS_INTX;
	else
		f->cfg[PCI_STATUS] &= ~PCI_STATUS_INTX;
	if (out == f->irq_out)
		return;
	f->irq_out = out;
	int pirq = func_pirq(f);
	if (out && pb->pirq_count[pirq]++ == 0 && pb->pirq.set)
		pb->pirq.set(pb->pirq.opaque, pirq, 1);
	if (!out && --pb->pirq_count[pirq] == 0 && pb->pirq.set)
		pb->pirq.set(pb->pirq.opaque, pirq, 0);
}

void pci_set_irq(struct pci_func *f, int level)
{
	f->irq_level = level != 0;
	update_intx(f);
}

int pci_bus_pirq_level(const struct pci_bus *pb, int pirq)
{
	return pirq >= 0 && pirq < 4 && pb->pirq_count[pirq] > 0;
}

/* ---- configuration space of one function ---- */

static bool cfg_access_ok(unsigned off, unsigned size)
{
	return (size == 1 || size == 2 || size == 4) && off < 256 &&
	       off + size <= 256;
}

uint32_t pci_cfg_read(struct pci_func *f, unsigned off, unsigned size)
{
	if (!cfg_access_ok(off, size))
		return size_mask(size);
	uint32_t val = get_le(&f->cfg[off], size);
	if (f->cfg_ops && f->cfg_ops->read)
		val = f->cfg_ops->read(f->cfg_dev, off, size, val);
	return val & size_mask(size);
}

void pci_cfg_write(struct pci_func *f, unsigned off, unsigned size,
		   uint32_t val)
{
	if (!cfg_access_ok(off, size))
		return;
	val &= size_mask(size);
	for (unsigned i = 0; i < size; i++) {
		unsigned o = off + i;
		uint8_t b = val >> (8 * i);
		f->cfg[o] = (f->cfg[o] & ~f->wmask[o]) | (b & f->wmask[o]);
		f->cfg[o] &= ~(b & f->w1c[o]);
	}
	if (overlaps(off, size, PCI_COMMAND, 2))
		update_intx(f);
	if (overlaps(off, size, PCI_COMMAND, 2) ||
	    overlaps(off, size, PCI_BAR0, 4 * PCI_NUM_BARS) ||
	    overlaps(off, size, PCI_ROM_ADDRESS, 4))
		update_mappings(f);
	if (f->cfg_ops && f->cfg_ops->write)
		f->cfg_ops->write(f->cfg_dev, off, size, val);
}

void pci_set_writable(struct pci_func *f, unsigned off, unsigned len,
		      uint8_t mask)
{
	for (unsigned i = off; i < off + len && i < 256; i++)
		f->wmask[i] = mask;
}

void pci_set_cfg_ops(struct pci_func *f, const struct pci_cfg_ops *ops,
		     void *dev)
{
	f->cfg_ops = ops;
	f->cfg_dev = dev;
}

void pci_status_set(struct pci_func *f, uint16_t bits)
{
	uint16_t st = get_le(&f->cfg[PCI_STATUS], 2);
	put_le(&f->cfg[PCI_STATUS], 2, st | (bits & PCI_STATUS_W1C));
}

bool pci_bus_master(const struct pci_func *f)
{
	return cmd_of(f) & PCI_CMD_MASTER;
}

uint32_t pci_bar_addr(const struct pci_func *f, int bar)
{
	if (bar < 0 || bar > PCI_ROM_SLOT || !f->bar[bar].size)
		return 0;
	uint32_t raw = get_le(&f->cfg[bar_off(bar)], 4);
	if (bar == PCI_ROM_SLOT)
		return raw & 0xfffff800u;
	return raw & (bar_is_io(f, bar) ? ~3u : ~0xfu);
}

bool pci_bar_mapped(const struct pci_func *f, int bar)
{
	return bar >= 0 && bar <= PCI_ROM_SLOT && f->bar[bar].mapped;
}

static bool pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

static void put_hex(char *p, unsigned v, int digits)
{
	for (int i = digits - 1; i >= 0; i--, v >>= 4)
		p[i] = "0123456789abcdef"[v & 15];
}

/* "pciDD.F-barN" or "pciDD.F-rom": the bus range name, for tracing. */
static void bar_name(char *name, const struct pci_func *f, int bar)
{
	memcpy(name, "pci", 3);
	put_hex(name + 3, f->devnr, 2);
	name[5] = '.';
	put_hex(name + 6, f->fn, 1);
	if (bar == PCI_ROM_SLOT) {
		memcpy(name + 7, "-rom", 5);
	} else {
		memcpy(name + 7, "-bar", 4);
		name[11] = '0' + bar;
		name[12] = 0;
	}
}

static void bar_init(struct pci_func *f, int bar, uint32_t size, uint32_t flags,
		     const struct io_ops *ops, void *dev)
{
	struct pci_bar *b = &f->bar[bar];
	unsigned off = bar_off(bar);
	uint32_t wm;

	if (b->mapped)
		bus_unregister(bar_bus(f, bar), b->map_addr, b->dev);
	b->mapped = b->conflict = false;
	b->size = size;
	b->flags = flags;
	b->ops = ops;
	b->dev = dev;
	if (bar == PCI_ROM_SLOT)
		wm = (~(size - 1) & 0xfffff800u) | PCI_ROM_ENABLE;
	else
		wm = ~(size - 1) & ((flags & PCI_BAR_IO) ? ~3u : ~0xfu);
	put_le(&f->wmask[off], 4, wm);
	put_le(&f->cfg[off], 4, bar == PCI_ROM_SLOT ? 0 : flags);
	bar_name(b->name, f, bar);
}

int pci_set_bar(struct pci_func *f, int bar, uint32_t size, uint32_t flags,
		const struct io_ops *ops, void *dev)
{
	if (bar < 0 || bar >= PCI_NUM_BARS || !ops || !pow2(size))
		return -1;
	if (flags & PCI_BAR_IO) {
		if (flags != PCI_BAR_IO || size < 4 || size > 256)
			return -1;
	} else if ((flags & ~PCI_BAR_PREFETCH) || size < 16 ||
		   size > 0x80000000u) {
		return -1;
	}
	bar_init(f, bar, size, flags, ops, dev);
	return 0;
}

int pci_set_rom(struct pci_func *f, uint32_t size, const struct io_ops *ops,
		void *dev)
{
	if (!ops || !pow2(size) || size < 2048 || size > 0x80000000u)
		return -1;
	bar_init(f, PCI_ROM_SLOT, size, 0, ops, dev);
	return 0;
}

int pci_add_cap(struct pci_func *f, uint8_t id, unsigned off, unsigned len)
{
	if ((off & 3) || off < 0x40 || len < 2 || off + len > 256)
		return -1;
	for (unsigned i = off; i < off + len; i++)
		if (f->caps_used[i / 8] & (1u << (i % 8)))
			return -1;
	for (unsigned i = off; i < off + len; i++)
		f->caps_used[i / 8] |= 1u << (i % 8);
	f->cfg[off] = id;
	f->cfg[off + 1] = f->cfg[PCI_CAP_PTR];
	f->wmask[off] = f->wmask[off + 1] = 0;
	f->cfg[PCI_CAP_PTR] = off;
	f->cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	return off;
}

/* ---- the bus ---- */

static struct pci_func *func_at(struct pci_bus *pb, unsigned busnr,
				unsigned devnr, unsigned fn)
{
	if (busnr != 0 || devnr >= 32 || fn >= 8)
		return NULL;
	return pb->func[devnr * 8 + fn];
}

uint32_t pci_bus_cfg_read(struct pci_bus *pb, unsigned busnr, unsigned devnr,
			  unsigned fn, unsigned off, unsigned size)
{
	struct pci_func *f = func_at(pb, busnr, devnr, fn);
	if (!f)
		return size_mask(size); /* master abort: all ones */
	return pci_cfg_read(f, off, size);
}

void pci_bus_cfg_write(struct pci_bus *pb, unsigned busnr, unsigned devnr,
		       unsigned fn, unsigned off, unsigned size, uint32_t val)
{
	struct pci_func *f = func_at(pb, busnr, devnr, fn);
	if (f)
		pci_cfg_write(f, off, size, val);
}

/* Keeps header type bit 7 of function 0 in step with its siblings. */
static void update_multifunc(struct pci_bus *pb, int devnr)
{
	struct pci_func *f0 = pb->func[devnr * 8];
	bool multi = false;
	for (int fn = 1; fn < 8; fn++)
		multi |= pb->func[devnr * 8 + fn] != NULL;
	if (f0 && multi)
		f0->cfg[PCI_HEADER_TYPE] |= PCI_HEADER_MULTIFUNC;
}

static void header_init(struct pci_func *f, uint16_t vendor, uint16_t device,
			uint32_t class_rev, uint16_t subvendor, uint16_t subsys,
			uint8_t int_pin)
{
	put_le(&f->cfg[PCI_VENDOR_ID], 2, vendor);
	put_le(&f->cfg[PCI_DEVICE_ID], 2, device);
	put_le(&f->cfg[PCI_CLASS_REVISION], 4, class_rev);
	put_le(&f->cfg[PCI_SUBSYS_VENDOR], 2, subvendor);
	put_le(&f->cfg[PCI_SUBSYS_ID], 2, subsys);
	f->cfg[PCI_INTERRUPT_PIN] = int_pin <= 4 ? int_pin : 0;
	put_le(&f->wmask[PCI_COMMAND], 2,
	       PCI_CMD_IO | PCI_CMD_MEMORY | PCI_CMD_MASTER | PCI_CMD_PARITY |
		   PCI_CMD_SERR | PCI_CMD_INTX_DISABLE);
	put_le(&f->w1c[PCI_STATUS], 2, PCI_STATUS_W1C);
	f->wmask[PCI_CACHE_LINE] = 0xff;
	f->wmask[PCI_LATENCY] = 0xff;
	f->wmask[PCI_INTERRUPT_LINE] = 0xff;
}

struct pci_func *pci_add_func(struct pci_bus *pb, int devnr, int fn,
			      uint16_t vendor, uint16_t device,
			      uint32_t class_rev, uint16_t subvendor,
			      uint16_t subsys, uint8_t int_pin)
{
	if (devnr < 0 || devnr >= 32 || fn < 0 || fn >= 8 ||
	    pb->func[devnr * 8 + fn])
		return NULL;
	struct pci_func *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->bus = pb;
	f->devnr = devnr;
	f->fn = fn;
	header_init(f, vendor, device, class_rev, subvendor, subsys, int_pin);
	pb->func[devnr * 8 + fn] = f;
	update_multifunc(pb, devnr);
	return f;
}

/* ---- configuration mechanism #1 ---- */

static uint64_t cf9_read(struct pci_bus *pb)
{
	if (pb->cf9_ops && pb->cf9_ops->read)
		return pb->cf9_ops->read(pb->cf9_dev, 0, 1) & 0xff;
	pb->io->unclaimed_reads++;
	return 0xff;
}

static uint64_t addr_read(void *dev, uint64_t off, unsigned size)
{
	struct pci_bus *pb = dev;
	uint64_t v = 0;

	if (off == 0 && size == 4)
		return pb->cfg_addr;
	for (unsigned i = 0; i < size; i++) {
		uint64_t b;
		if (off + i == 1)
			b = cf9_read(pb);
		else {
			b = 0xff;
			pb->io->unclaimed_reads++;
		}
		v |= b << (8 * i);
	}
	return v;
}

static void addr_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct pci_bus *pb = dev;

	if (off == 0 && size == 4) {
		pb->cfg_addr = val & CFG_ADDR_MASK;
		return;
	}
	for (unsigned i = 0; i < size; i++) {
		uint8_t b = val >> (8 * i);
		if (off + i == 1 && pb->cf9_ops && pb->cf9_ops->write)
			pb->cf9_ops->write(pb->cf9_dev, 0, 1, b);
		else
			pb->io->unclaimed_writes++;
	}
}

/* Decodes CONFIG_ADDRESS; false when the enable bit is clear. */
static bool cfg_target(const struct pci_bus *pb, uint64_t off, unsigned *bus,
		       unsigned *devnr, unsigned *fn, unsigned *reg)
{
	uint32_t a = pb->cfg_addr;
	if (!(a & CFG_ADDR_ENABLE))
		return false;
	*bus = (a >> 16) & 0xff;
	*devnr = (a >> 11) & 0x1f;
	*fn = (a >> 8) & 7;
	*reg = (a & 0xfc) + off;
	return true;
}

static uint64_t data_read(void *dev, uint64_t off, unsigned size)
{
	struct pci_bus *pb = dev;
	unsigned bus, devnr, fn, reg;

	if (off + size > 4 || !cfg_target(pb, off, &bus, &devnr, &fn, &reg))
		return size_mask(size);
	return pci_bus_cfg_read(pb, bus, devnr, fn, reg, size);
}

static void data_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct pci_bus *pb = dev;
	unsigned bus, devnr, fn, reg;

	if (off + size > 4 || !cfg_target(pb, off, &bus, &devnr, &fn, &reg))
		return;
	pci_bus_cfg_write(pb, bus, devnr, fn, reg, size, val);
}

static const struct io_ops addr_ops = {.read = addr_read, .write = addr_write};
static const struct io_ops data_ops = {.read = data_read, .write = data_write};

struct pci_bus *pci_bus_new(struct bus *io, struct bus *mmio)
{
	struct pci_bus *pb = calloc(1, sizeof(*pb));
	if (!pb)
		return NULL;
	pb->io = io;
	pb->mmio = mmio;
	return pb;
}

int pci_bus_attach(struct pci_bus *pb)
{
	if (bus_register(pb->io, PCI_CONFIG_ADDRESS_PORT, 4, &addr_ops, pb,
			 "pci-conf-addr") < 0)
		return -1;
	if (bus_register(pb->io, PCI_CONFIG_DATA_PORT, 4, &data_ops, pb,
			 "pci-conf-data") < 0) {
		bus_unregister(pb->io, PCI_CONFIG_ADDRESS_PORT, pb);
		return -1;
	}
	return 0;
}

void pci_bus_set_cf9(struct pci_bus *pb, const struct io_ops *ops, void *dev)
{
	pb->cf9_ops = ops;
	pb->cf9_dev = dev;
}

void pci_bus_set_pirq_sink(struct pci_bus *pb, struct pci_pirq_sink sink)
{
	pb->pirq = sink;
}

static void func_reset(struct pci_func *f)
{
	for (unsigned i = 0; i < 0x40; i++)
		f->cfg[i] &= ~(f->wmask[i] | f->w1c[i]);
	update_intx(f);
	update_mappings(f);
}

void pci_bus_reset(struct pci_bus *pb)
{
	pb->cfg_addr = 0;
	for (unsigned i = 0; i < 256; i++)
		if (pb->func[i])
			func_reset(pb->func[i]);
}

void pci_bus_free(struct pci_bus *pb)
{
	if (!pb)
		return;
	for (unsigned i = 0; i < 256; i++) {
		if (pb->func[i]) {
			unmap_all(pb->func[i]);
			free(pb->func[i]);
		}
	}
	/* Fails harmlessly if pci_bus_attach() was never called. */
	bus_unregister(pb->io, PCI_CONFIG_ADDRESS_PORT, pb);
	bus_unregister(pb->io, PCI_CONFIG_DATA_PORT, pb);
	free(pb);
}
