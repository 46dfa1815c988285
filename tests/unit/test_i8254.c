#include <criterion/criterion.h>
#include <stdlib.h>

#include "hw/i8254.h"

/* Records IRQ 0 as an edge-triggered 8259 input would see it. */
struct irq_log {
	struct vclock *clk;
	int level, rises, calls, bad_line;
	int64_t last_rise, min_gap;
};

static void irq_cb(void *opaque, int line, int level)
{
	struct irq_log *l = opaque;
	l->calls++;
	if (line != 0)
		l->bad_line++;
	if (level && !l->level) {
		int64_t now = clock_ns(l->clk);
		if (l->rises && now - l->last_rise < l->min_gap)
			l->min_gap = now - l->last_rise;
		l->rises++;
		l->last_rise = now;
	}
	l->level = level;
}

struct rig {
	struct vclock *clk;
	struct bus io;
	struct irq_log log;
	struct irq_chip chip;
	struct i8254 *pit;
};

static void rig_init(struct rig *r)
{
	memset(r, 0, sizeof(*r));
	r->clk = clock_new_manual(0);
	r->log.clk = r->clk;
	r->log.min_gap = INT64_MAX;
	r->chip = (struct irq_chip){.set = irq_cb, .opaque = &r->log};
	bus_init(&r->io, "port");
	r->pit = i8254_new(r->clk, &r->chip);
	cr_assert_not_null(r->pit);
	cr_assert_eq(i8254_attach(r->pit, &r->io), 0);
}

static void rig_fini(struct rig *r)
{
	i8254_free(r->pit);
	bus_destroy(&r->io);
	clock_free(r->clk);
}

static void outb(struct rig *r, uint16_t port, uint8_t v)
{
	bus_access(&r->io, port, 1, true, &v, 1);
}

static uint8_t inb(struct rig *r, uint16_t port)
{
	uint8_t v = 0;
	bus_access(&r->io, port, 1, false, &v, 1);
	return v;
}

/* Time (ns) at which input clock number k has been seen. */
static int64_t T(int64_t k)
{
	return (k * 1000000000LL + I8254_HZ - 1) / I8254_HZ;
}

static void at(struct rig *r, int64_t ns)
{
	cr_assert_geq(ns, clock_ns(r->clk));
	clock_advance(r->clk, ns - clock_ns(r->clk));
}

/* Control word then an LSB-then-MSB count for channel ch. */
static void program(struct rig *r, int ch, int mode, uint16_t count)
{
	outb(r, 0x43, (uint8_t)(ch << 6 | 0x30 | mode << 1));
	outb(r, 0x40 + ch, count & 0xff);
	outb(r, 0x40 + ch, count >> 8);
}

static unsigned read_count(struct rig *r, int ch)
{
	unsigned lo = inb(r, 0x40 + ch);
	return lo | inb(r, 0x40 + ch) << 8;
}

static unsigned latched_count(struct rig *r, int ch)
{
	outb(r, 0x43, (uint8_t)(ch << 6));
	return read_count(r, ch);
}

Test(i8254, reset_state_is_quiet)
{
	struct rig r;
	rig_init(&r);
	at(&r, 1000000000);
	cr_assert_eq(r.log.rises, 0);
	cr_assert(!vtimer_pending(r.pit->timer));
	cr_assert_eq(i8254_out(r.pit, 0), 1);
	cr_assert_eq(inb(&r, 0x43), 0xff);
	cr_assert_eq(i8254_out(r.pit, 7), 0);
	rig_fini(&r);
}

static int64_t tick_of(int64_t ns)
{
	return ns * I8254_HZ / 1000000000LL;
}

static uint8_t status_of(struct rig *r, int ch)
{
	outb(r, 0x43, (uint8_t)(0xe0 | 2 << ch));
	return inb(r, 0x40 + ch);
}

