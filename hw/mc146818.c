/*
 * Motorola MC146818A real-time clock plus CMOS RAM, PC flavour.
 *
 * Follows the MC146818A datasheet (registers A-D, update cycle, periodic,
 * alarm and update-ended interrupts) and the IBM PC/AT CMOS layout that
 * firmware expects (memory sizes, century at 0x32, checksum at 0x2e/0x2f).
 *
 * Time is not ticked by timers: the divider chain is modelled as a running
 * "divider time" t = host wall clock + phase_ns, and the guest's clock reads
 * floor(t / 1 s) + off_sec seconds since the epoch (UTC). Time registers are
 * derived from that whenever the clock runs and are plain bytes while it is
 * frozen (SET, or the divider not at 010). Flags in register C are brought
 * up to date lazily from t, so a guest polling register C works without any
 * timer; a vtimer is armed only to raise IRQ 8 for an enabled interrupt.
 *
 * Not modelled: daylight-saving (DSE is stored only), the square-wave pin,
 * divider test modes (any divider other than 010 just stops the clock), a
 * guest-written day of week that disagrees with the date (it is derived).
 */
#include "hw/mc146818.h"

#include <stdlib.h>
#include <string.h>

#define NS_PER_SEC   1000000000LL
#define OSC_HZ	     32768
#define UIP_NS	     244141 /* 8 cycles of the 32.768 kHz time base */
#define SECS_PER_DAY 86400
#define MINS_PER_DAY 1440

#define REG_A_UIP     0x80
#define REG_A_DV_MASK 0x70
#define REG_A_DV_RUN  0x20
#define REG_A_RS_MASK 0x0f
#define REG_B_SET     0x80
#define REG_B_PIE     0x40
#define REG_B_AIE     0x20
#define REG_B_UIE     0x10
#define REG_B_DM      0x04
#define REG_B_24H     0x02
#define REG_C_IRQF    0x80
#define REG_C_PF      0x40
#define REG_C_AF      0x20
#define REG_C_UF      0x10
#define REG_D_VRT     0x80
#define ALARM_ANY     0xc0
#define ALARM_NEVER   -2

enum {
	R_SEC = 0x00,
	R_ASEC = 0x01,
	R_MIN = 0x02,
	R_AMIN = 0x03,
	R_HOUR = 0x04,
	R_AHOUR = 0x05,
	R_DOW = 0x06,
	R_DAY = 0x07,
	R_MON = 0x08,
	R_YEAR = 0x09,
};

struct mc146818 {
	struct vclock *clk;
	struct irq_chip irq;
	struct vtimer *timer;
	uint8_t cmos[128];
	uint8_t index;
	bool nmi_masked;
	bool irq_level;
	int64_t phase_ns; /* divider time t = wall clock + phase_ns */
	int64_t off_sec;  /* guest seconds = floor(t / 1 s) + off_sec */
	int64_t last_t;	  /* divider time up to which flags are accounted */
	struct mc146818_stats stats;
};

/* Division rounding towards minus infinity: times before 1970 exist. */
static int64_t fdiv(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b < 0) ? q - 1 : q;
}

static int64_t fmod64(int64_t a, int64_t b)
{
	int64_t r = a % b;
	return r < 0 ? r + b : r;
}

/* Proleptic Gregorian calendar <-> days since 1970-01-01. */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
	y -= m <= 2;
	int64_t era = fdiv(y, 400);
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	int64_t era = fdiv(z, 146097);
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static bool binary_mode(const struct mc146818 *s)
{
	return s->cmos[CMOS_REG_B] & REG_B_DM;
}

static bool mode_24h(const struct mc146818 *s)
{
	return s->cmos[CMOS_REG_B] & REG_B_24H;
}

static uint8_t enc(const struct mc146818 *s, int v)
{
	return binary_mode(s) ? (uint8_t)v
			      : (uint8_t)(((v / 10) << 4) | v % 10);
}

/* Invalid BCD digits decode arithmetically; the value is normalised later. */
static int dec(const struct mc146818 *s, uint8_t b)
{
	return binary_mode(s) ? b : (b >> 4) * 10 + (b & 0x0f);
}

static uint8_t enc_hour(const struct mc146818 *s, int h)
{
	if (mode_24h(s))
		return enc(s, h);
	/* 12-hour mode: 0 is 12 AM, 12 is 12 PM, bit 7 flags PM. */
	int h12 = h % 12 ? h % 12 : 12;
	return enc(s, h12) | (h >= 12 ? 0x80 : 0);
}

