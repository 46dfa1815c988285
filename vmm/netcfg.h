/*
 * Network options as QEMU spells them, parsed and checked before anything
 * is opened:
 *   -net IFNAME                      an RTL8029 (ne2k_pci) on TAP IFNAME
 *   -net nic[,model=M][,macaddr=MAC] a NIC; the n-th -net nic is wired to
 *   -net tap,ifname=X[,script=no,downscript=no]   the n-th -net tap
 *   -nic tap,ifname=X[,model=M][,mac=MAC]         NIC and TAP in one
 *   -netdev tap,id=ID,ifname=X  with  -device M,netdev=ID[,mac=MAC]
 *   -net dump[,file=F][,len=N]       every NIC's frames to a pcap file
 *   -net none, -nic none             no NIC (the default)
 * M is ne2k_pci (RTL8029, the default), ne2k_isa (NE2000 at 0x300, IRQ
 * 9) or virtio-net-pci (also model=virtio or virtio-net; -device
 * virtio-net-pci or virtio-net). MACs default to 52:54:00:12:34:56 plus the
 * NIC's index. A -net nic without a -net tap is a NIC with no cable.
 */
#ifndef MINIVMM_VMM_NETCFG_H
#define MINIVMM_VMM_NETCFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NETCFG_MAX_NICS 4
#define NETCFG_IFNAMSIZ 16
#define NETCFG_IDSIZ	32

enum nic_model { NIC_NE2K_PCI, NIC_NE2K_ISA, NIC_VIRTIO_NET };

struct nic_config {
	enum nic_model model;
	uint8_t mac[6];
	bool mac_set;
	char ifname[NETCFG_IFNAMSIZ]; /* "": no backend */
	bool from_net;		      /* -net nic: takes the next -net tap */
	char netdev[NETCFG_IDSIZ];    /* -device ...,netdev= */
};

struct net_config {
	struct nic_config nic[NETCFG_MAX_NICS];
	unsigned nnics;
	/* -net tap, in order, for the -net nic entries */
	char net_tap[NETCFG_MAX_NICS][NETCFG_IFNAMSIZ];
	unsigned nnet_taps;
	/* -netdev tap,id= */
	struct {
		char id[NETCFG_IDSIZ];
		char ifname[NETCFG_IFNAMSIZ];
		bool used;
	} netdev[NETCFG_MAX_NICS];
	unsigned nnetdevs;
	char dump_file[256]; /* "": no -net dump */
	unsigned dump_len;
	bool none;
};

/* One option: opt is "-net", "-nic", "-netdev" or "-device" (for -device
 * only the NIC models; returns 1 for other devices without touching err).
 * 0 when taken, -1 with one line in err. */
int netcfg_parse(struct net_config *c, const char *opt, const char *arg,
		 char *err, size_t errlen);
/* After the whole command line: pairs NICs with TAPs and -device with
 * -netdev, gives the default MACs. 0, or -1 with one line in err. */
int netcfg_finish(struct net_config *c, char *err, size_t errlen);

/* "52:54:00:12:34:56" (or '-' separated) into mac. 0, or -1 if malformed.
 * Does not judge the address (see netcfg_mac_ok). */
int netcfg_parse_mac(const char *s, uint8_t mac[6]);
const char *netcfg_model_name(enum nic_model m);

#endif
