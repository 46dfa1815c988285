/*
 * What shows the VGA's frame: a periodic refresh on the device-model
 * thread (the VRAM dirty log is fetched, the VGA renders what changed),
 * an SDL2 window when asked for (-display sdl: scaled frame, keyboard to
 * the i8042 as scan codes), and screendumps (PNG, or the text screen).
 * Headless, nothing runs until a screendump asks for a frame.
 */
#ifndef MINIVMM_VMM_DISPLAY_H
#define MINIVMM_VMM_DISPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dm;
struct vga;
struct i8042;
struct display;

enum display_kind { DISPLAY_NONE, DISPLAY_SDL };

struct display_cfg {
	enum display_kind kind;
	struct dm *dm;
	struct vga *vga;
	struct i8042 *kbd; /* may be NULL: keys go nowhere */
	/* Lock held: reports VRAM stores that did not exit (a dirty log)
	 * to the VGA. May be NULL. */
	void (*sync)(void *opaque);
	/* The window was closed. May be NULL. */
	void (*quit)(void *opaque);
	void *opaque;
	unsigned refresh_ms; /* 0: 33 */
};

/* NULL with one line in err when the window cannot be made. */
struct display *display_new(const struct display_cfg *cfg, char *err,
			    size_t len);
void display_free(struct display *d);
/* One refresh as the timer does it (lock held): returns whether rows of
 * the frame changed. */
bool display_refresh(struct display *d, bool full);
/* Lock held: an up-to-date frame into file, as PNG, or (text) the text
 * screen as lines. 0, or -1 with one line in err. */
int display_screendump(struct display *d, const char *file, bool text,
		       char *err, size_t len);
/* Lock held: the same as a PNG, every row redrawn from VRAM whatever the
 * dirty tracking says (to tell a missed dirty page from a guest that did
 * not draw). */
int display_screendump_full(struct display *d, const char *file, char *err,
			    size_t len);
/* Lock held: refreshes so far and how many of them changed the frame;
 * whether a window shows it. */
void display_counts(const struct display *d, uint64_t *refreshes,
		    uint64_t *redraws, bool *window);
/* Lock held: the text screen into buf (see vga_text_dump). */
int display_text(struct display *d, char *buf, size_t len);

/* Writes w*h XRGB pixels as an 8-bit RGB PNG. 0 or -1 with err. */
int png_write_xrgb(const char *file, const uint32_t *pix, unsigned w,
		   unsigned h, char *err, size_t len);

/*
 * USB HID keyboard usage (SDL_Scancode) to PS/2 scan code set 2 bytes for
 * press (release: the same with F0 before the last byte). Returns the
 * number of bytes written into out (4 at most), 0 for keys it does not
 * know.
 */
size_t keymap_hid_to_set2(unsigned usage, bool release, uint8_t *out);

#endif