static int dec_hour(const struct mc146818 *s, uint8_t b)
{
	if (mode_24h(s))
		return dec(s, b);
	return dec(s, b & 0x7f) % 12 + (b & 0x80 ? 12 : 0);
}

static bool is_time_reg(uint8_t idx)
{
	return idx == R_SEC || idx == R_MIN || idx == R_HOUR ||
	       (idx >= R_DOW && idx <= R_YEAR) || idx == CMOS_CENTURY;
}

static bool divider_on(const struct mc146818 *s)
{
	return (s->cmos[CMOS_REG_A] & REG_A_DV_MASK) == REG_A_DV_RUN;
}

/* The time registers advance only with the divider at 010 and SET clear. */
static bool ticking(const struct mc146818 *s)
{
	return divider_on(s) && !(s->cmos[CMOS_REG_B] & REG_B_SET);
}

static int64_t div_time(struct mc146818 *s)
{
	int64_t t;
	/* int64 nanoseconds end in April 2262: the clock stops there. */
	if (__builtin_add_overflow(clock_wall_ns(s->clk), s->phase_ns, &t))
		return INT64_MAX;
	return t;
}

static int64_t guest_sec(const struct mc146818 *s, int64_t t)
{
	return fdiv(t, NS_PER_SEC) + s->off_sec;
}

/* Writes the time registers (and century) for guest second gs into cm. */
static void regs_from_sec(const struct mc146818 *s, int64_t gs, uint8_t *cm)
{
	int64_t days = fdiv(gs, SECS_PER_DAY), y;
	int sod = (int)fmod64(gs, SECS_PER_DAY), m, d;

	civil_from_days(days, &y, &m, &d);
	cm[R_SEC] = enc(s, sod % 60);
	cm[R_MIN] = enc(s, sod / 60 % 60);
	cm[R_HOUR] = enc_hour(s, sod / 3600);
	cm[R_DOW] = enc(s, (int)fmod64(days + 4, 7) + 1); /* 1970-01-01: Thu */
	cm[R_DAY] = enc(s, d);
	cm[R_MON] = enc(s, m);
	cm[R_YEAR] = enc(s, (int)fmod64(y, 100));
	cm[CMOS_CENTURY] = enc(s, (int)fmod64(fdiv(y, 100), 100));
}

/* Out-of-range fields (month 0x1f, day 0) carry over like mktime does. */
static int64_t sec_from_regs(const struct mc146818 *s, const uint8_t *cm)
{
	int64_t year = dec(s, cm[CMOS_CENTURY]) * 100 + dec(s, cm[R_YEAR]);
	int64_t mon = dec(s, cm[R_MON]) - 1;

	year += fdiv(mon, 12);
	mon = fmod64(mon, 12) + 1;
	int64_t days = days_from_civil(year, mon, 1) + dec(s, cm[R_DAY]) - 1;
	return days * SECS_PER_DAY + dec_hour(s, cm[R_HOUR]) * 3600LL +
	       dec(s, cm[R_MIN]) * 60LL + dec(s, cm[R_SEC]);
}

/* Latch the running time into the registers before the clock stops. */
static void freeze_regs(struct mc146818 *s)
{
	regs_from_sec(s, guest_sec(s, div_time(s)), s->cmos);
}

/* Restart from the register contents, keeping the divider's phase. */
static void thaw_regs(struct mc146818 *s)
{
	s->off_sec = sec_from_regs(s, s->cmos) - fdiv(div_time(s), NS_PER_SEC);
}

/* An alarm byte: 0-based value, -1 for "don't care", or ALARM_NEVER. */
static int alarm_field(const struct mc146818 *s, uint8_t b, int limit,
		       bool hour)
{
	if ((b & ALARM_ANY) == ALARM_ANY)
		return -1;
	int v = hour ? dec_hour(s, b) : dec(s, b);
	if (v >= limit)
		return ALARM_NEVER;
	/* The chip compares bytes: a byte no time ever encodes never hits. */
	uint8_t back = hour ? enc_hour(s, v) : enc(s, v);
	return back == b ? v : ALARM_NEVER;
}

/* First guest second after from at which the alarm matches, or INT64_MAX. */
static int64_t alarm_next(const struct mc146818 *s, int64_t from)
{
	int as = alarm_field(s, s->cmos[R_ASEC], 60, false);
	int am = alarm_field(s, s->cmos[R_AMIN], 60, false);
	int ah = alarm_field(s, s->cmos[R_AHOUR], 24, true);

	if (as == ALARM_NEVER || am == ALARM_NEVER || ah == ALARM_NEVER)
		return INT64_MAX;
	int64_t min0 = fdiv(from, 60);
	int first = (int)fmod64(from, 60) + 1;
	/* The pattern repeats daily: a day and a minute cover every case. */
	for (int i = 0; i <= MINS_PER_DAY; i++) {
		int mod = (int)fmod64(min0 + i, MINS_PER_DAY);
		if ((ah >= 0 && mod / 60 != ah) || (am >= 0 && mod % 60 != am))
			continue;
		int lo = i ? 0 : first;
		int sec = as >= 0 ? as : lo;
		if (sec >= lo && sec < 60)
			return (min0 + i) * 60 + sec;
	}
	return INT64_MAX;
}

