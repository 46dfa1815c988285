/*
 * The TAP backend on a SOCK_SEQPACKET socket pair (frame boundaries kept,
 * as on a TAP) with a fake NIC, and the network option parser.
 */
#include <criterion/criterion.h>
#include <event2/event.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ioreq/dm.h"
#include "vmm/backend/pcap.h"
#include "vmm/backend/tap.h"
#include "vmm/netcfg.h"

struct fake_nic {
	bool room;
	unsigned got;
	unsigned polls;	    /* can_receive calls: one per loop turn reading */
	unsigned link_down; /* link(false) calls */
	size_t last_len;
	uint8_t last[2048];
};

static bool fake_can_receive(void *opaque)
{
	struct fake_nic *n = opaque;
	n->polls++;
	return n->room;
}

static void fake_link(void *opaque, bool up)
{
	struct fake_nic *n = opaque;
	if (!up)
		n->link_down++;
}

static bool fake_receive(void *opaque, const uint8_t *buf, size_t len)
{
	struct fake_nic *n = opaque;
	n->got++;
	n->last_len = len;
	memcpy(n->last, buf, len < sizeof(n->last) ? len : sizeof(n->last));
	return true;
}

static const struct net_nic_ops fake_ops = {.can_receive = fake_can_receive,
					    .receive = fake_receive,
					    .link = fake_link};

static struct dm dm;
static int peer;
static struct tap *tap;
static struct fake_nic nic;

static void setup(void)
{
	int sv[2];
	cr_assert_eq(dm_init(&dm, DM_MODE_INLINE, 1), 0);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	peer = sv[1];
	tap = tap_open_fd(sv[0], "fake0", 0);
	cr_assert_not_null(tap);
	memset(&nic, 0, sizeof(nic));
	nic.room = true;
	cr_assert_eq(tap_start(tap, &dm, &fake_ops, &nic), 0);
}

static void teardown(void)
{
	tap_close(tap);
	close(peer);
	dm_destroy(&dm);
}

