/*
 * Intel 82441FX PMC (i440FX host bridge), PCI function 00:00.0, as in
 * QEMU's "pc" machine: 8086:1237 rev 02, class 0x060000, subsystem
 * 1af4:1100. Datasheet: Intel 440FX PCIset 82441FX PMC / 82442FX DBX.
 *
 * Only the registers firmware touches are modelled. PAM0-6 (0x59-0x5F)
 * store what the guest writes, but in minivmm the BIOS area 0xC0000-0xFFFFF
 * is always RAM, readable and writable, whatever PAM says: SeaBIOS's
 * shadowing (copy, then "make read-only") works because it reads back its
 * own values. SMRAM (0x72) is stored with its D_LCK lock rule; there is no
 * SMM in minivmm, so it changes nothing else.
 */
#ifndef MINIVMM_I440FX_H
#define MINIVMM_I440FX_H

#include "hw/pci.h"

#define I440FX_PAM0  0x59
#define I440FX_NPAM  7
#define I440FX_SMRAM 0x72

#define I440FX_SMRAM_D_OPEN   0x40
#define I440FX_SMRAM_D_CLS    0x20
#define I440FX_SMRAM_D_LCK    0x10
#define I440FX_SMRAM_G_SMRAME 0x08

struct i440fx {
	struct pci_func *f;
};

/* Creates 00:00.0 on pb; 0, or -1 if the slot is taken. */
int i440fx_init(struct i440fx *s, struct pci_bus *pb);
/* Power-on values of the chipset registers (SMRAM lock released). */
void i440fx_reset(struct i440fx *s);

#endif
