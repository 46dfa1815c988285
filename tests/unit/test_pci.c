/* PCI conf1, generic config space, BAR mapping, i440FX and PIIX3. */
#include <criterion/criterion.h>

#include "hw/i440fx.h"
#include "hw/pci.h"
#include "hw/piix3.h"
#include "tests/unit/fake_guest.h"

struct fake_pic {
	int level[16];
	int changes;
};

static void fake_pic_set(void *opaque, int line, int level)
{
	struct fake_pic *p = opaque;
	if (line >= 0 && line < 16) {
		p->level[line] = level;
		p->changes++;
	}
}

/* A device behind a BAR: reads return 0xAB00 + offset. */
struct fake_dev {
	int reads, writes;
	uint64_t last_off, last_val;
	int moves, cfg_writes;
	int last_bar;
	uint32_t last_addr;
	bool last_mapped;
	unsigned last_cfg_off;
	uint32_t last_cfg_val;
};

static uint64_t fake_read(void *dev, uint64_t off, unsigned size)
{
	struct fake_dev *d = dev;
	(void)size;
	d->reads++;
	d->last_off = off;
	return 0xab00 + off;
}

static void fake_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct fake_dev *d = dev;
	(void)size;
	d->writes++;
	d->last_off = off;
	d->last_val = val;
}

static const struct io_ops fake_ops = {.read = fake_read, .write = fake_write};

static void fake_moved(void *dev, int bar, uint32_t addr, bool mapped)
{
	struct fake_dev *d = dev;
	d->moves++;
	d->last_bar = bar;
	d->last_addr = addr;
	d->last_mapped = mapped;
}

static void fake_cfg_write(void *dev, unsigned off, unsigned size, uint32_t val)
{
	struct fake_dev *d = dev;
	(void)size;
	d->cfg_writes++;
	d->last_cfg_off = off;
	d->last_cfg_val = val;
}

static const struct pci_cfg_ops fake_cfg = {.write = fake_cfg_write,
					    .bar_moved = fake_moved};

struct machine {
	struct bus io, mmio;
	struct pci_bus *pb;
	struct i440fx nb;
	struct piix3 sb;
	struct fake_pic pic;
};

static void machine_init(struct machine *m)
{
	memset(m, 0, sizeof(*m));
	bus_init(&m->io, "port");
	bus_init(&m->mmio, "mmio");
	m->pb = pci_bus_new(&m->io, &m->mmio);
	cr_assert_not_null(m->pb);
	cr_assert_eq(pci_bus_attach(m->pb), 0);
	cr_assert_eq(i440fx_init(&m->nb, m->pb), 0);
	struct irq_chip chip = {.set = fake_pic_set, .opaque = &m->pic};
	cr_assert_eq(piix3_init(&m->sb, m->pb, chip), 0);
}

static void machine_fini(struct machine *m)
{
	pci_bus_free(m->pb);
	cr_assert_eq(m->io.n, 0, "pci_bus_free left %zu port ranges", m->io.n);
	cr_assert_eq(m->mmio.n, 0);
	bus_destroy(&m->io);
	bus_destroy(&m->mmio);
}

static uint32_t in(struct bus *b, uint16_t port, unsigned size)
{
	uint32_t v = 0;
	bus_access(b, port, size, false, &v, 1);
	return v;
}

static void out(struct bus *b, uint16_t port, unsigned size, uint32_t v)
{
	bus_access(b, port, size, true, &v, 1);
}

static uint32_t cfg_addr(unsigned bus, unsigned dev, unsigned fn, unsigned off)
{
	return 0x80000000u | bus << 16 | dev << 11 | fn << 8 | (off & 0xfc);
}

static uint32_t cfg_rd(struct machine *m, unsigned dev, unsigned fn,
		       unsigned off, unsigned size)
{
	out(&m->io, 0xcf8, 4, cfg_addr(0, dev, fn, off));
	return in(&m->io, 0xcfc + (off & 3), size);
}

static void cfg_wr(struct machine *m, unsigned dev, unsigned fn, unsigned off,
		   unsigned size, uint32_t v)
{
	out(&m->io, 0xcf8, 4, cfg_addr(0, dev, fn, off));
	out(&m->io, 0xcfc + (off & 3), size, v);
}

static uint32_t mmio_rd(struct machine *m, uint64_t a)
{
	uint32_t v = 0;
	bus_access(&m->mmio, a, 4, false, &v, 1);
	return v;
}

Test(pci, ids_all_sizes_and_offsets)
{
	struct machine m;
	machine_init(&m);
	cr_assert_eq(cfg_rd(&m, 0, 0, 0, 4), 0x12378086);
	cr_assert_eq(cfg_rd(&m, 0, 0, 0, 2), 0x8086);
	cr_assert_eq(cfg_rd(&m, 0, 0, 2, 2), 0x1237);
	cr_assert_eq(cfg_rd(&m, 0, 0, 1, 2), 0x3780); /* word at 0xCFD */
	const uint8_t id[4] = {0x86, 0x80, 0x37, 0x12};
	for (unsigned i = 0; i < 4; i++)
		cr_assert_eq(cfg_rd(&m, 0, 0, i, 1), id[i]);
	cr_assert_eq(cfg_rd(&m, 0, 0, 0x08, 4), 0x06000002);
	cr_assert_eq(cfg_rd(&m, 0, 0, 0x2c, 4), 0x11001af4);
	cr_assert_eq(cfg_rd(&m, 0, 0, 0x0e, 1), 0x00);
	cr_assert_eq(cfg_rd(&m, 1, 0, 0, 4), 0x70008086);
	cr_assert_eq(cfg_rd(&m, 1, 0, 0x08, 4), 0x06010000);
	cr_assert_eq(cfg_rd(&m, 1, 0, 0x0a, 2), 0x0601);
	cr_assert_eq(cfg_rd(&m, 1, 0, 0x0e, 1), 0x80);
	cr_assert_eq(cfg_rd(&m, 1, 0, 0x2c, 4), 0x11001af4);
	/* The conf1 probe Linux runs. */
	out(&m.io, 0xcf8, 4, 0x80000000);
	cr_assert_eq(in(&m.io, 0xcf8, 4), 0x80000000);
	machine_fini(&m);
}

