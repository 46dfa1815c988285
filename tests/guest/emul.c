/*
 * emul: one PASS/FAIL line per instruction that the minivmm emulation
 * assist may have to complete (KVM-HOST-NOTES.md): iretd to the same and
 * to an outer privilege level, the 16-bit protected-mode iret, x87
 * control instructions, ldmxcsr/stmxcsr, clac/stac, int3; then in long
 * mode (emul-asm.S) iretq and lock cmpxchg16b. On a VT-x/AMD-V host the
 * CPU runs them itself and the same results are expected.
 */
#include "lib.h"
#include "sys.h"

#define EFLAGS_AC (1u << 18)

extern int test_iret32_same(void);
extern uint32_t test_iret16(void);
extern void test_int3(void);
extern void long_mode_tests(void) __attribute__((noreturn));
extern char int3_next[], bp_handler[], int80_64[], pm16[];
extern volatile uint32_t bp_eip, bp_count;
extern const uint32_t exc64_stub_table[32];
extern struct {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed)) idt64_desc;

static volatile uint32_t user_cs, user_eflags, user_mxcsr;

static void user_probe(void)
{
	uint32_t cs, fl;

	asm volatile("movl %%cs, %0; pushfl; popl %1" : "=r"(cs), "=r"(fl));
	user_cs = cs;
	user_eflags = fl;
}

static void test_iret32(void)
{
	int r = test_iret32_same();

	check(r == 1, "iret32-same", "iretd CPL0->CPL0 result %d", r);
	user_cs = 0;
	run_user(user_probe);
	check(user_cs == SEL_UCODE32 && (user_eflags & 0x3000) == 0x3000,
	      "iret32-to-cpl3", "CS %x EFLAGS %x at CPL3", user_cs,
	      user_eflags);
	check(!int80_fault, "int80-from-cpl3", "int $0x80 raised vector %x",
	      int80_fault);
	gdt[SEL_CODE16 / 8] = seg_desc((uint32_t)pm16, 0xFFFF, 0x9A);
	r = (int)test_iret16();
	check(r == SEL_CODE16, "iret16-pm", "CS %x after 16-bit iret", r);
}

/* At CPL3 (native here): 0/0 sets FSW.IE, masked so no #MF. */
static void user_fpu_invalid(void)
{
	asm volatile("fldz; fldz; fdivp; fstp %%st(0)" ::: "memory");
}

static void test_x87(void)
{
	uint16_t cw = 0, sw = 0xFFFF, sw_ax = 0xFFFF, newcw = 0x0F7F;
	uint16_t cw2 = 0, sw_exc = 0, sw_clr = 0xFFFF;

	asm volatile("fninit; fnstcw %0; fnstsw %1; fnstsw %%ax"
		     : "=m"(cw), "=m"(sw), "=a"(sw_ax));
	check(cw == 0x037F && sw == 0 && sw_ax == 0, "x87-fninit",
	      "FCW %x FSW %x/%x after fninit", cw, sw, sw_ax);
	asm volatile("fldcw %1; fwait; fnstcw %0" : "=m"(cw2) : "m"(newcw));
	check(cw2 == 0x0F7F, "x87-fldcw", "FCW %x after fldcw 0f7f", cw2);
	newcw = 0x037F;
	asm volatile("fldcw %0; fwait" : : "m"(newcw));
	pass("x87-fwait");
	run_user(user_fpu_invalid);
	asm volatile("fnstsw %0; fnclex; fnstsw %1"
		     : "=m"(sw_exc), "=m"(sw_clr));
	check((sw_exc & 1) && !(sw_clr & 0x80FF), "x87-fnclex",
	      "FSW %x after 0/0 at CPL3, %x after fnclex", sw_exc, sw_clr);
	asm volatile("emms; fnstcw %0" : "=m"(cw));
	check(cw == 0x037F, "x87-emms", "FCW %x after emms", cw);
}

static void user_stmxcsr(void)
{
	uint32_t m;

	asm volatile("stmxcsr %0" : "=m"(m));
	user_mxcsr = m;
}

