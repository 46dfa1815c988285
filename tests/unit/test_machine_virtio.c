/*
 * virtio-blk in the PC machine without KVM: the -drive/-device options
 * parsed as main.c does, vm_prepare() + machine_prepare() +
 * machine_init() as for a real run (no vm_create()), then the functions
 * found on the PCI bus, their interrupt wiring, and one read from each
 * image through the virtio ring in guest RAM.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hw/pci.h"
#include "hw/piix3.h"
#include "hw/virtio_blk.h"
#include "hw/virtio_net.h"
#include "ioreq/bytes.h"
#include "vmm/backend/tap.h"
#include "vmm/machine.h"
#include "vmm/vm.h"

#define BAR   0xfe000000u
#define DESC  0x10000u
#define AVAIL 0x11000u
#define USED  0x12000u
#define HDR   0x13000u
#define DATA  0x14000u

static char dir[64];
static char paths[2][96];

static void make_images(void)
{
	strcpy(dir, "/tmp/vmachine.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	for (int i = 0; i < 2; i++) {
		snprintf(paths[i], sizeof(paths[i]), "%s/d%d.img", dir, i);
		int fd = open(paths[i], O_CREAT | O_RDWR | O_TRUNC, 0644);
		cr_assert_geq(fd, 0);
		char sector[512];
		memset(sector, 'A' + i, sizeof(sector));
		for (int s = 0; s < 128; s++)
			cr_assert_eq(write(fd, sector, 512), 512);
		close(fd);
	}
}

static void remove_images(void)
{
	for (int i = 0; i < 2; i++)
		unlink(paths[i]);
	rmdir(dir);
}

struct rig {
	struct vm vm;
	struct machine m;
	struct machine_opts mo;
};

static void build(struct rig *r, bool kernel_irqchip, bool ioeventfd)
{
	char err[256] = "", spec[2][160];
	memset(r, 0, sizeof(*r));
	r->mo.serial = r->mo.debugcon = "none";
	snprintf(spec[0], sizeof(spec[0]), "file=%s,if=virtio,format=raw",
		 paths[0]);
	snprintf(spec[1], sizeof(spec[1]), "file=%s,if=none,id=disk1",
		 paths[1]);
	cr_assert_eq(drive_parse(&r->mo.drives, spec[0], err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(
	    drive_device_parse(&r->mo.drives,
			       "virtio-blk-pci,drive=disk1,serial=SER1", err,
			       sizeof(err)),
	    0, "%s", err);
	cr_assert_eq(
	    drive_device_parse(&r->mo.drives, "ne2k_pci", err, sizeof(err)), 1);
	cr_assert_eq(drive_parse(&r->mo.drives, spec[1], err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(drive_finish(&r->mo.drives, err, sizeof(err)), 0, "%s",
		     err);
	struct vm_config cfg = {.ram_size = 16u << 20,
				.ioreq_mode = DM_MODE_INLINE,
				.kernel_irqchip = kernel_irqchip,
				.ioeventfd = ioeventfd};
	cr_assert_eq(vm_prepare(&r->vm, &cfg), 0);
	r->vm.nvcpus = 1; /* what vm_create() would leave; no vCPU fd */
	r->vm.vcpus[0].fd = -1;
	cr_assert_eq(machine_prepare(&r->m, &r->vm, &r->mo), 0);
	cr_assert_eq(machine_init(&r->m, &r->mo), 0);
}

static void teardown_rig(struct rig *r)
{
	machine_fini(&r->m);
	vm_destroy(&r->vm);
	dm_destroy(&r->vm.dm);
}

static uint32_t cfg_rd(struct rig *r, int dev, unsigned off, unsigned size)
{
	return pci_bus_cfg_read(r->m.pci, 0, dev, 0, off, size);
}

static void cfg_wr(struct rig *r, int dev, unsigned off, unsigned size,
		   uint32_t v)
{
	pci_bus_cfg_write(r->m.pci, 0, dev, 0, off, size, v);
}