Test(pci, absent_device_function_bus_read_all_ones)
{
	struct machine m;
	machine_init(&m);
	for (unsigned size = 1; size <= 4; size *= 2) {
		uint32_t ones = size == 4 ? 0xffffffff : (1u << 8 * size) - 1;
		cr_assert_eq(cfg_rd(&m, 5, 0, 0, size), ones);
		cr_assert_eq(cfg_rd(&m, 31, 7, 0xfc, size), ones);
		cr_assert_eq(cfg_rd(&m, 0, 1, 0, size), ones); /* fn 1 */
		cr_assert_eq(cfg_rd(&m, 1, 2, 0, size), ones);
		out(&m.io, 0xcf8, 4, cfg_addr(1, 0, 0, 0)); /* bus 1 */
		cr_assert_eq(in(&m.io, 0xcfc, size), ones);
		out(&m.io, 0xcf8, 4, 0x00000000); /* enable bit clear */
		cr_assert_eq(in(&m.io, 0xcfc, size), ones);
	}
	/* Writes there change nothing, nowhere. */
	out(&m.io, 0xcf8, 4, cfg_addr(1, 0, 0, 0x3c));
	out(&m.io, 0xcfc, 1, 0x55);
	out(&m.io, 0xcf8, 4, 0x3c);
	out(&m.io, 0xcfc, 1, 0x66);
	cr_assert_eq(cfg_rd(&m, 0, 0, 0x3c, 1), 0);
	machine_fini(&m);
}

struct cf9 {
	int reads, writes;
	uint8_t val;
};

static uint64_t cf9_read(void *dev, uint64_t off, unsigned size)
{
	struct cf9 *c = dev;
	cr_assert_eq(off, 0);
	cr_assert_eq(size, 1);
	c->reads++;
	return c->val;
}

static void cf9_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct cf9 *c = dev;
	cr_assert_eq(off, 0);
	cr_assert_eq(size, 1);
	c->writes++;
	c->val = val;
}

static const struct io_ops cf9_ops = {.read = cf9_read, .write = cf9_write};

Test(pci, config_address_register)
{
	struct machine m;
	machine_init(&m);
	/* Reserved bits 30-24 and 1-0 read as zero. */
	out(&m.io, 0xcf8, 4, 0xffffffff);
	cr_assert_eq(in(&m.io, 0xcf8, 4), 0x80fffffc);
	out(&m.io, 0xcf8, 4, 0x80000a08);
	cr_assert_eq(in(&m.io, 0xcf8, 4), 0x80000a08);
	/* Byte/word accesses are not CONFIG_ADDRESS (Linux's conf2 probe
	 * must fail): unclaimed-like. */
	uint64_t ur = m.io.unclaimed_reads, uw = m.io.unclaimed_writes;
	out(&m.io, 0xcfb, 1, 0x01);
	out(&m.io, 0xcf8, 1, 0x00);
	out(&m.io, 0xcfa, 2, 0x0000);
	cr_assert_eq(in(&m.io, 0xcf8, 4), 0x80000a08);
	cr_assert_eq(in(&m.io, 0xcf8, 1), 0xff);
	cr_assert_eq(in(&m.io, 0xcfa, 1), 0xff);
	cr_assert_eq(in(&m.io, 0xcf8, 2), 0xffff);
	cr_assert_gt(m.io.unclaimed_reads, ur);
	cr_assert_gt(m.io.unclaimed_writes, uw);
	/* 0xCF9 is the reset-control hook's. */
	struct cf9 c = {.val = 0x02};
	pci_bus_set_cf9(m.pb, &cf9_ops, &c);
	cr_assert_eq(in(&m.io, 0xcf9, 1), 0x02);
	out(&m.io, 0xcf9, 1, 0x06);
	cr_assert_eq(c.writes, 1);
	cr_assert_eq(c.val, 0x06);
	out(&m.io, 0xcf8, 2, 0x0400); /* word: the high byte lands on 0xCF9 */
	cr_assert_eq(c.writes, 2);
	cr_assert_eq(c.val, 0x04);
	out(&m.io, 0xcf8, 4, 0x80000000); /* dword: never the hook */
	cr_assert_eq(c.writes, 2);
	cr_assert_eq(in(&m.io, 0xcf8, 4), 0x80000000);
	cr_assert_eq(c.reads, 1);
	machine_fini(&m);
}

/* A test function at dev.fn with BAR0 I/O 16, BAR1 mem 4 KiB, BAR2 mem
 * prefetchable 1 MiB, ROM 64 KiB, INTA. */
