#include <criterion/criterion.h>

#include "hw/i8259.h"

/* Records every change of the master INTR output. */
struct intr_log {
	int calls, last, raises;
};

static void intr_cb(void *opaque, int value)
{
	struct intr_log *l = opaque;
	l->calls++;
	l->last = value;
	if (value)
		l->raises++;
}

struct rig {
	struct bus io;
	struct intr_log log;
	struct i8259 *pic;
};

static void rig_init(struct rig *r)
{
	memset(r, 0, sizeof(*r));
	bus_init(&r->io, "port");
	r->pic = i8259_new((struct signal){.fn = intr_cb, .opaque = &r->log});
	cr_assert_not_null(r->pic);
	cr_assert_eq(i8259_attach(r->pic, &r->io), 0);
}

static void rig_fini(struct rig *r)
{
	i8259_free(r->pic);
	bus_destroy(&r->io);
}

static void outb(struct rig *r, uint16_t port, uint8_t v)
{
	bus_access(&r->io, port, 1, true, &v, 1);
}

static uint8_t inb(struct rig *r, uint16_t port)
{
	uint8_t v = 0;
	bus_access(&r->io, port, 1, false, &v, 1);
	return v;
}

/* What Linux's init_8259A does, leaving everything unmasked. */
static void linux_init(struct rig *r, uint8_t icw4)
{
	outb(r, 0x21, 0xff);
	outb(r, 0xa1, 0xff);
	outb(r, 0x20, 0x11);
	outb(r, 0x21, 0x20);
	outb(r, 0x21, 0x04);
	outb(r, 0x21, icw4);
	outb(r, 0xa0, 0x11);
	outb(r, 0xa1, 0x28);
	outb(r, 0xa1, 0x02);
	outb(r, 0xa1, icw4);
	outb(r, 0x21, 0x00);
	outb(r, 0xa1, 0x00);
}

static void setup(struct rig *r)
{
	rig_init(r);
	linux_init(r, 0x01);
}

static uint8_t read_isr(struct rig *r, uint16_t cmd)
{
	outb(r, cmd, 0x0b);
	return inb(r, cmd);
}

static uint8_t read_irr(struct rig *r, uint16_t cmd)
{
	outb(r, cmd, 0x0a);
	return inb(r, cmd);
}

static void pulse(struct rig *r, int irq)
{
	i8259_set_irq(r->pic, irq, 1);
	i8259_set_irq(r->pic, irq, 0);
}

Test(i8259, linux_init_and_first_interrupt)
{
	struct rig r;
	setup(&r);
	cr_assert_eq(inb(&r, 0x21), 0x00);
	cr_assert_eq(inb(&r, 0xa1), 0x00);
	cr_assert_not(i8259_intr(r.pic));
	pulse(&r, 0);
	cr_assert(i8259_intr(r.pic));
	cr_assert_eq(read_irr(&r, 0x20), 0x01);
	cr_assert_eq(i8259_ack(r.pic), 0x20);
	cr_assert_not(i8259_intr(r.pic));
	cr_assert_eq(read_isr(&r, 0x20), 0x01);
	cr_assert_eq(read_irr(&r, 0x20), 0x00);
	outb(&r, 0x20, 0x20);
	cr_assert_eq(read_isr(&r, 0x20), 0x00);
	rig_fini(&r);
}

Test(i8259, mask_and_unmask)
{
	struct rig r;
	setup(&r);
	outb(&r, 0x21, 0x08);
	cr_assert_eq(inb(&r, 0x21), 0x08);
	pulse(&r, 3);
	cr_assert_not(i8259_intr(r.pic));
	cr_assert_eq(read_irr(&r, 0x20), 0x08, "masked request still latched");
	outb(&r, 0x21, 0x00);
	cr_assert(i8259_intr(r.pic));
	cr_assert_eq(i8259_ack(r.pic), 0x23);
	/* Masking the cascade input hides the whole slave. */
	outb(&r, 0x20, 0x20);
	outb(&r, 0x21, 0x04);
	pulse(&r, 12);
	cr_assert_not(i8259_intr(r.pic));
	outb(&r, 0x21, 0x00);
	cr_assert(i8259_intr(r.pic));
	cr_assert_eq(i8259_ack(r.pic), 0x2c);
	rig_fini(&r);
}

