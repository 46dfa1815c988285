/*
 * bench: cost of one exit per access kind, measured from CPL3 with
 * IOPL=3 (native speed on this host, so the loop itself costs nothing):
 * N "in eax, dx" from the testdev port 0x3000, then N dword reads of the
 * testdev MMIO page 0xFEBFF000, each loop timed with rdtsc. Prints
 * "BENCH pio <cycles>" and "BENCH mmio <cycles>" per access. N is the
 * 32-bit word at image offset 0xFFE0 (bench.sh may patch it).
 */
#include "lib.h"
#include "sys.h"

#define TESTDEV_PORT 0x3000
#define TESTDEV_MMIO 0xFEBFF000u

__attribute__((section(".param"), used)) volatile uint32_t bench_iterations =
    200000;

static volatile uint64_t t_pio, t_mmio;

static void user_bench(void)
{
	volatile uint32_t *mmio = (volatile uint32_t *)TESTDEV_MMIO;
	uint32_t i, n = bench_iterations;
	uint64_t t0, t1, t2;

	t0 = rdtsc();
	for (i = 0; i < n; i++)
		(void)inl(TESTDEV_PORT);
	t1 = rdtsc();
	for (i = 0; i < n; i++)
		(void)*mmio;
	t2 = rdtsc();
	t_pio = t1 - t0;
	t_mmio = t2 - t1;
}

/* Cycles per access with one decimal. */
static void report(const char *kind, uint64_t total, uint32_t n)
{
	uint32_t tenths = udiv64_32(total * 10, n);

	gprintf("BENCH %s %u.%u\n", kind, tenths / 10, tenths % 10);
}

int main(void)
{
	uint32_t n = bench_iterations;

	if (!n)
		n = bench_iterations = 1;
	run_user(user_bench);
	gprintf("BENCH n %u\n", n);
	report("pio", t_pio, n);
	report("mmio", t_mmio, n);
	if (int80_fault)
		fail("bench", "int $0x80 at CPL3 raised vector %x",
		     int80_fault);
	else
		pass("bench");
	return 0;
}
