/*
 * NE2000 (DP8390 core, ISA and RTL8029 PCI faces): registers, remote DMA,
 * transmit, receive ring, filters, interrupts, the Linux ne2k-pci/8390
 * sequences, and garbage input.
 */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hw/ne2000.h"
#include "hw/pci.h"
#include "tests/unit/fake_pc.h"

#define MAX_TX	  16
#define PCI_SLOT  3
#define PCI_IOBAR 0xc100
#define PCI_IRQ	  11

/* Linux 8390 driver constants (drivers/net/ethernet/8390/8390.h). */
#define L_TX_START 0x40
#define L_RX_START 0x4c /* tx start + TX_PAGES (12) */
#define L_STOP	   0x80
#define L_RXPAGES  (L_STOP - L_RX_START)

static const uint8_t MAC[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
static const uint8_t BCAST[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

struct rig {
	struct fake_pc pc;
	int line; /* the ISA line the NIC's interrupt reaches */
	uint16_t base;
	struct ne2000 *nic;
	/* fake backend */
	uint8_t tx[MAX_TX][NET_MAX_FRAME + 64];
	size_t txlen[MAX_TX];
	int ntx;
	int rx_ready;
	/* Linux driver state: ei_local->current_page */
	uint8_t current_page;
};

static void fake_send(void *opaque, const uint8_t *buf, size_t len)
{
	struct rig *r = opaque;
	if (r->ntx < MAX_TX) {
		cr_assert_leq(len, sizeof(r->tx[0]));
		memcpy(r->tx[r->ntx], buf, len);
		r->txlen[r->ntx] = len;
	}
	r->ntx++;
}

static void fake_rx_ready(void *opaque)
{
	((struct rig *)opaque)->rx_ready++;
}

static const struct net_backend_ops fake_ops = {.send = fake_send,
						.rx_ready = fake_rx_ready};

static struct rig *rig_isa(void)
{
	struct rig *r = calloc(1, sizeof(*r));
	fake_pc_init_isa(&r->pc);
	r->nic = ne2000_new(MAC, (struct net_backend){&fake_ops, r});
	cr_assert_not_null(r->nic);
	cr_assert_eq(ne2000_attach_isa(r->nic, &r->pc.io, NE2000_ISA_BASE,
				       &r->pc.chip, NE2000_ISA_IRQ),
		     0);
	r->base = NE2000_ISA_BASE;
	r->line = NE2000_ISA_IRQ;
	return r;
}

/* An RTL8029 in slot 3 behind i440FX/PIIX3, BAR0 at 0xC100, INTA routed
 * (slot 3 INTA = PIRQC) to IRQ 11, as firmware would leave it. */
static struct rig *rig_pci(void)
{
	struct rig *r = calloc(1, sizeof(*r));
	fake_pc_init(&r->pc);
	r->nic = ne2000_new(MAC, (struct net_backend){&fake_ops, r});
	cr_assert_not_null(ne2000_attach_pci(r->nic, r->pc.pb, PCI_SLOT));
	pc_setup_bar(&r->pc, PCI_SLOT, 0, PCI_IOBAR, PCI_CMD_IO);
	pc_route_pirq(&r->pc, 2, PCI_IRQ);
	r->base = PCI_IOBAR;
	r->line = PCI_IRQ;
	return r;
}

static void rig_free(struct rig *r)
{
	ne2000_free(r->nic);
	fake_pc_fini(&r->pc);
	free(r);
}

static void outb(struct rig *r, unsigned off, uint8_t v)
{
	pc_out(&r->pc, r->base + off, 1, v);
}

static uint8_t inb(struct rig *r, unsigned off)
{
	return pc_in(&r->pc, r->base + off, 1);
}

static void outw(struct rig *r, unsigned off, uint16_t v)
{
	pc_out(&r->pc, r->base + off, 2, v);
}

static uint16_t inw(struct rig *r, unsigned off)
{
	return pc_in(&r->pc, r->base + off, 2);
}

static uint32_t inl(struct rig *r, unsigned off)
{
	return pc_in(&r->pc, r->base + off, 4);
}

/* rep ins/outs: one bus access with count elements. */
static void ins(struct rig *r, unsigned size, void *buf, uint32_t count)
{
	bus_access(&r->pc.io, r->base + NE_DATA, size, false, buf, count);
}

static void outs(struct rig *r, unsigned size, const void *buf, uint32_t count)
{
	bus_access(&r->pc.io, r->base + NE_DATA, size, true, (void *)buf,
		   count);
}

static bool irq_line(struct rig *r)
{
	return r->pc.pic[r->line];
}

/* ---- raw remote DMA helpers (page 0 assumed) ---- */

static void rdma_setup(struct rig *r, uint16_t addr, uint16_t count,
		       uint8_t cmd)
{
	outb(r, NE_CR, NE_CR_NODMA | NE_CR_STA);
	outb(r, NE_RBCR0, count & 0xff);
	outb(r, NE_RBCR1, count >> 8);
	outb(r, NE_RSAR0, addr & 0xff);
	outb(r, NE_RSAR1, addr >> 8);
	outb(r, NE_CR, cmd | NE_CR_STA);
}

/* Byte-mode copies through the data port (DCR.WTS clear). */
static void poke(struct rig *r, uint16_t addr, const uint8_t *p, size_t n)
{
	outb(r, NE_DCR, 0x48);
	rdma_setup(r, addr, n, NE_CR_RWRITE);
	for (size_t i = 0; i < n; i++)
		outb(r, NE_DATA, p[i]);
}

static void peek(struct rig *r, uint16_t addr, uint8_t *p, size_t n)
{
	outb(r, NE_DCR, 0x48);
	rdma_setup(r, addr, n, NE_CR_RREAD);
	for (size_t i = 0; i < n; i++)
		p[i] = inb(r, NE_DATA);
}

static uint8_t page_read(struct rig *r, int page, unsigned off)
{
	outb(r, NE_CR, page << 6 | NE_CR_NODMA);
	uint8_t v = inb(r, off);
	outb(r, NE_CR, NE_CR_NODMA);
	return v;
}

static void page_write(struct rig *r, int page, unsigned off, uint8_t v)
{
	outb(r, NE_CR, page << 6 | NE_CR_NODMA);
	outb(r, off, v);
	outb(r, NE_CR, NE_CR_NODMA);
}

/* ---- the Linux ne2k-pci / 8390 sequences ---- */

/* ne2k_pci_init_one: 8390 check, reset, SA PROM read in word mode. */
static void linux_probe(struct rig *r, uint8_t sa_prom[32])
{
	uint8_t reg0 = inb(r, NE_CR);
	cr_assert_neq(reg0, 0xff);
	outb(r, NE_CR, NE_CR_NODMA | NE_CR_PAGE1 | NE_CR_STP);
	(void)inb(r, 0x0d);
	outb(r, 0x0d, 0xff);
	outb(r, NE_CR, NE_CR_NODMA);
	(void)inb(r, NE_CNTR0);
	cr_assert_eq(inb(r, NE_CNTR0), 0, "not an 8390");

	outb(r, NE_RESET, inb(r, NE_RESET));
	int spins = 0;
	while (!(inb(r, NE_ISR) & NE_ISR_RST))
		cr_assert_lt(++spins, 100, "no reset ack");
	outb(r, NE_ISR, 0xff);

	static const uint8_t seq[][2] = {
	    {0x21, NE_CR},    {0x49, NE_DCR},	{0x00, NE_RBCR0},
	    {0x00, NE_RBCR1}, {0x00, NE_IMR},	{0xff, NE_ISR},
	    {0x20, NE_RCR},   {0x02, NE_TCR},	{32, NE_RBCR0},
	    {0x00, NE_RBCR1}, {0x00, NE_RSAR0}, {0x00, NE_RSAR1},
	    {0x0a, NE_CR}};
	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++)
		outb(r, seq[i][1], seq[i][0]);
	for (int i = 0; i < 32; i++)
		sa_prom[i] = inb(r, NE_DATA);
	outb(r, NE_DCR, 0x49);
}

/* do_set_multicast_list for a running card. */
static void linux_set_rx_mode(struct rig *r, const uint8_t mc[8], uint8_t rxcfg)
{
	outb(r, NE_RCR, 0x04);
	outb(r, NE_CR, NE_CR_NODMA | NE_CR_PAGE1);
	for (int i = 0; i < 8; i++) {
		outb(r, NE_MAR0 + i, mc[i]);
		cr_assert_eq(inb(r, NE_MAR0 + i), mc[i]);
	}
	outb(r, NE_CR, NE_CR_NODMA);
	outb(r, NE_RCR, rxcfg);
}

/* __NS8390_init(dev, startp). */
static void linux_init(struct rig *r, int startp)
{
	outb(r, NE_CR, 0x21);
	outb(r, NE_DCR, 0x49);
	outb(r, NE_RBCR0, 0);
	outb(r, NE_RBCR1, 0);
	outb(r, NE_RCR, 0x20);
	outb(r, NE_TCR, 0x02);
	outb(r, NE_TPSR, L_TX_START);
	outb(r, NE_PSTART, L_RX_START);
	outb(r, NE_BNRY, L_STOP - 1);
	r->current_page = L_RX_START;
	outb(r, NE_PSTOP, L_STOP);
	outb(r, NE_ISR, 0xff);
	outb(r, NE_IMR, 0x00);
	outb(r, NE_CR, 0x61);
	for (int i = 0; i < 6; i++) {
		outb(r, NE_PAR0 + i, MAC[i]);
		cr_assert_eq(inb(r, NE_PAR0 + i), MAC[i]);
	}
	outb(r, NE_CURR, L_RX_START);
	outb(r, NE_CR, 0x21);
	if (startp) {
		static const uint8_t none[8];
		outb(r, NE_ISR, 0xff);
		outb(r, NE_IMR, 0x3f); /* ENISR_ALL */
		outb(r, NE_CR, 0x22);
		outb(r, NE_TCR, 0x00);
		outb(r, NE_RCR, 0x04);
		linux_set_rx_mode(r, none, 0x04);
	}
}

/* ne2k_pci_block_output (32-bit I/O, as for the RTL8029). */
static void linux_block_output(struct rig *r, const uint8_t *buf, int count,
			       int page)
{
	if (count & 1)
		count++;
	outb(r, NE_CR, 0x22);
	outb(r, NE_ISR, NE_ISR_RDC);
	outb(r, NE_RBCR0, count & 0xff);
	outb(r, NE_RBCR1, count >> 8);
	outb(r, NE_RSAR0, 0);
	outb(r, NE_RSAR1, page);
	outb(r, NE_CR, NE_CR_RWRITE | NE_CR_STA);
	outs(r, 4, buf, count >> 2);
	if (count & 2)
		outw(r, NE_DATA, buf[count & ~3] | buf[(count & ~3) + 1] << 8);
	int spins = 0;
	while (!(inb(r, NE_ISR) & NE_ISR_RDC))
		cr_assert_lt(++spins, 100, "timeout waiting for Tx RDC");
	outb(r, NE_ISR, NE_ISR_RDC);
}

/* ei_start_xmit with tx1 free, then NS8390_trigger_send. */
static void linux_xmit(struct rig *r, const uint8_t *data, int len)
{
	uint8_t buf[NET_MAX_FRAME + 2] = {0};
	memcpy(buf, data, len);
	int send_length = len < 60 ? 60 : len;
	outb(r, NE_IMR, 0x00);
	linux_block_output(r, buf, send_length, L_TX_START);
	outb(r, NE_CR, NE_CR_NODMA);
	cr_assert_eq(inb(r, NE_CR) & NE_CR_TXP, 0, "transmitter busy");
	outb(r, NE_TBCR0, send_length & 0xff);
	outb(r, NE_TBCR1, send_length >> 8);
	outb(r, NE_TPSR, L_TX_START);
	outb(r, NE_CR, NE_CR_NODMA | NE_CR_TXP | NE_CR_STA);
	outb(r, NE_IMR, 0x3f);
}

struct e8390_hdr {
	uint8_t status, next;
	uint16_t count;
};

static void linux_get_hdr(struct rig *r, struct e8390_hdr *h, int page)
{
	outb(r, NE_CR, 0x22);
	outb(r, NE_RBCR0, 4);
	outb(r, NE_RBCR1, 0);
	outb(r, NE_RSAR0, 0);
	outb(r, NE_RSAR1, page);
	outb(r, NE_CR, NE_CR_RREAD | NE_CR_STA);
	uint32_t v = inl(r, NE_DATA);
	h->status = v;
	h->next = v >> 8;
	h->count = v >> 16;
	outb(r, NE_ISR, NE_ISR_RDC);
}

static void linux_block_input(struct rig *r, uint8_t *buf, int count,
			      int offset)
{
	outb(r, NE_CR, 0x22);
	outb(r, NE_RBCR0, count & 0xff);
	outb(r, NE_RBCR1, count >> 8);
	outb(r, NE_RSAR0, offset & 0xff);
	outb(r, NE_RSAR1, offset >> 8);
	outb(r, NE_CR, NE_CR_RREAD | NE_CR_STA);
	ins(r, 4, buf, count >> 2);
	if (count & 3) {
		uint8_t *p = buf + (count & ~3);
		if (count & 2) {
			uint16_t w = inw(r, NE_DATA);
			p[0] = w;
			p[1] = w >> 8;
			p += 2;
		}
		if (count & 1)
			*p = inb(r, NE_DATA);
	}
	outb(r, NE_ISR, NE_ISR_RDC);
}

/* ei_receive: returns the number of frames taken; frames[i]/lens[i]. */
static int linux_receive(struct rig *r, uint8_t (*frames)[NET_MAX_FRAME],
			 int *lens, int max)
{
	int n = 0;
	for (int iter = 1; iter < 10; iter++) {
		outb(r, NE_CR, NE_CR_NODMA | NE_CR_PAGE1);
		uint8_t rxing = inb(r, NE_CURR);
		outb(r, NE_CR, NE_CR_NODMA);
		uint8_t this = inb(r, NE_BNRY) + 1;
		if (this >= L_STOP)
			this = L_RX_START;
		cr_assert_eq(this, r->current_page, "mismatched read page");
		if (this == rxing)
			break;
		struct e8390_hdr h;
		linux_get_hdr(r, &h, this);
		int pkt_len = h.count - 4;
		int next = this + 1 + ((pkt_len + 4) >> 8);
		cr_assert(h.next == next || h.next == next + 1 ||
			      h.next == next - L_RXPAGES ||
			      h.next == next + 1 - L_RXPAGES,
			  "next page %#x for this %#x len %d", h.next, this,
			  pkt_len);
		cr_assert(pkt_len >= 60 && pkt_len <= 1518, "len %d", pkt_len);
		cr_assert_eq(h.status & 0x0f, NE_RSR_PRX);
		cr_assert_lt(n, max);
		linux_block_input(r, frames[n], pkt_len, this * 256 + 4);
		lens[n++] = pkt_len;
		uint8_t nf = h.next;
		if (nf >= L_STOP)
			nf = L_RX_START;
		r->current_page = nf;
		outb(r, NE_BNRY, nf - 1);
	}
	outb(r, NE_ISR, NE_ISR_PRX | NE_ISR_RXE);
	return n;
}

static void make_frame(uint8_t *f, size_t len, const uint8_t *dst,
		       unsigned seed)
{
	memcpy(f, dst, 6);
	static const uint8_t src[6] = {0x02, 0, 0, 0, 0, 0x01};
	memcpy(f + 6, src, 6);
	f[12] = 0x08;
	f[13] = 0x00;
	for (size_t i = 14; i < len; i++)
		f[i] = (uint8_t)(i * 7 + seed);
}

static void linux_up(struct rig *r)
{
	uint8_t sa[32];
	linux_probe(r, sa);
	linux_init(r, 0);
	linux_init(r, 1);
}

/* ================= documented behaviour ================= */

Test(ne2000, power_on_and_reset_port)
{
	struct rig *r = rig_isa();
	cr_assert_eq(inb(r, NE_CR), 0x21, "stopped, no DMA, page 0");
	cr_assert_eq(inb(r, NE_ISR), NE_ISR_RST);
	cr_assert_not(irq_line(r), "RST never interrupts");
	outb(r, NE_ISR, 0xff);
	cr_assert_eq(inb(r, NE_ISR), NE_ISR_RST, "RST is status only");
	outb(r, NE_CR, NE_CR_NODMA | NE_CR_STA);
	cr_assert_eq(inb(r, NE_CR), 0x22);
	cr_assert_eq(inb(r, NE_ISR), 0, "start clears RST");
	/* CR without STA/STP keeps the state; page bits read back. */
	outb(r, NE_CR, NE_CR_NODMA | NE_CR_PAGE2);
	cr_assert_eq(inb(r, NE_CR), 0xa2);
	outb(r, NE_CR, NE_CR_NODMA);
	outb(r, NE_IMR, 0x3f);
	cr_assert_eq(page_read(r, 2, NE_IMR), 0x3f);
	/* Reading the reset port resets the 8390. */
	(void)inb(r, NE_RESET);
	cr_assert_eq(inb(r, NE_CR), 0x21);
	cr_assert_eq(inb(r, NE_ISR), NE_ISR_RST);
	cr_assert_eq(page_read(r, 2, NE_IMR), 0);
	/* Writes to the reset port do nothing. */
	outb(r, NE_CR, 0x22);
	outb(r, NE_RESET, 0x55);
	cr_assert_eq(inb(r, NE_CR), 0x22);
	/* PAR starts as the PROM's MAC. */
	for (int i = 0; i < 6; i++)
		cr_assert_eq(page_read(r, 1, NE_PAR0 + i), MAC[i]);
	rig_free(r);
}

Test(ne2000, isa_attach_rejects_overlap)
{
	struct rig *r = rig_isa();
	struct ne2000 *b = ne2000_new(MAC, (struct net_backend){0});
	cr_assert_eq(ne2000_attach_isa(b, &r->pc.io, NE2000_ISA_BASE + 0x10,
				       &r->pc.chip, 10),
		     -1);
	cr_assert_eq(bus_find(&r->pc.io, NE2000_ISA_BASE + 0x1f)->dev, r->nic);
	cr_assert_null(bus_find(&r->pc.io, NE2000_ISA_BASE + 0x20));
	ne2000_free(b);
	rig_free(r);
}

Test(ne2000, prom_word_mode_as_ne2k_pci_reads_it)
{
	struct rig *r = rig_pci();
	uint8_t sa[32];
	linux_probe(r, sa);
	/* Word mode: each inb is one word transfer, so the doubled PROM
	 * reads back undoubled: MAC, zeros, 'W' 'W'. */
	cr_assert_arr_eq(sa, MAC, 6);
	for (int i = 6; i < 14; i++)
		cr_assert_eq(sa[i], 0, "byte %d", i);
	cr_assert_eq(sa[14], 0x57);
	cr_assert_eq(sa[15], 0x57);
	for (int i = 16; i < 32; i++)
		cr_assert_eq(sa[i], 0xff, "past the PROM: %d", i);
	cr_assert(inb(r, NE_ISR) & NE_ISR_RDC, "32 bytes moved");
	rig_free(r);
}

Test(ne2000, prom_byte_mode_doubled)
{
	struct rig *r = rig_isa();
	uint8_t p[32];
	peek(r, 0, p, 32);
	for (int i = 0; i < 6; i++) {
		cr_assert_eq(p[2 * i], MAC[i]);
		cr_assert_eq(p[2 * i + 1], MAC[i]);
	}
	cr_assert_eq(p[28], 0x57);
	cr_assert_eq(p[31], 0x57);
	/* iPXE's 16-bit read: romdata[i + i] is the MAC. */
	outb(r, NE_DCR, 0x49);
	rdma_setup(r, 0, 16, NE_CR_RREAD);
	uint16_t w[8];
	ins(r, 2, w, 8);
	for (int i = 0; i < 6; i++)
		cr_assert_eq(w[i], MAC[i] | MAC[i] << 8);
	/* The PROM is read-only. */
	uint8_t z[4] = {0};
	poke(r, 0, z, 4);
	peek(r, 0, p, 2);
	cr_assert_eq(p[0], MAC[0]);
	rig_free(r);
}

Test(ne2000, remote_dma_byte_and_word)
{
	struct rig *r = rig_isa();
	uint8_t pat[16], back[16];
	for (int i = 0; i < 16; i++)
		pat[i] = 0xa0 + i;
	poke(r, 0x4100, pat, 16);
	cr_assert(inb(r, NE_ISR) & NE_ISR_RDC);
	cr_assert_eq(inb(r, NE_CRDA0), 0x10, "CRDA follows the transfer");
	cr_assert_eq(inb(r, NE_CRDA1), 0x41);
	/* Word mode, little endian. */
	outb(r, NE_ISR, NE_ISR_RDC);
	outb(r, NE_DCR, 0x49);
	rdma_setup(r, 0x4100, 16, NE_CR_RREAD);
	cr_assert_eq(inw(r, NE_DATA), 0xa1a0);
	cr_assert_eq(inl(r, NE_DATA), 0xa5a4a3a2, "a dword is two words");
	cr_assert_not(inb(r, NE_ISR) & NE_ISR_RDC);
	uint16_t w[5];
	ins(r, 2, w, 5);
	cr_assert_eq(w[0], 0xa7a6);
	cr_assert_eq(w[4], 0xafae);
	cr_assert(inb(r, NE_ISR) & NE_ISR_RDC, "count reached 0");
	/* Big-endian words (DCR.BOS). */
	outb(r, NE_DCR, 0x4b);
	rdma_setup(r, 0x4100, 2, NE_CR_RREAD);
	cr_assert_eq(inw(r, NE_DATA), 0xa0a1);
	/* Word mode ignores address bit 0. */
	outb(r, NE_DCR, 0x49);
	rdma_setup(r, 0x4103, 2, NE_CR_RREAD);
	cr_assert_eq(inw(r, NE_DATA), 0xa3a2);
	/* Word writes, with a string burst. */
	uint16_t ww[3] = {0x1122, 0x3344, 0x5566};
	rdma_setup(r, 0x4200, 6, NE_CR_RWRITE);
	outs(r, 2, ww, 3);
	peek(r, 0x4200, back, 6);
	const uint8_t want[6] = {0x22, 0x11, 0x44, 0x33, 0x66, 0x55};
	cr_assert_arr_eq(back, want, 6);
	/* Odd count in word mode: the last word finishes the count. */
	outb(r, NE_DCR, 0x49);
	outb(r, NE_ISR, 0xff);
	rdma_setup(r, 0x4200, 5, NE_CR_RREAD);
	(void)inw(r, NE_DATA);
	(void)inw(r, NE_DATA);
	cr_assert_not(inb(r, NE_ISR) & NE_ISR_RDC);
	(void)inw(r, NE_DATA);
	cr_assert(inb(r, NE_ISR) & NE_ISR_RDC);
	rig_free(r);
}

Test(ne2000, remote_dma_wraps_at_pstop)
{
	struct rig *r = rig_isa();
	outb(r, NE_PSTART, 0x46);
	outb(r, NE_PSTOP, 0x60);
	uint8_t pat[8] = {1, 2, 3, 4, 5, 6, 7, 8}, back[8];
	poke(r, 0x5ffc, pat, 8);
	cr_assert_eq(inb(r, NE_CRDA1), 0x46, "continued at PSTART");
	cr_assert_eq(inb(r, NE_CRDA0), 0x04);
	peek(r, 0x4600, back, 4);
	cr_assert_arr_eq(back, pat + 4, 4);
	peek(r, 0x5ffc, back, 8);
	cr_assert_arr_eq(back, pat, 8, "reads wrap too");
	/* Word mode crosses the end the same way. */
	outb(r, NE_DCR, 0x49);
	rdma_setup(r, 0x5ffe, 4, NE_CR_RREAD);
	cr_assert_eq(inw(r, NE_DATA), 0x0403);
	cr_assert_eq(inw(r, NE_DATA), 0x0605);
	rig_free(r);
}

Test(ne2000, transmit_reaches_backend_exactly)
{
	struct rig *r = rig_pci();
	linux_up(r);
	uint8_t f[1514];
	make_frame(f, sizeof(f), BCAST, 3);
	linux_xmit(r, f, sizeof(f));
	cr_assert_eq(r->ntx, 1);
	cr_assert_eq(r->txlen[0], sizeof(f));
	cr_assert_arr_eq(r->tx[0], f, sizeof(f));
	cr_assert(irq_line(r), "PTX interrupt on the routed IRQ");
	cr_assert_eq(inb(r, NE_ISR), NE_ISR_PTX);
	cr_assert_eq(inb(r, NE_TSR), NE_TSR_PTX);
	cr_assert_eq(inb(r, NE_CR) & NE_CR_TXP, 0);
	outb(r, NE_ISR, NE_ISR_PTX);
	cr_assert_not(irq_line(r));
	/* A 42-byte ARP-sized frame is padded to 60 by the driver. */
	make_frame(f, 42, BCAST, 9);
	linux_xmit(r, f, 42);
	cr_assert_eq(r->txlen[1], 60);
	cr_assert_arr_eq(r->tx[1], f, 42);
	const struct ne2000_stats *st = ne2000_stats(r->nic);
	cr_assert_eq(st->tx_frames, 2);
	cr_assert_eq(st->tx_bytes, 1514 + 60);
	rig_free(r);
}

/* Reads page p's 4-byte header and len bytes after it (remote DMA). */
static void read_ring(struct rig *r, int page, struct e8390_hdr *h,
		      uint8_t *data, int len)
{
	uint8_t raw[4];
	peek(r, page * 256, raw, 4);
	h->status = raw[0];
	h->next = raw[1];
	h->count = raw[2] | raw[3] << 8;
	if (len)
		peek(r, page * 256 + 4, data, len);
}

Test(ne2000, receive_into_ring)
{
	struct rig *r = rig_isa();
	linux_up(r);
	cr_assert(ne2000_can_receive(r->nic));
	uint8_t f[100], back[100];
	make_frame(f, sizeof(f), MAC, 1);
	cr_assert_eq(ne2000_receive(r->nic, f, sizeof(f)), NE2000_RX_STORED);
	cr_assert(irq_line(r));
	cr_assert_eq(inb(r, NE_ISR), NE_ISR_PRX);
	cr_assert_eq(inb(r, NE_RSR), NE_RSR_PRX);
	cr_assert_eq(page_read(r, 1, NE_CURR), L_RX_START + 1);
	struct e8390_hdr h;
	read_ring(r, L_RX_START, &h, back, sizeof(back));
	cr_assert_eq(h.status, NE_RSR_PRX);
	cr_assert_eq(h.next, L_RX_START + 1);
	cr_assert_eq(h.count, 104, "frame + 4-byte header");
	cr_assert_arr_eq(back, f, sizeof(f));
	/* A 253-byte frame needs 2 pages (header + FCS room). */
	uint8_t g[253];
	make_frame(g, sizeof(g), MAC, 2);
	ne2000_receive(r->nic, g, sizeof(g));
	cr_assert_eq(page_read(r, 1, NE_CURR), L_RX_START + 3);
	read_ring(r, L_RX_START + 1, &h, NULL, 0);
	cr_assert_eq(h.next, L_RX_START + 3);
	rig_free(r);
}

Test(ne2000, receive_wraps_at_pstop)
{
	struct rig *r = rig_isa();
	linux_up(r);
	/* Pretend the guest has consumed up to page 0x7d. */
	outb(r, NE_BNRY, 0x7d);
	page_write(r, 1, NE_CURR, 0x7e);
	uint8_t f[600], back[600];
	make_frame(f, sizeof(f), MAC, 5);
	cr_assert_eq(ne2000_receive(r->nic, f, sizeof(f)), NE2000_RX_STORED);
	/* 604 bytes + FCS room: pages 0x7e, 0x7f, 0x4c; next 0x4d. */
	cr_assert_eq(page_read(r, 1, NE_CURR), 0x4d);
	struct e8390_hdr h;
	read_ring(r, 0x7e, &h, back, sizeof(back));
	cr_assert_eq(h.next, 0x4d);
	cr_assert_eq(h.count, 604);
	cr_assert_arr_eq(back, f, sizeof(f), "remote DMA wrapped at PSTOP");
	/* The part past the end really is at PSTART. */
	uint8_t tail[4];
	peek(r, 0x4c00, tail, 4);
	cr_assert_arr_eq(tail, f + (0x8000 - 0x7e04), 4);
	rig_free(r);
}

Test(ne2000, runt_padded_to_60)
{
	struct rig *r = rig_isa();
	linux_up(r);
	uint8_t f[20], back[60];
	make_frame(f, sizeof(f), MAC, 7);
	ne2000_receive(r->nic, f, sizeof(f));
	struct e8390_hdr h;
	read_ring(r, L_RX_START, &h, back, 60);
	cr_assert_eq(h.count, 64);
	cr_assert_arr_eq(back, f, 20);
	for (int i = 20; i < 60; i++)
		cr_assert_eq(back[i], 0);
	rig_free(r);
}

Test(ne2000, address_filter)
{
	struct rig *r = rig_isa();
	linux_up(r); /* RCR = AB */
	uint8_t f[64];
	const uint8_t other[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x57};
	const uint8_t mc[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01};
	const uint8_t mc2[6] = {0x33, 0x33, 0x00, 0x00, 0x00, 0x01};

	make_frame(f, 64, other, 0);
	cr_assert_eq(ne2000_receive(r->nic, f, 64), NE2000_RX_FILTERED);
	make_frame(f, 64, BCAST, 0);
	cr_assert_eq(ne2000_receive(r->nic, f, 64), NE2000_RX_STORED);
	cr_assert_eq(inb(r, NE_RSR), NE_RSR_PRX | NE_RSR_PHY);
	make_frame(f, 64, mc, 0);
	cr_assert_eq(ne2000_receive(r->nic, f, 64), NE2000_RX_FILTERED,
		     "AM off");

	/* 01:00:5e:00:00:01: ether_crc() = bitrev32(crc32_le(~0, addr))
	 * has top six bits 31 (computed independently with zlib), so MAR3
	 * bit 7; 33:33:00:00:00:01 hashes to 62 (MAR7 bit 6). */
	cr_assert_eq(ne2000_mcast_index(mc), 31);
	cr_assert_eq(ne2000_mcast_index(mc2), 62);
	uint8_t mar[8] = {0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff};
	linux_set_rx_mode(r, mar, 0x04 | NE_RCR_AM);
	cr_assert_eq(ne2000_receive(r->nic, f, 64), NE2000_RX_FILTERED,
		     "every bit but the right one");
	memset(mar, 0, 8);
	mar[3] = 0x80;
	linux_set_rx_mode(r, mar, 0x04 | NE_RCR_AM);
	cr_assert_eq(ne2000_receive(r->nic, f, 64), NE2000_RX_STORED);
	cr_assert_eq(inb(r, NE_RSR), NE_RSR_PRX | NE_RSR_PHY);
	make_frame(f, 64, mc2, 0);
	cr_assert_eq(ne2000_receive(r->nic, f, 64), NE2000_RX_FILTERED);

	/* Broadcast needs AB even with AM and its hash bit (63) set. */
	memset(mar, 0xff, 8);
	linux_set_rx_mode(r, mar, NE_RCR_AM);
	make_frame(f, 64, BCAST, 0);
	cr_assert_eq(ne2000_receive(r->nic, f, 64), NE2000_RX_FILTERED);

	/* Promiscuous: any unicast. */
	linux_set_rx_mode(r, mar, 0x04 | NE_RCR_PRO | NE_RCR_AM);
	make_frame(f, 64, other, 0);
	cr_assert_eq(ne2000_receive(r->nic, f, 64), NE2000_RX_STORED);
	cr_assert_eq(inb(r, NE_RSR), NE_RSR_PRX);
	/* Own address with PAR changed: filter follows PAR. */
	linux_set_rx_mode(r, mar, 0x04);
	page_write(r, 1, NE_PAR0 + 5, 0x57);
	cr_assert_eq(ne2000_receive(r->nic, f, 64), NE2000_RX_STORED);
	make_frame(f, 64, MAC, 0);
	cr_assert_eq(ne2000_receive(r->nic, f, 64), NE2000_RX_FILTERED);
	cr_assert_eq(ne2000_stats(r->nic)->rx_filtered, 6);
	rig_free(r);
}

Test(ne2000, isr_imr_and_the_line)
{
	struct rig *r = rig_isa();
	linux_up(r);
	outb(r, NE_IMR, 0);
	uint8_t f[64];
	make_frame(f, 64, MAC, 0);
	ne2000_receive(r->nic, f, 64);
	cr_assert_eq(inb(r, NE_ISR), NE_ISR_PRX);
	cr_assert_not(irq_line(r), "masked");
	outb(r, NE_IMR, NE_ISR_PTX);
	cr_assert_not(irq_line(r));
	outb(r, NE_IMR, NE_ISR_PRX);
	cr_assert(irq_line(r), "unmasking a pending bit raises the line");
	cr_assert(ne2000_irq_level(r->nic));
	outb(r, NE_ISR, NE_ISR_PTX); /* writing 0 to PRX keeps it */
	cr_assert(irq_line(r));
	outb(r, NE_ISR, NE_ISR_PRX);
	cr_assert_eq(inb(r, NE_ISR), 0);
	cr_assert_not(irq_line(r));
	/* RDC: remote DMA completion interrupts when enabled. */
	outb(r, NE_IMR, NE_ISR_RDC);
	rdma_setup(r, 0x4000, 2, NE_CR_RREAD);
	cr_assert_not(irq_line(r));
	(void)inw(r, NE_DATA);
	cr_assert(irq_line(r));
	outb(r, NE_ISR, NE_ISR_RDC);
	/* RBCR = 0 completes at once. */
	rdma_setup(r, 0x4000, 0, NE_CR_RWRITE);
	cr_assert(irq_line(r));
	rig_free(r);
}

Test(ne2000, pci_face_header_ids_and_inta)
{
	struct rig *r = rig_pci();
	cr_assert_eq(pc_cfg_rd(&r->pc, PCI_SLOT, 0, 4), 0x802910ec);
	cr_assert_eq(pc_cfg_rd(&r->pc, PCI_SLOT, 0x08, 4), 0x02000000);
	cr_assert_eq(pc_cfg_rd(&r->pc, PCI_SLOT, PCI_INTERRUPT_PIN, 1), 1);
	cr_assert_eq(pc_cfg_rd(&r->pc, PCI_SLOT, PCI_BAR0, 4), PCI_IOBAR | 1);
	pc_cfg_wr(&r->pc, PCI_SLOT, PCI_BAR0, 4, 0xffffffff);
	cr_assert_eq(pc_cfg_rd(&r->pc, PCI_SLOT, PCI_BAR0, 4), 0xffffffe1,
		     "32 bytes of I/O");
	pc_cfg_wr(&r->pc, PCI_SLOT, PCI_BAR0, 4, PCI_IOBAR);
	/* RTL8029AS ID bytes: page 0 0x0A/0x0B, page 3 0x0E/0x0F. */
	cr_assert_eq(inb(r, NE_ID0), 0x50);
	cr_assert_eq(inb(r, NE_ID1), 0x43);
	cr_assert_eq(page_read(r, 3, NE_ASID0), 0x29);
	cr_assert_eq(page_read(r, 3, NE_ASID1), 0x80);
	cr_assert_eq(page_read(r, 3, NE_CONFIG0), 0);
	/* Linux's set_realtek_fdx: CONFIG3 writable only with 9346CR EEM=11. */
	page_write(r, 3, NE_CONFIG3, 0x40);
	cr_assert_eq(page_read(r, 3, NE_CONFIG3), 0);
	outb(r, NE_CR, 0xc0 | NE_CR_NODMA);
	outb(r, NE_9346CR, 0xc0);
	outb(r, NE_CONFIG3, 0x40);
	outb(r, NE_9346CR, 0x00);
	outb(r, NE_CR, NE_CR_NODMA);
	cr_assert_eq(page_read(r, 3, NE_CONFIG3), 0x40);
	/* INTA -> PIRQC -> IRQ 11, and Interrupt Disable masks it. */
	linux_up(r);
	uint8_t f[64];
	make_frame(f, 64, MAC, 0);
	ne2000_receive(r->nic, f, 64);
	cr_assert(r->pc.pic[PCI_IRQ]);
	cr_assert(pc_cfg_rd(&r->pc, PCI_SLOT, PCI_STATUS, 2) & PCI_STATUS_INTX);
	pc_cfg_wr(&r->pc, PCI_SLOT, PCI_COMMAND, 2,
		  PCI_CMD_IO | PCI_CMD_INTX_DISABLE);
	cr_assert_not(r->pc.pic[PCI_IRQ]);
	pc_cfg_wr(&r->pc, PCI_SLOT, PCI_COMMAND, 2, PCI_CMD_IO);
	outb(r, NE_ISR, 0xff);
	cr_assert_not(r->pc.pic[PCI_IRQ]);
	/* I/O decode off: the ports are gone. */
	pc_cfg_wr(&r->pc, PCI_SLOT, PCI_COMMAND, 2, 0);
	cr_assert_eq(inb(r, NE_CR), 0xff);
	rig_free(r);
}

Test(ne2000, isa_face_has_no_rtl_ids)
{
	struct rig *r = rig_isa();
	cr_assert_eq(inb(r, NE_ID0), 0);
	cr_assert_eq(page_read(r, 3, NE_ASID0), 0);
	rig_free(r);
}

Test(ne2000, tally_counters_clear_on_read)
{
	struct rig *r = rig_isa();
	linux_up(r);
	outb(r, NE_RCR, NE_RCR_MON | NE_RCR_AB); /* monitor: not buffered */
	uint8_t f[64];
	make_frame(f, 64, MAC, 0);
	cr_assert_not(ne2000_can_receive(r->nic));
	for (int i = 0; i < 3; i++)
		cr_assert_eq(ne2000_receive(r->nic, f, 64), NE2000_RX_DROPPED);
	cr_assert_eq(inb(r, NE_RSR), NE_RSR_MPA | NE_RSR_DIS);
	cr_assert(inb(r, NE_ISR) & NE_ISR_RXE);
	cr_assert_eq(page_read(r, 1, NE_CURR), L_RX_START, "nothing stored");
	cr_assert_eq(inb(r, NE_CNTR2), 3);
	cr_assert_eq(inb(r, NE_CNTR2), 0);
	cr_assert_eq(inb(r, NE_CNTR0), 0);
	/* ISR.CNT once a counter reaches 128; the count stops at 192. */
	outb(r, NE_ISR, 0xff);
	for (int i = 0; i < 127; i++)
		ne2000_receive(r->nic, f, 64);
	cr_assert_not(inb(r, NE_ISR) & NE_ISR_CNT);
	ne2000_receive(r->nic, f, 64);
	cr_assert(inb(r, NE_ISR) & NE_ISR_CNT);
	for (int i = 0; i < 100; i++)
		ne2000_receive(r->nic, f, 64);
	cr_assert_eq(inb(r, NE_CNTR2), 192);
	rig_free(r);
}

Test(ne2000, overflow_never_overwrites)
{
	struct rig *r = rig_isa();
	linux_up(r);
	uint8_t f[1514];
	int stored = 0;
	r->rx_ready = 0;
	while (ne2000_can_receive(r->nic)) {
		make_frame(f, sizeof(f), MAC, stored);
		cr_assert_eq(ne2000_receive(r->nic, f, sizeof(f)),
			     NE2000_RX_STORED);
		cr_assert_lt(++stored, 100);
	}
	/* 51 usable pages, 6 per full frame. */
	cr_assert_eq(stored, 8);
	uint8_t before[0x3400];
	peek(r, L_RX_START * 256, before, sizeof(before));
	/* Three more pages are free: a small frame still fits... */
	uint8_t s[64];
	make_frame(s, 64, MAC, 99);
	cr_assert_eq(ne2000_receive(r->nic, s, 64), NE2000_RX_STORED);
	cr_assert_eq(page_read(r, 1, NE_CURR), 0x7d);
	peek(r, L_RX_START * 256, before, sizeof(before));
	/* ...a big one does not: overflow, nothing written. */
	outb(r, NE_ISR, 0xff);
	cr_assert_eq(ne2000_receive(r->nic, f, sizeof(f)), NE2000_RX_DROPPED);
	uint8_t isr = inb(r, NE_ISR);
	cr_assert(isr & NE_ISR_OVW);
	cr_assert(isr & NE_ISR_RXE);
	cr_assert(isr & NE_ISR_RST);
	cr_assert_eq(inb(r, NE_RSR), NE_RSR_MPA);
	cr_assert_eq(inb(r, NE_CNTR2), 1);
	cr_assert_eq(page_read(r, 1, NE_CURR), 0x7d);
	uint8_t after[0x3400];
	peek(r, L_RX_START * 256, after, sizeof(after));
	cr_assert_arr_eq(after, before, sizeof(after));
	cr_assert_eq(ne2000_stats(r->nic)->rx_overflows, 1);

	/* The driver's recovery: stop, restart in loopback, drain, go. */
	cr_assert_eq(r->rx_ready, 0);
	outb(r, NE_CR, 0x21);
	outb(r, NE_RBCR0, 0);
	outb(r, NE_RBCR1, 0);
	outb(r, NE_TCR, 0x02);
	outb(r, NE_CR, 0x22);
	cr_assert_not(inb(r, NE_ISR) & NE_ISR_RST);
	uint8_t(*frames)[NET_MAX_FRAME] = malloc(10 * NET_MAX_FRAME);
	int lens[10];
	cr_assert_eq(linux_receive(r, frames, lens, 10), 9);
	cr_assert_eq(lens[0], 1514);
	make_frame(f, sizeof(f), MAC, 0);
	cr_assert_arr_eq(frames[0], f, 1514);
	cr_assert_eq(lens[8], 64);
	cr_assert_arr_eq(frames[8], s, 64);
	cr_assert_eq(r->rx_ready, 0, "still in loopback");
	outb(r, NE_ISR, NE_ISR_OVW);
	outb(r, NE_TCR, 0x00);
	cr_assert_eq(r->rx_ready, 1, "the backend may read again");
	cr_assert(ne2000_can_receive(r->nic));
	free(frames);
	rig_free(r);
}

Test(ne2000, ring_full_when_nic_reaches_bnry)
{
	struct rig *r = rig_isa();
	linux_up(r);
	/* A 7-page ring; BNRY one behind CURR as Linux keeps it. */
	outb(r, NE_CR, 0x21);
	outb(r, NE_PSTART, 0x60);
	outb(r, NE_PSTOP, 0x67);
	outb(r, NE_BNRY, 0x66);
	page_write(r, 1, NE_CURR, 0x60);
	outb(r, NE_CR, 0x22);
	uint8_t f[200];
	make_frame(f, sizeof(f), MAC, 0);
	for (int i = 0; i < 6; i++)
		cr_assert_eq(ne2000_receive(r->nic, f, sizeof(f)),
			     NE2000_RX_STORED, "frame %d", i);
	cr_assert_eq(page_read(r, 1, NE_CURR), 0x66, "CURR == BNRY: full");
	cr_assert_eq(ne2000_receive(r->nic, f, sizeof(f)), NE2000_RX_DROPPED);
	cr_assert(inb(r, NE_ISR) & NE_ISR_OVW);
	/* The guest writing BNRY == CURR means it read everything. */
	outb(r, NE_BNRY, 0x66);
	cr_assert_eq(ne2000_receive(r->nic, f, sizeof(f)), NE2000_RX_STORED);
	rig_free(r);
}

Test(ne2000, receiver_off_states)
{
	struct rig *r = rig_isa();
	uint8_t f[64];
	make_frame(f, 64, MAC, 0);
	cr_assert_not(ne2000_can_receive(r->nic), "stopped at power-on");
	cr_assert_eq(ne2000_receive(r->nic, f, 64), NE2000_RX_DROPPED);
	linux_probe(r, (uint8_t[32]){0});
	linux_init(r, 0);
	cr_assert_not(ne2000_can_receive(r->nic));
	cr_assert_eq(r->rx_ready, 0);
	linux_init(r, 1);
	cr_assert_eq(r->rx_ready, 1, "started: backend told once");
	cr_assert(ne2000_can_receive(r->nic));
	outb(r, NE_TCR, 0x02);
	cr_assert_not(ne2000_can_receive(r->nic), "loopback: off the wire");
	cr_assert_eq(ne2000_receive(r->nic, f, 64), NE2000_RX_DROPPED);
	outb(r, NE_TCR, 0);
	cr_assert_eq(r->rx_ready, 2);
	/* Through the generic interface. */
	cr_assert(ne2000_nic_ops.can_receive(r->nic));
	cr_assert(ne2000_nic_ops.receive(r->nic, f, 64));
	rig_free(r);
}

Test(ne2000, loopback_transmit)
{
	struct rig *r = rig_isa();
	linux_up(r);
	outb(r, NE_TCR, 0x02);
	uint8_t f[80], back[80];
	make_frame(f, sizeof(f), MAC, 4);
	linux_xmit(r, f, sizeof(f));
	cr_assert_eq(r->ntx, 0, "nothing on the wire");
	cr_assert_eq(inb(r, NE_TSR), NE_TSR_PTX);
	cr_assert_eq(inb(r, NE_ISR), NE_ISR_PTX | NE_ISR_PRX);
	struct e8390_hdr h;
	read_ring(r, L_RX_START, &h, back, sizeof(back));
	cr_assert_eq(h.count, 84);
	cr_assert_arr_eq(back, f, sizeof(f));
	/* Looped back frames go through the address filter. */
	make_frame(f, sizeof(f), (uint8_t[6]){2, 2, 2, 2, 2, 2}, 0);
	outb(r, NE_ISR, 0xff);
	linux_xmit(r, f, sizeof(f));
	cr_assert_eq(inb(r, NE_ISR), NE_ISR_PTX);
	rig_free(r);
}

Test(ne2000, linux_open_xmit_receive_sequence)
{
	struct rig *r = rig_pci();
	uint8_t sa[32];
	linux_probe(r, sa);
	cr_assert_arr_eq(sa, MAC, 6);
	linux_init(r, 0); /* end of probe */
	linux_init(r, 1); /* ei_open */
	cr_assert_eq(inb(r, NE_CR), 0x22);
	cr_assert_not(irq_line(r));

	/* ei_start_xmit, then the interrupt handler's first round. */
	uint8_t f[98];
	make_frame(f, sizeof(f), BCAST, 11);
	linux_xmit(r, f, sizeof(f));
	cr_assert(irq_line(r));
	outb(r, NE_CR, NE_CR_NODMA);
	uint8_t isr = inb(r, NE_ISR);
	cr_assert_eq(isr, NE_ISR_PTX);
	cr_assert(inb(r, NE_TSR) & NE_TSR_PTX);
	outb(r, NE_ISR, NE_ISR_PTX);
	outb(r, NE_CR, NE_CR_NODMA | NE_CR_STA);
	cr_assert_eq(inb(r, NE_ISR), 0);
	cr_assert_not(irq_line(r));
	cr_assert_arr_eq(r->tx[0], f, sizeof(f));

	/* Frames of every size class arrive, including ring wrap. */
	static const int sizes[] = {
	    60,	 61,  62,  63,	64,  251, 252,	253,  254,  255,  256,	257,
	    508, 509, 510, 511, 512, 513, 1000, 1514, 1514, 1514, 1514, 1514};
	const int nsizes = sizeof(sizes) / sizeof(sizes[0]);
	uint8_t(*frames)[NET_MAX_FRAME] = malloc(10 * NET_MAX_FRAME);
	uint8_t want[1514];
	int lens[10], got = 0, sent = 0;
	for (int round = 0; round < 40 && got < 3 * nsizes; round++) {
		int pushed = 0;
		while (sent < 3 * nsizes && ne2000_can_receive(r->nic)) {
			int len = sizes[sent % nsizes];
			make_frame(want, len, MAC, sent);
			cr_assert_eq(ne2000_receive(r->nic, want, len),
				     NE2000_RX_STORED);
			sent++;
			pushed++;
		}
		/* ei_receive takes at most 9 frames per interrupt; the rest
		 * wait for the next PRX, as on real hardware. */
		cr_assert_eq(irq_line(r), pushed > 0);
		outb(r, NE_CR, NE_CR_NODMA);
		isr = inb(r, NE_ISR);
		cr_assert_eq(isr & NE_ISR_OVW, 0);
		cr_assert_eq(!!(isr & NE_ISR_PRX), pushed > 0);
		int n = linux_receive(r, frames, lens, 10);
		for (int i = 0; i < n; i++, got++) {
			int len = sizes[got % nsizes];
			make_frame(want, len, MAC, got);
			cr_assert_eq(lens[i], len);
			cr_assert_arr_eq(frames[i], want, len, "frame %d", got);
		}
		outb(r, NE_CR, NE_CR_NODMA | NE_CR_STA);
	}
	cr_assert_eq(got, 3 * nsizes);
	cr_assert_not(irq_line(r));
	free(frames);
	rig_free(r);
}

/* ================= garbage input ================= */

Test(ne2000, bad_ring_registers)
{
	struct rig *r = rig_isa();
	linux_up(r);
	uint8_t f[300], g[64];
	make_frame(f, sizeof(f), MAC, 0);
	make_frame(g, sizeof(g), MAC, 0);
	/* PSTART >= PSTOP: no ring. */
	const uint8_t bad[][2] = {{0x80, 0x4c}, {0x50, 0x50}, {0xff, 0}};
	for (size_t i = 0; i < 3; i++) {
		outb(r, NE_PSTART, bad[i][0]);
		outb(r, NE_PSTOP, bad[i][1]);
		cr_assert_not(ne2000_can_receive(r->nic));
		cr_assert_eq(ne2000_receive(r->nic, f, sizeof(f)),
			     NE2000_RX_DROPPED);
		cr_assert_eq(inb(r, NE_RSR), NE_RSR_MPA);
		/* Remote DMA does not wrap without a ring. */
		uint8_t b[2];
		peek(r, 0x4ffe, b, 2);
		cr_assert_eq(inb(r, NE_CRDA1), 0x50);
	}
	/* CURR outside the ring is taken modulo the ring. */
	outb(r, NE_PSTART, L_RX_START);
	outb(r, NE_PSTOP, L_STOP);
	outb(r, NE_BNRY, 0x4b); /* Linux: PSTART - 1 = PSTOP - 1 */
	page_write(r, 1, NE_CURR, 0x10);
	uint8_t txarea[0xc00];
	peek(r, 0x4000, txarea, sizeof(txarea));
	cr_assert_eq(ne2000_receive(r->nic, f, sizeof(f)), NE2000_RX_STORED);
	uint8_t curr = page_read(r, 1, NE_CURR);
	cr_assert(curr >= L_RX_START && curr < L_STOP, "CURR %#x", curr);
	struct e8390_hdr h;
	read_ring(r, curr - 2, &h, NULL, 0);
	cr_assert_eq(h.count, 304);
	uint8_t txarea2[0xc00];
	peek(r, 0x4000, txarea2, sizeof(txarea2));
	cr_assert_arr_eq(txarea, txarea2, sizeof(txarea), "TX pages intact");
	/* CURR >= PSTOP, BNRY far outside: still inside, still bounded. */
	page_write(r, 1, NE_CURR, 0xff);
	outb(r, NE_BNRY, 0x00);
	for (int i = 0; i < 200; i++)
		ne2000_receive(r->nic, g, sizeof(g));
	curr = page_read(r, 1, NE_CURR);
	cr_assert(curr >= L_RX_START && curr < L_STOP);
	/* A one-page ring holds one small frame and no more. */
	outb(r, NE_CR, 0x21);
	outb(r, NE_PSTART, 0x70);
	outb(r, NE_PSTOP, 0x71);
	outb(r, NE_BNRY, 0x70);
	page_write(r, 1, NE_CURR, 0x70);
	outb(r, NE_CR, 0x22);
	cr_assert_eq(ne2000_receive(r->nic, g, sizeof(g)), NE2000_RX_STORED);
	cr_assert_eq(ne2000_receive(r->nic, g, sizeof(g)), NE2000_RX_DROPPED);
	cr_assert_eq(ne2000_receive(r->nic, f, sizeof(f)), NE2000_RX_DROPPED);
	/* A ring partly outside the RAM: the part outside is lost. */
	outb(r, NE_CR, 0x21);
	outb(r, NE_PSTART, 0x7e);
	outb(r, NE_PSTOP, 0xc0);
	outb(r, NE_BNRY, 0xbf);
	page_write(r, 1, NE_CURR, 0x7f);
	outb(r, NE_CR, 0x22);
	cr_assert_eq(ne2000_receive(r->nic, f, sizeof(f)), NE2000_RX_STORED);
	read_ring(r, 0x7f, &h, NULL, 0);
	cr_assert_eq(h.count, 304);
	rig_free(r);
}

Test(ne2000, remote_dma_past_the_buffer)
{
	struct rig *r = rig_isa();
	outb(r, NE_PSTART, 0x4c);
	outb(r, NE_PSTOP, 0x80);
	uint8_t b[8], ones[8];
	memset(ones, 0xff, 8);
	/* 0x8000-0xFFFF: no memory. */
	uint8_t pat[8] = {9, 9, 9, 9, 9, 9, 9, 9};
	poke(r, 0x9000, pat, 8);
	peek(r, 0x9000, b, 8);
	cr_assert_arr_eq(b, ones, 8);
	/* Between PROM and RAM: nothing either. */
	peek(r, 0x0100, b, 8);
	cr_assert_arr_eq(b, ones, 8);
	/* The address counter wraps at 16 bits into the PROM. */
	peek(r, 0xfffe, b, 4);
	cr_assert_eq(b[0], 0xff);
	cr_assert_eq(b[2], MAC[0]);
	cr_assert_eq(inb(r, NE_CRDA1), 0x00);
	/* RBCR 65535: as many transfers as the guest does, no more. */
	outb(r, NE_DCR, 0x49);
	outb(r, NE_ISR, 0xff);
	rdma_setup(r, 0x4000, 0xffff, NE_CR_RREAD);
	uint16_t *w = malloc(0x8000 * 2);
	ins(r, 2, w, 0x7fff);
	cr_assert_not(inb(r, NE_ISR) & NE_ISR_RDC);
	ins(r, 2, w, 1);
	cr_assert(inb(r, NE_ISR) & NE_ISR_RDC, "65535 -> 1 -> 0");
	/* Past the count the port keeps working, RDC is not re-raised. */
	outb(r, NE_ISR, NE_ISR_RDC);
	ins(r, 2, w, 4096);
	cr_assert_not(inb(r, NE_ISR) & NE_ISR_RDC);
	free(w);
	rig_free(r);
}

Test(ne2000, bad_transmit_registers)
{
	struct rig *r = rig_isa();
	linux_up(r);
	struct {
		uint8_t tpsr;
		uint16_t tbcr;
		bool ok;
	} cases[] = {
	    {0x40, 0, true},	   /* nothing sent, but completes */
	    {0x40, 1519, false},   /* too long */
	    {0x40, 0xffff, false}, /* way too long */
	    {0x7f, 600, false},	   /* runs past the RAM */
	    {0x7f, 256, true},	   /* exactly the last page */
	    {0x00, 64, false},	   /* PROM area */
	    {0x20, 64, false},	   /* no memory */
	    {0xff, 64, false},	   /* past the end */
	    {0x40, 1518, true},	   /* the largest frame */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int before = r->ntx;
		outb(r, NE_ISR, 0xff);
		outb(r, NE_TPSR, cases[i].tpsr);
		outb(r, NE_TBCR0, cases[i].tbcr & 0xff);
		outb(r, NE_TBCR1, cases[i].tbcr >> 8);
		outb(r, NE_CR, NE_CR_NODMA | NE_CR_TXP | NE_CR_STA);
		uint8_t isr = inb(r, NE_ISR);
		if (cases[i].ok) {
			cr_assert_eq(isr, NE_ISR_PTX, "case %zu", i);
			cr_assert_eq(inb(r, NE_TSR), NE_TSR_PTX);
			cr_assert_eq(r->ntx, before + (cases[i].tbcr ? 1 : 0));
			if (cases[i].tbcr)
				cr_assert_eq(r->txlen[r->ntx - 1],
					     cases[i].tbcr);
		} else {
			cr_assert_eq(isr, NE_ISR_TXE, "case %zu", i);
			cr_assert_eq(inb(r, NE_TSR), NE_TSR_ABT);
			cr_assert_eq(r->ntx, before, "case %zu", i);
		}
		cr_assert_eq(inb(r, NE_CR) & NE_CR_TXP, 0);
	}
	cr_assert_eq(ne2000_stats(r->nic)->tx_errors, 6);
	/* TXP while stopped does nothing. */
	outb(r, NE_CR, 0x21);
	outb(r, NE_ISR, 0xff);
	outb(r, NE_TPSR, 0x40);
	outb(r, NE_TBCR0, 60);
	outb(r, NE_TBCR1, 0);
	outb(r, NE_CR, NE_CR_NODMA | NE_CR_TXP);
	cr_assert_eq(inb(r, NE_ISR) & (NE_ISR_PTX | NE_ISR_TXE), 0);
	rig_free(r);
}

Test(ne2000, bad_receive_lengths)
{
	struct rig *r = rig_isa();
	linux_up(r);
	uint8_t *big = calloc(1, 70000);
	memcpy(big, MAC, 6);
	cr_assert_eq(ne2000_receive(r->nic, big, 1519), NE2000_RX_DROPPED);
	cr_assert_eq(ne2000_receive(r->nic, big, 65536), NE2000_RX_DROPPED);
	cr_assert_eq(ne2000_receive(r->nic, big, 65540), NE2000_RX_DROPPED);
	cr_assert_eq(ne2000_receive(r->nic, big, (size_t)-1),
		     NE2000_RX_DROPPED);
	cr_assert_eq(page_read(r, 1, NE_CURR), L_RX_START);
	cr_assert_eq(ne2000_receive(r->nic, big, 1518), NE2000_RX_STORED);
	/* Zero bytes: a padded all-zero frame, not for us. */
	cr_assert_eq(ne2000_receive(r->nic, big, 0), NE2000_RX_FILTERED);
	outb(r, NE_RCR, NE_RCR_PRO);
	cr_assert_eq(ne2000_receive(r->nic, NULL, 0), NE2000_RX_STORED);
	free(big);
	rig_free(r);
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Random values to every register of every page and every offset of the
 * range, random frames both ways; then the driver must still work. */
static void fuzz(struct rig *r, uint64_t seed, int steps)
{
	uint64_t s = seed;
	uint8_t *buf = malloc(65536);
	double t0 = now_s();
	for (int i = 0; i < steps; i++) {
		uint64_t x = xorshift(&s);
		unsigned off = x & 0x1f;
		unsigned size = 1u << ((x >> 5) & 3);
		uint32_t v = x >> 32;
		switch ((x >> 8) % 10) {
		case 0:
		case 1:
		case 2:
			pc_out(&r->pc, r->base + off, size > 4 ? 4 : size, v);
			break;
		case 3:
		case 4:
			(void)pc_in(&r->pc, r->base + off, size > 4 ? 4 : size);
			break;
		case 5: { /* string I/O at any offset, up to a page */
			uint32_t count = (v & 0x3ff) + 1;
			unsigned sz = size > 4 ? 4 : size;
			for (uint32_t k = 0; k < count * sz; k++)
				buf[k] = xorshift(&s);
			bus_access(&r->pc.io, r->base + off, sz, (x >> 12) & 1,
				   buf, count);
			break;
		}
		case 6: { /* a frame from the wire, any length */
			size_t len = v & 0x7ff;
			if (((x >> 16) & 0xff) == 0)
				len = v & 0xffff;
			for (size_t k = 0; k < len && k < 65536; k++)
				buf[k] = xorshift(&s);
			if ((x >> 24) & 1)
				memcpy(buf, MAC, 6);
			if (ne2000_can_receive(r->nic) || ((x >> 25) & 1))
				ne2000_receive(r->nic, buf, len);
			break;
		}
		case 7: /* a transmit with whatever TPSR/TBCR hold */
			pc_out(&r->pc, r->base + NE_CR, 1,
			       (v & 0xc0) | NE_CR_TXP | NE_CR_STA |
				   NE_CR_NODMA);
			break;
		case 8: /* a page switch and a write in that page */
			pc_out(&r->pc, r->base + NE_CR, 1, v & 0xff);
			pc_out(&r->pc, r->base + 1 + (off % 15), 1, v >> 8);
			break;
		default: /* sometimes a reset */
			if ((v & 0xff) == 0)
				(void)pc_in(&r->pc, r->base + NE_RESET, 1);
			else
				(void)ne2000_can_receive(r->nic);
			break;
		}
		cr_assert_eq(ne2000_irq_level(r->nic), irq_line(r));
	}
	double dt = now_s() - t0;
	cr_assert_lt(dt, 20.0, "%d steps took %.1f s", steps, dt);
	free(buf);
}

Test(ne2000, fuzz_every_register_then_still_works, .timeout = 60)
{
	for (uint64_t seed = 1; seed <= 4; seed++) {
		struct rig *r = seed & 1 ? rig_isa() : rig_pci();
		fuzz(r, seed * 0x9e3779b97f4a7c15ull, 100000);
		/* The same card, brought up again by the driver. */
		r->ntx = 0;
		linux_up(r);
		uint8_t f[300];
		make_frame(f, sizeof(f), BCAST, 1);
		linux_xmit(r, f, sizeof(f));
		cr_assert_eq(r->ntx, 1);
		cr_assert_arr_eq(r->tx[0], f, sizeof(f));
		outb(r, NE_ISR, 0xff);
		make_frame(f, sizeof(f), MAC, 2);
		cr_assert_eq(ne2000_receive(r->nic, f, sizeof(f)),
			     NE2000_RX_STORED);
		uint8_t(*frames)[NET_MAX_FRAME] = malloc(10 * NET_MAX_FRAME);
		int lens[10];
		cr_assert_eq(linux_receive(r, frames, lens, 10), 1);
		cr_assert_arr_eq(frames[0], f, sizeof(f));
		free(frames);
		rig_free(r);
	}
}