Test(i8259, fixed_priority_and_nesting)
{
	struct rig r;
	setup(&r);
	pulse(&r, 5);
	pulse(&r, 3);
	cr_assert_eq(i8259_ack(r.pic), 0x23);
	/* IR3 in service holds off IR5 but not IR1. */
	cr_assert_not(i8259_intr(r.pic));
	pulse(&r, 1);
	cr_assert(i8259_intr(r.pic));
	cr_assert_eq(i8259_ack(r.pic), 0x21);
	cr_assert_eq(read_isr(&r, 0x20), 0x0a);
	outb(&r, 0x20, 0x20); /* clears IR1, the highest */
	cr_assert_eq(read_isr(&r, 0x20), 0x08);
	cr_assert_not(i8259_intr(r.pic));
	outb(&r, 0x20, 0x20);
	cr_assert(i8259_intr(r.pic));
	cr_assert_eq(i8259_ack(r.pic), 0x25);
	rig_fini(&r);
}

Test(i8259, specific_eoi)
{
	struct rig r;
	setup(&r);
	pulse(&r, 6);
	cr_assert_eq(i8259_ack(r.pic), 0x26);
	pulse(&r, 4);
	cr_assert_eq(i8259_ack(r.pic), 0x24);
	cr_assert_eq(read_isr(&r, 0x20), 0x50);
	outb(&r, 0x20, 0x66); /* specific EOI, level 6 */
	cr_assert_eq(read_isr(&r, 0x20), 0x10);
	outb(&r, 0x20, 0x63); /* level 3 not in service: no effect */
	cr_assert_eq(read_isr(&r, 0x20), 0x10);
	outb(&r, 0x20, 0x64);
	cr_assert_eq(read_isr(&r, 0x20), 0x00);
	outb(&r, 0x20, 0x40); /* OCW2 no-op */
	cr_assert_eq(read_isr(&r, 0x20), 0x00);
	rig_fini(&r);
}

Test(i8259, cascade_vectors)
{
	struct rig r;
	setup(&r);
	for (int irq = 8; irq < 16; irq++) {
		pulse(&r, irq);
		cr_assert(i8259_intr(r.pic), "irq %d", irq);
		cr_assert_eq(i8259_ack(r.pic), 0x20 + irq);
		cr_assert_eq(read_isr(&r, 0x20), 0x04);
		cr_assert_eq(read_isr(&r, 0xa0), 1u << (irq - 8));
		outb(&r, 0xa0, 0x20);
		outb(&r, 0x20, 0x20);
		cr_assert_eq(read_isr(&r, 0xa0), 0);
		cr_assert_eq(read_isr(&r, 0x20), 0);
	}
	/* Master IR1 beats the cascade; slave priority within IR2. */
	pulse(&r, 14);
	pulse(&r, 9);
	pulse(&r, 1);
	cr_assert_eq(i8259_ack(r.pic), 0x21);
	outb(&r, 0x20, 0x20);
	cr_assert_eq(i8259_ack(r.pic), 0x29);
	outb(&r, 0xa0, 0x20);
	outb(&r, 0x20, 0x20);
	cr_assert_eq(i8259_ack(r.pic), 0x2e);
	rig_fini(&r);
}

Test(i8259, irq2_pin_is_irq9)
{
	struct rig r;
	setup(&r);
	pulse(&r, 2);
	cr_assert_eq(i8259_ack(r.pic), 0x29);
	rig_fini(&r);
}

Test(i8259, rotate_on_nonspecific_eoi)
{
	struct rig r;
	setup(&r);
	pulse(&r, 4);
	cr_assert_eq(i8259_ack(r.pic), 0x24);
	outb(&r, 0x20, 0xa0); /* IR4 becomes lowest, IR5 highest */
	pulse(&r, 3);
	pulse(&r, 6);
	cr_assert_eq(i8259_ack(r.pic), 0x26);
	/* IR6 in service ranks above IR3 now, so IR3 waits. */
	cr_assert_not(i8259_intr(r.pic));
	outb(&r, 0x20, 0xa0); /* IR6 lowest, IR7 highest */
	cr_assert_eq(i8259_ack(r.pic), 0x23);
	/* IR5 now ranks below IR3 in service: blocked. IR0 is not. */
	pulse(&r, 5);
	cr_assert_not(i8259_intr(r.pic));
	pulse(&r, 0);
	cr_assert_eq(i8259_ack(r.pic), 0x20);
	rig_fini(&r);
}

