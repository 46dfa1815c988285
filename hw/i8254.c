/*
 * Intel 8254 programmable interval timer, after the Intel 8254 datasheet
 * (order no. 231164): three 16-bit down counters clocked at 1193182 Hz,
 * control word, counter latch and read-back commands, LSB/MSB access with
 * separate read and write flip-flops, binary and BCD counting, modes 0-5.
 * Also System Control Port B (0x61) of the PC, which drives channel 2's GATE
 * and reads back its OUT and the DRAM refresh toggle.
 *
 * Nothing runs per clock: each channel remembers the tick at which its
 * counting element (CE) held a known value and derives the count and OUT
 * from clock_ns(). Channel 0 arms one vtimer only for its next IRQ 0 edge.
 *
 * Choices where the datasheet says "undefined":
 *  - after reset every channel is in mode 3, binary, LSB-then-MSB, with no
 *    count: OUT high, nothing counts, no interrupt until the guest programs.
 *  - a BCD count with digits above 9 is taken digit by digit, modulo 10000.
 *  - mode 2/3 with count 1 has a one-clock period; channel 0 still fires at
 *    most every I8254_MIN_TICKS clocks (see i8254.h).
 * IRQ 0 model: in modes 0 and 1 the line follows OUT; in modes 2-5 every
 * rising edge of OUT is delivered as a 1-then-0 pulse, so an edge-triggered
 * 8259 latches one request per period with one timer expiry per period.
 */
#include "hw/i8254.h"

#include <stdlib.h>

#define NS_PER_S     1000000000LL
#define REFRESH_NS   15085 /* port 0x61 bit 4 flips every 18 clocks */
#define SC_READBACK  3
#define RW_LATCH     0
#define PB_GATE2     0x01
#define PB_STORED    0x0f
#define PB_REFRESH   0x10
#define PB_OUT2	     0x20
#define ST_OUT	     0x80
#define ST_NULLCOUNT 0x40

static int64_t floor_div(__int128 a, int64_t b)
{
	int64_t q = (int64_t)(a / b);
	return (a % b != 0 && a < 0) ? q - 1 : q;
}

/* Clocks seen by time ns. */
static int64_t ns_to_tick(int64_t ns)
{
	return floor_div((__int128)ns * I8254_HZ, NS_PER_S);
}

/* Earliest time at which clock number tk has been seen. */
static int64_t tick_to_ns(int64_t tk)
{
	return -floor_div(-(__int128)tk * NS_PER_S, I8254_HZ);
}

static int64_t now_tick(struct i8254 *pit)
{
	return ns_to_tick(clock_ns(pit->clk));
}

static uint32_t modulus(const struct i8254_chan *c)
{
	return c->bcd ? 10000 : 65536;
}

/* Clocks until terminal count from base (modes 0, 1, 4, 5). */
static int64_t remaining(const struct i8254_chan *c)
{
	return c->ce0 ? c->ce0 : modulus(c);
}

static int64_t elapsed(const struct i8254_chan *c, int64_t tk)
{
	return tk > c->base ? tk - c->base : 0;
}

/* Modes 2, 3: a count written during a period takes over at its end. */
static void sync(struct i8254_chan *c, int64_t tk)
{
	if (c->pend && tk >= c->pend_tick) {
		c->base = c->pend_tick;
		c->n = c->pend_n;
		c->pend = false;
	}
}

/* Mode 3 CE: decrements by two, reloading (odd counts minus one) per half. */
static uint32_t square_count(uint32_t n, int64_t phase)
{
	int64_t half = (n + 1) / 2;
	int64_t even = n & ~1u;
	if (phase >= half)
		phase -= half;
	return (uint32_t)(even - 2 * phase);
}

static uint32_t ce_value(const struct i8254_chan *c, int64_t tk)
{
	uint32_t m = modulus(c);
	int64_t d = elapsed(c, tk);

	if (!c->running)
		return c->frozen % m;
	switch (c->mode) {
	case 2:
		return (uint32_t)(c->n - d % c->n) % m;
	case 3:
		return square_count(c->n, d % c->n) % m;
	default:
		return (uint32_t)((c->ce0 + m - d % m) % m);
	}
}

