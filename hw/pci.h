/*
 * PCI local bus, bus 0 only, as the PC sees it: configuration mechanism #1
 * (CONFIG_ADDRESS at 0xCF8, CONFIG_DATA at 0xCFC-0xCFF) and type 0
 * configuration headers with I/O and 32-bit memory BARs, an expansion ROM
 * BAR, a capability list and INTx routed through PIRQA-D.
 * Spec: PCI Local Bus Specification 3.0, chapter 3.2.2.3 and chapter 6.
 *
 * A device creates its function with pci_add_func(), describes its BARs with
 * pci_set_bar(), and may hook device-specific registers with pci_cfg_ops.
 * When the guest moves a BAR or flips I/O/memory decode in the command
 * register, pci.c removes the BAR's range from the port/MMIO bus and
 * registers it again at the new address with the BAR's own io_ops and dev
 * pointer, so device code sees offsets relative to the BAR and never knows
 * where it is mapped.
 *
 * 0xCF9 (reset control register, PIIX3) sits inside CONFIG_ADDRESS's four
 * bytes. The bus forbids overlapping ranges, so pci.c owns 0xCF8-0xCFB and
 * forwards byte accesses to 0xCF9 to the hook set with pci_bus_set_cf9();
 * the reset-control owner must not register 0xCF9 itself.
 */
#ifndef MINIVMM_PCI_H
#define MINIVMM_PCI_H

#include <stdbool.h>
#include <stdint.h>

#include "hw/hw.h"

/* Type 0 configuration header offsets. */
#define PCI_VENDOR_ID	   0x00
#define PCI_DEVICE_ID	   0x02
#define PCI_COMMAND	   0x04
#define PCI_STATUS	   0x06
#define PCI_CLASS_REVISION 0x08
#define PCI_CACHE_LINE	   0x0c
#define PCI_LATENCY	   0x0d
#define PCI_HEADER_TYPE	   0x0e
#define PCI_BAR0	   0x10
#define PCI_SUBSYS_VENDOR  0x2c
#define PCI_SUBSYS_ID	   0x2e
#define PCI_ROM_ADDRESS	   0x30
#define PCI_CAP_PTR	   0x34
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_INTERRUPT_PIN  0x3d

#define PCI_CMD_IO	     0x0001
#define PCI_CMD_MEMORY	     0x0002
#define PCI_CMD_MASTER	     0x0004
#define PCI_CMD_PARITY	     0x0040
#define PCI_CMD_SERR	     0x0100
#define PCI_CMD_INTX_DISABLE 0x0400

#define PCI_STATUS_INTX		0x0008
#define PCI_STATUS_CAP_LIST	0x0010
#define PCI_STATUS_FAST_BACK	0x0080
#define PCI_STATUS_DEVSEL_MED	0x0200
#define PCI_STATUS_W1C		0xf900 /* error bits 8, 11-15 */
#define PCI_HEADER_MULTIFUNC	0x80
#define PCI_ROM_ENABLE		0x00000001u
#define PCI_CONFIG_ADDRESS_PORT 0xcf8
#define PCI_CONFIG_DATA_PORT	0xcfc

/* pci_set_bar() flags; the low bits are also the BAR's read-only bits. */
#define PCI_BAR_IO	 0x1u
#define PCI_BAR_MEM32	 0x0u
#define PCI_BAR_PREFETCH 0x8u

#define PCI_NUM_BARS 6
#define PCI_ROM_SLOT 6 /* index of the expansion ROM in pci_func.bar[] */

struct pci_func;

/*
 * Device-specific configuration registers. pci.c first applies the generic
 * rules (write mask, write-1-to-clear, BAR and command side effects) to its
 * 256-byte image, then calls the hook:
 *  - read gets the generic value and returns what the guest sees (the hook
 *    may compute live values; returning val keeps the stored image);
 *  - write is told about the access after the image was updated.
 * Both are called for every offset; a hook filters what it cares about.
 */
struct pci_cfg_ops {
	uint32_t (*read)(void *dev, unsigned off, unsigned size, uint32_t val);
	void (*write)(void *dev, unsigned off, unsigned size, uint32_t val);
	/* Optional: a BAR (0-5, or PCI_ROM_SLOT) was mapped at addr, or
	 * unmapped (mapped == false), after a guest write. */
	void (*bar_moved)(void *dev, int bar, uint32_t addr, bool mapped);
};

struct pci_bar {
	uint32_t size; /* 0: BAR not implemented, reads 0 */
	uint32_t flags;
	const struct io_ops *ops;
	void *dev;
	bool mapped;	   /* currently registered on its bus */
	bool conflict;	   /* wanted a mapping but registration failed */
	uint32_t map_addr; /* where it is registered when mapped */
	char name[24];	   /* bus range name, e.g. "pci00:01.1-bar4" */
};

struct pci_func {
	struct pci_bus *bus;
	uint8_t devnr, fn;
	uint8_t cfg[256];
	uint8_t wmask[256];	    /* bits the guest may write */
	uint8_t w1c[256];	    /* bits a guest 1 clears */
	uint8_t caps_used[256 / 8]; /* bytes owned by capabilities */
	struct pci_bar bar[PCI_NUM_BARS + 1];
	const struct pci_cfg_ops *cfg_ops;
	void *cfg_dev;
	bool irq_level; /* INTx requested by the device */
	bool irq_out;	/* INTx driven onto the PIRQ line (not masked) */
};