Test(i8254, mode0_interrupt_on_terminal_count)
{
	struct rig r;
	rig_init(&r);
	outb(&r, 0x43, 0x30);
	cr_assert_eq(i8254_out(r.pit, 0), 0);
	outb(&r, 0x40, 100);
	outb(&r, 0x40, 0);
	/* Loaded on the next clock (1), OUT rises N clocks later (101). */
	at(&r, T(50));
	cr_assert_eq(latched_count(&r, 0), 51);
	at(&r, T(100));
	cr_assert_eq(i8254_out(r.pit, 0), 0);
	cr_assert_eq(r.log.rises, 0);
	at(&r, T(101));
	cr_assert_eq(i8254_out(r.pit, 0), 1);
	cr_assert_eq(r.log.rises, 1);
	cr_assert_eq(r.log.last_rise, T(101));
	cr_assert_eq(r.log.level, 1);
	cr_assert_eq(status_of(&r, 0), 0xb0);
	/* Stays high while the CE wraps: no second edge, no timer armed. */
	at(&r, T(101 + 70000));
	cr_assert_eq(r.log.rises, 1);
	cr_assert_eq(i8254_out(r.pit, 0), 1);
	cr_assert(!vtimer_pending(r.pit->timer));
	cr_assert_eq(latched_count(&r, 0), 65536 - (70000 - 65536));
	/* The first byte of a new count stops the CE and drops OUT. */
	int64_t tk = tick_of(clock_ns(r.clk));
	outb(&r, 0x40, 10);
	cr_assert_eq(i8254_out(r.pit, 0), 0);
	cr_assert_eq(r.log.level, 0);
	unsigned frozen = latched_count(&r, 0);
	at(&r, T(tk + 500));
	cr_assert_eq(latched_count(&r, 0), frozen);
	outb(&r, 0x40, 0);
	at(&r, T(tk + 500 + 11));
	cr_assert_eq(r.log.rises, 2);
	rig_fini(&r);
}

Test(i8254, mode0_one_shot_rearm_like_linux)
{
	struct rig r;
	rig_init(&r);
	outb(&r, 0x43, 0x30);
	for (int i = 1; i <= 5; i++) {
		int64_t t0 = clock_ns(r.clk);
		outb(&r, 0x40, 0xe8);
		outb(&r, 0x40, 0x03); /* 1000 clocks */
		cr_assert_eq(r.log.level, 0);
		at(&r, t0 + 2000000);
		cr_assert_eq(r.log.rises, i);
		cr_assert_eq(r.log.last_rise, T(tick_of(t0) + 1001));
	}
	rig_fini(&r);
}

Test(i8254, mode0_gate_low_pauses_counting)
{
	struct rig r;
	rig_init(&r);
	outb(&r, 0x61, 1);
	program(&r, 2, 0, 100);
	at(&r, T(31));
	cr_assert_eq(latched_count(&r, 2), 70);
	outb(&r, 0x61, 0);
	at(&r, T(500));
	cr_assert_eq(latched_count(&r, 2), 70);
	cr_assert_eq(i8254_out(r.pit, 2), 0);
	outb(&r, 0x61, 1);
	at(&r, T(569));
	cr_assert_eq(i8254_out(r.pit, 2), 0);
	at(&r, T(570));
	cr_assert_eq(i8254_out(r.pit, 2), 1);
	rig_fini(&r);
}

Test(i8254, mode1_retriggerable_one_shot_on_gate2)
{
	struct rig r;
	rig_init(&r);
	program(&r, 2, 1, 10);
	cr_assert_eq(i8254_out(r.pit, 2), 1);
	at(&r, T(20));
	cr_assert_eq(i8254_out(r.pit, 2), 1, "no trigger without a gate edge");
	cr_assert(status_of(&r, 2) & 0x40, "NULL COUNT until triggered");
	outb(&r, 0x61, 1); /* gate rises at clock 20: CE loaded at 21 */
	cr_assert_eq(inb(&r, 0x61) & 0x20, 0);
	at(&r, T(25));
	cr_assert_eq(i8254_out(r.pit, 2), 0);
	cr_assert_eq(latched_count(&r, 2), 6);
	outb(&r, 0x61, 0);
	outb(&r, 0x61, 1); /* retrigger at 25: high again at 36 */
	at(&r, T(35));
	cr_assert_eq(i8254_out(r.pit, 2), 0);
	at(&r, T(36));
	cr_assert_eq(i8254_out(r.pit, 2), 1);
	cr_assert_eq(inb(&r, 0x61) & 0x20, 0x20);
	rig_fini(&r);
}

