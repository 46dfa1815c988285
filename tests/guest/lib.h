/*
 * Tiny runtime shared by the minivmm guest test programs: port I/O, a
 * printf to the Bochs-style debug port 0xE9, PASS/FAIL reporting and the
 * reset that ends every test. Built three ways: -m16 (real mode, code and
 * data in segment F000), -m32 (flat protected mode) and, for the bench
 * and emul programs, also called from CPL3 with EFLAGS.IOPL=3.
 */
#ifndef GUEST_LIB_H
#define GUEST_LIB_H

#include <stdarg.h>
#include <stdint.h>

#define DEBUG_PORT 0xE9

static inline void outb(uint16_t port, uint8_t v)
{
	asm volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outw(uint16_t port, uint16_t v)
{
	asm volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
	asm volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint16_t inw(uint16_t port)
{
	uint16_t v;

	asm volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;

	asm volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	asm volatile("cpuid"
		     : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
		     : "a"(leaf), "c"(sub));
}

void gputc(char c);
void gputs(const char *s);
void gvprintf(const char *fmt, va_list ap);
void gprintf(const char *fmt, ...);

/* One result line each: "PASS name", "FAIL name: detail", "SKIP name: why". */
void pass(const char *name);
void fail(const char *name, const char *fmt, ...);
void skip(const char *name, const char *why);
/* PASS when ok, otherwise FAIL with the detail; returns ok. */
int check(int ok, const char *name, const char *fmt, ...);

/* "a-b" in a static buffer (valid until the next call). */
const char *join_name(const char *a, const char *b);

/* Print "DONE", then reset through port 0xCF9; never returns. */
void guest_done(void) __attribute__((noreturn));

/* 64-by-32 unsigned division without libgcc (quotient must fit 32 bits). */
uint32_t udiv64_32(uint64_t n, uint32_t d);

void *memset(void *d, int c, unsigned long n);
void *memcpy(void *d, const void *s, unsigned long n);
int memcmp(const void *a, const void *b, unsigned long n);

#endif
