/*
 * Virtio queue notifications through KVM_IOEVENTFD (-machine ioeventfd=on).
 * Each queue's notify register (hw/virtio_pci.h: virtio_pci_notify_addr,
 * notify_moved) is given to KVM with an eventfd: a guest write of the
 * register's width then signals the eventfd inside the kernel and the vCPU
 * goes on without an exit. The device-model loop watches the eventfd and
 * calls virtio_queue_kick(), with the device lock held, as the MMIO path
 * would.
 *
 * Writes KVM does not match (another width, or before the registration)
 * still exit and reach the notify register through the MMIO bus, so a
 * refused registration only costs speed: it is reported once on stderr.
 */
#ifndef MINIVMM_VMM_IOEVENTFD_H
#define MINIVMM_VMM_IOEVENTFD_H

#include <stdbool.h>
#include <stdint.h>

struct dm;
struct event;
struct virtio_dev;

/* Registers (assign) or removes an eventfd for writes of len bytes at gpa;
 * 0 or a negative errno. vm_ioeventfd() in vmm/kvm.c; tests fake it. */
struct ioeventfd_ops {
	int (*assign)(void *opaque, uint64_t gpa, unsigned len, int fd,
		      bool assign);
	void *opaque;
};

struct vq_ioeventfd {
	struct virtio_dev *vd;
	unsigned q;
	int fd;
	struct event *ev;
	struct ioeventfd_ops ops;
	bool assigned; /* KVM has [gpa, gpa + len) */
	uint64_t gpa;
	unsigned len;
	bool warned;
	uint64_t kicks; /* eventfd wake-ups handled */
};

/* An eventfd for queue q of vd, watched on dm's loop. 0 or -1 (errno). */
int vq_ioeventfd_init(struct vq_ioeventfd *e, struct dm *dm,
		      struct virtio_dev *vd, unsigned q,
		      const struct ioeventfd_ops *ops);
/* The queue's notify register is now at gpa (mapped) or nowhere: the old
 * registration goes, the new one comes. */
void vq_ioeventfd_move(struct vq_ioeventfd *e, uint64_t gpa, unsigned len,
		       bool mapped);
/* The same as a virtio_pci_wiring.notify_moved: opaque is an array of
 * struct vq_ioeventfd indexed by queue. */
void vq_ioeventfd_notify_moved(void *opaque, unsigned q, uint64_t gpa,
			       unsigned len, bool mapped);
/* Removes the registration and the watch, closes the eventfd. Not with
 * the device lock held while the device-model loop runs. */
void vq_ioeventfd_fini(struct vq_ioeventfd *e);

#endif