Test(i8254, mode2_rate_generator_waveform_and_count)
{
	struct rig r;
	rig_init(&r);
	program(&r, 1, 2, 5);
	/* Loaded at clock 1; low while CE == 1 (clocks 5, 10, 15...). */
	for (int k = 1; k <= 16; k++) {
		at(&r, T(k));
		cr_assert_eq(i8254_out(r.pit, 1), k % 5 != 0, "clock %d", k);
		cr_assert_eq(latched_count(&r, 1), 5 - (k - 1) % 5, "clock %d",
			     k);
	}
	rig_fini(&r);
}

Test(i8254, mode2_count_after_half_ms)
{
	struct rig r;
	rig_init(&r);
	program(&r, 0, 2, 1193);
	at(&r, 500000);
	unsigned v = latched_count(&r, 0);
	cr_assert(v >= 596 && v <= 598, "count %u", v);
	rig_fini(&r);
}

Test(i8254, mode2_new_count_waits_for_end_of_period)
{
	struct rig r;
	rig_init(&r);
	program(&r, 0, 2, 100);
	at(&r, T(30));
	outb(&r, 0x40, 20);
	outb(&r, 0x40, 0);
	cr_assert(status_of(&r, 0) & 0x40);
	at(&r, T(60));
	cr_assert_eq(latched_count(&r, 0), 41);
	at(&r, T(101));
	cr_assert_eq(r.log.rises, 1);
	cr_assert_eq(latched_count(&r, 0), 20);
	cr_assert_eq(status_of(&r, 0) & 0x40, 0);
	at(&r, T(119));
	cr_assert_eq(i8254_out(r.pit, 0), 1);
	at(&r, T(120));
	cr_assert_eq(i8254_out(r.pit, 0), 0);
	at(&r, T(161));
	cr_assert_eq(r.log.rises, 4);
	cr_assert_eq(r.log.last_rise, T(161));
	rig_fini(&r);
}

Test(i8254, mode3_square_wave_even_and_odd)
{
	struct rig r;
	rig_init(&r);
	program(&r, 1, 3, 6);
	static const int out6[] = {1, 1, 1, 0, 0, 0};
	static const unsigned ce6[] = {6, 4, 2, 6, 4, 2};
	for (int k = 1; k <= 12; k++) {
		at(&r, T(k));
		cr_assert_eq(i8254_out(r.pit, 1), out6[(k - 1) % 6], "%d", k);
		cr_assert_eq(latched_count(&r, 1), ce6[(k - 1) % 6]);
	}
	/* Odd: high (N+1)/2 clocks, low (N-1)/2, CE counts N-1 by twos. */
	program(&r, 2, 3, 5);
	outb(&r, 0x61, 1); /* gate rises at clock 12: period starts at 13 */
	static const int out5[] = {1, 1, 1, 0, 0};
	static const unsigned ce5[] = {4, 2, 0, 4, 2};
	for (int k = 13; k <= 22; k++) {
		at(&r, T(k));
		cr_assert_eq(i8254_out(r.pit, 2), out5[(k - 13) % 5], "%d", k);
		cr_assert_eq(latched_count(&r, 2), ce5[(k - 13) % 5]);
	}
	rig_fini(&r);
}

Test(i8254, mode4_software_strobe)
{
	struct rig r;
	rig_init(&r);
	program(&r, 0, 4, 5);
	at(&r, T(5));
	cr_assert_eq(i8254_out(r.pit, 0), 1);
	at(&r, T(6));
	cr_assert_eq(i8254_out(r.pit, 0), 0);
	cr_assert_eq(r.log.rises, 0);
	at(&r, T(7));
	cr_assert_eq(i8254_out(r.pit, 0), 1);
	cr_assert_eq(r.log.rises, 1);
	cr_assert_eq(r.log.level, 0);
	at(&r, T(7 + 65536 * 2));
	cr_assert_eq(r.log.rises, 1, "one strobe per count written");
	cr_assert(!vtimer_pending(r.pit->timer));
	rig_fini(&r);
}

