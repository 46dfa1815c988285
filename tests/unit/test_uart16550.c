#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "hw/uart16550.h"

#define BASE UART16550_COM1_BASE

struct rig {
	struct bus io;
	struct vclock *clk;
	struct irq_chip chip;
	struct uart16550 *u;
	int level, rises, falls, sets;
	uint8_t tx[256];
	size_t ntx;
	int rx_ready;
};

static void fake_irq(void *opaque, int line, int level)
{
	struct rig *r = opaque;
	cr_assert_eq(line, UART16550_COM1_IRQ);
	r->sets++;
	if (level && !r->level)
		r->rises++;
	if (!level && r->level)
		r->falls++;
	r->level = level;
}

static void fake_tx(void *opaque, uint8_t b)
{
	struct rig *r = opaque;
	if (r->ntx < sizeof(r->tx))
		r->tx[r->ntx] = b;
	r->ntx++;
}

static void fake_rx_ready(void *opaque)
{
	struct rig *r = opaque;
	r->rx_ready++;
}

static struct rig *rig_new(bool connected)
{
	struct rig *r = calloc(1, sizeof(*r));
	bus_init(&r->io, "port");
	r->clk = clock_new_manual(0);
	r->chip = (struct irq_chip){fake_irq, r};
	struct uart_backend be = {connected ? fake_tx : NULL, fake_rx_ready, r};
	r->u = uart16550_new(r->clk, &r->chip, UART16550_COM1_IRQ, be);
	cr_assert_not_null(r->u);
	cr_assert_eq(uart16550_attach(r->u, &r->io, BASE), 0);
	return r;
}

static void rig_free(struct rig *r)
{
	uart16550_free(r->u);
	clock_free(r->clk);
	bus_destroy(&r->io);
	free(r);
}

static void outb(struct rig *r, unsigned off, uint8_t v)
{
	bus_access(&r->io, BASE + off, 1, true, &v, 1);
}

static uint8_t inb(struct rig *r, unsigned off)
{
	uint8_t v = 0;
	bus_access(&r->io, BASE + off, 1, false, &v, 1);
	return v;
}

static void feed(struct rig *r, const char *s)
{
	size_t n = strlen(s);
	cr_assert_eq(uart16550_receive(r->u, (const uint8_t *)s, n), n);
}

Test(uart16550, reset_state)
{
	struct rig *r = rig_new(true);
	cr_assert_eq(inb(r, UART_IER), 0);
	cr_assert_eq(inb(r, UART_IIR), 0x01);
	cr_assert_eq(inb(r, UART_LCR), 0);
	cr_assert_eq(inb(r, UART_MCR), 0);
	cr_assert_eq(inb(r, UART_LSR), 0x60);
	cr_assert_eq(inb(r, UART_MSR), 0xB0); /* CTS, DSR, DCD */
	outb(r, UART_SCR, 0x5A);
	cr_assert_eq(inb(r, UART_SCR), 0x5A);
	cr_assert_eq(r->level, 0);
	rig_free(r);

	r = rig_new(false);
	cr_assert_eq(inb(r, UART_MSR), 0x00, "nothing connected");
	rig_free(r);
}

Test(uart16550, attach_rejects_overlap)
{
	struct rig *r = rig_new(true);
	cr_assert_eq(uart16550_attach(r->u, &r->io, BASE + 4), -1);
	cr_assert_eq(bus_find(&r->io, BASE + 7)->dev, r->u);
	cr_assert_null(bus_find(&r->io, BASE + 8));
	rig_free(r);
}

Test(uart16550, dlab_switching)
{
	struct rig *r = rig_new(true);
	outb(r, UART_IER, 0x05);
	outb(r, UART_LCR, 0x83);
	cr_assert_eq(inb(r, UART_DLL), 12, "power-on divisor");
	cr_assert_eq(inb(r, UART_DLM), 0);
	outb(r, UART_DLL, 0x01);
	outb(r, UART_DLM, 0x80);
	cr_assert_eq(inb(r, UART_DLL), 0x01);
	cr_assert_eq(inb(r, UART_DLM), 0x80);
	cr_assert_eq(r->ntx, 0, "DLL write is not a transmit");
	outb(r, UART_LCR, 0x03);
	cr_assert_eq(inb(r, UART_LCR), 0x03);
	cr_assert_eq(inb(r, UART_IER), 0x05, "IER untouched by DLM");
	outb(r, UART_THR, 'Q');
	cr_assert_eq(r->ntx, 1);
	cr_assert_eq(r->tx[0], 'Q');
	outb(r, UART_LCR, 0x80);
	cr_assert_eq(inb(r, UART_DLL), 0x01, "THR write kept DLL");
	/* Master reset keeps the divisor latch and scratch register. */
	outb(r, UART_SCR, 0x77);
	uart16550_reset(r->u);
	outb(r, UART_LCR, 0x80);
	cr_assert_eq(inb(r, UART_DLM), 0x80);
	cr_assert_eq(inb(r, UART_SCR), 0x77);
	rig_free(r);
}

