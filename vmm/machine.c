/*
 * The PC: platform devices at their ISA addresses, the i440FX/PIIX3 PCI
 * bus, and the wiring of interrupts, reset, A20 and the console.
 */
#include "vmm/machine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hw/atapi.h"
#include "hw/debugcon.h"
#include "hw/fw_cfg.h"
#include "hw/ide.h"
#include "hw/i8042.h"
#include "hw/i8254.h"
#include "hw/i8259.h"
#include "hw/mc146818.h"
#include "hw/ne2000.h"
#include "hw/pci.h"
#include "hw/port92.h"
#include "hw/postcode.h"
#include "hw/resetctl.h"
#include "hw/testdev.h"
#include "hw/uart16550.h"
#include "hw/vga.h"
#include "hw/virtio_blk.h"
#include "hw/virtio_net.h"
#include "vmm/backend/chardev.h"
#include "vmm/backend/pcap.h"
#include "vmm/backend/tap.h"
#include "vmm/loader.h"
#include "vmm/monitor.h"
#include "vmm/vm.h"

#define err(...) (fprintf(stderr, "minivmm: " __VA_ARGS__), -1)

/* --- interrupts ------------------------------------------------------ */

static void kvm_irq(void *opaque, int line, int level)
{
	vm_irq_line(opaque, line, level);
}

static void pic_intr(void *opaque, int level)
{
	struct vm *vm = opaque;
	dm_trace_event(&vm->dm, "pic", "intr=%d", level);
	if (level)
		vm_kick(vm);
}

static bool pic_pending(void *opaque)
{
	return i8259_intr(opaque);
}

static int pic_ack(void *opaque)
{
	return i8259_ack(opaque);
}

/* --- reset and A20 --------------------------------------------------- */

static void reset_by_kbd(void *opaque, int value)
{
	if (value)
		vm_request_reset(opaque,
				 "the keyboard controller's reset line");
}

static void reset_by_port92(void *opaque, int value)
{
	if (value)
		vm_request_reset(opaque, "port 0x92 (fast reset)");
}

static void reset_by_cf9(void *opaque, int value)
{
	if (value)
		vm_request_reset(opaque, "the reset control register (0xcf9)");
}

/* KVM has no A20 mask; every guest that matters enables A20 and never
 * turns it off again. The state is kept for the record. */
static void a20_changed(void *opaque, int value)
{
	struct machine *m = opaque;
	m->a20 = value;
}

/* --- console --------------------------------------------------------- */

/* How long port 0xE9's output waits for a non-blocking stdout that takes
 * nothing (the device-model thread waits with it). */
#define STDOUT_STALL_MS 5000

/* Port 0xE9. Short writes and EINTR are retried, a full non-blocking stdout
 * is waited for; when it fails or stalls, one line says the output stops. */
static void stdout_bytes(void *opaque, const uint8_t *buf, size_t n)
{
	struct machine *m = opaque;
	if (m->serial && !strcmp(chardev_kind(m->serial), "stdio")) {
		chardev_write(m->serial, buf, n);
		return;
	}
	if (m->stdout_broken ||
	    !chardev_write_fd(STDOUT_FILENO, buf, n, STDOUT_STALL_MS))
		return;
	m->stdout_broken = true;
	if (errno == ETIMEDOUT)
		fprintf(stderr,
			"minivmm: stdout took nothing for %d s; debug console "
			"(port 0xe9) output stops here\n",
			STDOUT_STALL_MS / 1000);
	else
		fprintf(stderr,
			"minivmm: stdout: %s; debug console (port 0xe9) output "
			"stops here\n",
			strerror(errno));
}

static void chardev_bytes(void *opaque, const uint8_t *buf, size_t n)
{
	chardev_write(opaque, buf, n);
}

static void uart_tx(void *opaque, uint8_t byte)
{
	struct machine *m = opaque;
	if (m->serial)
		chardev_write(m->serial, &byte, 1);
}

static void uart_rx_ready(void *opaque)
{
	struct machine *m = opaque;
	if (m->serial)
		chardev_rx_ready(m->serial);
}

/* Called on the device-model thread without the lock. */
static size_t serial_rx(void *opaque, const uint8_t *buf, size_t n)
{
	struct machine *m = opaque;
	if (monitor_active(m->monitor)) /* Ctrl-A c gave it the console */
		return monitor_input(m->monitor, buf, n);
	dm_lock(&m->vm->dm);
	size_t took = uart16550_receive(m->com1, buf, n);
	dm_unlock(&m->vm->dm);
	return took;
}

static void serial_quit(void *opaque)
{
	struct machine *m = opaque;
	fprintf(stderr, "\r\nminivmm: terminated by Ctrl-A x\r\n");
	vm_request_exit(m->vm, VM_QUIT, 0);
}

static void serial_monitor(void *opaque)
{
	struct machine *m = opaque;
	monitor_toggle(m->monitor);
}

static int open_chardevs(struct machine *m, const struct machine_opts *o)
{
	char e[256];
	if (strcmp(o->serial, "none")) {
		m->serial =
		    chardev_open(o->serial, m->vm->dm.base, e, sizeof(e));
		if (!m->serial)
			return err("-serial: %s\n", e);
	}
	if (strcmp(o->debugcon, "none")) {
		m->debugcon =
		    chardev_open(o->debugcon, m->vm->dm.base, e, sizeof(e));
		if (!m->debugcon)
			return err("-debugcon: %s\n", e);
	}
	return 0;
}

