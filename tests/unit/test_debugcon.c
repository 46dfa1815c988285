#include <criterion/criterion.h>

#include "hw/debugcon.h"

struct dcsink {
	char buf[256];
	size_t n;
	uint64_t total;
	unsigned calls;
};

static void dc_sink(void *opaque, const uint8_t *b, size_t n)
{
	struct dcsink *s = opaque;
	for (size_t i = 0; i < n; i++)
		if (s->n < sizeof(s->buf) - 1)
			s->buf[s->n++] = b[i];
	s->total += n;
	s->calls++;
}

static void dc_outb(struct bus *io, uint16_t port, uint8_t v)
{
	bus_access(io, port, 1, true, &v, 1);
}

Test(debugcon, bytes_reach_callback_and_read_is_e9)
{
	struct bus io;
	struct dcsink s = {0};
	bus_init(&io, "port");
	struct debugcon *d =
	    debugcon_new((struct debugcon_out){.out = dc_sink, .opaque = &s});
	cr_assert_not_null(d);
	cr_assert_eq(debugcon_attach(d, &io, DEBUGCON_PORT), 0);
	cr_assert_eq(debugcon_attach(d, &io, DEBUGCON_SEABIOS_PORT), 0);
	cr_assert_null(bus_find(&io, 0xe8));
	cr_assert_null(bus_find(&io, 0xea));
	dc_outb(&io, 0xe9, 'h');
	dc_outb(&io, 0xe9, 'i');
	dc_outb(&io, 0x402, '!');
	cr_assert_str_eq(s.buf, "hi!");
	uint8_t v = 0;
	bus_access(&io, 0xe9, 1, false, &v, 1);
	cr_assert_eq(v, 0xe9);
	bus_access(&io, 0x402, 1, false, &v, 1);
	cr_assert_eq(v, 0xe9);
	cr_assert_eq(debugcon_bytes(d), 3);
	debugcon_free(d);
	bus_destroy(&io);
}

Test(debugcon, rep_outsb_in_one_call)
{
	struct bus io;
	struct dcsink s = {0};
	bus_init(&io, "port");
	struct debugcon *d =
	    debugcon_new((struct debugcon_out){.out = dc_sink, .opaque = &s});
	debugcon_attach(d, &io, 0xe9);
	const char msg[] = "SeaBIOS (version x)\n";
	struct bus_range *r =
	    bus_access(&io, 0xe9, 1, true, (void *)msg, sizeof(msg) - 1);
	cr_assert_not_null(r);
	cr_assert_eq(r->writes, 1, "write_str should take the burst whole");
	cr_assert_str_eq(s.buf, msg);
	cr_assert_eq(s.calls, 1, "one output call per burst, not per byte");
	/* A word write: only the low byte reaches the 8-bit port. */
	uint16_t w = 0x4241;
	bus_access(&io, 0xe9, 2, true, &w, 1);
	cr_assert_eq(s.buf[s.n - 1], 'A');
	cr_assert_eq(debugcon_bytes(d), sizeof(msg));
	debugcon_free(d);
	bus_destroy(&io);
}

Test(debugcon, no_callback_and_garbage)
{
	struct bus io;
	bus_init(&io, "port");
	struct debugcon *d = debugcon_new((struct debugcon_out){0});
	debugcon_attach(d, &io, 0xe9);
	uint32_t seed = 0xe9;
	uint8_t buf[64];
	uint64_t sent = 0;
	for (int i = 0; i < 100000; i++) {
		seed = seed * 1103515245u + 12345u;
		uint32_t x = seed >> 8;
		uint32_t n = 1 + x % 16;
		memset(buf, x & 0xff, sizeof(buf));
		if (x & 0x100000) {
			bus_access(&io, 0xe9, 1, false, buf, n);
			for (uint32_t j = 0; j < n; j++)
				cr_assert_eq(buf[j], 0xe9);
		} else {
			bus_access(&io, 0xe9, 1, true, buf, n);
			sent += n;
		}
	}
	cr_assert_eq(debugcon_bytes(d), sent);
	debugcon_free(d);
	bus_destroy(&io);
}
