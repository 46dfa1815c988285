#include <criterion/criterion.h>

#include "hw/i8042.h"

#define ST_OBF	   0x01
#define ST_IBF	   0x02
#define ST_SYS	   0x04
#define ST_CMD	   0x08
#define ST_UNLOCK  0x10
#define ST_AUX	   0x20
#define ST_TIMEOUT 0x40
#define ST_PARITY  0x80

struct rig {
	struct bus io;
	struct i8042 *kbc;
	int edges[16];
	int level[16];
	int resets;
	int a20, a20_calls;
};

static void fake_irq(void *opaque, int line, int level)
{
	struct rig *r = opaque;
	if (line < 0 || line >= 16)
		return;
	if (level && !r->level[line])
		r->edges[line]++;
	r->level[line] = level;
}

static void on_reset(void *opaque, int v)
{
	struct rig *r = opaque;
	if (v)
		r->resets++;
}

static void on_a20(void *opaque, int v)
{
	struct rig *r = opaque;
	r->a20 = v;
	r->a20_calls++;
}

static void rig_init(struct rig *r)
{
	memset(r, 0, sizeof(*r));
	r->a20 = -1;
	bus_init(&r->io, "port");
	struct irq_chip chip = {.set = fake_irq, .opaque = r};
	r->kbc = i8042_new(&chip, (struct signal){on_reset, r},
			   (struct signal){on_a20, r});
	cr_assert_not_null(r->kbc);
	cr_assert_eq(i8042_attach(r->kbc, &r->io), 0);
}

static void rig_fini(struct rig *r)
{
	i8042_free(r->kbc);
	bus_destroy(&r->io);
}

static void outb(struct rig *r, uint16_t port, uint8_t v)
{
	bus_access(&r->io, port, 1, true, &v, 1);
}

static uint8_t inb(struct rig *r, uint16_t port)
{
	uint8_t v = 0;
	bus_access(&r->io, port, 1, false, &v, 1);
	return v;
}

static uint8_t status(struct rig *r)
{
	return inb(r, 0x64);
}

/* Reads one byte that must be there, checking the AUX flag. */
static uint8_t read_byte(struct rig *r, bool aux)
{
	uint8_t s = status(r);
	cr_assert(s & ST_OBF, "output buffer empty (status %#x)", s);
	cr_assert_eq(!!(s & ST_AUX), aux, "status %#x", s);
	return inb(r, 0x60);
}

/* A controller command with an expected one-byte reply, as i8042_command. */
static uint8_t command_reply(struct rig *r, uint8_t cmd)
{
	outb(r, 0x64, cmd);
	return read_byte(r, false);
}

static void command_data(struct rig *r, uint8_t cmd, uint8_t data)
{
	outb(r, 0x64, cmd);
	outb(r, 0x60, data);
}

static void expect_empty(struct rig *r)
{
	cr_assert_eq(status(r) & ST_OBF, 0, "unexpected byte %#x",
		     inb(r, 0x60));
}

static void key(struct rig *r, const uint8_t *b, size_t n)
{
	i8042_key(r->kbc, b, n);
}

Test(i8042, power_on_state)
{
	struct rig r;
	rig_init(&r);
	uint8_t s = status(&r);
	cr_assert_eq(s & (ST_OBF | ST_IBF | ST_AUX | ST_TIMEOUT | ST_PARITY),
		     0);
	cr_assert(s & ST_UNLOCK);
	cr_assert_eq(command_reply(&r, 0x20), 0x03);
	cr_assert(status(&r) & ST_CMD);
	outb(&r, 0x60, 0xee); /* echo, to the keyboard */
	cr_assert_eq(status(&r) & ST_CMD, 0);
	cr_assert_eq(read_byte(&r, false), 0xee);
	cr_assert_eq(i8042_queued(r.kbc), 0);
	rig_fini(&r);
}

