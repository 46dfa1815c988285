#include <criterion/criterion.h>

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "vmm/backend/chardev.h"

struct sink {
	char log[8192];
	size_t n;
	size_t budget; /* bytes the consumer will still take */
	int rx_calls, depth;
	struct chardev *c;
	bool ready_inside; /* call chardev_rx_ready from within rx */
};

static void sink_put(struct sink *s, const void *p, size_t n)
{
	cr_assert_lt(s->n + n, sizeof(s->log));
	memcpy(s->log + s->n, p, n);
	s->n += n;
}

static size_t sink_rx(void *opaque, const uint8_t *buf, size_t n)
{
	struct sink *s = opaque;
	cr_assert_eq(s->depth, 0, "rx re-entered");
	s->depth++;
	s->rx_calls++;
	cr_assert_gt(n, 0);
	size_t k = n < s->budget ? n : s->budget;
	sink_put(s, buf, k);
	s->budget -= k;
	if (s->ready_inside)
		chardev_rx_ready(s->c);
	s->depth--;
	return k;
}

static void sink_quit(void *opaque)
{
	sink_put(opaque, "[Q]", 3);
}

static void sink_monitor(void *opaque)
{
	sink_put(opaque, "[M]", 3);
}

static void sink_expect(struct sink *s, const char *want, size_t n)
{
	cr_assert_eq(s->n, n, "got %zu bytes, want %zu", s->n, n);
	cr_assert_eq(memcmp(s->log, want, n), 0, "got '%.*s'", (int)s->n,
		     s->log);
}

#define EXPECT(s, lit) sink_expect(s, lit, sizeof(lit) - 1)

/* Runs the loop until nothing is ready; returns event_base_loop's last. */
static int spin(struct event_base *b)
{
	int r = 0;
	for (int i = 0; i < 20; i++)
		r = event_base_loop(b, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	return r;
}

static void put(int fd, const char *s, size_t n)
{
	cr_assert_eq(write(fd, s, n), (ssize_t)n);
}

#define PUT(fd, lit) put(fd, lit, sizeof(lit) - 1)

struct rig {
	struct event_base *base;
	struct chardev *c;
	struct sink s;
	int p[2]; /* p[1] is the "keyboard" */
};

static struct rig *rig_new(unsigned flags)
{
	struct rig *r = calloc(1, sizeof(*r));
	char err[128];
	r->base = event_base_new();
	cr_assert_not_null(r->base);
	cr_assert_eq(pipe(r->p), 0);
	r->c = chardev_open_fd(r->p[0], -1, flags, r->base, err, sizeof(err));
	cr_assert_not_null(r->c, "%s", err);
	r->s.budget = SIZE_MAX;
	r->s.c = r->c;
	chardev_set_handlers(r->c, sink_rx, sink_quit, sink_monitor, &r->s);
	return r;
}

static void rig_free(struct rig *r)
{
	chardev_close(r->c);
	close(r->p[0]);
	if (r->p[1] >= 0)
		close(r->p[1]);
	event_base_free(r->base);
	free(r);
}

Test(chardev, spec_errors)
{
	struct event_base *base = event_base_new();
	char err[256];
	const char *bad[] = {
	    "", "bogus", "file:", "vc", "stdio2", "file:,append=on"};
	cr_assert_null(chardev_open(NULL, base, err, sizeof(err)));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		cr_assert_null(chardev_open(bad[i], base, err, sizeof(err)),
			       "'%s' accepted", bad[i]);
		cr_assert_neq(err[0], '\0', "no message for '%s'", bad[i]);
	}
	cr_assert_null(
	    chardev_open("file:/nonexistent-dir/x", base, err, sizeof(err)));
	cr_assert_not_null(strstr(err, "/nonexistent-dir/x"), "%s", err);
	cr_assert_not_null(strstr(err, strerror(ENOENT)), "%s", err);
	event_base_free(base);
}

