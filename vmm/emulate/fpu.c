/*
 * Emulation assist, x87/MMX/SSE control instructions on struct kvm_fpu
 * (Intel SDM vol. 2: FNINIT, FNCLEX, FWAIT, EMMS, FNSTSW, FNSTCW, FLDCW,
 * FFREE, LDMXCSR/VLDMXCSR, STMXCSR/VSTMXCSR; vol. 1 chapter 8 for the
 * x87 status/control/tag words; vol. 3 2.5 for CR0.EM/MP/TS/NE).
 * kvm_fpu.ftwx is the FXSAVE abridged tag: one bit per physical register,
 * 1 = valid, 0 = empty.
 */
#include <stdio.h>

#include "vmm/emulate/internal.h"

#define FSW_EXC	 0x003fu /* IE DE ZE OE UE PE */
#define FSW_ES	 0x0080u
#define FSW_B	 0x8000u
#define FCW_INIT 0x037fu
/* FCW bits 6, 7, 13-15 are reserved; bit 6 reads back as one. */
#define FCW_RSVD 0xe0c0u
/* MXCSR bits 16-31 are reserved (MXCSR_MASK 0xffff, with DAZ). */
#define MXCSR_RSVD 0xffff0000u

/* x87 instructions: #NM when CR0.EM or CR0.TS is set. */
static int x87_avail(struct emu_ctx *c)
{
	if (c->cpu->sregs.cr0 & (CR0_EM | CR0_TS))
		return emu_fault(c, VEC_NM, false, 0);
	return E_OK;
}

/*
 * A waiting instruction with an unmasked exception pending: #MF with
 * CR0.NE, otherwise the legacy FERR#/IGNNE# path (an external interrupt
 * we do not model), so the instruction just goes on.
 */
static int pending_mf(struct emu_ctx *c)
{
	if ((c->cpu->fpu.fsw & FSW_ES) && (c->cpu->sregs.cr0 & CR0_NE))
		return emu_fault(c, VEC_MF, false, 0);
	return E_OK;
}

static void recompute_es(struct kvm_fpu *f)
{
	if (f->fsw & ~f->fcw & FSW_EXC)
		f->fsw |= FSW_ES | FSW_B;
	else
		f->fsw &= ~(FSW_ES | FSW_B);
}

static void fninit(struct kvm_fpu *f)
{
	f->fcw = FCW_INIT;
	f->fsw = 0;
	f->ftwx = 0;
	f->last_opcode = 0;
	f->last_ip = 0;
	f->last_dp = 0;
}

static int store16(struct emu_ctx *c, struct emu_insn *in, uint16_t v)
{
	uint8_t b[2] = {v & 0xff, v >> 8};

	return emu_write(c, in->ea_seg, in->ea, b, 2);
}

static int fldcw(struct emu_ctx *c, struct emu_insn *in)
{
	struct kvm_fpu *f = &c->cpu->fpu;
	uint8_t b[2];
	int r = pending_mf(c);

	if (r || (r = emu_read(c, in->ea_seg, in->ea, b, 2)))
		return r;
	f->fcw = ((b[0] | b[1] << 8) & ~FCW_RSVD) | 0x40;
	recompute_es(f);
	snprintf(c->why, sizeof(c->why), "fldcw");
	return E_OK;
}

/* D9, DD, DF with a memory operand. */
static int x87_mem(struct emu_ctx *c, struct emu_insn *in)
{
	struct kvm_fpu *f = &c->cpu->fpu;
	unsigned op = (in->opcode << 3) | (in->reg & 7);

	switch (op) {
	case (0xd9 << 3) | 5:
		return fldcw(c, in);
	case (0xd9 << 3) | 7:
		snprintf(c->why, sizeof(c->why), "fnstcw m16");
		return store16(c, in, f->fcw);
	case (0xdd << 3) | 7:
		snprintf(c->why, sizeof(c->why), "fnstsw m16");
		return store16(c, in, f->fsw);
	}
	return emu_unhandled(c, "x87 %02x /%u not emulated", in->opcode,
			     in->reg & 7);
}

/* Register forms: FNINIT, FNCLEX, FNSTSW AX, FFREE. */
static int x87_reg(struct emu_ctx *c, struct emu_insn *in)
{
	struct kvm_fpu *f = &c->cpu->fpu;
	uint8_t modrm = 0xc0 | (in->reg & 7) << 3 | (in->rm & 7);
	unsigned phys;

	if (in->opcode == 0xdb && modrm == 0xe3) {
		fninit(f);
		snprintf(c->why, sizeof(c->why), "fninit");
	} else if (in->opcode == 0xdb && modrm == 0xe2) {
		f->fsw &= ~(FSW_EXC | 0x40 | FSW_ES | FSW_B);
		snprintf(c->why, sizeof(c->why), "fnclex");
	} else if (in->opcode == 0xdf && modrm == 0xe0) {
		c->cpu->regs.rax = (c->cpu->regs.rax & ~0xffffull) | f->fsw;
		snprintf(c->why, sizeof(c->why), "fnstsw ax");
	} else if (in->opcode == 0xdd && (modrm & 0xf8) == 0xc0) {
		phys = (((f->fsw >> 11) & 7) + (modrm & 7)) & 7;
		f->ftwx &= ~(1u << phys);
		snprintf(c->why, sizeof(c->why), "ffree st(%u)", modrm & 7);
	} else {
		return emu_unhandled(c, "x87 %02x %02x not emulated",
				     in->opcode, modrm);
	}
	return E_OK;
}

