/*
 * POST diagnostic port 0x80. Firmware writes progress codes here, and
 * operating systems write to it as a short I/O delay (Linux's io_delay).
 * On a real board a POST card latches the byte; on many chipsets the port is
 * a spare DMA page register, so reading it returns the last byte written,
 * which is what this model does. It also counts writes, so a stalled boot
 * can be told from a busy one.
 */
#include "hw/postcode.h"

#include <stdlib.h>

struct postcode {
	uint8_t last;
	uint64_t count;
};

static uint64_t pc_read(void *dev, uint64_t off, unsigned size)
{
	struct postcode *p = dev;
	(void)off;
	(void)size;
	return p->last;
}

static void pc_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct postcode *p = dev;
	(void)off;
	(void)size;
	p->last = val & 0xff;
	p->count++;
}

static const struct io_ops pc_ops = {.read = pc_read, .write = pc_write};

struct postcode *postcode_new(void)
{
	return calloc(1, sizeof(struct postcode));
}

void postcode_free(struct postcode *p)
{
	free(p);
}

int postcode_attach(struct postcode *p, struct bus *io)
{
	return bus_register(io, POSTCODE_PORT, 1, &pc_ops, p, "postcode");
}

uint8_t postcode_last(const struct postcode *p)
{
	return p->last;
}

uint64_t postcode_count(const struct postcode *p)
{
	return p->count;
}
