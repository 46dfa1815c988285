/*
 * QEMU firmware configuration device ("fw_cfg"), the PC I/O port variant.
 * Facts from QEMU docs/specs/fw_cfg.rst and the behaviour SeaBIOS 1.16
 * (src/fw/paravirt.c) relies on:
 *
 *   0x510  16-bit write: select an item, data offset back to 0.
 *          Bit 14 (write channel) is ignored, bit 15 picks the arch items.
 *   0x511  8-bit read: next byte of the item; past its end, or for an
 *          unknown key, 0x00. Byte writes are ignored (as since QEMU 2.4).
 *          A byte read at 0x510 reads data too, as on QEMU's combined port.
 *   0x514  DMA address, big-endian, 8 bytes. Writing the high half (0x514)
 *          then the low half (0x518) starts a transfer; a 32-bit address
 *          needs only the low half. Reads return "QEMU CFG".
 *
 * A DMA transfer reads a big-endian FWCfgDmaAccess {control, length,
 * address} from guest RAM, optionally selects (control bits 31-16), then
 * reads, skips or (refused here) writes, and stores the resulting control
 * word back: 0 on success, the error bit otherwise. The transfer finishes
 * before the port write returns. Nothing is ever written by the guest.
 *
 * Files (keys from 0x20) are kept sorted by name, and their keys follow
 * that order, as QEMU does for current machine types.
 */
#include "ioreq/bytes.h"
#include "hw/fw_cfg.h"

#include <stdlib.h>
#include <string.h>

#define KEY_MASK (~FW_CFG_WRITE_CHANNEL & 0xffff)

struct fw_cfg_item {
	uint8_t *data;
	uint32_t len;
	uint16_t key;
	char name[FW_CFG_NAME_LEN]; /* files only */
};

struct fw_cfg {
	struct guest_mem *gm;
	struct fw_cfg_item *legacy; /* sorted by key */
	size_t nlegacy;
	struct fw_cfg_item *files; /* sorted by name; key FIRST + index */
	size_t nfiles;
	struct fw_cfg_item dir; /* FW_CFG_FILE_DIR, rebuilt per file */
	uint16_t key;		/* selected key */
	uint32_t offset;	/* never beyond the item's length */
	uint64_t dma_addr;
};

/* --- byte order ------------------------------------------------------ */

/* --- items ----------------------------------------------------------- */