Test(chardev, null_and_none)
{
	struct event_base *base = event_base_new();
	char err[128];
	const char *specs[] = {"null", "none"};
	for (int i = 0; i < 2; i++) {
		struct chardev *c =
		    chardev_open(specs[i], base, err, sizeof(err));
		cr_assert_not_null(c, "%s", err);
		cr_assert_str_eq(chardev_kind(c), specs[i]);
		struct sink s = {.budget = SIZE_MAX};
		chardev_set_handlers(c, sink_rx, sink_quit, NULL, &s);
		chardev_write(c, "discarded", 9);
		chardev_rx_ready(c);
		cr_assert_eq(spin(base), 1, "no events: nothing to read");
		cr_assert_eq(s.rx_calls, 0);
		chardev_close(c);
	}
	event_base_free(base);
}

static char *read_file(const char *path, size_t *n)
{
	static char buf[256];
	int fd = open(path, O_RDONLY);
	cr_assert_geq(fd, 0);
	ssize_t k = read(fd, buf, sizeof(buf) - 1);
	cr_assert_geq(k, 0);
	close(fd);
	buf[k] = '\0';
	*n = (size_t)k;
	return buf;
}

Test(chardev, file_backend_writes_bytes)
{
	char dir[] = "/tmp/chardev-test-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	char path[128], spec[160], err[128];
	snprintf(path, sizeof(path), "%s/out", dir);
	int fd = open(path, O_WRONLY | O_CREAT, 0644);
	PUT(fd, "old contents, longer");
	close(fd);

	snprintf(spec, sizeof(spec), "file:%s", path);
	struct chardev *c = chardev_open(spec, NULL, err, sizeof(err));
	cr_assert_not_null(c, "%s", err);
	cr_assert_str_eq(chardev_kind(c), "file");
	chardev_write(c, "hello\0\x01\xff", 8);
	chardev_close(c);
	size_t n;
	char *got = read_file(path, &n);
	cr_assert_eq(n, 8, "truncated, then written");
	cr_assert_eq(memcmp(got, "hello\0\x01\xff", 8), 0);

	snprintf(spec, sizeof(spec), "file:%s,append=on", path);
	c = chardev_open(spec, NULL, err, sizeof(err));
	cr_assert_not_null(c, "%s", err);
	chardev_write(c, "!!", 2);
	chardev_close(c);
	got = read_file(path, &n);
	cr_assert_eq(n, 10);
	cr_assert_eq(memcmp(got + 8, "!!", 2), 0);
	unlink(path);
	rmdir(dir);
}

Test(chardev, stdio_without_tty_is_transparent)
{
	int in[2], out[2];
	cr_assert_eq(pipe(in), 0);
	cr_assert_eq(pipe(out), 0);
	cr_assert_geq(dup2(in[0], STDIN_FILENO), 0);
	cr_assert_geq(dup2(out[1], STDOUT_FILENO), 0);
	struct event_base *base = event_base_new();
	char err[128];
	struct chardev *c = chardev_open("stdio", base, err, sizeof(err));
	cr_assert_not_null(c, "%s", err);
	cr_assert_str_eq(chardev_kind(c), "stdio");
	cr_assert_null(chardev_open("stdio", base, err, sizeof(err)));
	cr_assert_not_null(strstr(err, "in use"), "%s", err);

	struct sink s = {.budget = SIZE_MAX, .c = c};
	chardev_set_handlers(c, sink_rx, sink_quit, sink_monitor, &s);
	PUT(in[1], "a\x01xb\x01");
	spin(base);
	EXPECT(&s, "a\x01xb\x01"); /* no escape processing, no quit */

	chardev_write(c, "out", 3);
	char buf[8] = {0};
	cr_assert_eq(read(out[0], buf, sizeof(buf)), 3);
	cr_assert_str_eq(buf, "out");

	close(in[1]);
	cr_assert_eq(spin(base), 1, "EOF: reading stopped, nothing pending");
	EXPECT(&s, "a\x01xb\x01");
	chardev_close(c);
	/* Once closed, stdio may be opened again. */
	c = chardev_open("stdio", base, err, sizeof(err));
	cr_assert_not_null(c, "%s", err);
	chardev_close(c);
	event_base_free(base);
}

