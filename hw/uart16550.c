/*
 * National Semiconductor PC16550D UART, following the PC16550D datasheet
 * (register map, interrupt priorities, FIFO and timeout rules, loopback
 * wiring). Only the receiver is modelled with real state; the transmitter
 * sends each byte the moment it is written, so it is always empty.
 */
#include "hw/uart16550.h"

#include <stdlib.h>

#define UART_CLOCK_HZ 1843200 /* the PC's crystal: divisor 1 = 115200 baud */
/* Floor for the 4-character timeout (divisor 1 at 5N1 gives ~243 us). */
#define UART_MIN_TIMEOUT_NS 200000

struct uart16550 {
	struct vclock *clk;
	const struct irq_chip *irq;
	int line;
	struct uart_backend be;
	struct vtimer *timeout;

	uint16_t divisor;
	uint8_t ier, lcr, mcr, scr;
	uint8_t fcr;	   /* enable, DMA mode and trigger bits as programmed */
	uint8_t lsr_err;   /* OE/PE/FE/BI, cleared by reading LSR */
	uint8_t msr_delta; /* DCTS/DDSR/TERI/DDCD, cleared by reading MSR */
	uint8_t msr_lines; /* CTS/DSR/RI/DCD as last sampled */
	uint8_t rbr;	   /* last byte read, returned again on an empty read */
	uint8_t prev_break; /* LCR break bit as last written */

	/* Receiver FIFO; capacity 1 (the RBR) while FIFOs are disabled. */
	uint8_t rx[UART16550_FIFO_LEN];
	uint8_t rx_err[UART16550_FIFO_LEN]; /* PE/FE/BI per character */
	unsigned rx_head, rx_count;

	bool thr_ipending;     /* THRE interrupt not yet acknowledged */
	bool timeout_ipending; /* character timeout interrupt */
	bool rx_starved;       /* host input was refused: owe rx_ready */
	bool irq_level;	       /* level currently driven on the line */
};

static bool fifo_on(const struct uart16550 *u)
{
	return u->fcr & UART_FCR_ENABLE;
}

static bool loopback(const struct uart16550 *u)
{
	return u->mcr & UART_MCR_LOOP;
}

static unsigned rx_capacity(const struct uart16550 *u)
{
	return fifo_on(u) ? UART16550_FIFO_LEN : 1;
}

static unsigned rx_trigger(const struct uart16550 *u)
{
	static const unsigned level[4] = {1, 4, 8, 14};
	return level[u->fcr >> 6];
}

/* Which interrupt IIR reports, in the datasheet's priority order. */
static uint8_t pending_iid(const struct uart16550 *u)
{
	if ((u->ier & UART_IER_ELSI) && (u->lsr_err & 0x1E))
		return UART_IIR_RLSI;
	if (u->ier & UART_IER_ERBFI) {
		if (u->timeout_ipending)
			return UART_IIR_CTI;
		if (u->rx_count && u->rx_count >= rx_trigger(u))
			return UART_IIR_RDI;
	}
	if ((u->ier & UART_IER_ETBEI) && u->thr_ipending)
		return UART_IIR_THRI;
	if ((u->ier & UART_IER_EDSSI) && u->msr_delta)
		return UART_IIR_MSI;
	return UART_IIR_NO_INT;
}

/*
 * On a PC the INTR pin reaches the ISA bus through a buffer enabled by the
 * OUT2 pin. Loopback forces the output pins inactive, so no IRQ then.
 */
static void update_irq(struct uart16550 *u)
{
	bool level =
	    pending_iid(u) != UART_IIR_NO_INT &&
	    (u->mcr & (UART_MCR_OUT2 | UART_MCR_LOOP)) == UART_MCR_OUT2;
	if (level != u->irq_level) {
		u->irq_level = level;
		irq_set(u->irq, u->line, level);
	}
}