static const struct fw_cfg_item *find_legacy(const struct fw_cfg *f,
					     uint16_t key)
{
	size_t lo = 0, hi = f->nlegacy;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (f->legacy[mid].key == key)
			return &f->legacy[mid];
		if (f->legacy[mid].key < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The item a selector value names, or NULL for an unknown key. */
static const struct fw_cfg_item *find(const struct fw_cfg *f, uint16_t key)
{
	key &= KEY_MASK;
	if (key == FW_CFG_FILE_DIR)
		return &f->dir;
	if (key >= FW_CFG_FILE_FIRST && key < FW_CFG_WRITE_CHANNEL) {
		size_t i = key - FW_CFG_FILE_FIRST;
		return i < f->nfiles ? &f->files[i] : NULL;
	}
	return find_legacy(f, key);
}

/* Replaces the item's contents with a copy of data. */
static int set_data(struct fw_cfg_item *it, const void *data, uint32_t len)
{
	if (len && !data)
		return -1;
	uint8_t *copy = malloc(len ? len : 1);
	if (!copy)
		return -1;
	if (len)
		memcpy(copy, data, len);
	free(it->data);
	it->data = copy;
	it->len = len;
	return 0;
}

static int grow(void **arr, size_t n, size_t elem)
{
	void *p = realloc(*arr, (n + 1) * elem);
	if (!p)
		return -1;
	*arr = p;
	return 0;
}

/* Adds or replaces a legacy item, without checking the key. */
static int put_legacy(struct fw_cfg *f, uint16_t key, const void *data,
		      uint32_t len)
{
	struct fw_cfg_item *it = (struct fw_cfg_item *)find_legacy(f, key);
	if (it)
		return set_data(it, data, len);
	if (grow((void **)&f->legacy, f->nlegacy, sizeof(*it)))
		return -1;
	size_t i = 0;
	while (i < f->nlegacy && f->legacy[i].key < key)
		i++;
	struct fw_cfg_item fresh = {.key = key};
	if (set_data(&fresh, data, len))
		return -1;
	memmove(&f->legacy[i + 1], &f->legacy[i],
		(f->nlegacy - i) * sizeof(*it));
	f->legacy[i] = fresh;
	f->nlegacy++;
	return 0;
}

/* The directory: BE32 count, then {BE32 size, BE16 key, 0, name[56]}. */
static int rebuild_dir(struct fw_cfg *f)
{
	uint32_t len = 4 + 64 * f->nfiles;
	uint8_t *d = calloc(1, len);
	if (!d)
		return -1;
	put_be(d, 4, f->nfiles);
	for (size_t i = 0; i < f->nfiles; i++) {
		uint8_t *e = d + 4 + 64 * i;
		f->files[i].key = FW_CFG_FILE_FIRST + i;
		put_be(e, 4, f->files[i].len);
		put_be(e + 4, 2, f->files[i].key);
		memcpy(e + 8, f->files[i].name, FW_CFG_NAME_LEN);
	}
	free(f->dir.data);
	f->dir.data = d;
	f->dir.len = len;
	return 0;
}

/* --- guest interface ------------------------------------------------- */

static void select_key(struct fw_cfg *f, uint16_t key)
{
	f->key = key;
	f->offset = 0;
}

/* Bytes left in the selected item (an item replaced by the VMM may have
 * shrunk under the offset). */
static uint32_t remaining(const struct fw_cfg *f, const struct fw_cfg_item *it)
{
	return it && f->offset < it->len ? it->len - f->offset : 0;
}

/* Up to n bytes of the selected item into buf, zeros past its end. */
static void read_data(struct fw_cfg *f, uint8_t *buf, uint32_t n)
{
	const struct fw_cfg_item *it = find(f, f->key);
	uint32_t have = remaining(f, it);
	if (have > n)
		have = n;
	if (have)
		memcpy(buf, it->data + f->offset, have);
	memset(buf + have, 0, n - have);
	f->offset += have;
}

static uint64_t comb_read(void *dev, uint64_t off, unsigned size)
{
	(void)off;
	if (size != 1)
		return ~0ull; /* not a valid access: like an empty bus */
	uint8_t b;
	read_data(dev, &b, 1);
	return b;
}

static uint32_t comb_read_str(void *dev, uint64_t off, unsigned size, void *buf,
			      uint32_t count)
{
	(void)off;
	if (size != 1)
		return 0;
	read_data(dev, buf, count);
	return count;
}

static void comb_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	/* 16-bit selects; 8-bit data writes are ignored. */
	if (size == 2 && off == 0)
		select_key(dev, val);
}

static void dma_status(struct fw_cfg *f, uint64_t at, uint32_t control)
{
	uint8_t be[4];
	put_be(be, 4, control);
	gm_write(f->gm, at, be, sizeof(be)); /* nowhere to report a failure */
}

/* Guest read: the item's bytes, then zeros past its end. */
static uint32_t dma_read(struct fw_cfg *f, uint64_t addr, uint32_t len)
{
	const struct fw_cfg_item *it = find(f, f->key);
	uint32_t have = remaining(f, it);
	if (have > len)
		have = len;
	if (have) {
		int bad = gm_write(f->gm, addr, it->data + f->offset, have);
		f->offset += have;
		if (bad)
			return FW_CFG_DMA_CTL_ERROR;
	}
	if (len > have) {
		uint8_t *p = gm_ptr(f->gm, addr + have, len - have, true);
		if (!p)
			return FW_CFG_DMA_CTL_ERROR;
		memset(p, 0, len - have);
	}
	return 0;
}

static void dma_skip(struct fw_cfg *f, uint32_t len)
{
	const struct fw_cfg_item *it = find(f, f->key);
	uint32_t have = remaining(f, it);
	f->offset += len < have ? len : have;
}

static void dma_run(struct fw_cfg *f)
{
	uint64_t at = f->dma_addr;
	uint8_t d[16];

	f->dma_addr = 0; /* the register reads 0 after an operation */
	if (gm_read(f->gm, at, d, sizeof(d))) {
		dma_status(f, at, FW_CFG_DMA_CTL_ERROR);
		return;
	}
	uint32_t control = get_be(d, 4), len = get_be(d + 4, 4);
	uint64_t addr = get_be(d + 8, 8);
	uint32_t status = 0;

	if (control & FW_CFG_DMA_CTL_SELECT)
		select_key(f, control >> 16);
	if (control & FW_CFG_DMA_CTL_READ)
		status = dma_read(f, addr, len);
	else if (control & FW_CFG_DMA_CTL_WRITE)
		status = len ? FW_CFG_DMA_CTL_ERROR : 0; /* all read-only */
	else if (control & FW_CFG_DMA_CTL_SKIP)
		dma_skip(f, len);
	dma_status(f, at, status);
}

static uint64_t dma_reg_read(void *dev, uint64_t off, unsigned size)
{
	static const char sig[8] = "QEMU CFG";
	uint8_t b[8] = {0};
	(void)dev;
	if (off >= 8 || size > 8 - off)
		return ~0ull;
	memcpy(b, sig + off, size);
	uint64_t v = 0;
	for (unsigned i = size; i-- > 0;)
		v = v << 8 | b[i];
	return v;
}

static void dma_reg_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct fw_cfg *f = dev;
	uint8_t b[8];

	/* The bus hands the bytes as a little-endian value. */
	put_le(b, size, val);
	if (size == 4 && off == 0) {
		f->dma_addr = get_be(b, 4) << 32;
	} else if (size == 4 && off == 4) {
		f->dma_addr |= get_be(b, 4);
		dma_run(f);
	} else if (size == 8 && off == 0) {
		f->dma_addr = get_be(b, 8);
		dma_run(f);
	}
}