Test(i8254, mode5_hardware_strobe)
{
	struct rig r;
	rig_init(&r);
	program(&r, 2, 5, 5);
	at(&r, T(10));
	outb(&r, 0x61, 1); /* loaded at 11, strobe at 16 */
	at(&r, T(14));
	outb(&r, 0x61, 0);
	outb(&r, 0x61, 1); /* retriggered: loaded at 15, strobe at 20 */
	at(&r, T(16));
	cr_assert_eq(i8254_out(r.pit, 2), 1);
	at(&r, T(20));
	cr_assert_eq(i8254_out(r.pit, 2), 0);
	at(&r, T(21));
	cr_assert_eq(i8254_out(r.pit, 2), 1);
	rig_fini(&r);
}

Test(i8254, modes_6_and_7_alias_2_and_3)
{
	struct rig r;
	rig_init(&r);
	outb(&r, 0x43, 0x1c); /* ch0, LSB only, mode 6 */
	outb(&r, 0x40, 50);
	outb(&r, 0x43, 0x5e); /* ch1, LSB only, mode 7 */
	outb(&r, 0x41, 4);
	at(&r, T(3));
	cr_assert_eq(status_of(&r, 0), 0x9c);
	cr_assert_eq(status_of(&r, 1), 0x1e, "mode 3 count 4: low at d=2");
	at(&r, T(50));
	cr_assert_eq(i8254_out(r.pit, 0), 0);
	cr_assert_eq(r.log.rises, 0);
	at(&r, T(51));
	cr_assert_eq(r.log.rises, 1);
	rig_fini(&r);
}

Test(i8254, counter_latch_holds_value)
{
	struct rig r;
	rig_init(&r);
	program(&r, 0, 2, 1193);
	at(&r, T(100));
	outb(&r, 0x43, 0x00);
	at(&r, T(500));
	outb(&r, 0x43, 0x00); /* ignored: the first latch is unread */
	cr_assert_eq(read_count(&r, 0), 1094);
	cr_assert_eq(read_count(&r, 0), 1193 - 499, "latch released");
	rig_fini(&r);
}

Test(i8254, read_back_status_and_count)
{
	struct rig r;
	rig_init(&r);
	at(&r, T(10));
	program(&r, 0, 2, 1193);
	outb(&r, 0x43, 0xc2); /* count and status of ch0 */
	cr_assert_eq(inb(&r, 0x40), 0xf4, "OUT, NULL COUNT, LSB/MSB, mode 2");
	cr_assert_eq(read_count(&r, 0), 1193);
	at(&r, T(20));
	outb(&r, 0x43, 0xc2);
	at(&r, T(200));
	outb(&r, 0x43, 0xc2); /* ignored while the first is unread */
	cr_assert_eq(inb(&r, 0x40), 0xb4);
	cr_assert_eq(read_count(&r, 0), 1184);
	/* Count only (0xd2), then status only for ch1 and ch2 (0xec). */
	outb(&r, 0x43, 0xd2);
	cr_assert_eq(read_count(&r, 0), 1193 - 189);
	outb(&r, 0x43, 0xec);
	cr_assert_eq(inb(&r, 0x41), 0xf6, "reset state: mode 3, no count");
	cr_assert_eq(inb(&r, 0x42), 0xf6);
	rig_fini(&r);
}

Test(i8254, bcd_counting)
{
	struct rig r;
	rig_init(&r);
	outb(&r, 0x43, 0x31); /* ch0 LSB/MSB mode 0 BCD */
	outb(&r, 0x40, 0x00);
	outb(&r, 0x40, 0x01); /* 100 decimal */
	at(&r, T(50));
	cr_assert_eq(latched_count(&r, 0), 0x51);
	cr_assert_eq(status_of(&r, 0) & 1, 1);
	at(&r, T(101));
	cr_assert_eq(r.log.rises, 1);
	/* 0 means 10000 in BCD. */
	outb(&r, 0x43, 0x71);
	outb(&r, 0x41, 0);
	outb(&r, 0x41, 0); /* written at clock 101, loaded at 102 */
	at(&r, T(103));
	cr_assert_eq(latched_count(&r, 1), 0x9999);
	at(&r, T(102 + 9999));
	cr_assert_eq(latched_count(&r, 1), 0x0001);
	cr_assert_eq(i8254_out(r.pit, 1), 0);
	at(&r, T(102 + 10000));
	cr_assert_eq(i8254_out(r.pit, 1), 1);
	at(&r, T(102 + 10001));
	cr_assert_eq(latched_count(&r, 1), 0x9999, "wraps modulo 10000");
	/* Illegal digits are taken as they come, modulo 10000. */
	outb(&r, 0x43, 0x71);
	outb(&r, 0x41, 0xff);
	outb(&r, 0x41, 0xff);
	cr_assert_eq(latched_count(&r, 1), 0x6665);
	rig_fini(&r);
}

