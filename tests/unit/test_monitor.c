/*
 * The monitor: the command layer against a fake machine (info block format,
 * eject of a locked tray, change to a missing file, garbage lines), the
 * line assembly, and the real machine backend (ATAPI drive + raw images,
 * no KVM) driven through the unix socket, including clients that send
 * binary junk, endless lines, or disconnect mid-line.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "hw/atapi.h"
#include "vmm/backend/block.h"
#include "vmm/machine.h"
#include "vmm/monitor.h"
#include "vmm/vm.h"

/* ---- a fake machine ---- */

struct fake_drive {
	bool present, cdrom, readonly;
	int locked, tray;
	char file[256]; /* "" : no medium */
};

struct fake {
	struct fake_drive d[MON_DRIVES];
	bool paused;
	int stops, conts, resets, quits, ejects, changes;
	bool last_force;
	int pmemsaves;
	uint64_t pm_addr, pm_size;
	char pm_file[64];
	int screendumps;
	bool sd_text;
	char sd_file[64];
	char out[16384];
	size_t outlen;
	int mice, m_dx, m_dy, m_dz, m_buttons;
};

static bool f_drive(void *o, int i, struct mon_drive *d)
{
	struct fake *f = o;
	struct fake_drive *fd = &f->d[i];
	if (!fd->present)
		return false;
	snprintf(d->id, sizeof(d->id), "ide%u-%s%u", (unsigned)i / 2 % 2,
		 fd->cdrom ? "cd" : "hd", (unsigned)i % 2);
	d->cdrom = fd->cdrom;
	d->file = fd->file[0] ? fd->file : NULL;
	d->readonly = fd->readonly;
	d->locked = fd->locked;
	d->tray_open = fd->tray;
	return true;
}

static int f_eject(void *o, int i, bool force, char *err, size_t len)
{
	struct fake *f = o;
	f->ejects++;
	f->last_force = force;
	if (f->d[i].locked == 1 && !force) {
		snprintf(err, len, "Device is locked");
		return -1;
	}
	f->d[i].file[0] = '\0';
	return 0;
}

static int f_change(void *o, int i, const char *file, char *err, size_t len)
{
	struct fake *f = o;
	f->changes++;
	if (access(file, R_OK) != 0) {
		snprintf(err, len, "could not open '%s': %s", file,
			 strerror(errno));
		return -1;
	}
	snprintf(f->d[i].file, sizeof(f->d[i].file), "%s", file);
	return 0;
}

static bool f_paused(void *o)
{
	return ((struct fake *)o)->paused;
}

static int f_stop(void *o, char *err, size_t len)
{
	struct fake *f = o;
	(void)err;
	(void)len;
	f->stops++;
	f->paused = true;
	return 0;
}

static void f_cont(void *o)
{
	struct fake *f = o;
	f->conts++;
	f->paused = false;
}

static int f_registers(void *o, char *buf, size_t len)
{
	struct fake *f = o;
	if (!f->paused) {
		snprintf(buf, len, "not stopped");
		return -1;
	}
	snprintf(buf, len, "RIP=000000000000fff0\n");
	return 0;
}

static void f_reset(void *o)
{
	((struct fake *)o)->resets++;
}

static void f_quit(void *o)
{
	((struct fake *)o)->quits++;
}

static int f_pmemsave(void *o, uint64_t addr, uint64_t size, const char *file,
		      char *err, size_t len)
{
	struct fake *f = o;
	f->pmemsaves++;
	f->pm_addr = addr;
	f->pm_size = size;
	snprintf(f->pm_file, sizeof(f->pm_file), "%s", file);
	if (addr >= 0x1000000) {
		snprintf(err, len, "0x%llx is not guest RAM",
			 (unsigned long long)addr);
		return -1;
	}
	return 0;
}

static int f_screendump(void *o, const char *file, bool text, char *err,
			size_t len)
{
	struct fake *f = o;
	snprintf(f->sd_file, sizeof(f->sd_file), "%s", file);
	f->sd_text = text;
	f->screendumps++;
	if (!strcmp(file, "/bad")) {
		snprintf(err, len, "cannot open '/bad'");
		return -1;
	}
	return 0;
}

static int f_text_screen(void *o, char *buf, size_t len)
{
	(void)o;
	return snprintf(buf, len, "SeaBIOS (version x)\nline 2\n");
}

static int f_vga_info(void *o, char *buf, size_t len)
{
	(void)o;
	snprintf(buf, len, "VGA: text 80x25");
	return 0;
}

static int f_mouse(void *o, int dx, int dy, int dz, int buttons, char *err,
		   size_t len)
{
	struct fake *f = o;
	(void)err, (void)len;
	f->mice++;
	f->m_dx = dx;
	f->m_dy = dy;
	f->m_dz = dz;
	f->m_buttons = buttons;
	return 0;
}

