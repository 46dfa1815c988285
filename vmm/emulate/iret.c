/*
 * Emulation assist, IRET/IRETD/IRETQ (Intel SDM vol. 2A "IRET", vol. 3
 * chapters 5 and 20): real mode, virtual-8086 mode (IOPL 3 and CR4.VME),
 * return to virtual-8086 mode, protected mode to the same or an outer
 * privilege level, and IA-32e mode (64-bit and compatibility mode).
 * Task returns (EFLAGS.NT in protected mode) are not emulated.
 *
 * The work is done on the step's working copy of the CPU, which is thrown
 * away on a fault, so state may be changed as soon as it is known.
 */
#include <stdio.h>

#include "vmm/emulate/internal.h"

#define FL_STATUS                                                              \
	(FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF | FL_TF | FL_DF | FL_OF | FL_NT)
/* Bits that exist in EFLAGS; 1 is fixed at one, 3, 5, 15 and 22+ at zero. */
#define FL_DEFINED 0x3f7fd5u

struct frame {
	uint64_t sp;	 /* stack offset of the frame */
	uint64_t spmask; /* stack address size */
	unsigned os;	 /* operand size */
};

static uint64_t gdt_lin_mask(const struct emu_cpu *cpu)
{
	return (cpu->sregs.efer & EFER_LMA) ? ~0ull : 0xffffffffull;
}

/* Read slot 'i' (operand-size sized) of the frame on the stack. */
static int pop_slot(struct emu_ctx *c, const struct frame *f, unsigned i,
		    uint64_t *v)
{
	uint8_t b[8] = {0};
	/* Slots are not wrapped at 64 KiB on a 16-bit stack: a frame
	 * crossing the limit faults, as on Bochs. */
	uint64_t off = f->sp + (uint64_t)i * f->os;

	if (f->spmask != ~0ull)
		off = (uint32_t)off;
	int r = emu_read(c, SEG_SS, off, b, f->os);

	*v = 0;
	for (unsigned k = 0; k < f->os; k++)
		*v |= (uint64_t)b[k] << (8 * k);
	return r;
}

static void frame_init(struct emu_ctx *c, struct frame *f, unsigned os)
{
	const struct emu_cpu *cpu = c->cpu;

	f->os = os;
	if (c->mode == M_LONG64)
		f->spmask = ~0ull;
	else if (cpu->sregs.ss.db && c->mode != M_VM86)
		f->spmask = 0xffffffffull;
	else
		f->spmask = 0xffff;
	f->sp = cpu->regs.rsp & f->spmask;
}

/* Drop 'n' slots: only the bits of the stack pointer in use change. */
static void frame_pop(struct emu_ctx *c, const struct frame *f, unsigned n)
{
	__u64 *rsp = &c->cpu->regs.rsp;
	uint64_t nsp = (f->sp + (uint64_t)n * f->os) & f->spmask;

	if (f->spmask == 0xffff)
		*rsp = (*rsp & ~0xffffull) | nsp;
	else
		*rsp = nsp;
}

static void real_seg(struct kvm_segment *s, uint16_t sel)
{
	s->selector = sel;
	s->base = (uint64_t)sel << 4;
}

/* Virtual-8086 segments as VMX requires them: base sel*16, 64 KiB,
 * present read/write accessed data at DPL 3. */
static void v86_seg(struct kvm_segment *s, uint16_t sel)
{
	*s = (struct kvm_segment){.selector = sel,
				  .base = (uint64_t)sel << 4,
				  .limit = 0xffff,
				  .type = 3,
				  .present = 1,
				  .dpl = 3,
				  .s = 1};
}

struct desc {
	uint32_t lo, hi;
	uint64_t lin; /* where it was read, to set the accessed bit */
};

static int read_desc(struct emu_ctx *c, uint16_t sel, struct desc *d)
{
	const struct kvm_sregs *s = &c->cpu->sregs;
	uint64_t base = s->gdt.base, limit = s->gdt.limit;
	unsigned acc = EMU_ACC_SET_AD | (c->cpl == 3 ? EMU_ACC_IMPLICIT : 0);
	uint8_t b[8];
	int r;

	if (sel & 4) {
		if (s->ldt.unusable || !s->ldt.present ||
		    !(s->ldt.selector & 0xfffc))
			return emu_fault(c, VEC_GP, true, sel & 0xfffc);
		base = s->ldt.base;
		limit = s->ldt.limit;
	}
	if ((uint64_t)(sel & ~7u) + 7 > limit)
		return emu_fault(c, VEC_GP, true, sel & 0xfffc);
	d->lin = (base + (sel & ~7u)) & gdt_lin_mask(c->cpu);
	r = emu_lin_read(c, d->lin, b, 8, acc);
	d->lo = b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24;
	d->hi = b[4] | b[5] << 8 | b[6] << 16 | (uint32_t)b[7] << 24;
	return r;
}

