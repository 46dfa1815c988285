/*
 * emul: one PASS/FAIL line per instruction that the minivmm emulation
 * assist may have to complete (KVM-HOST-NOTES.md): iretd to the same and
 * to an outer privilege level, the 16-bit protected-mode iret, x87
 * control instructions, ldmxcsr/stmxcsr, clac/stac, int3; in long mode
 * iretq to CPL0 and CPL3 and lock cmpxchg16b. On a VT-x/AMD-V host the
 * CPU runs them itself and the same results are expected.
 *
 * This host delivers "int n" executed at CPL3 as #UD (KVM's emulator
 * cannot do a protected-mode software interrupt); that one outcome is
 * reported as SKIP, any other failure of the gate as FAIL.
 */
#include "lib.h"
#include "lm.h"
#include "sys.h"

#define EFLAGS_AC (1u << 18)
#define UD_VECTOR 6

extern int test_iret32_same(void);
extern uint32_t test_iret16(void);
extern void test_int3(void);
extern void emul64_iretq_same(void), emul64_user_probe(void);
extern void emul64_fpu_invalid(void), emul64_user_stmxcsr(void);
extern void emul64_user_int3(void), emul64_cx16(void);
extern char int3_next[], bp_handler[], bp64_handler[], pm16[];
extern volatile uint32_t bp_eip, bp_count;
extern volatile uint32_t r64_iretq_same, r64_user_cs, r64_user_flags;
extern volatile uint32_t r64_mxcsr, r64_bp_count, r64_cx_ok_zf;
extern volatile uint32_t r64_cx_fail_zf, user64_fault;
extern volatile uint64_t r64_cx_ok_mem[2], r64_cx_fail_mem[2];
extern volatile uint64_t r64_cx_fail_rax, r64_cx_fail_rdx, r64_bp_rip;
extern volatile uint64_t user64_fault_rip;

static volatile uint32_t user_cs, user_eflags;

/* The result of int $0x80 at CPL3 given the vector it faulted with. */
static void report_int80(const char *name, uint32_t fault)
{
	if (!fault)
		pass(name);
	else if (fault == (0x100 | UD_VECTOR))
		skip(name, "int n at CPL3 raised #UD (host KVM limitation)");
	else
		fail(name, "int $0x80 raised vector %x", fault & 0xFF);
}

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
	report_int80("int80-from-cpl3", int80_fault ? 0x100 | int80_fault : 0);
	gdt[SEL_CODE16 / 8] = seg_desc((uint32_t)pm16, 0xFFFF, 0x9A);
	r = (int)test_iret16();
	check(r == SEL_CODE16, "iret16-pm", "CS %x after 16-bit iret", r);
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
	/* Raise FSW.IE natively (CPL3 in long mode), then clear it here. */
	user64_fault = 0;
	long_call(emul64_fpu_invalid);
	asm volatile("fnstsw %0; fnclex; fnstsw %1"
		     : "=m"(sw_exc), "=m"(sw_clr));
	check((sw_exc & 1) && !(sw_clr & 0x80FF), "x87-fnclex",
	      "FSW %x after 0/0 at CPL3 (fault %x), %x after fnclex", sw_exc,
	      user64_fault, sw_clr);
	asm volatile("emms; fnstcw %0" : "=m"(cw));
	check(cw == 0x037F, "x87-emms", "FCW %x after emms", cw);
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
	r64_mxcsr = 0;
	long_call(emul64_user_stmxcsr);
	check(r64_mxcsr == 0x9F80, "mxcsr-cpl3",
	      "stmxcsr at CPL3 reads %x after ldmxcsr 9f80 at CPL0", r64_mxcsr);
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

static void test_int3_bp(void)
{
	set_gate(3, (void (*)(void))bp_handler, 0);
	bp_count = 0;
	test_int3();
	check(bp_count == 1 && bp_eip == (uint32_t)int3_next, "int3",
	      "#BP handler ran %u times, saved EIP %x (want %x)", bp_count,
	      bp_eip, (uint32_t)int3_next);
}

static void test_long_mode(void)
{
	long_mode_setup();
	long_call(emul64_iretq_same);
	check(r64_iretq_same == 1, "iretq-same", "iretq CPL0->CPL0 result %u",
	      r64_iretq_same);

	int80_64_fault = 0;
	long_call(emul64_user_probe);
	check((r64_user_cs & 3) == 3, "iretq-to-cpl3", "CS %x at CPL3",
	      r64_user_cs);
	if (r64_user_cs != SEL_UCODE64)
		gprintf(
		    "NOTE CPL3 code sees CS %x RFLAGS %x: this host runs it "
		    "with its own selectors\n",
		    r64_user_cs, r64_user_flags);
	if ((r64_user_flags & 0x3000) == 0x3000)
		pass("iretq-iopl3");
	else if (r64_user_cs != SEL_UCODE64)
		skip("iretq-iopl3", "host runs CPL3 code with its own RFLAGS");
	else
		fail("iretq-iopl3", "RFLAGS %x at CPL3", r64_user_flags);
	report_int80("int80-from-cpl3-64", int80_64_fault);

	lm_set_gate(3, (uint32_t)bp64_handler, 3);
	user64_fault = 0;
	long_call(emul64_user_int3);
	if (user64_fault == (0x100 | UD_VECTOR))
		skip("int3-cpl3", "int3 at CPL3 raised #UD (host limitation)");
	else
		check(r64_bp_count == 1 && !user64_fault, "int3-cpl3",
		      "#BP from CPL3: handler ran %u times, fault %x at %llx",
		      r64_bp_count, user64_fault, user64_fault_rip);

	long_call(emul64_cx16);
	check(r64_cx_ok_zf == 1 && r64_cx_ok_mem[0] == 0x1122334455667788ull &&
		  r64_cx_ok_mem[1] == 0x99aabbccddeeff00ull,
	      "cmpxchg16b-success", "ZF %u, memory %llx:%llx", r64_cx_ok_zf,
	      r64_cx_ok_mem[1], r64_cx_ok_mem[0]);
	check(r64_cx_fail_zf == 0 && r64_cx_fail_rax == r64_cx_ok_mem[0] &&
		  r64_cx_fail_rdx == r64_cx_ok_mem[1] &&
		  r64_cx_fail_mem[0] == r64_cx_ok_mem[0] &&
		  r64_cx_fail_mem[1] == r64_cx_ok_mem[1],
	      "cmpxchg16b-failure",
	      "ZF %u, RDX:RAX %llx:%llx, memory %llx:%llx", r64_cx_fail_zf,
	      r64_cx_fail_rdx, r64_cx_fail_rax, r64_cx_fail_mem[1],
	      r64_cx_fail_mem[0]);
}

int main(void)
{
	test_iret32();
	test_x87();
	test_mxcsr();
	test_clac_stac();
	test_int3_bp();
	test_long_mode();
	return 0;
}
