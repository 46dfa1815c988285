/*
 * Standard VGA + Bochs VBE (hw/vga.c): register read-back, the attribute
 * flip-flop, the DAC's three-access cycles, the memory write/read modes,
 * VBE, the PCI face, rendering of text, mode 13h, planar and VBE frames,
 * and garbage input.
 */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "hw/pci.h"
#include "hw/vga.h"
#include "tests/unit/fake_pc.h"

#define SLOT 2
#define LFB  0xfd000000u

struct rig {
	struct fake_pc pc;
	struct vga *vga;
};

static const uint8_t ROM[] = {0x55, 0xaa, 0x4c, 0xe9, 0x12, 0x34};

static struct rig *rig_new(void)
{
	struct rig *r = calloc(1, sizeof(*r));
	fake_pc_init(&r->pc);
	r->vga = vga_new();
	cr_assert_not_null(r->vga);
	cr_assert_eq(vga_attach_isa(r->vga, &r->pc.io, &r->pc.mmio), 0);
	cr_assert_not_null(
	    vga_attach_pci(r->vga, r->pc.pb, SLOT, ROM, sizeof(ROM)));
	return r;
}

static void rig_free(struct rig *r)
{
	vga_free(r->vga);
	fake_pc_fini(&r->pc);
	free(r);
}

static void outb(struct rig *r, uint16_t p, uint8_t v)
{
	pc_out(&r->pc, p, 1, v);
}

static uint8_t inb(struct rig *r, uint16_t p)
{
	return (uint8_t)pc_in(&r->pc, p, 1);
}

static void wreg(struct rig *r, uint16_t idx, uint8_t i, uint8_t v)
{
	outb(r, idx, i);
	outb(r, idx + 1, v);
}

static uint8_t rreg(struct rig *r, uint16_t idx, uint8_t i)
{
	outb(r, idx, i);
	return inb(r, idx + 1);
}

static void ar_set(struct rig *r, uint8_t i, uint8_t v)
{
	inb(r, 0x3da);
	outb(r, 0x3c0, i);
	outb(r, 0x3c0, v);
}

static void vbe_set(struct rig *r, uint16_t i, uint16_t v)
{
	pc_out(&r->pc, 0x1ce, 2, i);
	pc_out(&r->pc, 0x1cf, 2, v);
}

static uint16_t vbe_get(struct rig *r, uint16_t i)
{
	pc_out(&r->pc, 0x1ce, 2, i);
	return (uint16_t)pc_in(&r->pc, 0x1cf, 2);
}

static void memw(struct rig *r, uint32_t a, uint8_t v)
{
	pc_wr(&r->pc, a, 1, v);
}

static uint8_t memr(struct rig *r, uint32_t a)
{
	return (uint8_t)pc_rd(&r->pc, a, 1);
}

/* The standard register sets of modes 03h and 13h (IBM VGA BIOS tables). */
static const uint8_t m3_sr[5] = {0x03, 0x00, 0x03, 0x00, 0x02};
static const uint8_t m3_cr[25] = {0x5f, 0x4f, 0x50, 0x82, 0x55, 0x81, 0xbf,
				  0x1f, 0x00, 0x4f, 0x0d, 0x0e, 0x00, 0x00,
				  0x00, 0x00, 0x9c, 0x8e, 0x8f, 0x28, 0x1f,
				  0x96, 0xb9, 0xa3, 0xff};
static const uint8_t m3_gr[9] = {0, 0, 0, 0, 0, 0x10, 0x0e, 0, 0xff};
static const uint8_t m3_ar[21] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14,
				  0x07, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d,
				  0x3e, 0x3f, 0x0c, 0x00, 0x0f, 0x08, 0x00};
static const uint8_t m13_sr[5] = {0x03, 0x01, 0x0f, 0x00, 0x0e};
static const uint8_t m13_cr[25] = {0x5f, 0x4f, 0x50, 0x82, 0x54, 0x80, 0xbf,
				   0x1f, 0x00, 0x41, 0x00, 0x00, 0x00, 0x00,
				   0x00, 0x00, 0x9c, 0x0e, 0x8f, 0x28, 0x40,
				   0x96, 0xb9, 0xa3, 0xff};
static const uint8_t m13_gr[9] = {0, 0, 0, 0, 0, 0x40, 0x05, 0x0f, 0xff};
static const uint8_t m12_sr[5] = {0x03, 0x01, 0x0f, 0x00, 0x06};
static const uint8_t m12_cr[25] = {0x5f, 0x4f, 0x50, 0x82, 0x54, 0x80, 0x0b,
				   0x3e, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00,
				   0x00, 0x00, 0xea, 0x8c, 0xdf, 0x28, 0x00,
				   0xe7, 0x04, 0xe3, 0xff};
static const uint8_t m12_gr[9] = {0, 0, 0, 0, 0, 0x00, 0x05, 0x0f, 0xff};
static const uint8_t m0d_sr[5] = {0x03, 0x09, 0x0f, 0x00, 0x06};
static const uint8_t m0d_cr[25] = {0x2d, 0x27, 0x28, 0x90, 0x2b, 0x80, 0xbf,
				   0x1f, 0x00, 0xc0, 0x00, 0x00, 0x00, 0x00,
				   0x00, 0x00, 0x9c, 0x8e, 0x8f, 0x14, 0x00,
				   0x96, 0xb9, 0xe3, 0xff};
static const uint8_t m0d_ar[21] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
				   0x07, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
				   0x16, 0x17, 0x01, 0x00, 0x0f, 0x00, 0x00};
