/*
 * Tests of the emulation assist (vmm/emulate/) against hand-built CPU
 * states, GDTs and page tables in a fake 2 MiB guest memory.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/emulate/emulate.h"

#define RAM_SIZE (2u << 20)
#define GDT	 0x1000
#define PML4	 0x10000
#define PDPT	 0x11000
#define PD	 0x12000
#define PT	 0x13000
#define PD32	 0x14000
#define PT32	 0x15000
#define PDPT_PAE 0x16000
#define PD_PAE	 0x17000
#define CODE	 0x8000
#define STK	 0x7000

#define PE (1u << 0)
#define MP (1u << 1)
#define EM (1u << 2)
#define TS (1u << 3)
#define NE (1u << 5)
#define WP (1u << 16)
#define PG (1u << 31)

static uint8_t *ram;
static struct emu_cpu cpu;
static char why[128];

static bool mread(void *o, uint64_t gpa, void *buf, size_t n)
{
	(void)o;
	if (gpa > RAM_SIZE || n > RAM_SIZE - gpa)
		return false;
	memcpy(buf, ram + gpa, n);
	return true;
}

static bool mwrite(void *o, uint64_t gpa, const void *buf, size_t n)
{
	(void)o;
	if (gpa > RAM_SIZE || n > RAM_SIZE - gpa)
		return false;
	memcpy(ram + gpa, buf, n);
	return true;
}

static const struct emu_mem mem = {.read = mread, .write = mwrite};

static void put(uint64_t gpa, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		ram[gpa + i] = v >> (8 * i);
}

static uint64_t get(uint64_t gpa, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)ram[gpa + i] << (8 * i);
	return v;
}

/* Descriptor specs of the test GDT, index = selector >> 3. */
struct dspec {
	uint32_t base, limit;
	uint8_t type, s, dpl, p, l, db, g;
};

static const struct dspec gdt[] = {
    [1] = {0, 0xfffff, 0xa, 1, 0, 1, 0, 1, 1},	/* 0x08 code32 ring 0 */
    [2] = {0, 0xfffff, 0x2, 1, 0, 1, 0, 1, 1},	/* 0x10 data ring 0 */
    [3] = {0, 0xfffff, 0xa, 1, 3, 1, 0, 1, 1},	/* 0x1b code32 ring 3 */
    [4] = {0, 0xfffff, 0x2, 1, 3, 1, 0, 1, 1},	/* 0x23 data ring 3 */
    [5] = {0, 0xffff, 0xa, 1, 0, 1, 0, 0, 0},	/* 0x28 code16 ring 0 */
    [6] = {0, 0xffff, 0x2, 1, 0, 1, 0, 0, 0},	/* 0x30 data16 ring 0 */
    [7] = {0, 0xfffff, 0xa, 1, 0, 1, 1, 0, 1},	/* 0x38 code64 ring 0 */
    [8] = {0, 0xfffff, 0xa, 1, 3, 1, 1, 0, 1},	/* 0x43 code64 ring 3 */
    [9] = {0, 0xfffff, 0xa, 1, 0, 0, 0, 1, 1},	/* 0x48 not present */
    [10] = {0, 0xfffff, 0xa, 1, 1, 1, 0, 1, 1}, /* 0x51 code32 ring 1 */
    [11] = {0, 0xfffff, 0x2, 1, 1, 1, 0, 1, 1}, /* 0x59 data ring 1 */
    [12] = {0, 0xfffff, 0x0, 1, 3, 1, 0, 1, 1}, /* 0x63 ro data ring 3 */
    [13] = {0, 0xfffff, 0xe, 1, 0, 1, 0, 1, 1}, /* 0x68 conforming */
};

static void write_gdt(void)
{
	for (unsigned i = 1; i < sizeof(gdt) / sizeof(gdt[0]); i++) {
		const struct dspec *d = &gdt[i];
		uint32_t lo = (d->limit & 0xffff) | (d->base & 0xffff) << 16;
		uint32_t hi = ((d->base >> 16) & 0xff) | d->type << 8 |
			      d->s << 12 | d->dpl << 13 | d->p << 15 |
			      (d->limit & 0xf0000) | d->l << 21 | d->db << 22 |
			      d->g << 23 | (d->base & 0xff000000);
		put(GDT + i * 8, lo, 4);
		put(GDT + i * 8 + 4, hi, 4);
	}
}

static struct kvm_segment seg(uint16_t sel)
{
	const struct dspec *d = &gdt[sel >> 3];

	return (struct kvm_segment){.selector = sel,
				    .base = d->base,
				    .limit = d->g ? (d->limit << 12) | 0xfff
						  : d->limit,
				    .type = d->type | 1,
				    .present = d->p,
				    .dpl = d->dpl,
				    .db = d->db,
				    .s = d->s,
				    .l = d->l,
				    .g = d->g};
}

static void write_page_tables(void)
{
	put(PML4, PDPT | 7, 8);
	put(PDPT, PD | 7, 8);
	put(PD, PT | 7, 8);
	for (unsigned i = 0; i < 512; i++)
		put(PT + i * 8, (uint64_t)i << 12 | 7, 8);
	/* 32-bit: PD32[0] -> PT32 identity mapping 0-4 MiB */
	put(PD32, PT32 | 7, 4);
	for (unsigned i = 0; i < 1024; i++)
		put(PT32 + i * 4, i << 12 | 7, 4);
	/* PAE: PDPT_PAE[0] -> PD_PAE[0] -> the 4-level PT */
	put(PDPT_PAE, PD_PAE | 1, 8);
	put(PD_PAE, PT | 7, 8);
}

static void reset(void)
{
	memset(ram, 0, RAM_SIZE);
	write_gdt();
	write_page_tables();
	memset(&cpu, 0, sizeof(cpu));
	memset(why, 0, sizeof(why));
}

static void setup(void)
{
	ram = malloc(RAM_SIZE);
	cr_assert_not_null(ram);
	reset();
}

static void teardown(void)
{
	free(ram);
}

static void code(const void *b, size_t n)
{
	memcpy(ram + CODE, b, n);
}

static void data_segs(uint16_t sel)
{
	cpu.sregs.ds = cpu.sregs.es = cpu.sregs.fs = cpu.sregs.gs =
	    cpu.sregs.ss = seg(sel);
}

