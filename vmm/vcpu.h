/*
 * When a halted vCPU can never run again.
 *
 * HLT with RFLAGS.IF clear is left only on NMI, SMI, INIT or reset. Linux's
 * "poweroff -f" without ACPI ends exactly so (stop_this_cpu(): interrupts
 * off, local APIC disabled, hlt in a loop). minivmm sends no NMI, SMI or
 * INIT itself, so such a halt is final unless the guest set up a route
 * that delivers one: with the in-kernel irqchip, an unmasked local APIC
 * LVT entry or I/O APIC pin in NMI, SMI or INIT delivery mode. Reset and
 * quit end the VM anyway.
 *
 * Where the facts come from (vcpu.c):
 *   irqchip=user    KVM_EXIT_HLT reaches user space; RFLAGS from
 *                   KVM_GET_REGS, pending NMI/SMI from KVM_GET_VCPU_EVENTS.
 *   irqchip=kernel  KVM halts the vCPU inside KVM_RUN and tells nobody. A
 *                   device-model timer (every HALT_CHECK_MS) kicks the vCPU
 *                   out; it then reads KVM_GET_MP_STATE (HALTED), RFLAGS,
 *                   the events, KVM_GET_LAPIC and the I/O APIC.
 */
#ifndef MINIVMM_VCPU_H
#define MINIVMM_VCPU_H

#include <linux/kvm.h>
#include <stdbool.h>

struct vm;

#define HALT_CHECK_MS 250

struct halt_state {
	bool halted;	  /* in HLT (KVM_EXIT_HLT or KVM_MP_STATE_HALTED) */
	bool if_flag;	  /* RFLAGS.IF */
	bool nmi_pending; /* an NMI pending or being injected */
	bool smi_pending;
	bool wake_route; /* the guest routed NMI/SMI/INIT from a device */
	unsigned nvcpus; /* another vCPU could send it an NMI or INIT */
};

/* True when the vCPU can never leave its halt. */
bool halt_is_final(const struct halt_state *s);
/* An unmasked LVT entry (CMCI, thermal, PMC, LINT0, LINT1) in NMI, SMI or
 * INIT delivery mode. */
bool lapic_wake_route(const struct kvm_lapic_state *l);
/* An unmasked I/O APIC pin in NMI, SMI or INIT delivery mode. */
bool ioapic_wake_route(const struct kvm_ioapic_state *io);

/* With the kernel irqchip, starts the periodic look for a final halt (the
 * device-model timer above); nothing to do with the user irqchip. Before
 * vm_run(). 0, or -1 after one line on stderr. */
int vcpu_watch_halt(struct vm *vm);

#endif