static const uint8_t m04_sr[5] = {0x03, 0x09, 0x03, 0x00, 0x02};
static const uint8_t m04_cr[25] = {0x2d, 0x27, 0x28, 0x90, 0x2b, 0x80, 0xbf,
				   0x1f, 0x00, 0xc1, 0x00, 0x00, 0x00, 0x00,
				   0x00, 0x00, 0x9c, 0x8e, 0x8f, 0x14, 0x00,
				   0x96, 0xb9, 0xa2, 0xff};
static const uint8_t m04_gr[9] = {0, 0, 0, 0, 0, 0x30, 0x0f, 0x00, 0xff};
static const uint8_t m04_ar[21] = {0x00, 0x13, 0x15, 0x17, 0x02, 0x04, 0x06,
				   0x07, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
				   0x16, 0x17, 0x01, 0x00, 0x03, 0x00, 0x00};

static void set_mode(struct rig *r, uint8_t misc, const uint8_t *sr,
		     const uint8_t *cr, const uint8_t *gr, const uint8_t *ar)
{
	outb(r, 0x3c2, misc);
	for (int i = 0; i < 5; i++)
		wreg(r, 0x3c4, i, sr[i]);
	wreg(r, 0x3d4, 0x11, 0); /* unprotect CR0-7 */
	for (int i = 0; i < 25; i++)
		wreg(r, 0x3d4, i, cr[i]);
	for (int i = 0; i < 9; i++)
		wreg(r, 0x3ce, i, gr[i]);
	for (int i = 0; i < 21; i++)
		ar_set(r, i, ar ? ar[i] : (i < 16 ? i : i == 16 ? 0x41 : 0));
	if (!ar)
		ar_set(r, 0x12, 0x0f);
	inb(r, 0x3da);
	outb(r, 0x3c0, 0x20); /* PAS: palette done, screen on */
}

static void dac_set(struct rig *r, uint8_t i, uint8_t red, uint8_t g, uint8_t b)
{
	outb(r, 0x3c8, i);
	outb(r, 0x3c9, red);
	outb(r, 0x3c9, g);
	outb(r, 0x3c9, b);
}

static uint32_t px(struct rig *r, unsigned x, unsigned y)
{
	const struct vga_frame *f = vga_frame(r->vga);
	cr_assert_lt(x, f->w);
	cr_assert_lt(y, f->h);
	return f->pix[(size_t)y * f->w + x];
}

/* ---- registers ---------------------------------------------------------- */

Test(vga, register_read_back)
{
	struct rig *r = rig_new();
	wreg(r, 0x3c4, 1, 0x21);
	cr_assert_eq(rreg(r, 0x3c4, 1), 0x21);
	cr_assert_eq(inb(r, 0x3c4), 1);
	wreg(r, 0x3c4, 2, 0xff);
	cr_assert_eq(rreg(r, 0x3c4, 2), 0x0f); /* map mask: 4 bits */
	wreg(r, 0x3ce, 5, 0xff);
	cr_assert_eq(rreg(r, 0x3ce, 5), 0x7b);
	wreg(r, 0x3ce, 8, 0x5a);
	cr_assert_eq(rreg(r, 0x3ce, 8), 0x5a);
	wreg(r, 0x3d4, 0x0e, 0x12);
	wreg(r, 0x3d4, 0x0f, 0x34);
	cr_assert_eq(rreg(r, 0x3d4, 0x0e), 0x12);
	cr_assert_eq(rreg(r, 0x3d4, 0x0f), 0x34);
	outb(r, 0x3c2, 0x67);
	cr_assert_eq(inb(r, 0x3cc), 0x67);
	/* Registers that do not exist. */
	cr_assert_eq(rreg(r, 0x3c4, 0x55), 0xff);
	cr_assert_eq(rreg(r, 0x3ce, 0x0c), 0xff);
	cr_assert_eq(rreg(r, 0x3d4, 0x40), 0xff);
	/* CR11 bit 7 write-protects CR0-CR7 (but CR7 bit 4). */
	wreg(r, 0x3d4, 0x01, 0x4f);
	wreg(r, 0x3d4, 0x07, 0x00);
	wreg(r, 0x3d4, 0x11, 0x80);
	wreg(r, 0x3d4, 0x01, 0x27);
	wreg(r, 0x3d4, 0x07, 0xff);
	cr_assert_eq(rreg(r, 0x3d4, 0x01), 0x4f);
	cr_assert_eq(rreg(r, 0x3d4, 0x07), 0x10);
	rig_free(r);
}

Test(vga, mono_aliases_follow_misc_bit0)
{
	struct rig *r = rig_new();
	outb(r, 0x3c2, 0x67); /* colour */
	wreg(r, 0x3d4, 0x0c, 0x11);
	cr_assert_eq(rreg(r, 0x3d4, 0x0c), 0x11);
	cr_assert_eq(inb(r, 0x3b5), 0xff);
	cr_assert_eq(inb(r, 0x3ba), 0xff);
	outb(r, 0x3c2, 0x66); /* mono */
	cr_assert_eq(rreg(r, 0x3b4, 0x0c), 0x11);
	wreg(r, 0x3b4, 0x0c, 0x22);
	cr_assert_eq(inb(r, 0x3d5), 0xff);
	outb(r, 0x3d4, 0x0c); /* ignored */
	outb(r, 0x3c2, 0x67);
	cr_assert_eq(rreg(r, 0x3d4, 0x0c), 0x22);
	rig_free(r);
}