static void desc_to_seg(const struct desc *d, uint16_t sel,
			struct kvm_segment *s)
{
	uint32_t limit = (d->lo & 0xffff) | (d->hi & 0xf0000);

	*s = (struct kvm_segment){0};
	s->selector = sel;
	s->base =
	    (d->lo >> 16) | ((d->hi & 0xff) << 16) | (d->hi & 0xff000000u);
	s->g = (d->hi >> 23) & 1;
	s->limit = s->g ? (limit << 12) | 0xfff : limit;
	s->type = (d->hi >> 8) & 15;
	s->s = (d->hi >> 12) & 1;
	s->dpl = (d->hi >> 13) & 3;
	s->present = (d->hi >> 15) & 1;
	s->avl = (d->hi >> 20) & 1;
	s->l = (d->hi >> 21) & 1;
	s->db = (d->hi >> 22) & 1;
}

/* Loading a segment register marks its descriptor accessed (vol. 3 3.4.5.1). */
static int set_accessed(struct emu_ctx *c, struct desc *d,
			struct kvm_segment *s)
{
	unsigned acc = EMU_ACC_SET_AD | (c->cpl == 3 ? EMU_ACC_IMPLICIT : 0);
	uint8_t b;

	s->type |= 1;
	if (d->hi & 0x100)
		return E_OK;
	b = ((d->hi >> 8) & 0xff) | 1;
	return emu_lin_write(c, (d->lin + 5) & gdt_lin_mask(c->cpu), &b, 1,
			     acc);
}

/* Return code segment checks of the IRET pseudo-code. */
static int check_cs(struct emu_ctx *c, uint16_t sel, const struct desc *d)
{
	unsigned rpl = sel & 3, dpl = (d->hi >> 13) & 3;
	bool code = (d->hi & (1u << 12)) && (d->hi & (1u << 11));
	bool conforming = d->hi & (1u << 10);
	uint16_t err = sel & 0xfffc;

	if (!code || rpl < c->cpl)
		return emu_fault(c, VEC_GP, true, err);
	if (conforming ? dpl > rpl : dpl != rpl)
		return emu_fault(c, VEC_GP, true, err);
	/* L and D together are reserved in IA-32e mode. */
	if ((c->cpu->sregs.efer & EFER_LMA) && (d->hi & (1u << 21)) &&
	    (d->hi & (1u << 22)))
		return emu_fault(c, VEC_GP, true, err);
	if (!(d->hi & (1u << 15)))
		return emu_fault(c, VEC_NP, true, err);
	return E_OK;
}

static int check_ss(struct emu_ctx *c, uint16_t sel, const struct desc *d,
		    unsigned rpl)
{
	unsigned dpl = (d->hi >> 13) & 3, type = (d->hi >> 8) & 15;
	bool s = d->hi & (1u << 12);
	uint16_t err = sel & 0xfffc;

	if ((sel & 3) != rpl || !s || (type & 8) || !(type & 2) || dpl != rpl)
		return emu_fault(c, VEC_GP, true, err);
	if (!(d->hi & (1u << 15)))
		return emu_fault(c, VEC_SS, true, err);
	return E_OK;
}

/* EFLAGS image of a protected/IA-32e mode IRET (same or outer privilege). */
static void load_flags(struct emu_ctx *c, uint64_t nf, unsigned os)
{
	uint64_t f = c->cpu->regs.rflags;
	unsigned iopl = (f >> 12) & 3;
	uint32_t mask = FL_STATUS;

	if (os >= 4)
		mask |= FL_RF | FL_AC | FL_ID;
	if (c->cpl <= iopl)
		mask |= FL_IF;
	if (c->cpl == 0) {
		mask |= FL_IOPL;
		if (os >= 4)
			mask |= FL_VIF | FL_VIP;
	}
	f = (f & ~(uint64_t)mask) | (nf & mask);
	c->cpu->regs.rflags = (f & FL_DEFINED) | FL_FIX1;
}

/* Null DS/ES/FS/GS that the new, less privileged CPL may not use. The
 * cached base is kept: 64-bit code still uses FS/GS bases behind null
 * selectors. */
