/*
 * Emulation assist, the step: mode detection, dispatch, commit, and the
 * small instructions (Intel SDM vol. 2: INT3/INT n/INTO, CLAC/STAC,
 * CMPXCHG8B/CMPXCHG16B). IRET is in iret.c, the x87/SSE control
 * instructions in fpu.c, decoding in decode.c, paging and
 * segmentation in mmu.c.
 *
 * Every step works on a copy of the CPU state. The copy is written back
 * only when the instruction completes; a fault reports just the exception
 * (and CR2 for #PF), an unhandled instruction leaves everything as it was.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ioreq/bytes.h"
#include "vmm/emulate/internal.h"

int emu_fault(struct emu_ctx *c, uint8_t vec, bool has_err, uint32_t err)
{
	c->vec = vec;
	c->has_err = has_err;
	c->err = err;
	return E_FAULT;
}

int emu_unhandled(struct emu_ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
	return E_UNH;
}

struct kvm_segment *emu_seg(struct emu_cpu *cpu, int seg)
{
	struct kvm_sregs *s = &cpu->sregs;

	switch (seg) {
	case SEG_ES:
		return &s->es;
	case SEG_CS:
		return &s->cs;
	case SEG_SS:
		return &s->ss;
	case SEG_FS:
		return &s->fs;
	case SEG_GS:
		return &s->gs;
	default:
		return &s->ds;
	}
}

__u64 *emu_gpr(struct emu_cpu *cpu, unsigned n)
{
	struct kvm_regs *r = &cpu->regs;
	__u64 *tab[16] = {&r->rax, &r->rcx, &r->rdx, &r->rbx, &r->rsp, &r->rbp,
			  &r->rsi, &r->rdi, &r->r8,  &r->r9,  &r->r10, &r->r11,
			  &r->r12, &r->r13, &r->r14, &r->r15};
	return tab[n & 15];
}

/* RIP of the next instruction; IP/EIP wrap within the code size. */
void emu_advance(struct emu_ctx *c, const struct emu_insn *in)
{
	uint64_t ip = in->rip + in->len;

	if (c->code_size == 2)
		ip &= 0xffff;
	else if (c->code_size == 4)
		ip &= 0xffffffffu;
	c->cpu->regs.rip = ip;
}

/* Operating mode and CPL from CR0.PE, EFLAGS.VM, EFER.LMA, CS.L/D, and
 * SS.DPL (which is the CPL, as KVM reports it). */
static void set_mode(struct emu_ctx *c)
{
	const struct kvm_sregs *s = &c->cpu->sregs;

	if (!(s->cr0 & CR0_PE)) {
		c->mode = M_REAL;
		c->cpl = 0;
	} else if (s->efer & EFER_LMA) {
		c->mode = s->cs.l ? M_LONG64 : M_COMPAT;
		c->cpl = s->ss.dpl & 3;
	} else if (c->cpu->regs.rflags & FL_VM) {
		c->mode = M_VM86;
		c->cpl = 3;
	} else {
		c->mode = M_PROT;
		c->cpl = s->ss.dpl & 3;
	}
	if (c->mode == M_LONG64)
		c->code_size = 8;
	else if (c->mode == M_VM86)
		c->code_size = 2;
	else
		c->code_size = s->cs.db ? 4 : 2;
}

/* Software traps: RIP moves past the instruction, then the event is
 * delivered as if the instruction had raised it. */
static int soft_event(struct emu_ctx *c, struct emu_insn *in, uint8_t vec,
		      bool intn)
{
	struct emu_cpu *cpu = c->cpu;

	emu_advance(c, in);
	cpu->exc_pending = true;
	cpu->exc_vector = vec;
	cpu->exc_is_soft = true;
	cpu->exc_is_intn = intn;
	cpu->exc_insn_len = in->len;
	snprintf(c->why, sizeof(c->why), "%s (vector %u)",
		 intn ? "int n" : (vec == VEC_BP ? "int3" : "into"), vec);
	return E_OK;
}

