/*
 * reset-triple: a triple fault in protected mode. With an empty IDT the
 * #UD from ud2 cannot be delivered (#GP), neither can that (#DF), and the
 * CPU shuts down; minivmm treats the shutdown as a reset.
 */
#include "lib.h"

int main(void)
{
	static const struct {
		uint16_t limit;
		uint32_t base;
	} __attribute__((packed)) empty = {0, 0};

	gputs("RESET triple fault requested\n");
	asm volatile("lidt %0; ud2" : : "m"(empty));
	fail("reset-triple", "still running after ud2 with an empty IDT");
	for (;;)
		asm volatile("cli; hlt");
}
