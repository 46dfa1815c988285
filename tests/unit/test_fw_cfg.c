#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "hw/fw_cfg.h"
#include "ioreq/bytes.h"

#define RAM_SIZE 0x10000u
#define ROM_GPA	 0x20000u
#define HIGH_GPA 0x100000000ull

struct env {
	struct bus io;
	struct guest_mem gm;
	uint8_t ram[RAM_SIZE], rom[0x1000], high[0x1000];
	struct fw_cfg *f;
};

static struct env *env_new(void)
{
	struct env *e = calloc(1, sizeof(*e));
	cr_assert_not_null(e);
	bus_init(&e->io, "port");
	gm_add(&e->gm, 0, RAM_SIZE, e->ram, false);
	gm_add(&e->gm, ROM_GPA, sizeof(e->rom), e->rom, true);
	gm_add(&e->gm, HIGH_GPA, sizeof(e->high), e->high, false);
	e->f = fw_cfg_new(&e->gm);
	cr_assert_not_null(e->f);
	cr_assert_eq(fw_cfg_attach(e->f, &e->io), 0);
	return e;
}

static void env_free(struct env *e)
{
	fw_cfg_free(e->f);
	bus_destroy(&e->io);
	free(e);
}

static void sel(struct env *e, uint16_t key)
{
	uint8_t b[2] = {key & 0xff, key >> 8};
	bus_access(&e->io, FW_CFG_PORT, 2, true, b, 1);
}

static uint8_t rd8(struct env *e)
{
	uint8_t b = 0x5a;
	bus_access(&e->io, FW_CFG_PORT + 1, 1, false, &b, 1);
	return b;
}

static void rdn(struct env *e, void *buf, uint32_t n)
{
	uint8_t *p = buf;
	for (uint32_t i = 0; i < n; i++)
		p[i] = rd8(e);
}

/* A 32-bit outl of a big-endian value, as SeaBIOS does it. */
static void out_be32(struct env *e, uint16_t port, uint32_t v)
{
	uint8_t b[4];
	put_be(b, 4, v);
	bus_access(&e->io, port, 4, true, b, 1);
}

/* FWCfgDmaAccess at gpa (in RAM), then the low-half write that starts it. */
static uint32_t dma(struct env *e, uint32_t gpa, uint32_t control, uint32_t len,
		    uint64_t addr)
{
	put_be(e->ram + gpa, 4, control);
	put_be(e->ram + gpa + 4, 4, len);
	put_be(e->ram + gpa + 8, 8, addr);
	out_be32(e, FW_CFG_DMA_PORT + 4, gpa);
	return get_be(e->ram + gpa, 4);
}

#define DESC 0x100 /* where the tests put the DMA descriptor */
#define BUF  0x1000

Test(fw_cfg, signature_and_id_via_ports)
{
	struct env *e = env_new();
	uint8_t b[5];
	sel(e, FW_CFG_SIGNATURE);
	rdn(e, b, 5);
	cr_assert_arr_eq(b, "QEMU\0", 5);
	sel(e, FW_CFG_ID);
	rdn(e, b, 5);
	uint8_t id[5] = {3, 0, 0, 0, 0};
	cr_assert_arr_eq(b, id, 5);
	/* rep insb in one access, and a byte read at 0x510 reads data too. */
	sel(e, FW_CFG_SIGNATURE);
	uint8_t s[3] = {0};
	bus_access(&e->io, FW_CFG_PORT + 1, 1, false, s, 3);
	cr_assert_arr_eq(s, "QEM", 3);
	bus_access(&e->io, FW_CFG_PORT, 1, false, s, 1);
	cr_assert_eq(s[0], 'U');
	env_free(e);
}

Test(fw_cfg, reset_selects_signature)
{
	struct env *e = env_new();
	sel(e, FW_CFG_ID);
	rd8(e);
	fw_cfg_reset(e->f);
	cr_assert_eq(rd8(e), 'Q');
	env_free(e);
}