static int do_int(struct emu_ctx *c, struct emu_insn *in)
{
	uint64_t n;
	int r;

	if (in->lock)
		return emu_fault(c, VEC_UD, false, 0);
	if (in->opcode == 0xcc)
		return soft_event(c, in, VEC_BP, false);
	if (in->opcode == 0xce) {
		if (c->mode == M_LONG64)
			return emu_fault(c, VEC_UD, false, 0);
		if (!(c->cpu->regs.rflags & FL_OF)) {
			emu_advance(c, in);
			snprintf(c->why, sizeof(c->why), "into (no overflow)");
			return E_OK;
		}
		return soft_event(c, in, VEC_OF, false);
	}
	if ((r = emu_fetch_imm(c, in, 1, &n)))
		return r;
	if (c->mode == M_VM86 && ((c->cpu->regs.rflags >> 12) & 3) < 3) {
		if (c->cpu->sregs.cr4 & CR4_VME)
			return emu_unhandled(c, "int n in VME mode");
		return emu_fault(c, VEC_GP, true, 0);
	}
	return soft_event(c, in, n, true);
}

/* CLAC/STAC: #UD in virtual-8086 mode and above CPL 0. */
static int do_clac_stac(struct emu_ctx *c, struct emu_insn *in)
{
	uint8_t modrm;
	int r = emu_decode_modrm(c, in);

	if (r)
		return r;
	modrm = in->mod << 6 | (in->reg & 7) << 3 | (in->rm & 7);
	if ((modrm != 0xca && modrm != 0xcb) || in->p66 || in->rep || in->repne)
		return emu_unhandled(c, "0f 01 %02x not emulated", modrm);
	if (in->lock || c->mode == M_VM86 || c->cpl > 0)
		return emu_fault(c, VEC_UD, false, 0);
	if (modrm == 0xca)
		c->cpu->regs.rflags &= ~(uint64_t)FL_AC;
	else
		c->cpu->regs.rflags |= FL_AC;
	emu_advance(c, in);
	snprintf(c->why, sizeof(c->why), "%s", modrm == 0xca ? "clac" : "stac");
	return E_OK;
}

/* Compare-exchange on guest memory: atomically through mem->cmpxchg when
 * the operand is in one page, else read-compare-write. Write permission
 * is required either way, since the CPU always writes the operand. */
static int guest_cmpxchg(struct emu_ctx *c, uint64_t lin, uint8_t *old,
			 const uint8_t *cmp, const uint8_t *nw, unsigned n)
{
	unsigned acc = EMU_ACC_WRITE | emu_user_acc(c);
	uint64_t gpa;
	int r;

	if (c->mem->cmpxchg && (lin & 0xfff) + n <= 4096) {
		if ((r = emu_translate_for(c, lin, acc, &gpa)))
			return r;
		if (!c->mem->cmpxchg(c->mem->opaque, gpa, old, cmp, nw, n))
			return emu_unhandled(c, "cmpxchg at non-RAM gpa 0x%llx",
					     (unsigned long long)gpa);
		return E_OK;
	}
	if ((r = emu_translate_for(c, lin, acc, &gpa)) ||
	    (r = emu_translate_for(c, lin + n - 1, acc, &gpa)) ||
	    (r = emu_lin_read(c, lin, old, n, acc)))
		return r;
	if (memcmp(old, cmp, n) == 0)
		return emu_lin_write(c, lin, nw, n, acc);
	return E_OK;
}

/* 0F C7 /1: CMPXCHG8B m64, and CMPXCHG16B m128 with REX.W. */
static int do_cmpxchg(struct emu_ctx *c, struct emu_insn *in)
{
	struct kvm_regs *g = &c->cpu->regs;
	unsigned n, h;
	uint8_t old[16], cmp[16], nw[16];
	uint64_t lin = 0;
	int r = emu_decode_modrm(c, in);

	if (r)
		return r;
	if ((in->reg & 7) != 1 || in->rep || in->repne)
		return emu_unhandled(c, "0f c7 /%u not emulated", in->reg & 7);
	if (in->mod == 3)
		return emu_fault(c, VEC_UD, false, 0);
	n = (in->rex & 8) ? 16 : 8;
	h = n / 2;
	if ((r = emu_seg_linear(c, in->ea_seg, in->ea, n, true, &lin)))
		return r;
	if (n == 16 && (lin & 15))
		return emu_fault(c, VEC_GP, true, 0);
	put_le(cmp, h, g->rax);
	put_le(cmp + h, h, g->rdx);
	put_le(nw, h, g->rbx);
	put_le(nw + h, h, g->rcx);
	if ((r = guest_cmpxchg(c, lin, old, cmp, nw, n)))
		return r;
	if (memcmp(old, cmp, n) == 0) {
		g->rflags |= FL_ZF;
	} else {
		g->rflags &= ~(uint64_t)FL_ZF;
		g->rax = get_le(old, h);
		g->rdx = get_le(old + h, h);
	}
	emu_advance(c, in);
	snprintf(c->why, sizeof(c->why), "cmpxchg%ub (%s)", n * 8,
		 (g->rflags & FL_ZF) ? "equal" : "not equal");
	return E_OK;
}

