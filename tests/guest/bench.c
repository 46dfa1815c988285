/*
 * bench: cost of one exit per access kind, measured from CPL3 with
 * IOPL=3 so that no CPL0 code (emulated instruction by instruction on this
 * project's KVM host) runs in the loops. N iterations of
 *   nop; dec; jnz              (the loop's own cost)
 *   in eax, dx; dec; jnz       (testdev port 0x3000)
 *   mov eax, [mmio]; dec; jnz  (testdev MMIO page 0xFEBFF000)
 * each timed with rdtsc at 32-bit CPL3, and the MMIO loop again at 64-bit
 * CPL3 (bench-asm.S; native on that host, which does not honour IOPL
 * there, hence no port loop). Prints cycles per access, loop cost
 * subtracted: "BENCH pio <c>", "BENCH mmio <c>", "BENCH mmio64 <c>".
 * N is the 32-bit word at image offset 0xFFE0 (bench.sh may patch it).
 */
#include "lib.h"
#include "lm.h"
#include "sys.h"

#define TESTDEV_PORT 0x3000
#define TESTDEV_MMIO 0xFEBFF000u

__attribute__((section(".param"), used)) volatile uint32_t bench_iterations =
    200000;

extern void bench64(void);
extern volatile uint64_t bench_mmio64_cycles;
extern volatile uint32_t user64_fault;

static volatile uint64_t t_loop, t_pio, t_mmio;

static void user_loops(void)
{
	uint32_t n = bench_iterations, i;
	uint64_t t0, t1, t2, t3;

	t0 = rdtsc();
	i = n;
	asm volatile("1: nop; dec %0; jnz 1b" : "+c"(i));
	t1 = rdtsc();
	i = n;
	asm volatile("1: inl %%dx, %%eax; dec %0; jnz 1b"
		     : "+c"(i)
		     : "d"(TESTDEV_PORT)
		     : "eax");
	t2 = rdtsc();
	i = n;
	asm volatile("1: movl (%1), %%eax; dec %0; jnz 1b"
		     : "+c"(i)
		     : "r"(TESTDEV_MMIO)
		     : "eax", "memory");
	t3 = rdtsc();
	t_loop = t1 - t0;
	t_pio = t2 - t1;
	t_mmio = t3 - t2;
}

/* Cycles per iteration with one decimal, minus the empty loop's. */
static void report(const char *kind, uint64_t total, uint64_t loop, uint32_t n)
{
	uint32_t tenths = total > loop ? udiv64_32((total - loop) * 10, n) : 0;

	gprintf("BENCH %s %u.%u\n", kind, tenths / 10, tenths % 10);
}

int main(void)
{
	uint32_t n = bench_iterations;

	if (!n)
		n = bench_iterations = 1;
	run_user(user_loops);
	long_call(bench64);
	gprintf("BENCH n %u\n", n);
	report("loop", t_loop, 0, n);
	report("pio", t_pio, t_loop, n);
	report("mmio", t_mmio, t_loop, n);
	report("mmio64", bench_mmio64_cycles, 0, n);
	check(!user64_fault, "bench", "64-bit CPL3 loop faulted, vector %x",
	      user64_fault & 0xFF);
	return 0;
}