Test(i8254, lsb_only_and_msb_only)
{
	struct rig r;
	rig_init(&r);
	outb(&r, 0x43, 0x50); /* ch1 LSB only, mode 0 */
	outb(&r, 0x41, 0x20);
	at(&r, T(3));
	cr_assert_eq(inb(&r, 0x41), 0x1e);
	cr_assert_eq(inb(&r, 0x41), 0x1e, "every read is the LSB");
	outb(&r, 0x43, 0x64); /* ch1 MSB only, mode 2 */
	outb(&r, 0x41, 0x02); /* 512, loaded at 4 */
	cr_assert_eq(inb(&r, 0x41), 0x02);
	at(&r, T(5));
	cr_assert_eq(inb(&r, 0x41), 0x01);
	cr_assert_eq(inb(&r, 0x41), 0x01);
	cr_assert_eq(status_of(&r, 1) & 0x30, 0x20);
	/* Reads and writes may interleave: separate flip-flops. */
	outb(&r, 0x43, 0x70); /* ch1 LSB/MSB mode 0 */
	outb(&r, 0x41, 0x34);
	inb(&r, 0x41);
	outb(&r, 0x41, 0x12);
	inb(&r, 0x41);
	at(&r, T(6));
	cr_assert_eq(read_count(&r, 1), 0x1234);
	rig_fini(&r);
}

Test(i8254, count_zero_is_65536)
{
	struct rig r;
	rig_init(&r);
	program(&r, 1, 2, 0);
	at(&r, T(1));
	cr_assert_eq(latched_count(&r, 1), 0);
	at(&r, T(2));
	cr_assert_eq(latched_count(&r, 1), 65535);
	at(&r, T(65535));
	cr_assert_eq(i8254_out(r.pit, 1), 1);
	at(&r, T(65536));
	cr_assert_eq(i8254_out(r.pit, 1), 0);
	at(&r, T(65537));
	cr_assert_eq(latched_count(&r, 1), 0, "reloaded");
	at(&r, T(65538));
	cr_assert_eq(latched_count(&r, 1), 65535);
	program(&r, 0, 0, 0);
	int64_t tk = tick_of(clock_ns(r.clk));
	at(&r, T(tk + 65536));
	cr_assert_eq(r.log.rises, 0);
	at(&r, T(tk + 65537));
	cr_assert_eq(r.log.rises, 1);
	rig_fini(&r);
}

Test(i8254, gate2_controls_mode2_via_port_b)
{
	struct rig r;
	rig_init(&r);
	program(&r, 2, 2, 100);
	at(&r, T(10));
	cr_assert_eq(latched_count(&r, 2), 100, "gate low: not counting");
	outb(&r, 0x61, 1);
	cr_assert_eq(inb(&r, 0x61) & 1, 1);
	at(&r, T(50));
	cr_assert_eq(latched_count(&r, 2), 61);
	outb(&r, 0x61, 0);
	at(&r, T(110));
	cr_assert_eq(latched_count(&r, 2), 61);
	cr_assert_eq(inb(&r, 0x61) & 0x20, 0x20, "gate low forces OUT high");
	outb(&r, 0x61, 1); /* rising edge reloads: period from 111 */
	at(&r, T(111));
	cr_assert_eq(latched_count(&r, 2), 100);
	at(&r, T(209));
	cr_assert_eq(inb(&r, 0x61) & 0x20, 0x20);
	at(&r, T(210));
	cr_assert_eq(inb(&r, 0x61) & 0x20, 0);
	rig_fini(&r);
}

