/*
 * Direct kernel boot: a bzImage through the 64-bit entry of the Linux x86
 * boot protocol (Documentation/arch/x86/boot.rst, zero-page.rst), or an
 * ELF vmlinux through its PVH entry (Xen's start_info.h ABI). No firmware
 * runs; the loader writes what firmware would have left behind: an E820
 * map, the command line, the initrd and, for the in-kernel irqchip, an MP
 * table. See loader.h for the memory layout.
 */
#include "ioreq/bytes.h"
#include "vmm/loader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/mptable.h"

#define MIB	       0x100000ull
#define FOUR_GIB       0x100000000ull
#define EBDA_END       0xa0000ull
#define BIOS_AREA      0xe0000ull
#define PAGE_MASK      0xfffull
#define INITRD_MAX_DEF 0x37ffffffull /* boot.rst: before protocol 2.03 */

/* Setup header offsets in the bzImage file and in the zero page. */
#define HDR_SETUP_SECTS	 0x1f1
#define HDR_SYSSIZE	 0x1f4
#define HDR_BOOT_FLAG	 0x1fe
#define HDR_JUMP	 0x200
#define HDR_MAGIC	 0x202
#define HDR_VERSION	 0x206
#define HDR_LOADER_TYPE	 0x210
#define HDR_LOADFLAGS	 0x211
#define HDR_CODE32_START 0x214
#define HDR_RAMDISK	 0x218
#define HDR_RAMDISK_SIZE 0x21c
#define HDR_CMDLINE_PTR	 0x228
#define HDR_INITRD_MAX	 0x22c
#define HDR_ALIGN	 0x230
#define HDR_RELOCATABLE	 0x234
#define HDR_XLOADFLAGS	 0x236
#define HDR_CMDLINE_SIZE 0x238
#define HDR_PREF_ADDRESS 0x258
#define HDR_INIT_SIZE	 0x260
#define HDR_END_MIN	 0x264 /* everything the 2.12 header needs */
#define ZP_ALT_MEM_K	 0x1e0
#define ZP_E820_ENTRIES	 0x1e8
#define ZP_E820_TABLE	 0x2d0
#define ZP_E820_MAX	 128
#define LOADED_HIGH	 0x01
#define XLF_KERNEL_64	 0x01

/* PVH: Xen's public/elfnote.h and arch-x86/hvm/start_info.h. */
#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define PVH_MAGIC		 0x336ec578u
#define PVH_MODLIST		 (BOOT_PVH_INFO + 0x40)
#define PVH_MEMMAP		 (BOOT_PVH_INFO + 0x80)
/* The PVH ABI has no command-line limit of its own; Linux/x86 keeps
 * COMMAND_LINE_SIZE (2048) bytes including the NUL. */
#define PVH_CMDLINE_MAX 2047

/* ELF (System V gABI) constants. */
#define PT_LOAD	  1
#define PT_NOTE	  4
#define EM_386	  3
#define EM_X86_64 62

static int fail(char *err, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);
	va_end(ap);
	return -1;
}

static uint8_t *ram_at(const struct boot_ram *r, uint64_t gpa, uint64_t len)
{
	return gm_ptr(r->gm, gpa, len, true);
}

/* --- E820 ------------------------------------------------------------ */

int loader_e820(uint64_t ram_low, uint64_t ram_high, struct e820_entry *e)
{
	int n = 0;
	e[n++] = (struct e820_entry){0, BOOT_EBDA, E820_RAM};
	e[n++] =
	    (struct e820_entry){BOOT_EBDA, EBDA_END - BOOT_EBDA, E820_RESERVED};
	/* Option ROMs and the BIOS live here on a PC; keep them out of the
	 * kernel's hands even when no firmware was loaded. */
	e[n++] = (struct e820_entry){BIOS_AREA, MIB - BIOS_AREA, E820_RESERVED};
	if (ram_low > MIB)
		e[n++] = (struct e820_entry){MIB, ram_low - MIB, E820_RAM};
	if (ram_high)
		e[n++] = (struct e820_entry){FOUR_GIB, ram_high, E820_RAM};
	return n;
}

