/*
 * When a halted vCPU can never run again (vmm/vcpu.h): the decision and
 * the NMI/SMI/INIT routes read from the in-kernel LAPIC and I/O APIC.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "vmm/vcpu.h"

#define LVT_MASKED (1u << 16)
#define DM_FIXED   (0u << 8)
#define DM_SMI	   (2u << 8)
#define DM_NMI	   (4u << 8)
#define DM_INIT	   (5u << 8)
#define DM_EXTINT  (7u << 8)

/* Linux's stop_this_cpu(), as "poweroff -f" without ACPI leaves it. */
static const struct halt_state final = {.halted = true, .nvcpus = 1};

Test(halt, cli_hlt_is_final)
{
	cr_assert(halt_is_final(&final));
}

Test(halt, anything_that_can_wake_it_is_not_final)
{
	struct halt_state s = final;
	s.halted = false;
	cr_assert_not(halt_is_final(&s), "running");
	s = final;
	s.if_flag = true;
	cr_assert_not(halt_is_final(&s), "sti; hlt waits for an interrupt");
	s = final;
	s.nmi_pending = true;
	cr_assert_not(halt_is_final(&s), "NMI pending");
	s = final;
	s.smi_pending = true;
	cr_assert_not(halt_is_final(&s), "SMI pending");
	s = final;
	s.wake_route = true;
	cr_assert_not(halt_is_final(&s), "NMI route programmed");
	s = final;
	s.nvcpus = 2;
	cr_assert_not(halt_is_final(&s), "another vCPU could send INIT");
}

static void set_lvt(struct kvm_lapic_state *l, unsigned off, uint32_t v)
{
	memcpy(l->regs + off, &v, 4); /* little-endian host, as KVM */
}

/* After reset: every LVT masked. */
static void lapic_reset(struct kvm_lapic_state *l)
{
	memset(l, 0, sizeof(*l));
	for (unsigned off = 0x320; off <= 0x370; off += 0x10)
		set_lvt(l, off, LVT_MASKED);
	set_lvt(l, 0x2f0, LVT_MASKED);
}

Test(halt, lapic_routes)
{
	struct kvm_lapic_state l;
	lapic_reset(&l);
	cr_assert_not(lapic_wake_route(&l), "reset state");
	/* Linux's BSP: LINT0 ExtINT, LINT1 NMI, both unmasked. */
	set_lvt(&l, 0x350, DM_EXTINT);
	cr_assert_not(lapic_wake_route(&l), "ExtINT obeys IF");
	set_lvt(&l, 0x360, DM_NMI);
	cr_assert(lapic_wake_route(&l), "LINT1 NMI");
	set_lvt(&l, 0x360, DM_NMI | LVT_MASKED);
	cr_assert_not(lapic_wake_route(&l), "LINT1 NMI masked");
	set_lvt(&l, 0x340, DM_NMI);
	cr_assert(lapic_wake_route(&l), "perf counter NMI (watchdog)");
	lapic_reset(&l);
	set_lvt(&l, 0x350, DM_SMI);
	cr_assert(lapic_wake_route(&l), "LINT0 SMI");
	lapic_reset(&l);
	set_lvt(&l, 0x330, DM_INIT);
	cr_assert(lapic_wake_route(&l), "thermal INIT");
	lapic_reset(&l);
	set_lvt(&l, 0x320, DM_FIXED | 0x30); /* timer: fixed only */
	set_lvt(&l, 0x370, DM_FIXED | 0x31); /* error: fixed only */
	cr_assert_not(lapic_wake_route(&l), "fixed vectors obey IF");
}

Test(halt, ioapic_routes)
{
	struct kvm_ioapic_state io;
	memset(&io, 0, sizeof(io));
	for (int i = 0; i < KVM_IOAPIC_NUM_PINS; i++)
		io.redirtbl[i].fields.mask = 1;
	cr_assert_not(ioapic_wake_route(&io), "reset state");
	io.redirtbl[2].fields.mask = 0; /* the timer, fixed */
	io.redirtbl[2].fields.vector = 0x30;
	cr_assert_not(ioapic_wake_route(&io), "fixed");
	io.redirtbl[0].fields.mask = 0;
	io.redirtbl[0].fields.delivery_mode = 7;
	cr_assert_not(ioapic_wake_route(&io), "ExtINT (virtual wire)");
	io.redirtbl[9].fields.delivery_mode = 4;
	cr_assert_not(ioapic_wake_route(&io), "NMI but masked");
	io.redirtbl[9].fields.mask = 0;
	cr_assert(ioapic_wake_route(&io), "NMI");
	io.redirtbl[9].fields.delivery_mode = 5;
	cr_assert(ioapic_wake_route(&io), "INIT");
	io.redirtbl[9].fields.delivery_mode = 2;
	cr_assert(ioapic_wake_route(&io), "SMI");
}
