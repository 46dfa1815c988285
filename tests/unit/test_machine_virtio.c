/*
 * virtio-blk in the PC machine without KVM: the -drive/-device options
 * parsed as main.c does, vm_prepare() + machine_prepare() +
 * machine_init() as for a real run (no vm_create()), then the functions
 * found on the PCI bus, their interrupt wiring, and one read from each
 * image through the virtio ring in guest RAM.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <event2/event.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
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
#include "tests/unit/fake_guest.h"
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
	/* One BAR per function. */
	const struct vp_drv d = {&r->vm.dm.mmio, BAR + 0x100000u * dev};
	struct vring_drv vq;
	memset(ram + DESC, 0, 0x5000);
	cfg_wr(r, dev, PCI_BAR0 + 16, 4, d.bar);
	cfg_wr(r, dev, PCI_COMMAND, 2, PCI_CMD_MEMORY | PCI_CMD_MASTER);
	cr_assert_eq(vp_negotiate(&d, VIRTIO_BIT(VIRTIO_F_VERSION_1)), 0x0b);
	vring_init(&vq, ram, 8, DESC, AVAIL, USED);
	vp_queue(&d, 0, &vq);
	vp_driver_ok(&d);
	put_le(ram + HDR, 4, VIRTIO_BLK_T_IN);
	put_le(ram + HDR + 8, 8, 3);
	ram[HDR + 16] = 0xee;
	const struct vring_buf req[3] = {
	    {HDR, 16, false}, {DATA, 512, true}, {HDR + 16, 1, true}};
	vring_post(&vq, 0, req, 3, 0);
	dm_lock(&r->vm.dm);
	vp_kick(&d, 0);
	blk_drain(b);
	dm_unlock(&r->vm.dm);
	cr_assert_eq(vring_used_idx(&vq), 1);
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
	const struct vp_drv d = {&r->vm.dm.mmio, BAR + 0x100000u * 5};
	cfg_wr(r, 5, PCI_BAR0 + 16, 4, d.bar);
	cfg_wr(r, 5, PCI_COMMAND, 2, PCI_CMD_MEMORY);
	cr_assert_eq(vp_rd(&d, VIRTIO_PCI_DEVICE_OFF + 5, 1), 0x08);
	cr_assert_eq(vp_rd(&d, VIRTIO_PCI_DEVICE_OFF + 6, 2), 0);
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
		cfg_wr(r, 3, PCI_BAR0 + 16, 4, d.bar);
		cfg_wr(r, 3, PCI_COMMAND, 2, PCI_CMD_MEMORY);
		cr_assert_eq(vp_rd(&d, VIRTIO_PCI_DEVICE_OFF + 6, 2), 1,
			     "link up");
		vp_wr(&d, VIRTIO_PCI_DEVICE_FEATURE_SELECT, 4, 0);
		cr_assert(vp_rd(&d, VIRTIO_PCI_DEVICE_FEATURE, 4) &
			      (1u << VIRTIO_NET_F_GUEST_TSO4),
			  "the TAP's offloads are offered");
		teardown_rig(r);
	} else {
		cr_log_warn("real TAP part skipped: %s", err);
	}
	remove_images();
	free(r);
}

/* The whole path on a real TAP (root only): the guest's ring -> the TAP in
 * vnet header mode -> the host kernel (a packet socket on the interface),
 * and back into a guest receive buffer through the device-model loop;
 * -net dump records both frames without the header. */
#define ETH_P_TEST 0x88b5

static void eth_frame(uint8_t *f, size_t len, uint8_t tag)
{
	memset(f, 0xff, 6);
	const uint8_t src[6] = {0x02, 0, 0, 0, 0, tag};
	memcpy(f + 6, src, 6);
	f[12] = ETH_P_TEST >> 8;
	f[13] = ETH_P_TEST & 0xff;
	for (size_t i = 14; i < len; i++)
		f[i] = (uint8_t)(i * tag + 1);
}

