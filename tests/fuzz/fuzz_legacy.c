/*
 * libFuzzer harness for the legacy PC platform devices: 8259 pair (with
 * ELCR), 8254 + port 0x61, MC146818 RTC/CMOS, 16550A UART at COM1, i8042
 * keyboard controller, port 0x92, the debug console (0xE9 and 0x402), POST
 * code port 0x80, the 0xCF9 reset register and the benchmark testdev
 * (port 0x3000, MMIO 0xFEBFF000). All ISA interrupts go
 * through the real 8259 model, whose INTR output is consumed by the AUX
 * INTA cycle. Encoding: tests/fuzz/fuzz_common.h.
 *
 * Config byte: bit 0 UART backend connected (tx callback present).
 * BACKEND: the serial line offers a&15 bytes of the input to the UART.
 * AUX a & 7: 0 INTA cycle, 1 key event (1-4 set-2 bytes from the input),
 * 2 8254 GATE input (u8: channel % 3, bit 7 level), 3 raw ISA line
 * (u8: line & 15, bit 7 level), 4 reset of every device,
 * 5 VMM-side CMOS write (index u8, value u8), 6-7 VMM-side CMOS read.
 */
#include <stdlib.h>

#include "hw/debugcon.h"
#include "hw/i8042.h"
#include "hw/i8254.h"
#include "hw/i8259.h"
#include "hw/mc146818.h"
#include "hw/port92.h"
#include "hw/postcode.h"
#include "hw/resetctl.h"
#include "hw/testdev.h"
#include "hw/uart16550.h"
#include "tests/fuzz/fuzz_common.h"

struct legacy {
	struct i8259 *pic;
	struct irq_chip isa;
	struct i8254 *pit;
	struct mc146818 *rtc;
	struct uart16550 *uart;
	struct i8042 *kbd;
	struct port92 *p92;
	struct debugcon *dbg;
	struct postcode *post;
	struct resetctl *rc;
	uint64_t sink;
};

static void uart_tx(void *opaque, uint8_t byte)
{
	struct legacy *l = opaque;
	l->sink += byte;
}

static void dbg_out(void *opaque, const uint8_t *buf, size_t n)
{
	struct legacy *l = opaque;
	for (size_t i = 0; i < n; i++)
		l->sink += buf[i];
}

static void backend(struct fz *f, unsigned a)
{
	struct legacy *l = f->dev;
	uint8_t buf[16];
	size_t n = fz_bytes(f, buf, a & 15);
	l->sink += uart16550_receive(l->uart, buf, n);
}

static void aux(struct fz *f, unsigned a)
{
	struct legacy *l = f->dev;
	switch (a & 7) {
	case 0:
		f->sink += i8259_ack(l->pic);
		break;
	case 1: {
		uint8_t key[4];
		unsigned n = (fz_u8(f) & 3) + 1;
		fz_bytes(f, key, n);
		i8042_key(l->kbd, key, n);
		break;
	}
	case 2: {
		uint8_t v = fz_u8(f);
		i8254_set_gate(l->pit, (v & 0x7f) % 3, v >> 7);
		break;
	}
	case 3: {
		uint8_t v = fz_u8(f);
		i8259_set_irq(l->pic, v & 15, v >> 7);
		break;
	}
	case 4:
		i8259_reset(l->pic);
		i8254_reset(l->pit);
		uart16550_reset(l->uart);
		i8042_reset(l->kbd);
		port92_reset(l->p92);
		resetctl_reset(l->rc);
		break;
	case 5: {
		uint8_t idx = fz_u8(f);
		mc146818_cmos_write(l->rtc, idx, fz_u8(f));
		break;
	}
	default:
		f->sink += mc146818_cmos_read(l->rtc, fz_u8(f));
		break;
	}
}

static const struct fz_ops ops = {.backend = backend, .aux = aux};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f;
	struct legacy l = {0};
	fz_init(&f, data, size, false);
	l.pic = i8259_new(fz_signal(&f));
	l.isa = i8259_irq_chip(l.pic);
	l.pit = i8254_new(f.clk, &l.isa);
	l.rtc = mc146818_new(f.clk, &l.isa);
	struct uart_backend ube = {f.config & 1 ? uart_tx : NULL, NULL, &l};
	l.uart = uart16550_new(f.clk, &l.isa, UART16550_COM1_IRQ, ube);
	l.kbd = i8042_new(&l.isa, fz_signal(&f), fz_signal(&f));
	l.p92 = port92_new(fz_signal(&f), fz_signal(&f));
	l.dbg = debugcon_new((struct debugcon_out){dbg_out, &l});
	l.post = postcode_new();
	l.rc = resetctl_new(fz_signal(&f));
	if (!l.pic || !l.pit || !l.rtc || !l.uart || !l.kbd || !l.p92 ||
	    !l.dbg || !l.post || !l.rc || i8259_attach(l.pic, &f.io) ||
	    i8254_attach(l.pit, &f.io) || mc146818_attach(l.rtc, &f.io) ||
	    uart16550_attach(l.uart, &f.io, UART16550_COM1_BASE) ||
	    i8042_attach(l.kbd, &f.io) || port92_attach(l.p92, &f.io) ||
	    debugcon_attach(l.dbg, &f.io, DEBUGCON_PORT) ||
	    debugcon_attach(l.dbg, &f.io, DEBUGCON_SEABIOS_PORT) ||
	    postcode_attach(l.post, &f.io) || resetctl_attach(l.rc, &f.io) ||
	    testdev_attach(&f.io, &f.mmio))
		abort();
	mc146818_set_memory(l.rtc, FZ_RAM_SIZE, 0);

	fz_run(&f, &ops, &l);

	resetctl_free(l.rc);
	postcode_free(l.post);
	debugcon_free(l.dbg);
	port92_free(l.p92);
	i8042_free(l.kbd);
	uart16550_free(l.uart);
	mc146818_free(l.rtc);
	i8254_free(l.pit);
	i8259_free(l.pic);
	fz_fini(&f);
	return 0;
}
