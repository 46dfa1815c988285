/* -stats: exits by kind and by device, printed when the VM ends. */
#include "vmm/stats.h"

#include "vmm/vm.h"

static const char *const kind_names[EXK_COUNT] = {
    [EXK_PIO] = "port I/O",
    [EXK_PIO_STR] = "string port I/O",
    [EXK_MMIO] = "MMIO",
    [EXK_HLT] = "HLT",
    [EXK_IRQ_WINDOW] = "IRQ window",
    [EXK_INTR] = "signal/kick",
    [EXK_EMULATE] = "emulation assist",
    [EXK_SHUTDOWN] = "shutdown",
    [EXK_OTHER] = "other",
};

static void bus_table(struct bus *b, FILE *f)
{
	for (size_t i = 0; i < b->n; i++) {
		struct bus_range *r = &b->r[i];
		uint64_t n = r->reads + r->writes;
		if (!n)
			continue;
		fprintf(f, "  %-4s %-14s 0x%08llx %10llu %10llu %12.0f\n",
			b->name, r->name, (unsigned long long)r->base,
			(unsigned long long)r->reads,
			(unsigned long long)r->writes, (double)r->ns / n);
	}
	if (b->unclaimed_reads + b->unclaimed_writes)
		fprintf(f, "  %-4s %-14s %10s %10llu %10llu\n", b->name,
			"(unclaimed)", "",
			(unsigned long long)b->unclaimed_reads,
			(unsigned long long)b->unclaimed_writes);
}

void stats_print(struct vm *vm, FILE *f)
{
	struct exit_stats t = {0};
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		for (int k = 0; k < EXK_COUNT; k++) {
			t.count[k] += vm->vcpus[i].stats.count[k];
			t.ns[k] += vm->vcpus[i].stats.ns[k];
		}
		t.injected += vm->vcpus[i].stats.injected;
	}
	fprintf(f, "minivmm stats (ioreq=%s, irqchip=%s)\n",
		dm_mode_name(vm->cfg.ioreq_mode),
		vm->cfg.kernel_irqchip ? "kernel" : "user");
	fprintf(f, "  %-18s %12s %14s\n", "exit kind", "count", "host ns/exit");
	for (int k = 0; k < EXK_COUNT; k++)
		if (t.count[k])
			fprintf(f, "  %-18s %12llu %14.0f\n", kind_names[k],
				(unsigned long long)t.count[k],
				(double)t.ns[k] / t.count[k]);
	fprintf(f, "  interrupts injected: %llu, instructions emulated: %llu\n",
		(unsigned long long)t.injected,
		(unsigned long long)vm->emulated);
	const struct coalesced *c = &vm->coalesced;
	if (coalesced_on(c))
		fprintf(f,
			"  coalesced writes (no exit): %llu in %llu drains "
			"(ring of %u)%s\n",
			(unsigned long long)c->writes,
			(unsigned long long)c->drains, c->max,
			c->broken ? ", ring broken" : "");
	else
		fprintf(f, "  coalesced writes: off (%s)\n",
			vm->coalesced_why ? vm->coalesced_why : "not set up");
	fprintf(f, "  %-4s %-14s %10s %10s %10s %12s\n", "bus", "device",
		"base", "reads", "writes", "dev ns/acc");
	dm_lock(&vm->dm);
	bus_table(&vm->dm.io, f);
	bus_table(&vm->dm.mmio, f);
	dm_unlock(&vm->dm);
}
