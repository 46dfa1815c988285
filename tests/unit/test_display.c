/*
 * The display (vmm/display): HID to set 2 key codes, PNG and text
 * screendumps of a VGA frame, and the SDL window on SDL's dummy video
 * driver (no X needed): scaling, key events into the i8042.
 */
#include <criterion/criterion.h>

#include <event2/event.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hw/i8042.h"
#include "hw/vga.h"
#include "ioreq/dm.h"
#include "tests/unit/fake_pc.h"
#include "vmm/display/display.h"
#include "vmm/display/sdl.h"

#ifdef CONFIG_SDL
#include <SDL.h>
#endif

Test(display, keymap_hid_to_set2)
{
	uint8_t b[4];
	cr_assert_eq(keymap_hid_to_set2(0x04, false, b), 1); /* a */
	cr_assert_eq(b[0], 0x1c);
	cr_assert_eq(keymap_hid_to_set2(0x04, true, b), 2);
	cr_assert_eq(b[0], 0xf0);
	cr_assert_eq(b[1], 0x1c);
	cr_assert_eq(keymap_hid_to_set2(0x52, false, b), 2); /* up */
	cr_assert_eq(b[0], 0xe0);
	cr_assert_eq(b[1], 0x75);
	cr_assert_eq(keymap_hid_to_set2(0x52, true, b), 3);
	cr_assert_eq(b[1], 0xf0);
	cr_assert_eq(b[2], 0x75);
	cr_assert_eq(keymap_hid_to_set2(0x28, false, b), 1); /* enter */
	cr_assert_eq(b[0], 0x5a);
	cr_assert_eq(keymap_hid_to_set2(0, false, b), 0);
	cr_assert_eq(keymap_hid_to_set2(100000, false, b), 0);
}

/* A VGA in VBE 320x200x32 with one red pixel at (5, 7). */
static struct vga *red_dot(void)
{
	struct vga *v = vga_new();
	struct bus io, mmio;
	bus_init(&io, "port");
	bus_init(&mmio, "mmio");
	cr_assert_eq(vga_attach_isa(v, &io, &mmio), 0);
	static const uint16_t set[][2] = {{VBE_INDEX_XRES, 320},
					  {VBE_INDEX_YRES, 200},
					  {VBE_INDEX_BPP, 32},
					  {VBE_INDEX_ENABLE, VBE_ENABLED}};
	for (size_t i = 0; i < 4; i++) {
		uint16_t idx = set[i][0], val = set[i][1];
		bus_access(&io, VBE_PORT_INDEX, 2, true, &idx, 1);
		bus_access(&io, VBE_PORT_INDEX + 1, 2, true, &val, 1);
	}
	uint32_t red = 0xff0000;
	memcpy(vga_vram(v) + (7 * 320 + 5) * 4, &red, 4);
	bus_destroy(&io);
	bus_destroy(&mmio);
	return v;
}

Test(display, png_screendump)
{
	struct vga *v = red_dot();
	struct display_cfg c = {.kind = DISPLAY_NONE, .vga = v};
	char err[256], path[] = "/tmp/minivmm-shot-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	close(fd);
	struct display *d = display_new(&c, err, sizeof(err));
	cr_assert_not_null(d);
	cr_assert_eq(display_screendump(d, path, false, err, sizeof(err)), 0,
		     "%s", err);
	png_image img = {.version = PNG_IMAGE_VERSION};
	cr_assert(png_image_begin_read_from_file(&img, path));
	cr_assert_eq(img.width, 320);
	cr_assert_eq(img.height, 200);
	img.format = PNG_FORMAT_RGB;
	uint8_t *buf = malloc(PNG_IMAGE_SIZE(img));
	cr_assert(png_image_finish_read(&img, NULL, buf, 0, NULL));
	const uint8_t *p = buf + (7 * 320 + 5) * 3;
	cr_assert_eq(p[0], 0xff);
	cr_assert_eq(p[1], 0);
	cr_assert_eq(p[2], 0);
	cr_assert_eq(buf[0], 0);
	free(buf);
	/* Not a text mode; an unwritable file. */
	cr_assert_eq(display_screendump(d, path, true, err, sizeof(err)), -1);
	cr_assert(strstr(err, "not in a text mode"));
	cr_assert_eq(display_screendump(d, "/nonexistent/x.png", false, err,
					sizeof(err)),
		     -1);
	cr_assert(strstr(err, "cannot open"));
	unlink(path);
	display_free(d);
	vga_free(v);
}