/* drivers/input/serio/i8042.c: check, selftest, controller_init, mux, aux. */
Test(i8042, linux_probe_sequence)
{
	struct rig r;
	rig_init(&r);
	uint8_t junk = 0x1c;
	key(&r, &junk, 1);

	/* i8042_controller_check: flush at most 16 bytes. */
	int n = 0;
	while ((status(&r) & ST_OBF) && n < 16) {
		inb(&r, 0x60);
		n++;
	}
	cr_assert_eq(n, 1);

	/* i8042_controller_selftest */
	cr_assert_eq(command_reply(&r, 0xaa), 0x55);
	cr_assert(status(&r) & ST_SYS);

	/* i8042_controller_init: two equal CTR reads, then write it back. */
	uint8_t ctr = command_reply(&r, 0x20);
	cr_assert_eq(command_reply(&r, 0x20), ctr);
	cr_assert(ctr & 0x04, "system flag after self test");
	ctr |= 0x10;
	ctr &= ~0x01;
	command_data(&r, 0x60, ctr);
	cr_assert_eq(command_reply(&r, 0x20), ctr);
	expect_empty(&r);

	/* i8042_check_mux: plain loopback means "no multiplexer". */
	const uint8_t mux[] = {0xf0, 0x56, 0xa4};
	for (int i = 0; i < 3; i++) {
		command_data(&r, 0xd3, mux[i]);
		cr_assert_eq(read_byte(&r, true), mux[i]);
	}

	/* i8042_check_aux: loop test, then bit assignment test. */
	command_data(&r, 0xd3, 0x5a);
	cr_assert_eq(read_byte(&r, true), 0x5a);
	outb(&r, 0x64, 0xa7);
	cr_assert(command_reply(&r, 0x20) & 0x20);
	outb(&r, 0x64, 0xa8);
	cr_assert_eq(command_reply(&r, 0x20) & 0x20, 0);
	outb(&r, 0x64, 0xa7);

	/* AUX IRQ delivery test: enable the port and its IRQ, loop 0xA5. */
	ctr = command_reply(&r, 0x20);
	ctr = (ctr & ~0x20) | 0x02;
	command_data(&r, 0x60, ctr);
	int e12 = r.edges[12], e1 = r.edges[1];
	command_data(&r, 0xd3, 0xa5);
	cr_assert_eq(r.edges[12], e12 + 1);
	cr_assert_eq(r.edges[1], e1);
	cr_assert_eq(read_byte(&r, true), 0xa5);
	cr_assert_eq(r.level[12], 0);

	/* psmouse probe through 0xD4: the mouse acknowledges GET ID and
	 * answers ID 0 (a standard PS/2 mouse), no timeout. */
	command_data(&r, 0xd4, 0xf2);
	uint8_t s = status(&r);
	cr_assert_eq(s & (ST_OBF | ST_AUX | ST_TIMEOUT), ST_OBF | ST_AUX);
	cr_assert_eq(inb(&r, 0x60), 0xfa);
	cr_assert_eq(read_byte(&r, true), 0x00);
	cr_assert_eq(status(&r) & (ST_OBF | ST_TIMEOUT), 0);
	cr_assert_eq(r.edges[12], e12 + 3);

	/* Keyboard port enabled with translation: atkbd's GETID. */
	command_data(&r, 0x60, 0x61 | 0x04);
	e1 = r.edges[1];
	outb(&r, 0x60, 0xf2);
	cr_assert_eq(read_byte(&r, false), 0xfa);
	cr_assert_eq(read_byte(&r, false), 0xab);
	cr_assert_eq(read_byte(&r, false), 0x41); /* 0x83 translated */
	cr_assert_eq(r.edges[1], e1 + 3);
	expect_empty(&r);
	rig_fini(&r);
}

/* SeaBIOS ps2port.c keyboard setup, with its CTR juggling. */
Test(i8042, seabios_keyboard_setup)
{
	struct rig r;
	rig_init(&r);
	cr_assert_eq(command_reply(&r, 0xaa), 0x55);
	cr_assert_eq(command_reply(&r, 0xab), 0x00);
	/* Reset: CTR disables both, then enables the keyboard only. */
	command_data(&r, 0x60, 0x30);
	command_data(&r, 0x60, 0x20);
	outb(&r, 0x60, 0xff);
	cr_assert_eq(read_byte(&r, false), 0xfa);
	cr_assert_eq(read_byte(&r, false), 0xaa);
	outb(&r, 0x60, 0xf5);
	cr_assert_eq(read_byte(&r, false), 0xfa);
	outb(&r, 0x60, 0xf0);
	cr_assert_eq(read_byte(&r, false), 0xfa);
	outb(&r, 0x60, 0x02);
	cr_assert_eq(read_byte(&r, false), 0xfa);
	/* Final CTR: AUXDIS | XLATE | KBDINT, then enable scanning. */
	command_data(&r, 0x60, 0x61);
	outb(&r, 0x60, 0xf4);
	cr_assert_eq(read_byte(&r, false), 0xfa);
	int e1 = r.edges[1];
	const uint8_t a[] = {0x1c}, a_up[] = {0xf0, 0x1c};
	key(&r, a, 1);
	cr_assert_eq(r.edges[1], e1 + 1);
	cr_assert_eq(read_byte(&r, false), 0x1e);
	key(&r, a_up, 2);
	cr_assert_eq(read_byte(&r, false), 0x9e);
	expect_empty(&r);
	rig_fini(&r);
}