static bool out_level(const struct i8254_chan *c, int64_t tk)
{
	int64_t d = elapsed(c, tk);

	if (!c->running)
		return c->mode == 0 ? c->tc : true;
	switch (c->mode) {
	case 0:
		return c->tc || d >= remaining(c);
	case 1:
		return d >= remaining(c);
	case 2:
		return c->n < 2 || d % c->n != c->n - 1;
	case 3:
		return d % c->n < (c->n + 1) / 2;
	default: /* 4, 5: one clock low at terminal count */
		return c->tc || d != remaining(c);
	}
}

static uint16_t to_bcd(uint32_t v)
{
	return (uint16_t)((v / 1000 % 10) << 12 | (v / 100 % 10) << 8 |
			  (v / 10 % 10) << 4 | v % 10);
}

static uint32_t decode_count(const struct i8254_chan *c, uint16_t raw)
{
	uint32_t v = raw;
	if (c->bcd)
		v = ((raw >> 12) * 1000 + ((raw >> 8) & 15) * 100 +
		     ((raw >> 4) & 15) * 10 + (raw & 15)) %
		    10000;
	return v ? v : modulus(c);
}

static uint16_t encode_count(const struct i8254_chan *c, uint32_t v)
{
	return c->bcd ? to_bcd(v) : (uint16_t)v;
}

/* ---- channel 0 and IRQ 0 ---- */

/* First reload point base + k*n (k >= 1) at or after tick t. */
static int64_t grid_first(int64_t base, int64_t n, int64_t t)
{
	if (t <= base + n)
		return base + n;
	return base + (t - base + n - 1) / n * n;
}

/* Reload points base + k*n (k >= 1) in (a, b]. */
static int64_t grid_pts(int64_t base, int64_t n, int64_t a, int64_t b)
{
	int64_t lo = a < base ? 0 : (a - base) / n;
	int64_t hi = b < base ? 0 : (b - base) / n;
	return b > a && hi > lo ? hi - lo : 0;
}

static int64_t period_next(const struct i8254_chan *c, int64_t t)
{
	if (c->pend && t > c->pend_tick)
		return grid_first(c->pend_tick, c->pend_n, t);
	return grid_first(c->base, c->n, t);
}

static int64_t period_count(const struct i8254_chan *c, int64_t a, int64_t b)
{
	if (!c->pend)
		return grid_pts(c->base, c->n, a, b);
	return grid_pts(c->base, c->n, a, b < c->pend_tick ? b : c->pend_tick) +
	       grid_pts(c->pend_tick, c->pend_n,
			a > c->pend_tick ? a : c->pend_tick, b);
}

static void set_line(struct i8254 *pit, int level)
{
	if (pit->line != level) {
		pit->line = level;
		irq_set(&pit->irq, I8254_IRQ, level);
		if (level)
			pit->edges++;
	}
}

static void pulse_line(struct i8254 *pit)
{
	set_line(pit, 0);
	set_line(pit, 1);
	set_line(pit, 0);
}

static bool level_mode(const struct i8254_chan *c)
{
	return c->mode <= 1;
}

/* Tick of channel 0's next IRQ 0 edge after tk; from: last edge accounted. */
static int64_t next_edge(struct i8254 *pit, int64_t tk, int64_t from)
{
	struct i8254_chan *c = &pit->ch[0];
	int64_t e = INT64_MAX;

	if (!c->running)
		return INT64_MAX;
	switch (c->mode) {
	case 0:
		if (!c->tc)
			e = c->base + remaining(c);
		break;
	case 1:
		e = c->base + remaining(c);
		break;
	case 2:
	case 3:
		/* Periodic: never sooner than the clamp; skipped periods count.
		 */
		e = period_next(c, tk + I8254_MIN_TICKS);
		pit->missed += period_count(c, from, e - 1);
		break;
	default:
		if (!c->tc)
			e = c->base + remaining(c) + 1; /* end of the strobe */
		break;
	}
	return e > tk ? e : INT64_MAX;
}

