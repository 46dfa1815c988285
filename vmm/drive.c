/* Drive and boot-order options. */
#include "vmm/drive.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int set_err(char *err, size_t len, const char *fmt, const char *a)
{
	snprintf(err, len, fmt, a);
	return -1;
}

static int add(struct drive_config *dc, int index, const struct drive_opts *d,
	       char *err, size_t errlen)
{
	if (index < 0 || index >= IDE_SLOTS) {
		char n[16];
		snprintf(n, sizeof(n), "%d", index);
		return set_err(err, errlen, "IDE index %s out of range (0-3)",
			       n);
	}
	if (dc->ide[index].used) {
		static const char *const names[] = {
		    "primary master", "primary slave", "secondary master",
		    "secondary slave"};
		return set_err(err, errlen, "the IDE %s is given twice",
			       names[index]);
	}
	dc->ide[index] = *d;
	dc->ide[index].used = true;
	return 0;
}

int drive_add_hd(struct drive_config *dc, int index, const char *file,
		 char *err, size_t errlen)
{
	struct drive_opts d = {.blk = {.path = file}};
	return add(dc, index, &d, err, errlen);
}

int drive_add_cdrom(struct drive_config *dc, const char *file, char *err,
		    size_t errlen)
{
	struct drive_opts d = {
	    .cdrom = true,
	    .empty = !*file,
	    .blk = {.path = file, .readonly = true, .cdrom = true}};
	return add(dc, 2, &d, err, errlen);
}

static int on_off(const char *v, bool *out)
{
	if (!strcmp(v, "on") || !strcmp(v, "yes") || !strcmp(v, "true"))
		*out = true;
	else if (!strcmp(v, "off") || !strcmp(v, "no") || !strcmp(v, "false"))
		*out = false;
	else
		return -1;
	return 0;
}

static int drive_key(struct drive_opts *d, int *index, const char *k,
		     const char *v, char *err, size_t errlen)
{
	if (!strcmp(k, "file")) {
		d->blk.path = v;
	} else if (!strcmp(k, "if")) {
		if (!strcmp(v, "ide"))
			d->iface = DRIVE_IF_IDE;
		else if (!strcmp(v, "virtio"))
			d->iface = DRIVE_IF_VIRTIO;
		else if (!strcmp(v, "none"))
			d->iface = DRIVE_IF_NONE;
		else
			return set_err(err, errlen,
				       "-drive if=%s is not supported (ide, "
				       "virtio, none)",
				       v);
	} else if (!strcmp(k, "id")) {
		if (!*v || strlen(v) >= DRIVE_ID_LEN)
			return set_err(err, errlen, "bad -drive id=%s", v);
		strcpy(d->id, v);
	} else if (!strcmp(k, "index")) {
		char *end;
		long n = strtol(v, &end, 10);
		if (*end || end == v || n < 0 || n >= IDE_SLOTS)
			return set_err(err, errlen, "bad -drive index=%s", v);
		*index = n;
	} else if (!strcmp(k, "media")) {
		if (!strcmp(v, "cdrom"))
			d->cdrom = d->blk.cdrom = d->blk.readonly = true;
		else if (strcmp(v, "disk"))
			return set_err(err, errlen, "bad -drive media=%s", v);
	} else if (!strcmp(k, "format")) {
		if (strcmp(v, "raw"))
			return set_err(err, errlen,
				       "-drive format=%s is not supported "
				       "(raw)",
				       v);
	} else if (!strcmp(k, "readonly")) {
		if (on_off(v, &d->blk.readonly))
			return set_err(err, errlen, "bad -drive readonly=%s",
				       v);
	} else if (!strcmp(k, "cache")) {
		if (!strcmp(v, "writeback"))
			d->blk.cache = BLK_CACHE_WRITEBACK;
		else if (!strcmp(v, "writethrough"))
			d->blk.cache = BLK_CACHE_WRITETHROUGH;
		else if (!strcmp(v, "none") || !strcmp(v, "directsync"))
			d->blk.cache = BLK_CACHE_NONE;
		else
			return set_err(err, errlen, "bad -drive cache=%s", v);
	} else {
		return set_err(err, errlen, "unknown -drive option '%s'", k);
	}
	return 0;
}

