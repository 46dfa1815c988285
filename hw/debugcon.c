/*
 * The Bochs "port 0xE9 hack" debug console, also provided by QEMU's
 * isa-debugcon (facts from the Bochs documentation and QEMU
 * hw/char/debugcon.c): every byte written to the port is sent to the host's
 * debug output; a read returns 0xE9 so that a guest can tell the port is
 * there. A "rep outsb" burst is passed on in one call.
 */
#include "hw/debugcon.h"

#include <stdlib.h>

struct debugcon {
	struct debugcon_out out;
	uint64_t bytes;
};

static void emit(struct debugcon *d, const uint8_t *buf, size_t n)
{
	d->bytes += n;
	if (d->out.out && n)
		d->out.out(d->out.opaque, buf, n);
}

static uint64_t dc_read(void *dev, uint64_t off, unsigned size)
{
	(void)dev;
	(void)off;
	(void)size;
	return DEBUGCON_READBACK;
}

/* Only the low byte of a wider write reaches an 8-bit ISA port. */
static void dc_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	uint8_t b = val & 0xff;
	(void)off;
	(void)size;
	emit(dev, &b, 1);
}

static uint32_t dc_write_str(void *dev, uint64_t off, unsigned size,
			     const void *buf, uint32_t count)
{
	(void)off;

	if (size != 1)
		return 0; /* let the bus split it per element */
	emit(dev, buf, count);
	return count;
}

static const struct io_ops dc_ops = {
    .read = dc_read,
    .write = dc_write,
    .write_str = dc_write_str,
};

struct debugcon *debugcon_new(struct debugcon_out out)
{
	struct debugcon *d = calloc(1, sizeof(*d));

	if (d)
		d->out = out;
	return d;
}

void debugcon_free(struct debugcon *d)
{
	free(d);
}

int debugcon_attach(struct debugcon *d, struct bus *io, uint16_t port)
{
	return bus_register(io, port, 1, &dc_ops, d, "debugcon");
}

uint64_t debugcon_bytes(const struct debugcon *d)
{
	return d->bytes;
}
