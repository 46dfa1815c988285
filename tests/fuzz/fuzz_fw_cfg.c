/*
 * libFuzzer harness for fw_cfg: the selector, data and DMA ports filled as
 * the VMM does for SeaBIOS, DMA descriptors and their targets placed in
 * guest RAM (or ROM, or nowhere) by RAM actions. Encoding:
 * tests/fuzz/fuzz_common.h.
 *
 * Config byte: bit 0 a boot menu (etc/boot-menu-wait), bit 1 a bootorder
 * file, bit 2 a 64 KiB file (data larger than one DMA chunk).
 * AUX: fw_cfg_reset (the selector back to the signature).
 */
#include <stdlib.h>

#include "hw/fw_cfg.h"
#include "tests/fuzz/fuzz_common.h"

static void aux(struct fz *f, unsigned a)
{
	(void)a;
	fw_cfg_reset(f->dev);
}

static const struct fz_ops ops = {.aux = aux};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t big[65536];
	struct fz f;
	fz_init(&f, data, size, false);
	struct fw_cfg *c = fw_cfg_new(&f.gm);
	if (!c || fw_cfg_attach(c, &f.io) ||
	    fw_cfg_pc_defaults(c, FZ_RAM_SIZE, 0, 2,
			       f.config & 2 ? "/pci@i0cf8/ide@1,1/drive@0/"
					      "disk@0\n"
					    : NULL,
			       f.config & 1 ? 2500 : 0))
		abort();
	if (f.config & 4) {
		for (size_t i = 0; i < sizeof(big); i++)
			big[i] = i * 7;
		if (fw_cfg_add_file(c, "etc/fuzz-big", big, sizeof(big)))
			abort();
	}
	if (fw_cfg_add_file(c, "etc/empty", NULL, 0) ||
	    fw_cfg_add_u32(c, FW_CFG_ARCH_LOCAL, 0x12345678))
		abort();

	fz_run(&f, &ops, c);

	fw_cfg_free(c);
	fz_fini(&f);
	return 0;
}