static void null_data_segs(struct emu_ctx *c)
{
	static const int segs[4] = {SEG_ES, SEG_DS, SEG_FS, SEG_GS};

	for (int i = 0; i < 4; i++) {
		struct kvm_segment *s = emu_seg(c->cpu, segs[i]);
		bool data_or_nc = !(s->type & 8) || !(s->type & 4);

		if (!(s->selector & 0xfffc) ||
		    (s->dpl < c->cpl && data_or_nc)) {
			s->selector = 0;
			s->present = 0;
			s->unusable = 1;
		}
	}
}

static int iret_real(struct emu_ctx *c, struct emu_insn *in)
{
	struct emu_cpu *cpu = c->cpu;
	struct frame f;
	uint64_t ip, cs, nf;
	int r;

	frame_init(c, &f, in->opsize);
	if ((r = pop_slot(c, &f, 0, &ip)) || (r = pop_slot(c, &f, 1, &cs)) ||
	    (r = pop_slot(c, &f, 2, &nf)))
		return r;
	if (ip > cpu->sregs.cs.limit)
		return emu_fault(c, VEC_GP, true, 0);
	if (f.os == 4)
		cpu->regs.rflags =
		    (nf & 0x257fd5) | (cpu->regs.rflags & 0x1a0000) | FL_FIX1;
	else
		cpu->regs.rflags =
		    (cpu->regs.rflags & ~0xffffull) | (nf & 0x7fd5) | FL_FIX1;
	real_seg(&cpu->sregs.cs, cs);
	cpu->regs.rip = ip;
	frame_pop(c, &f, 3);
	snprintf(c->why, sizeof(c->why), "iret%s (real mode)",
		 f.os == 4 ? "d" : "");
	return E_OK;
}

/* VME: a 16-bit IRET at IOPL < 3 moves IF into VIF (vol. 3 20.3). */
static int iret_vme(struct emu_ctx *c, struct frame *f)
{
	struct emu_cpu *cpu = c->cpu;
	uint64_t ip, cs, nf, keep = FL_IF | FL_IOPL;
	int r;

	if ((r = pop_slot(c, f, 0, &ip)) || (r = pop_slot(c, f, 1, &cs)) ||
	    (r = pop_slot(c, f, 2, &nf)))
		return r;
	if (((cpu->regs.rflags & FL_VIP) && (nf & FL_IF)) || (nf & FL_TF))
		return emu_fault(c, VEC_GP, true, 0);
	if (ip > cpu->sregs.cs.limit)
		return emu_fault(c, VEC_GP, true, 0);
	cpu->regs.rflags = (cpu->regs.rflags & ~(0xffffull & ~keep)) |
			   (nf & 0x7fd5 & ~keep) | FL_FIX1;
	cpu->regs.rflags &= ~(uint64_t)FL_VIF;
	if (nf & FL_IF)
		cpu->regs.rflags |= FL_VIF;
	v86_seg(&cpu->sregs.cs, cs);
	cpu->regs.rip = ip;
	frame_pop(c, f, 3);
	snprintf(c->why, sizeof(c->why), "iret (virtual-8086, VME)");
	return E_OK;
}

static int iret_v86(struct emu_ctx *c, struct emu_insn *in)
{
	struct emu_cpu *cpu = c->cpu;
	unsigned iopl = (cpu->regs.rflags >> 12) & 3;
	uint64_t ip, cs, nf, mask;
	struct frame f;
	int r;

	frame_init(c, &f, in->opsize);
	if (iopl < 3) {
		if ((cpu->sregs.cr4 & CR4_VME) && f.os == 2)
			return iret_vme(c, &f);
		return emu_fault(c, VEC_GP, true, 0);
	}
	if ((r = pop_slot(c, &f, 0, &ip)) || (r = pop_slot(c, &f, 1, &cs)) ||
	    (r = pop_slot(c, &f, 2, &nf)))
		return r;
	if (ip > cpu->sregs.cs.limit)
		return emu_fault(c, VEC_GP, true, 0);
	if (f.os == 4)
		mask = FL_DEFINED & ~(FL_VM | FL_IOPL | FL_VIP | FL_VIF);
	else
		mask = 0x7fd5 & ~FL_IOPL;
	cpu->regs.rflags = (cpu->regs.rflags & ~mask) | (nf & mask) | FL_FIX1;
	v86_seg(&cpu->sregs.cs, cs);
	cpu->regs.rip = ip;
	frame_pop(c, &f, 3);
	snprintf(c->why, sizeof(c->why), "iret%s (virtual-8086)",
		 f.os == 4 ? "d" : "");
	return E_OK;
}

