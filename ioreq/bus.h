/*
 * Address-space dispatch: a port bus and an MMIO bus, each a sorted array of
 * non-overlapping ranges mapped to (device, ops). Offsets handed to a device
 * are relative to the start of the range it registered, so a device never
 * knows where it is mapped. Accesses nobody claims read as all ones and
 * ignore writes, like an ISA/PCI bus with no responder.
 */
#ifndef MINIVMM_BUS_H
#define MINIVMM_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct io_ops {
	/* size is 1, 2, 4 or 8 bytes; the value is zero-extended. */
	uint64_t (*read)(void *dev, uint64_t off, unsigned size);
	void (*write)(void *dev, uint64_t off, unsigned size, uint64_t val);
	/*
	 * Optional string I/O (rep ins/outs): buf holds count elements of size
	 * bytes. Return the number of elements handled; the bus falls back to
	 * element-wise read/write for the rest. Devices such as the IDE data
	 * port move a whole burst in one call.
	 */
	uint32_t (*read_str)(void *dev, uint64_t off, unsigned size, void *buf,
			     uint32_t count);
	uint32_t (*write_str)(void *dev, uint64_t off, unsigned size,
			      const void *buf, uint32_t count);
	/*
	 * Register width in bytes (0: any). The bus splits wider accesses
	 * into consecutive accesses of this width, as an ISA bus does for an
	 * 8-bit device, so byte-wide devices only ever see size == width.
	 */
	unsigned width;
};

struct bus_range {
	uint64_t base, len;
	const struct io_ops *ops;
	void *dev;
	const char *name;
	/* Statistics, updated by the dispatcher. */
	uint64_t reads, writes, ns;
};

struct bus {
	const char *name; /* "port" or "mmio" */
	struct bus_range *r;
	size_t n, cap;
	/* Accesses that hit no range. */
	uint64_t unclaimed_reads, unclaimed_writes;
};

void bus_init(struct bus *b, const char *name);
void bus_destroy(struct bus *b);
/* Returns 0, or -1 for a zero length, a wrap-around or an overlap. */
int bus_register(struct bus *b, uint64_t base, uint64_t len,
		 const struct io_ops *ops, void *dev, const char *name);
/* Removes the range starting at base owned by dev; -1 if there is none. */
int bus_unregister(struct bus *b, uint64_t base, void *dev);
/* The range containing addr, or NULL. */
struct bus_range *bus_find(struct bus *b, uint64_t addr);

/*
 * One access (count elements of size bytes; data points to count*size bytes
 * in guest order). Unclaimed reads fill data with 0xff. An access that
 * straddles the end of a range is split per byte by the bus.
 * Returns the range that took it (NULL if unclaimed), for tracing.
 */
struct bus_range *bus_access(struct bus *b, uint64_t addr, unsigned size,
			     bool write, void *data, uint32_t count);

#endif
