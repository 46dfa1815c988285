/* The ioreq protocol under concurrent vCPU threads, in every dispatch mode. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ioreq/dm.h"
#include "ioreq/ioreq.h"

#define N_REQ 20000

struct counter_dev {
	uint64_t writes[2];
	uint64_t last[2];
	int dup_or_lost;
	pthread_t writer; /* the thread that ran the last write */
};

/* Port 0x10+4*vcpu: a write must carry last+1; a read returns last. */
static uint64_t cnt_read(void *dev, uint64_t off, unsigned size)
{
	struct counter_dev *c = dev;
	(void)size;
	return c->last[off / 4];
}

static void cnt_write(void *dev, uint64_t off, unsigned size, uint64_t v)
{
	struct counter_dev *c = dev;
	(void)size;
	off /= 4;
	if (v != c->last[off] + 1)
		c->dup_or_lost++;
	c->last[off] = v;
	c->writes[off]++;
	c->writer = pthread_self();
}

static const struct io_ops cnt_ops = {.read = cnt_read, .write = cnt_write};

struct vcpu_arg {
	struct dm *dm;
	unsigned id;
	int bad_reads;
};

static void *vcpu_thread(void *opaque)
{
	struct vcpu_arg *a = opaque;
	for (uint32_t i = 1; i <= N_REQ; i++) {
		uint32_t v = i;
		dm_access(a->dm, a->id, IOREQ_TYPE_PIO, 0x10 + 4 * a->id, 4,
			  true, &v, 1);
		uint32_t back = 0;
		dm_access(a->dm, a->id, IOREQ_TYPE_PIO, 0x10 + 4 * a->id, 4,
			  false, &back, 1);
		if (back != i)
			a->bad_reads++;
	}
	return NULL;
}

/* Takes the device lock for short spells, as device-model timers and
 * backends do, so dm mode's vCPUs meet a busy device model now and then. */
struct noise {
	struct dm *dm;
	volatile bool stop;
};

static void *noise_thread(void *opaque)
{
	struct noise *n = opaque;
	while (!n->stop) {
		dm_lock(n->dm);
		for (volatile int i = 0; i < 2000; i++)
			;
		dm_unlock(n->dm);
		sched_yield();
	}
	return NULL;
}

static void hammer_with(enum dm_mode mode, bool handoff_only, bool noisy)
{
	struct dm dm;
	struct counter_dev c = {0};
	cr_assert_eq(dm_init(&dm, mode, 2), 0);
	dm.handoff_only = handoff_only;
	cr_assert_eq(bus_register(&dm.io, 0x10, 8, &cnt_ops, &c, "cnt"), 0);
	cr_assert_eq(dm_start(&dm), 0);
	struct noise n = {&dm, false};
	pthread_t nt;
	if (noisy)
		pthread_create(&nt, NULL, noise_thread, &n);
	pthread_t t[2];
	struct vcpu_arg a[2] = {{&dm, 0, 0}, {&dm, 1, 0}};
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, vcpu_thread, &a[i]);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	n.stop = true;
	if (noisy)
		pthread_join(nt, NULL);
	dm_stop(&dm);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(c.writes[i], N_REQ, "vcpu %d: %llu writes", i,
			     (unsigned long long)c.writes[i]);
		cr_assert_eq(a[i].bad_reads, 0);
	}
	cr_assert_eq(c.dup_or_lost, 0);
	cr_assert_eq(dm.io.r[0].writes, 2 * N_REQ);
	if (mode == DM_MODE_DM) {
		cr_assert_eq(dm.self_served + dm.handed_off, 4 * N_REQ);
		if (handoff_only)
			cr_assert_eq(dm.self_served, 0);
	}
	dm_destroy(&dm);
}

static void hammer(enum dm_mode mode)
{
	hammer_with(mode, false, false);
}

Test(ioreq, two_vcpus_dm_mode)
{
	hammer(DM_MODE_DM);
}

/* Both dm-mode paths at once: vCPUs serving their own slots while a third
 * thread keeps taking the device lock, so others go to the dm thread. */
Test(ioreq, two_vcpus_dm_mode_busy_device_model)
{
	hammer_with(DM_MODE_DM, false, true);
}