static bool id_taken(const struct drive_config *dc, const char *id)
{
	if (!*id)
		return false;
	for (int i = 0; i < IDE_SLOTS; i++)
		if (dc->ide[i].used && !strcmp(dc->ide[i].id, id))
			return true;
	for (unsigned i = 0; i < dc->nother; i++)
		if (!strcmp(dc->other[i].id, id))
			return true;
	return false;
}

static struct vblk_config *new_vblk(struct drive_config *dc, char *err,
				    size_t errlen)
{
	if (dc->nvblk >= DRIVE_MAX_VBLK) {
		set_err(err, errlen, "at most %s virtio-blk devices", "8");
		return NULL;
	}
	struct vblk_config *v = &dc->vblk[dc->nvblk++];
	memset(v, 0, sizeof(*v));
	v->drive = -1;
	return v;
}

/* if=virtio (a device of its own) and if=none (a backend for -device). */
static int add_other(struct drive_config *dc, int index,
		     const struct drive_opts *d, char *err, size_t errlen)
{
	const char *name = d->iface == DRIVE_IF_VIRTIO ? "virtio" : "none";
	if (index >= 0)
		return set_err(err, errlen,
			       "-drive if=%s: index= is for if=ide only", name);
	if (d->cdrom)
		return set_err(err, errlen,
			       "-drive if=%s: media=cdrom needs if=ide", name);
	if (!d->blk.path || !*d->blk.path)
		return set_err(err, errlen, "-drive if=%s needs file=", name);
	if (d->iface == DRIVE_IF_NONE && !d->id[0])
		return set_err(err, errlen,
			       "-drive if=%s needs id= (for -device "
			       "virtio-blk-pci,drive=ID)",
			       name);
	if (dc->nother >= DRIVE_MAX_OTHER)
		return set_err(err, errlen, "at most %s -drive if=virtio/none",
			       "8");
	unsigned i = dc->nother++;
	dc->other[i] = *d;
	dc->other[i].used = true;
	if (d->iface == DRIVE_IF_VIRTIO) {
		struct vblk_config *v = new_vblk(dc, err, errlen);
		if (!v)
			return -1;
		v->drive = i;
	}
	return 0;
}

