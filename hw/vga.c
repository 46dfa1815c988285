/*
 * IBM VGA (Video Graphics Array) with the Bochs VBE "dispi" extensions,
 * as the PCI standard VGA 1234:1111 that SeaBIOS's vgabios-stdvga drives.
 * Facts from IBM's "VGA and XGA Technical Reference Manual" (register
 * descriptions: sequencer, CRT controller, graphics controller, attribute
 * controller, DAC, general registers, the memory write/read modes), the
 * FreeVGA register documentation, and the Bochs VBE interface as Bochs'
 * vbe.h and SeaBIOS's vgasrc/bochsvga.c use it (index 0x1CE, data 0x1CF).
 *
 *  - Ports 0x3C0-0x3DF; CRTC and input status 1 at 0x3D4/0x3D5/0x3DA with
 *    misc output bit 0 set, at 0x3B4/0x3B5/0x3BA with it clear (the other
 *    pair then floats: reads 0xFF, writes ignored).
 *  - 0x3C0: one flip-flop alternates index and data writes; a read of
 *    input status 1 resets it to "index". Index bit 5 (PAS) off blanks the
 *    screen while the palette is loaded.
 *  - DAC: a write to 0x3C8 (0x3C7) sets the write (read) index; 0x3C9 then
 *    moves red, green, blue and the index steps to the next entry.
 *  - Input status 1 toggles its retrace and display-enable bits on every
 *    read, so "wait for retrace" loops in either direction end.
 *  - Memory: the 0xA0000-0xBFFFF window per graphics register 6; chain-4,
 *    odd/even and planar addressing; write modes 0-3 (rotate, set/reset,
 *    logical function, bit mask, latches), read modes 0-1.
 *  - Index registers that name no register read 0xFF and ignore writes.
 *  - VBE: with ENABLED set the window is linear at BANK * 64 KiB (planar
 *    for 4 bpp); a resolution that does not fit VRAM keeps the card
 *    disabled; a bank or offset beyond VRAM is refused (register kept).
 */
#include "hw/vga.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hw/pci.h"

#define PLANE_SIZE  (VGA_VRAM_SIZE / 4)
#define NPAGES	    (VGA_VRAM_SIZE >> VGA_PAGE_SHIFT)
#define PLANE_FONTS 0x10000 /* the 8 fonts' plane 2 span */

struct vga {
	uint8_t *vram;
	uint64_t dirty[NPAGES / 64];
	bool full; /* a register changed: redraw everything */
	/* Plane 2 (the fonts) may have changed: every text cell redraws.
	 * The planes interleave, so page bits cannot tell this apart. */
	bool font_dirty;

	uint8_t misc, fcr, vga_enable;
	uint8_t sr_index, sr[8];
	uint8_t gr_index, gr[16];
	uint8_t cr_index, cr[32];
	uint8_t ar_index, ar[32];
	bool ar_flip; /* the next 0x3C0 write is data */
	uint8_t st1;  /* input status 1 toggle bits */
	uint8_t latch[4];

	uint8_t dac_mask, dac_state;
	uint8_t dac_rindex, dac_windex, dac_rsub, dac_wsub;
	uint8_t dac[256][3];

	uint16_t vbe_index;
	uint16_t vbe[VBE_INDEX_COUNT];

	struct pci_func *pci;
	uint8_t *rom;
	uint32_t rom_size;

	/* Render state. */
	struct vga_frame frame;
	size_t frame_cap;
	struct vga_info last; /* the mode of the frame */
	uint32_t last_start, last_pitch;
	/* Text: what each cell showed (char | attr << 8 | flags << 16). */
	uint32_t *cells;
	size_t ncells;
	bool blink_on, cursor_on;
	uint32_t pal256[256]; /* the DAC as XRGB, for this update */
};

/* ---- registers --------------------------------------------------------- */

static const uint8_t sr_mask[8] = {0x03, 0x3d, 0x0f, 0x3f, 0x0e};
static const uint8_t gr_mask[16] = {0x0f, 0x0f, 0x0f, 0x1f, 0x03,
				    0x7b, 0x0f, 0x0f, 0xff};
#define NSR 5
#define NGR 9
#define NCR 0x19
#define NAR 0x15

static bool mono(const struct vga *s)
{
	return !(s->misc & 1);
}

static void mark_all(struct vga *s)
{
	s->full = true;
}

static void mark(struct vga *s, uint64_t off, uint64_t len)
{
	if (!len || off >= VGA_VRAM_SIZE)
		return;
	if (len > VGA_VRAM_SIZE - off)
		len = VGA_VRAM_SIZE - off;
	for (uint64_t p = off >> VGA_PAGE_SHIFT;
	     p <= (off + len - 1) >> VGA_PAGE_SHIFT; p++)
		s->dirty[p / 64] |= 1ull << (p % 64);
}

void vga_mark_dirty(struct vga *s, uint64_t off, uint64_t len)
{
	if (len && off < PLANE_FONTS * 4)
		s->font_dirty = true;
	mark(s, off, len);
}

void vga_mark_dirty_pages(struct vga *s, const uint64_t *bits, size_t first,
			  size_t npages)
{
	for (size_t i = 0; i < npages && first + i < NPAGES; i++)
		if (bits[i / 64] & (1ull << (i % 64))) {
			size_t p = first + i;
			if (p < (PLANE_FONTS * 4) >> VGA_PAGE_SHIFT)
				s->font_dirty = true;
			s->dirty[p / 64] |= 1ull << (p % 64);
		}
}

static bool range_dirty(const struct vga *s, uint64_t lo, uint64_t hi)
{
	if (hi > VGA_VRAM_SIZE)
		hi = VGA_VRAM_SIZE;
	if (lo >= hi)
		return false;
	for (uint64_t p = lo >> VGA_PAGE_SHIFT; p <= (hi - 1) >> VGA_PAGE_SHIFT;
	     p++)
		if (s->dirty[p / 64] & (1ull << (p % 64)))
			return true;
	return false;
}

