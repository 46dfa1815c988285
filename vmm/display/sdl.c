/*
 * -display sdl: an SDL2 window on the device-model thread (every SDL call
 * is made there). The frame is a streaming texture updated with the rows
 * the VGA redrew, scaled to the window (twice the size for modes narrower
 * than 640 pixels); key events become PS/2 scan codes via keymap.c.
 */
#include "vmm/display/sdl.h"

#include <stdio.h>
#include <stdlib.h>

#include "hw/vga.h"

#ifdef CONFIG_SDL
#include <SDL.h>

struct sdl_window {
	SDL_Window *win;
	SDL_Renderer *ren;
	SDL_Texture *tex;
	unsigned w, h;	  /* texture size */
	bool grabbed;	  /* the mouse goes to the guest */
	unsigned buttons; /* held, as sdl_input's mouse() reports them */
};

struct sdl_window *sdl_window_new(const char *title, char *err, size_t len)
{
	/* minivmm's main thread owns SIGINT/SIGTERM. */
	SDL_SetHint(SDL_HINT_NO_SIGNAL_HANDLERS, "1");
	if (SDL_InitSubSystem(SDL_INIT_VIDEO)) {
		snprintf(err, len, "SDL: %s", SDL_GetError());
		return NULL;
	}
	struct sdl_window *w = calloc(1, sizeof(*w));
	if (!w)
		goto fail;
	w->win = SDL_CreateWindow(title, SDL_WINDOWPOS_UNDEFINED,
				  SDL_WINDOWPOS_UNDEFINED, 640, 480,
				  SDL_WINDOW_RESIZABLE);
	if (!w->win)
		goto fail;
	w->ren = SDL_CreateRenderer(w->win, -1, 0);
	if (!w->ren)
		w->ren = SDL_CreateRenderer(w->win, -1, SDL_RENDERER_SOFTWARE);
	if (!w->ren)
		goto fail;
	return w;
fail:
	snprintf(err, len, "SDL: %s", SDL_GetError());
	sdl_window_free(w);
	if (!w)
		SDL_QuitSubSystem(SDL_INIT_VIDEO);
	return NULL;
}

void sdl_window_free(struct sdl_window *w)
{
	if (!w)
		return;
	if (w->tex)
		SDL_DestroyTexture(w->tex);
	if (w->ren)
		SDL_DestroyRenderer(w->ren);
	if (w->win)
		SDL_DestroyWindow(w->win);
	free(w);
	SDL_QuitSubSystem(SDL_INIT_VIDEO);
}

void sdl_window_show(struct sdl_window *w, const struct vga_frame *f)
{
	unsigned y0 = f->y0, y1 = f->y1;
	if (!f->pix || !f->w || !f->h)
		return;
	if (!w->tex || w->w != f->w || w->h != f->h) {
		if (w->tex)
			SDL_DestroyTexture(w->tex);
		w->tex = SDL_CreateTexture(w->ren, SDL_PIXELFORMAT_RGB888,
					   SDL_TEXTUREACCESS_STREAMING,
					   (int)f->w, (int)f->h);
		if (!w->tex)
			return;
		w->w = f->w;
		w->h = f->h;
		int scale = f->w < 640 ? 2 : 1;
		SDL_SetWindowSize(w->win, (int)f->w * scale, (int)f->h * scale);
		y0 = 0;
		y1 = f->h;
	}
	if (y0 < y1) {
		SDL_Rect r = {0, (int)y0, (int)f->w, (int)(y1 - y0)};
		SDL_UpdateTexture(w->tex, &r, f->pix + (size_t)y0 * f->w,
				  (int)f->w * 4);
	}
	SDL_RenderClear(w->ren);
	SDL_RenderCopy(w->ren, w->tex, NULL, NULL);
	SDL_RenderPresent(w->ren);
}

/* An SDL button number as bit 0 left, 1 right, 2 middle (0: others). */
static unsigned button_bit(uint8_t b)
{
	return b == SDL_BUTTON_LEFT	? 1u
	       : b == SDL_BUTTON_RIGHT	? 2u
	       : b == SDL_BUTTON_MIDDLE ? 4u
					: 0u;
}

