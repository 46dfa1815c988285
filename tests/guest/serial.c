/*
 * serial: 16550A register behaviour at COM1 in real mode: scratch register,
 * divisor latch (DLAB) read-back, IIR with and without FIFOs and with the
 * THRE interrupt, loopback (MCR bit 4) data path, MSR in loopback.
 */
#include "lib.h"
#include "uart.h"

#define R(off) (COM1 + (off))

static void test_scratch(void)
{
	uint8_t a, b;

	outb(R(UART_SCR), 0x5A);
	a = inb(R(UART_SCR));
	outb(R(UART_SCR), 0xA5);
	b = inb(R(UART_SCR));
	check(a == 0x5A && b == 0xA5, "serial-scratch", "read %02x, %02x", a,
	      b);
}

static void test_dlab(void)
{
	uint8_t lo, hi, lcr, ier;

	outb(R(UART_LCR), LCR_DLAB | 0x03);
	outb(R(UART_DLL), 0x34);
	outb(R(UART_DLM), 0x12);
	lo = inb(R(UART_DLL));
	hi = inb(R(UART_DLM));
	lcr = inb(R(UART_LCR));
	outb(R(UART_DLL), 0x01); /* back to 115200 */
	outb(R(UART_DLM), 0x00);
	outb(R(UART_LCR), 0x03);
	ier = inb(R(UART_IER));
	check(lo == 0x34 && hi == 0x12 && lcr == 0x83 && ier == 0,
	      "serial-dlab", "DLL %02x DLM %02x LCR %02x IER %02x", lo, hi, lcr,
	      ier);
	lcr = inb(R(UART_LCR));
	check(lcr == 0x03, "serial-lcr", "LCR %02x after clearing DLAB", lcr);
}

static void test_iir(void)
{
	uint8_t nofifo, fifo, thre, cleared;

	outb(R(UART_IER), 0);
	outb(R(UART_FCR), 0x00);
	nofifo = inb(R(UART_IIR));
	outb(R(UART_FCR), 0x07);
	fifo = inb(R(UART_IIR));
	/* THR is empty, so enabling ETBEI raises the THRE interrupt; reading
	 * IIR while it is the source clears it. */
	outb(R(UART_IER), 0x02);
	thre = inb(R(UART_IIR));
	cleared = inb(R(UART_IIR));
	outb(R(UART_IER), 0);
	check(nofifo == 0x01 && fifo == 0xC1 && thre == 0xC2 && cleared == 0xC1,
	      "serial-iir",
	      "no FIFO %02x (want 01), FIFO %02x (c1), THRE %02x (c2), "
	      "after read %02x (c1)",
	      nofifo, fifo, thre, cleared);
}

/* Receive one byte, waiting (bounded) for LSR.DR; -1 if none came. */
static int rx_byte(void)
{
	unsigned n;

	for (n = 0; n < 20000; n++)
		if (inb(R(UART_LSR)) & LSR_DR)
			return inb(R(UART_RBR));
	return -1;
}

static void drain_rx(void)
{
	unsigned n;

	for (n = 0; n < 64 && (inb(R(UART_LSR)) & LSR_DR); n++)
		inb(R(UART_RBR));
}

static void test_loopback(void)
{
	int v, a, b, c;
	uint8_t lsr, lsr_after;

	outb(R(UART_MCR), MCR_LOOP | 0x03);
	drain_rx();
	outb(R(UART_THR), 0x55);
	v = rx_byte();
	lsr = inb(R(UART_LSR));
	check(v == 0x55 && !(lsr & LSR_DR), "serial-loopback",
	      "got %d (want 85), LSR %02x", v, lsr);

	outb(R(UART_THR), 'a');
	outb(R(UART_THR), 'b');
	outb(R(UART_THR), 'c');
	a = rx_byte();
	b = rx_byte();
	c = rx_byte();
	check(a == 'a' && b == 'b' && c == 'c', "serial-fifo",
	      "received %d %d %d (want 97 98 99)", a, b, c);

	for (v = 0; v < 20000; v++) {
		lsr_after = inb(R(UART_LSR));
		if ((lsr_after & (LSR_THRE | LSR_TEMT)) ==
		    (LSR_THRE | LSR_TEMT))
			break;
	}
	check((lsr_after & (LSR_THRE | LSR_TEMT | LSR_DR)) ==
		  (LSR_THRE | LSR_TEMT),
	      "serial-lsr", "LSR %02x when idle (want THRE|TEMT, no DR)",
	      lsr_after);
}

/* In loopback the modem inputs follow MCR: CTS=RTS, DSR=DTR, RI=OUT1,
 * DCD=OUT2. */
static void test_msr_loop(void)
{
	static const uint8_t mcr[4] = {0x02, 0x01, 0x04, 0x08};
	static const uint8_t want[4] = {0x10, 0x20, 0x40, 0x80};
	uint8_t got[4];
	int i, ok = 1;

	for (i = 0; i < 4; i++) {
		outb(R(UART_MCR), MCR_LOOP | mcr[i]);
		got[i] = inb(R(UART_MSR)) & 0xF0;
		ok &= got[i] == want[i];
	}
	outb(R(UART_MCR), 0x03);
	check(ok, "serial-msr-loop",
	      "MSR high nibble %02x %02x %02x %02x (want 10 20 40 80)", got[0],
	      got[1], got[2], got[3]);
}

int main(void)
{
	uart_init();
	test_scratch();
	test_dlab();
	test_iir();
	test_loopback();
	test_msr_loop();
	drain_rx();
	uart_init();
	return 0;
}