static void spin(void)
{
	for (int i = 0; i < 20; i++)
		event_base_loop(dm.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
}

static void frame(uint8_t tag, size_t len)
{
	uint8_t b[4096];
	memset(b, tag, len);
	cr_assert_eq(write(peer, b, len), (ssize_t)len);
}

TestSuite(tap, .init = setup, .fini = teardown);

Test(tap, frames_reach_the_nic_whole)
{
	frame(0xa1, 60);
	frame(0xa2, 1514);
	spin();
	cr_assert_eq(nic.got, 2);
	cr_assert_eq(nic.last_len, 1514);
	cr_assert_eq(nic.last[1513], 0xa2);
	cr_assert_eq(tap_stats(tap)->rx_frames, 2);
	cr_assert_eq(tap_stats(tap)->rx_bytes, 60 + 1514);
}

Test(tap, full_nic_pauses_reading_until_rx_ready)
{
	nic.room = false;
	frame(1, 100);
	frame(2, 100);
	spin();
	cr_assert_eq(nic.got, 0, "read while the NIC had no room");
	cr_assert_eq(tap_stats(tap)->rx_pauses, 1);
	spin(); /* no busy re-polling while paused */
	cr_assert_eq(tap_stats(tap)->rx_pauses, 1);
	nic.room = true;
	dm_lock(&dm);
	tap_rx_ready(tap);
	tap_rx_ready(tap); /* twice is harmless */
	dm_unlock(&dm);
	spin();
	cr_assert_eq(nic.got, 2, "frames kept in the queue were lost");
	cr_assert_eq(nic.last[0], 2);
}

Test(tap, oversize_frame_dropped_and_counted)
{
	frame(3, NET_MAX_FRAME + 1);
	frame(4, 64);
	spin();
	cr_assert_eq(nic.got, 1);
	cr_assert_eq(nic.last[0], 4);
	cr_assert_eq(tap_stats(tap)->rx_oversize, 1);
}

Test(tap, send_never_blocks_when_the_queue_is_full)
{
	uint8_t b[1514];
	memset(b, 0x5a, sizeof(b));
	int sndbuf = 4096;
	setsockopt(peer, SOL_SOCKET, SO_RCVBUF, &sndbuf, sizeof(sndbuf));
	/* Nobody reads peer: the queue fills, then frames are dropped. */
	for (int i = 0; i < 2000; i++)
		tap_send(tap, b, sizeof(b));
	const struct tap_stats *s = tap_stats(tap);
	cr_assert_gt(s->tx_frames, 0);
	cr_assert_gt(s->tx_dropped, 0);
	cr_assert_eq(s->tx_frames + s->tx_dropped + s->tx_errors, 2000);
	uint8_t r[2048];
	cr_assert_eq(read(peer, r, sizeof(r)), 1514);
	cr_assert_eq(r[100], 0x5a);
}

/* stderr into a file while f runs; what was written comes back in out. */
static void capture_stderr(void (*f)(void), char *out, size_t len)
{
	FILE *tmp = tmpfile();
	cr_assert_not_null(tmp);
	fflush(stderr);
	int saved = dup(2);
	dup2(fileno(tmp), 2);
	f();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(tmp);
	size_t n = fread(out, 1, len - 1, tmp);
	out[n] = 0;
	fclose(tmp);
}

/* After end of file or a read error the watch is gone: further loop turns
 * do not call into the TAP (before, EOF left it armed and the loop spun),
 * and rx_ready does not re-arm it. */
static void spin_twice_and_rearm(void)
{
	spin();
	unsigned polls = nic.polls;
	spin();
	cr_assert_eq(nic.polls, polls, "the loop still polls a dead TAP");
	dm_lock(&dm);
	tap_rx_ready(tap);
	dm_unlock(&dm);
	spin();
	cr_assert_eq(nic.polls, polls, "rx_ready re-armed a dead TAP");
}

Test(tap, peer_gone_stops_reading_once)
{
	char err[256];
	close(peer);
	peer = -1;
	capture_stderr(spin_twice_and_rearm, err, sizeof(err));
	cr_assert_str_eq(err, "minivmm: tap fake0: read: end of file; not "
			      "reading any more\n");
	cr_assert_eq(nic.got, 0);
	cr_assert_eq(nic.link_down, 1);
	cr_assert_eq(tap_stats(tap)->rx_errors, 0);
	tap_send(tap, (const uint8_t *)"x", 1);
	cr_assert_eq(tap_stats(tap)->tx_errors, 1);
}

Test(tap, read_error_stops_reading_once)
{
	char err[256];
	/* A unix socket closed with data unread gives its peer ECONNRESET. */
	tap_send(tap, (const uint8_t *)"unread", 6);
	close(peer);
	peer = -1;
	capture_stderr(spin_twice_and_rearm, err, sizeof(err));
	cr_assert_str_eq(err, "minivmm: tap fake0: read: Connection reset by "
			      "peer; not reading any more\n");
	cr_assert_eq(nic.link_down, 1);
	cr_assert_eq(tap_stats(tap)->rx_errors, 1);
}

/* vnet header mode on the fake TAP: the header comes and goes with every
 * frame; counters and the size limit are of the frame alone. */
Test(tap_vnet, header_with_every_frame)
{
	int sv[2];
	struct dm d;
	struct fake_nic n = {.room = true};
	cr_assert_eq(dm_init(&d, DM_MODE_INLINE, 1), 0);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	struct tap *t = tap_open_fd(sv[0], "fakev0", TAP_VNET_HDR);
	cr_assert_not_null(t);
	cr_assert(tap_vnet_hdr(t));
	cr_assert_eq(tap_offloads(t), 0, "no TUNSETOFFLOAD on a socket");
	cr_assert_neq(tap_set_offload(t, NET_OFFLOAD_CSUM), 0);
	tap_set_max_frame(t, NET_MAX_GSO_FRAME);
	cr_assert_eq(tap_start(t, &d, &fake_ops, &n), 0);
	static uint8_t b[NET_VNET_HDR_LEN + NET_MAX_GSO_FRAME + 1];
	memset(b, 0x33, sizeof(b));
	b[0] = 1; /* NEEDS_CSUM in the header */
	cr_assert_eq(write(sv[1], b, NET_VNET_HDR_LEN + 1514),
		     NET_VNET_HDR_LEN + 1514);
	cr_assert_eq(write(sv[1], b, NET_VNET_HDR_LEN + 5000),
		     NET_VNET_HDR_LEN + 5000);
	cr_assert_eq(write(sv[1], b, sizeof(b)), (ssize_t)sizeof(b));
	cr_assert_eq(write(sv[1], b, 5), 5); /* shorter than the header */
	for (int i = 0; i < 20; i++)
		event_base_loop(d.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	cr_assert_eq(n.got, 2);
	cr_assert_eq(n.last_len, NET_VNET_HDR_LEN + 5000);
	cr_assert_eq(n.last[0], 1);
	cr_assert_eq(tap_stats(t)->rx_bytes, 1514 + 5000);
	cr_assert_eq(tap_stats(t)->rx_oversize, 2);
	/* sendv: one write of all the pieces. */
	uint8_t h[NET_VNET_HDR_LEN] = {0}, f1[40], f2[60];
	memset(f1, 0xa1, sizeof(f1));
	memset(f2, 0xa2, sizeof(f2));
	struct iovec iov[3] = {{h, sizeof(h)}, {f1, 40}, {f2, 60}};
	tap_sendv(t, iov, 3);
	uint8_t r[256];
	cr_assert_eq(read(sv[1], r, sizeof(r)), NET_VNET_HDR_LEN + 100);
	cr_assert_eq(r[NET_VNET_HDR_LEN], 0xa1);
	cr_assert_eq(r[NET_VNET_HDR_LEN + 40], 0xa2);
	cr_assert_eq(tap_stats(t)->tx_frames, 1);
	cr_assert_eq(tap_stats(t)->tx_bytes, 100);
	tap_close(t);
	close(sv[1]);
	dm_destroy(&d);
}

/* A real TAP, where this test may create one (root or CAP_NET_ADMIN):
 * IFF_VNET_HDR with a 12-byte header and the offloads are to be had. */
Test(tap_vnet, real_tap_takes_the_header_and_offloads)
{
	char e[256];
	struct tap *t = tap_open("mvtvnet%d", TAP_VNET_HDR, e, sizeof(e));
	if (!t) {
		cr_log_warn("skipped: %s", e);
		return;
	}
	cr_assert(tap_vnet_hdr(t));
	cr_assert_eq(tap_offloads(t), NET_OFFLOAD_CSUM | NET_OFFLOAD_TSO4 |
					  NET_OFFLOAD_TSO6 | NET_OFFLOAD_ECN);
	cr_assert_eq(tap_set_offload(t, NET_OFFLOAD_CSUM | NET_OFFLOAD_TSO4),
		     0);
	cr_assert_eq(tap_set_offload(t, 0), 0);
	tap_close(t);
	/* Without the flag: plain, no offloads. */
	t = tap_open("mvtvnet%d", 0, e, sizeof(e));
	cr_assert_not_null(t, "%s", e);
	cr_assert_not(tap_vnet_hdr(t));
	cr_assert_eq(tap_offloads(t), 0);
	cr_assert_neq(tap_set_offload(t, NET_OFFLOAD_CSUM), 0);
	tap_close(t);
}

/* Frames through a real TAP in vnet header mode and the host kernel, both
 * ways, seen from a packet socket on the interface: the kernel takes our
 * 12-byte header and gives one with every frame. Root only. */
static bool up(const char *ifname)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	bool ok = s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0;
	ifr.ifr_flags |= IFF_UP;
	ok = ok && ioctl(s, SIOCSIFFLAGS, &ifr) == 0;
	if (s >= 0)
		close(s);
	return ok;
}

#define ETH_P_TEST 0x88b5 /* IEEE local experimental */

static void test_frame(uint8_t *f, size_t len, uint8_t tag)
{
	memset(f, 0xff, 6);
	const uint8_t src[6] = {0x02, 0, 0, 0, 0, tag};
	memcpy(f + 6, src, 6);
	f[12] = ETH_P_TEST >> 8;
	f[13] = ETH_P_TEST & 0xff;
	for (size_t i = 14; i < len; i++)
		f[i] = (uint8_t)(i * tag);
}

Test(tap_vnet, real_tap_frames_both_ways)
{
	char e[256];
	struct tap *t = tap_open("mvtio%d", TAP_VNET_HDR, e, sizeof(e));
	if (!t) {
		cr_log_warn("skipped: %s", e);
		return;
	}
	cr_assert(up(tap_ifname(t)));
	int ps = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_TEST));
	cr_assert_geq(ps, 0);
	struct sockaddr_ll sll = {.sll_family = AF_PACKET,
				  .sll_protocol = htons(ETH_P_TEST),
				  .sll_ifindex =
				      (int)if_nametoindex(tap_ifname(t))};
	cr_assert_eq(bind(ps, (struct sockaddr *)&sll, sizeof(sll)), 0);
	struct timeval tv = {2, 0};
	setsockopt(ps, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	/* Guest to host: header, frame in two pieces. */
	uint8_t h[NET_VNET_HDR_LEN] = {0}, f[300], g[400];
	test_frame(f, sizeof(f), 7);
	struct iovec iov[3] = {{h, sizeof(h)}, {f, 100}, {f + 100, 200}};
	tap_sendv(t, iov, 3);
	cr_assert_eq(tap_stats(t)->tx_frames, 1, "%llu errors",
		     (unsigned long long)tap_stats(t)->tx_errors);
	ssize_t n = recv(ps, g, sizeof(g), 0);
	cr_assert_eq(n, 300);
	cr_assert_eq(memcmp(f, g, 300), 0);
	/* Host to guest: the kernel sends on the TAP, we read it with a
	 * header in front. */
	struct dm d;
	struct fake_nic nn = {.room = true};
	cr_assert_eq(dm_init(&d, DM_MODE_INLINE, 1), 0);
	cr_assert_eq(tap_start(t, &d, &fake_ops, &nn), 0);
	test_frame(f, 200, 9);
	cr_assert_eq(
	    sendto(ps, f, 200, 0, (struct sockaddr *)&sll, sizeof(sll)), 200);
	for (int i = 0; i < 200 && !nn.got; i++) {
		event_base_loop(d.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		usleep(5000);
	}
	cr_assert_geq(nn.got, 1);
	cr_assert_eq(nn.last_len, NET_VNET_HDR_LEN + 200);
	cr_assert_eq(memcmp(nn.last + NET_VNET_HDR_LEN, f, 200), 0);
	tap_close(t);
	close(ps);
	dm_destroy(&d);
}

Test(tap_names, valid_and_invalid)
{
	cr_assert(tap_name_valid("tap0"));
	cr_assert(tap_name_valid("a23456789012345"));
	cr_assert_not(tap_name_valid("a234567890123456"));
	cr_assert_not(tap_name_valid(""));
	cr_assert_not(tap_name_valid(".."));
	cr_assert_not(tap_name_valid("a/b"));
	cr_assert_not(tap_name_valid("a b"));
	cr_assert_not(tap_name_valid("a,b"));
	cr_assert_not(tap_name_valid("eth0:1"));
}

Test(tap_names, open_bad_name_is_one_line)
{
	char e[256];
	cr_assert_null(tap_open("no/slash", 0, e, sizeof(e)));
	cr_assert(strstr(e, "bad interface name"));
}

/* ---- netcfg ---- */

static int parse_all(struct net_config *c, const char *const *argv, int n,
		     char *e, size_t el)
{
	memset(c, 0, sizeof(*c));
	for (int i = 0; i + 1 < n; i += 2)
		if (netcfg_parse(c, argv[i], argv[i + 1], e, el))
			return -1;
	return netcfg_finish(c, e, el);
}

Test(netcfg, shorthand_is_rtl8029_on_that_tap)
{
	struct net_config c;
	char e[256];
	const char *a[] = {"-net", "tap0"};
	cr_assert_eq(parse_all(&c, a, 2, e, sizeof(e)), 0, "%s", e);
	cr_assert_eq(c.nnics, 1);
	cr_assert_eq(c.nic[0].model, NIC_NE2K_PCI);
	cr_assert_str_eq(c.nic[0].ifname, "tap0");
	const uint8_t mac[6] = {0x52, 0x54, 0, 0x12, 0x34, 0x56};
	cr_assert_eq(memcmp(c.nic[0].mac, mac, 6), 0);
}

Test(netcfg, net_nic_pairs_with_net_tap_in_order)
{
	struct net_config c;
	char e[256];
	const char *a[] = {
	    "-net", "nic,model=ne2k_isa,macaddr=52:54:00:aa:bb:cc",
	    "-net", "nic",
	    "-net", "tap,ifname=t0,script=no,downscript=no",
	    "-net", "tap,ifname=t1"};
	cr_assert_eq(parse_all(&c, a, 8, e, sizeof(e)), 0, "%s", e);
	cr_assert_eq(c.nnics, 2);
	cr_assert_eq(c.nic[0].model, NIC_NE2K_ISA);
	cr_assert_str_eq(c.nic[0].ifname, "t0");
	cr_assert_eq(c.nic[0].mac[3], 0xaa);
	cr_assert_str_eq(c.nic[1].ifname, "t1");
	cr_assert_eq(c.nic[1].mac[5], 0x57, "second NIC: default MAC + 1");
}

Test(netcfg, netdev_and_device)
{
	struct net_config c;
	char e[256];
	const char *a[] = {"-netdev", "tap,id=n0,ifname=t5", "-device",
			   "ne2k_pci,netdev=n0,mac=02:00:00:00:00:01"};
	cr_assert_eq(parse_all(&c, a, 4, e, sizeof(e)), 0, "%s", e);
	cr_assert_str_eq(c.nic[0].ifname, "t5");
	cr_assert_eq(c.nic[0].mac[0], 2);
	memset(&c, 0, sizeof(c));
	cr_assert_eq(netcfg_parse(&c, "-device", "testdev", e, sizeof(e)), 1);
}

Test(netcfg, virtio_net_spellings)
{
	struct net_config c;
	char e[256];
	const char *a[] = {
	    "-nic",    "tap,ifname=t0,model=virtio-net-pci",
	    "-nic",    "tap,ifname=t1,model=virtio,mac=52:54:00:0:0:1",
	    "-netdev", "tap,id=n2,ifname=t2",
	    "-device", "virtio-net-pci,netdev=n2,mac=02:00:00:00:00:02",
	    "-netdev", "tap,id=n3,ifname=t3",
	    "-device", "virtio-net,netdev=n3,id=nic3",
	    "-net",    "nic,model=virtio-net-pci",
	    "-net",    "tap,ifname=t4"};
	/* mac=52:54:00:0:0:1 is malformed: one line. */
	cr_assert_neq(parse_all(&c, a, 4, e, sizeof(e)), 0);
	cr_assert(strstr(e, "bad mac"), "%s", e);
	a[3] = "tap,ifname=t1,model=virtio";
	cr_assert_eq(parse_all(&c, a, 12, e, sizeof(e)), 0, "%s", e);
	cr_assert_eq(c.nnics, 4);
	for (unsigned i = 0; i < 4; i++)
		cr_assert_eq(c.nic[i].model, NIC_VIRTIO_NET, "nic %u", i);
	cr_assert_str_eq(c.nic[2].ifname, "t2");
	cr_assert_eq(c.nic[2].mac[5], 2);
	cr_assert_str_eq(c.nic[3].ifname, "t3");
	cr_assert_str_eq(netcfg_model_name(NIC_VIRTIO_NET), "virtio-net-pci");
	const char *b[] = {"-net", "nic,model=virtio-net-pci", "-net",
			   "tap,ifname=t4"};
	cr_assert_eq(parse_all(&c, b, 4, e, sizeof(e)), 0, "%s", e);
	cr_assert_eq(c.nic[0].model, NIC_VIRTIO_NET);
	cr_assert_str_eq(c.nic[0].ifname, "t4");
	/* Other -device names are not the network's. */
	memset(&c, 0, sizeof(c));
	cr_assert_eq(
	    netcfg_parse(&c, "-device", "virtio-net-pcix", e, sizeof(e)), 1);
	cr_assert_eq(
	    netcfg_parse(&c, "-device", "virtio-blk-pci,drive=d", e, sizeof(e)),
	    1);
	cr_assert_neq(netcfg_parse(&c, "-device", "virtio-net-pci,drive=d0", e,
				   sizeof(e)),
		      0);
	cr_assert(strstr(e, "unknown option 'drive'"), "%s", e);
}

Test(netcfg, pcap_frames_in_pieces_lose_the_vnet_header)
{
	char path[] = "/tmp/minivmm-pcap-XXXXXX", e[256];
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	struct pcap_dump *d = pcap_dump_open(path, 64, e, sizeof(e));
	cr_assert_not_null(d, "%s", e);
	uint8_t h[12], f1[30], f2[70];
	memset(h, 0xee, sizeof(h));
	memset(f1, 1, sizeof(f1));
	memset(f2, 2, sizeof(f2));
	/* The header shares the first piece with the frame's start. */
	uint8_t first[12 + 30];
	memcpy(first, h, 12);
	memcpy(first + 12, f1, 30);
	struct iovec iov[2] = {{first, sizeof(first)}, {f2, sizeof(f2)}};
	pcap_dump_framev(d, iov, 2, 12);
	pcap_dump_close(d);
	uint8_t b[300];
	ssize_t n = read(fd, b, sizeof(b));
	close(fd);
	unlink(path);
	cr_assert_eq(n, 24 + 16 + 64, "cut to len=64");
	uint32_t incl, orig;
	memcpy(&incl, b + 24 + 8, 4);
	memcpy(&orig, b + 24 + 12, 4);
	cr_assert_eq(incl, 64);
	cr_assert_eq(orig, 100);
	cr_assert_eq(b[40], 1);
	cr_assert_eq(b[40 + 29], 1);
	cr_assert_eq(b[40 + 30], 2);
}

/* QEMU's other network kinds say so on all three options, bare or with
 * options; "-net passt" is not taken for the tap shorthand. */
Test(netcfg, other_kinds_are_not_supported_everywhere)
{
	static const char *const kinds[] = {
	    "user",   "bridge",	    "socket",	 "stream",  "dgram",
	    "l2tpv3", "vde",	    "netmap",	 "hubport", "af-xdp",
	    "passt",  "vhost-user", "vhost-vdpa"};
	static const char *const opts[] = {"-net", "-nic", "-netdev"};
	struct net_config c;
	char e[256], arg[64], want[64];
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
		for (size_t o = 0; o < 3; o++)
			for (int with_opts = 0; with_opts < 2; with_opts++) {
				snprintf(arg, sizeof(arg), "%s%s", kinds[k],
					 with_opts ? ",id=n0" : "");
				const char *a[] = {opts[o], arg};
				cr_assert_neq(parse_all(&c, a, 2, e, sizeof(e)),
					      0, "%s %s", opts[o], arg);
				snprintf(want, sizeof(want),
					 "%s %s: not supported", opts[o],
					 kinds[k]);
				cr_assert(strstr(e, want), "%s", e);
			}
	for (size_t o = 0; o < 3; o++) {
		const char *a[] = {opts[o], "slirp,id=n0"};
		cr_assert_neq(parse_all(&c, a, 2, e, sizeof(e)), 0);
		cr_assert(strstr(e, "unknown network type 'slirp'"), "%s", e);
	}
}

Test(netcfg, nic_alone_has_no_cable_and_errors_are_clear)
{
	struct net_config c;
	char e[256];
	const char *a[] = {"-nic", "tap,ifname=x0,model=ne2k_pci"};
	cr_assert_eq(parse_all(&c, a, 2, e, sizeof(e)), 0, "%s", e);
	const char *b[] = {"-net", "nic"};
	cr_assert_eq(parse_all(&c, b, 2, e, sizeof(e)), 0, "%s", e);
	cr_assert_str_eq(c.nic[0].ifname, "");
	const char *bad[][2] = {{"-net", "nic,macaddr=03:00:00:00:00:00"},
				{"-net", "nic,macaddr=52:54:00:12:34"},
				{"-net", "nic,macaddr=52:54:00:12:34:5g"},
				{"-net", "nic,model=e1000"},
				{"-nic", "tap,ifname=t0,model=virtio-blk"},
				{"-net", "tap,fd=3"},
				{"-nic", "user"},
				{"-netdev", "tap,ifname=t0"},
				{"-net", ","},
				{"-net", "nic,model"}};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		e[0] = 0;
		cr_assert_neq(parse_all(&c, bad[i], 2, e, sizeof(e)), 0,
			      "accepted %s %s", bad[i][0], bad[i][1]);
		cr_assert(e[0] && !strchr(e, '\n'), "message for %s",
			  bad[i][1]);
	}
}

