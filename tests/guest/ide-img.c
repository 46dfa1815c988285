/*
 * ide-img: host side of the "ide" guest test (patterns in ide-pat.h).
 *   ide-img disk FILE     the IDET_SECTORS disk, each sector its LBA
 *   ide-img isofile FILE  the IDET_ISO_FILE bytes of the ISO's file
 *   ide-img verify FILE   the disk after the guest ran: written sectors
 *                         hold the PIO/DMA patterns, all others unchanged
 * Exit status 0 on success; verify prints one line per bad sector (at
 * most 10) and a summary.
 */
#include <stdio.h>
#include <string.h>

#include "ide-pat.h"

static const char *const kind_name[] = {"original", "PIO", "DMA"};

static int make_disk(FILE *f)
{
	uint32_t w[128];

	for (uint32_t lba = 0; lba < IDET_SECTORS; lba++) {
		for (uint32_t i = 0; i < 128; i++)
			w[i] = idet_word(IDET_ORIG, lba, i);
		if (fwrite(w, sizeof(w), 1, f) != 1)
			return 1;
	}
	return 0;
}

static int make_isofile(FILE *f)
{
	for (uint32_t k = 0; k < IDET_ISO_FILE / 4; k++) {
		uint32_t w = IDET_ISO_MAGIC | k;

		if (fwrite(&w, sizeof(w), 1, f) != 1)
			return 1;
	}
	return 0;
}

static int verify(FILE *f)
{
	uint32_t w[128], lba, bad = 0;

	for (lba = 0; fread(w, sizeof(w), 1, f) == 1; lba++) {
		enum idet_kind k = idet_final(lba);
		uint32_t i;

		for (i = 0; i < 128 && w[i] == idet_word(k, lba, i); i++)
			;
		if (i < 128 && ++bad <= 10)
			printf("sector %u word %u: %08x, expected %s %08x\n",
			       lba, i, w[i], kind_name[k],
			       idet_word(k, lba, i));
	}
	if (lba != IDET_SECTORS) {
		printf("image has %u sectors, expected %u\n", lba,
		       IDET_SECTORS);
		return 1;
	}
	printf("%u sectors checked: %u PIO-written at %u, %u DMA-written at "
	       "%u, %u bad\n",
	       lba, IDET_PIO_N, IDET_PIO_LBA, IDET_DMA_N, IDET_DMA_LBA, bad);
	return bad != 0;
}

int main(int argc, char **argv)
{
	FILE *f;
	int rc;

	if (argc != 3) {
		fprintf(stderr, "usage: ide-img disk|isofile|verify FILE\n");
		return 2;
	}
	f = fopen(argv[2], strcmp(argv[1], "verify") ? "wb" : "rb");
	if (!f) {
		perror(argv[2]);
		return 1;
	}
	if (!strcmp(argv[1], "disk"))
		rc = make_disk(f);
	else if (!strcmp(argv[1], "isofile"))
		rc = make_isofile(f);
	else if (!strcmp(argv[1], "verify"))
		rc = verify(f);
	else
		rc = 2;
	if (fclose(f) && !rc)
		rc = 1;
	if (rc == 1 && strcmp(argv[1], "verify"))
		perror(argv[2]);
	return rc;
}
