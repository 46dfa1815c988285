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
#include <sys/uio.h>
#include <unistd.h>

#include "ioreq/dm.h"

#define TUN_PATH "/dev/net/tun"
/* A TAP with a large MTU, or a TSO frame, hands whole frames. */
#define RX_BUF	     (NET_VNET_HDR_LEN + NET_MAX_GSO_FRAME + 2)
#define RX_PER_EVENT 64 /* frames per wake-up: other events get a turn */

struct tap {
	int fd;
	char ifname[IFNAMSIZ];
	size_t hdr_len;	   /* NET_VNET_HDR_LEN in vnet header mode, or 0 */
	size_t max_frame;  /* longer frames read are dropped */
	unsigned offloads; /* what TUNSETOFFLOAD took at open */
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

static struct tap *tap_alloc(int fd, const char *ifname, bool vnet_hdr)
{
	struct tap *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->fd = fd;
	t->hdr_len = vnet_hdr ? NET_VNET_HDR_LEN : 0;
	t->max_frame = NET_MAX_FRAME;
	snprintf(t->ifname, sizeof(t->ifname), "%s", ifname);
	return t;
}

static unsigned tun_flags(unsigned offloads)
{
	unsigned f = 0;
	if (offloads & NET_OFFLOAD_CSUM)
		f |= TUN_F_CSUM;
	if (offloads & NET_OFFLOAD_TSO4)
		f |= TUN_F_TSO4;
	if (offloads & NET_OFFLOAD_TSO6)
		f |= TUN_F_TSO6;
	if (offloads & NET_OFFLOAD_ECN)
		f |= TUN_F_TSO_ECN;
	return f;
}

int tap_set_offload(struct tap *t, unsigned offloads)
{
	if (!t->hdr_len)
		return offloads ? -1 : 0;
	return ioctl(t->fd, TUNSETOFFLOAD, tun_flags(offloads)) < 0 ? -1 : 0;
}

/* What the kernel lets this TAP switch on: everything, checksums only, or
 * nothing; left off until the NIC's driver asks. */
static void probe_offloads(struct tap *t)
{
	static const unsigned tries[] = {NET_OFFLOAD_CSUM | NET_OFFLOAD_TSO4 |
					     NET_OFFLOAD_TSO6 | NET_OFFLOAD_ECN,
					 NET_OFFLOAD_CSUM};
	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		if (tap_set_offload(t, tries[i]) == 0) {
			t->offloads = tries[i];
			break;
		}
	}
	tap_set_offload(t, 0);
}

/* The vnet header, 12 bytes (the kernel's default is the 10-byte one
 * without num_buffers). False: not to be had on this kernel. */
static bool want_vnet_hdr(int fd, unsigned flags)
{
	unsigned features = 0;
	return (flags & TAP_VNET_HDR) &&
	       ioctl(fd, TUNGETFEATURES, &features) == 0 &&
	       (features & IFF_VNET_HDR);
}

struct tap *tap_open(const char *ifname, unsigned flags, char *err,
		     size_t errlen)
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
	bool vnet = want_vnet_hdr(fd, flags);
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	int hdr = NET_VNET_HDR_LEN;
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
	if (vnet && ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0) {
		/* Attached with a 10-byte header: start again without. */
		close(fd);
		return tap_open(ifname, flags & ~TAP_VNET_HDR, err, errlen);
	}
	struct tap *t = tap_alloc(fd, ifr.ifr_name, vnet);
	if (!t) {
		snprintf(err, errlen, "tap %s: out of memory", ifname);
		close(fd);
		return NULL;
	}
	if (vnet)
		probe_offloads(t);
	return t;
}

bool tap_vnet_hdr(const struct tap *t)
{
	return t->hdr_len != 0;
}

unsigned tap_offloads(const struct tap *t)
{
	return t->offloads;
}

void tap_set_max_frame(struct tap *t, size_t len)
{
	t->max_frame = len < NET_MAX_GSO_FRAME ? len : NET_MAX_GSO_FRAME;
}

static void stop_reading(struct tap *t)
{
	if (t->reading)
		event_del(t->ev);
	t->reading = false;
}

/* End of file or a hard read error: the watch would fire forever, so it
 * goes, for good (tap_rx_ready does not re-arm it), with one line. */
static void stop_for_good(struct tap *t, const char *why)
{
	if (!t->failed)
		fprintf(stderr,
			"minivmm: tap %s: read: %s; not reading any more\n",
			t->ifname, why);
	t->failed = true;
	stop_reading(t);
	if (t->nic->link)
		t->nic->link(t->nic_opaque, false);
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
		/* EBADFD/EIO: the interface went away. */
		t->st.rx_errors++;
		stop_for_good(t, strerror(errno));
		return false;
	}
	if (n == 0) { /* a TAP never ends; the test's socket peer can */
		stop_for_good(t, "end of file");
		return false;
	}
	if ((size_t)n < t->hdr_len || (size_t)n - t->hdr_len > t->max_frame) {
		t->st.rx_oversize++;
		return true;
	}
	t->st.rx_frames++;
	t->st.rx_bytes += (uint64_t)n - t->hdr_len;
	if (!t->nic->receive(t->nic_opaque, t->buf, (size_t)n))
		t->st.rx_refused++;
	return true;
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

/* One frame (and header) in n pieces: one writev(), straight from where
 * the NIC has them (guest RAM for virtio-net). */
void tap_sendv(struct tap *t, const struct iovec *iov, unsigned n)
{
	size_t len = 0;
	for (unsigned i = 0; i < n; i++)
		len += iov[i].iov_len;
	ssize_t w;
	do
		w = writev(t->fd, iov, (int)n);
	while (w < 0 && errno == EINTR);
	if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		t->st.tx_dropped++;
	} else if (w < 0 || (size_t)w != len || len < t->hdr_len) {
		t->st.tx_errors++;
	} else {
		t->st.tx_frames++;
		t->st.tx_bytes += len - t->hdr_len;
	}
}

void tap_send(struct tap *t, const uint8_t *buf, size_t len)
{
	struct iovec iov = {(void *)buf, len};
	tap_sendv(t, &iov, 1);
}

static void be_send(void *opaque, const uint8_t *buf, size_t len)
{
	tap_send(opaque, buf, len);
}

static void be_sendv(void *opaque, const struct iovec *iov, unsigned n)
{
	tap_sendv(opaque, iov, n);
}

static int be_set_offload(void *opaque, unsigned offloads)
{
	return tap_set_offload(opaque, offloads);
}

static void be_rx_ready(void *opaque)
{
	tap_rx_ready(opaque);
}

static const struct net_backend_ops tap_ops = {.send = be_send,
					       .rx_ready = be_rx_ready,
					       .sendv = be_sendv,
					       .set_offload = be_set_offload};

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
 * SOCK_SEQPACKET socket), made non-blocking; the fd becomes the tap's.
 * TUNSETOFFLOAD does not work there: no offloads. */
struct tap *tap_open_fd(int fd, const char *name, unsigned flags)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return NULL;
	return tap_alloc(fd, name, flags & TAP_VNET_HDR);
}
