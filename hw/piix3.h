/*
 * Intel 82371SB PIIX3 PCI-to-ISA bridge, function 00:01.0, as in QEMU's
 * "pc" machine: 8086:7000, class 0x060100, multi-function header,
 * subsystem 1af4:1100. Datasheet: Intel 82371FB (PIIX) and 82371SB (PIIX3)
 * PCI ISA IDE Xcelerator, section 2.2 (PCI to ISA bridge registers).
 *
 * It is the PCI interrupt router: PIRQRC[A:D] (0x60-0x63) steer PIRQA-D to
 * ISA IRQ lines of an irq_chip (the 8259 pair). Bit 7 set disables a route;
 * bits 3:0 name the IRQ, where 0-2, 8 and 13 are reserved and route
 * nowhere. Several PIRQs steered to one IRQ are OR-ed (PCI interrupts are
 * level-triggered; the 8259's ELCR at 0x4D0 belongs to the 8259 model).
 * Other registers (TOM, XBCS, MBIRQ, SMI ...) are stored with their reset
 * values and have no effect. The reset control register at 0xCF9 is not
 * here: see pci_bus_set_cf9() in hw/pci.h. The IDE function 00:01.1 is a
 * separate device built on pci_add_func().
 */
#ifndef MINIVMM_PIIX3_H
#define MINIVMM_PIIX3_H

#include <stdint.h>

#include "hw/hw.h"
#include "hw/pci.h"

#define PIIX3_PIRQRC	   0x60 /* PIRQA route; B-D follow */
#define PIIX3_PIRQ_DISABLE 0x80
#define PIIX3_TOM	   0x69

struct piix3 {
	struct pci_func *f;
	struct pci_bus *pb;
	struct irq_chip isa; /* ISA IRQ inputs of the 8259 pair */
	uint16_t isa_out;    /* ISA lines this bridge drives high */
};

/* Creates 00:01.0 on pb and makes it the bus's PIRQ router; 0 or -1. */
int piix3_init(struct piix3 *s, struct pci_bus *pb, struct irq_chip isa);
/* Power-on register values; all routes disabled (lines driven low). */
void piix3_reset(struct piix3 *s);
/* ISA IRQ that PIRQ pirq (0-3) is steered to, or -1 if none. */
int piix3_pirq_route(const struct piix3 *s, int pirq);

#endif