/* Disk and CD images: opened (size rules, flock) before KVM exists. */
static int open_images(struct machine *m, const struct machine_opts *o)
{
	char e[256];
	for (int i = 0; i < IDE_SLOTS; i++) {
		const struct drive_opts *d = &o->drives.ide[i];
		if (!d->used || d->empty)
			continue;
		m->blk[i] = blk_open(&d->blk, &m->vm->dm, e, sizeof(e));
		if (!m->blk[i])
			return err("%s\n", e);
	}
	for (unsigned i = 0; i < o->drives.nother; i++) {
		const struct drive_opts *d = &o->drives.other[i];
		m->other_blk[i] = blk_open(&d->blk, &m->vm->dm, e, sizeof(e));
		if (!m->other_blk[i])
			return err("%s\n", e);
	}
	return 0;
}

/* --- the machine ----------------------------------------------------- */

/* --- fw_cfg ------------------------------------------------------------ */

/* The machine's own items: SeaBIOS reads RAM, CPU count and the boot-menu
 * switch from fw_cfg; without it: CMOS, and a 2.5 s wait at "Press ESC for
 * boot menu". */
static int pc_fw_cfg(struct fw_cfg *f, const struct vm *vm, unsigned ncpus)
{
	return fw_cfg_pc_defaults(f, vm->ram_low, vm->ram_high, ncpus, NULL, 0);
}

/* -fw_cfg, before KVM: reads the files, and refuses a name the machine
 * uses itself (QEMU: "duplicate fw_cfg file name"). Warns, as QEMU does,
 * about names outside "opt/", once every item is known to be good. */
static int open_fw_cfg(struct machine *m, const struct machine_opts *o)
{
	char e[256];
	if (!o->nfw_cfg)
		return 0;
	/* The same items machine_init() adds; the names do not depend on
	 * the CPU count, which is known only after vm_create(). */
	struct fw_cfg *own = fw_cfg_new(&m->vm->gm);
	if (!own || pc_fw_cfg(own, m->vm, 1)) {
		fw_cfg_free(own);
		return err("cannot create fw_cfg\n");
	}
	for (unsigned i = 0; i < o->nfw_cfg; i++) {
		const struct machine_fw_cfg *c = &o->fw_cfg[i];
		if (fw_cfg_file_key(own, c->name)) {
			fw_cfg_free(own);
			return err(
			    "-fw_cfg: duplicate fw_cfg file name: %s (an "
			    "item of minivmm's own)\n",
			    c->name);
		}
	}
	fw_cfg_free(own);
	for (unsigned i = 0; i < o->nfw_cfg; i++) {
		const struct machine_fw_cfg *c = &o->fw_cfg[i];
		size_t len;
		uint8_t *d;
		if (c->file) {
			d = loader_read_file(c->file, "-fw_cfg", &len, e,
					     sizeof(e));
			if (!d)
				return err("%s\n", e);
			if (len > UINT32_MAX) {
				free(d);
				return err("-fw_cfg: '%s' is larger than 4 GiB "
					   "- 1\n",
					   c->file);
			}
		} else {
			len = strlen(c->string);
			d = malloc(len ? len : 1);
			if (!d)
				return err("-fw_cfg: out of memory\n");
			memcpy(d, c->string, len);
		}
		m->fw_cfg_data[i] = d;
		m->fw_cfg_len[i] = len;
	}
	for (unsigned i = 0; i < o->nfw_cfg; i++)
		if (strncmp(o->fw_cfg[i].name, "opt/", 4))
			fprintf(stderr,
				"minivmm: warning: -fw_cfg name=%s: externally "
				"provided fw_cfg item names should be prefixed "
				"with \"opt/\"\n",
				o->fw_cfg[i].name);
	return 0;
}

static void free_user_fw_cfg(struct machine *m)
{
	for (unsigned i = 0; i < MACHINE_MAX_FW_CFG; i++) {
		free(m->fw_cfg_data[i]);
		m->fw_cfg_data[i] = NULL;
	}
}

/* After the machine's own items, so a clash could not pass unseen. */
static int add_user_fw_cfg(struct machine *m, const struct machine_opts *o)
{
	int rc = 0;
	for (unsigned i = 0; i < o->nfw_cfg && !rc; i++)
		if (fw_cfg_file_key(m->fwcfg, o->fw_cfg[i].name) ||
		    fw_cfg_add_file(m->fwcfg, o->fw_cfg[i].name,
				    m->fw_cfg_data[i], m->fw_cfg_len[i]))
			rc = -1;
	free_user_fw_cfg(m);
	return rc;
}

