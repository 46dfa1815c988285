/* Virtio queue notifications through KVM_IOEVENTFD; see ioeventfd.h. */
#include "vmm/ioeventfd.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "hw/virtio.h"
#include "ioreq/dm.h"

/* Device-model thread, device lock held: the guest wrote the register. */
static void fired(void *opaque)
{
	struct vq_ioeventfd *e = opaque;
	uint64_t n;
	if (read(e->fd, &n, sizeof(n)) != sizeof(n))
		return; /* EAGAIN: someone else took it */
	e->kicks++;
	virtio_queue_kick(e->vd, e->q);
}

int vq_ioeventfd_init(struct vq_ioeventfd *e, struct dm *dm,
		      struct virtio_dev *vd, unsigned q,
		      const struct ioeventfd_ops *ops)
{
	memset(e, 0, sizeof(*e));
	e->vd = vd;
	e->q = q;
	e->ops = *ops;
	e->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (e->fd < 0)
		return -1;
	e->ev = dm_watch_fd(dm, e->fd, fired, e);
	if (!e->ev) {
		close(e->fd);
		e->fd = -1;
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

static void unassign(struct vq_ioeventfd *e)
{
	if (!e->assigned)
		return;
	e->ops.assign(e->ops.opaque, e->gpa, e->len, e->fd, false);
	e->assigned = false;
}

void vq_ioeventfd_move(struct vq_ioeventfd *e, uint64_t gpa, unsigned len,
		       bool mapped)
{
	unassign(e);
	if (!mapped || e->fd < 0)
		return;
	int rc = e->ops.assign(e->ops.opaque, gpa, len, e->fd, true);
	if (rc < 0) {
		if (!e->warned)
			fprintf(stderr,
				"minivmm: warning: ioeventfd for virtio queue "
				"%u at 0x%llx: %s; notifications take the "
				"MMIO path\n",
				e->q, (unsigned long long)gpa, strerror(-rc));
		e->warned = true;
		return;
	}
	e->assigned = true;
	e->gpa = gpa;
	e->len = len;
}

void vq_ioeventfd_notify_moved(void *opaque, unsigned q, uint64_t gpa,
			       unsigned len, bool mapped)
{
	struct vq_ioeventfd *e = opaque;
	vq_ioeventfd_move(&e[q], gpa, len, mapped);
}

void vq_ioeventfd_fini(struct vq_ioeventfd *e)
{
	if (e->fd < 0)
		return;
	unassign(e);
	dm_unwatch(e->ev);
	e->ev = NULL;
	close(e->fd);
	e->fd = -1;
}
