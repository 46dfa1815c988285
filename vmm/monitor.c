/*
 * The human monitor (see monitor.h): the command layer, the machine behind
 * it, and the monitor thread reading stdio, a unix socket or the shared
 * serial console. Command names, argument order and the shape of the
 * answers follow QEMU's HMP, so that habits and scripts carry over.
 */
#include "vmm/monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "hw/atapi.h"
#include "hw/i8042.h"
#include "vmm/backend/block.h"
#include "vmm/backend/chardev.h"
#include "vmm/display/display.h"
#include "vmm/machine.h"
#include "vmm/vm.h"

#define MON_ARGS     8
#define MON_QUEUE    256  /* shared-console bytes waiting for the thread */
#define MON_READ     512  /* bytes per read() */
#define MON_WRITE_MS 2000 /* a socket client that reads nothing is dropped */
#define MON_STOP_MS  1000 /* how long stop waits for the vCPU */
#define MON_PROMPT   "(minivmm) "
#define MON_BANNER   "minivmm monitor - type 'help' for more information\n"

/* ---- output ----------------------------------------------------------- */

static void out_str(const struct mon_out *o, const char *s)
{
	o->write(o->opaque, s, strlen(s));
}

static void __attribute__((format(printf, 2, 3)))
out_printf(const struct mon_out *o, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	o->write(o->opaque, buf,
		 (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* User text for a message: printable ASCII as is, the rest as \xNN, cut
 * after about 60 characters so a garbage line gives a short answer. */
static const char *shown(const char *s, char *buf, size_t len)
{
	size_t o = 0;
	for (; *s && o + 8 < len && o < 60; s++) {
		unsigned char c = (unsigned char)*s;
		if (c >= 0x20 && c < 0x7f && c != '\\')
			buf[o++] = (char)c;
		else
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", c);
	}
	if (*s && o + 4 <= len) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

/* ---- the commands ------------------------------------------------------ */

struct mon_ctx {
	const struct mon_ops *ops;
	const struct mon_out *out;
};

struct mon_cmd {
	const char *name, *alias, *params, *help;
	void (*run)(struct mon_ctx *c, int argc, char **argv);
};

static const struct mon_cmd *find_cmd(const char *name);

static void usage(struct mon_ctx *c, const char *name)
{
	const struct mon_cmd *cmd = find_cmd(name);
	out_printf(c->out, "usage: %s %s\n", cmd->name, cmd->params);
}

/* Slot of the drive called id, with its state in d; -1 when none. */
static int find_drive(struct mon_ctx *c, const char *id, struct mon_drive *d)
{
	char b[80];
	for (int i = 0; i < MON_DRIVES; i++) {
		memset(d, 0, sizeof(*d));
		if (c->ops->drive(c->ops->opaque, i, d) && !strcmp(d->id, id))
			return i;
	}
	out_printf(c->out, "Device '%s' not found\n", shown(id, b, sizeof(b)));
	return -1;
}

static const char *tristate(int v, const char *yes, const char *no)
{
	return v < 0 ? "unknown" : v ? yes : no;
}

static void info_block(struct mon_ctx *c)
{
	for (int i = 0; i < MON_DRIVES; i++) {
		struct mon_drive d = {0};
		if (!c->ops->drive(c->ops->opaque, i, &d))
			continue;
		if (d.file)
			out_printf(c->out, "%s: %s (raw%s)\n", d.id, d.file,
				   d.readonly ? ", read-only" : "");
		else
			out_printf(c->out, "%s: [not inserted]\n", d.id);
		if (d.cdrom)
			out_printf(c->out,
				   "    Removable device: %s, tray %s\n",
				   d.locked < 0 ? "lock state unknown"
				   : d.locked	? "locked"
						: "not locked",
				   tristate(d.tray_open, "open", "closed"));
	}
}

static void info_registers(struct mon_ctx *c)
{
	char buf[2048];
	if (c->ops->registers(c->ops->opaque, buf, sizeof(buf)) < 0)
		out_printf(c->out, "%s\n", buf);
	else
		out_str(c->out, buf);
}

static void info_vga(struct mon_ctx *c)
{
	char buf[256];
	if (!c->ops->vga_info ||
	    c->ops->vga_info(c->ops->opaque, buf, sizeof(buf)) < 0)
		out_str(c->out, "no VGA (-vga std adds one)\n");
	else
		out_printf(c->out, "%s\n", buf);
}

static void cmd_info(struct mon_ctx *c, int argc, char **argv)
{
	char b[80];
	if (argc != 2) {
		out_str(c->out, "info status    -- show the VM status\n"
				"info block     -- show the block devices\n"
				"info registers -- show the vCPU registers\n"
				"info vga       -- show the VGA's mode\n");
		return;
	}
	if (!strcmp(argv[1], "vga"))
		return info_vga(c);
	if (!strcmp(argv[1], "status"))
		out_printf(c->out, "VM status: %s\n",
			   c->ops->paused(c->ops->opaque) ? "paused"
							  : "running");
	else if (!strcmp(argv[1], "block"))
		info_block(c);
	else if (!strcmp(argv[1], "registers"))
		info_registers(c);
	else
		out_printf(c->out, "info: unknown item '%s' (help info)\n",
			   shown(argv[1], b, sizeof(b)));
}

static void cmd_stop(struct mon_ctx *c, int argc, char **argv)
{
	char err[256];
	(void)argv;
	if (argc != 1)
		return usage(c, "stop");
	if (c->ops->stop(c->ops->opaque, err, sizeof(err)) < 0)
		out_printf(c->out, "%s\n", err);
}

static void cmd_cont(struct mon_ctx *c, int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return usage(c, "cont");
	c->ops->cont(c->ops->opaque);
}

static void cmd_eject(struct mon_ctx *c, int argc, char **argv)
{
	struct mon_drive d;
	char err[512];
	bool force = argc == 3 && !strcmp(argv[1], "-f");
	if ((argc != 2 && !force) || argv[argc - 1][0] == '-')
		return usage(c, "eject");
	int slot = find_drive(c, argv[argc - 1], &d);
	if (slot < 0)
		return;
	if (!d.cdrom) {
		out_printf(c->out, "Device '%s' is not removable\n", d.id);
		return;
	}
	if (c->ops->eject(c->ops->opaque, slot, force, err, sizeof(err)) < 0)
		out_printf(c->out, "%s\n", err);
}

static void cmd_change(struct mon_ctx *c, int argc, char **argv)
{
	struct mon_drive d;
	char err[512], b[80];
	if (argc != 3 && argc != 4)
		return usage(c, "change");
	if (argc == 4 && strcmp(argv[3], "raw")) {
		out_printf(c->out, "format '%s' is not supported (only raw)\n",
			   shown(argv[3], b, sizeof(b)));
		return;
	}
	int slot = find_drive(c, argv[1], &d);
	if (slot < 0)
		return;
	if (!d.cdrom) {
		out_printf(c->out, "Device '%s' is not removable\n", d.id);
		return;
	}
	if (c->ops->change(c->ops->opaque, slot, argv[2], err, sizeof(err)) < 0)
		out_printf(c->out, "%s\n", err);
}

/* A number as HMP takes it: decimal, 0x hex or 0 octal, nothing after. */
static bool parse_u64(const char *s, uint64_t *v)
{
	char *end;
	if (!*s || *s == '-' || *s == '+')
		return false;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 0);
	if (errno || *end)
		return false;
	*v = x;
	return true;
}

static void cmd_pmemsave(struct mon_ctx *c, int argc, char **argv)
{
	uint64_t addr, size;
	char err[512], b[80];
	if (argc != 4)
		return usage(c, "pmemsave");
	if (!parse_u64(argv[1], &addr) || !parse_u64(argv[2], &size)) {
		out_printf(c->out, "invalid number: '%s'\n",
			   shown(parse_u64(argv[1], &addr) ? argv[2] : argv[1],
				 b, sizeof(b)));
		return;
	}
	if (size == 0 || addr + size < addr) {
		out_printf(c->out, "invalid range: size %llu at 0x%llx\n",
			   (unsigned long long)size, (unsigned long long)addr);
		return;
	}
	if (!c->ops->pmemsave) {
		out_str(c->out, "pmemsave: not available\n");
		return;
	}
	if (c->ops->pmemsave(c->ops->opaque, addr, size, argv[3], err,
			     sizeof(err)) < 0)
		out_printf(c->out, "%s\n", err);
}

/* A signed decimal (or 0x hex) of at most 65535 either way. */
static bool parse_delta(const char *s, int *v)
{
	char *end;
	errno = 0;
	long x = strtol(s, &end, 0);
	if (!*s || *end || errno || x < -65535 || x > 65535)
		return false;
	*v = (int)x;
	return true;
}

static void mouse(struct mon_ctx *c, int dx, int dy, int dz, int buttons)
{
	char err[256];
	if (!c->ops->mouse) {
		out_str(c->out, "no mouse\n");
		return;
	}
	if (c->ops->mouse(c->ops->opaque, dx, dy, dz, buttons, err,
			  sizeof(err)) < 0)
		out_printf(c->out, "%s\n", err);
}

static void cmd_mouse_move(struct mon_ctx *c, int argc, char **argv)
{
	int d[3] = {0, 0, 0};
	char b[80];
	if (argc != 3 && argc != 4)
		return usage(c, "mouse_move");
	for (int i = 1; i < argc; i++)
		if (!parse_delta(argv[i], &d[i - 1])) {
			out_printf(c->out, "invalid number: '%s'\n",
				   shown(argv[i], b, sizeof(b)));
			return;
		}
	mouse(c, d[0], d[1], d[2], -1);
}

static void cmd_mouse_button(struct mon_ctx *c, int argc, char **argv)
{
	uint64_t v;
	char b[80];
	if (argc != 2)
		return usage(c, "mouse_button");
	if (!parse_u64(argv[1], &v) || v > 7) {
		out_printf(c->out, "invalid button state: '%s' (0-7)\n",
			   shown(argv[1], b, sizeof(b)));
		return;
	}
	mouse(c, 0, 0, 0, (int)v);
}

static bool ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), t = strlen(tail);
	return n >= t && !strcmp(s + n - t, tail);
}

/* screendump FILE | -t [FILE]: a file named *.txt is a text dump too. */
static void cmd_screendump(struct mon_ctx *c, int argc, char **argv)
{
	char err[512];
	if (argc >= 2 && !strcmp(argv[1], "-f")) {
		if (argc != 3)
			return usage(c, "screendump");
		if (!c->ops->screendump_full) {
			out_str(c->out,
				"screendump: no VGA (-vga std adds one)\n");
			return;
		}
		if (c->ops->screendump_full(c->ops->opaque, argv[2], err,
					    sizeof(err)) < 0)
			out_printf(c->out, "%s\n", err);
		return;
	}
	bool text = argc >= 2 && !strcmp(argv[1], "-t");
	const char *file = argc == 2 + text ? argv[1 + text] : NULL;
	if (argc > 3 || (!file && !text))
		return usage(c, "screendump");
	if (!c->ops->screendump) {
		out_str(c->out, "screendump: no VGA (-vga std adds one)\n");
		return;
	}
	if (!file && c->ops->text_screen) {
		static char buf[64 * 1024];
		int n = c->ops->text_screen(c->ops->opaque, buf, sizeof(buf));
		if (n < 0)
			out_printf(c->out, "%s\n", buf);
		else
			c->out->write(c->out->opaque, buf, (size_t)n);
		return;
	}
	if (!file) {
		out_str(c->out, "screendump: no text screen\n");
		return;
	}
	if (c->ops->screendump(c->ops->opaque, file,
			       text || ends_with(file, ".txt"), err,
			       sizeof(err)) < 0)
		out_printf(c->out, "%s\n", err);
}

static void cmd_system_reset(struct mon_ctx *c, int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return usage(c, "system_reset");
	c->ops->reset(c->ops->opaque);
}

static void cmd_quit(struct mon_ctx *c, int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return usage(c, "quit");
	c->ops->quit(c->ops->opaque);
}

static void cmd_help(struct mon_ctx *c, int argc, char **argv);

static const struct mon_cmd commands[] = {
    {"help", "?", "[cmd]", "show the help", cmd_help},
    {"info", NULL, "status|block|registers|vga", "show the VM's state",
     cmd_info},
    {"stop", NULL, "", "stop the vCPU", cmd_stop},
    {"cont", "c", "", "resume the vCPU", cmd_cont},
    {"eject", NULL, "[-f] device",
     "eject a removable medium (-f: even if the guest locked it)", cmd_eject},
    {"change", NULL, "device filename [raw]",
     "insert a new medium (an ISO image) into a CD-ROM drive", cmd_change},
    {"pmemsave", NULL, "addr size file",
     "save guest-physical memory [addr, addr+size) to file", cmd_pmemsave},
    {"screendump", NULL, "[-t|-f] [filename]",
     "save the screen as PNG (-t or a .txt name: the text screen; -t "
     "alone: show it; -f: every row redrawn, dirty tracking aside)",
     cmd_screendump},
    {"mouse_move", NULL, "dx dy [dz]",
     "move the PS/2 mouse (dy down, dz: wheel towards the user)",
     cmd_mouse_move},
    {"mouse_button", NULL, "state",
     "press the mouse buttons in state (1 left, 2 right, 4 middle)",
     cmd_mouse_button},
    {"system_reset", NULL, "", "reset the machine", cmd_system_reset},
    {"quit", "q", "", "quit the emulator", cmd_quit},
};

static const struct mon_cmd *find_cmd(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, name) ||
		    (commands[i].alias && !strcmp(commands[i].alias, name)))
			return &commands[i];
	return NULL;
}