static int platform_devices(struct machine *m, const struct machine_opts *o)
{
	struct vm *vm = m->vm;
	struct bus *io = &vm->dm.io;
	struct vclock *clk = vm->dm.clock;
	struct signal a20 = {a20_changed, m};

	if (vm->cfg.kernel_irqchip) {
		m->isa_irq = (struct irq_chip){kvm_irq, vm};
	} else {
		m->pic = i8259_new((struct signal){pic_intr, vm});
		if (!m->pic || i8259_attach(m->pic, io))
			return err("cannot create the 8259 PIC\n");
		m->isa_irq = i8259_irq_chip(m->pic);
		vm->intr_pending = pic_pending;
		vm->intr_ack = pic_ack;
		vm->intr_opaque = m->pic;
		m->pit = i8254_new(clk, &m->isa_irq);
		if (!m->pit || i8254_attach(m->pit, io))
			return err("cannot create the 8254 PIT\n");
	}
	m->rtc = mc146818_new(clk, &m->isa_irq);
	if (!m->rtc || mc146818_attach(m->rtc, io))
		return err("cannot create the RTC\n");
	mc146818_set_memory(m->rtc, vm->ram_low, vm->ram_high);
	/* The index register only latches; the data port read or write that
	 * follows exits and finds it drained (vmm/coalesced.h). */
	coalesced_zone_init(&m->rtc_zone, &vm->coalesced, true, 0, 1);
	coalesced_zone_move(&m->rtc_zone, MC146818_IO_BASE, true);
	m->fwcfg = fw_cfg_new(&vm->gm);
	if (!m->fwcfg || pc_fw_cfg(m->fwcfg, vm, vm->nvcpus) ||
	    add_user_fw_cfg(m, o) || fw_cfg_attach(m->fwcfg, io))
		return err("cannot create fw_cfg\n");

	m->com1 =
	    uart16550_new(clk, &m->isa_irq, 4,
			  (struct uart_backend){uart_tx, uart_rx_ready, m});
	if (!m->com1 || uart16550_attach(m->com1, io, 0x3f8))
		return err("cannot create COM1\n");
	/* Input flows once COM1 exists to take it. */
	if (m->serial)
		chardev_set_handlers(m->serial, serial_rx, serial_quit,
				     serial_monitor, m);
	m->kbd = i8042_new(&m->isa_irq, (struct signal){reset_by_kbd, vm}, a20);
	m->port92 = port92_new((struct signal){reset_by_port92, vm}, a20);
	m->post = postcode_new();
	m->e9 = debugcon_new((struct debugcon_out){stdout_bytes, m});
	if (!m->kbd || i8042_attach(m->kbd, io) || !m->port92 ||
	    port92_attach(m->port92, io) || !m->post ||
	    postcode_attach(m->post, io) || !m->e9 ||
	    debugcon_attach(m->e9, io, 0xe9))
		return err("cannot create the platform devices\n");
	if (m->debugcon) {
		m->dbg402 = debugcon_new(
		    (struct debugcon_out){chardev_bytes, m->debugcon});
		if (!m->dbg402 || debugcon_attach(m->dbg402, io, 0x402))
			return err("cannot create the 0x402 debug console\n");
	}
	if (o->testdev) {
		if (testdev_attach(io, &vm->dm.mmio))
			return err("cannot create testdev\n");
		vm->dm.floor_pio_base = TESTDEV_PORT;
		vm->dm.floor_pio_len = 4;
		vm->dm.floor_mmio_base = TESTDEV_MMIO;
		vm->dm.floor_mmio_len = 0x1000;
	}
	return 0;
}

static int pci_devices(struct machine *m)
{
	struct vm *vm = m->vm;
	m->pci = pci_bus_new(&vm->dm.io, &vm->dm.mmio);
	if (!m->pci || pci_bus_attach(m->pci))
		return err("cannot create the PCI bus\n");
	m->resetctl = resetctl_new((struct signal){reset_by_cf9, vm});
	if (!m->resetctl)
		return -1;
	pci_bus_set_cf9(m->pci, resetctl_ops(), m->resetctl);
	if (i440fx_init(&m->host, m->pci) ||
	    piix3_init(&m->isa, m->pci, m->isa_irq))
		return err("cannot create the i440FX/PIIX3 functions\n");
	return 0;
}

/* IDE: PIIX3 function 00:01.1, disks and CD-ROMs from -hdX/-cdrom/-drive. */
static int ide_devices(struct machine *m, const struct machine_opts *o)
{
	struct vm *vm = m->vm;
	m->ide = ide_new(vm->dm.clock, &m->isa_irq, &vm->gm);
	if (!m->ide)
		return err("cannot create the IDE controller\n");
	for (int i = 0; i < IDE_SLOTS; i++) {
		const struct drive_opts *d = &o->drives.ide[i];
		if (!d->used)
			continue;
		int rc;
		if (d->cdrom) {
			m->atapi[i] = atapi_new();
			if (!m->atapi[i])
				return -1;
			if (m->blk[i])
				atapi_set_medium(m->atapi[i], m->blk[i], true);
			rc =
			    ide_attach_cdrom(m->ide, i / 2, i % 2, m->atapi[i]);
		} else {
			rc = ide_attach_disk(m->ide, i / 2, i % 2, m->blk[i]);
		}
		if (rc)
			return err("cannot attach IDE drive %d\n", i);
	}
	if (piix_ide_init(&m->ide_fn, m->pci, m->ide, &vm->dm.io))
		return err("cannot create the PIIX3 IDE function\n");
	/* Features, count, LBA and device registers only latch (the command
	 * register, which acts, and the data port stay exits): about six of
	 * a request's exits (vmm/coalesced.h). */
	static const uint16_t taskfile[2] = {0x1f1, 0x171};
	for (int c = 0; c < 2; c++) {
		coalesced_zone_init(&m->ide_zone[c], &vm->coalesced, true, 0,
				    6);
		coalesced_zone_move(&m->ide_zone[c], taskfile[c], true);
	}
	unsigned char r3d, r38;
	boot_cmos(&o->drives, &r3d, &r38);
	mc146818_cmos_write(m->rtc, 0x3d, r3d);
	mc146818_cmos_write(m->rtc, 0x38, r38);
	return 0;
}

/* --- display --------------------------------------------------------- */

