/*
 * Character-device backends for -serial, -debugcon and -monitor, spelled as
 * QEMU spells them:
 *   stdio           stdin/stdout; on a terminal, raw mode and Ctrl-A escapes
 *                   (C-a x quit, C-a c monitor, C-a h help, C-a C-a a C-a)
 *   file:PATH       output to PATH, truncated (",append=on" to append)
 *   null            output discarded, no input
 *   none            no device wanted; behaves like null
 *
 * Input is read on a libevent loop and pushed to one consumer (rx). What the
 * consumer does not take is kept, and reading pauses until
 * chardev_rx_ready(): input is never dropped and never polled. A chardev knows
 * nothing about the device it feeds.
 */
#ifndef MINIVMM_VMM_BACKEND_CHARDEV_H
#define MINIVMM_VMM_BACKEND_CHARDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct chardev;

/* Returns how many of the n bytes the consumer took (0..n). */
typedef size_t (*chardev_rx_fn)(void *opaque, const uint8_t *buf, size_t n);

/*
 * Opens a backend. On a bad spec or an unopenable file returns NULL with a
 * one-line message in err. "stdio" can be open once at a time.
 */
struct chardev *chardev_open(const char *spec, struct event_base *base,
			     char *err, size_t errlen);

/* Flags for chardev_open_fd. */
#define CHARDEV_ESCAPES 0x1 /* decode Ctrl-A commands on input */
#define CHARDEV_RAW	0x2 /* if in is a terminal: raw mode until close */

/*
 * A chardev on given descriptors (-1: none), which stay the caller's.
 * chardev_open("stdio") is this on 0 and 1, with both flags when stdin is a
 * terminal. Exposed for tests (pipes, ptys) and for sockets.
 */
struct chardev *chardev_open_fd(int in, int out, unsigned flags,
				struct event_base *base, char *err,
				size_t errlen);

/*
 * Installs the input consumer and the escape callbacks (either may be NULL)
 * and starts reading. All run on the event_base's thread. They must not
 * close the chardev.
 */
void chardev_set_handlers(struct chardev *c, chardev_rx_fn rx,
			  void (*quit)(void *), void (*monitor)(void *),
			  void *opaque);

/* Writes all n bytes (waits if the descriptor is non-blocking and full). */
void chardev_write(struct chardev *c, const void *buf, size_t n);

/*
 * The same on any descriptor: short writes and EINTR are retried, EAGAIN
 * waits in poll() for room, at most stall_ms (-1: for ever) each time
 * nothing could be written. 0 when all n bytes went, else -1 with errno
 * (ETIMEDOUT: stalled); a first part of them may have gone.
 */
int chardev_write_fd(int fd, const void *buf, size_t n, int stall_ms);

/*
 * The consumer has room again. Never calls rx synchronously: delivery is
 * scheduled on the event_base, so this may be called with the consumer's
 * lock held (and from another thread if libevent threading is enabled).
 */
void chardev_rx_ready(struct chardev *c);

/* Stops reading, restores the terminal, closes what the chardev opened. */
void chardev_close(struct chardev *c);

/* "stdio", "file", "null", "none" or "fd". */
const char *chardev_kind(const struct chardev *c);

#endif