static struct pci_func *add_test_func(struct machine *m, int dev, int fn,
				      struct fake_dev *d)
{
	struct pci_func *f = pci_add_func(m->pb, dev, fn, 0x1234, 0x5678,
					  0x02000001, 0x1af4, 0x1100, 1);
	cr_assert_not_null(f);
	cr_assert_eq(pci_set_bar(f, 0, 16, PCI_BAR_IO, &fake_ops, d), 0);
	cr_assert_eq(pci_set_bar(f, 1, 4096, PCI_BAR_MEM32, &fake_ops, d), 0);
	cr_assert_eq(pci_set_bar(f, 2, 1 << 20, PCI_BAR_PREFETCH, &fake_ops, d),
		     0);
	cr_assert_eq(pci_set_rom(f, 65536, &fake_ops, d), 0);
	pci_set_cfg_ops(f, &fake_cfg, d);
	return f;
}

Test(pci, bar_sizing)
{
	struct machine m;
	struct fake_dev d = {0};
	machine_init(&m);
	add_test_func(&m, 3, 0, &d);
	cr_assert_eq(cfg_rd(&m, 3, 0, 0x10, 4), 0x00000001);
	cr_assert_eq(cfg_rd(&m, 3, 0, 0x18, 4), 0x00000008);
	for (unsigned off = 0x10; off < 0x28; off += 4)
		cfg_wr(&m, 3, 0, off, 4, 0xffffffff);
	cr_assert_eq(cfg_rd(&m, 3, 0, 0x10, 4), 0xfffffff1);
	cr_assert_eq(cfg_rd(&m, 3, 0, 0x14, 4), 0xfffff000);
	cr_assert_eq(cfg_rd(&m, 3, 0, 0x18, 4), 0xfff00008);
	for (unsigned off = 0x1c; off < 0x28; off += 4)
		cr_assert_eq(cfg_rd(&m, 3, 0, off, 4), 0, "absent BAR %x", off);
	cfg_wr(&m, 3, 0, 0x30, 4, 0xfffffffe); /* ~ROM enable, like Linux */
	cr_assert_eq(cfg_rd(&m, 3, 0, 0x30, 4), 0xffff0000);
	cfg_wr(&m, 3, 0, 0x30, 4, 0xffffffff);
	cr_assert_eq(cfg_rd(&m, 3, 0, 0x30, 4), 0xffff0001);
	/* The host bridge has no ROM BAR or BARs. */
	cfg_wr(&m, 0, 0, 0x30, 4, 0xffffffff);
	cr_assert_eq(cfg_rd(&m, 0, 0, 0x30, 4), 0);
	cfg_wr(&m, 0, 0, 0x10, 4, 0xffffffff);
	cr_assert_eq(cfg_rd(&m, 0, 0, 0x10, 4), 0);
	/* Bad descriptions are refused. */
	struct pci_func *f = m.pb->func[3 * 8];
	cr_assert_eq(pci_set_bar(f, 6, 16, PCI_BAR_IO, &fake_ops, &d), -1);
	cr_assert_eq(pci_set_bar(f, 3, 24, PCI_BAR_IO, &fake_ops, &d), -1);
	cr_assert_eq(pci_set_bar(f, 3, 512, PCI_BAR_IO, &fake_ops, &d), -1);
	cr_assert_eq(pci_set_bar(f, 3, 8, PCI_BAR_MEM32, &fake_ops, &d), -1);
	cr_assert_eq(pci_set_rom(f, 1024, &fake_ops, &d), -1);
	machine_fini(&m);
}