/* BAR0 moved: VRAM becomes a RAM slot there, with dirty logging, so that
 * framebuffer stores cost no exit. Where KVM refuses the slot (it would
 * overlap another, as while firmware sizes the BAR) the BAR stays MMIO on
 * the bus, which is correct, only slower. */
static void vga_bar_moved(void *dev, int bar, uint32_t addr, bool mapped)
{
	struct machine *m = dev;
	if (bar != 0)
		return;
	if (m->vram_slot)
		vm_set_ram_slot(m->vm, VM_SLOT_VRAM, 0, 0, NULL, false);
	m->vram_slot = false;
	if (!mapped || m->vm->vm_fd < 0)
		return;
	m->vram_slot = vm_set_ram_slot(m->vm, VM_SLOT_VRAM, addr, VGA_VRAM_SIZE,
				       vga_vram(m->vga), true) == 0;
	vga_mark_dirty(m->vga, 0, VGA_VRAM_SIZE);
}

static const struct pci_cfg_ops vga_cfg_ops = {.bar_moved = vga_bar_moved};

/* The display's refresh: the pages the guest wrote through the slot. */
static void vga_sync(void *opaque)
{
	struct machine *m = opaque;
	if (!m->vram_slot ||
	    vm_get_dirty_log(m->vm, VM_SLOT_VRAM, m->vram_log) < 0)
		return;
	m->vram_log_fetches++;
	for (size_t i = 0; i < sizeof(m->vram_log) / 8; i++)
		m->vram_log_pages +=
		    (uint64_t)__builtin_popcountll(m->vram_log[i]);
	vga_mark_dirty_pages(m->vga, m->vram_log, 0,
			     VGA_VRAM_SIZE >> VGA_PAGE_SHIFT);
}

static void display_quit(void *opaque)
{
	struct machine *m = opaque;
	fprintf(stderr, "minivmm: the display window was closed\n");
	vm_request_exit(m->vm, VM_QUIT, 0);
}

static int vga_devices(struct machine *m, const struct machine_opts *o)
{
	char e[256];
	if (!o->vga)
		return 0;
	m->vga = vga_new();
	if (!m->vga || vga_attach_isa(m->vga, &m->vm->dm.io, &m->vm->dm.mmio))
		return err("cannot create the VGA\n");
	struct pci_func *f = vga_attach_pci(m->vga, m->pci, MACHINE_VGA_SLOT,
					    m->vga_rom, m->vga_rom_len);
	free(m->vga_rom);
	m->vga_rom = NULL;
	if (!f)
		return err("cannot put the VGA in PCI slot %d\n",
			   MACHINE_VGA_SLOT);
	pci_set_cfg_ops(f, &vga_cfg_ops, m);
	struct display_cfg dc = {.kind = o->display,
				 .dm = &m->vm->dm,
				 .vga = m->vga,
				 .kbd = m->kbd,
				 .sync = vga_sync,
				 .quit = display_quit,
				 .opaque = m};
	m->display = display_new(&dc, e, sizeof(e));
	if (!m->display)
		return err("%s\n", e);
	return 0;
}

void machine_vga_info(struct machine *m, char *buf, size_t len)
{
	struct vga_info i;
	vga_get_info(m->vga, &i);
	if (i.kind == VGA_KIND_TEXT)
		snprintf(buf, len,
			 "VGA: text %ux%u (%ux%u pixels, %ux%u cells)", i.cols,
			 i.rows, i.width, i.height, i.cell_w, i.cell_h);
	else if (i.kind == VGA_KIND_VBE)
		snprintf(buf, len,
			 "VGA: VBE %ux%u %u bpp%s, from VRAM offset 0x%x, "
			 "%u bytes a line",
			 i.width, i.height, i.bpp,
			 i.vbe_lfb ? " (linear framebuffer)" : " (banked)",
			 i.vbe_start, i.vbe_pitch);
	else if (i.kind == VGA_KIND_BLANK)
		snprintf(buf, len, "VGA: blank (no mode set or display off)");
	else
		snprintf(buf, len, "VGA: %s graphics %ux%u",
			 vga_kind_name(i.kind), i.width, i.height);
	if (m->vram_slot) {
		size_t o = strlen(buf);
		snprintf(buf + o, len - o,
			 "; VRAM mapped at 0x%x (dirty log: %llu pages in %llu "
			 "fetches)",
			 pci_bar_addr(vga_pci(m->vga), 0),
			 (unsigned long long)m->vram_log_pages,
			 (unsigned long long)m->vram_log_fetches);
	}
	if (m->display) {
		uint64_t n, r;
		bool win;
		size_t o = strlen(buf);
		display_counts(m->display, &n, &r, &win);
		snprintf(buf + o, len - o, "; %s: %llu refreshes, %llu redraws",
			 win ? "SDL window" : "headless", (unsigned long long)n,
			 (unsigned long long)r);
	}
}

/* --- network --------------------------------------------------------- */

/* The NIC's cable: frames go to the TAP (and the -net dump). */
static void nic_send(void *opaque, const uint8_t *buf, size_t len)
{
	struct machine_nic *n = opaque;
	pcap_dump_frame(n->m->netdump, buf, len);
	if (n->tap)
		tap_send(n->tap, buf, len);
}

/* virtio-net's: straight from guest RAM, the dump without the header. */
static void nic_sendv(void *opaque, const struct iovec *iov, unsigned cnt)
{
	struct machine_nic *n = opaque;
	pcap_dump_framev(n->m->netdump, iov, cnt,
			 n->vnet_hdr ? NET_VNET_HDR_LEN : 0);
	if (n->tap)
		tap_sendv(n->tap, iov, cnt);
}

