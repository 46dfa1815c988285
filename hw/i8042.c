/*
 * Intel 8042 keyboard controller ("KBC") with an MF2 PS/2 keyboard and a
 * PS/2 mouse on the auxiliary port (hw/ps2mouse.c), as on an IBM
 * PC/AT-compatible with PS/2 ports.
 *
 * Followed: the IBM PS/2 Hardware Interface Technical Reference (keyboard and
 * auxiliary device controller; keyboard chapter) for the status register,
 * command byte, output port, controller commands and keyboard commands.
 * Facts were checked against QEMU (hw/input/pckbd.c, ps2.c), Bochs
 * (iodev/keyboard.cc) and against what Linux (drivers/input/serio/i8042.c,
 * drivers/input/keyboard/atkbd.c) and SeaBIOS (src/hw/ps2port.c) do.
 *
 * Model:
 *  - The controller has one output buffer (what port 0x60 reads) fed from a
 *    small queue of its own replies, which take priority, and from the
 *    keyboard's FIFO. Keyboard bytes only move while the keyboard interface
 *    is enabled (command byte bit 4 clear), as a disabled interface holds the
 *    keyboard clock low. Everything happens instantly, so IBF is never set.
 *  - IRQ 1 / IRQ 12 follow the 8042's OBF interrupt outputs: the line is high
 *    while the output buffer holds keyboard (resp. aux) data and the command
 *    byte enables that interrupt. The PC wires them edge-triggered, so each
 *    rising edge is delivered as irq_pulse().
 *  - Translation (command byte bit 6): bytes from the keyboard pass through
 *    the 8042's set 2 -> set 1 table on their way into the output buffer; an
 *    0xF0 prefix is swallowed and sets bit 7 of the next byte. This also
 *    turns the keyboard ID AB 83 into AB 41, as real hardware does.
 *  - The aux port (0xA8/0xA7, 0xA9 test, 0xD3 loopback) has a PS/2 mouse:
 *    a byte written with 0xD4 goes to it (and enables the aux interface, as
 *    transmitting does), and its replies and movement packets reach the
 *    output buffer with AUX set in the status, while the aux interface is
 *    enabled (command byte bit 5 clear), after the controller's own replies
 *    and the keyboard's bytes.
 *  - Keyboard: scan code set 2 natively; set 1 is produced with the same
 *    table; set 3 is accepted but keys are still reported in set 2 codes.
 */
#include "hw/i8042.h"

#include "hw/ps2mouse.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Status register (read 0x64). */
#define STS_OBF	     0x01
#define STS_IBF	     0x02
#define STS_SYS	     0x04
#define STS_CMD	     0x08 /* last write went to 0x64 */
#define STS_UNLOCKED 0x10 /* keyboard not inhibited by the key lock */
#define STS_AUXOBF   0x20
#define STS_TIMEOUT  0x40

/* Command byte (controller RAM byte 0). */
#define CTR_KBDINT 0x01
#define CTR_AUXINT 0x02
#define CTR_SYS	   0x04
#define CTR_KBDDIS 0x10
#define CTR_AUXDIS 0x20
#define CTR_XLATE  0x40

/* Output port (P2). */
#define OUT_RESET_N 0x01 /* 0 holds the CPU in reset */
#define OUT_A20	    0x02
#define OUT_KBDOBF  0x10 /* IRQ 1 output */
#define OUT_AUXOBF  0x20 /* IRQ 12 output */
#define OUT_ONES    0xcc /* clock/data lines idle high */

/* Input port (P1): bit 7 = keyboard not inhibited. */
#define INPUT_PORT 0x80

/* Flags carried with a byte to the output buffer. */
#define OB_AUX	   0x01
#define OB_TIMEOUT 0x02

/* Keyboard replies. */
#define KBD_ACK	     0xfa
#define KBD_RESEND   0xfe
#define KBD_BAT_OK   0xaa
#define KBD_ECHO     0xee
#define KBD_OVERRUN2 0x00 /* sets 2 and 3 */
#define KBD_OVERRUN1 0xff /* set 1 */

