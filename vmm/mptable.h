/*
 * Intel MultiProcessor Specification 1.4 tables for a one-CPU PC with one
 * I/O APIC, written for a kernel that is booted without firmware and finds
 * its interrupt controllers by scanning for the "_MP_" floating pointer.
 */
#ifndef MINIVMM_MPTABLE_H
#define MINIVMM_MPTABLE_H

#include <stddef.h>
#include <stdint.h>

#define MP_LAPIC_ADDR  0xfee00000u
#define MP_IOAPIC_ADDR 0xfec00000u
#define MP_IOAPIC_ID   1
#define MP_ISA_BUS     0

/* Room the table needs: floating pointer, header, CPU, bus, I/O APIC, 15
 * I/O interrupt and 2 local interrupt entries. */
#define MPTABLE_SIZE (16 + 44 + 20 + 8 + 8 + 15 * 8 + 2 * 8)

/*
 * Writes the floating pointer at dst (guest-physical address gpa) and the
 * configuration table right after it. ISA IRQ n goes to I/O APIC input n,
 * except IRQ 0, which goes to input irq0_pin; IRQ 2 (the cascade) is not
 * listed. The 8259's INTR reaches LINT0 as ExtINT, NMI reaches LINT1.
 * Returns the bytes written, or -1 if room is too small.
 */
int mptable_build(uint8_t *dst, size_t room, uint32_t gpa, unsigned irq0_pin);

/* Sum of n bytes, mod 256 (a valid table sums to 0). */
uint8_t mptable_sum(const uint8_t *p, size_t n);

#endif
