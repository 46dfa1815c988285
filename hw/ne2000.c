/*
 * NE2000 / RTL8029AS: the National Semiconductor DP8390D network interface
 * controller with 16 KiB of buffer RAM, a station address PROM and the
 * NE2000 remote-DMA data port. Facts from the DP8390D/NS32490D datasheet
 * (register pages, buffer ring and its linking rules, remote DMA, tally
 * counters, multicast hash), the Realtek RTL8029AS datasheet (page 3 and
 * the ID registers) and what Linux's 8390/ne2k-pci and iPXE's ns8390
 * drivers do. See hw/ne2000.h for the map.
 *
 * The wire is instantaneous: a transmit command hands the frame to the
 * backend and completes at once (TSR.PTX, ISR.PTX, CR.TXP reads 0 again);
 * a received frame is stored in one step. No FCS is stored: the header's
 * byte count is the frame length plus the 4-byte header, and the next-page
 * pointer leaves room for the FCS as the chip does, so Linux's next-page
 * consistency check holds.
 *
 * Choices where the guest programs nonsense (none can index outside the
 * arrays or loop longer than the guest's own access count):
 *  - Remote DMA addresses are 16 bits and wrap 0xFFFF -> 0; outside the
 *    PROM and the RAM reads give 0xFF and writes are ignored. A transfer
 *    that reaches PSTOP * 256 continues at PSTART * 256, in both
 *    directions, whenever PSTART < PSTOP. Word mode ignores address bit 0.
 *  - RBCR counts down to 0 and then ISR.RDC is set; further data-port
 *    accesses keep moving data (as Linux's 32-byte PROM read in word mode
 *    needs) but the count stays 0 and RDC is not raised again. Starting a
 *    remote read or write with RBCR = 0 sets RDC at once. RBCR = 65535
 *    only means the guest may do that many transfers.
 *  - PSTART >= PSTOP: there is no ring; the receiver drops frames
 *    (missed-packet count) and can_receive() is false. The remote DMA does
 *    not wrap then.
 *  - CURR or BNRY outside [PSTART, PSTOP) are taken modulo the ring size,
 *    so Linux's BNRY = PSTART - 1 (after reading the last page) means
 *    PSTOP - 1, and a frame always lands inside the ring.
 *  - A frame is stored only if all its pages are free: pages from CURR up
 *    to, not including, BNRY. CURR == BNRY means empty after the guest
 *    wrote either register and full after the NIC advanced CURR onto BNRY
 *    (as the 83C795 describes it), so unread data is never overwritten.
 *    No room: ISR.OVW, RSR.MPA, ISR.RXE, CNTR2, and ISR.RST until the
 *    guest moves BNRY; the frame is dropped.
 *  - Transmit: TBCR = 0 completes with PTX and sends nothing; TBCR over
 *    1518 bytes, or a frame not wholly inside the 16 KiB RAM (TPSR below
 *    0x40 or TPSR * 256 + TBCR past 0x8000): nothing is sent, TSR.ABT and
 *    ISR.TXE. CR.TXP while the NIC is stopped is ignored.
 *  - Received frames over 1518 bytes are dropped before the filter.
 *  - Tally counters stop at 192; ISR.CNT is set once a counter has bit 7.
 *  - DCR.LS is stored only; loopback is TCR bits 2:1. In loopback no
 *    frame reaches the wire; the transmitted frame is received through
 *    the address filter instead, and frames from the wire are refused.
 */
#include "hw/ne2000.h"

#include <stdlib.h>
#include <string.h>

#include "ioreq/bytes.h"

#define MEM_END	     (NE2000_MEM_START + NE2000_MEM_SIZE)
#define PAGE_BYTES   256
#define HDR_BYTES    4
#define FCS_BYTES    4
#define CNTR_LIMIT   192
#define RTL_ID0	     0x50
#define RTL_ID1	     0x43
#define RTL_ASID0    0x29
#define RTL_ASID1    0x80
#define EEM_CONFIG   0xc0 /* 9346CR: config register write enable */
#define EEM_AUTOLOAD 0x40
#define CONFIG2_MASK 0xe0
#define CONFIG3_MASK 0x46
#define MAX_RX_PAGES ((NET_MAX_FRAME + HDR_BYTES + FCS_BYTES + 255) / 256)