#define CQ_SIZE 4  /* controller replies not yet in the output buffer */
#define KQ_SIZE 16 /* the keyboard's own buffer */
/* Key bytes stop here: room is kept for an overrun code and a reply. */
#define KQ_KEYS	 (KQ_SIZE - 4)
#define RAM_SIZE 32

#define DEFAULT_TYPEMATIC 0x2b /* 10.9 chars/s, 500 ms delay */

struct ps2kbd {
	uint8_t q[KQ_SIZE];
	unsigned head, count;
	uint8_t param_cmd; /* command waiting for its parameter byte, or 0 */
	uint8_t last;	   /* last byte transmitted, for 0xFE resend */
	uint8_t set;	   /* scan code set 1..3 */
	uint8_t leds, typematic;
	bool scanning;
	bool set1_break; /* set 1 conversion: 0xF0 seen */
};

struct cq_entry {
	uint8_t byte, flags;
};

struct i8042 {
	struct irq_chip irq;
	struct signal reset, a20;

	uint8_t ctr;
	uint8_t ram[RAM_SIZE]; /* bytes 1..31 of controller RAM */
	uint8_t outport;
	uint8_t pending_cmd; /* controller command waiting for a data byte */
	bool last_was_cmd;

	uint8_t ob, ob_flags;
	bool ob_full;
	bool xlate_break; /* translator swallowed an 0xF0 */
	bool kbd_line, aux_line;

	struct cq_entry cq[CQ_SIZE];
	unsigned cq_head, cq_count;

	struct ps2kbd kbd;
	struct ps2mouse *mouse;
};

/*
 * The 8042's scan code translation, indexed by the set 2 byte (0x00-0x7F);
 * bytes 0x80 and up pass unchanged except 0x83 (F7) and 0x84 (SysRq).
 * Row n holds set 2 codes 8n .. 8n+7.
 */
static const uint8_t xlate_low[128] = {
    0xff, 0x43, 0x41, 0x3f, 0x3d, 0x3b, 0x3c, 0x58, /* 00 */
    0x64, 0x44, 0x42, 0x40, 0x3e, 0x0f, 0x29, 0x59, /* 08 */
    0x65, 0x38, 0x2a, 0x70, 0x1d, 0x10, 0x02, 0x5a, /* 10 */
    0x66, 0x71, 0x2c, 0x1f, 0x1e, 0x11, 0x03, 0x5b, /* 18 */
    0x67, 0x2e, 0x2d, 0x20, 0x12, 0x05, 0x04, 0x5c, /* 20 */
    0x68, 0x39, 0x2f, 0x21, 0x14, 0x13, 0x06, 0x5d, /* 28 */
    0x69, 0x31, 0x30, 0x23, 0x22, 0x15, 0x07, 0x5e, /* 30 */
    0x6a, 0x72, 0x32, 0x24, 0x16, 0x08, 0x09, 0x5f, /* 38 */
    0x6b, 0x33, 0x25, 0x17, 0x18, 0x0b, 0x0a, 0x60, /* 40 */
    0x6c, 0x34, 0x35, 0x26, 0x27, 0x19, 0x0c, 0x61, /* 48 */
    0x6d, 0x73, 0x28, 0x74, 0x1a, 0x0d, 0x62, 0x6e, /* 50 */
    0x3a, 0x36, 0x1c, 0x1b, 0x75, 0x2b, 0x63, 0x76, /* 58 */
    0x55, 0x56, 0x77, 0x78, 0x79, 0x7a, 0x0e, 0x7b, /* 60 */
    0x7c, 0x4f, 0x7d, 0x4b, 0x47, 0x7e, 0x7f, 0x6f, /* 68 */
    0x52, 0x53, 0x50, 0x4c, 0x4d, 0x48, 0x01, 0x45, /* 70 */
    0x57, 0x4e, 0x51, 0x4a, 0x37, 0x49, 0x46, 0x54, /* 78 */
};

static uint8_t xlate_byte(uint8_t b)
{
	if (b < 0x80)
		return xlate_low[b];
	if (b == 0x83)
		return 0x41;
	if (b == 0x84)
		return 0x54;
	return b;
}

/*
 * One step of set 2 -> set 1 conversion. Returns false when the byte was an
 * 0xF0 prefix that produces nothing by itself.
 */