static void nic_rx_ready(void *opaque)
{
	struct machine_nic *n = opaque;
	if (n->tap)
		tap_rx_ready(n->tap);
}

static int nic_set_offload(void *opaque, unsigned offloads)
{
	struct machine_nic *n = opaque;
	return n->tap ? tap_set_offload(n->tap, offloads) : (offloads ? -1 : 0);
}

static const struct net_backend_ops nic_cable_ops = {.send = nic_send,
						     .rx_ready = nic_rx_ready,
						     .sendv = nic_sendv,
						     .set_offload =
							 nic_set_offload};

/* The TAP's side of the cable. */
static bool cable_can_receive(void *opaque)
{
	struct machine_nic *n = opaque;
	return n->vn ? virtio_net_can_receive(n->vn)
		     : ne2000_can_receive(n->ne);
}

static bool cable_receive(void *opaque, const uint8_t *buf, size_t len)
{
	struct machine_nic *n = opaque;
	size_t hdr = n->vnet_hdr ? NET_VNET_HDR_LEN : 0;
	if (len >= hdr)
		pcap_dump_frame(n->m->netdump, buf + hdr, len - hdr);
	if (n->vn)
		return virtio_net_receive(n->vn, buf, len);
	return ne2000_receive(n->ne, buf, len) == NE2000_RX_STORED;
}

static void cable_link(void *opaque, bool up)
{
	struct machine_nic *n = opaque;
	if (n->vn)
		virtio_net_set_link(n->vn, up);
}

static const struct net_nic_ops cable_nic_ops = {.can_receive =
						     cable_can_receive,
						 .receive = cable_receive,
						 .link = cable_link};

/* TAPs and the dump file: opened before KVM exists. */
static int open_net(struct machine *m, const struct machine_opts *o)
{
	char e[256];
	const struct net_config *c = &o->net;
	m->nnics = c->nnics;
	for (unsigned i = 0; i < c->nnics; i++) {
		struct machine_nic *n = &m->nic[i];
		n->m = m;
		n->cfg = c->nic[i];
		if (!n->cfg.ifname[0])
			continue;
		bool virtio = n->cfg.model == NIC_VIRTIO_NET;
		n->tap = tap_open(n->cfg.ifname, virtio ? TAP_VNET_HDR : 0, e,
				  sizeof(e));
		if (!n->tap)
			return err("%s\n", e);
		n->vnet_hdr = tap_vnet_hdr(n->tap);
	}
	if (c->dump_file[0]) {
		m->netdump =
		    pcap_dump_open(c->dump_file, c->dump_len, e, sizeof(e));
		if (!m->netdump)
			return err("%s\n", e);
	}
	return 0;
}

/*
 * What a BIOS would leave for a kernel booted without one (-kernel): the
 * PIIX3 steering PIRQA-D to IRQs 10, 10, 11, 11 (SeaBIOS's choice), those
 * lines level-triggered in the 8259's ELCR, and the NIC's Interrupt Line
 * register naming its IRQ, which Linux uses when there is no $PIR or
 * MP-table entry for the device. Firmware that runs reprograms all of it.
 */
static const uint8_t pirq_irq[4] = {10, 10, 11, 11};

static void pci_irq_defaults(struct machine *m)
{
	uint16_t elcr = 0;
	for (int p = 0; p < 4; p++) {
		pci_cfg_write(m->isa.f, PIIX3_PIRQRC + p, 1, pirq_irq[p]);
		elcr |= 1u << pirq_irq[p];
	}
	if (m->pic) {
		i8259_set_elcr(m->pic, 0,
			       i8259_elcr(m->pic, 0) | (elcr & 0xff));
		i8259_set_elcr(m->pic, 1, i8259_elcr(m->pic, 1) | (elcr >> 8));
	}
}

/* The first free PCI slot from `from` on; -1 if none is. */
static int free_slot(struct machine *m, int from)
{
	for (int d = from; d < 32; d++)
		if (!m->pci->func[d * 8])
			return d;
	return -1;
}

/* Pin A of slot d is PIRQ (d - 1) & 3 (pci.c's swizzle): the Interrupt
 * Line register a kernel without firmware reads. */
static void set_intx_line(struct machine *m, struct pci_func *f, int slot)
{
	pci_cfg_write(f, PCI_INTERRUPT_LINE, 1, pirq_irq[(slot - 1) & 3]);
	m->pci_intx = true;
}

static void vm_msi(void *opaque, uint64_t addr, uint32_t data)
{
	vm_signal_msi(opaque, addr, data);
}

static int kvm_ioeventfd(void *opaque, uint64_t gpa, unsigned len, int fd,
			 bool assign)
{
	return vm_ioeventfd(opaque, gpa, len, fd, assign);
}

static int kvm_msi_routes(void *opaque, const struct msi_route *route,
			  const bool *used, unsigned n)
{
	return vm_set_msi_routes(opaque, route, used, n);
}

static int kvm_irqfd(void *opaque, int fd, unsigned gsi, bool assign)
{
	return vm_irqfd(opaque, fd, gsi, assign);
}

/* How a virtio function with nq queues is wired: MSI-X only with the
 * in-kernel irqchip (without it the guest has no local APIC to take
 * MSIs), its vectors through irqfds x with irqfd=on. */