struct ne2000 {
	enum ne2000_model model;
	struct net_backend be;
	/* Faces: an ISA line or a PCI function. */
	const struct irq_chip *irq;
	int line;
	struct pci_func *pci;
	bool irq_out;

	/* Command register. */
	uint8_t page; /* PS1-0 */
	uint8_t rd;   /* RD2-0 as last written */
	bool running; /* STA; false is the reset state (STP) */

	uint8_t isr, imr, rcr, tcr, dcr, rsr, tsr;
	uint8_t pstart, pstop, bnry, curr, tpsr;
	uint16_t tbcr, rsar, rbcr, clda;
	uint8_t cntr[3];
	uint8_t par[NET_ETH_ALEN], mar[8];
	uint8_t rnpp, lnpp, acu, acl; /* page 2 diagnostic registers */
	uint8_t cr9346, config2, config3;
	bool ring_full;	 /* the NIC advanced CURR onto BNRY */
	bool rx_waiting; /* can_receive() said no: owe the backend rx_ready */
	bool curr_seen;	 /* the guest read CURR since its last PRX ack */
	bool rx_after_curr; /* and a frame was stored after that read */

	uint8_t prom[NE2000_PROM_SIZE];
	uint8_t mem[NE2000_MEM_SIZE];
	struct ne2000_stats stats;
};

static void update_irq(struct ne2000 *s)
{
	bool level = (s->isr & s->imr & 0x7f) != 0;
	if (level == s->irq_out)
		return;
	s->irq_out = level;
	if (s->pci)
		pci_set_irq(s->pci, level);
	else
		irq_set(s->irq, s->line, level);
}

/* ---- buffer memory as the NIC addresses it ---- */

static uint8_t mem_read8(const struct ne2000 *s, uint32_t addr)
{
	if (addr < NE2000_PROM_SIZE)
		return s->prom[addr];
	if (addr >= NE2000_MEM_START && addr < MEM_END)
		return s->mem[addr - NE2000_MEM_START];
	return 0xff;
}

static void mem_write8(struct ne2000 *s, uint32_t addr, uint8_t v)
{
	if (addr >= NE2000_MEM_START && addr < MEM_END)
		s->mem[addr - NE2000_MEM_START] = v;
}

/* Copies the part of [addr, addr + len) that is RAM; the rest is lost. */
static void mem_write_block(struct ne2000 *s, uint32_t addr, const uint8_t *src,
			    size_t len)
{
	uint32_t lo = addr > NE2000_MEM_START ? addr : NE2000_MEM_START;
	uint32_t hi = addr + len < MEM_END ? addr + len : MEM_END;
	if (lo < hi)
		memcpy(s->mem + (lo - NE2000_MEM_START), src + (lo - addr),
		       hi - lo);
}

/* ---- receive ring ---- */

static bool ring_valid(const struct ne2000 *s)
{
	return s->pstart < s->pstop;
}

static unsigned ring_pages(const struct ne2000 *s)
{
	return s->pstop - s->pstart;
}

/* Position of page p in the ring, 0 .. ring_pages - 1 (modulo). */
static unsigned ring_pos(const struct ne2000 *s, uint8_t p)
{
	int n = ring_pages(s), d = ((int)p - s->pstart) % n;
	return d < 0 ? d + n : d;
}

static unsigned ring_free_pages(const struct ne2000 *s)
{
	unsigned n = ring_pages(s);
	unsigned c = ring_pos(s, s->curr), b = ring_pos(s, s->bnry);
	if (c == b)
		return s->ring_full ? 0 : n;
	return (b + n - c) % n;
}

/* Pages a frame of len bytes occupies: header, data, room for the FCS. */
static unsigned frame_pages(size_t len)
{
	return (len + HDR_BYTES + FCS_BYTES + PAGE_BYTES - 1) / PAGE_BYTES;
}

