/*
 * Guest-physical memory as seen by device models. All DMA goes through
 * gm_ptr(): it returns a host pointer only when the whole range is guest RAM,
 * so a wild guest address becomes a device error, never a host access.
 */
#ifndef MINIVMM_GUESTMEM_H
#define MINIVMM_GUESTMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GM_MAX_REGIONS 8

struct gm_region {
	uint64_t gpa, size;
	uint8_t *hva;
	bool readonly; /* ROM: DMA may read but not write it */
};

struct guest_mem {
	struct gm_region r[GM_MAX_REGIONS];
	int n;
	uint64_t ram_size; /* bytes of RAM the guest was given */
};

int gm_add(struct guest_mem *gm, uint64_t gpa, uint64_t size, void *hva,
	   bool readonly);
/* Host pointer for [gpa, gpa+len) if it lies inside one RAM region (and is
 * writable when write is set); NULL otherwise. len 0 is refused. */
void *gm_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len,
	     bool write);
/* Copy helpers: 0 on success, -1 if any byte is outside RAM (nothing is
 * copied then). */
int gm_read(const struct guest_mem *gm, uint64_t gpa, void *buf, size_t len);
int gm_write(const struct guest_mem *gm, uint64_t gpa, const void *buf,
	     size_t len);

#endif
