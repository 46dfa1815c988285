/*
 * Virtio MSI-X through KVM_IRQFD (vmm/irqfd.c) with a fake KVM that keeps
 * the routing table and the irqfd bindings: routes made at a vector's
 * first interrupt, updated when the guest rewrites its table entry, GSIs
 * distinct, the eventfd signalled instead of KVM_SIGNAL_MSI, and every
 * failure falling back to the msi_sink. Then the same through the virtio
 * PCI transport's MSI-X table, masking included.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hw/pci.h"
#include "hw/virtio_pci.h"
#include "tests/unit/fake_guest.h"
#include "tests/unit/fake_pc.h"
#include "vmm/irqfd.h"

struct fake_kvm {
	int routes_rc, irqfd_rc;
	unsigned commits, assigns, deassigns;
	struct msi_route route[IRQFD_MAX_ROUTES];
	bool used[IRQFD_MAX_ROUTES];
	int fd_of_gsi[IRQFD_GSI_BASE + IRQFD_MAX_ROUTES];
};

static int fake_routes(void *opaque, const struct msi_route *route,
		       const bool *used, unsigned n)
{
	struct fake_kvm *k = opaque;
	k->commits++;
	cr_assert_eq(n, IRQFD_MAX_ROUTES);
	if (k->routes_rc)
		return k->routes_rc;
	memcpy(k->route, route, sizeof(k->route));
	memcpy(k->used, used, sizeof(k->used));
	return 0;
}

static int fake_irqfd(void *opaque, int fd, unsigned gsi, bool assign)
{
	struct fake_kvm *k = opaque;
	cr_assert_geq(gsi, IRQFD_GSI_BASE);
	cr_assert_lt(gsi, IRQFD_GSI_BASE + IRQFD_MAX_ROUTES);
	if (!assign) {
		cr_assert_eq(k->fd_of_gsi[gsi], fd, "unbinding what was not");
		k->fd_of_gsi[gsi] = 0;
		k->deassigns++;
		return 0;
	}
	if (k->irqfd_rc)
		return k->irqfd_rc;
	cr_assert_eq(k->fd_of_gsi[gsi], 0, "two eventfds on GSI %u", gsi);
	k->fd_of_gsi[gsi] = fd;
	k->assigns++;
	return 0;
}

static struct fake_kvm kvm;
static struct irqfd_router router;

static void setup(void)
{
	memset(&kvm, 0, sizeof(kvm));
	struct irqfd_ops ops = {fake_routes, fake_irqfd, &kvm};
	irqfd_router_init(&router, &ops);
}

TestSuite(irqfd, .init = setup);

/* What KVM would deliver: the message routed at the GSI fd is bound to,
 * and how many times the fd was signalled (read and reset). */
static uint64_t signalled(int fd)
{
	uint64_t n = 0;
	if (read(fd, &n, sizeof(n)) != sizeof(n))
		return 0;
	return n;
}

static unsigned gsi_of(const struct msix_irqfd *x, unsigned v)
{
	return IRQFD_GSI_BASE + x->v[v].slot;
}