/* Writes len bytes at *addr in the ring, wrapping at PSTOP. */
static void ring_write(struct ne2000 *s, uint32_t *addr, const uint8_t *src,
		       size_t len)
{
	uint32_t start = s->pstart * PAGE_BYTES, stop = s->pstop * PAGE_BYTES;
	while (len) {
		size_t chunk = stop - *addr; /* >= 1: *addr is inside */
		if (chunk > len)
			chunk = len;
		mem_write_block(s, *addr, src, chunk);
		*addr += chunk;
		src += chunk;
		len -= chunk;
		if (*addr == stop)
			*addr = start;
	}
}

static void count_tally(struct ne2000 *s, int i)
{
	if (s->cntr[i] < CNTR_LIMIT)
		s->cntr[i]++;
	if (s->cntr[i] & 0x80)
		s->isr |= NE_ISR_CNT;
}

/* A frame for this station that the NIC could not buffer. */
static enum ne2000_rx missed(struct ne2000 *s, uint8_t rsr_extra)
{
	s->rsr = NE_RSR_MPA | rsr_extra;
	s->isr |= NE_ISR_RXE;
	count_tally(s, 2);
	s->stats.rx_dropped++;
	update_irq(s);
	return NE2000_RX_DROPPED;
}

/* Receive-side room for a maximum frame (or for as much as the ring has). */
static bool rx_room(const struct ne2000 *s)
{
	if (!s->running || (s->tcr & NE_TCR_LB) || (s->rcr & NE_RCR_MON) ||
	    !ring_valid(s))
		return false;
	unsigned need = MAX_RX_PAGES;
	if (need > ring_pages(s) - 1)
		need = ring_pages(s) > 1 ? ring_pages(s) - 1 : 1;
	return ring_free_pages(s) >= need;
}

static void check_rx_ready(struct ne2000 *s)
{
	if (s->rx_waiting && rx_room(s)) {
		s->rx_waiting = false;
		net_rx_ready(&s->be);
	}
}

static bool is_broadcast(const uint8_t *a)
{
	static const uint8_t bc[NET_ETH_ALEN] = {0xff, 0xff, 0xff,
						 0xff, 0xff, 0xff};
	return memcmp(a, bc, NET_ETH_ALEN) == 0;
}

unsigned ne2000_mcast_index(const uint8_t addr[NET_ETH_ALEN])
{
	uint32_t crc = 0xffffffffu;
	for (int i = 0; i < NET_ETH_ALEN; i++) {
		uint8_t b = addr[i];
		for (int k = 0; k < 8; k++, b >>= 1) {
			uint32_t in = (crc >> 31) ^ (b & 1u);
			crc <<= 1;
			if (in)
				crc ^= 0x04c11db7u;
		}
	}
	return crc >> 26;
}

static bool addr_accepted(const struct ne2000 *s, const uint8_t *dst)
{
	if (dst[0] & 1) {
		if (is_broadcast(dst))
			return s->rcr & NE_RCR_AB;
		if (!(s->rcr & NE_RCR_AM))
			return false;
		unsigned i = ne2000_mcast_index(dst);
		return s->mar[i >> 3] & (1u << (i & 7));
	}
	return (s->rcr & NE_RCR_PRO) || memcmp(dst, s->par, NET_ETH_ALEN) == 0;
}

/* A frame of NET_MIN_FRAME..NET_MAX_FRAME bytes reaches the receiver. */
static enum ne2000_rx rx_frame(struct ne2000 *s, const uint8_t *buf, size_t len)
{
	const uint8_t *dst = buf;
	uint8_t phy = (dst[0] & 1) ? NE_RSR_PHY : 0;

	if (!addr_accepted(s, dst)) {
		s->stats.rx_filtered++;
		return NE2000_RX_FILTERED;
	}
	if (s->rcr & NE_RCR_MON)
		return missed(s, NE_RSR_DIS | phy);
	if (!ring_valid(s))
		return missed(s, phy);
	unsigned need = frame_pages(len);
	if (need > ring_free_pages(s)) {
		s->isr |= NE_ISR_OVW | NE_ISR_RST;
		s->stats.rx_overflows++;
		return missed(s, phy);
	}

