/*
 * ATAPI CD-ROM drive: the packet command set of a read-only CD drive.
 *
 * Follows SPC-3 (INQUIRY, REQUEST SENSE, MODE SENSE, fixed-format sense),
 * MMC-5 (READ TOC/PMA/ATIP, GET CONFIGURATION, GET EVENT STATUS
 * NOTIFICATION, READ DISC/TRACK INFORMATION, READ CD, mode page 2Ah) and,
 * where MMC leaves ATAPI details open, SFF-8020i (mode page lengths, medium
 * type codes, READ TOC format in CDB byte 9). The IDE transport (hw/ide.c)
 * hands over 12-byte packets and moves the data; this file never does I/O.
 *
 * The disc is a single-session, single-track Mode 1 data CD whose user data
 * is the image: track 1 at LBA 0, lead-out at ceil(size / 2048).
 *
 * A result's data points into the drive's buffer and stays valid until the
 * next atapi_command(); the caller owns every struct blk.
 *
 * Medium state and its reporting:
 *  - A medium present when the drive executes its first command counts as
 *    being there since power-on: it is ready at once, with no UNIT ATTENTION
 *    and no "new media" event. This is what QEMU does (its change flag is
 *    only set by later media changes); SeaBIOS and Linux cope either way.
 *  - atapi_set_medium() later arms one UNIT ATTENTION, medium may have
 *    changed (28/00): the next command other than INQUIRY, REQUEST SENSE,
 *    GET CONFIGURATION and GET EVENT STATUS NOTIFICATION fails with it and
 *    is not executed. It also queues a media event for GESN. REQUEST SENSE
 *    reports the sense of the previous command only (as QEMU), so the
 *    pending attention is not consumed by it.
 *  - Empty drive: medium-access commands fail NOT READY, medium not present
 *    (3A/00), or 3A/02 (tray open) after the guest ejected the disc.
 *  - START STOP UNIT eject drops the medium (the drive is empty until the
 *    next atapi_set_medium()); the struct blk stays owned by the caller.
 *  - atapi_set_medium() tells the transport through its hook, which ends a
 *    read of the old medium in progress: the sense comes from
 *    atapi_read_medium_changed().
 *
 * Not modelled: audio (PLAY, READ CD of CD-DA, raw sectors, subchannel
 * data beyond the current-position page), DVD, writing, MODE SELECT with a
 * parameter list (the transport interface carries no data-out, so it is
 * refused as an invalid command), asynchronous event notification, power
 * conditions (accepted and ignored).
 */
#include "ioreq/bytes.h"
#include "hw/atapi.h"

#include <stdlib.h>
#include <string.h>

#define CD_FRAMES_PER_SEC 75
#define CD_SECS_PER_MIN	  60
#define CD_MSF_OFFSET	  150 /* LBA 0 is at 00:02:00 */
#define TOC_LEADOUT	  0xaa
#define TOC_CTL_DATA	  0x14 /* ADR 1 (Q position), control 4: data */

#define READ_SPEED_MAX 4234 /* kB/s, 24x */
#define READ_SPEED_1X  176
#define BUFFER_SIZE_KB 512
#define VOLUME_LEVELS  256
#define INQ_VENDOR     "MINIVMM "
#define INQ_PRODUCT    "CD-ROM          "
#define INQ_REVISION   "1.0 "
#define INQ_SERIAL     "MVMMCD00000001"

/* Additional sense codes (ASC << 8 | ASCQ) */
enum {
	ASC_NONE = 0x0000,
	ASC_UNRECOVERED_READ = 0x1100,
	ASC_INVALID_OPCODE = 0x2000,
	ASC_LBA_OUT_OF_RANGE = 0x2100,
	ASC_INVALID_FIELD = 0x2400,
	ASC_MEDIUM_CHANGED = 0x2800,
	ASC_SAVING_NOT_SUPPORTED = 0x3900,
	ASC_NO_MEDIUM = 0x3a00,
	ASC_NO_MEDIUM_TRAY_OPEN = 0x3a02,
	ASC_REMOVAL_PREVENTED = 0x5302,
	ASC_ILLEGAL_MODE_FOR_TRACK = 0x6400,
};

/* GET EVENT STATUS NOTIFICATION, media class */
enum { MEV_NO_CHANGE = 0, MEV_NEW_MEDIA = 2, MEV_MEDIA_REMOVAL = 3 };
#define GESN_CLASS_MEDIA 4
#define GESN_MEDIA_MASK	 (1 << GESN_CLASS_MEDIA)

#define PROFILE_CD_ROM 0x0008

