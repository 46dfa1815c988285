/* The PS/2 mouse (hw/ps2mouse.c): its commands and packets on their own,
 * then behind the i8042's aux port (0xD4, AUX status, IRQ 12). */
#include <criterion/criterion.h>

#include "hw/i8042.h"
#include "hw/ps2mouse.h"

static struct ps2mouse *m;

static void setup(void)
{
	m = ps2mouse_new();
	cr_assert_not_null(m);
}

static void teardown(void)
{
	ps2mouse_free(m);
}

/* The bytes the mouse has queued must be exactly these. */
static void expect(const uint8_t *want, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		cr_assert(ps2mouse_pending(m), "byte %zu missing", i);
		uint8_t b = ps2mouse_read(m);
		cr_assert_eq(b, want[i], "byte %zu: %#x, not %#x", i, b,
			     want[i]);
	}
	cr_assert_not(ps2mouse_pending(m), "extra byte %#x", ps2mouse_read(m));
}
#define EXPECT(...)                                                            \
	do {                                                                   \
		const uint8_t w_[] = {__VA_ARGS__};                            \
		expect(w_, sizeof(w_));                                        \
	} while (0)

static void send(uint8_t b)
{
	ps2mouse_write(m, b);
}

TestSuite(ps2mouse, .init = setup, .fini = teardown);

Test(ps2mouse, reset_answers_ack_bat_and_id)
{
	send(0xff);
	EXPECT(0xfa, 0xaa, 0x00);
	send(0xf2);
	EXPECT(0xfa, 0x00);
}

Test(ps2mouse, status_request_reports_the_defaults)
{
	send(0xe9); /* stream, disabled, 1:1, no buttons; res 2, 100/s */
	EXPECT(0xfa, 0x00, 0x02, 100);
}

Test(ps2mouse, nothing_is_sent_before_reporting_is_enabled)
{
	ps2mouse_event(m, 10, 10, 0, PS2MOUSE_LEFT);
	cr_assert_not(ps2mouse_pending(m));
	send(0xf4);
	EXPECT(0xfa); /* and the motion before it was dropped */
}

Test(ps2mouse, packets_carry_buttons_signs_and_y_up)
{
	send(0xf4);
	EXPECT(0xfa);
	ps2mouse_event(m, 10, -5, 0, PS2MOUSE_LEFT); /* right, up */
	EXPECT(0x09, 10, 5);
	ps2mouse_event(m, -3, 4, 0, PS2MOUSE_RIGHT | PS2MOUSE_MIDDLE);
	EXPECT(0x08 | 0x06 | 0x10 | 0x20, 0xfd, 0xfc);
	ps2mouse_event(m, 0, 0, 0, 0); /* a release is a packet too */
	EXPECT(0x08, 0, 0);
	ps2mouse_event(m, 0, 0, 0, 0); /* nothing changed: nothing sent */
	cr_assert_not(ps2mouse_pending(m));
}

Test(ps2mouse, large_motion_is_split_over_packets)
{
	send(0xf4);
	EXPECT(0xfa);
	ps2mouse_event(m, 600, -300, 0, 0);
	EXPECT(0x08, 255, 255, 0x08, 255, 45, 0x08, 90, 0);
	ps2mouse_event(m, -600, 0, 0, 0);
	EXPECT(0x18, 0x00, 0, 0x18, 0x00, 0, 0x18, 0xa8, 0);
}

Test(ps2mouse, sample_rate_and_resolution_take_a_parameter)
{
	send(0xf3);
	EXPECT(0xfa);
	send(40);
	EXPECT(0xfa);
	send(0xe8);
	EXPECT(0xfa);
	send(3);
	EXPECT(0xfa);
	send(0xe9);
	EXPECT(0xfa, 0x00, 3, 40);
}

