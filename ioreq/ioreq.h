/*
 * The ioreq shared page: one request slot per vCPU, in the shape of Xen's
 * public/hvm/ioreq.h. A vCPU thread fills its slot, publishes it with a
 * release store of state READY and signals the device model; the device
 * model claims it (INPROCESS), dispatches it, stores the result and
 * publishes RESPONSE_READY; the vCPU reads the result (acquire) and returns
 * the slot to NONE. The slots live in one memfd mapping, so the device model
 * could move to another process without a protocol change.
 * Notification is an eventfd each way per slot (the "event channel"), or
 * spinning on the state word in poll mode. In eventfd mode each side says
 * in the shared page whether it is awake (the device model polling the
 * slots, a vCPU spinning on its response); the other side then skips the
 * eventfd write, like virtio's notification suppression. Dekker-style:
 * each side stores its own flag/state and then loads the other's, all
 * sequentially consistent, so one of them always sees the other.
 */
#ifndef MINIVMM_IOREQ_H
#define MINIVMM_IOREQ_H

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>

enum ioreq_state {
	IOREQ_NONE = 0,
	IOREQ_READY = 1,
	IOREQ_INPROCESS = 2,
	IOREQ_RESPONSE_READY = 3,
};

enum ioreq_type { IOREQ_TYPE_PIO = 0, IOREQ_TYPE_MMIO = 1 };
enum ioreq_dir { IOREQ_WRITE = 0, IOREQ_READ = 1 };

/* Bytes of string-I/O data a slot carries: KVM hands at most a page. */
#define IOREQ_BUF_SIZE 4096

struct ioreq {
	uint64_t addr;
	uint64_t data; /* the value when count == 1 */
	uint32_t count;
	uint32_t vcpu;
	uint8_t size; /* 1, 2, 4 or 8 */
	uint8_t dir;
	uint8_t df; /* direction flag: string I/O runs downwards */
	uint8_t type;
	uint8_t data_is_ptr; /* count*size bytes in the slot's buf */
	uint8_t state;	     /* enum ioreq_state; atomic accesses only */
	uint8_t pad[2];
	uint64_t t_submit; /* ns, for the trace's latency column */
};

struct ioreq_slot {
	struct ioreq req;
	uint32_t vcpu_blocked; /* the vCPU sleeps on resp_evt */
	uint8_t buf[IOREQ_BUF_SIZE];
} __attribute__((aligned(64)));

/* The start of the shared mapping, before the slots. */
struct ioreq_shared {
	uint32_t dm_awake; /* the device model is polling the slots */
} __attribute__((aligned(64)));

/* How long each side spins before it sleeps on its eventfd. */
#define IOREQ_VCPU_SPIN_NS 30000
#define IOREQ_DM_SPIN_NS   50000

struct ioreq_page {
	struct ioreq_shared *shared;
	struct ioreq_slot *slots;
	unsigned nslots;
	int memfd;
	int *req_evt;  /* vCPU -> device model, one per slot */
	int *resp_evt; /* device model -> vCPU */
	bool poll;     /* spin instead of eventfds */
};

/* 0 on success, -1 with errno. */
int ioreq_page_init(struct ioreq_page *p, unsigned nslots, bool poll);
void ioreq_page_destroy(struct ioreq_page *p);

/*
 * vCPU side: publish the slot's request (READY), notify the device model
 * (the eventfd, unless it says it is awake), wait for the response and
 * return the slot to NONE. ioreq_submit is publish + notify. Between
 * publish and notify the vCPU may serve the request itself with
 * ioreq_claim/ioreq_complete when the device model is idle (dm.c); the
 * claim decides who runs it, so a device model that looks at the slot at
 * the same moment finds it taken or takes it first.
 */
void ioreq_publish(struct ioreq_page *p, unsigned slot);
void ioreq_notify(struct ioreq_page *p, unsigned slot);
void ioreq_submit(struct ioreq_page *p, unsigned slot);
void ioreq_wait(struct ioreq_page *p, unsigned slot);

/* Device-model side (or the vCPU serving its own slot). ioreq_claim
 * returns the request when the slot is READY (moving it to INPROCESS),
 * NULL otherwise; ioreq_complete publishes the response. ioreq_drain_evt
 * consumes the slot's notification. */
struct ioreq *ioreq_claim(struct ioreq_page *p, unsigned slot);
void ioreq_complete(struct ioreq_page *p, unsigned slot);
void ioreq_drain_evt(struct ioreq_page *p, unsigned slot);
/* The device model announces it polls (or no longer polls) the slots. */
void ioreq_dm_awake(struct ioreq_page *p, bool awake);

/*
 * One turn of a spin-wait: a pause, and every 64 turns a sched_yield() so
 * that a spinner sharing a core with the thread it waits for (more busy
 * threads than cores) lets that thread run instead of burning its slice.
 */
static inline void ioreq_relax(unsigned n)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
	if ((n & 63) == 63)
		sched_yield();
}

static inline uint8_t ioreq_state(const struct ioreq *r)
{
	return __atomic_load_n(&r->state, __ATOMIC_ACQUIRE);
}

#endif