Test(chardev, escapes_decoded)
{
	int errp[2];
	cr_assert_eq(pipe(errp), 0);
	cr_assert_geq(dup2(errp[1], STDERR_FILENO), 0);
	struct rig *r = rig_new(CHARDEV_ESCAPES);
	PUT(r->p[1], "ab\x01\x01"
		     "c\x01hd\x01"
		     "c\x01xe\x01zf");
	spin(r->base);
	EXPECT(&r->s, "ab\x01"
		      "cd[M][Q]ef");
	char help[512] = {0};
	cr_assert_gt(read(errp[0], help, sizeof(help) - 1), 0);
	cr_assert_not_null(strstr(help, "C-a x"), "%s", help);
	rig_free(r);
}

Test(chardev, escape_split_across_reads)
{
	struct rig *r = rig_new(CHARDEV_ESCAPES);
	PUT(r->p[1], "g\x01");
	spin(r->base);
	EXPECT(&r->s, "g");
	PUT(r->p[1], "\x01");
	spin(r->base);
	EXPECT(&r->s, "g\x01");
	PUT(r->p[1], "\x01");
	spin(r->base);
	PUT(r->p[1], "x");
	spin(r->base);
	EXPECT(&r->s, "g\x01[Q]");
	rig_free(r);
}

Test(chardev, no_escapes_mode_passes_ctrl_a)
{
	struct rig *r = rig_new(0);
	PUT(r->p[1], "\x01x\x01\x01");
	spin(r->base);
	EXPECT(&r->s, "\x01x\x01\x01");
	rig_free(r);
}

Test(chardev, flow_control_keeps_unaccepted_bytes)
{
	struct rig *r = rig_new(CHARDEV_ESCAPES);
	r->s.budget = 3;
	PUT(r->p[1], "hello world");
	spin(r->base);
	EXPECT(&r->s, "hel");
	int calls = r->s.rx_calls;
	/* Paused: no event pending, so the loop has nothing to do. */
	cr_assert_eq(spin(r->base), 1);
	PUT(r->p[1], "!");
	cr_assert_eq(spin(r->base), 1);
	cr_assert_eq(r->s.rx_calls, calls, "no busy retries");
	/* Still refusing: kept bytes stay. */
	r->s.budget = 0;
	chardev_rx_ready(r->c);
	spin(r->base);
	EXPECT(&r->s, "hel");
	r->s.budget = 4;
	chardev_rx_ready(r->c);
	spin(r->base);
	EXPECT(&r->s, "hello w");
	r->s.budget = SIZE_MAX;
	chardev_rx_ready(r->c);
	spin(r->base);
	EXPECT(&r->s, "hello world!");
	rig_free(r);
}

Test(chardev, flow_control_keeps_command_order)
{
	struct rig *r = rig_new(CHARDEV_ESCAPES);
	r->s.budget = 1;
	PUT(r->p[1], "ab\x01"
		     "cd");
	spin(r->base);
	EXPECT(&r->s, "a");
	r->s.budget = 1;
	chardev_rx_ready(r->c);
	spin(r->base);
	EXPECT(&r->s, "ab[M]");
	r->s.budget = 1;
	chardev_rx_ready(r->c);
	spin(r->base);
	EXPECT(&r->s, "ab[M]d");
	rig_free(r);
}

Test(chardev, rx_ready_is_never_synchronous)
{
	struct rig *r = rig_new(0);
	r->s.ready_inside = true;
	r->s.budget = 2;
	PUT(r->p[1], "abcdef");
	spin(r->base); /* sink_rx asserts it is not re-entered */
	EXPECT(&r->s, "ab");
	r->s.budget = SIZE_MAX;
	chardev_rx_ready(r->c);
	spin(r->base);
	EXPECT(&r->s, "abcdef");
	rig_free(r);
}