static void ar_write(struct vga *s, uint8_t v)
{
	if (!s->ar_flip) {
		s->ar_index = v & 0x3f;
	} else {
		unsigned i = s->ar_index & 0x1f;
		if (i < 0x10)
			s->ar[i] = v & 0x3f;
		else if (i == 0x10)
			s->ar[i] = v & 0xef;
		else if (i == 0x11)
			s->ar[i] = v;
		else if (i == 0x12)
			s->ar[i] = v & 0x0f;
		else if (i < NAR)
			s->ar[i] = v & 0x0f;
	}
	s->ar_flip = !s->ar_flip;
	mark_all(s);
}

static void dac_data_write(struct vga *s, uint8_t v)
{
	s->dac[s->dac_windex][s->dac_wsub] = v;
	if (++s->dac_wsub == 3) {
		s->dac_wsub = 0;
		s->dac_windex++;
	}
	mark_all(s);
}

static uint8_t dac_data_read(struct vga *s)
{
	uint8_t v = s->dac[s->dac_rindex][s->dac_rsub];
	if (++s->dac_rsub == 3) {
		s->dac_rsub = 0;
		s->dac_rindex++;
	}
	return v;
}

static void cr_write(struct vga *s, uint8_t v)
{
	unsigned i = s->cr_index;
	if (i >= NCR)
		return;
	/* CR11 bit 7 protects CR00-CR07, but for CR07's line compare bit. */
	if ((s->cr[0x11] & 0x80) && i <= 7) {
		if (i == 7)
			s->cr[7] = (s->cr[7] & ~0x10) | (v & 0x10);
		return;
	}
	s->cr[i] = v;
	mark_all(s);
}

/* Port p of 0x3B0-0x3DF: does it decode in the current mono/colour mode? */
static bool port_decoded(const struct vga *s, uint16_t p)
{
	if (p >= 0x3b0 && p < 0x3c0)
		return mono(s);
	if (p >= 0x3d0)
		return !mono(s);
	return true;
}

static uint8_t port_read(struct vga *s, uint16_t p)
{
	if (!port_decoded(s, p))
		return 0xff;
	switch (p) {
	case 0x3c0:
		return s->ar_index;
	case 0x3c1: {
		unsigned i = s->ar_index & 0x1f;
		return i < NAR ? s->ar[i] : 0xff;
	}
	case 0x3c2:
		return 0x10; /* switch sense: a colour monitor */
	case 0x3c3:
		return s->vga_enable;
	case 0x3c4:
		return s->sr_index;
	case 0x3c5:
		return s->sr_index < NSR ? s->sr[s->sr_index] : 0xff;
	case 0x3c6:
		return s->dac_mask;
	case 0x3c7:
		return s->dac_state;
	case 0x3c8:
		return s->dac_windex;
	case 0x3c9:
		return dac_data_read(s);
	case 0x3ca:
		return s->fcr;
	case 0x3cc:
		return s->misc;
	case 0x3ce:
		return s->gr_index;
	case 0x3cf:
		return s->gr_index < NGR ? s->gr[s->gr_index] : 0xff;
	case 0x3b4:
	case 0x3d4:
		return s->cr_index;
	case 0x3b5:
	case 0x3d5:
		return s->cr_index < NCR ? s->cr[s->cr_index] : 0xff;
	case 0x3ba:
	case 0x3da:
		s->ar_flip = false;
		s->st1 ^= 0x09; /* vertical retrace, display disabled */
		return s->st1;
	default:
		return 0xff;
	}
}

static void port_write(struct vga *s, uint16_t p, uint8_t v)
{
	if (!port_decoded(s, p))
		return;
	switch (p) {
	case 0x3c0:
		ar_write(s, v);
		break;
	case 0x3c2:
		s->misc = v;
		mark_all(s);
		break;
	case 0x3c3:
		s->vga_enable = v & 1;
		break;
	case 0x3c4:
		s->sr_index = v;
		break;
	case 0x3c5:
		if (s->sr_index < NSR) {
			s->sr[s->sr_index] = v & sr_mask[s->sr_index];
			mark_all(s);
		}
		break;
	case 0x3c6:
		s->dac_mask = v;
		mark_all(s);
		break;
	case 0x3c7:
		s->dac_rindex = v;
		s->dac_rsub = 0;
		s->dac_state = 3;
		break;
	case 0x3c8:
		s->dac_windex = v;
		s->dac_wsub = 0;
		s->dac_state = 0;
		break;
	case 0x3c9:
		dac_data_write(s, v);
		break;
	case 0x3ce:
		s->gr_index = v;
		break;
	case 0x3cf:
		if (s->gr_index < NGR) {
			s->gr[s->gr_index] = v & gr_mask[s->gr_index];
			mark_all(s);
		}
		break;
	case 0x3b4:
	case 0x3d4:
		s->cr_index = v;
		break;
	case 0x3b5:
	case 0x3d5:
		cr_write(s, v);
		break;
	case 0x3ba:
	case 0x3da:
		s->fcr = v & 0x0b;
		break;
	default:
		break;
	}
}

static uint64_t vga_io_read(void *dev, uint64_t off, unsigned size)
{
	(void)size;
	return port_read(dev, (uint16_t)(VGA_PORT_BASE + off));
}

static void vga_io_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	(void)size;
	port_write(dev, (uint16_t)(VGA_PORT_BASE + off), (uint8_t)val);
}

static uint64_t mono_io_read(void *dev, uint64_t off, unsigned size)
{
	(void)size;
	return port_read(dev, (uint16_t)(VGA_MONO_BASE + off));
}

static void mono_io_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	(void)size;
	port_write(dev, (uint16_t)(VGA_MONO_BASE + off), (uint8_t)val);
}

static const struct io_ops vga_io_ops = {
    .read = vga_io_read, .write = vga_io_write, .width = 1};
static const struct io_ops mono_io_ops = {
    .read = mono_io_read, .write = mono_io_write, .width = 1};

