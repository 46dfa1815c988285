/*
 * Virtio over PCI, the modern (non-transitional) interface of VIRTIO 1.1
 * chapter 4.1, on hw/pci.c. Vendor 1af4, device 0x1040 + virtio device
 * type (0x1042 block, 0x1041 network), revision 1, subsystem 1af4:1100.
 * No legacy I/O BAR: drivers that only know virtio 0.9.5 do not bind.
 *
 * BAR 4, 16 KiB of 32-bit memory, one 4 KiB page per structure:
 *   0x0000  common configuration (struct virtio_pci_common_cfg, 0x38 bytes)
 *   0x1000  ISR status (1 byte, read-to-clear)
 *   0x2000  device-specific configuration (the core's config image)
 *   0x3000  notifications: queue q at 0x3000 + 4 * q (queue_notify_off =
 *           q, notify_off_multiplier = 4); any write kicks the queue
 * BAR 1, 4 KiB of 32-bit memory, only when MSI-X is offered:
 *   0x000   MSI-X table, 16 bytes per vector (one per queue + config)
 *   0x800   MSI-X pending bit array
 * Capabilities (0x40 up): virtio common/notify/ISR/device/PCI-config
 * access (vendor-specific, ID 09h), and MSI-X (11h) when offered.
 *
 * Register rules (what the spec leaves to the device):
 *  - Common configuration fields take writes of their own width; the
 *    64-bit queue addresses also take 32-bit halves. Reads may also be
 *    narrower, naturally aligned inside one field, and return those bytes
 *    of it (as QEMU does; Debian's iPXE reads 32-bit fields 16 bits at a
 *    time). Anything else (wider, misaligned, across fields, past 0x38)
 *    reads 0 and writes nothing.
 *  - queue_* registers of a queue_select with no queue read 0 (queue_size
 *    0: "not available") and ignore writes. queue_msix_vector and
 *    config_msix_vector read back VIRTIO_MSI_NO_VECTOR when the vector is
 *    past the table (or there is no MSI-X).
 *  - queue_enable = 0 is ignored (only a device reset disables a queue).
 *
 * Interrupts: with MSI-X enabled, a queue's interrupt is an MSI to its
 * vector (none for NO_VECTOR); a masked vector (per entry or the
 * function mask) sets its pending bit, and unmasking sends it then.
 * Otherwise the ISR bit (0x1 queue, 0x2 configuration) is set and INTA#
 * asserted until the ISR is read; pci.c routes it through PIIX3's PIRQs.
 *
 * The vmm can take queue notifications off the MMIO path (KVM_IOEVENTFD):
 * virtio_pci_notify_addr() says where queue q's notify register is while
 * BAR 4 is mapped, notify_moved in the wiring is told whenever that
 * changes, and virtio_queue_kick() (hw/virtio.h) is what an eventfd that
 * fired should call.
 */
#ifndef MINIVMM_HW_VIRTIO_PCI_H
#define MINIVMM_HW_VIRTIO_PCI_H

#include <stdbool.h>
#include <stdint.h>

#include "hw/hw.h"
#include "hw/pci.h"
#include "hw/virtio.h"

#define VIRTIO_PCI_VENDOR      0x1af4
#define VIRTIO_PCI_DEVICE_BASE 0x1040 /* + virtio device type */
#define VIRTIO_PCI_SUBSYS      0x1100
#define VIRTIO_PCI_REVISION    1
#define VIRTIO_PCI_BAR	       4
#define VIRTIO_PCI_BAR_SIZE    0x4000
#define VIRTIO_PCI_MSIX_BAR    1
#define VIRTIO_PCI_MSIX_SIZE   0x1000
#define VIRTIO_PCI_COMMON_OFF  0x0000
#define VIRTIO_PCI_COMMON_LEN  0x38
#define VIRTIO_PCI_ISR_OFF     0x1000
#define VIRTIO_PCI_DEVICE_OFF  0x2000
#define VIRTIO_PCI_NOTIFY_OFF  0x3000
#define VIRTIO_PCI_NOTIFY_MULT 4
#define VIRTIO_PCI_MSIX_TABLE  0x000
#define VIRTIO_PCI_MSIX_PBA    0x800
#define VIRTIO_MSI_NO_VECTOR   0xffff
#define VIRTIO_PCI_MAX_VECTORS (VIRTIO_MAX_QUEUES + 1)

/* Capability types (cfg_type) and the vendor capability layout. */
#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG	  3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4
#define VIRTIO_PCI_CAP_PCI_CFG	  5
#define PCI_CAP_ID_VNDR		  0x09
#define PCI_CAP_ID_MSIX		  0x11
#define VIRTIO_CAP_CFG_TYPE	  3 /* byte offsets in the capability */
#define VIRTIO_CAP_BAR		  4
#define VIRTIO_CAP_OFFSET	  8
#define VIRTIO_CAP_LENGTH	  12
#define VIRTIO_CAP_NOTIFY_MULT	  16
#define VIRTIO_CAP_PCI_CFG_DATA	  16

