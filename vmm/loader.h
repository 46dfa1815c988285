/*
 * Direct kernel boot (-kernel/-initrd/-append) without firmware.
 *
 * Two entry paths, both documented by their owners:
 *  - bzImage: the Linux x86 boot protocol (Documentation/arch/x86/boot.rst),
 *    64-bit entry (protocol 2.12+, XLF_KERNEL_64) at load address + 0x200
 *    with RSI = the zero page, identity-mapped page tables and a flat GDT.
 *    The 16-bit real-mode entry is not offered: it needs a BIOS and is the
 *    slow path.
 *  - ELF vmlinux with a XEN_ELFNOTE_PHYS32_ENTRY note: the PVH boot ABI
 *    (Xen's docs/misc/pvh.pandoc,
 * xen/include/public/arch-x86/hvm/start_info.h), 32-bit flat protected mode,
 * paging off, EBX = struct hvm_start_info. The kernel is loaded as it is, no
 * decompression in the guest.
 *
 * The parsing and building functions work on a byte buffer and a
 * struct guest_mem and never touch KVM, so they are unit-tested directly;
 * vm_set_boot_entry() (vmm/kvm.c) turns the result into vCPU registers.
 */
#ifndef MINIVMM_LOADER_H
#define MINIVMM_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ioreq/guestmem.h"

/* Where the loader puts its boot data in low RAM (all below 640 KiB). */
#define BOOT_GDT	 0x0500ull /* flat GDT, 0x10 code, 0x18 data, 0x20 TSS */
#define BOOT_PVH_INFO	 0x6000ull  /* hvm_start_info, modlist, memmap */
#define BOOT_ZEROPAGE	 0x7000ull  /* struct boot_params */
#define BOOT_PML4	 0x9000ull  /* PML4, PDPT, 4 PDs: 0x9000-0xEFFF */
#define BOOT_CMDLINE	 0x20000ull /* kernel command line, up to 64 KiB */
#define BOOT_CMDLINE_MAX 0x10000ull
#define BOOT_EBDA	 0x9fc00ull /* last KiB below 640K: the MP table */

#define E820_RAM      1
#define E820_RESERVED 2
#define E820_MAX      8

struct e820_entry {
	uint64_t addr, size;
	uint32_t type;
};

/* Guest RAM layout: [0, ram_low) with the 0xA0000-0xBFFFF VGA hole, then
 * ram_high bytes from 4 GiB. */
struct boot_ram {
	struct guest_mem *gm;
	uint64_t ram_low, ram_high;
};

/* What the loader wants the vCPU to look like at the first instruction. */
enum boot_mode { BOOT_LONG64, BOOT_PROT32 };
struct boot_entry {
	enum boot_mode mode;
	uint64_t rip;
	uint64_t rsi; /* bzImage: the zero page */
	uint64_t rbx; /* PVH: the start_info */
	uint64_t cr3; /* long mode only */
	uint64_t gdt_base;
	uint16_t gdt_limit;
};

struct boot_args {
	const uint8_t *initrd; /* may be NULL */
	size_t initrd_size;
	const char *cmdline; /* may be NULL (empty) */
	bool mptable;	     /* describe a LAPIC + IOAPIC (kernel irqchip) */
};

/* The bzImage setup header fields the loader uses. */
struct bzimage_info {
	uint16_t version; /* boot protocol, e.g. 0x020f */
	uint8_t setup_sects;
	uint8_t loadflags;
	uint16_t xloadflags;
	bool relocatable;
	uint32_t kernel_alignment;
	uint32_t initrd_addr_max;
	uint32_t cmdline_size; /* bytes, not counting the NUL */
	uint64_t pref_address;
	uint32_t init_size;
	size_t kernel_offset; /* file offset of the protected-mode part */
	size_t kernel_size;
	uint64_t load_addr; /* where the loader will put it */
};

/* The ELF vmlinux as PVH sees it. */
#define PVH_MAX_SEGS 16
struct pvh_info {
	uint32_t entry; /* XEN_ELFNOTE_PHYS32_ENTRY */
	int nsegs;
	struct {
		uint64_t paddr, offset, filesz, memsz;
	} seg[PVH_MAX_SEGS];
	uint64_t lowest, end; /* physical extent of the loaded image */
};

/* The E820 map for this RAM: RAM below the EBDA, the EBDA and the BIOS
 * area reserved, RAM from 1 MiB to ram_low, RAM above 4 GiB. Returns the
 * number of entries (at most E820_MAX). */
int loader_e820(uint64_t ram_low, uint64_t ram_high, struct e820_entry *e);

/* 0, or -1 with one line in err. */
int bzimage_parse(const uint8_t *img, size_t len, uint64_t ram_low,
		  struct bzimage_info *bi, char *err, size_t errlen);
int bzimage_load(const struct boot_ram *r, const uint8_t *img, size_t len,
		 const struct boot_args *a, struct boot_entry *e, char *err,
		 size_t errlen);
int pvh_parse(const uint8_t *elf, size_t len, uint64_t ram_low,
	      struct pvh_info *pi, char *err, size_t errlen);
int pvh_load(const struct boot_ram *r, const uint8_t *elf, size_t len,
	     const struct boot_args *a, struct boot_entry *e, char *err,
	     size_t errlen);

/* Picks the path by the file's magic ("\177ELF" or "HdrS" at 0x202). */
int loader_load(const struct boot_ram *r, const uint8_t *img, size_t len,
		const struct boot_args *a, struct boot_entry *e, char *err,
		size_t errlen);

/* The -bios image: a regular file, a multiple of 4 KiB between 4 KiB and
 * 16 MiB, read into a page-aligned anonymous mapping (free it with
 * munmap(buf, *size)). NULL and one line in err on failure. */
uint8_t *loader_read_bios(const char *path, size_t *size, char *err,
			  size_t errlen);

/* Reads a whole file into a malloc'ed buffer; NULL and err on failure. */
uint8_t *loader_read_file(const char *path, const char *what, size_t *len,
			  char *err, size_t errlen);

#endif
