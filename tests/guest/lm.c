/*
 * Long-mode tables, built once from 32-bit code: identity map of the
 * first 4 GiB with 2 MiB pages (present, writable, user), IDT64 with the
 * exception stubs of lm-asm.S and the DPL3 int $0x80 gate, a 64-bit TSS.
 */
#include "lib.h"
#include "lm.h"
#include "sys.h"

extern const uint32_t exc64_stub_table[32];
extern char user_return64[];
extern struct {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed)) idt64_desc;

static uint64_t idt64[0x81 * 2] __attribute__((aligned(16)));
static uint32_t tss64[26];
static int lm_ready;

void lm_set_gate(unsigned vec, uint32_t off, unsigned dpl)
{
	idt64[vec * 2] =
	    (off & 0xFFFF) | ((uint32_t)SEL_CODE64 << 16) |
	    ((uint64_t)((off & 0xFFFF0000) | 0x8E00 | (dpl << 13)) << 32);
	idt64[vec * 2 + 1] = 0;
}

void long_mode_setup(void)
{
	uint64_t *pml4 = (uint64_t *)PAGE_TABLES;
	uint64_t *pdpt = pml4 + 512, *pd = pml4 + 1024;
	unsigned i;

	if (lm_ready)
		return;
	for (i = 0; i < 512; i++) {
		pml4[i] = 0;
		pdpt[i] = 0;
	}
	for (i = 0; i < 4 * 512; i++)
		pd[i] = ((uint64_t)i << 21) | 0x87; /* P RW US PS */
	pml4[0] = (uint32_t)pdpt | 0x7;
	for (i = 0; i < 4; i++)
		pdpt[i] = (uint32_t)(pd + i * 512) | 0x7;
	for (i = 0; i < 32; i++)
		lm_set_gate(i, exc64_stub_table[i], 0);
	lm_set_gate(0x80, (uint32_t)user_return64, 3);
	idt64_desc.limit = sizeof(idt64) - 1;
	idt64_desc.base = (uint32_t)idt64;
	tss64[1] = TSS_STACK;  /* RSP0, low half */
	tss64[25] = 104 << 16; /* no I/O bitmap */
	gdt[SEL_TSS64 / 8] = seg_desc((uint32_t)tss64, 103, 0x89);
	gdt[SEL_TSS64 / 8 + 1] = 0;
	lm_ready = 1;
}