Test(irqfd, route_at_first_interrupt_then_eventfd_only)
{
	struct msix_irqfd x;
	msix_irqfd_init(&x, &router, 3);
	cr_assert_eq(kvm.commits, 0, "nothing before an interrupt");
	cr_assert(msix_irqfd_send(&x, 1, 0xfee00000, 0x4041));
	cr_assert_eq(kvm.commits, 1);
	cr_assert_eq(kvm.assigns, 1);
	unsigned g = gsi_of(&x, 1);
	cr_assert_eq(kvm.fd_of_gsi[g], x.v[1].fd);
	cr_assert(kvm.used[g - IRQFD_GSI_BASE]);
	cr_assert_eq(kvm.route[g - IRQFD_GSI_BASE].addr, 0xfee00000);
	cr_assert_eq(kvm.route[g - IRQFD_GSI_BASE].data, 0x4041);
	cr_assert_eq(signalled(x.v[1].fd), 1);
	/* The same message again: no ioctl, one more signal. */
	cr_assert(msix_irqfd_send(&x, 1, 0xfee00000, 0x4041));
	cr_assert(msix_irqfd_send(&x, 1, 0xfee00000, 0x4041));
	cr_assert_eq(kvm.commits, 1);
	cr_assert_eq(signalled(x.v[1].fd), 2);
	/* The guest moved the vector to another CPU: the route follows,
	 * the GSI and eventfd stay. */
	int fd = x.v[1].fd;
	cr_assert(msix_irqfd_send(&x, 1, 0xfee01000, 0x4042));
	cr_assert_eq(kvm.commits, 2);
	cr_assert_eq(kvm.assigns, 1);
	cr_assert_eq(x.v[1].fd, fd);
	cr_assert_eq(gsi_of(&x, 1), g);
	cr_assert_eq(kvm.route[g - IRQFD_GSI_BASE].addr, 0xfee01000);
	cr_assert_eq(kvm.route[g - IRQFD_GSI_BASE].data, 0x4042);
	cr_assert_eq(signalled(fd), 1);
	/* Another vector, another function: GSIs of their own; the first
	 * route is still in each commit. */
	struct msix_irqfd y;
	msix_irqfd_init(&y, &router, 2);
	cr_assert(msix_irqfd_send(&x, 0, 0xfee00000, 0x4050));
	cr_assert(msix_irqfd_send(&y, 0, 0xfee00000, 0x4060));
	cr_assert_neq(gsi_of(&x, 0), g);
	cr_assert_neq(gsi_of(&y, 0), g);
	cr_assert_neq(gsi_of(&y, 0), gsi_of(&x, 0));
	cr_assert(kvm.used[g - IRQFD_GSI_BASE]);
	cr_assert_eq(x.fired, 5);
	cr_assert_eq(x.fallbacks, 0);
	/* A vector past the table is not this code's. */
	cr_assert_not(msix_irqfd_send(&y, 2, 0xfee00000, 1));
	/* Teardown unbinds each eventfd. */
	msix_irqfd_fini(&x);
	msix_irqfd_fini(&y);
	cr_assert_eq(kvm.deassigns, 3);
	for (unsigned i = 0; i < IRQFD_MAX_ROUTES; i++)
		cr_assert_not(router.used[i]);
}

Test(irqfd, refused_routing_falls_back_for_good)
{
	struct msix_irqfd x;
	msix_irqfd_init(&x, &router, 3);
	kvm.routes_rc = -EINVAL;
	cr_assert_not(msix_irqfd_send(&x, 0, 0xfee00000, 0x4041));
	cr_assert(router.failed);
	cr_assert(router.warned);
	kvm.routes_rc = 0;
	cr_assert_not(msix_irqfd_send(&x, 1, 0xfee00000, 0x4041));
	cr_assert_eq(kvm.commits, 1, "no second try");
	cr_assert_eq(x.fallbacks, 2);
	cr_assert_eq(kvm.assigns, 0);
	msix_irqfd_fini(&x);
}

Test(irqfd, refused_irqfd_kills_that_vector_only)
{
	struct msix_irqfd x;
	msix_irqfd_init(&x, &router, 3);
	kvm.irqfd_rc = -ENOSYS;
	cr_assert_not(msix_irqfd_send(&x, 0, 0xfee00000, 0x4041));
	cr_assert(x.v[0].dead);
	cr_assert_eq(x.v[0].fd, -1);
	cr_assert_not(router.failed);
	for (unsigned i = 0; i < IRQFD_MAX_ROUTES; i++)
		cr_assert_not(router.used[i], "route %u kept", i);
	kvm.irqfd_rc = 0;
	cr_assert_not(msix_irqfd_send(&x, 0, 0xfee00000, 0x4041));
	cr_assert(msix_irqfd_send(&x, 1, 0xfee00000, 0x4042));
	cr_assert_eq(signalled(x.v[1].fd), 1);
	msix_irqfd_fini(&x);
}

Test(irqfd, out_of_routes_falls_back)
{
	static struct msix_irqfd x[IRQFD_MAX_ROUTES / 2 + 1];
	unsigned bound = 0, fell = 0;
	for (unsigned i = 0; i < sizeof(x) / sizeof(x[0]); i++) {
		msix_irqfd_init(&x[i], &router, 2);
		for (unsigned v = 0; v < 2; v++) {
			if (msix_irqfd_send(&x[i], v, 0xfee00000, i * 2 + v))
				bound++;
			else
				fell++;
		}
	}
	cr_assert_eq(bound, IRQFD_MAX_ROUTES);
	cr_assert_eq(fell, 2);
	/* A function going away gives its routes back. */
	msix_irqfd_fini(&x[0]);
	struct msix_irqfd z;
	msix_irqfd_init(&z, &router, 1);
	cr_assert(msix_irqfd_send(&z, 0, 0xfee00000, 0x99));
	msix_irqfd_fini(&z);
	for (unsigned i = 1; i < sizeof(x) / sizeof(x[0]); i++)
		msix_irqfd_fini(&x[i]);
}

/* ---- through the virtio PCI transport ---- */

#define SLOT	 5
#define BAR	 0xfebf0000u
#define MSIX_BAR 0xfebf8000u