Test(uart16550, reserved_bits_read_zero)
{
	struct rig *r = rig_new(true);
	outb(r, UART_IER, 0xFF);
	cr_assert_eq(inb(r, UART_IER), 0x0F);
	outb(r, UART_MCR, 0xFF);
	cr_assert_eq(inb(r, UART_MCR), 0x1F);
	outb(r, UART_MCR, 0);
	outb(r, UART_LSR, 0x00); /* read-only */
	outb(r, UART_MSR, 0xFF);
	cr_assert_eq(inb(r, UART_LSR) & 0x60, 0x60);
	rig_free(r);
}

Test(uart16550, transmit_is_immediate)
{
	struct rig *r = rig_new(true);
	const char *msg = "hello";
	for (const char *p = msg; *p; p++) {
		outb(r, UART_THR, *p);
		cr_assert_eq(inb(r, UART_LSR) & 0x60, 0x60);
	}
	cr_assert_eq(r->ntx, 5);
	cr_assert_eq(memcmp(r->tx, msg, 5), 0);
	rig_free(r);
}

Test(uart16550, word_access_splits_into_bytes)
{
	struct rig *r = rig_new(true);
	uint16_t w = 0x0300; /* LCR=3 via offset 2 word: FCR=0, LCR=3 */
	bus_access(&r->io, BASE + UART_FCR, 2, true, &w, 1);
	cr_assert_eq(inb(r, UART_LCR), 0x03);
	uint16_t v = 0;
	bus_access(&r->io, BASE + UART_LCR, 2, false, &v, 1);
	cr_assert_eq(v, 0x0003, "LCR=3, MCR=0");
	rig_free(r);
}

Test(uart16550, thre_interrupt_rules)
{
	struct rig *r = rig_new(true);
	outb(r, UART_MCR, UART_MCR_OUT2);
	cr_assert_eq(r->level, 0);
	outb(r, UART_IER, UART_IER_ETBEI);
	cr_assert_eq(r->level, 1, "ETBEI enabled with THR empty");
	cr_assert_eq(inb(r, UART_IIR), 0x02);
	cr_assert_eq(r->level, 0, "IIR read acknowledged THRE");
	cr_assert_eq(inb(r, UART_IIR), 0x01);
	/* Rewriting the same IER does not retrigger (no rising edge). */
	outb(r, UART_IER, UART_IER_ETBEI);
	cr_assert_eq(inb(r, UART_IIR), 0x01);
	/* Toggling ETBEI off and on does. */
	outb(r, UART_IER, 0);
	outb(r, UART_IER, UART_IER_ETBEI);
	cr_assert_eq(r->level, 1);
	/* A THR write drops the line, then THRE comes back: a new edge. */
	int rises = r->rises, falls = r->falls;
	outb(r, UART_THR, 'x');
	cr_assert_eq(r->falls, falls + 1);
	cr_assert_eq(r->rises, rises + 1);
	cr_assert_eq(r->level, 1);
	cr_assert_eq(inb(r, UART_IIR), 0x02);
	/* Disabling ETBEI withdraws the interrupt. */
	outb(r, UART_THR, 'y');
	outb(r, UART_IER, 0);
	cr_assert_eq(r->level, 0);
	cr_assert_eq(inb(r, UART_IIR), 0x01);
	rig_free(r);
}

Test(uart16550, iir_read_does_not_ack_other_sources)
{
	struct rig *r = rig_new(true);
	outb(r, UART_MCR, UART_MCR_OUT2);
	outb(r, UART_IER, UART_IER_ETBEI | UART_IER_ERBFI);
	feed(r, "a");
	/* RX data outranks THRE: reading IIR must not ack the THRE. */
	cr_assert_eq(inb(r, UART_IIR), 0x04);
	cr_assert_eq(inb(r, UART_IIR), 0x04);
	cr_assert_eq(inb(r, UART_RBR), 'a');
	cr_assert_eq(inb(r, UART_IIR), 0x02);
	cr_assert_eq(inb(r, UART_IIR), 0x01);
	rig_free(r);
}