/* --- pieces both paths share ----------------------------------------- */

/* The command line at BOOT_CMDLINE; max is the longest string allowed. */
static int put_cmdline(const struct boot_ram *r, const char *s, size_t max,
		       char *err, size_t n)
{
	size_t len = s ? strlen(s) : 0;
	if (max > BOOT_CMDLINE_MAX - 1)
		max = BOOT_CMDLINE_MAX - 1;
	if (len > max)
		return fail(err, n,
			    "-append: the command line is %zu bytes; this "
			    "kernel takes at most %zu",
			    len, max);
	uint8_t *p = ram_at(r, BOOT_CMDLINE, len + 1);
	if (!p)
		return fail(err, n, "no RAM for the command line");
	memcpy(p, s ? s : "", len + 1);
	return 0;
}

/* The initrd goes as high as allowed, page-aligned, above 'lowest'. */
static int put_initrd(const struct boot_ram *r, const struct boot_args *a,
		      uint64_t lowest, uint64_t limit, uint64_t *addr,
		      char *err, size_t n)
{
	*addr = 0;
	if (!a->initrd || !a->initrd_size)
		return 0;
	uint64_t top = limit < r->ram_low ? limit : r->ram_low;
	uint64_t size = a->initrd_size;
	if (size > top || ((top - size) & ~PAGE_MASK) < lowest)
		return fail(err, n,
			    "-initrd: %llu bytes do not fit in guest RAM "
			    "between 0x%llx and 0x%llx (give more -m)",
			    (unsigned long long)size,
			    (unsigned long long)lowest,
			    (unsigned long long)top);
	*addr = (top - size) & ~PAGE_MASK;
	uint8_t *p = ram_at(r, *addr, size);
	if (!p)
		return fail(err, n, "-initrd: no RAM at 0x%llx",
			    (unsigned long long)*addr);
	memcpy(p, a->initrd, size);
	return 0;
}

/* Flat GDT: 0x10 code (64-bit or 32-bit), 0x18 data, 0x20 a TSS (VMX
 * insists on a usable TR). The selectors are the boot protocol's
 * __BOOT_CS and __BOOT_DS. */
static void put_gdt(uint8_t *g, bool long_mode, struct boot_entry *e)
{
	static const uint64_t desc[6] = {
	    0,
	    0,
	    0x00cf9b000000ffffull, /* code: base 0, 4 GiB, exec/read */
	    0x00cf93000000ffffull, /* data: base 0, 4 GiB, read/write */
	    0x00008b0000000067ull, /* busy 32-bit TSS, base 0, 104 bytes */
	    0,
	};
	for (int i = 0; i < 6; i++)
		put_le(g + 8 * i, 8, desc[i]);
	if (long_mode) /* L=1, D=0 */
		put_le(g + 16, 8, 0x00af9b000000ffffull);
	e->gdt_base = BOOT_GDT;
	e->gdt_limit = sizeof(desc) - 1;
}

/* Identity map of the first 4 GiB with 2 MiB pages: PML4 -> one PDPT ->
 * four page directories. */
static void put_page_tables(uint8_t *pt)
{
	memset(pt, 0, 6 * 4096);
	put_le(pt, 8, (BOOT_PML4 + 0x1000) | 0x3);
	for (int i = 0; i < 4; i++)
		put_le(pt + 0x1000 + 8 * i, 8,
		       (BOOT_PML4 + 0x2000 + 0x1000 * i) | 0x3);
	for (uint64_t i = 0; i < 4 * 512; i++)
		put_le(pt + 0x2000 + 8 * i, 8,
		       (i << 21) | 0x83); /* P, RW, PS */
}

/* The MP table in the EBDA, whose segment goes in the BIOS data area as
 * firmware would leave it (Linux also scans the last KiB below 640K). */