/* Common configuration (struct virtio_pci_common_cfg). */
#define VIRTIO_PCI_DEVICE_FEATURE_SELECT 0x00
#define VIRTIO_PCI_DEVICE_FEATURE	 0x04
#define VIRTIO_PCI_DRIVER_FEATURE_SELECT 0x08
#define VIRTIO_PCI_DRIVER_FEATURE	 0x0c
#define VIRTIO_PCI_MSIX_CONFIG		 0x10
#define VIRTIO_PCI_NUM_QUEUES		 0x12
#define VIRTIO_PCI_DEVICE_STATUS	 0x14
#define VIRTIO_PCI_CONFIG_GENERATION	 0x15
#define VIRTIO_PCI_QUEUE_SELECT		 0x16
#define VIRTIO_PCI_QUEUE_SIZE		 0x18
#define VIRTIO_PCI_QUEUE_MSIX_VECTOR	 0x1a
#define VIRTIO_PCI_QUEUE_ENABLE		 0x1c
#define VIRTIO_PCI_QUEUE_NOTIFY_OFF	 0x1e
#define VIRTIO_PCI_QUEUE_DESC		 0x20
#define VIRTIO_PCI_QUEUE_DRIVER		 0x28
#define VIRTIO_PCI_QUEUE_DEVICE		 0x30

#define VIRTIO_PCI_ISR_QUEUE  0x1
#define VIRTIO_PCI_ISR_CONFIG 0x2

/* MSI-X capability (PCI 3.0, 6.8.2) and table entries. */
#define PCI_MSIX_FLAGS		    2 /* message control, in the capability */
#define PCI_MSIX_TABLE		    4
#define PCI_MSIX_PBA		    8
#define PCI_MSIX_FLAGS_ENABLE	    0x8000
#define PCI_MSIX_FLAGS_MASKALL	    0x4000
#define PCI_MSIX_ENTRY_SIZE	    16
#define PCI_MSIX_ENTRY_DATA	    8
#define PCI_MSIX_ENTRY_VECTOR_CTRL  12
#define PCI_MSIX_ENTRY_CTRL_MASKBIT 1

/* How the function is wired beyond pci.c. Everything is optional. */
struct virtio_pci_wiring {
	/* Where MSIs go. Without it no MSI-X capability is offered (a
	 * machine without local APICs cannot take them). */
	struct msi_sink msi;
	/* Optional, with msi: each vector's message goes here first (the
	 * vmm's irqfds); msi takes what it refuses. */
	struct msix_vector_sink vectors;
	/* Queue q's notify register is now decoded at [gpa, gpa + len)
	 * (mapped), or no longer decoded there (!mapped). A move of BAR 4
	 * is an unmapped call for the old place, then a mapped one. */
	void (*notify_moved)(void *opaque, unsigned q, uint64_t gpa,
			     unsigned len, bool mapped);
	void *opaque;
};

struct virtio_pci {
	struct pci_func *f;
	struct virtio_dev *vd;
	struct virtio_pci_wiring w;
	uint32_t dfselect, gfselect; /* device/driver feature select */
	uint16_t queue_select;
	uint16_t config_vector;
	uint16_t queue_vector[VIRTIO_MAX_QUEUES];
	uint8_t isr;
	/* PCI config access capability (offset in config space). */
	unsigned cfg_cap;
	/* MSI-X; msix_cap is 0 when not offered. */
	unsigned msix_cap, nvectors;
	uint8_t msix_table[VIRTIO_PCI_MAX_VECTORS * PCI_MSIX_ENTRY_SIZE];
	uint32_t msix_pending; /* PBA bits */
	bool msix_was_enabled;
	/* Where notify_moved was last told BAR 4 is. */
	uint64_t notify_base;
	bool notify_mapped;
	uint64_t msis; /* sent, for tests and -stats */
};

/*
 * Puts vd on pb as function devnr.0 with PCI class class_code (class <<
 * 16 | subclass << 8 | prog-if), INTA#, BAR 4 (and BAR 1 with MSI-X).
 * Returns NULL if the slot is taken. vp is caller-owned.
 */
struct pci_func *virtio_pci_init(struct virtio_pci *vp, struct virtio_dev *vd,
				 struct pci_bus *pb, int devnr,
				 uint32_t class_code,
				 const struct virtio_pci_wiring *w);
/* Stops decoding both BARs and forgets the device: the pci_func stays on
 * the bus, inert, until pci_bus_free(). */
void virtio_pci_detach(struct virtio_pci *vp);

/* Guest-physical address and length of queue q's notify register while
 * BAR 4 is decoded; false otherwise (or for a queue that does not
 * exist). */
bool virtio_pci_notify_addr(const struct virtio_pci *vp, unsigned q,
			    uint64_t *gpa, unsigned *len);
/* Level of INTA# as the device drives it (ISR != 0, MSI-X off). */
bool virtio_pci_intx(const struct virtio_pci *vp);

/* The BAR 4 and MSI-X BAR register files, for tests and direct use. */
extern const struct io_ops virtio_pci_ops;
extern const struct io_ops virtio_pci_msix_ops;

#endif
