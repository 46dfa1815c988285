/*
 * MC146818A RTC + PC CMOS: datasheet behaviour driven through ports
 * 0x70/0x71 on a manual clock, plus garbage input.
 */
#include <criterion/criterion.h>
#include <time.h>

#include "hw/mc146818.h"

#define NS  1000000000LL
#define US  1000LL
#define MS  1000000LL
#define MIB (1024ULL * 1024)
#define GIB (1024ULL * MIB)

struct irq_fake {
	int level;
	int line;
	int raises;
};

static void fake_irq_set(void *opaque, int line, int level)
{
	struct irq_fake *f = opaque;
	f->line = line;
	if (level && !f->level)
		f->raises++;
	f->level = level;
}

struct rig {
	struct vclock *clk;
	struct mc146818 *rtc;
	struct bus io;
	struct irq_fake irq;
	struct irq_chip chip;
};

static int64_t utc(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm = {.tm_year = y - 1900,
			.tm_mon = mo - 1,
			.tm_mday = d,
			.tm_hour = h,
			.tm_min = mi,
			.tm_sec = s};
	return (int64_t)timegm(&tm) * NS;
}

static void rig_init(struct rig *r, int64_t wall_ns)
{
	memset(r, 0, sizeof(*r));
	r->clk = clock_new_manual(0);
	clock_set_wall(r->clk, wall_ns);
	r->chip = (struct irq_chip){fake_irq_set, &r->irq};
	r->rtc = mc146818_new(r->clk, &r->chip);
	cr_assert_not_null(r->rtc);
	bus_init(&r->io, "port");
	cr_assert_eq(mc146818_attach(r->rtc, &r->io), 0);
}

static void rig_fini(struct rig *r)
{
	mc146818_free(r->rtc);
	bus_destroy(&r->io);
	clock_free(r->clk);
}

static void out8(struct rig *r, uint16_t port, uint8_t v)
{
	bus_access(&r->io, port, 1, true, &v, 1);
}

static uint8_t in8(struct rig *r, uint16_t port)
{
	uint8_t v = 0;
	bus_access(&r->io, port, 1, false, &v, 1);
	return v;
}

static uint8_t rd(struct rig *r, uint8_t idx)
{
	out8(r, 0x70, idx);
	return in8(r, 0x71);
}

static void wr(struct rig *r, uint8_t idx, uint8_t v)
{
	out8(r, 0x70, idx);
	out8(r, 0x71, v);
}

/* Guest-style time set in BCD 24 h: SET, write, clear SET. */
static void set_time_bcd(struct rig *r, uint8_t cent, uint8_t yr, uint8_t mon,
			 uint8_t day, uint8_t h, uint8_t m, uint8_t s)
{
	uint8_t b = rd(r, 0x0b);
	wr(r, 0x0b, b | 0x80);
	wr(r, 0x00, s);
	wr(r, 0x02, m);
	wr(r, 0x04, h);
	wr(r, 0x07, day);
	wr(r, 0x08, mon);
	wr(r, 0x09, yr);
	wr(r, 0x32, cent);
	wr(r, 0x0b, b & ~0x80);
}

static void expect_date(struct rig *r, uint8_t cent, uint8_t yr, uint8_t mon,
			uint8_t day, uint8_t h, uint8_t m, uint8_t s)
{
	cr_expect_eq(rd(r, 0x32), cent, "century %02x", rd(r, 0x32));
	cr_expect_eq(rd(r, 0x09), yr, "year %02x", rd(r, 0x09));
	cr_expect_eq(rd(r, 0x08), mon, "month %02x", rd(r, 0x08));
	cr_expect_eq(rd(r, 0x07), day, "day %02x", rd(r, 0x07));
	cr_expect_eq(rd(r, 0x04), h, "hour %02x", rd(r, 0x04));
	cr_expect_eq(rd(r, 0x02), m, "min %02x", rd(r, 0x02));
	cr_expect_eq(rd(r, 0x00), s, "sec %02x", rd(r, 0x00));
}