Test(i8259, set_priority_and_rotate_specific)
{
	struct rig r;
	setup(&r);
	outb(&r, 0x20, 0xc2); /* IR2 lowest, IR3 highest */
	pulse(&r, 1);
	pulse(&r, 3);
	pulse(&r, 0);
	cr_assert_eq(i8259_ack(r.pic), 0x23);
	outb(&r, 0x20, 0xe3); /* rotate on specific EOI: IR4 highest */
	cr_assert_eq(read_isr(&r, 0x20), 0x00);
	cr_assert_eq(i8259_ack(r.pic), 0x20);
	outb(&r, 0x20, 0xc7); /* back to IR0 highest */
	outb(&r, 0x20, 0x20);
	cr_assert_eq(i8259_ack(r.pic), 0x21);
	rig_fini(&r);
}

Test(i8259, auto_eoi_and_rotation)
{
	struct rig r;
	rig_init(&r);
	linux_init(&r, 0x03);
	pulse(&r, 5);
	pulse(&r, 6);
	cr_assert_eq(i8259_ack(r.pic), 0x25);
	cr_assert_eq(read_isr(&r, 0x20), 0x00);
	cr_assert(i8259_intr(r.pic), "no EOI needed");
	cr_assert_eq(i8259_ack(r.pic), 0x26);
	/* Rotate in auto-EOI: each acknowledged level becomes lowest. */
	outb(&r, 0x20, 0x80);
	pulse(&r, 1);
	cr_assert_eq(i8259_ack(r.pic), 0x21);
	pulse(&r, 0);
	pulse(&r, 3);
	cr_assert_eq(i8259_ack(r.pic), 0x23);
	cr_assert_eq(i8259_ack(r.pic), 0x20);
	outb(&r, 0x20, 0x00); /* rotate in auto-EOI off */
	outb(&r, 0x20, 0xc7);
	pulse(&r, 4);
	pulse(&r, 2 + 8);
	cr_assert_eq(i8259_ack(r.pic), 0x2a);
	cr_assert_eq(i8259_ack(r.pic), 0x24);
	rig_fini(&r);
}

Test(i8259, slave_auto_eoi_delivers_back_to_back)
{
	struct rig r;
	rig_init(&r);
	linux_init(&r, 0x03);
	pulse(&r, 10);
	pulse(&r, 11);
	cr_assert_eq(i8259_ack(r.pic), 0x2a);
	cr_assert(i8259_intr(r.pic));
	cr_assert_eq(i8259_ack(r.pic), 0x2b);
	cr_assert_not(i8259_intr(r.pic));
	rig_fini(&r);
}

Test(i8259, elcr_forced_edge_bits)
{
	struct rig r;
	setup(&r);
	cr_assert_eq(inb(&r, 0x4d0), 0);
	cr_assert_eq(inb(&r, 0x4d1), 0);
	outb(&r, 0x4d0, 0xff);
	outb(&r, 0x4d1, 0xff);
	cr_assert_eq(inb(&r, 0x4d0), 0xf8);
	cr_assert_eq(inb(&r, 0x4d1), 0xde);
	cr_assert_eq(i8259_elcr(r.pic, 0), 0xf8);
	cr_assert_eq(i8259_elcr(r.pic, 1), 0xde);
	i8259_set_elcr(r.pic, 1, 0x0c);
	cr_assert_eq(inb(&r, 0x4d1), 0x0c);
	i8259_set_elcr(r.pic, 2, 0xff);
	i8259_set_elcr(r.pic, -1, 0xff);
	cr_assert_eq(i8259_elcr(r.pic, 5), 0);
	uint16_t w = 0;
	bus_access(&r.io, 0x4d0, 2, false, &w, 1);
	cr_assert_eq(w, 0x0cf8);
	w = 0x0000;
	bus_access(&r.io, 0x4d0, 2, true, &w, 1);
	cr_assert_eq(i8259_elcr(r.pic, 0), 0);
	cr_assert_eq(i8259_elcr(r.pic, 1), 0);
	rig_fini(&r);
}