Test(fw_cfg, dma_register_reads_signature)
{
	struct env *e = env_new();
	uint8_t b[8] = {0};
	bus_access(&e->io, FW_CFG_DMA_PORT, 4, false, b, 1);
	bus_access(&e->io, FW_CFG_DMA_PORT + 4, 4, false, b + 4, 1);
	cr_assert_arr_eq(b, "QEMU CFG", 8);
	bus_access(&e->io, FW_CFG_DMA_PORT + 3, 1, false, b, 1);
	cr_assert_eq(b[0], 'U');
	bus_access(&e->io, FW_CFG_DMA_PORT + 6, 2, false, b, 1);
	cr_assert_arr_eq(b, "FG", 2);
	env_free(e);
}

Test(fw_cfg, file_directory_sorted_big_endian)
{
	struct env *e = env_new();
	cr_assert_eq(fw_cfg_add_file(e->f, "zeta", "abc", 3), 0);
	cr_assert_eq(fw_cfg_add_file(e->f, "alpha", "0123456789", 10), 0);
	cr_assert_eq(fw_cfg_add_file(e->f, "etc/x", NULL, 0), 0);
	uint8_t d[4 + 3 * 64 + 1];
	sel(e, FW_CFG_FILE_DIR);
	rdn(e, d, sizeof(d));
	cr_assert_eq(get_be(d, 4), 3);
	const char *names[] = {"alpha", "etc/x", "zeta"};
	uint32_t sizes[] = {10, 0, 3};
	for (int i = 0; i < 3; i++) {
		const uint8_t *f = d + 4 + 64 * i;
		cr_assert_eq(get_be(f, 4), sizes[i]);
		cr_assert_eq(get_be(f + 4, 2), FW_CFG_FILE_FIRST + i);
		cr_assert_eq(get_be(f + 6, 2), 0);
		cr_assert_str_eq((const char *)f + 8, names[i]);
		for (int k = 8 + strlen(names[i]); k < 64; k++)
			cr_assert_eq(f[k], 0);
		cr_assert_eq(fw_cfg_file_key(e->f, names[i]),
			     FW_CFG_FILE_FIRST + i);
	}
	cr_assert_eq(d[sizeof(d) - 1], 0); /* past the end */
	cr_assert_eq(fw_cfg_file_key(e->f, "nope"), 0);
	/* The key follows the name order: zeta is now 0x22. */
	sel(e, 0x22);
	uint8_t b[3];
	rdn(e, b, 3);
	cr_assert_arr_eq(b, "abc", 3);
	env_free(e);
}

Test(fw_cfg, file_names_checked_and_replaced)
{
	struct env *e = env_new();
	char longname[FW_CFG_NAME_LEN + 1];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[FW_CFG_NAME_LEN] = 0;
	cr_assert_eq(fw_cfg_add_file(e->f, longname, "x", 1), -1);
	longname[FW_CFG_NAME_LEN - 1] = 0; /* 55 chars + NUL fit */
	cr_assert_eq(fw_cfg_add_file(e->f, longname, "x", 1), 0);
	cr_assert_eq(fw_cfg_add_file(e->f, "", "x", 1), -1);
	cr_assert_eq(fw_cfg_add_file(e->f, NULL, "x", 1), -1);
	cr_assert_eq(fw_cfg_add_file(e->f, "g", NULL, 1), -1);
	cr_assert_eq(fw_cfg_add_bytes(e->f, 0x8010, NULL, 4), -1);
	cr_assert_eq(fw_cfg_add_bytes(e->f, 0x8010, NULL, 0), 0);
	/* Replacing keeps one entry and updates the directory's size. */
	cr_assert_eq(fw_cfg_add_file(e->f, "f", "long contents", 13), 0);
	uint16_t k = fw_cfg_file_key(e->f, "f");
	sel(e, k);
	for (int i = 0; i < 10; i++)
		rd8(e);
	cr_assert_eq(fw_cfg_add_file(e->f, "f", "ab", 2), 0);
	/* The offset is beyond the new end: zeros, no overrun. */
	cr_assert_eq(rd8(e), 0);
	uint8_t d[4 + 2 * 64];
	sel(e, FW_CFG_FILE_DIR);
	rdn(e, d, sizeof(d));
	cr_assert_eq(get_be(d, 4), 2);
	cr_assert_eq(get_be(d + 4 + 64, 4), 2);
	env_free(e);
}