static bool xlate_step(uint8_t in, bool *brk, uint8_t *out)
{
	if (in == 0xf0) {
		*brk = true;
		return false;
	}
	*out = xlate_byte(in) | (*brk ? 0x80 : 0);
	*brk = false;
	return true;
}

/* ---- PS/2 keyboard ---------------------------------------------------- */

static void kq_clear(struct ps2kbd *k)
{
	k->head = k->count = 0;
}

/* Queues one byte from the keyboard; dropped when the buffer is full. */
static void kq_push(struct ps2kbd *k, uint8_t b)
{
	if (k->count == KQ_SIZE)
		return;
	k->q[(k->head + k->count) % KQ_SIZE] = b;
	k->count++;
}

static uint8_t kq_tail(const struct ps2kbd *k)
{
	return k->q[(k->head + k->count - 1) % KQ_SIZE];
}

static uint8_t kq_pop(struct ps2kbd *k)
{
	uint8_t b = k->q[k->head];
	k->head = (k->head + 1) % KQ_SIZE;
	k->count--;
	k->last = b;
	return b;
}

static void kbd_defaults(struct ps2kbd *k)
{
	k->set = 2;
	k->typematic = DEFAULT_TYPEMATIC;
	k->leds = 0;
	k->set1_break = false;
}

static void kbd_power_on(struct ps2kbd *k)
{
	memset(k, 0, sizeof(*k));
	kbd_defaults(k);
	k->scanning = true;
	k->last = KBD_BAT_OK;
}

/* Second byte of ED (LEDs), F3 (typematic) or F0 (scan code set). */
static void kbd_param(struct ps2kbd *k, uint8_t b)
{
	uint8_t cmd = k->param_cmd;

	k->param_cmd = 0;
	if (cmd == 0xed) {
		k->leds = b & 7;
		kq_push(k, KBD_ACK);
	} else if (cmd == 0xf3) {
		k->typematic = b & 0x7f;
		kq_push(k, KBD_ACK);
	} else if (b == 0) {
		kq_push(k, KBD_ACK);
		kq_push(k, k->set);
	} else if (b <= 3) {
		k->set = b;
		kq_push(k, KBD_ACK);
	} else {
		/* Not a set number: ask again and keep waiting for it. */
		kq_push(k, KBD_RESEND);
		k->param_cmd = cmd;
	}
}

static void kbd_command(struct ps2kbd *k, uint8_t b)
{
	switch (b) {
	case 0xed: /* set LEDs */
	case 0xf3: /* set typematic rate/delay */
		kq_push(k, KBD_ACK);
		k->param_cmd = b;
		break;
	case 0xee:
		kq_push(k, KBD_ECHO);
		break;
	case 0xf0: /* scan code set: the keyboard empties its buffer first */
		kq_clear(k);
		kq_push(k, KBD_ACK);
		k->param_cmd = b;
		break;
	case 0xf2: /* identify: MF2 keyboard */
		kq_push(k, KBD_ACK);
		kq_push(k, 0xab);
		kq_push(k, 0x83);
		break;
	case 0xf4: /* enable scanning */
		kq_clear(k);
		k->scanning = true;
		kq_push(k, KBD_ACK);
		break;
	case 0xf5: /* default and disable */
	case 0xf6: /* set default */
		kq_clear(k);
		kbd_defaults(k);
		k->scanning = b == 0xf6;
		kq_push(k, KBD_ACK);
		break;
	case 0xf7: /* set 3 key-type commands: accepted, no effect here */
	case 0xf8:
	case 0xf9:
	case 0xfa:
		kq_push(k, KBD_ACK);
		break;
	case 0xfe:
		kq_push(k, k->last);
		break;
	case 0xff: /* reset: acknowledge, then basic assurance test passed */
		kq_clear(k);
		kbd_defaults(k);
		k->scanning = true;
		kq_push(k, KBD_ACK);
		kq_push(k, KBD_BAT_OK);
		break;
	default:
		kq_push(k, KBD_RESEND);
		break;
	}
}

/*
 * Whether b is the parameter the pending command waits for. A command code
 * in its place aborts the pending command and runs instead; typematic values
 * never have bit 7 set.
 */
