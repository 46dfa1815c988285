/*
 * Bochs/QEMU debug console: a write-only byte sink on an I/O port (0xE9 by
 * default; SeaBIOS uses 0x402).
 */
#ifndef MINIVMM_HW_DEBUGCON_H
#define MINIVMM_HW_DEBUGCON_H

#include <stddef.h>
#include <stdint.h>

#include "hw/hw.h"

#define DEBUGCON_PORT	      0xe9
#define DEBUGCON_SEABIOS_PORT 0x402
/* What a read returns: lets a guest detect the port ("port e9 hack"). */
#define DEBUGCON_READBACK 0xe9

/*
 * Where written bytes go (a file, stdout, a test buffer); out may be NULL.
 * A "rep outsb" burst arrives in one call (one write(2) to a file instead
 * of one per byte).
 */
struct debugcon_out {
	void (*out)(void *opaque, const uint8_t *buf, size_t n);
	void *opaque;
};

struct debugcon;

struct debugcon *debugcon_new(struct debugcon_out out);
void debugcon_free(struct debugcon *d);
/* Registers one byte at port; may be called for several ports. 0 or -1. */
int debugcon_attach(struct debugcon *d, struct bus *io, uint16_t port);
/* Bytes written so far. */
uint64_t debugcon_bytes(const struct debugcon *d);

#endif