/* FWAIT, and when it passes, the x87 control instruction right after it
 * (FINIT = 9B DB E3, FCLEX = 9B DB E2, ...) in the same step. */
static int do_fwait(struct emu_ctx *c, struct emu_insn *in)
{
	struct emu_insn next = {0};
	struct emu_cpu saved;
	int r = emu_fwait(c);

	if (r)
		return r;
	emu_advance(c, in);
	saved = *c->cpu;
	/* A fault fetching the next instruction belongs to that
	 * instruction: the wait alone completes. A fault of the x87
	 * instruction is reported at the FWAIT, which re-executes
	 * harmlessly after the handler. */
	r = emu_decode(c, &next);
	if (r == E_OK && next.opcode >= 0xd8 && next.opcode <= 0xdf &&
	    !next.vex)
		r = emu_x87(c, &next);
	else
		r = E_UNH;
	if (r == E_UNH) {
		/* Only the wait is done; the next instruction runs later. */
		*c->cpu = saved;
		snprintf(c->why, sizeof(c->why), "fwait");
		return E_OK;
	}
	return r;
}

static int dispatch(struct emu_ctx *c, struct emu_insn *in)
{
	if (in->vex && in->opcode != 0x0fae)
		return emu_unhandled(c, "VEX opcode 0f %02x not emulated",
				     in->opcode & 0xff);
	switch (in->opcode) {
	case 0xcf:
		return emu_iret(c, in);
	case 0xcc:
	case 0xcd:
	case 0xce:
		return do_int(c, in);
	case 0x9b:
		return do_fwait(c, in);
	case 0xd8 ... 0xdf:
		return emu_x87(c, in);
	case 0x0f77:
		return emu_emms(c, in);
	case 0x0fae:
		return emu_mxcsr(c, in);
	case 0x0f01:
		return do_clac_stac(c, in);
	case 0x0fc7:
		return do_cmpxchg(c, in);
	}
	if (in->opcode > 0xff)
		return emu_unhandled(c, "opcode 0f %02x not emulated",
				     in->opcode & 0xff);
	return emu_unhandled(c, "opcode %02x not emulated", in->opcode);
}

static void set_why(char *why, size_t whylen, const char *s)
{
	if (why && whylen)
		snprintf(why, whylen, "%s", s);
}

static void clear_outputs(struct emu_cpu *cpu)
{
	cpu->exc_pending = false;
	cpu->exc_vector = 0;
	cpu->exc_has_error = false;
	cpu->exc_error = 0;
	cpu->fpu_dirty = false;
	cpu->exc_is_soft = false;
	cpu->exc_is_intn = false;
	cpu->exc_insn_len = 0;
	cpu->db_trap = false;
	cpu->nmi_unblocked = false;
}

enum emu_result emu_step(struct emu_cpu *cpu, const struct emu_mem *mem,
			 char *why, size_t whylen)
{
	struct emu_cpu w = *cpu;
	struct emu_ctx c = {.cpu = &w, .mem = mem};
	struct emu_insn in = {0};
	bool tf = cpu->regs.rflags & FL_TF;
	int r;

	clear_outputs(&w);
	set_mode(&c);
	r = emu_decode(&c, &in);
	if (r == E_OK)
		r = dispatch(&c, &in);
	if (r == E_UNH) {
		set_why(why, whylen, c.why);
		return EMU_UNHANDLED;
	}
	if (r == E_FAULT) {
		clear_outputs(cpu);
		cpu->exc_pending = true;
		cpu->exc_vector = c.vec;
		cpu->exc_has_error = c.has_err;
		cpu->exc_error = c.err;
		if (c.is_pf)
			cpu->sregs.cr2 = c.cr2;
		snprintf(c.why, sizeof(c.why), "exception %u (error 0x%x)",
			 c.vec, c.err);
		set_why(why, whylen, c.why);
		return EMU_EXCEPTION;
	}
	if (in.opcode == 0xcf)
		w.nmi_unblocked = true;
	else
		w.regs.rflags &= ~(uint64_t)FL_RF;
	w.db_trap = tf && !w.exc_pending;
	*cpu = w;
	set_why(why, whylen, c.why);
	return w.exc_pending ? EMU_EXCEPTION : EMU_DONE;
}
