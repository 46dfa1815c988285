/*
 * Intel 82441FX PCI and Memory Controller (i440FX host bridge), function
 * 00:00.0. Register facts: Intel 440FX PCIset datasheet (82441FX PMC),
 * identity as QEMU's "pc" machine presents it. See hw/i440fx.h.
 */
#include "hw/i440fx.h"

#include <string.h>

/* SMRAM bits 2:0 (C_BASE_SEG) are hardwired to 010: SMRAM at 0xA0000. */
#define SMRAM_RESET 0x02
#define SMRAM_WMASK                                                            \
	(I440FX_SMRAM_D_OPEN | I440FX_SMRAM_D_CLS | I440FX_SMRAM_D_LCK |       \
	 I440FX_SMRAM_G_SMRAME)

/*
 * Once D_LCK is set only a power-on reset clears it: D_OPEN is forced off
 * and D_OPEN, D_LCK and G_SMRAME become read-only.
 */
static void i440fx_cfg_write(void *dev, unsigned off, unsigned size,
			     uint32_t val)
{
	struct i440fx *s = dev;
	uint8_t *smram = &s->f->cfg[I440FX_SMRAM];

	(void)val;
	if (off > I440FX_SMRAM || off + size <= I440FX_SMRAM)
		return;
	if (*smram & I440FX_SMRAM_D_LCK) {
		*smram &= ~I440FX_SMRAM_D_OPEN;
		s->f->wmask[I440FX_SMRAM] = I440FX_SMRAM_D_CLS;
	}
}

static const struct pci_cfg_ops i440fx_cfg_ops = {.write = i440fx_cfg_write};

void i440fx_reset(struct i440fx *s)
{
	struct pci_func *f = s->f;

	/* PCICMD: memory access and bus master hardwired on; only the
	 * parity and SERR# enables are writable (datasheet). */
	f->cfg[PCI_COMMAND] = PCI_CMD_MEMORY | PCI_CMD_MASTER;
	f->cfg[PCI_STATUS] = PCI_STATUS_FAST_BACK;
	f->cfg[PCI_STATUS + 1] = PCI_STATUS_DEVSEL_MED >> 8;
	f->wmask[PCI_COMMAND] = PCI_CMD_PARITY;
	f->wmask[PCI_COMMAND + 1] = PCI_CMD_SERR >> 8;
	memset(&f->cfg[I440FX_PAM0], 0, I440FX_NPAM);
	/* PAM0 only has the 0xF0000 segment nibble; the others two each. */
	f->wmask[I440FX_PAM0] = 0x30;
	memset(&f->wmask[I440FX_PAM0 + 1], 0x33, I440FX_NPAM - 1);
	f->cfg[I440FX_SMRAM] = SMRAM_RESET;
	f->wmask[I440FX_SMRAM] = SMRAM_WMASK;
}

int i440fx_init(struct i440fx *s, struct pci_bus *pb)
{
	memset(s, 0, sizeof(*s));
	s->f = pci_add_func(pb, 0, 0, 0x8086, 0x1237, 0x06000002, 0x1af4,
			    0x1100, 0);
	if (!s->f)
		return -1;
	pci_set_cfg_ops(s->f, &i440fx_cfg_ops, s);
	i440fx_reset(s);
	return 0;
}
