/*
 * The vCPU loop: KVM_RUN, then turn each exit into an ioreq (dm_access),
 * inject 8259 interrupts in userspace-irqchip mode, sleep on HLT, and hand
 * instructions KVM's emulator refuses to the emulation assist.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "ioreq/bytes.h"
#include "vmm/emulate/emulate.h"
#include "vmm/monitor.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

static __thread struct kvm_run *this_run;

/* SIGUSR1 kicks the vCPU out of KVM_RUN; immediate_exit covers the window
 * just before KVM_RUN is entered. */
static void kick_handler(int sig)
{
	(void)sig;
	if (this_run)
		this_run->immediate_exit = 1;
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static bool running(struct vm *vm)
{
	return __atomic_load_n(&vm->exit_reason, __ATOMIC_SEQ_CST) ==
	       VM_RUNNING;
}

/* ---- stop/cont (the monitor) ---------------------------------------- */
/*
 * "stop" parks every vCPU outside KVM_RUN, where its registers may be read
 * from another thread, and "cont" releases it. A halted vCPU parks inside
 * its halt, so that cont does not end the guest's HLT early.
 */
static bool stop_requested(struct vm *vm)
{
	return __atomic_load_n(&vm->pause_stop, __ATOMIC_SEQ_CST);
}

/* Waits on c (dm lock held once) for at most ms milliseconds. */
static void wait_ms(pthread_cond_t *c, struct dm *dm, long ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += ms % 1000 * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(c, &dm->lock, &ts);
}

/* Dm lock held once; returns on cont or when the VM ends. */
static void park(struct vcpu *v)
{
	struct vm *vm = v->vm;
	vm->paused++;
	pthread_cond_broadcast(&v->wake); /* the monitor waits on it too */
	while (running(vm) && stop_requested(vm))
		wait_ms(&v->wake, &vm->dm, 100);
	vm->paused--;
}

int vcpu_pause(struct vm *vm, int timeout_ms)
{
	__atomic_store_n(&vm->pause_stop, 1, __ATOMIC_SEQ_CST);
	dm_lock(&vm->dm);
	vm_kick(vm);
	int64_t end = now_ns() + (int64_t)timeout_ms * 1000000;
	while (vm->paused < vm->nvcpus && running(vm) && now_ns() < end)
		wait_ms(&vm->vcpus[0].wake, &vm->dm, 10);
	int rc = vm->paused == vm->nvcpus ? 0 : -1;
	dm_unlock(&vm->dm);
	return rc;
}

void vcpu_resume(struct vm *vm)
{
	__atomic_store_n(&vm->pause_stop, 0, __ATOMIC_SEQ_CST);
	dm_lock(&vm->dm);
	vm_kick(vm);
	dm_unlock(&vm->dm);
}

bool vcpu_paused(struct vm *vm)
{
	return stop_requested(vm);
}

static void handle_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool write = run->io.direction == KVM_EXIT_IO_OUT;
	dm_access(&v->vm->dm, v->id, IOREQ_TYPE_PIO, run->io.port, run->io.size,
		  write, data, run->io.count);
}

/* One buffered write from the coalesced ring, device lock held: the same
 * dispatch (and -trace line) as a write that exited. */
static void replay_write(void *opaque, bool pio, uint64_t addr, unsigned len,
			 const uint8_t *data)
{
	struct vcpu *v = opaque;
	struct ioreq r = {.addr = addr,
			  .count = 1,
			  .vcpu = v->id,
			  .size = (uint8_t)len,
			  .dir = IOREQ_WRITE,
			  .type = pio ? IOREQ_TYPE_PIO : IOREQ_TYPE_MMIO,
			  .t_submit = (uint64_t)now_ns()};
	memcpy(&r.data, data, len);
	dm_dispatch(&v->vm->dm, &r, NULL);
}

/* After every return from KVM_RUN, before its exit is handled: the writes
 * KVM buffered happened before it. */
static void drain_coalesced(struct vcpu *v)
{
	struct vm *vm = v->vm;
	if (!coalesced_pending(&vm->coalesced))
		return;
	dm_lock(&vm->dm);
	coalesced_drain(&vm->coalesced, replay_write, v);
	dm_unlock(&vm->dm);
}

