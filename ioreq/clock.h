/*
 * Virtual clock and timers for device models. Devices read the time and arm
 * one-shot timers through this interface only; the device-model loop backs it
 * with CLOCK_MONOTONIC and one libevent timer, unit tests back it with a
 * manual clock that they advance (clock_advance), so timer behaviour is
 * tested deterministically and without sleeping.
 * Timer callbacks run on the device-model thread with the device lock held.
 */
#ifndef MINIVMM_CLOCK_H
#define MINIVMM_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

struct vclock;
struct vtimer;
typedef void (*vtimer_fn)(void *opaque);

/* A manual clock starting at start_ns (for tests). */
struct vclock *clock_new_manual(int64_t start_ns);
/* A clock reading CLOCK_MONOTONIC; arm() is called whenever the earliest
 * deadline changes (INT64_MAX: nothing armed). */
struct vclock *clock_new_host(void (*arm)(void *opaque, int64_t deadline_ns),
			      void *opaque);
void clock_free(struct vclock *c);

int64_t clock_ns(struct vclock *c);
/* Manual clocks: move time forward, firing due timers in deadline order. */
void clock_advance(struct vclock *c, int64_t ns);
/* Host clocks: fire every timer whose deadline has passed. */
void clock_run_due(struct vclock *c);
/* Wall-clock time (seconds since the epoch) corresponding to clock_ns()==0
 * offset; manual clocks return the value set with clock_set_wall. */
int64_t clock_wall_ns(struct vclock *c);
void clock_set_wall(struct vclock *c, int64_t wall_ns_at_now);

struct vtimer *vtimer_new(struct vclock *c, vtimer_fn fn, void *opaque);
void vtimer_free(struct vtimer *t);
/* Arm (or re-arm) to fire once at the absolute clock time deadline_ns. */
void vtimer_mod(struct vtimer *t, int64_t deadline_ns);
void vtimer_del(struct vtimer *t);
bool vtimer_pending(const struct vtimer *t);

#endif
