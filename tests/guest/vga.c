/*
 * vga: the standard VGA's linear framebuffer as a driver without a BIOS
 * uses it. Finds 1234:1111 at 00:02.0, puts BAR0 at 0xE0000000, sets a
 * Bochs VBE mode of 640x480x32 through 0x1CE/0x1CF, and draws into the
 * framebuffer (in minivmm a KVM memory slot with dirty logging: no exits).
 * Two phases for tests/integration/vga-seabios.sh, which takes a
 * screendump after each "VGA-READY n" line: row 100 red and a white dot
 * at (320, 240); then, about three seconds later (RTC seconds), row 200
 * green. The program then spins until the host ends it.
 */
#include "lib.h"

#define LFB   0xE0000000u
#define SLOT  2
#define XRES  640
#define YRES  480
#define RED   0x00ff0000u
#define GREEN 0x0000ff00u
#define WHITE 0x00ffffffu

static uint32_t pci_rd(unsigned off)
{
	outl(0xcf8, 0x80000000u | SLOT << 11 | off);
	return inl(0xcfc);
}

static void pci_wr(unsigned off, uint32_t v)
{
	outl(0xcf8, 0x80000000u | SLOT << 11 | off);
	outl(0xcfc, v);
}

static void vbe(uint16_t i, uint16_t v)
{
	outw(0x1ce, i);
	outw(0x1cf, v);
}

static uint16_t vbe_rd(uint16_t i)
{
	outw(0x1ce, i);
	return inw(0x1cf);
}

static uint8_t rtc_sec(void)
{
	outb(0x70, 0x00);
	return inb(0x71);
}

/* About n seconds of wall time, by the RTC. */
static void wait_seconds(int n)
{
	uint8_t s = rtc_sec();
	while (n > 0) {
		uint8_t t = rtc_sec();
		if (t != s) {
			s = t;
			n--;
		}
	}
}

int main(void)
{
	volatile uint32_t *fb = (volatile uint32_t *)LFB;
	uint32_t id = pci_rd(0);
	if (!check(id == 0x11111234, "vga-pci-id", "00:02.0 is %08x", id))
		return 0;
	pci_wr(0x10, LFB);
	pci_wr(0x04, 0x3); /* I/O and memory decode */
	uint16_t vid = vbe_rd(0);
	check(vid >= 0xb0c0 && vid <= 0xb0c5, "vga-vbe-id", "id %04x", vid);
	vbe(1, XRES);
	vbe(2, YRES);
	vbe(3, 32);
	vbe(4, 0x41); /* enabled, linear framebuffer */
	check(vbe_rd(4) == 0x41, "vga-vbe-enable", "enable reads %04x",
	      vbe_rd(4));
	for (int x = 0; x < XRES; x++)
		fb[100 * XRES + x] = RED;
	fb[240 * XRES + 320] = WHITE;
	check(fb[100 * XRES + 7] == RED && fb[240 * XRES + 320] == WHITE,
	      "vga-lfb-readback", "read %08x", fb[100 * XRES + 7]);
	gprintf("VGA-READY 1\n");
	wait_seconds(3);
	for (int x = 0; x < XRES; x++)
		fb[200 * XRES + x] = GREEN;
	gprintf("VGA-READY 2\n");
	for (;;)
		asm volatile("pause");
}
