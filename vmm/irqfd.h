/*
 * Virtio MSI-X vectors through KVM_IRQFD (-machine irqfd=on, with
 * irqchip=kernel). Each vector of a function gets an eventfd, bound with
 * KVM_IRQFD to a GSI of its own, and that GSI is routed (KVM_SET_GSI_ROUTING)
 * as an MSI carrying the vector's message. Sending the interrupt is then a
 * write to the eventfd: KVM injects it without an ioctl from us, and
 * anything that can write an eventfd (another thread, another process) can
 * raise it.
 *
 * Routes follow the MSI-X table lazily: a vector's route is made the first
 * time it fires, and when it fires with a message different from its
 * route's (the guest rewrote the table entry: a new CPU affinity), the
 * route is updated first. Linux rewrites an entry with three dword writes
 * while it is masked; updating at the first interrupt after that costs one
 * KVM_SET_GSI_ROUTING instead of three, and none for vectors never used.
 *
 * What cannot be had (no free route, routing or KVM_IRQFD refused) makes
 * that vector fall back to KVM_SIGNAL_MSI (the caller's msi_sink), with one
 * warning line; a refused KVM_SET_GSI_ROUTING turns the whole router off.
 * The interrupt is never lost.
 */
#ifndef MINIVMM_VMM_IRQFD_H
#define MINIVMM_VMM_IRQFD_H

#include <stdbool.h>
#include <stdint.h>

#define IRQFD_GSI_BASE	  24 /* after the IOAPIC's pins 0-23 */
#define IRQFD_MAX_ROUTES  64
#define IRQFD_MAX_VECTORS 9 /* VIRTIO_PCI_MAX_VECTORS */

struct msi_route {
	uint64_t addr;
	uint32_t data;
};

/* The KVM side; vmm/kvm.c, faked by tests. Both return 0 or -errno. */
struct irqfd_ops {
	/* The VM's whole MSI routing: GSI IRQFD_GSI_BASE + i carries
	 * route[i] for each i < n with used[i] (the irqchip's own pins are
	 * the caller's to keep). */
	int (*set_routes)(void *opaque, const struct msi_route *route,
			  const bool *used, unsigned n);
	/* KVM_IRQFD: fd raises gsi (assign), or no longer does. */
	int (*irqfd)(void *opaque, int fd, unsigned gsi, bool assign);
	void *opaque;
};

/* One per VM: the GSIs it hands out. */
struct irqfd_router {
	struct irqfd_ops ops;
	struct msi_route route[IRQFD_MAX_ROUTES];
	bool used[IRQFD_MAX_ROUTES];
	bool failed; /* routing refused: everything falls back */
	bool warned;
	uint64_t commits; /* KVM_SET_GSI_ROUTING calls */
};

struct irqfd_vector {
	int fd;	   /* eventfd, -1 until the vector first fires */
	int slot;  /* route index, -1: none */
	bool dead; /* could not be bound: always falls back */
};

/* One per virtio function with MSI-X. */
struct msix_irqfd {
	struct irqfd_router *r;
	unsigned nvec;
	struct irqfd_vector v[IRQFD_MAX_VECTORS];
	uint64_t fired;	    /* eventfd writes */
	uint64_t fallbacks; /* left to KVM_SIGNAL_MSI */
};

void irqfd_router_init(struct irqfd_router *r, const struct irqfd_ops *ops);

/* nvec vectors (at most IRQFD_MAX_VECTORS) routed through r. */
void msix_irqfd_init(struct msix_irqfd *x, struct irqfd_router *r,
		     unsigned nvec);
/* A struct msix_vector_sink's send (opaque = x): true when the vector's
 * eventfd was signalled. Device-model thread, lock held. */
bool msix_irqfd_send(void *opaque, unsigned vector, uint64_t addr,
		     uint32_t data);
/* Unbinds and closes every eventfd, frees the routes (the next commit
 * drops them). */
void msix_irqfd_fini(struct msix_irqfd *x);

#endif
