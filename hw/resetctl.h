/*
 * PIIX3 reset control register (byte port 0xCF9).
 *
 * Byte accesses to 0xCF9 belong here, dword accesses to 0xCF8 to PCI
 * configuration mechanism #1. A bus of plain ranges cannot split one port
 * by access size, so when the PCI host bridge owns 0xCF8-0xCFB, hand this
 * device to it (hw/pci.h: pci_bus_set_cf9(pb, resetctl_ops(), rc)) instead
 * of calling resetctl_attach(); both paths use offset 0, size 1.
 */
#ifndef MINIVMM_HW_RESETCTL_H
#define MINIVMM_HW_RESETCTL_H

#include <stdbool.h>
#include <stdint.h>

#include "hw/hw.h"

#define RESETCTL_PORT 0xcf9

struct resetctl;

/* reset: raised with 1 when the guest sets the Reset CPU bit. */
struct resetctl *resetctl_new(struct signal reset);
void resetctl_free(struct resetctl *rc);
/* Registers the single port 0xCF9; -1 if it is already taken. */
int resetctl_attach(struct resetctl *rc, struct bus *io);
/* The register's ops (offset 0, one byte) for a bus owner to forward to. */
const struct io_ops *resetctl_ops(void);
/* System reset: the register returns to 00h. */
void resetctl_reset(struct resetctl *rc);
/* Whether the last reset request asked for a hard reset (bit 1 set). */
bool resetctl_hard(const struct resetctl *rc);

#endif