	unsigned n = ring_pages(s), pos = ring_pos(s, s->curr);
	uint8_t next = s->pstart + (pos + need) % n;
	size_t count = len + HDR_BYTES;
	uint8_t hdr[HDR_BYTES] = {NE_RSR_PRX | phy, next, count & 0xff,
				  count >> 8};
	uint32_t addr = (s->pstart + pos) * PAGE_BYTES;
	ring_write(s, &addr, hdr, sizeof(hdr));
	ring_write(s, &addr, buf, len);

	s->clda = addr;
	s->curr = next;
	s->ring_full = ring_pos(s, s->curr) == ring_pos(s, s->bnry);
	s->rsr = NE_RSR_PRX | phy;
	s->isr |= NE_ISR_PRX;
	s->rx_after_curr = s->curr_seen;
	s->stats.rx_frames++;
	s->stats.rx_bytes += len;
	update_irq(s);
	return NE2000_RX_STORED;
}

/* Pads runts, refuses giants, then the receiver proper. */
static enum ne2000_rx rx_sized(struct ne2000 *s, const uint8_t *buf, size_t len)
{
	uint8_t pad[NET_MIN_FRAME];
	if (len > NET_MAX_FRAME) {
		s->stats.rx_dropped++;
		return NE2000_RX_DROPPED;
	}
	if (len < NET_MIN_FRAME) {
		memset(pad, 0, sizeof(pad));
		if (len)
			memcpy(pad, buf, len);
		buf = pad;
		len = NET_MIN_FRAME;
	}
	return rx_frame(s, buf, len);
}

bool ne2000_can_receive(struct ne2000 *s)
{
	bool ok = rx_room(s);
	if (!ok)
		s->rx_waiting = true;
	return ok;
}

enum ne2000_rx ne2000_receive(struct ne2000 *s, const uint8_t *buf, size_t len)
{
	/* Stopped or looped back: the NIC does not listen to the wire. */
	if (!s->running || (s->tcr & NE_TCR_LB)) {
		s->rx_waiting = true;
		s->stats.rx_dropped++;
		return NE2000_RX_DROPPED;
	}
	enum ne2000_rx r = rx_sized(s, buf, len);
	if (!rx_room(s))
		s->rx_waiting = true;
	return r;
}

/* ---- transmit ---- */

static void transmit(struct ne2000 *s)
{
	uint32_t start = s->tpsr * PAGE_BYTES;
	size_t len = s->tbcr;

	if (len > NET_MAX_FRAME ||
	    (len && (start < NE2000_MEM_START || start + len > MEM_END))) {
		s->tsr = NE_TSR_ABT;
		s->isr |= NE_ISR_TXE;
		s->stats.tx_errors++;
		return;
	}
	if (len) {
		const uint8_t *frame = s->mem + (start - NE2000_MEM_START);
		s->clda = start + len;
		if (s->tcr & NE_TCR_LB) {
			uint8_t copy[NET_MAX_FRAME];
			memcpy(copy, frame, len);
			rx_sized(s, copy, len);
		} else {
			s->stats.tx_frames++;
			s->stats.tx_bytes += len;
			net_send(&s->be, frame, len);
		}
	}
	s->tsr = NE_TSR_PTX;
	s->isr |= NE_ISR_PTX;
}

/* ---- remote DMA through the data port ---- */

static void dma_advance(struct ne2000 *s, unsigned step)
{
	s->rsar += step;
	if (ring_valid(s) && s->rsar == (uint16_t)(s->pstop * PAGE_BYTES))
		s->rsar = s->pstart * PAGE_BYTES;
	if (s->rbcr) {
		s->rbcr = s->rbcr > step ? s->rbcr - step : 0;
		if (!s->rbcr) {
			s->isr |= NE_ISR_RDC;
			update_irq(s);
		}
	}
}