Test(mc146818, power_on_registers)
{
	struct rig r;
	rig_init(&r, utc(2023, 7, 14, 13, 45, 30));
	cr_assert_eq(rd(&r, 0x0a), 0x26);
	cr_assert_eq(rd(&r, 0x0b), 0x02);
	cr_assert_eq(rd(&r, 0x0c), 0x00);
	cr_assert_eq(rd(&r, 0x0d), 0x80);
	cr_assert_eq(rd(&r, 0x0e), 0x00);
	cr_assert_eq(rd(&r, 0x10), 0x00);
	cr_assert_eq(rd(&r, 0x15), 0x80);
	cr_assert_eq(rd(&r, 0x16), 0x02);
	rig_fini(&r);
}

Test(mc146818, time_bcd_and_binary)
{
	struct rig r;
	rig_init(&r, utc(2023, 7, 14, 13, 45, 30));
	expect_date(&r, 0x20, 0x23, 0x07, 0x14, 0x13, 0x45, 0x30);
	cr_assert_eq(rd(&r, 0x06), 6); /* a Friday; Sunday is 1 */
	wr(&r, 0x0b, 0x06);	       /* binary, 24 h */
	expect_date(&r, 20, 23, 7, 14, 13, 45, 30);
	clock_advance(r.clk, 90 * NS);
	cr_assert_eq(rd(&r, 0x00), 0);
	cr_assert_eq(rd(&r, 0x02), 47);
	rig_fini(&r);
}

Test(mc146818, twelve_hour_mode)
{
	struct rig r;
	rig_init(&r, utc(2023, 7, 14, 0, 15, 0));
	wr(&r, 0x0b, 0x00); /* BCD, 12 h */
	cr_assert_eq(rd(&r, 0x04), 0x12, "midnight is 12 AM");
	clock_set_wall(r.clk, utc(2023, 7, 14, 12, 0, 0));
	cr_assert_eq(rd(&r, 0x04), 0x92, "noon is 12 PM");
	clock_set_wall(r.clk, utc(2023, 7, 14, 13, 0, 0));
	cr_assert_eq(rd(&r, 0x04), 0x81);
	clock_set_wall(r.clk, utc(2023, 7, 14, 23, 0, 0));
	cr_assert_eq(rd(&r, 0x04), 0x91);
	clock_set_wall(r.clk, utc(2023, 7, 14, 11, 0, 0));
	cr_assert_eq(rd(&r, 0x04), 0x11);
	wr(&r, 0x0b, 0x04); /* binary, 12 h */
	cr_assert_eq(rd(&r, 0x04), 11);
	clock_set_wall(r.clk, utc(2023, 7, 14, 0, 0, 0));
	cr_assert_eq(rd(&r, 0x04), 12);
	/* Set 1 PM in 12 h BCD, then look in 24 h mode. */
	wr(&r, 0x0b, 0x80);
	wr(&r, 0x04, 0x81);
	wr(&r, 0x0b, 0x00);
	wr(&r, 0x0b, 0x02);
	cr_assert_eq(rd(&r, 0x04), 0x13);
	/* 12 AM written in 12 h mode is hour 0. */
	wr(&r, 0x0b, 0x80);
	wr(&r, 0x04, 0x12);
	wr(&r, 0x0b, 0x00);
	wr(&r, 0x0b, 0x02);
	cr_assert_eq(rd(&r, 0x04), 0x00);
	/* Changing format together with SET clear reads the raw bytes in the
	 * new format, as the chip would: 0x12 is then noon. */
	wr(&r, 0x0b, 0x80);
	wr(&r, 0x04, 0x12);
	wr(&r, 0x0b, 0x02);
	cr_assert_eq(rd(&r, 0x04), 0x12);
	rig_fini(&r);
}

Test(mc146818, year_and_century_rollover)
{
	struct rig r;
	rig_init(&r, utc(2023, 1, 1, 0, 0, 0));
	set_time_bcd(&r, 0x19, 0x99, 0x12, 0x31, 0x23, 0x59, 0x59);
	expect_date(&r, 0x19, 0x99, 0x12, 0x31, 0x23, 0x59, 0x59);
	clock_advance(r.clk, NS);
	expect_date(&r, 0x20, 0x00, 0x01, 0x01, 0x00, 0x00, 0x00);
	cr_assert_eq(rd(&r, 0x06), 7); /* 2000-01-01 was a Saturday */
	rig_fini(&r);
}