static void handle_mmio(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	unsigned len = run->mmio.len;
	if (len == 0 || len > 8)
		return;
	dm_access(&v->vm->dm, v->id, IOREQ_TYPE_MMIO, run->mmio.phys_addr, len,
		  run->mmio.is_write, run->mmio.data, 1);
}

/* A -trace line from this vCPU ("vcpu0 inject ..."). */
#define vcpu_trace(v, ...)                                                     \
	do {                                                                   \
		if ((v)->vm->dm.trace) {                                       \
			char who_[16];                                         \
			snprintf(who_, sizeof(who_), "vcpu%u", (v)->id);       \
			dm_trace_event(&(v)->vm->dm, who_, __VA_ARGS__);       \
		}                                                              \
	} while (0)

/* Userspace irqchip: inject the 8259's vector when the guest can take it,
 * otherwise ask KVM to exit when it can. */
static void inject_interrupt(struct vcpu *v)
{
	struct vm *vm = v->vm;
	struct kvm_run *run = v->run;
	dm_lock(&vm->dm);
	bool pending = vm->intr_pending(vm->intr_opaque);
	if (pending && run->ready_for_interrupt_injection && run->if_flag) {
		struct kvm_interrupt irq = {.irq =
						vm->intr_ack(vm->intr_opaque)};
		vcpu_trace(v, "inject vector=0x%x", irq.irq);
		dm_unlock(&vm->dm);
		if (ioctl(v->fd, KVM_INTERRUPT, &irq) == 0)
			v->stats.injected++;
		run->request_interrupt_window = 0;
		return;
	}
	if (pending && !run->request_interrupt_window)
		vcpu_trace(v, "irq-window if=%d", run->if_flag);
	dm_unlock(&vm->dm);
	run->request_interrupt_window = pending;
}

/* ---- halts that never end (vcpu.h) ---------------------------------- */

bool halt_is_final(const struct halt_state *s)
{
	return s->halted && !s->if_flag && !s->nmi_pending && !s->smi_pending &&
	       !s->wake_route && s->nvcpus == 1;
}

/* Delivery modes that wake a CPU halted with IF clear. */
static bool wakes_with_if_clear(unsigned mode)
{
	return mode == 2 || mode == 4 || mode == 5; /* SMI, NMI, INIT */
}

bool lapic_wake_route(const struct kvm_lapic_state *l)
{
	/* CMCI, thermal, performance counter, LINT0, LINT1. */
	static const unsigned lvt[] = {0x2f0, 0x330, 0x340, 0x350, 0x360};
	for (size_t i = 0; i < sizeof(lvt) / sizeof(lvt[0]); i++) {
		uint32_t v = get_le((const uint8_t *)l->regs + lvt[i], 4);
		if (!(v & (1u << 16)) && wakes_with_if_clear((v >> 8) & 7))
			return true;
	}
	return false;
}

bool ioapic_wake_route(const struct kvm_ioapic_state *io)
{
	for (int i = 0; i < KVM_IOAPIC_NUM_PINS; i++)
		if (!io->redirtbl[i].fields.mask &&
		    wakes_with_if_clear(io->redirtbl[i].fields.delivery_mode))
			return true;
	return false;
}