/* ---- Bochs VBE --------------------------------------------------------- */

static bool vbe_on(const struct vga *s)
{
	return s->vbe[VBE_INDEX_ENABLE] & VBE_ENABLED;
}

static unsigned vbe_bytespp(unsigned bpp)
{
	return bpp == 15 ? 2 : bpp / 8;
}

/* Bytes per scanline of a virtual width (4 bpp: bytes per plane). */
static uint32_t vbe_line(unsigned bpp, unsigned width)
{
	return bpp == 4 ? width / 8 : width * vbe_bytespp(bpp);
}

/* The bytes a bpp plane can hold (4 bpp: one plane's worth). */
static uint32_t vbe_space(unsigned bpp)
{
	return bpp == 4 ? PLANE_SIZE : VGA_VRAM_SIZE;
}

static bool valid_bpp(unsigned bpp)
{
	return bpp == 4 || bpp == 8 || bpp == 15 || bpp == 16 || bpp == 24 ||
	       bpp == 32;
}

/* Frame start in VRAM (4 bpp: plane offset) from the x/y offsets. */
static uint64_t vbe_start(const struct vga *s)
{
	unsigned bpp = s->vbe[VBE_INDEX_BPP];
	uint64_t line = vbe_line(bpp, s->vbe[VBE_INDEX_VIRT_WIDTH]);
	uint64_t x = s->vbe[VBE_INDEX_X_OFFSET];
	return s->vbe[VBE_INDEX_Y_OFFSET] * line +
	       (bpp == 4 ? x / 8 : x * vbe_bytespp(bpp));
}

static bool vbe_fits(const struct vga *s)
{
	unsigned bpp = s->vbe[VBE_INDEX_BPP];
	uint64_t line = vbe_line(bpp, s->vbe[VBE_INDEX_VIRT_WIDTH]);
	uint64_t vis = vbe_line(bpp, s->vbe[VBE_INDEX_XRES]);
	uint64_t y = s->vbe[VBE_INDEX_YRES];
	return y && vis &&
	       vbe_start(s) + (y - 1) * line + vis <= vbe_space(bpp);
}

static void vbe_enable(struct vga *s, uint16_t v)
{
	unsigned bpp = s->vbe[VBE_INDEX_BPP];
	unsigned x = s->vbe[VBE_INDEX_XRES], y = s->vbe[VBE_INDEX_YRES];
	uint64_t line = vbe_line(bpp, x);
	if (!x || !y || !line || !valid_bpp(bpp) || line * y > vbe_space(bpp) ||
	    (bpp == 4 && x % 8))
		v &= ~VBE_ENABLED; /* refused: the card stays as it was */
	if ((v & VBE_ENABLED) && !vbe_on(s)) {
		s->vbe[VBE_INDEX_VIRT_WIDTH] = x;
		uint64_t h = vbe_space(bpp) / line;
		s->vbe[VBE_INDEX_VIRT_HEIGHT] = h > 0xffff ? 0xffff : h;
		s->vbe[VBE_INDEX_X_OFFSET] = s->vbe[VBE_INDEX_Y_OFFSET] = 0;
		s->vbe[VBE_INDEX_BANK] = 0;
		/* Only what the mode shows: clearing all 16 MiB cost
		 * 20 ms an enable in the KVM test VM and touched every
		 * page of VRAM. */
		if (!(v & VBE_NOCLEARMEM)) {
			uint64_t n = line * y * (bpp == 4 ? 4 : 1);
			memset(s->vram, 0, n);
			mark(s, 0, n);
		}
		/* Graphics mode, the window at 0xA0000 for 64 KiB, as the
		 * VBE BIOS expects for banked access. */
		s->gr[6] = (s->gr[6] & ~0x0c) | 0x05;
		s->sr[4] = bpp == 4 ? 0x06 : 0x0e;
		s->ar_index |= 0x20;
	}
	s->vbe[VBE_INDEX_ENABLE] =
	    v & (VBE_ENABLED | VBE_GETCAPS | VBE_8BIT_DAC | VBE_LFB_ENABLED |
		 VBE_NOCLEARMEM);
	mark_all(s);
}

static void vbe_set_virt_width(struct vga *s, uint16_t w)
{
	unsigned bpp = s->vbe[VBE_INDEX_BPP];
	uint64_t line = vbe_line(bpp, w);
	if (w < s->vbe[VBE_INDEX_XRES] || !line ||
	    line * s->vbe[VBE_INDEX_YRES] > vbe_space(bpp))
		return;
	s->vbe[VBE_INDEX_VIRT_WIDTH] = w;
	uint64_t h = vbe_space(bpp) / line;
	s->vbe[VBE_INDEX_VIRT_HEIGHT] = h > 0xffff ? 0xffff : h;
}

static void vbe_write(struct vga *s, uint16_t v)
{
	unsigned i = s->vbe_index;
	uint16_t old;
	switch (i) {
	case VBE_INDEX_ID:
		if (v >= VBE_ID0 && v <= VBE_ID5)
			s->vbe[i] = v;
		break;
	case VBE_INDEX_XRES:
	case VBE_INDEX_YRES:
		if (v <= (i == VBE_INDEX_XRES ? VBE_DISPI_MAX_X
					      : VBE_DISPI_MAX_Y) &&
		    !vbe_on(s))
			s->vbe[i] = v;
		break;
	case VBE_INDEX_BPP:
		if (!v)
			v = 8;
		if (valid_bpp(v) && !vbe_on(s))
			s->vbe[i] = v;
		break;
	case VBE_INDEX_ENABLE:
		vbe_enable(s, v);
		break;
	case VBE_INDEX_BANK:
		if ((uint64_t)v << 16 < VGA_VRAM_SIZE)
			s->vbe[i] = v;
		break;
	case VBE_INDEX_VIRT_WIDTH:
		vbe_set_virt_width(s, v);
		break;
	case VBE_INDEX_X_OFFSET:
	case VBE_INDEX_Y_OFFSET:
		old = s->vbe[i];
		s->vbe[i] = v;
		if (!vbe_fits(s))
			s->vbe[i] = old;
		break;
	default: /* VIRT_HEIGHT and VIDEO_MEMORY_64K are computed */
		break;
	}
	mark_all(s);
}