/* Periodic interrupt period in 32.768 kHz cycles; 0 when off. */
static int64_t period_cycles(const struct mc146818 *s)
{
	int rs = s->cmos[CMOS_REG_A] & REG_A_RS_MASK;
	if (!rs)
		return 0;
	if (rs < 3) /* the datasheet maps rates 1 and 2 onto 8 and 9 */
		rs += 7;
	return 1LL << (rs - 1);
}

static int64_t cycles_at(int64_t t)
{
	return fdiv(t, NS_PER_SEC) * OSC_HZ +
	       fmod64(t, NS_PER_SEC) * OSC_HZ / NS_PER_SEC;
}

/* Nanoseconds from divider time t to the first periodic edge after it.
 * Worked out from the start of t's second, not as an absolute time (which
 * could lie past the end of int64 nanoseconds): the edge is less than
 * 1.5 s of cycles into that second. */
static int64_t next_tick_in(int64_t t, int64_t p)
{
	int64_t c = (fdiv(cycles_at(t), p) + 1) * p;
	int64_t in_sec = c - fdiv(t, NS_PER_SEC) * OSC_HZ;
	return (in_sec * NS_PER_SEC + OSC_HZ - 1) / OSC_HZ -
	       fmod64(t, NS_PER_SEC);
}

/* Latch every PF/UF/AF event between the last sync and now. */
static void sync_flags(struct mc146818 *s)
{
	int64_t now = div_time(s), last = s->last_t;
	int64_t p = period_cycles(s);

	s->last_t = now;
	if (!divider_on(s) || now <= last)
		return;
	if (p) {
		int64_t ticks =
		    fdiv(cycles_at(now), p) - fdiv(cycles_at(last), p);
		if (ticks > 0)
			s->cmos[CMOS_REG_C] |= REG_C_PF;
		/* Edges folded into one flag: the guest sees one interrupt. */
		if (ticks > 1 && (s->cmos[CMOS_REG_B] & REG_B_PIE))
			s->stats.periodic_missed += ticks - 1;
	}
	if (s->cmos[CMOS_REG_B] & REG_B_SET)
		return;
	int64_t s0 = guest_sec(s, last), s1 = guest_sec(s, now);
	if (s1 > s0) {
		s->cmos[CMOS_REG_C] |= REG_C_UF;
		if (alarm_next(s, s0) <= s1)
			s->cmos[CMOS_REG_C] |= REG_C_AF;
	}
}