Test(vga, attribute_flip_flop)
{
	struct rig *r = rig_new();
	inb(r, 0x3da); /* reset: next write is an index */
	outb(r, 0x3c0, 0x05);
	outb(r, 0x3c0, 0x2a);
	cr_assert_eq(inb(r, 0x3c0), 0x05);
	cr_assert_eq(inb(r, 0x3c1), 0x2a);
	/* Flip-flop is now "index" again: 0x12 is an index... */
	outb(r, 0x3c0, 0x12);
	/* ...then a read of input status 1 resets it, so 0x33 is an index
	 * (PAS | 0x13), not the data of 0x12. */
	inb(r, 0x3da);
	outb(r, 0x3c0, 0x33);
	cr_assert_eq(inb(r, 0x3c0), 0x33);
	outb(r, 0x3c0, 0x07);
	cr_assert_eq(inb(r, 0x3c1), 0x07);
	ar_set(r, 0x12, 0x00);
	inb(r, 0x3da);
	outb(r, 0x3c0, 0x12);
	cr_assert_eq(inb(r, 0x3c1), 0x00);
	rig_free(r);
}

Test(vga, input_status_toggles_retrace)
{
	struct rig *r = rig_new();
	uint8_t a = inb(r, 0x3da), b = inb(r, 0x3da);
	cr_assert_eq((a ^ b) & 0x08, 0x08);
	cr_assert_eq((a ^ b) & 0x01, 0x01);
	rig_free(r);
}

Test(vga, dac_three_access_cycles)
{
	struct rig *r = rig_new();
	outb(r, 0x3c8, 10);
	for (int i = 0; i < 6; i++)
		outb(r, 0x3c9, 0x10 + i);
	cr_assert_eq(inb(r, 0x3c8), 12); /* two entries written */
	cr_assert_eq(inb(r, 0x3c7) & 3, 0);
	outb(r, 0x3c7, 10);
	cr_assert_eq(inb(r, 0x3c7) & 3, 3);
	for (int i = 0; i < 6; i++)
		cr_assert_eq(inb(r, 0x3c9), 0x10 + i);
	/* A new read index restarts the cycle at red. */
	outb(r, 0x3c7, 11);
	inb(r, 0x3c9);
	outb(r, 0x3c7, 11);
	cr_assert_eq(inb(r, 0x3c9), 0x13);
	/* Index 255 wraps to 0. */
	outb(r, 0x3c8, 255);
	for (int i = 0; i < 4; i++)
		outb(r, 0x3c9, 0x3f);
	cr_assert_eq(inb(r, 0x3c8), 0);
	outb(r, 0x3c6, 0xf0);
	cr_assert_eq(inb(r, 0x3c6), 0xf0);
	rig_free(r);
}

/* ---- memory -------------------------------------------------------------- */

/* Planar, 0xA0000 64 KiB, all planes. */
static void planar(struct rig *r)
{
	wreg(r, 0x3c4, 4, 0x06);
	wreg(r, 0x3c4, 2, 0x0f);
	wreg(r, 0x3ce, 6, 0x05);
	wreg(r, 0x3ce, 5, 0x00);
	wreg(r, 0x3ce, 8, 0xff);
}

static uint8_t plane_byte(struct rig *r, unsigned p, uint32_t off)
{
	wreg(r, 0x3ce, 4, p);
	wreg(r, 0x3ce, 5, 0x00);
	return memr(r, 0xa0000 + off);
}

Test(vga, write_mode_0_map_mask_set_reset_rotate_alu)
{
	struct rig *r = rig_new();
	planar(r);
	wreg(r, 0x3c4, 2, 0x05); /* planes 0 and 2 */
	memw(r, 0xa0010, 0x81);
	cr_assert_eq(plane_byte(r, 0, 0x10), 0x81);
	cr_assert_eq(plane_byte(r, 1, 0x10), 0x00);
	cr_assert_eq(plane_byte(r, 2, 0x10), 0x81);
	/* Set/reset on plane 1 and 3 (enable 0x0a, value 0x02). */
	wreg(r, 0x3c4, 2, 0x0f);
	wreg(r, 0x3ce, 0, 0x02);
	wreg(r, 0x3ce, 1, 0x0a);
	memw(r, 0xa0020, 0x3c);
	cr_assert_eq(plane_byte(r, 0, 0x20), 0x3c);
	cr_assert_eq(plane_byte(r, 1, 0x20), 0xff);
	cr_assert_eq(plane_byte(r, 3, 0x20), 0x00);
	wreg(r, 0x3ce, 1, 0);
	/* Rotate by 4. */
	wreg(r, 0x3ce, 3, 0x04);
	memw(r, 0xa0030, 0x12);
	cr_assert_eq(plane_byte(r, 0, 0x30), 0x21);
	/* XOR with the latches, and the bit mask keeps latch bits. */
	wreg(r, 0x3ce, 3, 0x18);
	wreg(r, 0x3ce, 8, 0x0f);
	memr(r, 0xa0030); /* latch 0x21 in every plane */
	memw(r, 0xa0030, 0xff);
	cr_assert_eq(plane_byte(r, 0, 0x30), 0x2e);
	rig_free(r);
}