/* PIRQA-D as seen by the interrupt router (PIIX3 function 0). */
struct pci_pirq_sink {
	void (*set)(void *opaque, int pirq, int level);
	void *opaque;
};

struct pci_bus {
	struct bus *io, *mmio;
	uint32_t cfg_addr; /* CONFIG_ADDRESS latch */
	struct pci_func *func[32 * 8];
	unsigned pirq_count[4]; /* asserted INTx sources per PIRQ */
	struct pci_pirq_sink pirq;
	const struct io_ops *cf9_ops;
	void *cf9_dev;
	uint64_t bar_conflicts; /* BAR registrations refused by the bus */
};

struct pci_bus *pci_bus_new(struct bus *io, struct bus *mmio);
/* Unregisters everything pci.c registered and frees the functions. */
void pci_bus_free(struct pci_bus *pb);
/*
 * PCI RST#: every writable bit of every function's header (0x00-0x3F) goes
 * to 0 (command, BAR addresses, ROM, interrupt line...), error status bits
 * clear, all BARs unmapped. Registers at 0x40 and up belong to the device's
 * own reset (i440fx_reset, piix3_reset ...). CONFIG_ADDRESS clears too.
 */
void pci_bus_reset(struct pci_bus *pb);
/* Registers 0xCF8-0xCFB and 0xCFC-0xCFF on the port bus; 0 or -1. */
int pci_bus_attach(struct pci_bus *pb);
/* Byte accesses to 0xCF9 go to ops->read/write(dev, 0, 1, ...). */
void pci_bus_set_cf9(struct pci_bus *pb, const struct io_ops *ops, void *dev);
void pci_bus_set_pirq_sink(struct pci_bus *pb, struct pci_pirq_sink sink);
/* Level (0/1) of PIRQA-D, the OR of every function routed to it. */
int pci_bus_pirq_level(const struct pci_bus *pb, int pirq);

/* Configuration cycle for bus 0 (what CONFIG_DATA does). Absent functions
 * and other buses read all ones and ignore writes. */
uint32_t pci_bus_cfg_read(struct pci_bus *pb, unsigned busnr, unsigned devnr,
			  unsigned fn, unsigned off, unsigned size);
void pci_bus_cfg_write(struct pci_bus *pb, unsigned busnr, unsigned devnr,
		       unsigned fn, unsigned off, unsigned size, uint32_t val);

/*
 * Creates function devnr.fn (0-31, 0-7) with header type 0; NULL if the
 * slot is taken or out of range. class_rev is class << 8 | revision
 * (0x01018000 for an IDE controller, prog-if 0x80, rev 0). int_pin 0 means
 * no INTx, 1-4 INTA-INTD. Adding a function other than 0 marks function 0
 * of the same device multi-function (header type bit 7), and vice versa.
 */
struct pci_func *pci_add_func(struct pci_bus *pb, int devnr, int fn,
			      uint16_t vendor, uint16_t device,
			      uint32_t class_rev, uint16_t subvendor,
			      uint16_t subsys, uint8_t int_pin);
/*
 * Describes BAR bar (0-5): size a power of two (I/O 4-256 bytes, memory
 * 16 bytes-2 GiB), flags PCI_BAR_IO or PCI_BAR_MEM32 [| PCI_BAR_PREFETCH].
 * The BAR starts unmapped (address 0). 0 or -1 for bad arguments.
 */
int pci_set_bar(struct pci_func *f, int bar, uint32_t size, uint32_t flags,
		const struct io_ops *ops, void *dev);
/* Expansion ROM BAR at 0x30: size a power of two >= 2 KiB, served by ops
 * on the MMIO bus when its enable bit and memory decode are on. */
int pci_set_rom(struct pci_func *f, uint32_t size, const struct io_ops *ops,
		void *dev);
void pci_set_cfg_ops(struct pci_func *f, const struct pci_cfg_ops *ops,
		     void *dev);
/* Lets the guest write bits mask of bytes [off, off+len). */
void pci_set_writable(struct pci_func *f, unsigned off, unsigned len,
		      uint8_t mask);
/*
 * Adds a capability of len bytes (>= 2) at off (dword-aligned, 0x40-0xFC)
 * at the head of the list: writes the ID and next pointer, points 0x34 at
 * it and sets the status capability bit. Bytes after the header start
 * read-only; use pci_set_writable(). Returns off, or -1 on overlap/range.
 */
int pci_add_cap(struct pci_func *f, uint8_t id, unsigned off, unsigned len);

/* A configuration cycle to this function, exactly as from the guest
 * (generic rules, side effects, then the device hook). */
uint32_t pci_cfg_read(struct pci_func *f, unsigned off, unsigned size);
void pci_cfg_write(struct pci_func *f, unsigned off, unsigned size,
		   uint32_t val);

bool pci_bus_master(const struct pci_func *f);
/* Programmed base address of a BAR (0-5 or PCI_ROM_SLOT), flag bits off. */
uint32_t pci_bar_addr(const struct pci_func *f, int bar);
bool pci_bar_mapped(const struct pci_func *f, int bar);
/* Device INTx level; routed to PIRQ (slot - 1 + pin - 1) & 3. */
void pci_set_irq(struct pci_func *f, int level);
/* Sets error bits in the status register (e.g. received master abort). */
void pci_status_set(struct pci_func *f, uint16_t bits);

#endif
