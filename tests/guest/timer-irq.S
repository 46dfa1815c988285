/*
 * Real-mode interrupt handlers for the timer test: IRQ0 (PIT channel 0,
 * vector 0x08) and IRQ8 (RTC, vector 0x70, on the slave 8259). Each
 * counts, acknowledges its source and sends a non-specific EOI.
 */
	.code16
	.text
	.globl	irq0_handler
irq0_handler:
	pushw	%ax
	incl	%cs:irq0_count
	movb	$0x20, %al
	outb	%al, $0x20
	popw	%ax
	iretw

	.globl	irq8_handler
irq8_handler:
	pushw	%ax
	/* Reading register C acknowledges the RTC and lets it interrupt
	 * again. */
	movb	$0x0C, %al
	outb	%al, $0x70
	inb	$0x71, %al
	incl	%cs:irq8_count
	movb	$0x20, %al
	outb	%al, $0xA0
	outb	%al, $0x20
	popw	%ax
	iretw

	.data
	.align	4
	.globl	irq0_count, irq8_count
irq0_count:
	.long	0
irq8_count:
	.long	0