Test(machine_virtio, virtio_net_on_a_real_tap_both_ways)
{
	char err[256], pcap[96];
	struct tap *probe = tap_open("mvtp%d", 0, err, sizeof(err));
	if (!probe) {
		cr_log_warn("skipped: %s", err);
		return;
	}
	tap_close(probe);
	struct rig *r = calloc(1, sizeof(*r));
	make_images();
	snprintf(pcap, sizeof(pcap), "dump,file=%s/net.pcap", dir);
	const char *pcap_path = pcap + strlen("dump,file=");
	const char *a[] = {"-nic", "tap,ifname=mvte%d,model=virtio", "-net",
			   pcap};
	build_net(r, a, 4, false, false, false);
	const char *ifname = tap_ifname(r->m.nic[0].tap);
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	cr_assert_eq(ioctl(s, SIOCGIFFLAGS, &ifr), 0);
	ifr.ifr_flags |= IFF_UP;
	cr_assert_eq(ioctl(s, SIOCSIFFLAGS, &ifr), 0);
	close(s);
	int ps = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_TEST));
	struct sockaddr_ll sll = {.sll_family = AF_PACKET,
				  .sll_protocol = htons(ETH_P_TEST),
				  .sll_ifindex = (int)if_nametoindex(ifname)};
	cr_assert_eq(bind(ps, (struct sockaddr *)&sll, sizeof(sll)), 0);
	struct timeval tv = {2, 0};
	setsockopt(ps, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

	/* The driver: MRG_RXBUF, both queues of 8, two receive buffers. */
	uint8_t *ram = r->vm.ram;
	const struct vp_drv d = {&r->vm.dm.mmio, BAR + 0x300000u};
	const uint64_t f_drv = VIRTIO_BIT(VIRTIO_F_VERSION_1) |
			       VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF) |
			       VIRTIO_BIT(VIRTIO_NET_F_MAC);
	struct vring_drv vq[2];
	memset(ram + 0x20000, 0, 0x10000);
	cfg_wr(r, 3, PCI_BAR0 + 16, 4, d.bar);
	cfg_wr(r, 3, PCI_COMMAND, 2, PCI_CMD_MEMORY | PCI_CMD_MASTER);
	dm_lock(&r->vm.dm);
	cr_assert_eq(vp_negotiate(&d, f_drv), 0x0b);
	for (unsigned q = 0; q < 2; q++) {
		/* desc, avail 0x1000 after it, used 0x2000 after it */
		uint64_t ring = 0x20000 + 0x4000 * q;
		vring_init(&vq[q], ram, 8, ring, ring + 0x1000, ring + 0x2000);
		vp_queue(&d, q, &vq[q]);
	}
	for (unsigned i = 0; i < 2; i++) {
		struct vring_buf rx = {0x30000 + 0x1000 * i, 2048, true};
		vring_post(&vq[0], i, &rx, 1, 0);
	}
	vp_driver_ok(&d);

	/* Transmit: header and frame in one buffer. */
	uint8_t f[300], g[400];
	eth_frame(f, 200, 5);
	memset(ram + 0x38000, 0, 12);
	memcpy(ram + 0x38000 + 12, f, 200);
	struct vring_buf tx = {0x38000, 212, false};
	vring_post(&vq[1], 0, &tx, 1, 0);
	vp_kick(&d, 1);
	dm_unlock(&r->vm.dm);
	cr_assert_eq(vring_used_idx(&vq[1]), 1);
	cr_assert_eq(recv(ps, g, sizeof(g), 0), 200);
	cr_assert_eq(memcmp(f, g, 200), 0);

	/* Receive: the kernel sends on the TAP, the loop reads it. */
	eth_frame(f, 300, 6);
	cr_assert_eq(
	    sendto(ps, f, 300, 0, (struct sockaddr *)&sll, sizeof(sll)), 300);
	for (int i = 0; i < 400 && !vring_used_idx(&vq[0]); i++) {
		event_base_loop(r->vm.dm.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		usleep(5000);
	}
	cr_assert_eq(vring_used_idx(&vq[0]), 1);
	uint32_t id, len;
	cr_assert(vring_take_used(&vq[0], &id, &len));
	cr_assert_eq(len, 12 + 300);
	cr_assert_eq(get_le(ram + 0x30000 + 10, 2), 1, "num_buffers");
	cr_assert_eq(memcmp(ram + 0x30000 + 12, f, 300), 0);
	const struct virtio_net_stats *st = virtio_net_stats(r->m.nic[0].vn);
	cr_assert_eq(st->tx_frames, 1);
	cr_assert_eq(st->rx_frames, 1);
	close(ps);
	teardown_rig(r);

	/* The dump: two plain Ethernet frames of ETH_P_TEST among whatever
	 * else the host sent on the new interface (IPv6 router
	 * solicitations). */
	FILE *pf = fopen(pcap_path, "rb");
	cr_assert_not_null(pf);
	uint8_t hdr[24], rec[16], buf[2048];
	cr_assert_eq(fread(hdr, 1, 24, pf), 24);
	unsigned seen = 0;
	while (fread(rec, 1, 16, pf) == 16) {
		uint32_t incl = get_le(rec + 8, 4);
		cr_assert_leq(incl, sizeof(buf));
		cr_assert_eq(fread(buf, 1, incl, pf), incl);
		if (incl >= 14 && get_le(buf + 12, 2) == 0xb588) {
			cr_assert_eq(buf[0], 0xff, "a vnet header in the dump");
			cr_assert_eq(incl, seen ? 300u : 200u);
			seen++;
		}
	}
	fclose(pf);
	unlink(pcap_path);
	cr_assert_eq(seen, 2);
	remove_images();
	free(r);
}
