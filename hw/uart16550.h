/*
 * National Semiconductor PC16550D UART (the "16550A" of PC serial ports),
 * as wired on a PC: eight byte-wide ports (COM1 0x3F8-0x3FF, IRQ 4), the
 * interrupt output gated onto the ISA line by the OUT2 modem-control pin.
 *
 * Transmission is immediate: a THR write hands the byte to the backend at
 * once, so THRE/TEMT read back as 1. Reception is flow controlled: the
 * backend offers bytes with uart16550_receive(), which takes only what fits
 * (16 bytes in FIFO mode, one in 16450 mode); when room appears again the
 * UART calls backend.rx_ready. Nothing is ever dropped on the host side.
 */
#ifndef MINIVMM_HW_UART16550_H
#define MINIVMM_HW_UART16550_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hw/hw.h"

#define UART16550_COM1_BASE 0x3F8
#define UART16550_COM1_IRQ  4
#define UART16550_NR_PORTS  8

/* Register offsets from the base port. */
#define UART_RBR 0 /* read, DLAB=0 */
#define UART_THR 0 /* write, DLAB=0 */
#define UART_DLL 0 /* DLAB=1 */
#define UART_IER 1 /* DLAB=0 */
#define UART_DLM 1 /* DLAB=1 */
#define UART_IIR 2 /* read */
#define UART_FCR 2 /* write */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define UART_IER_ERBFI 0x01 /* received data available */
#define UART_IER_ETBEI 0x02 /* transmitter holding register empty */
#define UART_IER_ELSI  0x04 /* receiver line status */
#define UART_IER_EDSSI 0x08 /* modem status */

#define UART_IIR_NO_INT 0x01
#define UART_IIR_MSI	0x00
#define UART_IIR_THRI	0x02
#define UART_IIR_RDI	0x04
#define UART_IIR_RLSI	0x06
#define UART_IIR_CTI	0x0C /* character timeout */
#define UART_IIR_FIFO	0xC0 /* FIFOs enabled */

#define UART_FCR_ENABLE	  0x01
#define UART_FCR_CLEAR_RX 0x02
#define UART_FCR_CLEAR_TX 0x04
#define UART_FCR_DMA	  0x08
#define UART_FCR_TRIG	  0xC0

#define UART_LCR_WLEN  0x03
#define UART_LCR_STOP  0x04
#define UART_LCR_PAR   0x08
#define UART_LCR_BREAK 0x40
#define UART_LCR_DLAB  0x80

#define UART_MCR_DTR  0x01
#define UART_MCR_RTS  0x02
#define UART_MCR_OUT1 0x04
#define UART_MCR_OUT2 0x08
#define UART_MCR_LOOP 0x10

#define UART_LSR_DR	0x01
#define UART_LSR_OE	0x02
#define UART_LSR_PE	0x04
#define UART_LSR_FE	0x08
#define UART_LSR_BI	0x10
#define UART_LSR_THRE	0x20
#define UART_LSR_TEMT	0x40
#define UART_LSR_RXFERR 0x80

#define UART_MSR_DCTS 0x01
#define UART_MSR_DDSR 0x02
#define UART_MSR_TERI 0x04
#define UART_MSR_DDCD 0x08
#define UART_MSR_CTS  0x10
#define UART_MSR_DSR  0x20
#define UART_MSR_RI   0x40
#define UART_MSR_DCD  0x80

#define UART16550_FIFO_LEN 16

/*
 * Host side of the serial line. tx receives every byte the guest transmits
 * (not called in loopback mode); rx_ready says the receiver has room again
 * after uart16550_receive() took less than it was offered. Both run with the
 * device lock held: they must not call back into the UART synchronously.
 * A backend with a tx callback counts as "connected": CTS, DSR and DCD read
 * as asserted. Either callback may be NULL.
 */
struct uart_backend {
	void (*tx)(void *opaque, uint8_t byte);
	void (*rx_ready)(void *opaque);
	void *opaque;
};

struct uart16550;

/* A UART in its power-on state (divisor 12 = 9600 baud), IRQ on line irq. */
struct uart16550 *uart16550_new(struct vclock *clk, const struct irq_chip *irq,
				int line, struct uart_backend be);
void uart16550_free(struct uart16550 *u);
/* Registers ports base..base+7 on io; 0, or -1 if the range is taken. */
int uart16550_attach(struct uart16550 *u, struct bus *io, uint16_t base);

/* Host input: returns how many of the n bytes were taken (0..n). */
size_t uart16550_receive(struct uart16550 *u, const uint8_t *buf, size_t n);
bool uart16550_can_receive(struct uart16550 *u);

/* Master reset (the MR pin): registers as the datasheet's reset table;
 * the divisor latch and scratch register keep their values. */
void uart16550_reset(struct uart16550 *u);

/* The register ops, for callers that map the UART themselves. */
extern const struct io_ops uart16550_ops;

#endif
