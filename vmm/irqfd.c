/* Virtio MSI-X vectors through KVM_IRQFD; see irqfd.h. */
#include "vmm/irqfd.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

static void warn_once(struct irqfd_router *r, const char *what, int err)
{
	if (r->warned)
		return;
	r->warned = true;
	fprintf(stderr,
		"minivmm: warning: irqfd: %s: %s; virtio interrupts take "
		"KVM_SIGNAL_MSI\n",
		what, strerror(err));
}

void irqfd_router_init(struct irqfd_router *r, const struct irqfd_ops *ops)
{
	memset(r, 0, sizeof(*r));
	r->ops = *ops;
}

static int commit(struct irqfd_router *r)
{
	r->commits++;
	int rc = r->ops.set_routes(r->ops.opaque, r->route, r->used,
				   IRQFD_MAX_ROUTES);
	if (rc < 0) {
		r->failed = true;
		warn_once(r, "KVM_SET_GSI_ROUTING", -rc);
	}
	return rc;
}

static int free_slot(const struct irqfd_router *r)
{
	for (int i = 0; i < IRQFD_MAX_ROUTES; i++)
		if (!r->used[i])
			return i;
	return -1;
}

/* A route and an eventfd bound to it for vector v, carrying msg. */
static int bind_vector(struct msix_irqfd *x, struct irqfd_vector *vec,
		       struct msi_route msg)
{
	struct irqfd_router *r = x->r;
	int slot = free_slot(r);
	if (slot < 0) {
		warn_once(r, "no free GSI for an MSI route", ENOSPC);
		vec->dead = true;
		return -1;
	}
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (fd < 0) {
		warn_once(r, "eventfd", errno);
		vec->dead = true;
		return -1;
	}
	r->route[slot] = msg;
	r->used[slot] = true;
	if (commit(r) < 0) {
		r->used[slot] = false;
		close(fd);
		return -1;
	}
	int rc = r->ops.irqfd(r->ops.opaque, fd, IRQFD_GSI_BASE + slot, true);
	if (rc < 0) {
		warn_once(r, "KVM_IRQFD", -rc);
		r->used[slot] = false; /* dropped at the next commit */
		close(fd);
		vec->dead = true;
		return -1;
	}
	vec->fd = fd;
	vec->slot = slot;
	return 0;
}

bool msix_irqfd_send(void *opaque, unsigned vector, uint64_t addr,
		     uint32_t data)
{
	struct msix_irqfd *x = opaque;
	struct msi_route msg = {addr, data};
	if (vector >= x->nvec)
		goto fallback;
	struct irqfd_vector *vec = &x->v[vector];
	struct irqfd_router *r = x->r;
	if (r->failed || vec->dead)
		goto fallback;
	if (vec->slot < 0 && bind_vector(x, vec, msg) < 0)
		goto fallback;
	struct msi_route *rt = &r->route[vec->slot];
	if (rt->addr != addr || rt->data != data) {
		*rt = msg; /* the guest rewrote the table entry */
		if (commit(r) < 0)
			goto fallback;
	}
	uint64_t one = 1;
	if (write(vec->fd, &one, sizeof(one)) != sizeof(one))
		goto fallback;
	x->fired++;
	return true;
fallback:
	x->fallbacks++;
	return false;
}

void msix_irqfd_init(struct msix_irqfd *x, struct irqfd_router *r,
		     unsigned nvec)
{
	memset(x, 0, sizeof(*x));
	x->r = r;
	x->nvec = nvec < IRQFD_MAX_VECTORS ? nvec : IRQFD_MAX_VECTORS;
	for (unsigned i = 0; i < IRQFD_MAX_VECTORS; i++)
		x->v[i] = (struct irqfd_vector){.fd = -1, .slot = -1};
}

void msix_irqfd_fini(struct msix_irqfd *x)
{
	for (unsigned i = 0; x->r && i < IRQFD_MAX_VECTORS; i++) {
		struct irqfd_vector *vec = &x->v[i];
		if (vec->fd < 0)
			continue;
		x->r->ops.irqfd(x->r->ops.opaque, vec->fd,
				IRQFD_GSI_BASE + vec->slot, false);
		x->r->used[vec->slot] = false;
		close(vec->fd);
		*vec = (struct irqfd_vector){.fd = -1, .slot = -1};
	}
}