/* Linux pit_calibrate_tsc / SeaBIOS tsctimer_setup: ch2 mode 0, poll bit 5. */
Test(i8254, pit_calibration_loop)
{
	struct rig r;
	rig_init(&r);
	const unsigned latch = I8254_HZ / 20;
	outb(&r, 0x61, (inb(&r, 0x61) & ~0x02) | 0x01);
	outb(&r, 0x43, 0xb0);
	outb(&r, 0x42, latch & 0xff);
	outb(&r, 0x42, latch >> 8);
	int polls = 0;
	while (!(inb(&r, 0x61) & 0x20) && polls < 100000) {
		at(&r, clock_ns(r.clk) + 1000);
		polls++;
	}
	cr_assert_geq(clock_ns(r.clk), T(latch + 1));
	cr_assert_lt(clock_ns(r.clk), T(latch + 1) + 1000);
	cr_assert_eq(polls, 50001, "50 ms in 1 us polls");

	/* Gate low while programming, then a rising gate starts it. */
	outb(&r, 0x61, 0x00);
	outb(&r, 0x43, 0xb0);
	outb(&r, 0x42, 0xff);
	outb(&r, 0x42, 0xff);
	at(&r, clock_ns(r.clk) + 10000000);
	cr_assert_eq(latched_count(&r, 2), 0xffff);
	int64_t tk = tick_of(clock_ns(r.clk));
	outb(&r, 0x61, 0x01);
	/* quick_pit_calibrate reads the MSB: one step per 256 clocks. */
	at(&r, T(tk + 256 * 10 + 4));
	inb(&r, 0x42);
	cr_assert_eq(inb(&r, 0x42), (0xffff - 256 * 10 - 4) >> 8);
	at(&r, T(tk + 0xffff - 1));
	cr_assert_eq(inb(&r, 0x61) & 0x20, 0);
	at(&r, T(tk + 0xffff));
	cr_assert_eq(inb(&r, 0x61) & 0x20, 0x20);
	rig_fini(&r);
}

Test(i8254, port_b_bits_and_refresh_toggle)
{
	struct rig r;
	rig_init(&r);
	cr_assert_eq(inb(&r, 0x61) & 0x10, 0);
	at(&r, 15085);
	cr_assert_eq(inb(&r, 0x61) & 0x10, 0x10);
	at(&r, 30169);
	cr_assert_eq(inb(&r, 0x61) & 0x10, 0x10);
	at(&r, 30170);
	cr_assert_eq(inb(&r, 0x61) & 0x10, 0);
	outb(&r, 0x61, 0xff);
	uint8_t v = inb(&r, 0x61);
	cr_assert_eq(v & 0xcf, 0x0f, "bits 0-3 stored, 6-7 read 0: %#x", v);
	cr_assert_eq(v & 0x20, 0x20, "ch2 in reset state: OUT high");
	outb(&r, 0x61, 0xfc);
	cr_assert_eq(inb(&r, 0x61) & 0xcf, 0x0c);
	cr_assert_eq(r.log.calls, 0);
	rig_fini(&r);
}

Test(i8254, irq0_at_programmed_rate)
{
	struct rig r;
	rig_init(&r);
	program(&r, 0, 2, 1193); /* ~1000 Hz, what a 1000 Hz kernel asks */
	at(&r, 1000000000);
	cr_assert(r.log.rises >= 999 && r.log.rises <= 1001, "%d", r.log.rises);
	cr_assert_eq(i8254_irq_edges(r.pit), (uint64_t)r.log.rises);
	cr_assert_eq(i8254_missed_ticks(r.pit), 0);
	cr_assert_geq(r.log.min_gap, T(1193) - 1);
	cr_assert_eq(r.log.bad_line, 0);
	/* Mode 3 at 100 Hz: one edge per period, not two. */
	int before = r.log.rises;
	program(&r, 0, 3, 11932);
	at(&r, 2000000000);
	int n = r.log.rises - before;
	cr_assert(n >= 99 && n <= 101, "%d", n);
	rig_fini(&r);
}

