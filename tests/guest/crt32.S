/*
 * Start-up for the protected-mode guest tests. The image is linked at
 * 0xF0000 (where minivmm puts the RAM copy of the 64 KiB BIOS image), so
 * 32-bit code uses plain linear addresses and the real-mode entry uses
 * offsets (symbol - IMAGE_BASE) in segment F000.
 */
#include "sys.h"

	.code16
	.section .reset, "ax"
	.globl	reset_vector
reset_vector:
	/* guest32.ld puts _start16 at the image start, offset 0 in F000
	 * (i386 REL relocations cannot hold "symbol - 0xF0000" in 16 bits). */
	ljmp	$0xF000, $0

	.section .text.start, "ax"
	.globl	_start16
_start16:
	cli
	cld
	movw	%cs, %ax
	movw	%ax, %ds
	lgdtl	(gdt_desc16 - _start16)
	/* PE | MP | ET | NE: x87 errors as #MF, caches on. */
	movl	$0x33, %eax
	movl	%eax, %cr0
	ljmpl	$SEL_CODE32, $start32
gdt_desc16:
	.word	gdt_end - gdt - 1
	.long	gdt

	.code32
start32:
	movw	$SEL_DATA32, %ax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %fs
	movw	%ax, %gs
	movw	%ax, %ss
	movl	$KERNEL_STACK, %esp
	call	sys_init
	call	main
	call	guest_done
1:	cli
	hlt
	jmp	1b

	.text
/* void run_user(void (*fn)(void)) */
	.globl	run_user
run_user:
	pushl	%ebp
	pushl	%ebx
	pushl	%esi
	pushl	%edi
	movl	%esp, kernel_esp
	movl	20(%esp), %eax
	/* CPL0 may load DPL3 data segments; CPL3 could not use DPL0 ones. */
	movw	$SEL_UDATA, %dx
	movw	%dx, %ds
	movw	%dx, %es
	movw	%dx, %fs
	movw	%dx, %gs
	pushl	$SEL_UDATA
	pushl	$USER_STACK
	pushl	$USER_EFLAGS
	pushl	$SEL_UCODE32
	pushl	$user_tramp
	iret
user_tramp:
	call	*%eax
	.globl	user_int80
user_int80:
	int	$0x80
	ud2

/* Vector 0x80 (DPL3 gate): drop the interrupt frame, resume run_user's caller. */
	.globl	user_return
user_return:
	movw	$SEL_DATA32, %ax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %fs
	movw	%ax, %gs
	movl	kernel_esp, %esp
	popl	%edi
	popl	%esi
	popl	%ebx
	popl	%ebp
	ret

/* Exception stubs: push a dummy error code where the CPU pushes none. */
.macro EXC vec
exc_stub_\vec:
	.if (\vec == 8) || ((\vec >= 10) && (\vec <= 14)) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
	.else
	pushl	$0
	.endif
	pushl	$\vec
	jmp	exc_common
.endm
	.irp v,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	EXC	\v
	.endr

exc_common:
	pushal
	movw	$SEL_DATA32, %ax
	movw	%ax, %ds
	movw	%ax, %es
	pushl	%esp
	call	exception_c
	addl	$4, %esp
	cmpl	$EXC_USER_RETURN, %eax
	je	user_return
	popal
	addl	$8, %esp
	iret

	.section .rodata
	.globl	exc_stub_table
exc_stub_table:
	.irp v,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.long	exc_stub_\v
	.endr

	.data
	.align	16
	.globl	gdt
gdt:
	.quad	0
	.quad	0x00CF9A000000FFFF	/* 0x08 code32 DPL0 */
	.quad	0x00CF92000000FFFF	/* 0x10 data DPL0 */
	.quad	0x00CFFA000000FFFF	/* 0x18 code32 DPL3 */
	.quad	0x00CFF2000000FFFF	/* 0x20 data DPL3 */
	.quad	0			/* 0x28 TSS32, filled by sys_init */
	.quad	0x00009A0F0000FFFF	/* 0x30 code16 DPL0 (base set by users) */
	.quad	0x00AF9A000000FFFF	/* 0x38 code64 DPL0 */
	.quad	0x00AFFA000000FFFF	/* 0x40 code64 DPL3 */
	.quad	0, 0			/* 0x48 TSS64 (16 bytes) */
gdt_end:
kernel_esp:
	.long	0