static uint16_t dma_read_word(struct ne2000 *s)
{
	uint16_t a = s->rsar & ~1u;
	uint8_t lo = mem_read8(s, a), hi = mem_read8(s, a + 1u);
	s->rsar = a;
	dma_advance(s, 2);
	return (s->dcr & NE_DCR_BOS) ? (lo << 8 | hi) : (hi << 8 | lo);
}

/* lanes: bit 0 the low byte of the bus word, bit 1 the high byte. */
static void dma_write_word(struct ne2000 *s, uint16_t w, unsigned lanes)
{
	uint16_t a = s->rsar & ~1u;
	bool swap = s->dcr & NE_DCR_BOS;
	if (lanes & 1)
		mem_write8(s, a + swap, w & 0xff);
	if (lanes & 2)
		mem_write8(s, a + !swap, w >> 8);
	s->rsar = a;
	dma_advance(s, 2);
}

/* One access of size bytes: one transfer per byte, or per word in word
 * mode (a byte access in word mode moves a whole word). */
static uint64_t data_read(struct ne2000 *s, unsigned size)
{
	uint64_t v = 0;
	if (s->dcr & NE_DCR_WTS) {
		for (unsigned i = 0; i < (size + 1) / 2; i++)
			v |= (uint64_t)dma_read_word(s) << (16 * i);
		return size < 8 ? v & ((1ull << (8 * size)) - 1) : v;
	}
	for (unsigned i = 0; i < size; i++) {
		v |= (uint64_t)mem_read8(s, s->rsar) << (8 * i);
		dma_advance(s, 1);
	}
	return v;
}

static void data_write(struct ne2000 *s, unsigned size, uint64_t v)
{
	if (s->dcr & NE_DCR_WTS) {
		for (unsigned i = 0; i < (size + 1) / 2; i++)
			dma_write_word(s, v >> (16 * i),
				       2 * i + 1 < size ? 3 : 1);
		return;
	}
	for (unsigned i = 0; i < size; i++) {
		mem_write8(s, s->rsar, v >> (8 * i));
		dma_advance(s, 1);
	}
}

/* ---- registers ---- */

/* Power-on/RESET values of the DP8390's control registers. */
static void chip_reset(struct ne2000 *s)
{
	s->running = false;
	s->page = 0;
	s->rd = 4;
	s->isr = NE_ISR_RST;
	s->imr = 0;
	s->tcr = 0;
	s->rsr = s->tsr = 0;
	s->ring_full = false;
	update_irq(s);
}

static uint8_t cr_value(const struct ne2000 *s)
{
	return s->page << 6 | s->rd << 3 | (s->running ? NE_CR_STA : NE_CR_STP);
}

/* Remote "send packet": read the frame at BNRY, count from its header. */
static void send_packet_cmd(struct ne2000 *s)
{
	uint16_t a = s->bnry * PAGE_BYTES;
	s->rsar = a;
	s->rbcr = mem_read8(s, a + 2u) | mem_read8(s, a + 3u) << 8;
}

static void write_cr(struct ne2000 *s, uint8_t v)
{
	s->page = v >> 6;
	if (v & NE_CR_STP) {
		s->running = false;
		s->isr |= NE_ISR_RST;
	} else if (v & NE_CR_STA) {
		s->running = true;
		s->isr &= ~NE_ISR_RST;
	}
	s->rd = (v >> 3) & 7;
	if (s->rd == 3)
		send_packet_cmd(s);
	if ((s->rd == 1 || s->rd == 2 || s->rd == 3) && s->rbcr == 0)
		s->isr |= NE_ISR_RDC;
	if ((v & NE_CR_TXP) && s->running)
		transmit(s);
}

static uint8_t read_cntr(struct ne2000 *s, int i)
{
	uint8_t v = s->cntr[i];
	s->cntr[i] = 0;
	return v;
}

