/*
 * IBM PS/2 mouse, the "auxiliary device" on the i8042's second port, with
 * Microsoft's IntelliMouse wheel extension.
 *
 * Facts from the IBM PS/2 Hardware Interface Technical Reference
 * (auxiliary device: commands, status bytes, data packet) and the
 * IntelliMouse protocol notes (the 200, 100, 80 sample-rate knock that
 * turns on the 4-byte packet and device ID 3), checked against what
 * Linux's psmouse driver sends and expects.
 *
 * Model:
 *  - Every command byte is answered at once with 0xFA (ACK) and its data,
 *    or 0xFE (resend) when the mouse does not know it. A command discards
 *    what the mouse had not sent yet, as a real one stops a transmission
 *    when the host takes the clock line to send.
 *  - 0xF3 (sample rate) and 0xE8 (resolution) take a parameter byte. A
 *    byte from 0xE6 up in its place is a command: the wait ends and the
 *    command runs. An invalid value is answered 0xFE and the mouse goes on
 *    waiting for a valid one.
 *  - Reset (0xFF): 0xFA, 0xAA (self-test passed), 0x00 (ID); defaults:
 *    100 samples/s, resolution 2 (4 counts/mm), scaling 1:1, stream mode,
 *    reporting disabled, the wheel extension off.
 *  - Packets: byte 0 = buttons (bit 0 left, 1 right, 2 middle), bit 3
 *    always 1, bits 4/5 the X/Y signs; bytes 1-2 the X/Y movement, 9-bit
 *    two's complement with Y positive up; byte 3 (ID 3 only) the wheel,
 *    -8..7. Host motion beyond one packet's range is split over several
 *    packets, so the overflow bits are never needed and never set.
 *  - The sample rate is recorded and reported, not used as a clock: a
 *    packet is queued as soon as the queue has room for it.
 *  - Wrap mode (0xEE) echoes every byte but 0xEC (leave) and 0xFF (reset).
 *  - Remote mode (0xF0): nothing is streamed; 0xEB reads one packet.
 */
#include "hw/ps2mouse.h"

#include <stdlib.h>
#include <string.h>

#define ACK    0xfa
#define RESEND 0xfe
#define BAT_OK 0xaa

#define Q_SIZE	  64
#define MAX_ACCUM 4096 /* host motion kept for later packets, each axis */

struct ps2mouse {
	uint8_t q[Q_SIZE];
	unsigned head, count;
	uint8_t last; /* the last byte sent, for 0xFE */
	uint8_t param_cmd;

	uint8_t rate, resolution, id;
	bool scaling21, reporting, remote, wrap;
	uint8_t knock[3]; /* the last three sample rates set */

	int dx, dy, dz; /* not yet sent: dx right, dy up, dz wheel */
	unsigned buttons;
	bool buttons_changed;
};

static void q_clear(struct ps2mouse *m)
{
	m->head = m->count = 0;
}

static unsigned q_room(const struct ps2mouse *m)
{
	return Q_SIZE - m->count;
}

static void q_push(struct ps2mouse *m, uint8_t b)
{
	if (m->count == Q_SIZE)
		return;
	m->q[(m->head + m->count) % Q_SIZE] = b;
	m->count++;
}

static void defaults(struct ps2mouse *m)
{
	m->rate = 100;
	m->resolution = 2;
	m->scaling21 = false;
	m->reporting = false;
	m->remote = false;
	m->dx = m->dy = m->dz = 0;
	m->buttons_changed = false;
}

void ps2mouse_reset(struct ps2mouse *m)
{
	memset(m, 0, sizeof(*m));
	defaults(m);
	m->last = 0;
}

struct ps2mouse *ps2mouse_new(void)
{
	struct ps2mouse *m = calloc(1, sizeof(*m));
	if (m)
		ps2mouse_reset(m);
	return m;
}

void ps2mouse_free(struct ps2mouse *m)
{
	free(m);
}