static void mode_prot32(unsigned cpl)
{
	static const uint16_t cs[4] = {0x08, 0x51, 0, 0x1b};
	static const uint16_t ds[4] = {0x10, 0x59, 0, 0x23};

	cpu.sregs.cr0 = PE | 0x10;
	cpu.sregs.gdt.base = GDT;
	cpu.sregs.gdt.limit = 0x7f;
	cpu.sregs.cs = seg(cs[cpl]);
	data_segs(ds[cpl]);
	cpu.regs.rip = CODE;
	cpu.regs.rsp = STK;
	cpu.regs.rflags = 2;
}

static void mode_prot16(void)
{
	mode_prot32(0);
	cpu.sregs.cs = seg(0x28);
	data_segs(0x30);
}

static void mode_long(unsigned cpl)
{
	mode_prot32(cpl);
	cpu.sregs.cr0 |= PG;
	cpu.sregs.cr4 = 1u << 5;
	cpu.sregs.efer = (1u << 8) | (1u << 10);
	cpu.sregs.cr3 = PML4;
	cpu.sregs.cs = seg(cpl ? 0x43 : 0x38);
}

static void mode_real(void)
{
	struct kvm_segment s = {
	    .limit = 0xffff, .type = 3, .present = 1, .s = 1};
	cpu.sregs.cs = cpu.sregs.ds = cpu.sregs.es = cpu.sregs.fs =
	    cpu.sregs.gs = cpu.sregs.ss = s;
	cpu.sregs.cs.type = 0xb;
	cpu.sregs.cr0 = 0x10;
	cpu.regs.rip = CODE;
	cpu.regs.rsp = STK;
	cpu.regs.rflags = 2;
}

static enum emu_result step(void)
{
	return emu_step(&cpu, &mem, why, sizeof(why));
}

#define assert_fault(r, vec, err)                                              \
	do {                                                                   \
		cr_assert_eq(r, EMU_EXCEPTION, "%s", why);                     \
		cr_assert(cpu.exc_pending);                                    \
		cr_assert_eq(cpu.exc_vector, vec, "vector %u: %s",             \
			     cpu.exc_vector, why);                             \
		cr_assert_eq(cpu.exc_error, err, "error 0x%x", cpu.exc_error); \
		cr_assert_eq(cpu.regs.rip, CODE);                              \
	} while (0)

TestSuite(emulate, .init = setup, .fini = teardown);

/* ---- IRET ---- */

static void push_frame(uint64_t sp, unsigned os, const uint64_t *v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		put(sp + i * os, v[i], os);
}

Test(emulate, iretd_same_privilege)
{
	uint64_t f[] = {0x1234, 0x08, 0x203 | (1u << 21)};

	mode_prot32(0);
	code("\xcf", 1);
	push_frame(STK, 4, f, 3);
	cr_assert_eq(step(), EMU_DONE, "%s", why);
	cr_assert_eq(cpu.regs.rip, 0x1234);
	cr_assert_eq(cpu.regs.rsp, STK + 12);
	cr_assert_eq(cpu.regs.rflags, 0x203 | (1u << 21));
	cr_assert_eq(cpu.sregs.cs.selector, 0x08);
	cr_assert_eq(cpu.sregs.cs.limit, 0xffffffff);
	cr_assert_eq(cpu.sregs.cs.type, 0xb);
	cr_assert(cpu.sregs.cs.db && cpu.sregs.cs.g && cpu.sregs.cs.present);
	cr_assert(cpu.nmi_unblocked);
	/* the accessed bit was set in the descriptor */
	cr_assert(get(GDT + 8 + 5, 1) & 1);
}

Test(emulate, iret16_same_privilege)
{
	uint64_t f[] = {0x4321, 0x28, 0x0ac3};

	mode_prot16();
	cpu.regs.rsp = 0x1234fff0; /* only SP is used and changed */
	code("\xcf", 1);
	push_frame(0xfff0, 2, f, 3);
	cpu.regs.rflags = 0x2 | (1u << 18); /* AC survives a 16-bit pop */
	cr_assert_eq(step(), EMU_DONE, "%s", why);
	cr_assert_eq(cpu.regs.rip, 0x4321);
	cr_assert_eq(cpu.regs.rsp, 0x1234fff6);
	cr_assert_eq(cpu.regs.rflags, 0x0ac3 | (1u << 18));
	cr_assert_eq(cpu.sregs.cs.db, 0);
}

Test(emulate, iretd_to_cpl3)
{
	uint64_t f[] = {0x401000, 0x1b, 0x3202, 0x7ff0, 0x23};

	mode_prot32(0);
	cpu.sregs.fs = seg(0x23); /* DPL 3: kept */
	cpu.sregs.gs = seg(0x68); /* conforming code: kept */
	code("\xcf", 1);
	push_frame(STK, 4, f, 5);
	cr_assert_eq(step(), EMU_DONE, "%s", why);
	cr_assert_eq(cpu.regs.rip, 0x401000);
	cr_assert_eq(cpu.regs.rsp, 0x7ff0);
	cr_assert_eq(cpu.sregs.cs.selector, 0x1b);
	cr_assert_eq(cpu.sregs.cs.dpl, 3);
	cr_assert_eq(cpu.sregs.ss.selector, 0x23);
	cr_assert_eq(cpu.sregs.ss.dpl, 3);
	cr_assert_eq(cpu.regs.rflags, 0x3202); /* IOPL 3 loaded at CPL 0 */
	cr_assert_eq(cpu.sregs.ds.selector, 0);
	cr_assert(cpu.sregs.ds.unusable);
	cr_assert_eq(cpu.sregs.es.selector, 0);
	cr_assert_eq(cpu.sregs.fs.selector, 0x23);
	cr_assert(!cpu.sregs.fs.unusable);
	cr_assert_eq(cpu.sregs.gs.selector, 0x68);
	cr_assert(get(GDT + 4 * 8 + 5, 1) & 1);
}

Test(emulate, iret16_to_cpl3_keeps_high_esp)
{
	uint64_t f[] = {0x100, 0x1b, 0x202, 0x7ff0, 0x23};

	mode_prot16();
	cpu.regs.rsp = 0xabcd7000;
	code("\xcf", 1);
	push_frame(0x7000, 2, f, 5);
	cr_assert_eq(step(), EMU_DONE, "%s", why);
	/* new SS is 32-bit: full ESP from the 16-bit image */
	cr_assert_eq(cpu.regs.rsp, 0x7ff0);
	cr_assert_eq(cpu.sregs.ss.selector, 0x23);
}

