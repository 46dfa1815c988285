/*
 * pcap writer (see pcap.h). File format from the libpcap "savefile"
 * description (pcap-savefile(5)): a 24-byte global header, then per frame
 * a 16-byte record header and the captured bytes, all in the writer's byte
 * order (readers detect it from the magic number).
 */
#include "vmm/backend/pcap.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PCAP_MAGIC	  0xa1b2c3d4u /* microsecond timestamps */
#define PCAP_MAJOR	  2
#define PCAP_MINOR	  4
#define LINKTYPE_ETHERNET 1
#define PCAP_DEFAULT_SNAP 65535u

struct pcap_dump {
	FILE *f;
	char *path;
	unsigned snaplen;
	bool broken;
};

struct pcap_file_hdr {
	uint32_t magic;
	uint16_t major, minor;
	int32_t thiszone;
	uint32_t sigfigs, snaplen, linktype;
};

struct pcap_rec_hdr {
	uint32_t sec, usec, incl_len, orig_len;
};

struct pcap_dump *pcap_dump_open(const char *path, unsigned snaplen, char *err,
				 size_t errlen)
{
	struct pcap_dump *d = calloc(1, sizeof(*d));
	if (!d || !(d->path = strdup(path))) {
		free(d);
		snprintf(err, errlen, "-net dump: out of memory");
		return NULL;
	}
	d->snaplen = snaplen ? snaplen : PCAP_DEFAULT_SNAP;
	d->f = fopen(path, "wbe");
	struct pcap_file_hdr h = {PCAP_MAGIC, PCAP_MAJOR, PCAP_MINOR,	    0,
				  0,	      d->snaplen, LINKTYPE_ETHERNET};
	if (!d->f || fwrite(&h, sizeof(h), 1, d->f) != 1) {
		snprintf(err, errlen, "-net dump: cannot write '%s': %s", path,
			 strerror(errno));
		pcap_dump_close(d);
		return NULL;
	}
	return d;
}

void pcap_dump_frame(struct pcap_dump *d, const uint8_t *buf, size_t len)
{
	struct iovec iov = {(void *)buf, len};
	pcap_dump_framev(d, &iov, 1, 0);
}

/* The first cap bytes after skip of the pieces; false on a write error. */
static bool write_pieces(FILE *f, const struct iovec *iov, unsigned n,
			 size_t skip, size_t cap)
{
	for (unsigned i = 0; i < n && cap; i++) {
		size_t len = iov[i].iov_len;
		if (skip >= len) {
			skip -= len;
			continue;
		}
		size_t k = len - skip < cap ? len - skip : cap;
		if (fwrite((const uint8_t *)iov[i].iov_base + skip, 1, k, f) !=
		    k)
			return false;
		cap -= k;
		skip = 0;
	}
	return true;
}

void pcap_dump_framev(struct pcap_dump *d, const struct iovec *iov, unsigned n,
		      size_t skip)
{
	if (!d || d->broken)
		return;
	size_t len = 0;
	for (unsigned i = 0; i < n; i++)
		len += iov[i].iov_len;
	len = len > skip ? len - skip : 0;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	size_t cap = len < d->snaplen ? len : d->snaplen;
	struct pcap_rec_hdr r = {(uint32_t)ts.tv_sec,
				 (uint32_t)(ts.tv_nsec / 1000), (uint32_t)cap,
				 (uint32_t)len};
	if (fwrite(&r, sizeof(r), 1, d->f) != 1 ||
	    !write_pieces(d->f, iov, n, skip, cap)) {
		fprintf(stderr,
			"minivmm: -net dump: writing '%s' failed: %s; "
			"dump stopped\n",
			d->path, strerror(errno));
		d->broken = true;
	}
	fflush(d->f); /* readable while the guest runs, and after a crash */
}

void pcap_dump_close(struct pcap_dump *d)
{
	if (!d)
		return;
	if (d->f)
		fclose(d->f);
	free(d->path);
	free(d);
}