static const struct io_ops comb_ops = {
    .read = comb_read, .write = comb_write, .read_str = comb_read_str};
static const struct io_ops dma_ops = {.read = dma_reg_read,
				      .write = dma_reg_write};

/* --- VMM interface --------------------------------------------------- */

struct fw_cfg *fw_cfg_new(struct guest_mem *gm)
{
	struct fw_cfg *f = calloc(1, sizeof(*f));
	uint8_t id[4];

	if (!f)
		return NULL;
	f->gm = gm;
	f->dir.key = FW_CFG_FILE_DIR;
	put_le(id, 4, FW_CFG_VERSION | FW_CFG_VERSION_DMA);
	if (put_legacy(f, FW_CFG_SIGNATURE, "QEMU", 4) ||
	    put_legacy(f, FW_CFG_ID, id, 4) || rebuild_dir(f)) {
		fw_cfg_free(f);
		return NULL;
	}
	return f;
}

void fw_cfg_free(struct fw_cfg *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->nlegacy; i++)
		free(f->legacy[i].data);
	for (size_t i = 0; i < f->nfiles; i++)
		free(f->files[i].data);
	free(f->legacy);
	free(f->files);
	free(f->dir.data);
	free(f);
}

int fw_cfg_attach(struct fw_cfg *f, struct bus *io)
{
	if (bus_register(io, FW_CFG_PORT, 2, &comb_ops, f, "fw_cfg"))
		return -1;
	if (bus_register(io, FW_CFG_DMA_PORT, 8, &dma_ops, f, "fw_cfg-dma")) {
		bus_unregister(io, FW_CFG_PORT, f);
		return -1;
	}
	return 0;
}

void fw_cfg_reset(struct fw_cfg *f)
{
	select_key(f, FW_CFG_SIGNATURE);
	f->dma_addr = 0;
}

int fw_cfg_add_bytes(struct fw_cfg *f, uint16_t key, const void *data,
		     uint32_t len)
{
	if ((key & FW_CFG_WRITE_CHANNEL) || key == FW_CFG_SIGNATURE ||
	    key == FW_CFG_ID || key == FW_CFG_FILE_DIR ||
	    (!(key & FW_CFG_ARCH_LOCAL) && key >= FW_CFG_FILE_FIRST))
		return -1;
	return put_legacy(f, key, data, len);
}

int fw_cfg_add_u16(struct fw_cfg *f, uint16_t key, uint16_t value)
{
	uint8_t b[2];
	put_le(b, 2, value);
	return fw_cfg_add_bytes(f, key, b, 2);
}

int fw_cfg_add_u32(struct fw_cfg *f, uint16_t key, uint32_t value)
{
	uint8_t b[4];
	put_le(b, 4, value);
	return fw_cfg_add_bytes(f, key, b, 4);
}

int fw_cfg_add_u64(struct fw_cfg *f, uint16_t key, uint64_t value)
{
	uint8_t b[8];
	put_le(b, 8, value);
	return fw_cfg_add_bytes(f, key, b, 8);
}