Test(vga, write_modes_1_2_3_and_read_mode_1)
{
	struct rig *r = rig_new();
	planar(r);
	memw(r, 0xa0000, 0xa5);
	/* Mode 1 copies the latches. */
	memr(r, 0xa0000);
	wreg(r, 0x3ce, 5, 0x01);
	memw(r, 0xa0100, 0x00);
	for (int p = 0; p < 4; p++)
		cr_assert_eq(plane_byte(r, p, 0x100), 0xa5);
	/* Mode 2: bit p of the value fills plane p, under the bit mask. */
	wreg(r, 0x3ce, 5, 0x02);
	wreg(r, 0x3ce, 8, 0xf0);
	memr(r, 0xa0200); /* latches 0 */
	memw(r, 0xa0200, 0x05);
	cr_assert_eq(plane_byte(r, 0, 0x200), 0xf0);
	cr_assert_eq(plane_byte(r, 1, 0x200), 0x00);
	cr_assert_eq(plane_byte(r, 2, 0x200), 0xf0);
	/* Mode 3: set/reset colour, rotated value ANDed into the mask. */
	wreg(r, 0x3ce, 5, 0x03);
	wreg(r, 0x3ce, 8, 0xff);
	wreg(r, 0x3ce, 0, 0x08);
	memr(r, 0xa0300);
	memw(r, 0xa0300, 0x3c);
	cr_assert_eq(plane_byte(r, 3, 0x300), 0x3c);
	cr_assert_eq(plane_byte(r, 0, 0x300), 0x00);
	/* Read mode 1: pixels of colour 8 in byte 0x300 (planes 0-3). */
	wreg(r, 0x3ce, 2, 0x08);
	wreg(r, 0x3ce, 7, 0x0f);
	wreg(r, 0x3ce, 5, 0x08);
	cr_assert_eq(memr(r, 0xa0300), 0x3c);
	wreg(r, 0x3ce, 7, 0x00); /* all "don't care" */
	cr_assert_eq(memr(r, 0xa0300), 0xff);
	rig_free(r);
}

Test(vga, chain4_and_odd_even)
{
	struct rig *r = rig_new();
	planar(r);
	wreg(r, 0x3c4, 4, 0x0e); /* chain-4 */
	memw(r, 0xa0005, 0x77);	 /* plane 1, offset 1 */
	cr_assert_eq(vga_vram(r->vga)[5], 0x77);
	cr_assert_eq(memr(r, 0xa0005), 0x77);
	wreg(r, 0x3c4, 4, 0x02); /* odd/even */
	wreg(r, 0x3ce, 6, 0x0e); /* B8000, 32 KiB */
	wreg(r, 0x3c4, 2, 0x03);
	memw(r, 0xb8000, 'A');
	memw(r, 0xb8001, 0x1f);
	cr_assert_eq(vga_vram(r->vga)[0], 'A');	 /* plane 0 */
	cr_assert_eq(vga_vram(r->vga)[1], 0x1f); /* plane 1 */
	cr_assert_eq(memr(r, 0xb8000), 'A');
	cr_assert_eq(memr(r, 0xb8001), 0x1f);
	/* Outside the aperture: floats. */
	cr_assert_eq(memr(r, 0xa0000), 0xff);
	memw(r, 0xa0000, 0x12);
	cr_assert_eq(vga_vram(r->vga)[0], 'A');
	rig_free(r);
}

/* ---- VBE ----------------------------------------------------------------- */

Test(vga, vbe_id_caps_and_memory)
{
	struct rig *r = rig_new();
	cr_assert_eq(vbe_get(r, VBE_INDEX_ID), 0xb0c0);
	vbe_set(r, VBE_INDEX_ID, 0xb0c5);
	cr_assert_eq(vbe_get(r, VBE_INDEX_ID), 0xb0c5);
	vbe_set(r, VBE_INDEX_ID, 0x1234);
	cr_assert_eq(vbe_get(r, VBE_INDEX_ID), 0xb0c5);
	cr_assert_eq(vbe_get(r, VBE_INDEX_VIDEO_MEMORY_64K), 256);
	vbe_set(r, VBE_INDEX_ENABLE, VBE_GETCAPS);
	cr_assert_eq(vbe_get(r, VBE_INDEX_XRES), VBE_DISPI_MAX_X);
	cr_assert_eq(vbe_get(r, VBE_INDEX_YRES), VBE_DISPI_MAX_Y);
	cr_assert_eq(vbe_get(r, VBE_INDEX_BPP), 32);
	vbe_set(r, VBE_INDEX_ENABLE, 0);
	cr_assert_eq(vbe_get(r, VBE_INDEX_XRES), 640);
	/* The index register reads back; unknown indexes read 0. */
	pc_out(&r->pc, 0x1ce, 2, 0x55);
	cr_assert_eq(pc_in(&r->pc, 0x1ce, 2), 0x55);
	cr_assert_eq(pc_in(&r->pc, 0x1cf, 2), 0);
	rig_free(r);
}

Test(vga, vbe_enable_resolution_and_lfb)
{
	struct rig *r = rig_new();
	pc_setup_bar(&r->pc, SLOT, 0, LFB, PCI_CMD_MEMORY | PCI_CMD_IO);
	vbe_set(r, VBE_INDEX_XRES, 1024);
	vbe_set(r, VBE_INDEX_YRES, 768);
	vbe_set(r, VBE_INDEX_BPP, 32);
	vbe_set(r, VBE_INDEX_ENABLE, VBE_ENABLED | VBE_LFB_ENABLED);
	cr_assert_eq(vbe_get(r, VBE_INDEX_ENABLE),
		     VBE_ENABLED | VBE_LFB_ENABLED);
	cr_assert_eq(vbe_get(r, VBE_INDEX_VIRT_WIDTH), 1024);
	cr_assert_eq(vbe_get(r, VBE_INDEX_VIRT_HEIGHT), VGA_VRAM_SIZE / 4096);
	/* Resolution is fixed while enabled. */
	vbe_set(r, VBE_INDEX_XRES, 800);
	cr_assert_eq(vbe_get(r, VBE_INDEX_XRES), 1024);
	struct vga_info in;
	vga_get_info(r->vga, &in);
	cr_assert_eq(in.kind, VGA_KIND_VBE);
	cr_assert_eq(in.width, 1024);
	cr_assert_eq(in.height, 768);
	/* A pixel through BAR0, rendered. */
	pc_wr(&r->pc, LFB + (10 * 1024 + 3) * 4, 4, 0x00123456);
	cr_assert(vga_update(r->vga, 0, false));
	cr_assert_eq(px(r, 3, 10), 0x123456);
	/* Nothing changed: nothing redrawn. */
	cr_assert_not(vga_update(r->vga, 0, false));
	pc_wr(&r->pc, LFB + (700 * 1024) * 4, 4, 0xffffff);
	cr_assert(vga_update(r->vga, 0, false));
	const struct vga_frame *f = vga_frame(r->vga);
	cr_assert_geq(f->y0, 699);
	cr_assert_leq(f->y1, 702);
	/* Banked window: bank 1 is VRAM 64 KiB on. */
	vbe_set(r, VBE_INDEX_BANK, 1);
	memw(r, 0xa0004, 0x99);
	cr_assert_eq(vga_vram(r->vga)[0x10004], 0x99);
	/* Bank beyond VRAM refused. */
	vbe_set(r, VBE_INDEX_BANK, 256);
	cr_assert_eq(vbe_get(r, VBE_INDEX_BANK), 1);
	/* Y offset: panning within VRAM only. */
	vbe_set(r, VBE_INDEX_Y_OFFSET, 100);
	cr_assert_eq(vbe_get(r, VBE_INDEX_Y_OFFSET), 100);
	vbe_set(r, VBE_INDEX_Y_OFFSET, 4000);
	cr_assert_eq(vbe_get(r, VBE_INDEX_Y_OFFSET), 100);
	rig_free(r);
}