static uint8_t page0_read(struct ne2000 *s, unsigned off)
{
	bool rtl = s->model == NE2000_RTL8029;
	switch (off) {
	case NE_CLDA0:
		return s->clda & 0xff;
	case NE_CLDA1:
		return s->clda >> 8;
	case NE_BNRY:
		return s->bnry;
	case NE_TSR:
		return s->tsr;
	case NE_ISR:
		return s->isr;
	case NE_CRDA0:
		return s->rsar & 0xff;
	case NE_CRDA1:
		return s->rsar >> 8;
	case NE_ID0:
		return rtl ? RTL_ID0 : 0;
	case NE_ID1:
		return rtl ? RTL_ID1 : 0;
	case NE_RSR:
		return s->rsr;
	case NE_CNTR0:
	case NE_CNTR1:
	case NE_CNTR2:
		return read_cntr(s, off - NE_CNTR0);
	default:
		return 0; /* NCR (no collisions), FIFO */
	}
}

static uint8_t page2_read(const struct ne2000 *s, unsigned off)
{
	switch (off) {
	case NE_PSTART:
		return s->pstart;
	case NE_PSTOP:
		return s->pstop;
	case 0x03:
		return s->rnpp;
	case NE_TPSR:
		return s->tpsr;
	case 0x05:
		return s->lnpp;
	case 0x06:
		return s->acu;
	case 0x07:
		return s->acl;
	case NE_RCR:
		return s->rcr;
	case NE_TCR:
		return s->tcr;
	case NE_DCR:
		return s->dcr;
	case NE_IMR:
		return s->imr;
	default:
		return 0;
	}
}

static uint8_t page3_read(const struct ne2000 *s, unsigned off)
{
	if (s->model != NE2000_RTL8029)
		return 0; /* DP8390: test page */
	switch (off) {
	case NE_9346CR:
		return s->cr9346;
	case NE_CONFIG2:
		return s->config2;
	case NE_CONFIG3:
		return s->config3;
	case NE_ASID0:
		return RTL_ASID0;
	case NE_ASID1:
		return RTL_ASID1;
	default:
		return 0; /* CONFIG0: 10BASE-T, no boot ROM, BPAGE ... */
	}
}

static uint8_t reg_read(struct ne2000 *s, unsigned off)
{
	if (off == NE_CR)
		return cr_value(s);
	switch (s->page) {
	case 0:
		return page0_read(s, off);
	case 1:
		if (off == NE_CURR) {
			s->curr_seen = true;
			s->rx_after_curr = false;
			return s->curr;
		}
		return off < NE_CURR ? s->par[off - NE_PAR0]
				     : s->mar[off - NE_MAR0];
	case 2:
		return page2_read(s, off);
	default:
		return page3_read(s, off);
	}
}

static void page0_write(struct ne2000 *s, unsigned off, uint8_t v)
{
	switch (off) {
	case NE_PSTART:
		s->pstart = v;
		break;
	case NE_PSTOP:
		s->pstop = v;
		break;
	case NE_BNRY:
		s->bnry = v;
		s->ring_full = false;
		if (s->running)
			s->isr &= ~NE_ISR_RST; /* packets were removed */
		break;
	case NE_TPSR:
		s->tpsr = v;
		break;
	case NE_TBCR0:
		s->tbcr = (s->tbcr & 0xff00) | v;
		break;
	case NE_TBCR1:
		s->tbcr = (s->tbcr & 0x00ff) | v << 8;
		break;
	case NE_ISR:
		s->isr &= ~(v & 0x7f);
		/* Linux's 8390 driver reads CURR, takes at most 9 frames,
		 * then acks PRX and counts on the next arrival for the rest.
		 * Here a frame can land between its last CURR read and the
		 * ack (an ioreq exit apart), and the backend stops offering
		 * frames while the ring is full: the next arrival may never
		 * come, and RX stalled for good. So an ack does not clear PRX
		 * for a frame stored after the guest's last CURR read, nor
		 * while the ring is full and the backend waits for room. */
		if ((v & NE_ISR_PRX) &&
		    ((s->curr_seen && s->rx_after_curr) ||
		     (s->rx_waiting && s->running && ring_valid(s) &&
		      !rx_room(s) && ring_free_pages(s) < ring_pages(s))))
			s->isr |= NE_ISR_PRX;
		if (v & NE_ISR_PRX)
			s->curr_seen = s->rx_after_curr = false;
		break;
	case NE_RSAR0:
		s->rsar = (s->rsar & 0xff00) | v;
		break;
	case NE_RSAR1:
		s->rsar = (s->rsar & 0x00ff) | v << 8;
		break;
	case NE_RBCR0:
		s->rbcr = (s->rbcr & 0xff00) | v;
		break;
	case NE_RBCR1:
		s->rbcr = (s->rbcr & 0x00ff) | v << 8;
		break;
	case NE_RCR:
		s->rcr = v & 0x3f;
		break;
	case NE_TCR:
		s->tcr = v & 0x1f;
		break;
	case NE_DCR:
		s->dcr = v & 0x7f;
		break;
	case NE_IMR:
		s->imr = v & 0x7f;
		break;
	}
}