Test(mc146818, month_end_and_leap_years)
{
	struct rig r;
	rig_init(&r, utc(2023, 1, 1, 0, 0, 0));
	set_time_bcd(&r, 0x20, 0x24, 0x02, 0x28, 0x23, 0x59, 0x59);
	clock_advance(r.clk, NS);
	expect_date(&r, 0x20, 0x24, 0x02, 0x29, 0x00, 0x00, 0x00);
	clock_advance(r.clk, 86400 * NS);
	expect_date(&r, 0x20, 0x24, 0x03, 0x01, 0x00, 0x00, 0x00);

	set_time_bcd(&r, 0x20, 0x23, 0x02, 0x28, 0x23, 0x59, 0x59);
	clock_advance(r.clk, NS);
	expect_date(&r, 0x20, 0x23, 0x03, 0x01, 0x00, 0x00, 0x00);

	set_time_bcd(&r, 0x21, 0x00, 0x02, 0x28, 0x23, 0x59, 0x59);
	clock_advance(r.clk, NS);
	expect_date(&r, 0x21, 0x00, 0x03, 0x01, 0x00, 0x00, 0x00);

	set_time_bcd(&r, 0x20, 0x00, 0x02, 0x28, 0x23, 0x59, 0x59);
	clock_advance(r.clk, NS);
	expect_date(&r, 0x20, 0x00, 0x02, 0x29, 0x00, 0x00, 0x00);

	set_time_bcd(&r, 0x20, 0x23, 0x04, 0x30, 0x23, 0x59, 0x59);
	clock_advance(r.clk, NS);
	expect_date(&r, 0x20, 0x23, 0x05, 0x01, 0x00, 0x00, 0x00);
	rig_fini(&r);
}

Test(mc146818, set_freezes_and_guest_time_runs_on)
{
	struct rig r;
	rig_init(&r, utc(2023, 7, 14, 13, 45, 30));
	wr(&r, 0x0b, 0x02 | 0x10); /* UIE */
	wr(&r, 0x0b, 0x82 | 0x10); /* SET going high clears UIE */
	cr_assert_eq(rd(&r, 0x0b), 0x82);
	clock_advance(r.clk, 5 * NS);
	cr_assert_eq(rd(&r, 0x00), 0x30, "frozen while SET");
	cr_assert_eq(rd(&r, 0x0a) & 0x80, 0, "no UIP while SET");
	wr(&r, 0x00, 0x10);
	wr(&r, 0x02, 0x20);
	clock_advance(r.clk, 3 * NS);
	cr_assert_eq(rd(&r, 0x00), 0x10);
	wr(&r, 0x0b, 0x02);
	cr_assert_eq(rd(&r, 0x00), 0x10);
	clock_advance(r.clk, 2 * NS);
	cr_assert_eq(rd(&r, 0x00), 0x12);
	cr_assert_eq(rd(&r, 0x02), 0x20);
	cr_assert_eq(rd(&r, 0x04), 0x13);
	/* A time register written while running also runs on. */
	wr(&r, 0x02, 0x59);
	clock_advance(r.clk, 48 * NS);
	cr_assert_eq(rd(&r, 0x00), 0x00);
	cr_assert_eq(rd(&r, 0x02), 0x00);
	cr_assert_eq(rd(&r, 0x04), 0x14);
	rig_fini(&r);
}

Test(mc146818, set_keeps_divider_phase)
{
	struct rig r;
	rig_init(&r, utc(2023, 7, 14, 13, 45, 30) + 300 * MS);
	set_time_bcd(&r, 0x20, 0x23, 0x01, 0x01, 0x00, 0x00, 0x00);
	clock_advance(r.clk, 699 * MS);
	cr_assert_eq(rd(&r, 0x00), 0x00);
	clock_advance(r.clk, 1 * MS);
	cr_assert_eq(rd(&r, 0x00), 0x01, "update on the divider's beat");
	rig_fini(&r);
}

