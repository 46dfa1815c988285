/*
 * Tests of the direct kernel loader (vmm/loader.c) and the MP table
 * (vmm/mptable.c) on synthetic bzImages and ELF files, in a 32 MiB fake
 * guest RAM with the PC's VGA hole; and of the -bios file checks.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "vmm/loader.h"
#include "vmm/mptable.h"

#define RAM    (32u << 20)
#define KSIZE  0x4000u /* protected-mode part of the fake bzImage */
#define SETUP  4       /* setup sectors */
#define KOFF   ((SETUP + 1) * 512)
#define KLOAD  0x1000000u
#define KINIT  0x800000u
#define ELFLEN 0x4000u

static uint8_t *ram, *img;
static size_t img_len;
static struct guest_mem gm;
static struct boot_ram br;
static struct boot_entry ent;
static char err[256];

static void put(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = v >> (8 * i);
}

static uint64_t get(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = n; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

static void setup_ram(void)
{
	ram = malloc(RAM);
	cr_assert_not_null(ram);
	memset(ram, 0xaa, RAM);
	memset(&gm, 0, sizeof(gm));
	gm_add(&gm, 0, 0xa0000, ram, false);
	gm_add(&gm, 0xc0000, RAM - 0xc0000, ram + 0xc0000, false);
	gm.ram_size = RAM;
	br = (struct boot_ram){&gm, RAM, 0};
	img = NULL;
	err[0] = 0;
}

static void teardown(void)
{
	free(ram);
	free(img);
}

/* A bzImage with protocol 2.15, relocatable, 64-bit entry. */
static void make_bzimage(void)
{
	img_len = KOFF + KSIZE;
	img = calloc(1, img_len);
	img[0x1f1] = SETUP;
	put(img + 0x1f4, KSIZE / 16, 4);
	put(img + 0x1fe, 0xaa55, 2);
	img[0x200] = 0xeb; /* jmp to the end of the 2.15 header */
	img[0x201] = 0x66;
	memcpy(img + 0x202, "HdrS", 4);
	put(img + 0x206, 0x020f, 2);
	img[0x211] = 0x01; /* LOADED_HIGH */
	put(img + 0x22c, 0x7fffffff, 4);
	put(img + 0x230, 0x200000, 4);
	img[0x234] = 1;
	put(img + 0x236, 0x3, 2); /* XLF_KERNEL_64 | CAN_BE_LOADED_ABOVE_4G */
	put(img + 0x238, 2047, 4);
	put(img + 0x258, KLOAD, 8);
	put(img + 0x260, KINIT, 4);
	for (unsigned i = 0; i < KSIZE; i++)
		img[KOFF + i] = i * 7 + 1;
}

static struct boot_args args(const char *cmdline)
{
	return (struct boot_args){.cmdline = cmdline};
}

TestSuite(loader, .init = setup_ram, .fini = teardown);
TestSuite(mptable);

/* --- E820 ------------------------------------------------------------ */

Test(loader, e820_128m)
{
	struct e820_entry e[E820_MAX];
	int n = loader_e820(128u << 20, 0, e);
	cr_assert_eq(n, 4);
	cr_assert(e[0].addr == 0 && e[0].size == 0x9fc00 &&
		  e[0].type == E820_RAM);
	cr_assert(e[1].addr == 0x9fc00 && e[1].size == 0x400 &&
		  e[1].type == E820_RESERVED);
	cr_assert(e[2].addr == 0xe0000 && e[2].size == 0x20000 &&
		  e[2].type == E820_RESERVED);
	cr_assert(e[3].addr == 0x100000 && e[3].size == (127u << 20) &&
		  e[3].type == E820_RAM);
}

Test(loader, e820_above_4g)
{
	struct e820_entry e[E820_MAX];
	int n = loader_e820(0xe0000000ull, 0x40000000ull, e);
	cr_assert_eq(n, 5);
	cr_assert_eq(e[3].addr + e[3].size, 0xe0000000ull);
	cr_assert(e[4].addr == 0x100000000ull && e[4].size == 0x40000000ull &&
		  e[4].type == E820_RAM);
	for (int i = 1; i < n; i++) /* sorted, no overlap */
		cr_assert_geq(e[i].addr, e[i - 1].addr + e[i - 1].size);
}

/* --- bzImage --------------------------------------------------------- */

Test(loader, bzimage_parse_fields)
{
	make_bzimage();
	struct bzimage_info bi;
	cr_assert_eq(bzimage_parse(img, img_len, RAM, &bi, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(bi.version, 0x020f);
	cr_assert_eq(bi.setup_sects, SETUP);
	cr_assert_eq(bi.kernel_offset, KOFF);
	cr_assert_eq(bi.kernel_size, KSIZE);
	cr_assert(bi.relocatable);
	cr_assert_eq(bi.load_addr, KLOAD);
	cr_assert_eq(bi.init_size, KINIT);
	cr_assert_eq(bi.cmdline_size, 2047);
}

Test(loader, bzimage_setup_sects_zero_means_four)
{
	make_bzimage();
	img[0x1f1] = 0;
	struct bzimage_info bi;
	cr_assert_eq(bzimage_parse(img, img_len, RAM, &bi, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(bi.kernel_offset, 5 * 512);
}

Test(loader, bzimage_load_zeropage_and_entry)
{
	make_bzimage();
	static uint8_t rd[10000];
	memset(rd, 0x5c, sizeof(rd));
	struct boot_args a = args("console=ttyS0 quiet");
	a.initrd = rd;
	a.initrd_size = sizeof(rd);
	cr_assert_eq(loader_load(&br, img, img_len, &a, &ent, err, sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(memcmp(ram + KLOAD, img + KOFF, KSIZE), 0);
	uint8_t *zp = ram + BOOT_ZEROPAGE;
	cr_assert_eq(memcmp(zp + 0x202, "HdrS", 4), 0);
	cr_assert_eq(get(zp + 0x206, 2), 0x020f);
	cr_assert_eq(zp[0x210], 0xff);
	cr_assert_eq(get(zp + 0x228, 4), BOOT_CMDLINE);
	cr_assert_str_eq((char *)ram + BOOT_CMDLINE, "console=ttyS0 quiet");
	/* The initrd: page-aligned, at the top of RAM, above the kernel. */
	uint64_t rdaddr = get(zp + 0x218, 4);
	cr_assert_eq(get(zp + 0x21c, 4), sizeof(rd));
	cr_assert_eq(rdaddr & 0xfff, 0);
	cr_assert_leq(rdaddr + sizeof(rd), RAM);
	cr_assert_gt(rdaddr + sizeof(rd), RAM - 0x1000);
	cr_assert_geq(rdaddr, KLOAD + KINIT);
	cr_assert_eq(memcmp(ram + rdaddr, rd, sizeof(rd)), 0);
	/* E820 in the zero page: 20-byte entries at 0x2d0. */
	cr_assert_eq(zp[0x1e8], 4);
	cr_assert_eq(get(zp + 0x2d0 + 3 * 20, 8), 0x100000);
	cr_assert_eq(get(zp + 0x2d0 + 3 * 20 + 8, 8), RAM - 0x100000);
	cr_assert_eq(get(zp + 0x2d0 + 3 * 20 + 16, 4), E820_RAM);
	/* Bytes past the header stay zero (not copied from the file). */
	cr_assert_eq(zp[0x2d0 + 5 * 20], 0);
	cr_assert_eq(ent.mode, BOOT_LONG64);
	cr_assert_eq(ent.rip, KLOAD + 0x200);
	cr_assert_eq(ent.rsi, BOOT_ZEROPAGE);
	cr_assert_eq(ent.cr3, BOOT_PML4);
	cr_assert_eq(ent.gdt_base, BOOT_GDT);
}

Test(loader, bzimage_identity_page_tables_and_gdt)
{
	make_bzimage();
	struct boot_args a = args(NULL);
	cr_assert_eq(loader_load(&br, img, img_len, &a, &ent, err, sizeof(err)),
		     0, "%s", err);
	uint8_t *pt = ram + BOOT_PML4;
	cr_assert_eq(get(pt, 8), (BOOT_PML4 + 0x1000) | 3);
	cr_assert_eq(get(pt + 8, 8), 0); /* only the first 512 GiB */
	for (int i = 0; i < 4; i++)
		cr_assert_eq(get(pt + 0x1000 + 8 * i, 8),
			     (BOOT_PML4 + 0x2000 + 0x1000 * i) | 3);
	cr_assert_eq(get(pt + 0x2000, 8), 0x83);
	/* 3 GiB + 2 MiB is in the fourth directory, entry 1. */
	cr_assert_eq(get(pt + 0x5000 + 8, 8), 0xc0200083ull);
	uint8_t *g = ram + BOOT_GDT;
	cr_assert_eq(get(g + 0x10, 8), 0x00af9b000000ffffull); /* L=1 */
	cr_assert_eq(get(g + 0x18, 8), 0x00cf93000000ffffull);
	cr_assert_eq(ram[BOOT_CMDLINE], 0); /* empty command line */
}

Test(loader, bzimage_not_relocatable_loads_at_1m)
{
	make_bzimage();
	img[0x234] = 0;
	struct boot_args a = args("");
	cr_assert_eq(loader_load(&br, img, img_len, &a, &ent, err, sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(ent.rip, 0x100200);
	cr_assert_eq(memcmp(ram + 0x100000, img + KOFF, KSIZE), 0);
}

Test(loader, bzimage_truncated)
{
	make_bzimage();
	struct boot_args a = args("");
	int rc =
	    loader_load(&br, img, img_len - 16, &a, &ent, err, sizeof(err));
	cr_assert_eq(rc, -1);
	cr_assert(strstr(err, "truncated"), "%s", err);
	cr_assert_eq(loader_load(&br, img, 0x210, &a, &ent, err, sizeof(err)),
		     -1);
	cr_assert_eq(loader_load(&br, img, KOFF, &a, &ent, err, sizeof(err)),
		     -1);
	cr_assert(strstr(err, "truncated"), "%s", err);
}

Test(loader, bzimage_bad_magic)
{
	make_bzimage();
	img[0x203] = 'x';
	struct boot_args a = args("");
	cr_assert_eq(loader_load(&br, img, img_len, &a, &ent, err, sizeof(err)),
		     -1);
	cr_assert(strstr(err, "not a Linux kernel"), "%s", err);
	struct bzimage_info bi;
	cr_assert_eq(bzimage_parse(img, img_len, RAM, &bi, err, sizeof(err)),
		     -1);
	cr_assert(strstr(err, "HdrS"), "%s", err);
}

Test(loader, bzimage_bad_boot_flag)
{
	make_bzimage();
	img[0x1fe] = 0;
	struct bzimage_info bi;
	cr_assert_eq(bzimage_parse(img, img_len, RAM, &bi, err, sizeof(err)),
		     -1);
	cr_assert(strstr(err, "boot flag"), "%s", err);
}

Test(loader, bzimage_old_protocol)
{
	make_bzimage();
	put(img + 0x206, 0x020b, 2);
	struct bzimage_info bi;
	cr_assert_eq(bzimage_parse(img, img_len, RAM, &bi, err, sizeof(err)),
		     -1);
	cr_assert(strstr(err, "2.11 is too old"), "%s", err);
}

Test(loader, bzimage_without_64bit_entry)
{
	make_bzimage();
	put(img + 0x236, 0x2, 2);
	struct bzimage_info bi;
	cr_assert_eq(bzimage_parse(img, img_len, RAM, &bi, err, sizeof(err)),
		     -1);
	cr_assert(strstr(err, "64-bit"), "%s", err);
}

Test(loader, bzimage_zimage_refused)
{
	make_bzimage();
	img[0x211] = 0;
	struct bzimage_info bi;
	cr_assert_eq(bzimage_parse(img, img_len, RAM, &bi, err, sizeof(err)),
		     -1);
}

Test(loader, bzimage_does_not_fit)
{
	make_bzimage();
	put(img + 0x260, RAM, 4); /* init_size larger than RAM */
	struct boot_args a = args("");
	cr_assert_eq(loader_load(&br, img, img_len, &a, &ent, err, sizeof(err)),
		     -1);
	cr_assert(strstr(err, "needs"), "%s", err);
}

Test(loader, bzimage_initrd_too_big)
{
	make_bzimage();
	size_t sz = RAM - KLOAD - KINIT + 1;
	uint8_t *rd = calloc(1, sz);
	struct boot_args a = args("");
	a.initrd = rd;
	a.initrd_size = sz;
	int rc = loader_load(&br, img, img_len, &a, &ent, err, sizeof(err));
	free(rd);
	cr_assert_eq(rc, -1);
	cr_assert(strstr(err, "-initrd") && strstr(err, "do not fit"), "%s",
		  err);
}

Test(loader, bzimage_initrd_below_initrd_addr_max)
{
	make_bzimage();
	put(img + 0x22c, 0x1bfffff, 4); /* last usable byte: 28 MiB - 1 */
	static uint8_t rd[5000];
	struct boot_args a = args("");
	a.initrd = rd;
	a.initrd_size = sizeof(rd);
	cr_assert_eq(loader_load(&br, img, img_len, &a, &ent, err, sizeof(err)),
		     0, "%s", err);
	uint64_t at = get(ram + BOOT_ZEROPAGE + 0x218, 4);
	cr_assert_leq(at + sizeof(rd), 0x1c00000);
	cr_assert_eq(at, (0x1c00000 - sizeof(rd)) & ~0xfffull);
}

Test(loader, bzimage_cmdline_limit)
{
	make_bzimage();
	put(img + 0x238, 16, 4);
	struct boot_args a = args("0123456789abcdef");
	cr_assert_eq(loader_load(&br, img, img_len, &a, &ent, err, sizeof(err)),
		     0, "%s", err);
	a = args("0123456789abcdefg");
	cr_assert_eq(loader_load(&br, img, img_len, &a, &ent, err, sizeof(err)),
		     -1);
	cr_assert(strstr(err, "17 bytes") && strstr(err, "at most 16"), "%s",
		  err);
}

/* --- ELF / PVH ------------------------------------------------------- */

/* Notes: a GNU build id, then Xen's PHYS32_ENTRY (or another type). */
static size_t put_notes(uint8_t *p, uint32_t xen_type, uint32_t entry)
{
	put(p, 4, 4);
	put(p + 4, 8, 4);
	put(p + 8, 3, 4);
	memcpy(p + 12, "GNU", 4);
	memset(p + 16, 0x11, 8);
	put(p + 24, 4, 4);
	put(p + 28, 4, 4);
	put(p + 32, xen_type, 4);
	memcpy(p + 36, "Xen", 4);
	put(p + 40, entry, 4);
	return 44;
}

/* An ELF file: one PT_LOAD of 0x2000 file bytes + 0x1000 bss at 1 MiB,
 * one PT_NOTE. */
static void make_elf(bool is64, uint32_t xen_type, uint32_t entry)
{
	img_len = ELFLEN;
	img = calloc(1, img_len);
	memcpy(img, "\177ELF", 4);
	img[4] = is64 ? 2 : 1;
	img[5] = 1;
	img[6] = 1;
	put(img + 16, 2, 2);
	put(img + 18, is64 ? 62 : 3, 2);
	size_t nlen = put_notes(img + 0x200, xen_type, entry);
	uint8_t *ph = img + 0x80;
	if (is64) {
		put(img + 32, 0x80, 8);
		put(img + 54, 56, 2);
		put(img + 56, 2, 2);
		put(ph, 1, 4);
		put(ph + 8, 0x1000, 8);
		put(ph + 16, 0xffffffff81000000ull, 8);
		put(ph + 24, 0x100000, 8);
		put(ph + 32, 0x2000, 8);
		put(ph + 40, 0x3000, 8);
		put(ph + 56, 4, 4);
		put(ph + 56 + 8, 0x200, 8);
		put(ph + 56 + 32, nlen, 8);
	} else {
		put(img + 28, 0x80, 4);
		put(img + 42, 32, 2);
		put(img + 44, 2, 2);
		put(ph, 1, 4);
		put(ph + 4, 0x1000, 4);
		put(ph + 12, 0x100000, 4);
		put(ph + 16, 0x2000, 4);
		put(ph + 20, 0x3000, 4);
		put(ph + 32, 4, 4);
		put(ph + 32 + 4, 0x200, 4);
		put(ph + 32 + 16, nlen, 4);
	}
	for (unsigned i = 0x1000; i < 0x3000; i++)
		img[i] = i * 3 + 5;
}

static void check_pvh_load(bool is64)
{
	make_elf(is64, 18, 0x100040);
	static uint8_t rd[3000];
	memset(rd, 0x77, sizeof(rd));
	struct boot_args a = args("root=/dev/ram0");
	a.initrd = rd;
	a.initrd_size = sizeof(rd);
	cr_assert_eq(loader_load(&br, img, img_len, &a, &ent, err, sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(memcmp(ram + 0x100000, img + 0x1000, 0x2000), 0);
	for (unsigned i = 0x102000; i < 0x103000; i++)
		cr_assert_eq(ram[i], 0, "bss byte 0x%x", i);
	cr_assert_eq(ram[0x103000], 0xaa); /* untouched past the image */
	cr_assert_eq(ent.mode, BOOT_PROT32);
	cr_assert_eq(ent.rip, 0x100040);
	cr_assert_eq(ent.rbx, BOOT_PVH_INFO);
	uint8_t *si = ram + BOOT_PVH_INFO;
	cr_assert_eq(get(si, 4), 0x336ec578);
	cr_assert_eq(get(si + 4, 4), 1);
	cr_assert_eq(get(si + 12, 4), 1);
	uint64_t ml = get(si + 16, 8);
	uint64_t at = get(ram + ml, 8);
	cr_assert_eq(get(ram + ml + 8, 8), sizeof(rd));
	cr_assert_eq(at & 0xfff, 0);
	cr_assert_eq(memcmp(ram + at, rd, sizeof(rd)), 0);
	cr_assert_str_eq((char *)ram + get(si + 24, 8), "root=/dev/ram0");
	cr_assert_eq(get(si + 32, 8), 0);
	uint64_t mm = get(si + 40, 8);
	cr_assert_eq(get(si + 48, 4), 4);
	cr_assert_eq(get(ram + mm + 3 * 24, 8), 0x100000);
	cr_assert_eq(get(ram + mm + 3 * 24 + 8, 8), RAM - 0x100000);
	cr_assert_eq(get(ram + mm + 3 * 24 + 16, 4), E820_RAM);
	cr_assert_eq(get(ram + BOOT_GDT + 0x10, 8), 0x00cf9b000000ffffull);
}

Test(loader, pvh_elf64)
{
	check_pvh_load(true);
}

Test(loader, pvh_elf32)
{
	check_pvh_load(false);
}

Test(loader, pvh_parse_note)
{
	make_elf(true, 18, 0x101000);
	struct pvh_info pi;
	cr_assert_eq(pvh_parse(img, img_len, RAM, &pi, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(pi.entry, 0x101000);
	cr_assert_eq(pi.nsegs, 1);
	cr_assert_eq(pi.lowest, 0x100000);
	cr_assert_eq(pi.end, 0x103000);
}

Test(loader, pvh_no_entry_note)
{
	make_elf(true, 17, 0x100040); /* another Xen note */
	struct boot_args a = args("");
	cr_assert_eq(loader_load(&br, img, img_len, &a, &ent, err, sizeof(err)),
		     -1);
	cr_assert(strstr(err, "no PVH entry"), "%s", err);
}

Test(loader, pvh_entry_outside_image)
{
	make_elf(true, 18, 0x200000);
	struct pvh_info pi;
	cr_assert_eq(pvh_parse(img, img_len, RAM, &pi, err, sizeof(err)), -1);
	cr_assert(strstr(err, "outside"), "%s", err);
}

Test(loader, pvh_truncated_segment)
{
	make_elf(true, 18, 0x100040);
	struct pvh_info pi;
	cr_assert_eq(pvh_parse(img, 0x2000, RAM, &pi, err, sizeof(err)), -1);
	cr_assert(strstr(err, "truncated"), "%s", err);
	cr_assert_eq(pvh_parse(img, 0x60, RAM, &pi, err, sizeof(err)), -1);
	cr_assert_eq(pvh_parse(img, 40, RAM, &pi, err, sizeof(err)), -1);
}

Test(loader, pvh_bad_machine_and_class)
{
	make_elf(true, 18, 0x100040);
	struct pvh_info pi;
	img[18] = 40; /* ARM */
	cr_assert_eq(pvh_parse(img, img_len, RAM, &pi, err, sizeof(err)), -1);
	cr_assert(strstr(err, "not x86"), "%s", err);
	img[18] = 62;
	img[4] = 3;
	cr_assert_eq(pvh_parse(img, img_len, RAM, &pi, err, sizeof(err)), -1);
	img[4] = 2;
	img[5] = 2; /* big-endian */
	cr_assert_eq(pvh_parse(img, img_len, RAM, &pi, err, sizeof(err)), -1);
}

Test(loader, pvh_segment_outside_ram)
{
	make_elf(true, 18, 0x100040);
	put(img + 0x80 + 24, RAM - 0x1000, 8); /* paddr: memsz runs past */
	struct pvh_info pi;
	cr_assert_eq(pvh_parse(img, img_len, RAM, &pi, err, sizeof(err)), -1);
	cr_assert(strstr(err, "outside guest RAM"), "%s", err);
	put(img + 0x80 + 24, 0x8000, 8); /* below 1 MiB: the boot data */
	cr_assert_eq(pvh_parse(img, img_len, RAM, &pi, err, sizeof(err)), -1);
}

Test(loader, pvh_filesz_above_memsz)
{
	make_elf(true, 18, 0x100040);
	put(img + 0x80 + 40, 0x1000, 8);
	struct pvh_info pi;
	cr_assert_eq(pvh_parse(img, img_len, RAM, &pi, err, sizeof(err)), -1);
}

Test(loader, pvh_garbage_note_sizes)
{
	make_elf(true, 18, 0x100040);
	put(img + 0x200, 0xfffffff0u, 4); /* namesz of the first note */
	struct pvh_info pi;
	cr_assert_eq(pvh_parse(img, img_len, RAM, &pi, err, sizeof(err)), -1);
	cr_assert(strstr(err, "no PVH entry"), "%s", err);
}

Test(loader, pvh_initrd_too_big_and_cmdline_too_long)
{
	make_elf(true, 18, 0x100040);
	size_t sz = RAM - 0x103000 + 1;
	uint8_t *rd = calloc(1, sz);
	struct boot_args a = args("");
	a.initrd = rd;
	a.initrd_size = sz;
	int rc = loader_load(&br, img, img_len, &a, &ent, err, sizeof(err));
	free(rd);
	cr_assert_eq(rc, -1);
	cr_assert(strstr(err, "do not fit"), "%s", err);
	char *longline = malloc(3000);
	memset(longline, 'x', 2999);
	longline[2999] = 0;
	a = args(longline);
	rc = loader_load(&br, img, img_len, &a, &ent, err, sizeof(err));
	free(longline);
	cr_assert_eq(rc, -1);
	cr_assert(strstr(err, "command line"), "%s", err);
}

Test(loader, not_a_kernel)
{
	struct boot_args a = args("");
	static const uint8_t junk[4096] = {'M', 'Z'};
	cr_assert_eq(
	    loader_load(&br, junk, sizeof(junk), &a, &ent, err, sizeof(err)),
	    -1);
	cr_assert(strstr(err, "not a Linux kernel"), "%s", err);
	cr_assert_eq(loader_load(&br, junk, 0, &a, &ent, err, sizeof(err)), -1);
}

/* Random corruption of valid images must give an error or a load, never
 * a crash or a write outside guest RAM (run under ASan/valgrind). */
Test(loader, fuzzed_images)
{
	srand(1234);
	for (int round = 0; round < 400; round++) {
		free(img);
		if (round % 2)
			make_elf(round % 4 == 1, 18, 0x100040);
		else
			make_bzimage();
		size_t lim = round % 2 ? 0x300 : 0x280;
		for (int k = 0; k < 8; k++)
			img[rand() % lim] = rand();
		size_t len = rand() % 3 ? img_len : (size_t)rand() % img_len;
		struct boot_args a = args("console=ttyS0");
		int rc = loader_load(&br, img, len, &a, &ent, err, sizeof(err));
		cr_assert(rc == 0 || rc == -1);
		if (rc)
			cr_assert_neq(err[0], 0);
	}
}

Test(loader, mptable_in_ebda_with_kernel_irqchip)
{
	make_elf(true, 18, 0x100040);
	struct boot_args a = args("");
	a.mptable = true;
	cr_assert_eq(loader_load(&br, img, img_len, &a, &ent, err, sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(memcmp(ram + BOOT_EBDA, "_MP_", 4), 0);
	cr_assert_eq(get(ram + 0x40e, 2), BOOT_EBDA >> 4);
	cr_assert_eq(get(ram + 0x413, 2), 639);
	cr_assert_eq(get(ram + BOOT_EBDA + 4, 4), BOOT_EBDA + 16);
}

Test(loader, no_mptable_with_user_irqchip)
{
	make_elf(true, 18, 0x100040);
	struct boot_args a = args("");
	cr_assert_eq(loader_load(&br, img, img_len, &a, &ent, err, sizeof(err)),
		     0, "%s", err);
	cr_assert_neq(memcmp(ram + BOOT_EBDA, "_MP_", 4), 0);
}

/* --- MP table -------------------------------------------------------- */

Test(mptable, structure_and_checksums)
{
	uint8_t buf[1024];
	memset(buf, 0xee, sizeof(buf));
	int n = mptable_build(buf, sizeof(buf), 0x9fc00, 2);
	cr_assert_eq(n, MPTABLE_SIZE);
	cr_assert_eq(memcmp(buf, "_MP_", 4), 0);
	cr_assert_eq(get(buf + 4, 4), 0x9fc10);
	cr_assert_eq(buf[8], 1);
	cr_assert_eq(buf[9], 4);
	cr_assert_eq(mptable_sum(buf, 16), 0);
	cr_assert_eq(buf[11], 0);
	cr_assert_eq(buf[12] & 0x80, 0); /* virtual-wire mode */
	const uint8_t *h = buf + 16;
	cr_assert_eq(memcmp(h, "PCMP", 4), 0);
	unsigned len = get(h + 4, 2);
	cr_assert_eq(len, MPTABLE_SIZE - 16);
	cr_assert_eq(h[6], 4);
	cr_assert_eq(mptable_sum(h, len), 0);
	cr_assert_eq(get(h + 34, 2), 20);
	cr_assert_eq(get(h + 36, 4), 0xfee00000u);
	cr_assert_eq(buf[MPTABLE_SIZE], 0xee); /* nothing written past it */
}

Test(mptable, entries)
{
	uint8_t buf[MPTABLE_SIZE];
	cr_assert_eq(mptable_build(buf, sizeof(buf), 0xf0000, 2), MPTABLE_SIZE);
	const uint8_t *p = buf + 16 + 44;
	cr_assert_eq(p[0], 0); /* processor */
	cr_assert_eq(p[3], 3); /* enabled, BSP */
	p += 20;
	cr_assert_eq(p[0], 1); /* bus */
	cr_assert_eq(memcmp(p + 2, "ISA   ", 6), 0);
	p += 8;
	cr_assert_eq(p[0], 2); /* I/O APIC */
	cr_assert_eq(p[1], MP_IOAPIC_ID);
	cr_assert_eq(p[3], 1);
	cr_assert_eq(get(p + 4, 4), 0xfec00000u);
	p += 8;
	bool seen[16] = {false};
	for (int i = 0; i < 15; i++, p += 8) {
		cr_assert_eq(p[0], 3);
		cr_assert_eq(p[1], 0); /* INT */
		cr_assert_eq(p[4], MP_ISA_BUS);
		cr_assert_eq(p[6], MP_IOAPIC_ID);
		int irq = p[5];
		cr_assert_lt(irq, 16);
		cr_assert_neq(irq, 2);
		cr_assert_eq(p[7], irq == 0 ? 2 : irq);
		seen[irq] = true;
	}
	for (int i = 0; i < 16; i++)
		cr_assert_eq(seen[i], i != 2);
	cr_assert(p[0] == 4 && p[1] == 3 && p[6] == 0 &&
		  p[7] == 0); /* ExtINT */
	p += 8;
	cr_assert(p[0] == 4 && p[1] == 1 && p[6] == 0xff &&
		  p[7] == 1); /* NMI */
}

Test(mptable, identity_irq0_and_bad_args)
{
	uint8_t buf[MPTABLE_SIZE];
	cr_assert_eq(mptable_build(buf, sizeof(buf), 0x9fc00, 0), MPTABLE_SIZE);
	cr_assert_eq(buf[16 + 44 + 20 + 8 + 8 + 7], 0);
	cr_assert_eq(mptable_build(buf, sizeof(buf) - 1, 0x9fc00, 0), -1);
	cr_assert_eq(mptable_build(buf, sizeof(buf), 0x9fc00, 24), -1);
}

/* ---- loader_read_bios: the -bios checks, made before KVM exists ---- */

static char bios_dir[] = "/tmp/bios-test.XXXXXX";

static const char *bios_file(const char *name, size_t size)
{
	static char path[64];
	snprintf(path, sizeof(path), "%s/%s", bios_dir, name);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	for (size_t i = 0; i < size; i++)
		fputc((int)(i * 7 & 0xff), f);
	fclose(f);
	return path;
}

static void bios_setup(void)
{
	strcpy(bios_dir, "/tmp/bios-test.XXXXXX");
	cr_assert_not_null(mkdtemp(bios_dir));
}

static void bios_teardown(void)
{
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", bios_dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(bios, .init = bios_setup, .fini = bios_teardown);

Test(bios, reads_whole_image_page_aligned)
{
	size_t size = 0;
	uint8_t *b = loader_read_bios(bios_file("ok.bin", 65536), &size, err,
				      sizeof(err));
	cr_assert_not_null(b, "%s", err);
	cr_assert_eq(size, 65536);
	cr_assert_eq((uintptr_t)b % 4096, 0, "a KVM slot needs page alignment");
	for (size_t i = 0; i < size; i += 4093)
		cr_assert_eq(b[i], (uint8_t)(i * 7));
	munmap(b, size);
}

Test(bios, missing_file)
{
	size_t size;
	char path[80];
	snprintf(path, sizeof(path), "%s/none.bin", bios_dir);
	cr_assert_null(loader_read_bios(path, &size, err, sizeof(err)));
	cr_assert(strstr(err, "cannot open BIOS") &&
		      strstr(err, "No such file"),
		  "%s", err);
}

Test(bios, directory)
{
	size_t size;
	cr_assert_null(loader_read_bios(bios_dir, &size, err, sizeof(err)));
	cr_assert(strstr(err, "is not a regular file"), "%s", err);
}

Test(bios, size_rules)
{
	static const size_t bad[] = {0, 1000, 4095, 4097, (16 << 20) + 4096};
	size_t size;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *p = bios_file("bad.bin", bad[i]);
		cr_assert_null(loader_read_bios(p, &size, err, sizeof(err)),
			       "size %zu accepted", bad[i]);
		cr_assert(strstr(err, "multiple of 4 KiB"), "%s", err);
	}
	uint8_t *b = loader_read_bios(bios_file("min.bin", 4096), &size, err,
				      sizeof(err));
	cr_assert_not_null(b, "%s", err);
	munmap(b, size);
}
