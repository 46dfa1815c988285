/*
 * Intel 8259A programmable interrupt controller pair of a PC/AT: master at
 * ports 0x20-0x21, slave at 0xA0-0xA1 cascaded on master IR2, plus the
 * PIIX3-style edge/level control registers (ELCR) at 0x4D0/0x4D1.
 *
 * Inputs are ISA IRQ lines 0-15 (through i8259_irq_chip or i8259_set_irq);
 * the output is the master's INTR pin, reported through a struct signal
 * whenever its level changes, and consumed with i8259_ack (the INTA cycle).
 */
#ifndef MINIVMM_HW_I8259_H
#define MINIVMM_HW_I8259_H

#include <stdbool.h>
#include <stdint.h>

#include "hw/hw.h"

#define I8259_MASTER_BASE 0x20
#define I8259_SLAVE_BASE  0xa0
#define I8259_ELCR_BASE	  0x4d0

struct i8259;

/* intr fires with 0/1 whenever the master INTR output level changes. */
struct i8259 *i8259_new(struct signal intr);
void i8259_free(struct i8259 *p);
/* Registers 0x20-0x21, 0xA0-0xA1 and 0x4D0-0x4D1; 0 or -1. */
int i8259_attach(struct i8259 *p, struct bus *io);

/* ISA IRQ 0-15 input level; others ignored. IRQ2 drives IRQ9 (AT wiring). */
void i8259_set_irq(struct i8259 *p, int irq, int level);
struct irq_chip i8259_irq_chip(struct i8259 *p);

/* Current level of the master INTR output. */
bool i8259_intr(struct i8259 *p);
/*
 * The INTA cycle: the vector (0-255) to inject, with cascade, auto-EOI and
 * spurious requests handled. With no request pending it returns the master's
 * IR7 vector without setting an in-service bit, as the chip does.
 */
int i8259_ack(struct i8259 *p);
/* Power-on state of both chips and the ELCR; input line levels are kept. */
void i8259_reset(struct i8259 *p);

/* ELCR of chip 0 (master, IRQ 0-7) or 1 (slave, IRQ 8-15). */
uint8_t i8259_elcr(struct i8259 *p, int chip);
void i8259_set_elcr(struct i8259 *p, int chip, uint8_t val);

#endif