/* The modem-status inputs: the backend's lines, or MCR in loopback. */
static uint8_t modem_inputs(const struct uart16550 *u)
{
	if (loopback(u)) {
		uint8_t m = u->mcr, v = 0;
		v |= (m & UART_MCR_RTS) ? UART_MSR_CTS : 0;
		v |= (m & UART_MCR_DTR) ? UART_MSR_DSR : 0;
		v |= (m & UART_MCR_OUT1) ? UART_MSR_RI : 0;
		v |= (m & UART_MCR_OUT2) ? UART_MSR_DCD : 0;
		return v;
	}
	return u->be.tx ? UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD : 0;
}

/* Sample the inputs and latch delta bits (RI counts its trailing edge). */
static void sample_modem(struct uart16550 *u)
{
	uint8_t now = modem_inputs(u), ch = now ^ u->msr_lines;
	if (ch & UART_MSR_CTS)
		u->msr_delta |= UART_MSR_DCTS;
	if (ch & UART_MSR_DSR)
		u->msr_delta |= UART_MSR_DDSR;
	if (ch & UART_MSR_DCD)
		u->msr_delta |= UART_MSR_DDCD;
	if ((u->msr_lines & UART_MSR_RI) && !(now & UART_MSR_RI))
		u->msr_delta |= UART_MSR_TERI;
	u->msr_lines = now;
}

/* Four character times at the programmed divisor and frame format. */
static int64_t timeout_ns(const struct uart16550 *u)
{
	/* Frame length in half bits: start, data, parity, stop (1, 1.5, 2). */
	unsigned wlen = 5 + (u->lcr & UART_LCR_WLEN);
	unsigned half = 2 * (1 + wlen + !!(u->lcr & UART_LCR_PAR)) + 2;
	if (u->lcr & UART_LCR_STOP)
		half += wlen == 5 ? 1 : 2;
	uint64_t div = u->divisor ? u->divisor : 65536;
	int64_t ns = (int64_t)(4 * half * 16 * div * 1000000000ull /
			       (2ull * UART_CLOCK_HZ));
	return ns < UART_MIN_TIMEOUT_NS ? UART_MIN_TIMEOUT_NS : ns;
}

/* Restart the timeout after FIFO activity (FIFO mode with data only). */
static void restart_timeout(struct uart16550 *u)
{
	if (fifo_on(u) && u->rx_count)
		vtimer_mod(u->timeout, clock_ns(u->clk) + timeout_ns(u));
	else
		vtimer_del(u->timeout);
}

static void timeout_fired(void *opaque)
{
	struct uart16550 *u = opaque;
	if (fifo_on(u) && u->rx_count) {
		u->timeout_ipending = true;
		update_irq(u);
	}
}

static bool rx_room(const struct uart16550 *u)
{
	return !loopback(u) && u->rx_count < rx_capacity(u);
}

/* Tell the backend it may offer input again, if it was refused before. */
static void notify_room(struct uart16550 *u)
{
	if (u->rx_starved && rx_room(u)) {
		u->rx_starved = false;
		if (u->be.rx_ready)
			u->be.rx_ready(u->be.opaque);
	}
}

/* One character arrives at the receiver (err: PE/FE/BI for it). */
static void rx_push(struct uart16550 *u, uint8_t byte, uint8_t err)
{
	unsigned cap = rx_capacity(u);
	if (u->rx_count == cap) {
		u->lsr_err |= UART_LSR_OE;
		if (fifo_on(u))
			return; /* the FIFO keeps its contents */
		/* 16450 mode: the new character overwrites the RBR. */
		u->rx[u->rx_head] = byte;
		u->rx_err[u->rx_head] = err;
		u->lsr_err |= err;
		return;
	}
	unsigned tail = (u->rx_head + u->rx_count) % UART16550_FIFO_LEN;
	u->rx[tail] = byte;
	u->rx_err[tail] = err;
	if (u->rx_count++ == 0)
		u->lsr_err |= err; /* errors show when the char is on top */
	/* A timeout already signalled stays until the CPU reads the FIFO. */
	if (!u->timeout_ipending)
		restart_timeout(u);
}