Test(i8042, keyboard_commands)
{
	struct rig r;
	rig_init(&r);
	outb(&r, 0x60, 0xed);
	cr_assert_eq(read_byte(&r, false), 0xfa);
	outb(&r, 0x60, 0x07);
	cr_assert_eq(read_byte(&r, false), 0xfa);
	cr_assert_eq(i8042_leds(r.kbc), 7);
	outb(&r, 0x60, 0xf3);
	cr_assert_eq(read_byte(&r, false), 0xfa);
	outb(&r, 0x60, 0x20);
	cr_assert_eq(read_byte(&r, false), 0xfa);
	outb(&r, 0x60, 0xee);
	cr_assert_eq(read_byte(&r, false), 0xee);
	outb(&r, 0x60, 0x01); /* not a command */
	cr_assert_eq(read_byte(&r, false), 0xfe);
	outb(&r, 0x60, 0xf0);
	cr_assert_eq(read_byte(&r, false), 0xfa);
	outb(&r, 0x60, 0x00);
	cr_assert_eq(read_byte(&r, false), 0xfa);
	cr_assert_eq(read_byte(&r, false), 0x02);
	outb(&r, 0x60, 0xfe); /* resend the last byte */
	cr_assert_eq(read_byte(&r, false), 0x02);
	/* F0 with a bad set number: resend, still waiting for the set. */
	outb(&r, 0x60, 0xf0);
	cr_assert_eq(read_byte(&r, false), 0xfa);
	outb(&r, 0x60, 0x09);
	cr_assert_eq(read_byte(&r, false), 0xfe);
	outb(&r, 0x60, 0x03);
	cr_assert_eq(read_byte(&r, false), 0xfa);
	outb(&r, 0x60, 0xf0);
	outb(&r, 0x60, 0x00);
	cr_assert_eq(read_byte(&r, false), 0xfa);
	cr_assert_eq(read_byte(&r, false), 0xfa);
	cr_assert_eq(read_byte(&r, false), 0x03);
	/* ED followed by a command: the command wins. */
	outb(&r, 0x60, 0xed);
	outb(&r, 0x60, 0xf2);
	cr_assert_eq(read_byte(&r, false), 0xfa);
	cr_assert_eq(read_byte(&r, false), 0xfa);
	cr_assert_eq(read_byte(&r, false), 0xab);
	cr_assert_eq(read_byte(&r, false), 0x83);
	cr_assert_eq(i8042_leds(r.kbc), 7);
	/* F5: defaults and disabled: keys are not scanned. */
	outb(&r, 0x60, 0xf5);
	cr_assert_eq(read_byte(&r, false), 0xfa);
	cr_assert_eq(i8042_leds(r.kbc), 0);
	const uint8_t k[] = {0x1c};
	key(&r, k, 1);
	expect_empty(&r);
	outb(&r, 0x60, 0xf4);
	cr_assert_eq(read_byte(&r, false), 0xfa);
	key(&r, k, 1);
	cr_assert_eq(read_byte(&r, false), 0x1c); /* set 2, no xlate */
	/* F6 defaults and enables; set back to 2. */
	outb(&r, 0x60, 0xf6);
	cr_assert_eq(read_byte(&r, false), 0xfa);
	outb(&r, 0x60, 0xf0);
	outb(&r, 0x60, 0x00);
	cr_assert_eq(read_byte(&r, false), 0xfa);
	cr_assert_eq(read_byte(&r, false), 0xfa);
	cr_assert_eq(read_byte(&r, false), 0x02);
	expect_empty(&r);
	rig_fini(&r);
}