Test(pci, bar_move_reregisters)
{
	struct machine m;
	struct fake_dev d = {0};
	machine_init(&m);
	struct pci_func *f = add_test_func(&m, 3, 0, &d);
	cfg_wr(&m, 3, 0, 0x10, 4, 0xc000);
	cfg_wr(&m, 3, 0, 0x14, 4, 0xfebf0000);
	cfg_wr(&m, 3, 0, 0x18, 4, 0xfd000000);
	/* Decode still off: nothing registered. */
	cr_assert_eq(in(&m.io, 0xc004, 1), 0xff);
	cr_assert_eq(d.reads, 0);
	cr_assert_null(bus_find(&m.mmio, 0xfebf0000));
	cfg_wr(&m, 3, 0, 0x04, 2, PCI_CMD_IO | PCI_CMD_MEMORY);
	cr_assert(pci_bar_mapped(f, 0) && pci_bar_mapped(f, 1));
	cr_assert_eq(pci_bar_addr(f, 0), 0xc000);
	cr_assert_eq(pci_bar_addr(f, 2), 0xfd000000);
	cr_assert_eq(in(&m.io, 0xc004, 2), 0xab04);
	cr_assert_eq(d.last_off, 4);
	cr_assert_eq(mmio_rd(&m, 0xfebf0010), 0xab10);
	cr_assert_eq(mmio_rd(&m, 0xfd0ffff0), 0xab00 + 0xffff0);
	/* Move the I/O BAR with a word write to its low half. */
	d.moves = 0;
	cfg_wr(&m, 3, 0, 0x10, 2, 0xc101); /* low bits are read-only */
	cr_assert_eq(cfg_rd(&m, 3, 0, 0x10, 4), 0xc101);
	cr_assert_eq(d.moves, 1);
	cr_assert_eq(d.last_bar, 0);
	cr_assert_eq(d.last_addr, 0xc100);
	cr_assert(d.last_mapped);
	int reads = d.reads;
	cr_assert_eq(in(&m.io, 0xc004, 1), 0xff);
	cr_assert_eq(d.reads, reads);
	cr_assert_eq(in(&m.io, 0xc10f, 1), (0xab0f & 0xff));
	cr_assert_null(bus_find(&m.io, 0xc110));
	/* Memory BAR move. */
	cfg_wr(&m, 3, 0, 0x14, 4, 0xfebe0000);
	cr_assert_null(bus_find(&m.mmio, 0xfebf0000));
	cr_assert_eq(mmio_rd(&m, 0xfebe0ffc), 0xab00 + 0xffc);
	/* ROM: needs its enable bit and memory decode. */
	cfg_wr(&m, 3, 0, 0x30, 4, 0xfeb00000);
	cr_assert_null(bus_find(&m.mmio, 0xfeb00000));
	cfg_wr(&m, 3, 0, 0x30, 1, 0x01);
	cr_assert_eq(mmio_rd(&m, 0xfeb00100), 0xab00 + 0x100);
	cr_assert_eq(pci_bar_addr(f, PCI_ROM_SLOT), 0xfeb00000);
	/* Decode off through the command register: all unregistered. */
	cfg_wr(&m, 3, 0, 0x04, 1, PCI_CMD_MEMORY);
	cr_assert_null(bus_find(&m.io, 0xc100));
	cr_assert_not_null(bus_find(&m.mmio, 0xfebe0000));
	cfg_wr(&m, 3, 0, 0x04, 2, 0);
	cr_assert_null(bus_find(&m.mmio, 0xfebe0000));
	cr_assert_null(bus_find(&m.mmio, 0xfeb00000));
	cr_assert_eq(mmio_rd(&m, 0xfebe0000), 0xffffffff);
	cr_assert(!pci_bar_mapped(f, 1));
	cr_assert_eq(d.last_mapped, false);
	/* Sizing pattern with decode on never maps at the top. */
	cfg_wr(&m, 3, 0, 0x04, 2, PCI_CMD_IO | PCI_CMD_MEMORY);
	cfg_wr(&m, 3, 0, 0x14, 4, 0xffffffff);
	cfg_wr(&m, 3, 0, 0x10, 4, 0xffffffff);
	cr_assert(!pci_bar_mapped(f, 0) && !pci_bar_mapped(f, 1));
	cr_assert_null(bus_find(&m.mmio, 0xfffff000));
	machine_fini(&m);
}

Test(pci, bus_reset_clears_header_and_unmaps)
{
	struct machine m;
	struct fake_dev d = {0};
	machine_init(&m);
	struct pci_func *f = add_test_func(&m, 3, 0, &d);
	cfg_wr(&m, 3, 0, 0x10, 4, 0xc000);
	cfg_wr(&m, 3, 0, 0x14, 4, 0xfebf0000);
	cfg_wr(&m, 3, 0, 0x3c, 1, 11);
	cfg_wr(&m, 3, 0, 0x04, 2, 0x0107);
	pci_status_set(f, 0x2000);
	cr_assert_not_null(bus_find(&m.io, 0xc000));
	pci_bus_reset(m.pb);
	cr_assert_eq(in(&m.io, 0xcf8, 4), 0);
	cr_assert_null(bus_find(&m.io, 0xc000));
	cr_assert_null(bus_find(&m.mmio, 0xfebf0000));
	cr_assert_eq(cfg_rd(&m, 3, 0, 0x04, 4), 0);
	cr_assert_eq(cfg_rd(&m, 3, 0, 0x10, 4), 0x00000001);
	cr_assert_eq(cfg_rd(&m, 3, 0, 0x18, 4), 0x00000008);
	cr_assert_eq(cfg_rd(&m, 3, 0, 0x3c, 2), 0x0100);
	cr_assert_eq(cfg_rd(&m, 3, 0, 0x00, 4), 0x56781234);
	/* Hardwired command bits of the bridges survive. */
	cr_assert_eq(cfg_rd(&m, 0, 0, 0x04, 2), 0x0006);
	cr_assert_eq(cfg_rd(&m, 1, 0, 0x04, 2), 0x0007);
	machine_fini(&m);
}

Test(pci, overlapping_bar_is_recorded_then_recovers)
{
	struct machine m;
	struct fake_dev a = {0}, b = {0}, pic = {0};
	machine_init(&m);
	struct pci_func *fa = add_test_func(&m, 3, 0, &a);
	struct pci_func *fb = add_test_func(&m, 4, 0, &b);
	cr_assert_eq(bus_register(&m.io, 0x20, 2, &fake_ops, &pic, "pic"), 0);
	cfg_wr(&m, 3, 0, 0x10, 4, 0xc000);
	cfg_wr(&m, 4, 0, 0x10, 4, 0xc008); /* overlaps 0xC000-0xC00F */
	cfg_wr(&m, 3, 0, 0x04, 2, PCI_CMD_IO);
	cfg_wr(&m, 4, 0, 0x04, 2, PCI_CMD_IO);
	cr_assert(pci_bar_mapped(fa, 0));
	cr_assert(!pci_bar_mapped(fb, 0));
	cr_assert(fb->bar[0].conflict);
	cr_assert_eq(m.pb->bar_conflicts, 1);
	cr_assert_eq(bus_find(&m.io, 0xc008)->dev, &a);
	/* Moving the first away lets the second in. */
	cfg_wr(&m, 3, 0, 0x10, 4, 0xd000);
	cr_assert(pci_bar_mapped(fa, 0) && pci_bar_mapped(fb, 0));
	cr_assert_eq(bus_find(&m.io, 0xc008)->dev, &b);
	/* A BAR over the PIC is refused; the PIC keeps its ports. */
	cfg_wr(&m, 3, 0, 0x10, 4, 0x0020);
	cr_assert(!pci_bar_mapped(fa, 0));
	cr_assert_eq(bus_find(&m.io, 0x21)->dev, &pic);
	bus_unregister(&m.io, 0x20, &pic);
	machine_fini(&m);
}