static void help_line(struct mon_ctx *c, const struct mon_cmd *cmd)
{
	char left[64];
	snprintf(left, sizeof(left), "%s%s%s %s", cmd->name,
		 cmd->alias ? "|" : "", cmd->alias ? cmd->alias : "",
		 cmd->params);
	out_printf(c->out, "%-34s -- %s\n", left, cmd->help);
}

static void cmd_help(struct mon_ctx *c, int argc, char **argv)
{
	char b[80];
	if (argc > 2)
		return usage(c, "help");
	if (argc == 2) {
		const struct mon_cmd *cmd = find_cmd(argv[1]);
		if (cmd)
			help_line(c, cmd);
		else
			out_printf(c->out, "unknown command: '%s'\n",
				   shown(argv[1], b, sizeof(b)));
		return;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		help_line(c, &commands[i]);
}

/* Splits at blanks; returns the count, or -1 when there are too many. */
static int split(char *s, char **argv)
{
	int argc = 0;
	char *save = NULL;
	for (char *t = strtok_r(s, " \t", &save); t;
	     t = strtok_r(NULL, " \t", &save)) {
		if (argc == MON_ARGS)
			return -1;
		argv[argc++] = t;
	}
	return argc;
}

void mon_execute(const struct mon_ops *ops, const struct mon_out *out,
		 const char *line)
{
	struct mon_ctx c = {ops, out};
	char buf[MON_LINE_MAX], b[80];
	char *argv[MON_ARGS];
	if (!line) {
		out_printf(out, "line too long (at most %d bytes), ignored\n",
			   MON_LINE_MAX - 1);
		return;
	}
	snprintf(buf, sizeof(buf), "%s", line);
	int argc = split(buf, argv);
	if (argc == 0)
		return;
	if (argc < 0) {
		out_str(out, "too many arguments\n");
		return;
	}
	const struct mon_cmd *cmd = find_cmd(argv[0]);
	if (!cmd) {
		out_printf(out, "unknown command: '%s'\n",
			   shown(argv[0], b, sizeof(b)));
		return;
	}
	cmd->run(&c, argc, argv);
}

/* ---- line assembly ----------------------------------------------------- */

void mon_line_reset(struct mon_line *l)
{
	bool echo = l->echo;
	memset(l, 0, sizeof(*l));
	l->echo = echo;
}

static void echo(const struct mon_out *o, const char *s, size_t n)
{
	if (o)
		o->write(o->opaque, s, n);
}

/* Terminal editing (echo mode): erase, and skip escape sequences (arrow
 * keys) instead of taking their bytes as text. Returns true if c was
 * consumed here. */
static bool edit_byte(struct mon_line *l, uint8_t c, const struct mon_out *o)
{
	if (l->esc == 1) {
		l->esc = c == '[' || c == 'O' ? 2 : 0;
		return true;
	}
	if (l->esc == 2) {
		if (c >= 0x40 && c <= 0x7e)
			l->esc = 0;
		return true;
	}
	if (c == 0x1b) {
		l->esc = 1;
		return true;
	}
	if (c == 0x08 || c == 0x7f) {
		if (l->len && !l->overflow) {
			l->len--;
			echo(o, "\b \b", 3);
		}
		return true;
	}
	return c < 0x20 && c != '\t' && c != '\r' && c != '\n';
}

void mon_line_feed(struct mon_line *l, const uint8_t *p, size_t n,
		   const struct mon_out *echo_out,
		   void (*line)(void *opaque, const char *s), void *opaque)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		bool was_cr = l->last_cr;
		l->last_cr = c == '\r';
		if (l->echo && edit_byte(l, c, echo_out))
			continue;
		if (c == '\n' && was_cr)
			continue; /* the LF of CR LF */
		if (c == '\r' || c == '\n') {
			if (l->echo)
				echo(echo_out, "\n", 1);
			l->buf[l->len] = '\0';
			bool over = l->overflow;
			l->len = 0;
			l->overflow = false;
			line(opaque, over ? NULL : l->buf);
			continue;
		}
		if (l->overflow)
			continue;
		if (l->len == MON_LINE_MAX - 1) {
			l->overflow = true;
			continue;
		}
		l->buf[l->len++] = (char)c;
		if (l->echo)
			echo(echo_out, (const char *)&c, 1);
	}
}

