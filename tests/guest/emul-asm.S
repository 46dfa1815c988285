/*
 * Assembly half of the emul test: the instructions that the minivmm
 * emulation assist completes when KVM's emulator refuses them (see
 * KVM-HOST-NOTES.md): protected-mode iret (32-bit, 16-bit), int3, and in
 * long mode iretq and lock cmpxchg16b. The 64-bit part reports its own
 * PASS/FAIL lines and ends the test.
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

/*
 * void long_mode_tests(void): C has built the page tables (identity, user
 * accessible), IDT64 and the 64-bit TSS. Enter long mode, run the 64-bit
 * checks, print DONE and reset. Never returns.
 */
	.globl	long_mode_tests
long_mode_tests:
	movl	%cr4, %eax
	orl	$0x620, %eax		/* PAE | OSFXSR | OSXMMEXCPT */
	movl	%eax, %cr4
	movl	$PAGE_TABLES, %eax
	movl	%eax, %cr3
	movl	$0xC0000080, %ecx	/* EFER.LME */
	rdmsr
	orl	$0x100, %eax
	wrmsr
	movl	%cr0, %eax
	orl	$0x80000000, %eax
	movl	%eax, %cr0
	ljmp	$SEL_CODE64, $lm64

	.code64
lm64:
	lidt	idt64_desc(%rip)
	movw	$SEL_TSS64, %ax
	ltr	%ax
	movl	$KERNEL_STACK, %esp
	leaq	msg_lm(%rip), %rsi
	call	puts64

	/* iretq CPL0 -> CPL0: always pops SS:RSP in 64-bit mode. */
	movq	%rsp, %rax
	movl	%ss, %ecx
	pushq	%rcx
	pushq	%rax
	pushfq
	orq	$1, (%rsp)
	pushq	$SEL_CODE64
	leaq	1f(%rip), %rax
	pushq	%rax
	xorl	%r12d, %r12d
	iretq
	jmp	2f
1:	setc	%r12b
2:	leaq	name_iretq_same(%rip), %rdi
	call	report64

	/* iretq to CPL3, back through int $0x80. */
	movl	$0, user64_cs(%rip)
	movq	%rsp, kernel_rsp64(%rip)
	pushq	$SEL_UDATA
	pushq	$USER_STACK
	pushq	$USER_EFLAGS
	pushq	$SEL_UCODE64
	leaq	user64(%rip), %rax
	pushq	%rax
	iretq
user64:
	movl	%cs, %eax
	movl	%eax, user64_cs(%rip)
	pushfq
	popq	%rax
	movl	%eax, user64_flags(%rip)
	.globl	user64_int80
user64_int80:
	int	$0x80
	ud2
	.globl	int80_64
int80_64:
	movq	kernel_rsp64(%rip), %rsp
	movw	$SEL_DATA32, %ax
	movw	%ax, %ds
	movw	%ax, %es
	xorl	%r12d, %r12d
	cmpl	$SEL_UCODE64, user64_cs(%rip)
	jne	3f
	movl	user64_flags(%rip), %eax
	andl	$0x3000, %eax
	cmpl	$0x3000, %eax
	sete	%r12b
3:	leaq	name_iretq_user(%rip), %rdi
	call	report64
	xorl	%r12d, %r12d
	cmpl	$0, int80_64_fault(%rip)
	sete	%r12b
	leaq	name_int80_64(%rip), %rdi
	call	report64

	/* lock cmpxchg16b that succeeds: memory == RDX:RAX. */
	leaq	cx_mem(%rip), %rdi
	movabsq	$0x0123456789abcdef, %rax
	movabsq	$0xfedcba9876543210, %rdx
	movq	%rax, (%rdi)
	movq	%rdx, 8(%rdi)
	movabsq	$0x1122334455667788, %rbx
	movabsq	$0x99aabbccddeeff00, %rcx
	lock cmpxchg16b (%rdi)
	setz	%r12b
	cmpq	%rbx, (%rdi)
	setz	%r13b
	andb	%r13b, %r12b
	cmpq	%rcx, 8(%rdi)
	setz	%r13b
	andb	%r13b, %r12b
	leaq	name_cx16_ok(%rip), %rdi
	call	report64

	/* ... and one that fails: RDX:RAX gets the memory, memory kept. */
	leaq	cx_mem(%rip), %rdi
	movabsq	$0x0123456789abcdef, %rax
	movabsq	$0xfedcba9876543210, %rdx
	movabsq	$0x5555555555555555, %rbx
	movabsq	$0x6666666666666666, %rcx
	lock cmpxchg16b (%rdi)
	setnz	%r12b
	movabsq	$0x1122334455667788, %rbx
	movabsq	$0x99aabbccddeeff00, %rcx
	cmpq	%rbx, %rax
	setz	%r13b
	andb	%r13b, %r12b
	cmpq	%rcx, %rdx
	setz	%r13b
	andb	%r13b, %r12b
	cmpq	%rbx, (%rdi)
	setz	%r13b
	andb	%r13b, %r12b
	cmpq	%rcx, 8(%rdi)
	setz	%r13b
	andb	%r13b, %r12b
	leaq	name_cx16_fail(%rip), %rdi
	call	report64

	leaq	msg_done(%rip), %rsi
	call	puts64