Test(i8254, late_timer_coalesces)
{
	struct rig r;
	rig_init(&r);
	program(&r, 0, 2, 1193); /* reloads at 1 + 1193k */
	at(&r, 500000);
	cr_assert_eq(r.pit->edge, 1 + 1193);
	int64_t deadline = T(1 + 1193);
	/* The host sleeps through five periods, then the timer fires. */
	vtimer_del(r.pit->timer);
	at(&r, 5700000);
	cr_assert_eq(r.log.rises, 0);
	vtimer_mod(r.pit->timer, deadline);
	clock_advance(r.clk, 0);
	cr_assert_eq(r.log.rises, 1, "one edge, not a burst");
	cr_assert_eq(i8254_missed_ticks(r.pit), 4);
	cr_assert_eq(r.pit->edge, 1 + 1193 * 6, "next on the grid after now");
	at(&r, 9900000);
	cr_assert_eq(r.log.rises, 5);
	cr_assert_eq(r.log.last_rise, T(1 + 1193 * 9));
	cr_assert_eq(i8254_missed_ticks(r.pit), 4);
	rig_fini(&r);
}

Test(i8254, overdue_edge_delivered_before_reprogramming)
{
	struct rig r;
	rig_init(&r);
	program(&r, 0, 0, 100);
	vtimer_del(r.pit->timer); /* host timer lost in flight */
	at(&r, T(500));
	outb(&r, 0x43, 0x34);
	cr_assert_eq(r.log.rises, 1);
	rig_fini(&r);
}

Test(i8254, fast_rates_are_clamped)
{
	struct rig r;
	rig_init(&r);
	program(&r, 0, 2, 2);
	at(&r, 1000000);
	cr_assert_leq(r.log.rises, 101);
	cr_assert_geq(r.log.rises, 90);
	cr_assert_geq(r.log.min_gap, 10000);
	uint64_t total = r.log.rises + i8254_missed_ticks(r.pit);
	cr_assert(total >= 596 && total <= 610, "%lu", (unsigned long)total);
	program(&r, 0, 3, 1);
	at(&r, 2000000);
	cr_assert_geq(r.log.min_gap, 10000);
	program(&r, 0, 2, 1);
	at(&r, 3000000);
	cr_assert_geq(r.log.min_gap, 10000);
	cr_assert_leq(r.log.rises, 310);
	rig_fini(&r);
}

Test(i8254, wide_accesses_split_into_bytes)
{
	struct rig r;
	rig_init(&r);
	program(&r, 1, 0, 0x1234);
	outb(&r, 0x43, 0x40); /* latch ch1 */
	uint32_t d = 0;
	bus_access(&r.io, 0x40, 4, false, &d, 1);
	cr_assert_eq((d >> 8) & 0xff, 0x34, "byte 1 is port 0x41");
	cr_assert_eq(d >> 24, 0xff, "the control port reads 0xff");
	cr_assert_eq(inb(&r, 0x41), 0x12);
	uint16_t w = 0x7455; /* 0x55 to port 0x42, then 0x74 to 0x43 */
	bus_access(&r.io, 0x42, 2, true, &w, 1);
	cr_assert_eq(status_of(&r, 1), 0xf4, "ch1 now mode 2, no count");
	rig_fini(&r);
}

static uint32_t lcg(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

Test(i8254, garbage_never_breaks_it)
{
	struct rig r;
	rig_init(&r);
	static const uint16_t ports[] = {0x40, 0x41, 0x42, 0x43, 0x61};
	uint32_t s = 12345;
	for (int i = 0; i < 100000; i++) {
		uint16_t port = ports[lcg(&s) % 5];
		uint32_t op = lcg(&s) % 8;
		if (op < 4) {
			outb(&r, port, (uint8_t)lcg(&s));
		} else if (op < 7) {
			inb(&r, port);
		} else {
			int64_t step =
			    lcg(&s) % 3 ? lcg(&s) % 20000 : lcg(&s) % 3000000;
			int before = r.log.rises;
			at(&r, clock_ns(r.clk) + step);
			cr_assert_leq(r.log.rises - before, step / 10000 + 2);
		}
		struct i8254_chan *c = &r.pit->ch[0];
		int64_t tk = tick_of(clock_ns(r.clk));
		if (vtimer_pending(r.pit->timer))
			cr_assert_gt(r.pit->edge, tk);
		if (c->running && (c->mode == 2 || c->mode == 3))
			cr_assert(vtimer_pending(r.pit->timer), "iter %d", i);
		if (i % 7 == 0)
			latched_count(&r, i % 3);
	}
	cr_assert_eq(r.log.bad_line, 0);
	rig_fini(&r);
}