Test(ps2mouse, invalid_parameters_are_refused_and_waited_for)
{
	send(0xf3);
	EXPECT(0xfa);
	send(0x33); /* no such rate */
	EXPECT(0xfe);
	send(0); /* nor this */
	EXPECT(0xfe);
	send(20); /* the wait goes on: this one is taken */
	EXPECT(0xfa);
	send(0xe8);
	EXPECT(0xfa);
	send(4);
	EXPECT(0xfe);
	send(0xe9); /* a command where the parameter was due runs */
	EXPECT(0xfa, 0x00, 2, 20);
}

Test(ps2mouse, reset_in_place_of_a_parameter)
{
	send(0xf3);
	EXPECT(0xfa);
	send(0xff);
	EXPECT(0xfa, 0xaa, 0x00);
}

Test(ps2mouse, intellimouse_knock_gives_id_3_and_wheel_packets)
{
	const uint8_t knock[] = {200, 100, 80};
	for (int i = 0; i < 3; i++) {
		send(0xf3);
		EXPECT(0xfa);
		send(knock[i]);
		EXPECT(0xfa);
	}
	send(0xf2);
	EXPECT(0xfa, 0x03);
	cr_assert_eq(ps2mouse_id(m), 3);
	send(0xf4);
	EXPECT(0xfa);
	ps2mouse_event(m, 1, 0, 2, 0); /* two clicks towards the user */
	EXPECT(0x08, 1, 0, 2);
	ps2mouse_event(m, 0, 0, -20, 0); /* -8 at most per packet */
	EXPECT(0x08, 0, 0, 0xf8, 0x08, 0, 0, 0xf8, 0x08, 0, 0, 0xfc);
	send(0xff); /* reset: back to a plain mouse */
	EXPECT(0xfa, 0xaa, 0x00);
	cr_assert_eq(ps2mouse_id(m), 0);
}

Test(ps2mouse, knock_in_another_order_keeps_id_0)
{
	const uint8_t knock[] = {100, 200, 80};
	for (int i = 0; i < 3; i++) {
		send(0xf3);
		EXPECT(0xfa);
		send(knock[i]);
		EXPECT(0xfa);
	}
	send(0xf2);
	EXPECT(0xfa, 0x00);
}

Test(ps2mouse, status_byte_fields)
{
	send(0xf4);
	EXPECT(0xfa);
	send(0xe7); /* 2:1 */
	EXPECT(0xfa);
	ps2mouse_event(m, 0, 0, 0, PS2MOUSE_LEFT | PS2MOUSE_RIGHT);
	EXPECT(0x0b, 0, 0);
	send(0xe9); /* left = bit 2, right = bit 0, scaling, enabled */
	EXPECT(0xfa, 0x04 | 0x01 | 0x10 | 0x20, 2, 100);
	send(0xf0); /* remote mode */
	EXPECT(0xfa);
	send(0xe9);
	EXPECT(0xfa, 0x04 | 0x01 | 0x10 | 0x20 | 0x40, 2, 100);
}

Test(ps2mouse, scaling_2_to_1_in_stream_mode)
{
	send(0xf4);
	EXPECT(0xfa);
	send(0xe7);
	EXPECT(0xfa);
	ps2mouse_event(m, 4, -5, 0, 0); /* 4 -> 6, 5 -> 9 */
	EXPECT(0x08, 6, 9);
	ps2mouse_event(m, -10, 0, 0, 0); /* beyond 5: doubled */
	EXPECT(0x18, 0xec, 0);
	send(0xe6);
	EXPECT(0xfa);
	ps2mouse_event(m, 4, 0, 0, 0);
	EXPECT(0x08, 4, 0);
}

Test(ps2mouse, remote_mode_sends_only_on_read_data)
{
	send(0xf0);
	EXPECT(0xfa);
	ps2mouse_event(m, 7, 0, 0, PS2MOUSE_MIDDLE);
	cr_assert_not(ps2mouse_pending(m));
	send(0xeb);
	EXPECT(0xfa, 0x0c, 7, 0);
	send(0xeb); /* nothing moved since: a packet of zeros */
	EXPECT(0xfa, 0x0c, 0, 0);
	send(0xea); /* stream mode again, still disabled */
	EXPECT(0xfa);
	ps2mouse_event(m, 7, 0, 0, 0);
	cr_assert_not(ps2mouse_pending(m));
}