Test(fw_cfg, file_read_bytewise_and_past_end)
{
	struct env *e = env_new();
	fw_cfg_add_file(e->f, "opt/t", "hello", 5);
	uint16_t k = fw_cfg_file_key(e->f, "opt/t");
	sel(e, k);
	uint8_t b[8];
	rdn(e, b, 8);
	cr_assert_arr_eq(b, "hello\0\0\0", 8);
	sel(e, k); /* selecting restarts at offset 0 */
	cr_assert_eq(rd8(e), 'h');
	/* Bit 14 (write channel) names the same item. */
	sel(e, k | FW_CFG_WRITE_CHANNEL);
	cr_assert_eq(rd8(e), 'h');
	/* Data writes are ignored and do not move the offset. */
	uint8_t w = 'X';
	bus_access(&e->io, FW_CFG_PORT + 1, 1, true, &w, 1);
	cr_assert_eq(rd8(e), 'e');
	env_free(e);
}

Test(fw_cfg, unknown_keys_read_zero)
{
	struct env *e = env_new();
	uint16_t keys[] = {0x0003, 0x0018, 0x0020, 0x1234,
			   0x3fff, 0x8000, 0x8003, 0xffff};
	for (unsigned i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		sel(e, keys[i]);
		for (int k = 0; k < 4; k++)
			cr_assert_eq(rd8(e), 0, "key %#x", keys[i]);
	}
	/* The empty directory is a zero count. */
	sel(e, FW_CFG_FILE_DIR);
	uint8_t d[5];
	rdn(e, d, 5);
	cr_assert_arr_eq(d, "\0\0\0\0\0", 5);
	env_free(e);
}

Test(fw_cfg, legacy_items_little_endian)
{
	struct env *e = env_new();
	cr_assert_eq(fw_cfg_add_u32(e->f, 0x8005, 0x11223344), 0);
	cr_assert_eq(fw_cfg_add_u64(e->f, 0x0003, 0x0102030405060708ull), 0);
	cr_assert_eq(fw_cfg_add_u16(e->f, FW_CFG_NB_CPUS, 0xa1b2), 0);
	uint8_t b[9];
	sel(e, 0x8005);
	rdn(e, b, 5);
	uint8_t w32[5] = {0x44, 0x33, 0x22, 0x11, 0};
	cr_assert_arr_eq(b, w32, 5);
	sel(e, 0x0003);
	rdn(e, b, 9);
	uint8_t w64[9] = {8, 7, 6, 5, 4, 3, 2, 1, 0};
	cr_assert_arr_eq(b, w64, 9);
	cr_assert_eq(fw_cfg_add_u16(e->f, FW_CFG_NB_CPUS, 7), 0); /* replace */
	sel(e, FW_CFG_NB_CPUS);
	rdn(e, b, 3);
	uint8_t w16[3] = {7, 0, 0};
	cr_assert_arr_eq(b, w16, 3);
	/* Reserved or file-range keys are refused. */
	uint16_t bad[] = {FW_CFG_SIGNATURE, FW_CFG_ID, FW_CFG_FILE_DIR, 0x20,
			  0x3fff,	    0x4005,    0xc000};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(fw_cfg_add_u16(e->f, bad[i], 1), -1, "%#x",
			     bad[i]);
	sel(e, FW_CFG_SIGNATURE);
	cr_assert_eq(rd8(e), 'Q');
	env_free(e);
}

