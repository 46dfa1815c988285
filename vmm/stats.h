/* Exit statistics (-stats): counts and host time per exit kind. */
#ifndef MINIVMM_STATS_H
#define MINIVMM_STATS_H

#include <stdint.h>
#include <stdio.h>

enum exit_kind {
	EXK_PIO,
	EXK_PIO_STR,
	EXK_MMIO,
	EXK_HLT,
	EXK_IRQ_WINDOW,
	EXK_INTR,
	EXK_EMULATE,
	EXK_SHUTDOWN,
	EXK_OTHER,
	EXK_COUNT
};

struct exit_stats {
	uint64_t count[EXK_COUNT];
	uint64_t ns[EXK_COUNT];
	uint64_t injected; /* interrupts injected with KVM_INTERRUPT */
};

struct vm;
void stats_print(struct vm *vm, FILE *f);

#endif