/* A store the dirty tracking never heard of: the incremental dump keeps
 * the old pixel (as the window would), the full one shows it. */
Test(display, full_screendump_ignores_dirty_tracking)
{
	struct vga *v = red_dot();
	struct display_cfg c = {.kind = DISPLAY_NONE, .vga = v};
	char err[256], path[] = "/tmp/minivmm-shot-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	close(fd);
	struct display *d = display_new(&c, err, sizeof(err));
	cr_assert_not_null(d);
	cr_assert_eq(display_screendump(d, path, false, err, sizeof(err)), 0);
	uint32_t green = 0x00ff00;
	memcpy(vga_vram(v) + (9 * 320 + 3) * 4, &green, 4);
	for (int full = 0; full < 2; full++) {
		int rc =
		    full ? display_screendump_full(d, path, err, sizeof(err))
			 : display_screendump(d, path, false, err, sizeof(err));
		cr_assert_eq(rc, 0, "%s", err);
		png_image img = {.version = PNG_IMAGE_VERSION};
		cr_assert(png_image_begin_read_from_file(&img, path));
		img.format = PNG_FORMAT_RGB;
		uint8_t *buf = malloc(PNG_IMAGE_SIZE(img));
		cr_assert(png_image_finish_read(&img, NULL, buf, 0, NULL));
		const uint8_t *p = buf + (9 * 320 + 3) * 3;
		cr_assert_eq(p[1], full ? 0xff : 0, "full %d", full);
		free(buf);
	}
	cr_assert_eq(
	    display_screendump_full(d, "/nonexistent/x.png", err, sizeof(err)),
	    -1);
	unlink(path);
	display_free(d);
	vga_free(v);
}

#ifdef CONFIG_SDL
static unsigned got_usage, got_keys;
static bool got_release;

static void key(void *o, unsigned usage, bool release)
{
	(void)o;
	got_usage = usage;
	got_release = release;
	got_keys++;
}

static void push_key(SDL_Scancode sc, bool up)
{
	SDL_Event e = {0};
	e.type = up ? SDL_KEYUP : SDL_KEYDOWN;
	e.key.keysym.scancode = sc;
	cr_assert_eq(SDL_PushEvent(&e), 1, "%s", SDL_GetError());
}

Test(display, sdl_window_scales_and_takes_keys)
{
	setenv("SDL_VIDEODRIVER", "dummy", 1);
	char err[256];
	struct sdl_window *w = sdl_window_new("test", err, sizeof(err));
	cr_assert_not_null(w, "%s", err);
	struct vga *v = red_dot();
	vga_update(v, 0, true);
	sdl_window_show(w, vga_frame(v));
	int ww, wh;
	sdl_window_size(w, &ww, &wh);
	cr_assert_eq(ww, 640); /* 320x200 shown twice the size */
	cr_assert_eq(wh, 400);
	push_key(SDL_SCANCODE_B, false);
	struct sdl_input in = {.key = key};
	sdl_window_poll(w, &in);
	cr_assert_eq(got_keys, 1);
	cr_assert_eq(got_usage, SDL_SCANCODE_B);
	cr_assert_not(got_release);
	sdl_window_free(w);
	vga_free(v);
}

/* The whole path: the display's timer on a device-model loop polls the
 * window and a key reaches the i8042's output buffer. */
