/*
 * Motorola MC146818A real-time clock with 128 bytes of CMOS RAM, as wired
 * on a PC: index port 0x70 (bit 7 of a write is the NMI mask), data port
 * 0x71, interrupt on ISA IRQ 8.
 */
#ifndef MINIVMM_HW_MC146818_H
#define MINIVMM_HW_MC146818_H

#include <stdbool.h>
#include <stdint.h>

#include "hw/hw.h"

#define MC146818_IO_BASE 0x70
#define MC146818_IO_LEN	 2
#define MC146818_IRQ	 8

/* CMOS byte indices used by PC firmware. */
#define CMOS_REG_A	 0x0a
#define CMOS_REG_B	 0x0b
#define CMOS_REG_C	 0x0c
#define CMOS_REG_D	 0x0d
#define CMOS_DIAG	 0x0e
#define CMOS_SHUTDOWN	 0x0f
#define CMOS_FLOPPY	 0x10
#define CMOS_DISK	 0x12
#define CMOS_EQUIPMENT	 0x14
#define CMOS_BASE_MEM_LO 0x15
#define CMOS_BASE_MEM_HI 0x16
#define CMOS_EXT_MEM_LO	 0x17
#define CMOS_EXT_MEM_HI	 0x18
#define CMOS_CSUM_HI	 0x2e
#define CMOS_CSUM_LO	 0x2f
#define CMOS_EXT_MEM2_LO 0x30
#define CMOS_EXT_MEM2_HI 0x31
#define CMOS_CENTURY	 0x32
#define CMOS_MEM16M_LO	 0x34
#define CMOS_MEM16M_HI	 0x35
#define CMOS_BOOT_ORDER	 0x3d
#define CMOS_MEM4G_LO	 0x5b
#define CMOS_MEM4G_MID	 0x5c
#define CMOS_MEM4G_HI	 0x5d
#define CMOS_CPU_COUNT	 0x5f
#define CMOS_CSUM_FIRST	 0x10
#define CMOS_CSUM_LAST	 0x2d

struct mc146818;
struct bus;

struct mc146818_stats {
	uint64_t timer_fires;	  /* vtimer callbacks run */
	uint64_t periodic_missed; /* periodic ticks folded into one PF */
	uint64_t irq_raises;	  /* IRQ8 low -> high transitions */
};

/* Time starts at the host's UTC wall clock (clock_wall_ns of clk). */
struct mc146818 *mc146818_new(struct vclock *clk, const struct irq_chip *irq);
void mc146818_free(struct mc146818 *s);
/* Registers ports 0x70-0x71 on io; -1 if they are taken. */
int mc146818_attach(struct mc146818 *s, struct bus *io);

/*
 * Fills the PC memory-size bytes (base, extended, above 16 MiB, above
 * 4 GiB) and the checksum. ram_below_4g ends at the 32-bit PCI hole.
 */
void mc146818_set_memory(struct mc146818 *s, uint64_t ram_below_4g,
			 uint64_t ram_above_4g);
/*
 * VMM-side access (index masked to 0-0x7f). A write into 0x10-0x2d
 * recomputes the checksum; reads have no side effects (register C is
 * not cleared).
 */
void mc146818_cmos_write(struct mc146818 *s, uint8_t index, uint8_t val);
uint8_t mc146818_cmos_read(struct mc146818 *s, uint8_t index);
bool mc146818_nmi_masked(struct mc146818 *s);
void mc146818_get_stats(struct mc146818 *s, struct mc146818_stats *out);

#endif
