/*
 * The PC around a device under test: port and memory buses, and for a PCI
 * device the i440FX host bridge and the PIIX3 routing PIRQs into a fake PIC
 * that keeps each line's level. Configuration space goes through conf1
 * (0xcf8/0xcfc) as firmware and drivers reach it.
 */
#ifndef TESTS_UNIT_FAKE_PC_H
#define TESTS_UNIT_FAKE_PC_H

#include <stdbool.h>
#include <stdint.h>

#include "hw/i440fx.h"
#include "hw/pci.h"
#include "hw/piix3.h"
#include "ioreq/bus.h"

struct fake_pc {
	struct bus io, mmio;
	struct pci_bus *pb; /* NULL in an ISA-only PC */
	struct i440fx nb;
	struct piix3 sb;
	struct irq_chip chip; /* into pic[] */
	int pic[16];	      /* the level of each PIC input */
};

/* Buses and the PIC only, for ISA devices. */
void fake_pc_init_isa(struct fake_pc *pc);
/* Buses, PIC, PCI bus with i440FX in slot 0 and PIIX3 in slot 1. */
void fake_pc_init(struct fake_pc *pc);
/* After the devices on it are freed. */
void fake_pc_fini(struct fake_pc *pc);

uint32_t pc_in(struct fake_pc *pc, uint16_t port, unsigned size);
void pc_out(struct fake_pc *pc, uint16_t port, unsigned size, uint32_t v);
uint64_t pc_rd(struct fake_pc *pc, uint64_t gpa, unsigned size);
void pc_wr(struct fake_pc *pc, uint64_t gpa, unsigned size, uint64_t v);

/* Configuration space of function 0 of slot dev on bus 0. */
uint32_t pc_cfg_rd(struct fake_pc *pc, unsigned dev, unsigned off,
		   unsigned size);
void pc_cfg_wr(struct fake_pc *pc, unsigned dev, unsigned off, unsigned size,
	       uint32_t v);
/* BAR bar of slot dev at addr and the command register at command, as
 * firmware leaves a function. */
void pc_setup_bar(struct fake_pc *pc, unsigned dev, unsigned bar, uint32_t addr,
		  uint16_t command);
/* A virtio-pci function as firmware leaves it: BAR 4 at bar, memory decode
 * and bus mastering on, its INTA (PIRQ pirq) routed to irq. */
void pc_setup_virtio(struct fake_pc *pc, unsigned dev, uint32_t bar,
		     unsigned pirq, unsigned irq);
/* PIRQ A-D (0-3) to ISA IRQ irq, as firmware programs the PIIX3. */
void pc_route_pirq(struct fake_pc *pc, unsigned pirq, unsigned irq);
/* Entry v of an MSI-X table at gpa table. */
void pc_msix_entry(struct fake_pc *pc, uint64_t table, unsigned v,
		   uint64_t addr, uint32_t data, bool masked);

#endif
