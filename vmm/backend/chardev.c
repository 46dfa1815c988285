/*
 * Character-device backends (see chardev.h). The one piece of global state
 * is the saved terminal mode: it must be reachable from atexit() and from
 * signal handlers so that the user's terminal is restored however the VMM
 * ends. Only one chardev at a time may hold a terminal in raw mode.
 */
#include "vmm/backend/chardev.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define CTRL_A	0x01
#define RAW_BUF 256

enum chardev_kind { CD_STDIO, CD_FILE, CD_NULL, CD_NONE, CD_FD };

struct chardev {
	enum chardev_kind kind;
	int in, out;
	bool own_out; /* out was opened here (file:) */
	bool escapes, raw_tty;
	bool pollable; /* in works with epoll (not a regular file) */
	bool eof, out_broken;
	struct event *ev_read; /* EV_READ on in, added while reading */
	struct event *ev_kick; /* activated to deliver kept input */

	chardev_rx_fn rx;
	void (*quit)(void *);
	void (*monitor)(void *);
	void *opaque;

	/* Input read but not yet consumed: raw[pos..len). */
	uint8_t raw[RAW_BUF];
	size_t pos, len;
	bool esc; /* a Ctrl-A was consumed, its command byte not yet */
};

/* ---- terminal raw mode, restored on close, exit and fatal signals ---- */

static const int restore_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGSEGV,
				      SIGBUS, SIGFPE,  SIGILL, SIGABRT};
#define NR_RESTORE_SIGNALS                                                     \
	(sizeof(restore_signals) / sizeof(restore_signals[0]))

static struct {
	volatile sig_atomic_t fd; /* terminal in raw mode, or -1 */
	struct termios saved;
	bool atexit_done;
	bool sig_installed[NR_RESTORE_SIGNALS];
	struct sigaction old_sa[NR_RESTORE_SIGNALS];
	bool stdio_open;
} term = {.fd = -1};

/* Async-signal-safe. */
static void term_restore(void)
{
	int fd = term.fd;
	if (fd >= 0) {
		tcsetattr(fd, TCSANOW, &term.saved);
		term.fd = -1;
	}
}

/* Restore the terminal, then let the signal do what it did before. */
static void term_signal(int sig)
{
	term_restore();
	for (size_t i = 0; i < NR_RESTORE_SIGNALS; i++)
		if (restore_signals[i] == sig && term.sig_installed[i]) {
			sigaction(sig, &term.old_sa[i], NULL);
			term.sig_installed[i] = false;
		}
	raise(sig); /* delivered when this handler returns */
}

static void term_hooks_install(void)
{
	if (!term.atexit_done && atexit(term_restore) == 0)
		term.atexit_done = true;
	struct sigaction sa = {.sa_handler = term_signal};
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < NR_RESTORE_SIGNALS; i++) {
		struct sigaction old;
		if (term.sig_installed[i] ||
		    sigaction(restore_signals[i], NULL, &old) != 0)
			continue;
		if (old.sa_handler == SIG_IGN)
			continue; /* e.g. nohup: keep ignoring */
		if (sigaction(restore_signals[i], &sa, &term.old_sa[i]) == 0)
			term.sig_installed[i] = true;
	}
}

static void term_hooks_remove(void)
{
	for (size_t i = 0; i < NR_RESTORE_SIGNALS; i++)
		if (term.sig_installed[i]) {
			sigaction(restore_signals[i], &term.old_sa[i], NULL);
			term.sig_installed[i] = false;
		}
}

/* Raw input like QEMU's stdio: no echo, no line editing, no signals from
 * keys (Ctrl-C goes to the guest); output processing stays on. */
static int term_make_raw(int fd, char *err, size_t errlen)
{
	if (term.fd >= 0) {
		snprintf(err, errlen, "a terminal is already in raw mode");
		return -1;
	}
	struct termios t;
	if (tcgetattr(fd, &t) != 0) {
		snprintf(err, errlen, "tcgetattr: %s", strerror(errno));
		return -1;
	}
	term.saved = t;
	t.c_iflag &=
	    ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
	t.c_oflag |= OPOST;
	t.c_lflag &= ~(ECHO | ECHONL | ICANON | IEXTEN | ISIG);
	t.c_cflag &= ~(CSIZE | PARENB);
	t.c_cflag |= CS8;
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	term_hooks_install();
	term.fd = fd;
	if (tcsetattr(fd, TCSANOW, &t) != 0) {
		snprintf(err, errlen, "tcsetattr: %s", strerror(errno));
		term.fd = -1;
		term_hooks_remove();
		return -1;
	}
	return 0;
}

/* ---- output ---- */

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd takes output or stall_ms (-1: for ever) pass. 0 or -1. */
static int wait_writable(int fd, int stall_ms)
{
	int64_t until = mono_ms() + stall_ms;
	int left = stall_ms;
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		int r = poll(&pfd, 1, left);
		if (r > 0)
			return 0; /* room, or an error the write will tell */
		if (r == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (errno != EINTR)
			return -1;
		if (stall_ms >= 0) {
			int64_t d = until - mono_ms();
			left = d > 0 ? (int)d : 0;
		}
	}
}