/* ---- the machine behind the commands ----------------------------------- */

struct monitor;
static struct machine *mach(void *opaque);

static void drive_id(char *id, size_t len, int slot, bool cdrom)
{
	unsigned s = (unsigned)slot % MON_DRIVES;
	snprintf(id, len, "ide%u-%s%u", s / 2, cdrom ? "cd" : "hd", s % 2);
}

static bool mb_drive(void *opaque, int i, struct mon_drive *d)
{
	struct machine *m = mach(opaque);
	struct atapi *a = m->atapi[i];
	dm_lock(&m->vm->dm);
	bool used = a || m->blk[i];
	if (used) {
		struct blk *b = a ? atapi_medium(a) : m->blk[i];
		drive_id(d->id, sizeof(d->id), i, a != NULL);
		d->cdrom = a != NULL;
		d->file = b ? b->name : NULL;
		d->readonly = b ? b->readonly : a != NULL;
		d->locked = a ? atapi_locked(a) : -1;
		d->tray_open = a ? atapi_tray_open(a) : -1;
	}
	dm_unlock(&m->vm->dm);
	return used;
}

static void locked_msg(char *err, size_t len, int slot)
{
	char id[16];
	drive_id(id, sizeof(id), slot, true);
	snprintf(err, len,
		 "Device '%s' is locked by the guest (it prevents medium "
		 "removal); eject -f %s forces it",
		 id, id);
}