static void wr(struct rig *r, uint64_t a, unsigned size, uint64_t v)
{
	bus_access(&r->vm.dm.mmio, a, size, true, &v, 1);
}

static uint64_t rd(struct rig *r, uint64_t a, unsigned size)
{
	uint64_t v = 0;
	bus_access(&r->vm.dm.mmio, a, size, false, &v, 1);
	return v;
}

static bool has_msix(struct rig *r, int dev)
{
	for (unsigned p = cfg_rd(r, dev, PCI_CAP_PTR, 1); p;
	     p = cfg_rd(r, dev, p + 1, 1))
		if (cfg_rd(r, dev, p, 1) == PCI_CAP_ID_MSIX)
			return true;
	return false;
}

/* Sector 3 of the disk in slot dev through its one queue, the way the
 * test in test_virtio_blk.c drives it; returns the first data byte. */
static uint8_t read_sector(struct rig *r, int dev, struct blk *b)
{
	uint8_t *ram = r->vm.ram;
	const uint64_t bar = BAR + 0x100000u * dev; /* one BAR per function */
	memset(ram + DESC, 0, 0x5000);
	cfg_wr(r, dev, PCI_BAR0 + 16, 4, bar);
	cfg_wr(r, dev, PCI_COMMAND, 2, PCI_CMD_MEMORY | PCI_CMD_MASTER);
	wr(r, bar + VIRTIO_PCI_DEVICE_STATUS, 1, 0);
	wr(r, bar + VIRTIO_PCI_DEVICE_STATUS, 1, 3);
	wr(r, bar + VIRTIO_PCI_DRIVER_FEATURE_SELECT, 4, 1);
	wr(r, bar + VIRTIO_PCI_DRIVER_FEATURE, 4, 1);
	wr(r, bar + VIRTIO_PCI_DEVICE_STATUS, 1, 0x0b);
	wr(r, bar + VIRTIO_PCI_QUEUE_SIZE, 2, 8);
	wr(r, bar + VIRTIO_PCI_QUEUE_DESC, 8, DESC);
	wr(r, bar + VIRTIO_PCI_QUEUE_DRIVER, 8, AVAIL);
	wr(r, bar + VIRTIO_PCI_QUEUE_DEVICE, 8, USED);
	wr(r, bar + VIRTIO_PCI_QUEUE_ENABLE, 2, 1);
	wr(r, bar + VIRTIO_PCI_DEVICE_STATUS, 1, 0x0f);
	cr_assert_eq(rd(r, bar + VIRTIO_PCI_DEVICE_STATUS, 1), 0x0f);
	put_le(ram + HDR, 4, VIRTIO_BLK_T_IN);
	put_le(ram + HDR + 8, 8, 3);
	ram[HDR + 16] = 0xee;
	const struct {
		uint64_t a;
		uint32_t len;
		uint16_t fl;
	} d[3] = {{HDR, 16, 1}, {DATA, 512, 3}, {HDR + 16, 1, 2}};
	for (int i = 0; i < 3; i++) {
		put_le(ram + DESC + 16 * i, 8, d[i].a);
		put_le(ram + DESC + 16 * i + 8, 4, d[i].len);
		put_le(ram + DESC + 16 * i + 12, 2, d[i].fl);
		put_le(ram + DESC + 16 * i + 14, 2, i + 1);
	}
	put_le(ram + AVAIL + 2, 2, 1);
	dm_lock(&r->vm.dm);
	wr(r, bar + VIRTIO_PCI_NOTIFY_OFF, 2, 0);
	blk_drain(b);
	dm_unlock(&r->vm.dm);
	cr_assert_eq(get_le(ram + USED + 2, 2), 1);
	cr_assert_eq(ram[HDR + 16], VIRTIO_BLK_S_OK);
	return ram[DATA];
}