Test(emulate, iretq_same_privilege)
{
	uint64_t f[] = {0xffff800000001000ull, 0x38, 0x46, 0x1ff000, 0x10};

	mode_long(0);
	cpu.regs.rsp = 0x100000;
	code("\x48\xcf", 2);
	push_frame(0x100000, 8, f, 5);
	cr_assert_eq(step(), EMU_DONE, "%s", why);
	cr_assert_eq(cpu.regs.rip, 0xffff800000001000ull);
	cr_assert_eq(cpu.regs.rsp, 0x1ff000);
	cr_assert_eq(cpu.regs.rflags, 0x46);
	cr_assert_eq(cpu.sregs.cs.selector, 0x38);
	cr_assert(cpu.sregs.cs.l);
	cr_assert_eq(cpu.sregs.ss.selector, 0x10);
	cr_assert_eq(cpu.sregs.ds.selector, 0x10);
}

Test(emulate, iretq_to_cpl3_and_null_ss)
{
	uint64_t f[] = {0x400000, 0x43, 0x202, 0x7fffff00, 0x23};
	uint64_t g[] = {0x1000, 0x38, 0x2, 0x5000, 0x0};

	mode_long(0);
	cpu.sregs.fs.base = 0x12345000; /* TLS base survives nulling */
	code("\x48\xcf", 2);
	push_frame(STK, 8, f, 5);
	cr_assert_eq(step(), EMU_DONE, "%s", why);
	cr_assert_eq(cpu.regs.rip, 0x400000);
	cr_assert_eq(cpu.regs.rsp, 0x7fffff00);
	cr_assert_eq(cpu.sregs.cs.dpl, 3);
	cr_assert_eq(cpu.sregs.ss.dpl, 3);
	cr_assert_eq(cpu.sregs.fs.selector, 0);
	cr_assert_eq(cpu.sregs.fs.base, 0x12345000);

	/* back to CPL0 64-bit code with a null SS: allowed */
	reset();
	mode_long(0);
	code("\x48\xcf", 2);
	push_frame(STK, 8, g, 5);
	cr_assert_eq(step(), EMU_DONE, "%s", why);
	cr_assert_eq(cpu.sregs.ss.selector, 0);
	cr_assert_eq(cpu.sregs.ss.dpl, 0);
	cr_assert_eq(cpu.regs.rsp, 0x5000);

	/* to CPL3 with a null SS: #GP(0) */
	reset();
	mode_long(0);
	code("\x48\xcf", 2);
	f[4] = 3;
	push_frame(STK, 8, f, 5);
	assert_fault(step(), 13, 0);
}

Test(emulate, iretq_non_canonical_rip)
{
	uint64_t f[] = {0x0000800000000000ull, 0x38, 0x2, 0x5000, 0x10};

	mode_long(0);
	code("\x48\xcf", 2);
	push_frame(STK, 8, f, 5);
	assert_fault(step(), 13, 0);
}

Test(emulate, iretd_from_long_mode_to_compat)
{
	/* 32-bit IRET in 64-bit mode: pops EIP, CS, EFLAGS, ESP, SS */
	uint64_t f[] = {0x2000, 0x1b, 0x202, 0x6000, 0x23};

	mode_long(0);
	code("\xcf", 1);
	push_frame(STK, 4, f, 5);
	cr_assert_eq(step(), EMU_DONE, "%s", why);
	cr_assert_eq(cpu.regs.rip, 0x2000);
	cr_assert_eq(cpu.regs.rsp, 0x6000);
	cr_assert_eq(cpu.sregs.cs.l, 0);
	cr_assert_eq(cpu.sregs.cs.db, 1);
	cr_assert_eq(cpu.sregs.ss.selector, 0x23);
}

Test(emulate, iret_bad_cs)
{
	uint64_t f[] = {0x1000, 0x10, 0x2}; /* data segment as CS */
	struct emu_cpu before;

	mode_prot32(0);
	code("\xcf", 1);
	push_frame(STK, 4, f, 3);
	before = cpu;
	assert_fault(step(), 13, 0x10);
	cr_assert(cpu.exc_has_error);
	cr_assert_eq(cpu.regs.rsp, before.regs.rsp);
	cr_assert_eq(memcmp(&cpu.sregs, &before.sregs, sizeof(before.sregs)),
		     0);

	put(STK + 4, 0x1008, 4); /* beyond the GDT limit */
	assert_fault(step(), 13, 0x1008);
	put(STK + 4, 0x0, 4); /* null */
	assert_fault(step(), 13, 0);
	put(STK + 4, 0x1b, 4); /* RPL 3 but DPL... fine; RPL < CPL case: */
	mode_prot32(3);
	put(STK + 4, 0x08, 4); /* return to ring 0 from ring 3 */
	assert_fault(step(), 13, 0x08);
	mode_prot32(0);
	put(STK + 4, 0x0c, 4); /* TI=1 without an LDT */
	assert_fault(step(), 13, 0x0c);
}

Test(emulate, iret_not_present_and_bad_ss)
{
	uint64_t f[] = {0x1000, 0x48, 0x2};
	uint64_t g[] = {0x1000, 0x1b, 0x2, 0x7000, 0x63}; /* read-only SS */

	mode_prot32(0);
	code("\xcf", 1);
	push_frame(STK, 4, f, 3);
	assert_fault(step(), 11, 0x48);
	push_frame(STK, 4, g, 5);
	assert_fault(step(), 13, 0x60);
	put(STK + 16, 0x10, 4); /* SS RPL 0 != CS RPL 3 */
	assert_fault(step(), 13, 0x10);
	put(STK + 4, 0x1000, 4); /* EIP beyond a 16-bit CS limit */
	put(STK + 4, 0x28, 4);
	put(STK, 0x10000, 4);
	assert_fault(step(), 13, 0);
}

Test(emulate, iret_nt_unhandled)
{
	uint64_t f[] = {0x1000, 0x08, 0x2};
	struct emu_cpu before;

	mode_prot32(0);
	cpu.regs.rflags = 2 | (1u << 14);
	code("\xcf", 1);
	push_frame(STK, 4, f, 3);
	before = cpu;
	cr_assert_eq(step(), EMU_UNHANDLED);
	cr_assert(strstr(why, "NT"), "%s", why);
	cr_assert_eq(memcmp(&cpu, &before, sizeof(cpu)), 0);

	/* in IA-32e mode NT is a #GP(0) */
	mode_long(0);
	cpu.regs.rflags = 2 | (1u << 14);
	assert_fault(step(), 13, 0);
}

