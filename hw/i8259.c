/*
 * Intel 8259A programmable interrupt controller, PC/AT master/slave pair,
 * with the PIIX3 ELCR (Intel 8259A datasheet, order no. 231468; Intel 82371SB
 * PIIX3 datasheet, section on ELCR1/ELCR2).
 *
 * Modelled: ICW1-ICW4 initialisation, OCW1 mask, every OCW2 command (EOI,
 * specific EOI, rotations, set priority, rotate in auto-EOI), OCW3 (IRR/ISR
 * read select, poll, special mask mode), edge and level triggering (LTIM or
 * ELCR), rotating priority, auto-EOI, spurious IR7/IR15, cascade on IR2.
 *
 * Deliberate differences from the silicon:
 * - An edge-triggered request stays latched after its line falls. The real
 *   chip needs IR held high until INTA, but devices here pulse their line
 *   (irq_pulse) within one call, so a true-to-silicon latch would lose
 *   every such interrupt.
 * - Special fully nested mode, buffered mode and the MCS-80/85 CALL
 *   sequence are not modelled; the vector is always ICW2 base | level.
 * - ICW1 also clears the ISR (the datasheet is silent; other PC emulators
 *   do the same, and it keeps a re-initialising guest from losing lines).
 */
#include "hw/i8259.h"

#include <stdlib.h>
#include <string.h>

/* One 8259A. */
struct pic_chip {
	struct i8259 *pic;
	uint8_t line; /* IR pin levels */
	uint8_t edge; /* rising edges latched on edge-triggered inputs */
	uint8_t imr, isr;
	uint8_t elcr, elcr_mask;
	uint8_t base;	   /* ICW2 & 0xf8 */
	uint8_t icw3;	   /* master: slave map; slave: its ID */
	uint8_t prio_add;  /* IR level holding the highest priority */
	uint8_t init_step; /* 0 operational; 1, 2, 3: ICW2, ICW3, ICW4 next */
	bool need_icw4, single, ltim;
	bool aeoi, rotate_aeoi, smm, read_isr, poll;
};

struct i8259 {
	struct pic_chip c[2];
	uint16_t pins; /* ISA IRQ pin levels as driven by devices */
	struct signal intr;
	bool intr_level;
};

enum { ICW1_IC4 = 0x01, ICW1_SNGL = 0x02, ICW1_LTIM = 0x08, ICW1 = 0x10 };
enum { OCW3 = 0x08, OCW3_RIS = 0x01, OCW3_RR = 0x02, OCW3_P = 0x04 };
enum { OCW3_SMM = 0x20, OCW3_ESMM = 0x40, ICW4_AEOI = 0x02 };

/* IRQ 0, 1, 2 (master) and 8, 13 (slave) are wired edge on a PIIX3. */
static const uint8_t elcr_masks[2] = {0xf8, 0xde};

static uint8_t level_mask(const struct pic_chip *c)
{
	return c->ltim ? 0xff : c->elcr;
}

/* Level inputs follow the pin; edge inputs show their latched edge. */
static uint8_t chip_irr(const struct pic_chip *c)
{
	uint8_t lvl = level_mask(c);
	return (c->edge & ~lvl) | (c->line & lvl);
}

/* Priority rank (0 highest) of the best level in mask, 8 if none. */
static int best_rank(const struct pic_chip *c, uint8_t mask)
{
	for (int r = 0; r < 8; r++)
		if (mask & (1u << ((r + c->prio_add) & 7)))
			return r;
	return 8;
}

/*
 * In special mask mode an in-service level that is also masked no longer
 * holds off lower priorities; that is the mode's whole purpose.
 */
static uint8_t blocking_isr(const struct pic_chip *c)
{
	return c->smm ? c->isr & ~c->imr : c->isr;
}

/* The level the chip would deliver now (its INT output), or -1. */
static int chip_pending(const struct pic_chip *c)
{
	int rank = best_rank(c, chip_irr(c) & ~c->imr);
	if (rank < best_rank(c, blocking_isr(c)))
		return (rank + c->prio_add) & 7;
	return -1;
}

static void chip_input(struct pic_chip *c, int ir, bool level)
{
	uint8_t bit = 1u << ir;
	if (level && !(c->line & bit) && !(level_mask(c) & bit))
		c->edge |= bit;
	if (level)
		c->line |= bit;
	else
		c->line &= ~bit;
}

/* First INTA pulse (or a poll read): the request becomes in service. */
static void chip_ack(struct pic_chip *c, int ir)
{
	c->edge &= ~(1u << ir);
	if (!c->aeoi)
		c->isr |= 1u << ir;
	else if (c->rotate_aeoi)
		c->prio_add = (ir + 1) & 7;
}