Test(mc146818, divider_reset_stops_and_restarts_half_second_later)
{
	struct rig r;
	rig_init(&r, utc(2023, 7, 14, 13, 45, 30));
	wr(&r, 0x0a, 0x76); /* divider in reset */
	cr_assert_eq(rd(&r, 0x0a), 0x76);
	clock_advance(r.clk, 10 * NS + 123 * MS);
	cr_assert_eq(rd(&r, 0x00), 0x30);
	wr(&r, 0x00, 0x45);
	wr(&r, 0x0a, 0x26);
	clock_advance(r.clk, 499 * MS);
	cr_assert_eq(rd(&r, 0x00), 0x45);
	clock_advance(r.clk, 1 * MS);
	cr_assert_eq(rd(&r, 0x00), 0x46);
	/* Other divider values stop the clock as well. */
	wr(&r, 0x0a, 0x06);
	clock_advance(r.clk, 3 * NS);
	cr_assert_eq(rd(&r, 0x00), 0x46);
	rig_fini(&r);
}

Test(mc146818, uip_window)
{
	struct rig r;
	rig_init(&r, utc(2023, 7, 14, 13, 45, 30));
	cr_assert_eq(rd(&r, 0x0a) & 0x80, 0);
	clock_advance(r.clk, NS - 245 * US);
	cr_assert_eq(rd(&r, 0x0a) & 0x80, 0, "UIP before the window");
	clock_advance(r.clk, 2 * US);
	cr_assert_eq(rd(&r, 0x0a), 0xa6, "UIP 243 us before the update");
	cr_assert_eq(rd(&r, 0x00), 0x30, "old time until the update");
	clock_advance(r.clk, 243 * US - 1);
	cr_assert_eq(rd(&r, 0x0a) & 0x80, 0x80);
	clock_advance(r.clk, 1);
	cr_assert_eq(rd(&r, 0x0a) & 0x80, 0, "UIP clear after the update");
	cr_assert_eq(rd(&r, 0x00), 0x31);
	/* Writes cannot set UIP. */
	wr(&r, 0x0a, 0xa6);
	cr_assert_eq(rd(&r, 0x0a), 0x26);
	rig_fini(&r);
}

/* Step the clock, acking each interrupt like a driver; returns the count. */
static int run_acking(struct rig *r, int64_t total, int64_t step, uint8_t want)
{
	int n = 0;
	for (int64_t t = 0; t < total; t += step) {
		clock_advance(r->clk, step);
		if (r->irq.level) {
			uint8_t c = rd(r, 0x0c);
			cr_assert(c & 0x80, "IRQF with the line high");
			if (c & want)
				n++;
			cr_assert_eq(r->irq.level, 0, "reg C read lowers IRQ8");
		}
	}
	return n;
}

Test(mc146818, periodic_1024hz)
{
	struct rig r;
	struct mc146818_stats st;
	rig_init(&r, utc(2023, 7, 14, 13, 45, 30) + 123456789);
	wr(&r, 0x0a, 0x26);
	wr(&r, 0x0b, 0x42);
	int n = run_acking(&r, NS, 100 * US, 0x40);
	cr_assert(n >= 1023 && n <= 1025, "got %d periodic interrupts", n);
	cr_assert_eq(r.irq.line, 8);
	mc146818_get_stats(r.rtc, &st);
	cr_assert_eq(st.periodic_missed, 0);
	cr_assert(st.timer_fires <= 1026, "fires %lu", st.timer_fires);
	rig_fini(&r);
}

Test(mc146818, periodic_rates_1_and_2_are_8_and_9)
{
	struct rig r;
	rig_init(&r, utc(2023, 7, 14, 13, 45, 30));
	wr(&r, 0x0b, 0x42);
	wr(&r, 0x0a, 0x21);
	int n = run_acking(&r, NS, 500 * US, 0x40);
	cr_assert(n >= 255 && n <= 257, "rate 1: %d", n);
	wr(&r, 0x0a, 0x22);
	n = run_acking(&r, NS, 500 * US, 0x40);
	cr_assert(n >= 127 && n <= 129, "rate 2: %d", n);
	wr(&r, 0x0a, 0x2f);
	n = run_acking(&r, NS, 10 * MS, 0x40);
	cr_assert(n >= 1 && n <= 3, "rate 15: %d", n);
	wr(&r, 0x0a, 0x20); /* rate 0: off */
	n = run_acking(&r, NS, 10 * MS, 0x40);
	cr_assert_eq(n, 0);
	rig_fini(&r);
}

