/*
 * Emulation assist: a small user-space x86 emulator for the instructions
 * that this host's KVM refuses to emulate (KVM_EXIT_INTERNAL_ERROR with
 * suberror KVM_INTERNAL_ERROR_EMULATION), see KVM-HOST-NOTES.md.
 *
 * Followed: Intel SDM vol. 2 (IRET, FNINIT, FNCLEX, FWAIT, EMMS, FNSTSW,
 * FNSTCW, FLDCW, FFREE, LDMXCSR, STMXCSR, CLAC, STAC, INT n/INTO/INT3,
 * CMPXCHG8B/16B) and vol. 3 (chapter 3 segmentation, chapter 4 paging,
 * chapter 6 exceptions).
 *
 * This code never calls ioctl: the vCPU loop reads the state with
 * KVM_GET_REGS/SREGS/FPU, calls emu_step(), writes the state back
 * (KVM_SET_FPU only when fpu_dirty) and injects the event it reports.
 */
#ifndef MINIVMM_EMULATE_H
#define MINIVMM_EMULATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

struct emu_cpu {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_fpu fpu;
	/* out: exception to inject after the step */
	bool exc_pending;
	uint8_t exc_vector;
	bool exc_has_error;
	uint32_t exc_error;
	bool fpu_dirty; /* fpu was changed and must be written back */
	/*
	 * out, extensions. exc_is_soft: the event is a software trap (INT3,
	 * INTO, INT n): RIP already points past the instruction, whose length
	 * is exc_insn_len. For INT3 (#BP) and INTO (#OF) inject an exception;
	 * when exc_is_intn is set (INT n, CD xx) inject a soft interrupt
	 * (kvm_vcpu_events.interrupt with soft = 1).
	 */
	bool exc_is_soft;
	bool exc_is_intn;
	uint8_t exc_insn_len;
	/* out: EFLAGS.TF was set before a completed instruction: deliver a
	 * single-step #DB (DR6.BS) after it, as the CPU would. */
	bool db_trap;
	/* out: an IRET completed, which ends NMI blocking (clear
	 * kvm_vcpu_events.nmi.masked). */
	bool nmi_unblocked;
};

/* Guest-PHYSICAL memory access; false = not RAM. */
struct emu_mem {
	bool (*read)(void *opaque, uint64_t gpa, void *buf, size_t n);
	bool (*write)(void *opaque, uint64_t gpa, const void *buf, size_t n);
	void *opaque;
	/*
	 * Optional (may be NULL): atomic compare-and-exchange of n (8 or 16)
	 * bytes at gpa, for LOCK CMPXCHG8B/16B with other vCPUs running.
	 * Returns false if not RAM; otherwise stores the old contents in
	 * *old and writes *new only if they were equal to *cmp.
	 */
	bool (*cmpxchg)(void *opaque, uint64_t gpa, void *old, const void *cmp,
			const void *new, size_t n);
};

enum emu_result {
	EMU_DONE,      /* state updated, resume */
	EMU_EXCEPTION, /* exc_* set: faults leave RIP at the faulting insn,
			  soft traps (exc_is_soft) leave it past the insn */
	EMU_UNHANDLED, /* not emulated; state untouched */
};

/*
 * Emulate the one instruction at CS:RIP. 'why' (may be NULL) explains
 * EMU_UNHANDLED, or names the instruction emulated / exception raised.
 * A #PF also sets sregs.cr2.
 */
enum emu_result emu_step(struct emu_cpu *cpu, const struct emu_mem *mem,
			 char *why, size_t whylen);

/* Bytes at CS:RIP for a register dump; returns the count read. */
int emu_fetch(struct emu_cpu *cpu, const struct emu_mem *mem, uint8_t *buf,
	      size_t n);

/*
 * Page walk of the current paging mode (none, 32-bit with PSE, PAE,
 * 4-level and 5-level long mode), honouring P, R/W with CR0.WP, U/S, NX
 * with EFER.NXE, reserved bits, SMEP and SMAP (with EFLAGS.AC). Pure
 * query: accessed/dirty bits are not set. Returns 0 and *gpa, or -1 and
 * the #PF error code in *pf_error (-2 if a paging structure is not RAM).
 */
int emu_translate(struct emu_cpu *cpu, const struct emu_mem *mem,
		  uint64_t linear, bool write, bool user, uint64_t *gpa,
		  uint32_t *pf_error);

/* Access kinds for emu_translate_ex(). */
#define EMU_ACC_WRITE	 1u
#define EMU_ACC_USER	 2u
#define EMU_ACC_FETCH	 4u
#define EMU_ACC_IMPLICIT 8u  /* implicit supervisor access (GDT, LDT...) */
#define EMU_ACC_SET_AD	 16u /* set accessed/dirty bits like the CPU */

int emu_translate_ex(struct emu_cpu *cpu, const struct emu_mem *mem,
		     uint64_t linear, unsigned acc, uint64_t *gpa,
		     uint32_t *pf_error);

#endif
