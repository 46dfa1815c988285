/*
 * The PC machine: which devices exist, where they sit, and how their
 * interrupt lines, reset and console connect. Built in one readable order
 * in machine_init().
 */
#ifndef MINIVMM_MACHINE_H
#define MINIVMM_MACHINE_H

#include <stdbool.h>

#include "hw/hw.h"
#include "hw/i440fx.h"
#include "hw/piix3.h"
#include "hw/piix_ide.h"
#include "vmm/drive.h"

struct vm;
struct chardev;
struct monitor;

struct machine_opts {
	const char *serial;   /* chardev spec for COM1 */
	const char *debugcon; /* chardev spec for port 0x402 */
	bool nographic;
	bool no_reboot;
	bool testdev;
	struct drive_config drives;
};

struct machine {
	struct vm *vm;
	struct irq_chip isa_irq; /* ISA IRQ lines 0-15 */
	struct i8259 *pic;	 /* NULL with the kernel irqchip */
	struct i8254 *pit;	 /* NULL with the kernel irqchip */
	struct mc146818 *rtc;
	struct fw_cfg *fwcfg;
	struct uart16550 *com1;
	struct i8042 *kbd;
	struct port92 *port92;
	struct debugcon *e9, *dbg402;
	struct postcode *post;
	struct resetctl *resetctl;
	struct pci_bus *pci;
	struct i440fx host;
	struct piix3 isa;
	struct ide_ctrl *ide;
	struct piix_ide ide_fn;
	struct blk *blk[IDE_SLOTS];
	struct atapi *atapi[IDE_SLOTS];
	struct chardev *serial, *debugcon;
	struct monitor *monitor; /* -monitor; set by main after machine_init */
	bool a20;
};

/* Before /dev/kvm is opened: zeroes m and opens what the options name on
 * the host (the -serial/-debugcon backends, every disk and CD image with
 * its size rules and lock), so bad input is reported on any host. Needs
 * vm_prepare() (the device model), not vm_create(). */
int machine_prepare(struct machine *m, struct vm *vm,
		    const struct machine_opts *o);
/* After vm_create(): the devices, wired to what machine_prepare() opened. */
int machine_init(struct machine *m, const struct machine_opts *o);
void machine_fini(struct machine *m);

#endif
