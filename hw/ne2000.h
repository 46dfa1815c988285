/*
 * NE2000 Ethernet adapter: a National Semiconductor DP8390D network
 * interface controller ("NIC") with 16 KiB of buffer RAM and a station
 * address PROM behind an NE2000 "ASIC" (remote DMA data port and reset
 * port), in two faces built on one core:
 *  - PCI: Realtek RTL8029AS (10ec:8029, class 0x020000), a 32-byte I/O
 *    BAR 0 and INTA# routed through the PIIX3 PIRQ registers;
 *  - ISA: a Novell NE2000 at 0x300, IRQ 9 (the line follows the chip's
 *    interrupt output: high while ISR & IMR is non-zero).
 * Datasheets: National Semiconductor DP8390D/NS32490D "Network Interface
 * Controller" (registers, buffer ring, remote DMA, multicast hash),
 * Realtek RTL8029AS (page 3, ID registers, PCI header).
 *
 * I/O space (offsets from the base, both faces):
 *   0x00-0x0F  DP8390 registers, page selected by CR bits 7:6
 *   0x10-0x17  remote DMA data port (one DMA transfer per access)
 *   0x18-0x1F  reset port: a read resets the NIC (ISR.RST), writes ignored
 *
 * Buffer memory as the NIC addresses it (16-bit remote DMA address):
 *   0x0000-0x001F  PROM: MAC, 8 zero bytes, 'W' 'W', each byte doubled
 *   0x4000-0x7FFF  16 KiB of packet RAM (pages 0x40-0x7F)
 *   elsewhere      reads 0xFF, writes are ignored
 *
 * Every register value is accepted and none can drive the model out of
 * its arrays or into a loop that the guest's access count does not bound;
 * hw/ne2000.c's header says what each bad value does.
 */
#ifndef MINIVMM_HW_NE2000_H
#define MINIVMM_HW_NE2000_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hw/hw.h"
#include "hw/net.h"
#include "hw/pci.h"

#define NE2000_ISA_BASE	  0x300
#define NE2000_ISA_IRQ	  9
#define NE2000_IO_SIZE	  0x20
#define NE2000_PCI_VENDOR 0x10ec
#define NE2000_PCI_DEVICE 0x8029
#define NE2000_PCI_CLASS  0x02000000 /* network / Ethernet, revision 0 */

#define NE2000_MEM_START 0x4000
#define NE2000_MEM_SIZE	 0x4000
#define NE2000_PROM_SIZE 32

/* Register offsets (page in the comment). */
#define NE_CR	 0x00 /* all pages */
#define NE_DATA	 0x10
#define NE_RESET 0x1f
/* page 0, write */
#define NE_PSTART 0x01
#define NE_PSTOP  0x02
#define NE_BNRY	  0x03 /* also read */
#define NE_TPSR	  0x04
#define NE_TBCR0  0x05
#define NE_TBCR1  0x06
#define NE_ISR	  0x07 /* also read */
#define NE_RSAR0  0x08
#define NE_RSAR1  0x09
#define NE_RBCR0  0x0a
#define NE_RBCR1  0x0b
#define NE_RCR	  0x0c
#define NE_TCR	  0x0d
#define NE_DCR	  0x0e
#define NE_IMR	  0x0f
/* page 0, read */
#define NE_CLDA0 0x01
#define NE_CLDA1 0x02
#define NE_TSR	 0x04
#define NE_NCR	 0x05
#define NE_FIFO	 0x06
#define NE_CRDA0 0x08
#define NE_CRDA1 0x09
#define NE_ID0	 0x0a /* RTL8029: 0x50 */
#define NE_ID1	 0x0b /* RTL8029: 0x43 */
#define NE_RSR	 0x0c
#define NE_CNTR0 0x0d /* frame alignment errors */
#define NE_CNTR1 0x0e /* CRC errors */
#define NE_CNTR2 0x0f /* missed packets */
/* page 1 */
#define NE_PAR0 0x01 /* PAR0-5 at 0x01-0x06 */
#define NE_CURR 0x07
#define NE_MAR0 0x08 /* MAR0-7 at 0x08-0x0f */
/* page 3 (RTL8029AS) */
#define NE_9346CR  0x01
#define NE_CONFIG0 0x03
#define NE_CONFIG2 0x05
#define NE_CONFIG3 0x06
#define NE_ASID0   0x0e /* 0x29 */
#define NE_ASID1   0x0f /* 0x80 */

#define NE_CR_STP    0x01
#define NE_CR_STA    0x02
#define NE_CR_TXP    0x04
#define NE_CR_RREAD  0x08 /* RD2-0 = 001 */
#define NE_CR_RWRITE 0x10 /* 010 */
#define NE_CR_SENDP  0x18 /* 011 */
#define NE_CR_NODMA  0x20 /* 1xx: abort/complete remote DMA */
#define NE_CR_PAGE1  0x40
#define NE_CR_PAGE2  0x80
#define NE_CR_PAGE3  0xc0