Test(emulate, iret_if_iopl_rules)
{
	uint64_t f[] = {0x1000, 0x1b, 0x2 | (3u << 12)};
	uint64_t g[] = {0x1000, 0x51, 0x2 | (3u << 12) | (1u << 19)};

	/* CPL3, IOPL0: IF and IOPL are not changed */
	mode_prot32(3);
	cpu.regs.rflags = 0x202;
	code("\xcf", 1);
	push_frame(STK, 4, f, 3);
	cr_assert_eq(step(), EMU_DONE, "%s", why);
	cr_assert_eq(cpu.regs.rflags, 0x202);

	/* CPL1, IOPL1: IF cleared, IOPL and VIF untouched */
	mode_prot32(1);
	cpu.regs.rflags = 0x1202;
	push_frame(STK, 4, g, 3);
	cr_assert_eq(step(), EMU_DONE, "%s", why);
	cr_assert_eq(cpu.regs.rflags, 0x1002);

	/* CPL0: IOPL and VIF loaded, reserved bits dropped, bit 1 forced */
	mode_prot32(0);
	cpu.regs.rflags = 0x202;
	g[1] = 0x08;
	g[2] = (3u << 12) | (1u << 19) | (1u << 15) | (1u << 5) | 0xffc00000;
	push_frame(STK, 4, g, 3);
	cr_assert_eq(step(), EMU_DONE, "%s", why);
	cr_assert_eq(cpu.regs.rflags, 0x3002 | (1u << 19));
}

Test(emulate, iret_real_mode)
{
	uint64_t f[] = {0x0100, 0x2000, 0x0246};

	mode_real();
	cpu.regs.rsp = 0xfffa;
	code("\xcf", 1);
	push_frame(0xfffa, 2, f, 3);
	cr_assert_eq(step(), EMU_DONE, "%s", why);
	cr_assert_eq(cpu.regs.rip, 0x100);
	cr_assert_eq(cpu.sregs.cs.selector, 0x2000);
	cr_assert_eq(cpu.sregs.cs.base, 0x20000);
	cr_assert_eq(cpu.regs.rsp, 0);
	cr_assert_eq(cpu.regs.rflags, 0x246);
}

Test(emulate, iret_vm86)
{
	uint64_t f[] = {0x0100, 0x2000, 0x0046};

	mode_real();
	cpu.sregs.cr0 = PE | 0x10;
	cpu.regs.rflags = 0x2 | (1u << 17) | (3u << 12);
	code("\xcf", 1);
	push_frame(STK, 2, f, 3);
	cr_assert_eq(step(), EMU_DONE, "%s", why);
	cr_assert_eq(cpu.regs.rip, 0x100);
	cr_assert_eq(cpu.sregs.cs.base, 0x20000);
	cr_assert_eq(cpu.sregs.cs.dpl, 3);
	cr_assert_eq(cpu.regs.rflags, 0x46 | (1u << 17) | (3u << 12));

	/* IOPL < 3 without VME: #GP(0) */
	reset();
	mode_real();
	cpu.sregs.cr0 = PE | 0x10;
	cpu.regs.rflags = 0x2 | (1u << 17);
	code("\xcf", 1);
	assert_fault(step(), 13, 0);
}

Test(emulate, iretd_to_vm86)
{
	uint64_t f[] = {0x12340100, 0x2000, 0x20202, 0xfff0, 0x3000,
			0x4000,	    0x5000, 0x6000,  0x7000};

	mode_prot32(0);
	code("\xcf", 1);
	push_frame(STK, 4, f, 9);
	cr_assert_eq(step(), EMU_DONE, "%s", why);
	cr_assert_eq(cpu.regs.rip, 0x100);
	cr_assert_eq(cpu.regs.rsp, 0xfff0);
	cr_assert(cpu.regs.rflags & (1u << 17));
	cr_assert_eq(cpu.sregs.ss.base, 0x30000);
	cr_assert_eq(cpu.sregs.es.base, 0x40000);
	cr_assert_eq(cpu.sregs.ds.base, 0x50000);
	cr_assert_eq(cpu.sregs.fs.base, 0x60000);
	cr_assert_eq(cpu.sregs.gs.base, 0x70000);
	cr_assert_eq(cpu.sregs.gs.limit, 0xffff);
	cr_assert_eq(cpu.sregs.ss.dpl, 3);
}

Test(emulate, iret_stack_limit_ss_fault)
{
	mode_prot16();
	cpu.regs.rsp = 0xfffc; /* 6 bytes do not fit below the 64 KiB limit */
	code("\xcf", 1);
	assert_fault(step(), 12, 0);
}

/* ---- x87, MMX, SSE control ---- */

static void fpu_dirty_state(void)
{
	cpu.fpu.fcw = 0x027f;
	cpu.fpu.fsw = 0x38a5 | 0x8000; /* TOP 7, C3..., PE, ZE, IE, ES, B */
	cpu.fpu.ftwx = 0xc3;
	cpu.fpu.last_ip = 0x1234;
	cpu.fpu.last_dp = 0x5678;
	cpu.fpu.last_opcode = 0x55;
	cpu.fpu.mxcsr = 0x1f80;
}

Test(emulate, fninit_and_finit)
{
	mode_prot32(0);
	fpu_dirty_state();
	code("\xdb\xe3", 2);
	cr_assert_eq(step(), EMU_DONE, "%s", why);
	cr_assert_eq(cpu.fpu.fcw, 0x037f);
	cr_assert_eq(cpu.fpu.fsw, 0);
	cr_assert_eq(cpu.fpu.ftwx, 0);
	cr_assert_eq(cpu.fpu.last_ip, 0);
	cr_assert_eq(cpu.fpu.mxcsr, 0x1f80);
	cr_assert(cpu.fpu_dirty);
	cr_assert_eq(cpu.regs.rip, CODE + 2);

	/* FINIT = FWAIT; FNINIT done in one step (no pending exception) */
	mode_prot32(0);
	fpu_dirty_state();
	cpu.fpu.fsw &= ~0x8080;
	code("\x9b\xdb\xe3", 3);
	cr_assert_eq(step(), EMU_DONE, "%s", why);
	cr_assert_eq(cpu.regs.rip, CODE + 3);
	cr_assert_eq(cpu.fpu.fcw, 0x037f);
}