static void rx_clear(struct uart16550 *u)
{
	u->rx_head = u->rx_count = 0;
	u->timeout_ipending = false;
	vtimer_del(u->timeout);
}

static uint8_t read_rbr(struct uart16550 *u)
{
	if (u->rx_count) {
		u->rbr = u->rx[u->rx_head];
		u->rx_head = (u->rx_head + 1) % UART16550_FIFO_LEN;
		if (--u->rx_count)
			u->lsr_err |= u->rx_err[u->rx_head];
	}
	u->timeout_ipending = false;
	restart_timeout(u);
	update_irq(u);
	notify_room(u);
	return u->rbr;
}

static bool rx_fifo_has_error(const struct uart16550 *u)
{
	for (unsigned i = 0; i < u->rx_count; i++)
		if (u->rx_err[(u->rx_head + i) % UART16550_FIFO_LEN])
			return true;
	return false;
}

static uint8_t read_lsr(struct uart16550 *u)
{
	uint8_t v = UART_LSR_THRE | UART_LSR_TEMT | u->lsr_err;
	if (u->rx_count)
		v |= UART_LSR_DR;
	if (fifo_on(u) && rx_fifo_has_error(u))
		v |= UART_LSR_RXFERR;
	u->lsr_err = 0;
	update_irq(u);
	return v;
}

static uint8_t read_iir(struct uart16550 *u)
{
	uint8_t iid = pending_iid(u);
	if (iid == UART_IIR_THRI) {
		/* Reading IIR acknowledges a THRE interrupt it reports. */
		u->thr_ipending = false;
		update_irq(u);
	}
	return iid | (fifo_on(u) ? UART_IIR_FIFO : 0);
}

static uint8_t read_msr(struct uart16550 *u)
{
	uint8_t v = u->msr_lines | u->msr_delta;
	u->msr_delta = 0;
	update_irq(u);
	return v;
}

static uint8_t reg_read(struct uart16550 *u, unsigned off)
{
	bool dlab = u->lcr & UART_LCR_DLAB;
	switch (off) {
	case UART_RBR:
		return dlab ? u->divisor & 0xff : read_rbr(u);
	case UART_IER:
		return dlab ? u->divisor >> 8 : u->ier;
	case UART_IIR:
		return read_iir(u);
	case UART_LCR:
		return u->lcr;
	case UART_MCR:
		return u->mcr;
	case UART_LSR:
		return read_lsr(u);
	case UART_MSR:
		return read_msr(u);
	default:
		return u->scr;
	}
}

static void write_thr(struct uart16550 *u, uint8_t byte)
{
	/* The write acknowledges THRE; the line drops before the byte
	 * moves on, so an edge-triggered PIC sees the next THRE edge. */
	u->thr_ipending = false;
	update_irq(u);
	if (loopback(u)) {
		unsigned wlen = 5 + (u->lcr & UART_LCR_WLEN);
		rx_push(u, byte & ((1u << wlen) - 1), 0);
	} else if (u->be.tx) {
		u->be.tx(u->be.opaque, byte);
	}
	/* The transmitter took it at once: THR is empty again. */
	u->thr_ipending = true;
	update_irq(u);
}

static void write_ier(struct uart16550 *u, uint8_t val)
{
	uint8_t changed = (u->ier ^ val) & 0x0F;
	u->ier = val & 0x0F;
	/* Enabling ETBEI while THR is empty raises THRE at once. */
	if (changed & UART_IER_ETBEI)
		u->thr_ipending = u->ier & UART_IER_ETBEI;
	update_irq(u);
}

