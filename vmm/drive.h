/* -hda/-hdb/-hdc/-hdd/-cdrom/-drive/-boot as QEMU spells them. */
#ifndef MINIVMM_DRIVE_H
#define MINIVMM_DRIVE_H

#include <stdbool.h>
#include <stddef.h>

#include "vmm/block.h"

#define IDE_SLOTS 4 /* index = channel * 2 + unit */

struct drive_opts {
	bool used;
	bool cdrom;
	bool empty; /* a CD-ROM drive with no medium */
	struct blk_opts blk;
};

struct drive_config {
	struct drive_opts ide[IDE_SLOTS];
	char boot[4]; /* up to three of 'a' 'c' 'd' 'n', NUL-terminated */
};

/* -hdX FILE: index 0-3. */
int drive_add_hd(struct drive_config *dc, int index, const char *file,
		 char *err, size_t errlen);
/* -cdrom FILE: the secondary master (index 2), as QEMU does. */
int drive_add_cdrom(struct drive_config *dc, const char *file, char *err,
		    size_t errlen);
/* -drive file=F,if=ide,index=N,media=disk|cdrom,format=raw,readonly=on,
 * cache=writeback|writethrough|none */
int drive_parse(struct drive_config *dc, const char *spec, char *err,
		size_t errlen);
/* -boot c|d|order=dc|once=d|menu=on... */
int boot_parse(struct drive_config *dc, const char *spec, char *err,
	       size_t errlen);
/* CMOS 0x3D and 0x38 boot-device bytes (1 floppy, 2 disk, 3 CD, 4 net). */
void boot_cmos(const struct drive_config *dc, unsigned char *r3d,
	       unsigned char *r38);

#endif