static struct virtio_pci_wiring virtio_wiring(struct machine *m, unsigned nq,
					      struct msix_irqfd *x)
{
	struct virtio_pci_wiring w = {0};
	if (!m->vm->cfg.kernel_irqchip)
		return w;
	w.msi = (struct msi_sink){vm_msi, m->vm};
	if (m->vm->cfg.irqfd) {
		if (!m->irqfd.ops.set_routes) {
			struct irqfd_ops ops = {kvm_msi_routes, kvm_irqfd,
						m->vm};
			irqfd_router_init(&m->irqfd, &ops);
		}
		msix_irqfd_init(x, &m->irqfd, nq + 1);
		w.vectors = (struct msix_vector_sink){msix_irqfd_send, x};
	}
	return w;
}

/* -machine ioeventfd=on: queue q's kicks come through an eventfd that KVM
 * signals (vmm/ioeventfd.h); the wiring keeps its registration at the
 * notify register's address. e is an array, one per queue. */
static int virtio_ioeventfd(struct machine *m, struct virtio_dev *vd,
			    struct vq_ioeventfd *e, unsigned nq,
			    struct virtio_pci_wiring *w)
{
	struct vm *vm = m->vm;
	struct ioeventfd_ops ops = {kvm_ioeventfd, vm};
	for (unsigned q = 0; q < nq; q++)
		if (vq_ioeventfd_init(&e[q], &vm->dm, vd, q, &ops))
			return -1;
	w->notify_moved = vq_ioeventfd_notify_moved;
	w->opaque = e;
	return 0;
}

/* virtio-net-pci on the NIC's slot, its TAP in vnet header mode when the
 * kernel gave that. */
static struct pci_func *virtio_nic_attach(struct machine *m,
					  struct machine_nic *n, int slot)
{
	struct vm *vm = m->vm;
	struct virtio_net_opts vo = {.vnet_hdr = n->vnet_hdr,
				     .offloads =
					 n->vnet_hdr ? tap_offloads(n->tap) : 0,
				     .link_up = n->tap != NULL};
	memcpy(vo.mac, n->cfg.mac, sizeof(vo.mac));
	n->vn = virtio_net_new(&vo, (struct net_backend){&nic_cable_ops, n},
			       &vm->gm);
	if (!n->vn)
		return NULL;
	struct virtio_pci_wiring w = virtio_wiring(m, 2, &n->irqfd);
	if (vm->cfg.ioeventfd &&
	    virtio_ioeventfd(m, virtio_net_dev(n->vn), n->ioev, 2, &w)) {
		(void)err("virtio-net %s: cannot set up its ioeventfds\n",
			  n->cfg.ifname);
		return NULL;
	}
	if (n->tap)
		tap_set_max_frame(n->tap, NET_MAX_GSO_FRAME);
	return virtio_net_attach_pci(n->vn, m->pci, slot, &w);
}

/* The RTL8029's I/O BAR moved: its data port zone follows. */
static void ne2k_bar_moved(void *dev, int bar, uint32_t addr, bool mapped)
{
	struct machine_nic *n = dev;
	if (bar == 0)
		coalesced_zone_move(&n->data_zone, addr, mapped);
}

static const struct pci_cfg_ops ne2k_cfg_ops = {.bar_moved = ne2k_bar_moved};

static int nic_attach(struct machine *m, struct machine_nic *n, int *slot)
{
	struct vm *vm = m->vm;
	if (n->cfg.model == NIC_VIRTIO_NET) {
		n->pci = virtio_nic_attach(m, n, *slot);
		if (!n->pci)
			return err("cannot create virtio-net-pci in PCI slot "
				   "%d\n",
				   *slot);
		n->slot = *slot;
		set_intx_line(m, n->pci, (*slot)++);
		if (n->tap && tap_start(n->tap, &vm->dm, &cable_nic_ops, n))
			return err("tap %s: cannot watch it\n", n->cfg.ifname);
		return 0;
	}
	n->ne = ne2000_new(n->cfg.mac, (struct net_backend){&nic_cable_ops, n});
	if (!n->ne)
		return err("cannot create NIC %s\n", n->cfg.ifname);
	/* A frame goes out through the data port one word per write; KVM
	 * buffers those writes (vmm/coalesced.h) and the driver's next read
	 * of ISR exits and finds them drained. */
	coalesced_zone_init(&n->data_zone, &vm->coalesced, true, NE_DATA, 8);
	if (n->cfg.model == NIC_NE2K_ISA) {
		if (ne2000_attach_isa(n->ne, &vm->dm.io, NE2000_ISA_BASE,
				      &m->isa_irq, NE2000_ISA_IRQ))
			return err("cannot put the NE2000 at 0x%x\n",
				   NE2000_ISA_BASE);
		coalesced_zone_move(&n->data_zone, NE2000_ISA_BASE, true);
	} else {
		n->pci = ne2000_attach_pci(n->ne, m->pci, *slot);
		if (!n->pci)
			return err("PCI slot %d is taken\n", *slot);
		pci_set_cfg_ops(n->pci, &ne2k_cfg_ops, n);
		n->slot = *slot;
		set_intx_line(m, n->pci, *slot);
		(*slot)++;
	}
	if (n->tap && tap_start(n->tap, &vm->dm, &cable_nic_ops, n))
		return err("tap %s: cannot watch it\n", n->cfg.ifname);
	return 0;
}

static int net_devices(struct machine *m)
{
	int slot = MACHINE_NIC_SLOT;
	for (unsigned i = 0; i < m->nnics; i++)
		if (nic_attach(m, &m->nic[i], &slot))
			return -1;
	return 0;
}