/* IRQF and the IRQ 8 level follow (flags & enables). */
static void update_irq(struct mc146818 *s)
{
	uint8_t flags = s->cmos[CMOS_REG_C] & (REG_C_PF | REG_C_AF | REG_C_UF);
	bool on = flags & s->cmos[CMOS_REG_B];

	s->cmos[CMOS_REG_C] = on ? flags | REG_C_IRQF : flags;
	if (on == s->irq_level)
		return;
	s->irq_level = on;
	if (on)
		s->stats.irq_raises++;
	irq_set(&s->irq, MC146818_IRQ, on);
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/*
 * Arm the timer for the next event that would newly raise IRQ 8. An event
 * whose flag is already latched changes nothing the guest can see, so no
 * timer runs until register C is read: a slow guest or a late host never
 * builds a backlog. Everything is a delay from t, never an absolute divider
 * time: with the host clock in 2262 the next event may lie past the end of
 * int64 nanoseconds, while a delay is at most a day and a minute.
 */
static void rearm(struct mc146818 *s)
{
	int64_t t = div_time(s), best = INT64_MAX;
	int64_t into = fmod64(t, NS_PER_SEC); /* since the last update */
	uint8_t b = s->cmos[CMOS_REG_B], c = s->cmos[CMOS_REG_C];
	int64_t p = period_cycles(s);

	if (!divider_on(s)) {
		vtimer_del(s->timer);
		return;
	}
	if (p && (b & REG_B_PIE) && !(c & REG_C_PF))
		best = next_tick_in(t, p);
	if (!(b & REG_B_SET)) {
		int64_t cur = guest_sec(s, t);
		if ((b & REG_B_UIE) && !(c & REG_C_UF))
			best = min64(best, NS_PER_SEC - into);
		int64_t a = (b & REG_B_AIE) && !(c & REG_C_AF)
				? alarm_next(s, cur)
				: INT64_MAX;
		if (a != INT64_MAX)
			best = min64(best, (a - cur) * NS_PER_SEC - into);
	}
	if (best == INT64_MAX)
		vtimer_del(s->timer);
	else
		vtimer_mod(s->timer, clock_ns(s->clk) + best);
}

static void on_timer(void *opaque)
{
	struct mc146818 *s = opaque;

	s->stats.timer_fires++;
	sync_flags(s);
	update_irq(s);
	rearm(s);
}

static void write_reg_a(struct mc146818 *s, uint8_t val)
{
	bool was_on = divider_on(s), was_ticking = ticking(s);

	sync_flags(s);
	if (was_ticking)
		freeze_regs(s);
	s->cmos[CMOS_REG_A] = val & ~REG_A_UIP;
	/* Leaving divider reset: the first update comes 500 ms later. */
	if (divider_on(s) && !was_on)
		s->phase_ns =
		    fmod64(NS_PER_SEC / 2 - clock_wall_ns(s->clk), NS_PER_SEC);
	if (ticking(s) && !was_ticking)
		thaw_regs(s);
	s->last_t = div_time(s);
	rearm(s);
}

static void write_reg_b(struct mc146818 *s, uint8_t val)
{
	bool was_ticking = ticking(s);
	uint8_t old = s->cmos[CMOS_REG_B];

	sync_flags(s);
	if (was_ticking)
		freeze_regs(s); /* in the old format, as the chip holds them */
	/* The datasheet: SET going high clears UIE. */
	if ((val & REG_B_SET) && !(old & REG_B_SET))
		val &= ~REG_B_UIE;
	s->cmos[CMOS_REG_B] = val;
	if (ticking(s) && !was_ticking)
		thaw_regs(s); /* the guest wrote them in the new format */
	update_irq(s);
	rearm(s);
}

/* A time register written while the clock runs: it runs on from there. */
static void write_time_running(struct mc146818 *s, uint8_t idx, uint8_t val)
{
	uint8_t cm[128];

	sync_flags(s);
	regs_from_sec(s, guest_sec(s, s->last_t), cm);
	cm[idx] = val;
	s->off_sec = sec_from_regs(s, cm) - fdiv(s->last_t, NS_PER_SEC);
	rearm(s);
}

static void reg_write(struct mc146818 *s, uint8_t idx, uint8_t val)
{
	switch (idx) {
	case CMOS_REG_A:
		write_reg_a(s, val);
		return;
	case CMOS_REG_B:
		write_reg_b(s, val);
		return;
	case CMOS_REG_C:
	case CMOS_REG_D:
		return; /* read-only */
	case R_ASEC:
	case R_AMIN:
	case R_AHOUR:
		sync_flags(s); /* judge past seconds by the old alarm */
		s->cmos[idx] = val;
		rearm(s);
		return;
	}
	if (is_time_reg(idx) && ticking(s))
		write_time_running(s, idx, val);
	else
		s->cmos[idx] = val;
}

static uint8_t read_reg_a(struct mc146818 *s)
{
	uint8_t a = s->cmos[CMOS_REG_A] & ~REG_A_UIP;

	if (ticking(s) &&
	    fmod64(div_time(s), NS_PER_SEC) >= NS_PER_SEC - UIP_NS)
		a |= REG_A_UIP;
	return a;
}

/* Reading register C returns the flags, clears them and lowers IRQ 8. */
static uint8_t read_reg_c(struct mc146818 *s)
{
	sync_flags(s);
	update_irq(s);
	uint8_t v = s->cmos[CMOS_REG_C];
	s->cmos[CMOS_REG_C] = 0;
	update_irq(s);
	rearm(s);
	return v;
}

static uint8_t reg_peek(struct mc146818 *s, uint8_t idx)
{
	uint8_t cm[128];

	switch (idx) {
	case CMOS_REG_A:
		return read_reg_a(s);
	case CMOS_REG_C:
		return s->cmos[CMOS_REG_C];
	case CMOS_REG_D:
		return REG_D_VRT; /* battery always good; bits 0-6 read 0 */
	}
	if (is_time_reg(idx) && ticking(s)) {
		regs_from_sec(s, guest_sec(s, div_time(s)), cm);
		return cm[idx];
	}
	return s->cmos[idx];
}

static uint8_t port_read_byte(struct mc146818 *s, uint64_t off)
{
	if (off != 1)
		return 0xff; /* the index port is write-only */
	if (s->index == CMOS_REG_C)
		return read_reg_c(s);
	return reg_peek(s, s->index);
}

static void port_write_byte(struct mc146818 *s, uint64_t off, uint8_t val)
{
	if (off == 0) {
		s->index = val & 0x7f;
		s->nmi_masked = val & 0x80;
	} else if (off == 1) {
		reg_write(s, s->index, val);
	}
}

/* Byte-wide ports: the bus splits wider accesses (width 1). */
static uint64_t port_read(void *dev, uint64_t off, unsigned size)
{
	(void)size;
	return port_read_byte(dev, off);
}

static void port_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	(void)size;
	port_write_byte(dev, off, (uint8_t)val);
}