Test(mc146818, periodic_late_guest_coalesces)
{
	struct rig r;
	struct mc146818_stats st;
	rig_init(&r, utc(2023, 7, 14, 13, 45, 30));
	wr(&r, 0x0b, 0x42);
	clock_advance(r.clk, 10 * MS); /* nobody acks for ~10 periods */
	cr_assert_eq(r.irq.level, 1);
	cr_assert_eq(r.irq.raises, 1);
	mc146818_get_stats(r.rtc, &st);
	cr_assert(st.timer_fires <= 1, "no backlog of timer runs");
	cr_assert_eq(rd(&r, 0x0c), 0xc0);
	mc146818_get_stats(r.rtc, &st);
	cr_assert(st.periodic_missed >= 8 && st.periodic_missed <= 10,
		  "missed %lu", st.periodic_missed);
	clock_advance(r.clk, 400 * US);
	cr_assert_eq(r.irq.raises, 1, "no burst after a late ack");
	clock_advance(r.clk, 600 * US);
	cr_assert_eq(r.irq.raises, 2);
	rig_fini(&r);
}

Test(mc146818, flags_set_without_enables_and_no_timer)
{
	struct rig r;
	struct mc146818_stats st;
	rig_init(&r, utc(2023, 7, 14, 13, 45, 30));
	wr(&r, 0x01, 0x31); /* alarm 13:45:31 */
	wr(&r, 0x03, 0x45);
	wr(&r, 0x05, 0x13);
	rd(&r, 0x0c);
	clock_advance(r.clk, 1500 * MS);
	cr_assert_eq(rd(&r, 0x0c), 0x70, "PF, AF, UF latched, no IRQF");
	cr_assert_eq(rd(&r, 0x0c), 0x00);
	cr_assert_eq(r.irq.raises, 0);
	mc146818_get_stats(r.rtc, &st);
	cr_assert_eq(st.timer_fires, 0, "no timer with interrupts disabled");
	rig_fini(&r);
}

Test(mc146818, alarm_at_set_time)
{
	struct rig r;
	rig_init(&r, utc(2023, 7, 14, 10, 0, 0));
	wr(&r, 0x01, 0x05);
	wr(&r, 0x03, 0x00);
	wr(&r, 0x05, 0x10);
	wr(&r, 0x0b, 0x22); /* AIE */
	clock_advance(r.clk, 4900 * MS);
	cr_assert_eq(r.irq.level, 0);
	clock_advance(r.clk, 100 * MS);
	cr_assert_eq(r.irq.level, 1);
	cr_assert_eq(rd(&r, 0x00), 0x05);
	cr_assert_eq(rd(&r, 0x0c) & 0xa0, 0xa0);
	cr_assert_eq(r.irq.level, 0);
	/* Next match is a day later. */
	clock_advance(r.clk, 86399 * NS);
	cr_assert_eq(r.irq.level, 0);
	clock_advance(r.clk, NS);
	cr_assert_eq(r.irq.level, 1);
	rig_fini(&r);
}

Test(mc146818, alarm_dont_care_bytes)
{
	struct rig r;
	rig_init(&r, utc(2023, 7, 14, 10, 0, 0));
	wr(&r, 0x01, 0x30);
	wr(&r, 0x03, 0xc0);
	wr(&r, 0x05, 0xff);
	wr(&r, 0x0b, 0x22);
	int n = run_acking(&r, 180 * NS, 250 * MS, 0x20);
	cr_assert_eq(n, 3, "once a minute, got %d", n);
	/* All three don't care: every second. */
	wr(&r, 0x01, 0xc0);
	n = run_acking(&r, 10 * NS, 250 * MS, 0x20);
	cr_assert_eq(n, 10, "once a second, got %d", n);
	/* An invalid BCD alarm byte never matches. */
	wr(&r, 0x01, 0x1a); /* decodes as 20, but :20 is 0x20 */
	n = run_acking(&r, 120 * NS, NS, 0x20);
	cr_assert_eq(n, 0);
	rig_fini(&r);
}

/*
 * Issue 13: the host clock near the end of int64 nanoseconds since 1970
 * (2262-04-11 23:47:16.854775807 UTC). Deadlines that lie past that end
 * (an alarm an hour away, the next update or periodic edge in the last
 * second) must neither overflow (UBSan checks it in make check-asan) nor
 * fire early; an alarm before the end still fires on time. The clock is
 * never advanced past the end (clock_wall_ns itself would overflow).
 */