int chardev_write_fd(int fd, const void *buf, size_t n, int stall_ms)
{
	const uint8_t *p = buf;
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
		} else if (w < 0 && errno == EINTR) {
			continue;
		} else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_writable(fd, stall_ms)) /* don't spin */
				return -1;
		} else {
			if (w == 0)
				errno = EIO;
			return -1; /* EPIPE, EIO... */
		}
	}
	return 0;
}

static void write_all(int fd, const uint8_t *p, size_t n, bool *broken)
{
	/* A full terminal waits: the chardev's output is never dropped. */
	if (!*broken && chardev_write_fd(fd, p, n, -1))
		*broken = true; /* EPIPE, EIO...: stop writing */
}

void chardev_write(struct chardev *c, const void *buf, size_t n)
{
	if (c && c->out >= 0)
		write_all(c->out, buf, n, &c->out_broken);
}

static void print_help(void)
{
	static const char help[] =
	    "\r\nC-a h    print this help\r\n"
	    "C-a x    exit emulator\r\n"
	    "C-a c    switch between console and monitor\r\n"
	    "C-a C-a  sends C-a\r\n";
	bool broken = false;
	write_all(STDERR_FILENO, (const uint8_t *)help, sizeof(help) - 1,
		  &broken);
}

/* ---- input ---- */

static void run_command(struct chardev *c, uint8_t cmd)
{
	switch (cmd) {
	case 'x':
		if (c->quit)
			c->quit(c->opaque);
		break;
	case 'c':
		if (c->monitor)
			c->monitor(c->opaque);
		break;
	case 'h':
	case '?':
		print_help();
		break;
	default:
		break; /* unknown commands are swallowed, as in QEMU */
	}
}

/*
 * Hands raw[pos..len) to the consumer in runs of data bytes, decoding
 * escapes. A command runs only after every byte before it was taken, so
 * ordering is kept. Returns false when the consumer stopped taking bytes.
 */
static bool pump(struct chardev *c)
{
	while (c->pos < c->len) {
		uint8_t data[RAW_BUF];
		size_t end[RAW_BUF]; /* raw position after each data byte */
		size_t nd = 0, i = c->pos;
		bool esc = c->esc;
		int cmd = -1;
		for (; i < c->len; i++) {
			uint8_t b = c->raw[i];
			if (c->escapes && esc) {
				esc = false;
				if (b != CTRL_A) {
					cmd = b;
					break;
				}
			} else if (c->escapes && b == CTRL_A) {
				esc = true;
				continue;
			}
			data[nd] = b;
			end[nd++] = i + 1;
		}
		size_t took = nd && c->rx ? c->rx(c->opaque, data, nd) : 0;
		if (took > nd)
			took = nd;
		if (took < nd) {
			if (took) {
				c->pos = end[took - 1];
				c->esc = false;
			}
			return false;
		}
		if (cmd >= 0) {
			c->pos = i + 1;
			c->esc = false;
			run_command(c, (uint8_t)cmd);
		} else {
			c->pos = c->len;
			c->esc = esc;
		}
	}
	return true;
}

/*
 * Schedules on_kick for the next loop turn. A zero timeout rather than
 * event_active(): an event activated from its own callback would run again
 * in the same pass, starving everything else.
 */
static void kick(struct chardev *c)
{
	static const struct timeval now = {0, 0};
	if (c->ev_kick)
		evtimer_add(c->ev_kick, &now);
}

static void input_start(struct chardev *c)
{
	if (c->in < 0 || c->eof || !c->rx)
		return;
	if (c->pollable)
		event_add(c->ev_read, NULL);
	else
		kick(c);
}

/* One read; false at EOF or on a hard error. */
static bool fill(struct chardev *c)
{
	ssize_t n = read(c->in, c->raw, sizeof(c->raw));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return true;
	if (n <= 0) {
		c->eof = true; /* EOF just stops reading */
		event_del(c->ev_read);
		return false;
	}
	c->pos = 0;
	c->len = (size_t)n;
	return true;
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct chardev *c = arg;
	(void)fd;
	(void)what;
	if (!c->rx || c->pos < c->len) {
		event_del(c->ev_read); /* nobody to take it: stop reading */
		return;
	}
	if (fill(c) && !pump(c))
		event_del(c->ev_read);
}

/* Delivers kept input; for non-pollable inputs (files) also reads. */
static void on_kick(evutil_socket_t fd, short what, void *arg)
{
	struct chardev *c = arg;
	(void)fd;
	(void)what;
	if (!c->rx || !pump(c))
		return;
	if (c->pollable) {
		input_start(c);
		return;
	}
	/* A regular file is always readable: read one chunk per loop turn. */
	if (c->in >= 0 && !c->eof && fill(c) && pump(c) && !c->eof)
		kick(c);
}

void chardev_rx_ready(struct chardev *c)
{
	if (c)
		kick(c);
}