static void page2_write(struct ne2000 *s, unsigned off, uint8_t v)
{
	switch (off) {
	case NE_CLDA0:
		s->clda = (s->clda & 0xff00) | v;
		break;
	case NE_CLDA1:
		s->clda = (s->clda & 0x00ff) | v << 8;
		break;
	case 0x03:
		s->rnpp = v;
		break;
	case 0x05:
		s->lnpp = v;
		break;
	case 0x06:
		s->acu = v;
		break;
	case 0x07:
		s->acl = v;
		break;
	default:
		break; /* reserved */
	}
}

static void page3_write(struct ne2000 *s, unsigned off, uint8_t v)
{
	if (s->model != NE2000_RTL8029)
		return;
	bool cfg = (s->cr9346 & EEM_CONFIG) == EEM_CONFIG;
	switch (off) {
	case NE_9346CR:
		s->cr9346 = v & 0xcf;
		if ((v & EEM_CONFIG) == EEM_AUTOLOAD) {
			/* Auto-load: configuration back from the EEPROM. */
			s->config2 = s->config3 = 0;
			s->cr9346 &= ~EEM_CONFIG;
		}
		break;
	case NE_CONFIG2:
		if (cfg)
			s->config2 = v & CONFIG2_MASK;
		break;
	case NE_CONFIG3:
		if (cfg)
			s->config3 = v & CONFIG3_MASK;
		break;
	default:
		break;
	}
}

static void reg_write(struct ne2000 *s, unsigned off, uint8_t v)
{
	if (off == NE_CR) {
		write_cr(s, v);
		return;
	}
	switch (s->page) {
	case 0:
		page0_write(s, off, v);
		break;
	case 1:
		if (off == NE_CURR) {
			s->curr = v;
			s->ring_full = false;
		} else if (off < NE_CURR) {
			s->par[off - NE_PAR0] = v;
		} else {
			s->mar[off - NE_MAR0] = v;
		}
		break;
	case 2:
		page2_write(s, off, v);
		break;
	default:
		page3_write(s, off, v);
		break;
	}
}

/* ---- the I/O range ---- */

static bool is_data_port(uint64_t off)
{
	return off >= NE_DATA && off < NE_DATA + 8;
}

static uint64_t ne_read(void *dev, uint64_t off, unsigned size)
{
	struct ne2000 *s = dev;
	uint64_t v = 0;

	if (is_data_port(off))
		return data_read(s, size);
	if (off >= NE_DATA + 8) {
		chip_reset(s);
		return 0;
	}
	for (unsigned i = 0; i < size; i++) {
		uint64_t b = off + i < NE_DATA ? reg_read(s, off + i) : 0xff;
		v |= b << (8 * i);
	}
	update_irq(s);
	return v;
}

static void ne_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct ne2000 *s = dev;

	if (is_data_port(off)) {
		data_write(s, size, val);
	} else if (off < NE_DATA) {
		for (unsigned i = 0; i < size && off + i < NE_DATA; i++)
			reg_write(s, off + i, val >> (8 * i));
	}
	/* A write to the reset port ends the reset pulse: nothing to do. */
	update_irq(s);
	check_rx_ready(s);
}

