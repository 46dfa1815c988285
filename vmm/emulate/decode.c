/*
 * Emulation assist, decoder: legacy prefixes, REX, VEX (C4/C5), one- and
 * two-byte opcodes, ModRM/SIB/displacement in 16-, 32- and 64-bit
 * addressing including RIP-relative (Intel SDM vol. 2 chapter 2).
 * Instruction bytes are fetched lazily, page by page, so an instruction
 * that ends before a page boundary never touches the next page.
 */
#include "vmm/emulate/internal.h"

/* Read more instruction bytes: up to the end of the page, the CS limit
 * and the 15-byte architectural maximum. */
static int refill(struct emu_ctx *c, struct emu_insn *in)
{
	const struct kvm_segment *cs = &c->cpu->sregs.cs;
	uint64_t off = in->rip + in->nfetched, lin, gpa;
	size_t chunk = 15 - in->nfetched;
	int r;

	if (c->mode == M_LONG64) {
		lin = off;
		if (!emu_canonical(c->cpu, lin))
			return emu_fault(c, VEC_GP, true, 0);
	} else {
		if (c->code_size == 2)
			off &= 0xffff;
		else
			off &= 0xffffffffu;
		if (off > cs->limit)
			return emu_fault(c, VEC_GP, true, 0);
		if (chunk > cs->limit - off + 1)
			chunk = cs->limit - off + 1;
		lin = (uint32_t)(cs->base + off);
	}
	if (chunk > 4096 - (lin & 0xfff))
		chunk = 4096 - (lin & 0xfff);
	r = emu_translate_for(c, lin, EMU_ACC_FETCH | emu_user_acc(c), &gpa);
	if (r)
		return r;
	if (!c->mem->read(c->mem->opaque, gpa, in->bytes + in->nfetched, chunk))
		return emu_unhandled(c, "code at gpa 0x%llx is not RAM",
				     (unsigned long long)gpa);
	in->nfetched += chunk;
	return E_OK;
}

static int fetch(struct emu_ctx *c, struct emu_insn *in, uint8_t *b)
{
	int r;

	if (in->len >= 15)
		return emu_fault(c, VEC_GP, true, 0);
	if (in->len >= in->nfetched) {
		r = refill(c, in);
		if (r)
			return r;
	}
	*b = in->bytes[in->len++];
	return E_OK;
}

int emu_fetch_imm(struct emu_ctx *c, struct emu_insn *in, unsigned n,
		  uint64_t *v)
{
	uint8_t b = 0;
	int r;

	*v = 0;
	for (unsigned i = 0; i < n; i++) {
		r = fetch(c, in, &b);
		if (r)
			return r;
		*v |= (uint64_t)b << (8 * i);
	}
	return E_OK;
}

/* Returns true if b was a prefix (and records it). */
static bool take_prefix(struct emu_ctx *c, struct emu_insn *in, uint8_t b)
{
	static const int8_t segs[8] = {SEG_ES, SEG_CS, SEG_SS, SEG_DS};
	bool l64 = c->mode == M_LONG64;

	switch (b) {
	case 0xf0:
		in->lock = true;
		break;
	case 0xf2:
		in->repne = true;
		in->rep = false;
		break;
	case 0xf3:
		in->rep = true;
		in->repne = false;
		break;
	case 0x26:
	case 0x2e:
	case 0x36:
	case 0x3e:
		/* 64-bit mode ignores ES/CS/SS/DS overrides. */
		if (!l64)
			in->seg = segs[(b >> 3) & 3];
		break;
	case 0x64:
	case 0x65:
		in->seg = b == 0x64 ? SEG_FS : SEG_GS;
		break;
	case 0x66:
		in->p66 = true;
		break;
	case 0x67:
		in->adsize = c->code_size == 4 ? 2 : 4;
		break;
	default:
		if (l64 && (b & 0xf0) == 0x40) {
			in->rex = b;
			return true;
		}
		return false;
	}
	in->rex = 0; /* a REX not directly before the opcode is ignored */
	return true;
}

static int decode_vex(struct emu_ctx *c, struct emu_insn *in, uint8_t b0)
{
	uint8_t b1 = 0, b2 = 0;
	int r = fetch(c, in, &b1);

	if (r)
		return r;
	/* Outside 64-bit mode C4/C5 with mod != 11 are LES/LDS. */
	if (c->mode != M_LONG64 && (b1 & 0xc0) != 0xc0)
		return emu_unhandled(c, "opcode 0x%02x (les/lds) not emulated",
				     b0);
	if (c->mode == M_REAL || c->mode == M_VM86)
		return emu_fault(c, VEC_UD, false, 0);
	if (in->p66 || in->rep || in->repne || in->lock || in->rex)
		return emu_fault(c, VEC_UD, false, 0);
	in->vex = true;
	if (b0 == 0xc5) {
		in->vex_map = 1;
		b2 = b1;
	} else {
		in->vex_map = b1 & 0x1f;
		r = fetch(c, in, &b2);
		if (r)
			return r;
	}
	in->vex_vvvv = (~b2 >> 3) & 15;
	in->vex_l = (b2 >> 2) & 1;
	in->vex_pp = b2 & 3;
	if (in->vex_map != 1)
		return emu_unhandled(c, "VEX map %u not emulated", in->vex_map);
	r = fetch(c, in, &b1);
	in->opcode = 0x0f00 | b1;
	return r;
}

