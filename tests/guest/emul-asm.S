/*
 * Assembly half of the emul test: the instructions that the minivmm
 * emulation assist completes when KVM's emulator refuses them (see
 * KVM-HOST-NOTES.md). 32-bit: iretd, 16-bit protected-mode iret, int3.
 * 64-bit (called through long_call): iretq to CPL0 and CPL3, lock
 * cmpxchg16b, and CPL3 helpers (native on this host only in long mode).
 * Results go to r64_* variables that emul.c checks.
 */
#include "sys.h"

	.text
	.code32

/* int test_iret32_same(void): iretd CPL0 -> CPL0 with CF set in the
 * popped EFLAGS; 1 if it landed at the target with CF set. */
	.globl	test_iret32_same
test_iret32_same:
	pushfl
	orl	$1, (%esp)
	pushl	$SEL_CODE32
	pushl	$1f
	iretl
	xorl	%eax, %eax
	ret
1:	setc	%al
	movzbl	%al, %eax
	ret

/* uint32_t test_iret16(void): far jump into a 16-bit code segment whose
 * base is pm16 (set by emul.c), iret (16-bit) to a label in it; returns
 * the CS seen there. */
	.globl	test_iret16, pm16
test_iret16:
	pushl	%ebx
	xorl	%ebx, %ebx
	ljmp	$SEL_CODE16, $0
	.code16
pm16:
	pushfw
	pushw	$SEL_CODE16
	pushw	$(pm16_after - pm16)
	iretw
	jmp	pm16_out
pm16_after:
	movw	%cs, %bx
pm16_out:
	ljmpl	$SEL_CODE32, $pm16_back
	.code32
pm16_back:
	movl	%ebx, %eax
	popl	%ebx
	ret

/* void test_int3(void): a one-byte int3 (0xCC); bp_handler records it. */
	.globl	test_int3, int3_next
test_int3:
	int3
int3_next:
	ret

	.globl	bp_handler
bp_handler:
	pushl	%eax
	movl	4(%esp), %eax
	movl	%eax, bp_eip
	incl	bp_count
	popl	%eax
	iret

	.code64
/* iretq CPL0 -> CPL0 (pops SS:RSP too in 64-bit mode), CF set in the
 * popped RFLAGS. */
	.globl	emul64_iretq_same
emul64_iretq_same:
	movl	$0, r64_iretq_same(%rip)
	movq	%rsp, %rax
	movl	%ss, %ecx
	pushq	%rcx
	pushq	%rax
	pushfq
	orq	$1, (%rsp)
	pushq	$SEL_CODE64
	leaq	1f(%rip), %rax
	pushq	%rax
	iretq
	ret
1:	setc	%al
	movzbl	%al, %eax
	movl	%eax, r64_iretq_same(%rip)
	ret

/* iretq to CPL3 (run_user64); the CPL3 side records CS and RFLAGS. */
	.globl	emul64_user_probe
emul64_user_probe:
	leaq	user_probe64(%rip), %rdi
	jmp	run_user64
user_probe64:
	movl	%cs, %eax
	movl	%eax, r64_user_cs(%rip)
	pushfq
	popq	%rax
	movl	%eax, r64_user_flags(%rip)
	ret

/* 0/0 on the x87 at CPL3: sets FSW.IE (masked, so no #MF). */
	.globl	emul64_fpu_invalid
emul64_fpu_invalid:
	leaq	user_fpu_invalid(%rip), %rdi
	jmp	run_user64
user_fpu_invalid:
	fldz
	fldz
	fdivp
	fstp	%st(0)
	ret

/* stmxcsr at CPL3. */
	.globl	emul64_user_stmxcsr
emul64_user_stmxcsr:
	leaq	user_stmxcsr(%rip), %rdi
	jmp	run_user64
user_stmxcsr:
	stmxcsr	r64_mxcsr(%rip)
	ret

/* int3 at CPL3; bp64_handler (DPL3 gate) counts it and iretq's back. */
	.globl	emul64_user_int3, bp64_handler
emul64_user_int3:
	leaq	user_int3(%rip), %rdi
	jmp	run_user64
user_int3:
	int3
	ret
bp64_handler:
	incl	r64_bp_count(%rip)
	pushq	%rax
	movq	8(%rsp), %rax
	movq	%rax, r64_bp_rip(%rip)
	popq	%rax
	iretq

/* lock cmpxchg16b: a success (memory == RDX:RAX) then a failure. */
	.globl	emul64_cx16
emul64_cx16:
	pushq	%rbx
	leaq	cx_mem(%rip), %rdi
	movabsq	$0x0123456789abcdef, %rax
	movabsq	$0xfedcba9876543210, %rdx
	movq	%rax, (%rdi)
	movq	%rdx, 8(%rdi)
	movabsq	$0x1122334455667788, %rbx
	movabsq	$0x99aabbccddeeff00, %rcx
	lock cmpxchg16b (%rdi)
	setz	%al
	movzbl	%al, %eax
	movl	%eax, r64_cx_ok_zf(%rip)
	movq	(%rdi), %rax
	movq	%rax, r64_cx_ok_mem(%rip)
	movq	8(%rdi), %rax
	movq	%rax, r64_cx_ok_mem+8(%rip)

	movabsq	$0x0123456789abcdef, %rax
	movabsq	$0xfedcba9876543210, %rdx
	movabsq	$0x5555555555555555, %rbx
	movabsq	$0x6666666666666666, %rcx
	lock cmpxchg16b (%rdi)
	setz	%cl
	movzbl	%cl, %ecx
	movl	%ecx, r64_cx_fail_zf(%rip)
	movq	%rax, r64_cx_fail_rax(%rip)
	movq	%rdx, r64_cx_fail_rdx(%rip)
	movq	(%rdi), %rax
	movq	%rax, r64_cx_fail_mem(%rip)
	movq	8(%rdi), %rax
	movq	%rax, r64_cx_fail_mem+8(%rip)
	popq	%rbx
	ret

	.data
	.align	16
cx_mem:
	.quad	0, 0
	.globl	r64_cx_ok_mem, r64_cx_fail_mem, r64_cx_fail_rax, r64_cx_fail_rdx
	.globl	r64_bp_rip
r64_cx_ok_mem:
	.quad	0, 0
r64_cx_fail_mem:
	.quad	0, 0
r64_cx_fail_rax:
	.quad	0
r64_cx_fail_rdx:
	.quad	0
r64_bp_rip:
	.quad	0
	.globl	r64_iretq_same, r64_user_cs, r64_user_flags, r64_mxcsr
	.globl	r64_bp_count, r64_cx_ok_zf, r64_cx_fail_zf, bp_eip, bp_count
r64_iretq_same:
	.long	0
r64_user_cs:
	.long	0
r64_user_flags:
	.long	0
r64_mxcsr:
	.long	0
r64_bp_count:
	.long	0
r64_cx_ok_zf:
	.long	0
r64_cx_fail_zf:
	.long	0
bp_eip:
	.long	0
bp_count:
	.long	0
