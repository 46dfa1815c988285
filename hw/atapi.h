/*
 * ATAPI CD-ROM: the SCSI/MMC command set of a CD/DVD drive (SPC-3, MMC-5),
 * independent of the IDE transport. The IDE layer hands it each 12-byte
 * packet; it answers with data to send, a range of 2048-byte blocks to read
 * from the medium, or CHECK CONDITION with sense data kept for REQUEST
 * SENSE. It owns the medium state (empty, present, changed, locked).
 */
#ifndef MINIVMM_ATAPI_H
#define MINIVMM_ATAPI_H

#include <stdbool.h>
#include <stdint.h>

#include "hw/block.h"

#define ATAPI_BLOCK_SIZE 2048
#define ATAPI_BUF_SIZE	 4096 /* largest non-read response */

enum atapi_status { ATAPI_GOOD = 0, ATAPI_CHECK_CONDITION = 2 };

/* SCSI sense keys */
enum {
	SENSE_NONE = 0,
	SENSE_NOT_READY = 2,
	SENSE_MEDIUM_ERROR = 3,
	SENSE_HARDWARE_ERROR = 4,
	SENSE_ILLEGAL_REQUEST = 5,
	SENSE_UNIT_ATTENTION = 6,
	SENSE_DATA_PROTECT = 7,
	SENSE_ABORTED_COMMAND = 11,
};

struct atapi_result {
	enum atapi_status status;
	/* Data-in from the drive's buffer (INQUIRY, READ TOC, ...), already
	 * cut to the command's allocation length. */
	const uint8_t *data;
	uint32_t len;
	/* READ(10)/READ(12)/READ CD: blocks to move from the medium, in
	 * addition to nothing else (data/len are then 0). */
	uint64_t read_lba;
	uint32_t read_blocks;
};

struct atapi;

struct atapi *atapi_new(void);
void atapi_free(struct atapi *a);
/* Inserts a medium (NULL: empty drive). The guest sees UNIT ATTENTION
 * (medium may have changed) on its next command. Refused (-1) while the
 * guest has locked the tray with PREVENT MEDIUM REMOVAL unless force. */
int atapi_set_medium(struct atapi *a, struct blk *medium, bool force);
struct blk *atapi_medium(struct atapi *a);
/* The transport's hook: fn(opaque, a) runs inside every successful
 * atapi_set_medium() that replaces or removes the medium (after the drive
 * took the new one), so that the transport lets go of the old struct blk
 * before its owner closes it. fn NULL: no hook. */
void atapi_set_medium_hook(struct atapi *a,
			   void (*fn)(void *opaque, struct atapi *a),
			   void *opaque);
/* The transport cut a medium read short because the medium changed under
 * it: record the sense that command ends with (see atapi.c). */
void atapi_read_medium_changed(struct atapi *a);
/* Run one packet command. */
void atapi_command(struct atapi *a, const uint8_t cdb[12],
		   struct atapi_result *res);
/* The transport failed a read the drive asked for (err < 0): record
 * MEDIUM ERROR / unrecovered read error as the current sense, with lba
 * (the first block not read) in its information field. */
void atapi_read_failed(struct atapi *a, int err, uint64_t lba);
/* Sense key of the last CHECK CONDITION (for the ATA error register's
 * upper nibble). */
uint8_t atapi_sense_key(const struct atapi *a);
/* The guest's PREVENT MEDIUM REMOVAL state, and whether it ejected. */
bool atapi_locked(const struct atapi *a);
bool atapi_tray_open(const struct atapi *a);
/* Drive reset (ATAPI soft reset / DEVICE RESET): sense cleared, medium
 * and lock kept. */
void atapi_reset(struct atapi *a);

#endif