Test(i8042, translation_and_set1)
{
	struct rig r;
	rig_init(&r);
	command_data(&r, 0x60, 0x41); /* xlate + kbd int */
	const uint8_t up[] = {0xe0, 0x75}, up_rel[] = {0xe0, 0xf0, 0x75};
	const uint8_t f7[] = {0x83}, f7_rel[] = {0xf0, 0x83}, esc[] = {0x76};
	key(&r, up, 2);
	key(&r, up_rel, 3);
	key(&r, f7, 1);
	key(&r, f7_rel, 2);
	key(&r, esc, 1);
	const uint8_t want[] = {0xe0, 0x48, 0xe0, 0xc8, 0x41, 0xc1, 0x01};
	for (size_t i = 0; i < sizeof(want); i++)
		cr_assert_eq(read_byte(&r, false), want[i], "byte %zu", i);
	expect_empty(&r);
	/* Keyboard in set 1 itself, controller not translating. */
	command_data(&r, 0x60, 0x01);
	outb(&r, 0x60, 0xf0);
	outb(&r, 0x60, 0x01);
	cr_assert_eq(read_byte(&r, false), 0xfa);
	cr_assert_eq(read_byte(&r, false), 0xfa);
	key(&r, up_rel, 3);
	cr_assert_eq(read_byte(&r, false), 0xe0);
	cr_assert_eq(read_byte(&r, false), 0xc8);
	expect_empty(&r);
	rig_fini(&r);
}

Test(i8042, a20_and_reset)
{
	struct rig r;
	rig_init(&r);
	command_data(&r, 0xd1, 0xdd); /* Linux/HIMEM "A20 off" */
	cr_assert_eq(r.a20, 0);
	cr_assert_eq(r.resets, 0);
	cr_assert_eq(command_reply(&r, 0xd0) & 0x03, 0x01);
	command_data(&r, 0xd1, 0xdf);
	cr_assert_eq(r.a20, 1);
	cr_assert_eq(command_reply(&r, 0xd0) & 0x03, 0x03);
	outb(&r, 0x64, 0xdd);
	cr_assert_eq(r.a20, 0);
	outb(&r, 0x64, 0xdf);
	cr_assert_eq(r.a20, 1);
	cr_assert_eq(r.resets, 0);
	outb(&r, 0x64, 0xff); /* pulse nothing */
	outb(&r, 0x64, 0xfd); /* pulse A20 only */
	cr_assert_eq(r.resets, 0);
	outb(&r, 0x64, 0xfe);
	cr_assert_eq(r.resets, 1);
	outb(&r, 0x64, 0xf0);
	cr_assert_eq(r.resets, 2);
	command_data(&r, 0xd1, 0x02); /* reset line driven low */
	cr_assert_eq(r.resets, 3);
	expect_empty(&r);
	i8042_reset(r.kbc);
	cr_assert_eq(command_reply(&r, 0xd0) & 0x03, 0x03);
	rig_fini(&r);
}

Test(i8042, irq_follows_obf_and_enable)
{
	struct rig r;
	rig_init(&r);
	command_data(&r, 0x60, 0x00); /* interrupts off */
	const uint8_t k[] = {0x1c, 0x32};
	key(&r, k, 2);
	cr_assert_eq(r.edges[1], 0);
	/* Enabling the interrupt with data waiting raises the line. */
	command_data(&r, 0x60, 0x01);
	cr_assert_eq(r.edges[1], 1);
	cr_assert_eq(inb(&r, 0x60), 0x1c);
	cr_assert_eq(r.edges[1], 2); /* the next byte arrives */
	/* Activity that leaves the buffer full makes no new edge. */
	outb(&r, 0x64, 0x20);
	outb(&r, 0x64, 0xa7);
	command_data(&r, 0x60, 0x01);
	cr_assert_eq(r.edges[1], 2);
	cr_assert_eq(inb(&r, 0x60), 0x32);
	cr_assert_eq(r.edges[1], 3); /* the CTR reply */
	cr_assert_eq(inb(&r, 0x60), 0x01);
	cr_assert_eq(r.level[1], 0);
	cr_assert_eq(r.edges[12], 0);
	/* D2 data looks like keyboard data; D3 without AUXINT: no IRQ. */
	command_data(&r, 0xd2, 0x99);
	cr_assert_eq(r.edges[1], 4);
	cr_assert_eq(read_byte(&r, false), 0x99);
	command_data(&r, 0xd3, 0x98);
	cr_assert_eq(r.edges[12], 0);
	cr_assert_eq(read_byte(&r, true), 0x98);
	/* An empty buffer reads back its last byte. */
	cr_assert_eq(inb(&r, 0x60), 0x98);
	rig_fini(&r);
}