reset64:
	movb	$0x02, %al
	movw	$0xCF9, %dx
	outb	%al, %dx
	movb	$0x06, %al
	outb	%al, %dx
4:	cli
	hlt
	jmp	4b

/* puts64: print the NUL-terminated string at %rsi on port 0xE9. */
puts64:
	lodsb
	testb	%al, %al
	jz	1f
	outb	%al, $0xE9
	jmp	puts64
1:	ret

/* puthex64: print %rax as 16 hex digits. */
puthex64:
	movl	$16, %ecx
1:	rolq	$4, %rax
	movq	%rax, %rdx
	andl	$15, %edx
	pushq	%rax
	leaq	hexdigits(%rip), %rax
	movb	(%rax,%rdx), %al
	outb	%al, $0xE9
	popq	%rax
	loop	1b
	ret

/* report64: "PASS name" if %r12b is set, else "FAIL name: ..." (%rdi). */
report64:
	pushq	%rdi
	leaq	msg_pass(%rip), %rsi
	testb	%r12b, %r12b
	jnz	1f
	leaq	msg_fail(%rip), %rsi
1:	call	puts64
	popq	%rsi
	call	puts64
	leaq	msg_detail(%rip), %rsi
	testb	%r12b, %r12b
	jz	2f
	leaq	msg_nl(%rip), %rsi
2:	call	puts64
	ret

/* 64-bit exception stubs: vector and (dummy) error code, then report. */
.macro EXC64 vec
exc64_stub_\vec:
	.if (\vec == 8) || ((\vec >= 10) && (\vec <= 14)) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
	.else
	pushq	$0
	.endif
	pushq	$\vec
	jmp	exc64_common
.endm
	.irp v,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	EXC64	\v
	.endr

exc64_common:
	/* int $0x80 itself faulting at CPL3: note it and carry on. */
	leaq	user64_int80(%rip), %rax
	cmpq	%rax, 16(%rsp)
	jne	1f
	movq	(%rsp), %rax
	orl	$0x100, %eax
	movl	%eax, int80_64_fault(%rip)
	jmp	int80_64
1:	leaq	msg_exc(%rip), %rsi
	call	puts64
	movq	(%rsp), %rax
	call	puthex64
	leaq	msg_err(%rip), %rsi
	call	puts64
	movq	8(%rsp), %rax
	call	puthex64
	leaq	msg_rip(%rip), %rsi
	call	puts64
	movq	16(%rsp), %rax
	call	puthex64
	leaq	msg_nl(%rip), %rsi
	call	puts64
	leaq	msg_done(%rip), %rsi
	call	puts64
	jmp	reset64

	.section .rodata
	.globl	exc64_stub_table
exc64_stub_table:
	.irp v,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.long	exc64_stub_\v
	.endr
hexdigits:	.ascii	"0123456789abcdef"
msg_lm:		.asciz	"NOTE in long mode\n"
msg_pass:	.asciz	"PASS "
msg_fail:	.asciz	"FAIL "
msg_detail:	.asciz	": unexpected result in long mode\n"
msg_nl:		.asciz	"\n"
msg_done:	.asciz	"DONE\n"
msg_exc:	.asciz	"FAIL exception64: vector "
msg_err:	.asciz	" error "
msg_rip:	.asciz	" rip "
name_iretq_same: .asciz	"iretq-same"
name_iretq_user: .asciz	"iretq-to-cpl3"
name_int80_64:	.asciz	"int80-from-cpl3-64"
name_cx16_ok:	.asciz	"cmpxchg16b-success"
name_cx16_fail:	.asciz	"cmpxchg16b-failure"

	.data
	.align	16
cx_mem:
	.quad	0, 0
	.globl	idt64_desc
idt64_desc:
	.word	0
	.quad	0
	.align	8
kernel_rsp64:
	.quad	0
user64_cs:
	.long	0
user64_flags:
	.long	0
int80_64_fault:
	.long	0
	.globl	bp_eip, bp_count
bp_eip:
	.long	0
bp_count:
	.long	0