Test(vga, vbe_enable_clears_the_visible_frame_only)
{
	struct rig *r = rig_new();
	uint8_t *v = vga_vram(r->vga);
	v[100] = 0x11;
	v[640 * 480 * 4 + 100] = 0x22;
	vbe_set(r, VBE_INDEX_XRES, 640);
	vbe_set(r, VBE_INDEX_YRES, 480);
	vbe_set(r, VBE_INDEX_BPP, 32);
	vbe_set(r, VBE_INDEX_ENABLE, VBE_ENABLED | VBE_NOCLEARMEM);
	cr_assert_eq(v[100], 0x11);
	vbe_set(r, VBE_INDEX_ENABLE, 0);
	vbe_set(r, VBE_INDEX_ENABLE, VBE_ENABLED);
	cr_assert_eq(v[100], 0);
	cr_assert_eq(v[640 * 480 * 4 + 100], 0x22);
	rig_free(r);
}

Test(vga, vbe_refuses_modes_beyond_vram)
{
	struct rig *r = rig_new();
	vbe_set(r, VBE_INDEX_XRES, 4000); /* above the maximum: ignored */
	cr_assert_eq(vbe_get(r, VBE_INDEX_XRES), 640);
	vbe_set(r, VBE_INDEX_XRES, 2560);
	vbe_set(r, VBE_INDEX_YRES, 1600);
	vbe_set(r, VBE_INDEX_BPP, 32); /* 16000 KiB: fits */
	vbe_set(r, VBE_INDEX_ENABLE, VBE_ENABLED | VBE_NOCLEARMEM);
	cr_assert_eq(vbe_get(r, VBE_INDEX_ENABLE) & VBE_ENABLED, VBE_ENABLED);
	vbe_set(r, VBE_INDEX_ENABLE, 0);
	vbe_set(r, VBE_INDEX_BPP, 7); /* not a depth */
	cr_assert_eq(vbe_get(r, VBE_INDEX_BPP), 32);
	vbe_set(r, VBE_INDEX_VIRT_WIDTH, 2560);
	vbe_set(r, VBE_INDEX_XRES, 2560);
	vbe_set(r, VBE_INDEX_YRES, 1600);
	/* 2560 * 1600 * 4 fits, but a virtual width of 4000 would not. */
	vbe_set(r, VBE_INDEX_ENABLE, VBE_ENABLED);
	vbe_set(r, VBE_INDEX_VIRT_WIDTH, 4000);
	cr_assert_eq(vbe_get(r, VBE_INDEX_VIRT_WIDTH), 2560);
	vga_update(r->vga, 0, true);
	vbe_set(r, VBE_INDEX_ENABLE, 0);
	/* An odd width at 4 bpp, or 0 lines: refused. */
	vbe_set(r, VBE_INDEX_BPP, 4);
	vbe_set(r, VBE_INDEX_XRES, 641);
	vbe_set(r, VBE_INDEX_ENABLE, VBE_ENABLED);
	cr_assert_eq(vbe_get(r, VBE_INDEX_ENABLE) & VBE_ENABLED, 0);
	vbe_set(r, VBE_INDEX_XRES, 640);
	vbe_set(r, VBE_INDEX_YRES, 0);
	vbe_set(r, VBE_INDEX_ENABLE, VBE_ENABLED);
	cr_assert_eq(vbe_get(r, VBE_INDEX_ENABLE) & VBE_ENABLED, 0);
	vga_update(r->vga, 0, true);
	rig_free(r);
}

/* ---- PCI ----------------------------------------------------------------- */

Test(vga, pci_ids_bar0_and_rom)
{
	struct rig *r = rig_new();
	cr_assert_eq(pc_cfg_rd(&r->pc, SLOT, 0, 4), 0x11111234);
	cr_assert_eq(pc_cfg_rd(&r->pc, SLOT, 0x08, 4) >> 8, 0x030000);
	pc_cfg_wr(&r->pc, SLOT, 0x10, 4, 0xffffffff);
	cr_assert_eq(pc_cfg_rd(&r->pc, SLOT, 0x10, 4), 0xff000008);
	pc_cfg_wr(&r->pc, SLOT, 0x30, 4, 0xfffff800);
	cr_assert_eq(pc_cfg_rd(&r->pc, SLOT, 0x30, 4), 0xfffff800);
	pc_cfg_wr(&r->pc, SLOT, 0x30, 4, 0xfeb00001);
	pc_cfg_wr(&r->pc, SLOT, 0x04, 2, PCI_CMD_MEMORY);
	cr_assert_eq(pc_rd(&r->pc, 0xfeb00000, 2), 0xaa55);
	cr_assert_eq(pc_rd(&r->pc, 0xfeb00004, 1), 0x12);
	cr_assert_eq(pc_rd(&r->pc, 0xfeb00700, 1), 0x00); /* padding */
	rig_free(r);
}

