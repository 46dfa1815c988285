/*
 * System control port A at I/O 0x92, the "fast A20 / fast reset" register
 * introduced with the IBM PS/2 and kept by PC chipsets (Intel PIIX3 datasheet,
 * "Port 92h"; facts checked against QEMU hw/i386/port92.c).
 *
 *   bit 0  ALT_RST: a 0 -> 1 transition resets the system
 *   bit 1  ALT_A20: 1 = A20 gate enabled
 *   bit 3  password / CMOS lock, stored only
 *   other  stored and read back as written
 *
 * The register reads back the value last written. It starts with A20
 * enabled, matching the machine's (and the 8042 model's) power-on A20 state.
 */
#include "hw/port92.h"

#include <stdlib.h>

#define ALT_RST 0x01
#define ALT_A20 0x02

struct port92 {
	struct signal reset, a20;
	uint8_t value;
};

static uint64_t p92_read(void *dev, uint64_t off, unsigned size)
{
	struct port92 *p = dev;
	(void)off;
	(void)size;
	return p->value;
}

static void p92_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct port92 *p = dev;
	uint8_t old = p->value;
	(void)off;
	(void)size;

	p->value = val & 0xff;
	/*
	 * Re-assert A20 on every write: the 8042 drives the same gate, so the
	 * last writer wins, as on the chipsets that share one A20 line.
	 */
	signal_raise(&p->a20, !!(p->value & ALT_A20));
	/* Last: the reset handler may reset this device synchronously. */
	if ((p->value & ALT_RST) && !(old & ALT_RST))
		signal_raise(&p->reset, 1);
}

static const struct io_ops p92_ops = {.read = p92_read, .write = p92_write};

struct port92 *port92_new(struct signal reset, struct signal a20)
{
	struct port92 *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->reset = reset;
	p->a20 = a20;
	p->value = ALT_A20;
	return p;
}

void port92_free(struct port92 *p)
{
	free(p);
}

int port92_attach(struct port92 *p, struct bus *io)
{
	return bus_register(io, PORT92_PORT, 1, &p92_ops, p, "port92");
}

void port92_reset(struct port92 *p)
{
	p->value &= ~ALT_RST;
}

uint8_t port92_value(const struct port92 *p)
{
	return p->value;
}