int emu_decode(struct emu_ctx *c, struct emu_insn *in)
{
	uint8_t b = 0;
	int r;

	in->rip = c->cpu->regs.rip;
	in->seg = SEG_NONE;
	in->adsize = c->code_size;
	for (;;) {
		r = fetch(c, in, &b);
		if (r)
			return r;
		if (!take_prefix(c, in, b))
			break;
	}
	if (c->mode == M_LONG64)
		in->opsize = (in->rex & 8) ? 8 : (in->p66 ? 2 : 4);
	else
		in->opsize = (c->code_size == 4) != in->p66 ? 4 : 2;
	if (b == 0xc4 || b == 0xc5)
		return decode_vex(c, in, b);
	if (b != 0x0f) {
		in->opcode = b;
		return E_OK;
	}
	r = fetch(c, in, &b);
	in->opcode = 0x0f00 | b;
	return r;
}

static int modrm16(struct emu_ctx *c, struct emu_insn *in)
{
	struct kvm_regs *g = &c->cpu->regs;
	uint16_t base[8] = {g->rbx + g->rsi, g->rbx + g->rdi, g->rbp + g->rsi,
			    g->rbp + g->rdi, g->rsi,	      g->rdi,
			    g->rbp,	     g->rbx};
	uint64_t disp = 0;
	int r = E_OK;

	if (in->mod == 0 && in->rm == 6) {
		r = emu_fetch_imm(c, in, 2, &disp);
		in->ea = (uint16_t)disp;
		in->ea_seg = SEG_DS;
		return r;
	}
	if (in->mod == 1) {
		r = emu_fetch_imm(c, in, 1, &disp);
		disp = (uint64_t)(int8_t)disp;
	} else if (in->mod == 2) {
		r = emu_fetch_imm(c, in, 2, &disp);
	}
	in->ea = (uint16_t)(base[in->rm] + disp);
	in->ea_seg =
	    (in->rm == 2 || in->rm == 3 || in->rm == 6) ? SEG_SS : SEG_DS;
	return r;
}

static int modrm32(struct emu_ctx *c, struct emu_insn *in)
{
	int base = -1, index = -1, scale = 0, r;
	bool riprel = false;
	uint64_t disp = 0, ea = 0;
	uint8_t sib = 0;

	if ((in->rm & 7) == 4) {
		r = fetch(c, in, &sib);
		if (r)
			return r;
		scale = sib >> 6;
		index = ((sib >> 3) & 7) | ((in->rex & 2) << 2);
		base = (sib & 7) | ((in->rex & 1) << 3);
		if (index == 4)
			index = -1;
		if ((base & 7) == 5 && in->mod == 0)
			base = -1;
	} else if ((in->rm & 7) == 5 && in->mod == 0) {
		riprel = c->mode == M_LONG64;
	} else {
		base = in->rm | ((in->rex & 1) << 3);
	}
	if (in->mod == 1) {
		r = emu_fetch_imm(c, in, 1, &disp);
		disp = (uint64_t)(int8_t)disp;
	} else if (in->mod == 2 || base < 0) {
		r = emu_fetch_imm(c, in, 4, &disp);
		disp = (uint64_t)(int32_t)disp;
	} else {
		r = E_OK;
	}
	if (r)
		return r;
	if (base >= 0)
		ea += *emu_gpr(c->cpu, base);
	if (index >= 0)
		ea += *emu_gpr(c->cpu, index) << scale;
	/* The instructions decoded here carry no immediate after ModRM, so
	 * the next instruction starts right after the displacement. */
	if (riprel)
		ea = in->rip + in->len;
	ea += disp;
	in->ea = in->adsize == 4 ? (uint32_t)ea : ea;
	in->ea_seg = (base == 4 || base == 5) ? SEG_SS : SEG_DS;
	return E_OK;
}

int emu_decode_modrm(struct emu_ctx *c, struct emu_insn *in)
{
	uint8_t m = 0;
	int r = fetch(c, in, &m);

	if (r)
		return r;
	in->has_modrm = true;
	in->mod = m >> 6;
	in->reg = ((m >> 3) & 7) | ((in->rex & 4) << 1);
	in->rm = m & 7;
	if (in->mod == 3) {
		in->rm |= (in->rex & 1) << 3;
		return E_OK;
	}
	r = in->adsize == 2 ? modrm16(c, in) : modrm32(c, in);
	if (!r && in->seg != SEG_NONE)
		in->ea_seg = in->seg;
	return r;
}
