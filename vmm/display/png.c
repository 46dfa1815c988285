/* Screendumps as PNG through libpng: 8-bit RGB, no interlace. */
#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/display/display.h"

int png_write_xrgb(const char *file, const uint32_t *pix, unsigned w,
		   unsigned h, char *err, size_t len)
{
	FILE *f = fopen(file, "wb");
	if (!f) {
		snprintf(err, len, "cannot open '%s': %s", file,
			 strerror(errno));
		return -1;
	}
	png_structp p =
	    png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop info = p ? png_create_info_struct(p) : NULL;
	uint8_t *row = malloc((size_t)w * 3 + 1);
	int rc = -1;
	if (!p || !info || !row) {
		snprintf(err, len, "out of memory");
		goto out;
	}
	if (setjmp(png_jmpbuf(p))) {
		snprintf(err, len, "cannot write '%s'", file);
		goto out;
	}
	png_init_io(p, f);
	png_set_IHDR(p, info, w, h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
		     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(p, info);
	for (unsigned y = 0; y < h; y++) {
		for (unsigned x = 0; x < w; x++) {
			uint32_t v = pix[(size_t)y * w + x];
			row[3 * x] = (uint8_t)(v >> 16);
			row[3 * x + 1] = (uint8_t)(v >> 8);
			row[3 * x + 2] = (uint8_t)v;
		}
		png_write_row(p, row);
	}
	png_write_end(p, NULL);
	rc = 0;
out:
	png_destroy_write_struct(p ? &p : NULL, info ? &info : NULL);
	free(row);
	if (fclose(f) && rc == 0) {
		snprintf(err, len, "cannot write '%s': %s", file,
			 strerror(errno));
		rc = -1;
	}
	return rc;
}
