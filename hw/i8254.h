/*
 * Intel 8254 programmable interval timer (PC ports 0x40-0x43, 1193182 Hz)
 * and System Control Port B (port 0x61), which gates channel 2 and shows
 * its OUT. Channel 0's OUT drives ISA IRQ 0.
 *
 * The struct is public so that a board can embed the statistics and so that
 * unit tests can reach the channel-0 timer; code outside hw/i8254.c treats
 * the other fields as private.
 */
#ifndef MINIVMM_I8254_H
#define MINIVMM_I8254_H

#include <stdbool.h>
#include <stdint.h>

#include "hw/hw.h"

#define I8254_HZ     1193182
#define I8254_PORT   0x40
#define I8254_PORT_B 0x61
#define I8254_IRQ    0
/*
 * Channel 0 never makes the host timer fire more often than every
 * I8254_MIN_TICKS input clocks (12 clocks = 10.06 us): a guest that programs
 * a faster periodic rate gets one IRQ 0 edge per ~10 us and the periods in
 * between are counted in `missed`.
 */
#define I8254_MIN_TICKS 12

struct i8254_chan {
	uint8_t cw_mode; /* mode bits as programmed (0-7), for the status */
	uint8_t mode;	 /* effective mode 0-5: 6 and 7 alias 2 and 3 */
	uint8_t rw;	 /* 1 LSB only, 2 MSB only, 3 LSB then MSB */
	bool bcd;
	bool gate;
	bool wr_msb; /* write flip-flop: the next byte written is the MSB */
	uint8_t wr_lsb;
	bool rd_msb; /* read flip-flop: the next byte read is the MSB */
	bool count_latched, status_latched;
	uint16_t latch;
	uint8_t status;
	bool have_cr; /* a count was written since the control word */
	uint32_t cr;  /* count register in counts, 1..65536 (1..10000 BCD) */
	bool running; /* the counting element is counting */
	int64_t base; /* tick at which CE held ce0 / the period began */
	uint32_t ce0; /* CE at base (modes 0, 1, 4, 5), 0 meaning the modulus */
	uint32_t n;   /* period in clocks (modes 2, 3) */
	bool tc;      /* terminal count reached before counting was stopped */
	uint32_t frozen; /* CE while not counting */
	bool pend;	 /* modes 2, 3: a new count takes over at pend_tick */
	int64_t pend_tick;
	uint32_t pend_n;
	int64_t null_until; /* status NULL COUNT reads 1 while tick < this */
};

struct i8254 {
	struct vclock *clk;
	struct irq_chip irq;
	struct vtimer *timer; /* channel 0's next IRQ 0 edge */
	int64_t edge;	      /* tick of that edge, INT64_MAX if none */
	int line;	      /* level last driven on IRQ 0 */
	struct i8254_chan ch[3];
	uint8_t port_b;	 /* bits 0-3 of port 0x61 as written */
	uint64_t edges;	 /* rising edges delivered on IRQ 0 */
	uint64_t missed; /* periods coalesced (host late or rate clamp) */
};

struct i8254 *i8254_new(struct vclock *clk, const struct irq_chip *irq);
void i8254_free(struct i8254 *pit);
/* Registers 0x40-0x43 and 0x61 on the port bus; 0 or -1. */
int i8254_attach(struct i8254 *pit, struct bus *io);
void i8254_reset(struct i8254 *pit);
/* Current OUT level (0/1) of channel ch (0-2); 0 for a bad channel. */
int i8254_out(struct i8254 *pit, int ch);
/* Periodic IRQ 0 edges not delivered (late host timer or rate clamp). */
uint64_t i8254_missed_ticks(struct i8254 *pit);
/* Rising edges delivered on IRQ 0 so far. */
uint64_t i8254_irq_edges(struct i8254 *pit);
/* Drives the GATE input of channel ch (0-2). */
void i8254_set_gate(struct i8254 *pit, int ch, int level);

#endif