Test(ps2mouse, wrap_mode_echoes_until_ec)
{
	send(0xee);
	EXPECT(0xfa);
	send(0x12);
	send(0xf4); /* a command, echoed, not run */
	EXPECT(0x12, 0xf4);
	send(0xec);
	EXPECT(0xfa);
	send(0xe9);
	EXPECT(0xfa, 0x00, 2, 100);
}

Test(ps2mouse, resend_repeats_the_last_byte)
{
	send(0xf2);
	EXPECT(0xfa, 0x00);
	send(0xfe);
	EXPECT(0x00);
	send(0xe9);
	EXPECT(0xfa, 0x00, 0x02, 100);
	send(0xfe);
	EXPECT(100);
}

Test(ps2mouse, unknown_commands_are_refused)
{
	const uint8_t bad[] = {0x00, 0x55, 0xe5, 0xed, 0xf1, 0xf7, 0xfd};
	for (size_t i = 0; i < sizeof(bad); i++) {
		send(bad[i]);
		EXPECT(0xfe);
	}
}

Test(ps2mouse, a_command_discards_unsent_bytes)
{
	send(0xf4);
	EXPECT(0xfa);
	ps2mouse_event(m, 1, 1, 0, 0);
	cr_assert_eq(ps2mouse_queued(m), 3);
	send(0xf5);
	EXPECT(0xfa);
	send(0xf2);
	send(0xf2); /* the first answer was never read: only one stays */
	EXPECT(0xfa, 0x00);
}

Test(ps2mouse, queue_stays_bounded_and_packets_whole)
{
	send(0xf4);
	EXPECT(0xfa);
	for (int i = 0; i < 1000; i++)
		ps2mouse_event(m, 100000, -100000, 100000, (unsigned)i);
	size_t n = ps2mouse_queued(m);
	cr_assert_leq(n, 64);
	cr_assert_eq(n % 3, 0);
	/* Each packet starts with bit 3 set; reading drains the rest. */
	for (int i = 0; i < 10000 && ps2mouse_pending(m); i++) {
		uint8_t b0 = ps2mouse_read(m);
		cr_assert(b0 & 0x08, "packet byte 0 %#x", b0);
		ps2mouse_read(m);
		ps2mouse_read(m);
	}
	cr_assert_not(ps2mouse_pending(m), "motion never ran out");
}