static bool is_param(uint8_t cmd, uint8_t b)
{
	if (cmd == 0xf3)
		return b < 0x80;
	return b < 0xed;
}

/* A byte the controller sends to the keyboard. */
static void kbd_write(struct ps2kbd *k, uint8_t b)
{
	if (k->param_cmd && is_param(k->param_cmd, b)) {
		kbd_param(k, b);
		return;
	}
	k->param_cmd = 0;
	kbd_command(k, b);
}

/* ---- controller ------------------------------------------------------- */

static void update_irq(struct i8042 *c)
{
	bool aux = c->ob_flags & OB_AUX;
	bool kl = c->ob_full && !aux && (c->ctr & CTR_KBDINT);
	bool al = c->ob_full && aux && (c->ctr & CTR_AUXINT);

	if (kl && !c->kbd_line)
		irq_pulse(&c->irq, I8042_KBD_IRQ);
	if (al && !c->aux_line)
		irq_pulse(&c->irq, I8042_AUX_IRQ);
	c->kbd_line = kl;
	c->aux_line = al;
}

/* Takes the next keyboard byte, translated if the command byte says so. */
static bool take_kbd_byte(struct i8042 *c, uint8_t *out)
{
	while (c->kbd.count) {
		uint8_t b = kq_pop(&c->kbd);
		if (!(c->ctr & CTR_XLATE)) {
			*out = b;
			return true;
		}
		if (xlate_step(b, &c->xlate_break, out))
			return true;
	}
	return false;
}

/* Moves the next pending byte into an empty output buffer. */
static void ob_refill(struct i8042 *c)
{
	if (!c->ob_full && c->cq_count) {
		struct cq_entry e = c->cq[c->cq_head];
		c->cq_head = (c->cq_head + 1) % CQ_SIZE;
		c->cq_count--;
		c->ob = e.byte;
		c->ob_flags = e.flags;
		c->ob_full = true;
	}
	if (!c->ob_full && !(c->ctr & CTR_KBDDIS) && take_kbd_byte(c, &c->ob)) {
		c->ob_flags = 0;
		c->ob_full = true;
	}
	if (!c->ob_full && !(c->ctr & CTR_AUXDIS) &&
	    ps2mouse_pending(c->mouse)) {
		c->ob = ps2mouse_read(c->mouse);
		c->ob_flags = OB_AUX;
		c->ob_full = true;
	}
	update_irq(c);
}

/* Queues a controller-generated byte; dropped if the guest never reads. */
static void reply(struct i8042 *c, uint8_t b, uint8_t flags)
{
	if (c->cq_count < CQ_SIZE) {
		c->cq[(c->cq_head + c->cq_count) % CQ_SIZE] =
		    (struct cq_entry){.byte = b, .flags = flags};
		c->cq_count++;
	}
	ob_refill(c);
}

static uint8_t read_outport(const struct i8042 *c)
{
	uint8_t v = c->outport & ~(OUT_KBDOBF | OUT_AUXOBF);

	if (c->kbd_line)
		v |= OUT_KBDOBF;
	if (c->aux_line)
		v |= OUT_AUXOBF;
	return v;
}

static void set_a20(struct i8042 *c, bool on)
{
	c->outport = on ? c->outport | OUT_A20 : c->outport & ~OUT_A20;
	signal_raise(&c->a20, on);
}

static void write_outport(struct i8042 *c, uint8_t v)
{
	c->outport = v;
	signal_raise(&c->a20, !!(v & OUT_A20));
	/* Last: the reset handler may reset this device synchronously. */
	if (!(v & OUT_RESET_N))
		signal_raise(&c->reset, 1);
}

/*
 * 0xAA. The reply is 0x55; like many real KBCs we also drop what was queued
 * and leave both interfaces disabled with interrupts off (guests restore the
 * command byte afterwards, as Linux and SeaBIOS do), and set the system flag.
 */
static void self_test(struct i8042 *c)
{
	c->cq_count = 0;
	c->ob_full = false;
	c->ob_flags = 0;
	c->xlate_break = false;
	c->ctr = (c->ctr & CTR_XLATE) | CTR_SYS | CTR_KBDDIS | CTR_AUXDIS;
	reply(c, 0x55, 0);
}