static int f_screendump_full(void *o, const char *file, char *err, size_t len)
{
	struct fake *f = o;
	(void)err, (void)len;
	f->screendumps++;
	f->sd_text = false;
	snprintf(f->sd_file, sizeof(f->sd_file), "full:%s", file);
	return 0;
}

static void f_write(void *o, const char *s, size_t n)
{
	struct fake *f = o;
	size_t room = sizeof(f->out) - 1 - f->outlen;
	if (n > room)
		n = room;
	memcpy(f->out + f->outlen, s, n);
	f->outlen += n;
	f->out[f->outlen] = '\0';
}

static struct fake fk;
static struct mon_ops fops;
static struct mon_out fout;

static void fake_setup(void)
{
	memset(&fk, 0, sizeof(fk));
	fk.d[0] = (struct fake_drive){true, false, false, -1, -1, "disk.img"};
	fk.d[2] = (struct fake_drive){true, true, true, 0, 0, "a.iso"};
	fk.d[3] = (struct fake_drive){true, true, true, 1, 1, ""};
	fops = (struct mon_ops){&fk,	       f_drive,	    f_eject,
				f_change,      f_paused,    f_stop,
				f_cont,	       f_registers, f_reset,
				f_quit,	       f_pmemsave,  f_screendump,
				f_text_screen, f_vga_info,  f_screendump_full,
				f_mouse};
	fout = (struct mon_out){f_write, &fk};
}

/* Runs line and returns the output (reset before each command). */
static const char *run(const char *line)
{
	fk.outlen = 0;
	fk.out[0] = '\0';
	mon_execute(&fops, &fout, line);
	return fk.out;
}

TestSuite(monitor, .init = fake_setup);

Test(monitor, info_block_format)
{
	cr_assert_str_eq(run("info block"),
			 "ide0-hd0: disk.img (raw)\n"
			 "ide1-cd0: a.iso (raw, read-only)\n"
			 "    Removable device: not locked, tray closed\n"
			 "ide1-cd1: [not inserted]\n"
			 "    Removable device: locked, tray open\n");
	fk.d[2].locked = fk.d[2].tray = -1;
	cr_assert(strstr(run("info block"),
			 "    Removable device: lock state unknown, tray "
			 "unknown\n"));
}

Test(monitor, info_status_stop_cont)
{
	cr_assert_str_eq(run("info status"), "VM status: running\n");
	cr_assert_str_eq(run("stop"), "");
	cr_assert_eq(fk.stops, 1);
	cr_assert_str_eq(run("info status"), "VM status: paused\n");
	cr_assert_str_eq(run("info registers"), "RIP=000000000000fff0\n");
	cr_assert_str_eq(run("c"), "");
	cr_assert_eq(fk.conts, 1);
	cr_assert_str_eq(run("info registers"), "not stopped\n");
	cr_assert(strstr(run("stop now"), "usage: stop"));
	cr_assert_eq(fk.stops, 1);
}

Test(monitor, pmemsave_arguments)
{
	cr_assert_str_eq(run("pmemsave 0x7000 4096 /tmp/m.bin"), "");
	cr_assert_eq(fk.pmemsaves, 1);
	cr_assert_eq(fk.pm_addr, 0x7000);
	cr_assert_eq(fk.pm_size, 4096);
	cr_assert_str_eq(fk.pm_file, "/tmp/m.bin");
	cr_assert_str_eq(run("pmemsave 010 0x10 f"), ""); /* octal, as HMP */
	cr_assert_eq(fk.pm_addr, 8);
	cr_assert_eq(fk.pm_size, 16);
	/* The op's error is shown as it is. */
	cr_assert_str_eq(run("pmemsave 0x2000000 1 f"),
			 "0x2000000 is not guest RAM\n");
	cr_assert_eq(fk.pmemsaves, 3);
	/* Garbage never reaches the op. */
	cr_assert(strstr(run("pmemsave 0x1000 4096"), "usage: pmemsave"));
	cr_assert(strstr(run("pmemsave 0x1000 1 f g"), "usage: pmemsave"));
	cr_assert_str_eq(run("pmemsave 12z 1 f"), "invalid number: '12z'\n");
	cr_assert_str_eq(run("pmemsave 0 -1 f"), "invalid number: '-1'\n");
	cr_assert_str_eq(run("pmemsave 0 0x1ffffffffffffffff f"),
			 "invalid number: '0x1ffffffffffffffff'\n");
	cr_assert(strstr(run("pmemsave 0 0 f"), "invalid range"));
	cr_assert(strstr(run("pmemsave 0xfffffffffffff000 0x2000 f"),
			 "invalid range"));
	cr_assert_eq(fk.pmemsaves, 3);
	fops.pmemsave = NULL;
	cr_assert_str_eq(run("pmemsave 0 1 f"), "pmemsave: not available\n");
}

