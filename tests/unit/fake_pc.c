/* The PC around a device under test; see fake_pc.h. */
#include <criterion/criterion.h>
#include <string.h>

#include "hw/virtio_pci.h"
#include "tests/unit/fake_pc.h"

static void fake_pic(void *opaque, int line, int level)
{
	struct fake_pc *pc = opaque;
	cr_assert(line >= 0 && line < 16, "PIC line %d", line);
	pc->pic[line] = level;
}

void fake_pc_init_isa(struct fake_pc *pc)
{
	memset(pc, 0, sizeof(*pc));
	bus_init(&pc->io, "port");
	bus_init(&pc->mmio, "mmio");
	pc->chip = (struct irq_chip){fake_pic, pc};
}

void fake_pc_init(struct fake_pc *pc)
{
	fake_pc_init_isa(pc);
	pc->pb = pci_bus_new(&pc->io, &pc->mmio);
	cr_assert_not_null(pc->pb);
	cr_assert_eq(pci_bus_attach(pc->pb), 0);
	cr_assert_eq(i440fx_init(&pc->nb, pc->pb), 0);
	cr_assert_eq(piix3_init(&pc->sb, pc->pb, pc->chip), 0);
}

void fake_pc_fini(struct fake_pc *pc)
{
	pci_bus_free(pc->pb);
	bus_destroy(&pc->io);
	bus_destroy(&pc->mmio);
}

/* One access of size bytes; v is what is written, the value read back. */
static uint64_t bus_rw(struct bus *b, uint64_t addr, unsigned size, bool write,
		       uint64_t v)
{
	bus_access(b, addr, size, write, &v, 1);
	return v;
}

uint32_t pc_in(struct fake_pc *pc, uint16_t port, unsigned size)
{
	return bus_rw(&pc->io, port, size, false, 0);
}

void pc_out(struct fake_pc *pc, uint16_t port, unsigned size, uint32_t v)
{
	bus_rw(&pc->io, port, size, true, v);
}

uint64_t pc_rd(struct fake_pc *pc, uint64_t gpa, unsigned size)
{
	return bus_rw(&pc->mmio, gpa, size, false, 0);
}

void pc_wr(struct fake_pc *pc, uint64_t gpa, unsigned size, uint64_t v)
{
	bus_rw(&pc->mmio, gpa, size, true, v);
}

static void cfg_addr(struct fake_pc *pc, unsigned dev, unsigned off)
{
	pc_out(pc, 0xcf8, 4, 0x80000000u | dev << 11 | (off & 0xfc));
}

uint32_t pc_cfg_rd(struct fake_pc *pc, unsigned dev, unsigned off,
		   unsigned size)
{
	cfg_addr(pc, dev, off);
	return pc_in(pc, 0xcfc + (off & 3), size);
}

void pc_cfg_wr(struct fake_pc *pc, unsigned dev, unsigned off, unsigned size,
	       uint32_t v)
{
	cfg_addr(pc, dev, off);
	pc_out(pc, 0xcfc + (off & 3), size, v);
}

void pc_setup_bar(struct fake_pc *pc, unsigned dev, unsigned bar, uint32_t addr,
		  uint16_t command)
{
	pc_cfg_wr(pc, dev, PCI_BAR0 + 4 * bar, 4, addr);
	pc_cfg_wr(pc, dev, PCI_COMMAND, 2, command);
}

void pc_setup_virtio(struct fake_pc *pc, unsigned dev, uint32_t bar,
		     unsigned pirq, unsigned irq)
{
	pc_setup_bar(pc, dev, VIRTIO_PCI_BAR, bar,
		     PCI_CMD_MEMORY | PCI_CMD_MASTER);
	pc_route_pirq(pc, pirq, irq);
}

void pc_route_pirq(struct fake_pc *pc, unsigned pirq, unsigned irq)
{
	pc_cfg_wr(pc, 1, PIIX3_PIRQRC + pirq, 1, irq);
}

void pc_msix_entry(struct fake_pc *pc, uint64_t table, unsigned v,
		   uint64_t addr, uint32_t data, bool masked)
{
	uint64_t e = table + 16 * v;
	pc_wr(pc, e, 4, (uint32_t)addr);
	pc_wr(pc, e + 4, 4, addr >> 32);
	pc_wr(pc, e + 8, 4, data);
	pc_wr(pc, e + 12, 4, masked);
}
