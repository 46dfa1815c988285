/*
 * Byte order: reading and writing little- and big-endian integers of any
 * size in byte buffers (register files, firmware tables, SCSI CDBs,
 * fw_cfg). One copy for the whole tree.
 */
#ifndef MINIVMM_BYTES_H
#define MINIVMM_BYTES_H

#include <stdint.h>

static inline uint64_t get_le(const void *buf, unsigned size)
{
	const uint8_t *p = buf;
	uint64_t v = 0;
	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static inline void put_le(void *buf, unsigned size, uint64_t v)
{
	uint8_t *p = buf;
	for (unsigned i = 0; i < size; i++)
		p[i] = v >> (8 * i);
}

static inline uint64_t get_be(const void *buf, unsigned size)
{
	const uint8_t *p = buf;
	uint64_t v = 0;
	for (unsigned i = 0; i < size; i++)
		v = v << 8 | p[i];
	return v;
}

static inline void put_be(void *buf, unsigned size, uint64_t v)
{
	uint8_t *p = buf;
	for (unsigned i = 0; i < size; i++)
		p[i] = v >> (8 * (size - 1 - i));
}

#endif
