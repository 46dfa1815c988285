/*
 * cpuid: the CPU model minivmm gives the guest. Prints the vendor, leaf 1
 * ECX/EDX and the hypervisor leaves; passes if the hypervisor bit (leaf 1
 * ECX bit 31) is set and CX16 (ECX bit 13) is clear.
 */
#include "lib.h"

int main(void)
{
	uint32_t r[4], hv[4];
	char vendor[13], hvsig[13];

	cpuid(0, 0, r);
	memcpy(vendor, &r[1], 4);
	memcpy(vendor + 4, &r[3], 4);
	memcpy(vendor + 8, &r[2], 4);
	vendor[12] = 0;
	gprintf("CPUID 0 max=%x vendor=%s\n", r[0], vendor);
	cpuid(1, 0, r);
	gprintf("CPUID 1 eax=%08x ecx=%08x edx=%08x\n", r[0], r[2], r[3]);
	check(r[2] & (1u << 31), "cpuid-hypervisor", "leaf 1 ecx=%08x", r[2]);
	check(!(r[2] & (1u << 13)), "cpuid-cx16-clear", "leaf 1 ecx=%08x",
	      r[2]);
	check(r[3] & 1, "cpuid-fpu", "leaf 1 edx=%08x has no FPU", r[3]);
	if (r[2] & (1u << 31)) {
		cpuid(0x40000000, 0, hv);
		memcpy(hvsig, &hv[1], 4);
		memcpy(hvsig + 4, &hv[2], 4);
		memcpy(hvsig + 8, &hv[3], 4);
		hvsig[12] = 0;
		gprintf("CPUID 40000000 max=%x signature=%s\n", hv[0], hvsig);
	}
	return 0;
}