static int clamp(int v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* 2:1 scaling as the mouse applies it to each count in stream mode. */
static int scale21(int v)
{
	static const int t[6] = {0, 1, 1, 3, 6, 9};
	int a = v < 0 ? -v : v;
	int s = a < 6 ? t[a] : 2 * a;
	return v < 0 ? -s : s;
}

static unsigned packet_len(const struct ps2mouse *m)
{
	return m->id == 3 ? 4 : 3;
}

/* One packet of what has not been sent yet (at most one packet's worth
 * of motion; the rest stays for the next one). */
static void push_packet(struct ps2mouse *m, bool scaled)
{
	int x = clamp(m->dx, -256, 255), y = clamp(m->dy, -256, 255);
	int z = clamp(m->dz, -8, 7);
	m->dx -= x;
	m->dy -= y;
	m->dz -= z;
	if (scaled) {
		x = clamp(scale21(x), -256, 255);
		y = clamp(scale21(y), -256, 255);
	}
	uint8_t b0 = (uint8_t)(0x08 | (m->buttons & 7));
	if (x < 0)
		b0 |= 0x10;
	if (y < 0)
		b0 |= 0x20;
	q_push(m, b0);
	q_push(m, (uint8_t)(x & 0xff));
	q_push(m, (uint8_t)(y & 0xff));
	if (m->id == 3)
		q_push(m, (uint8_t)(z & 0xff));
	m->buttons_changed = false;
}

static bool have_motion(const struct ps2mouse *m)
{
	return m->dx || m->dy || m->dz || m->buttons_changed;
}

/* Stream mode: as many packets as the queue has room for (bounded by
 * its size). */
static void stream(struct ps2mouse *m)
{
	if (!m->reporting || m->remote || m->wrap)
		return;
	while (have_motion(m) && q_room(m) >= packet_len(m))
		push_packet(m, m->scaling21);
}

static bool valid_rate(uint8_t r)
{
	return r == 10 || r == 20 || r == 40 || r == 60 || r == 80 ||
	       r == 100 || r == 200;
}

static void set_rate(struct ps2mouse *m, uint8_t r)
{
	m->rate = r;
	m->knock[0] = m->knock[1];
	m->knock[1] = m->knock[2];
	m->knock[2] = r;
	/* IntelliMouse: rates 200, 100, 80 in a row switch on the wheel. */
	if (m->knock[0] == 200 && m->knock[1] == 100 && m->knock[2] == 80)
		m->id = 3;
}

static void param(struct ps2mouse *m, uint8_t b)
{
	uint8_t cmd = m->param_cmd;
	if (cmd == 0xf3 && valid_rate(b)) {
		set_rate(m, b);
	} else if (cmd == 0xe8 && b <= 3) {
		m->resolution = b;
	} else {
		q_push(m, RESEND); /* and keep waiting for a valid value */
		return;
	}
	m->param_cmd = 0;
	q_push(m, ACK);
}

static uint8_t status_byte(const struct ps2mouse *m)
{
	uint8_t s = 0;
	if (m->buttons & PS2MOUSE_LEFT)
		s |= 0x04;
	if (m->buttons & PS2MOUSE_MIDDLE)
		s |= 0x02;
	if (m->buttons & PS2MOUSE_RIGHT)
		s |= 0x01;
	if (m->scaling21)
		s |= 0x10;
	if (m->reporting)
		s |= 0x20;
	if (m->remote)
		s |= 0x40;
	return s;
}

static void command(struct ps2mouse *m, uint8_t b)
{
	q_clear(m);
	m->param_cmd = 0;
	switch (b) {
	case 0xff: /* reset */
		ps2mouse_reset(m);
		q_push(m, ACK);
		q_push(m, BAT_OK);
		q_push(m, 0x00);
		break;
	case 0xfe: /* resend */
		q_push(m, m->last);
		break;
	case 0xf6: /* set defaults */
		defaults(m);
		q_push(m, ACK);
		break;
	case 0xf5: /* disable data reporting */
	case 0xf4: /* enable data reporting */
		m->reporting = b == 0xf4;
		m->dx = m->dy = m->dz = 0;
		m->buttons_changed = false;
		q_push(m, ACK);
		break;
	case 0xf3: /* set sample rate */
	case 0xe8: /* set resolution */
		m->param_cmd = b;
		q_push(m, ACK);
		break;
	case 0xf2: /* get device ID */
		q_push(m, ACK);
		q_push(m, m->id);
		break;
	case 0xf0: /* remote mode */
	case 0xea: /* stream mode */
		m->remote = b == 0xf0;
		m->dx = m->dy = m->dz = 0;
		q_push(m, ACK);
		break;
	case 0xee: /* wrap mode */
		m->wrap = true;
		q_push(m, ACK);
		break;
	case 0xec: /* leave wrap mode */
		m->wrap = false;
		q_push(m, ACK);
		break;
	case 0xeb: /* read data: one packet, whatever the mode */
		q_push(m, ACK);
		push_packet(m, false);
		break;
	case 0xe9: /* status request */
		q_push(m, ACK);
		q_push(m, status_byte(m));
		q_push(m, m->resolution);
		q_push(m, m->rate);
		break;
	case 0xe7: /* scaling 2:1 */
	case 0xe6: /* scaling 1:1 */
		m->scaling21 = b == 0xe7;
		q_push(m, ACK);
		break;
	default:
		q_push(m, RESEND);
		break;
	}
}

void ps2mouse_write(struct ps2mouse *m, uint8_t b)
{
	if (m->wrap && b != 0xec && b != 0xff) {
		q_push(m, b);
		return;
	}
	if (m->param_cmd && b < 0xe6) {
		param(m, b);
		return;
	}
	command(m, b);
}

bool ps2mouse_pending(const struct ps2mouse *m)
{
	return m->count > 0;
}

size_t ps2mouse_queued(const struct ps2mouse *m)
{
	return m->count;
}

uint8_t ps2mouse_read(struct ps2mouse *m)
{
	if (!m->count)
		return 0;
	uint8_t b = m->q[m->head];
	m->head = (m->head + 1) % Q_SIZE;
	m->count--;
	m->last = b;
	if (!m->count)
		stream(m);
	return b;
}

void ps2mouse_event(struct ps2mouse *m, int dx, int dy, int dz,
		    unsigned buttons)
{
	buttons &= 7;
	if (!m->reporting && !m->remote)
		return; /* stream mode, disabled: the mouse drops it */
	m->dx = clamp(m->dx + clamp(dx, -MAX_ACCUM, MAX_ACCUM), -MAX_ACCUM,
		      MAX_ACCUM);
	m->dy = clamp(m->dy - clamp(dy, -MAX_ACCUM, MAX_ACCUM), -MAX_ACCUM,
		      MAX_ACCUM);
	if (m->id == 3)
		m->dz = clamp(m->dz + clamp(dz, -MAX_ACCUM, MAX_ACCUM),
			      -MAX_ACCUM, MAX_ACCUM);
	if (buttons != m->buttons) {
		m->buttons = buttons;
		m->buttons_changed = true;
	}
	stream(m);
}

uint8_t ps2mouse_id(const struct ps2mouse *m)
{
	return m->id;
}
