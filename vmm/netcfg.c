/* Network options (see netcfg.h): syntax, pairing, default addresses. */
#include "vmm/netcfg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/backend/tap.h"

#define fail(...) (snprintf(err, errlen, __VA_ARGS__), -1)

static const uint8_t default_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

const char *netcfg_model_name(enum nic_model m)
{
	switch (m) {
	case NIC_NE2K_ISA:
		return "ne2k_isa";
	case NIC_VIRTIO_NET:
		return "virtio-net-pci";
	default:
		return "ne2k_pci";
	}
}

static int parse_model(const char *s, enum nic_model *m)
{
	if (!strcmp(s, "ne2k_pci"))
		*m = NIC_NE2K_PCI;
	else if (!strcmp(s, "ne2k_isa"))
		*m = NIC_NE2K_ISA;
	else if (!strcmp(s, "virtio-net-pci") || !strcmp(s, "virtio") ||
		 !strcmp(s, "virtio-net"))
		*m = NIC_VIRTIO_NET;
	else
		return -1;
	return 0;
}

/* -device names that are NICs (QEMU's; virtio-net is its alias). */
static bool nic_device(const char *arg)
{
	static const char *const names[] = {"ne2k_pci", "ne2k_isa",
					    "virtio-net-pci", "virtio-net"};
	size_t n = strcspn(arg, ",");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == n && !strncmp(arg, names[i], n))
			return true;
	return false;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int netcfg_parse_mac(const char *s, uint8_t mac[6])
{
	if (strlen(s) != 17)
		return -1;
	for (int i = 0; i < 6; i++) {
		const char *p = s + 3 * i;
		int hi = hexval(p[0]), lo = hexval(p[1]);
		if (hi < 0 || lo < 0)
			return -1;
		if (i < 5 && p[2] != ':' && p[2] != '-')
			return -1;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* A MAC a NIC may own. */
static int check_mac(const char *opt, const char *key, const char *s,
		     uint8_t mac[6], char *err, size_t errlen)
{
	static const uint8_t zero[6];
	if (netcfg_parse_mac(s, mac))
		return fail("%s: bad %s '%s' (want six hex bytes, "
			    "52:54:00:12:34:56)",
			    opt, key, s);
	if (mac[0] & 1)
		return fail("%s: %s %s is a multicast address; a NIC needs a "
			    "unicast one (first byte even)",
			    opt, key, s);
	if (!memcmp(mac, zero, 6))
		return fail("%s: %s 00:00:00:00:00:00 is not a valid address",
			    opt, key);
	return 0;
}

static int check_ifname(const char *opt, const char *s, char *out, char *err,
			size_t errlen)
{
	if (!tap_name_valid(s))
		return fail("%s: bad interface name '%s' (1-15 characters, "
			    "no '/', ':', ',', '=' or spaces)",
			    opt, s);
	snprintf(out, NETCFG_IFNAMSIZ, "%s", s);
	return 0;
}

static int check_script(const char *opt, const char *key, const char *v,
			char *err, size_t errlen)
{
	if (!*v || !strcmp(v, "no"))
		return 0;
	return fail("%s: %s=%s: minivmm runs no scripts (set the tap up "
		    "beforehand and give %s=no)",
		    opt, key, v, key);
}

static struct nic_config *new_nic(struct net_config *c, const char *opt,
				  char *err, size_t errlen)
{
	if (c->nnics >= NETCFG_MAX_NICS) {
		(void)fail("%s: at most %d NICs", opt, NETCFG_MAX_NICS);
		return NULL;
	}
	struct nic_config *n = &c->nic[c->nnics++];
	memset(n, 0, sizeof(*n));
	return n;
}

/* Options are key=value lists; the options that a kind takes. */
enum {
	K_MODEL = 1 << 0,
	K_MAC = 1 << 1, /* mac= and macaddr= */
	K_IFNAME = 1 << 2,
	K_SCRIPT = 1 << 3, /* script= and downscript= */
	K_ID = 1 << 4,
	K_NETDEV = 1 << 5,
	K_FILE = 1 << 6,
	K_LEN = 1 << 7,
};

struct kv {
	const char *model, *mac, *ifname, *id, *netdev, *file, *len;
	const char *mac_key;
};

static int parse_kv(char *list, unsigned allowed, struct kv *kv,
		    const char *opt, char *err, size_t errlen)
{
	char *save = NULL;
	if (!list)
		return 0;
	for (char *t = strtok_r(list, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(t, '=');
		if (!eq)
			return fail("%s: '%s' is not key=value", opt, t);
		*eq = 0;
		const char *k = t, *v = eq + 1;
		if ((allowed & K_MODEL) && !strcmp(k, "model")) {
			kv->model = v;
		} else if ((allowed & K_MAC) &&
			   (!strcmp(k, "mac") || !strcmp(k, "macaddr"))) {
			kv->mac = v;
			kv->mac_key = k;
		} else if ((allowed & K_IFNAME) && !strcmp(k, "ifname")) {
			kv->ifname = v;
		} else if ((allowed & K_SCRIPT) &&
			   (!strcmp(k, "script") || !strcmp(k, "downscript"))) {
			if (check_script(opt, k, v, err, errlen))
				return -1;
		} else if ((allowed & K_ID) &&
			   (!strcmp(k, "id") || !strcmp(k, "name"))) {
			kv->id = v;
		} else if ((allowed & K_NETDEV) && !strcmp(k, "netdev")) {
			kv->netdev = v;
		} else if ((allowed & K_FILE) && !strcmp(k, "file")) {
			kv->file = v;
		} else if ((allowed & K_LEN) && !strcmp(k, "len")) {
			kv->len = v;
		} else {
			return fail("%s: unknown option '%s'", opt, k);
		}
	}
	return 0;
}

static int nic_fill(struct nic_config *n, const struct kv *kv, const char *opt,
		    char *err, size_t errlen)
{
	if (kv->model && parse_model(kv->model, &n->model))
		return fail("%s: unknown NIC model '%s' (supported: ne2k_pci, "
			    "ne2k_isa, virtio-net-pci)",
			    opt, kv->model);
	if (kv->mac) {
		if (check_mac(opt, kv->mac_key, kv->mac, n->mac, err, errlen))
			return -1;
		n->mac_set = true;
	}
	if (kv->netdev) {
		if (!*kv->netdev || strlen(kv->netdev) >= NETCFG_IDSIZ)
			return fail("%s: bad netdev id '%s'", opt, kv->netdev);
		snprintf(n->netdev, sizeof(n->netdev), "%s", kv->netdev);
	}
	return 0;
}

static bool is_kind(const char *kind, const char *s)
{
	return !strcmp(kind, s);
}

/* Kinds QEMU has and minivmm does not: the one list. */
static const char *const other_kinds[] = {
    "user",   "bridge",	 "socket", "stream", "dgram",	   "l2tpv3",	 "vde",
    "netmap", "hubport", "af-xdp", "passt",  "vhost-user", "vhost-vdpa",
};
#define NR_OTHER_KINDS (sizeof(other_kinds) / sizeof(other_kinds[0]))

static bool other_kind(const char *kind)
{
	for (size_t i = 0; i < NR_OTHER_KINDS; i++)
		if (!strcmp(kind, other_kinds[i]))
			return true;
	return false;
}

static int unsupported_kind(const char *opt, const char *kind, char *err,
			    size_t errlen)
{
	if (other_kind(kind))
		return fail("%s %s: not supported (only tap and none)", opt,
			    kind);
	return fail("%s: unknown network type '%s' (tap, none)", opt, kind);
}

static int parse_net(struct net_config *c, char *kind, char *rest, char *err,
		     size_t errlen)
{
	const char *opt = "-net";
	struct kv kv = {0};
	if (is_kind(kind, "none")) {
		if (rest)
			return fail("-net none takes no options");
		c->none = true;
		return 0;
	}
	if (is_kind(kind, "nic")) {
		if (parse_kv(rest, K_MODEL | K_MAC | K_ID | K_NETDEV, &kv,
			     "-net nic", err, errlen))
			return -1;
		struct nic_config *n = new_nic(c, "-net nic", err, errlen);
		if (!n || nic_fill(n, &kv, "-net nic", err, errlen))
			return -1;
		n->from_net = !n->netdev[0];
		return 0;
	}
	if (is_kind(kind, "tap")) {
		if (parse_kv(rest, K_IFNAME | K_SCRIPT | K_ID, &kv, "-net tap",
			     err, errlen))
			return -1;
		if (!kv.ifname)
			return fail("-net tap: ifname= is missing (minivmm "
				    "creates no tap names of its own)");
		if (c->nnet_taps >= NETCFG_MAX_NICS)
			return fail("-net tap: at most %d", NETCFG_MAX_NICS);
		return check_ifname("-net tap", kv.ifname,
				    c->net_tap[c->nnet_taps++], err, errlen);
	}
	if (is_kind(kind, "dump")) {
		if (parse_kv(rest, K_FILE | K_LEN | K_ID, &kv, "-net dump", err,
			     errlen))
			return -1;
		if (c->dump_file[0])
			return fail("-net dump: only one dump file");
		const char *f = kv.file ? kv.file : "minivmm-net.pcap";
		if (!*f || strlen(f) >= sizeof(c->dump_file))
			return fail("-net dump: bad file name '%s'", f);
		snprintf(c->dump_file, sizeof(c->dump_file), "%s", f);
		if (kv.len) {
			char *end;
			unsigned long v = strtoul(kv.len, &end, 0);
			if (*end || end == kv.len || v < 14 || v > 65535)
				return fail("-net dump: bad len '%s' "
					    "(14-65535)",
					    kv.len);
			c->dump_len = (unsigned)v;
		}
		return 0;
	}
	if (rest || strchr(kind, '=') || other_kind(kind))
		return unsupported_kind(opt, kind, err, errlen);
	/* The mission's shorthand: -net tap0 is an RTL8029 on tap0. */
	if (!tap_name_valid(kind))
		return fail("-net %s: neither a network type nor an interface "
			    "name (1-15 characters)",
			    kind);
	struct nic_config *n = new_nic(c, opt, err, errlen);
	if (!n)
		return -1;
	snprintf(n->ifname, sizeof(n->ifname), "%s", kind);
	return 0;
}

static int parse_nic(struct net_config *c, char *kind, char *rest, char *err,
		     size_t errlen)
{
	struct kv kv = {0};
	if (is_kind(kind, "none")) {
		if (rest)
			return fail("-nic none takes no options");
		c->none = true;
		return 0;
	}
	if (!is_kind(kind, "tap"))
		return unsupported_kind("-nic", kind, err, errlen);
	if (parse_kv(rest, K_MODEL | K_MAC | K_IFNAME | K_SCRIPT | K_ID, &kv,
		     "-nic tap", err, errlen))
		return -1;
	if (!kv.ifname)
		return fail("-nic tap: ifname= is missing");
	struct nic_config *n = new_nic(c, "-nic", err, errlen);
	if (!n || nic_fill(n, &kv, "-nic tap", err, errlen))
		return -1;
	return check_ifname("-nic tap", kv.ifname, n->ifname, err, errlen);
}

static int parse_netdev(struct net_config *c, char *kind, char *rest, char *err,
			size_t errlen)
{
	struct kv kv = {0};
	if (!is_kind(kind, "tap"))
		return unsupported_kind("-netdev", kind, err, errlen);
	if (parse_kv(rest, K_IFNAME | K_SCRIPT | K_ID, &kv, "-netdev tap", err,
		     errlen))
		return -1;
	if (!kv.id || !*kv.id || strlen(kv.id) >= NETCFG_IDSIZ)
		return fail("-netdev tap: id= is missing or too long");
	if (!kv.ifname)
		return fail("-netdev tap: ifname= is missing");
	for (unsigned i = 0; i < c->nnetdevs; i++)
		if (!strcmp(c->netdev[i].id, kv.id))
			return fail("-netdev: id '%s' given twice", kv.id);
	if (c->nnetdevs >= NETCFG_MAX_NICS)
		return fail("-netdev: at most %d", NETCFG_MAX_NICS);
	unsigned i = c->nnetdevs++;
	snprintf(c->netdev[i].id, NETCFG_IDSIZ, "%s", kv.id);
	return check_ifname("-netdev tap", kv.ifname, c->netdev[i].ifname, err,
			    errlen);
}

static int parse_device(struct net_config *c, char *kind, char *rest, char *err,
			size_t errlen)
{
	struct kv kv = {.model = kind};
	if (parse_kv(rest, K_MAC | K_NETDEV | K_ID, &kv, "-device", err,
		     errlen))
		return -1;
	struct nic_config *n = new_nic(c, "-device", err, errlen);
	return !n || nic_fill(n, &kv, "-device", err, errlen) ? -1 : 0;
}

int netcfg_parse(struct net_config *c, const char *opt, const char *arg,
		 char *err, size_t errlen)
{
	if (!strcmp(opt, "-device") && !nic_device(arg))
		return 1;
	char *dup = strdup(arg);
	if (!dup)
		return fail("%s: out of memory", opt);
	char *comma = strchr(dup, ',');
	char *rest = comma ? comma + 1 : NULL;
	if (comma)
		*comma = 0;
	int rc;
	if (!*dup)
		rc = fail("%s: empty option", opt);
	else if (!strcmp(opt, "-net"))
		rc = parse_net(c, dup, rest, err, errlen);
	else if (!strcmp(opt, "-nic"))
		rc = parse_nic(c, dup, rest, err, errlen);
	else if (!strcmp(opt, "-netdev"))
		rc = parse_netdev(c, dup, rest, err, errlen);
	else
		rc = parse_device(c, dup, rest, err, errlen);
	free(dup);
	return rc;
}

/* -device / -net nic,netdev=ID takes that -netdev's TAP. */
static int bind_netdev(struct net_config *c, struct nic_config *n, char *err,
		       size_t errlen)
{
	for (unsigned i = 0; i < c->nnetdevs; i++) {
		if (strcmp(c->netdev[i].id, n->netdev))
			continue;
		if (c->netdev[i].used)
			return fail("netdev '%s' is used by two NICs",
				    n->netdev);
		c->netdev[i].used = true;
		snprintf(n->ifname, sizeof(n->ifname), "%s",
			 c->netdev[i].ifname);
		return 0;
	}
	return fail("netdev=%s: no -netdev with id=%s", n->netdev, n->netdev);
}

static int check_unique(const struct net_config *c, char *err, size_t errlen)
{
	unsigned isa = 0;
	for (unsigned i = 0; i < c->nnics; i++) {
		const struct nic_config *a = &c->nic[i];
		if (a->model == NIC_NE2K_ISA && ++isa > 1)
			return fail("only one ne2k_isa NIC (0x300, IRQ 9)");
		for (unsigned j = 0; j < i; j++) {
			const struct nic_config *b = &c->nic[j];
			if (a->ifname[0] && !strcmp(a->ifname, b->ifname))
				return fail("tap %s is given to two NICs",
					    a->ifname);
			if (!memcmp(a->mac, b->mac, 6))
				return fail("two NICs have the MAC address "
					    "%02x:%02x:%02x:%02x:%02x:%02x",
					    a->mac[0], a->mac[1], a->mac[2],
					    a->mac[3], a->mac[4], a->mac[5]);
		}
	}
	return 0;
}

int netcfg_finish(struct net_config *c, char *err, size_t errlen)
{
	if (c->none && (c->nnics || c->nnet_taps || c->nnetdevs))
		return fail("-net none cannot be combined with other network "
			    "options");
	unsigned tap = 0;
	for (unsigned i = 0; i < c->nnics; i++) {
		struct nic_config *n = &c->nic[i];
		if (n->netdev[0] && bind_netdev(c, n, err, errlen))
			return -1;
		if (n->from_net && tap < c->nnet_taps)
			snprintf(n->ifname, sizeof(n->ifname), "%s",
				 c->net_tap[tap++]);
		if (!n->mac_set) {
			memcpy(n->mac, default_mac, 6);
			n->mac[5] = (uint8_t)(default_mac[5] + i);
		}
	}
	if (tap < c->nnet_taps)
		return fail("-net tap,ifname=%s has no -net nic to connect to",
			    c->net_tap[tap]);
	for (unsigned i = 0; i < c->nnetdevs; i++)
		if (!c->netdev[i].used)
			return fail("-netdev %s is not used by any NIC "
				    "(-device virtio-net-pci,netdev=%s)",
				    c->netdev[i].id, c->netdev[i].id);
	if (c->dump_file[0] && !c->nnics)
		return fail("-net dump: there is no NIC to dump");
	return check_unique(c, err, errlen);
}