/* The pure Xen-style handoff (every request run by the dm thread). */
Test(ioreq, two_vcpus_dm_mode_handoff_only)
{
	hammer_with(DM_MODE_DM, true, false);
}

Test(ioreq, two_vcpus_poll_mode)
{
	hammer(DM_MODE_POLL);
}

Test(ioreq, two_vcpus_inline_mode)
{
	hammer(DM_MODE_INLINE);
}

static uint32_t str_seen;
static uint32_t str_read(void *dev, uint64_t off, unsigned size, void *buf,
			 uint32_t count)
{
	(void)dev;
	(void)off;
	uint8_t *p = buf;
	for (uint32_t i = 0; i < count * size; i++)
		p[i] = i;
	str_seen = count;
	return count;
}

static const struct io_ops str_ops = {.read_str = str_read};

Test(ioreq, string_io_is_one_request)
{
	struct dm dm;
	cr_assert_eq(dm_init(&dm, DM_MODE_DM, 1), 0);
	bus_register(&dm.io, 0x1f0, 2, &str_ops, NULL, "str");
	dm_start(&dm);
	uint16_t buf[256];
	dm_access(&dm, 0, IOREQ_TYPE_PIO, 0x1f0, 2, false, buf, 256);
	dm_stop(&dm);
	cr_assert_eq(str_seen, 256);
	cr_assert_eq(buf[255], 0xfffe);
	cr_assert_eq(dm.io.r[0].reads, 1);
	dm_destroy(&dm);
}

/* -trace: an event line shares the ioreq lines' clock and format (time
 * first, then who); nothing is written without -trace; a long event is
 * cut, not overflowed. */
Test(ioreq, trace_event_lines)
{
	struct dm dm;
	cr_assert_eq(dm_init(&dm, DM_MODE_INLINE, 1), 0);
	dm_trace_event(&dm, "pic", "intr=%d", 1); /* no trace: no-op */
	char *text = NULL;
	size_t len = 0;
	dm.trace = open_memstream(&text, &len);
	cr_assert_not_null(dm.trace);
	bus_register(&dm.io, 0x1f0, 2, &str_ops, NULL, "str");
	uint16_t w = 0;
	dm_access(&dm, 0, IOREQ_TYPE_PIO, 0x1f0, 2, false, &w, 1);
	dm_trace_event(&dm, "vcpu0", "inject vector=0x%x", 0x3e);
	char big[400];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	dm_trace_event(&dm, "pic", "%s", big);
	fclose(dm.trace);
	dm.trace = NULL;
	long long t1 = 0, t2 = 0;
	char who[16] = "", ev[64] = "";
	const char *l2 = strchr(text, '\n');
	cr_assert_not_null(l2);
	cr_assert_eq(sscanf(text, "%lld vcpu0 pio R", &t1), 1);
	cr_assert_eq(sscanf(l2 + 1, "%lld %15s %63[^\n]", &t2, who, ev), 3);
	cr_assert(t2 >= t1 && t1 > 0);
	cr_assert_str_eq(who, "vcpu0");
	cr_assert_str_eq(ev, "inject vector=0x3e");
	const char *l3 = strchr(l2 + 1, '\n');
	cr_assert_not_null(l3);
	cr_assert(strlen(l3 + 1) < 200, "the long event is cut");
	cr_assert_eq(l3[strlen(l3) - 1], '\n');
	free(text);
	dm_destroy(&dm);
}

Test(ioreq, floor_and_unclaimed_read_ones)
{
	struct dm dm;
	struct counter_dev c = {0};
	cr_assert_eq(dm_init(&dm, DM_MODE_FLOOR, 1), 0);
	bus_register(&dm.io, 0x10, 8, &cnt_ops, &c, "cnt");
	dm.floor_pio_base = 0x10;
	dm.floor_pio_len = 4;
	uint32_t v = 0;
	dm_access(&dm, 0, IOREQ_TYPE_PIO, 0x10, 4, false, &v, 1);
	cr_assert_eq(v, 0xffffffff);
	v = 1;
	dm_access(&dm, 0, IOREQ_TYPE_PIO, 0x14, 4, true, &v, 1);
	cr_assert_eq(c.writes[1], 1, "outside the floor range: dispatched");
	dm_destroy(&dm);
	cr_assert_eq(dm_init(&dm, DM_MODE_DM, 1), 0);
	dm_start(&dm);
	v = 0;
	dm_access(&dm, 0, IOREQ_TYPE_MMIO, 0xfeb00000, 2, false, &v, 1);
	dm_stop(&dm);
	cr_assert_eq(v, 0xffff);
	cr_assert_eq(dm.mmio.unclaimed_reads, 1);
	dm_destroy(&dm);
}