Test(monitor, eject_locked_tray_refused_unless_forced)
{
	fk.d[2].locked = 1;
	cr_assert_str_eq(run("eject ide1-cd0"), "Device is locked\n");
	cr_assert_eq(fk.ejects, 1);
	cr_assert_not(fk.last_force);
	cr_assert_str_eq(fk.d[2].file, "a.iso");
	cr_assert_str_eq(run("eject -f ide1-cd0"), "");
	cr_assert(fk.last_force);
	cr_assert_str_eq(fk.d[2].file, "");
}

Test(monitor, eject_errors)
{
	cr_assert_str_eq(run("eject ide0-hd0"),
			 "Device 'ide0-hd0' is not removable\n");
	cr_assert_str_eq(run("eject ide9-cd0"),
			 "Device 'ide9-cd0' not found\n");
	cr_assert_str_eq(run("eject"), "usage: eject [-f] device\n");
	cr_assert_str_eq(run("eject -x ide1-cd0"),
			 "usage: eject [-f] device\n");
	cr_assert_str_eq(run("eject -f"), "usage: eject [-f] device\n");
	cr_assert_eq(fk.ejects, 0);
}

Test(monitor, change_to_missing_file_keeps_old_medium)
{
	const char *o = run("change ide1-cd0 /nonexistent/new.iso");
	cr_assert_str_eq(o, "could not open '/nonexistent/new.iso': No such "
			    "file or directory\n");
	cr_assert_str_eq(fk.d[2].file, "a.iso");
	cr_assert(strstr(run("info block"), "ide1-cd0: a.iso (raw"));
}

Test(monitor, change_arguments)
{
	cr_assert_str_eq(run("change ide1-cd0 /dev/null"), "");
	cr_assert_str_eq(fk.d[2].file, "/dev/null");
	cr_assert_str_eq(run("change ide1-cd1 /dev/null raw"), "");
	cr_assert_str_eq(run("change ide1-cd1 /dev/null qcow2"),
			 "format 'qcow2' is not supported (only raw)\n");
	cr_assert_str_eq(run("change ide0-hd0 /dev/null"),
			 "Device 'ide0-hd0' is not removable\n");
	cr_assert_str_eq(run("change ide1-cd0"),
			 "usage: change device filename [raw]\n");
	cr_assert_str_eq(run("change nope /dev/null"),
			 "Device 'nope' not found\n");
	cr_assert_eq(fk.changes, 2);
}

Test(monitor, reset_and_quit)
{
	run("system_reset");
	cr_assert_eq(fk.resets, 1);
	run("q");
	run("quit");
	cr_assert_eq(fk.quits, 2);
	cr_assert(strstr(run("quit now"), "usage: quit"));
	cr_assert_eq(fk.quits, 2);
}

