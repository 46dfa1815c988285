/*
 * The human monitor, spelled as QEMU's HMP:
 *   -monitor stdio                      on the terminal; if COM1 is on
 *                                       stdio too, both share it and
 *                                       Ctrl-A c switches between them
 *   -monitor unix:PATH,server,nowait    a listening socket, one client at
 *                                       a time (others wait in the backlog)
 *   -monitor none                       no monitor
 * Commands: help, info status|block|registers, stop, cont, eject [-f] DEV,
 * change DEV FILE [raw], pmemsave ADDR SIZE FILE, system_reset, quit (q),
 * screendump FILE (PNG; FILE.txt or -t FILE: the text screen; -t alone:
 * the text screen as the answer; -f FILE: a PNG with every row redrawn,
 * dirty tracking aside), info vga, mouse_move DX DY [DZ] and
 * mouse_button STATE (the PS/2 mouse, as QEMU's: DY positive down, DZ
 * positive towards the user; STATE bit 0 left, 1 right, 2 middle).
 *
 * The monitor has a thread of its own that reads lines and runs commands,
 * taking the device lock only around device calls, so a command may wait
 * (for the vCPU to stop) while the device-model thread keeps serving the
 * vCPU. The command layer (mon_execute) knows nothing of the machine: it
 * calls a struct mon_ops, which tests replace with fakes.
 */
#ifndef MINIVMM_VMM_MONITOR_H
#define MINIVMM_VMM_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct machine;
struct monitor;
struct vm;

#define MON_LINE_MAX 1024 /* longer lines are refused whole */
#define MON_DRIVES   4	  /* IDE slots: channel * 2 + unit */

/* ---- the command layer ---------------------------------------------- */

struct mon_drive {
	char id[16];	  /* QEMU's name: ide0-hd0, ide1-cd0, ... */
	bool cdrom;	  /* removable */
	const char *file; /* NULL: no medium */
	bool readonly;
	int locked;    /* 1, 0, or -1: unknown */
	int tray_open; /* 1, 0, or -1: unknown */
};

/* What the commands act on. Errors: -1 and one line (no newline) in err. */
struct mon_ops {
	void *opaque;
	/* Slot i, 0 <= i < MON_DRIVES; false when nothing is attached. The
	 * file string stays valid until the next eject/change. */
	bool (*drive)(void *opaque, int i, struct mon_drive *d);
	int (*eject)(void *opaque, int i, bool force, char *err, size_t len);
	int (*change)(void *opaque, int i, const char *file, char *err,
		      size_t len);
	bool (*paused)(void *opaque);
	int (*stop)(void *opaque, char *err, size_t len);
	void (*cont)(void *opaque);
	/* vCPU registers as text lines in buf; -1 with a message in buf. */
	int (*registers)(void *opaque, char *buf, size_t len);
	void (*reset)(void *opaque);
	void (*quit)(void *opaque);
	/* Guest-physical [addr, addr+size) into file (created or truncated);
	 * size > 0 and the range does not wrap (the command checks). NULL:
	 * the command says it is not available. */
	int (*pmemsave)(void *opaque, uint64_t addr, uint64_t size,
			const char *file, char *err, size_t len);
	/* The display. NULL (or -1 with err) when there is no VGA.
	 * screendump: the frame as PNG into file, or with text the text
	 * screen's lines. text_screen: those lines into buf (-1 with a
	 * message in buf when not in a text mode). vga_info: one line. */
	int (*screendump)(void *opaque, const char *file, bool text, char *err,
			  size_t len);
	int (*text_screen)(void *opaque, char *buf, size_t len);
	int (*vga_info)(void *opaque, char *buf, size_t len);
	/* screendump -f: a PNG with the whole frame redrawn. May be NULL. */
	int (*screendump_full)(void *opaque, const char *file, char *err,
			       size_t len);
	/* The PS/2 mouse: motion and the buttons held (buttons < 0: as
	 * they were). NULL: no mouse. */
	int (*mouse)(void *opaque, int dx, int dy, int dz, int buttons,
		     char *err, size_t len);
};

struct mon_out {
	void (*write)(void *opaque, const char *s, size_t n);
	void *opaque;
};

/*
 * Runs one command line (NUL-terminated, without its newline; NULL for a
 * line that was too long) and writes the answer to out. Any bytes are
 * accepted; non-printable ones are escaped when echoed in messages.
 */
void mon_execute(const struct mon_ops *ops, const struct mon_out *out,
		 const char *line);

/* Bytes in, lines out: LF, CR or CR LF ends a line; NUL bytes end nothing
 * special. A line over MON_LINE_MAX - 1 bytes is dropped up to its end and
 * reported as NULL. With echo (a raw terminal) typed bytes are echoed and
 * backspace/DEL erase. */
struct mon_line {
	char buf[MON_LINE_MAX];
	size_t len;
	bool overflow; /* dropping the rest of an overlong line */
	bool last_cr;  /* swallow the LF of a CR LF */
	bool echo;
	uint8_t esc; /* echo mode: inside an escape sequence (1 ESC, 2 CSI) */
};

void mon_line_feed(struct mon_line *l, const uint8_t *p, size_t n,
		   const struct mon_out *echo_out,
		   void (*line)(void *opaque, const char *s), void *opaque);
void mon_line_reset(struct mon_line *l);

/* ---- the monitor ------------------------------------------------------ */

/*
 * Parses spec and starts the monitor on machine m (after machine_init).
 * "none" returns NULL with err empty; a bad spec or a socket that cannot
 * be made returns NULL with one line in err.
 */
struct monitor *monitor_new(struct machine *m, const char *spec, char *err,
			    size_t errlen);
/* The same on any ops (tests); mux mode is not available here. */
struct monitor *monitor_new_ops(const struct mon_ops *ops, const char *spec,
				char *err, size_t errlen);
/* Stops the thread, closes the socket (and unlinks it). Before
 * machine_fini(). NULL is fine. */
void monitor_free(struct monitor *mon);

/*
 * Shared console (the serial chardev on stdio, -monitor stdio): Ctrl-A c
 * calls monitor_toggle(); while monitor_active() the serial input goes to
 * monitor_input() instead of the UART. All three are called on the
 * device-model thread (the chardev's callbacks); monitor_input returns how
 * many bytes it took and calls chardev_rx_ready() when it has room again.
 */
void monitor_toggle(struct monitor *mon);
bool monitor_active(struct monitor *mon);
size_t monitor_input(struct monitor *mon, const uint8_t *buf, size_t n);

/* ---- vmm/vcpu.c: stop/cont ---------------------------------------------
 * Declared here to leave vm.h alone. vcpu_pause asks every vCPU to park
 * outside KVM_RUN and waits up to timeout_ms for it (0, or -1 if one did
 * not park in time; it will park later). Call without the dm lock. */
int vcpu_pause(struct vm *vm, int timeout_ms);
void vcpu_resume(struct vm *vm);
bool vcpu_paused(struct vm *vm);

#endif