Test(pci, command_status_and_read_only_fields)
{
	struct machine m;
	struct fake_dev d = {0};
	machine_init(&m);
	struct pci_func *f = add_test_func(&m, 3, 0, &d);
	cfg_wr(&m, 3, 0, 0x04, 2, 0xffff);
	cr_assert_eq(cfg_rd(&m, 3, 0, 0x04, 2), 0x0547);
	cr_assert(pci_bus_master(f));
	cfg_wr(&m, 3, 0, 0x04, 1, 0x03);
	cr_assert(!pci_bus_master(f));
	/* Status: error bits are write-1-to-clear, the rest read-only. */
	pci_status_set(f, 0xf900);
	cr_assert_eq(cfg_rd(&m, 3, 0, 0x06, 2), 0xf900);
	cfg_wr(&m, 3, 0, 0x06, 2, 0x0000);
	cr_assert_eq(cfg_rd(&m, 3, 0, 0x06, 2), 0xf900);
	cfg_wr(&m, 3, 0, 0x06, 2, 0x2100);
	cr_assert_eq(cfg_rd(&m, 3, 0, 0x06, 2), 0xd800);
	/* One dword write: command to 0, every error bit cleared. */
	cfg_wr(&m, 3, 0, 0x04, 4, 0xffff0000);
	cr_assert_eq(cfg_rd(&m, 3, 0, 0x04, 4), 0x00000000);
	cr_assert_eq(cfg_rd(&m, 1, 0, 0x06, 2), 0x0200);
	cfg_wr(&m, 1, 0, 0x06, 2, 0xffff);
	cr_assert_eq(cfg_rd(&m, 1, 0, 0x06, 2), 0x0200);
	/* Read-only identity, header type, pin; line, cache line r/w. */
	static const unsigned ro[] = {0x00, 0x08, 0x2c, 0x34};
	for (unsigned i = 0; i < 4; i++) {
		uint32_t before = cfg_rd(&m, 3, 0, ro[i], 4);
		cfg_wr(&m, 3, 0, ro[i], 4, ~before);
		cr_assert_eq(cfg_rd(&m, 3, 0, ro[i], 4), before);
	}
	cfg_wr(&m, 3, 0, 0x0c, 4, 0xffffffff);
	cr_assert_eq(cfg_rd(&m, 3, 0, 0x0c, 4), 0x0000ffff);
	cfg_wr(&m, 3, 0, 0x3c, 4, 0xffffffff);
	cr_assert_eq(cfg_rd(&m, 3, 0, 0x3c, 4), 0x000001ff);
	cfg_wr(&m, 3, 0, 0x3c, 1, 0x0b);
	cr_assert_eq(cfg_rd(&m, 3, 0, 0x3c, 2), 0x010b);
	cr_assert_eq(cfg_rd(&m, 1, 0, 0x3d, 1), 0);
	/* The device hook saw the writes after the generic handling. */
	cr_assert_eq(d.last_cfg_off, 0x3c);
	cr_assert_eq(d.last_cfg_val, 0x0b);
	machine_fini(&m);
}

Test(pci, multifunction_and_capabilities)
{
	struct machine m;
	struct fake_dev d = {0};
	machine_init(&m);
	struct pci_func *f = add_test_func(&m, 5, 0, &d);
	cr_assert_eq(cfg_rd(&m, 5, 0, 0x0e, 1), 0x00);
	cr_assert_null(pci_add_func(m.pb, 5, 0, 1, 2, 0, 0, 0, 0));
	cr_assert_null(pci_add_func(m.pb, 32, 0, 1, 2, 0, 0, 0, 0));
	cr_assert_not_null(pci_add_func(m.pb, 5, 3, 1, 2, 0, 0, 0, 0));
	cr_assert_eq(cfg_rd(&m, 5, 0, 0x0e, 1), 0x80);
	cr_assert_eq(cfg_rd(&m, 5, 3, 0, 4), 0x00020001);
	cr_assert_eq(cfg_rd(&m, 5, 0, 0x06, 2) & PCI_STATUS_CAP_LIST, 0);
	cr_assert_eq(pci_add_cap(f, 0x09, 0x50, 8), 0x50);
	cr_assert_eq(pci_add_cap(f, 0x05, 0x40, 16), 0x40);
	cr_assert_eq(pci_add_cap(f, 0x11, 0x4c, 4), -1); /* overlap */
	cr_assert_eq(pci_add_cap(f, 0x11, 0x3c, 4), -1);
	cr_assert_eq(pci_add_cap(f, 0x11, 0x62, 4), -1);
	cr_assert_eq(pci_add_cap(f, 0x11, 0xfc, 8), -1);
	cr_assert(cfg_rd(&m, 5, 0, 0x06, 2) & PCI_STATUS_CAP_LIST);
	cr_assert_eq(cfg_rd(&m, 5, 0, 0x34, 1), 0x40);
	cr_assert_eq(cfg_rd(&m, 5, 0, 0x40, 2), 0x5005);
	cr_assert_eq(cfg_rd(&m, 5, 0, 0x50, 2), 0x0009);
	cfg_wr(&m, 5, 0, 0x40, 4, 0xffffffff); /* header and body read-only */
	cr_assert_eq(cfg_rd(&m, 5, 0, 0x40, 4), 0x00005005);
	pci_set_writable(f, 0x42, 2, 0xff);
	cfg_wr(&m, 5, 0, 0x40, 4, 0xffffffff);
	cr_assert_eq(cfg_rd(&m, 5, 0, 0x40, 4), 0xffff5005);
	machine_fini(&m);
}

