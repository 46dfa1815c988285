/*
 * Reset control register of the Intel 82371SB PIIX3 (datasheet, "RC - Reset
 * Control Register", I/O 0CF9h; facts checked against QEMU hw/isa/piix.c).
 *
 *   bit 1  SRST: reset type, 1 = hard (system) reset, 0 = soft (CPU INIT)
 *   bit 2  RCPU: writing 1 starts the reset; the bit does not stay set
 *   bit 3  stored (FULL_RST on later ICH parts), no effect here
 *
 * Guests write SRST first and then SRST|RCPU (Linux's "cf9" reboot, SeaBIOS),
 * or RCPU directly; every write with RCPU set requests a reset, which is what
 * a 0 -> 1 transition of a self-clearing bit amounts to. The reset type is
 * recorded for the machine to query; both kinds reset the guest here.
 */
#include "hw/resetctl.h"

#include <stdlib.h>

#define RC_SRST	  0x02
#define RC_RCPU	  0x04
#define RC_STORED 0x0a

struct resetctl {
	struct signal reset;
	uint8_t value;
	bool hard;
};

static uint64_t rc_read(void *dev, uint64_t off, unsigned size)
{
	struct resetctl *rc = dev;
	(void)off;
	(void)size;
	return rc->value;
}

static void rc_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct resetctl *rc = dev;
	(void)off;
	(void)size;

	rc->value = val & RC_STORED;
	if (val & RC_RCPU) {
		rc->hard = val & RC_SRST;
		/* Last: the reset handler may reset this device synchronously.
		 */
		signal_raise(&rc->reset, 1);
	}
}

static const struct io_ops rc_ops = {.read = rc_read, .write = rc_write};

const struct io_ops *resetctl_ops(void)
{
	return &rc_ops;
}

struct resetctl *resetctl_new(struct signal reset)
{
	struct resetctl *rc = calloc(1, sizeof(*rc));

	if (rc)
		rc->reset = reset;
	return rc;
}

void resetctl_free(struct resetctl *rc)
{
	free(rc);
}

int resetctl_attach(struct resetctl *rc, struct bus *io)
{
	return bus_register(io, RESETCTL_PORT, 1, &rc_ops, rc, "resetctl");
}

void resetctl_reset(struct resetctl *rc)
{
	rc->value = 0;
}

bool resetctl_hard(const struct resetctl *rc)
{
	return rc->hard;
}
