/*
 * MC146818 RTC/CMOS access for the guest tests (index port 0x70, data
 * 0x71; register map from the Motorola MC146818A datasheet). Each access
 * runs with interrupts off so that an IRQ8 handler reading register C
 * cannot change the index in between.
 */
#ifndef GUEST_RTC_H
#define GUEST_RTC_H

#include "lib.h"

#define RTC_SEC	    0x00
#define RTC_MIN	    0x02
#define RTC_HOUR    0x04
#define RTC_DAY	    0x07
#define RTC_MON	    0x08
#define RTC_YEAR    0x09
#define RTC_REG_A   0x0A
#define RTC_REG_B   0x0B
#define RTC_REG_C   0x0C
#define RTC_REG_D   0x0D
#define RTC_CENTURY 0x32 /* IBM PC convention, not in the MC146818 */

#define RTC_A_UIP 0x80
#define RTC_B_SET 0x80
#define RTC_B_PIE 0x40
#define RTC_B_DM  0x04 /* binary */
#define RTC_B_24H 0x02
#define RTC_D_VRT 0x80

static inline uint8_t cmos_read(uint8_t reg)
{
	uint8_t v;

	asm volatile("pushfl; cli; outb %%al, $0x70; inb $0x71, %%al; popfl"
		     : "=a"(v)
		     : "0"(reg)
		     : "memory");
	return v;
}

static inline void cmos_write(uint8_t reg, uint8_t val)
{
	asm volatile("pushfl; cli; outb %%al, $0x70; movb %%ah, %%al;"
		     "outb %%al, $0x71; popfl"
		     :
		     : "a"((uint16_t)(reg | (val << 8)))
		     : "memory");
}

/* Wait (bounded) until no update is in progress; then there are at least
 * 244 us in which the time registers are stable. */
static inline int rtc_wait_uip(void)
{
	unsigned n;

	for (n = 0; n < 200000; n++)
		if (!(cmos_read(RTC_REG_A) & RTC_A_UIP))
			return 1;
	return 0;
}

static inline uint8_t rtc_seconds(void)
{
	rtc_wait_uip();
	return cmos_read(RTC_SEC);
}

#endif
