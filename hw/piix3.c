/*
 * Intel 82371SB PIIX3 function 0, the PCI-to-ISA bridge and PCI interrupt
 * router. Register facts: Intel 82371FB/82371SB datasheet, section 2.2;
 * reset values as in the datasheet (and as QEMU and Bochs model them).
 * See hw/piix3.h.
 */
#include "hw/piix3.h"

#include <string.h>

/* IRQs a PIRQ route may name: 3-7, 9-12, 14, 15 (datasheet table). */
#define PIRQ_VALID_IRQS 0xdef8u

struct reg_default {
	uint8_t off, val, wmask;
};

/* Plain storage registers: offset, reset value, writable bits. */
static const struct reg_default piix3_regs[] = {
    {0x4c, 0x4d, 0xff}, /* IORT: ISA I/O recovery timer */
    {0x4e, 0x03, 0xff}, /* XBCS: X-bus chip select, low */
    {0x4f, 0x00, 0xff}, /* XBCS high */
    {0x60, 0x80, 0x8f}, /* PIRQRC[A:D]: bits 6:4 reserved */
    {0x61, 0x80, 0x8f}, {0x62, 0x80, 0x8f}, {0x63, 0x80, 0x8f},
    {0x69, 0x02, 0xfe}, /* TOM: top of memory, bit 0 reserved */
    {0x6a, 0x00, 0xff}, /* MSTAT: miscellaneous status */
    {0x6b, 0x00, 0xff}, {0x70, 0x80, 0xef}, /* MBIRQ0: motherboard IRQ route */
    {0x76, 0x0c, 0x8f},			    /* MBDMA0/1: motherboard DMA */
    {0x77, 0x0c, 0x8f}, {0x78, 0x02, 0xff}, /* PCSC: programmable chip select */
    {0x79, 0x00, 0xff}, {0x80, 0x00, 0xff}, /* APICBASE */
    {0x82, 0x00, 0xff}, /* DLC: deterministic latency control */
    {0xa0, 0x08, 0xff}, /* SMICNTL */
    {0xa2, 0x00, 0xff}, /* SMIEN */
    {0xa3, 0x00, 0xff}, {0xa4, 0x00, 0xff}, /* SEE: system event enable */
    {0xa5, 0x00, 0xff}, {0xa6, 0x00, 0xff}, {0xa7, 0x00, 0xff},
    {0xa8, 0x0f, 0xff},			    /* FTMR: fast off timer */
    {0xaa, 0x00, 0xff},			    /* SMIREQ */
    {0xab, 0x00, 0xff}, {0xac, 0x00, 0xff}, /* CTLTMR */
    {0xae, 0x00, 0xff},			    /* CTHTMR */
};

int piix3_pirq_route(const struct piix3 *s, int pirq)
{
	if (pirq < 0 || pirq > 3)
		return -1;
	uint8_t r = s->f->cfg[PIIX3_PIRQRC + pirq];
	if ((r & PIIX3_PIRQ_DISABLE) || !(PIRQ_VALID_IRQS & (1u << (r & 15))))
		return -1;
	return r & 15;
}

/* Recomputes every ISA line from the PIRQ levels and the routes. */
static void piix3_update(struct piix3 *s)
{
	uint16_t want = 0;

	for (int pirq = 0; pirq < 4; pirq++) {
		int irq = piix3_pirq_route(s, pirq);
		if (irq >= 0 && pci_bus_pirq_level(s->pb, pirq))
			want |= 1u << irq;
	}
	uint16_t changed = want ^ s->isa_out;
	s->isa_out = want;
	for (int irq = 0; irq < 16; irq++)
		if (changed & (1u << irq))
			irq_set(&s->isa, irq, (want >> irq) & 1);
}

static void piix3_set_pirq(void *opaque, int pirq, int level)
{
	(void)pirq;
	(void)level;
	piix3_update(opaque);
}

static void piix3_cfg_write(void *dev, unsigned off, unsigned size,
			    uint32_t val)
{
	(void)val;
	if (off < PIIX3_PIRQRC + 4 && off + size > PIIX3_PIRQRC)
		piix3_update(dev);
}

static const struct pci_cfg_ops piix3_cfg_ops = {.write = piix3_cfg_write};

void piix3_reset(struct piix3 *s)
{
	struct pci_func *f = s->f;

	/* PCICMD: the bridge always forwards, so I/O, memory and bus master
	 * stay on; special cycles and SERR# enable are writable. */
	f->cfg[PCI_COMMAND] = PCI_CMD_IO | PCI_CMD_MEMORY | PCI_CMD_MASTER;
	f->cfg[PCI_COMMAND + 1] = 0;
	f->wmask[PCI_COMMAND] = 0x08;
	f->wmask[PCI_COMMAND + 1] = PCI_CMD_SERR >> 8;
	f->cfg[PCI_STATUS] = 0;
	f->cfg[PCI_STATUS + 1] = PCI_STATUS_DEVSEL_MED >> 8;
	f->cfg[PCI_HEADER_TYPE] = PCI_HEADER_MULTIFUNC;
	for (size_t i = 0; i < sizeof(piix3_regs) / sizeof(piix3_regs[0]);
	     i++) {
		f->cfg[piix3_regs[i].off] = piix3_regs[i].val;
		f->wmask[piix3_regs[i].off] = piix3_regs[i].wmask;
	}
	piix3_update(s);
}

int piix3_init(struct piix3 *s, struct pci_bus *pb, struct irq_chip isa)
{
	memset(s, 0, sizeof(*s));
	s->pb = pb;
	s->isa = isa;
	s->f = pci_add_func(pb, 1, 0, 0x8086, 0x7000, 0x06010000, 0x1af4,
			    0x1100, 0);
	if (!s->f)
		return -1;
	pci_set_cfg_ops(s->f, &piix3_cfg_ops, s);
	pci_bus_set_pirq_sink(pb, (struct pci_pirq_sink){piix3_set_pirq, s});
	piix3_reset(s);
	return 0;
}