Test(fw_cfg, dma_read_into_ram)
{
	struct env *e = env_new();
	fw_cfg_add_file(e->f, "opt/t", "hello world", 11);
	sel(e, fw_cfg_file_key(e->f, "opt/t"));
	memset(e->ram + BUF, 0xaa, 16);
	cr_assert_eq(dma(e, DESC, FW_CFG_DMA_CTL_READ, 5, BUF), 0);
	cr_assert_arr_eq(e->ram + BUF, "hello", 5);
	cr_assert_eq(e->ram[BUF + 5], 0xaa);
	/* The next transfer continues at the offset, and port reads too. */
	cr_assert_eq(dma(e, DESC, FW_CFG_DMA_CTL_READ, 3, BUF + 8), 0);
	cr_assert_arr_eq(e->ram + BUF + 8, " wo", 3);
	cr_assert_eq(rd8(e), 'r');
	env_free(e);
}

Test(fw_cfg, dma_select_and_read_past_end)
{
	struct env *e = env_new();
	fw_cfg_add_file(e->f, "opt/t", "hello", 5);
	uint16_t k = fw_cfg_file_key(e->f, "opt/t");
	sel(e, FW_CFG_ID);
	memset(e->ram + BUF, 0xaa, 16);
	uint32_t ctl =
	    (uint32_t)k << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ;
	cr_assert_eq(dma(e, DESC, ctl, 10, BUF), 0);
	cr_assert_arr_eq(e->ram + BUF, "hello\0\0\0\0\0", 10);
	cr_assert_eq(e->ram[BUF + 10], 0xaa);
	/* Signature then ID through DMA, as SeaBIOS detects the interface. */
	ctl = FW_CFG_ID << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ;
	cr_assert_eq(dma(e, DESC, ctl, 4, BUF), 0);
	uint8_t id[4] = {3, 0, 0, 0};
	cr_assert_arr_eq(e->ram + BUF, id, 4);
	/* Select alone transfers nothing. */
	memset(e->ram + BUF, 0xaa, 4);
	cr_assert_eq(dma(e, DESC, FW_CFG_DMA_CTL_SELECT, 4, BUF), 0);
	cr_assert_eq(e->ram[BUF], 0xaa);
	cr_assert_eq(rd8(e), 'Q');
	env_free(e);
}

Test(fw_cfg, dma_skip)
{
	struct env *e = env_new();
	fw_cfg_add_file(e->f, "opt/t", "hello", 5);
	uint16_t k = fw_cfg_file_key(e->f, "opt/t");
	uint32_t ctl =
	    (uint32_t)k << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_SKIP;
	/* Skip's address is never touched: a wild one is no error. */
	cr_assert_eq(dma(e, DESC, ctl, 2, 0xdead0000), 0);
	cr_assert_eq(dma(e, DESC, FW_CFG_DMA_CTL_READ, 3, BUF), 0);
	cr_assert_arr_eq(e->ram + BUF, "llo", 3);
	/* Skipping past the end stops at the end. */
	cr_assert_eq(dma(e, DESC, ctl, 1000, 0), 0);
	cr_assert_eq(rd8(e), 0);
	sel(e, k);
	cr_assert_eq(dma(e, DESC, FW_CFG_DMA_CTL_SKIP, 4, 0), 0);
	cr_assert_eq(rd8(e), 'o');
	env_free(e);
}

Test(fw_cfg, dma_wild_address_sets_error)
{
	struct env *e = env_new();
	fw_cfg_add_file(e->f, "opt/t", "hello", 5);
	uint16_t k = fw_cfg_file_key(e->f, "opt/t");
	uint32_t ctl =
	    (uint32_t)k << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ;
	cr_assert_eq(dma(e, DESC, ctl, 5, 0x80000000), FW_CFG_DMA_CTL_ERROR);
	cr_assert_eq(dma(e, DESC, ctl, 5, UINT64_MAX - 2),
		     FW_CFG_DMA_CTL_ERROR);
	/* The part past the item's end lands outside RAM. */
	cr_assert_eq(dma(e, DESC, ctl, 0x20000, RAM_SIZE - 8),
		     FW_CFG_DMA_CTL_ERROR);
	cr_assert_arr_eq(e->ram + RAM_SIZE - 8, "hello", 5);
	/* ROM is not DMA-writable. */
	cr_assert_eq(dma(e, DESC, ctl, 5, ROM_GPA), FW_CFG_DMA_CTL_ERROR);
	cr_assert_eq(e->rom[0], 0);
	/* A descriptor nowhere near RAM: nothing written, nothing crashes. */
	uint8_t before[RAM_SIZE];
	memcpy(before, e->ram, RAM_SIZE);
	out_be32(e, FW_CFG_DMA_PORT + 4, 0xfffffff8);
	cr_assert_arr_eq(e->ram, before, RAM_SIZE);
	env_free(e);
}