/* 0xF0-0xFF: bits 3..0 clear = pulse that output port line low. */
static void pulse_outport(struct i8042 *c, uint8_t cmd)
{
	if (!(cmd & OUT_RESET_N))
		signal_raise(&c->reset, 1);
}

static void controller_command(struct i8042 *c, uint8_t cmd)
{
	c->pending_cmd = 0;
	if (cmd >= 0xf0) {
		pulse_outport(c, cmd);
		return;
	}
	if (cmd == 0x20) {
		reply(c, c->ctr, 0);
		return;
	}
	if (cmd > 0x20 && cmd < 0x40) {
		reply(c, c->ram[cmd & 0x1f], 0);
		return;
	}
	if (cmd >= 0x60 && cmd < 0x80) {
		c->pending_cmd = cmd;
		return;
	}
	switch (cmd) {
	case 0xa7:
		c->ctr |= CTR_AUXDIS;
		break;
	case 0xa8:
		c->ctr &= ~CTR_AUXDIS;
		break;
	case 0xa9: /* aux clock/data lines test: lines fine, even if empty */
	case 0xab: /* keyboard interface test */
		reply(c, 0x00, 0);
		break;
	case 0xaa:
		self_test(c);
		break;
	case 0xad:
		c->ctr |= CTR_KBDDIS;
		break;
	case 0xae:
		c->ctr &= ~CTR_KBDDIS;
		ob_refill(c);
		break;
	case 0xc0:
		reply(c, INPUT_PORT, 0);
		break;
	case 0xd0:
		reply(c, read_outport(c), 0);
		break;
	case 0xd1:
	case 0xd2:
	case 0xd3:
	case 0xd4:
		c->pending_cmd = cmd;
		break;
	case 0xdd:
		set_a20(c, false);
		break;
	case 0xdf:
		set_a20(c, true);
		break;
	default:
		/* Unknown or vendor-specific: ignored, no reply. */
		break;
	}
}

static void write_ctr(struct i8042 *c, uint8_t v)
{
	if ((v ^ c->ctr) & CTR_XLATE)
		c->xlate_break = false;
	c->ctr = v;
	ob_refill(c);
}

/* A data byte written to 0x60. */
static void controller_data(struct i8042 *c, uint8_t v)
{
	uint8_t cmd = c->pending_cmd;

	c->pending_cmd = 0;
	if (cmd == 0x60) {
		write_ctr(c, v);
	} else if (cmd > 0x60 && cmd < 0x80) {
		c->ram[cmd & 0x1f] = v;
	} else if (cmd == 0xd1) {
		write_outport(c, v);
	} else if (cmd == 0xd2) {
		reply(c, v, 0);
	} else if (cmd == 0xd3) {
		reply(c, v, OB_AUX);
	} else if (cmd == 0xd4) {
		/* Transmitting enables the aux interface. */
		c->ctr &= ~CTR_AUXDIS;
		ps2mouse_write(c->mouse, v);
		ob_refill(c);
	} else {
		/* Sending to the keyboard re-enables its interface. */
		c->ctr &= ~CTR_KBDDIS;
		kbd_write(&c->kbd, v);
		ob_refill(c);
	}
}

static uint8_t read_status(const struct i8042 *c)
{
	uint8_t s = STS_UNLOCKED;

	if (c->ob_full) {
		s |= STS_OBF;
		if (c->ob_flags & OB_AUX)
			s |= STS_AUXOBF;
		if (c->ob_flags & OB_TIMEOUT)
			s |= STS_TIMEOUT;
	}
	if (c->ctr & CTR_SYS)
		s |= STS_SYS;
	if (c->last_was_cmd)
		s |= STS_CMD;
	return s;
}

/* Reading an empty output buffer returns the stale byte, as the chip does. */
static uint8_t read_data(struct i8042 *c)
{
	uint8_t v = c->ob;

	if (c->ob_full) {
		c->ob_full = false;
		c->ob_flags = 0;
		update_irq(c);
		ob_refill(c);
	}
	return v;
}

static uint64_t data_read(void *dev, uint64_t off, unsigned size)
{
	(void)off;
	(void)size;
	return read_data(dev);
}