/* ---- rendering ------------------------------------------------------------
 */

static const uint8_t GLYPH_A[16] = {0x80, 0x00, 0x18, 0x3c, 0x66, 0x66,
				    0x7e, 0x66, 0x66, 0x66, 0x00, 0x00,
				    0x00, 0x00, 0x00, 0x01};

/* Mode 3 with the glyph of 'A' in font 0 and 'A' white on blue at (0,0). */
static void text_screen(struct rig *r)
{
	planar(r);
	wreg(r, 0x3c4, 2, 0x04); /* plane 2: fonts */
	for (int y = 0; y < 16; y++)
		memw(r, 0xa0000 + 'A' * 32 + y, GLYPH_A[y]);
	set_mode(r, 0x67, m3_sr, m3_cr, m3_gr, m3_ar);
	dac_set(r, 0x01, 0, 0, 0x2a);	    /* blue */
	dac_set(r, 0x3f, 0x3f, 0x3f, 0x3f); /* white */
	memw(r, 0xb8000, 'A');
	memw(r, 0xb8001, 0x1f);
	memw(r, 0xb8002, 'H');
	memw(r, 0xb8004, 'i');
	memw(r, 0xb8000 + 160 * 24, '!');
}

Test(vga, text_mode_renders_a_character)
{
	struct rig *r = rig_new();
	text_screen(r);
	wreg(r, 0x3d4, 0x0a, 0x20); /* cursor off */
	struct vga_info in;
	vga_get_info(r->vga, &in);
	cr_assert_eq(in.kind, VGA_KIND_TEXT);
	cr_assert_eq(in.cols, 80);
	cr_assert_eq(in.rows, 25);
	cr_assert_eq(in.width, 720);
	cr_assert_eq(in.height, 400);
	cr_assert(vga_update(r->vga, 0, false));
	uint32_t white = 0xffffff, blue = 0x0000aa;
	cr_assert_eq(px(r, 0, 0), white);
	cr_assert_eq(px(r, 1, 0), blue);
	cr_assert_eq(px(r, 2, 3), white); /* 0x3c: bits 2-5 */
	cr_assert_eq(px(r, 1, 3), blue);
	cr_assert_eq(px(r, 7, 15), white);
	cr_assert_eq(px(r, 8, 15), blue);    /* 9th column: background */
	cr_assert_eq(px(r, 9, 0), 0x000000); /* next cell, attribute 0 */
	/* Only the changed cell's rows are redrawn. */
	cr_assert_not(vga_update(r->vga, 0, false));
	memw(r, 0xb8000 + 160 * 10 + 2, 'x');
	cr_assert(vga_update(r->vga, 0, false));
	cr_assert_eq(vga_frame(r->vga)->y0, 160);
	cr_assert_eq(vga_frame(r->vga)->y1, 176);
	rig_free(r);
}

Test(vga, text_cursor_blinks)
{
	struct rig *r = rig_new();
	text_screen(r);
	wreg(r, 0x3d4, 0x0e, 0);
	wreg(r, 0x3d4, 0x0f, 0);
	vga_update(r->vga, 0, true);
	cr_assert_eq(px(r, 3, 13), 0xffffff); /* cursor lines 13-14 */
	cr_assert_eq(px(r, 3, 12), 0x0000aa);
	cr_assert(vga_update(r->vga, 300, false));
	cr_assert_eq(px(r, 3, 13), 0x0000aa);
	rig_free(r);
}

Test(vga, text_dump)
{
	struct rig *r = rig_new();
	text_screen(r);
	char buf[4096];
	int n = vga_text_dump(r->vga, buf, sizeof(buf));
	cr_assert_gt(n, 0);
	cr_assert(!strncmp(buf, "AHi\n", 4), "got '%.10s'", buf);
	cr_assert_eq(buf[n - 2], '!');
	/* Not a text mode: -1. */
	set_mode(r, 0x63, m13_sr, m13_cr, m13_gr, NULL);
	cr_assert_eq(vga_text_dump(r->vga, buf, sizeof(buf)), -1);
	rig_free(r);
}

Test(vga, mode_13h_renders)
{
	struct rig *r = rig_new();
	set_mode(r, 0x63, m13_sr, m13_cr, m13_gr, NULL);
	dac_set(r, 0x28, 0x3f, 0x00, 0x00); /* red */
	dac_set(r, 0x0f, 0x00, 0x3f, 0x00); /* green */
	struct vga_info in;
	vga_get_info(r->vga, &in);
	cr_assert_eq(in.kind, VGA_KIND_256);
	cr_assert_eq(in.width, 320);
	cr_assert_eq(in.height, 200);
	memw(r, 0xa0000 + 100 * 320 + 7, 0x28);
	memw(r, 0xa0000 + 199 * 320 + 319, 0x0f);
	cr_assert(vga_update(r->vga, 0, false));
	cr_assert_eq(px(r, 7, 100), 0xff0000);
	cr_assert_eq(px(r, 319, 199), 0x00ff00);
	cr_assert_eq(px(r, 8, 100), 0);
	/* The DAC's 8-bit mode (VBE) is not on: 6-bit values scale. */
	dac_set(r, 0x28, 0x20, 0, 0);
	vga_update(r->vga, 0, false);
	cr_assert_eq(px(r, 7, 100), 0x820000);
	rig_free(r);
}