Test(mc146818, deadlines_past_the_int64_end_of_time)
{
	struct rig r;
	rig_init(&r, INT64_MAX - 30 * 60 * NS);
	expect_date(&r, 0x22, 0x62, 0x04, 0x11, 0x23, 0x17, 0x16);
	wr(&r, 0x01, 0x16); /* alarm 00:17:16, an hour away */
	wr(&r, 0x03, 0x17);
	wr(&r, 0x05, 0x00);
	rd(&r, 0x0c);
	wr(&r, 0x0b, 0x22); /* AIE */
	clock_advance(r.clk, 25 * 60 * NS);
	cr_assert_eq(r.irq.raises, 0, "no early alarm");
	wr(&r, 0x01, 0x19); /* 23:42:19, 2.15 s away */
	wr(&r, 0x03, 0x42);
	wr(&r, 0x05, 0x23);
	clock_advance(r.clk, 2 * NS);
	cr_assert_eq(r.irq.level, 0);
	clock_advance(r.clk, 200 * MS);
	cr_assert_eq(r.irq.level, 1, "the alarm before the end fires");
	cr_assert_eq(rd(&r, 0x0c) & 0xa0, 0xa0);
	rig_fini(&r);

	/* 0.3 s left, 0.55 s into a second: the next update and the next
	 * 2 Hz edge (both at the next second) are past the end. */
	rig_init(&r, INT64_MAX - 300 * MS);
	rd(&r, 0x0c);
	wr(&r, 0x0b, 0x12); /* UIE */
	wr(&r, 0x0a, 0x2f); /* rate 15: 2 Hz */
	wr(&r, 0x0b, 0x52); /* PIE too */
	clock_advance(r.clk, 100 * MS);
	cr_assert_eq(r.irq.raises, 0, "nothing before the end");
	rig_fini(&r);
}

Test(mc146818, update_interrupt_once_per_second)
{
	struct rig r;
	rig_init(&r, utc(2023, 7, 14, 10, 0, 0) + 250 * MS);
	wr(&r, 0x0b, 0x12);
	int n = run_acking(&r, 5 * NS, 50 * MS, 0x10);
	cr_assert_eq(n, 5);
	rig_fini(&r);
}

Test(mc146818, reg_c_read_clears_and_lowers_irq)
{
	struct rig r;
	rig_init(&r, utc(2023, 7, 14, 10, 0, 0));
	wr(&r, 0x0a, 0x20); /* no periodic flag in the way */
	wr(&r, 0x0b, 0x12);
	clock_advance(r.clk, NS);
	cr_assert_eq(r.irq.level, 1);
	cr_assert_eq(mc146818_cmos_read(r.rtc, 0x0c), 0x90, "VMM peek");
	cr_assert_eq(r.irq.level, 1, "VMM peek does not ack");
	cr_assert_eq(rd(&r, 0x0c), 0x90);
	cr_assert_eq(r.irq.level, 0);
	cr_assert_eq(rd(&r, 0x0c), 0x00);
	wr(&r, 0x0c, 0xff); /* read-only */
	cr_assert_eq(rd(&r, 0x0c), 0x00);
	/* Enabling an interrupt whose flag is latched raises the line. */
	wr(&r, 0x0b, 0x02);
	clock_advance(r.clk, NS);
	cr_assert_eq(r.irq.level, 0);
	wr(&r, 0x0b, 0x12);
	cr_assert_eq(r.irq.level, 1);
	wr(&r, 0x0b, 0x02);
	cr_assert_eq(r.irq.level, 0, "disabling it lowers the line");
	rig_fini(&r);
}

static uint16_t rd16(struct rig *r, uint8_t lo)
{
	return (uint16_t)(rd(r, lo) | rd(r, lo + 1) << 8);
}

static uint32_t above4g(struct rig *r)
{
	return rd(r, 0x5b) | rd(r, 0x5c) << 8 | (uint32_t)rd(r, 0x5d) << 16;
}

static void expect_checksum(struct rig *r)
{
	unsigned sum = 0;
	for (int i = 0x10; i <= 0x2d; i++)
		sum += rd(r, i);
	cr_assert_eq(rd(r, 0x2e) << 8 | rd(r, 0x2f), sum & 0xffff);
}