static void test_mxcsr(void)
{
	uint32_t r[4], m0 = 0, m1 = 0, v = 0x9F80, cr4;

	cpuid(1, 0, r);
	if (!(r[3] & (1u << 25))) {
		skip("mxcsr", "no SSE in CPUID");
		return;
	}
	asm volatile("movl %%cr4, %0" : "=r"(cr4));
	asm volatile("movl %0, %%cr4" : : "r"(cr4 | 0x600));
	asm volatile("stmxcsr %0" : "=m"(m0));
	asm volatile("ldmxcsr %1; stmxcsr %0" : "=m"(m1) : "m"(v));
	check(m0 == 0x1F80 && m1 == 0x9F80, "mxcsr",
	      "MXCSR %x at reset (want 1f80), %x after ldmxcsr 9f80", m0, m1);
	user_mxcsr = 0;
	run_user(user_stmxcsr);
	check(user_mxcsr == 0x9F80, "mxcsr-cpl3",
	      "stmxcsr at CPL3 reads %x after ldmxcsr 9f80 at CPL0",
	      user_mxcsr);
	v = 0x1F80;
	asm volatile("ldmxcsr %0" : : "m"(v));
}

static void test_clac_stac(void)
{
	uint32_t r[4], set, clear;

	cpuid(0, 0, r);
	if (r[0] < 7) {
		skip("clac-stac", "no CPUID leaf 7");
		return;
	}
	cpuid(7, 0, r);
	if (!(r[1] & (1u << 20))) {
		skip("clac-stac", "no SMAP in CPUID leaf 7");
		return;
	}
	asm volatile("stac; pushfl; popl %0; clac; pushfl; popl %1"
		     : "=r"(set), "=r"(clear));
	check((set & EFLAGS_AC) && !(clear & EFLAGS_AC), "clac-stac",
	      "EFLAGS %x after stac, %x after clac", set, clear);
}

static void user_int3(void)
{
	asm volatile("int3" ::: "memory");
}

static void test_int3_bp(void)
{
	set_gate(3, (void (*)(void))bp_handler, 3);
	bp_count = 0;
	test_int3();
	check(bp_count == 1 && bp_eip == (uint32_t)int3_next, "int3",
	      "#BP handler ran %u times, saved EIP %x (want %x)", bp_count,
	      bp_eip, (uint32_t)int3_next);
	run_user(user_int3);
	check(bp_count == 2, "int3-cpl3", "#BP handler ran %u times (want 2)",
	      bp_count);
}

static uint64_t idt64[0x81 * 2] __attribute__((aligned(16)));
static uint32_t tss64[26];

static void set_gate64(unsigned vec, uint32_t off, unsigned dpl)
{
	idt64[vec * 2] =
	    (off & 0xFFFF) | ((uint32_t)SEL_CODE64 << 16) |
	    ((uint64_t)((off & 0xFFFF0000) | 0x8E00 | (dpl << 13)) << 32);
	idt64[vec * 2 + 1] = 0;
}

/* Identity map of the first 1 GiB with 2 MiB pages, user accessible. */
static void long_mode_setup(void)
{
	uint64_t *pml4 = (uint64_t *)PAGE_TABLES;
	uint64_t *pdpt = pml4 + 512, *pd = pml4 + 1024;
	uint32_t tss = (uint32_t)tss64;
	unsigned i;

	for (i = 0; i < 512; i++) {
		pml4[i] = 0;
		pdpt[i] = 0;
		pd[i] = ((uint64_t)i << 21) | 0x87; /* P RW US PS */
	}
	pml4[0] = (uint32_t)pdpt | 0x7;
	pdpt[0] = (uint32_t)pd | 0x7;
	for (i = 0; i < 32; i++)
		set_gate64(i, exc64_stub_table[i], 0);
	set_gate64(0x80, (uint32_t)int80_64, 3);
	idt64_desc.limit = sizeof(idt64) - 1;
	idt64_desc.base = (uint32_t)idt64;
	tss64[1] = TSS_STACK; /* RSP0 low half */
	tss64[25] = 104 << 16;
	gdt[SEL_TSS64 / 8] =
	    (103 & 0xFFFF) | ((uint64_t)(tss & 0xFFFFFF) << 16) |
	    ((uint64_t)0x89 << 40) | ((uint64_t)(tss >> 24) << 56);
	gdt[SEL_TSS64 / 8 + 1] = 0;
}

int main(void)
{
	test_iret32();
	test_x87();
	test_mxcsr();
	test_clac_stac();
	test_int3_bp();
	long_mode_setup();
	long_mode_tests();
}
