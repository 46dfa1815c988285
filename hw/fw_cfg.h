/*
 * QEMU firmware configuration device ("fw_cfg") on the PC I/O ports, as
 * described in QEMU's docs/specs/fw_cfg.rst and read by SeaBIOS
 * (src/fw/paravirt.c): selector 0x510, data 0x511, DMA address 0x514.
 * The VMM fills it with items before the guest runs; the guest only reads.
 */
#ifndef MINIVMM_HW_FW_CFG_H
#define MINIVMM_HW_FW_CFG_H

#include <stdint.h>

#include "hw/hw.h"

#define FW_CFG_PORT	0x510 /* selector (16-bit) and data (0x511) */
#define FW_CFG_DMA_PORT 0x514 /* DMA address, 64-bit big-endian */

/* Legacy selector keys (QEMU include/standard-headers/linux/qemu_fw_cfg.h). */
#define FW_CFG_SIGNATURE     0x0000
#define FW_CFG_ID	     0x0001
#define FW_CFG_UUID	     0x0002
#define FW_CFG_RAM_SIZE	     0x0003
#define FW_CFG_NOGRAPHIC     0x0004
#define FW_CFG_NB_CPUS	     0x0005
#define FW_CFG_NUMA	     0x000d
#define FW_CFG_BOOT_MENU     0x000e
#define FW_CFG_MAX_CPUS	     0x000f
#define FW_CFG_FILE_DIR	     0x0019
#define FW_CFG_FILE_FIRST    0x0020
#define FW_CFG_WRITE_CHANNEL 0x4000
#define FW_CFG_ARCH_LOCAL    0x8000

/* FW_CFG_ID feature bits. */
#define FW_CFG_VERSION	   0x01
#define FW_CFG_VERSION_DMA 0x02

/* FWCfgDmaAccess.control bits. */
#define FW_CFG_DMA_CTL_ERROR  0x01
#define FW_CFG_DMA_CTL_READ   0x02
#define FW_CFG_DMA_CTL_SKIP   0x04
#define FW_CFG_DMA_CTL_SELECT 0x08
#define FW_CFG_DMA_CTL_WRITE  0x10

/* File names are NUL-terminated inside a 56-byte directory field. */
#define FW_CFG_NAME_LEN	 56
#define FW_CFG_MAX_FILES 1024

/*
 * The 16 KiB below 0xFF000000 that vmm/kvm.c gives KVM for the real-mode
 * TSS and identity map; QEMU reserves the same range in etc/e820.
 */
#define FW_CFG_PC_KVM_RESERVED	    0xfeffc000ull
#define FW_CFG_PC_KVM_RESERVED_SIZE 0x4000ull

struct fw_cfg;

/* gm: where DMA transfers read their descriptor and write the data. */
struct fw_cfg *fw_cfg_new(struct guest_mem *gm);
void fw_cfg_free(struct fw_cfg *f);
/* Registers ports 0x510-0x511 and 0x514-0x51B; 0 or -1. */
int fw_cfg_attach(struct fw_cfg *f, struct bus *io);
/* Selects the signature item again, as at power-on. */
void fw_cfg_reset(struct fw_cfg *f);

/*
 * Items. The data is copied. Adding an existing key or file name replaces
 * its contents. Legacy keys must lie outside the file range 0x20-0x3FFF and
 * may not be the signature, ID or directory; integers are stored
 * little-endian, as QEMU does. Files get keys from 0x20 in name order, so
 * add them before the guest runs. All return 0, or -1 on a bad key or name,
 * NULL data with a length, too many files, or no memory.
 */
int fw_cfg_add_bytes(struct fw_cfg *f, uint16_t key, const void *data,
		     uint32_t len);
int fw_cfg_add_u16(struct fw_cfg *f, uint16_t key, uint16_t value);
int fw_cfg_add_u32(struct fw_cfg *f, uint16_t key, uint32_t value);
int fw_cfg_add_u64(struct fw_cfg *f, uint16_t key, uint64_t value);
int fw_cfg_add_file(struct fw_cfg *f, const char *name, const void *data,
		    uint32_t len);
/* The key a file got, or 0 if there is no such file. */
uint16_t fw_cfg_file_key(const struct fw_cfg *f, const char *name);

/*
 * What SeaBIOS reads on a PC: CPU counts, RAM size, "etc/e820" (RAM from 0
 * to ram_below_4g and from 4 GiB, the KVM range reserved), the boot menu
 * switch (boot_menu_wait_ms <= 0: no menu and no "Press ESC" wait; > 0:
 * the menu with "etc/boot-menu-wait"), and "bootorder" when not NULL
 * (OpenFirmware device paths, one a line). No ACPI table files: SeaBIOS
 * then builds its own tables. 0 or -1.
 */
int fw_cfg_pc_defaults(struct fw_cfg *f, uint64_t ram_below_4g,
		       uint64_t ram_above_4g, unsigned ncpus,
		       const char *bootorder, int boot_menu_wait_ms);

#endif
