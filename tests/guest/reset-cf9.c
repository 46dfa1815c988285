/*
 * reset-cf9: request a hard reset through the PIIX3 reset control register
 * (port 0xCF9). With -no-reboot minivmm must exit 0 after the marker.
 */
#include "lib.h"

int main(void)
{
	unsigned n;

	gputs("RESET cf9 requested\n");
	outb(0xCF9, 0x02);
	outb(0xCF9, 0x06);
	for (n = 0; n < 10000; n++)
		inb(0x80);
	fail("reset-cf9", "still running after writing 06 to port cf9");
	for (;;)
		asm volatile("cli; hlt");
}
