/*
 * A do-nothing device for benchmarks and tests (-device testdev): port
 * 0x3000-0x3003 and MMIO 0xFEBFF000-0xFEBFFFFF read as zero, ignore writes.
 */
#ifndef MINIVMM_TESTDEV_H
#define MINIVMM_TESTDEV_H

#include "hw/hw.h"

#define TESTDEV_PORT 0x3000
#define TESTDEV_MMIO 0xfebff000ull

int testdev_attach(struct bus *io, struct bus *mmio);

#endif