static uint16_t vbe_read(struct vga *s)
{
	unsigned i = s->vbe_index;
	bool caps = s->vbe[VBE_INDEX_ENABLE] & VBE_GETCAPS;
	if (caps && i == VBE_INDEX_XRES)
		return VBE_DISPI_MAX_X;
	if (caps && i == VBE_INDEX_YRES)
		return VBE_DISPI_MAX_Y;
	if (caps && i == VBE_INDEX_BPP)
		return 32;
	if (i == VBE_INDEX_VIDEO_MEMORY_64K)
		return VGA_VRAM_SIZE >> 16;
	return i < VBE_INDEX_COUNT ? s->vbe[i] : 0;
}

/* Offset 0 (0x1CE) is the index, 1 and 2 (0x1CF, 0x1D0) the data. A
 * 16-bit access is the normal one; a byte access moves the low byte. */
static uint64_t vbe_io_read(void *dev, uint64_t off, unsigned size)
{
	struct vga *s = dev;
	uint16_t v = off == 0 ? s->vbe_index : vbe_read(s);
	return size == 1 ? (v & 0xff) : v;
}

static void vbe_io_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct vga *s = dev;
	(void)size;
	if (off == 0)
		s->vbe_index = (uint16_t)val;
	else
		vbe_write(s, (uint16_t)val);
}

static const struct io_ops vbe_io_ops = {.read = vbe_io_read,
					 .write = vbe_io_write};

/* ---- the memory window ------------------------------------------------- */

/* Window offset off (0-0x1FFFF) to an address in the mapped aperture
 * (graphics register 6 bits 2-3); false when it is outside it. */
static bool window_addr(const struct vga *s, uint32_t off, uint32_t *a)
{
	static const uint32_t base[4] = {0, 0, 0x10000, 0x18000};
	static const uint32_t size[4] = {0x20000, 0x10000, 0x8000, 0x8000};
	unsigned m = (s->gr[6] >> 2) & 3;
	if (off < base[m] || off - base[m] >= size[m])
		return false;
	*a = off - base[m];
	return true;
}

static uint8_t rotate(uint8_t v, unsigned n)
{
	n &= 7;
	return (uint8_t)((v >> n) | (v << ((8 - n) & 7)));
}

static uint8_t alu(const struct vga *s, uint8_t v, uint8_t latch)
{
	switch ((s->gr[3] >> 3) & 3) {
	case 1:
		return v & latch;
	case 2:
		return v | latch;
	case 3:
		return v ^ latch;
	default:
		return v;
	}
}

/* The four plane bytes a CPU write of v produces (write modes 0-3). */
static void write_pipeline(const struct vga *s, uint8_t v, uint8_t out[4])
{
	unsigned mode = s->gr[5] & 3;
	uint8_t mask = s->gr[8];
	uint8_t r = rotate(v, s->gr[3]);
	for (int p = 0; p < 4; p++) {
		uint8_t sr = (s->gr[0] >> p) & 1 ? 0xff : 0x00;
		uint8_t d, m = mask;
		switch (mode) {
		case 0:
			d = (s->gr[1] >> p) & 1 ? sr : r;
			break;
		case 1:
			out[p] = s->latch[p];
			continue;
		case 2:
			d = (v >> p) & 1 ? 0xff : 0x00;
			break;
		default: /* 3 */
			d = sr;
			m = mask & r;
			break;
		}
		d = alu(s, d, s->latch[p]);
		out[p] = (uint8_t)((d & m) | (s->latch[p] & ~m));
	}
}

/* Plane offset of window address a, and the planes a store may reach. */
static bool plane_addr(const struct vga *s, uint32_t a, uint32_t *po,
		       unsigned *planes)
{
	uint64_t bank = vbe_on(s) ? (uint64_t)s->vbe[VBE_INDEX_BANK] << 16 : 0;
	unsigned pl = s->sr[2];
	uint64_t o;
	if (!(s->sr[4] & 0x04)) { /* odd/even */
		pl &= (a & 1) ? 0x0a : 0x05;
		o = a & ~1u;
	} else {
		o = a;
	}
	o += bank;
	if (o >= PLANE_SIZE)
		return false;
	*po = (uint32_t)o;
	*planes = pl;
	return true;
}

static bool vbe_linear_window(const struct vga *s)
{
	return vbe_on(s) && s->vbe[VBE_INDEX_BPP] != 4;
}

static void mem_write(struct vga *s, uint32_t off, uint8_t v)
{
	uint32_t a, po;
	unsigned planes;
	if (!window_addr(s, off, &a))
		return;
	if (vbe_linear_window(s)) {
		uint64_t p = ((uint64_t)s->vbe[VBE_INDEX_BANK] << 16) + a;
		if (p < VGA_VRAM_SIZE) {
			s->vram[p] = v;
			vga_mark_dirty(s, p, 1);
		}
		return;
	}
	if (s->sr[4] & 0x08) { /* chain-4: the address picks the plane */
		if (s->sr[2] & (1u << (a & 3))) {
			s->vram[a] = v;
			s->font_dirty |= (a & 3) == 2 && a < PLANE_FONTS * 4;
			mark(s, a, 1);
		}
		return;
	}
	if (!plane_addr(s, a, &po, &planes))
		return;
	uint8_t d[4];
	write_pipeline(s, v, d);
	for (int p = 0; p < 4; p++)
		if (planes & (1u << p))
			s->vram[(size_t)po * 4 + p] = d[p];
	s->font_dirty |= (planes & 4) && po < PLANE_FONTS;
	mark(s, (uint64_t)po * 4, 4);
}