static const struct io_ops mc146818_ops = {
    .read = port_read,
    .write = port_write,
    .width = 1,
};

static void update_checksum(struct mc146818 *s)
{
	unsigned sum = 0;

	for (int i = CMOS_CSUM_FIRST; i <= CMOS_CSUM_LAST; i++)
		sum += s->cmos[i];
	s->cmos[CMOS_CSUM_HI] = (uint8_t)(sum >> 8);
	s->cmos[CMOS_CSUM_LO] = (uint8_t)sum;
}

static void put16(struct mc146818 *s, uint8_t idx, uint64_t v)
{
	s->cmos[idx] = (uint8_t)v;
	s->cmos[idx + 1] = (uint8_t)(v >> 8);
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

void mc146818_set_memory(struct mc146818 *s, uint64_t ram_below_4g,
			 uint64_t ram_above_4g)
{
	const uint64_t mib = 1024 * 1024;
	uint64_t ext = ram_below_4g > mib ? (ram_below_4g - mib) / 1024 : 0;
	uint64_t hi =
	    ram_below_4g > 16 * mib ? (ram_below_4g - 16 * mib) >> 16 : 0;
	uint64_t top = min_u64(ram_above_4g >> 16, 0xffffff);

	put16(s, CMOS_BASE_MEM_LO, min_u64(ram_below_4g / 1024, 640));
	put16(s, CMOS_EXT_MEM_LO, min_u64(ext, 0xfc00));
	put16(s, CMOS_EXT_MEM2_LO, min_u64(ext, 0xfc00));
	put16(s, CMOS_MEM16M_LO, min_u64(hi, 0xffff));
	s->cmos[CMOS_MEM4G_LO] = (uint8_t)top;
	s->cmos[CMOS_MEM4G_MID] = (uint8_t)(top >> 8);
	s->cmos[CMOS_MEM4G_HI] = (uint8_t)(top >> 16);
	update_checksum(s);
}

void mc146818_cmos_write(struct mc146818 *s, uint8_t index, uint8_t val)
{
	index &= 0x7f;
	reg_write(s, index, val);
	if (index >= CMOS_CSUM_FIRST && index <= CMOS_CSUM_LAST)
		update_checksum(s);
}

uint8_t mc146818_cmos_read(struct mc146818 *s, uint8_t index)
{
	return reg_peek(s, index & 0x7f);
}

bool mc146818_nmi_masked(struct mc146818 *s)
{
	return s->nmi_masked;
}

void mc146818_get_stats(struct mc146818 *s, struct mc146818_stats *out)
{
	*out = s->stats;
}

int mc146818_attach(struct mc146818 *s, struct bus *io)
{
	return bus_register(io, MC146818_IO_BASE, MC146818_IO_LEN,
			    &mc146818_ops, s, "mc146818");
}

struct mc146818 *mc146818_new(struct vclock *clk, const struct irq_chip *irq)
{
	struct mc146818 *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->clk = clk;
	if (irq)
		s->irq = *irq;
	s->timer = vtimer_new(clk, on_timer, s);
	if (!s->timer) {
		free(s);
		return NULL;
	}
	/* As firmware leaves it: 32.768 kHz divider, 1024 Hz, BCD, 24 h. */
	s->cmos[CMOS_REG_A] = REG_A_DV_RUN | 0x06;
	s->cmos[CMOS_REG_B] = REG_B_24H;
	s->cmos[CMOS_EQUIPMENT] = 0x02; /* FPU present, VGA, no floppy */
	put16(s, CMOS_BASE_MEM_LO, 640);
	update_checksum(s);
	s->last_t = div_time(s);
	return s;
}

void mc146818_free(struct mc146818 *s)
{
	if (!s)
		return;
	vtimer_free(s->timer);
	free(s);
}