/* Puts medium (NULL: none) into the drive; the old image is closed. The
 * old one may still have reads in flight: blk_close() waits for them,
 * outside the device lock as it requires. */
static int swap_medium(struct machine *m, int i, struct blk *medium, bool force)
{
	dm_lock(&m->vm->dm);
	struct blk *old = m->blk[i];
	/* Ejecting an empty drive (the guest ejected the disc) only closes
	 * the image it left behind: no new UNIT ATTENTION, no lock check. */
	int rc = !medium && !atapi_medium(m->atapi[i])
		     ? 0
		     : atapi_set_medium(m->atapi[i], medium, force);
	if (rc == 0)
		m->blk[i] = medium;
	dm_unlock(&m->vm->dm);
	if (rc == 0 && old)
		blk_close(old);
	return rc;
}

static int mb_eject(void *opaque, int i, bool force, char *err, size_t len)
{
	struct machine *m = mach(opaque);
	if (swap_medium(m, i, NULL, force) < 0) {
		locked_msg(err, len, i);
		return -1;
	}
	return 0;
}

static int mb_change(void *opaque, int i, const char *file, char *err,
		     size_t len)
{
	struct machine *m = mach(opaque);
	struct blk_opts o = {.path = file, .cdrom = true};
	struct stat st;
	if (stat(file, &st) == 0 && S_ISDIR(st.st_mode)) {
		snprintf(err, len, "could not open '%s': Is a directory", file);
		return -1;
	}
	struct blk *b = blk_open(&o, &m->vm->dm, err, len);
	if (!b)
		return -1;
	if (swap_medium(m, i, b, false) < 0) {
		blk_close(b);
		locked_msg(err, len, i);
		return -1;
	}
	return 0;
}

static bool mb_paused(void *opaque)
{
	return vcpu_paused(mach(opaque)->vm);
}

