/*
 * The shared part of minivmm's libFuzzer harnesses (tests/fuzz/fuzz_*.c):
 * a fake PC built from the real hw/ and ioreq/ code without KVM (port and
 * MMIO buses, guest RAM and a read-only "ROM" region, a manual clock, a
 * PIC that records line levels, optionally PCI with the i440FX, the PIIX3
 * and the 0xCF9 reset register), in-memory block and network backends, and
 * the one action encoding every harness uses to turn its input into guest
 * actions.
 *
 * Input encoding (the same for every harness; docs/FUZZING.md):
 *
 *   byte 0        harness configuration bits (which drives, ISA or PCI,
 *                 vnet header ...; each harness says what they mean)
 *   byte 1 ...    actions, until the input ends or FZ_MAX_ACTIONS ran
 *
 * An action is an op byte, kind = op & 0x0f, a = op >> 4, then operands.
 * Operands are little-endian; one cut off by the end of the input reads
 * as zero bytes. size = 1 << (a & 3) (1, 2, 4, 8 bytes); port I/O and
 * configuration cycles turn 8 into 4, as x86 has no 8-byte port access.
 *
 *   0 IN        port:u16                      read  size bytes from a port
 *   1 OUT       port:u16 val:size             write size bytes to a port
 *   2 MMIO_RD   gpa:u32                       read  size bytes of MMIO
 *   3 MMIO_WR   gpa:u32 val:size              write size bytes of MMIO
 *   4 CFG_RD    devfn:u8 off:u8               conf1: 0xCF8 = bus 0 devfn
 *                                             off, then IN 0xCFC + off % 4
 *   5 CFG_WR    devfn:u8 off:u8 val:size      the same with OUT
 *   6 RAM_WR    gpa:u32 len:u8 bytes[len]     guest RAM bytes (descriptors,
 *                                             PRD tables, rings, frames)
 *   7 RAM_FILL  gpa:u32 len:u16 byte:u8       len + 1 bytes of one value
 *   8 INS       port:u16 count:u8             rep ins: count + 1 elements
 *   9 OUTS      port:u16 count:u8 bytes[...]  rep outs: (count + 1) * size
 *                                             bytes (string I/O moves at
 *                                             most 4096 bytes, as KVM's
 *                                             PIO page)
 *  10 CLOCK     ns:u16                        advance the clock by
 *                                             (ns + 1) << (3 * (a & 7))
 *                                             (up to ~137 s), firing timers;
 *                                             at most FZ_CLOCK_BUDGET in all
 *  11 BACKEND   -                             harness hook, a says what:
 *                                             complete block requests,
 *                                             deliver a frame ...
 *  12 AUX       -                             harness hook: anything else
 *                                             (INTA cycle, key press,
 *                                             medium change, reset ...)
 *  13 RAM_LE    gpa:u32 val:size              a little-endian value in RAM
 *                                             (ring index, descriptor field)
 *  14, 15       -                             nothing
 *
 * RAM addresses are taken modulo FZ_RAM_TOP, so every RAM action lands in
 * guest memory: RAM at [0, FZ_RAM_SIZE), read-only memory (DMA must not
 * write it) at [FZ_ROM_BASE, FZ_RAM_TOP). Bus addresses are used as given,
 * so devices also see accesses to nothing and DMA to addresses outside RAM.
 *
 * At the end of every input the harness drains its backends and frees the
 * whole machine, so leaks and use-after-free show up under ASan.
 */
#ifndef TESTS_FUZZ_FUZZ_COMMON_H
#define TESTS_FUZZ_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hw/block.h"
#include "hw/i440fx.h"
#include "hw/net.h"
#include "hw/pci.h"
#include "hw/piix3.h"
#include "hw/resetctl.h"
#include "ioreq/bus.h"
#include "ioreq/clock.h"
#include "ioreq/guestmem.h"

#define FZ_RAM_SIZE    0xc0000u /* 768 KiB of RAM from 0 */
#define FZ_ROM_BASE    0xc0000u
#define FZ_ROM_SIZE    0x40000u /* 256 KiB read-only to DMA */
#define FZ_RAM_TOP     (FZ_ROM_BASE + FZ_ROM_SIZE)
#define FZ_MAX_ACTIONS 4096
#define FZ_STR_MAX     4096 /* bytes of one string I/O */
/*
 * Virtual time one input may advance the clock by. The manual clock fires
 * every deadline on time, so a guest's 8254 at its fastest rate (an edge
 * every 10 us) costs a timer callback per 10 us: 10 s is a million of them,
 * a fraction of a second. Unbounded, one input of 137 s steps ran for
 * minutes: a slow input, not a device bug (the host clock coalesces).
 */
#define FZ_CLOCK_BUDGET 10000000000ll

