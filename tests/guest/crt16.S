/*
 * Start-up for the real-mode (16-bit) guest tests. The image is linked so
 * that symbols are offsets in segment F000: minivmm copies the 64 KiB image
 * to 0xF0000-0xFFFFF (RAM), the CPU starts at F000:FFF0 with CS base
 * 0xFFFF0000 (the read-only copy below 4 GiB) and the far jump below moves
 * it onto the RAM copy. CS = DS = ES = SS = F000, FS = GS = 0 (for the IVT).
 */
	.code16
	.section .reset, "ax"
	.globl	reset_vector
reset_vector:
	ljmp	$0xF000, $_start16

	.section .text.start, "ax"
	.globl	_start16
_start16:
	cli
	cld
	movw	%cs, %ax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %ss
	movl	$__stack_top, %esp
	xorw	%ax, %ax
	movw	%ax, %fs
	movw	%ax, %gs
	calll	main
	calll	guest_done
1:	cli
	hlt
	jmp	1b