void chardev_set_handlers(struct chardev *c, chardev_rx_fn rx,
			  void (*quit)(void *), void (*monitor)(void *),
			  void *opaque)
{
	c->rx = rx;
	c->quit = quit;
	c->monitor = monitor;
	c->opaque = opaque;
	if (c->ev_read)
		event_del(c->ev_read);
	if (c->pos < c->len)
		chardev_rx_ready(c);
	else
		input_start(c);
}

/* epoll refuses regular files (and /dev/null): those are read on kicks. */
static bool fd_pollable(int fd)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		return true;
	struct epoll_event ev = {.events = EPOLLIN};
	bool ok = epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0 || errno != EPERM;
	close(ep);
	return ok;
}

static struct chardev *chardev_alloc(enum chardev_kind kind, int in, int out)
{
	struct chardev *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->kind = kind;
	c->in = in;
	c->out = out;
	return c;
}

static int setup_input(struct chardev *c, struct event_base *base, char *err,
		       size_t errlen)
{
	c->pollable = fd_pollable(c->in);
	c->ev_read = event_new(base, c->in, EV_READ | EV_PERSIST, on_read, c);
	c->ev_kick = event_new(base, -1, 0, on_kick, c);
	if (!c->ev_read || !c->ev_kick) {
		snprintf(err, errlen, "cannot create input events");
		return -1;
	}
	return 0;
}

struct chardev *chardev_open_fd(int in, int out, unsigned flags,
				struct event_base *base, char *err,
				size_t errlen)
{
	struct chardev *c = chardev_alloc(CD_FD, in, out);
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->escapes = flags & CHARDEV_ESCAPES;
	if (in >= 0 && setup_input(c, base, err, errlen) != 0) {
		chardev_close(c);
		return NULL;
	}
	if (in >= 0 && (flags & CHARDEV_RAW) && isatty(in)) {
		if (term_make_raw(in, err, errlen) != 0) {
			chardev_close(c);
			return NULL;
		}
		c->raw_tty = true;
	}
	return c;
}

static struct chardev *open_stdio(struct event_base *base, char *err,
				  size_t errlen)
{
	if (term.stdio_open) {
		snprintf(err, errlen, "stdio is already in use");
		return NULL;
	}
	/* A closed stdin means no input at all. */
	int in = fcntl(STDIN_FILENO, F_GETFD) >= 0 ? STDIN_FILENO : -1;
	unsigned flags =
	    in >= 0 && isatty(in) ? CHARDEV_ESCAPES | CHARDEV_RAW : 0;
	struct chardev *c =
	    chardev_open_fd(in, STDOUT_FILENO, flags, base, err, errlen);
	if (c) {
		c->kind = CD_STDIO;
		term.stdio_open = true;
	}
	return c;
}

static struct chardev *open_file(const char *path, char *err, size_t errlen)
{
	static const char append_opt[] = ",append=on";
	size_t len = strlen(path), alen = sizeof(append_opt) - 1;
	int mode = O_TRUNC;
	char *p = strdup(path);
	if (!p) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (len >= alen && strcmp(p + len - alen, append_opt) == 0) {
		p[len - alen] = '\0';
		mode = O_APPEND;
	}
	if (!*p) {
		snprintf(err, errlen, "file: needs a path (file:PATH)");
		free(p);
		return NULL;
	}
	int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC | mode, 0644);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", p, strerror(errno));
		free(p);
		return NULL;
	}
	free(p);
	struct chardev *c = chardev_alloc(CD_FILE, -1, fd);
	if (!c) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->own_out = true;
	return c;
}

struct chardev *chardev_open(const char *spec, struct event_base *base,
			     char *err, size_t errlen)
{
	struct chardev *c = NULL;
	if (!spec || !*spec) {
		snprintf(err, errlen, "empty character device spec");
		return NULL;
	}
	if (strcmp(spec, "stdio") == 0)
		return open_stdio(base, err, errlen);
	if (strncmp(spec, "file:", 5) == 0)
		return open_file(spec + 5, err, errlen);
	if (strcmp(spec, "null") == 0)
		c = chardev_alloc(CD_NULL, -1, -1);
	else if (strcmp(spec, "none") == 0)
		c = chardev_alloc(CD_NONE, -1, -1);
	else {
		snprintf(err, errlen,
			 "unknown character device '%s' "
			 "(use stdio, file:PATH, null or none)",
			 spec);
		return NULL;
	}
	if (!c)
		snprintf(err, errlen, "out of memory");
	return c;
}

void chardev_close(struct chardev *c)
{
	if (!c)
		return;
	if (c->ev_read)
		event_free(c->ev_read);
	if (c->ev_kick)
		event_free(c->ev_kick);
	if (c->raw_tty) {
		term_restore();
		term_hooks_remove();
	}
	if (c->kind == CD_STDIO)
		term.stdio_open = false;
	if (c->own_out)
		close(c->out);
	free(c);
}

const char *chardev_kind(const struct chardev *c)
{
	static const char *const names[] = {"stdio", "file", "null", "none",
					    "fd"};
	return names[c->kind];
}
