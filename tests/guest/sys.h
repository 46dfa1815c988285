/*
 * Protected-mode runtime of the 32-bit guest tests (crt32.S + sys.c):
 * flat GDT with CPL0 and CPL3 segments, a 16-bit and two 64-bit code
 * segments, 32- and 64-bit TSS slots, an IDT whose exception vectors print
 * a FAIL line, and a way to run a function at CPL3 with EFLAGS.IOPL=3 that
 * comes back to CPL0 through "int $0x80" (a DPL3 interrupt gate).
 */
#ifndef GUEST_SYS_H
#define GUEST_SYS_H

#define IMAGE_BASE  0xF0000
#define SEL_CODE32  0x08
#define SEL_DATA32  0x10
#define SEL_UCODE32 0x1B
#define SEL_UDATA   0x23
#define SEL_TSS32   0x28
#define SEL_CODE16  0x30
#define SEL_CODE64  0x38
#define SEL_UCODE64 0x43
#define SEL_TSS64   0x48

#define KERNEL_STACK 0x90000 /* CPL0 stack (grows down) */
#define TSS_STACK    0x88000 /* stack the CPU switches to from CPL3 */
#define USER_STACK   0x80000 /* CPL3 stack */
#define USER_EFLAGS  0x3002  /* IOPL=3, IF=0 */
#define PAGE_TABLES  0x10000 /* PML4, PDPT, PD for long mode (12 KiB) */

/* exc_hook results: what the stub does after the hook. */
#define EXC_DIE		0 /* print FAIL and reset */
#define EXC_RESUME	1 /* iret to the (possibly modified) frame */
#define EXC_USER_RETURN 2 /* end the CPL3 excursion, back to run_user */

#ifndef __ASSEMBLER__
#include <stdint.h>

/* Stack layout built by the exception stubs in crt32.S (pushal order). */
struct exc_frame {
	uint32_t edi, esi, ebp, esp, ebx, edx, ecx, eax;
	uint32_t vec, err, eip, cs, eflags;
	uint32_t user_esp, user_ss; /* only when coming from CPL3 */
};

extern int (*exc_hook)(struct exc_frame *f);
/* Vector of the exception "int $0x80" at CPL3 raised instead, or 0. */
extern volatile uint32_t int80_fault;

struct idt_desc {
	uint16_t limit;
	uint32_t base;
} __attribute__((packed));

extern struct idt_desc idt_desc;
extern uint64_t gdt[];
extern uint32_t tss32[26];
extern const uint32_t exc_stub_table[32];

/* A byte-granular segment descriptor (code16, TSS). */
uint64_t seg_desc(uint32_t base, uint32_t limit, uint32_t type);
void set_gate(unsigned vec, void (*handler)(void), unsigned dpl);
/* Run fn at CPL3 (IOPL=3, IF=0) on USER_STACK; returns when it returns. */
void run_user(void (*fn)(void));
void user_return(void);
extern char user_int80[]; /* address of the "int $0x80" in the trampoline */
#endif

#endif