Test(chardev, regular_file_and_dev_null_input)
{
	char path[] = "/tmp/chardev-in-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	PUT(fd, "from a file");
	lseek(fd, 0, SEEK_SET);
	struct event_base *base = event_base_new();
	char err[128];
	struct chardev *c = chardev_open_fd(fd, -1, 0, base, err, sizeof(err));
	cr_assert_not_null(c, "%s", err);
	struct sink s = {.budget = 4, .c = c};
	chardev_set_handlers(c, sink_rx, NULL, NULL, &s);
	spin(base);
	EXPECT(&s, "from");
	s.budget = SIZE_MAX;
	chardev_rx_ready(c);
	cr_assert_eq(spin(base), 1, "EOF reached, loop idle");
	EXPECT(&s, "from a file");
	chardev_close(c);
	close(fd);
	unlink(path);

	fd = open("/dev/null", O_RDONLY);
	c = chardev_open_fd(fd, -1, 0, base, err, sizeof(err));
	cr_assert_not_null(c, "%s", err);
	struct sink z = {.budget = SIZE_MAX, .c = c};
	chardev_set_handlers(c, sink_rx, NULL, NULL, &z);
	cr_assert_eq(spin(base), 1);
	cr_assert_eq(z.rx_calls, 0);
	chardev_close(c);
	close(fd);
	event_base_free(base);
}

struct drain {
	int fd;
	size_t total;
	bool pattern_ok;
};

static void *drain_thread(void *arg)
{
	struct drain *d = arg;
	uint8_t buf[4096];
	ssize_t n;
	d->pattern_ok = true;
	while ((n = read(d->fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != (uint8_t)((d->total + i) * 7))
				d->pattern_ok = false;
		d->total += (size_t)n;
		usleep(200); /* a slow terminal */
	}
	return NULL;
}

Test(chardev, write_all_through_full_nonblocking_pipe)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	fcntl(p[1], F_SETFL, fcntl(p[1], F_GETFL) | O_NONBLOCK);
	char err[128];
	struct chardev *c =
	    chardev_open_fd(-1, p[1], 0, NULL, err, sizeof(err));
	cr_assert_not_null(c, "%s", err);
	struct drain d = {.fd = p[0]};
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, drain_thread, &d), 0);
	size_t len = 1 << 20;
	uint8_t *buf = malloc(len);
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 7);
	chardev_write(c, buf, len);
	chardev_close(c);
	close(p[1]);
	pthread_join(t, NULL);
	cr_assert_eq(d.total, len, "every byte written");
	cr_assert(d.pattern_ok);
	free(buf);
	close(p[0]);
}

static unsigned alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

/* A blocking pipe and a timer signal without SA_RESTART: write() returns
 * short counts and EINTR; every byte still goes, in order. */
Test(chardev, write_fd_retries_short_writes_and_eintr)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	fcntl(p[1], F_SETPIPE_SZ, 4096);
	struct sigaction sa = {.sa_handler = on_alarm}; /* no SA_RESTART */
	sigaction(SIGALRM, &sa, NULL);
	sigset_t alrm, old;
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	/* The reader inherits SIGALRM blocked: the writer gets them all. */
	pthread_sigmask(SIG_BLOCK, &alrm, &old);
	struct drain d = {.fd = p[0]};
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, drain_thread, &d), 0);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	struct itimerval it = {{0, 300}, {0, 300}};
	setitimer(ITIMER_REAL, &it, NULL);
	size_t len = 1 << 20;
	uint8_t *buf = malloc(len);
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 7);
	cr_assert_eq(chardev_write_fd(p[1], buf, len, 1000), 0, "%s",
		     strerror(errno));
	struct itimerval off = {0};
	setitimer(ITIMER_REAL, &off, NULL);
	close(p[1]);
	pthread_join(t, NULL);
	cr_assert_gt(alarms, 0);
	cr_assert_eq(d.total, len, "every byte written");
	cr_assert(d.pattern_ok);
	free(buf);
	close(p[0]);
}

/* Nobody reads a full non-blocking pipe: the wait ends after the stall
 * bound with ETIMEDOUT, and what went is the start of the buffer. */
Test(chardev, write_fd_stall_is_bounded)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	fcntl(p[1], F_SETPIPE_SZ, 4096);
	fcntl(p[1], F_SETFL, fcntl(p[1], F_GETFL) | O_NONBLOCK);
	fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
	static uint8_t buf[64 << 10];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(chardev_write_fd(p[1], buf, sizeof(buf), 100), -1);
	cr_assert_eq(errno, ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 +
		  (t1.tv_nsec - t0.tv_nsec) / 1000000;
	cr_assert_geq(ms, 90, "waited %ld ms", ms);
	cr_assert_lt(ms, 5000, "waited %ld ms", ms);
	uint8_t got[sizeof(buf)];
	ssize_t n = read(p[0], got, sizeof(got));
	cr_assert_gt(n, 0);
	cr_assert_lt(n, (ssize_t)sizeof(buf));
	cr_assert_eq(memcmp(got, buf, (size_t)n), 0);
	close(p[0]);
	close(p[1]);
}