Test(machine_virtio, functions_wiring_and_a_read_each)
{
	struct rig *r = calloc(1, sizeof(*r));
	make_images();
	build(r, false, false);
	/* Command-line order in the first free slots (no NICs: 3, 4). */
	cr_assert_eq(r->m.nvblk, 2);
	for (int dev = 3; dev <= 4; dev++) {
		cr_assert_eq(cfg_rd(r, dev, 0, 4), 0x10421af4, "slot %d", dev);
		cr_assert_eq(cfg_rd(r, dev, PCI_INTERRUPT_PIN, 1), 1);
		/* Slot 3 INTA = PIRQC, slot 4 = PIRQD: IRQ 11 both. */
		cr_assert_eq(cfg_rd(r, dev, PCI_INTERRUPT_LINE, 1), 11);
		cr_assert(!has_msix(r, dev), "MSI-X without a local APIC");
	}
	cr_assert_eq(cfg_rd(r, 5, 0, 4), 0xffffffff);
	cr_assert_eq(piix3_pirq_route(&r->m.isa, 2), 11);
	cr_assert_eq(read_sector(r, 3, r->m.other_blk[0]), 'A');
	cr_assert_eq(read_sector(r, 4, r->m.other_blk[1]), 'B');
	cr_assert_eq(virtio_blk_stats(r->m.vblk[0])->reads, 1);
	cr_assert_eq(virtio_blk_stats(r->m.vblk[1])->reads, 1);
	teardown_rig(r);
	/* With the in-kernel irqchip MSI-X is offered. */
	build(r, true, false);
	cr_assert(has_msix(r, 3));
	cr_assert(has_msix(r, 4));
	teardown_rig(r);
	/* ioeventfd=on with no KVM to take the registration: one warning,
	 * and the kicks take the MMIO path. */
	build(r, false, true);
	cr_assert_geq(r->m.vblk_ioev[0][0].fd, 0);
	cr_assert_eq(read_sector(r, 3, r->m.other_blk[0]), 'A');
	cr_assert(r->m.vblk_ioev[0][0].warned);
	cr_assert(!r->m.vblk_ioev[0][0].assigned);
	cr_assert_eq(virtio_blk_stats(r->m.vblk[0])->reads, 1);
	teardown_rig(r);
	remove_images();
	free(r);
}

/* virtio-net in the machine: -net nic,model=virtio (no cable) and -nic
 * tap,model=virtio-net-pci on a real TAP where this test may create one.
 * NICs take the first slots, virtio-blk the ones after. */
static void build_net(struct rig *r, const char *const *net, int n,
		      bool kernel_irqchip, bool ioeventfd, bool irqfd)
{
	char err[256] = "";
	memset(r, 0, sizeof(*r));
	r->mo.serial = r->mo.debugcon = "none";
	for (int i = 0; i + 1 < n; i += 2)
		cr_assert_eq(netcfg_parse(&r->mo.net, net[i], net[i + 1], err,
					  sizeof(err)),
			     0, "%s", err);
	cr_assert_eq(netcfg_finish(&r->mo.net, err, sizeof(err)), 0, "%s", err);
	char spec[160];
	snprintf(spec, sizeof(spec), "file=%s,if=virtio", paths[0]);
	cr_assert_eq(drive_parse(&r->mo.drives, spec, err, sizeof(err)), 0);
	cr_assert_eq(drive_finish(&r->mo.drives, err, sizeof(err)), 0);
	struct vm_config cfg = {.ram_size = 16u << 20,
				.ioreq_mode = DM_MODE_INLINE,
				.kernel_irqchip = kernel_irqchip,
				.ioeventfd = ioeventfd,
				.irqfd = irqfd};
	cr_assert_eq(vm_prepare(&r->vm, &cfg), 0);
	r->vm.nvcpus = 1;
	r->vm.vcpus[0].fd = -1;
	cr_assert_eq(machine_prepare(&r->m, &r->vm, &r->mo), 0);
	cr_assert_eq(machine_init(&r->m, &r->mo), 0);
}