Test(monitor, help)
{
	char *o = strdup(run("help"));
	const char *names[] = {"help|?", "info ",   "stop",	    "cont|c",
			       "eject ", "change ", "system_reset", "quit|q"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		cr_assert(strstr(o, names[i]), "help lacks %s", names[i]);
	cr_assert_eq(strncmp(run("help eject"), "eject [-f] device", 17), 0);
	cr_assert_str_eq(run("help bogus"), "unknown command: 'bogus'\n");
	cr_assert_str_eq(run("?"), o);
	free(o);
	cr_assert(strstr(run("info"), "info block"));
	cr_assert_str_eq(run("info nothing"),
			 "info: unknown item 'nothing' (help info)\n");
}

Test(monitor, unknown_and_garbage_lines)
{
	cr_assert_str_eq(run("frobnicate"), "unknown command: 'frobnicate'\n");
	cr_assert_str_eq(run(""), "");
	cr_assert_str_eq(run("   \t  "), "");
	cr_assert_str_eq(run("  info   status  "), "VM status: running\n");
	cr_assert_str_eq(run(NULL),
			 "line too long (at most 1023 bytes), ignored\n");
	cr_assert_str_eq(run("a b c d e f g h i"), "too many arguments\n");
	/* Control and high bytes are escaped, and the echo is short. */
	cr_assert_str_eq(run("\x1b[2J\x01\xff"),
			 "unknown command: '\\x1b[2J\\x01\\xff'\n");
	char big[1000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	const char *o = run(big);
	cr_assert_lt(strlen(o), 100);
	cr_assert(strstr(o, "...'"));
	/* Random bytes: never a crash, never a device call. */
	srand(1);
	for (int i = 0; i < 2000; i++) {
		char line[64];
		for (size_t j = 0; j < sizeof(line) - 1; j++)
			line[j] = (char)(1 + rand() % 255);
		line[sizeof(line) - 1] = '\0';
		run(line);
		for (size_t j = 0; j < fk.outlen; j++)
			cr_assert(fk.out[j] == '\n' ||
				      (fk.out[j] >= 0x20 && fk.out[j] < 0x7f),
				  "raw byte %02x in the answer",
				  (unsigned char)fk.out[j]);
	}
	cr_assert_eq(fk.ejects + fk.changes + fk.resets + fk.quits + fk.stops,
		     0);
}

/* ---- line assembly ---- */

struct lines {
	char got[8][MON_LINE_MAX];
	int n, toolong;
};

static void on_line(void *o, const char *s)
{
	struct lines *l = o;
	if (!s) {
		l->toolong++;
		return;
	}
	if (l->n < 8)
		snprintf(l->got[l->n++], MON_LINE_MAX, "%s", s);
}

static void feed(struct mon_line *ml, struct lines *l, const char *s)
{
	mon_line_feed(ml, (const uint8_t *)s, strlen(s), &fout, on_line, l);
}

Test(monitor, line_endings_and_splits)
{
	struct mon_line ml = {0};
	struct lines l = {0};
	feed(&ml, &l, "info st");
	cr_assert_eq(l.n, 0);
	feed(&ml, &l, "atus\r\nq\rhelp\n\n");
	cr_assert_eq(l.n, 4);
	cr_assert_str_eq(l.got[0], "info status");
	cr_assert_str_eq(l.got[1], "q");
	cr_assert_str_eq(l.got[2], "help");
	cr_assert_str_eq(l.got[3], "");
	cr_assert_str_eq(fk.out, ""); /* no echo by default */
}

Test(monitor, overlong_line_dropped_whole)
{
	struct mon_line ml = {0};
	struct lines l = {0};
	char chunk[300];
	memset(chunk, 'a', sizeof(chunk) - 1);
	chunk[sizeof(chunk) - 1] = '\0';
	for (int i = 0; i < 100; i++)
		feed(&ml, &l, chunk);
	feed(&ml, &l, "tail\nquit\n");
	cr_assert_eq(l.toolong, 1);
	cr_assert_eq(l.n, 1);
	cr_assert_str_eq(l.got[0], "quit");
	/* Exactly MON_LINE_MAX - 1 bytes still fit. */
	char exact[MON_LINE_MAX + 1];
	memset(exact, 'b', MON_LINE_MAX - 1);
	exact[MON_LINE_MAX - 1] = '\n';
	exact[MON_LINE_MAX] = '\0';
	feed(&ml, &l, exact);
	cr_assert_eq(l.n, 2);
	cr_assert_eq(strlen(l.got[1]), MON_LINE_MAX - 1);
}

Test(monitor, echo_mode_edits)
{
	struct mon_line ml = {.echo = true};
	struct lines l = {0};
	feed(&ml, &l, "infox\x7f status\x1b[A\x1bOB\x03\r");
	cr_assert_eq(l.n, 1);
	cr_assert_str_eq(l.got[0], "info status");
	cr_assert_str_eq(fk.out, "infox\b \b status\n");
	feed(&ml, &l, "\x08\x08q\n");
	cr_assert_str_eq(l.got[1], "q");
}

/* ---- the real machine backend over the unix socket (no KVM) ---- */

#define ISO_A_BLOCKS 3
#define ISO_B_BYTES  (5 * 2048 + 100) /* capacity 6 blocks */

struct rig {
	char dir[32], sock[64], iso_a[64], iso_b[64];
	struct vm vm;
	struct machine m;
	struct monitor *mon;
	uint8_t low[0x10000], high[0x4000]; /* guest RAM at 0 and 1 MiB */
};

static struct rig rig;

static void make_file(const char *path, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, (off_t)size), 0);
	close(fd);
}

