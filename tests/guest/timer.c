/*
 * timer: real mode with IVT handlers, as a BIOS would set things up.
 * 8259 pair initialised to vector bases 0x08/0x70; the 8254 channel 0 in
 * mode 2 at 100 Hz is counted against the RTC seconds over 2 s; channel 2
 * gate (port 0x61 bit 0) and OUT2 (bit 5); the RTC periodic interrupt at
 * 256 Hz through the slave 8259 (IRQ8) over 1 s.
 */
#include "lib.h"
#include "rtc.h"

#define PIT_HZ	1193182
#define IRQ0_HZ 100

extern volatile uint32_t irq0_count, irq8_count;
extern char irq0_handler[], irq8_handler[];

static void set_ivt(unsigned vec, char *handler)
{
	uint32_t ptr = 0xF0000000u | (uint16_t)(uint32_t)handler;

	asm volatile("movl %0, %%fs:(%1)"
		     :
		     : "r"(ptr), "r"(vec * 4)
		     : "memory");
}

static void pic_init(void)
{
	outb(0x20, 0x11); /* ICW1: edge, cascade, ICW4 follows */
	outb(0x21, 0x08); /* ICW2: vectors 0x08-0x0F */
	outb(0x21, 0x04); /* ICW3: slave on IR2 */
	outb(0x21, 0x01); /* ICW4: 8086 mode */
	outb(0xA0, 0x11);
	outb(0xA1, 0x70); /* vectors 0x70-0x77 */
	outb(0xA1, 0x02); /* slave identity 2 */
	outb(0xA1, 0x01);
	outb(0x21, 0xFF);
	outb(0xA1, 0xFF);
}

/* Sleep until the RTC seconds register changes; 0 if it never does. */
static int wait_second_edge(void)
{
	uint8_t s = rtc_seconds();
	unsigned n;

	for (n = 0; n < 100000; n++) {
		asm volatile("sti; hlt; cli" ::: "memory");
		if (rtc_seconds() != s)
			return 1;
	}
	return 0;
}

static void test_pit_irq0(void)
{
	uint16_t div = (PIT_HZ + IRQ0_HZ / 2) / IRQ0_HZ;
	uint32_t c0, n;
	int ok;

	outb(0x43, 0x34); /* channel 0, lobyte/hibyte, mode 2, binary */
	outb(0x40, div & 0xFF);
	outb(0x40, div >> 8);
	outb(0x21, 0xFE);
	ok = wait_second_edge();
	c0 = irq0_count;
	ok &= wait_second_edge();
	ok &= wait_second_edge();
	n = irq0_count - c0;
	gprintf("TIMER irq0 %u in 2 s\n", n);
	/* Ticks merge while IRQ0 is still pending when the host is loaded
	 * (174 of 200 with two other test VMs beside this one, load average
	 * 4 on 2 CPUs), never more than there should be: -25% / +10%, still
	 * far from a divider off by 2. */
	check(ok && n >= 2 * IRQ0_HZ * 3 / 4 && n <= 2 * IRQ0_HZ * 11 / 10,
	      "timer-pit-irq0",
	      "%u IRQ0s in 2 RTC seconds, want %u -25%%/+10%%%s", n,
	      2 * IRQ0_HZ, ok ? "" : " (RTC seconds did not advance)");
}

static void test_pit_ch2_gate(void)
{
	uint8_t p61 = inb(0x61) & 0x0C, out_at_load;
	unsigned i, high_early = 0, polls;

	outb(0x61, p61);	 /* gate 2 low, speaker data off */
	outb(0x43, 0xB0);	 /* channel 2, lobyte/hibyte, mode 0, binary */
	outb(0x42, 1193 & 0xFF); /* about 1 ms */
	outb(0x42, 1193 >> 8);
	out_at_load = inb(0x61) & 0x20;
	/* With the gate low the count must not proceed. */
	for (i = 0; i < 1000; i++)
		high_early |= inb(0x61) & 0x20;
	outb(0x61, p61 | 0x01);
	for (polls = 0; polls < 200000; polls++)
		if (inb(0x61) & 0x20)
			break;
	outb(0x61, p61);
	check(!out_at_load && polls < 200000, "timer-pit-ch2-gate",
	      "OUT2 %s after loading the count, %s after raising the gate",
	      out_at_load ? "high" : "low",
	      polls < 200000 ? "went high" : "never went high");
	/* KVM's in-kernel 8254 does not stop a mode 0 count on a low gate,
	 * so the runner tolerates this one with irqchip=kernel. */
	check(!high_early, "timer-pit-ch2-gate-hold",
	      "OUT2 went high while gate 2 was low");
}

/* Sleep until IRQ0 (checked against the RTC above) has ticked n times. */
static int wait_ticks(uint32_t n)
{
	uint32_t end = irq0_count + n;
	unsigned guard;

	for (guard = 0; guard < 1000000; guard++) {
		asm volatile("sti; hlt; cli" ::: "memory");
		if ((int32_t)(irq0_count - end) >= 0)
			return 1;
	}
	return 0;
}

/* Over 100 PIT ticks (1 s) rather than RTC seconds: polling the RTC on
 * every one of the wake-ups would itself cost several exits each. */
static void test_rtc_irq8(void)
{
	uint8_t b = cmos_read(RTC_REG_B);
	uint32_t c0, n;
	int ok;

	cmos_write(RTC_REG_A, 0x28); /* 32.768 kHz divider, rate 8 = 256 Hz */
	cmos_write(RTC_REG_B, (b & ~RTC_B_SET) | RTC_B_PIE);
	cmos_read(RTC_REG_C);
	outb(0xA1, 0xFE);
	outb(0x21, 0xFA); /* IRQ0 and the cascade */
	ok = wait_ticks(1);
	c0 = irq8_count;
	ok &= wait_ticks(IRQ0_HZ);
	n = irq8_count - c0;
	cmos_write(RTC_REG_B, b & ~(RTC_B_SET | RTC_B_PIE));
	cmos_read(RTC_REG_C);
	outb(0xA1, 0xFF);
	gprintf("TIMER irq8 %u in 1 s\n", n);
	/* 256 Hz rather than the 1024 Hz default: where the guest CPU is
	 * software-emulated (the KVM test VM) one IRQ8 with its handler and
	 * exits takes up to ~1 ms, so at 1024 Hz periods pass while the flag
	 * is still set and the RTC (like the chip) merges them. At 256 Hz
	 * they merge only when the host is loaded: 211 (82%) with the
	 * kernel's PIT beside two other test VMs. The lower bound is 70%,
	 * still far from the next rates (128 and 512 Hz) a wrong divider
	 * would give. */
	check(ok && n >= 256 * 70 / 100 && n <= 256 * 115 / 100,
	      "timer-rtc-irq8", "%u IRQ8s in 100 PIT ticks, want 179..294%s", n,
	      ok ? "" : " (no IRQ0)");
}

int main(void)
{
	pic_init();
	set_ivt(0x08, irq0_handler);
	set_ivt(0x70, irq8_handler);
	test_pit_irq0();
	test_pit_ch2_gate();
	test_rtc_irq8();
	outb(0x21, 0xFF);
	return 0;
}