#define NE_ISR_PRX 0x01
#define NE_ISR_PTX 0x02
#define NE_ISR_RXE 0x04
#define NE_ISR_TXE 0x08
#define NE_ISR_OVW 0x10
#define NE_ISR_CNT 0x20
#define NE_ISR_RDC 0x40
#define NE_ISR_RST 0x80 /* status only: no interrupt, not write-cleared */

#define NE_RSR_PRX 0x01
#define NE_RSR_MPA 0x10
#define NE_RSR_PHY 0x20 /* multicast or broadcast destination */
#define NE_RSR_DIS 0x40 /* receiver disabled (monitor mode) */

#define NE_TSR_PTX 0x01
#define NE_TSR_ABT 0x08

#define NE_RCR_SEP 0x01
#define NE_RCR_AR  0x02
#define NE_RCR_AB  0x04
#define NE_RCR_AM  0x08
#define NE_RCR_PRO 0x10
#define NE_RCR_MON 0x20

#define NE_TCR_LB 0x06 /* loopback mode 1-3 when non-zero */

#define NE_DCR_WTS 0x01 /* word-wide remote DMA */
#define NE_DCR_BOS 0x02 /* big-endian words */

enum ne2000_model { NE2000_ISA, NE2000_RTL8029 };

/* What receive() did with a frame. */
enum ne2000_rx {
	NE2000_RX_STORED,   /* in the ring, ISR.PRX */
	NE2000_RX_FILTERED, /* not addressed to this station */
	NE2000_RX_DROPPED,  /* receiver off/stopped/looped back, overflow,
			       invalid ring, monitor mode, too long */
};

/* Host-side counters, for -stats. */
struct ne2000_stats {
	uint64_t tx_frames, tx_bytes;
	uint64_t tx_errors; /* bad length or TPSR: nothing sent */
	uint64_t rx_frames, rx_bytes;
	uint64_t rx_filtered;
	uint64_t rx_dropped;
	uint64_t rx_overflows; /* of rx_dropped: ring full (ISR.OVW) */
};

struct ne2000;

/*
 * A NIC in its power-on state with station address mac (PROM and PAR),
 * not yet on any bus. be may have NULL ops (nothing connected).
 */
struct ne2000 *ne2000_new(const uint8_t mac[NET_ETH_ALEN],
			  struct net_backend be);
/* Frees the NIC. It does not detach itself: free the pci_bus first (it
 * owns the function and unmaps BAR0), and for the ISA face
 * bus_unregister(io, base, s) or destroy the port bus. */
void ne2000_free(struct ne2000 *s);

/* ISA face: ports base..base+0x1F on io, interrupt on irq->line. 0 or -1.
 * Sets the model to NE2000_ISA (no RTL8029 ID bytes). */
int ne2000_attach_isa(struct ne2000 *s, struct bus *io, uint16_t base,
		      const struct irq_chip *irq, int line);
/* PCI face: function devnr.0 on pb (10ec:8029, BAR0 32 bytes of I/O,
 * INTA#). Sets the model to NE2000_RTL8029. NULL if the slot is taken. */
struct pci_func *ne2000_attach_pci(struct ne2000 *s, struct pci_bus *pb,
				   int devnr);

/* Power-on reset (RSTDRV / PCI RST#): registers, PAR from the PROM,
 * buffer RAM cleared. */
void ne2000_reset(struct ne2000 *s);

/*
 * Backend side. can_receive: the receiver is started, not in loopback or
 * monitor mode, the ring registers are usable and the ring has room for a
 * maximum-size frame. When it returned false, the backend's rx_ready is
 * called once it becomes true again.
 * receive: one frame (len bytes, no FCS); runts are padded to 60 bytes,
 * frames over NET_MAX_FRAME are dropped. A frame offered while
 * can_receive() is false gets the hardware's treatment (overflow: ISR.OVW,
 * missed-packet count, frame dropped; never overwrites unread data).
 */
bool ne2000_can_receive(struct ne2000 *s);
enum ne2000_rx ne2000_receive(struct ne2000 *s, const uint8_t *buf, size_t len);
/* The same two, for backends written against hw/net.h (nic = the NIC). */
extern const struct net_nic_ops ne2000_nic_ops;

const struct ne2000_stats *ne2000_stats(const struct ne2000 *s);
/* Level of the interrupt output (ISR & IMR != 0). */
bool ne2000_irq_level(const struct ne2000 *s);

/*
 * The chip's multicast hash: index (0-63) of the MAR bit that a
 * destination address selects, the top 6 bits of the big-endian
 * (MSB-first register, LSB-first data) CRC-32 of the 6 address bytes;
 * MAR byte index >> 3, bit index & 7.
 */
unsigned ne2000_mcast_index(const uint8_t addr[NET_ETH_ALEN]);

/* The register ops, for callers that map the NIC themselves. */
extern const struct io_ops ne2000_ops;

#endif
