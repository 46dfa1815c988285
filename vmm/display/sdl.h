/* The SDL2 window behind -display sdl (display.c's only user). */
#ifndef MINIVMM_VMM_DISPLAY_SDL_H
#define MINIVMM_VMM_DISPLAY_SDL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sdl_window;
struct vga_frame;

/*
 * key(opaque, hid_usage, release); quit(opaque) when the window closes;
 * mouse(opaque, dx, dy, dz, buttons): relative motion (dx right, dy down),
 * wheel clicks (dz positive towards the user) and the buttons held (bit 0
 * left, 1 right, 2 middle). Any of them may be NULL.
 *
 * A click in the window grabs the mouse (SDL's relative mode: the host
 * pointer is hidden and confined, motion goes to the guest); that click
 * is not passed on. Ctrl+Alt releases it.
 */
struct sdl_input {
	void (*key)(void *opaque, unsigned usage, bool release);
	void (*quit)(void *opaque);
	void *opaque;
	void (*mouse)(void *opaque, int dx, int dy, int dz, unsigned buttons);
};

/* NULL with err when SDL has no video (or minivmm was built without). */
struct sdl_window *sdl_window_new(const char *title, char *err, size_t len);
void sdl_window_free(struct sdl_window *w);
/* Shows the frame's changed rows (all of it after a resize). */
void sdl_window_show(struct sdl_window *w, const struct vga_frame *f);
/* Handles the pending window events. */
void sdl_window_poll(struct sdl_window *w, const struct sdl_input *in);
/* Whether a click grabbed the mouse (see struct sdl_input). */
bool sdl_window_grabbed(const struct sdl_window *w);
/* Window size in pixels (scaled), for tests. */
void sdl_window_size(struct sdl_window *w, int *ww, int *wh);

#endif
