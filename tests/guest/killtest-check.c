/*
 * killtest-check IMAGE LAST [STRIDE]: the host side of the kill test. Every
 * block n in 0..LAST (the last one the guest acknowledged) must hold the
 * pattern of killtest-pat.h at byte offset n * STRIDE (4096 by default:
 * the Linux guest writes block after block; the small guest writes 4 KiB
 * at LBA 8n, the same). Prints the first bad block and exits 1; exits 2
 * on bad arguments or a file it cannot read.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "killtest-pat.h"

int main(int argc, char **argv)
{
	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: killtest-check IMAGE LAST [STRIDE]\n");
		return 2;
	}
	char *end;
	long last = strtol(argv[2], &end, 10);
	long stride = argc == 4 ? strtol(argv[3], NULL, 10) : KT_BLOCK;
	if (*end || last < -1 || last >= 10000000 || stride < KT_BLOCK) {
		fprintf(stderr, "killtest-check: bad LAST or STRIDE\n");
		return 2;
	}
	int fd = open(argv[1], O_RDONLY);
	if (fd < 0) {
		fprintf(stderr, "killtest-check: %s: %s\n", argv[1],
			strerror(errno));
		return 2;
	}
	static char buf[KT_BLOCK], want[KT_BLOCK];
	for (long n = 0; n <= last; n++) {
		for (unsigned i = 0; i < KT_BLOCK; i += KT_LINE)
			kt_line((uint32_t)n, want + i);
		ssize_t r = pread(fd, buf, KT_BLOCK, (off_t)n * stride);
		if (r != KT_BLOCK || memcmp(buf, want, KT_BLOCK)) {
			printf("killtest-check: block %ld (acknowledged) is "
			       "not on the image%s\n",
			       n, r != KT_BLOCK ? " (short read)" : "");
			return 1;
		}
	}
	if (last < 0)
		printf("killtest-check: no block acknowledged\n");
	else
		printf("killtest-check: blocks 0-%ld all on the image\n", last);
	return 0;
}