Test(uart16550, out2_gates_the_irq_line)
{
	struct rig *r = rig_new(true);
	outb(r, UART_IER, UART_IER_ERBFI);
	feed(r, "z");
	cr_assert_eq(inb(r, UART_IIR), 0x04, "pending inside the chip");
	cr_assert_eq(r->level, 0, "OUT2 low: line not driven");
	outb(r, UART_MCR, UART_MCR_OUT2 | UART_MCR_DTR);
	cr_assert_eq(r->level, 1);
	outb(r, UART_MCR, UART_MCR_DTR);
	cr_assert_eq(r->level, 0);
	outb(r, UART_MCR, UART_MCR_OUT2);
	cr_assert_eq(r->level, 1);
	cr_assert_eq(inb(r, UART_RBR), 'z');
	cr_assert_eq(r->level, 0);
	rig_free(r);
}

Test(uart16550, iir_priority_order)
{
	struct rig *r = rig_new(true);
	/* 16450 mode, loopback: two bytes overrun the RBR (OE). */
	outb(r, UART_LCR, 0x03);
	outb(r, UART_MCR, UART_MCR_LOOP | UART_MCR_RTS);
	outb(r, UART_THR, 'A');
	outb(r, UART_THR, 'B');
	outb(r, UART_IER, 0x0F);
	cr_assert_eq(inb(r, UART_IIR), 0x06, "line status first");
	cr_assert_eq(inb(r, UART_LSR) & 0x03, 0x03, "OE and DR");
	cr_assert_eq(inb(r, UART_IIR), 0x04, "then RX data");
	cr_assert_eq(inb(r, UART_RBR), 'B', "16450: newest byte kept");
	cr_assert_eq(inb(r, UART_IIR), 0x02, "then THRE");
	cr_assert_eq(inb(r, UART_IIR), 0x00, "then modem status");
	/* Entering loopback with RTS only: DSR and DCD fell, CTS stayed. */
	cr_assert_eq(inb(r, UART_MSR), 0x10 | UART_MSR_DDSR | UART_MSR_DDCD);
	cr_assert_eq(inb(r, UART_IIR), 0x01);
	cr_assert_eq(inb(r, UART_LSR), 0x60, "errors cleared by the read");
	rig_free(r);
}

Test(uart16550, loopback_wiring)
{
	struct rig *r = rig_new(true);
	outb(r, UART_LCR, 0x03);
	/* The probe Linux's 8250 driver does. */
	outb(r, UART_MCR, UART_MCR_LOOP | UART_MCR_OUT2 | UART_MCR_RTS);
	cr_assert_eq(inb(r, UART_MSR) & 0xF0, 0x90);
	outb(r, UART_MCR, UART_MCR_LOOP | 0x0F);
	cr_assert_eq(inb(r, UART_MSR) & 0xF0, 0xF0);
	outb(r, UART_MCR, UART_MCR_LOOP);
	cr_assert_eq(inb(r, UART_MSR), 0x0F, "all fell, RI trailing edge");
	outb(r, UART_THR, 0xA5);
	cr_assert_eq(r->ntx, 0, "nothing leaves in loopback");
	cr_assert_eq(inb(r, UART_LSR) & 0x61, 0x61);
	cr_assert_eq(inb(r, UART_RBR), 0xA5);
	/* Host input is refused while SIN is disconnected. */
	cr_assert_not(uart16550_can_receive(r->u));
	uint8_t b = 'h';
	cr_assert_eq(uart16550_receive(r->u, &b, 1), 0);
	/* Interrupts work inside, but OUT2 is forced off at the pin. */
	outb(r, UART_MCR, UART_MCR_LOOP | UART_MCR_OUT2);
	outb(r, UART_IER, UART_IER_ERBFI);
	outb(r, UART_THR, 'k');
	cr_assert_eq(inb(r, UART_IIR), 0x04);
	cr_assert_eq(r->level, 0);
	cr_assert_eq(inb(r, UART_RBR), 'k');
	/* Word length applies to what the receiver assembles. */
	outb(r, UART_LCR, 0x00);
	outb(r, UART_THR, 0xFF);
	cr_assert_eq(inb(r, UART_RBR), 0x1F);
	/* Leaving loopback: backend lines again, host input welcome. */
	cr_assert_eq(r->rx_ready, 0);
	outb(r, UART_MCR, UART_MCR_OUT2);
	cr_assert_eq(r->rx_ready, 1);
	cr_assert_eq(inb(r, UART_MSR) & 0xF0, 0xB0);
	cr_assert(uart16550_can_receive(r->u));
	rig_free(r);
}