Test(fw_cfg, dma_descriptor_crossing_end_of_ram)
{
	struct env *e = env_new();
	uint32_t at = RAM_SIZE - 8;
	put_be(e->ram + at, 4, FW_CFG_DMA_CTL_READ);
	put_be(e->ram + at + 4, 4, 4);
	out_be32(e, FW_CFG_DMA_PORT + 4, at);
	cr_assert_eq(get_be(e->ram + at, 4), FW_CFG_DMA_CTL_ERROR);
	/* The offset did not move: nothing was read. */
	cr_assert_eq(rd8(e), 'Q');
	env_free(e);
}

Test(fw_cfg, dma_write_refused)
{
	struct env *e = env_new();
	fw_cfg_add_file(e->f, "opt/t", "hello", 5);
	uint16_t k = fw_cfg_file_key(e->f, "opt/t");
	memcpy(e->ram + BUF, "HELLO", 5);
	uint32_t ctl =
	    (uint32_t)k << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_WRITE;
	cr_assert_eq(dma(e, DESC, ctl, 5, BUF), FW_CFG_DMA_CTL_ERROR);
	cr_assert_eq(dma(e, DESC, ctl, 0, BUF), 0); /* nothing to write */
	sel(e, k);
	cr_assert_eq(rd8(e), 'h');
	env_free(e);
}

Test(fw_cfg, dma_64bit_descriptor_address)
{
	struct env *e = env_new();
	fw_cfg_add_file(e->f, "opt/t", "hello", 5);
	uint16_t k = fw_cfg_file_key(e->f, "opt/t");
	uint8_t *d = e->high + 0x10;
	put_be(d, 4,
	       (uint32_t)k << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ);
	put_be(d + 4, 4, 5);
	put_be(d + 8, 8, HIGH_GPA + 0x100);
	out_be32(e, FW_CFG_DMA_PORT, HIGH_GPA >> 32);
	out_be32(e, FW_CFG_DMA_PORT + 4, 0x10);
	cr_assert_eq(get_be(d, 4), 0);
	cr_assert_arr_eq(e->high + 0x100, "hello", 5);
	/* The register was cleared: a low-only write is a 32-bit address. */
	cr_assert_eq(dma(e, 0x10, FW_CFG_DMA_CTL_READ, 0, 0), 0);
	env_free(e);
}

static void read_file(struct env *e, const char *name, uint8_t *buf,
		      uint32_t len)
{
	uint16_t k = fw_cfg_file_key(e->f, name);
	cr_assert_neq(k, 0, "%s missing", name);
	sel(e, k);
	rdn(e, buf, len);
}

