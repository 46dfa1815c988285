/*
 * Guest runtime: formatted output on the debug port and result lines.
 * No libc: only what the tests use (%s %c %d %u %x, width, zero padding,
 * "ll" for 64-bit hex).
 */
#include "lib.h"

void gputc(char c)
{
	outb(DEBUG_PORT, (uint8_t)c);
}

void gputs(const char *s)
{
	while (*s)
		gputc(*s++);
}

static void put_num(uint32_t v, unsigned base, int width, char pad)
{
	char buf[12];
	int n = 0;

	do {
		buf[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (width-- > n)
		gputc(pad);
	while (n)
		gputc(buf[--n]);
}

static void put_hex64(uint64_t v, int width, char pad)
{
	uint32_t hi = (uint32_t)(v >> 32);

	if (hi) {
		put_num(hi, 16, width > 8 ? width - 8 : 0, pad);
		put_num((uint32_t)v, 16, 8, '0');
	} else {
		put_num((uint32_t)v, 16, width, pad);
	}
}

void gvprintf(const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		char pad = ' ';
		int width = 0, nl = 0;

		if (*fmt != '%') {
			gputc(*fmt);
			continue;
		}
		fmt++;
		if (*fmt == '0')
			pad = '0';
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l' && nl < 2) {
			nl++;
			fmt++;
		}
		switch (*fmt) {
		case 's':
			gputs(va_arg(ap, const char *));
			break;
		case 'c':
			gputc((char)va_arg(ap, int));
			break;
		case 'd': {
			int v = va_arg(ap, int);

			if (v < 0) {
				gputc('-');
				v = -v;
			}
			put_num((uint32_t)v, 10, width, pad);
			break;
		}
		case 'u':
			put_num(va_arg(ap, uint32_t), 10, width, pad);
			break;
		case 'x':
			if (nl == 2)
				put_hex64(va_arg(ap, uint64_t), width, pad);
			else
				put_num(va_arg(ap, uint32_t), 16, width, pad);
			break;
		case '\0':
			return;
		default:
			gputc(*fmt);
		}
	}
}

void gprintf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	gvprintf(fmt, ap);
	va_end(ap);
}

void pass(const char *name)
{
	gprintf("PASS %s\n", name);
}

void fail(const char *name, const char *fmt, ...)
{
	va_list ap;

	gprintf("FAIL %s: ", name);
	va_start(ap, fmt);
	gvprintf(fmt, ap);
	va_end(ap);
	gputc('\n');
}

void skip(const char *name, const char *why)
{
	gprintf("SKIP %s: %s\n", name, why);
}

int check(int ok, const char *name, const char *fmt, ...)
{
	va_list ap;

	if (ok) {
		pass(name);
		return 1;
	}
	gprintf("FAIL %s: ", name);
	va_start(ap, fmt);
	gvprintf(fmt, ap);
	va_end(ap);
	gputc('\n');
	return 0;
}

const char *join_name(const char *a, const char *b)
{
	static char name[48];
	unsigned n = 0;

	while (*a && n < sizeof(name) - 2)
		name[n++] = *a++;
	name[n++] = '-';
	while (*b && n < sizeof(name) - 1)
		name[n++] = *b++;
	name[n] = 0;
	return name;
}

void guest_done(void)
{
	gputs("DONE\n");
	/* PIIX3 reset control register: bit 2 starts a reset, bit 1 = hard. */
	outb(0xCF9, 0x02);
	outb(0xCF9, 0x06);
	for (;;)
		asm volatile("cli; hlt");
}

uint32_t udiv64_32(uint64_t n, uint32_t d)
{
	uint32_t hi = (uint32_t)(n >> 32), lo = (uint32_t)n, q_hi, q_lo, r;

	/* Two divl steps keep every quotient within 32 bits. */
	asm("divl %4" : "=a"(q_hi), "=d"(r) : "a"(hi), "d"(0), "rm"(d));
	asm("divl %4" : "=a"(q_lo), "=d"(r) : "a"(lo), "d"(r), "rm"(d));
	(void)q_hi;
	return q_lo;
}

void *memset(void *d, int c, unsigned long n)
{
	unsigned char *p = d;

	while (n--)
		*p++ = (unsigned char)c;
	return d;
}

void *memcpy(void *d, const void *s, unsigned long n)
{
	unsigned char *p = d;
	const unsigned char *q = s;

	while (n--)
		*p++ = *q++;
	return d;
}

int memcmp(const void *a, const void *b, unsigned long n)
{
	const unsigned char *p = a, *q = b;

	for (; n; n--, p++, q++)
		if (*p != *q)
			return *p - *q;
	return 0;
}