Test(uart16550, loopback_break_sets_bi)
{
	struct rig *r = rig_new(true);
	outb(r, UART_FCR, 0x01);
	outb(r, UART_LCR, 0x03);
	outb(r, UART_MCR, UART_MCR_LOOP);
	outb(r, UART_THR, 'a');
	outb(r, UART_LCR, 0x43);
	outb(r, UART_LCR, 0x43); /* still held: no second break char */
	outb(r, UART_LCR, 0x03);
	uint8_t lsr = inb(r, UART_LSR);
	cr_assert_eq(lsr & 0x9F, 0x81, "DR, error in FIFO, BI not on top");
	cr_assert_eq(inb(r, UART_RBR), 'a');
	lsr = inb(r, UART_LSR);
	cr_assert_eq(lsr & 0x9F, 0x91, "BI now on top");
	cr_assert_eq(inb(r, UART_RBR), 0x00);
	cr_assert_eq(inb(r, UART_LSR), 0x60);
	rig_free(r);
}

Test(uart16550, msr_deltas_and_interrupt)
{
	struct rig *r = rig_new(true);
	outb(r, UART_MCR, UART_MCR_LOOP);
	inb(r, UART_MSR); /* CTS/DSR/DCD fell on entering loopback */
	outb(r, UART_IER, UART_IER_EDSSI);
	cr_assert_eq(inb(r, UART_IIR), 0x01);
	outb(r, UART_MCR, UART_MCR_LOOP | UART_MCR_OUT1);
	cr_assert_eq(inb(r, UART_IIR), 0x01, "RI rising edge is no event");
	cr_assert_eq(inb(r, UART_MSR), 0x40);
	outb(r, UART_MCR, UART_MCR_LOOP | UART_MCR_RTS);
	cr_assert_eq(inb(r, UART_IIR), 0x00);
	cr_assert_eq(inb(r, UART_MSR), 0x10 | UART_MSR_DCTS | UART_MSR_TERI);
	cr_assert_eq(inb(r, UART_MSR), 0x10, "deltas cleared by read");
	cr_assert_eq(inb(r, UART_IIR), 0x01);
	rig_free(r);
}

Test(uart16550, fifo_enable_and_iir_bits)
{
	struct rig *r = rig_new(true);
	outb(r, UART_FCR, 0xC7);
	cr_assert_eq(inb(r, UART_IIR), 0xC1);
	/* Bits other than 0 are only programmed together with bit 0. */
	outb(r, UART_FCR, 0x00);
	cr_assert_eq(inb(r, UART_IIR), 0x01);
	outb(r, UART_FCR, 0xC0);
	cr_assert_eq(inb(r, UART_IIR), 0x01);
	outb(r, UART_FCR, 0x01);
	outb(r, UART_IER, UART_IER_ERBFI);
	feed(r, "x");
	cr_assert_eq(inb(r, UART_IIR), 0xC4, "trigger level 1");
	outb(r, UART_FCR, 0x03); /* clear RX */
	cr_assert_eq(inb(r, UART_LSR) & 1, 0);
	cr_assert_eq(inb(r, UART_IIR), 0xC1);
	/* Leaving FIFO mode also empties the FIFO. */
	feed(r, "yz");
	outb(r, UART_FCR, 0x00);
	cr_assert_eq(inb(r, UART_LSR) & 1, 0);
	rig_free(r);
}

Test(uart16550, fifo_trigger_levels)
{
	static const struct {
		uint8_t fcr;
		unsigned level;
	} t[] = {{0x01, 1}, {0x41, 4}, {0x81, 8}, {0xC1, 14}};
	for (unsigned i = 0; i < 4; i++) {
		struct rig *r = rig_new(true);
		outb(r, UART_FCR, t[i].fcr | UART_FCR_CLEAR_RX);
		outb(r, UART_MCR, UART_MCR_OUT2);
		outb(r, UART_IER, UART_IER_ERBFI);
		uint8_t b = 'a';
		for (unsigned k = 0; k + 1 < t[i].level; k++)
			cr_assert_eq(uart16550_receive(r->u, &b, 1), 1);
		cr_assert_eq(inb(r, UART_IIR), 0xC1, "level %u", t[i].level);
		cr_assert_eq(r->level, 0);
		cr_assert_eq(uart16550_receive(r->u, &b, 1), 1);
		cr_assert_eq(inb(r, UART_IIR), 0xC4, "level %u", t[i].level);
		cr_assert_eq(r->level, 1);
		inb(r, UART_RBR);
		if (t[i].level > 1)
			cr_assert_eq(inb(r, UART_IIR), 0xC1, "below again");
		rig_free(r);
	}
}