/* Recompute the cascade and the INTR pin; tell the CPU side on a change. */
static void update(struct i8259 *p)
{
	chip_input(&p->c[0], 2, chip_pending(&p->c[1]) >= 0);
	bool level = chip_pending(&p->c[0]) >= 0;
	if (level != p->intr_level) {
		p->intr_level = level;
		signal_raise(&p->intr, level);
	}
}

static bool is_master(const struct pic_chip *c)
{
	return c == &c->pic->c[0];
}

static void chip_reset(struct pic_chip *c)
{
	uint8_t line = c->line, mask = c->elcr_mask;
	struct i8259 *pic = c->pic;
	bool master = is_master(c);

	memset(c, 0, sizeof(*c));
	c->pic = pic;
	c->line = line;
	c->elcr_mask = mask;
	/* Wired as a PC/AT even before the firmware writes ICW3. */
	c->icw3 = master ? 0x04 : 0x02;
}

static void write_icw1(struct pic_chip *c, uint8_t val)
{
	/* Datasheet: edge sense reset, IMR cleared, IR7 lowest priority,
	 * special mask mode off, status read set to IRR, ICW4 functions 0. */
	c->edge = 0;
	c->imr = c->isr = 0;
	c->prio_add = 0;
	c->smm = c->read_isr = c->poll = false;
	c->aeoi = c->rotate_aeoi = false;
	c->need_icw4 = val & ICW1_IC4;
	c->single = val & ICW1_SNGL;
	c->ltim = val & ICW1_LTIM;
	c->init_step = 1;
}

/* Non-specific EOI: clear the highest-priority in-service level. */
static int eoi_highest(struct pic_chip *c)
{
	int rank = best_rank(c, blocking_isr(c));
	if (rank == 8)
		return -1;
	int ir = (rank + c->prio_add) & 7;
	c->isr &= ~(1u << ir);
	return ir;
}

static void write_ocw2(struct pic_chip *c, uint8_t val)
{
	int lvl = val & 7, ir;

	switch (val >> 5) {
	case 0: /* rotate in auto-EOI mode: clear */
	case 4: /* ... set */
		c->rotate_aeoi = val >> 7;
		break;
	case 1: /* non-specific EOI */
		eoi_highest(c);
		break;
	case 5: /* rotate on non-specific EOI */
		ir = eoi_highest(c);
		if (ir >= 0)
			c->prio_add = (ir + 1) & 7;
		break;
	case 3: /* specific EOI */
		c->isr &= ~(1u << lvl);
		break;
	case 7: /* rotate on specific EOI */
		c->isr &= ~(1u << lvl);
		c->prio_add = (lvl + 1) & 7;
		break;
	case 6: /* set priority: lvl becomes the lowest */
		c->prio_add = (lvl + 1) & 7;
		break;
	default: /* 2: no operation */
		break;
	}
}

static void write_ocw3(struct pic_chip *c, uint8_t val)
{
	if (val & OCW3_P)
		c->poll = true;
	if (val & OCW3_RR)
		c->read_isr = val & OCW3_RIS;
	if (val & OCW3_ESMM)
		c->smm = val & OCW3_SMM;
}

/* Writes to A0=1: ICW2-ICW4 while initialising, OCW1 otherwise. */
static void write_data(struct pic_chip *c, uint8_t val)
{
	switch (c->init_step) {
	case 1:
		c->base = val & 0xf8;
		c->init_step = c->single ? (c->need_icw4 ? 3 : 0) : 2;
		break;
	case 2:
		c->icw3 = val;
		c->init_step = c->need_icw4 ? 3 : 0;
		break;
	case 3:
		c->aeoi = val & ICW4_AEOI;
		c->init_step = 0;
		break;
	default:
		c->imr = val;
		break;
	}
}

static void chip_write(struct pic_chip *c, uint64_t off, uint8_t val)
{
	if (off == 1)
		write_data(c, val);
	else if (val & ICW1)
		write_icw1(c, val);
	else if (val & OCW3)
		write_ocw3(c, val);
	else
		write_ocw2(c, val);
	update(c->pic);
}

/* After a poll command the next read is an interrupt acknowledge. */
static uint8_t poll_read(struct pic_chip *c)
{
	int ir = chip_pending(c);
	c->poll = false;
	if (ir < 0)
		return 0;
	chip_ack(c, ir);
	/* As on INTA, a polled slave's INT drops while the level is taken. */
	if (!is_master(c))
		chip_input(&c->pic->c[0], 2, false);
	update(c->pic);
	return 0x80 | ir;
}

static uint8_t chip_read(struct pic_chip *c, uint64_t off)
{
	if (c->poll)
		return poll_read(c);
	if (off == 1)
		return c->imr;
	return c->read_isr ? c->isr : chip_irr(c);
}

