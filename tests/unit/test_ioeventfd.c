/*
 * Virtio queue notifications through an eventfd (vmm/ioeventfd.c): the
 * registration follows the notify register as the BAR moves (with a fake
 * KVM_IOEVENTFD), and a signalled eventfd kicks the queue on the running
 * device-model loop, with the device lock held.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hw/virtio.h"
#include "ioreq/dm.h"
#include "vmm/ioeventfd.h"

struct fake_kvm {
	int calls, fail;
	uint64_t gpa;
	unsigned len;
	int fd;
	bool assigned;
};

static int fake_assign(void *opaque, uint64_t gpa, unsigned len, int fd,
		       bool assign)
{
	struct fake_kvm *k = opaque;
	k->calls++;
	if (assign && k->fail)
		return -k->fail;
	if (!assign) {
		/* Only what was assigned is taken back. */
		cr_assert(k->assigned);
		cr_assert_eq(k->gpa, gpa);
		cr_assert_eq(k->len, len);
		cr_assert_eq(k->fd, fd);
		k->assigned = false;
		return 0;
	}
	cr_assert(!k->assigned, "two registrations at once");
	*k = (struct fake_kvm){k->calls, 0, gpa, len, fd, true};
	return 0;
}

struct fake_dev {
	struct dm *dm;
	int notifies;
	bool locked_in_notify;
};

static void dev_notify(struct virtio_dev *vd, unsigned q)
{
	struct fake_dev *d = vd->opaque;
	cr_assert_eq(q, 0);
	/* The device lock is held: trylock on a recursive mutex held by
	 * this thread succeeds, and then it is held twice. */
	d->locked_in_notify = pthread_mutex_trylock(&d->dm->lock) == 0;
	if (d->locked_in_notify)
		pthread_mutex_unlock(&d->dm->lock);
	d->notifies++;
}

static const struct virtio_dev_ops dev_ops = {.queue_notify = dev_notify};

static int notifies(struct dm *dm, struct fake_dev *d)
{
	dm_lock(dm);
	int n = d->notifies;
	dm_unlock(dm);
	return n;
}

/* Waits up to 5 s for the loop to have handled want kicks. */
static void wait_notifies(struct dm *dm, struct fake_dev *d, int want)
{
	for (int i = 0; i < 5000 && notifies(dm, d) < want; i++)
		usleep(1000);
	cr_assert_eq(notifies(dm, d), want);
}

static void signal_fd(int fd)
{
	uint64_t one = 1;
	cr_assert_eq(write(fd, &one, sizeof(one)), sizeof(one));
}

Test(ioeventfd, follows_the_register_and_kicks_on_the_loop)
{
	struct dm dm;
	struct guest_mem gm = {0};
	struct virtio_dev vd;
	struct fake_dev d = {.dm = &dm};
	struct fake_kvm k = {0};
	struct ioeventfd_ops ops = {fake_assign, &k};
	struct vq_ioeventfd e[1];

	cr_assert_eq(dm_init(&dm, DM_MODE_INLINE, 1), 0);
	cr_assert_eq(virtio_init(&vd, &dev_ops, &d, &gm, 2, 1, 8, 0), 0);
	/* Live device, enabled queue (the rings are never touched). */
	vd.status = VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK;
	vd.vq[0].enabled = true;
	cr_assert_eq(vq_ioeventfd_init(e, &dm, &vd, 0, &ops), 0);
	cr_assert_eq(dm_start(&dm), 0);

	/* BAR mapped: registered at the notify register. */
	dm_lock(&dm);
	vq_ioeventfd_notify_moved(e, 0, 0xfebf3000, 2, true);
	dm_unlock(&dm);
	cr_assert(k.assigned);
	cr_assert_eq(k.gpa, 0xfebf3000);
	cr_assert_eq(k.len, 2);
	cr_assert_eq(k.fd, e->fd);
	/* KVM signals: the loop kicks the queue under the device lock. */
	signal_fd(e->fd);
	wait_notifies(&dm, &d, 1);
	cr_assert(d.locked_in_notify);
	/* Two signals are one kick (the loop read both at once) or two,
	 * never none. */
	signal_fd(e->fd);
	signal_fd(e->fd);
	for (int i = 0; i < 5000 && notifies(&dm, &d) < 2; i++)
		usleep(1000);
	usleep(20000);
	int n = notifies(&dm, &d);
	cr_assert(n == 2 || n == 3, "%d kicks", n);
	dm_lock(&dm);
	cr_assert_eq(e->kicks, (uint64_t)n);
	dm_unlock(&dm);
	/* Moved: the old registration goes first. */
	dm_lock(&dm);
	vq_ioeventfd_move(e, 0xfe003000, 2, true);
	dm_unlock(&dm);
	cr_assert(k.assigned);
	cr_assert_eq(k.gpa, 0xfe003000);
	/* Unmapped: gone. */
	vq_ioeventfd_move(e, 0xfe003000, 2, false);
	cr_assert(!k.assigned);
	int calls = k.calls;
	vq_ioeventfd_move(e, 0, 0, false);
	cr_assert_eq(k.calls, calls, "nothing to take back");
	/* KVM refuses: no registration, a warning once, no crash. */
	k.fail = ENOSYS;
	vq_ioeventfd_move(e, 0xfe003000, 2, true);
	vq_ioeventfd_move(e, 0xfe004000, 2, true);
	cr_assert(!k.assigned);
	cr_assert(e->warned);
	cr_assert(!e->assigned);
	k.fail = 0;
	vq_ioeventfd_move(e, 0xfe004000, 2, true);
	cr_assert(k.assigned);
	/* A broken or reset device ignores the kick, as on the MMIO path. */
	dm_lock(&dm);
	vd.broken = true;
	dm_unlock(&dm);
	signal_fd(e->fd);
	for (int i = 0; i < 5000; i++) {
		dm_lock(&dm);
		bool seen = e->kicks > (uint64_t)n;
		dm_unlock(&dm);
		if (seen)
			break;
		usleep(1000);
	}
	cr_assert_eq(e->kicks, (uint64_t)n + 1);
	cr_assert_eq(notifies(&dm, &d), n);
	/* fini takes the registration back. */
	vq_ioeventfd_fini(e);
	cr_assert(!k.assigned);
	cr_assert_eq(e->fd, -1);
	vq_ioeventfd_fini(e); /* twice: harmless */
	dm_stop(&dm);
	dm_destroy(&dm);
}