static int mb_stop(void *opaque, char *err, size_t len)
{
	if (vcpu_pause(mach(opaque)->vm, MON_STOP_MS) == 0)
		return 0;
	snprintf(err, len,
		 "the vCPU has not stopped within %d ms; it stops at its next "
		 "exit",
		 MON_STOP_MS);
	return -1;
}

static void mb_cont(void *opaque)
{
	vcpu_resume(mach(opaque)->vm);
}

static void seg_text(char **p, size_t *left, const char *n,
		     const struct kvm_segment *s)
{
	int w = snprintf(*p, *left,
			 "%s =%04x %016llx %08x type=%x dpl=%u p=%u db=%u "
			 "l=%u g=%u\n",
			 n, s->selector, (unsigned long long)s->base, s->limit,
			 s->type, s->dpl, s->present, s->db, s->l, s->g);
	if (w > 0 && (size_t)w < *left) {
		*p += w;
		*left -= (size_t)w;
	}
}

/* The vCPU is parked: its registers can be read from this thread. */
static int regs_text(struct vcpu *v, char *buf, size_t len)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	if (ioctl(v->fd, KVM_GET_REGS, &r) < 0 ||
	    ioctl(v->fd, KVM_GET_SREGS, &s) < 0) {
		snprintf(buf, len, "cannot read the vCPU registers: %s",
			 strerror(errno));
		return -1;
	}
	int w = snprintf(buf, len,
			 "RAX=%016llx RBX=%016llx RCX=%016llx RDX=%016llx\n"
			 "RSI=%016llx RDI=%016llx RBP=%016llx RSP=%016llx\n"
			 "R8 =%016llx R9 =%016llx R10=%016llx R11=%016llx\n"
			 "R12=%016llx R13=%016llx R14=%016llx R15=%016llx\n"
			 "RIP=%016llx RFL=%08llx\n",
			 r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp, r.rsp,
			 r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15,
			 r.rip, r.rflags);
	if (w < 0 || (size_t)w >= len)
		return 0;
	char *p = buf + w;
	size_t left = len - (size_t)w;
	seg_text(&p, &left, "ES", &s.es);
	seg_text(&p, &left, "CS", &s.cs);
	seg_text(&p, &left, "SS", &s.ss);
	seg_text(&p, &left, "DS", &s.ds);
	seg_text(&p, &left, "FS", &s.fs);
	seg_text(&p, &left, "GS", &s.gs);
	snprintf(p, left,
		 "GDT=     %016llx %08x\nIDT=     %016llx %08x\n"
		 "CR0=%08llx CR2=%016llx CR3=%016llx CR4=%08llx\n"
		 "EFER=%016llx\n",
		 s.gdt.base, s.gdt.limit, s.idt.base, s.idt.limit, s.cr0, s.cr2,
		 s.cr3, s.cr4, s.efer);
	return 0;
}

/* Stops the vCPU for the read unless it was stopped already. */
static int mb_registers(void *opaque, char *buf, size_t len)
{
	struct vm *vm = mach(opaque)->vm;
	bool was = vcpu_paused(vm);
	int rc = -1;
	if (vcpu_pause(vm, MON_STOP_MS) == 0)
		rc = regs_text(&vm->vcpus[0], buf, len);
	else
		snprintf(buf, len, "the vCPU did not stop within %d ms",
			 MON_STOP_MS);
	if (!was)
		vcpu_resume(vm);
	return rc;
}

static void request_exit(struct machine *m, int reason)
{
	dm_lock(&m->vm->dm);
	vm_request_exit(m->vm, reason, 0);
	dm_unlock(&m->vm->dm);
}

/* A reset is a new process with the same command line (DESIGN.md); with
 * -no-reboot minivmm ends instead, as for a guest reset. */
static void mb_reset(void *opaque)
{
	request_exit(mach(opaque), VM_RESET);
}

static void mb_quit(void *opaque)
{
	request_exit(mach(opaque), VM_QUIT);
}

/* Guest RAM as the devices see it (gm_ptr refuses anything that is not
 * RAM), written straight from guest memory a page at a time, so that no
 * piece crosses a region border. The vCPU keeps running, as with QEMU: a
 * dump of memory the guest is changing may mix old and new bytes. */
static int mb_pmemsave(void *opaque, uint64_t addr, uint64_t size,
		       const char *file, char *err, size_t len)
{
	struct vm *vm = mach(opaque)->vm;
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(err, len, "cannot open '%s': %s", file,
			 strerror(errno));
		return -1;
	}
	uint64_t a = addr, end = addr + size;
	int rc = 0;
	while (a < end && rc == 0) {
		uint64_t n = 4096 - (a & 4095);
		if (n > end - a)
			n = end - a;
		const uint8_t *p = gm_ptr(&vm->gm, a, n, false);
		if (!p) {
			snprintf(err, len,
				 "0x%llx is not guest RAM (dumped %llu of %llu "
				 "bytes)",
				 (unsigned long long)a,
				 (unsigned long long)(a - addr),
				 (unsigned long long)size);
			rc = -1;
			break;
		}
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			snprintf(err, len, "cannot write '%s': %s", file,
				 strerror(w < 0 ? errno : EIO));
			rc = -1;
		} else {
			a += (uint64_t)w;
		}
	}
	if (close(fd) < 0 && rc == 0) {
		snprintf(err, len, "cannot write '%s': %s", file,
			 strerror(errno));
		rc = -1;
	}
	return rc;
}