static int put_mptable(const struct boot_ram *r, char *err, size_t n)
{
	uint8_t *p = ram_at(r, BOOT_EBDA, EBDA_END - BOOT_EBDA);
	uint8_t *bda = ram_at(r, 0x400, 0x100);
	if (!p || !bda)
		return fail(err, n, "no RAM for the MP table");
	/* KVM's default GSI routing sends ISA IRQ 0 (its PIT) to I/O APIC
	 * input 0, so that is what the table must say. */
	if (mptable_build(p, EBDA_END - BOOT_EBDA, BOOT_EBDA, 0) < 0)
		return fail(err, n, "MP table does not fit");
	put_le(bda + 0x0e, 2, BOOT_EBDA >> 4);	/* EBDA segment */
	put_le(bda + 0x13, 2, BOOT_EBDA >> 10); /* base memory in KiB */
	return 0;
}

/* --- bzImage --------------------------------------------------------- */

static int bzimage_check(const uint8_t *img, size_t len, char *err, size_t n)
{
	if (len < 2 * 512 || memcmp(img + HDR_MAGIC, "HdrS", 4))
		return fail(err, n, "not a bzImage: no 'HdrS' boot header");
	if (get_le(img + HDR_BOOT_FLAG, 2) != 0xaa55)
		return fail(err, n, "bzImage: bad boot flag 0x%04x",
			    get_le(img + HDR_BOOT_FLAG, 2));
	uint32_t v = get_le(img + HDR_VERSION, 2);
	if (v < 0x020c)
		return fail(err, n,
			    "bzImage: boot protocol %u.%02u is too old; the "
			    "64-bit entry needs 2.12",
			    v >> 8, v & 0xff);
	if (len < HDR_END_MIN)
		return fail(err, n, "bzImage: truncated header");
	if (!(get_le(img + HDR_XLOADFLAGS, 2) & XLF_KERNEL_64))
		return fail(err, n,
			    "bzImage: no 64-bit entry (XLF_KERNEL_64 clear)");
	if (!(img[HDR_LOADFLAGS] & LOADED_HIGH))
		return fail(err, n,
			    "zImage (low-loaded) kernels are not "
			    "supported");
	return 0;
}

int bzimage_parse(const uint8_t *img, size_t len, uint64_t ram_low,
		  struct bzimage_info *bi, char *err, size_t n)
{
	memset(bi, 0, sizeof(*bi));
	if (bzimage_check(img, len, err, n))
		return -1;
	bi->version = get_le(img + HDR_VERSION, 2);
	bi->setup_sects = img[HDR_SETUP_SECTS] ? img[HDR_SETUP_SECTS] : 4;
	bi->loadflags = img[HDR_LOADFLAGS];
	bi->xloadflags = get_le(img + HDR_XLOADFLAGS, 2);
	bi->relocatable = img[HDR_RELOCATABLE] != 0;
	bi->kernel_alignment = get_le(img + HDR_ALIGN, 4);
	bi->initrd_addr_max = get_le(img + HDR_INITRD_MAX, 4);
	bi->cmdline_size = get_le(img + HDR_CMDLINE_SIZE, 4);
	bi->pref_address = get_le(img + HDR_PREF_ADDRESS, 8);
	bi->init_size = get_le(img + HDR_INIT_SIZE, 4);
	bi->kernel_offset = (size_t)(bi->setup_sects + 1) * 512;
	uint64_t syssize = (uint64_t)get_le(img + HDR_SYSSIZE, 4) * 16;
	if (bi->kernel_offset >= len || len - bi->kernel_offset < syssize)
		return fail(err, n,
			    "bzImage: truncated: %zu bytes, the header "
			    "promises %llu",
			    len,
			    (unsigned long long)(bi->kernel_offset + syssize));
	bi->kernel_size = len - bi->kernel_offset;
	bi->load_addr =
	    bi->relocatable && bi->pref_address ? bi->pref_address : MIB;
	uint64_t need =
	    bi->init_size > bi->kernel_size ? bi->init_size : bi->kernel_size;
	if (bi->load_addr < MIB || bi->load_addr > ram_low ||
	    need > ram_low - bi->load_addr)
		return fail(err, n,
			    "bzImage: the kernel needs %llu MiB from 0x%llx; "
			    "guest RAM below 4 GiB ends at 0x%llx",
			    (unsigned long long)((need + MIB - 1) / MIB),
			    (unsigned long long)bi->load_addr,
			    (unsigned long long)ram_low);
	return 0;
}