Test(chardev, write_fd_reports_a_closed_reader)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	close(p[0]);
	signal(SIGPIPE, SIG_IGN);
	cr_assert_eq(chardev_write_fd(p[1], "x", 1, 100), -1);
	cr_assert_eq(errno, EPIPE);
	close(p[1]);
}

/* A pty pair: the slave stands in for the user's terminal. */
static int open_pty(int *master)
{
	*master = posix_openpt(O_RDWR | O_NOCTTY);
	cr_assert_geq(*master, 0);
	cr_assert_eq(grantpt(*master), 0);
	cr_assert_eq(unlockpt(*master), 0);
	int slave = open(ptsname(*master), O_RDWR | O_NOCTTY);
	cr_assert_geq(slave, 0);
	return slave;
}

static tcflag_t lflag(int fd)
{
	struct termios t;
	cr_assert_eq(tcgetattr(fd, &t), 0);
	return t.c_lflag;
}

Test(chardev, raw_mode_on_tty_and_restored_on_close)
{
	int master, slave = open_pty(&master);
	cr_assert(lflag(slave) & ICANON);
	struct event_base *base = event_base_new();
	char err[128];
	struct chardev *c =
	    chardev_open_fd(slave, slave, CHARDEV_RAW | CHARDEV_ESCAPES, base,
			    err, sizeof(err));
	cr_assert_not_null(c, "%s", err);
	struct termios t;
	tcgetattr(slave, &t);
	cr_assert_eq(t.c_lflag & (ICANON | ECHO | ISIG), 0);
	cr_assert_eq(t.c_iflag & (ICRNL | IXON), 0);
	cr_assert(t.c_oflag & OPOST, "output processing kept");
	cr_assert_eq(t.c_cc[VMIN], 1);
	/* Only one terminal in raw mode at a time. */
	cr_assert_null(
	    chardev_open_fd(slave, -1, CHARDEV_RAW, base, err, sizeof(err)));

	/* Keys arrive one by one, Ctrl-C included, escapes decoded. */
	struct sink s = {.budget = SIZE_MAX, .c = c};
	chardev_set_handlers(c, sink_rx, sink_quit, sink_monitor, &s);
	PUT(master, "k\x03\x01x");
	for (int i = 0; i < 50 && s.n < 5; i++) {
		spin(base);
		usleep(1000);
	}
	EXPECT(&s, "k\x03[Q]");

	chardev_close(c);
	cr_assert(lflag(slave) & ICANON, "terminal restored");
	cr_assert(lflag(slave) & ECHO);
	event_base_free(base);
	close(slave);
	close(master);
}

static void raw_then(int slave, int how)
{
	char err[128];
	struct event_base *base = event_base_new();
	struct chardev *c =
	    chardev_open_fd(slave, -1, CHARDEV_RAW, base, err, sizeof(err));
	if (!c || (lflag(slave) & ICANON))
		_exit(3);
	if (how == 0)
		raise(SIGTERM);
	if (how == 1)
		exit(0); /* atexit handler restores */
	raise(SIGSEGV);	 /* as a crash would */
	_exit(4);
}

Test(chardev, raw_mode_restored_on_signal_and_exit)
{
	for (int how = 0; how < 3; how++) {
		int master, slave = open_pty(&master);
		pid_t pid = fork();
		cr_assert_geq(pid, 0);
		if (pid == 0) {
			signal(SIGTERM, SIG_DFL);
			signal(SIGSEGV, SIG_DFL);
			raw_then(slave, how);
		}
		int st;
		cr_assert_eq(waitpid(pid, &st, 0), pid);
		if (how == 0)
			cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM,
				  "status %x", st);
		else if (how == 1)
			cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
				  "status %x", st);
		else
			cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV,
				  "status %x", st);
		cr_assert(lflag(slave) & ICANON, "case %d: restored", how);
		close(slave);
		close(master);
	}
}