Test(display, sdl_keys_reach_the_keyboard)
{
	setenv("SDL_VIDEODRIVER", "dummy", 1);
	struct dm dm;
	cr_assert_eq(dm_init(&dm, DM_MODE_INLINE, 1), 0);
	struct i8042 *kbd =
	    i8042_new(NULL, (struct signal){0}, (struct signal){0});
	struct vga *v = red_dot();
	struct display_cfg c = {.kind = DISPLAY_SDL,
				.dm = &dm,
				.vga = v,
				.kbd = kbd,
				.refresh_ms = 1};
	char err[256];
	struct display *d = display_new(&c, err, sizeof(err));
	cr_assert_not_null(d, "%s", err);
	push_key(SDL_SCANCODE_A, false);
	for (int i = 0; i < 5 && !i8042_queued(kbd); i++)
		event_base_loop(dm.base, EVLOOP_ONCE);
	cr_assert_gt(i8042_queued(kbd), 0);
	display_free(d);
	vga_free(v);
	i8042_free(kbd);
	dm_destroy(&dm);
}
static int mouse_calls;
static int mouse_dx, mouse_dy, mouse_dz;
static unsigned mouse_buttons;

static void mouse(void *o, int dx, int dy, int dz, unsigned buttons)
{
	(void)o;
	mouse_calls++;
	mouse_dx += dx;
	mouse_dy += dy;
	mouse_dz += dz;
	mouse_buttons = buttons;
}

static void push_mouse(Uint32 type, int a, int b, uint8_t button)
{
	SDL_Event e = {0};
	e.type = type;
	if (type == SDL_MOUSEMOTION) {
		e.motion.xrel = a;
		e.motion.yrel = b;
	} else if (type == SDL_MOUSEWHEEL) {
		e.wheel.y = a;
	} else {
		e.button.button = button;
	}
	cr_assert_eq(SDL_PushEvent(&e), 1, "%s", SDL_GetError());
}

/* A click grabs (and is not passed on); then motion, buttons and the
 * wheel go to mouse(); Ctrl+Alt lets go. */
Test(display, sdl_mouse_grab_motion_buttons_wheel)
{
	setenv("SDL_VIDEODRIVER", "dummy", 1);
	char err[256];
	struct sdl_window *w = sdl_window_new("test", err, sizeof(err));
	cr_assert_not_null(w, "%s", err);
	struct sdl_input in = {.key = key, .mouse = mouse};
	push_mouse(SDL_MOUSEMOTION, 5, 5, 0); /* not grabbed: ignored */
	push_mouse(SDL_MOUSEBUTTONDOWN, 0, 0, SDL_BUTTON_LEFT);
	push_mouse(SDL_MOUSEBUTTONUP, 0, 0, SDL_BUTTON_LEFT);
	sdl_window_poll(w, &in);
	cr_assert_eq(mouse_calls, 0);
	cr_assert(sdl_window_grabbed(w));
	push_mouse(SDL_MOUSEMOTION, 7, -3, 0);
	push_mouse(SDL_MOUSEBUTTONDOWN, 0, 0, SDL_BUTTON_RIGHT);
	push_mouse(SDL_MOUSEWHEEL, 1, 0, 0); /* away from the user */
	sdl_window_poll(w, &in);
	cr_assert_eq(mouse_calls, 3);
	cr_assert_eq(mouse_dx, 7);
	cr_assert_eq(mouse_dy, -3);
	cr_assert_eq(mouse_dz, -1);
	cr_assert_eq(mouse_buttons, 2);
	push_mouse(SDL_MOUSEBUTTONUP, 0, 0, SDL_BUTTON_RIGHT);
	push_mouse(SDL_MOUSEBUTTONUP, 0, 0, 99); /* garbage: ignored */
	sdl_window_poll(w, &in);
	cr_assert_eq(mouse_calls, 4);
	cr_assert_eq(mouse_buttons, 0);
	SDL_Event e = {0};
	e.type = SDL_KEYDOWN;
	e.key.keysym.scancode = SDL_SCANCODE_LALT;
	e.key.keysym.mod = KMOD_LCTRL | KMOD_LALT;
	cr_assert_eq(SDL_PushEvent(&e), 1);
	push_mouse(SDL_MOUSEMOTION, 1, 1, 0);
	unsigned keys = got_keys;
	sdl_window_poll(w, &in);
	cr_assert_not(sdl_window_grabbed(w));
	cr_assert_eq(got_keys, keys); /* the release combination is eaten */
	cr_assert_eq(mouse_calls, 4);
	sdl_window_free(w);
}
#endif