/* The zero page: the file's setup header, then what the loader fills. */
static void bzimage_zeropage(uint8_t *zp, const uint8_t *img, size_t len,
			     const struct bzimage_info *bi,
			     const struct boot_ram *r, uint64_t initrd,
			     size_t initrd_size)
{
	memset(zp, 0, 4096);
	size_t end = HDR_MAGIC + img[HDR_JUMP + 1]; /* the jump's target */
	if (end < HDR_END_MIN)
		end = HDR_END_MIN;
	if (end > len)
		end = len;
	if (end > ZP_E820_TABLE)
		end = ZP_E820_TABLE;
	memcpy(zp + HDR_SETUP_SECTS, img + HDR_SETUP_SECTS,
	       end - HDR_SETUP_SECTS);
	zp[HDR_LOADER_TYPE] = 0xff; /* no registered loader id */
	put_le(zp + HDR_CODE32_START, 4, bi->load_addr);
	put_le(zp + HDR_CMDLINE_PTR, 4, BOOT_CMDLINE);
	put_le(zp + HDR_RAMDISK, 4, initrd);
	put_le(zp + HDR_RAMDISK_SIZE, 4, initrd_size);
	put_le(zp + ZP_ALT_MEM_K, 4, (r->ram_low - MIB) >> 10);
	struct e820_entry e[E820_MAX];
	int ne = loader_e820(r->ram_low, r->ram_high, e);
	for (int i = 0; i < ne; i++) {
		uint8_t *p = zp + ZP_E820_TABLE + 20 * i;
		put_le(p, 8, e[i].addr);
		put_le(p + 8, 8, e[i].size);
		put_le(p + 16, 4, e[i].type);
	}
	zp[ZP_E820_ENTRIES] = ne;
}

int bzimage_load(const struct boot_ram *r, const uint8_t *img, size_t len,
		 const struct boot_args *a, struct boot_entry *e, char *err,
		 size_t n)
{
	struct bzimage_info bi;
	if (bzimage_parse(img, len, r->ram_low, &bi, err, n))
		return -1;
	if (put_cmdline(r, a->cmdline, bi.cmdline_size, err, n))
		return -1;
	uint64_t kend =
	    bi.load_addr +
	    (bi.init_size > bi.kernel_size ? bi.init_size : bi.kernel_size);
	uint64_t limit = (uint64_t)bi.initrd_addr_max + 1;
	uint64_t initrd;
	if (put_initrd(r, a, (kend + PAGE_MASK) & ~PAGE_MASK, limit, &initrd,
		       err, n))
		return -1;
	uint8_t *k = ram_at(r, bi.load_addr, bi.kernel_size);
	uint8_t *zp = ram_at(r, BOOT_ZEROPAGE, 4096);
	uint8_t *gdt = ram_at(r, BOOT_GDT, 48);
	uint8_t *pt = ram_at(r, BOOT_PML4, 6 * 4096);
	if (!k || !zp || !gdt || !pt)
		return fail(err, n, "bzImage: no RAM for the kernel");
	memcpy(k, img + bi.kernel_offset, bi.kernel_size);
	bzimage_zeropage(zp, img, len, &bi, r, initrd,
			 initrd ? a->initrd_size : 0);
	put_page_tables(pt);
	memset(e, 0, sizeof(*e));
	put_gdt(gdt, true, e);
	e->mode = BOOT_LONG64;
	e->rip = bi.load_addr + 0x200; /* startup_64 */
	e->rsi = BOOT_ZEROPAGE;
	e->cr3 = BOOT_PML4;
	return 0;
}

/* --- ELF vmlinux through PVH ----------------------------------------- */

struct elf_hdr {
	bool is64;
	uint64_t phoff;
	unsigned phentsize, phnum;
};