Test(mc146818, memory_bytes)
{
	struct rig r;
	rig_init(&r, utc(2023, 7, 14, 10, 0, 0));

	mc146818_set_memory(r.rtc, 16 * MIB, 0);
	cr_assert_eq(rd16(&r, 0x15), 640);
	cr_assert_eq(rd16(&r, 0x17), 15 * 1024);
	cr_assert_eq(rd16(&r, 0x30), 15 * 1024);
	cr_assert_eq(rd16(&r, 0x34), 0);
	cr_assert_eq(above4g(&r), 0);
	expect_checksum(&r);

	mc146818_set_memory(r.rtc, 256 * MIB, 0);
	cr_assert_eq(rd16(&r, 0x17), 0xfc00);
	cr_assert_eq(rd16(&r, 0x30), 0xfc00);
	cr_assert_eq(rd16(&r, 0x34), 0x0f00);
	expect_checksum(&r);

	mc146818_set_memory(r.rtc, 3 * GIB + 512 * MIB, 0);
	cr_assert_eq(rd16(&r, 0x17), 0xfc00);
	cr_assert_eq(rd16(&r, 0x34), 0xdf00);
	cr_assert_eq(above4g(&r), 0);
	expect_checksum(&r);

	/* 6 GiB with a 1 GiB PCI hole: 3 GiB low, 3 GiB above 4 GiB. */
	mc146818_set_memory(r.rtc, 3 * GIB, 3 * GIB);
	cr_assert_eq(rd16(&r, 0x34), 0xbf00);
	cr_assert_eq(rd(&r, 0x5b), 0x00);
	cr_assert_eq(rd(&r, 0x5c), 0xc0);
	cr_assert_eq(rd(&r, 0x5d), 0x00);
	expect_checksum(&r);
	rig_fini(&r);
}

Test(mc146818, checksum_and_vmm_bytes)
{
	struct rig r;
	rig_init(&r, utc(2023, 7, 14, 10, 0, 0));
	expect_checksum(&r);
	mc146818_cmos_write(r.rtc, 0x12, 0xf0);
	mc146818_cmos_write(r.rtc, 0x14, 0x06);
	expect_checksum(&r);
	cr_assert_eq(rd(&r, 0x12), 0xf0);
	/* 0x80 + 0x02 (640 KiB) + 0xf0 + 0x06 = 0x178, high byte first. */
	cr_assert_eq(rd(&r, 0x2e), 0x01);
	cr_assert_eq(rd(&r, 0x2f), 0x78);
	/* Guest writes are plain RAM: the chip never fixes the checksum. */
	uint8_t lo = rd(&r, 0x2f);
	wr(&r, 0x20, 0x55);
	cr_assert_eq(rd(&r, 0x2f), lo);
	/* Firmware-owned bytes are plain storage. */
	mc146818_cmos_write(r.rtc, 0x3d, 0x21);
	mc146818_cmos_write(r.rtc, 0x5f, 3);
	cr_assert_eq(rd(&r, 0x3d), 0x21);
	cr_assert_eq(mc146818_cmos_read(r.rtc, 0x5f), 3);
	wr(&r, 0x38, 0x01);
	wr(&r, 0x0f, 0x0a); /* shutdown status */
	cr_assert_eq(mc146818_cmos_read(r.rtc, 0x38), 0x01);
	cr_assert_eq(rd(&r, 0x0f), 0x0a);
	cr_assert_eq(mc146818_cmos_read(r.rtc, 0x0d), 0x80);
	rig_fini(&r);
}

