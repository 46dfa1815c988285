#include <criterion/criterion.h>

#include "hw/postcode.h"

Test(postcode, last_code_reads_back_and_counts)
{
	struct bus io;
	bus_init(&io, "port");
	struct postcode *p = postcode_new();
	cr_assert_not_null(p);
	cr_assert_eq(postcode_attach(p, &io), 0);
	cr_assert_null(bus_find(&io, 0x81));
	cr_assert_null(bus_find(&io, 0x7f));
	cr_assert_eq(postcode_last(p), 0);
	cr_assert_eq(postcode_count(p), 0);
	const uint8_t codes[] = {0x01, 0x10, 0x55, 0xaa, 0xff};
	for (size_t i = 0; i < sizeof(codes); i++) {
		uint8_t v = codes[i];
		bus_access(&io, 0x80, 1, true, &v, 1);
	}
	cr_assert_eq(postcode_last(p), 0xff);
	cr_assert_eq(postcode_count(p), 5);
	uint8_t v = 0;
	bus_access(&io, 0x80, 1, false, &v, 1);
	cr_assert_eq(v, 0xff);
	/* Linux io_delay: outb %al, $0x80 with whatever is in al. */
	v = 0x3c;
	bus_access(&io, 0x80, 1, true, &v, 1);
	cr_assert_eq(postcode_last(p), 0x3c);
	cr_assert_eq(postcode_count(p), 6);
	postcode_free(p);
	bus_destroy(&io);
}

Test(postcode, garbage_wide_and_string_accesses)
{
	struct bus io;
	bus_init(&io, "port");
	struct postcode *p = postcode_new();
	postcode_attach(p, &io);
	uint32_t seed = 0x80;
	uint64_t writes = 0;
	uint8_t last = 0;
	for (int i = 0; i < 100000; i++) {
		seed = seed * 1103515245u + 12345u;
		uint32_t x = seed >> 8;
		uint8_t buf[32];
		uint32_t n = 1 + x % 8;
		unsigned size = 1u << ((x >> 4) % 3);
		bool wr = x & 0x80;
		for (size_t j = 0; j < sizeof(buf); j++)
			buf[j] = (x >> 12) + j;
		/* Wider elements straddle the one-byte port and are split
		 * by the bus: the device sees each element's low byte. */
		bus_access(&io, 0x80, size, wr, buf, n);
		if (wr) {
			writes += n;
			last = buf[(n - 1) * size];
		} else {
			cr_assert_eq(buf[(n - 1) * size], last);
		}
	}
	cr_assert_eq(postcode_count(p), writes);
	cr_assert_eq(postcode_last(p), last);
	postcode_free(p);
	bus_destroy(&io);
}
