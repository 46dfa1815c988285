/*
 * PS/2 mouse (IBM PS/2 "auxiliary device", with the IntelliMouse wheel
 * extension) as it sits behind the i8042's aux port. See hw/ps2mouse.c.
 */
#ifndef MINIVMM_HW_PS2MOUSE_H
#define MINIVMM_HW_PS2MOUSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PS2MOUSE_LEFT	0x01
#define PS2MOUSE_RIGHT	0x02
#define PS2MOUSE_MIDDLE 0x04

struct ps2mouse;

/* Power-on state (reset done, stream mode, reporting disabled). */
struct ps2mouse *ps2mouse_new(void);
void ps2mouse_free(struct ps2mouse *m);
void ps2mouse_reset(struct ps2mouse *m);

/* A byte the controller sends to the mouse (0xD4 then the byte). */
void ps2mouse_write(struct ps2mouse *m, uint8_t b);
/* Whether the mouse has a byte to send; ps2mouse_read takes it (0 when
 * there is none). */
bool ps2mouse_pending(const struct ps2mouse *m);
uint8_t ps2mouse_read(struct ps2mouse *m);
/* Bytes queued for the controller. */
size_t ps2mouse_queued(const struct ps2mouse *m);

/*
 * Host input: relative motion in screen directions (dx right, dy down),
 * dz wheel clicks (positive: towards the user, as Linux reads the wheel
 * byte), and the buttons now held (PS2MOUSE_*). Motion adds up until the
 * guest has room for it in packets; nothing is sent while reporting is
 * disabled (then the motion is dropped, as the mouse does).
 */
void ps2mouse_event(struct ps2mouse *m, int dx, int dy, int dz,
		    unsigned buttons);

/* The device ID the mouse answers 0xF2 with (0 or 3). */
uint8_t ps2mouse_id(const struct ps2mouse *m);

#endif