Test(netcfg, pcap_file_header)
{
	char path[] = "/tmp/minivmm-pcap-XXXXXX", e[256];
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	struct pcap_dump *d = pcap_dump_open(path, 0, e, sizeof(e));
	cr_assert_not_null(d, "%s", e);
	uint8_t f[60] = {0xff};
	pcap_dump_frame(d, f, sizeof(f));
	pcap_dump_close(d);
	uint8_t b[200];
	ssize_t n = read(fd, b, sizeof(b));
	close(fd);
	unlink(path);
	cr_assert_eq(n, 24 + 16 + 60);
	uint32_t magic, link, incl;
	memcpy(&magic, b, 4);
	memcpy(&link, b + 20, 4);
	memcpy(&incl, b + 24 + 8, 4);
	cr_assert_eq(magic, 0xa1b2c3d4u);
	cr_assert_eq(link, 1);
	cr_assert_eq(incl, 60);
}

/* ---- the NE2000 behind a paused backend ---- */
#include "hw/ne2000.h"

static void ne_w(struct ne2000 *s, unsigned off, uint8_t v)
{
	ne2000_ops.write(s, off, 1, v);
}

static uint8_t ne_r(struct ne2000 *s, unsigned off)
{
	return ne2000_ops.read(s, off, 1);
}