static void rig_setup(void)
{
	char e[256];
	fake_setup();
	memset(&rig, 0, sizeof(rig));
	snprintf(rig.dir, sizeof(rig.dir), "/tmp/mon-test.XXXXXX");
	cr_assert_not_null(mkdtemp(rig.dir));
	snprintf(rig.sock, sizeof(rig.sock), "%s/mon.sock", rig.dir);
	snprintf(rig.iso_a, sizeof(rig.iso_a), "%s/a.iso", rig.dir);
	snprintf(rig.iso_b, sizeof(rig.iso_b), "%s/b.iso", rig.dir);
	make_file(rig.iso_a, ISO_A_BLOCKS * 2048);
	make_file(rig.iso_b, ISO_B_BYTES);
	cr_assert_eq(dm_init(&rig.vm.dm, DM_MODE_INLINE, 1), 0);
	rig.vm.vcpus[0].fd = -1; /* nvcpus 0: nothing to stop */
	rig.m.vm = &rig.vm;
	for (size_t i = 0; i < sizeof(rig.low); i++)
		rig.low[i] = (uint8_t)(i * 7 + (i >> 8));
	memset(rig.high, 0xa5, sizeof(rig.high));
	cr_assert_eq(gm_add(&rig.vm.gm, 0, sizeof(rig.low), rig.low, false), 0);
	cr_assert_eq(
	    gm_add(&rig.vm.gm, 0x100000, sizeof(rig.high), rig.high, false), 0);
	rig.m.atapi[2] = atapi_new();
	struct blk_opts o = {.path = rig.iso_a, .cdrom = true};
	rig.m.blk[2] = blk_open(&o, &rig.vm.dm, e, sizeof(e));
	cr_assert_not_null(rig.m.blk[2], "%s", e);
	atapi_set_medium(rig.m.atapi[2], rig.m.blk[2], true);
	char spec[160];
	snprintf(spec, sizeof(spec), "unix:%s,server,nowait", rig.sock);
	rig.mon = monitor_new(&rig.m, spec, e, sizeof(e));
	cr_assert_not_null(rig.mon, "%s", e);
}

static void rig_teardown(void)
{
	monitor_free(rig.mon);
	cr_assert_neq(access(rig.sock, F_OK), 0, "socket not unlinked");
	atapi_free(rig.m.atapi[2]);
	if (rig.m.blk[2])
		blk_close(rig.m.blk[2]);
	dm_destroy(&rig.vm.dm);
	unlink(rig.iso_a);
	unlink(rig.iso_b);
	rmdir(rig.dir);
}

static int connect_sock(void)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", rig.sock);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* Reads until the text holds want and ends with the prompt (or
 * timeout_ms passes without data). */
