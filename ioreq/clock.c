/*
 * Virtual clock: a handful of one-shot timers kept in an unsorted list
 * (devices own at most a few each, so a scan is cheaper than a heap).
 */
#include "ioreq/clock.h"

#include <stdlib.h>
#include <time.h>

struct vtimer {
	struct vclock *c;
	vtimer_fn fn;
	void *opaque;
	int64_t deadline; /* INT64_MAX when not armed */
	struct vtimer *next;
};

struct vclock {
	bool manual;
	int64_t now;	  /* manual clocks */
	int64_t wall_at0; /* wall-clock ns when clock_ns() read 0 */
	struct vtimer *timers;
	void (*arm)(void *opaque, int64_t deadline);
	void *arm_opaque;
	int64_t armed;
};

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t real_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct vclock *clock_new_manual(int64_t start_ns)
{
	struct vclock *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->manual = true;
	c->now = start_ns;
	c->wall_at0 = real_ns() - start_ns;
	c->armed = INT64_MAX;
	return c;
}

struct vclock *clock_new_host(void (*arm)(void *, int64_t), void *opaque)
{
	struct vclock *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->arm = arm;
	c->arm_opaque = opaque;
	c->wall_at0 = real_ns() - mono_ns();
	c->armed = INT64_MAX;
	return c;
}

void clock_free(struct vclock *c)
{
	if (!c)
		return;
	while (c->timers) {
		struct vtimer *t = c->timers;
		c->timers = t->next;
		free(t);
	}
	free(c);
}

int64_t clock_ns(struct vclock *c)
{
	return c->manual ? c->now : mono_ns();
}

int64_t clock_wall_ns(struct vclock *c)
{
	return c->wall_at0 + clock_ns(c);
}

void clock_set_wall(struct vclock *c, int64_t wall_ns_at_now)
{
	c->wall_at0 = wall_ns_at_now - clock_ns(c);
}

static struct vtimer *earliest(struct vclock *c)
{
	struct vtimer *best = NULL;
	for (struct vtimer *t = c->timers; t; t = t->next)
		if (t->deadline != INT64_MAX &&
		    (!best || t->deadline < best->deadline))
			best = t;
	return best;
}

static void rearm(struct vclock *c)
{
	struct vtimer *t = earliest(c);
	int64_t d = t ? t->deadline : INT64_MAX;
	if (c->arm && d != c->armed) {
		c->armed = d;
		c->arm(c->arm_opaque, d);
	}
}

/* Fire due timers one at a time: a callback may re-arm or delete others. */
static void fire_until(struct vclock *c, int64_t limit)
{
	struct vtimer *t;
	while ((t = earliest(c)) && t->deadline <= limit) {
		if (c->manual && t->deadline > c->now)
			c->now = t->deadline;
		t->deadline = INT64_MAX;
		t->fn(t->opaque);
	}
}

void clock_advance(struct vclock *c, int64_t ns)
{
	int64_t end = c->now + ns;
	fire_until(c, end);
	c->now = end;
}

void clock_run_due(struct vclock *c)
{
	c->armed = INT64_MAX; /* the backend timer has fired */
	fire_until(c, clock_ns(c));
	rearm(c);
}

struct vtimer *vtimer_new(struct vclock *c, vtimer_fn fn, void *opaque)
{
	struct vtimer *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	*t = (struct vtimer){c, fn, opaque, INT64_MAX, c->timers};
	c->timers = t;
	return t;
}

void vtimer_free(struct vtimer *t)
{
	if (!t)
		return;
	struct vclock *c = t->c;
	for (struct vtimer **pp = &c->timers; *pp; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	free(t);
	rearm(c);
}

void vtimer_mod(struct vtimer *t, int64_t deadline_ns)
{
	t->deadline = deadline_ns == INT64_MAX ? INT64_MAX - 1 : deadline_ns;
	rearm(t->c);
}

void vtimer_del(struct vtimer *t)
{
	t->deadline = INT64_MAX;
	rearm(t->c);
}

bool vtimer_pending(const struct vtimer *t)
{
	return t->deadline != INT64_MAX;
}