static int mb_screendump(void *opaque, const char *file, bool text, char *err,
			 size_t len)
{
	struct machine *m = mach(opaque);
	if (!m->display) {
		snprintf(err, len, "no VGA (-vga std adds one)");
		return -1;
	}
	dm_lock(&m->vm->dm);
	int rc = display_screendump(m->display, file, text, err, len);
	dm_unlock(&m->vm->dm);
	return rc;
}

static int mb_screendump_full(void *opaque, const char *file, char *err,
			      size_t len)
{
	struct machine *m = mach(opaque);
	if (!m->display) {
		snprintf(err, len, "no VGA (-vga std adds one)");
		return -1;
	}
	dm_lock(&m->vm->dm);
	int rc = display_screendump_full(m->display, file, err, len);
	dm_unlock(&m->vm->dm);
	return rc;
}

static int mb_text_screen(void *opaque, char *buf, size_t len)
{
	struct machine *m = mach(opaque);
	if (!m->display) {
		snprintf(buf, len, "no VGA (-vga std adds one)");
		return -1;
	}
	dm_lock(&m->vm->dm);
	int rc = display_text(m->display, buf, len);
	dm_unlock(&m->vm->dm);
	if (rc < 0)
		snprintf(buf, len, "the VGA is not in a text mode");
	return rc;
}

static int mb_vga_info(void *opaque, char *buf, size_t len)
{
	struct machine *m = mach(opaque);
	if (!m->vga)
		return -1;
	dm_lock(&m->vm->dm);
	machine_vga_info(m, buf, len);
	dm_unlock(&m->vm->dm);
	return 0;
}

static int mb_mouse(void *opaque, int dx, int dy, int dz, int buttons,
		    char *err, size_t len)
{
	struct machine *m = mach(opaque);
	if (!m->kbd) {
		snprintf(err, len, "no PS/2 controller");
		return -1;
	}
	dm_lock(&m->vm->dm);
	if (buttons >= 0)
		m->mouse_buttons = (unsigned)buttons & 7;
	i8042_mouse(m->kbd, dx, dy, dz, m->mouse_buttons);
	dm_unlock(&m->vm->dm);
	return 0;
}

static const struct mon_ops machine_ops = {
    .drive = mb_drive,
    .eject = mb_eject,
    .change = mb_change,
    .paused = mb_paused,
    .stop = mb_stop,
    .cont = mb_cont,
    .registers = mb_registers,
    .reset = mb_reset,
    .quit = mb_quit,
    .pmemsave = mb_pmemsave,
    .screendump = mb_screendump,
    .text_screen = mb_text_screen,
    .vga_info = mb_vga_info,
    .mouse = mb_mouse,
    .screendump_full = mb_screendump_full,
};

/* ---- the monitor thread ------------------------------------------------ */

enum mon_kind { MK_STDIO, MK_MUX, MK_UNIX };

struct monitor {
	struct mon_ops ops;
	struct machine *m; /* NULL for monitor_new_ops */
	enum mon_kind kind;
	int in_fd, out_fd;	  /* stdio */
	int listen_fd, client_fd; /* unix */
	char *path;		  /* the socket, unlinked at the end */
	bool in_eof, out_broken, client_broken;
	bool bound;  /* the socket file is ours to unlink */
	int wake[2]; /* a byte here wakes the thread */
	pthread_t thread;
	bool started;
	int quit; /* atomic: the thread must end */
	struct mon_line line;
	struct mon_out out;
	/* Shared console: bytes from the device-model thread. */
	struct chardev *serial;
	pthread_mutex_t mu;
	bool active, banner, starved; /* under mu */
	uint8_t q[MON_QUEUE];
	size_t qlen;
};

static struct machine *mach(void *opaque)
{
	return ((struct monitor *)opaque)->m;
}

static bool quitting(struct monitor *mon)
{
	return __atomic_load_n(&mon->quit, __ATOMIC_SEQ_CST);
}

static void wake(struct monitor *mon)
{
	char b = 1;
	while (write(mon->wake[1], &b, 1) < 0 && errno == EINTR)
		;
}

/* Waits for room in a non-blocking descriptor; false on timeout, error or
 * when the monitor is ending. */
static bool wait_writable(struct monitor *mon, int fd)
{
	struct pollfd p[2] = {{fd, POLLOUT, 0}, {mon->wake[0], POLLIN, 0}};
	int n = poll(p, 2, MON_WRITE_MS);
	if (n <= 0)
		return n < 0 && errno == EINTR;
	return !quitting(mon) && (p[0].revents & POLLOUT);
}

static void fd_write(struct monitor *mon, int fd, const char *s, size_t n,
		     bool *broken)
{
	while (n && !*broken) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
		if (w < 0 && errno == ENOTSOCK)
			w = write(fd, s, n);
		if (w > 0) {
			s += w;
			n -= (size_t)w;
		} else if (w < 0 && errno == EINTR) {
			continue;
		} else if (!(w < 0 && errno == EAGAIN &&
			     wait_writable(mon, fd))) {
			*broken = true;
		}
	}
}

