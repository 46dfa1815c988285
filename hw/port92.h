/*
 * System control port A (port 0x92, "fast A20 and reset"), as found in the
 * PS/2 and in PC chipsets such as the PIIX3.
 */
#ifndef MINIVMM_HW_PORT92_H
#define MINIVMM_HW_PORT92_H

#include <stdint.h>

#include "hw/hw.h"

#define PORT92_PORT 0x92

struct port92;

/* reset: raised with 1 on a fast reset; a20: raised with bit 1 on writes. */
struct port92 *port92_new(struct signal reset, struct signal a20);
void port92_free(struct port92 *p);
/* Registers port 0x92 (one byte); 0 or -1. */
int port92_attach(struct port92 *p, struct bus *io);
/* System reset: the fast-reset bit clears, the A20 bit is kept. */
void port92_reset(struct port92 *p);
/* The register value as the guest reads it. */
uint8_t port92_value(const struct port92 *p);

#endif