/* The 8259A is byte-wide: the bus splits wider accesses (width 1). */
static uint64_t pic_io_read(void *dev, uint64_t off, unsigned size)
{
	(void)size;
	return chip_read(dev, off);
}

static void pic_io_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	(void)size;
	chip_write(dev, off, val);
}

static const struct io_ops pic_ops = {
    .read = pic_io_read, .write = pic_io_write, .width = 1};

static uint64_t elcr_io_read(void *dev, uint64_t off, unsigned size)
{
	(void)size;
	return i8259_elcr(dev, off);
}

static void elcr_io_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	(void)size;
	i8259_set_elcr(dev, off, val);
}

static const struct io_ops elcr_ops = {
    .read = elcr_io_read, .write = elcr_io_write, .width = 1};

uint8_t i8259_elcr(struct i8259 *p, int chip)
{
	if (chip < 0 || chip > 1)
		return 0;
	return p->c[chip].elcr;
}

void i8259_set_elcr(struct i8259 *p, int chip, uint8_t val)
{
	if (chip < 0 || chip > 1)
		return;
	struct pic_chip *c = &p->c[chip];
	c->elcr = val & c->elcr_mask;
	/* A stale edge latch must not resurface if the input turns edge. */
	c->edge &= ~level_mask(c);
	update(p);
}

void i8259_set_irq(struct i8259 *p, int irq, int level)
{
	if (irq < 0 || irq > 15)
		return;
	if (level)
		p->pins |= 1u << irq;
	else
		p->pins &= ~(1u << irq);
	/* On the AT the ISA bus's IRQ2 pin is wired to IRQ9: master IR2
	 * carries the cascade. */
	if (irq == 2 || irq == 9)
		chip_input(&p->c[1], 1, p->pins & ((1u << 2) | (1u << 9)));
	else
		chip_input(&p->c[irq >> 3], irq & 7, level);
	update(p);
}

static void irq_chip_set(void *opaque, int line, int level)
{
	i8259_set_irq(opaque, line, level);
}

struct irq_chip i8259_irq_chip(struct i8259 *p)
{
	return (struct irq_chip){.set = irq_chip_set, .opaque = p};
}

bool i8259_intr(struct i8259 *p)
{
	return p->intr_level;
}

/* The master put IR2 in service: the slave supplies the vector. */
static int slave_ack(struct i8259 *p)
{
	struct pic_chip *s = &p->c[1];
	int ir = chip_pending(s);
	if (ir < 0)
		return s->base | 7;
	chip_ack(s, ir);
	/* The slave's INT drops while the level is in service; in auto-EOI
	 * it rises again for the next request, which must make a new edge on
	 * the master's IR2. */
	chip_input(&p->c[0], 2, false);
	return s->base | ir;
}

static bool cascades_ir2(const struct pic_chip *m)
{
	return !m->single && (m->icw3 & (1u << 2));
}

int i8259_ack(struct i8259 *p)
{
	struct pic_chip *m = &p->c[0];
	int ir = chip_pending(m), vec;

	if (ir < 0) {
		vec = m->base | 7; /* spurious: no in-service bit */
	} else {
		chip_ack(m, ir);
		if (ir == 2 && cascades_ir2(m))
			vec = slave_ack(p);
		else
			vec = m->base | ir;
	}
	update(p);
	return vec;
}

void i8259_reset(struct i8259 *p)
{
	for (int i = 0; i < 2; i++) {
		chip_reset(&p->c[i]);
		p->c[i].elcr = 0;
	}
	update(p);
}

struct i8259 *i8259_new(struct signal intr)
{
	struct i8259 *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->intr = intr;
	for (int i = 0; i < 2; i++) {
		p->c[i].pic = p;
		p->c[i].elcr_mask = elcr_masks[i];
	}
	i8259_reset(p);
	return p;
}

void i8259_free(struct i8259 *p)
{
	free(p);
}

int i8259_attach(struct i8259 *p, struct bus *io)
{
	if (bus_register(io, I8259_MASTER_BASE, 2, &pic_ops, &p->c[0],
			 "pic-master"))
		return -1;
	if (bus_register(io, I8259_SLAVE_BASE, 2, &pic_ops, &p->c[1],
			 "pic-slave"))
		goto undo_master;
	if (bus_register(io, I8259_ELCR_BASE, 2, &elcr_ops, p, "elcr"))
		goto undo_slave;
	return 0;
undo_slave:
	bus_unregister(io, I8259_SLAVE_BASE, &p->c[1]);
undo_master:
	bus_unregister(io, I8259_MASTER_BASE, &p->c[0]);
	return -1;
}