static void mon_write(void *opaque, const char *s, size_t n)
{
	struct monitor *mon = opaque;
	switch (mon->kind) {
	case MK_MUX:
		chardev_write(mon->serial, s, n);
		break;
	case MK_STDIO:
		fd_write(mon, mon->out_fd, s, n, &mon->out_broken);
		break;
	case MK_UNIX:
		if (mon->client_fd >= 0)
			fd_write(mon, mon->client_fd, s, n,
				 &mon->client_broken);
		break;
	}
}

static void run_line(void *opaque, const char *line)
{
	struct monitor *mon = opaque;
	mon_execute(&mon->ops, &mon->out, line);
	mon_write(mon, MON_PROMPT, strlen(MON_PROMPT));
}

static void greet(struct monitor *mon)
{
	mon_write(mon, MON_BANNER MON_PROMPT, strlen(MON_BANNER MON_PROMPT));
}

static void drop_client(struct monitor *mon)
{
	close(mon->client_fd);
	mon->client_fd = -1;
	mon->client_broken = false;
	mon_line_reset(&mon->line);
}

static void accept_client(struct monitor *mon)
{
	int fd =
	    accept4(mon->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return; /* EAGAIN, ECONNABORTED...: wait for the next */
	mon->client_fd = fd;
	mon_line_reset(&mon->line);
	greet(mon);
}

static void read_input(struct monitor *mon, int fd)
{
	uint8_t buf[MON_READ];
	ssize_t n = read(fd, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		if (mon->kind == MK_UNIX)
			drop_client(mon); /* a line cut short is dropped */
		else
			mon->in_eof = true;
		return;
	}
	mon_line_feed(&mon->line, buf, (size_t)n, &mon->out, run_line, mon);
	if (mon->kind == MK_UNIX && mon->client_broken)
		drop_client(mon);
}

/* Shared console: takes the queued bytes, runs their lines, and lets the
 * chardev deliver again if it was refused. */
static void serve_queue(struct monitor *mon)
{
	uint8_t buf[MON_QUEUE];
	pthread_mutex_lock(&mon->mu);
	size_t n = mon->qlen;
	bool banner = mon->banner, starved = mon->starved;
	memcpy(buf, mon->q, n);
	mon->qlen = 0;
	mon->banner = mon->starved = false;
	pthread_mutex_unlock(&mon->mu);
	if (banner) {
		mon_line_reset(&mon->line);
		greet(mon);
	}
	mon_line_feed(&mon->line, buf, n, &mon->out, run_line, mon);
	if (starved)
		chardev_rx_ready(mon->serial);
}

/* The descriptor input comes from now, or -1. */
static int input_fd(struct monitor *mon)
{
	if (mon->kind == MK_UNIX)
		return mon->client_fd >= 0 ? mon->client_fd : mon->listen_fd;
	if (mon->kind == MK_STDIO && !mon->in_eof)
		return mon->in_fd;
	return -1;
}

static void *mon_thread(void *opaque)
{
	struct monitor *mon = opaque;
	if (mon->kind == MK_STDIO)
		greet(mon);
	while (!quitting(mon)) {
		struct pollfd p[2] = {{mon->wake[0], POLLIN, 0},
				      {input_fd(mon), POLLIN, 0}};
		int np = p[1].fd >= 0 ? 2 : 1;
		if (poll(p, np, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents) {
			char b[64];
			while (read(mon->wake[0], b, sizeof(b)) > 0)
				;
			if (mon->kind == MK_MUX)
				serve_queue(mon);
		}
		if (quitting(mon) || np < 2 || !p[1].revents)
			continue;
		if (mon->kind == MK_UNIX && mon->client_fd < 0)
			accept_client(mon);
		else
			read_input(mon, p[1].fd);
	}
	return NULL;
}

/* ---- set-up ------------------------------------------------------------ */

/* "unix:PATH,server,nowait" (or server=on,wait=off): 0, or -1 with err. */
static int parse_unix(const char *spec, char **path, char *err, size_t len)
{
	char *dup = strdup(spec + 5), *save = NULL;
	bool server = false, nowait = false;
	int rc = 0;
	if (!dup) {
		snprintf(err, len, "out of memory");
		return -1;
	}
	char *p = strtok_r(dup, ",", &save);
	for (char *t = strtok_r(NULL, ",", &save); t && !rc;
	     t = strtok_r(NULL, ",", &save)) {
		if (!strcmp(t, "server") || !strcmp(t, "server=on"))
			server = true;
		else if (!strcmp(t, "nowait") || !strcmp(t, "wait=off"))
			nowait = true;
		else
			rc = -1;
	}
	if (rc || !p || !*p || spec[5] == ',')
		snprintf(err, len, "-monitor %s: use unix:PATH,server,nowait",
			 spec);
	else if (!server || !nowait)
		snprintf(err, len,
			 "-monitor %s: only a listening socket that does not "
			 "wait for its client is supported (,server,nowait)",
			 spec);
	else if (strlen(p) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		snprintf(err, len, "-monitor: socket path too long: %s", p);
	else
		*path = strdup(p);
	free(dup);
	return *path ? 0 : -1;
}

static int listen_unix(struct monitor *mon, char *err, size_t len)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	struct stat st;
	strcpy(a.sun_path, mon->path); /* length checked by parse_unix */
	/* A socket left by an earlier run is replaced; anything else is not
	 * ours to delete. */
	if (lstat(mon->path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, len,
				 "-monitor: %s exists and is not a "
				 "socket",
				 mon->path);
			return -1;
		}
		unlink(mon->path);
	}
	mon->listen_fd =
	    socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int rc = mon->listen_fd < 0
		     ? -1
		     : bind(mon->listen_fd, (struct sockaddr *)&a, sizeof(a));
	mon->bound = rc == 0;
	if (rc == 0)
		rc = listen(mon->listen_fd, 1);
	if (rc < 0) {
		snprintf(err, len, "-monitor: %s: %s", mon->path,
			 strerror(errno));
		return -1;
	}
	return 0;
}

static struct monitor *mon_alloc(const struct mon_ops *ops)
{
	struct monitor *mon = calloc(1, sizeof(*mon));
	if (!mon)
		return NULL;
	mon->ops = *ops;
	mon->in_fd = mon->out_fd = -1;
	mon->listen_fd = mon->client_fd = -1;
	mon->wake[0] = mon->wake[1] = -1;
	mon->out = (struct mon_out){mon_write, mon};
	pthread_mutex_init(&mon->mu, NULL);
	if (pipe2(mon->wake, O_NONBLOCK | O_CLOEXEC) < 0) {
		free(mon);
		return NULL;
	}
	return mon;
}

static int mon_open(struct monitor *mon, const char *spec, char *err,
		    size_t len)
{
	if (!strcmp(spec, "stdio")) {
		if (mon->kind != MK_MUX) {
			mon->kind = MK_STDIO;
			mon->in_fd = STDIN_FILENO;
			mon->out_fd = STDOUT_FILENO;
		}
		return 0;
	}
	if (!strncmp(spec, "unix:", 5)) {
		mon->kind = MK_UNIX;
		if (parse_unix(spec, &mon->path, err, len) < 0)
			return -1;
		return listen_unix(mon, err, len);
	}
	snprintf(err, len,
		 "unknown monitor '%s' (use stdio, unix:PATH,server,nowait or "
		 "none)",
		 spec);
	return -1;
}

static struct monitor *mon_start(struct monitor *mon, const char *spec,
				 char *err, size_t len)
{
	if (mon_open(mon, spec, err, len) < 0) {
		monitor_free(mon);
		return NULL;
	}
	mon->line.echo = mon->kind == MK_MUX;
	if (pthread_create(&mon->thread, NULL, mon_thread, mon)) {
		snprintf(err, len, "-monitor: cannot start its thread");
		monitor_free(mon);
		return NULL;
	}
	mon->started = true;
	return mon;
}

struct monitor *monitor_new_ops(const struct mon_ops *ops, const char *spec,
				char *err, size_t errlen)
{
	if (errlen)
		err[0] = '\0';
	if (!spec || !strcmp(spec, "none"))
		return NULL;
	struct monitor *mon = mon_alloc(ops);
	if (!mon) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	return mon_start(mon, spec, err, errlen);
}

struct monitor *monitor_new(struct machine *m, const char *spec, char *err,
			    size_t errlen)
{
	struct mon_ops ops = machine_ops;
	if (errlen)
		err[0] = '\0';
	if (!spec || !strcmp(spec, "none"))
		return NULL;
	struct monitor *mon = mon_alloc(&ops);
	if (!mon) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	mon->ops.opaque = mon;
	mon->m = m;
	/* COM1 on the terminal already: share it, as QEMU's mon:stdio. */
	if (!strcmp(spec, "stdio") && m->serial &&
	    !strcmp(chardev_kind(m->serial), "stdio")) {
		mon->kind = MK_MUX;
		mon->serial = m->serial;
	}
	return mon_start(mon, spec, err, errlen);
}

void monitor_free(struct monitor *mon)
{
	if (!mon)
		return;
	if (mon->started) {
		__atomic_store_n(&mon->quit, 1, __ATOMIC_SEQ_CST);
		wake(mon);
		pthread_join(mon->thread, NULL);
	}
	if (mon->client_fd >= 0)
		close(mon->client_fd);
	if (mon->listen_fd >= 0)
		close(mon->listen_fd);
	if (mon->bound)
		unlink(mon->path);
	for (int i = 0; i < 2; i++)
		if (mon->wake[i] >= 0)
			close(mon->wake[i]);
	pthread_mutex_destroy(&mon->mu);
	free(mon->path);
	free(mon);
}

/* ---- the shared console ------------------------------------------------ */

void monitor_toggle(struct monitor *mon)
{
	if (!mon || mon->kind != MK_MUX)
		return;
	pthread_mutex_lock(&mon->mu);
	mon->active = !mon->active;
	mon->banner = mon->active;
	pthread_mutex_unlock(&mon->mu);
	wake(mon);
}

bool monitor_active(struct monitor *mon)
{
	if (!mon || mon->kind != MK_MUX)
		return false;
	pthread_mutex_lock(&mon->mu);
	bool a = mon->active;
	pthread_mutex_unlock(&mon->mu);
	return a;
}

size_t monitor_input(struct monitor *mon, const uint8_t *buf, size_t n)
{
	if (!mon || mon->kind != MK_MUX)
		return n; /* nobody to give it to: dropped */
	pthread_mutex_lock(&mon->mu);
	size_t take = MON_QUEUE - mon->qlen;
	if (take > n)
		take = n;
	memcpy(mon->q + mon->qlen, buf, take);
	mon->qlen += take;
	if (take < n)
		mon->starved = true;
	pthread_mutex_unlock(&mon->mu);
	if (take)
		wake(mon);
	return take;
}