/* Linux acks PRX after 9 frames; with the ring full and nothing
 * arriving, PRX must stay set until the guest has made room. */
Test(tap_ne2000, prx_stays_while_the_full_ring_waits_for_the_guest)
{
	const uint8_t mac[6] = {0x52, 0x54, 0, 0x12, 0x34, 0x56};
	struct ne2000 *s = ne2000_new(mac, (struct net_backend){0});
	cr_assert_not_null(s);
	ne_w(s, NE_CR, NE_CR_STP | NE_CR_NODMA);
	ne_w(s, NE_PSTART, 0x4c);
	ne_w(s, NE_PSTOP, 0x80);
	ne_w(s, NE_BNRY, 0x7f);
	ne_w(s, NE_CR, NE_CR_STP | NE_CR_NODMA | NE_CR_PAGE1);
	ne_w(s, NE_CURR, 0x4c);
	ne_w(s, NE_CR, NE_CR_STP | NE_CR_NODMA);
	ne_w(s, NE_RCR, NE_RCR_AB);
	ne_w(s, NE_TCR, 0);
	ne_w(s, NE_ISR, 0xff);
	ne_w(s, NE_IMR, 0x3f);
	ne_w(s, NE_CR, NE_CR_STA | NE_CR_NODMA);
	uint8_t f[60];
	memset(f, 0xff, 6);
	memset(f + 6, 0x02, sizeof(f) - 6);
	int n = 0;
	while (ne2000_can_receive(s) && n < 100) {
		cr_assert_eq(ne2000_receive(s, f, sizeof(f)), NE2000_RX_STORED);
		n++;
	}
	cr_assert_gt(n, 40);
	cr_assert_lt(n, 100);
	/* The guest reads one frame and moves BNRY one page; meanwhile the
	 * backend refills the ring; then the guest acks PRX. */
	ne_w(s, NE_BNRY, 0x4c);
	while (ne2000_can_receive(s) && n < 100) {
		cr_assert_eq(ne2000_receive(s, f, sizeof(f)), NE2000_RX_STORED);
		n++;
	}
	ne_w(s, NE_ISR, NE_ISR_PRX | NE_ISR_RXE);
	cr_assert(ne_r(s, NE_ISR) & NE_ISR_PRX,
		  "PRX lost with %d frames "
		  "unread",
		  n - 1);
	cr_assert(ne2000_irq_level(s));
	/* All read (BNRY one behind CURR): the ack sticks. */
	ne_w(s, NE_CR, NE_CR_STA | NE_CR_NODMA | NE_CR_PAGE1);
	uint8_t curr = ne_r(s, NE_CURR);
	ne_w(s, NE_CR, NE_CR_STA | NE_CR_NODMA);
	ne_w(s, NE_BNRY, curr == 0x4c ? 0x7f : curr - 1);
	ne_w(s, NE_ISR, NE_ISR_PRX | NE_ISR_RXE);
	cr_assert_not(ne_r(s, NE_ISR) & NE_ISR_PRX);
	/* Not full: the guest reads CURR, a frame lands, the guest acks:
	 * it has not seen that frame, so PRX stays. */
	ne2000_receive(s, f, sizeof(f));
	ne_w(s, NE_CR, NE_CR_STA | NE_CR_NODMA | NE_CR_PAGE1);
	cr_assert_eq(ne_r(s, NE_CURR), curr + 1);
	ne_w(s, NE_CR, NE_CR_STA | NE_CR_NODMA);
	ne2000_receive(s, f, sizeof(f));
	ne_w(s, NE_BNRY, curr);
	ne_w(s, NE_ISR, NE_ISR_PRX | NE_ISR_RXE);
	cr_assert(ne_r(s, NE_ISR) & NE_ISR_PRX, "a stranded frame");
	ne_w(s, NE_CR, NE_CR_STA | NE_CR_NODMA | NE_CR_PAGE1);
	cr_assert_eq(ne_r(s, NE_CURR), curr + 2);
	ne_w(s, NE_CR, NE_CR_STA | NE_CR_NODMA);
	ne_w(s, NE_BNRY, curr + 1);
	ne_w(s, NE_ISR, NE_ISR_PRX | NE_ISR_RXE);
	cr_assert_not(ne_r(s, NE_ISR) & NE_ISR_PRX);
	ne2000_free(s);
}