Test(ioreq, state_machine)
{
	struct ioreq_page p;
	cr_assert_eq(ioreq_page_init(&p, 1, true), 0);
	struct ioreq *r = &p.slots[0].req;
	cr_assert_eq(ioreq_state(r), IOREQ_NONE);
	cr_assert_null(ioreq_claim(&p, 0));
	ioreq_submit(&p, 0);
	cr_assert_eq(ioreq_state(r), IOREQ_READY);
	cr_assert_eq(ioreq_claim(&p, 0), r);
	cr_assert_eq(ioreq_state(r), IOREQ_INPROCESS);
	cr_assert_null(ioreq_claim(&p, 0));
	ioreq_complete(&p, 0);
	ioreq_wait(&p, 0);
	cr_assert_eq(ioreq_state(r), IOREQ_NONE);
	ioreq_page_destroy(&p);
}

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* dm mode with an idle device model: the vCPU thread runs the request
 * itself, still through its slot (the trace's latency, the state word). */
Test(ioreq, dm_mode_idle_device_model_is_served_on_the_vcpu_thread)
{
	struct dm dm;
	struct counter_dev c = {0};
	cr_assert_eq(dm_init(&dm, DM_MODE_DM, 1), 0);
	bus_register(&dm.io, 0x10, 8, &cnt_ops, &c, "cnt");
	cr_assert_eq(dm_start(&dm), 0);
	uint32_t v = 1;
	dm_access(&dm, 0, IOREQ_TYPE_PIO, 0x10, 4, true, &v, 1);
	cr_assert(pthread_equal(c.writer, pthread_self()));
	cr_assert_eq(dm.self_served, 1);
	cr_assert_eq(dm.handed_off, 0);
	cr_assert_eq(ioreq_state(&dm.page.slots[0].req), IOREQ_NONE);
	v = 0;
	dm_access(&dm, 0, IOREQ_TYPE_PIO, 0x10, 4, false, &v, 1);
	cr_assert_eq(v, 1);
	dm_stop(&dm);
	dm_destroy(&dm);
}

struct one_write {
	struct dm *dm;
	uint32_t v;
};

static void *write_once(void *opaque)
{
	struct one_write *w = opaque;
	dm_access(w->dm, 0, IOREQ_TYPE_PIO, 0x10, 4, true, &w->v, 1);
	return NULL;
}

/* dm mode with the device lock held (the device model busy): the vCPU
 * does not wait for the lock itself but hands the request over, and the
 * dm thread runs it once the lock is free. */
Test(ioreq, dm_mode_busy_device_model_gets_the_request)
{
	struct dm dm;
	struct counter_dev c = {0};
	cr_assert_eq(dm_init(&dm, DM_MODE_DM, 1), 0);
	bus_register(&dm.io, 0x10, 8, &cnt_ops, &c, "cnt");
	cr_assert_eq(dm_start(&dm), 0);
	dm_lock(&dm);
	struct one_write w = {&dm, 1};
	pthread_t t;
	pthread_create(&t, NULL, write_once, &w);
	int64_t end = mono_ns() + 5000000000;
	while (!__atomic_load_n(&dm.handed_off, __ATOMIC_RELAXED) &&
	       mono_ns() < end)
		sched_yield();
	cr_assert_eq(dm.handed_off, 1, "the request was not handed over");
	struct timespec ms = {0, 10000000};
	nanosleep(&ms, NULL);
	cr_assert_eq(c.writes[0], 0, "ran while the device lock was held");
	dm_unlock(&dm);
	pthread_join(t, NULL);
	cr_assert_eq(c.writes[0], 1);
	cr_assert(pthread_equal(c.writer, dm.thread));
	cr_assert_eq(dm.self_served, 0);
	dm_stop(&dm);
	dm_destroy(&dm);
}

/* A claim settles who runs a published request: only one side gets it. */
Test(ioreq, claim_is_exclusive)
{
	struct ioreq_page p;
	cr_assert_eq(ioreq_page_init(&p, 1, false), 0);
	ioreq_publish(&p, 0);
	cr_assert_not_null(ioreq_claim(&p, 0));
	cr_assert_null(ioreq_claim(&p, 0));
	ioreq_complete(&p, 0);
	ioreq_wait(&p, 0); /* responded already: returns without sleeping */
	cr_assert_eq(ioreq_state(&p.slots[0].req), IOREQ_NONE);
	cr_assert_eq(p.slots[0].vcpu_blocked, 0);
	ioreq_page_destroy(&p);
}

static void count_fire(void *opaque)
{
	(*(int *)opaque)++;
}

/* What a halted vCPU uses to fire device timers itself (vcpu.c halt()):
 * the time to the next deadline, and nothing left once the last timer ran
 * (a stale deadline would have the vCPU spin on it). */
Test(ioreq, halted_vcpu_runs_due_timers)
{
	struct dm dm;
	int fired = 0;
	cr_assert_eq(dm_init(&dm, DM_MODE_DM, 1), 0);
	dm_lock(&dm);
	cr_assert_eq(dm_timer_due_in(&dm), INT64_MAX);
	struct vtimer *t = vtimer_new(dm.clock, count_fire, &fired);
	vtimer_mod(t, clock_ns(dm.clock) + 2000000);
	int64_t ns = dm_timer_due_in(&dm);
	cr_assert(ns > 0 && ns <= 2000000, "due in %lld ns", (long long)ns);
	struct timespec ms = {0, 3000000};
	nanosleep(&ms, NULL);
	cr_assert(dm_timer_due_in(&dm) <= 0);
	dm_run_timers(&dm);
	cr_assert_eq(fired, 1);
	cr_assert_eq(dm_timer_due_in(&dm), INT64_MAX);
	vtimer_mod(t, clock_ns(dm.clock) + 1000000000);
	dm_run_timers(&dm); /* nothing due: it stays armed */
	cr_assert_eq(fired, 1);
	cr_assert(dm_timer_due_in(&dm) > 900000000);
	vtimer_free(t);
	dm_unlock(&dm);
	dm_destroy(&dm);
}

/*
 * A vCPU thread running device code (its own request, or due timers in
 * halt()) holds the device lock while the device-model thread's clock event
 * has fired and its callback (clock_fired) waits for that lock. If the
 * vCPU then disarms the last timer, clock_arm deletes the libevent timer:
 * a blocking event_del from another thread waits for the running callback,
 * which waits for the lock: both threads hang for good (a Linux guest froze
 * mid-echo with irqchip=user, the PIT reprogrammed from its own interrupt).
 */
Test(ioreq, vcpu_disarms_timer_while_dm_thread_waits_for_lock, .timeout = 10)
{
	struct dm dm;
	int fired = 0;
	cr_assert_eq(dm_init(&dm, DM_MODE_DM, 1), 0);
	cr_assert_eq(dm_start(&dm), 0);
	dm_lock(&dm);
	struct vtimer *t = vtimer_new(dm.clock, count_fire, &fired);
	vtimer_mod(t, clock_ns(dm.clock) + 1000000);
	/* The clock event fires; clock_fired blocks on the lock held here. */
	struct timespec ms = {0, 50000000};
	nanosleep(&ms, NULL);
	vtimer_del(t); /* the last timer: clock_arm(INT64_MAX) */
	cr_assert_eq(dm_timer_due_in(&dm), INT64_MAX);
	dm_unlock(&dm);
	nanosleep(&ms, NULL); /* clock_fired runs: nothing is due */
	dm_lock(&dm);
	cr_assert_eq(fired, 0);
	cr_assert_eq(dm_timer_due_in(&dm), INT64_MAX);
	vtimer_mod(t, clock_ns(dm.clock) + 1000000);
	dm_unlock(&dm);
	nanosleep(&ms, NULL); /* the device-model thread fires it */
	dm_lock(&dm);
	cr_assert_eq(fired, 1);
	vtimer_free(t);
	dm_unlock(&dm);
	dm_stop(&dm);
	dm_destroy(&dm);
}
