/*
 * long_call: 32-bit protected mode -> long mode -> 32-bit protected mode
 * around one 64-bit function; run_user64 and the 64-bit exception stubs.
 * 64-bit code here addresses memory RIP-relative (the object is ELF32,
 * whose relocations cannot sign-extend absolute 32-bit addresses).
 */
#include "sys.h"

#define TSS_BUSY 0x02 /* type bit 1 of a TSS descriptor (access byte) */

	.text
	.code32
/* void long_call(void (*fn64)(void)) */
	.globl	long_call
long_call:
	pushl	%ebp
	pushl	%ebx
	pushl	%esi
	pushl	%edi
	movl	20(%esp), %eax
	movl	%eax, lm_fn
	movl	%esp, lm_saved_esp
	call	long_mode_setup
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
	ljmp	$SEL_CODE64, $lm_entry64

	.code64
lm_entry64:
	lidt	idt64_desc(%rip)
	andb	$~TSS_BUSY, gdt+SEL_TSS64+5(%rip)
	movw	$SEL_TSS64, %ax
	ltr	%ax
	movl	lm_fn(%rip), %eax
	call	*%rax
	/* Far return into the 32-bit code segment: compatibility mode. */
	pushq	$SEL_CODE32
	leaq	lm_exit32(%rip), %rax
	pushq	%rax
	lretq

	.code32
lm_exit32:
	movl	%cr0, %eax
	andl	$0x7FFFFFFF, %eax
	movl	%eax, %cr0
	movl	$0xC0000080, %ecx
	rdmsr
	andl	$~0x100, %eax
	wrmsr
	lidt	idt_desc
	andb	$~TSS_BUSY, gdt+SEL_TSS32+5
	movw	$SEL_TSS32, %ax
	ltr	%ax
	movw	$SEL_DATA32, %ax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %ss
	movl	lm_saved_esp, %esp
	popl	%edi
	popl	%esi
	popl	%ebx
	popl	%ebp
	ret

	.code64
/* run_user64: call %rdi at CPL3 (64-bit, IOPL=3, IF=0) on USER_STACK. */
	.globl	run_user64
run_user64:
	pushq	%rbx
	pushq	%rbp
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	%rsp, kernel_rsp64(%rip)
	movq	%rdi, %rax
	pushq	$SEL_UDATA
	pushq	$USER_STACK
	pushq	$USER_EFLAGS
	pushq	$SEL_UCODE64
	leaq	user_tramp64(%rip), %rcx
	pushq	%rcx
	iretq
user_tramp64:
	call	*%rax
	.globl	user_int80_64
user_int80_64:
	int	$0x80
	ud2

/* Vector 0x80 (DPL3 gate) and the way back from faults at CPL3. */
	.globl	user_return64
user_return64:
	movq	kernel_rsp64(%rip), %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbp
	popq	%rbx
	ret

/* puts64: print the NUL-terminated string at %rsi on port 0xE9. */
puts64:
	lodsb
	testb	%al, %al
	jz	1f
	outb	%al, $0xE9
	jmp	puts64
1:	ret

/* puthex64: print %rax in hex (16 digits). */
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
	/* Frame: vector, error, RIP, CS, RFLAGS, RSP, SS. */
	leaq	user_int80_64(%rip), %rax
	cmpq	%rax, 16(%rsp)
	jne	1f
	/* int $0x80 at CPL3 faulted instead of reaching its gate. */
	movq	(%rsp), %rax
	orl	$0x100, %eax
	movl	%eax, int80_64_fault(%rip)
	jmp	user_return64
1:	testb	$3, 24(%rsp)
	jz	2f
	/* A fault in CPL3 test code: record it, end the excursion. */
	movq	(%rsp), %rax
	orl	$0x100, %eax
	movl	%eax, user64_fault(%rip)
	movq	16(%rsp), %rax
	movq	%rax, user64_fault_rip(%rip)
	jmp	user_return64
2:	leaq	msg_exc(%rip), %rsi
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
	leaq	msg_done(%rip), %rsi
	call	puts64
	movb	$0x02, %al
	movw	$0xCF9, %dx
	outb	%al, %dx
	movb	$0x06, %al
	outb	%al, %dx
3:	cli
	hlt
	jmp	3b

	.section .rodata
	.globl	exc64_stub_table
exc64_stub_table:
	.irp v,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.long	exc64_stub_\v
	.endr
hexdigits:	.ascii	"0123456789abcdef"
msg_exc:	.asciz	"FAIL exception64: vector "
msg_err:	.asciz	" error "
msg_rip:	.asciz	" rip "
msg_done:	.asciz	"\nDONE\n"

	.data
	.align	8
	.globl	idt64_desc
idt64_desc:
	.word	0
	.quad	0
	.align	8
kernel_rsp64:
	.quad	0
	.globl	user64_fault_rip
user64_fault_rip:
	.quad	0
	.globl	user64_fault, int80_64_fault
user64_fault:
	.long	0
int80_64_fault:
	.long	0
lm_fn:
	.long	0
lm_saved_esp:
	.long	0