int drive_parse(struct drive_config *dc, const char *spec, char *err,
		size_t errlen)
{
	struct drive_opts d = {0};
	int index = -1;
	/* The strings stay referenced by the options: keep the copy. */
	char *dup = strdup(spec), *save = NULL;
	for (char *t = strtok_r(dup, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(t, '=');
		if (!eq)
			return set_err(err, errlen, "bad -drive item '%s'", t);
		*eq = 0;
		if (drive_key(&d, &index, t, eq + 1, err, errlen))
			return -1;
	}
	if (id_taken(dc, d.id))
		return set_err(err, errlen, "-drive id=%s is given twice",
			       d.id);
	if (d.iface != DRIVE_IF_IDE)
		return add_other(dc, index, &d, err, errlen);
	if (!d.blk.path) {
		if (!d.cdrom)
			return set_err(err, errlen, "%s",
				       "-drive needs file= (or media=cdrom)");
		d.empty = true;
		d.blk.path = "";
	}
	if (index < 0)
		for (index = 0; index < IDE_SLOTS && dc->ide[index].used;
		     index++)
			;
	return add(dc, index, &d, err, errlen);
}

/* -device virtio-blk-pci,drive=ID[,serial=S][,id=X] */
int drive_device_parse(struct drive_config *dc, const char *arg, char *err,
		       size_t errlen)
{
	size_t n = strcspn(arg, ",");
	if (!(n == 14 && !strncmp(arg, "virtio-blk-pci", n)) &&
	    !(n == 10 && !strncmp(arg, "virtio-blk", n)))
		return 1;
	struct vblk_config *v = new_vblk(dc, err, errlen);
	if (!v)
		return -1;
	char *dup = strdup(arg + n), *save = NULL;
	int rc = 0;
	for (char *t = strtok_r(dup, ",", &save); t && !rc;
	     t = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(t, '=');
		if (!eq) {
			rc =
			    set_err(err, errlen,
				    "-device virtio-blk-pci: bad item '%s'", t);
			break;
		}
		*eq = 0;
		const char *val = eq + 1;
		if (!strcmp(t, "drive") && *val && strlen(val) < DRIVE_ID_LEN)
			strcpy(v->drive_id, val);
		else if (!strcmp(t, "drive"))
			rc = set_err(err, errlen,
				     "-device virtio-blk-pci: bad drive=%s",
				     val);
		else if (!strcmp(t, "serial") &&
			 strlen(val) <= DRIVE_SERIAL_LEN)
			strcpy(v->serial, val);
		else if (!strcmp(t, "serial"))
			rc = set_err(err, errlen,
				     "-device virtio-blk-pci: serial=%s is "
				     "longer than 20 characters",
				     val);
		else if (strcmp(t, "id"))
			rc = set_err(err, errlen,
				     "-device virtio-blk-pci: unknown option "
				     "'%s'",
				     t);
	}
	free(dup);
	if (!rc && !v->drive_id[0])
		rc = set_err(err, errlen, "%s",
			     "-device virtio-blk-pci needs drive=ID");
	return rc;
}

int drive_finish(struct drive_config *dc, char *err, size_t errlen)
{
	for (unsigned i = 0; i < dc->nvblk; i++) {
		struct vblk_config *v = &dc->vblk[i];
		if (v->drive >= 0)
			continue;
		unsigned k;
		for (k = 0; k < dc->nother; k++)
			if (!strcmp(dc->other[k].id, v->drive_id))
				break;
		if (k == dc->nother)
			return set_err(err, errlen,
				       id_taken(dc, v->drive_id)
					   ? "drive=%s: that -drive is an IDE "
					     "drive (use if=none)"
					   : "drive=%s: no -drive with that id",
				       v->drive_id);
		struct drive_opts *d = &dc->other[k];
		if (d->iface != DRIVE_IF_NONE || d->claimed)
			return set_err(err, errlen,
				       "drive=%s: that -drive is already in "
				       "use by another device",
				       v->drive_id);
		d->claimed = true;
		v->drive = k;
	}
	return 0;
}

int boot_parse(struct drive_config *dc, const char *spec, char *err,
	       size_t errlen)
{
	char *dup = strdup(spec), *save = NULL;
	int rc = 0;
	for (char *t = strtok_r(dup, ",", &save); t && !rc;
	     t = strtok_r(NULL, ",", &save)) {
		const char *order = t;
		if (!strncmp(t, "order=", 6) || !strncmp(t, "once=", 5))
			order = strchr(t, '=') + 1;
		else if (!strncmp(t, "menu=", 5) ||
			 !strncmp(t, "splash-time=", 12) ||
			 !strncmp(t, "reboot-timeout=", 15) ||
			 !strncmp(t, "strict=", 7))
			continue; /* accepted, firmware policy only */
		else if (strchr(t, '='))
			rc = set_err(err, errlen, "unknown -boot option '%s'",
				     t);
		if (rc)
			break;
		size_t n = strlen(order);
		if (n == 0 || n > 3 || strspn(order, "acdn") != n) {
			rc = set_err(err, errlen,
				     "bad boot order '%s' (up to three of "
				     "a, c, d, n)",
				     order);
			break;
		}
		strcpy(dc->boot, order);
	}
	free(dup);
	return rc;
}

static unsigned char code(char c)
{
	switch (c) {
	case 'a':
		return 1;
	case 'c':
		return 2;
	case 'd':
		return 3;
	case 'n':
		return 4;
	default:
		return 0;
	}
}

void boot_cmos(const struct drive_config *dc, unsigned char *r3d,
	       unsigned char *r38)
{
	const char *b = dc->boot[0] ? dc->boot : "cad";
	size_t n = strlen(b);
	*r3d = code(b[0]) | (n > 1 ? code(b[1]) << 4 : 0);
	/* 0x38: third device in the high nibble; bit 0 set skips the
	 * floppy boot-signature check. */
	*r38 = (n > 2 ? code(b[2]) << 4 : 0) | 1;
}