static void set_grab(struct sdl_window *w, bool on)
{
	if (w->grabbed == on)
		return;
	w->buttons = 0;
	/* Under the dummy driver relative mode may be refused: the grab
	 * is then only this flag, and motion is still relative. */
	SDL_SetRelativeMouseMode(on ? SDL_TRUE : SDL_FALSE);
	w->grabbed = on;
}

static void poll_mouse(struct sdl_window *w, const SDL_Event *e,
		       const struct sdl_input *in)
{
	if (!in->mouse)
		return;
	switch (e->type) {
	case SDL_MOUSEBUTTONDOWN:
		if (!w->grabbed) {
			set_grab(w, true); /* the click only grabs */
			return;
		}
		w->buttons |= button_bit(e->button.button);
		in->mouse(in->opaque, 0, 0, 0, w->buttons);
		break;
	case SDL_MOUSEBUTTONUP:
		if (!w->grabbed || !(w->buttons & button_bit(e->button.button)))
			return; /* the grabbing click's release, or unknown */
		w->buttons &= ~button_bit(e->button.button);
		in->mouse(in->opaque, 0, 0, 0, w->buttons);
		break;
	case SDL_MOUSEMOTION:
		if (w->grabbed)
			in->mouse(in->opaque, e->motion.xrel, e->motion.yrel, 0,
				  w->buttons);
		break;
	case SDL_MOUSEWHEEL: {
		int y = e->wheel.y;
		if (e->wheel.direction == SDL_MOUSEWHEEL_FLIPPED)
			y = -y;
		if (w->grabbed)
			in->mouse(in->opaque, 0, 0, -y, w->buttons);
		break;
	}
	default:
		break;
	}
}

void sdl_window_poll(struct sdl_window *w, const struct sdl_input *in)
{
	SDL_Event e;
	/* Bounded: events that arrive while these are handled wait for the
	 * next poll. */
	for (int i = 0; i < 1024 && SDL_PollEvent(&e); i++) {
		switch (e.type) {
		case SDL_QUIT:
			if (in->quit)
				in->quit(in->opaque);
			break;
		case SDL_KEYDOWN:
		case SDL_KEYUP:
			if (e.type == SDL_KEYDOWN && w->grabbed &&
			    (e.key.keysym.mod & KMOD_CTRL) &&
			    (e.key.keysym.mod & KMOD_ALT)) {
				set_grab(w, false);
				break;
			}
			if (in->key)
				in->key(in->opaque, e.key.keysym.scancode,
					e.type == SDL_KEYUP);
			break;
		case SDL_MOUSEBUTTONDOWN:
		case SDL_MOUSEBUTTONUP:
		case SDL_MOUSEMOTION:
		case SDL_MOUSEWHEEL:
			poll_mouse(w, &e, in);
			break;
		default:
			break;
		}
	}
}

bool sdl_window_grabbed(const struct sdl_window *w)
{
	return w->grabbed;
}

void sdl_window_size(struct sdl_window *w, int *ww, int *wh)
{
	SDL_GetWindowSize(w->win, ww, wh);
}

#else /* !CONFIG_SDL */

struct sdl_window *sdl_window_new(const char *title, char *err, size_t len)
{
	(void)title;
	snprintf(err, len, "-display sdl: minivmm was built without SDL");
	return NULL;
}

void sdl_window_free(struct sdl_window *w)
{
	(void)w;
}

void sdl_window_show(struct sdl_window *w, const struct vga_frame *f)
{
	(void)w, (void)f;
}

void sdl_window_poll(struct sdl_window *w, const struct sdl_input *in)
{
	(void)w, (void)in;
}

void sdl_window_size(struct sdl_window *w, int *ww, int *wh)
{
	(void)w;
	*ww = *wh = 0;
}

bool sdl_window_grabbed(const struct sdl_window *w)
{
	(void)w;
	return false;
}

#endif
