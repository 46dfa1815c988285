/*
 * Standard VGA with the Bochs VBE extensions, as PCI device 1234:1111 (the
 * card SeaBIOS's vgabios-stdvga.bin drives). See hw/vga.c for what is
 * emulated; this is its interface to the machine and the front ends.
 *
 * Video memory is one host buffer of VGA_VRAM_SIZE bytes. The four VGA
 * planes are interleaved in it (plane p, offset o at byte 4 * o + p), so
 * chain-4 (mode 13h) and the VBE linear framebuffer see the same bytes a
 * planar mode does. The vmm may map it into the guest as RAM (PCI BAR0)
 * and report the guest's stores with vga_mark_dirty_pages().
 */
#ifndef MINIVMM_HW_VGA_H
#define MINIVMM_HW_VGA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hw/hw.h"

struct pci_bus;
struct pci_func;

#define VGA_VRAM_SIZE  (16u << 20)
#define VGA_PAGE_SHIFT 12 /* dirty tracking granule: 4 KiB of VRAM */
#define VGA_PCI_VENDOR 0x1234
#define VGA_PCI_DEVICE 0x1111

/* Legacy decode: ports 0x3C0-0x3DF, the mono aliases in 0x3B0-0x3BF, the
 * VBE index/data ports 0x1CE/0x1CF (0x1D0 is a data alias), and the
 * 0xA0000-0xBFFFF memory window. */
#define VGA_PORT_BASE	0x3c0
#define VGA_MONO_BASE	0x3b0
#define VBE_PORT_INDEX	0x1ce
#define VGA_WINDOW_BASE 0xa0000
#define VGA_WINDOW_SIZE 0x20000
#define VBE_DISPI_MAX_X 2560
#define VBE_DISPI_MAX_Y 1600
#define VGA_MAX_WIDTH	VBE_DISPI_MAX_X
#define VGA_MAX_HEIGHT	VBE_DISPI_MAX_Y

/* Bochs VBE "dispi" registers (index written to 0x1CE). */
enum vbe_index {
	VBE_INDEX_ID,
	VBE_INDEX_XRES,
	VBE_INDEX_YRES,
	VBE_INDEX_BPP,
	VBE_INDEX_ENABLE,
	VBE_INDEX_BANK,
	VBE_INDEX_VIRT_WIDTH,
	VBE_INDEX_VIRT_HEIGHT,
	VBE_INDEX_X_OFFSET,
	VBE_INDEX_Y_OFFSET,
	VBE_INDEX_VIDEO_MEMORY_64K,
	VBE_INDEX_COUNT
};

#define VBE_ID0		0xb0c0
#define VBE_ID5		0xb0c5
#define VBE_ENABLED	0x01
#define VBE_GETCAPS	0x02
#define VBE_8BIT_DAC	0x20
#define VBE_LFB_ENABLED 0x40
#define VBE_NOCLEARMEM	0x80

/* What the screen shows. */
enum vga_kind {
	VGA_KIND_BLANK,	 /* display off, palette being loaded, no mode */
	VGA_KIND_TEXT,	 /* alphanumeric: characters from plane 2 fonts */
	VGA_KIND_PLANAR, /* 16 colours, 4 planes (modes 0Dh-12h) */
	VGA_KIND_CGA,	 /* 4 colours, CGA interleave (modes 04h-06h) */
	VGA_KIND_256,	 /* 256 colours (mode 13h, mode X) */
	VGA_KIND_VBE,	 /* Bochs VBE: 4/8/15/16/24/32 bpp */
};

struct vga_info {
	enum vga_kind kind;
	unsigned width, height; /* pixels of the rendered frame */
	unsigned bpp;		/* guest bits per pixel (text: 4) */
	unsigned cols, rows;	/* text mode */
	unsigned cell_w, cell_h;
	bool vbe_lfb; /* VBE with the linear framebuffer bit */
	/* VBE: where the frame starts in VRAM (bytes; 4 bpp: plane offset)
	 * and the bytes from one line to the next. */
	uint32_t vbe_start, vbe_pitch;
};

/* The rendered screen: 32-bit XRGB pixels, w * h, stride w. */
struct vga_frame {
	uint32_t *pix;
	unsigned w, h;
	unsigned y0, y1; /* rows changed by the last vga_update: [y0, y1) */
	bool resized;	 /* w/h changed with the last vga_update */
};

struct vga;

/* Power-on state; VRAM of VGA_VRAM_SIZE bytes (zeroed, page-aligned). */
struct vga *vga_new(void);
void vga_free(struct vga *s);
void vga_reset(struct vga *s);
/* Registers the legacy ports and the memory window; 0 or -1. */
int vga_attach_isa(struct vga *s, struct bus *io, struct bus *mmio);
/* The PCI function in slot (class 0300): BAR0 the VRAM (prefetchable
 * memory), an expansion ROM BAR with rom (copied) when romlen > 0. */
struct pci_func *vga_attach_pci(struct vga *s, struct pci_bus *pb, int slot,
				const uint8_t *rom, size_t romlen);

uint8_t *vga_vram(struct vga *s);
/* The PCI function of vga_attach_pci, or NULL. */
struct pci_func *vga_pci(struct vga *s);
/* VRAM [off, off+len) changed behind the device's back (a KVM slot). */
void vga_mark_dirty(struct vga *s, uint64_t off, uint64_t len);
/* The same from a KVM dirty log: bit i of bits (64-bit words) is VRAM
 * page first + i, npages bits. */
void vga_mark_dirty_pages(struct vga *s, const uint64_t *bits, size_t first,
			  size_t npages);

/*
 * Renders what changed since the last call into the frame (everything
 * with full). now_ms drives the cursor and character blink. Returns true
 * when some rows of the frame changed (frame->y0/y1 say which).
 */
bool vga_update(struct vga *s, int64_t now_ms, bool full);
const struct vga_frame *vga_frame(const struct vga *s);
void vga_get_info(struct vga *s, struct vga_info *i);
const char *vga_kind_name(enum vga_kind k);
/*
 * The text screen as rows lines of cols characters (code page 437 bytes
 * 0x20-0x7E as they are, anything else as '.', trailing blanks cut), each
 * ended by '\n', NUL-terminated. Returns the length, or -1 (buf empty)
 * when the VGA is not in a text mode.
 */
int vga_text_dump(struct vga *s, char *buf, size_t len);

#endif