Test(i8259, edge_needs_new_rising_edge)
{
	struct rig r;
	setup(&r);
	i8259_set_irq(r.pic, 4, 1);
	cr_assert_eq(i8259_ack(r.pic), 0x24);
	outb(&r, 0x20, 0x20);
	i8259_set_irq(r.pic, 4, 1); /* still high: no new edge */
	cr_assert_not(i8259_intr(r.pic));
	i8259_set_irq(r.pic, 4, 0);
	cr_assert_not(i8259_intr(r.pic));
	i8259_set_irq(r.pic, 4, 1);
	cr_assert(i8259_intr(r.pic));
	/* ICW1 resets the edge sense: a high line needs to fall first. */
	linux_init(&r, 0x01);
	cr_assert_not(i8259_intr(r.pic));
	i8259_set_irq(r.pic, 4, 0);
	i8259_set_irq(r.pic, 4, 1);
	cr_assert_eq(i8259_ack(r.pic), 0x24);
	rig_fini(&r);
}

Test(i8259, level_follows_line)
{
	struct rig r;
	setup(&r);
	outb(&r, 0x4d1, 0x08); /* IRQ 11 level */
	i8259_set_irq(r.pic, 11, 1);
	cr_assert(i8259_intr(r.pic));
	cr_assert_eq(i8259_ack(r.pic), 0x2b);
	outb(&r, 0xa0, 0x20);
	outb(&r, 0x20, 0x20);
	/* Line still high after EOI: requested again. */
	cr_assert(i8259_intr(r.pic));
	cr_assert_eq(read_irr(&r, 0xa0), 0x08);
	i8259_set_irq(r.pic, 11, 0);
	cr_assert_eq(read_irr(&r, 0xa0), 0x00);
	/* The slave's INT fell, but the master's IR2 is edge-triggered and
	 * keeps its latch: the CPU gets the slave's spurious vector. */
	cr_assert(i8259_intr(r.pic));
	cr_assert_eq(i8259_ack(r.pic), 0x2f);
	outb(&r, 0x20, 0x20);
	cr_assert_not(i8259_intr(r.pic));
	/* Switching an input to level drops a latched edge that is low... */
	pulse(&r, 10);
	cr_assert_eq(read_irr(&r, 0xa0), 0x04);
	outb(&r, 0x4d1, 0x0c);
	cr_assert_eq(read_irr(&r, 0xa0), 0x00);
	outb(&r, 0x4d1, 0x08);
	cr_assert_eq(read_irr(&r, 0xa0), 0x00, "stale edge must not return");
	/* ...but the master had latched the cascade edge: spurious IRQ15. */
	cr_assert(i8259_intr(r.pic));
	cr_assert_eq(i8259_ack(r.pic), 0x2f);
	rig_fini(&r);
}

Test(i8259, ltim_makes_all_inputs_level)
{
	struct rig r;
	rig_init(&r);
	outb(&r, 0x20, 0x19); /* LTIM, cascade, ICW4 */
	outb(&r, 0x21, 0x08);
	outb(&r, 0x21, 0x04);
	outb(&r, 0x21, 0x01);
	outb(&r, 0x21, 0xf0); /* unmask IR0-IR3 */
	i8259_set_irq(r.pic, 1, 1);
	cr_assert(i8259_intr(r.pic));
	i8259_set_irq(r.pic, 1, 0);
	cr_assert_not(i8259_intr(r.pic));
	cr_assert_eq(i8259_elcr(r.pic, 0), 0, "ELCR itself untouched");
	rig_fini(&r);
}

Test(i8259, spurious_irq7)
{
	struct rig r;
	setup(&r);
	outb(&r, 0x4d0, 0x20); /* IRQ5 level */
	i8259_set_irq(r.pic, 5, 1);
	cr_assert(i8259_intr(r.pic));
	i8259_set_irq(r.pic, 5, 0); /* gone before INTA */
	cr_assert_eq(i8259_ack(r.pic), 0x27);
	cr_assert_eq(read_isr(&r, 0x20), 0x00, "no ISR bit for spurious");
	/* Masking after INTR rose has the same effect on an edge input. */
	pulse(&r, 3);
	outb(&r, 0x21, 0x08);
	cr_assert_eq(i8259_ack(r.pic), 0x27);
	cr_assert_eq(read_isr(&r, 0x20), 0x00);
	/* Acking with nothing pending at all is safe. */
	cr_assert_eq(i8259_ack(r.pic), 0x27);
	rig_fini(&r);
}