/* IRETD at CPL 0 with EFLAGS.VM in the image: pops ESP, SS, ES, DS, FS
 * and GS too. The high half of EIP is ignored, as on hardware. */
static int iret_to_v86(struct emu_ctx *c, struct frame *f, uint64_t ip,
		       uint64_t cs, uint64_t nf)
{
	struct emu_cpu *cpu = c->cpu;
	struct kvm_sregs *s = &cpu->sregs;
	uint64_t v[6];
	int r;

	for (unsigned i = 0; i < 6; i++) {
		r = pop_slot(c, f, 3 + i, &v[i]);
		if (r)
			return r;
	}
	cpu->regs.rflags = (nf & FL_DEFINED) | FL_FIX1;
	v86_seg(&s->cs, cs);
	v86_seg(&s->ss, v[1]);
	v86_seg(&s->es, v[2]);
	v86_seg(&s->ds, v[3]);
	v86_seg(&s->fs, v[4]);
	v86_seg(&s->gs, v[5]);
	cpu->regs.rip = ip & 0xffff;
	cpu->regs.rsp = (uint32_t)v[0];
	snprintf(c->why, sizeof(c->why), "iretd (to virtual-8086)");
	return E_OK;
}

/* SS:ESP of a return to an outer privilege level (16/32-bit). */
static int load_outer_ss(struct emu_ctx *c, struct frame *f, unsigned rpl,
			 struct kvm_segment *ss, struct desc *ssd, uint64_t *sp)
{
	uint64_t sel;
	int r;

	if ((r = pop_slot(c, f, 3, sp)) || (r = pop_slot(c, f, 4, &sel)))
		return r;
	sel &= 0xffff;
	if (!(sel & 0xfffc))
		return emu_fault(c, VEC_GP, true, 0);
	if ((r = read_desc(c, sel, ssd)) || (r = check_ss(c, sel, ssd, rpl)))
		return r;
	desc_to_seg(ssd, sel, ss);
	return E_OK;
}

static void set_outer_sp(struct emu_ctx *c, const struct kvm_segment *ss,
			 uint64_t sp)
{
	__u64 *rsp = &c->cpu->regs.rsp;

	/* A 16-bit stack keeps the old high half of ESP (what espfix is
	 * about). */
	if (ss->db)
		*rsp = (uint32_t)sp;
	else
		*rsp = (uint32_t)((*rsp & 0xffff0000u) | (sp & 0xffff));
}

static int iret_prot(struct emu_ctx *c, struct emu_insn *in)
{
	struct emu_cpu *cpu = c->cpu;
	struct kvm_segment ncs, nss;
	struct desc csd, ssd;
	uint64_t ip, cs, nf, sp = 0;
	struct frame f;
	unsigned rpl, old_cpl = c->cpl;
	int r;

	if (cpu->regs.rflags & FL_NT)
		return emu_unhandled(c, "iret: task return (NT) not supported");
	frame_init(c, &f, in->opsize);
	if ((r = pop_slot(c, &f, 0, &ip)) || (r = pop_slot(c, &f, 1, &cs)) ||
	    (r = pop_slot(c, &f, 2, &nf)))
		return r;
	cs &= 0xffff;
	if (f.os == 4 && (nf & FL_VM) && c->cpl == 0)
		return iret_to_v86(c, &f, ip, cs, nf);
	if (!(cs & 0xfffc))
		return emu_fault(c, VEC_GP, true, 0);
	if ((r = read_desc(c, cs, &csd)) || (r = check_cs(c, cs, &csd)))
		return r;
	rpl = cs & 3;
	desc_to_seg(&csd, cs, &ncs);
	if (rpl > c->cpl) {
		r = load_outer_ss(c, &f, rpl, &nss, &ssd, &sp);
		if (r)
			return r;
	}
	if (ip > ncs.limit)
		return emu_fault(c, VEC_GP, true, 0);
	if ((r = set_accessed(c, &csd, &ncs)))
		return r;
	if (rpl > c->cpl && (r = set_accessed(c, &ssd, &nss)))
		return r;
	load_flags(c, nf, f.os);
	cpu->sregs.cs = ncs;
	cpu->regs.rip = (uint32_t)ip;
	if (rpl == c->cpl) {
		frame_pop(c, &f, 3);
	} else {
		cpu->sregs.ss = nss;
		set_outer_sp(c, &nss, sp);
		c->cpl = rpl;
		null_data_segs(c);
	}
	snprintf(c->why, sizeof(c->why), "iret%s (%s privilege)",
		 f.os == 4 ? "d" : "", rpl > old_cpl ? "outer" : "same");
	return E_OK;
}