int fw_cfg_add_file(struct fw_cfg *f, const char *name, const void *data,
		    uint32_t len)
{
	size_t nl = name ? strlen(name) : 0;
	if (nl == 0 || nl >= FW_CFG_NAME_LEN)
		return -1;
	size_t i = 0;
	while (i < f->nfiles && strcmp(f->files[i].name, name) < 0)
		i++;
	if (i < f->nfiles && !strcmp(f->files[i].name, name)) {
		if (set_data(&f->files[i], data, len))
			return -1;
		return rebuild_dir(f); /* the size changed */
	}
	if (f->nfiles >= FW_CFG_MAX_FILES ||
	    grow((void **)&f->files, f->nfiles, sizeof(f->files[0])))
		return -1;
	struct fw_cfg_item fresh = {0};
	memcpy(fresh.name, name, nl);
	if (set_data(&fresh, data, len))
		return -1;
	memmove(&f->files[i + 1], &f->files[i],
		(f->nfiles - i) * sizeof(fresh));
	f->files[i] = fresh;
	f->nfiles++;
	if (rebuild_dir(f)) {
		free(fresh.data);
		f->nfiles--;
		memmove(&f->files[i], &f->files[i + 1],
			(f->nfiles - i) * sizeof(fresh));
		for (size_t k = i; k < f->nfiles; k++)
			f->files[k].key = FW_CFG_FILE_FIRST + k;
		return -1;
	}
	return 0;
}

uint16_t fw_cfg_file_key(const struct fw_cfg *f, const char *name)
{
	for (size_t i = 0; i < f->nfiles; i++)
		if (!strcmp(f->files[i].name, name))
			return f->files[i].key;
	return 0;
}

/* --- the PC's set ---------------------------------------------------- */

#define E820_RAM      1
#define E820_RESERVED 2
#define FOUR_GIB      0x100000000ull

/* One e820 entry as QEMU passes it: LE64 address, LE64 length, LE32 type. */
static uint8_t *put_e820(uint8_t *p, uint64_t addr, uint64_t len, uint32_t type)
{
	put_le(p, 8, addr);
	put_le(p + 8, 8, len);
	put_le(p + 16, 4, type);
	return p + 20;
}

static int add_e820(struct fw_cfg *f, uint64_t below, uint64_t above)
{
	uint8_t table[3 * 20], *p = table;
	if (below)
		p = put_e820(p, 0, below, E820_RAM);
	p = put_e820(p, FW_CFG_PC_KVM_RESERVED, FW_CFG_PC_KVM_RESERVED_SIZE,
		     E820_RESERVED);
	if (above)
		p = put_e820(p, FOUR_GIB, above, E820_RAM);
	return fw_cfg_add_file(f, "etc/e820", table, p - table);
}

/*
 * SeaBIOS reads "etc/show-boot-menu" from FW_CFG_BOOT_MENU; 0 skips the
 * "Press ESC for boot menu" prompt and its wait.
 */
static int add_boot_menu(struct fw_cfg *f, int wait_ms)
{
	if (wait_ms <= 0)
		return fw_cfg_add_u16(f, FW_CFG_BOOT_MENU, 0);
	uint8_t b[2];
	put_le(b, 2, wait_ms > 0xffff ? 0xffff : wait_ms);
	if (fw_cfg_add_u16(f, FW_CFG_BOOT_MENU, 1))
		return -1;
	return fw_cfg_add_file(f, "etc/boot-menu-wait", b, 2);
}

int fw_cfg_pc_defaults(struct fw_cfg *f, uint64_t ram_below_4g,
		       uint64_t ram_above_4g, unsigned ncpus,
		       const char *bootorder, int boot_menu_wait_ms)
{
	if (ncpus == 0 || ncpus > 0xffff)
		return -1;
	if (fw_cfg_add_u64(f, FW_CFG_RAM_SIZE, ram_below_4g + ram_above_4g) ||
	    fw_cfg_add_u16(f, FW_CFG_NB_CPUS, ncpus) ||
	    fw_cfg_add_u16(f, FW_CFG_MAX_CPUS, ncpus) ||
	    add_e820(f, ram_below_4g, ram_above_4g) ||
	    add_boot_menu(f, boot_menu_wait_ms))
		return -1;
	/* QEMU's bootorder carries its terminating NUL. */
	if (bootorder &&
	    fw_cfg_add_file(f, "bootorder", bootorder, strlen(bootorder) + 1))
		return -1;
	return 0;
}