/* RFLAGS.IF and pending NMI/SMI into s; -1 if KVM will not say. */
static int read_halt_regs(struct vcpu *v, struct halt_state *s)
{
	struct kvm_regs r;
	struct kvm_vcpu_events ev;
	if (ioctl(v->fd, KVM_GET_REGS, &r) < 0 ||
	    ioctl(v->fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
		return -1;
	s->if_flag = r.rflags & 0x200;
	s->nmi_pending = ev.nmi.pending || ev.nmi.injected;
	s->smi_pending = (ev.flags & KVM_VCPUEVENT_VALID_SMM) && ev.smi.pending;
	s->nvcpus = v->vm->nvcpus;
	return 0;
}

/* Kernel irqchip: the LAPIC and I/O APIC routes the guest programmed. */
static bool kernel_wake_route(struct vcpu *v)
{
	struct kvm_lapic_state l;
	struct kvm_irqchip chip = {.chip_id = KVM_IRQCHIP_IOAPIC};
	if (ioctl(v->fd, KVM_GET_LAPIC, &l) < 0 ||
	    ioctl(v->vm->vm_fd, KVM_GET_IRQCHIP, &chip) < 0)
		return true; /* unknown: assume it can be woken */
	return lapic_wake_route(&l) || ioapic_wake_route(&chip.chip.ioapic);
}

/* Called outside KVM_RUN. Any ioctl failure answers "not final". */
static bool halted_for_good(struct vcpu *v, bool exit_hlt)
{
	struct halt_state s = {.halted = exit_hlt};
	if (!exit_hlt) {
		struct kvm_mp_state mp;
		if (ioctl(v->fd, KVM_GET_MP_STATE, &mp) < 0 ||
		    mp.mp_state != KVM_MP_STATE_HALTED)
			return false;
		s.halted = true;
	}
	if (read_halt_regs(v, &s) < 0)
		return false;
	if (!s.if_flag && v->vm->cfg.kernel_irqchip)
		s.wake_route = kernel_wake_route(v);
	return halt_is_final(&s);
}

/* Device-model thread, dm lock held: ask every vCPU to look (the kick gets
 * one blocked in the kernel's HLT out of KVM_RUN). */
static void halt_tick(void *opaque)
{
	struct vm *vm = opaque;
	for (unsigned i = 0; i < vm->nvcpus; i++)
		__atomic_store_n(&vm->vcpus[i].halt_check, 1, __ATOMIC_SEQ_CST);
	vm_kick(vm);
	vtimer_mod(vm->halt_timer,
		   clock_ns(vm->dm.clock) + HALT_CHECK_MS * 1000000ll);
}

int vcpu_watch_halt(struct vm *vm)
{
	if (!vm->cfg.kernel_irqchip)
		return 0;
	vm->halt_timer = vtimer_new(vm->dm.clock, halt_tick, vm);
	if (!vm->halt_timer) {
		fprintf(stderr, "minivmm: cannot create the halt timer\n");
		return -1;
	}
	vtimer_mod(vm->halt_timer,
		   clock_ns(vm->dm.clock) + HALT_CHECK_MS * 1000000ll);
	return 0;
}

/* Kernel irqchip, after any return from KVM_RUN. */
static bool halt_check_due(struct vcpu *v)
{
	return __atomic_exchange_n(&v->halt_check, 0, __ATOMIC_SEQ_CST) &&
	       halted_for_good(v, false);
}

/* HLT with the userspace irqchip: sleep until the PIC has something. With
 * IF clear nothing minivmm does can wake the vCPU (no NMI source), so
 * that ends the VM; the IF=0 wait below stays for a failed check.
 * The sleep ends at the device clock's next deadline at the latest, and
 * the halted vCPU then runs the due timers itself: a timer interrupt (PIT,
 * RTC) then costs one thread wake-up, not two (the device-model thread's,
 * then the vCPU's kick), which matters when cores are scarce. The
 * device-model thread's own timer for the same deadline finds nothing due. */
static void halt(struct vcpu *v)
{
	struct vm *vm = v->vm;
	bool ifl = v->run->if_flag;
	if (!ifl && halted_for_good(v, true)) {
		vm_request_exit(vm, VM_HALTED, 0);
		return;
	}
	dm_lock(&vm->dm);
	vcpu_trace(v, "hlt");
	while (running(vm) && !(ifl && vm->intr_pending(vm->intr_opaque))) {
		if (stop_requested(vm)) {
			park(v);
			continue;
		}
		int64_t ns = dm_timer_due_in(&vm->dm);
		if (ns <= 0) {
			dm_run_timers(&vm->dm);
			continue;
		}
		if (ns > 100000000)
			ns = 100000000;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ns += ts.tv_nsec;
		ts.tv_sec += ns / 1000000000;
		ts.tv_nsec = ns % 1000000000;
		pthread_cond_timedwait(&v->wake, &vm->dm.lock, &ts);
	}
	vcpu_trace(v, "hlt-end");
	dm_unlock(&vm->dm);
}

static bool emu_mem_read(void *opaque, uint64_t gpa, void *buf, size_t n)
{
	return gm_read(opaque, gpa, buf, n) == 0;
}

static bool emu_mem_write(void *opaque, uint64_t gpa, const void *buf, size_t n)
{
	return gm_write(opaque, gpa, buf, n) == 0;
}

/* MXCSR sits at byte 24 of the FXSAVE/XSAVE legacy region. Some hosts
 * (kvm-pvm) return 0 for it in KVM_GET_FPU and ignore it in KVM_SET_FPU,
 * while KVM_GET/SET_XSAVE carry it correctly, so it goes that way. */
#define XSAVE_MXCSR 24

static int load_cpu(struct vcpu *v, struct emu_cpu *c)
{
	memset(c, 0, sizeof(*c));
	if (ioctl(v->fd, KVM_GET_REGS, &c->regs) < 0 ||
	    ioctl(v->fd, KVM_GET_SREGS, &c->sregs) < 0 ||
	    ioctl(v->fd, KVM_GET_FPU, &c->fpu) < 0)
		return -1;
	struct kvm_xsave xs;
	if (ioctl(v->fd, KVM_GET_XSAVE, &xs) == 0)
		memcpy(&c->fpu.mxcsr, (uint8_t *)xs.region + XSAVE_MXCSR, 4);
	return 0;
}

/* Writes the whole legacy (FXSAVE-layout) region from c->fpu through
 * KVM_SET_XSAVE; falls back to KVM_SET_FPU where XSAVE is unavailable. */
static int store_fpu(struct vcpu *v, const struct emu_cpu *c)
{
	const struct kvm_fpu *f = &c->fpu;
	struct kvm_xsave xs;
	if (ioctl(v->fd, KVM_GET_XSAVE, &xs) < 0)
		return ioctl(v->fd, KVM_SET_FPU, f);
	uint8_t *r = (uint8_t *)xs.region;
	memcpy(r + 0, &f->fcw, 2);
	memcpy(r + 2, &f->fsw, 2);
	r[4] = f->ftwx;
	memcpy(r + 6, &f->last_opcode, 2);
	memcpy(r + 8, &f->last_ip, 8);
	memcpy(r + 16, &f->last_dp, 8);
	memcpy(r + XSAVE_MXCSR, &f->mxcsr, 4);
	memcpy(r + 32, f->fpr, sizeof(f->fpr));
	memcpy(r + 160, f->xmm, sizeof(f->xmm));
	/* XSTATE_BV (byte 512): mark x87+SSE state present, or the kernel
	 * keeps their init state and drops what was written. */
	r[512] |= 3;
	return ioctl(v->fd, KVM_SET_XSAVE, &xs);
}

/* The emulation assist: run the instruction KVM refused, in user space. */
static int emulate(struct vcpu *v)
{
	struct emu_cpu c;
	struct emu_mem mem = {
	    .read = emu_mem_read, .write = emu_mem_write, .opaque = &v->vm->gm};
	char why[160] = "";
	if (load_cpu(v, &c) < 0) {
		vcpu_dump(v, "cannot read vCPU state");
		return -1;
	}
	enum emu_result r = emu_step(&c, &mem, why, sizeof(why));
	if (r == EMU_UNHANDLED) {
		char msg[200];
		snprintf(msg, sizeof(msg), "KVM emulation failure (%s)", why);
		vcpu_dump(v, msg);
		return -1;
	}
	if (ioctl(v->fd, KVM_SET_REGS, &c.regs) < 0 ||
	    ioctl(v->fd, KVM_SET_SREGS, &c.sregs) < 0 ||
	    (c.fpu_dirty && store_fpu(v, &c) < 0)) {
		vcpu_dump(v, "cannot write vCPU state");
		return -1;
	}
	if (r == EMU_EXCEPTION || c.db_trap || c.nmi_unblocked) {
		struct kvm_vcpu_events ev;
		if (ioctl(v->fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
			return -1;
		ev.flags = 0;
		if (c.nmi_unblocked)
			ev.nmi.masked = 0;
		if (r == EMU_EXCEPTION && c.exc_is_intn) {
			ev.interrupt.injected = 1;
			ev.interrupt.nr = c.exc_vector;
			ev.interrupt.soft = 1;
		} else if (r == EMU_EXCEPTION || c.db_trap) {
			bool db = r != EMU_EXCEPTION;
			ev.exception.injected = 1;
			ev.exception.nr = db ? 1 : c.exc_vector;
			ev.exception.has_error_code = !db && c.exc_has_error;
			ev.exception.error_code = db ? 0 : c.exc_error;
		}
		if (ioctl(v->fd, KVM_SET_VCPU_EVENTS, &ev) < 0) {
			vcpu_dump(v, "cannot inject exception");
			return -1;
		}
	}
	__atomic_fetch_add(&v->vm->emulated, 1, __ATOMIC_RELAXED);
	return 0;
}

static void seg_line(FILE *f, const char *n, const struct kvm_segment *s)
{
	fprintf(f,
		"%s=%04x base=%016llx limit=%08x type=%x dpl=%u p=%u db=%u "
		"l=%u g=%u\n",
		n, s->selector, (unsigned long long)s->base, s->limit, s->type,
		s->dpl, s->present, s->db, s->l, s->g);
}

void vcpu_dump(struct vcpu *v, const char *why)
{
	struct emu_cpu c;
	FILE *f = stderr;
	fprintf(f, "minivmm: vcpu%u: %s\n", v->id, why);
	if (load_cpu(v, &c) < 0) {
		fprintf(f, "minivmm: (vCPU state unreadable)\n");
		return;
	}
	struct kvm_regs *r = &c.regs;
	fprintf(f,
		"RAX=%016llx RBX=%016llx RCX=%016llx RDX=%016llx\n"
		"RSI=%016llx RDI=%016llx RBP=%016llx RSP=%016llx\n"
		"R8 =%016llx R9 =%016llx R10=%016llx R11=%016llx\n"
		"R12=%016llx R13=%016llx R14=%016llx R15=%016llx\n"
		"RIP=%016llx RFLAGS=%08llx\n",
		r->rax, r->rbx, r->rcx, r->rdx, r->rsi, r->rdi, r->rbp, r->rsp,
		r->r8, r->r9, r->r10, r->r11, r->r12, r->r13, r->r14, r->r15,
		r->rip, r->rflags);
	struct kvm_sregs *s = &c.sregs;
	seg_line(f, "CS", &s->cs);
	seg_line(f, "SS", &s->ss);
	seg_line(f, "DS", &s->ds);
	seg_line(f, "ES", &s->es);
	seg_line(f, "FS", &s->fs);
	seg_line(f, "GS", &s->gs);
	fprintf(f,
		"CR0=%08llx CR2=%016llx CR3=%016llx CR4=%08llx EFER=%llx\n"
		"GDT=%016llx/%x IDT=%016llx/%x\n",
		s->cr0, s->cr2, s->cr3, s->cr4, s->efer, s->gdt.base,
		s->gdt.limit, s->idt.base, s->idt.limit);
	struct emu_mem mem = {
	    .read = emu_mem_read, .write = emu_mem_write, .opaque = &v->vm->gm};
	uint8_t code[16];
	int n = emu_fetch(&c, &mem, code, sizeof(code));
	fprintf(f, "code at RIP:");
	for (int i = 0; i < n; i++)
		fprintf(f, " %02x", code[i]);
	fprintf(f, n > 0 ? "\n" : " (not in RAM)\n");
}

static enum exit_kind classify(struct kvm_run *run)
{
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		return run->io.count > 1 ? EXK_PIO_STR : EXK_PIO;
	case KVM_EXIT_MMIO:
		return EXK_MMIO;
	case KVM_EXIT_HLT:
		return EXK_HLT;
	case KVM_EXIT_IRQ_WINDOW_OPEN:
		return EXK_IRQ_WINDOW;
	case KVM_EXIT_INTR:
		return EXK_INTR;
	case KVM_EXIT_INTERNAL_ERROR:
		return EXK_EMULATE;
	case KVM_EXIT_SHUTDOWN:
		return EXK_SHUTDOWN;
	default:
		return EXK_OTHER;
	}
}

/* Returns false when the vCPU must stop. */
static bool handle_exit(struct vcpu *v)
{
	struct vm *vm = v->vm;
	struct kvm_run *run = v->run;
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		handle_io(v);
		return true;
	case KVM_EXIT_MMIO:
		handle_mmio(v);
		return true;
	case KVM_EXIT_HLT:
		halt(v);
		return true;
	case KVM_EXIT_IRQ_WINDOW_OPEN:
	case KVM_EXIT_INTR:
		return true;
	case KVM_EXIT_SHUTDOWN: /* triple fault */
		/* No register dump: KVM has already put the vCPU in its
		 * reset state (SVM reinitialises the VMCB on shutdown). */
		vm_request_reset(vm, "a triple fault");
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		if (run->system_event.type == KVM_SYSTEM_EVENT_RESET)
			vm_request_reset(vm, "a KVM system-event reset");
		else
			vm_request_exit(vm, VM_QUIT, 0);
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION &&
		    emulate(v) == 0)
			return true;
		if (run->internal.suberror != KVM_INTERNAL_ERROR_EMULATION) {
			char msg[64];
			snprintf(msg, sizeof(msg), "KVM internal error %u",
				 run->internal.suberror);
			vcpu_dump(v, msg);
		}
		vm_request_exit(vm, VM_ERROR, 1);
		return false;
	case KVM_EXIT_FAIL_ENTRY: {
		char msg[80];
		snprintf(msg, sizeof(msg), "KVM entry failure, reason 0x%llx",
			 (unsigned long long)
			     run->fail_entry.hardware_entry_failure_reason);
		vcpu_dump(v, msg);
		vm_request_exit(vm, VM_ERROR, 1);
		return false;
	}
	default: {
		char msg[64];
		snprintf(msg, sizeof(msg), "unexpected KVM exit %u",
			 run->exit_reason);
		vcpu_dump(v, msg);
		vm_request_exit(vm, VM_ERROR, 1);
		return false;
	}
	}
}

void *vcpu_thread(void *opaque)
{
	struct vcpu *v = opaque;
	struct vm *vm = v->vm;
	this_run = v->run;
	struct sigaction sa = {.sa_handler = kick_handler};
	sigaction(SIGUSR1, &sa, NULL);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	while (running(vm)) {
		__atomic_store_n(&v->in_run, 1, __ATOMIC_SEQ_CST);
		/* After in_run is set: a stop request made later kicks us. */
		if (stop_requested(vm)) {
			__atomic_store_n(&v->in_run, 0, __ATOMIC_SEQ_CST);
			dm_lock(&vm->dm);
			park(v);
			dm_unlock(&vm->dm);
			continue;
		}
		if (!vm->cfg.kernel_irqchip)
			inject_interrupt(v);
		if (!running(vm))
			break;
		int rc = ioctl(v->fd, KVM_RUN, 0);
		int64_t t0 = now_ns();
		__atomic_store_n(&v->in_run, 0, __ATOMIC_SEQ_CST);
		v->run->immediate_exit = 0;
		drain_coalesced(v);
		if (vm->cfg.kernel_irqchip && halt_check_due(v)) {
			vm_request_exit(vm, VM_HALTED, 0);
			break;
		}
		if (rc < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				v->stats.count[EXK_INTR]++;
				continue;
			}
			fprintf(stderr, "minivmm: KVM_RUN: %s\n",
				strerror(errno));
			vm_request_exit(vm, VM_ERROR, 1);
			break;
		}
		enum exit_kind k = classify(v->run);
		bool go_on = handle_exit(v);
		v->stats.count[k]++;
		v->stats.ns[k] += now_ns() - t0;
		if (!go_on)
			break;
	}
	this_run = NULL;
	return NULL;
}
