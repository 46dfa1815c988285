/*
 * strio: string I/O and unclaimed addresses, at CPL0 and at CPL3 with
 * IOPL=3. "rep outsb" to the debug port (one exit with count > 1),
 * "rep insb/insw/insl" from an unclaimed port (all ones, exactly count
 * elements, both directions, across a page boundary), single in from that
 * port, and byte/word/dword reads and a write at unclaimed MMIO.
 */
#include "lib.h"
#include "sys.h"

#define NO_PORT	  0x06F0 /* nothing in the PC map lives here */
#define NO_MMIO	  0xFEB00000u
#define BIG_BUF	  0x20F00u /* 4400 bytes from here cross a page boundary */
#define BIG_COUNT 1100

static uint8_t buf[64];

/* rep ins{b,w,l} of count elements to dst; returns the final EDI. */
static uint32_t rep_ins(int size, void *dst, uint32_t count, int down)
{
	uint32_t d = (uint32_t)dst;

	if (down)
		asm volatile("std");
	if (size == 1)
		asm volatile("rep insb"
			     : "+D"(d), "+c"(count)
			     : "d"(NO_PORT)
			     : "memory");
	else if (size == 2)
		asm volatile("rep insw"
			     : "+D"(d), "+c"(count)
			     : "d"(NO_PORT)
			     : "memory");
	else
		asm volatile("rep insl"
			     : "+D"(d), "+c"(count)
			     : "d"(NO_PORT)
			     : "memory");
	asm volatile("cld");
	return count ? 0 : d;
}

static void rep_outsb(const char *s)
{
	uint32_t n = 0;

	while (s[n])
		n++;
	asm volatile("cld; rep outsb"
		     : "+S"(s), "+c"(n)
		     : "d"(DEBUG_PORT)
		     : "memory");
}

/* buf[first, first+len) all ones, every other byte of p[0, size) zero. */
static int ones_exactly(const uint8_t *p, unsigned size, unsigned first,
			unsigned len)
{
	unsigned i;

	for (i = 0; i < size; i++)
		if (p[i] != ((i >= first && i < first + len) ? 0xFF : 0))
			return 0;
	return 1;
}

/* One string-input case into buf at offset off; checks data and EDI. */
static int ins_case(int size, unsigned off, unsigned count, int down)
{
	unsigned bytes = size * count;
	unsigned first = down ? off + size - bytes : off;
	uint32_t end, want_end;

	memset(buf, 0, sizeof(buf));
	end = rep_ins(size, buf + off, count, down);
	want_end = (uint32_t)buf + (down ? off - bytes : off + bytes);
	return end == want_end && ones_exactly(buf, sizeof(buf), first, bytes);
}

static void test_ins(const char *who)
{
	int ok;

	ok = ins_case(1, 8, 16, 0) && ins_case(2, 8, 8, 0) &&
	     ins_case(4, 8, 4, 0);
	check(ok, join_name("strio-ins", who),
	      "rep insb/insw/insl from port %x: wrong data or EDI", NO_PORT);
	ok = ins_case(2, 30, 4, 1) && ins_case(1, 40, 3, 1);
	check(ok, join_name("strio-ins-std", who),
	      "rep ins with EFLAGS.DF=1: wrong data or EDI");
}

static void test_big_ins(const char *who)
{
	uint8_t *p = (uint8_t *)(BIG_BUF - 64);
	uint32_t end;
	unsigned total = BIG_COUNT * 4 + 128;

	memset(p, 0, total);
	end = rep_ins(4, (void *)BIG_BUF, BIG_COUNT, 0);
	check(end == BIG_BUF + BIG_COUNT * 4 &&
		  ones_exactly(p, total, 64, BIG_COUNT * 4),
	      join_name("strio-ins-page", who),
	      "rep insl x%u across a page boundary", BIG_COUNT);
}

static void test_in_single(const char *who)
{
	uint8_t b = inb(NO_PORT);
	uint16_t w = inw(NO_PORT);
	uint32_t l = inl(NO_PORT);

	check(b == 0xFF && w == 0xFFFF && l == 0xFFFFFFFF,
	      join_name("strio-in", who), "in from port %x: %x %x %x", NO_PORT,
	      b, w, l);
}

static void test_mmio(const char *who)
{
	volatile uint8_t *m8 = (volatile uint8_t *)NO_MMIO;
	volatile uint16_t *m16 = (volatile uint16_t *)(NO_MMIO + 2);
	volatile uint32_t *m32 = (volatile uint32_t *)(NO_MMIO + 4);
	uint8_t b = *m8;
	uint16_t w = *m16;
	uint32_t l = *m32, after;

	*m32 = 0x12345678;
	after = *m32;
	check(b == 0xFF && w == 0xFFFF && l == 0xFFFFFFFF &&
		  after == 0xFFFFFFFF,
	      join_name("strio-mmio", who),
	      "unclaimed MMIO %x read %x %x %x, after write %x", NO_MMIO, b, w,
	      l, after);
}

static void all_tests(const char *who)
{
	test_ins(who);
	test_big_ins(who);
	test_in_single(who);
	test_mmio(who);
}

static void user_part(void)
{
	rep_outsb("STRIO rep outsb at cpl3\n");
	all_tests("cpl3");
}

int main(void)
{
	rep_outsb("STRIO rep outsb at cpl0\n");
	all_tests("cpl0");
	run_user(user_part);
	return 0;
}
