/*
 * tschz: print the host's TSC frequency in Hz, measured against
 * CLOCK_MONOTONIC_RAW over about 200 ms. Used by bench.sh to turn guest
 * rdtsc cycle counts into nanoseconds (KVM guests read the host TSC rate
 * unless TSC scaling is in use).
 */
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <x86intrin.h>

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int main(void)
{
	struct timespec nap = {0, 200 * 1000 * 1000};
	int64_t n0, n1;
	uint64_t t0, t1;

	n0 = mono_ns();
	t0 = __rdtsc();
	nanosleep(&nap, NULL);
	n1 = mono_ns();
	t1 = __rdtsc();
	if (n1 <= n0) {
		fprintf(stderr, "tschz: clock did not advance\n");
		return 1;
	}
	printf("%.0f\n", (double)(t1 - t0) * 1e9 / (double)(n1 - n0));
	return 0;
}