Test(mc146818, index_bit7_is_nmi_mask)
{
	struct rig r;
	rig_init(&r, utc(2023, 7, 14, 10, 0, 0));
	cr_assert_not(mc146818_nmi_masked(r.rtc));
	out8(&r, 0x70, 0x8f);
	cr_assert(mc146818_nmi_masked(r.rtc));
	out8(&r, 0x71, 0xab);
	cr_assert_eq(mc146818_cmos_read(r.rtc, 0x0f), 0xab);
	cr_assert_eq(mc146818_cmos_read(r.rtc, 0x8f), 0xab, "VMM index masked");
	out8(&r, 0x70, 0xff);
	out8(&r, 0x71, 0x5c);
	cr_assert_eq(mc146818_cmos_read(r.rtc, 0x7f), 0x5c);
	cr_assert(mc146818_nmi_masked(r.rtc));
	out8(&r, 0x70, 0x7f);
	cr_assert_not(mc146818_nmi_masked(r.rtc));
	cr_assert_eq(in8(&r, 0x71), 0x5c);
	cr_assert_eq(in8(&r, 0x70), 0xff, "index port is write-only");
	wr(&r, 0x0d, 0x00);
	cr_assert_eq(rd(&r, 0x0d), 0x80, "VRT always set");
	/* A 16-bit write is index then data, as the ISA bus splits it. */
	uint16_t w = 0x7710;
	bus_access(&r.io, 0x70, 2, true, &w, 1);
	cr_assert_eq(mc146818_cmos_read(r.rtc, 0x10), 0x77);
	rig_fini(&r);
}

Test(mc146818, invalid_bcd_time_is_survivable)
{
	struct rig r;
	rig_init(&r, utc(2023, 7, 14, 10, 0, 0));
	wr(&r, 0x0b, 0x82);
	wr(&r, 0x00, 0x5a);
	wr(&r, 0x02, 0xff);
	wr(&r, 0x04, 0xff);
	wr(&r, 0x07, 0x00);
	wr(&r, 0x08, 0x1f);
	wr(&r, 0x09, 0xaa);
	wr(&r, 0x32, 0xff);
	cr_assert_eq(rd(&r, 0x08), 0x1f,
		     "frozen registers hold what was written");
	wr(&r, 0x0b, 0x02);
	clock_advance(r.clk, 3 * NS);
	/* Running again: every register reads as valid BCD in range. */
	static const uint8_t idx[] = {0, 2, 4, 6, 7, 8, 9, 0x32};
	static const int max[] = {59, 59, 23, 7, 31, 12, 99, 99};
	for (unsigned i = 0; i < sizeof(idx); i++) {
		uint8_t v = rd(&r, idx[i]);
		cr_assert((v & 0x0f) <= 9 && (v >> 4) <= 9, "reg %x=%x", idx[i],
			  v);
		cr_assert((v >> 4) * 10 + (v & 0x0f) <= max[i], "reg %x=%x",
			  idx[i], v);
	}
	rig_fini(&r);
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

Test(mc146818, garbage_never_crashes_or_runs_away, .timeout = 60)
{
	struct rig r;
	struct mc146818_stats st;
	uint64_t seed = 0x146818;
	int64_t fires_floor_ns = 122070; /* 8192 Hz, the fastest rate */
	rig_init(&r, utc(2023, 7, 14, 10, 0, 0));
	for (int i = 0; i < 100000; i++) {
		uint64_t x = xorshift(&seed);
		uint8_t v = (uint8_t)(x >> 8);
		switch (x % 8) {
		case 0:
			out8(&r, 0x70, v);
			break;
		case 1: /* aim at the interesting registers */
			out8(&r, 0x70, (uint8_t)(x >> 16) % 0x0e);
			out8(&r, 0x71, v);
			break;
		case 2:
			out8(&r, 0x70, 0x0a | (v & 0x80));
			out8(&r, 0x71, (uint8_t)(x >> 24));
			break;
		case 3:
			in8(&r, 0x70 + (x >> 40) % 2);
			break;
		case 4:
			out8(&r, 0x70, 0x0c);
			in8(&r, 0x71);
			break;
		default:
			out8(&r, 0x71, v);
			break;
		}
		cr_assert_eq(r.irq.level,
			     (mc146818_cmos_read(r.rtc, 0x0c) & 0x80) != 0);
		mc146818_get_stats(r.rtc, &st);
		uint64_t before = st.timer_fires;
		int64_t dt = (int64_t)((x >> 32) % (2 * MS));
		clock_advance(r.clk, dt);
		mc146818_get_stats(r.rtc, &st);
		cr_assert(st.timer_fires - before <=
			      (uint64_t)(dt / fires_floor_ns) + 3,
			  "iteration %d: %lu fires in %ld ns", i,
			  st.timer_fires - before, dt);
	}
	cr_assert_eq(rd(&r, 0x0d), 0x80);
	rig_fini(&r);
}
