/* POST diagnostic code port (0x80). */
#ifndef MINIVMM_HW_POSTCODE_H
#define MINIVMM_HW_POSTCODE_H

#include <stdint.h>

#include "hw/hw.h"

#define POSTCODE_PORT 0x80

struct postcode;

struct postcode *postcode_new(void);
void postcode_free(struct postcode *p);
/* Registers port 0x80 (one byte); 0 or -1. */
int postcode_attach(struct postcode *p, struct bus *io);
/* The last code written (0 before any write). */
uint8_t postcode_last(const struct postcode *p);
/* How many codes were written. */
uint64_t postcode_count(const struct postcode *p);

#endif
