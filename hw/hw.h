/*
 * What every device model sees of the machine: interrupt lines and
 * one-bit signals (reset request, A20, vCPU kick), plus the bus, clock and
 * guest-memory interfaces. Devices never speak ioctl; vmm/ wires these
 * callbacks to KVM (or to the emulated 8259), unit tests wire them to fakes.
 */
#ifndef MINIVMM_HW_H
#define MINIVMM_HW_H

#include <stdbool.h>
#include <stdint.h>

#include "ioreq/bus.h"
#include "ioreq/clock.h"
#include "ioreq/guestmem.h"

/* An interrupt controller's input lines (ISA IRQ numbers 0-15 on a PC). */
struct irq_chip {
	void (*set)(void *opaque, int line, int level);
	void *opaque;
};

static inline void irq_set(const struct irq_chip *c, int line, int level)
{
	if (c && c->set)
		c->set(c->opaque, line, level);
}

/* Edge-triggered ISA devices pulse their line. */
static inline void irq_pulse(const struct irq_chip *c, int line)
{
	irq_set(c, line, 1);
	irq_set(c, line, 0);
}

/*
 * A message-signalled interrupt: the device writes data to addr (PCI MSI /
 * MSI-X). The vmm delivers it (KVM_SIGNAL_MSI with the in-kernel irqchip);
 * unit tests record it. A NULL send means nothing can take MSIs, and
 * devices then do not offer the capability.
 */
struct msi_sink {
	void (*send)(void *opaque, uint64_t addr, uint32_t data);
	void *opaque;
};

static inline void msi_send(const struct msi_sink *m, uint64_t addr,
			    uint32_t data)
{
	if (m && m->send)
		m->send(m->opaque, addr, data);
}

/*
 * Optional, beside a struct msi_sink: per-vector delivery of MSI-X (KVM_IRQFD
 * in the vmm, where each vector has an eventfd bound to a GSI routed to its
 * message). send() is given the vector's number and current message and
 * returns false when it cannot deliver it; the device then uses the
 * msi_sink.
 */
struct msix_vector_sink {
	bool (*send)(void *opaque, unsigned vector, uint64_t addr,
		     uint32_t data);
	void *opaque;
};

/* A one-bit output: reset request, A20 gate, "INTR changed" towards the CPU. */
struct signal {
	void (*fn)(void *opaque, int value);
	void *opaque;
};

static inline void signal_raise(const struct signal *s, int value)
{
	if (s && s->fn)
		s->fn(s->opaque, value);
}

#endif