Test(uart16550, overrun_on_17th_byte)
{
	struct rig *r = rig_new(true);
	outb(r, UART_LCR, 0x03);
	outb(r, UART_FCR, 0x07);
	outb(r, UART_MCR, UART_MCR_LOOP);
	for (int i = 0; i < 16; i++)
		outb(r, UART_THR, 'a' + i);
	cr_assert_eq(inb(r, UART_LSR) & 0x03, 0x01, "full, no overrun yet");
	outb(r, UART_THR, 'Z');
	cr_assert_eq(inb(r, UART_LSR) & 0x03, 0x03, "17th byte: OE");
	cr_assert_eq(inb(r, UART_LSR) & 0x02, 0, "OE cleared by LSR read");
	for (int i = 0; i < 16; i++)
		cr_assert_eq(inb(r, UART_RBR), 'a' + i, "FIFO kept");
	cr_assert_eq(inb(r, UART_LSR) & 1, 0);
	cr_assert_eq(inb(r, UART_RBR), 'p', "empty read repeats last");
	rig_free(r);
}

Test(uart16550, host_flow_control)
{
	struct rig *r = rig_new(true);
	outb(r, UART_FCR, 0x01);
	uint8_t buf[20];
	for (int i = 0; i < 20; i++)
		buf[i] = i;
	cr_assert_eq(uart16550_receive(r->u, buf, 20), 16);
	cr_assert_not(uart16550_can_receive(r->u));
	cr_assert_eq(uart16550_receive(r->u, buf + 16, 4), 0);
	cr_assert_eq(inb(r, UART_LSR) & 0x02, 0, "never an overrun");
	cr_assert_eq(r->rx_ready, 0);
	cr_assert_eq(inb(r, UART_RBR), 0);
	cr_assert_eq(r->rx_ready, 1, "room again");
	cr_assert_eq(inb(r, UART_RBR), 1);
	cr_assert_eq(r->rx_ready, 1, "only once per refusal");
	cr_assert_eq(uart16550_receive(r->u, buf + 16, 4), 2);
	rig_free(r);

	/* 16450 mode holds one byte. */
	r = rig_new(true);
	cr_assert_eq(uart16550_receive(r->u, buf, 3), 1);
	cr_assert_eq(inb(r, UART_RBR), 0);
	cr_assert_eq(r->rx_ready, 1);
	rig_free(r);
}

Test(uart16550, character_timeout)
{
	struct rig *r = rig_new(true);
	/* 115200 8N1: 10 bits = 86.8 us per char, timeout 347.2 us. */
	outb(r, UART_LCR, 0x83);
	outb(r, UART_DLL, 1);
	outb(r, UART_DLM, 0);
	outb(r, UART_LCR, 0x03);
	outb(r, UART_FCR, 0x81); /* trigger 8 */
	outb(r, UART_MCR, UART_MCR_OUT2);
	outb(r, UART_IER, UART_IER_ERBFI);
	feed(r, "abc");
	cr_assert_eq(inb(r, UART_IIR), 0xC1);
	clock_advance(r->clk, 300000);
	cr_assert_eq(inb(r, UART_IIR), 0xC1, "not yet");
	feed(r, "d"); /* a new character restarts the timer */
	clock_advance(r->clk, 300000);
	cr_assert_eq(inb(r, UART_IIR), 0xC1);
	clock_advance(r->clk, 50000);
	cr_assert_eq(inb(r, UART_IIR), 0xCC);
	cr_assert_eq(r->level, 1);
	feed(r, "e"); /* does not clear a signalled timeout */
	cr_assert_eq(inb(r, UART_IIR), 0xCC);
	cr_assert_eq(inb(r, UART_RBR), 'a');
	cr_assert_eq(inb(r, UART_IIR), 0xC1, "cleared by reading RBR");
	cr_assert_eq(r->level, 0);
	clock_advance(r->clk, 347300);
	cr_assert_eq(inb(r, UART_IIR), 0xCC, "4 chars still waiting");
	while (inb(r, UART_LSR) & UART_LSR_DR)
		inb(r, UART_RBR);
	clock_advance(r->clk, 1000000000);
	cr_assert_eq(inb(r, UART_IIR), 0xC1, "empty FIFO: no timeout");
	rig_free(r);
}