static uint8_t mem_read(struct vga *s, uint32_t off)
{
	uint32_t a, po;
	unsigned planes;
	if (!window_addr(s, off, &a))
		return 0xff;
	if (vbe_linear_window(s)) {
		uint64_t p = ((uint64_t)s->vbe[VBE_INDEX_BANK] << 16) + a;
		return p < VGA_VRAM_SIZE ? s->vram[p] : 0xff;
	}
	if (s->sr[4] & 0x08) {
		memcpy(s->latch, &s->vram[a & ~3u], 4);
		return s->vram[a];
	}
	if (!plane_addr(s, a, &po, &planes))
		return 0xff;
	memcpy(s->latch, &s->vram[(size_t)po * 4], 4);
	if (!(s->sr[4] & 0x04))
		return s->latch[(s->gr[4] & 2) | (a & 1)];
	if (!(s->gr[5] & 0x08))
		return s->latch[s->gr[4] & 3];
	/* Read mode 1: colour compare over the planes not "don't care". */
	uint8_t r = 0xff;
	for (int p = 0; p < 4; p++) {
		if (!((s->gr[7] >> p) & 1))
			continue;
		uint8_t want = (s->gr[2] >> p) & 1 ? 0xff : 0x00;
		r &= (uint8_t) ~(s->latch[p] ^ want);
	}
	return r;
}

static uint64_t win_read(void *dev, uint64_t off, unsigned size)
{
	(void)size;
	return mem_read(dev, (uint32_t)off);
}

static void win_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	(void)size;
	mem_write(dev, (uint32_t)off, (uint8_t)val);
}

static const struct io_ops win_ops = {
    .read = win_read, .write = win_write, .width = 1};

/* BAR0: the linear framebuffer, when the vmm has not mapped it as RAM. */
static uint64_t lfb_read(void *dev, uint64_t off, unsigned size)
{
	struct vga *s = dev;
	uint64_t v = 0;
	if (off < VGA_VRAM_SIZE && size <= VGA_VRAM_SIZE - off)
		memcpy(&v, s->vram + off, size);
	return v;
}

static void lfb_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct vga *s = dev;
	if (off >= VGA_VRAM_SIZE || size > VGA_VRAM_SIZE - off)
		return;
	memcpy(s->vram + off, &val, size);
	vga_mark_dirty(s, off, size);
}

static const struct io_ops lfb_ops = {.read = lfb_read, .write = lfb_write};

static uint64_t rom_read(void *dev, uint64_t off, unsigned size)
{
	struct vga *s = dev;
	uint64_t v = 0;
	for (unsigned i = 0; i < size; i++)
		if (off + i < s->rom_size)
			v |= (uint64_t)s->rom[off + i] << (8 * i);
	return v;
}

static void rom_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	(void)dev, (void)off, (void)size, (void)val;
}

static const struct io_ops rom_ops = {.read = rom_read, .write = rom_write};

/* ---- life cycle -------------------------------------------------------- */

void vga_reset(struct vga *s)
{
	s->misc = 0x01; /* colour emulation: CRTC at 0x3D4 */
	s->fcr = 0;
	s->vga_enable = 1;
	s->sr_index = s->gr_index = s->cr_index = s->ar_index = 0;
	memset(s->sr, 0, sizeof(s->sr));
	memset(s->gr, 0, sizeof(s->gr));
	memset(s->cr, 0, sizeof(s->cr));
	memset(s->ar, 0, sizeof(s->ar));
	s->sr[4] = 0x06; /* sequential, no chain-4 */
	s->sr[2] = 0x0f;
	s->gr[8] = 0xff;
	s->ar_flip = false;
	s->st1 = 0;
	memset(s->latch, 0, sizeof(s->latch));
	s->dac_mask = 0xff;
	s->dac_state = 0;
	s->dac_rindex = s->dac_windex = s->dac_rsub = s->dac_wsub = 0;
	memset(s->dac, 0, sizeof(s->dac));
	s->vbe_index = 0;
	memset(s->vbe, 0, sizeof(s->vbe));
	s->vbe[VBE_INDEX_ID] = VBE_ID0;
	s->vbe[VBE_INDEX_XRES] = 640;
	s->vbe[VBE_INDEX_YRES] = 480;
	s->vbe[VBE_INDEX_BPP] = 8;
	mark_all(s);
}

