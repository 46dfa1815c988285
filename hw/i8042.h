/*
 * Intel 8042 keyboard controller (ports 0x60 data, 0x64 status/command) with
 * an MF2 PS/2 keyboard behind it on IRQ 1, and a PS/2 mouse (hw/ps2mouse.c)
 * on the auxiliary port on IRQ 12.
 */
#ifndef MINIVMM_HW_I8042_H
#define MINIVMM_HW_I8042_H

#include <stddef.h>
#include <stdint.h>

#include "hw/hw.h"

#define I8042_DATA_PORT 0x60
#define I8042_CMD_PORT	0x64
#define I8042_KBD_IRQ	1
#define I8042_AUX_IRQ	12

struct i8042;

/*
 * irq: where IRQ 1 and IRQ 12 are pulsed (copied; may be NULL).
 * reset: raised with 1 when the guest asks for a system reset (output port
 * bit 0 written or pulsed low). a20: raised with the new A20 gate level.
 * The device starts in its power-on state.
 */
struct i8042 *i8042_new(const struct irq_chip *irq, struct signal reset,
			struct signal a20);
void i8042_free(struct i8042 *c);
/* Registers ports 0x60 and 0x64 (one byte each); 0 or -1. */
int i8042_attach(struct i8042 *c, struct bus *io);
/* Power-on / hardware reset of controller and keyboard; raises no signal. */
void i8042_reset(struct i8042 *c);

/*
 * A host key event as scan code set 2 bytes (e.g. {0x1c} press A,
 * {0xf0, 0x1c} release A, {0xe0, 0x75} cursor up). Dropped while the
 * keyboard is not scanning; the keyboard converts to the set the guest
 * selected and the controller translates when the command byte says so.
 */
void i8042_key(struct i8042 *c, const uint8_t *set2_bytes, size_t n);

/*
 * Host mouse input: relative motion (dx right, dy down, in mouse counts),
 * dz wheel clicks (positive towards the user), the buttons held
 * (PS2MOUSE_LEFT/RIGHT/MIDDLE). Reaches the guest as PS/2 packets once it
 * has enabled reporting.
 */
void i8042_mouse(struct i8042 *c, int dx, int dy, int dz, unsigned buttons);

/* Keyboard LED state last set by the guest: bit0 Scroll, bit1 Num, bit2 Caps.
 */
uint8_t i8042_leds(const struct i8042 *c);
/* Bytes waiting to be read by the guest (output buffer + all queues). */
size_t i8042_queued(const struct i8042 *c);

#endif
