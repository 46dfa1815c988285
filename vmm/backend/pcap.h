/*
 * -net dump: every frame a NIC sends or receives, written to a pcap file
 * (the classic libpcap format: microsecond timestamps, LINKTYPE_ETHERNET)
 * that tcpdump and Wireshark read.
 */
#ifndef MINIVMM_VMM_BACKEND_PCAP_H
#define MINIVMM_VMM_BACKEND_PCAP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct pcap_dump;

/* Creates (truncates) path and writes the file header; frames are cut to
 * snaplen bytes (0: 65535). NULL with one line in err on failure. */
struct pcap_dump *pcap_dump_open(const char *path, unsigned snaplen, char *err,
				 size_t errlen);
/* One frame, stamped with the host's wall clock. A write error stops the
 * dump (said once on stderr); the network goes on. */
void pcap_dump_frame(struct pcap_dump *d, const uint8_t *buf, size_t len);
/* The same for a frame in n pieces, less its first skip bytes (a vnet
 * header: the file has plain Ethernet frames). */
void pcap_dump_framev(struct pcap_dump *d, const struct iovec *iov, unsigned n,
		      size_t skip);
/* Flushes and closes. NULL is ignored. */
void pcap_dump_close(struct pcap_dump *d);

#endif