static int elf_header(const uint8_t *f, size_t len, struct elf_hdr *h,
		      char *err, size_t n)
{
	if (len < 52 || memcmp(f, "\177ELF", 4))
		return fail(err, n, "not an ELF file");
	if (f[4] != 1 && f[4] != 2)
		return fail(err, n, "ELF: bad class %u", f[4]);
	h->is64 = f[4] == 2;
	if (f[5] != 1)
		return fail(err, n, "ELF: not little-endian");
	if (h->is64 && len < 64)
		return fail(err, n, "ELF: truncated header");
	unsigned mach = get_le(f + 18, 2);
	if (mach != EM_386 && mach != EM_X86_64)
		return fail(err, n, "ELF: machine %u is not x86", mach);
	h->phoff = h->is64 ? get_le(f + 32, 8) : get_le(f + 28, 4);
	h->phentsize = get_le(f + (h->is64 ? 54 : 42), 2);
	h->phnum = get_le(f + (h->is64 ? 56 : 44), 2);
	if (h->phentsize < (h->is64 ? 56u : 32u) || h->phnum == 0 ||
	    h->phoff > len ||
	    (uint64_t)h->phentsize * h->phnum > len - h->phoff)
		return fail(err, n, "ELF: bad or truncated program headers");
	return 0;
}

/* One program header, in ELF64 terms whatever the class. */
struct elf_phdr {
	uint32_t type;
	uint64_t offset, paddr, filesz, memsz;
};

static void elf_phdr(const uint8_t *p, bool is64, struct elf_phdr *ph)
{
	ph->type = get_le(p, 4);
	if (is64) {
		ph->offset = get_le(p + 8, 8);
		ph->paddr = get_le(p + 24, 8);
		ph->filesz = get_le(p + 32, 8);
		ph->memsz = get_le(p + 40, 8);
	} else {
		ph->offset = get_le(p + 4, 4);
		ph->paddr = get_le(p + 12, 4);
		ph->filesz = get_le(p + 16, 4);
		ph->memsz = get_le(p + 20, 4);
	}
}

/* Walks one PT_NOTE segment for Xen's PHYS32_ENTRY; notes are 4-aligned. */
static bool find_pvh_note(const uint8_t *p, uint64_t size, uint32_t *entry)
{
	uint64_t off = 0;
	while (size - off >= 12) {
		uint32_t namesz = get_le(p + off, 4),
			 descsz = get_le(p + off + 4, 4);
		uint32_t type = get_le(p + off + 8, 4);
		uint64_t name = off + 12;
		uint64_t desc = name + (((uint64_t)namesz + 3) & ~3ull);
		uint64_t next = desc + (((uint64_t)descsz + 3) & ~3ull);
		if (next > size)
			return false;
		if (namesz == 4 && !memcmp(p + name, "Xen", 4) &&
		    type == XEN_ELFNOTE_PHYS32_ENTRY && descsz >= 4) {
			*entry = get_le(p + desc, 4);
			return true;
		}
		off = next;
	}
	return false;
}

static int pvh_segment(const struct elf_phdr *ph, size_t len, uint64_t ram_low,
		       struct pvh_info *pi, char *err, size_t n)
{
	if (ph->offset > len || ph->filesz > len - ph->offset)
		return fail(err, n,
			    "ELF: truncated: a segment ends past the "
			    "end of the file");
	if (ph->filesz > ph->memsz)
		return fail(err, n, "ELF: segment file size exceeds its size");
	if (ph->memsz == 0)
		return 0;
	if (ph->paddr < MIB || ph->paddr > ram_low ||
	    ph->memsz > ram_low - ph->paddr)
		return fail(err, n,
			    "ELF: segment at 0x%llx+0x%llx is outside guest "
			    "RAM 1 MiB-0x%llx (give more -m)",
			    (unsigned long long)ph->paddr,
			    (unsigned long long)ph->memsz,
			    (unsigned long long)ram_low);
	if (pi->nsegs == PVH_MAX_SEGS)
		return fail(err, n, "ELF: too many loadable segments");
	pi->seg[pi->nsegs].paddr = ph->paddr;
	pi->seg[pi->nsegs].offset = ph->offset;
	pi->seg[pi->nsegs].filesz = ph->filesz;
	pi->seg[pi->nsegs].memsz = ph->memsz;
	pi->nsegs++;
	if (pi->nsegs == 1 || ph->paddr < pi->lowest)
		pi->lowest = ph->paddr;
	if (ph->paddr + ph->memsz > pi->end)
		pi->end = ph->paddr + ph->memsz;
	return 0;
}