enum fz_kind {
	FZ_IN,
	FZ_OUT,
	FZ_MMIO_RD,
	FZ_MMIO_WR,
	FZ_CFG_RD,
	FZ_CFG_WR,
	FZ_RAM_WR,
	FZ_RAM_FILL,
	FZ_INS,
	FZ_OUTS,
	FZ_CLOCK,
	FZ_BACKEND,
	FZ_AUX,
	FZ_RAM_LE,
};

struct fz;

/* What a harness adds to the common actions. Any may be NULL. */
struct fz_ops {
	void (*backend)(struct fz *f, unsigned a);
	void (*aux)(struct fz *f, unsigned a);
	/* After every action: abort() when a device invariant is broken
	 * (a logic bug the sanitizers cannot see). */
	void (*check)(struct fz *f);
};

/* Reports a broken invariant and aborts (a crash for libFuzzer). */
void fz_fail(const char *what, ...) __attribute__((format(printf, 1, 2)));

struct fz {
	/* The input. */
	const uint8_t *in;
	size_t len, pos;
	uint8_t config;
	/* The machine. */
	struct bus io, mmio;
	struct guest_mem gm;
	uint8_t *ram, *rom;
	struct vclock *clk;
	int pic[16]; /* level of each ISA IRQ line */
	struct irq_chip irq;
	struct pci_bus *pb; /* NULL without PCI */
	struct i440fx nb;
	struct piix3 sb;
	struct resetctl *rc;
	int resets;	    /* reset requests seen */
	int64_t clock_left; /* of FZ_CLOCK_BUDGET */
	uint64_t msis;
	/* Folded values read back, so reads are not optimised away. */
	uint64_t sink;
	const struct fz_ops *ops;
	void *dev; /* the harness's state */
};

/* A machine for one input: buses, RAM, clock, PIC; with pci also the PCI
 * bus, i440FX (00:00.0), PIIX3 (00:01.0) and 0xCF9. Exits on no memory. */
void fz_init(struct fz *f, const uint8_t *data, size_t size, bool pci);
/* Runs the actions of the input. */
void fz_run(struct fz *f, const struct fz_ops *ops, void *dev);
/* Frees what fz_init made (free the devices first). */
void fz_fini(struct fz *f);

/* Operands from the input (zero bytes past its end). */
uint8_t fz_u8(struct fz *f);
uint16_t fz_u16(struct fz *f);
uint32_t fz_u32(struct fz *f);
uint64_t fz_uint(struct fz *f, unsigned size);
/* Up to n bytes of input into buf, the rest zeros; returns bytes taken. */
size_t fz_bytes(struct fz *f, void *buf, size_t n);
bool fz_done(const struct fz *f);

/* A frame from the network for a BACKEND action, operands len:u16 n:u8
 * bytes[n]: len bytes (at most max), the first n of them from the input,
 * the rest zeros. Returns len. */
size_t fz_frame(struct fz *f, uint8_t *buf, size_t max);

/* A signal (reset request, A20, INTR) that only counts. */
struct signal fz_signal(struct fz *f);

/* An MSI sink that counts, and a per-vector sink that takes even vectors
 * and refuses odd ones (so both delivery paths run). */
struct msi_sink fz_msi(struct fz *f);
struct msix_vector_sink fz_msix_vectors(struct fz *f);

/* Programs a BAR and the command register of bus-0 function devfn with
 * configuration cycles, as firmware leaves it. */
void fz_cfg_write(struct fz *f, unsigned devfn, unsigned off, unsigned size,
		  uint32_t v);
void fz_setup_bar(struct fz *f, unsigned devfn, unsigned bar, uint32_t addr,
		  uint16_t command);

/* ---- in-memory block device: requests wait until completed ---- */

struct fz_blk {
	struct blk b;
	uint8_t *data;
	uint64_t cap; /* bytes backed by data; the rest reads as zeros */
	struct blk_req *head, *tail;
	int fail_submit; /* errno for the next submit (0: accept) */
	uint64_t moved;	 /* what a failed request claims it moved (any) */
};

/* An image of size bytes, the first cap of them stored in store (cleared
 * here; a static buffer, as a fresh allocation per input is slow). */
void fz_blk_init(struct fz_blk *k, uint64_t size, uint8_t *store, uint64_t cap,
		 bool readonly);
void fz_blk_fini(struct fz_blk *k);
/* Completes the oldest request with err (0: do it); false if none. */
bool fz_blk_complete(struct fz_blk *k, int err);
/*
 * BACKEND action for block devices: a & 7 = 0 complete one, 1 fail one
 * with -EIO, 2 with -EINVAL, 3 with -ENOSPC, 4 complete all, 5 make the
 * next submit fail with -EIO, 6-7 complete up to 4. A failed request
 * claims (a >> 3) * 1000 bytes moved, which may be more than it had.
 */
void fz_blk_action(struct fz_blk *k, unsigned a);

/* ---- network backend: counts what the NIC sends ---- */

struct fz_net {
	uint64_t sent, bytes, rx_ready;
	unsigned offloads;
	bool refuse_offload;
	uint64_t sink;
};

extern const struct net_backend_ops fz_net_ops;

#endif