Test(pci, pirq_routing_and_sharing)
{
	struct machine m;
	struct fake_dev d = {0};
	machine_init(&m);
	/* INTA of slots 1, 2, 3 -> PIRQA, B, C (swizzle slot - 1 + pin - 1). */
	struct pci_func *f1 = pci_add_func(m.pb, 1, 2, 1, 2, 0, 0, 0, 1);
	struct pci_func *f2 = add_test_func(&m, 2, 0, &d);
	struct pci_func *f3 = add_test_func(&m, 3, 0, &d);
	struct pci_func *f1b = pci_add_func(m.pb, 1, 3, 1, 2, 0, 0, 0, 2);
	cfg_wr(&m, 1, 0, 0x60, 4, 0x05 << 24 | 11 << 16 | 10 << 8 | 9);
	cr_assert_eq(piix3_pirq_route(&m.sb, 0), 9);
	cr_assert_eq(piix3_pirq_route(&m.sb, 3), 5);
	pci_set_irq(f1, 1);
	cr_assert_eq(m.pic.level[9], 1);
	pci_set_irq(f2, 1);
	cr_assert_eq(m.pic.level[10], 1);
	pci_set_irq(f3, 1);
	cr_assert_eq(m.pic.level[11], 1);
	cr_assert_eq(m.pic.level[5], 0);
	pci_set_irq(f1, 0);
	pci_set_irq(f2, 0);
	pci_set_irq(f3, 0);
	cr_assert_eq(m.pic.level[9] | m.pic.level[10] | m.pic.level[11], 0);
	/* Two functions on one PIRQ (slot 1 INTB and slot 2 INTA). */
	pci_set_irq(f1b, 1);
	pci_set_irq(f2, 1);
	cr_assert_eq(pci_bus_pirq_level(m.pb, 1), 1);
	pci_set_irq(f1b, 0);
	cr_assert_eq(m.pic.level[10], 1);
	pci_set_irq(f2, 0);
	cr_assert_eq(m.pic.level[10], 0);
	/* Two PIRQs steered to one IRQ, as SeaBIOS does (A,B -> 10). */
	cfg_wr(&m, 1, 0, 0x60, 1, 10);
	pci_set_irq(f1, 1);
	pci_set_irq(f2, 1);
	pci_set_irq(f1, 0);
	cr_assert_eq(m.pic.level[10], 1);
	pci_set_irq(f2, 0);
	cr_assert_eq(m.pic.level[10], 0);
	/* Rerouting while asserted moves the level; disable drops it. */
	pci_set_irq(f3, 1);
	cfg_wr(&m, 1, 0, 0x62, 1, 12);
	cr_assert_eq(m.pic.level[11], 0);
	cr_assert_eq(m.pic.level[12], 1);
	cfg_wr(&m, 1, 0, 0x62, 1, 0x8c);
	cr_assert_eq(m.pic.level[12], 0);
	cr_assert_eq(cfg_rd(&m, 1, 0, 0x62, 1), 0x8c);
	cfg_wr(&m, 1, 0, 0x62, 1, 13); /* reserved IRQ: routes nowhere */
	cr_assert_eq(piix3_pirq_route(&m.sb, 2), -1);
	cr_assert_eq(m.pic.level[13], 0);
	cfg_wr(&m, 1, 0, 0x62, 1, 0xff); /* reserved bits 6:4 read 0 */
	cr_assert_eq(cfg_rd(&m, 1, 0, 0x62, 1), 0x8f);
	cfg_wr(&m, 1, 0, 0x62, 1, 11);
	cr_assert_eq(m.pic.level[11], 1);
	/* Interrupt Disable masks the pin; Interrupt Status still shows it. */
	cfg_wr(&m, 3, 0, 0x04, 2, PCI_CMD_INTX_DISABLE);
	cr_assert_eq(m.pic.level[11], 0);
	cr_assert(cfg_rd(&m, 3, 0, 0x06, 2) & PCI_STATUS_INTX);
	cfg_wr(&m, 3, 0, 0x04, 2, 0);
	cr_assert_eq(m.pic.level[11], 1);
	pci_set_irq(f3, 0);
	cr_assert_eq(m.pic.level[11], 0);
	cr_assert_eq(cfg_rd(&m, 3, 0, 0x06, 2) & PCI_STATUS_INTX, 0);
	/* Repeated levels change nothing. */
	int changes = m.pic.changes;
	pci_set_irq(f3, 0);
	pci_set_irq(f1, 0);
	cr_assert_eq(m.pic.changes, changes);
	machine_fini(&m);
}

