/* The device-model thread and the four dispatch paths. */
#include "ioreq/dm.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const mode_names[] = {"dm", "inline", "poll", "floor"};

int dm_parse_mode(const char *s, enum dm_mode *mode)
{
	for (int i = 0; i < 4; i++)
		if (!strcmp(s, mode_names[i])) {
			*mode = i;
			return 0;
		}
	return -1;
}

const char *dm_mode_name(enum dm_mode mode)
{
	return mode_names[mode];
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void clock_arm(void *opaque, int64_t deadline)
{
	struct dm *dm = opaque;
	dm->next_timer = deadline;
	if (deadline == INT64_MAX) {
		/* Not evtimer_del: from a vCPU thread (running its own request
		 * or, halted, the due timers) that blocking delete waits for a
		 * clock_fired already running on the device-model thread, which
		 * waits for the device lock this thread holds: a deadlock. A
		 * clock_fired that runs anyway finds nothing due. */
		event_del_noblock(dm->clock_ev);
		return;
	}
	int64_t d = deadline - now_ns();
	if (d < 0)
		d = 0;
	struct timeval tv = {d / 1000000000, (d % 1000000000) / 1000};
	evtimer_add(dm->clock_ev, &tv);
}

static void clock_fired(evutil_socket_t fd, short what, void *opaque)
{
	struct dm *dm = opaque;
	(void)fd;
	(void)what;
	dm_lock(dm);
	dm_run_timers(dm);
	dm_unlock(dm);
}

int64_t dm_timer_due_in(struct dm *dm)
{
	if (dm->next_timer == INT64_MAX)
		return INT64_MAX;
	return dm->next_timer - clock_ns(dm->clock);
}

void dm_run_timers(struct dm *dm)
{
	/* clock_run_due() calls clock_arm() only if a timer is left. */
	dm->next_timer = INT64_MAX;
	clock_run_due(dm->clock);
}

static void trace_req(struct dm *dm, const struct ioreq *r,
		      const struct bus_range *range, const void *buf)
{
	uint64_t v = r->data;
	if (r->data_is_ptr) {
		v = 0;
		memcpy(&v, buf, r->size);
	}
	fprintf(dm->trace,
		"%lld vcpu%u %s %c addr=0x%llx size=%u count=%u data=0x%llx "
		"lat=%lldns dev=%s\n",
		(long long)now_ns(), r->vcpu,
		r->type == IOREQ_TYPE_PIO ? "pio" : "mmio",
		r->dir == IOREQ_READ ? 'R' : 'W', (unsigned long long)r->addr,
		r->size, r->count, (unsigned long long)v,
		(long long)(now_ns() - (int64_t)r->t_submit),
		range ? range->name : "(unclaimed)");
}

void dm_trace_event(struct dm *dm, const char *who, const char *fmt, ...)
{
	if (!dm->trace)
		return;
	char line[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(dm->trace, "%lld %s %s\n", (long long)now_ns(), who, line);
}

void dm_dispatch(struct dm *dm, struct ioreq *r, void *buf)
{
	struct bus *b = r->type == IOREQ_TYPE_PIO ? &dm->io : &dm->mmio;
	void *data = r->data_is_ptr ? buf : &r->data;
	struct bus_range *range = bus_access(
	    b, r->addr, r->size, r->dir == IOREQ_WRITE, data, r->count);
	if (dm->trace)
		trace_req(dm, r, range, buf);
}

static bool stopping(struct dm *dm)
{
	return __atomic_load_n(&dm->stop, __ATOMIC_ACQUIRE);
}

/* Runs every READY slot; returns how many. */
static int service_slots(struct dm *dm)
{
	int n = 0;
	for (unsigned i = 0; i < dm->page.nslots; i++) {
		struct ioreq *r = ioreq_claim(&dm->page, i);
		if (!r)
			continue;
		dm_lock(dm);
		dm_dispatch(dm, r, dm->page.slots[i].buf);
		dm_unlock(dm);
		ioreq_complete(&dm->page, i);
		n++;
	}
	return n;
}

/* A request arrived by eventfd: the thread's loop serves it (below). */
static void slot_ready(evutil_socket_t fd, short what, void *opaque)
{
	struct dm *dm = opaque;
	(void)what;
	for (unsigned i = 0; i < dm->page.nslots; i++)
		if (dm->page.req_evt[i] == fd)
			ioreq_drain_evt(&dm->page, i);
	dm->kicked = true;
}

int dm_init(struct dm *dm, enum dm_mode mode, unsigned nvcpus)
{
	memset(dm, 0, sizeof(*dm));
	dm->mode = mode;
	dm->next_timer = INT64_MAX;
	evthread_use_pthreads();
	/* Recursive: a backend callback may call into a device that calls
	 * back into the backend (UART rx_ready -> chardev -> UART receive). */
	pthread_mutexattr_t ma;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&dm->lock, &ma);
	pthread_mutexattr_destroy(&ma);
	bus_init(&dm->io, "port");
	bus_init(&dm->mmio, "mmio");
	/* Precise timers (timerfd): epoll's millisecond timeouts would round
	 * every device timer (RTC periodic interrupt, UART timeout) up. */
	struct event_config *ec = event_config_new();
	if (!ec)
		return -1;
	event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
	dm->base = event_base_new_with_config(ec);
	event_config_free(ec);
	if (!dm->base)
		return -1;
	dm->clock_ev = evtimer_new(dm->base, clock_fired, dm);
	dm->clock = clock_new_host(clock_arm, dm);
	if (!dm->clock_ev || !dm->clock)
		return -1;
	if (mode == DM_MODE_DM || mode == DM_MODE_POLL) {
		if (ioreq_page_init(&dm->page, nvcpus, mode == DM_MODE_POLL))
			return -1;
		dm->slot_ev = calloc(nvcpus, sizeof(*dm->slot_ev));
		if (!dm->slot_ev)
			return -1;
		for (unsigned i = 0; mode == DM_MODE_DM && i < nvcpus; i++) {
			dm->slot_ev[i] =
			    event_new(dm->base, dm->page.req_evt[i],
				      EV_READ | EV_PERSIST, slot_ready, dm);
			if (!dm->slot_ev[i] || event_add(dm->slot_ev[i], NULL))
				return -1;
		}
	}
	return 0;
}

/* Everything is set to NULL as it goes, so a second call does nothing. */
void dm_destroy(struct dm *dm)
{
	dm_stop(dm);
	for (unsigned i = 0; dm->slot_ev && i < dm->page.nslots; i++)
		if (dm->slot_ev[i])
			event_free(dm->slot_ev[i]);
	free(dm->slot_ev);
	dm->slot_ev = NULL;
	if (dm->page.slots)
		ioreq_page_destroy(&dm->page);
	if (dm->clock_ev)
		event_free(dm->clock_ev);
	dm->clock_ev = NULL;
	clock_free(dm->clock); /* and the timers devices still hold */
	dm->clock = NULL;
	if (dm->base)
		event_base_free(dm->base);
	dm->base = NULL;
	bus_destroy(&dm->io);
	bus_destroy(&dm->mmio);
}

/* Poll mode: spin on the slots; run the event loop every 50 us or so. */
static void poll_loop(struct dm *dm)
{
	int64_t last = now_ns();
	for (unsigned n = 0; !stopping(dm); n++) {
		if (!service_slots(dm))
			ioreq_relax(n);
		int64_t t = now_ns();
		if (t - last > 50000) {
			event_base_loop(dm->base, EVLOOP_NONBLOCK);
			last = t;
		}
	}
}

/*
 * dm mode: sleep in the event loop until something happens. After a
 * request, stay awake polling the slots for a while (running the event
 * loop without blocking every 50 us so timers and backends go on): a guest
 * doing I/O sends the next request within microseconds, and while dm_awake
 * is set the vCPU need not signal the eventfd. After clearing dm_awake
 * look once more, so a request published just before is not left waiting.
 */
static void dm_loop(struct dm *dm)
{
	while (!stopping(dm)) {
		event_base_loop(dm->base, EVLOOP_ONCE);
		if (!dm->kicked)
			continue;
		dm->kicked = false;
		ioreq_dm_awake(&dm->page, true);
		int64_t t = now_ns(), until = t + IOREQ_DM_SPIN_NS, last = t;
		for (unsigned n = 1; !stopping(dm); n++) {
			if (service_slots(dm)) {
				until = now_ns() + IOREQ_DM_SPIN_NS;
				continue;
			}
			ioreq_relax(n);
			if (n % 64)
				continue;
			t = now_ns();
			if (t > until)
				break;
			if (t - last > 50000) {
				event_base_loop(dm->base, EVLOOP_NONBLOCK);
				last = t;
			}
		}
		ioreq_dm_awake(&dm->page, false);
		service_slots(dm);
	}
}

static void *dm_thread(void *opaque)
{
	struct dm *dm = opaque;
	if (dm->mode == DM_MODE_POLL)
		poll_loop(dm);
	else if (dm->mode == DM_MODE_DM)
		dm_loop(dm);
	else
		while (!stopping(dm))
			event_base_loop(dm->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

int dm_start(struct dm *dm)
{
	if (pthread_create(&dm->thread, NULL, dm_thread, dm))
		return -1;
	dm->running = true;
	return 0;
}

void dm_stop(struct dm *dm)
{
	if (!dm->running)
		return;
	__atomic_store_n(&dm->stop, true, __ATOMIC_RELEASE);
	event_base_loopbreak(dm->base);
	pthread_join(dm->thread, NULL);
	dm->running = false;
}

static bool in_floor(const struct dm *dm, int type, uint64_t addr)
{
	if (type == IOREQ_TYPE_PIO)
		return addr - dm->floor_pio_base < dm->floor_pio_len;
	return addr - dm->floor_mmio_base < dm->floor_mmio_len;
}

enum serve {
	SERVE_DONE,  /* the vCPU ran its request; the slot has the response */
	SERVE_TAKEN, /* the device-model thread claimed it first */
	SERVE_BUSY,  /* the device lock is held: hand the request over */
};

/*
 * dm mode, the request already published (READY). When the device lock is
 * free, no device code is running anywhere and the device-model thread is
 * idle in its event loop (or spinning on the slots without the lock);
 * handing the request to it would cost two thread wake-ups, and with fewer
 * free cores than busy threads each of those waits for the scheduler
 * (0.2-1.6 ms per exit measured). So the vCPU claims its own slot and runs
 * the request as the device model would, then completes the slot. The
 * claim (a CAS on the state word) settles a race with a device model that
 * scans the slots at the same moment. trylock never waits: a lock that is
 * held means the device model is busy, and the request goes the usual way.
 */
static enum serve serve_own_slot(struct dm *dm, unsigned slot)
{
	if (pthread_mutex_trylock(&dm->lock))
		return SERVE_BUSY;
	struct ioreq *r = ioreq_claim(&dm->page, slot);
	if (r)
		dm_dispatch(dm, r, dm->page.slots[slot].buf);
	dm_unlock(dm);
	if (!r)
		return SERVE_TAKEN;
	ioreq_complete(&dm->page, slot);
	return SERVE_DONE;
}

void dm_access(struct dm *dm, unsigned vcpu, int type, uint64_t addr,
	       unsigned size, bool write, void *data, uint32_t count)
{
	size_t bytes = (size_t)size * count;
	if (dm->mode == DM_MODE_FLOOR && in_floor(dm, type, addr)) {
		if (!write)
			memset(data, 0xff, bytes);
		return;
	}
	if (dm->mode == DM_MODE_INLINE || dm->mode == DM_MODE_FLOOR) {
		struct bus *b = type == IOREQ_TYPE_PIO ? &dm->io : &dm->mmio;
		dm_lock(dm);
		struct bus_range *range =
		    bus_access(b, addr, size, write, data, count);
		if (dm->trace) {
			struct ioreq r = {.addr = addr,
					  .count = count,
					  .vcpu = vcpu,
					  .size = size,
					  .dir =
					      write ? IOREQ_WRITE : IOREQ_READ,
					  .type = type,
					  .data_is_ptr = 1,
					  .t_submit = now_ns()};
			trace_req(dm, &r, range, data);
		}
		dm_unlock(dm);
		return;
	}
	struct ioreq_slot *s = &dm->page.slots[vcpu];
	struct ioreq *r = &s->req;
	if (bytes > IOREQ_BUF_SIZE) /* KVM never hands more than a page */
		bytes = IOREQ_BUF_SIZE, count = IOREQ_BUF_SIZE / size;
	r->addr = addr;
	r->count = count;
	r->vcpu = vcpu;
	r->size = size;
	r->dir = write ? IOREQ_WRITE : IOREQ_READ;
	r->df = 0;
	r->type = type;
	r->data_is_ptr = count > 1;
	r->data = 0;
	if (dm->trace)
		r->t_submit = now_ns();
	if (write) {
		if (r->data_is_ptr)
			memcpy(s->buf, data, bytes);
		else
			memcpy(&r->data, data, size);
	}
	ioreq_publish(&dm->page, vcpu);
	enum serve how = SERVE_BUSY;
	if (dm->mode == DM_MODE_DM && !dm->handoff_only)
		how = serve_own_slot(dm, vcpu);
	if (how == SERVE_BUSY)
		ioreq_notify(&dm->page, vcpu);
	__atomic_fetch_add(how == SERVE_DONE ? &dm->self_served
					     : &dm->handed_off,
			   1, __ATOMIC_RELAXED);
	ioreq_wait(&dm->page, vcpu);
	if (!write)
		memcpy(data, r->data_is_ptr ? (void *)s->buf : (void *)&r->data,
		       bytes);
}

struct fd_watch {
	struct dm *dm;
	void (*cb)(void *);
	void *opaque;
	struct event *ev;
};

static void fd_ready(evutil_socket_t fd, short what, void *opaque)
{
	struct fd_watch *w = opaque;
	(void)fd;
	(void)what;
	dm_lock(w->dm);
	w->cb(w->opaque);
	dm_unlock(w->dm);
}

struct event *dm_watch_fd(struct dm *dm, int fd, void (*cb)(void *),
			  void *opaque)
{
	struct fd_watch *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	*w = (struct fd_watch){dm, cb, opaque, NULL};
	w->ev = event_new(dm->base, fd, EV_READ | EV_PERSIST, fd_ready, w);
	if (!w->ev || event_add(w->ev, NULL)) {
		if (w->ev)
			event_free(w->ev);
		free(w);
		return NULL;
	}
	return w->ev;
}

void dm_unwatch(struct event *ev)
{
	if (!ev)
		return;
	struct fd_watch *w = event_get_callback_arg(ev);
	event_free(ev);
	free(w);
}
