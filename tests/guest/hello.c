/*
 * hello: the smallest guest. Real mode, prints a greeting on the debug
 * port 0xE9 and on COM1 (polling LSR.THRE), then resets through 0xCF9.
 * Also minivmm's demo: "minivmm -bios hello.bin -nographic -no-reboot".
 */
#include "lib.h"
#include "uart.h"

static const char greeting[] = "Hello from minivmm guest\n";

int main(void)
{
	const char *p;
	int ok = 1;

	gputs(greeting);
	uart_init();
	for (p = greeting; *p; p++)
		ok &= uart_putc(*p);
	check(ok, "hello", "UART LSR.THRE never set");
	return 0;
}