static uint32_t lcg(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

Test(ps2mouse, garbage_never_crashes_and_stays_bounded)
{
	uint32_t seed = 0x5a5a;
	for (int i = 0; i < 200000; i++) {
		uint32_t x = lcg(&seed);
		switch (x % 4) {
		case 0:
		case 1:
			send((uint8_t)lcg(&seed));
			break;
		case 2:
			ps2mouse_read(m);
			break;
		default:
			ps2mouse_event(m, (int)(lcg(&seed) << 8),
				       -(int)lcg(&seed), (int)lcg(&seed) - 99,
				       lcg(&seed));
			break;
		}
		cr_assert_leq(ps2mouse_queued(m), 64);
	}
	/* Still a working mouse. */
	send(0xec); /* out of wrap mode, if garbage put it there */
	send(0xff);
	EXPECT(0xfa, 0xaa, 0x00);
}

/* ---- behind the i8042 ---------------------------------------------- */

struct kbc {
	struct bus io;
	struct i8042 *c;
	int edges12;
	int level12;
};

static void kbc_irq(void *opaque, int line, int level)
{
	struct kbc *k = opaque;
	if (line != 12)
		return;
	if (level && !k->level12)
		k->edges12++;
	k->level12 = level;
}

static void noop(void *opaque, int v)
{
	(void)opaque, (void)v;
}

static void kbc_init(struct kbc *k)
{
	memset(k, 0, sizeof(*k));
	bus_init(&k->io, "port");
	struct irq_chip chip = {.set = kbc_irq, .opaque = k};
	k->c = i8042_new(&chip, (struct signal){noop, NULL},
			 (struct signal){noop, NULL});
	cr_assert_not_null(k->c);
	cr_assert_eq(i8042_attach(k->c, &k->io), 0);
}

static void kbc_fini(struct kbc *k)
{
	i8042_free(k->c);
	bus_destroy(&k->io);
}

static void out8(struct kbc *k, uint16_t port, uint8_t v)
{
	bus_access(&k->io, port, 1, true, &v, 1);
}

static uint8_t in8(struct kbc *k, uint16_t port)
{
	uint8_t v = 0;
	bus_access(&k->io, port, 1, false, &v, 1);
	return v;
}

/* One aux byte: OBF and AUX set, no timeout. */
static uint8_t aux_byte(struct kbc *k)
{
	uint8_t s = in8(k, 0x64);
	cr_assert_eq(s & 0x61, 0x21, "status %#x", s);
	return in8(k, 0x60);
}

static void to_mouse(struct kbc *k, uint8_t b)
{
	out8(k, 0x64, 0xd4);
	out8(k, 0x60, b);
}

Test(ps2mouse, through_the_i8042_with_irq12)
{
	struct kbc k;
	kbc_init(&k);
	to_mouse(&k, 0xff);
	cr_assert_eq(aux_byte(&k), 0xfa);
	cr_assert_eq(aux_byte(&k), 0xaa);
	cr_assert_eq(aux_byte(&k), 0x00);
	cr_assert_eq(in8(&k, 0x64) & 1, 0);
	cr_assert_eq(k.edges12, 3); /* one edge per byte (AUXINT is on) */
	to_mouse(&k, 0xf4);
	cr_assert_eq(aux_byte(&k), 0xfa);
	i8042_mouse(k.c, 2, -1, 0, PS2MOUSE_RIGHT);
	cr_assert_eq(aux_byte(&k), 0x0a);
	cr_assert_eq(aux_byte(&k), 2);
	cr_assert_eq(aux_byte(&k), 1);
	cr_assert_eq(k.edges12, 7);
	cr_assert_eq(i8042_queued(k.c), 0);
	kbc_fini(&k);
}

Test(ps2mouse, aux_disabled_holds_the_packets_back)
{
	struct kbc k;
	kbc_init(&k);
	to_mouse(&k, 0xf4);
	cr_assert_eq(aux_byte(&k), 0xfa);
	out8(&k, 0x64, 0xa7); /* aux interface off */
	i8042_mouse(k.c, 1, 1, 0, 0);
	cr_assert_eq(in8(&k, 0x64) & 1, 0);
	cr_assert_eq(i8042_queued(k.c), 3);
	out8(&k, 0x64, 0xa8); /* on again: the packet is there */
	out8(&k, 0x64, 0x20); /* any command refills the output buffer */
	cr_assert_eq(in8(&k, 0x60) & 0x20, 0); /* command byte, not aux */
	cr_assert_eq(aux_byte(&k), 0x28);
	cr_assert_eq(aux_byte(&k), 1);
	cr_assert_eq(aux_byte(&k), 0xff);
	kbc_fini(&k);
}

Test(ps2mouse, keyboard_and_mouse_bytes_keep_their_flags)
{
	struct kbc k;
	kbc_init(&k);
	to_mouse(&k, 0xf4);
	cr_assert_eq(aux_byte(&k), 0xfa);
	i8042_mouse(k.c, 5, 0, 0, 0);
	const uint8_t a[] = {0x1c};
	i8042_key(k.c, a, 1); /* key 'A' in between */
	int kbd = 0, aux = 0;
	for (int i = 0; i < 10 && (in8(&k, 0x64) & 1); i++) {
		uint8_t s = in8(&k, 0x64);
		uint8_t b = in8(&k, 0x60);
		if (s & 0x20)
			aux++;
		else
			kbd += b == 0x1c;
	}
	cr_assert_eq(aux, 3);
	cr_assert_eq(kbd, 1);
	kbc_fini(&k);
}
