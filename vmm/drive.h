/*
 * -hda/-hdb/-hdc/-hdd/-cdrom/-drive/-boot and the block devices of
 * -device, as QEMU spells them:
 *   -drive file=F[,if=ide][,index=N][,media=disk|cdrom]  an IDE drive
 *   -drive file=F,if=virtio          a virtio-blk-pci function of its own
 *   -drive file=F,if=none,id=ID      a backend only, for
 *   -device virtio-blk-pci,drive=ID[,serial=S]
 * with format=raw, readonly=on|off and cache=... on every -drive.
 */
#ifndef MINIVMM_DRIVE_H
#define MINIVMM_DRIVE_H

#include <stdbool.h>
#include <stddef.h>

#include "vmm/backend/block.h"

#define IDE_SLOTS	 4 /* index = channel * 2 + unit */
#define DRIVE_MAX_OTHER	 8 /* if=virtio and if=none drives */
#define DRIVE_MAX_VBLK	 8 /* virtio-blk functions */
#define DRIVE_ID_LEN	 32
#define DRIVE_SERIAL_LEN 20 /* virtio-blk GET_ID */

enum drive_if { DRIVE_IF_IDE, DRIVE_IF_VIRTIO, DRIVE_IF_NONE };

struct drive_opts {
	bool used;
	bool cdrom;
	bool empty; /* a CD-ROM drive with no medium */
	struct blk_opts blk;
	enum drive_if iface;
	char id[DRIVE_ID_LEN]; /* id=, "" if none */
	bool claimed;	       /* if=none: a -device uses it */
};

/* One virtio-blk-pci function and the drive behind it. */
struct vblk_config {
	int drive;		     /* index in drive_config.other[] */
	char drive_id[DRIVE_ID_LEN]; /* -device drive=, until resolved */
	char serial[DRIVE_SERIAL_LEN + 1];
};

struct drive_config {
	struct drive_opts ide[IDE_SLOTS];
	/* if=virtio and if=none drives, in command-line order */
	struct drive_opts other[DRIVE_MAX_OTHER];
	unsigned nother;
	/* virtio-blk functions, in command-line order (PCI slot order) */
	struct vblk_config vblk[DRIVE_MAX_VBLK];
	unsigned nvblk;
	char boot[4]; /* up to three of 'a' 'c' 'd' 'n', NUL-terminated */
};

/* -hdX FILE: index 0-3. */
int drive_add_hd(struct drive_config *dc, int index, const char *file,
		 char *err, size_t errlen);
/* -cdrom FILE: the secondary master (index 2), as QEMU does. */
int drive_add_cdrom(struct drive_config *dc, const char *file, char *err,
		    size_t errlen);
/* -drive file=F,if=ide|virtio|none,index=N,media=disk|cdrom,id=ID,
 * format=raw,readonly=on,cache=writeback|writethrough|none */
int drive_parse(struct drive_config *dc, const char *spec, char *err,
		size_t errlen);
/* -device ARG: 0 when ARG is a block device (virtio-blk-pci or its alias
 * virtio-blk) and was taken, 1 when it is no block device (err left
 * alone), -1 with one line in err. */
int drive_device_parse(struct drive_config *dc, const char *arg, char *err,
		       size_t errlen);
/* After the whole command line: binds each -device to its -drive. 0, or
 * -1 with one line in err. */
int drive_finish(struct drive_config *dc, char *err, size_t errlen);
/* -boot c|d|order=dc|once=d|menu=on... */
int boot_parse(struct drive_config *dc, const char *spec, char *err,
	       size_t errlen);
/* CMOS 0x3D and 0x38 boot-device bytes (1 floppy, 2 disk, 3 CD, 4 net). */
void boot_cmos(const struct drive_config *dc, unsigned char *r3d,
	       unsigned char *r38);

#endif