Test(uart16550, timeout_follows_frame_format)
{
	struct rig *r = rig_new(true);
	/* Divisor 12, 7E2 (11 bits): 4 * 11 * 16 * 12 / 1.8432 MHz. */
	outb(r, UART_LCR, 0x80);
	outb(r, UART_DLL, 12);
	outb(r, UART_LCR, 0x0E);
	outb(r, UART_FCR, 0xC1);
	outb(r, UART_IER, UART_IER_ERBFI);
	feed(r, "q");
	int64_t expect = 4LL * 11 * 16 * 12 * 1000000000LL / 1843200;
	clock_advance(r->clk, expect - 1000);
	cr_assert_eq(inb(r, UART_IIR), 0xC1);
	clock_advance(r->clk, 2000);
	cr_assert_eq(inb(r, UART_IIR), 0xCC);
	rig_free(r);
}

Test(uart16550, garbage_divisor_is_slow_not_tight)
{
	struct rig *r = rig_new(true);
	outb(r, UART_LCR, 0x80);
	outb(r, UART_DLL, 0);
	outb(r, UART_DLM, 0); /* divisor 0: treated as 65536 */
	outb(r, UART_LCR, 0x03);
	outb(r, UART_FCR, 0xC1);
	outb(r, UART_IER, UART_IER_ERBFI);
	feed(r, "q");
	clock_advance(r->clk, 1000000000);
	cr_assert_eq(inb(r, UART_IIR), 0xC1);
	clock_advance(r->clk, 30LL * 1000000000);
	cr_assert_eq(inb(r, UART_IIR), 0xCC);
	rig_free(r);
}

Test(uart16550, reset_clears_everything_pending)
{
	struct rig *r = rig_new(true);
	outb(r, UART_FCR, 0x01);
	outb(r, UART_MCR, UART_MCR_OUT2);
	outb(r, UART_IER, 0x0F);
	uint8_t buf[20] = {0};
	uart16550_receive(r->u, buf, 20);
	cr_assert_eq(r->level, 1);
	uart16550_reset(r->u);
	cr_assert_eq(r->level, 0);
	cr_assert_eq(r->rx_ready, 1, "FIFO emptied, starved backend told");
	cr_assert_eq(inb(r, UART_IIR), 0x01);
	cr_assert_eq(inb(r, UART_LSR), 0x60);
	cr_assert_eq(inb(r, UART_MSR), 0xB0);
	rig_free(r);
}

/* Fixed-seed random register traffic: no crash, invariants hold. */
Test(uart16550, garbage_accesses)
{
	struct rig *r = rig_new(true);
	srand(1234);
	static const unsigned sizes[] = {1, 1, 1, 2, 4};
	for (int i = 0; i < 100000; i++) {
		unsigned off = rand() % 10; /* 8, 9: unclaimed neighbours */
		unsigned size = sizes[rand() % 5];
		uint32_t v = rand();
		int op = rand() % 16;
		if (op < 7) {
			bus_access(&r->io, BASE + off, size, true, &v, 1);
		} else if (op < 14) {
			bus_access(&r->io, BASE + off, size, false, &v, 1);
		} else if (op == 14) {
			uint8_t b[8] = {0};
			size_t n = rand() % 8;
			cr_assert_leq(uart16550_receive(r->u, b, n), n);
		} else {
			clock_advance(r->clk, rand() % 2000000);
		}
		uint8_t mcr = inb(r, UART_MCR);
		cr_assert_eq(mcr & 0xE0, 0);
		if (r->level)
			cr_assert_eq(mcr & 0x18, 0x08, "IRQ only via OUT2");
		cr_assert_eq(inb(r, UART_LSR) & 0x60, 0x60);
	}
	/* The receiver never holds more than 16 characters. */
	outb(r, UART_LCR, 0x03);
	int n = 0;
	while ((inb(r, UART_LSR) & UART_LSR_DR) && n < 100) {
		inb(r, UART_RBR);
		n++;
	}
	cr_assert_leq(n, 16);
	cr_assert_lt(r->sets, 400000, "IRQ set only on level changes");
	rig_free(r);
}
