/*
 * reset-kbd: pulse the CPU reset line through the i8042 (command 0xFE on
 * port 0x64), after waiting for its input buffer to be empty.
 */
#include "lib.h"

int main(void)
{
	unsigned n;

	for (n = 0; n < 10000 && (inb(0x64) & 0x02); n++)
		;
	gputs("RESET kbd requested\n");
	outb(0x64, 0xFE);
	for (n = 0; n < 10000; n++)
		inb(0x80);
	fail("reset-kbd", "still running after i8042 command fe");
	for (;;)
		asm volatile("cli; hlt");
}