static const char *until_text(int fd, const char *want, int timeout_ms)
{
	static char buf[65536];
	size_t n = 0;
	buf[0] = '\0';
	while (n < sizeof(buf) - 1) {
		struct pollfd p = {fd, POLLIN, 0};
		if (poll(&p, 1, timeout_ms) <= 0)
			break;
		ssize_t r = read(fd, buf + n, sizeof(buf) - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		buf[n] = '\0';
		if (n >= 10 && !strcmp(buf + n - 10, "(minivmm) ") &&
		    strstr(buf, want))
			break;
	}
	return buf;
}

static const char *until_prompt(int fd, int timeout_ms)
{
	return until_text(fd, "", timeout_ms);
}

static const char *cmd(int fd, const char *line)
{
	cr_assert_eq(write(fd, line, strlen(line)), (ssize_t)strlen(line));
	return until_prompt(fd, 3000);
}

/* One packet to the drive as the guest would send it; the sense key. */
static int guest_cdb(uint8_t op, uint8_t b4, uint32_t *capacity)
{
	uint8_t cdb[12] = {op};
	struct atapi_result res;
	cdb[4] = b4;
	dm_lock(&rig.vm.dm);
	atapi_command(rig.m.atapi[2], cdb, &res);
	if (capacity && res.status == ATAPI_GOOD && res.len >= 4)
		*capacity = ((uint32_t)res.data[0] << 24 | res.data[1] << 16 |
			     res.data[2] << 8 | res.data[3]) +
			    1;
	int key =
	    res.status == ATAPI_GOOD ? 0 : atapi_sense_key(rig.m.atapi[2]);
	dm_unlock(&rig.vm.dm);
	return key;
}

Test(monitor, socket_change_eject_on_real_drive, .init = rig_setup,
     .fini = rig_teardown, .timeout = 30)
{
	int fd = connect_sock();
	uint32_t cap = 0;
	char line[256], want[512];
	cr_assert(strstr(until_prompt(fd, 3000), "minivmm monitor"));
	cr_assert_eq(guest_cdb(0x25, 0, &cap), 0); /* READ CAPACITY */
	cr_assert_eq(cap, ISO_A_BLOCKS);

	snprintf(
	    want, sizeof(want),
	    "ide1-cd0: %s (raw, read-only)\n    Removable device: ", rig.iso_a);
	cr_assert(strstr(cmd(fd, "info block\n"), want));

	/* A missing file: a clear message, the old medium stays. */
	const char *o = cmd(fd, "change ide1-cd0 /nonexistent.iso\n");
	cr_assert(strstr(o, "/nonexistent.iso") &&
		      strstr(o, "No such file or directory"),
		  "%s", o);
	cr_assert(strstr(cmd(fd, "info block\n"), want));
	cr_assert(strstr(cmd(fd, "change ide1-cd0 /tmp\n"), "directory"));
	cr_assert_eq(guest_cdb(0x00, 0, NULL), 0); /* no unit attention */

	/* The guest locks the tray: eject and change are refused. */
	cr_assert_eq(guest_cdb(0x1e, 1, NULL), 0); /* PREVENT REMOVAL */
	o = cmd(fd, "eject ide1-cd0\n");
	cr_assert(strstr(o, "is locked"), "%s", o);
	snprintf(line, sizeof(line), "change ide1-cd0 %s\n", rig.iso_b);
	cr_assert(strstr(cmd(fd, line), "is locked"));
	cr_assert(strstr(cmd(fd, "info block\n"), want));
	cr_assert_eq(guest_cdb(0x00, 0, NULL), 0);

	/* The guest allows removal: change works, UNIT ATTENTION follows,
	 * then the new capacity. */
	cr_assert_eq(guest_cdb(0x1e, 0, NULL), 0);
	cr_assert_str_eq(cmd(fd, line), "(minivmm) ");
	cr_assert_eq(guest_cdb(0x00, 0, NULL), SENSE_UNIT_ATTENTION);
	cr_assert_eq(guest_cdb(0x25, 0, &cap), 0);
	cr_assert_eq(cap, 6);
	snprintf(want, sizeof(want), "ide1-cd0: %s (raw, read-only)",
		 rig.iso_b);
	cr_assert(strstr(cmd(fd, "info block\n"), want));

	/* Locked again: eject -f empties the drive anyway. */
	cr_assert_eq(guest_cdb(0x1e, 1, NULL), 0);
	cr_assert_str_eq(cmd(fd, "eject -f ide1-cd0\n"), "(minivmm) ");
	cr_assert(strstr(cmd(fd, "info block\n"), "ide1-cd0: [not inserted]"));
	cr_assert_null(rig.m.blk[2]);
	cr_assert_eq(guest_cdb(0x00, 0, NULL), SENSE_UNIT_ATTENTION);
	cr_assert_eq(guest_cdb(0x00, 0, NULL), SENSE_NOT_READY);
	close(fd);
}

Test(monitor, eject_after_guest_eject_closes_image, .init = rig_setup,
     .fini = rig_teardown, .timeout = 30)
{
	int fd = connect_sock();
	until_prompt(fd, 3000);
	cr_assert_eq(guest_cdb(0x1b, 0x02, NULL), 0); /* START STOP: eject */
	cr_assert(strstr(cmd(fd, "info block\n"), "ide1-cd0: [not inserted]"));
	cr_assert_not_null(rig.m.blk[2]); /* still open, the guest let go */
	cr_assert_str_eq(cmd(fd, "eject ide1-cd0\n"), "(minivmm) ");
	cr_assert_null(rig.m.blk[2]);
	cr_assert_eq(guest_cdb(0x00, 0, NULL), SENSE_NOT_READY); /* no UA */
	close(fd);
}

Test(monitor, socket_status_registers_quit_without_vcpu, .init = rig_setup,
     .fini = rig_teardown, .timeout = 30)
{
	int fd = connect_sock();
	until_prompt(fd, 3000);
	cr_assert(strstr(cmd(fd, "info status\n"), "VM status: running"));
	cr_assert(strstr(cmd(fd, "info registers\n"),
			 "cannot read the vCPU registers"));
	cr_assert(strstr(cmd(fd, "info status\n"), "VM status: running"));
	cmd(fd, "stop\n");
	cr_assert(strstr(cmd(fd, "info status\n"), "VM status: paused"));
	cmd(fd, "cont\n");
	cr_assert(strstr(cmd(fd, "info status\n"), "VM status: running"));
	cmd(fd, "quit\n");
	cr_assert_eq(rig.vm.exit_reason, VM_QUIT);
	close(fd);
}

Test(monitor, socket_survives_junk_and_disconnects, .init = rig_setup,
     .fini = rig_teardown, .timeout = 60)
{
	/* Binary junk with no newline, far beyond a line, then a hang-up in
	 * the middle of the line. */
	int fd = connect_sock();
	until_prompt(fd, 3000);
	uint8_t junk[4096];
	srand(7);
	for (int i = 0; i < 64; i++) {
		for (size_t j = 0; j < sizeof(junk); j++) {
			junk[j] = (uint8_t)rand();
			if (junk[j] == '\n' || junk[j] == '\r')
				junk[j] = 'x';
		}
		cr_assert_eq(write(fd, junk, sizeof(junk)),
			     (ssize_t)sizeof(junk));
	}
	cr_assert(strstr(cmd(fd, "\n"), "line too long"));
	cr_assert_eq(write(fd, "info blo", 8), 8);
	close(fd);

	/* The next client starts clean. */
	fd = connect_sock();
	cr_assert(strstr(until_prompt(fd, 3000), "minivmm monitor"));
	cr_assert(strstr(cmd(fd, "ck\n"), "unknown command: 'ck'"));
	/* Junk with newlines: one answer per line, nothing executed. */
	for (size_t j = 0; j < sizeof(junk); j++)
		junk[j] = (uint8_t)rand();
	cr_assert_eq(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	cr_assert_eq(write(fd, "\ninfo status\n", 13), 13);
	cr_assert(strstr(until_text(fd, "VM status: running", 3000),
			 "VM status: running"));
	cr_assert_eq(rig.vm.exit_reason, VM_RUNNING);
	cr_assert_not_null(rig.m.blk[2]);

	/* One client at a time: a second one waits for the first. */
	int fd2 = connect_sock();
	cr_assert_str_eq(until_prompt(fd2, 300), "");
	close(fd);
	cr_assert(strstr(until_prompt(fd2, 3000), "minivmm monitor"));
	/* A client that hangs up without reading its answers. */
	for (int i = 0; i < 200; i++)
		cr_assert_eq(write(fd2, "help\n", 5), 5);
	close(fd2);
	fd = connect_sock();
	cr_assert(strstr(until_prompt(fd, 5000), "minivmm monitor"));
	cr_assert(strstr(cmd(fd, "info status\n"), "VM status: running"));
	close(fd);
}

Test(monitor, specs)
{
	char e[256];
	char path[64] = "/tmp/mon-spec.XXXXXX";
	int tmp = mkstemp(path);
	cr_assert_geq(tmp, 0);
	close(tmp);
	cr_assert_null(monitor_new_ops(&fops, "none", e, sizeof(e)));
	cr_assert_str_eq(e, "");
	cr_assert_null(monitor_new_ops(&fops, "bogus", e, sizeof(e)));
	cr_assert(strstr(e, "unknown monitor 'bogus'"));
	cr_assert_null(monitor_new_ops(&fops, "unix:", e, sizeof(e)));
	cr_assert(strstr(e, "unix:PATH,server,nowait"));
	cr_assert_null(
	    monitor_new_ops(&fops, "unix:/tmp/x.sock", e, sizeof(e)));
	cr_assert(strstr(e, "server,nowait"));
	cr_assert_null(
	    monitor_new_ops(&fops, "unix:/tmp/x,server,bad", e, sizeof(e)));
	char longp[300] = "unix:/tmp/";
	memset(longp + 10, 'p', 200);
	strcat(longp, ",server,nowait");
	cr_assert_null(monitor_new_ops(&fops, longp, e, sizeof(e)));
	cr_assert(strstr(e, "too long"));
	/* A regular file in the way is not deleted. */
	char spec[128];
	snprintf(spec, sizeof(spec), "unix:%s,server=on,wait=off", path);
	cr_assert_null(monitor_new_ops(&fops, spec, e, sizeof(e)));
	cr_assert(strstr(e, "not a socket"));
	cr_assert_eq(access(path, F_OK), 0);
	unlink(path);
	/* A stale socket is replaced. */
	struct monitor *m = monitor_new_ops(&fops, spec, e, sizeof(e));
	cr_assert_not_null(m, "%s", e);
	monitor_free(m);
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	cr_assert_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	close(s);
	m = monitor_new_ops(&fops, spec, e, sizeof(e));
	cr_assert_not_null(m, "%s", e);
	monitor_free(m);
	cr_assert_neq(access(path, F_OK), 0);
	monitor_toggle(NULL);
	cr_assert_not(monitor_active(NULL));
}

/* pmemsave on the machine: bytes as the guest has them; nothing outside
 * RAM (a hole, past the end) is read; file errors are reported. */
Test(monitor, socket_pmemsave_real_memory, .init = rig_setup,
     .fini = rig_teardown, .timeout = 30)
{
	int fd = connect_sock();
	char line[200], path[96];
	uint8_t got[0x10000];
	cr_assert(strstr(until_prompt(fd, 3000), "minivmm monitor"));
	snprintf(path, sizeof(path), "%s/m.bin", rig.dir);

	/* Not page-aligned, several chunks. */
	snprintf(line, sizeof(line), "pmemsave 0x123 0xfe00 %s\n", path);
	cr_assert_str_eq(cmd(fd, line), "(minivmm) ");
	int f = open(path, O_RDONLY);
	cr_assert_geq(f, 0);
	cr_assert_eq(read(f, got, sizeof(got)), 0xfe00);
	close(f);
	cr_assert_eq(memcmp(got, rig.low + 0x123, 0xfe00), 0);

	/* Into the hole after 64 KiB: refused at the first byte outside. */
	snprintf(line, sizeof(line), "pmemsave 0xf000 0x2000 %s\n", path);
	const char *o = cmd(fd, line);
	cr_assert(strstr(o, "0x10000 is not guest RAM (dumped 4096 of 8192 "
			    "bytes)"),
		  "%s", o);
	snprintf(line, sizeof(line), "pmemsave 0x100000 0x4000 %s\n", path);
	cr_assert_str_eq(cmd(fd, line), "(minivmm) ");
	f = open(path, O_RDONLY);
	cr_assert_eq(read(f, got, sizeof(got)), 0x4000);
	close(f);
	cr_assert_eq(memcmp(got, rig.high, 0x4000), 0);
	o = cmd(fd, "pmemsave 0x100000 0x4001 /dev/null\n");
	cr_assert(strstr(o, "0x104000 is not guest RAM"), "%s", o);
	o = cmd(fd, "pmemsave 0 16 /nonexistent/dir/m.bin\n");
	cr_assert(strstr(o, "cannot open '/nonexistent/dir/m.bin'"), "%s", o);
	close(fd);
	unlink(path);
}

Test(monitor, screendump_and_info_vga)
{
	cr_assert_str_eq(run("screendump a.png"), "");
	cr_assert_str_eq(fk.sd_file, "a.png");
	cr_assert_not(fk.sd_text);
	run("screendump s.txt");
	cr_assert(fk.sd_text);
	run("screendump -t s.out");
	cr_assert(fk.sd_text);
	cr_assert_str_eq(fk.sd_file, "s.out");
	cr_assert_eq(fk.screendumps, 3);
	cr_assert_str_eq(run("screendump -t"), "SeaBIOS (version x)\nline 2\n");
	cr_assert_str_eq(run("screendump /bad"), "cannot open '/bad'\n");
	cr_assert(strstr(run("screendump"), "usage: screendump"));
	cr_assert(strstr(run("screendump a b c"), "usage: screendump"));
	int n = fk.screendumps;
	cr_assert_str_eq(run("screendump -f all.png"), "");
	cr_assert_eq(fk.screendumps, n + 1);
	cr_assert_str_eq(fk.sd_file, "full:all.png");
	cr_assert(strstr(run("screendump -f"), "usage: screendump"));
	cr_assert(strstr(run("screendump -f a b"), "usage: screendump"));
	cr_assert_eq(fk.screendumps, n + 1);
	cr_assert_str_eq(run("info vga"), "VGA: text 80x25\n");
	/* A machine without a VGA. */
	fops.screendump = NULL;
	fops.text_screen = NULL;
	fops.vga_info = NULL;
	cr_assert(strstr(run("screendump a.png"), "no VGA"));
	cr_assert(strstr(run("screendump -t"), "no VGA"));
	cr_assert(strstr(run("info vga"), "no VGA"));
}

Test(monitor, mouse_move_and_button)
{
	cr_assert_str_eq(run("mouse_move 10 -5"), "");
	cr_assert_eq(fk.mice, 1);
	cr_assert_eq(fk.m_dx, 10);
	cr_assert_eq(fk.m_dy, -5);
	cr_assert_eq(fk.m_dz, 0);
	cr_assert_eq(fk.m_buttons, -1); /* buttons as they were */
	cr_assert_str_eq(run("mouse_move 0 0 -2"), "");
	cr_assert_eq(fk.m_dz, -2);
	cr_assert_str_eq(run("mouse_button 5"), "");
	cr_assert_eq(fk.m_buttons, 5);
	cr_assert_eq(fk.m_dx, 0);
	cr_assert_eq(fk.mice, 3);
	/* Garbage: refused with a message, nothing sent. */
	cr_assert(strstr(run("mouse_move 1"), "usage: mouse_move"));
	cr_assert(strstr(run("mouse_move 1 2 3 4"), "usage: mouse_move"));
	cr_assert_str_eq(run("mouse_move 1x 2"), "invalid number: '1x'\n");
	cr_assert_str_eq(run("mouse_move 1 99999"),
			 "invalid number: '99999'\n");
	cr_assert(strstr(run("mouse_button 8"), "invalid button state"));
	cr_assert(strstr(run("mouse_button -1"), "invalid button state"));
	cr_assert(strstr(run("mouse_button"), "usage: mouse_button"));
	cr_assert_eq(fk.mice, 3);
	fops.mouse = NULL;
	cr_assert_str_eq(run("mouse_move 1 1"), "no mouse\n");
}