int pvh_parse(const uint8_t *f, size_t len, uint64_t ram_low,
	      struct pvh_info *pi, char *err, size_t n)
{
	struct elf_hdr h = {0};
	memset(pi, 0, sizeof(*pi));
	if (elf_header(f, len, &h, err, n))
		return -1;
	bool have_entry = false;
	for (unsigned i = 0; i < h.phnum; i++) {
		struct elf_phdr ph;
		elf_phdr(f + h.phoff + (uint64_t)i * h.phentsize, h.is64, &ph);
		if (ph.type == PT_LOAD &&
		    pvh_segment(&ph, len, ram_low, pi, err, n))
			return -1;
		if (ph.type == PT_NOTE && !have_entry && ph.offset <= len &&
		    ph.filesz <= len - ph.offset)
			have_entry =
			    find_pvh_note(f + ph.offset, ph.filesz, &pi->entry);
	}
	if (!pi->nsegs)
		return fail(err, n, "ELF: nothing to load");
	if (!have_entry)
		return fail(err, n,
			    "ELF: no PVH entry (XEN_ELFNOTE_PHYS32_ENTRY "
			    "note; Linux needs CONFIG_PVH=y)");
	if (pi->entry < pi->lowest || pi->entry >= pi->end)
		return fail(err, n,
			    "ELF: PVH entry 0x%x is outside the loaded image",
			    pi->entry);
	return 0;
}

/* struct hvm_start_info (version 1), its module list and memory map. */
static void pvh_start_info(uint8_t *si, const struct boot_ram *r,
			   uint64_t initrd, size_t initrd_size)
{
	memset(si, 0, 0x1000);
	put_le(si, 4, PVH_MAGIC);
	put_le(si + 4, 4, 1); /* version 1: has the memory map */
	if (initrd) {
		uint8_t *m = si + (PVH_MODLIST - BOOT_PVH_INFO);
		put_le(si + 12, 4, 1); /* nr_modules */
		put_le(si + 16, 8, PVH_MODLIST);
		put_le(m, 8, initrd);
		put_le(m + 8, 8, initrd_size);
	}
	put_le(si + 24, 8, BOOT_CMDLINE);
	put_le(si + 32, 8, 0); /* no ACPI RSDP */
	struct e820_entry e[E820_MAX];
	int ne = loader_e820(r->ram_low, r->ram_high, e);
	uint8_t *mm = si + (PVH_MEMMAP - BOOT_PVH_INFO);
	for (int i = 0; i < ne; i++) {
		put_le(mm + 24 * i, 8, e[i].addr);
		put_le(mm + 24 * i + 8, 8, e[i].size);
		put_le(mm + 24 * i + 16, 4, e[i].type);
	}
	put_le(si + 40, 8, PVH_MEMMAP);
	put_le(si + 48, 4, ne);
}

int pvh_load(const struct boot_ram *r, const uint8_t *f, size_t len,
	     const struct boot_args *a, struct boot_entry *e, char *err,
	     size_t n)
{
	struct pvh_info pi;
	if (pvh_parse(f, len, r->ram_low, &pi, err, n) ||
	    put_cmdline(r, a->cmdline, PVH_CMDLINE_MAX, err, n))
		return -1;
	uint64_t initrd;
	if (put_initrd(r, a, (pi.end + PAGE_MASK) & ~PAGE_MASK, FOUR_GIB,
		       &initrd, err, n))
		return -1;
	for (int i = 0; i < pi.nsegs; i++) {
		uint8_t *p = ram_at(r, pi.seg[i].paddr, pi.seg[i].memsz);
		if (!p)
			return fail(err, n, "ELF: no RAM at 0x%llx",
				    (unsigned long long)pi.seg[i].paddr);
		memcpy(p, f + pi.seg[i].offset, pi.seg[i].filesz);
		memset(p + pi.seg[i].filesz, 0,
		       pi.seg[i].memsz - pi.seg[i].filesz);
	}
	uint8_t *si = ram_at(r, BOOT_PVH_INFO, 0x1000);
	uint8_t *gdt = ram_at(r, BOOT_GDT, 48);
	if (!si || !gdt)
		return fail(err, n, "no RAM for the PVH start info");
	pvh_start_info(si, r, initrd, initrd ? a->initrd_size : 0);
	memset(e, 0, sizeof(*e));
	put_gdt(gdt, false, e);
	e->mode = BOOT_PROT32;
	e->rip = pi.entry;
	e->rbx = BOOT_PVH_INFO;
	return 0;
}

