/* The ioreq shared page: memfd-backed slots, eventfd or spin notification. */
#include "ioreq/ioreq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

int ioreq_page_init(struct ioreq_page *p, unsigned nslots, bool poll)
{
	memset(p, 0, sizeof(*p));
	size_t len = sizeof(struct ioreq_shared) +
		     (size_t)nslots * sizeof(struct ioreq_slot);
	p->nslots = nslots;
	p->poll = poll;
	p->memfd = memfd_create("minivmm-ioreq", MFD_CLOEXEC);
	if (p->memfd < 0)
		return -1;
	if (ftruncate(p->memfd, len) < 0)
		goto fail;
	p->shared =
	    mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, p->memfd, 0);
	if (p->shared == MAP_FAILED) {
		p->shared = NULL;
		goto fail;
	}
	p->slots = (struct ioreq_slot *)(p->shared + 1);
	p->req_evt = calloc(nslots, sizeof(int));
	p->resp_evt = calloc(nslots, sizeof(int));
	if (!p->req_evt || !p->resp_evt)
		goto fail;
	for (unsigned i = 0; i < nslots; i++)
		p->req_evt[i] = p->resp_evt[i] = -1;
	for (unsigned i = 0; i < nslots; i++) {
		p->req_evt[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		p->resp_evt[i] = eventfd(0, EFD_CLOEXEC);
		if (p->req_evt[i] < 0 || p->resp_evt[i] < 0)
			goto fail;
	}
	return 0;
fail:;
	int e = errno;
	ioreq_page_destroy(p);
	errno = e;
	return -1;
}

void ioreq_page_destroy(struct ioreq_page *p)
{
	for (unsigned i = 0; p->req_evt && i < p->nslots; i++) {
		if (p->req_evt[i] >= 0)
			close(p->req_evt[i]);
		if (p->resp_evt[i] >= 0)
			close(p->resp_evt[i]);
	}
	free(p->req_evt);
	free(p->resp_evt);
	if (p->shared)
		munmap(p->shared,
		       sizeof(struct ioreq_shared) +
			   (size_t)p->nslots * sizeof(struct ioreq_slot));
	if (p->memfd >= 0)
		close(p->memfd);
	memset(p, 0, sizeof(*p));
	p->memfd = -1;
}

static void evt_signal(int fd)
{
	uint64_t one = 1;
	while (write(fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void ioreq_publish(struct ioreq_page *p, unsigned slot)
{
	__atomic_store_n(&p->slots[slot].req.state, IOREQ_READY,
			 __ATOMIC_SEQ_CST);
}

/* After the READY store (seq_cst): a device model that cleared dm_awake
 * before this load rescans the slots after clearing it (dm_loop). */
void ioreq_notify(struct ioreq_page *p, unsigned slot)
{
	if (!p->poll &&
	    !__atomic_load_n(&p->shared->dm_awake, __ATOMIC_SEQ_CST))
		evt_signal(p->req_evt[slot]);
}

void ioreq_submit(struct ioreq_page *p, unsigned slot)
{
	ioreq_publish(p, slot);
	ioreq_notify(p, slot);
}

static bool responded(struct ioreq *r)
{
	return __atomic_load_n(&r->state, __ATOMIC_SEQ_CST) ==
	       IOREQ_RESPONSE_READY;
}

void ioreq_wait(struct ioreq_page *p, unsigned slot)
{
	struct ioreq_slot *s = &p->slots[slot];
	struct ioreq *r = &s->req;
	if (!p->poll && !responded(r)) {
		/* A device model that is awake answers within microseconds:
		 * spin for a while before paying for a sleep and a wake-up. */
		int64_t until = now_ns() + IOREQ_VCPU_SPIN_NS;
		for (unsigned n = 0; !responded(r); n++) {
			ioreq_relax(n);
			if ((n & 63) == 0 && now_ns() > until)
				break;
		}
		__atomic_store_n(&s->vcpu_blocked, 1, __ATOMIC_SEQ_CST);
		while (!responded(r)) {
			uint64_t v;
			if (read(p->resp_evt[slot], &v, sizeof(v)) < 0 &&
			    errno != EINTR && errno != EAGAIN)
				abort(); /* an eventfd we own cannot fail */
		}
		__atomic_store_n(&s->vcpu_blocked, 0, __ATOMIC_RELAXED);
	} else if (p->poll) {
		for (unsigned n = 0; !responded(r); n++)
			ioreq_relax(n);
	}
	__atomic_store_n(&r->state, IOREQ_NONE, __ATOMIC_RELAXED);
}

struct ioreq *ioreq_claim(struct ioreq_page *p, unsigned slot)
{
	struct ioreq *r = &p->slots[slot].req;
	uint8_t expect = IOREQ_READY;
	/* seq_cst: the device model's rescan after clearing dm_awake must
	 * not read the state before that store (see ioreq_notify). */
	if (!__atomic_compare_exchange_n(&r->state, &expect, IOREQ_INPROCESS,
					 false, __ATOMIC_SEQ_CST,
					 __ATOMIC_SEQ_CST))
		return NULL;
	return r;
}

void ioreq_complete(struct ioreq_page *p, unsigned slot)
{
	struct ioreq_slot *s = &p->slots[slot];
	__atomic_store_n(&s->req.state, IOREQ_RESPONSE_READY, __ATOMIC_SEQ_CST);
	if (!p->poll && __atomic_load_n(&s->vcpu_blocked, __ATOMIC_SEQ_CST))
		evt_signal(p->resp_evt[slot]);
}

void ioreq_dm_awake(struct ioreq_page *p, bool awake)
{
	__atomic_store_n(&p->shared->dm_awake, awake, __ATOMIC_SEQ_CST);
}

void ioreq_drain_evt(struct ioreq_page *p, unsigned slot)
{
	uint64_t v;
	while (read(p->req_evt[slot], &v, sizeof(v)) < 0 && errno == EINTR)
		;
}