struct atapi {
	struct blk *medium;
	uint64_t nblocks; /* medium size in 2048-byte blocks, rounded up */
	bool tray_open;
	bool locked;	     /* PREVENT MEDIUM REMOVAL */
	bool unit_attention; /* medium changed, not yet reported */
	bool seen_command;   /* anything before the first command is power-on */
	uint8_t media_event; /* pending GESN media event code */
	uint16_t read_speed; /* kB/s, as set by SET CD SPEED */
	uint8_t sense_key;
	uint16_t asc;	 /* ASC << 8 | ASCQ */
	bool info_valid; /* the sense's information field: a failed read's */
	uint32_t info;	 /* first block not read */
	/* The transport's atapi_set_medium_hook(). */
	void (*changed)(void *opaque, struct atapi *a);
	void *changed_opaque;
	uint8_t buf[ATAPI_BUF_SIZE];
};

typedef void (*atapi_handler)(struct atapi *a, const uint8_t *cdb,
			      struct atapi_result *res);

/* ---- byte helpers ---- */

/* 32-bit LBA fields cannot express more; only absurd images get here. */
static uint32_t clamp32(uint64_t v)
{
	return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

/* M:S:F of a logical block; M saturates (a CD holds at most ~80 min). */
static void lba_to_msf(uint8_t *p, uint64_t lba)
{
	uint64_t f = lba + CD_MSF_OFFSET;
	uint64_t m = f / (CD_FRAMES_PER_SEC * CD_SECS_PER_MIN);

	if (m > 255) {
		p[0] = 255, p[1] = 59, p[2] = 74;
		return;
	}
	p[0] = m;
	p[1] = (f / CD_FRAMES_PER_SEC) % CD_SECS_PER_MIN;
	p[2] = f % CD_FRAMES_PER_SEC;
}

/* A TOC-style address: 4-byte LBA, or 0 M S F. */
static void put_addr(uint8_t *p, uint64_t lba, bool msf)
{
	if (msf) {
		p[0] = 0;
		lba_to_msf(p + 1, lba);
	} else {
		put_be(p, 4, clamp32(lba));
	}
}

/* ---- completion ---- */

static bool medium_present(const struct atapi *a)
{
	return a->medium && a->nblocks > 0;
}

static void fail(struct atapi *a, struct atapi_result *res, uint8_t key,
		 uint16_t asc)
{
	a->sense_key = key;
	a->asc = asc;
	a->info_valid = false;
	res->status = ATAPI_CHECK_CONDITION;
}

static void invalid_field(struct atapi *a, struct atapi_result *res)
{
	fail(a, res, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD);
}

static void good(struct atapi *a, struct atapi_result *res)
{
	a->sense_key = SENSE_NONE;
	a->asc = ASC_NONE;
	a->info_valid = false;
	res->status = ATAPI_GOOD;
}

/* Data-in of len bytes from a->buf, cut to the allocation length. */
static void reply(struct atapi *a, struct atapi_result *res, uint32_t len,
		  uint32_t alloc)
{
	good(a, res);
	if (len > alloc)
		len = alloc;
	if (len > ATAPI_BUF_SIZE)
		len = ATAPI_BUF_SIZE;
	res->data = len ? a->buf : NULL;
	res->len = len;
}

static void not_ready(struct atapi *a, struct atapi_result *res)
{
	fail(a, res, SENSE_NOT_READY,
	     a->tray_open ? ASC_NO_MEDIUM_TRAY_OPEN : ASC_NO_MEDIUM);
}

/* ---- SPC commands ---- */

static void cmd_test_unit_ready(struct atapi *a, const uint8_t *cdb,
				struct atapi_result *res)
{
	(void)cdb;
	good(a, res);
}

static void cmd_request_sense(struct atapi *a, const uint8_t *cdb,
			      struct atapi_result *res)
{
	uint8_t *b = a->buf;

	/* DESC (byte 1 bit 0) asks for descriptor format; fixed is allowed
	 * in reply by drives that do not support it. */
	memset(b, 0, 18);
	b[0] = 0x70; /* current error, fixed format */
	if (a->info_valid) {
		b[0] |= 0x80; /* VALID: bytes 3-6 hold the failing block */
		put_be(b + 3, 4, a->info);
	}
	b[2] = a->sense_key;
	b[7] = 10; /* additional sense length */
	b[12] = a->asc >> 8;
	b[13] = a->asc & 0xff;
	reply(a, res, 18, cdb[4]);
}

static uint32_t inquiry_std(uint8_t *b)
{
	memset(b, 0, 36);
	b[0] = 0x05; /* CD/DVD device */
	b[1] = 0x80; /* removable */
	b[2] = 0x05; /* SPC-3 */
	b[3] = 0x02; /* response data format */
	b[4] = 36 - 5;
	memcpy(b + 8, INQ_VENDOR, 8);
	memcpy(b + 16, INQ_PRODUCT, 16);
	memcpy(b + 32, INQ_REVISION, 4);
	return 36;
}

/* Vital product data pages: 00h (the list) and 80h (unit serial number). */
static int inquiry_vpd(uint8_t *b, uint8_t page)
{
	memset(b, 0, 4);
	b[0] = 0x05;
	b[1] = page;
	if (page == 0x00) {
		b[3] = 2;
		b[4] = 0x00;
		b[5] = 0x80;
		return 6;
	}
	if (page == 0x80) {
		b[3] = sizeof(INQ_SERIAL) - 1;
		memcpy(b + 4, INQ_SERIAL, sizeof(INQ_SERIAL) - 1);
		return 4 + sizeof(INQ_SERIAL) - 1;
	}
	return -1;
}

static void cmd_inquiry(struct atapi *a, const uint8_t *cdb,
			struct atapi_result *res)
{
	bool evpd = cdb[1] & 0x01;
	int len;

	if (cdb[1] & 0x02) { /* CmdDt: obsolete */
		invalid_field(a, res);
		return;
	}
	if (!evpd) {
		if (cdb[2]) {
			invalid_field(a, res);
			return;
		}
		len = inquiry_std(a->buf);
	} else {
		len = inquiry_vpd(a->buf, cdb[2]);
		if (len < 0) {
			invalid_field(a, res);
			return;
		}
	}
	reply(a, res, len, get_be(cdb + 3, 2));
}

/* ---- MODE SENSE ---- */

enum { PC_CURRENT, PC_CHANGEABLE, PC_DEFAULT, PC_SAVED };

/* Page header plus body; changeable values are all zero (nothing is). */
static uint32_t page_start(uint8_t *p, uint8_t code, uint8_t len)
{
	memset(p, 0, 2 + len);
	p[0] = code;
	p[1] = len;
	return 2 + len;
}

static uint32_t page_error_recovery(struct atapi *a, uint8_t *p, int pc)
{
	uint32_t n = page_start(p, 0x01, 6); /* SFF-8020i length */

	(void)a;
	if (pc != PC_CHANGEABLE)
		p[3] = 5; /* read retry count */
	return n;
}

static uint32_t page_cd_params(struct atapi *a, uint8_t *p, int pc)
{
	uint32_t n = page_start(p, 0x0d, 6);

	(void)a;
	if (pc != PC_CHANGEABLE) {
		p[3] = 0x0d; /* inactivity timer multiplier: 8 min */
		put_be(p + 4, 2, CD_SECS_PER_MIN);
		put_be(p + 6, 2, CD_FRAMES_PER_SEC);
	}
	return n;
}

static uint32_t page_capabilities(struct atapi *a, uint8_t *p, int pc)
{
	uint32_t n = page_start(p, 0x2a, 0x14);

	if (pc == PC_CHANGEABLE)
		return n;
	p[2] = 0x03;		   /* reads CD-R and CD-RW; no DVD */
	p[3] = 0x00;		   /* writes nothing */
	p[4] = 0x40;		   /* multi-session */
	p[6] = 0x20 | 0x08 | 0x01; /* tray loader, eject, lock supported */
	if (a->locked && pc == PC_CURRENT)
		p[6] |= 0x02; /* lock state */
	put_be(p + 8, 2, READ_SPEED_MAX);
	put_be(p + 10, 2, VOLUME_LEVELS);
	put_be(p + 12, 2, BUFFER_SIZE_KB);
	put_be(p + 14, 2, pc == PC_CURRENT ? a->read_speed : READ_SPEED_MAX);
	return n;
}

static uint8_t medium_type(const struct atapi *a)
{
	/* SFF-8020i medium type codes */
	if (medium_present(a))
		return 0x01; /* 120 mm CD-ROM, data only */
	return a->tray_open ? 0x71 : 0x70;
}

/* Builds the pages after a hdr-byte header; -1 if page is unsupported. */
static int mode_pages(struct atapi *a, uint8_t *p, uint8_t page,
		      uint8_t subpage, int pc)
{
	uint32_t n = 0;

	if (subpage && !(page == 0x3f && subpage == 0xff))
		return -1;
	switch (page) {
	case 0x01:
		return page_error_recovery(a, p, pc);
	case 0x0d:
		return page_cd_params(a, p, pc);
	case 0x2a:
		return page_capabilities(a, p, pc);
	case 0x3f:
		n += page_error_recovery(a, p + n, pc);
		n += page_cd_params(a, p + n, pc);
		n += page_capabilities(a, p + n, pc);
		return n;
	}
	return -1;
}

static void mode_sense(struct atapi *a, const uint8_t *cdb,
		       struct atapi_result *res, bool ten)
{
	uint32_t hdr = ten ? 8 : 4;
	int pc = cdb[2] >> 6;
	int n;

	if (pc == PC_SAVED) {
		fail(a, res, SENSE_ILLEGAL_REQUEST, ASC_SAVING_NOT_SUPPORTED);
		return;
	}
	n = mode_pages(a, a->buf + hdr, cdb[2] & 0x3f, cdb[3], pc);
	if (n < 0) {
		invalid_field(a, res);
		return;
	}
	/* No block descriptors (MMC drives return none; DBD is moot). */
	memset(a->buf, 0, hdr);
	if (ten) {
		put_be(a->buf, 2, hdr + n - 2);
		a->buf[2] = medium_type(a);
		reply(a, res, hdr + n, get_be(cdb + 7, 2));
	} else {
		a->buf[0] = hdr + n - 1;
		a->buf[1] = medium_type(a);
		reply(a, res, hdr + n, cdb[4]);
	}
}

static void cmd_mode_sense6(struct atapi *a, const uint8_t *cdb,
			    struct atapi_result *res)
{
	mode_sense(a, cdb, res, false);
}

static void cmd_mode_sense10(struct atapi *a, const uint8_t *cdb,
			     struct atapi_result *res)
{
	mode_sense(a, cdb, res, true);
}

/*
 * MODE SELECT needs a parameter list from the host, which this interface
 * does not carry. Nothing in the drive is changeable anyway, so a list of
 * length 0 (no data, allowed by SPC) succeeds and anything else is refused.
 */
static void cmd_mode_select(struct atapi *a, const uint8_t *cdb,
			    struct atapi_result *res)
{
	uint16_t len = cdb[0] == 0x15 ? cdb[4] : get_be(cdb + 7, 2);

	if (len == 0)
		good(a, res);
	else
		fail(a, res, SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
}

/* ---- medium handling ---- */

static void cmd_prevent_allow(struct atapi *a, const uint8_t *cdb,
			      struct atapi_result *res)
{
	/* Bit 0 prevents; bit 1 (persistent prevent) is treated alike. */
	a->locked = cdb[4] & 0x03;
	good(a, res);
}

static void eject(struct atapi *a)
{
	if (a->medium)
		a->media_event = MEV_MEDIA_REMOVAL;
	a->medium = NULL;
	a->nblocks = 0;
	a->tray_open = true;
}

static void cmd_start_stop(struct atapi *a, const uint8_t *cdb,
			   struct atapi_result *res)
{
	bool loej = cdb[4] & 0x02, start = cdb[4] & 0x01;

	/* A power condition other than 0 makes LoEj/Start ignored. */
	if ((cdb[4] >> 4) == 0 && loej) {
		if (!start) {
			if (a->locked) {
				fail(a, res, SENSE_ILLEGAL_REQUEST,
				     ASC_REMOVAL_PREVENTED);
				return;
			}
			eject(a);
		} else {
			a->tray_open = false; /* load: closes, still empty */
		}
	}
	good(a, res);
}

static void cmd_read_capacity(struct atapi *a, const uint8_t *cdb,
			      struct atapi_result *res)
{
	(void)cdb;
	put_be(a->buf, 4, clamp32(a->nblocks - 1));
	put_be(a->buf + 4, 4, ATAPI_BLOCK_SIZE);
	reply(a, res, 8, 8);
}

/* ---- reads ---- */

static void start_read(struct atapi *a, struct atapi_result *res, uint64_t lba,
		       uint32_t count)
{
	if (lba + count > a->nblocks) {
		fail(a, res, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
		return;
	}
	good(a, res);
	if (count) {
		res->read_lba = lba;
		res->read_blocks = count;
	}
}

static void cmd_read10(struct atapi *a, const uint8_t *cdb,
		       struct atapi_result *res)
{
	start_read(a, res, get_be(cdb + 2, 4), get_be(cdb + 7, 2));
}

static void cmd_read12(struct atapi *a, const uint8_t *cdb,
		       struct atapi_result *res)
{
	start_read(a, res, get_be(cdb + 2, 4), get_be(cdb + 6, 4));
}

/*
 * READ CD: only user data of Mode 1 sectors can be served (the image holds
 * nothing else). Expected sector type: 0 any, 2 Mode 1; CD-DA and Mode 2
 * types do not match the data track.
 */
static void cmd_read_cd(struct atapi *a, const uint8_t *cdb,
			struct atapi_result *res)
{
	uint8_t type = (cdb[1] >> 2) & 7;
	uint8_t fields = cdb[9] & 0xf8; /* sync, headers, user, EDC/ECC */

	if (type > 5 || (cdb[9] & 0x06) || (cdb[10] & 0x07)) {
		invalid_field(a, res); /* reserved type, C2, subchannel */
		return;
	}
	if (type != 0 && type != 2) {
		fail(a, res, SENSE_ILLEGAL_REQUEST, ASC_ILLEGAL_MODE_FOR_TRACK);
		return;
	}
	if (fields == 0) { /* nothing selected: no transfer (MMC) */
		good(a, res);
		return;
	}
	if (fields != 0x10) {
		invalid_field(a, res);
		return;
	}
	start_read(a, res, get_be(cdb + 2, 4), get_be(cdb + 6, 3));
}

static void cmd_seek(struct atapi *a, const uint8_t *cdb,
		     struct atapi_result *res)
{
	if (get_be(cdb + 2, 4) >= a->nblocks)
		fail(a, res, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	else
		good(a, res);
}

/* ---- READ TOC/PMA/ATIP ---- */

static void toc_track(uint8_t *p, uint8_t track, uint64_t lba, bool msf)
{
	p[0] = 0;
	p[1] = TOC_CTL_DATA;
	p[2] = track;
	p[3] = 0;
	put_addr(p + 4, lba, msf);
}

static int toc_format0(struct atapi *a, uint8_t start, bool msf)
{
	uint8_t *b = a->buf;
	uint32_t n = 4;

	if (start > 1 && start != TOC_LEADOUT)
		return -1; /* beyond the last track */
	b[2] = 1;	   /* first track */
	b[3] = 1;	   /* last track */
	if (start <= 1) {
		toc_track(b + n, 1, 0, msf);
		n += 8;
	}
	toc_track(b + n, TOC_LEADOUT, a->nblocks, msf);
	n += 8;
	return n;
}

static int toc_format1(struct atapi *a, bool msf)
{
	uint8_t *b = a->buf;

	b[2] = 1;		     /* first complete session */
	b[3] = 1;		     /* last complete session */
	toc_track(b + 4, 1, 0, msf); /* first track of the last session */
	return 12;
}

/* One raw TOC (Q subchannel) entry of session 1; addresses are MSF. */
static void raw_entry(uint8_t *p, uint8_t point, uint8_t pm, uint8_t ps,
		      uint8_t pf)
{
	memset(p, 0, 11);
	p[0] = 1;
	p[1] = TOC_CTL_DATA;
	p[3] = point;
	p[8] = pm;
	p[9] = ps;
	p[10] = pf;
}

static int toc_format2(struct atapi *a, uint8_t session)
{
	uint8_t *b = a->buf;
	uint8_t lo[3];

	if (session > 1)
		return -1;
	b[2] = 1;
	b[3] = 1;
	lba_to_msf(lo, a->nblocks);
	raw_entry(b + 4, 0xa0, 1, 0x00, 0); /* first track, CD-ROM disc */
	raw_entry(b + 15, 0xa1, 1, 0, 0);   /* last track */
	raw_entry(b + 26, 0xa2, lo[0], lo[1], lo[2]); /* lead-out */
	raw_entry(b + 37, 1, 0, 2, 0);		      /* track 1 at 00:02:00 */
	return 48;
}

static void cmd_read_toc(struct atapi *a, const uint8_t *cdb,
			 struct atapi_result *res)
{
	bool msf = cdb[1] & 0x02;
	uint8_t format = cdb[2] & 0x0f;
	int n;

	if (!format)
		format = cdb[9] >> 6; /* SFF-8020i placed it here */
	memset(a->buf, 0, 64);
	switch (format) {
	case 0:
		n = toc_format0(a, cdb[6], msf);
		break;
	case 1:
		n = toc_format1(a, msf);
		break;
	case 2:
		n = toc_format2(a, cdb[6]);
		break;
	default: /* PMA, ATIP, CD-TEXT: not on a pressed CD-ROM */
		n = -1;
	}
	if (n < 0) {
		invalid_field(a, res);
		return;
	}
	put_be(a->buf, 2, n - 2);
	reply(a, res, n, get_be(cdb + 7, 2));
}

/* ---- READ SUBCHANNEL: current position only; no MCN/ISRC recorded ---- */

static void cmd_read_subchannel(struct atapi *a, const uint8_t *cdb,
				struct atapi_result *res)
{
	bool msf = cdb[1] & 0x02, subq = cdb[2] & 0x40;
	uint8_t format = cdb[3];
	uint8_t *b = a->buf;
	uint32_t n = 4;

	if (subq && (format < 1 || format > 3)) {
		invalid_field(a, res);
		return;
	}
	memset(b, 0, 24);
	b[1] = 0x15; /* no current audio status */
	if (subq) {
		b[4] = format;
		if (format == 1) { /* current position: start of track 1 */
			b[5] = TOC_CTL_DATA;
			b[6] = 1;
			b[7] = 1;
			put_addr(b + 8, 0, msf);
			put_addr(b + 12, 0, msf);
			n = 16;
		} else { /* MCN / ISRC with their valid bits clear */
			if (format == 3) {
				b[5] = TOC_CTL_DATA;
				b[6] = cdb[6];
			}
			n = 24;
		}
	}
	put_be(b + 2, 2, n - 4);
	reply(a, res, n, get_be(cdb + 7, 2));
}

/* ---- GET CONFIGURATION ---- */

struct feature {
	uint16_t code;
	uint8_t version;
	bool persistent;
	bool needs_medium; /* current only with a medium loaded */
	uint8_t len;
};

static const struct feature features[] = {
    {0x0000, 0, true, false, 4}, /* profile list */
    {0x0001, 1, true, false, 8}, /* core */
    {0x0002, 1, true, false, 4}, /* morphing */
    {0x0003, 0, true, false, 4}, /* removable medium */
    {0x0010, 0, false, true, 8}, /* random readable */
    {0x001e, 2, false, true, 4}, /* CD read */
};

static void feature_body(struct atapi *a, uint8_t *p, uint16_t code)
{
	switch (code) {
	case 0x0000:
		put_be(p, 2, PROFILE_CD_ROM);
		p[2] = medium_present(a);
		break;
	case 0x0001:
		put_be(p, 4, 2); /* physical interface: ATAPI */
		break;
	case 0x0003:
		p[0] = 0x20 | 0x08 | 0x01; /* tray, eject, lock supported */
		break;
	case 0x0010:
		put_be(p, 4, ATAPI_BLOCK_SIZE);
		put_be(p + 4, 2, 1); /* blocking */
		break;
	}
}

static void cmd_get_configuration(struct atapi *a, const uint8_t *cdb,
				  struct atapi_result *res)
{
	uint8_t rt = cdb[1] & 3;
	uint16_t sfn = get_be(cdb + 2, 2);
	uint8_t *b = a->buf;
	uint32_t n = 8;

	if (rt == 3) {
		invalid_field(a, res);
		return;
	}
	memset(b, 0, 128);
	put_be(b + 6, 2, medium_present(a) ? PROFILE_CD_ROM : 0);
	for (size_t i = 0; i < sizeof(features) / sizeof(features[0]); i++) {
		const struct feature *f = &features[i];
		bool current = !f->needs_medium || medium_present(a);

		if (rt == 2 ? f->code != sfn : f->code < sfn)
			continue;
		if (rt == 1 && !current)
			continue;
		put_be(b + n, 2, f->code);
		b[n + 2] = f->version << 2 | f->persistent << 1 | current;
		b[n + 3] = f->len;
		feature_body(a, b + n + 4, f->code);
		n += 4 + f->len;
	}
	put_be(b, 4, n - 4);
	reply(a, res, n, get_be(cdb + 7, 2));
}

/* ---- GET EVENT STATUS NOTIFICATION (polled, media class only) ---- */

static void cmd_get_event_status(struct atapi *a, const uint8_t *cdb,
				 struct atapi_result *res)
{
	uint8_t *b = a->buf;

	if (!(cdb[1] & 0x01)) { /* asynchronous mode is not supported */
		invalid_field(a, res);
		return;
	}
	memset(b, 0, 8);
	b[3] = GESN_MEDIA_MASK; /* supported classes */
	if (!(cdb[4] & GESN_MEDIA_MASK)) {
		put_be(b, 2, 2);
		b[2] = 0x80; /* NEA: no event available */
		reply(a, res, 4, get_be(cdb + 7, 2));
		return;
	}
	put_be(b, 2, 6);
	b[2] = GESN_CLASS_MEDIA;
	b[4] = a->media_event;
	b[5] = (medium_present(a) ? 0x02 : 0) | (a->tray_open ? 0x01 : 0);
	a->media_event = MEV_NO_CHANGE;
	reply(a, res, 8, get_be(cdb + 7, 2));
}

/* ---- READ DISC INFORMATION ---- */

static void cmd_read_disc_info(struct atapi *a, const uint8_t *cdb,
			       struct atapi_result *res)
{
	uint8_t *b = a->buf;

	if (cdb[1] & 0x07) { /* only standard disc information */
		invalid_field(a, res);
		return;
	}
	memset(b, 0, 34);
	put_be(b, 2, 32);
	b[2] = 0x0e; /* last session complete, disc complete */
	b[3] = 1;    /* first track on disc */
	b[4] = 1;    /* sessions */
	b[5] = 1;    /* first track in last session */
	b[6] = 1;    /* last track in last session */
	b[8] = 0x00; /* CD-DA or CD-ROM disc */
	put_be(b + 16, 4, UINT32_MAX); /* no next session lead-in */
	put_be(b + 20, 4, UINT32_MAX); /* no last possible lead-out */
	reply(a, res, 34, get_be(cdb + 7, 2));
}

/* ---- READ TRACK INFORMATION (Linux uses it for the last written block) */

/* Which track an address/number field names: 1, or 0 if none. */
static int track_of(const struct atapi *a, uint8_t type, uint32_t num)
{
	switch (type) {
	case 0: /* LBA */
		return num < a->nblocks ? 1 : 0;
	case 1: /* track number; 0 (lead-in) and FFh (invisible) absent */
	case 2: /* session number: its first track */
		return num == 1 ? 1 : 0;
	}
	return 0;
}

static void cmd_read_track_info(struct atapi *a, const uint8_t *cdb,
				struct atapi_result *res)
{
	uint8_t *b = a->buf;

	if (!track_of(a, cdb[1] & 3, get_be(cdb + 2, 4))) {
		invalid_field(a, res);
		return;
	}
	memset(b, 0, 36);
	put_be(b, 2, 34);
	b[2] = 1;	     /* track number */
	b[3] = 1;	     /* session number */
	b[5] = 0x04;	     /* track mode: data, recorded uninterrupted */
	b[6] = 0x01;	     /* data mode 1; not blank, not reserved */
	put_be(b + 8, 4, 0); /* track start */
	put_be(b + 24, 4, clamp32(a->nblocks));	    /* track size */
	put_be(b + 28, 4, clamp32(a->nblocks - 1)); /* last recorded address */
	reply(a, res, 36, get_be(cdb + 7, 2));
}

/* ---- MMC odds and ends ---- */

static void cmd_set_cd_speed(struct atapi *a, const uint8_t *cdb,
			     struct atapi_result *res)
{
	uint16_t speed = get_be(cdb + 2, 2);

	/* 0xffff means "as fast as possible"; speeds below 1x round up. */
	if (speed > READ_SPEED_MAX)
		speed = READ_SPEED_MAX;
	if (speed < READ_SPEED_1X)
		speed = READ_SPEED_1X;
	a->read_speed = speed;
	good(a, res);
}

static void cmd_mechanism_status(struct atapi *a, const uint8_t *cdb,
				 struct atapi_result *res)
{
	uint8_t *b = a->buf;

	memset(b, 0, 8);
	b[1] = a->tray_open ? 0x10 : 0; /* mechanism idle, door state */
	/* bytes 2-4 current LBA 0; no slots, no slot table */
	reply(a, res, 8, get_be(cdb + 8, 2));
}

/* ---- dispatch ---- */

enum {
	ALLOW_UA = 1,	 /* runs even with a unit attention pending */
	NEED_MEDIUM = 2, /* NOT READY without a medium */
};

struct command {
	atapi_handler fn;
	uint8_t flags;
};

static const struct command commands[256] = {
    [0x00] = {cmd_test_unit_ready, NEED_MEDIUM},
    [0x03] = {cmd_request_sense, ALLOW_UA},
    [0x12] = {cmd_inquiry, ALLOW_UA},
    [0x15] = {cmd_mode_select, 0},
    [0x1a] = {cmd_mode_sense6, 0},
    [0x1b] = {cmd_start_stop, 0},
    [0x1e] = {cmd_prevent_allow, 0},
    [0x25] = {cmd_read_capacity, NEED_MEDIUM},
    [0x28] = {cmd_read10, NEED_MEDIUM},
    [0x2b] = {cmd_seek, NEED_MEDIUM},
    [0x42] = {cmd_read_subchannel, NEED_MEDIUM},
    [0x43] = {cmd_read_toc, NEED_MEDIUM},
    [0x46] = {cmd_get_configuration, ALLOW_UA},
    [0x4a] = {cmd_get_event_status, ALLOW_UA},
    [0x51] = {cmd_read_disc_info, NEED_MEDIUM},
    [0x52] = {cmd_read_track_info, NEED_MEDIUM},
    [0x55] = {cmd_mode_select, 0},
    [0x5a] = {cmd_mode_sense10, 0},
    [0xa8] = {cmd_read12, NEED_MEDIUM},
    [0xbb] = {cmd_set_cd_speed, 0},
    [0xbd] = {cmd_mechanism_status, 0},
    [0xbe] = {cmd_read_cd, NEED_MEDIUM},
};

void atapi_command(struct atapi *a, const uint8_t cdb[12],
		   struct atapi_result *res)
{
	const struct command *c = &commands[cdb[0]];

	memset(res, 0, sizeof(*res));
	a->seen_command = true;
	/* A pending medium change outranks everything but the few commands
	 * a host uses to find out what happened (SPC/MMC, as QEMU). */
	if (a->unit_attention && !(c->flags & ALLOW_UA)) {
		a->unit_attention = false;
		fail(a, res, SENSE_UNIT_ATTENTION, ASC_MEDIUM_CHANGED);
		return;
	}
	if (!c->fn) {
		fail(a, res, SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
		return;
	}
	if ((c->flags & NEED_MEDIUM) && !medium_present(a)) {
		not_ready(a, res);
		return;
	}
	c->fn(a, cdb, res);
}

/* ---- host side ---- */

struct atapi *atapi_new(void)
{
	struct atapi *a = calloc(1, sizeof(*a));

	if (a)
		a->read_speed = READ_SPEED_MAX;
	return a;
}

void atapi_free(struct atapi *a)
{
	free(a);
}

int atapi_set_medium(struct atapi *a, struct blk *medium, bool force)
{
	struct blk *old = a->medium;
	if (a->locked && !force)
		return -1;
	if (a->seen_command) {
		a->unit_attention = true;
		if (medium)
			a->media_event = MEV_NEW_MEDIA;
		else if (a->medium)
			a->media_event = MEV_MEDIA_REMOVAL;
	}
	a->medium = medium;
	a->nblocks = 0;
	if (medium)
		a->nblocks = medium->size / ATAPI_BLOCK_SIZE +
			     (medium->size % ATAPI_BLOCK_SIZE != 0);
	/* A host-side change leaves the tray closed. */
	a->tray_open = false;
	if (medium != old && a->changed)
		a->changed(a->changed_opaque, a);
	return 0;
}

void atapi_set_medium_hook(struct atapi *a,
			   void (*fn)(void *opaque, struct atapi *a),
			   void *opaque)
{
	a->changed = fn;
	a->changed_opaque = opaque;
}

/*
 * A read the transport had started ends when the host changes the medium
 * under it. The sense says what became of the blocks asked for:
 *  - another disc is in (change): UNIT ATTENTION, 28/00 "not ready to
 *    ready change, medium may have changed". That is the condition the
 *    change armed, and reporting it clears it (SPC-3), so the next
 *    command runs on the new disc and the host re-reads its TOC.
 *  - the drive is empty (eject): NOT READY, 3A/00 "medium not present":
 *    the blocks are not there to read, as for any medium access to an
 *    empty drive. The attention armed by the removal is a different
 *    condition and stays for the next command, as after an eject with no
 *    command running, so a host sees the same sequence either way.
 */
void atapi_read_medium_changed(struct atapi *a)
{
	struct atapi_result res;
	if (!medium_present(a)) {
		not_ready(a, &res);
		return;
	}
	a->unit_attention = false;
	fail(a, &res, SENSE_UNIT_ATTENTION, ASC_MEDIUM_CHANGED);
}

struct blk *atapi_medium(struct atapi *a)
{
	return a->medium;
}

void atapi_read_failed(struct atapi *a, int err, uint64_t lba)
{
	if (err < 0) {
		a->sense_key = SENSE_MEDIUM_ERROR;
		a->asc = ASC_UNRECOVERED_READ;
		a->info_valid = true;
		a->info = clamp32(lba);
	}
}

uint8_t atapi_sense_key(const struct atapi *a)
{
	return a->sense_key;
}

void atapi_reset(struct atapi *a)
{
	/* The pending medium-change attention survives: the host has still
	 * not been told. */
	a->sense_key = SENSE_NONE;
	a->asc = ASC_NONE;
	a->info_valid = false;
}

bool atapi_locked(const struct atapi *a)
{
	return a->locked;
}

bool atapi_tray_open(const struct atapi *a)
{
	return a->tray_open;
}
