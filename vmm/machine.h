/*
 * The PC machine: which devices exist, where they sit, and how their
 * interrupt lines, reset and console connect. Built in one readable order
 * in machine_init().
 */
#ifndef MINIVMM_MACHINE_H
#define MINIVMM_MACHINE_H

#include <stdbool.h>
#include <stdio.h>

#include "hw/hw.h"
#include "hw/i440fx.h"
#include "hw/piix3.h"
#include "hw/piix_ide.h"
#include "hw/vga.h"
#include "vmm/drive.h"
#include "vmm/coalesced.h"
#include "vmm/display/display.h"
#include "vmm/ioeventfd.h"
#include "vmm/irqfd.h"
#include "vmm/netcfg.h"

struct vm;
struct chardev;
struct monitor;
struct ne2000;
struct virtio_blk;
struct virtio_net;
struct tap;
struct pcap_dump;
struct pci_func;

/* First PCI slot of the NICs (QEMU's pc puts its first NIC at 00:03.0). */
#define MACHINE_NIC_SLOT 3

/* One NIC and what its cable is plugged into. */
struct machine_nic {
	struct machine *m;
	struct nic_config cfg;
	struct ne2000 *ne; /* one of these two */
	struct virtio_net *vn;
	struct vq_ioeventfd ioev[2]; /* virtio-net, ioeventfd=on */
	struct msix_irqfd irqfd;     /* virtio-net, irqfd=on */
	bool vnet_hdr;		     /* frames with the TAP carry it */
	struct tap *tap;	     /* NULL: no cable */
	struct pci_func *pci;	     /* NULL for the ISA face */
	int slot;
	struct coalesced_zone data_zone; /* NE2000 data port writes */
};

/* At most this many -fw_cfg items. */
#define MACHINE_MAX_FW_CFG 32

/*
 * One -fw_cfg item: a file in fw_cfg's directory for the firmware (as
 * "etc/sercon-port" for SeaBIOS), its contents read from the host file
 * `file` or the bytes of `string` without its NUL; exactly one of the two.
 */
struct machine_fw_cfg {
	const char *name;
	const char *file;
	const char *string;
};

/* The VGA's PCI slot (QEMU's pc puts its VGA at 00:02.0). */
#define MACHINE_VGA_SLOT 2
#define MACHINE_VGA_ROM	 "/usr/share/seabios/vgabios-stdvga.bin"

struct machine_opts {
	const char *serial;   /* chardev spec for COM1 */
	const char *debugcon; /* chardev spec for port 0x402 */
	bool nographic;
	bool vga;	     /* -vga std: the standard VGA at 00:02.0 */
	const char *vga_rom; /* its option ROM; NULL: none */
	enum display_kind display;
	bool no_reboot;
	bool testdev;
	struct drive_config drives;
	struct net_config net;
	struct machine_fw_cfg fw_cfg[MACHINE_MAX_FW_CFG]; /* distinct names */
	unsigned nfw_cfg;
};

struct machine {
	struct vm *vm;
	struct irq_chip isa_irq; /* ISA IRQ lines 0-15 */
	struct i8259 *pic;	 /* NULL with the kernel irqchip */
	struct i8254 *pit;	 /* NULL with the kernel irqchip */
	struct mc146818 *rtc;
	struct coalesced_zone rtc_zone;	   /* index port writes */
	struct coalesced_zone ide_zone[2]; /* taskfile writes, per channel */
	struct fw_cfg *fwcfg;
	/* The -fw_cfg contents, read by machine_prepare(); freed once added */
	uint8_t *fw_cfg_data[MACHINE_MAX_FW_CFG];
	uint32_t fw_cfg_len[MACHINE_MAX_FW_CFG];
	struct uart16550 *com1;
	struct i8042 *kbd;
	unsigned mouse_buttons; /* held, as the monitor's mouse_button set */
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
	struct blk *other_blk[DRIVE_MAX_OTHER]; /* if=virtio / if=none */
	struct virtio_blk *vblk[DRIVE_MAX_VBLK];
	struct vq_ioeventfd vblk_ioev[DRIVE_MAX_VBLK][1]; /* ioeventfd=on */
	struct msix_irqfd vblk_irqfd[DRIVE_MAX_VBLK];	  /* irqfd=on */
	struct irqfd_router irqfd; /* GSI routes of the irqfds */
	int vblk_slot[DRIVE_MAX_VBLK];
	unsigned nvblk;
	bool pci_intx; /* a PCI function with INTx: route the PIRQs */
	struct machine_nic nic[NETCFG_MAX_NICS];
	unsigned nnics;
	struct pcap_dump *netdump; /* -net dump */
	struct chardev *serial, *debugcon;
	bool stdout_broken;	 /* port 0xE9's stdout failed: said once */
	struct monitor *monitor; /* -monitor; set by main after machine_init */
	struct vga *vga;	 /* NULL without -vga std */
	uint8_t *vga_rom;	 /* read by machine_prepare */
	size_t vga_rom_len;
	bool vram_slot; /* BAR0 is a KVM slot (dirty-logged) */
	uint64_t vram_log[VGA_VRAM_SIZE >> VGA_PAGE_SHIFT >> 6];
	uint64_t vram_log_fetches, vram_log_pages; /* for info vga */
	struct display *display; /* the VGA's frame: refresh, window */
	bool a20;
};

/* Before /dev/kvm is opened: zeroes m and opens what the options name on
 * the host (the -serial/-debugcon backends, every disk and CD image with
 * its size rules and lock, the -fw_cfg files, whose names may not be one
 * of the machine's own fw_cfg files), so bad input is reported on any host.
 * Needs vm_prepare() (the device model), not vm_create(). */
int machine_prepare(struct machine *m, struct vm *vm,
		    const struct machine_opts *o);
/* After vm_create(): the devices, wired to what machine_prepare() opened. */
int machine_init(struct machine *m, const struct machine_opts *o);
void machine_fini(struct machine *m);
/* -stats lines of the machine's devices (NICs, virtio-blk); before
 * machine_fini(). */
void machine_stats_print(struct machine *m, FILE *f);
/* `info vga`: one line (mode, resolution). Device lock held. */
void machine_vga_info(struct machine *m, char *buf, size_t len);

#endif