static void write_fcr(struct uart16550 *u, uint8_t val)
{
	if ((val ^ u->fcr) & UART_FCR_ENABLE)
		rx_clear(u); /* switching modes empties both FIFOs */
	if (!(val & UART_FCR_ENABLE)) {
		u->fcr = 0; /* other bits are only programmed with bit 0 */
	} else {
		u->fcr = val & (UART_FCR_ENABLE | UART_FCR_DMA | UART_FCR_TRIG);
		if (val & UART_FCR_CLEAR_RX)
			rx_clear(u);
	}
	update_irq(u);
	notify_room(u);
}

static void write_lcr(struct uart16550 *u, uint8_t val)
{
	uint8_t brk = val & UART_LCR_BREAK;
	u->lcr = val;
	/* In loopback a break on SOUT is received as one zero char with BI. */
	if (brk && !u->prev_break && loopback(u))
		rx_push(u, 0, UART_LSR_BI);
	u->prev_break = brk;
	if (fifo_on(u) && u->rx_count && vtimer_pending(u->timeout))
		restart_timeout(u); /* the character time may have changed */
	update_irq(u);
}

static void write_mcr(struct uart16550 *u, uint8_t val)
{
	u->mcr = val & 0x1F;
	sample_modem(u);
	update_irq(u);
	notify_room(u);
}

static void reg_write(struct uart16550 *u, unsigned off, uint8_t val)
{
	bool dlab = u->lcr & UART_LCR_DLAB;
	switch (off) {
	case UART_THR:
		if (dlab)
			u->divisor = (u->divisor & 0xff00) | val;
		else
			write_thr(u, val);
		break;
	case UART_IER:
		if (dlab)
			u->divisor = (u->divisor & 0x00ff) | (val << 8);
		else
			write_ier(u, val);
		break;
	case UART_FCR:
		write_fcr(u, val);
		break;
	case UART_LCR:
		write_lcr(u, val);
		break;
	case UART_MCR:
		write_mcr(u, val);
		break;
	case UART_SCR:
		u->scr = val;
		break;
	default:
		break; /* LSR and MSR are read-only (factory test writes) */
	}
}

/* An 8-bit ISA device: the bus splits wider accesses (width 1). */
static uint64_t uart_read(void *dev, uint64_t off, unsigned size)
{
	(void)size;
	return reg_read(dev, (unsigned)off);
}

static void uart_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	(void)size;
	reg_write(dev, (unsigned)off, val);
}

const struct io_ops uart16550_ops = {
    .read = uart_read, .write = uart_write, .width = 1};

struct uart16550 *uart16550_new(struct vclock *clk, const struct irq_chip *irq,
				int line, struct uart_backend be)
{
	struct uart16550 *u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	u->clk = clk;
	u->irq = irq;
	u->line = line;
	u->be = be;
	u->timeout = vtimer_new(clk, timeout_fired, u);
	if (!u->timeout) {
		free(u);
		return NULL;
	}
	u->divisor = 12; /* 9600 baud, what a BIOS usually leaves */
	uart16550_reset(u);
	return u;
}

void uart16550_free(struct uart16550 *u)
{
	if (!u)
		return;
	vtimer_free(u->timeout);
	free(u);
}

int uart16550_attach(struct uart16550 *u, struct bus *io, uint16_t base)
{
	return bus_register(io, base, UART16550_NR_PORTS, &uart16550_ops, u,
			    "uart16550");
}

size_t uart16550_receive(struct uart16550 *u, const uint8_t *buf, size_t n)
{
	size_t taken = 0;
	while (taken < n && rx_room(u))
		rx_push(u, buf[taken++], 0);
	if (taken < n)
		u->rx_starved = true;
	update_irq(u);
	return taken;
}

bool uart16550_can_receive(struct uart16550 *u)
{
	return rx_room(u);
}

void uart16550_reset(struct uart16550 *u)
{
	u->ier = u->lcr = u->mcr = u->fcr = 0;
	u->lsr_err = u->msr_delta = 0;
	u->prev_break = 0;
	rx_clear(u);
	u->thr_ipending = false;
	u->msr_lines = modem_inputs(u);
	update_irq(u);
	notify_room(u);
}