struct vga *vga_new(void)
{
	struct vga *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->vram = mmap(NULL, VGA_VRAM_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (s->vram == MAP_FAILED) {
		free(s);
		return NULL;
	}
	vga_reset(s);
	return s;
}

void vga_free(struct vga *s)
{
	if (!s)
		return;
	munmap(s->vram, VGA_VRAM_SIZE);
	free(s->rom);
	free(s->frame.pix);
	free(s->cells);
	free(s);
}

uint8_t *vga_vram(struct vga *s)
{
	return s->vram;
}

struct pci_func *vga_pci(struct vga *s)
{
	return s->pci;
}

int vga_attach_isa(struct vga *s, struct bus *io, struct bus *mmio)
{
	if (bus_register(io, VGA_PORT_BASE, 0x20, &vga_io_ops, s, "vga") ||
	    bus_register(io, VGA_MONO_BASE, 0x10, &mono_io_ops, s,
			 "vga-mono") ||
	    bus_register(io, VBE_PORT_INDEX, 3, &vbe_io_ops, s, "vbe") ||
	    bus_register(mmio, VGA_WINDOW_BASE, VGA_WINDOW_SIZE, &win_ops, s,
			 "vga-window"))
		return -1;
	return 0;
}

struct pci_func *vga_attach_pci(struct vga *s, struct pci_bus *pb, int slot,
				const uint8_t *rom, size_t romlen)
{
	/* Display controller, VGA compatible (class 03 00 00), rev 2;
	 * subsystem 1af4:1100 as the stdvga firmware is used to. */
	struct pci_func *f =
	    pci_add_func(pb, slot, 0, VGA_PCI_VENDOR, VGA_PCI_DEVICE,
			 0x03000002, 0x1af4, 0x1100, 0);
	if (!f)
		return NULL;
	if (pci_set_bar(f, 0, VGA_VRAM_SIZE, PCI_BAR_MEM32 | PCI_BAR_PREFETCH,
			&lfb_ops, s))
		return NULL;
	if (romlen) {
		if (romlen > (16u << 20))
			return NULL;
		uint32_t size = 2048;
		while (size < romlen)
			size <<= 1;
		s->rom = calloc(1, size);
		if (!s->rom)
			return NULL;
		memcpy(s->rom, rom, romlen);
		s->rom_size = size;
		if (pci_set_rom(f, size, &rom_ops, s))
			return NULL;
	}
	s->pci = f;
	return f;
}

/* ---- rendering --------------------------------------------------------- */

static uint32_t dac_rgb(const struct vga *s, uint8_t i)
{
	const uint8_t *c = s->dac[i & s->dac_mask];
	if (s->vbe[VBE_INDEX_ENABLE] & VBE_8BIT_DAC)
		return (uint32_t)c[0] << 16 | (uint32_t)c[1] << 8 | c[2];
	uint32_t r = c[0] & 0x3f, g = c[1] & 0x3f, b = c[2] & 0x3f;
	r = r << 2 | r >> 4;
	g = g << 2 | g >> 4;
	b = b << 2 | b >> 4;
	return r << 16 | g << 8 | b;
}

/* A 4-bit attribute colour through the palette registers and the colour
 * select register to a DAC entry. */
static uint32_t ar_rgb(const struct vga *s, unsigned c)
{
	uint8_t v = s->ar[c & 0x0f] & 0x3f;
	uint8_t hi = (uint8_t)((s->ar[0x14] & 0x0c) << 4);
	if (s->ar[0x10] & 0x80)
		v = (uint8_t)((v & 0x0f) | (s->ar[0x14] & 0x03) << 4);
	return dac_rgb(s, v | hi);
}

void vga_get_info(struct vga *s, struct vga_info *i)
{
	memset(i, 0, sizeof(*i));
	if (vbe_on(s)) {
		i->kind = VGA_KIND_VBE;
		i->width = s->vbe[VBE_INDEX_XRES];
		i->height = s->vbe[VBE_INDEX_YRES];
		i->bpp = s->vbe[VBE_INDEX_BPP];
		i->vbe_lfb = s->vbe[VBE_INDEX_ENABLE] & VBE_LFB_ENABLED;
		i->vbe_start = (uint32_t)vbe_start(s);
		i->vbe_pitch = vbe_line(i->bpp, s->vbe[VBE_INDEX_VIRT_WIDTH]);
		return;
	}
	if ((s->sr[1] & 0x20) || !(s->ar_index & 0x20)) {
		i->kind = VGA_KIND_BLANK;
		return;
	}
	unsigned chars = s->cr[1] + 1u;
	unsigned lines =
	    (s->cr[0x12] | (s->cr[7] & 0x02) << 7 | (s->cr[7] & 0x40) << 3) +
	    1u;
	unsigned scan = (s->cr[9] & 0x1f) + 1u;
	if (!(s->gr[6] & 1)) {
		i->kind = VGA_KIND_TEXT;
		i->bpp = 4;
		i->cell_w = (s->sr[1] & 1) ? 8 : 9;
		i->cell_h = scan;
		i->cols = chars;
		i->rows = lines / scan;
		unsigned dbl = (s->sr[1] & 0x08) ? 2 : 1;
		if (i->cols > VGA_MAX_WIDTH / (i->cell_w * dbl))
			i->cols = VGA_MAX_WIDTH / (i->cell_w * dbl);
		if (i->rows > VGA_MAX_HEIGHT / i->cell_h)
			i->rows = VGA_MAX_HEIGHT / i->cell_h;
		i->width = i->cols * i->cell_w * dbl;
		i->height = i->rows * i->cell_h;
	} else {
		if (s->cr[9] & 0x80)
			scan *= 2;
		i->width = chars * 8;
		i->height = lines / scan;
		if (s->gr[5] & 0x40) {
			i->kind = VGA_KIND_256;
			i->bpp = 8;
			i->width /= 2;
		} else if (s->gr[5] & 0x20) {
			/* A halved dot clock (SR01 bit 3) makes each pixel
			 * two dots wide: the count of pixels stays. The two
			 * scan lines of a row are distinct lines (the CGA
			 * banks), only double scanning repeats them. */
			i->kind = VGA_KIND_CGA;
			i->bpp = 2;
			i->height = lines / ((s->cr[9] & 0x80) ? 2 : 1);
		} else {
			i->kind = VGA_KIND_PLANAR;
			i->bpp = 4;
		}
	}
	if (!i->width || !i->height)
		i->kind = VGA_KIND_BLANK;
	if (i->width > VGA_MAX_WIDTH)
		i->width = VGA_MAX_WIDTH;
	if (i->height > VGA_MAX_HEIGHT)
		i->height = VGA_MAX_HEIGHT;
	if (i->kind == VGA_KIND_BLANK)
		i->width = i->height = 0;
}

const char *vga_kind_name(enum vga_kind k)
{
	static const char *const n[] = {
	    "blank",	    "text",	  "16-colour planar",
	    "4-colour CGA", "256-colour", "VBE"};
	return (unsigned)k < sizeof(n) / sizeof(n[0]) ? n[k] : "?";
}

static int frame_size(struct vga *s, unsigned w, unsigned h)
{
	if (!w || !h) { /* blank: a small black frame keeps front ends sane */
		w = 640;
		h = 480;
	}
	s->frame.resized = w != s->frame.w || h != s->frame.h;
	if ((size_t)w * h > s->frame_cap) {
		uint32_t *p = realloc(s->frame.pix, (size_t)w * h * 4);
		if (!p)
			return -1;
		s->frame.pix = p;
		s->frame_cap = (size_t)w * h;
	}
	s->frame.w = w;
	s->frame.h = h;
	return 0;
}

static uint8_t plane(const struct vga *s, uint64_t o, unsigned p)
{
	return o < PLANE_SIZE ? s->vram[o * 4 + p] : 0;
}

static void note_rows(struct vga *s, unsigned y0, unsigned y1)
{
	if (s->frame.y0 >= s->frame.y1) {
		s->frame.y0 = y0;
		s->frame.y1 = y1;
		return;
	}
	if (y0 < s->frame.y0)
		s->frame.y0 = y0;
	if (y1 > s->frame.y1)
		s->frame.y1 = y1;
}

static uint32_t crtc_start(const struct vga *s)
{
	return (uint32_t)s->cr[0x0c] << 8 | s->cr[0x0d];
}

/* Text: each cell from plane 0 (character) and 1 (attribute), its glyph
 * from plane 2; cells redrawn when what they show changed. */
static void render_text(struct vga *s, const struct vga_info *in, bool full,
			int64_t now_ms)
{
	static const uint32_t map_off[8] = {0x0000, 0x4000, 0x8000, 0xc000,
					    0x2000, 0x6000, 0xa000, 0xe000};
	unsigned sa = ((s->sr[3] >> 2) & 3) | ((s->sr[3] >> 3) & 4);
	unsigned sb = (s->sr[3] & 3) | ((s->sr[3] >> 2) & 4);
	uint32_t start = crtc_start(s), pitch = s->cr[0x13] * 2u;
	uint32_t cursor = (uint32_t)s->cr[0x0e] << 8 | s->cr[0x0f];
	unsigned cs = s->cr[0x0a] & 0x1f, ce = s->cr[0x0b] & 0x1f;
	bool cur_vis = !(s->cr[0x0a] & 0x20) && cs <= ce;
	bool cur_on = (now_ms / 266) & 1 ? false : true;
	bool blink_on = !((now_ms / 533) & 1);
	bool blink = s->ar[0x10] & 0x08, lge = s->ar[0x10] & 0x04;
	unsigned cw = in->cell_w, ch = in->cell_h;
	unsigned dbl = in->width / (in->cols * cw);
	size_t n = (size_t)in->cols * in->rows;
	if (n > s->ncells) {
		uint32_t *c = realloc(s->cells, n * sizeof(*c));
		if (!c)
			return;
		s->cells = c;
		s->ncells = n;
		full = true;
	}
	for (unsigned r = 0; r < in->rows; r++) {
		for (unsigned c = 0; c < in->cols; c++) {
			uint32_t addr = (start + r * pitch + c) * 2u;
			uint8_t chr = plane(s, addr, 0), at = plane(s, addr, 1);
			bool is_cur = cur_vis && cur_on &&
				      start + r * pitch + c == cursor;
			bool bl = blink && (at & 0x80) && !blink_on;
			uint32_t key = chr | (uint32_t)at << 8 |
				       (uint32_t)is_cur << 16 |
				       (uint32_t)bl << 17;
			size_t k = (size_t)r * in->cols + c;
			if (!full && s->cells[k] == key)
				continue;
			s->cells[k] = key;
			unsigned fg = at & 0x0f, bg = at >> 4;
			if (blink)
				bg &= 7;
			if (bl)
				fg = bg;
			uint32_t fgc = ar_rgb(s, fg), bgc = ar_rgb(s, bg);
			uint32_t font = ((at & 0x08) && sa != sb) ? map_off[sb]
								  : map_off[sa];
			for (unsigned y = 0; y < ch; y++) {
				unsigned py = r * ch + y;
				if (py >= s->frame.h)
					break;
				uint8_t bits =
				    plane(s, font + chr * 32u + y, 2);
				if (is_cur && y >= cs && y <= ce)
					bits = 0xff;
				uint32_t *row = s->frame.pix +
						(size_t)py * s->frame.w +
						(size_t)c * cw * dbl;
				for (unsigned x = 0; x < cw; x++) {
					bool on;
					if (x < 8)
						on = bits & (0x80 >> x);
					else
						on =
						    (is_cur && bits == 0xff) ||
						    (lge && chr >= 0xc0 &&
						     chr <= 0xdf && (bits & 1));
					for (unsigned d = 0; d < dbl; d++)
						row[x * dbl + d] =
						    on ? fgc : bgc;
				}
			}
			note_rows(s, r * ch, (r + 1) * ch);
		}
	}
	s->cursor_on = cur_on;
	s->blink_on = blink_on;
}

/* VRAM bytes [lo, hi) line y of a graphics mode reads, and whether any
 * of them changed. */
static void render_graphics(struct vga *s, const struct vga_info *in, bool full)
{
	uint32_t start = crtc_start(s), pitch = s->cr[0x13] * 2u;
	uint32_t pal[16];
	for (int i = 0; i < 16; i++)
		pal[i] = ar_rgb(s, i & s->ar[0x12]);
	for (unsigned y = 0; y < in->height; y++) {
		uint64_t base;
		uint64_t span;
		if (in->kind == VGA_KIND_CGA) {
			/* Word mode: a CRTC unit is two CPU bytes; odd
			 * lines come from the second 8 KiB (CR17 bit 0). */
			base = start * 2u + (y & 1) * 0x2000u +
			       (y >> 1) * pitch * 2u;
			span = (uint64_t)in->width / 2 + 2;
		} else {
			base = (uint64_t)start + (uint64_t)y * pitch;
			span = in->kind == VGA_KIND_256 ? in->width / 4 + 1
							: in->width / 8 + 1;
		}
		if (!full && !range_dirty(s, base * 4, (base + span) * 4))
			continue;
		uint32_t *row = s->frame.pix + (size_t)y * s->frame.w;
		for (unsigned x = 0; x < in->width; x++) {
			uint32_t c;
			if (in->kind == VGA_KIND_256) {
				uint64_t o = base * 4 + x;
				c = s->pal256[o < VGA_VRAM_SIZE ? s->vram[o]
								: 0];
			} else if (in->kind == VGA_KIND_CGA) {
				uint64_t a = base + x / 4;
				uint8_t b = plane(s, a & ~1ull, a & 1);
				c = pal[(b >> (6 - 2 * (x & 3))) & 3];
			} else {
				uint64_t o = base + x / 8;
				unsigned bit = 7 - (x & 7), v = 0;
				for (unsigned p = 0; p < 4; p++)
					v |= ((plane(s, o, p) >> bit) & 1u)
					     << p;
				c = pal[v];
			}
			row[x] = c;
		}
		note_rows(s, y, y + 1);
	}
}

static uint32_t vbe_pixel(const struct vga *s, const uint8_t *p, unsigned bpp)
{
	uint32_t v;
	switch (bpp) {
	case 8:
		return s->pal256[p[0]];
	case 15:
		v = p[0] | p[1] << 8;
		return ((v >> 10) & 0x1f) * 255 / 31 << 16 |
		       ((v >> 5) & 0x1f) * 255 / 31 << 8 |
		       (v & 0x1f) * 255 / 31;
	case 16:
		v = p[0] | p[1] << 8;
		return ((v >> 11) & 0x1f) * 255 / 31 << 16 |
		       ((v >> 5) & 0x3f) * 255 / 63 << 8 |
		       (v & 0x1f) * 255 / 31;
	case 24:
	case 32:
		return (uint32_t)p[2] << 16 | p[1] << 8 | p[0];
	default:
		return 0;
	}
}

static void render_vbe(struct vga *s, const struct vga_info *in, bool full)
{
	unsigned bpp = in->bpp;
	uint64_t line = vbe_line(bpp, s->vbe[VBE_INDEX_VIRT_WIDTH]);
	uint64_t start = vbe_start(s);
	uint64_t vis = vbe_line(bpp, in->width);
	uint32_t pal[16];
	for (int i = 0; i < 16; i++)
		pal[i] = ar_rgb(s, i);
	for (unsigned y = 0; y < in->height; y++) {
		uint64_t o = start + y * line;
		uint64_t lo = bpp == 4 ? o * 4 : o,
			 hi = lo + vis * (bpp == 4 ? 4 : 1);
		uint32_t *row = s->frame.pix + (size_t)y * s->frame.w;
		if (hi > VGA_VRAM_SIZE) { /* only after a virt width change */
			memset(row, 0, (size_t)in->width * 4);
			continue;
		}
		if (!full && !range_dirty(s, lo, hi))
			continue;
		if (bpp == 32) {
			memcpy(row, s->vram + o, (size_t)in->width * 4);
			for (unsigned x = 0; x < in->width; x++)
				row[x] &= 0xffffff;
		} else if (bpp == 4) {
			for (unsigned x = 0; x < in->width; x++) {
				unsigned v = 0, bit = 7 - (x & 7);
				for (unsigned p = 0; p < 4; p++)
					v |= ((plane(s, o + x / 8, p) >> bit) &
					      1u)
					     << p;
				row[x] = pal[v];
			}
		} else {
			unsigned b = vbe_bytespp(bpp);
			for (unsigned x = 0; x < in->width; x++)
				row[x] = vbe_pixel(s, s->vram + o + x * b, bpp);
		}
		note_rows(s, y, y + 1);
	}
}

bool vga_update(struct vga *s, int64_t now_ms, bool full)
{
	struct vga_info in;
	vga_get_info(s, &in);
	if (frame_size(s, in.width, in.height))
		return false;
	uint32_t start = vbe_on(s) ? (uint32_t)vbe_start(s) : crtc_start(s);
	uint32_t pitch = s->cr[0x13];
	if (full || s->full || s->frame.resized ||
	    memcmp(&in, &s->last, sizeof(in)) || start != s->last_start ||
	    pitch != s->last_pitch)
		full = true;
	s->frame.y0 = s->frame.y1 = 0;
	for (int c = 0; c < 256; c++)
		s->pal256[c] = dac_rgb(s, (uint8_t)c);
	switch (in.kind) {
	case VGA_KIND_TEXT:
		/* A change in the fonts (plane 2's first 64 KiB) shows in
		 * every cell. */
		render_text(s, &in, full || s->font_dirty, now_ms);
		break;
	case VGA_KIND_PLANAR:
	case VGA_KIND_CGA:
	case VGA_KIND_256:
		render_graphics(s, &in, full);
		break;
	case VGA_KIND_VBE:
		render_vbe(s, &in, full);
		break;
	default:
		if (full) {
			memset(s->frame.pix, 0,
			       (size_t)s->frame.w * s->frame.h * 4);
			note_rows(s, 0, s->frame.h);
		}
		break;
	}
	s->last = in;
	s->last_start = start;
	s->last_pitch = pitch;
	s->full = s->font_dirty = false;
	memset(s->dirty, 0, sizeof(s->dirty));
	return s->frame.y0 < s->frame.y1;
}

const struct vga_frame *vga_frame(const struct vga *s)
{
	return &s->frame;
}

int vga_text_dump(struct vga *s, char *buf, size_t len)
{
	struct vga_info in;
	vga_get_info(s, &in);
	if (len)
		buf[0] = 0;
	if (in.kind != VGA_KIND_TEXT || !len)
		return -1;
	uint32_t start = crtc_start(s), pitch = s->cr[0x13] * 2u;
	size_t o = 0;
	for (unsigned r = 0; r < in.rows; r++) {
		size_t line = o;
		for (unsigned c = 0; c < in.cols && o + 2 < len; c++) {
			uint8_t ch = plane(s, (start + r * pitch + c) * 2u, 0);
			buf[o++] = ch >= 0x20 && ch < 0x7f ? (char)ch
				   : ch == 0		   ? ' '
							   : '.';
		}
		while (o > line && buf[o - 1] == ' ')
			o--;
		if (o + 1 < len)
			buf[o++] = '\n';
	}
	buf[o] = 0;
	return (int)o;
}