Test(i8259, spurious_irq15)
{
	struct rig r;
	setup(&r);
	outb(&r, 0x4d1, 0x08);
	i8259_set_irq(r.pic, 11, 1);
	cr_assert(i8259_intr(r.pic));
	i8259_set_irq(r.pic, 11, 0);
	/* The master latched the slave's INT edge on IR2, so it still asks. */
	cr_assert(i8259_intr(r.pic));
	cr_assert_eq(i8259_ack(r.pic), 0x2f);
	cr_assert_eq(read_isr(&r, 0xa0), 0x00);
	cr_assert_eq(read_isr(&r, 0x20), 0x04, "master IR2 in service");
	outb(&r, 0x20, 0x20);
	cr_assert_eq(read_isr(&r, 0x20), 0x00);
	rig_fini(&r);
}

Test(i8259, poll_command)
{
	struct rig r;
	setup(&r);
	outb(&r, 0x20, 0x0c);
	cr_assert_eq(inb(&r, 0x20), 0x00, "nothing pending");
	cr_assert_eq(inb(&r, 0x21), 0x00, "poll lasts one read");
	pulse(&r, 6);
	pulse(&r, 3);
	outb(&r, 0x20, 0x0c);
	cr_assert_eq(inb(&r, 0x20), 0x83);
	cr_assert_eq(read_isr(&r, 0x20), 0x08);
	outb(&r, 0x20, 0x20);
	outb(&r, 0x20, 0x0e); /* poll wins over read-register */
	cr_assert_eq(inb(&r, 0x20), 0x86);
	cr_assert_eq(read_isr(&r, 0x20), 0x40);
	outb(&r, 0x20, 0x20);
	/* Polling a cascade: master reports IR2, then poll the slave. */
	pulse(&r, 13);
	outb(&r, 0x20, 0x0c);
	cr_assert_eq(inb(&r, 0x20), 0x82);
	outb(&r, 0xa0, 0x0c);
	cr_assert_eq(inb(&r, 0xa1), 0x85, "any read answers the poll");
	cr_assert_eq(read_isr(&r, 0xa0), 0x20);
	cr_assert_not(i8259_intr(r.pic));
	rig_fini(&r);
}

Test(i8259, special_mask_mode)
{
	struct rig r;
	setup(&r);
	pulse(&r, 3);
	cr_assert_eq(i8259_ack(r.pic), 0x23);
	pulse(&r, 5);
	cr_assert_not(i8259_intr(r.pic));
	outb(&r, 0x21, 0x08); /* mask own level */
	outb(&r, 0x20, 0x68); /* set special mask mode */
	cr_assert(i8259_intr(r.pic));
	cr_assert_eq(i8259_ack(r.pic), 0x25);
	/* Non-specific EOI skips the masked in-service IR3. */
	outb(&r, 0x20, 0x20);
	cr_assert_eq(read_isr(&r, 0x20), 0x08);
	outb(&r, 0x20, 0x48); /* reset special mask mode */
	pulse(&r, 6);
	cr_assert_not(i8259_intr(r.pic));
	outb(&r, 0x20, 0x28); /* ESMM=0: no change */
	cr_assert_not(i8259_intr(r.pic));
	outb(&r, 0x20, 0x63);
	cr_assert(i8259_intr(r.pic));
	rig_fini(&r);
}

Test(i8259, intr_signal_fires_on_changes_only)
{
	struct rig r;
	setup(&r);
	cr_assert_eq(r.log.calls, 0);
	pulse(&r, 3);
	cr_assert_eq(r.log.calls, 1);
	cr_assert_eq(r.log.last, 1);
	pulse(&r, 4); /* INTR already high */
	cr_assert_eq(r.log.calls, 1);
	i8259_ack(r.pic);
	cr_assert_eq(r.log.calls, 2);
	cr_assert_eq(r.log.last, 0);
	outb(&r, 0x20, 0x20); /* IR4 now deliverable */
	cr_assert_eq(r.log.calls, 3);
	cr_assert_eq(r.log.last, 1);
	outb(&r, 0x21, 0xff);
	cr_assert_eq(r.log.last, 0);
	cr_assert_eq(r.log.calls, 4);
	rig_fini(&r);
}