Test(emulate, fnclex_fnstsw_fnstcw_fldcw_ffree)
{
	mode_prot32(0);
	fpu_dirty_state();
	code("\xdb\xe2", 2);
	cr_assert_eq(step(), EMU_DONE, "%s", why);
	cr_assert_eq(cpu.fpu.fsw, 0x3800 | (0x38a5 & 0x4700));

	cpu.regs.rip = CODE;
	cpu.regs.rax = 0xdeadbeefcafe0000ull;
	code("\xdf\xe0", 2); /* fnstsw ax */
	cr_assert_eq(step(), EMU_DONE, "%s", why);
	cr_assert_eq(cpu.regs.rax, 0xdeadbeefcafe0000ull | cpu.fpu.fsw);

	cpu.regs.rip = CODE;
	cpu.regs.rbx = 0x3000;
	code("\xdd\x3b", 2); /* fnstsw [ebx] */
	cr_assert_eq(step(), EMU_DONE, "%s", why);
	cr_assert_eq(get(0x3000, 2), cpu.fpu.fsw);

	cpu.regs.rip = CODE;
	code("\xd9\x7b\x04", 3); /* fnstcw [ebx+4] */
	cr_assert_eq(step(), EMU_DONE, "%s", why);
	cr_assert_eq(get(0x3004, 2), 0x027f);

	/* fldcw unmasking the pending PE sets ES and B */
	cpu.regs.rip = CODE;
	cpu.fpu.fsw = 0x20;
	put(0x3008, 0x035f, 2);
	code("\xd9\x6b\x08", 3);
	cr_assert_eq(step(), EMU_DONE, "%s", why);
	cr_assert_eq(cpu.fpu.fcw, 0x035f);
	cr_assert_eq(cpu.fpu.fsw, 0x80a0);

	/* ffree st(1) with TOP = 6 frees physical register 7 */
	cpu.regs.rip = CODE;
	cpu.fpu.fsw = 6 << 11;
	cpu.fpu.ftwx = 0xff;
	code("\xdd\xc1", 2);
	cr_assert_eq(step(), EMU_DONE, "%s", why);
	cr_assert_eq(cpu.fpu.ftwx, 0x7f);
}

Test(emulate, fwait_rules)
{
	mode_prot32(0);
	code("\x9b\x90", 2);
	cr_assert_eq(step(), EMU_DONE, "%s", why);
	cr_assert_eq(cpu.regs.rip, CODE + 1);
	cr_assert(!cpu.fpu_dirty);

	/* pending unmasked exception with CR0.NE: #MF */
	cpu.regs.rip = CODE;
	cpu.sregs.cr0 |= NE;
	cpu.fpu.fsw = 0x8081;
	assert_fault(step(), 16, 0);
	cr_assert(!cpu.exc_has_error);

	/* without CR0.NE: completes as a no-op */
	cpu.sregs.cr0 &= ~NE;
	cr_assert_eq(step(), EMU_DONE, "%s", why);
	cr_assert_eq(cpu.regs.rip, CODE + 1);

	/* MP and TS: #NM; TS alone: no fault */
	cpu.regs.rip = CODE;
	cpu.fpu.fsw = 0;
	cpu.sregs.cr0 |= MP | TS;
	assert_fault(step(), 7, 0);
	cpu.sregs.cr0 &= ~MP;
	cr_assert_eq(step(), EMU_DONE, "%s", why);
}

Test(emulate, x87_nm_and_emms)
{
	mode_prot32(0);
	code("\xdb\xe3", 2);
	cpu.sregs.cr0 |= TS;
	assert_fault(step(), 7, 0);
	cpu.sregs.cr0 = PE | EM;
	assert_fault(step(), 7, 0);

	code("\x0f\x77", 2); /* emms: EM -> #UD, TS -> #NM */
	assert_fault(step(), 6, 0);
	cpu.sregs.cr0 = PE | TS;
	assert_fault(step(), 7, 0);
	cpu.sregs.cr0 = PE;
	cpu.fpu.ftwx = 0xff;
	cr_assert_eq(step(), EMU_DONE, "%s", why);
	cr_assert_eq(cpu.fpu.ftwx, 0);
	cr_assert_eq(cpu.regs.rip, CODE + 2);
}

Test(emulate, ldmxcsr_stmxcsr)
{
	mode_long(0);
	cpu.sregs.cr4 |= 1u << 9; /* OSFXSR */
	cpu.fpu.mxcsr = 0x1f80;
	cpu.regs.rax = 0x3000;
	put(0x3000, 0x1fbf, 4);
	code("\x0f\xae\x10", 3); /* ldmxcsr [rax] */
	cr_assert_eq(step(), EMU_DONE, "%s", why);
	cr_assert_eq(cpu.fpu.mxcsr, 0x1fbf);
	cr_assert(cpu.fpu_dirty);

	cpu.regs.rip = CODE;
	put(0x3000, 0x10000 | 0x1f80, 4);
	assert_fault(step(), 13, 0);
	cr_assert_eq(cpu.fpu.mxcsr, 0x1fbf);

	code("\x0f\xae\x58\x08", 4); /* stmxcsr [rax+8] */
	cr_assert_eq(step(), EMU_DONE, "%s", why);
	cr_assert_eq(get(0x3008, 4), 0x1fbf);
	cr_assert_eq(cpu.regs.rip, CODE + 4);

	cpu.regs.rip = CODE;
	cpu.sregs.cr0 |= TS;
	assert_fault(step(), 7, 0);
	cpu.sregs.cr0 &= ~TS;
	cpu.sregs.cr4 &= ~(1u << 9);
	assert_fault(step(), 6, 0);

	/* VEX: vstmxcsr [rax+12] needs CR4.OSXSAVE */
	code("\xc5\xf8\xae\x58\x0c", 5);
	assert_fault(step(), 6, 0);
	cpu.sregs.cr4 |= 1u << 18;
	cr_assert_eq(step(), EMU_DONE, "%s", why);
	cr_assert_eq(get(0x300c, 4), 0x1fbf);
	cr_assert_eq(cpu.regs.rip, CODE + 5);
}

/* ---- CLAC/STAC, INT3, INT n, INTO ---- */

Test(emulate, clac_stac)
{
	mode_long(0);
	code("\x0f\x01\xcb", 3);
	cr_assert_eq(step(), EMU_DONE, "%s", why);
	cr_assert(cpu.regs.rflags & (1u << 18));
	cr_assert_eq(cpu.regs.rip, CODE + 3);
	cpu.regs.rip = CODE;
	code("\x0f\x01\xca", 3);
	cr_assert_eq(step(), EMU_DONE, "%s", why);
	cr_assert(!(cpu.regs.rflags & (1u << 18)));

	mode_long(3);
	assert_fault(step(), 6, 0);
}