static void schedule(struct i8254 *pit, int64_t tk, int64_t from)
{
	pit->edge = next_edge(pit, tk, from);
	if (pit->edge == INT64_MAX)
		vtimer_del(pit->timer);
	else
		vtimer_mod(pit->timer, tick_to_ns(pit->edge));
}

static void ch0_expired(void *opaque)
{
	struct i8254 *pit = opaque;
	struct i8254_chan *c = &pit->ch[0];
	int64_t tk = now_tick(pit), e = pit->edge;

	if (e == INT64_MAX)
		return;
	if (tk < e) { /* the host timer came early */
		vtimer_mod(pit->timer, tick_to_ns(e));
		return;
	}
	if (level_mode(c))
		set_line(pit, 1);
	else
		pulse_line(pit);
	/* One edge however late we are; the grid stays anchored at base. */
	schedule(pit, tk, e);
	sync(c, tk);
}

/* Deliver an overdue edge before the guest changes channel 0. */
static void catch_up(struct i8254 *pit)
{
	if (pit->edge != INT64_MAX && now_tick(pit) >= pit->edge)
		ch0_expired(pit);
}

static void ch0_changed(struct i8254 *pit, int64_t tk)
{
	struct i8254_chan *c = &pit->ch[0];
	set_line(pit, level_mode(c) ? out_level(c, tk) : 0);
	schedule(pit, tk, tk);
}

static void changed(struct i8254 *pit, struct i8254_chan *c, int64_t tk)
{
	if (c == &pit->ch[0])
		ch0_changed(pit, tk);
}

/* ---- counting element control ---- */

static void start(struct i8254_chan *c, int64_t base, uint32_t ce)
{
	c->running = true;
	c->base = base;
	c->ce0 = ce % modulus(c);
}

static void stop(struct i8254_chan *c, int64_t tk)
{
	if (!c->running)
		return;
	if (c->mode == 0 || c->mode == 4)
		c->tc = c->tc || elapsed(c, tk) >= remaining(c);
	c->frozen = ce_value(c, tk);
	c->running = false;
	if (c->pend)
		c->null_until = INT64_MAX;
	c->pend = false;
}

/* Modes 1, 2, 3, 5: a GATE rising edge (re)loads CR on the next clock. */
static void trigger(struct i8254_chan *c, int64_t tk)
{
	c->n = c->cr;
	c->tc = false;
	c->pend = false;
	c->null_until = tk + 1;
	start(c, tk + 1, c->cr);
}

static void gate_edge(struct i8254_chan *c, bool level, int64_t tk)
{
	switch (c->mode) {
	case 0:
	case 4:
		if (!level)
			stop(c, tk);
		else if (c->have_cr && !c->wr_msb && !c->running)
			start(c, tk, c->frozen);
		break;
	case 2:
	case 3:
		if (!level)
			stop(c, tk);
		else if (c->have_cr)
			trigger(c, tk);
		break;
	default:
		if (level && c->have_cr)
			trigger(c, tk);
		break;
	}
}

static void periodic_count(struct i8254_chan *c, int64_t tk)
{
	if (!c->gate) {
		c->frozen = c->cr;
		c->null_until = tk + 1;
	} else if (c->running) {
		c->pend = true;
		c->pend_n = c->cr;
		c->pend_tick = grid_first(c->base, c->n, tk + 1);
		c->null_until = c->pend_tick;
	} else {
		c->n = c->cr;
		c->null_until = tk + 1;
		start(c, tk + 1, c->cr);
	}
}

/* A complete count has been written to CR. */
static void count_written(struct i8254_chan *c, uint16_t raw, int64_t tk)
{
	c->cr = decode_count(c, raw);
	c->have_cr = true;
	switch (c->mode) {
	case 0:
	case 4:
		c->tc = false;
		c->null_until = tk + 1;
		c->running = false;
		c->frozen = c->cr % modulus(c);
		if (c->gate)
			start(c, tk + 1, c->cr);
		break;
	case 2:
	case 3:
		periodic_count(c, tk);
		break;
	default: /* 1, 5: waits for a GATE trigger */
		c->null_until = INT64_MAX;
		break;
	}
}

