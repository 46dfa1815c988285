/*
 * Long mode for the 32-bit guest tests (lm-asm.S, lm.c). On this project's
 * KVM host, CPL3 code runs natively only in long mode with paging; in
 * 32-bit protected mode it is emulated instruction by instruction (and
 * x87/SSE/int n there raise #UD). So hot loops and CPL3 FPU work go
 * through long_call(): enter long mode (identity map of 4 GiB, 2 MiB user
 * pages), call a 64-bit assembly function at CPL0, and come back to
 * 32-bit protected mode. 64-bit code enters CPL3 with run_user64 (%rdi =
 * function; IOPL=3, IF=0) and comes back through int $0x80.
 */
#ifndef GUEST_LM_H
#define GUEST_LM_H

#include <stdint.h>

void long_mode_setup(void);
void long_call(void (*fn64)(void));
/* IDT64 interrupt gate (call long_mode_setup first). */
void lm_set_gate(unsigned vec, uint32_t off, unsigned dpl);

/* Vector (| 0x100) of the exception int $0x80 at CPL3 raised instead of
 * reaching its gate, or 0. */
extern volatile uint32_t int80_64_fault;

#endif