Test(emulate, int3_int_into)
{
	mode_long(0);
	code("\xcc", 1);
	cr_assert_eq(step(), EMU_EXCEPTION, "%s", why);
	cr_assert_eq(cpu.exc_vector, 3);
	cr_assert(cpu.exc_is_soft);
	cr_assert(!cpu.exc_is_intn);
	cr_assert(!cpu.exc_has_error);
	cr_assert_eq(cpu.regs.rip, CODE + 1);
	cr_assert_eq(cpu.exc_insn_len, 1);

	mode_prot32(0);
	code("\xcd\x80", 2);
	cr_assert_eq(step(), EMU_EXCEPTION, "%s", why);
	cr_assert_eq(cpu.exc_vector, 0x80);
	cr_assert(cpu.exc_is_intn);
	cr_assert_eq(cpu.regs.rip, CODE + 2);

	mode_prot32(0);
	code("\xce", 1);
	cr_assert_eq(step(), EMU_DONE, "%s", why); /* OF clear */
	cr_assert_eq(cpu.regs.rip, CODE + 1);
	cpu.regs.rip = CODE;
	cpu.regs.rflags |= 1u << 11;
	cr_assert_eq(step(), EMU_EXCEPTION, "%s", why);
	cr_assert_eq(cpu.exc_vector, 4);

	mode_long(0);
	assert_fault(step(), 6, 0); /* INTO is invalid in 64-bit mode */
}

/* ---- CMPXCHG8B/16B ---- */

Test(emulate, cmpxchg16b)
{
	mode_long(0);
	cpu.regs.rsi = 0x3000;
	put(0x3000, 0x1111, 8);
	put(0x3008, 0x2222, 8);
	cpu.regs.rax = 0x1111;
	cpu.regs.rdx = 0x2222;
	cpu.regs.rbx = 0xaaaa;
	cpu.regs.rcx = 0xbbbb;
	code("\xf0\x48\x0f\xc7\x0e", 5); /* lock cmpxchg16b [rsi] */
	cr_assert_eq(step(), EMU_DONE, "%s", why);
	cr_assert(cpu.regs.rflags & (1u << 6));
	cr_assert_eq(get(0x3000, 8), 0xaaaa);
	cr_assert_eq(get(0x3008, 8), 0xbbbb);
	cr_assert_eq(cpu.regs.rip, CODE + 5);

	/* failure loads RDX:RAX and clears ZF */
	cpu.regs.rip = CODE;
	cr_assert_eq(step(), EMU_DONE, "%s", why);
	cr_assert(!(cpu.regs.rflags & (1u << 6)));
	cr_assert_eq(cpu.regs.rax, 0xaaaa);
	cr_assert_eq(cpu.regs.rdx, 0xbbbb);

	/* misaligned: #GP(0) */
	cpu.regs.rip = CODE;
	cpu.regs.rsi = 0x3008;
	assert_fault(step(), 13, 0);

	/* register operand: #UD */
	code("\x48\x0f\xc7\xce", 4);
	assert_fault(step(), 6, 0);
}

Test(emulate, cmpxchg8b_32bit)
{
	mode_prot32(0);
	cpu.regs.rdi = 0x3004; /* 8-byte operand need not be aligned */
	put(0x3004, 0x0000000500000004ull, 8);
	cpu.regs.rax = 4;
	cpu.regs.rdx = 5;
	cpu.regs.rbx = 6;
	cpu.regs.rcx = 7;
	code("\x0f\xc7\x0f", 3);
	cr_assert_eq(step(), EMU_DONE, "%s", why);
	cr_assert_eq(get(0x3004, 8), 0x0000000700000006ull);
	cr_assert(cpu.regs.rflags & (1u << 6));
}

/* ---- paging ---- */

static uint64_t xlate(uint64_t lin, bool write, bool user, int *rc,
		      uint32_t *err)
{
	uint64_t gpa = ~0ull;

	*rc = emu_translate(&cpu, &mem, lin, write, user, &gpa, err);
	return gpa;
}

Test(emulate, walk_no_paging_and_32bit)
{
	int rc;
	uint32_t err;

	mode_prot32(0);
	cr_assert_eq(xlate(0x123456, false, false, &rc, &err), 0x123456);

	cpu.sregs.cr0 |= PG;
	cpu.sregs.cr3 = PD32;
	cr_assert_eq(xlate(0x5678, true, true, &rc, &err), 0x5678);
	cr_assert_eq(rc, 0);
	put(PT32 + 5 * 4, 0x9000 | 5, 4); /* read-only user page */
	cr_assert_eq(xlate(0x5010, false, true, &rc, &err), 0x9010);
	xlate(0x5010, true, true, &rc, &err);
	cr_assert_eq(rc, -1);
	cr_assert_eq(err, 0x7); /* P | W | U */
	/* supervisor write: allowed without WP, refused with WP */
	xlate(0x5010, true, false, &rc, &err);
	cr_assert_eq(rc, 0);
	cpu.sregs.cr0 |= WP;
	xlate(0x5010, true, false, &rc, &err);
	cr_assert_eq(rc, -1);
	cr_assert_eq(err, 0x3);
	put(PT32 + 6 * 4, 0, 4);
	xlate(0x6000, false, true, &rc, &err);
	cr_assert_eq(rc, -1);
	cr_assert_eq(err, 0x4);

	/* 4 MiB page with PSE (PSE-36 bits land above 4 GiB) */
	put(PD32 + 4, 0x00400000u | (1u << 13) | 0x87, 4);
	cpu.sregs.cr4 = 1u << 4;
	cr_assert_eq(xlate(0x412345, false, false, &rc, &err), 0x100412345ull);
	cr_assert_eq(rc, 0);
	cpu.sregs.cr4 = 0; /* PS ignored without PSE: a page table */
	xlate(0x412345, false, false, &rc, &err);
	cr_assert_eq(rc, -2); /* its "page table" is not RAM */
}