/* --- the entry points ------------------------------------------------ */

int loader_load(const struct boot_ram *r, const uint8_t *img, size_t len,
		const struct boot_args *a, struct boot_entry *e, char *err,
		size_t n)
{
	int rc;
	if (len >= 4 && !memcmp(img, "\177ELF", 4))
		rc = pvh_load(r, img, len, a, e, err, n);
	else if (len >= HDR_MAGIC + 4 && !memcmp(img + HDR_MAGIC, "HdrS", 4))
		rc = bzimage_load(r, img, len, a, e, err, n);
	else
		return fail(err, n,
			    "not a Linux kernel: neither an ELF "
			    "vmlinux nor a bzImage");
	if (rc == 0 && a->mptable)
		rc = put_mptable(r, err, n);
	return rc;
}

uint8_t *loader_read_file(const char *path, const char *what, size_t *len,
			  char *err, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0) {
		fail(err, n, "%s: cannot open '%s': %s", what, path,
		     strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > (1ull << 32)) {
		close(fd);
		fail(err, n, "%s: '%s' is not a regular file under 4 GiB", what,
		     path);
		return NULL;
	}
	uint8_t *buf = malloc(st.st_size ? st.st_size : 1);
	size_t got = 0;
	while (buf && got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, st.st_size - got);
		if (r <= 0) {
			fail(err, n, "%s: cannot read '%s': %s", what, path,
			     r < 0 ? strerror(errno) : "short file");
			free(buf);
			close(fd);
			return NULL;
		}
		got += r;
	}
	close(fd);
	if (!buf)
		fail(err, n, "%s: out of memory for '%s'", what, path);
	*len = got;
	return buf;
}

/* --- firmware -------------------------------------------------------- */

static uint8_t *bios_fail(int fd, char *err, size_t n, const char *fmt,
			  const char *path, const char *why)
{
	if (fd >= 0)
		close(fd);
	fail(err, n, fmt, path, why);
	return NULL;
}

uint8_t *loader_read_bios(const char *path, size_t *size, char *err, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0)
		return bios_fail(fd, err, n, "cannot open BIOS '%s': %s", path,
				 strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return bios_fail(fd, err, n,
				 "BIOS '%s' is not a regular file%s", path, "");
	if (st.st_size < 4096 || st.st_size > (16 << 20) || st.st_size % 4096) {
		close(fd);
		fail(err, n,
		     "BIOS '%s': size %lld is not a multiple of 4 KiB between "
		     "4 KiB and 16 MiB",
		     path, (long long)st.st_size);
		return NULL;
	}
	/* An anonymous mapping: page-aligned, as a KVM memory slot needs. */
	uint8_t *buf = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		return bios_fail(fd, err, n, "cannot map BIOS '%s': %s", path,
				 strerror(errno));
	for (size_t got = 0; got < (size_t)st.st_size;) {
		ssize_t r = read(fd, buf + got, st.st_size - got);
		if (r <= 0) {
			munmap(buf, st.st_size);
			return bios_fail(
			    fd, err, n, "cannot read BIOS '%s': %s", path,
			    r < 0 ? strerror(errno) : "short file");
		}
		got += r;
	}
	close(fd);
	*size = st.st_size;
	return buf;
}
