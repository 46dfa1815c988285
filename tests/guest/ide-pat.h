/*
 * Data patterns of the "ide" guest test, shared by the guest (ide.c) and
 * the host helper that makes and checks the images (ide-img.c), so both
 * sides agree on what every sector must hold.
 *
 * Disk (primary master, IDET_SECTORS sectors): every 32-bit word of
 * sector L holds L. The guest then writes IDET_PIO_N sectors at
 * IDET_PIO_LBA with PIO WRITE SECTORS and IDET_DMA_N at IDET_DMA_LBA with
 * WRITE DMA, in the patterns below; every other sector must stay as made.
 * CD-ROM: the file IDET_ISO_NAME of IDET_ISO_FILE bytes whose word k is
 * IDET_ISO_MAGIC | k.
 */
#ifndef GUEST_IDE_PAT_H
#define GUEST_IDE_PAT_H

#include <stdint.h>

#define IDET_SECTORS   8192u /* 4 MiB */
#define IDET_PIO_LBA   100u
#define IDET_PIO_N     3u
#define IDET_DMA_LBA   300u
#define IDET_DMA_N     16u
#define IDET_ISO_NAME  "PATTERN.BIN"
#define IDET_ISO_FILE  65536u
#define IDET_ISO_MAGIC 0xC0000000u

enum idet_kind { IDET_ORIG, IDET_PIO, IDET_DMA };

/* Word i (0-127) of sector lba when written as kind. */
static inline uint32_t idet_word(enum idet_kind kind, uint32_t lba, uint32_t i)
{
	switch (kind) {
	case IDET_PIO:
		return 0x5A000000u | lba << 8 | i;
	case IDET_DMA:
		return 0xDA000000u | lba << 8 | i;
	default:
		return lba;
	}
}

/* What the disk must hold at lba once the test has run. */
static inline enum idet_kind idet_final(uint32_t lba)
{
	if (lba >= IDET_PIO_LBA && lba < IDET_PIO_LBA + IDET_PIO_N)
		return IDET_PIO;
	if (lba >= IDET_DMA_LBA && lba < IDET_DMA_LBA + IDET_DMA_N)
		return IDET_DMA;
	return IDET_ORIG;
}

#endif
