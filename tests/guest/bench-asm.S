/*
 * The benchmark's long-mode loop: N dword loads from the testdev MMIO page
 * at CPL3, bracketed by rdtsc. 64-bit CPL3 code runs natively on this
 * project's KVM host (32-bit CPL3 code is emulated there), but that host
 * does not honour IOPL for it, so the port loop stays in bench.c.
 */
#include "sys.h"

#define TESTDEV_MMIO 0xFEBFF000

	.text
	.code64
	.globl	bench64
bench64:
	leaq	bench64_user(%rip), %rdi
	jmp	run_user64

bench64_user:
	movl	bench_iterations(%rip), %ecx
	movl	$TESTDEV_MMIO, %esi
	rdtsc
	shlq	$32, %rdx
	orq	%rdx, %rax
	movq	%rax, %r9
1:	movl	(%rsi), %eax
	decl	%ecx
	jnz	1b
	rdtsc
	shlq	$32, %rdx
	orq	%rdx, %rax
	subq	%r9, %rax
	movq	%rax, bench_mmio64_cycles(%rip)
	ret

	.data
	.align	8
	.globl	bench_mmio64_cycles
bench_mmio64_cycles:
	.quad	0