/* --- virtio ---------------------------------------------------------- */

/* virtio-blk-pci functions, in command-line order, in the free PCI slots
 * after the NICs. */
static int virtio_devices(struct machine *m, const struct machine_opts *o)
{
	struct vm *vm = m->vm;
	for (unsigned i = 0; i < o->drives.nvblk; i++) {
		struct virtio_pci_wiring w =
		    virtio_wiring(m, 1, &m->vblk_irqfd[i]);
		const struct vblk_config *c = &o->drives.vblk[i];
		int slot = free_slot(m, MACHINE_NIC_SLOT);
		if (slot < 0)
			return err("no free PCI slot for virtio-blk\n");
		m->vblk[i] =
		    virtio_blk_new(m->other_blk[c->drive], &vm->gm, c->serial);
		if (!m->vblk[i])
			return err("cannot create virtio-blk %u\n", i);
		m->nvblk = i + 1;
		if (vm->cfg.ioeventfd &&
		    virtio_ioeventfd(m, virtio_blk_dev(m->vblk[i]),
				     m->vblk_ioev[i], 1, &w))
			return err("virtio-blk %u: cannot set up its "
				   "ioeventfd\n",
				   i);
		struct pci_func *f =
		    virtio_blk_attach_pci(m->vblk[i], m->pci, slot, &w);
		if (!f)
			return err("PCI slot %d is taken\n", slot);
		m->vblk_slot[i] = slot;
		set_intx_line(m, f, slot);
	}
	return 0;
}

static void net_fini(struct machine *m)
{
	for (unsigned i = 0; i < m->nnics; i++) {
		struct machine_nic *n = &m->nic[i];
		tap_close(n->tap); /* no more frames for the NIC */
		n->tap = NULL;
		if (!n->vn)
			continue;
		for (unsigned q = 0; q < 2; q++)
			if (n->ioev[q].vd) /* vq_ioeventfd_init() ran */
				vq_ioeventfd_fini(&n->ioev[q]);
		virtio_net_free(n->vn);
		n->vn = NULL;
		msix_irqfd_fini(&n->irqfd);
	}
	pcap_dump_close(m->netdump);
	m->netdump = NULL;
}

static void vblk_stats_print(struct machine *m, FILE *f)
{
	for (unsigned i = 0; i < m->nvblk; i++) {
		const struct virtio_blk_stats *s = virtio_blk_stats(m->vblk[i]);
		const struct virtio_dev *vd = virtio_blk_dev(m->vblk[i]);
		fprintf(f,
			"  virtio-blk 00:%02x.0: %llu reads (%llu bytes), %llu "
			"writes (%llu bytes), %llu flushes, %llu I/O errors, "
			"%llu unsupported; %llu kicks, %llu interrupts\n",
			m->vblk_slot[i], (unsigned long long)s->reads,
			(unsigned long long)s->read_bytes,
			(unsigned long long)s->writes,
			(unsigned long long)s->write_bytes,
			(unsigned long long)s->flushes,
			(unsigned long long)s->ioerrs,
			(unsigned long long)s->unsupported,
			(unsigned long long)vd->kicks,
			(unsigned long long)vd->interrupts);
	}
}

static void vnet_stats_print(const struct machine_nic *n, unsigned i, FILE *f)
{
	const struct virtio_net_stats *s = virtio_net_stats(n->vn);
	const struct virtio_dev *vd = virtio_net_dev(n->vn);
	const uint8_t *a = n->cfg.mac;
	fprintf(
	    f,
	    "  net%u virtio-net-pci 00:%02x.0 "
	    "%02x:%02x:%02x:%02x:%02x:%02x on %s%s: tx %llu frames %llu "
	    "bytes %llu dropped; rx %llu frames %llu bytes, %llu dropped, "
	    "%llu stalls (no guest buffers), %llu lost to resets; %llu "
	    "kicks, %llu interrupts\n",
	    i, n->slot, a[0], a[1], a[2], a[3], a[4], a[5],
	    n->tap ? tap_ifname(n->tap) : "(no cable)",
	    n->vnet_hdr ? " (vnet header)" : "",
	    (unsigned long long)s->tx_frames, (unsigned long long)s->tx_bytes,
	    (unsigned long long)s->tx_dropped, (unsigned long long)s->rx_frames,
	    (unsigned long long)s->rx_bytes, (unsigned long long)s->rx_dropped,
	    (unsigned long long)s->rx_stalls,
	    (unsigned long long)s->rx_reset_drops,
	    (unsigned long long)vd->kicks, (unsigned long long)vd->interrupts);
}

static void ne2000_stats_print(const struct machine_nic *n, unsigned i, FILE *f)
{
	const struct ne2000_stats *s = ne2000_stats(n->ne);
	const uint8_t *a = n->cfg.mac;
	fprintf(
	    f,
	    "  net%u %s %02x:%02x:%02x:%02x:%02x:%02x on %s: "
	    "tx %llu frames %llu bytes %llu errors; "
	    "rx %llu frames %llu bytes, %llu filtered, %llu "
	    "dropped (%llu ring full)\n",
	    i, netcfg_model_name(n->cfg.model), a[0], a[1], a[2], a[3], a[4],
	    a[5], n->tap ? tap_ifname(n->tap) : "(no cable)",
	    (unsigned long long)s->tx_frames, (unsigned long long)s->tx_bytes,
	    (unsigned long long)s->tx_errors, (unsigned long long)s->rx_frames,
	    (unsigned long long)s->rx_bytes, (unsigned long long)s->rx_filtered,
	    (unsigned long long)s->rx_dropped,
	    (unsigned long long)s->rx_overflows);
}