/* What the IDE function (00:01.1) will need from this API. */
Test(pci, ide_like_function)
{
	struct machine m;
	struct fake_dev ide = {0};
	machine_init(&m);
	struct pci_func *f = pci_add_func(m.pb, 1, 1, 0x8086, 0x7010,
					  0x01018000, 0x1af4, 0x1100, 0);
	cr_assert_not_null(f);
	cr_assert_eq(pci_set_bar(f, 4, 16, PCI_BAR_IO, &fake_ops, &ide), 0);
	pci_set_writable(f, 0x40, 4, 0xff);
	pci_set_cfg_ops(f, &fake_cfg, &ide);
	cr_assert_eq(cfg_rd(&m, 1, 1, 0, 4), 0x70108086);
	cr_assert_eq(cfg_rd(&m, 1, 1, 0x08, 4), 0x01018000);
	cr_assert_eq(cfg_rd(&m, 1, 1, 0x20, 4), 0x00000001);
	cfg_wr(&m, 1, 1, 0x20, 4, 0xffffffff);
	cr_assert_eq(cfg_rd(&m, 1, 1, 0x20, 4), 0xfffffff1);
	cfg_wr(&m, 1, 1, 0x40, 2, 0x8000); /* IDETIM: decode enable */
	cr_assert_eq(ide.last_cfg_off, 0x40);
	cr_assert_eq(ide.last_cfg_val, 0x8000);
	cfg_wr(&m, 1, 1, 0x42, 2, 0x8000);
	cr_assert_eq(cfg_rd(&m, 1, 1, 0x40, 4), 0x80008000);
	cfg_wr(&m, 1, 1, 0x20, 4, 0xc040);
	cfg_wr(&m, 1, 1, 0x04, 2, PCI_CMD_IO | PCI_CMD_MASTER);
	cr_assert_eq(ide.moves, 1);
	cr_assert_eq(ide.last_bar, 4);
	cr_assert_eq(ide.last_addr, 0xc040);
	cr_assert(pci_bus_master(f));
	cr_assert_eq(pci_bar_addr(f, 4), 0xc040);
	out(&m.io, 0xc042, 1, 0x66);
	cr_assert_eq(ide.last_off, 2);
	cr_assert_eq(ide.last_val, 0x66);
	machine_fini(&m);
}

Test(pci, i440fx_pam_and_smram)
{
	struct machine m;
	machine_init(&m);
	cr_assert_eq(cfg_rd(&m, 0, 0, 0x04, 4), 0x02800006);
	cr_assert_eq(cfg_rd(&m, 0, 0, 0x59, 1), 0);
	/* What SeaBIOS writes to shadow itself, then to write-protect. */
	cfg_wr(&m, 0, 0, 0x59, 1, 0x30);
	for (unsigned off = 0x5a; off < 0x60; off++)
		cfg_wr(&m, 0, 0, off, 1, 0x33);
	cr_assert_eq(cfg_rd(&m, 0, 0, 0x58, 4), 0x33333000);
	cr_assert_eq(cfg_rd(&m, 0, 0, 0x5c, 4), 0x33333333);
	cfg_wr(&m, 0, 0, 0x59, 1, 0x10);
	cr_assert_eq(cfg_rd(&m, 0, 0, 0x59, 1), 0x10);
	cfg_wr(&m, 0, 0, 0x5c, 4, 0xffffffff); /* reserved bits stay 0 */
	cr_assert_eq(cfg_rd(&m, 0, 0, 0x5c, 4), 0x33333333);
	/* SMRAM: C_BASE_SEG hardwired to 010; D_LCK locks. */
	cr_assert_eq(cfg_rd(&m, 0, 0, 0x72, 1), 0x02);
	cfg_wr(&m, 0, 0, 0x72, 1, 0xff);
	cr_assert_eq(cfg_rd(&m, 0, 0, 0x72, 1), 0x3a); /* locked: no D_OPEN */
	cfg_wr(&m, 0, 0, 0x72, 1, 0x40);
	cr_assert_eq(cfg_rd(&m, 0, 0, 0x72, 1), 0x1a);
	i440fx_reset(&m.nb);
	cfg_wr(&m, 0, 0, 0x72, 1, 0x48);
	cr_assert_eq(cfg_rd(&m, 0, 0, 0x72, 1), 0x4a);
	machine_fini(&m);
}

Test(pci, piix3_defaults)
{
	struct machine m;
	machine_init(&m);
	cr_assert_eq(cfg_rd(&m, 1, 0, 0x04, 4), 0x02000007);
	cr_assert_eq(cfg_rd(&m, 1, 0, 0x60, 4), 0x80808080);
	cr_assert_eq(cfg_rd(&m, 1, 0, 0x4c, 4), 0x0003004d);
	cr_assert_eq(cfg_rd(&m, 1, 0, 0x68, 4), 0x00000200);
	cr_assert_eq(cfg_rd(&m, 1, 0, 0x70, 1), 0x80);
	cr_assert_eq(cfg_rd(&m, 1, 0, 0x76, 2), 0x0c0c);
	cr_assert_eq(cfg_rd(&m, 1, 0, 0xa8, 1), 0x0f);
	cfg_wr(&m, 1, 0, 0x69, 1, 0xf3);
	cr_assert_eq(cfg_rd(&m, 1, 0, 0x69, 1), 0xf2);
	cfg_wr(&m, 1, 0, 0x04, 2, 0);
	cr_assert_eq(cfg_rd(&m, 1, 0, 0x04, 2), 0x0007);
	cfg_wr(&m, 1, 0, 0x60, 1, 10);
	piix3_reset(&m.sb);
	cr_assert_eq(cfg_rd(&m, 1, 0, 0x60, 1), 0x80);
	machine_fini(&m);
}