static uint32_t ne_read_str(void *dev, uint64_t off, unsigned size, void *buf,
			    uint32_t count)
{
	uint8_t *p = buf;
	if (!is_data_port(off))
		return 0;
	for (uint32_t i = 0; i < count; i++)
		put_le(p + (size_t)i * size, size, data_read(dev, size));
	return count;
}

static uint32_t ne_write_str(void *dev, uint64_t off, unsigned size,
			     const void *buf, uint32_t count)
{
	const uint8_t *p = buf;
	if (!is_data_port(off))
		return 0;
	for (uint32_t i = 0; i < count; i++)
		data_write(dev, size, get_le(p + (size_t)i * size, size));
	update_irq(dev);
	return count;
}

const struct io_ops ne2000_ops = {.read = ne_read,
				  .write = ne_write,
				  .read_str = ne_read_str,
				  .write_str = ne_write_str};

/* ---- construction ---- */

static bool nic_can_receive(void *nic)
{
	return ne2000_can_receive(nic);
}

static bool nic_receive(void *nic, const uint8_t *buf, size_t len)
{
	return ne2000_receive(nic, buf, len) == NE2000_RX_STORED;
}

const struct net_nic_ops ne2000_nic_ops = {.can_receive = nic_can_receive,
					   .receive = nic_receive};

struct ne2000 *ne2000_new(const uint8_t mac[NET_ETH_ALEN],
			  struct net_backend be)
{
	struct ne2000 *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->be = be;
	s->model = NE2000_RTL8029;
	/* 16-byte PROM image: MAC, 8 zero bytes, 'W' 'W' (NE2000 boards). */
	uint8_t rom[NE2000_PROM_SIZE / 2] = {0};
	memcpy(rom, mac, NET_ETH_ALEN);
	rom[14] = rom[15] = 0x57;
	for (int i = 0; i < NE2000_PROM_SIZE / 2; i++)
		s->prom[2 * i] = s->prom[2 * i + 1] = rom[i];
	ne2000_reset(s);
	return s;
}

void ne2000_free(struct ne2000 *s)
{
	free(s);
}

void ne2000_reset(struct ne2000 *s)
{
	s->rcr = s->dcr = 0;
	s->pstart = s->pstop = s->bnry = s->curr = s->tpsr = 0;
	s->tbcr = s->rsar = s->rbcr = s->clda = 0;
	memset(s->cntr, 0, sizeof(s->cntr));
	memset(s->mar, 0, sizeof(s->mar));
	for (int i = 0; i < NET_ETH_ALEN; i++)
		s->par[i] = s->prom[2 * i];
	s->rnpp = s->lnpp = s->acu = s->acl = 0;
	s->cr9346 = s->config2 = s->config3 = 0;
	memset(s->mem, 0, sizeof(s->mem));
	chip_reset(s);
}

int ne2000_attach_isa(struct ne2000 *s, struct bus *io, uint16_t base,
		      const struct irq_chip *irq, int line)
{
	s->model = NE2000_ISA;
	s->irq = irq;
	s->line = line;
	return bus_register(io, base, NE2000_IO_SIZE, &ne2000_ops, s, "ne2000");
}

struct pci_func *ne2000_attach_pci(struct ne2000 *s, struct pci_bus *pb,
				   int devnr)
{
	struct pci_func *f = pci_add_func(
	    pb, devnr, 0, NE2000_PCI_VENDOR, NE2000_PCI_DEVICE,
	    NE2000_PCI_CLASS, NE2000_PCI_VENDOR, NE2000_PCI_DEVICE, 1);
	if (!f)
		return NULL;
	if (pci_set_bar(f, 0, NE2000_IO_SIZE, PCI_BAR_IO, &ne2000_ops, s) < 0)
		return NULL;
	s->model = NE2000_RTL8029;
	s->pci = f;
	return f;
}

const struct ne2000_stats *ne2000_stats(const struct ne2000 *s)
{
	return &s->stats;
}

bool ne2000_irq_level(const struct ne2000 *s)
{
	return s->irq_out;
}
