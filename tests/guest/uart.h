/*
 * 16550A UART at COM1 (0x3F8), as the guest tests drive it: register
 * offsets and bits from the National Semiconductor PC16550D datasheet.
 */
#ifndef GUEST_UART_H
#define GUEST_UART_H

#include "lib.h"

#define COM1	 0x3F8
#define UART_RBR 0 /* receive buffer (read, DLAB=0) */
#define UART_THR 0 /* transmit holding (write, DLAB=0) */
#define UART_DLL 0 /* divisor latch low (DLAB=1) */
#define UART_IER 1
#define UART_DLM 1 /* divisor latch high (DLAB=1) */
#define UART_IIR 2 /* read */
#define UART_FCR 2 /* write */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define LCR_DLAB 0x80
#define LSR_DR	 0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define MCR_LOOP 0x10

/* 115200 baud 8N1, FIFOs on, DTR and RTS up, no interrupts. */
static inline void uart_init(void)
{
	outb(COM1 + UART_IER, 0);
	outb(COM1 + UART_LCR, LCR_DLAB);
	outb(COM1 + UART_DLL, 1);
	outb(COM1 + UART_DLM, 0);
	outb(COM1 + UART_LCR, 0x03);
	outb(COM1 + UART_FCR, 0x07);
	outb(COM1 + UART_MCR, 0x03);
}

/* Wait (bounded) for THRE, then send; returns 0 if THRE never came. */
static inline int uart_putc(char c)
{
	unsigned n;

	for (n = 0; n < 100000; n++) {
		if (inb(COM1 + UART_LSR) & LSR_THRE) {
			outb(COM1 + UART_THR, (uint8_t)c);
			return 1;
		}
	}
	return 0;
}

#endif