static uint32_t rng_state = 0x12345678;

static uint32_t rng(void)
{
	return xorshift32(&rng_state);
}

static void check_bus(struct bus *b)
{
	for (size_t i = 1; i < b->n; i++)
		cr_assert_lt(b->r[i - 1].base + b->r[i - 1].len - 1,
			     b->r[i].base, "%s ranges %s and %s overlap",
			     b->name, b->r[i - 1].name, b->r[i].name);
}

/* Every BAR pci.c thinks is mapped is on its bus, owned by its device. */
static void check_bars(struct machine *m)
{
	for (unsigned i = 0; i < 256; i++) {
		struct pci_func *f = m->pb->func[i];
		for (int bar = 0; f && bar <= PCI_ROM_SLOT; bar++) {
			struct pci_bar *b = &f->bar[bar];
			struct bus *bus =
			    (bar < PCI_ROM_SLOT && (b->flags & PCI_BAR_IO))
				? &m->io
				: &m->mmio;
			if (b->conflict) {
				/* Refused only while something sits there. */
				uint64_t a =
				    pci_bar_addr(f, bar) & ~(b->size - 1);
				bool busy = false;
				for (size_t k = 0; k < bus->n; k++)
					busy |=
					    bus->r[k].base < a + b->size &&
					    a < bus->r[k].base + bus->r[k].len;
				cr_assert(busy, "stale conflict %02x.%x bar %d",
					  f->devnr, f->fn, bar);
			}
			if (!b->mapped)
				continue;
			struct bus_range *r = bus_find(bus, b->map_addr);
			cr_assert_not_null(r);
			cr_assert_eq(r->base, b->map_addr);
			cr_assert_eq(r->len, b->size);
			cr_assert_eq(r->dev, b->dev);
		}
	}
}

Test(pci, garbage_config_cycles)
{
	struct machine m;
	struct fake_dev d[4] = {{0}};
	struct pci_func *irqf[6];
	struct cf9 c = {0};
	machine_init(&m);
	pci_bus_set_cf9(m.pb, &cf9_ops, &c);
	irqf[0] = add_test_func(&m, 2, 0, &d[0]);
	irqf[1] = add_test_func(&m, 3, 0, &d[1]);
	irqf[2] = add_test_func(&m, 3, 1, &d[2]);
	irqf[3] = add_test_func(&m, 1, 2, &d[3]);
	irqf[4] = m.nb.f;
	irqf[5] = m.sb.f;
	cr_assert_eq(bus_register(&m.io, 0x1f0, 8, &fake_ops, &d[0], "ide"), 0);
	static const unsigned devs[] = {0, 1, 2, 3, 4};
	static const uint32_t pool[] = {0xc000,	    0xc008,	0x1f0,
					0xfebf0000, 0xfebf0800, 0xfeb00001};
	for (int i = 0; i < 100000; i++) {
		unsigned dev = devs[rng() % 5], fn = rng() % 4;
		unsigned off = rng() & 0xff, size = 1u << (rng() % 3);
		uint32_t val = rng();
		/* Bias toward command and BARs, where state changes. */
		if (rng() % 2)
			off =
			    0x04 + (rng() % 12) * 4 + (rng() % 4 ? 0 : off & 3);
		if (rng() % 4 == 0)
			val |= PCI_CMD_IO | PCI_CMD_MEMORY;
		/* A small pool of addresses makes BARs collide often. */
		else if (rng() % 2)
			val = pool[val % 6] | (val & 0x100);
		if (off % 4 + size > 4)
			size = 1;
		switch (rng() % 8) {
		case 0:
			out(&m.io, 0xcf8 + (val & 3), 1 << (val >> 2) % 3,
			    rng());
			break;
		case 1:
			pci_set_irq(irqf[val % 6], (val >> 8) & 1);
			break;
		case 2:
			cfg_rd(&m, dev, fn, off, size);
			break;
		default:
			cfg_wr(&m, dev, fn, off, size, val);
			break;
		}
		check_bus(&m.io);
		check_bus(&m.mmio);
		if (i % 64 == 0)
			check_bars(&m);
	}
	check_bars(&m);
	/* The garbage did map, move and collide BARs. */
	cr_assert_gt(m.pb->bar_conflicts, 0);
	cr_assert_gt(d[0].moves + d[1].moves + d[2].moves + d[3].moves, 100);
	cr_assert_gt(c.writes, 0);
	cr_assert_eq(bus_find(&m.io, 0xcf8)->dev, m.pb);
	cr_assert_eq(bus_find(&m.io, 0xcfc)->dev, m.pb);
	cr_assert_eq(bus_find(&m.io, 0x1f0)->dev, &d[0]);
	/* The PIC lines agree with PIRQ levels and routes. */
	for (int irq = 0; irq < 16; irq++) {
		int want = 0;
		for (int p = 0; p < 4; p++)
			want |= piix3_pirq_route(&m.sb, p) == irq &&
				pci_bus_pirq_level(m.pb, p);
		cr_assert_eq(m.pic.level[irq], want, "irq %d", irq);
	}
	bus_unregister(&m.io, 0x1f0, &d[0]);
	machine_fini(&m);
}