Test(emulate, walk_pae_and_long)
{
	int rc;
	uint32_t err;

	mode_prot32(0);
	cpu.sregs.cr0 |= PG;
	cpu.sregs.cr4 = 1u << 5;
	cpu.sregs.cr3 = PDPT_PAE;
	cr_assert_eq(xlate(0x1234, false, false, &rc, &err), 0x1234);
	put(PD_PAE + 8, 0x00200000 | 0x83, 8); /* 2 MiB page at 2 MiB */
	cr_assert_eq(xlate(0x2abcde, false, false, &rc, &err), 0x2abcde);
	xlate(0x40000000, false, false, &rc, &err); /* PDPTE 1 absent */
	cr_assert_eq(rc, -1);
	cr_assert_eq(err, 0);
	put(PT + 8, 0x1000 | 0x7 | (1ull << 63), 8); /* XD without NXE */
	xlate(0x1000, false, false, &rc, &err);
	cr_assert_eq(rc, -1);
	cr_assert_eq(err, 0x9); /* RSVD | P */

	mode_long(0);
	cpu.sregs.efer |= 1u << 11; /* NXE */
	cr_assert_eq(xlate(0x1000, false, true, &rc, &err), 0x1000);
	cr_assert_eq(rc, 0);
	uint64_t gpa;
	rc = emu_translate_ex(&cpu, &mem, 0x1000, EMU_ACC_FETCH | EMU_ACC_USER,
			      &gpa, &err);
	cr_assert_eq(rc, -1);
	cr_assert_eq(err, 0x15);	     /* P | U | I/D */
	put(PDPT + 8, 0x40000000 | 0x87, 8); /* 1 GiB page */
	cr_assert_eq(xlate(0x40000123, false, true, &rc, &err), 0x40000123);
	put(PDPT + 8, 0x40002000 | 0x87, 8); /* reserved bit 13 */
	xlate(0x40000123, false, true, &rc, &err);
	cr_assert_eq(err, 0xd);
	put(PML4 + 8, PDPT | 0x83, 8); /* PS in a PML4E is reserved */
	xlate(1ull << 39, true, false, &rc, &err);
	cr_assert_eq(err, 0xb);
	xlate(2ull << 39, true, false, &rc, &err);
	cr_assert_eq(err, 0x2);

	/* A/D bits are set only by the step, and only then */
	cr_assert(!(get(PT + 3 * 8, 8) & 0x60));
	cpu.regs.rbx = 0x3000;
	code("\xd9\x3b", 2); /* fnstcw [rbx] */
	cr_assert_eq(emu_step(&cpu, &mem, why, sizeof(why)), EMU_DONE);
	cr_assert_eq(get(PT + 3 * 8, 8) & 0x60, 0x60);
	cr_assert(get(PT + 8 * 8, 8) & 0x20);
}

Test(emulate, walk_five_level)
{
	int rc;
	uint32_t err;

	mode_long(0);
	cpu.sregs.cr4 |= 1u << 12; /* LA57 */
	cpu.sregs.cr3 = 0x18000;
	put(0x18000, PML4 | 7, 8);
	cr_assert_eq(xlate(0x2345, false, false, &rc, &err), 0x2345);
	cr_assert_eq(rc, 0);
	xlate(1ull << 48, false, false, &rc, &err);
	cr_assert_eq(rc, -1);
}

Test(emulate, page_fault_from_step_sets_cr2)
{
	struct emu_cpu before;

	mode_long(3);
	put(PT + 0x10 * 8, 0, 8);    /* 0x10000 not present */
	cpu.regs.rbx = 0xfff0 + 0xf; /* 2-byte store crosses into 0x10000 */
	ram[0xffff] = 0x55;
	code("\xd9\x3b", 2);
	before = cpu;
	assert_fault(step(), 14, 0x6); /* W | U, not present */
	cr_assert_eq(cpu.sregs.cr2, 0x10000);
	cr_assert_eq(ram[0xffff], 0x55); /* nothing half-written */
	cr_assert_eq(cpu.regs.rbx, before.regs.rbx);

	/* protection fault: store to a read-only user page */
	put(PT + 0x10 * 8, 0x10000 | 5, 8);
	cpu.regs.rbx = 0x10004;
	assert_fault(step(), 14, 0x7);
	cr_assert_eq(cpu.sregs.cr2, 0x10004);
}

Test(emulate, insn_crosses_page_boundary)
{
	static const uint8_t insn[] = {0xf0, 0x48, 0x0f, 0xc7, 0x0e};

	mode_long(0);
	cpu.regs.rip = 0x8ffd; /* 3 bytes on one page, 2 on the next */
	memcpy(ram + 0x8ffd, insn, sizeof(insn));
	cpu.regs.rsi = 0x3000;
	cr_assert_eq(step(), EMU_DONE, "%s", why);
	cr_assert_eq(cpu.regs.rip, 0x8ffd + 5);

	/* second page absent: #PF on the fetch, I/D with NXE */
	cpu.regs.rip = 0x8ffd;
	cpu.sregs.efer |= 1u << 11;
	put(PT + 9 * 8, 0, 8);
	cr_assert_eq(step(), EMU_EXCEPTION, "%s", why);
	cr_assert_eq(cpu.exc_vector, 14);
	cr_assert_eq(cpu.exc_error, 0x10);
	cr_assert_eq(cpu.sregs.cr2, 0x9000);
	cr_assert_eq(cpu.regs.rip, 0x8ffd);

	/* an instruction ending before the boundary never touches it */
	cpu.regs.rip = 0x8fff;
	ram[0x8fff] = 0xcc;
	cr_assert_eq(step(), EMU_EXCEPTION, "%s", why);
	cr_assert_eq(cpu.exc_vector, 3);
	cr_assert_eq(cpu.regs.rip, 0x9000);
}

Test(emulate, segment_limits_and_fetch)
{
	uint8_t buf[16];

	mode_prot16();
	cpu.regs.rbx = 0xffff; /* fnstcw [bx] crosses the 64 KiB limit */
	code("\xd9\x3f", 2);
	assert_fault(step(), 13, 0);
	code("\x36\xd9\x3f", 3); /* with SS: #SS(0) */
	assert_fault(step(), 12, 0);
	code("\x8b\xc0", 2); /* mov eax, eax: not emulated */
	cr_assert_eq(step(), EMU_UNHANDLED);
	cr_assert(strstr(why, "8b"), "%s", why);

	cr_assert_eq(emu_fetch(&cpu, &mem, buf, sizeof(buf)), 16);
	cr_assert_eq(buf[0], 0x8b);
	cpu.regs.rip = RAM_SIZE - 4;
	cr_assert_eq(emu_fetch(&cpu, &mem, buf, sizeof(buf)), 4);
}

Test(emulate, real_mode_addressing)
{
	mode_real();
	cpu.sregs.es.selector = 0x100;
	cpu.sregs.es.base = 0x1000;
	cpu.regs.rbp = 0x10;
	cpu.regs.rdi = 0x4;
	cpu.fpu.fcw = 0x1234;
	code("\x26\xd9\x7b\x02", 4); /* fnstcw es:[bp+di+2] */
	cr_assert_eq(step(), EMU_DONE, "%s", why);
	cr_assert_eq(get(0x1016, 2), 0x1234);
	cr_assert_eq(cpu.regs.rip, CODE + 4);
}