Test(i8042, disabled_interface_holds_keys_replies_first)
{
	struct rig r;
	rig_init(&r);
	outb(&r, 0x64, 0xad);
	const uint8_t k[] = {0x1c}, k2[] = {0x1b};
	key(&r, k, 1);
	expect_empty(&r);
	cr_assert_eq(i8042_queued(r.kbc), 1);
	outb(&r, 0x64, 0xae);
	cr_assert(status(&r) & ST_OBF);
	key(&r, k2, 1);
	/* Buffer holds 1c; the CTR reply goes before the queued 1b. */
	outb(&r, 0x64, 0x20);
	cr_assert_eq(inb(&r, 0x60), 0x1c);
	cr_assert_eq(inb(&r, 0x60), 0x03);
	cr_assert_eq(inb(&r, 0x60), 0x1b);
	expect_empty(&r);
	rig_fini(&r);
}

Test(i8042, pending_data_and_ram)
{
	struct rig r;
	rig_init(&r);
	outb(&r, 0x64, 0x60);
	outb(&r, 0x64, 0x20); /* a new command cancels the pending write */
	cr_assert_eq(read_byte(&r, false), 0x03);
	outb(&r, 0x60, 0xee); /* goes to the keyboard, not to the CTR */
	cr_assert_eq(read_byte(&r, false), 0xee);
	cr_assert_eq(command_reply(&r, 0x20), 0x03);
	command_data(&r, 0x65, 0x5a);
	cr_assert_eq(command_reply(&r, 0x25), 0x5a);
	cr_assert_eq(command_reply(&r, 0x20), 0x03);
	cr_assert_eq(command_reply(&r, 0xc0) & 0x80, 0x80);
	cr_assert_eq(command_reply(&r, 0xa9), 0x00);
	outb(&r, 0x64, 0xa1); /* unknown: ignored, no reply */
	outb(&r, 0x64, 0x00);
	expect_empty(&r);
	rig_fini(&r);
}

Test(i8042, keyboard_overrun)
{
	struct rig r;
	rig_init(&r);
	outb(&r, 0x64, 0xad);
	const uint8_t k[] = {0x1c};
	for (int i = 0; i < 40; i++)
		key(&r, k, 1);
	const uint8_t big[40] = {0};
	key(&r, big, sizeof(big));
	size_t q = i8042_queued(r.kbc);
	cr_assert_eq(q, 13, "queued %zu", q);
	outb(&r, 0x64, 0xae);
	for (int i = 0; i < 12; i++)
		cr_assert_eq(inb(&r, 0x60), 0x1c);
	cr_assert_eq(read_byte(&r, false), 0x00); /* overrun, set 2 */
	expect_empty(&r);
	rig_fini(&r);
}

static uint32_t lcg(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

Test(i8042, garbage_never_crashes_and_stays_bounded)
{
	struct rig r;
	rig_init(&r);
	uint32_t seed = 0x8042;
	for (int i = 0; i < 100000; i++) {
		uint32_t x = lcg(&seed);
		uint8_t v = lcg(&seed);
		switch (x % 8) {
		case 0:
		case 1:
			outb(&r, 0x64, v);
			break;
		case 2:
		case 3:
			outb(&r, 0x60, v);
			break;
		case 4:
			inb(&r, 0x60);
			break;
		case 5: {
			uint8_t s = status(&r);
			cr_assert_eq(s & (ST_IBF | ST_PARITY), 0);
			cr_assert(s & ST_UNLOCK);
			break;
		}
		case 6: {
			uint8_t b[24];
			size_t n = lcg(&seed) % sizeof(b);
			for (size_t j = 0; j < n; j++)
				b[j] = lcg(&seed);
			key(&r, b, n);
			/* and the host mouse, anything at all */
			i8042_mouse(r.kbc, (int)lcg(&seed), (int)lcg(&seed),
				    (int)lcg(&seed), lcg(&seed));
			break;
		}
		default: {
			uint32_t w = lcg(&seed);
			bus_access(&r.io, 0x60 + (x >> 8) % 8, 1 << (v % 3),
				   v & 1, &w, 1);
			break;
		}
		}
		cr_assert_leq(i8042_queued(r.kbc),
			      1 + 4 + 16 + 64); /* + the mouse queue */
	}
	/* Still a working controller afterwards. */
	while (status(&r) & ST_OBF)
		inb(&r, 0x60);
	cr_assert_eq(command_reply(&r, 0xaa), 0x55);
	rig_fini(&r);
}