static void write_counter(struct i8254 *pit, struct i8254_chan *c, uint8_t v)
{
	int64_t tk = now_tick(pit);

	if (c->rw == 3 && !c->wr_msb) {
		c->wr_lsb = v;
		c->wr_msb = true;
		if (c->mode == 0) { /* first byte stops counting, OUT low */
			stop(c, tk);
			c->tc = false;
			changed(pit, c, tk);
		}
		return;
	}
	c->wr_msb = false;
	if (c->rw == 1)
		count_written(c, v, tk);
	else if (c->rw == 2)
		count_written(c, (uint16_t)(v << 8), tk);
	else
		count_written(c, (uint16_t)(c->wr_lsb | v << 8), tk);
	changed(pit, c, tk);
}

static uint8_t status_byte(const struct i8254_chan *c, int64_t tk)
{
	return (uint8_t)((out_level(c, tk) ? ST_OUT : 0) |
			 (tk < c->null_until ? ST_NULLCOUNT : 0) | c->rw << 4 |
			 c->cw_mode << 1 | c->bcd);
}

static void latch_count(struct i8254_chan *c, int64_t tk)
{
	if (c->count_latched)
		return; /* later latch commands wait for the first to be read */
	c->latch = encode_count(c, ce_value(c, tk));
	c->count_latched = true;
}

static void latch_status(struct i8254_chan *c, int64_t tk)
{
	if (c->status_latched)
		return;
	c->status = status_byte(c, tk);
	c->status_latched = true;
}

static uint8_t read_counter(struct i8254 *pit, struct i8254_chan *c)
{
	uint16_t v;
	bool msb;

	if (c->status_latched) {
		c->status_latched = false;
		return c->status;
	}
	v = c->count_latched ? c->latch
			     : encode_count(c, ce_value(c, now_tick(pit)));
	msb = c->rw == 2 || (c->rw == 3 && c->rd_msb);
	if (c->rw == 3)
		c->rd_msb = !c->rd_msb;
	if (c->rw != 3 || msb)
		c->count_latched = false; /* whole count read: release */
	return msb ? v >> 8 : v & 0xff;
}

static void control_word(struct i8254 *pit, struct i8254_chan *c, uint8_t v)
{
	int64_t tk = now_tick(pit);

	if (((v >> 4) & 3) == RW_LATCH) {
		latch_count(c, tk);
		return;
	}
	stop(c, tk);
	c->frozen = ce_value(c, tk);
	c->cw_mode = (v >> 1) & 7;
	c->mode = c->cw_mode > 5 ? c->cw_mode - 4 : c->cw_mode;
	c->rw = (v >> 4) & 3;
	c->bcd = v & 1;
	c->frozen %= modulus(c);
	c->tc = false;
	c->have_cr = false;
	c->wr_msb = c->rd_msb = false;
	c->count_latched = c->status_latched = false;
	c->null_until = INT64_MAX;
	changed(pit, c, tk);
}

static void read_back(struct i8254 *pit, uint8_t v)
{
	int64_t tk = now_tick(pit);

	for (int i = 0; i < 3; i++) {
		if (!(v & (2 << i)))
			continue;
		sync(&pit->ch[i], tk);
		if (!(v & 0x20))
			latch_count(&pit->ch[i], tk);
		if (!(v & 0x10))
			latch_status(&pit->ch[i], tk);
	}
}

/* ---- port handlers ---- */

static uint8_t pit_readb(struct i8254 *pit, unsigned off)
{
	if (off >= 3)
		return 0xff; /* the control register is write-only */
	sync(&pit->ch[off], now_tick(pit));
	return read_counter(pit, &pit->ch[off]);
}

