/*
 * Protected-mode set-up: TSS, IDT with an exception reporter, and the
 * handler that turns an unexpected exception into a FAIL line.
 */
#include "lib.h"
#include "sys.h"

#define IDT_ENTRIES 0x81

static uint64_t idt[IDT_ENTRIES];
struct idt_desc idt_desc = {sizeof(idt) - 1, (uint32_t)idt};
uint32_t tss32[26];
int (*exc_hook)(struct exc_frame *f);
volatile uint32_t int80_fault;

uint64_t seg_desc(uint32_t base, uint32_t limit, uint32_t type)
{
	return (limit & 0xFFFF) | ((uint64_t)(base & 0xFFFFFF) << 16) |
	       ((uint64_t)type << 40) | ((uint64_t)(limit >> 16) << 48) |
	       ((uint64_t)(base >> 24) << 56);
}

void set_gate(unsigned vec, void (*handler)(void), unsigned dpl)
{
	uint32_t off = (uint32_t)handler;

	idt[vec] =
	    (off & 0xFFFF) | ((uint32_t)SEL_CODE32 << 16) |
	    ((uint64_t)((off & 0xFFFF0000) | 0x8E00 | (dpl << 13)) << 32);
}

void sys_init(void)
{
	unsigned i;

	tss32[1] = TSS_STACK;  /* ESP0 */
	tss32[2] = SEL_DATA32; /* SS0 */
	tss32[25] = 104 << 16; /* I/O map base beyond the limit: no bitmap */
	gdt[SEL_TSS32 / 8] = seg_desc((uint32_t)tss32, 103, 0x89);
	asm volatile("ltr %w0" : : "r"(SEL_TSS32));
	for (i = 0; i < 32; i++)
		set_gate(i, (void (*)(void))exc_stub_table[i], 0);
	set_gate(0x80, user_return, 3);
	asm volatile("lidt %0" : : "m"(idt_desc));
}

/* Called by the stubs; returns EXC_RESUME or EXC_USER_RETURN. */
int exception_c(struct exc_frame *f)
{
	int r;

	if (exc_hook) {
		r = exc_hook(f);
		if (r != EXC_DIE)
			return r;
	}
	if ((f->cs & 3) == 3 && f->eip == (uint32_t)user_int80) {
		/* The way back from CPL3 itself faulted (this host: #UD);
		 * note it for the emul test and carry on. */
		int80_fault = f->vec ? f->vec : 0x100;
		return EXC_USER_RETURN;
	}
	gprintf("FAIL exception: vector %u error %x at %x:%x eflags %x\n",
		f->vec, f->err, f->cs, f->eip, f->eflags);
	guest_done();
}
