/*
 * The display (display.h): a libevent timer on the device-model loop
 * refreshes the frame and, with -display sdl, the window. A libevent
 * timer rather than a vtimer: vtimers may also run on a halted vCPU's
 * thread, and SDL wants all its calls on one thread.
 */
#include "vmm/display/display.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hw/i8042.h"
#include "hw/vga.h"
#include "ioreq/dm.h"
#include "vmm/display/sdl.h"

struct display {
	struct display_cfg cfg;
	struct event *tick;
	struct sdl_window *win;
	uint64_t refreshes, redraws;
};

static int64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

bool display_refresh(struct display *d, bool full)
{
	if (d->cfg.sync)
		d->cfg.sync(d->cfg.opaque);
	d->refreshes++;
	bool changed = vga_update(d->cfg.vga, now_ms(), full);
	if (changed)
		d->redraws++;
	return changed;
}

static void on_key(void *opaque, unsigned usage, bool release)
{
	struct display *d = opaque;
	uint8_t b[4];
	size_t n = keymap_hid_to_set2(usage, release, b);
	if (n && d->cfg.kbd)
		i8042_key(d->cfg.kbd, b, n);
}

static void on_mouse(void *opaque, int dx, int dy, int dz, unsigned buttons)
{
	struct display *d = opaque;
	if (d->cfg.kbd)
		i8042_mouse(d->cfg.kbd, dx, dy, dz, buttons);
}

static void on_quit(void *opaque)
{
	struct display *d = opaque;
	if (d->cfg.quit)
		d->cfg.quit(d->cfg.opaque);
}

static void tick(evutil_socket_t fd, short what, void *opaque)
{
	struct display *d = opaque;
	(void)fd, (void)what;
	dm_lock(d->cfg.dm);
	if (d->win) {
		struct sdl_input in = {on_key, on_quit, d, on_mouse};
		sdl_window_poll(d->win, &in);
	}
	bool changed = display_refresh(d, false);
	const struct vga_frame *f = vga_frame(d->cfg.vga);
	if (d->win && (changed || f->resized))
		sdl_window_show(d->win, f);
	dm_unlock(d->cfg.dm);
}

struct display *display_new(const struct display_cfg *cfg, char *err,
			    size_t len)
{
	struct display *d = calloc(1, sizeof(*d));
	if (!d) {
		snprintf(err, len, "out of memory");
		return NULL;
	}
	d->cfg = *cfg;
	if (!d->cfg.refresh_ms)
		d->cfg.refresh_ms = 33;
	if (cfg->kind == DISPLAY_SDL) {
		d->win = sdl_window_new("minivmm", err, len);
		if (!d->win) {
			free(d);
			return NULL;
		}
		d->tick = event_new(cfg->dm->base, -1, EV_PERSIST, tick, d);
		struct timeval tv = {0, (long)d->cfg.refresh_ms * 1000};
		if (!d->tick || event_add(d->tick, &tv)) {
			snprintf(err, len, "cannot start the display timer");
			display_free(d);
			return NULL;
		}
	}
	return d;
}

void display_free(struct display *d)
{
	if (!d)
		return;
	if (d->tick)
		event_free(d->tick);
	sdl_window_free(d->win);
	free(d);
}

int display_screendump(struct display *d, const char *file, bool text,
		       char *err, size_t len)
{
	if (text) {
		static char buf[256 * 1024];
		if (display_text(d, buf, sizeof(buf)) < 0) {
			snprintf(err, len, "the VGA is not in a text mode");
			return -1;
		}
		FILE *f = fopen(file, "w");
		if (!f) {
			snprintf(err, len, "cannot open '%s'", file);
			return -1;
		}
		fputs(buf, f);
		if (fclose(f)) {
			snprintf(err, len, "cannot write '%s'", file);
			return -1;
		}
		return 0;
	}
	/* Incremental, as the window's refresh: a dump shows what a window
	 * would, dirty tracking included. */
	display_refresh(d, false);
	const struct vga_frame *f = vga_frame(d->cfg.vga);
	return png_write_xrgb(file, f->pix, f->w, f->h, err, len);
}

int display_screendump_full(struct display *d, const char *file, char *err,
			    size_t len)
{
	display_refresh(d, true);
	const struct vga_frame *f = vga_frame(d->cfg.vga);
	return png_write_xrgb(file, f->pix, f->w, f->h, err, len);
}

int display_text(struct display *d, char *buf, size_t len)
{
	return vga_text_dump(d->cfg.vga, buf, len);
}

void display_counts(const struct display *d, uint64_t *refreshes,
		    uint64_t *redraws, bool *window)
{
	*refreshes = d->refreshes;
	*redraws = d->redraws;
	*window = d->win != NULL;
}
