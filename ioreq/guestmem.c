/* Guest-physical to host translation for DMA; refuses anything not RAM. */
#include "ioreq/guestmem.h"

#include <string.h>

int gm_add(struct guest_mem *gm, uint64_t gpa, uint64_t size, void *hva,
	   bool readonly)
{
	if (gm->n >= GM_MAX_REGIONS || size == 0 || gpa + size < gpa)
		return -1;
	gm->r[gm->n++] = (struct gm_region){gpa, size, hva, readonly};
	return 0;
}

void *gm_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len, bool write)
{
	if (len == 0 || gpa + len < gpa)
		return NULL;
	for (int i = 0; i < gm->n; i++) {
		const struct gm_region *r = &gm->r[i];
		if (gpa >= r->gpa && gpa - r->gpa < r->size &&
		    len <= r->size - (gpa - r->gpa)) {
			if (write && r->readonly)
				return NULL;
			return r->hva + (gpa - r->gpa);
		}
	}
	return NULL;
}

int gm_read(const struct guest_mem *gm, uint64_t gpa, void *buf, size_t len)
{
	if (len == 0)
		return 0;
	void *p = gm_ptr(gm, gpa, len, false);
	if (!p)
		return -1;
	memcpy(buf, p, len);
	return 0;
}

int gm_write(const struct guest_mem *gm, uint64_t gpa, const void *buf,
	     size_t len)
{
	if (len == 0)
		return 0;
	void *p = gm_ptr(gm, gpa, len, true);
	if (!p)
		return -1;
	memcpy(p, buf, len);
	return 0;
}