Test(machine_virtio, virtio_net_functions_and_wiring)
{
	struct rig *r = calloc(1, sizeof(*r));
	make_images();
	const char *a[] = {
	    "-net",    "nic,model=virtio",
	    "-net",    "nic,model=ne2k_pci,macaddr=52:54:00:00:00:07",
	    "-device", "virtio-net-pci,mac=52:54:00:00:00:08"};
	build_net(r, a, 6, false, false, false);
	cr_assert_eq(r->m.nnics, 3);
	cr_assert_eq(cfg_rd(r, 3, 0, 4), 0x10411af4);
	cr_assert_eq(cfg_rd(r, 4, 0, 4), 0x802910ec);
	cr_assert_eq(cfg_rd(r, 5, 0, 4), 0x10411af4);
	cr_assert_eq(cfg_rd(r, 6, 0, 4), 0x10421af4, "virtio-blk after them");
	cr_assert_eq(cfg_rd(r, 3, PCI_INTERRUPT_LINE, 1), 11);
	cr_assert_eq(cfg_rd(r, 5, PCI_INTERRUPT_LINE, 1), 10);
	cr_assert(!has_msix(r, 3));
	/* No cable: link down, the MAC from the defaults. */
	const uint64_t bar = BAR + 0x100000u * 5;
	cfg_wr(r, 5, PCI_BAR0 + 16, 4, bar);
	cfg_wr(r, 5, PCI_COMMAND, 2, PCI_CMD_MEMORY);
	cr_assert_eq(rd(r, bar + VIRTIO_PCI_DEVICE_OFF + 5, 1), 0x08);
	cr_assert_eq(rd(r, bar + VIRTIO_PCI_DEVICE_OFF + 6, 2), 0);
	cr_assert(!r->m.nic[0].vnet_hdr);
	teardown_rig(r);
	/* irqchip=kernel: MSI-X; ioeventfd=on: one eventfd per queue. */
	build_net(r, a, 2, true, true, false);
	cr_assert(has_msix(r, 3));
	cr_assert_geq(r->m.nic[0].ioev[0].fd, 0);
	cr_assert_geq(r->m.nic[0].ioev[1].fd, 0);
	cr_assert_null(r->m.nic[0].irqfd.r, "irqfd=off");
	teardown_rig(r);
	/* irqfd=on: each virtio function's vectors go through the router;
	 * with no KVM to route them they fall back, with one warning. */
	build_net(r, a, 2, true, false, true);
	cr_assert_eq(r->m.nic[0].irqfd.r, &r->m.irqfd);
	cr_assert_eq(r->m.nic[0].irqfd.nvec, 3);
	cr_assert_eq(r->m.vblk_irqfd[0].r, &r->m.irqfd);
	cr_assert_eq(r->m.vblk_irqfd[0].nvec, 2);
	cr_assert_not(msix_irqfd_send(&r->m.nic[0].irqfd, 0, 0xfee00000, 1));
	cr_assert(r->m.irqfd.failed);
	teardown_rig(r);
	/* A real TAP in vnet header mode, where one can be created. */
	const char *t[] = {"-nic", "tap,ifname=mvtm%d,model=virtio-net-pci"};
	char err[256];
	struct tap *probe = tap_open("mvtp%d", 0, err, sizeof(err));
	if (probe) {
		tap_close(probe);
		build_net(r, t, 2, false, false, false);
		cr_assert(r->m.nic[0].vnet_hdr);
		cfg_wr(r, 3, PCI_BAR0 + 16, 4, bar);
		cfg_wr(r, 3, PCI_COMMAND, 2, PCI_CMD_MEMORY);
		cr_assert_eq(rd(r, bar + VIRTIO_PCI_DEVICE_OFF + 6, 2), 1,
			     "link up");
		wr(r, bar + VIRTIO_PCI_DEVICE_FEATURE_SELECT, 4, 0);
		cr_assert(rd(r, bar + VIRTIO_PCI_DEVICE_FEATURE, 4) &
			      (1u << VIRTIO_NET_F_GUEST_TSO4),
			  "the TAP's offloads are offered");
		teardown_rig(r);
	} else {
		cr_log_warn("real TAP part skipped: %s", err);
	}
	remove_images();
	free(r);
}