Test(i8259, icw_sequence_variants)
{
	struct rig r;
	rig_init(&r);
	/* Single mode, no ICW4: ICW2 then straight to OCW1. */
	outb(&r, 0x20, 0x12);
	outb(&r, 0x21, 0x47); /* low bits of the base are ignored */
	outb(&r, 0x21, 0xfa);
	cr_assert_eq(inb(&r, 0x21), 0xfa);
	pulse(&r, 12);
	pulse(&r, 2);
	/* No cascade in single mode: master answers IR2 itself. */
	cr_assert_eq(i8259_ack(r.pic), 0x42);
	/* Single mode with ICW4 skips ICW3. */
	outb(&r, 0x20, 0x13);
	outb(&r, 0x21, 0x50);
	outb(&r, 0x21, 0x03); /* ICW4: auto-EOI */
	outb(&r, 0x21, 0x00);
	pulse(&r, 1);
	cr_assert_eq(i8259_ack(r.pic), 0x51);
	cr_assert_eq(read_isr(&r, 0x20), 0);
	/* Port-0 OCWs in the middle of init do not steal the ICWs. */
	outb(&r, 0x20, 0x11);
	outb(&r, 0x20, 0x0b);
	outb(&r, 0x21, 0x60);
	outb(&r, 0x20, 0x20);
	outb(&r, 0x21, 0x04);
	outb(&r, 0x21, 0x01);
	cr_assert_eq(inb(&r, 0x21), 0x00, "ICW1 cleared the mask");
	outb(&r, 0x21, 0xfe);
	cr_assert_eq(inb(&r, 0x21), 0xfe);
	pulse(&r, 0);
	cr_assert_eq(i8259_ack(r.pic), 0x60);
	cr_assert_eq(inb(&r, 0x20), 0x01, "OCW3 during init selected ISR");
	rig_fini(&r);
}

Test(i8259, icw1_clears_state)
{
	struct rig r;
	setup(&r);
	outb(&r, 0x20, 0xc3);
	pulse(&r, 5);
	i8259_ack(r.pic);
	outb(&r, 0x21, 0x55);
	outb(&r, 0x20, 0x6b); /* SMM + read ISR */
	linux_init(&r, 0x01);
	cr_assert_eq(read_isr(&r, 0x20), 0);
	outb(&r, 0x20, 0x0a);
	pulse(&r, 7);
	pulse(&r, 0);
	cr_assert_eq(inb(&r, 0x20), 0x81, "IRR selected");
	cr_assert_eq(i8259_ack(r.pic), 0x20, "IR0 highest again");
	rig_fini(&r);
}

Test(i8259, wide_access_and_out_of_range)
{
	struct rig r;
	setup(&r);
	outb(&r, 0x21, 0x5a);
	pulse(&r, 1);
	uint16_t w = 0;
	bus_access(&r.io, 0x20, 2, false, &w, 1);
	cr_assert_eq(w, 0x5a02);
	w = 0xa50b; /* OCW3 read ISR, then mask */
	bus_access(&r.io, 0x20, 2, true, &w, 1);
	cr_assert_eq(inb(&r, 0x21), 0xa5);
	i8259_set_irq(r.pic, -1, 1);
	i8259_set_irq(r.pic, 16, 1);
	i8259_set_irq(r.pic, 1000, 1);
	cr_assert_eq(read_irr(&r, 0x20), 0x02);
	struct irq_chip chip = i8259_irq_chip(r.pic);
	irq_pulse(&chip, 4);
	cr_assert_eq(read_irr(&r, 0x20), 0x12);
	rig_fini(&r);
}