static void data_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct i8042 *c = dev;
	(void)off;
	(void)size;
	c->last_was_cmd = false;
	controller_data(c, val & 0xff);
}

static uint64_t cmd_read(void *dev, uint64_t off, unsigned size)
{
	(void)off;
	(void)size;
	return read_status(dev);
}

static void cmd_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct i8042 *c = dev;
	(void)off;
	(void)size;
	c->last_was_cmd = true;
	controller_command(c, val & 0xff);
}

static const struct io_ops data_ops = {.read = data_read, .write = data_write};
static const struct io_ops cmd_ops = {.read = cmd_read, .write = cmd_write};

/* ---- public API ------------------------------------------------------- */

void i8042_reset(struct i8042 *c)
{
	memset(c->ram, 0, sizeof(c->ram));
	/* As QEMU: both interrupts enabled, no translation, A20 on. */
	c->ctr = CTR_KBDINT | CTR_AUXINT;
	c->outport = OUT_RESET_N | OUT_A20 | OUT_ONES;
	c->pending_cmd = 0;
	c->last_was_cmd = true;
	c->ob = 0;
	c->ob_flags = 0;
	c->ob_full = false;
	c->xlate_break = false;
	c->kbd_line = c->aux_line = false;
	c->cq_head = c->cq_count = 0;
	kbd_power_on(&c->kbd);
	ps2mouse_reset(c->mouse);
}

struct i8042 *i8042_new(const struct irq_chip *irq, struct signal reset,
			struct signal a20)
{
	struct i8042 *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->mouse = ps2mouse_new();
	if (!c->mouse) {
		free(c);
		return NULL;
	}
	if (irq)
		c->irq = *irq;
	c->reset = reset;
	c->a20 = a20;
	i8042_reset(c);
	return c;
}

void i8042_free(struct i8042 *c)
{
	if (!c)
		return;
	ps2mouse_free(c->mouse);
	free(c);
}

int i8042_attach(struct i8042 *c, struct bus *io)
{
	if (bus_register(io, I8042_DATA_PORT, 1, &data_ops, c, "i8042-data"))
		return -1;
	if (bus_register(io, I8042_CMD_PORT, 1, &cmd_ops, c, "i8042-cmd")) {
		bus_unregister(io, I8042_DATA_PORT, c);
		return -1;
	}
	return 0;
}

/* Converts a set 2 key event to the keyboard's current set. */
static size_t kbd_encode(struct ps2kbd *k, const uint8_t *in, size_t n,
			 uint8_t *out, size_t cap)
{
	size_t m = 0;

	for (size_t i = 0; i < n; i++) {
		uint8_t b = in[i];
		if (k->set == 1 && !xlate_step(in[i], &k->set1_break, &b))
			continue;
		if (m == cap)
			return SIZE_MAX;
		out[m++] = b;
	}
	return m;
}

void i8042_key(struct i8042 *c, const uint8_t *set2_bytes, size_t n)
{
	struct ps2kbd *k = &c->kbd;
	uint8_t buf[KQ_SIZE];
	uint8_t overrun = k->set == 1 ? KBD_OVERRUN1 : KBD_OVERRUN2;

	if (!k->scanning || !set2_bytes || n == 0)
		return;
	size_t m = kbd_encode(k, set2_bytes, n, buf, sizeof(buf));
	if (m != SIZE_MAX && k->count + m <= KQ_KEYS) {
		for (size_t i = 0; i < m; i++)
			kq_push(k, buf[i]);
	} else if (!k->count || kq_tail(k) != overrun) {
		/* Buffer overrun: the keyboard says so once, in-band. */
		kq_push(k, overrun);
	}
	ob_refill(c);
}

uint8_t i8042_leds(const struct i8042 *c)
{
	return c->kbd.leds;
}

size_t i8042_queued(const struct i8042 *c)
{
	return (c->ob_full ? 1 : 0) + c->cq_count + c->kbd.count +
	       ps2mouse_queued(c->mouse);
}

void i8042_mouse(struct i8042 *c, int dx, int dy, int dz, unsigned buttons)
{
	ps2mouse_event(c->mouse, dx, dy, dz, buttons);
	ob_refill(c);
}