/* ---- garbage ---- */

static uint64_t rnd_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static void random_mode(void)
{
	memset(&cpu, 0, sizeof(cpu));
	switch (rnd() % 6) {
	case 0:
		mode_real();
		break;
	case 1:
		mode_real();
		cpu.sregs.cr0 |= PE;
		cpu.regs.rflags |= (1u << 17) | (rnd() & 0x3000);
		break;
	case 2:
		mode_prot16();
		break;
	case 3:
		mode_prot32(rnd() & 1 ? 3 : 0);
		break;
	default:
		mode_long(rnd() & 1 ? 3 : 0);
		if (rnd() & 1)
			cpu.sregs.cs = seg(0x08); /* compatibility mode */
		break;
	}
	cpu.regs.rflags |= rnd() & 0x3f7fd5;
	cpu.sregs.cr0 |= rnd() & (MP | EM | TS | NE | WP);
	cpu.sregs.cr4 |= rnd() & ((1u << 9) | (1u << 18) | (1u << 20) |
				  (1u << 21) | (1u << 12) | (1u << 4));
	if (rnd() % 8 == 0)
		cpu.sregs.cr3 = rnd() & 0x3ff000; /* wild page tables */
	if (rnd() % 8 == 0)
		cpu.sregs.gdt.limit = rnd();
	if (rnd() % 16 == 0)
		cpu.sregs.gdt.base = rnd();
	__u64 *g = &cpu.regs.rax;
	for (int i = 0; i < 16; i++)
		g[i] = rnd() % 4 ? rnd() & 0x1fffff : rnd();
	cpu.regs.rsp = rnd() % 4 ? 0x7000 + (rnd() & 0xff) : rnd();
	cpu.regs.rip = rnd() % 8 ? CODE + (rnd() & 0xfff) : rnd();
	cpu.fpu.fsw = rnd();
	cpu.fpu.fcw = rnd();
}

Test(emulate, garbage_never_crashes, .timeout = 120)
{
	struct emu_cpu before;
	int counts[3] = {0};

	/* random GDT entries above the fixed ones, random stack contents */
	for (unsigned i = 14 * 8; i < 0x800; i++)
		ram[GDT + i] = rnd();
	for (unsigned i = 0x6000; i < 0x8000; i++)
		ram[i] = rnd();
	for (unsigned i = 0x100000; i < 0x110000; i++)
		ram[i] = rnd();
	for (int it = 0; it < 100000; it++) {
		random_mode();
		if ((rnd() & 3) && cpu.regs.rip < RAM_SIZE - 16) {
			/* bias towards emulated opcodes, then random bytes */
			static const uint8_t first[] = {
			    0xcf, 0x9b, 0xdb, 0xdd, 0xd9, 0xdf, 0x0f, 0xcc,
			    0xcd, 0xce, 0x48, 0x66, 0xf0, 0xc5, 0xc4, 0x67};
			ram[cpu.regs.rip] = first[rnd() % sizeof(first)];
			for (int k = 1; k < 16; k++)
				ram[cpu.regs.rip + k] =
				    rnd() % 3 ? rnd()
					      : first[rnd() % sizeof(first)];
		}
		before = cpu;
		enum emu_result r =
		    emu_step(&cpu, &mem, why, it & 1 ? sizeof(why) : 0);
		cr_assert(r == EMU_DONE || r == EMU_EXCEPTION ||
			  r == EMU_UNHANDLED);
		counts[r]++;
		if (r == EMU_UNHANDLED) {
			cr_assert_eq(memcmp(&cpu, &before, sizeof(cpu)), 0);
		} else if (r == EMU_EXCEPTION) {
			cr_assert(cpu.exc_pending);
			cr_assert(cpu.exc_is_soft || cpu.exc_vector < 32);
			if (!cpu.exc_is_soft)
				cr_assert_eq(cpu.regs.rip, before.regs.rip);
		} else {
			cr_assert(!cpu.exc_pending);
			cr_assert(cpu.regs.rflags & 2);
		}
	}
	/* the mix really reached all three outcomes */
	cr_assert_gt(counts[EMU_DONE], 100);
	cr_assert_gt(counts[EMU_EXCEPTION], 100);
	cr_assert_gt(counts[EMU_UNHANDLED], 100);
}

Test(emulate, iret_faults_on_stack_and_gdt_pages)
{
	uint64_t f[] = {0x1000, 0x38, 0x2, 0x5000, 0x10};
	struct emu_cpu before;

	mode_long(0);
	code("\x48\xcf", 2);
	cpu.regs.rsp = 0x20ff8; /* frame crosses into an absent page */
	push_frame(0x20ff8, 8, f, 1);
	put(PT + 0x21 * 8, 0, 8);
	assert_fault(step(), 14, 0);
	cr_assert_eq(cpu.sregs.cr2, 0x21000);
	cr_assert_eq(cpu.regs.rsp, 0x20ff8);

	/* the GDT read is an implicit supervisor access, even at CPL 3 */
	reset();
	mode_long(0);
	code("\x48\xcf", 2);
	push_frame(STK, 8, f, 5);
	put(PT + 1 * 8, 0x1000 | 5, 8); /* GDT page read-only... */
	cr_assert_eq(step(), EMU_DONE, "%s", why);
	reset();
	mode_long(0);
	code("\x48\xcf", 2);
	push_frame(STK, 8, f, 5);
	put(PT + 1 * 8, 0, 8); /* ...or absent */
	assert_fault(step(), 14, 0);
	cr_assert_eq(cpu.sregs.cr2, GDT + 0x38);

	/* stack outside RAM: unhandled, nothing changed */
	reset();
	mode_prot32(0);
	code("\xcf", 1);
	cpu.regs.rsp = 0x40000000;
	before = cpu;
	cr_assert_eq(step(), EMU_UNHANDLED);
	cr_assert(strstr(why, "not RAM"), "%s", why);
	cr_assert_eq(memcmp(&cpu, &before, sizeof(cpu)), 0);
}

Test(emulate, single_step_trap_reported)
{
	mode_long(0);
	cpu.regs.rflags |= 1u << 8;
	code("\x0f\x01\xcb", 3);
	cr_assert_eq(step(), EMU_DONE, "%s", why);
	cr_assert(cpu.db_trap);
	cpu.regs.rip = CODE;
	cpu.regs.rflags &= ~(1u << 8);
	cr_assert_eq(step(), EMU_DONE, "%s", why);
	cr_assert(!cpu.db_trap);
}