Test(fw_cfg, pc_defaults)
{
	struct env *e = env_new();
	cr_assert_eq(fw_cfg_pc_defaults(e->f, 0x8000000, 0x40000000, 1,
					"/pci@i0cf8/ide@1,1/drive@1/disk@0", 0),
		     0);
	uint8_t b[64];
	sel(e, FW_CFG_NB_CPUS);
	rdn(e, b, 2);
	cr_assert_eq(b[0] | b[1] << 8, 1);
	sel(e, FW_CFG_MAX_CPUS);
	rdn(e, b, 2);
	cr_assert_eq(b[0] | b[1] << 8, 1);
	sel(e, FW_CFG_BOOT_MENU);
	rdn(e, b, 3);
	cr_assert_arr_eq(b, "\0\0\0", 3);
	cr_assert_eq(fw_cfg_file_key(e->f, "etc/boot-menu-wait"), 0);
	read_file(e, "etc/e820", b, 61);
	uint8_t want[60] = {0};
	/* RAM 0-128M, KVM's TSS+identity map reserved, RAM 4G-5G. */
	want[11] = 0x08, want[16] = 1;
	want[20 + 1] = 0xc0, want[20 + 2] = 0xff, want[20 + 3] = 0xfe;
	want[20 + 9] = 0x40, want[20 + 16] = 2;
	want[40 + 4] = 1, want[40 + 11] = 0x40, want[40 + 16] = 1;
	cr_assert_arr_eq(b, want, 60);
	cr_assert_eq(b[60], 0);
	const char *bo = "/pci@i0cf8/ide@1,1/drive@1/disk@0";
	read_file(e, "bootorder", b, strlen(bo) + 2);
	cr_assert_str_eq((char *)b, bo);
	cr_assert_eq(b[strlen(bo) + 1], 0);
	/* No ACPI: SeaBIOS keeps building its own tables. */
	cr_assert_eq(fw_cfg_file_key(e->f, "etc/table-loader"), 0);
	cr_assert_eq(fw_cfg_file_key(e->f, "etc/acpi/tables"), 0);
	env_free(e);
}

Test(fw_cfg, pc_defaults_with_menu)
{
	struct env *e = env_new();
	cr_assert_eq(fw_cfg_pc_defaults(e->f, 0x8000000, 0, 2, NULL, 70000), 0);
	uint8_t b[4];
	sel(e, FW_CFG_BOOT_MENU);
	rdn(e, b, 2);
	cr_assert_eq(b[0] | b[1] << 8, 1);
	read_file(e, "etc/boot-menu-wait", b, 3);
	cr_assert_eq(b[0] | b[1] << 8, 0xffff);
	cr_assert_eq(b[2], 0);
	cr_assert_eq(fw_cfg_file_key(e->f, "bootorder"), 0);
	uint8_t t[41];
	read_file(e, "etc/e820", t, 41); /* RAM below 4G and the KVM range */
	cr_assert_eq(t[16], 1);
	cr_assert_eq(t[36], 2);
	cr_assert_eq(t[40], 0);
	sel(e, FW_CFG_NB_CPUS);
	cr_assert_eq(rd8(e), 2);
	cr_assert_eq(fw_cfg_pc_defaults(e->f, 0x8000000, 0, 0, NULL, 0), -1);
	env_free(e);
}

static uint32_t xorshift(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

Test(fw_cfg, garbage_never_crashes)
{
	struct env *e = env_new();
	fw_cfg_pc_defaults(e->f, RAM_SIZE, 0, 1, "x", 0);
	uint32_t s = 100000;
	static const unsigned sizes[] = {1, 2, 4};
	for (int i = 0; i < 100000; i++) {
		uint32_t r = xorshift(&s), v = xorshift(&s);
		uint16_t port = 0x50e + r % 16;
		unsigned size = sizes[(r >> 8) % 3];
		uint8_t b[4 * 8];
		uint32_t count = (r >> 12) % 8 ? 1 : 1 + (r >> 16) % 8;
		/* Random descriptors so that DMA triggers do something. */
		if (r & 0x100000) {
			uint32_t at = v % RAM_SIZE & ~3u;
			for (int k = 0; k < 16 && at + k < RAM_SIZE; k++)
				e->ram[at + k] = xorshift(&s);
			v = (r & 0x200000) ? at : v;
		}
		for (unsigned k = 0; k < sizeof(b); k++)
			b[k] = v >> (8 * (k % 4));
		bus_access(&e->io, port, size, r & 0x400000, b, count);
	}
	fw_cfg_reset(e->f);
	sel(e, FW_CFG_SIGNATURE);
	uint8_t b[4];
	rdn(e, b, 4);
	cr_assert_arr_eq(b, "QEMU", 4);
	cr_assert_eq(
	    dma(e, DESC,
		FW_CFG_ID << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ,
		1, BUF),
	    0);
	cr_assert_eq(e->ram[BUF], 3);
	env_free(e);
}
