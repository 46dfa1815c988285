/*
 * rtc: MC146818 date and time in real mode. Reads a consistent BCD
 * snapshot (waiting for UIP to clear, re-reading until two agree) and
 * prints "RTC YYYY-MM-DD HH:MM:SS" for the runner to compare with the
 * host's UTC; then register D (VRT), setting the time in binary mode with
 * the SET bit and reading it back, and a BCD day/year rollover.
 */
#include "lib.h"
#include "rtc.h"

struct tm_regs {
	uint8_t sec, min, hour, day, mon, year;
};

static void read_regs(struct tm_regs *t)
{
	rtc_wait_uip();
	t->sec = cmos_read(RTC_SEC);
	t->min = cmos_read(RTC_MIN);
	t->hour = cmos_read(RTC_HOUR);
	t->day = cmos_read(RTC_DAY);
	t->mon = cmos_read(RTC_MON);
	t->year = cmos_read(RTC_YEAR);
}

static void read_time(struct tm_regs *t)
{
	struct tm_regs again;
	int n;

	for (n = 0; n < 5; n++) {
		read_regs(t);
		read_regs(&again);
		if (!memcmp(t, &again, sizeof(*t)))
			return;
	}
}

static int bcd_ok(uint8_t v, uint8_t max)
{
	return (v & 0x0F) <= 9 && (v >> 4) <= 9 && v <= max;
}

static void write_time(const struct tm_regs *t)
{
	cmos_write(RTC_SEC, t->sec);
	cmos_write(RTC_MIN, t->min);
	cmos_write(RTC_HOUR, t->hour);
	cmos_write(RTC_DAY, t->day);
	cmos_write(RTC_MON, t->mon);
	cmos_write(RTC_YEAR, t->year);
}

static void test_bcd_now(void)
{
	struct tm_regs t;
	uint8_t cent;

	cmos_write(RTC_REG_B, RTC_B_24H);
	read_time(&t);
	cent = cmos_read(RTC_CENTURY);
	if (!bcd_ok(cent, 0x99) || cent < 0x19 || cent > 0x21) {
		gprintf("NOTE century register 0x32 reads %02x\n", cent);
		cent = 0x20;
	}
	gprintf("RTC %02x%02x-%02x-%02x %02x:%02x:%02x\n", cent, t.year, t.mon,
		t.day, t.hour, t.min, t.sec);
	check(bcd_ok(t.sec, 0x59) && bcd_ok(t.min, 0x59) &&
		  bcd_ok(t.hour, 0x23) && bcd_ok(t.day, 0x31) && t.day &&
		  bcd_ok(t.mon, 0x12) && t.mon && bcd_ok(t.year, 0x99),
	      "rtc-bcd", "registers are not valid 24-hour BCD");
}

static void test_binary(void)
{
	static const struct tm_regs set = {6, 5, 4, 3, 2, 1};
	struct tm_regs t;

	cmos_write(RTC_REG_B, RTC_B_SET | RTC_B_24H);
	cmos_write(RTC_REG_B, RTC_B_SET | RTC_B_DM | RTC_B_24H);
	write_time(&set);
	cmos_write(RTC_REG_B, RTC_B_DM | RTC_B_24H);
	read_time(&t);
	check(t.hour == 4 && t.min == 5 && t.sec >= 6 && t.sec <= 8 &&
		  t.day == 3 && t.mon == 2 && t.year == 1,
	      "rtc-binary",
	      "set 01-02-03 04:05:06 in binary, read %u-%u-%u %u:%u:%u", t.year,
	      t.mon, t.day, t.hour, t.min, t.sec);
}

static void test_rollover(void)
{
	static const struct tm_regs set = {0x59, 0x59, 0x23, 0x31, 0x12, 0x98};
	struct tm_regs t;
	unsigned n;

	cmos_write(RTC_REG_B, RTC_B_SET | RTC_B_24H);
	write_time(&set);
	cmos_write(RTC_REG_B, RTC_B_24H);
	for (n = 0; n < 100000; n++)
		if (rtc_seconds() != 0x59)
			break;
	read_time(&t);
	check(t.year == 0x99 && t.mon == 1 && t.day == 1 && t.hour == 0 &&
		  t.min == 0 && t.sec <= 2,
	      "rtc-rollover",
	      "1998-12-31 23:59:59 became %02x-%02x-%02x %02x:%02x:%02x",
	      t.year, t.mon, t.day, t.hour, t.min, t.sec);
}

int main(void)
{
	uint8_t d;

	test_bcd_now();
	d = cmos_read(RTC_REG_D);
	check(d & RTC_D_VRT, "rtc-vrt", "register D %02x, VRT clear", d);
	test_binary();
	test_rollover();
	return 0;
}
