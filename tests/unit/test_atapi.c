#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "hw/atapi.h"

/* No I/O: the IDE layer moves the blocks; the drive only needs a size. */
static int fake_submit(struct blk *b, struct blk_req *req)
{
	(void)b;
	(void)req;
	return -1;
}

static const struct blk_ops fake_ops = {.submit = fake_submit};

/* 1000 full blocks plus 100 bytes: capacity rounds up to 1001 blocks. */
#define DISC_BYTES  (1000ULL * 2048 + 100)
#define DISC_BLOCKS 1001

static struct blk disc = {.ops = &fake_ops, .size = DISC_BYTES, .name = "cd"};
static struct blk disc2 = {.ops = &fake_ops, .size = 4096, .name = "cd2"};

struct cmd {
	uint8_t cdb[12];
};

static struct atapi_result run(struct atapi *a, struct cmd c)
{
	struct atapi_result r;
	memset(&r, 0xa5, sizeof(r));
	atapi_command(a, c.cdb, &r);
	return r;
}

#define CMD(...) ((struct cmd){.cdb = {__VA_ARGS__}})

static uint32_t be16(const uint8_t *p)
{
	return p[0] << 8 | p[1];
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

struct sense {
	uint8_t key, asc, ascq;
	bool valid;    /* byte 0 bit 7: info holds a block address */
	uint32_t info; /* bytes 3-6 */
};

static struct sense request_sense(struct atapi *a)
{
	struct atapi_result r = run(a, CMD(0x03, 0, 0, 0, 18));
	cr_assert_eq(r.status, ATAPI_GOOD);
	cr_assert_eq(r.len, 18);
	cr_assert_eq(r.data[0] & 0x7f, 0x70);
	cr_assert_eq(r.data[7], 10);
	return (struct sense){r.data[2] & 0xf, r.data[12], r.data[13],
			      r.data[0] >> 7, be32(r.data + 3)};
}

static void expect_check(struct atapi *a, struct cmd c, uint8_t key,
			 uint8_t asc, uint8_t ascq)
{
	struct atapi_result r = run(a, c);
	cr_assert_eq(r.status, ATAPI_CHECK_CONDITION, "opcode %02x", c.cdb[0]);
	cr_assert_eq(r.len, 0);
	cr_assert_eq(r.read_blocks, 0);
	cr_assert_eq(atapi_sense_key(a), key);
	struct sense s = request_sense(a);
	cr_assert_eq(s.key, key, "opcode %02x key %x", c.cdb[0], s.key);
	cr_assert_eq(s.asc, asc, "opcode %02x asc %02x", c.cdb[0], s.asc);
	cr_assert_eq(s.ascq, ascq, "opcode %02x ascq %02x", c.cdb[0], s.ascq);
	/* REQUEST SENSE consumed it */
	s = request_sense(a);
	cr_assert_eq(s.key, 0);
	cr_assert_eq(s.asc, 0);
}

static void expect_good(struct atapi *a, struct cmd c)
{
	struct atapi_result r = run(a, c);
	cr_assert_eq(r.status, ATAPI_GOOD, "opcode %02x", c.cdb[0]);
	cr_assert_eq(atapi_sense_key(a), 0);
}

/* A drive with the disc present from power-on. */
static struct atapi *loaded(void)
{
	struct atapi *a = atapi_new();
	cr_assert_not_null(a);
	cr_assert_eq(atapi_set_medium(a, &disc, false), 0);
	return a;
}

Test(atapi, power_on_medium_is_ready_without_attention)
{
	struct atapi *a = loaded();
	struct atapi_result r = run(a, CMD(0x00));
	cr_assert_eq(r.status, ATAPI_GOOD);
	cr_assert_eq(r.len, 0);
	cr_assert_null(r.data);
	cr_assert_eq(r.read_blocks, 0);
	cr_assert_eq(atapi_medium(a), &disc);
	atapi_free(a);
}

Test(atapi, read10_returns_block_range)
{
	struct atapi *a = loaded();
	struct atapi_result r =
	    run(a, CMD(0x28, 0, 0, 0, 0x01, 0x02, 0, 0, 0x10));
	cr_assert_eq(r.status, ATAPI_GOOD);
	cr_assert_eq(r.read_lba, 0x102);
	cr_assert_eq(r.read_blocks, 16);
	cr_assert_eq(r.len, 0);
	/* the last (zero-padded) block is readable */
	r = run(a, CMD(0x28, 0, 0, 0, 0x03, 0xe8, 0, 0, 1));
	cr_assert_eq(r.status, ATAPI_GOOD);
	cr_assert_eq(r.read_lba, 1000);
	cr_assert_eq(r.read_blocks, 1);
	atapi_free(a);
}

Test(atapi, read_capacity)
{
	struct atapi *a = loaded();
	struct atapi_result r = run(a, CMD(0x25));
	cr_assert_eq(r.status, ATAPI_GOOD);
	cr_assert_eq(r.len, 8);
	cr_assert_eq(be32(r.data), DISC_BLOCKS - 1);
	cr_assert_eq(be32(r.data + 4), 2048);
	atapi_free(a);
}

Test(atapi, read_range_checks)
{
	struct atapi *a = loaded();
	/* last block + 1 */
	expect_check(a, CMD(0x28, 0, 0, 0, 0x03, 0xe9, 0, 0, 1), 5, 0x21, 0);
	/* straddling the end */
	expect_check(a, CMD(0x28, 0, 0, 0, 0x03, 0xe0, 0, 0, 10), 5, 0x21, 0);
	/* huge LBA must not wrap */
	expect_check(a, CMD(0x28, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 2), 5, 0x21,
		     0);
	expect_check(a, CMD(0xa8, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff), 5,
		     0x21, 0);
	/* READ(12): 32-bit count */
	struct atapi_result r =
	    run(a, CMD(0xa8, 0, 0, 0, 0, 1, 0, 0, 0x03, 0xe8));
	cr_assert_eq(r.status, ATAPI_GOOD);
	cr_assert_eq(r.read_lba, 1);
	cr_assert_eq(r.read_blocks, 1000);
	/* count 0: GOOD, nothing to move, even at the end of the medium */
	r = run(a, CMD(0x28, 0, 0, 0, 0x03, 0xe9, 0, 0, 0));
	cr_assert_eq(r.status, ATAPI_GOOD);
	cr_assert_eq(r.read_blocks, 0);
	cr_assert_eq(r.len, 0);
	r = run(a, CMD(0xa8, 0, 0, 0, 0, 5));
	cr_assert_eq(r.status, ATAPI_GOOD);
	cr_assert_eq(r.read_blocks, 0);
	atapi_free(a);
}

Test(atapi, read_cd_user_data)
{
	struct atapi *a = loaded();
	/* any type, user data only, 3 blocks at 7 */
	struct atapi_result r =
	    run(a, CMD(0xbe, 0, 0, 0, 0, 7, 0, 0, 3, 0x10, 0));
	cr_assert_eq(r.status, ATAPI_GOOD);
	cr_assert_eq(r.read_lba, 7);
	cr_assert_eq(r.read_blocks, 3);
	/* Mode 1 expected */
	r = run(a, CMD(0xbe, 2 << 2, 0, 0, 0, 7, 0, 0, 3, 0x10, 0));
	cr_assert_eq(r.status, ATAPI_GOOD);
	cr_assert_eq(r.read_blocks, 3);
	/* no fields selected: nothing */
	r = run(a, CMD(0xbe, 0, 0, 0, 0, 7, 0, 0, 3, 0x00, 0));
	cr_assert_eq(r.status, ATAPI_GOOD);
	cr_assert_eq(r.read_blocks, 0);
	/* raw sector with headers: not available */
	expect_check(a, CMD(0xbe, 0, 0, 0, 0, 7, 0, 0, 3, 0xf8, 0), 5, 0x24, 0);
	/* subchannel requested */
	expect_check(a, CMD(0xbe, 0, 0, 0, 0, 7, 0, 0, 3, 0x10, 1), 5, 0x24, 0);
	/* CD-DA expected on a data track */
	expect_check(a, CMD(0xbe, 1 << 2, 0, 0, 0, 7, 0, 0, 3, 0x10, 0), 5,
		     0x64, 0);
	/* out of range, 24-bit length */
	expect_check(a, CMD(0xbe, 0, 0, 0, 0, 0, 0, 0x10, 0, 0x10, 0), 5, 0x21,
		     0);
	atapi_free(a);
}

Test(atapi, inquiry_fields_and_truncation)
{
	struct atapi *a = atapi_new(); /* works without a medium */
	struct atapi_result r = run(a, CMD(0x12, 0, 0, 0, 96));
	cr_assert_eq(r.status, ATAPI_GOOD);
	cr_assert_eq(r.len, 36);
	cr_assert_eq(r.data[0], 0x05);
	cr_assert_eq(r.data[1], 0x80);
	cr_assert_eq(r.data[3] & 0x0f, 2);
	cr_assert_eq(r.data[4], 31);
	cr_assert_arr_eq(r.data + 8, "MINIVMM ", 8);
	cr_assert_arr_eq(r.data + 16, "CD-ROM          ", 16);
	r = run(a, CMD(0x12, 0, 0, 0, 5));
	cr_assert_eq(r.len, 5);
	r = run(a, CMD(0x12, 0, 0, 0, 0));
	cr_assert_eq(r.status, ATAPI_GOOD);
	cr_assert_eq(r.len, 0);
	/* VPD list, serial, and unsupported pages */
	r = run(a, CMD(0x12, 1, 0x00, 0, 64));
	cr_assert_eq(r.status, ATAPI_GOOD);
	cr_assert_eq(r.data[1], 0x00);
	cr_assert_eq(r.data[3], 2);
	cr_assert_eq(r.data[5], 0x80);
	r = run(a, CMD(0x12, 1, 0x80, 0, 64));
	cr_assert_eq(r.status, ATAPI_GOOD);
	cr_assert_eq(r.data[1], 0x80);
	cr_assert_eq(r.len, 4u + r.data[3]);
	expect_check(a, CMD(0x12, 1, 0x83, 0, 64), 5, 0x24, 0);
	expect_check(a, CMD(0x12, 0, 0x80, 0, 64), 5, 0x24, 0);
	expect_check(a, CMD(0x12, 2, 0, 0, 64), 5, 0x24, 0);
	atapi_free(a);
}

Test(atapi, request_sense_truncation)
{
	struct atapi *a = atapi_new();
	run(a, CMD(0x00)); /* NOT READY */
	struct atapi_result r = run(a, CMD(0x03, 0, 0, 0, 4));
	cr_assert_eq(r.status, ATAPI_GOOD);
	cr_assert_eq(r.len, 4);
	cr_assert_eq(r.data[0], 0x70);
	cr_assert_eq(r.data[2], 2);
	/* cleared even though the guest read only part of it */
	struct sense s = request_sense(a);
	cr_assert_eq(s.key, 0);
	atapi_free(a);
}

Test(atapi, unknown_opcodes)
{
	struct atapi *a = loaded();
	const uint8_t ops[] = {0x01, 0x04, 0x08, 0x0a, 0x2a, 0x35,
			       0xa0, 0xad, 0xff, 0x47, 0xb9, 0x53};
	for (size_t i = 0; i < sizeof(ops); i++)
		expect_check(a, CMD(ops[i]), 5, 0x20, 0);
	atapi_free(a);
}

Test(atapi, mode_select_without_data)
{
	struct atapi *a = loaded();
	expect_good(a, CMD(0x55, 0x10, 0, 0, 0, 0, 0, 0, 0));
	expect_good(a, CMD(0x15, 0x10, 0, 0, 0));
	expect_check(a, CMD(0x55, 0x10, 0, 0, 0, 0, 0, 0, 28), 5, 0x20, 0);
	expect_check(a, CMD(0x15, 0x10, 0, 0, 12), 5, 0x20, 0);
	atapi_free(a);
}

static const uint8_t *find_page(const uint8_t *d, uint32_t len, uint32_t hdr,
				uint8_t code)
{
	for (uint32_t o = hdr; o + 2 <= len; o += 2 + d[o + 1])
		if ((d[o] & 0x3f) == code)
			return d + o;
	return NULL;
}

Test(atapi, mode_sense_capabilities_page)
{
	struct atapi *a = loaded();
	struct atapi_result r = run(a, CMD(0x5a, 0, 0x2a, 0, 0, 0, 0, 0, 128));
	cr_assert_eq(r.status, ATAPI_GOOD);
	cr_assert_eq(r.len, 8 + 22);
	cr_assert_eq(be16(r.data), r.len - 2);
	cr_assert_eq(be16(r.data + 6), 0); /* no block descriptors */
	const uint8_t *p = r.data + 8;
	cr_assert_eq(p[0], 0x2a);
	cr_assert_eq(p[1], 0x14);
	cr_assert_eq(p[2], 0x03);	 /* CD-R, CD-RW read */
	cr_assert_eq(p[3], 0x00);	 /* no writing */
	cr_assert_eq(p[6] & 0x0b, 0x09); /* eject, lock, unlocked */
	cr_assert_eq(p[6] >> 5, 1);	 /* tray */
	cr_assert_gt(be16(p + 8), 0);
	cr_assert_eq(be16(p + 14), be16(p + 8));
	/* lock state follows PREVENT */
	cr_assert(!atapi_locked(a));
	expect_good(a, CMD(0x1e, 0, 0, 0, 1));
	cr_assert(atapi_locked(a));
	r = run(a, CMD(0x5a, 0, 0x2a, 0, 0, 0, 0, 0, 128));
	cr_assert_eq(r.data[8 + 6] & 0x02, 0x02);
	expect_good(a, CMD(0x1e, 0, 0, 0, 0));
	r = run(a, CMD(0x5a, 0, 0x2a, 0, 0, 0, 0, 0, 128));
	cr_assert_eq(r.data[8 + 6] & 0x02, 0);
	/* SET CD SPEED changes the current speed */
	expect_good(a, CMD(0xbb, 0, 0x02, 0xc2)); /* 706 kB/s */
	r = run(a, CMD(0x5a, 0, 0x2a, 0, 0, 0, 0, 0, 128));
	cr_assert_eq(be16(r.data + 8 + 14), 706);
	expect_good(a, CMD(0xbb, 0, 0xff, 0xff));
	r = run(a, CMD(0x5a, 0, 0x2a, 0, 0, 0, 0, 0, 128));
	cr_assert_eq(be16(r.data + 8 + 14), be16(r.data + 8 + 8));
	atapi_free(a);
}

Test(atapi, mode_sense6_all_pages_and_truncation)
{
	struct atapi *a = atapi_new(); /* no medium needed */
	struct atapi_result r = run(a, CMD(0x1a, 0, 0x3f, 0, 255));
	cr_assert_eq(r.status, ATAPI_GOOD);
	cr_assert_eq(r.data[0], r.len - 1);
	cr_assert_eq(r.data[1], 0x70); /* door closed, no disc */
	cr_assert_eq(r.data[3], 0);    /* block descriptor length */
	cr_assert_not_null(find_page(r.data, r.len, 4, 0x01));
	cr_assert_not_null(find_page(r.data, r.len, 4, 0x0d));
	cr_assert_not_null(find_page(r.data, r.len, 4, 0x2a));
	cr_assert_eq(r.len, 4 + 8 + 8 + 22);
	const uint8_t *p = find_page(r.data, r.len, 4, 0x0d);
	cr_assert_eq(be16(p + 4), 60);
	cr_assert_eq(be16(p + 6), 75);
	r = run(a, CMD(0x1a, 0, 0x3f, 0, 10));
	cr_assert_eq(r.status, ATAPI_GOOD);
	cr_assert_eq(r.len, 10);
	cr_assert_eq(r.data[0], 4 + 8 + 8 + 22 - 1); /* full length */
	/* error recovery page alone */
	r = run(a, CMD(0x1a, 0, 0x01, 0, 255));
	cr_assert_eq(r.len, 4 + 8);
	cr_assert_eq(r.data[4], 0x01);
	cr_assert_eq(r.data[5], 6);
	atapi_free(a);
}

Test(atapi, mode_sense_page_control)
{
	struct atapi *a = loaded();
	/* changeable: same layout, nothing changeable */
	struct atapi_result r =
	    run(a, CMD(0x5a, 0, 0x40 | 0x2a, 0, 0, 0, 0, 0, 128));
	cr_assert_eq(r.status, ATAPI_GOOD);
	cr_assert_eq(r.len, 30);
	cr_assert_eq(r.data[8], 0x2a);
	cr_assert_eq(r.data[9], 0x14);
	for (int i = 10; i < 30; i++)
		cr_assert_eq(r.data[i], 0, "byte %d", i);
	/* default */
	r = run(a, CMD(0x5a, 0, 0x80 | 0x2a, 0, 0, 0, 0, 0, 128));
	cr_assert_eq(r.status, ATAPI_GOOD);
	cr_assert_eq(r.data[8 + 2], 0x03);
	/* saved: not supported */
	expect_check(a, CMD(0x5a, 0, 0xc0 | 0x2a, 0, 0, 0, 0, 0, 128), 5, 0x39,
		     0);
	expect_check(a, CMD(0x1a, 0, 0xc0 | 0x3f, 0, 255), 5, 0x39, 0);
	/* unsupported page and subpage */
	expect_check(a, CMD(0x5a, 0, 0x05, 0, 0, 0, 0, 0, 128), 5, 0x24, 0);
	expect_check(a, CMD(0x5a, 0, 0x2a, 1, 0, 0, 0, 0, 128), 5, 0x24, 0);
	expect_good(a, CMD(0x5a, 0, 0x3f, 0xff, 0, 0, 0, 0, 128));
	atapi_free(a);
}

/* ---- READ TOC ---- */

static void msf_of(uint32_t lba, uint8_t *m, uint8_t *s, uint8_t *f)
{
	uint32_t fr = lba + 150;
	*m = fr / 4500;
	*s = fr / 75 % 60;
	*f = fr % 75;
}

Test(atapi, toc_format0_lba)
{
	struct atapi *a = loaded();
	struct atapi_result r = run(a, CMD(0x43, 0, 0, 0, 0, 0, 0, 0x03, 0x24));
	cr_assert_eq(r.status, ATAPI_GOOD);
	cr_assert_eq(r.len, 20);
	cr_assert_eq(be16(r.data), 18);
	cr_assert_eq(r.data[2], 1);
	cr_assert_eq(r.data[3], 1);
	cr_assert_eq(r.data[5], 0x14);
	cr_assert_eq(r.data[6], 1);
	cr_assert_eq(be32(r.data + 8), 0);
	cr_assert_eq(r.data[13], 0x14);
	cr_assert_eq(r.data[14], 0xaa);
	cr_assert_eq(be32(r.data + 16), DISC_BLOCKS);
	/* start track 0xAA: only the lead-out */
	r = run(a, CMD(0x43, 0, 0, 0, 0, 0, 0xaa, 0, 0xff));
	cr_assert_eq(r.status, ATAPI_GOOD);
	cr_assert_eq(r.len, 12);
	cr_assert_eq(be16(r.data), 10);
	cr_assert_eq(r.data[6], 0xaa);
	/* start track 1 as 0 */
	r = run(a, CMD(0x43, 0, 0, 0, 0, 0, 1, 0, 0xff));
	cr_assert_eq(r.len, 20);
	/* start track 2: beyond the last track */
	expect_check(a, CMD(0x43, 0, 0, 0, 0, 0, 2, 0, 0xff), 5, 0x24, 0);
	/* allocation length: the 4-byte header only (SeaBIOS/Linux probe) */
	r = run(a, CMD(0x43, 0, 0, 0, 0, 0, 0, 0, 4));
	cr_assert_eq(r.len, 4);
	cr_assert_eq(be16(r.data), 18);
	atapi_free(a);
}

Test(atapi, toc_format0_msf)
{
	struct atapi *a = loaded();
	struct atapi_result r = run(a, CMD(0x43, 0x02, 0, 0, 0, 0, 0, 0, 0xff));
	cr_assert_eq(r.status, ATAPI_GOOD);
	cr_assert_eq(r.len, 20);
	/* track 1 at 00:02:00 */
	cr_assert_eq(r.data[8], 0);
	cr_assert_eq(r.data[9], 0);
	cr_assert_eq(r.data[10], 2);
	cr_assert_eq(r.data[11], 0);
	/* lead-out: 1001 + 150 = 1151 frames = 00:15:26 */
	cr_assert_eq(r.data[16], 0);
	cr_assert_eq(r.data[17], 0);
	cr_assert_eq(r.data[18], 15);
	cr_assert_eq(r.data[19], 26);
	atapi_free(a);
}

Test(atapi, toc_msf_arithmetic_at_minute_boundaries)
{
	/* lead-out at 4500*k - 150 blocks lands on k:00:00 exactly */
	const uint32_t blocks[] = {4350, 4351, 4349, 333000, 1, 74, 75};
	for (size_t i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++) {
		struct blk b = {.ops = &fake_ops,
				.size = (uint64_t)blocks[i] * 2048};
		struct atapi *a = atapi_new();
		atapi_set_medium(a, &b, false);
		struct atapi_result r =
		    run(a, CMD(0x43, 0x02, 0, 0, 0, 0, 0xaa, 0, 12));
		cr_assert_eq(r.status, ATAPI_GOOD);
		uint8_t m, s, f;
		msf_of(blocks[i], &m, &s, &f);
		cr_assert_eq(r.data[9], m, "blocks %u", blocks[i]);
		cr_assert_eq(r.data[10], s, "blocks %u", blocks[i]);
		cr_assert_eq(r.data[11], f, "blocks %u", blocks[i]);
		atapi_free(a);
	}
	uint8_t m, s, f;
	msf_of(4350, &m, &s, &f);
	cr_assert(m == 1 && s == 0 && f == 0);
}

Test(atapi, toc_format1_multisession)
{
	struct atapi *a = loaded();
	struct atapi_result r = run(a, CMD(0x43, 0, 0x01, 0, 0, 0, 0, 0, 0xff));
	cr_assert_eq(r.status, ATAPI_GOOD);
	cr_assert_eq(r.len, 12);
	cr_assert_eq(be16(r.data), 10);
	cr_assert_eq(r.data[2], 1);
	cr_assert_eq(r.data[3], 1);
	cr_assert_eq(r.data[5], 0x14);
	cr_assert_eq(r.data[6], 1);
	cr_assert_eq(be32(r.data + 8), 0);
	/* MSF, and the SFF-8020i format field in byte 9 (Linux sr) */
	r = run(a, CMD(0x43, 0x02, 0, 0, 0, 0, 0, 0, 12, 0x40));
	cr_assert_eq(r.len, 12);
	cr_assert_eq(be32(r.data + 8), 0x00000200);
	atapi_free(a);
}

Test(atapi, toc_format2_raw)
{
	struct atapi *a = loaded();
	struct atapi_result r =
	    run(a, CMD(0x43, 0x02, 0x02, 0, 0, 0, 1, 0x01, 0));
	cr_assert_eq(r.status, ATAPI_GOOD);
	cr_assert_eq(r.len, 4 + 4 * 11);
	cr_assert_eq(be16(r.data), r.len - 2);
	cr_assert_eq(r.data[2], 1);
	cr_assert_eq(r.data[3], 1);
	const uint8_t *d = r.data + 4;
	cr_assert_eq(d[0], 1);	  /* session */
	cr_assert_eq(d[1], 0x14); /* ADR/control */
	cr_assert_eq(d[3], 0xa0);
	cr_assert_eq(d[8], 1); /* first track */
	d += 11;
	cr_assert_eq(d[3], 0xa1);
	cr_assert_eq(d[8], 1); /* last track */
	d += 11;
	cr_assert_eq(d[3], 0xa2);
	cr_assert_eq(d[8], 0);
	cr_assert_eq(d[9], 15);
	cr_assert_eq(d[10], 26);
	d += 11;
	cr_assert_eq(d[3], 1);
	cr_assert_eq(d[8], 0);
	cr_assert_eq(d[9], 2);
	cr_assert_eq(d[10], 0);
	expect_check(a, CMD(0x43, 0, 0x02, 0, 0, 0, 2, 0, 0xff), 5, 0x24, 0);
	/* PMA / ATIP / CD-TEXT: not on a CD-ROM */
	for (uint8_t f = 3; f < 16; f++)
		expect_check(a, CMD(0x43, 0, f, 0, 0, 0, 0, 0, 0xff), 5, 0x24,
			     0);
	atapi_free(a);
}

/* ---- GET CONFIGURATION ---- */

static const uint8_t *find_feature(const uint8_t *d, uint32_t len,
				   uint16_t code)
{
	for (uint32_t o = 8; o + 4 <= len; o += 4 + d[o + 3])
		if (be16(d + o) == code)
			return d + o;
	return NULL;
}

Test(atapi, get_configuration_all)
{
	struct atapi *a = loaded();
	struct atapi_result r = run(a, CMD(0x46, 0, 0, 0, 0, 0, 0, 1, 0));
	cr_assert_eq(r.status, ATAPI_GOOD);
	cr_assert_eq(be32(r.data), r.len - 4);
	cr_assert_eq(be16(r.data + 6), 0x0008);
	const uint16_t want[] = {0, 1, 2, 3, 0x10, 0x1e};
	for (size_t i = 0; i < 6; i++) {
		const uint8_t *f = find_feature(r.data, r.len, want[i]);
		cr_assert_not_null(f, "feature %x", want[i]);
		cr_assert_eq(f[2] & 1, 1, "feature %x current", want[i]);
	}
	const uint8_t *f = find_feature(r.data, r.len, 0);
	cr_assert_eq(f[3], 4);
	cr_assert_eq(be16(f + 4), 0x0008);
	cr_assert_eq(f[6] & 1, 1);
	f = find_feature(r.data, r.len, 1);
	cr_assert_eq(be32(f + 4), 2); /* ATAPI */
	f = find_feature(r.data, r.len, 3);
	cr_assert_eq(f[4] & 0x09, 0x09); /* eject, lock */
	cr_assert_eq(f[4] >> 5, 1);	 /* tray */
	f = find_feature(r.data, r.len, 0x10);
	cr_assert_eq(be32(f + 4), 2048);
	/* allocation length: header only */
	struct atapi_result t = run(a, CMD(0x46, 0, 0, 0, 0, 0, 0, 0, 8));
	cr_assert_eq(t.len, 8);
	cr_assert_eq(be32(t.data), r.len - 4);
	atapi_free(a);
}

Test(atapi, get_configuration_rt_and_empty)
{
	struct atapi *a = atapi_new();
	struct atapi_result r = run(a, CMD(0x46, 0, 0, 0, 0, 0, 0, 1, 0));
	cr_assert_eq(r.status, ATAPI_GOOD);
	cr_assert_eq(be16(r.data + 6), 0); /* no current profile */
	const uint8_t *f = find_feature(r.data, r.len, 0x1e);
	cr_assert_not_null(f);
	cr_assert_eq(f[2] & 1, 0);
	f = find_feature(r.data, r.len, 0);
	cr_assert_eq(f[6] & 1, 0); /* CD-ROM profile not current */
	/* RT=1: current ones only */
	r = run(a, CMD(0x46, 1, 0, 0, 0, 0, 0, 1, 0));
	cr_assert_null(find_feature(r.data, r.len, 0x10));
	cr_assert_null(find_feature(r.data, r.len, 0x1e));
	cr_assert_not_null(find_feature(r.data, r.len, 0x03));
	/* RT=2: exactly one */
	r = run(a, CMD(0x46, 2, 0, 0x03, 0, 0, 0, 1, 0));
	cr_assert_eq(r.len, 8 + 8);
	cr_assert_eq(be16(r.data + 8), 3);
	r = run(a, CMD(0x46, 2, 0, 0x04, 0, 0, 0, 1, 0));
	cr_assert_eq(r.status, ATAPI_GOOD);
	cr_assert_eq(r.len, 8);
	cr_assert_eq(be32(r.data), 4);
	/* RT=0 starting at 0x10 */
	r = run(a, CMD(0x46, 0, 0, 0x10, 0, 0, 0, 1, 0));
	cr_assert_eq(be16(r.data + 8), 0x10);
	cr_assert_null(find_feature(r.data, r.len, 0x03));
	expect_check(a, CMD(0x46, 3, 0, 0, 0, 0, 0, 1, 0), 5, 0x24, 0);
	atapi_free(a);
}

/* ---- GET EVENT STATUS NOTIFICATION ---- */

static struct atapi_result gesn(struct atapi *a)
{
	struct atapi_result r = run(a, CMD(0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8));
	cr_assert_eq(r.status, ATAPI_GOOD);
	cr_assert_eq(r.len, 8);
	cr_assert_eq(be16(r.data), 6);
	cr_assert_eq(r.data[2], 4);
	cr_assert_eq(r.data[3] & 0x10, 0x10);
	return r;
}

Test(atapi, gesn_media_events)
{
	struct atapi *a = loaded();
	struct atapi_result r = gesn(a);
	cr_assert_eq(r.data[4] & 0xf, 0); /* power-on disc: no event */
	cr_assert_eq(r.data[5], 0x02);	  /* present, tray closed */
	/* eject */
	expect_good(a, CMD(0x1b, 0, 0, 0, 0x02));
	r = gesn(a);
	cr_assert_eq(r.data[4] & 0xf, 3); /* media removal */
	cr_assert_eq(r.data[5], 0x01);	  /* tray open, no disc */
	r = gesn(a);
	cr_assert_eq(r.data[4] & 0xf, 0); /* reported once */
	/* host inserts another */
	cr_assert_eq(atapi_set_medium(a, &disc2, false), 0);
	r = gesn(a);
	cr_assert_eq(r.data[4] & 0xf, 2); /* new media */
	cr_assert_eq(r.data[5], 0x02);
	r = gesn(a);
	cr_assert_eq(r.data[4] & 0xf, 0);
	/* other class requested: no event available */
	r = run(a, CMD(0x4a, 1, 0, 0, 0x04, 0, 0, 0, 8));
	cr_assert_eq(r.status, ATAPI_GOOD);
	cr_assert_eq(r.len, 4);
	cr_assert_eq(r.data[2] & 0x80, 0x80);
	/* truncation */
	r = run(a, CMD(0x4a, 1, 0, 0, 0x10, 0, 0, 0, 2));
	cr_assert_eq(r.len, 2);
	/* asynchronous: refused */
	expect_check(a, CMD(0x4a, 0, 0, 0, 0x10, 0, 0, 0, 8), 5, 0x24, 0);
	atapi_free(a);
}

/* ---- READ DISC INFORMATION, MECHANISM STATUS, SEEK, SUBCHANNEL ---- */

Test(atapi, read_disc_information)
{
	struct atapi *a = loaded();
	struct atapi_result r = run(a, CMD(0x51, 0, 0, 0, 0, 0, 0, 0, 34));
	cr_assert_eq(r.status, ATAPI_GOOD);
	cr_assert_eq(r.len, 34);
	cr_assert_eq(be16(r.data), 32);
	cr_assert_eq(r.data[2] & 0x03, 2);     /* complete */
	cr_assert_eq((r.data[2] >> 2) & 3, 3); /* session complete */
	cr_assert_eq(r.data[3], 1);
	cr_assert_eq(r.data[4], 1);
	cr_assert_eq(r.data[5], 1);
	cr_assert_eq(r.data[6], 1);
	r = run(a, CMD(0x51, 0, 0, 0, 0, 0, 0, 0, 3));
	cr_assert_eq(r.len, 3);
	expect_check(a, CMD(0x51, 1, 0, 0, 0, 0, 0, 0, 34), 5, 0x24, 0);
	atapi_free(a);
}

Test(atapi, read_track_information)
{
	struct atapi *a = loaded();
	/* by track number */
	struct atapi_result r = run(a, CMD(0x52, 1, 0, 0, 0, 1, 0, 0, 36));
	cr_assert_eq(r.status, ATAPI_GOOD);
	cr_assert_eq(r.len, 36);
	cr_assert_eq(be16(r.data), 34);
	cr_assert_eq(r.data[2], 1);
	cr_assert_eq(r.data[3], 1);
	cr_assert_eq(r.data[5] & 0x0f, 4); /* data track */
	cr_assert_eq(r.data[6] & 0x40, 0); /* not blank */
	cr_assert_eq(be32(r.data + 8), 0);
	cr_assert_eq(be32(r.data + 24), DISC_BLOCKS);
	cr_assert_eq(be32(r.data + 28), DISC_BLOCKS - 1);
	/* by LBA, by session, truncated */
	r = run(a, CMD(0x52, 0, 0, 0, 0x03, 0xe8, 0, 0, 8));
	cr_assert_eq(r.status, ATAPI_GOOD);
	cr_assert_eq(r.len, 8);
	expect_good(a, CMD(0x52, 2, 0, 0, 0, 1, 0, 0, 36));
	expect_check(a, CMD(0x52, 0, 0, 0, 0x03, 0xe9, 0, 0, 36), 5, 0x24, 0);
	expect_check(a, CMD(0x52, 1, 0, 0, 0, 0xff, 0, 0, 36), 5, 0x24, 0);
	expect_check(a, CMD(0x52, 1, 0, 0, 0, 2, 0, 0, 36), 5, 0x24, 0);
	expect_check(a, CMD(0x52, 3, 0, 0, 0, 1, 0, 0, 36), 5, 0x24, 0);
	atapi_free(a);
}

Test(atapi, mechanism_status)
{
	struct atapi *a = loaded();
	struct atapi_result r = run(a, CMD(0xbd, 0, 0, 0, 0, 0, 0, 0, 0, 0x20));
	cr_assert_eq(r.status, ATAPI_GOOD);
	cr_assert_eq(r.len, 8);
	cr_assert_eq(r.data[1] & 0x10, 0);
	cr_assert_eq(r.data[5], 0);
	cr_assert_eq(be16(r.data + 6), 0);
	expect_good(a, CMD(0x1b, 0, 0, 0, 0x02));
	r = run(a, CMD(0xbd, 0, 0, 0, 0, 0, 0, 0, 0, 4));
	cr_assert_eq(r.len, 4);
	cr_assert_eq(r.data[1] & 0x10, 0x10); /* door open */
	atapi_free(a);
}

Test(atapi, seek_and_subchannel)
{
	struct atapi *a = loaded();
	expect_good(a, CMD(0x2b, 0, 0, 0, 0x03, 0xe8));
	expect_check(a, CMD(0x2b, 0, 0, 0, 0x03, 0xe9), 5, 0x21, 0);
	struct atapi_result r =
	    run(a, CMD(0x42, 0x02, 0x40, 1, 0, 0, 0, 0, 16));
	cr_assert_eq(r.status, ATAPI_GOOD);
	cr_assert_eq(r.len, 16);
	cr_assert_eq(be16(r.data + 2), 12);
	cr_assert_eq(r.data[4], 1);
	cr_assert_eq(r.data[6], 1);
	cr_assert_eq(be32(r.data + 8), 0x200); /* 00:02:00 */
	r = run(a, CMD(0x42, 0, 0, 1, 0, 0, 0, 0, 16));
	cr_assert_eq(r.len, 4); /* SubQ clear: header only */
	expect_check(a, CMD(0x42, 0, 0x40, 9, 0, 0, 0, 0, 16), 5, 0x24, 0);
	atapi_free(a);
}

/* ---- medium state ---- */

/* Commands that need a disc, with sensible CDBs. */
static const struct cmd medium_cmds[] = {
    {{0x00}},
    {{0x25}},
    {{0x28, 0, 0, 0, 0, 0, 0, 0, 1}},
    {{0xa8, 0, 0, 0, 0, 0, 0, 0, 0, 1}},
    {{0xbe, 0, 0, 0, 0, 0, 0, 0, 1, 0x10}},
    {{0x43, 0, 0, 0, 0, 0, 0, 0, 12}},
    {{0x51, 0, 0, 0, 0, 0, 0, 0, 34}},
};

/* And those that work in an empty drive. */
static const struct cmd no_medium_cmds[] = {
    {{0x12, 0, 0, 0, 36}},
    {{0x46, 0, 0, 0, 0, 0, 0, 0, 64}},
    {{0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8}},
    {{0x5a, 0, 0x3f, 0, 0, 0, 0, 0, 255}},
    {{0x1a, 0, 0x2a, 0, 255}},
    {{0xbd, 0, 0, 0, 0, 0, 0, 0, 0, 8}},
};

#define N(x) (sizeof(x) / sizeof((x)[0]))

Test(atapi, empty_drive)
{
	struct atapi *a = atapi_new();
	cr_assert_null(atapi_medium(a));
	for (size_t i = 0; i < N(medium_cmds); i++)
		expect_check(a, medium_cmds[i], 2, 0x3a, 0);
	for (size_t i = 0; i < N(no_medium_cmds); i++)
		expect_good(a, no_medium_cmds[i]);
	atapi_free(a);
}

Test(atapi, empty_zero_size_medium)
{
	struct blk z = {.ops = &fake_ops, .size = 0};
	struct atapi *a = atapi_new();
	atapi_set_medium(a, &z, false);
	expect_check(a, CMD(0x25), 2, 0x3a, 0);
	atapi_free(a);
}

Test(atapi, unit_attention_once_after_change)
{
	struct atapi *a = loaded();
	expect_good(a, CMD(0x00));
	cr_assert_eq(atapi_set_medium(a, &disc2, false), 0);
	cr_assert_eq(atapi_medium(a), &disc2);
	/* these do not consume it */
	for (size_t i = 0; i < 3; i++)
		expect_good(a, no_medium_cmds[i]);
	request_sense(a);
	/* the next one does, without being executed */
	struct atapi_result r = run(a, CMD(0x1e, 0, 0, 0, 1));
	cr_assert_eq(r.status, ATAPI_CHECK_CONDITION);
	cr_assert_eq(atapi_sense_key(a), SENSE_UNIT_ATTENTION);
	struct sense s = request_sense(a);
	cr_assert(s.key == 6 && s.asc == 0x28 && s.ascq == 0);
	/* PREVENT was not applied: eject works */
	expect_good(a, CMD(0x00));
	r = run(a, CMD(0x25));
	cr_assert_eq(be32(r.data), 1); /* 2 blocks */
	expect_good(a, CMD(0x1b, 0, 0, 0, 0x02));
	/* each change: one attention, for every kind of command */
	for (size_t i = 0; i < N(medium_cmds); i++) {
		atapi_set_medium(a, &disc, false);
		expect_check(a, medium_cmds[i], 6, 0x28, 0);
		expect_good(a, medium_cmds[i]);
	}
	atapi_free(a);
}

Test(atapi, unit_attention_survives_reset)
{
	struct atapi *a = loaded();
	expect_good(a, CMD(0x00));
	atapi_set_medium(a, &disc2, false);
	atapi_reset(a);
	expect_check(a, CMD(0x00), 6, 0x28, 0);
	expect_good(a, CMD(0x00));
	atapi_free(a);
}

Test(atapi, host_removal_and_attention)
{
	struct atapi *a = loaded();
	expect_good(a, CMD(0x00));
	cr_assert_eq(atapi_set_medium(a, NULL, false), 0);
	expect_check(a, CMD(0x00), 6, 0x28, 0);
	expect_check(a, CMD(0x00), 2, 0x3a, 0); /* tray closed, empty */
	struct atapi_result r = gesn(a);
	cr_assert_eq(r.data[4] & 0xf, 3);
	cr_assert_eq(r.data[5], 0);
	atapi_free(a);
}

Test(atapi, eject_without_prevent)
{
	struct atapi *a = loaded();
	expect_good(a, CMD(0x1b, 0, 0, 0, 0x02));
	cr_assert_null(atapi_medium(a));
	expect_check(a, CMD(0x00), 2, 0x3a, 0x02); /* tray open */
	expect_check(a, CMD(0x28, 0, 0, 0, 0, 0, 0, 0, 1), 2, 0x3a, 2);
	struct atapi_result r = run(a, CMD(0x1a, 0, 0x2a, 0, 255));
	cr_assert_eq(r.data[1], 0x71); /* door open */
	/* load: the tray closes, still empty */
	expect_good(a, CMD(0x1b, 0, 0, 0, 0x03));
	expect_check(a, CMD(0x00), 2, 0x3a, 0);
	/* the host inserts a disc */
	cr_assert_eq(atapi_set_medium(a, &disc, false), 0);
	expect_check(a, CMD(0x00), 6, 0x28, 0);
	expect_good(a, CMD(0x00));
	atapi_free(a);
}

Test(atapi, eject_with_prevent)
{
	struct atapi *a = loaded();
	expect_good(a, CMD(0x1e, 0, 0, 0, 1));
	expect_check(a, CMD(0x1b, 0, 0, 0, 0x02), 5, 0x53, 0x02);
	cr_assert_eq(atapi_medium(a), &disc);
	expect_good(a, CMD(0x00));
	/* the host is refused too, unless forced */
	cr_assert_eq(atapi_set_medium(a, &disc2, false), -1);
	cr_assert_eq(atapi_medium(a), &disc);
	expect_good(a, CMD(0x00));
	/* spin up/down and power conditions are not ejects */
	expect_good(a, CMD(0x1b, 0, 0, 0, 0x01));
	expect_good(a, CMD(0x1b, 0, 0, 0, 0x00));
	expect_good(a, CMD(0x1b, 0, 0, 0, 0x12));
	cr_assert_eq(atapi_medium(a), &disc);
	/* allow, then eject */
	expect_good(a, CMD(0x1e, 0, 0, 0, 0));
	expect_good(a, CMD(0x1b, 0, 0, 0, 0x02));
	cr_assert_null(atapi_medium(a));
	/* forced change while locked */
	expect_good(a, CMD(0x1e, 0, 0, 0, 1));
	cr_assert_eq(atapi_set_medium(a, &disc2, true), 0);
	cr_assert_eq(atapi_medium(a), &disc2);
	atapi_free(a);
}

Test(atapi, read_failed_sets_medium_error)
{
	struct atapi *a = loaded();
	struct atapi_result r = run(a, CMD(0x28, 0, 0, 0, 0, 0, 0, 0, 4));
	cr_assert_eq(r.read_blocks, 4);
	atapi_read_failed(a, -5, 0x12345);
	cr_assert_eq(atapi_sense_key(a), SENSE_MEDIUM_ERROR);
	struct sense s = request_sense(a);
	cr_assert(s.key == 3 && s.asc == 0x11 && s.ascq == 0);
	cr_assert(s.valid && s.info == 0x12345, "info %x", s.info);
	/* the next sense (of a good command) has no address */
	s = request_sense(a);
	cr_assert(s.key == 0 && !s.valid);
	/* reset clears the sense, keeps the medium and the lock */
	expect_good(a, CMD(0x1e, 0, 0, 0, 1));
	run(a, CMD(0xff));
	cr_assert_eq(atapi_sense_key(a), SENSE_ILLEGAL_REQUEST);
	atapi_reset(a);
	cr_assert_eq(atapi_sense_key(a), 0);
	cr_assert_eq(atapi_medium(a), &disc);
	expect_check(a, CMD(0x1b, 0, 0, 0, 0x02), 5, 0x53, 0x02);
	atapi_free(a);
}

/* ---- garbage ---- */

/* Where each data-in command keeps its allocation length. */
static uint32_t alloc_len(const uint8_t *c)
{
	switch (c[0]) {
	case 0x03:
	case 0x1a:
		return c[4];
	case 0x12:
		return be16(c + 3);
	case 0x42:
	case 0x43:
	case 0x46:
	case 0x4a:
	case 0x51:
	case 0x52:
	case 0x5a:
		return be16(c + 7);
	case 0xbd:
		return be16(c + 8);
	case 0x25:
		return 8;
	}
	return 0;
}

static void check_result(const uint8_t *cdb, const struct atapi_result *r,
			 uint64_t nblocks)
{
	cr_assert(r->status == ATAPI_GOOD ||
		  r->status == ATAPI_CHECK_CONDITION);
	cr_assert_leq(r->len, ATAPI_BUF_SIZE);
	cr_assert_leq(r->len, alloc_len(cdb), "opcode %02x len %u", cdb[0],
		      r->len);
	cr_assert((r->len == 0) == (r->data == NULL));
	if (r->status != ATAPI_GOOD)
		cr_assert(r->len == 0 && r->read_blocks == 0);
	if (r->read_blocks) {
		cr_assert_eq(r->len, 0);
		cr_assert_leq(r->read_lba + r->read_blocks, nblocks);
	}
}

Test(atapi, garbage_cdbs)
{
	struct atapi *a = loaded();
	srandom(100000);
	for (int i = 0; i < 100000; i++) {
		uint8_t cdb[12];
		for (int j = 0; j < 12; j++)
			cdb[j] = random();
		cdb[0] = i & 0xff; /* every opcode, many times */
		struct atapi_result r;
		memset(&r, 0xa5, sizeof(r));
		atapi_command(a, cdb, &r);
		struct blk *m = atapi_medium(a);
		check_result(cdb, &r, m ? (m->size + 2047) / 2048 : 0);
		if (r.data)
			cr_assert_eq(r.data[r.len - 1], r.data[r.len - 1]);
		/* keep a disc in most of the time */
		if (!m && (i % 7) == 0)
			atapi_set_medium(a, (i & 8) ? &disc : &disc2, true);
		if (i % 1000 == 0)
			atapi_reset(a);
	}
	atapi_free(a);
}