static bool x87_known(const struct emu_insn *in)
{
	uint8_t modrm = 0xc0 | (in->reg & 7) << 3 | (in->rm & 7);
	unsigned reg = in->reg & 7;

	if (in->mod == 3)
		return (in->opcode == 0xdb &&
			(modrm == 0xe2 || modrm == 0xe3)) ||
		       (in->opcode == 0xdf && modrm == 0xe0) ||
		       (in->opcode == 0xdd && (modrm & 0xf8) == 0xc0);
	return (in->opcode == 0xd9 && (reg == 5 || reg == 7)) ||
	       (in->opcode == 0xdd && reg == 7);
}

/*
 * Any x87 escape (D8-DF) faults with #NM under CR0.EM/TS before it does
 * anything, so that is done for all of them: a lazy-FPU guest gets its
 * #NM even for instructions emulated nowhere else.
 */
int emu_x87(struct emu_ctx *c, struct emu_insn *in)
{
	int r = emu_decode_modrm(c, in);

	if (r)
		return r;
	if (in->lock)
		return emu_fault(c, VEC_UD, false, 0);
	if ((r = x87_avail(c)))
		return r;
	if (!x87_known(in))
		return emu_unhandled(
		    c, "x87 %02x %02x not emulated", in->opcode,
		    in->mod << 6 | (in->reg & 7) << 3 | (in->rm & 7));
	r = in->mod == 3 ? x87_reg(c, in) : x87_mem(c, in);
	if (r)
		return r;
	c->cpu->fpu_dirty = true;
	emu_advance(c, in);
	return E_OK;
}

int emu_fwait(struct emu_ctx *c)
{
	uint64_t cr0 = c->cpu->sregs.cr0;

	if ((cr0 & CR0_MP) && (cr0 & CR0_TS))
		return emu_fault(c, VEC_NM, false, 0);
	snprintf(c->why, sizeof(c->why), "fwait");
	return pending_mf(c);
}

int emu_emms(struct emu_ctx *c, struct emu_insn *in)
{
	int r;

	if (in->p66 || in->rep || in->repne)
		return emu_unhandled(c, "prefixed 0f 77 not emulated");
	if (in->lock || (c->cpu->sregs.cr0 & CR0_EM))
		return emu_fault(c, VEC_UD, false, 0);
	if (c->cpu->sregs.cr0 & CR0_TS)
		return emu_fault(c, VEC_NM, false, 0);
	if ((r = pending_mf(c)))
		return r;
	c->cpu->fpu.ftwx = 0;
	c->cpu->fpu_dirty = true;
	emu_advance(c, in);
	snprintf(c->why, sizeof(c->why), "emms");
	return E_OK;
}

static int mxcsr_avail(struct emu_ctx *c, struct emu_insn *in)
{
	const struct kvm_sregs *s = &c->cpu->sregs;

	if (in->lock)
		return emu_fault(c, VEC_UD, false, 0);
	if (in->vex) {
		if (in->vex_vvvv || in->vex_l || !(s->cr4 & CR4_OSXSAVE))
			return emu_fault(c, VEC_UD, false, 0);
	} else if ((s->cr0 & CR0_EM) || !(s->cr4 & CR4_OSFXSR)) {
		return emu_fault(c, VEC_UD, false, 0);
	}
	if (s->cr0 & CR0_TS)
		return emu_fault(c, VEC_NM, false, 0);
	return E_OK;
}

/* 0F AE /2 LDMXCSR m32 and /3 STMXCSR m32 (and their VEX forms). */
int emu_mxcsr(struct emu_ctx *c, struct emu_insn *in)
{
	struct kvm_fpu *f = &c->cpu->fpu;
	uint8_t b[4];
	uint32_t v;
	int r = emu_decode_modrm(c, in);

	if (r)
		return r;
	if (in->mod == 3 || ((in->reg & 7) != 2 && (in->reg & 7) != 3) ||
	    in->p66 || in->rep || in->repne)
		return emu_unhandled(c, "0f ae /%u (mod %u) not emulated",
				     in->reg & 7, in->mod);
	if ((r = mxcsr_avail(c, in)))
		return r;
	if ((in->reg & 7) == 3) {
		v = f->mxcsr;
		b[0] = v, b[1] = v >> 8, b[2] = v >> 16, b[3] = v >> 24;
		if ((r = emu_write(c, in->ea_seg, in->ea, b, 4)))
			return r;
		snprintf(c->why, sizeof(c->why), "%sstmxcsr",
			 in->vex ? "v" : "");
	} else {
		if ((r = emu_read(c, in->ea_seg, in->ea, b, 4)))
			return r;
		v = b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24;
		if (v & MXCSR_RSVD)
			return emu_fault(c, VEC_GP, true, 0);
		f->mxcsr = v;
		c->cpu->fpu_dirty = true;
		snprintf(c->why, sizeof(c->why), "%sldmxcsr",
			 in->vex ? "v" : "");
	}
	emu_advance(c, in);
	return E_OK;
}
