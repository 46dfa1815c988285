/*
 * TAP backend (see tap.h). Facts from Linux's
 * Documentation/networking/tuntap.rst: TUNSETIFF on an fd of
 * /dev/net/tun attaches it to the named interface, creating the interface
 * when it does not exist; with IFF_NO_PI every read() returns exactly one
 * frame (truncated to the buffer) and every write() sends one.
 */
#include "vmm/backend/tap.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "ioreq/dm.h"

#define TUN_PATH     "/dev/net/tun"
#define RX_BUF	     65536 /* a TAP with a large MTU hands whole frames */
#define RX_PER_EVENT 64	   /* frames per wake-up: other events get a turn */

struct tap {
	int fd;
	char ifname[IFNAMSIZ];
	struct dm *dm;
	struct event *ev; /* EV_READ on fd, added while the NIC has room */
	bool reading;
	bool failed; /* a read error stopped reading for good */
	const struct net_nic_ops *nic;
	void *nic_opaque;
	struct tap_stats st;
	uint8_t buf[RX_BUF];
};

int tap_name_valid(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n >= IFNAMSIZ || !strcmp(name, ".") ||
	    !strcmp(name, ".."))
		return 0;
	return strcspn(name, "/:,= \t\n\r\v\f") == n;
}

static struct tap *tap_alloc(int fd, const char *ifname)
{
	struct tap *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->fd = fd;
	snprintf(t->ifname, sizeof(t->ifname), "%s", ifname);
	return t;
}

struct tap *tap_open(const char *ifname, char *err, size_t errlen)
{
	if (!tap_name_valid(ifname)) {
		snprintf(err, errlen, "tap: bad interface name '%s'", ifname);
		return NULL;
	}
	int fd = open(TUN_PATH, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "tap %s: cannot open %s: %s", ifname,
			 TUN_PATH, strerror(errno));
		return NULL;
	}
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int e = errno;
		const char *why = strerror(e);
		if (e == EPERM)
			why = "Operation not permitted (needs CAP_NET_ADMIN, "
			      "or a persistent tap owned by this user)";
		else if (e == EBUSY)
			why = "Device or resource busy (in use by another "
			      "process?)";
		else if (e == EINVAL)
			why = "Invalid argument (an interface of that name "
			      "exists and is not a tap)";
		snprintf(err, errlen, "tap %s: cannot attach: %s", ifname, why);
		close(fd);
		return NULL;
	}
	struct tap *t = tap_alloc(fd, ifr.ifr_name);
	if (!t) {
		snprintf(err, errlen, "tap %s: out of memory", ifname);
		close(fd);
	}
	return t;
}

/* One frame from the TAP, or false when there is none to read now. */
static bool read_one(struct tap *t)
{
	ssize_t n;
	do
		n = read(t->fd, t->buf, sizeof(t->buf));
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return false;
		/* EBADFD/EIO: the interface went away. Stop, say it once. */
		t->st.rx_errors++;
		if (!t->failed)
			fprintf(stderr,
				"minivmm: tap %s: read: %s; not reading "
				"any more\n",
				t->ifname, strerror(errno));
		t->failed = true;
		return false;
	}
	if (n == 0)
		return false;
	if ((size_t)n > NET_MAX_FRAME) {
		t->st.rx_oversize++;
		return true;
	}
	t->st.rx_frames++;
	t->st.rx_bytes += (uint64_t)n;
	if (!t->nic->receive(t->nic_opaque, t->buf, (size_t)n))
		t->st.rx_refused++;
	return true;
}

static void stop_reading(struct tap *t)
{
	if (t->reading)
		event_del(t->ev);
	t->reading = false;
}

/* fd readable; dm thread, lock held. */
static void tap_readable(void *opaque)
{
	struct tap *t = opaque;
	for (int i = 0; i < RX_PER_EVENT && t->reading; i++) {
		if (!t->nic->can_receive(t->nic_opaque)) {
			t->st.rx_pauses++;
			stop_reading(t); /* until rx_ready */
			return;
		}
		if (!read_one(t))
			break;
	}
	if (t->failed)
		stop_reading(t);
}

int tap_start(struct tap *t, struct dm *dm, const struct net_nic_ops *nic,
	      void *nic_opaque)
{
	t->dm = dm;
	t->nic = nic;
	t->nic_opaque = nic_opaque;
	t->ev = dm_watch_fd(dm, t->fd, tap_readable, t);
	if (!t->ev)
		return -1;
	t->reading = true;
	return 0;
}

/* Any thread that holds the dm lock (vCPU threads in inline mode):
 * event_add is thread-safe, and the loop runs the read, never this. */
void tap_rx_ready(struct tap *t)
{
	if (!t->ev || t->reading || t->failed)
		return;
	if (event_add(t->ev, NULL) == 0)
		t->reading = true;
}

void tap_send(struct tap *t, const uint8_t *buf, size_t len)
{
	ssize_t n;
	do
		n = write(t->fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		t->st.tx_dropped++;
	} else if (n < 0 || (size_t)n != len) {
		t->st.tx_errors++;
	} else {
		t->st.tx_frames++;
		t->st.tx_bytes += len;
	}
}

static void be_send(void *opaque, const uint8_t *buf, size_t len)
{
	tap_send(opaque, buf, len);
}

static void be_rx_ready(void *opaque)
{
	tap_rx_ready(opaque);
}

static const struct net_backend_ops tap_ops = {.send = be_send,
					       .rx_ready = be_rx_ready};

struct net_backend tap_backend(struct tap *t)
{
	return (struct net_backend){&tap_ops, t};
}

const struct tap_stats *tap_stats(const struct tap *t)
{
	return &t->st;
}

const char *tap_ifname(const struct tap *t)
{
	return t->ifname;
}

void tap_close(struct tap *t)
{
	if (!t)
		return;
	if (t->ev)
		dm_unwatch(t->ev);
	close(t->fd);
	free(t);
}

/* For tests: a TAP on a descriptor that keeps frame boundaries (a
 * SOCK_SEQPACKET socket), made non-blocking; the fd becomes the tap's. */
struct tap *tap_open_fd(int fd, const char *name)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return NULL;
	return tap_alloc(fd, name);
}
