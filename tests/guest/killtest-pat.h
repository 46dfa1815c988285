/*
 * The data pattern of the kill test (tests/integration/kill-test.sh),
 * shared by the small guest (killtest.c), the stock Linux guest's init
 * (which prints the same 16-byte lines) and the host's checker
 * (killtest-check.c): 4 KiB block n is 256 copies of the line
 * "KILLTEST%07u\n" with n in it.
 */
#ifndef GUEST_KILLTEST_PAT_H
#define GUEST_KILLTEST_PAT_H

#include <stdint.h>

#define KT_BLOCK 4096u
#define KT_LINE	 16u

/* The 16-byte line of block n (n < 10^7). */
static inline void kt_line(uint32_t n, char out[KT_LINE])
{
	static const char head[] = "KILLTEST";
	for (unsigned i = 0; i < 8; i++)
		out[i] = head[i];
	for (int i = 14; i >= 8; i--) {
		out[i] = (char)('0' + n % 10);
		n /= 10;
	}
	out[15] = '\n';
}

#endif