static void pit_writeb(struct i8254 *pit, unsigned off, uint8_t v)
{
	unsigned sc = v >> 6;

	if (off < 3) {
		sync(&pit->ch[off], now_tick(pit));
		write_counter(pit, &pit->ch[off], v);
	} else if (sc == SC_READBACK) {
		read_back(pit, v);
	} else {
		sync(&pit->ch[sc], now_tick(pit));
		control_word(pit, &pit->ch[sc], v);
	}
}

/* Byte-wide ports: the bus splits wider accesses (width 1). */
static uint64_t pit_read(void *dev, uint64_t off, unsigned size)
{
	struct i8254 *pit = dev;

	(void)size;
	catch_up(pit);
	return pit_readb(pit, off);
}

static void pit_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct i8254 *pit = dev;

	(void)size;
	catch_up(pit);
	pit_writeb(pit, off, (uint8_t)val);
}

static uint64_t port_b_read(void *dev, uint64_t off, unsigned size)
{
	struct i8254 *pit = dev;
	int64_t ns = clock_ns(pit->clk);
	uint8_t v = pit->port_b;

	(void)off;
	(void)size;
	if ((uint64_t)ns / REFRESH_NS & 1)
		v |= PB_REFRESH;
	if (i8254_out(pit, 2))
		v |= PB_OUT2;
	return v;
}

static void port_b_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct i8254 *pit = dev;

	(void)off;
	(void)size;
	pit->port_b = val & PB_STORED;
	i8254_set_gate(pit, 2, val & PB_GATE2);
}

static const struct io_ops pit_ops = {
    .read = pit_read, .write = pit_write, .width = 1};
static const struct io_ops port_b_ops = {
    .read = port_b_read, .write = port_b_write, .width = 1};

/* ---- public API ---- */

void i8254_reset(struct i8254 *pit)
{
	for (int i = 0; i < 3; i++) {
		struct i8254_chan *c = &pit->ch[i];
		*c = (struct i8254_chan){.cw_mode = 3, .mode = 3, .rw = 3};
		c->gate = i != 2; /* channels 0, 1: GATE tied high on a PC */
		c->null_until = INT64_MAX;
	}
	pit->port_b = 0;
	pit->edge = INT64_MAX;
	vtimer_del(pit->timer);
	set_line(pit, 0);
}

struct i8254 *i8254_new(struct vclock *clk, const struct irq_chip *irq)
{
	struct i8254 *pit = calloc(1, sizeof(*pit));

	if (!pit)
		return NULL;
	pit->clk = clk;
	if (irq)
		pit->irq = *irq;
	pit->timer = vtimer_new(clk, ch0_expired, pit);
	if (!pit->timer) {
		free(pit);
		return NULL;
	}
	i8254_reset(pit);
	return pit;
}

void i8254_free(struct i8254 *pit)
{
	if (!pit)
		return;
	vtimer_free(pit->timer);
	free(pit);
}

int i8254_attach(struct i8254 *pit, struct bus *io)
{
	if (bus_register(io, I8254_PORT, 4, &pit_ops, pit, "i8254"))
		return -1;
	if (bus_register(io, I8254_PORT_B, 1, &port_b_ops, pit, "port-b")) {
		bus_unregister(io, I8254_PORT, pit);
		return -1;
	}
	return 0;
}

int i8254_out(struct i8254 *pit, int ch)
{
	int64_t tk = now_tick(pit);

	if (ch < 0 || ch > 2)
		return 0;
	catch_up(pit);
	sync(&pit->ch[ch], tk);
	return out_level(&pit->ch[ch], tk);
}

uint64_t i8254_missed_ticks(struct i8254 *pit)
{
	return pit->missed;
}

uint64_t i8254_irq_edges(struct i8254 *pit)
{
	return pit->edges;
}

void i8254_set_gate(struct i8254 *pit, int ch, int level)
{
	struct i8254_chan *c;
	int64_t tk = now_tick(pit);

	if (ch < 0 || ch > 2 || pit->ch[ch].gate == !!level)
		return;
	catch_up(pit);
	c = &pit->ch[ch];
	sync(c, tk);
	c->gate = !!level;
	gate_edge(c, c->gate, tk);
	changed(pit, c, tk);
}