struct rig {
	struct fake_pc pc;
	uint8_t *ram;
	struct guest_mem gm;
	struct virtio_dev vd;
	struct virtio_pci vp;
	struct msix_irqfd x;
	unsigned msis; /* through KVM_SIGNAL_MSI */
	uint32_t last_data;
};

static void sink(void *opaque, uint64_t addr, uint32_t data)
{
	struct rig *r = opaque;
	(void)addr;
	r->msis++;
	r->last_data = data;
}

static struct rig *rig_new(void)
{
	struct rig *r = calloc(1, sizeof(*r));
	fake_pc_init(&r->pc);
	r->ram = fake_ram_add(&r->gm, 0, 1 << 20, false);
	cr_assert_eq(virtio_init(&r->vd, NULL, r, &r->gm, 1, 2, 16, 0), 0);
	msix_irqfd_init(&r->x, &router, 3);
	struct virtio_pci_wiring w = {.msi = {sink, r},
				      .vectors = {msix_irqfd_send, &r->x}};
	cr_assert_not_null(
	    virtio_pci_init(&r->vp, &r->vd, r->pc.pb, SLOT, 0x020000, &w));
	pc_cfg_wr(&r->pc, SLOT, PCI_BAR0 + 4 * VIRTIO_PCI_BAR, 4, BAR);
	pc_cfg_wr(&r->pc, SLOT, PCI_BAR0 + 4 * VIRTIO_PCI_MSIX_BAR, 4,
		  MSIX_BAR);
	pc_cfg_wr(&r->pc, SLOT, PCI_COMMAND, 2,
		  PCI_CMD_MEMORY | PCI_CMD_MASTER);
	/* Queue 0 -> vector 1, config -> vector 0; MSI-X on. */
	pc_wr(&r->pc, BAR + VIRTIO_PCI_MSIX_CONFIG, 2, 0);
	pc_wr(&r->pc, BAR + VIRTIO_PCI_QUEUE_SELECT, 2, 0);
	pc_wr(&r->pc, BAR + VIRTIO_PCI_QUEUE_MSIX_VECTOR, 2, 1);
	pc_cfg_wr(&r->pc, SLOT, r->vp.msix_cap + PCI_MSIX_FLAGS, 2,
		  PCI_MSIX_FLAGS_ENABLE);
	return r;
}

static void rig_free(struct rig *r)
{
	virtio_pci_detach(&r->vp);
	msix_irqfd_fini(&r->x);
	fake_pc_fini(&r->pc);
	free(r->ram);
	free(r);
}

static void interrupt(struct rig *r, int q)
{
	r->vd.transport.interrupt(r->vd.transport.opaque, q);
}

Test(irqfd, virtio_pci_vectors_take_the_eventfd)
{
	struct rig *r = rig_new();
	pc_msix_entry(&r->pc, MSIX_BAR, 1, 0xfee00000, 0x4041, false);
	interrupt(r, 0);
	cr_assert_eq(r->msis, 0, "KVM_SIGNAL_MSI used");
	cr_assert_eq(signalled(r->x.v[1].fd), 1);
	unsigned g = gsi_of(&r->x, 1) - IRQFD_GSI_BASE;
	cr_assert_eq(kvm.route[g].data, 0x4041);
	/* Masked: pending, no signal; unmasking sends it. */
	pc_msix_entry(&r->pc, MSIX_BAR, 1, 0xfee00000, 0x4041, true);
	interrupt(r, 0);
	cr_assert_eq(signalled(r->x.v[1].fd), 0);
	/* The guest retargets it while masked (Linux's set_affinity),
	 * then unmasks: the pending interrupt goes to the new message. */
	pc_msix_entry(&r->pc, MSIX_BAR, 1, 0xfee02000, 0x4051, false);
	cr_assert_eq(signalled(r->x.v[1].fd), 1);
	cr_assert_eq(kvm.route[g].addr, 0xfee02000);
	cr_assert_eq(kvm.route[g].data, 0x4051);
	/* The config vector, and a refused routing: the sink takes it. */
	pc_msix_entry(&r->pc, MSIX_BAR, 0, 0xfee00000, 0x4030, false);
	kvm.routes_rc = -ENOMEM;
	interrupt(r, VIRTIO_CONFIG_IRQ);
	cr_assert_eq(r->msis, 1);
	cr_assert_eq(r->last_data, 0x4030);
	interrupt(r, 0); /* even a bound vector: the router is off */
	cr_assert_eq(r->msis, 2);
	cr_assert_eq(r->last_data, 0x4051);
	rig_free(r);
}