static void tap_stats_print(const struct machine_nic *n, unsigned i, FILE *f)
{
	const struct tap_stats *t = tap_stats(n->tap);
	fprintf(
	    f,
	    "  net%u tap %s: read %llu frames %llu bytes (%llu "
	    "refused by the NIC, %llu oversize, %llu pauses, %llu "
	    "errors); wrote %llu frames %llu bytes (%llu dropped, "
	    "%llu errors)\n",
	    i, tap_ifname(n->tap), (unsigned long long)t->rx_frames,
	    (unsigned long long)t->rx_bytes, (unsigned long long)t->rx_refused,
	    (unsigned long long)t->rx_oversize,
	    (unsigned long long)t->rx_pauses, (unsigned long long)t->rx_errors,
	    (unsigned long long)t->tx_frames, (unsigned long long)t->tx_bytes,
	    (unsigned long long)t->tx_dropped,
	    (unsigned long long)t->tx_errors);
}

/* irqfd=on: how many interrupts each function sent through its
 * eventfds, and how many fell back to KVM_SIGNAL_MSI. */
static void irqfd_stats_print(struct machine *m, FILE *f)
{
	if (!m->irqfd.ops.set_routes)
		return;
	fprintf(f, "  irqfd: %llu routing updates%s;",
		(unsigned long long)m->irqfd.commits,
		m->irqfd.failed ? " (refused: off)" : "");
	for (unsigned i = 0; i < m->nvblk; i++)
		fprintf(f, " virtio-blk 00:%02x.0 %llu/%llu", m->vblk_slot[i],
			(unsigned long long)m->vblk_irqfd[i].fired,
			(unsigned long long)m->vblk_irqfd[i].fallbacks);
	for (unsigned i = 0; i < m->nnics; i++)
		if (m->nic[i].vn)
			fprintf(f, " net%u %llu/%llu", i,
				(unsigned long long)m->nic[i].irqfd.fired,
				(unsigned long long)m->nic[i].irqfd.fallbacks);
	fprintf(f, " (eventfd/KVM_SIGNAL_MSI)\n");
}

void machine_stats_print(struct machine *m, FILE *f)
{
	dm_lock(&m->vm->dm);
	vblk_stats_print(m, f);
	irqfd_stats_print(m, f);
	for (unsigned i = 0; i < m->nnics; i++) {
		const struct machine_nic *n = &m->nic[i];
		if (n->vn)
			vnet_stats_print(n, i, f);
		else if (n->ne)
			ne2000_stats_print(n, i, f);
		if (n->tap)
			tap_stats_print(n, i, f);
	}
	dm_unlock(&m->vm->dm);
}

/* The VGA's option ROM, before KVM (QEMU: "failed to find romfile"). */
static int open_vga_rom(struct machine *m, const struct machine_opts *o)
{
	char e[256];
	if (!o->vga || !o->vga_rom)
		return 0;
	m->vga_rom = loader_read_file(o->vga_rom, "-vga std: VGA BIOS",
				      &m->vga_rom_len, e, sizeof(e));
	if (!m->vga_rom)
		return err("%s\n", e);
	return 0;
}

int machine_prepare(struct machine *m, struct vm *vm,
		    const struct machine_opts *o)
{
	memset(m, 0, sizeof(*m));
	m->vm = vm;
	m->a20 = true;
	return open_chardevs(m, o) || open_images(m, o) || open_net(m, o) ||
		       open_fw_cfg(m, o) || open_vga_rom(m, o)
		   ? -1
		   : 0;
}

int machine_init(struct machine *m, const struct machine_opts *o)
{
	if (platform_devices(m, o) || pci_devices(m) || vga_devices(m, o) ||
	    ide_devices(m, o) || net_devices(m) || virtio_devices(m, o))
		return -1;
	if (m->pci_intx)
		pci_irq_defaults(m);
	return 0;
}

void machine_fini(struct machine *m)
{
	/* In-flight block requests complete before the images close. */
	if (m->ide)
		ide_free(m->ide);
	m->ide = NULL;
	display_free(m->display); /* the window closes */
	m->display = NULL;
	free(m->vga_rom);
	m->vga_rom = NULL;
	net_fini(m);
	free_user_fw_cfg(m);
	/* Their in-flight requests complete before the images close. */
	for (unsigned i = 0; i < m->nvblk; i++) {
		if (m->vm->cfg.ioeventfd)
			vq_ioeventfd_fini(m->vblk_ioev[i]);
		virtio_blk_free(m->vblk[i]);
		m->vblk[i] = NULL;
		msix_irqfd_fini(&m->vblk_irqfd[i]);
	}
	m->nvblk = 0;
	for (unsigned i = 0; i < DRIVE_MAX_OTHER; i++) {
		if (m->other_blk[i])
			blk_close(m->other_blk[i]);
		m->other_blk[i] = NULL;
	}
	for (int i = 0; i < IDE_SLOTS; i++) {
		if (m->atapi[i])
			atapi_free(m->atapi[i]);
		if (m->blk[i])
			blk_close(m->blk[i]);
		m->atapi[i] = NULL;
		m->blk[i] = NULL;
	}
	/* Devices go with the process; the terminal must be restored. */
	if (m->serial)
		chardev_close(m->serial);
	if (m->debugcon)
		chardev_close(m->debugcon);
	m->serial = m->debugcon = NULL;
}
