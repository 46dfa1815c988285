/*
 * The device model: one thread running one libevent loop that owns every
 * device, both buses, the virtual clock's timers and the backends' fds.
 * vCPU threads reach it through dm_access(), which takes one of four paths
 * (-machine ioreq=...):
 *   dm      the shared ioreq page + eventfds (Xen HVM / qemu-dm shape);
 *           a vCPU that finds the device lock free (the device-model
 *           thread idle in its loop) claims and runs its own published
 *           request instead of handing it over (docs/DESIGN.md)
 *   inline  the vCPU thread calls the device under the device lock
 *           (kvmtool shape)
 *   poll    the shared page, with both sides spinning on the state word
 *   floor   accesses to the benchmark device's ranges (dm->floor_*) are
 *           completed in the vCPU thread with no dispatch at all (reads
 *           return all ones): the cost of the KVM exit alone; everything
 *           else is dispatched inline so the guest can still run
 * All device code runs with dm->lock held, whichever thread runs it, so
 * devices need no locks of their own.
 */
#ifndef MINIVMM_DM_H
#define MINIVMM_DM_H

#include <pthread.h>
#include <stdio.h>

#include "ioreq/bus.h"
#include "ioreq/clock.h"
#include "ioreq/ioreq.h"

struct event_base;
struct event;

enum dm_mode { DM_MODE_DM, DM_MODE_INLINE, DM_MODE_POLL, DM_MODE_FLOOR };

struct dm {
	enum dm_mode mode;
	struct event_base *base;
	pthread_mutex_t lock;
	struct vclock *clock;
	struct event *clock_ev;
	struct bus io, mmio;
	struct ioreq_page page;
	struct event **slot_ev;
	FILE *trace; /* NULL: no -trace */
	/* floor mode: [base, base+len) on each bus skips dispatch */
	uint64_t floor_pio_base, floor_pio_len;
	uint64_t floor_mmio_base, floor_mmio_len;
	pthread_t thread;
	bool running;
	bool kicked; /* dm thread only: a request eventfd fired */
	bool stop;   /* atomic accesses only */
	/* dm mode: never serve the own slot, always hand over (tests, and
	 * a device model in another process would be this) */
	bool handoff_only;
	/* dm mode, relaxed atomics: requests the vCPU ran itself, requests
	 * handed to the device-model thread */
	uint64_t self_served, handed_off;
	int64_t next_timer; /* earliest clock deadline; device lock held */
};

int dm_parse_mode(const char *s, enum dm_mode *mode);
const char *dm_mode_name(enum dm_mode mode);

/* Creates the loop, clock, buses and (for dm/poll) the ioreq page. */
int dm_init(struct dm *dm, enum dm_mode mode, unsigned nvcpus);
/* Stops the thread, then frees what dm_init made, the clock's remaining
 * timers included: whoever holds an event or a timer of this dm frees it
 * before. Its owner (struct vm: vm_destroy) calls it; a second call, or
 * one after a dm_init that failed half-way, is harmless. */
void dm_destroy(struct dm *dm);
int dm_start(struct dm *dm); /* spawns the device-model thread */
void dm_stop(struct dm *dm); /* asks it to stop and joins it */

static inline void dm_lock(struct dm *dm)
{
	pthread_mutex_lock(&dm->lock);
}
static inline void dm_unlock(struct dm *dm)
{
	pthread_mutex_unlock(&dm->lock);
}

/*
 * vCPU side: one trapped access of count elements of size bytes; for reads
 * data receives the result. Returns when the access is complete.
 */
void dm_access(struct dm *dm, unsigned vcpu, int type, uint64_t addr,
	       unsigned size, bool write, void *data, uint32_t count);

/* Device-model side: run one request (lock held). */
void dm_dispatch(struct dm *dm, struct ioreq *r, void *buf);
/* With -trace: one line "TIME WHO EVENT" (interrupt raise, injection,
 * halt), in the same clock as the ioreq lines, so that a latency can be
 * read between them. No-op without -trace. */
void dm_trace_event(struct dm *dm, const char *who, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Device lock held. The nanoseconds until the clock's earliest timer is due
 * (<= 0: due now; INT64_MAX: none armed), and running the due timers on
 * the calling thread: a vCPU halted with nothing else to do fires them
 * itself rather than wait for the device-model thread to wake up and kick
 * it (vcpu.c halt()). Timer callbacks only need the device lock.
 */
int64_t dm_timer_due_in(struct dm *dm);
void dm_run_timers(struct dm *dm);

/* Call cb(opaque) on the device-model thread, lock held, whenever fd is
 * readable. Returns the event (free with dm_unwatch) or NULL. */
struct event *dm_watch_fd(struct dm *dm, int fd, void (*cb)(void *opaque),
			  void *opaque);
void dm_unwatch(struct event *ev);

#endif