Test(i8259, reset_restores_power_on_state)
{
	struct rig r;
	setup(&r);
	outb(&r, 0x4d1, 0x08);
	pulse(&r, 3);
	cr_assert(i8259_intr(r.pic));
	i8259_reset(r.pic);
	cr_assert_not(i8259_intr(r.pic));
	cr_assert_eq(r.log.last, 0);
	cr_assert_eq(inb(&r, 0x21), 0);
	cr_assert_eq(i8259_elcr(r.pic, 1), 0);
	cr_assert_eq(inb(&r, 0x20), 0);
	rig_fini(&r);
}

Test(i8259, attach_refuses_taken_ports)
{
	struct rig r;
	rig_init(&r);
	struct i8259 *b = i8259_new((struct signal){0});
	cr_assert_eq(i8259_attach(b, &r.io), -1);
	cr_assert_eq(r.io.n, 3, "failed attach leaves no ranges behind");
	i8259_free(b);
	rig_fini(&r);
}

/* A tiny fixed-seed PRNG so the garbage run is reproducible. */
static uint32_t xorshift(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static const uint16_t ports[] = {0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1};

static void garbage_step(struct rig *r, uint32_t *seed)
{
	uint32_t x = xorshift(seed);
	uint16_t port = ports[(x >> 8) % 6];
	uint32_t val = xorshift(seed);
	unsigned size = 1u << ((x >> 16) % 3);

	switch (x % 6) {
	case 0:
		bus_access(&r->io, port, size, true, &val, 1);
		break;
	case 1:
		bus_access(&r->io, port, size, false, &val, 1);
		break;
	case 2:
		i8259_set_irq(r->pic, (int)(val % 20) - 2, (val >> 8) & 1);
		break;
	case 3:
		cr_assert_leq((unsigned)i8259_ack(r->pic), 255);
		break;
	case 4:
		i8259_set_elcr(r->pic, (val >> 8) % 3, val);
		break;
	default:
		if (val % 1000 == 0)
			i8259_reset(r->pic);
		break;
	}
}

Test(i8259, garbage_never_breaks_it)
{
	struct rig r;
	rig_init(&r);
	uint32_t seed = 0x8259a;
	for (int i = 0; i < 100000; i++) {
		garbage_step(&r, &seed);
		cr_assert_eq(r.log.last, i8259_intr(r.pic));
		cr_assert_eq(i8259_elcr(r.pic, 0) & 0x07, 0);
		cr_assert_eq(i8259_elcr(r.pic, 1) & 0x21, 0);
	}
	/* Still a working PIC afterwards. */
	for (int i = 0; i < 16; i++)
		i8259_set_irq(r.pic, i, 0);
	i8259_set_elcr(r.pic, 0, 0);
	i8259_set_elcr(r.pic, 1, 0);
	linux_init(&r, 0x01);
	for (int i = 0; i < 8; i++) {
		outb(&r, 0x20, 0x20);
		outb(&r, 0xa0, 0x20);
	}
	cr_assert_not(i8259_intr(r.pic));
	pulse(&r, 14);
	cr_assert_eq(i8259_ack(r.pic), 0x2e);
	rig_fini(&r);
}

Test(i8259, cascade_without_icw4_and_icw3_map)
{
	struct rig r;
	rig_init(&r);
	/* Cascade, no ICW4: ICW2, ICW3, then the next byte is OCW1. */
	outb(&r, 0x20, 0x10);
	outb(&r, 0x21, 0x30);
	outb(&r, 0x21, 0x00); /* ICW3: no slave on any input */
	outb(&r, 0x21, 0xf3);
	cr_assert_eq(inb(&r, 0x21), 0xf3);
	outb(&r, 0xa0, 0x10);
	outb(&r, 0xa1, 0x38);
	outb(&r, 0xa1, 0x02);
	outb(&r, 0xa1, 0x00);
	pulse(&r, 15);
	/* Master was told IR2 has no slave, so it answers IR2 itself. */
	cr_assert_eq(i8259_ack(r.pic), 0x32);
	cr_assert_eq(read_isr(&r, 0xa0), 0x00);
	outb(&r, 0x20, 0x20);
	outb(&r, 0x20, 0x10);
	outb(&r, 0x21, 0x30);
	outb(&r, 0x21, 0x04);
	outb(&r, 0x21, 0x00);
	cr_assert_eq(inb(&r, 0x21), 0x00);
	rig_fini(&r);
}
