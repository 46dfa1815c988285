/* Port and MMIO buses: sorted, non-overlapping ranges; binary-search lookup. */
#include "ioreq/bus.h"
#include "ioreq/bytes.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

void bus_init(struct bus *b, const char *name)
{
	memset(b, 0, sizeof(*b));
	b->name = name;
}

void bus_destroy(struct bus *b)
{
	free(b->r);
	b->r = NULL;
	b->n = b->cap = 0;
}

/* Index of the first range whose end is above addr. */
static size_t lower_bound(const struct bus *b, uint64_t addr)
{
	size_t lo = 0, hi = b->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (b->r[mid].base + b->r[mid].len - 1 < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int bus_register(struct bus *b, uint64_t base, uint64_t len,
		 const struct io_ops *ops, void *dev, const char *name)
{
	if (len == 0 || base + (len - 1) < base || !ops)
		return -1;
	size_t i = lower_bound(b, base);
	if (i < b->n && b->r[i].base <= base + len - 1)
		return -1; /* overlap */
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16;
		struct bus_range *r = realloc(b->r, cap * sizeof(*r));
		if (!r)
			return -1;
		b->r = r;
		b->cap = cap;
	}
	memmove(&b->r[i + 1], &b->r[i], (b->n - i) * sizeof(b->r[0]));
	b->r[i] = (struct bus_range){.base = base,
				     .len = len,
				     .ops = ops,
				     .dev = dev,
				     .name = name ? name : "?"};
	b->n++;
	return 0;
}

int bus_unregister(struct bus *b, uint64_t base, void *dev)
{
	size_t i = lower_bound(b, base);
	if (i >= b->n || b->r[i].base != base || b->r[i].dev != dev)
		return -1;
	memmove(&b->r[i], &b->r[i + 1], (b->n - i - 1) * sizeof(b->r[0]));
	b->n--;
	return 0;
}

struct bus_range *bus_find(struct bus *b, uint64_t addr)
{
	size_t i = lower_bound(b, addr);
	if (i < b->n && b->r[i].base <= addr)
		return &b->r[i];
	return NULL;
}

/* One element of size bytes at addr. */
static struct bus_range *access_one(struct bus *b, uint64_t addr, unsigned size,
				    bool write, uint8_t *p)
{
	struct bus_range *r = bus_find(b, addr);
	if (!r) {
		if (write)
			b->unclaimed_writes++;
		else {
			b->unclaimed_reads++;
			memset(p, 0xff, size);
		}
		/* A wide access may still reach a range further up. */
		size_t i = size > 1 ? lower_bound(b, addr) : b->n;
		if (i >= b->n || b->r[i].base > addr + size - 1)
			return NULL;
		for (unsigned k = 0; k < size; k++)
			access_one(b, addr + k, 1, write, p + k);
		return &b->r[i];
	}
	uint64_t off = addr - r->base;
	unsigned w = r->ops->width;
	if (w && size > w && off + size <= r->len) {
		for (unsigned i = 0; i < size; i += w)
			access_one(b, addr + i, w, write, p + i);
		return r;
	}
	if (off + size > r->len) {
		/* Straddles the end of the range: split per byte. */
		for (unsigned i = 0; i < size; i++)
			access_one(b, addr + i, 1, write, p + i);
		return r;
	}
	if (write) {
		r->writes++;
		if (r->ops->write)
			r->ops->write(r->dev, off, size, get_le(p, size));
	} else {
		r->reads++;
		uint64_t v =
		    r->ops->read ? r->ops->read(r->dev, off, size) : ~0ull;
		put_le(p, size, v);
	}
	return r;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

struct bus_range *bus_access(struct bus *b, uint64_t addr, unsigned size,
			     bool write, void *data, uint32_t count)
{
	uint8_t *p = data;
	uint64_t t0 = now_ns();
	struct bus_range *r = bus_find(b, addr);
	uint32_t done = 0;

	if (count > 1 && r && addr - r->base + size <= r->len) {
		if (write && r->ops->write_str)
			done = r->ops->write_str(r->dev, addr - r->base, size,
						 p, count);
		else if (!write && r->ops->read_str)
			done = r->ops->read_str(r->dev, addr - r->base, size, p,
						count);
		if (done > count)
			done = count;
		if (done) {
			if (write)
				r->writes++;
			else
				r->reads++;
		}
	}
	for (uint32_t i = done; i < count; i++)
		r = access_one(b, addr, size, write, p + (size_t)i * size);
	if (r)
		r->ns += now_ns() - t0;
	return r;
}