/* A null SS is allowed only when going back to 64-bit code at CPL < 3;
 * it is loaded as a flat writable segment of the new CPL. */
static int long_ss(struct emu_ctx *c, uint16_t sel, unsigned rpl, bool new64,
		   struct kvm_segment *ss, struct desc *d, bool *null)
{
	int r;

	*null = !(sel & 0xfffc);
	if (*null) {
		if (!new64 || rpl == 3 || (sel & 3) != rpl)
			return emu_fault(c, VEC_GP, true, 0);
		*ss = (struct kvm_segment){.selector = sel,
					   .limit = 0xffffffff,
					   .type = 3,
					   .present = 1,
					   .dpl = rpl,
					   .db = 1,
					   .s = 1,
					   .g = 1};
		return E_OK;
	}
	if ((r = read_desc(c, sel, d)) || (r = check_ss(c, sel, d, rpl)))
		return r;
	desc_to_seg(d, sel, ss);
	return E_OK;
}

static int iret_long(struct emu_ctx *c, struct emu_insn *in)
{
	struct emu_cpu *cpu = c->cpu;
	struct kvm_segment ncs, nss;
	struct desc csd, ssd;
	uint64_t ip, cs, nf, sp = 0, ssel = 0;
	bool pop_ss, new64, null_ss = false;
	struct frame f;
	unsigned rpl, old_cpl = c->cpl;
	int r;

	if (cpu->regs.rflags & FL_NT)
		return emu_fault(c, VEC_GP, true, 0);
	frame_init(c, &f, in->opsize);
	if ((r = pop_slot(c, &f, 0, &ip)) || (r = pop_slot(c, &f, 1, &cs)) ||
	    (r = pop_slot(c, &f, 2, &nf)))
		return r;
	cs &= 0xffff;
	nf &= ~(uint64_t)FL_VM; /* no virtual-8086 mode in IA-32e mode */
	if (!(cs & 0xfffc))
		return emu_fault(c, VEC_GP, true, 0);
	if ((r = read_desc(c, cs, &csd)) || (r = check_cs(c, cs, &csd)))
		return r;
	rpl = cs & 3;
	desc_to_seg(&csd, cs, &ncs);
	new64 = ncs.l;
	/* 64-bit mode always pops SS:RSP, whatever the operand size. */
	pop_ss = rpl > c->cpl || c->mode == M_LONG64;
	if (pop_ss) {
		if ((r = pop_slot(c, &f, 3, &sp)) ||
		    (r = pop_slot(c, &f, 4, &ssel)))
			return r;
		r = long_ss(c, ssel & 0xffff, rpl, new64, &nss, &ssd, &null_ss);
		if (r)
			return r;
	}
	if (new64 ? !emu_canonical(cpu, ip) : ip > ncs.limit)
		return emu_fault(c, VEC_GP, true, 0);
	if ((r = set_accessed(c, &csd, &ncs)))
		return r;
	if (pop_ss && !null_ss && (r = set_accessed(c, &ssd, &nss)))
		return r;
	load_flags(c, nf, f.os);
	cpu->sregs.cs = ncs;
	cpu->regs.rip = new64 ? ip : (uint32_t)ip;
	if (!pop_ss) {
		frame_pop(c, &f, 3);
	} else {
		cpu->sregs.ss = nss;
		if (new64)
			cpu->regs.rsp = sp;
		else
			set_outer_sp(c, &nss, sp);
		c->cpl = rpl;
		if (rpl != old_cpl)
			null_data_segs(c);
	}
	snprintf(c->why, sizeof(c->why), "iret%s (%s, %s privilege)",
		 f.os == 8 ? "q" : (f.os == 4 ? "d" : ""),
		 new64 ? "to 64-bit" : "to compatibility",
		 rpl != old_cpl ? "outer" : "same");
	return E_OK;
}

int emu_iret(struct emu_ctx *c, struct emu_insn *in)
{
	if (in->lock)
		return emu_fault(c, VEC_UD, false, 0);
	switch (c->mode) {
	case M_REAL:
		return iret_real(c, in);
	case M_VM86:
		return iret_v86(c, in);
	case M_PROT:
		return iret_prot(c, in);
	default:
		return iret_long(c, in);
	}
}