Test(vga, mode_12h_planar_renders)
{
	struct rig *r = rig_new();
	set_mode(r, 0xe3, m12_sr, m12_cr, m12_gr, NULL);
	dac_set(r, 0x05, 0x3f, 0x3f, 0x00);
	struct vga_info in;
	vga_get_info(r->vga, &in);
	cr_assert_eq(in.kind, VGA_KIND_PLANAR);
	cr_assert_eq(in.width, 640);
	cr_assert_eq(in.height, 480);
	/* Colour 5 (planes 0 and 2) at x 8..15 of line 479 via write mode 2. */
	wreg(r, 0x3ce, 5, 0x02);
	memr(r, 0xa0000 + 479 * 80 + 1);
	memw(r, 0xa0000 + 479 * 80 + 1, 0x05);
	vga_update(r->vga, 0, false);
	cr_assert_eq(px(r, 8, 479), 0xffff00);
	cr_assert_eq(px(r, 15, 479), 0xffff00);
	cr_assert_eq(px(r, 16, 479), 0);
	rig_free(r);
}

Test(vga, mode_0dh_planar_320x200_renders)
{
	struct rig *r = rig_new();
	set_mode(r, 0x63, m0d_sr, m0d_cr, m12_gr, m0d_ar);
	dac_set(r, 0x14, 0x3f, 0x00, 0x3f);
	struct vga_info in;
	vga_get_info(r->vga, &in);
	cr_assert_eq(in.kind, VGA_KIND_PLANAR);
	cr_assert_eq(in.width, 320);
	cr_assert_eq(in.height, 200); /* 400 lines, double scanned */
	wreg(r, 0x3ce, 5, 0x02);      /* write mode 2: colour 12 */
	memr(r, 0xa0000 + 199 * 40 + 39);
	memw(r, 0xa0000 + 199 * 40 + 39, 0x0c);
	vga_update(r->vga, 0, false);
	cr_assert_eq(px(r, 312, 199), 0xff00ff);
	cr_assert_eq(px(r, 319, 199), 0xff00ff);
	cr_assert_eq(px(r, 311, 199), 0);
	rig_free(r);
}

Test(vga, mode_04h_cga_renders)
{
	struct rig *r = rig_new();
	set_mode(r, 0x63, m04_sr, m04_cr, m04_gr, m04_ar);
	dac_set(r, 0x17, 0x3f, 0x3f, 0x3f);
	dac_set(r, 0x15, 0x3f, 0x00, 0x3f);
	struct vga_info in;
	vga_get_info(r->vga, &in);
	cr_assert_eq(in.kind, VGA_KIND_CGA);
	cr_assert_eq(in.width, 320);
	cr_assert_eq(in.height, 200);
	/* Line 5 is odd: bank 0x2000, row 2 (80 bytes a row); its second
	 * byte holds pixels 4-7: colours 3, 0, 2, 0. */
	memw(r, 0xb8000 + 0x2000 + 2 * 80 + 1, 0xc8);
	/* Line 4, pixel 0: colour 2 in the even bank. */
	memw(r, 0xb8000 + 2 * 80, 0x80);
	vga_update(r->vga, 0, false);
	cr_assert_eq(px(r, 4, 5), 0xffffff);
	cr_assert_eq(px(r, 5, 5), 0);
	cr_assert_eq(px(r, 6, 5), 0xff00ff);
	cr_assert_eq(px(r, 0, 4), 0xff00ff);
	cr_assert_eq(px(r, 4, 4), 0);
	rig_free(r);
}

Test(vga, mode_x_unchained_256_renders)
{
	struct rig *r = rig_new();
	set_mode(r, 0x63, m13_sr, m13_cr, m13_gr, NULL);
	/* Mode X: chain-4 off, the CRTC in byte mode. */
	wreg(r, 0x3c4, 4, 0x06);
	wreg(r, 0x3d4, 0x14, 0x00);
	wreg(r, 0x3d4, 0x17, 0xe3);
	dac_set(r, 0x09, 0x00, 0x00, 0x3f);
	/* Pixel (x, y) is plane x & 3 at offset y * 80 + x / 4. */
	wreg(r, 0x3c4, 2, 1u << (13 & 3));
	memw(r, 0xa0000 + 50 * 80 + 13 / 4, 0x09);
	vga_update(r->vga, 0, false);
	cr_assert_eq(px(r, 13, 50), 0x0000ff);
	cr_assert_eq(px(r, 12, 50), 0);
	cr_assert_eq(px(r, 14, 50), 0);
	rig_free(r);
}

Test(vga, vbe_4bpp_planar_renders)
{
	struct rig *r = rig_new();
	vbe_set(r, VBE_INDEX_XRES, 800);
	vbe_set(r, VBE_INDEX_YRES, 600);
	vbe_set(r, VBE_INDEX_BPP, 4);
	vbe_set(r, VBE_INDEX_ENABLE, VBE_ENABLED);
	ar_set(r, 0x0f, 0x3f);
	dac_set(r, 0x3f, 0x3f, 0x3f, 0x3f);
	inb(r, 0x3da);
	outb(r, 0x3c0, 0x20);
	/* Write mode 2, colour 15, at x 8-15 of line 599 (100 bytes a line);
	 * the window for bank 1 starts at plane offset 64 KiB. */
	wreg(r, 0x3ce, 5, 0x02);
	wreg(r, 0x3ce, 8, 0xff);
	uint32_t off = 599 * 100 + 1;
	vbe_set(r, VBE_INDEX_BANK, off >> 16);
	memr(r, 0xa0000 + (off & 0xffff));
	memw(r, 0xa0000 + (off & 0xffff), 0x0f);
	vga_update(r->vga, 0, false);
	cr_assert_eq(px(r, 8, 599), 0xffffff);
	cr_assert_eq(px(r, 7, 599), 0);
	rig_free(r);
}

