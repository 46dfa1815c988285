/*
 * MP tables (Intel MultiProcessor Specification 1.4, chapter 4): the
 * floating pointer structure, the configuration table header and its base
 * entries. Linux reads them in arch/x86/kernel/mpparse.c when there is no
 * ACPI MADT, which is the case for a kernel booted without firmware.
 */
#include "ioreq/bytes.h"
#include "vmm/mptable.h"

#include <string.h>

enum {
	MP_PROCESSOR = 0,
	MP_BUS = 1,
	MP_IOAPIC = 2,
	MP_IOINTR = 3,
	MP_LINTR = 4,
};
enum { MP_INT = 0, MP_NMI = 1, MP_EXTINT = 3 };

#define MP_SPEC_REV   4
#define MP_HDR_SIZE   44
#define MP_FLOAT_SIZE 16
#define LAPIC_VERSION 0x14 /* an integrated (xAPIC) local APIC */
#define IOAPIC_VER    0x11 /* 82093AA-compatible, 24 inputs */

uint8_t mptable_sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	while (n--)
		s += *p++;
	return s;
}

static uint8_t *cpu_entry(uint8_t *p)
{
	p[0] = MP_PROCESSOR;
	p[1] = 0; /* local APIC id of the BSP */
	p[2] = LAPIC_VERSION;
	p[3] = 0x3;		 /* enabled, bootstrap processor */
	put_le(p + 4, 4, 0x600); /* family 6: only informative */
	put_le(p + 8, 4, 0x201); /* CPUID.1 EDX: FPU, APIC */
	return p + 20;
}

static uint8_t *bus_entry(uint8_t *p)
{
	p[0] = MP_BUS;
	p[1] = MP_ISA_BUS;
	memcpy(p + 2, "ISA   ", 6);
	return p + 8;
}

static uint8_t *ioapic_entry(uint8_t *p)
{
	p[0] = MP_IOAPIC;
	p[1] = MP_IOAPIC_ID;
	p[2] = IOAPIC_VER;
	p[3] = 1; /* enabled */
	put_le(p + 4, 4, MP_IOAPIC_ADDR);
	return p + 8;
}

/* An interrupt entry; flags 0 = polarity and trigger as the bus says
 * (ISA: active high, edge). */
static uint8_t *intr_entry(uint8_t *p, int kind, int type, int irq, int dst_id,
			   int dst_pin)
{
	p[0] = kind;
	p[1] = type;
	put_le(p + 2, 2, 0);
	p[4] = MP_ISA_BUS;
	p[5] = irq;
	p[6] = dst_id;
	p[7] = dst_pin;
	return p + 8;
}

int mptable_build(uint8_t *dst, size_t room, uint32_t gpa, unsigned irq0_pin)
{
	if (room < MPTABLE_SIZE || irq0_pin > 23)
		return -1;
	memset(dst, 0, MPTABLE_SIZE);
	uint8_t *hdr = dst + MP_FLOAT_SIZE;
	uint8_t *p = cpu_entry(hdr + MP_HDR_SIZE);
	int entries = 3;
	p = bus_entry(p);
	p = ioapic_entry(p);
	for (int irq = 0; irq < 16; irq++) {
		if (irq == 2) /* the slave 8259's cascade input */
			continue;
		p = intr_entry(p, MP_IOINTR, MP_INT, irq, MP_IOAPIC_ID,
			       irq ? irq : (int)irq0_pin);
		entries++;
	}
	/* Virtual-wire mode: the 8259 through LINT0, NMI to every LINT1. */
	p = intr_entry(p, MP_LINTR, MP_EXTINT, 0, 0, 0);
	p = intr_entry(p, MP_LINTR, MP_NMI, 0, 0xff, 1);
	entries += 2;

	memcpy(hdr, "PCMP", 4);
	put_le(hdr + 4, 2, p - hdr);
	hdr[6] = MP_SPEC_REV;
	memcpy(hdr + 8, "MINIVMM ", 8);
	memcpy(hdr + 16, "PC          ", 12);
	put_le(hdr + 34, 2, entries);
	put_le(hdr + 36, 4, MP_LAPIC_ADDR);
	hdr[7] = -mptable_sum(hdr, p - hdr);

	memcpy(dst, "_MP_", 4);
	put_le(dst + 4, 4, gpa + MP_FLOAT_SIZE);
	dst[8] = 1; /* length in 16-byte units */
	dst[9] = MP_SPEC_REV;
	/* feature byte 1 = 0: a configuration table is present; feature
	 * byte 2 bit 7 = 0: no IMCR, virtual-wire mode. */
	dst[10] = -mptable_sum(dst, MP_FLOAT_SIZE);
	return p - dst;
}
