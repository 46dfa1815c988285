/*
 * halt: stop the CPU for good, as Linux's "poweroff -f" without ACPI does
 * (interrupts off, then hlt). Nothing can wake it (minivmm has no NMI
 * source), so minivmm must end with status 0 and say why on stderr
 * instead of sleeping forever. Run with both irqchips.
 */
#include "lib.h"

int main(void)
{
	gputs("HALT cli; hlt\n");
	asm volatile("cli; hlt");
	/* Only an NMI, SMI or INIT could get here. */
	fail("halt", "hlt with interrupts disabled returned");
	for (;;)
		asm volatile("cli; hlt");
}