Test(vga, vbe_depths_render)
{
	static const struct {
		unsigned bpp;
		uint32_t raw, rgb;
	} c[] = {{15, 0x7c00, 0xff0000},
		 {16, 0x07e0, 0x00ff00},
		 {24, 0x0000ff, 0x0000ff},
		 {32, 0x00abcdef, 0xabcdef}};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct rig *r = rig_new();
		vbe_set(r, VBE_INDEX_XRES, 320);
		vbe_set(r, VBE_INDEX_YRES, 200);
		vbe_set(r, VBE_INDEX_BPP, c[i].bpp);
		vbe_set(r, VBE_INDEX_ENABLE, VBE_ENABLED | VBE_LFB_ENABLED);
		unsigned b = c[i].bpp == 15 ? 2 : c[i].bpp / 8;
		uint8_t *v = vga_vram(r->vga) + (5 * 320 + 6) * b;
		memcpy(v, &c[i].raw, b);
		vga_mark_dirty(r->vga, (5 * 320 + 6) * b, b);
		vga_update(r->vga, 0, false);
		cr_assert_eq(px(r, 6, 5), c[i].rgb, "bpp %u", c[i].bpp);
		rig_free(r);
	}
	/* 8 bpp through an 8-bit DAC. */
	struct rig *r = rig_new();
	vbe_set(r, VBE_INDEX_BPP, 8);
	vbe_set(r, VBE_INDEX_ENABLE, VBE_ENABLED | VBE_8BIT_DAC);
	dac_set(r, 3, 0x12, 0x34, 0x56);
	memw(r, 0xa0000 + 641, 3); /* banked window, bank 0 */
	vga_update(r->vga, 0, false);
	cr_assert_eq(px(r, 1, 1), 0x123456);
	rig_free(r);
}

Test(vga, dirty_log_pages_redraw)
{
	struct rig *r = rig_new();
	vbe_set(r, VBE_INDEX_XRES, 1024);
	vbe_set(r, VBE_INDEX_YRES, 768);
	vbe_set(r, VBE_INDEX_BPP, 32);
	vbe_set(r, VBE_INDEX_ENABLE, VBE_ENABLED | VBE_LFB_ENABLED);
	vga_update(r->vga, 0, false);
	/* A store that bypassed the device (a KVM slot) shows only after
	 * its page is reported. */
	vga_vram(r->vga)[(300 * 1024 + 1) * 4] = 0x42;
	cr_assert_not(vga_update(r->vga, 0, false));
	uint64_t bits[2] = {0, 0};
	unsigned page = (300 * 1024 + 1) * 4 / 4096;
	bits[0] = 1ull << (page - 256);
	vga_mark_dirty_pages(r->vga, bits, 256, 64);
	cr_assert(vga_update(r->vga, 0, false));
	cr_assert_eq(px(r, 1, 300), 0x42);
	cr_assert_eq(vga_frame(r->vga)->y0, 300);
	cr_assert_eq(vga_frame(r->vga)->y1, 301); /* a page is a line */
	rig_free(r);
}

/* ---- garbage ----------------------------------------------------------------
 */

static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

Test(vga, garbage_never_crashes)
{
	struct rig *r = rig_new();
	pc_setup_bar(&r->pc, SLOT, 0, LFB, PCI_CMD_MEMORY | PCI_CMD_IO);
	uint32_t seed = 0x12345678;
	static const unsigned sizes[] = {1, 2, 4, 8};
	for (int i = 0; i < 200000; i++) {
		uint32_t k = rnd(&seed), v = rnd(&seed);
		unsigned size = sizes[k & 3];
		switch ((k >> 2) & 7) {
		case 0:
		case 1:
			if (size < 8)
				pc_out(&r->pc, 0x3b0 + ((k >> 8) % 0x30), size,
				       v);
			break;
		case 2:
			if (size < 8)
				(void)pc_in(&r->pc, 0x3b0 + ((k >> 8) % 0x30),
					    size);
			break;
		case 3:
			if (size < 8)
				pc_out(&r->pc, 0x1ce + ((k >> 8) % 3), size,
				       (k >> 16) & 1 ? v : v % 12);
			break;
		case 4:
			pc_wr(&r->pc, 0xa0000 + ((k >> 8) % 0x20000), size, v);
			break;
		case 5:
			(void)pc_rd(&r->pc, 0xa0000 + ((k >> 8) % 0x20000),
				    size);
			break;
		case 6:
			pc_wr(&r->pc,
			      LFB - 4 + ((uint64_t)v % (VGA_VRAM_SIZE + 8)),
			      size, k);
			break;
		default:
			if ((i & 1023) == 0)
				vga_update(r->vga, i, (k >> 8) & 1);
			break;
		}
	}
	vga_update(r->vga, 0, true);
	char buf[64];
	vga_text_dump(r->vga, buf, sizeof(buf));
	vga_text_dump(r->vga, buf, 0);
	rig_free(r);
}

Test(vga, reset_restores_power_on_state)
{
	struct rig *r = rig_new();
	text_screen(r);
	vbe_set(r, VBE_INDEX_ENABLE, VBE_ENABLED);
	vga_reset(r->vga);
	cr_assert_eq(vbe_get(r, VBE_INDEX_ENABLE), 0);
	cr_assert_eq(inb(r, 0x3cc), 0x01);
	struct vga_info in;
	vga_get_info(r->vga, &in);
	cr_assert_eq(in.kind, VGA_KIND_BLANK);
	vga_update(r->vga, 0, false);
	cr_assert_eq(vga_frame(r->vga)->w, 640);
	rig_free(r);
}
