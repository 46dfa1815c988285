/* testdev: the cheapest possible device, so a benchmark measures the path
 * to it and nothing else. It has no state. */
#include "hw/testdev.h"

static uint64_t testdev_read(void *dev, uint64_t off, unsigned size)
{
	(void)dev;
	(void)off;
	(void)size;
	return 0;
}

static void testdev_write(void *dev, uint64_t off, unsigned size, uint64_t v)
{
	(void)dev;
	(void)off;
	(void)size;
	(void)v;
}

static const struct io_ops testdev_ops = {.read = testdev_read,
					  .write = testdev_write};

int testdev_attach(struct bus *io, struct bus *mmio)
{
	if (bus_register(io, TESTDEV_PORT, 4, &testdev_ops, NULL, "testdev"))
		return -1;
	return bus_register(mmio, TESTDEV_MMIO, 0x1000, &testdev_ops, NULL,
			    "testdev");
}
