/*
 * Shared between the emulate_*.c files only: the per-step context, the
 * decoded instruction and the memory/segmentation helpers.
 */
#ifndef MINIVMM_EMULATE_INTERNAL_H
#define MINIVMM_EMULATE_INTERNAL_H

#include "vmm/emulate/emulate.h"

/* Result of every internal helper: go on, raise the recorded exception,
 * or give up (state untouched). */
enum { E_OK = 0, E_FAULT, E_UNH };

/* Segment register numbers in instruction-encoding order. */
enum { SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS, SEG_NONE = -1 };

/* Exception vectors used here. */
enum {
	VEC_DE = 0,
	VEC_DB = 1,
	VEC_BP = 3,
	VEC_OF = 4,
	VEC_UD = 6,
	VEC_NM = 7,
	VEC_NP = 11,
	VEC_SS = 12,
	VEC_GP = 13,
	VEC_PF = 14,
	VEC_MF = 16,
	VEC_AC = 17,
};

#define CR0_PE (1ull << 0)
#define CR0_MP (1ull << 1)
#define CR0_EM (1ull << 2)
#define CR0_TS (1ull << 3)
#define CR0_NE (1ull << 5)
#define CR0_WP (1ull << 16)
#define CR0_AM (1ull << 18)
#define CR0_PG (1ull << 31)

#define CR4_VME	    (1ull << 0)
#define CR4_PSE	    (1ull << 4)
#define CR4_PAE	    (1ull << 5)
#define CR4_OSFXSR  (1ull << 9)
#define CR4_LA57    (1ull << 12)
#define CR4_OSXSAVE (1ull << 18)
#define CR4_SMEP    (1ull << 20)
#define CR4_SMAP    (1ull << 21)

#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)

#define FL_CF	(1u << 0)
#define FL_FIX1 (1u << 1)
#define FL_PF	(1u << 2)
#define FL_AF	(1u << 4)
#define FL_ZF	(1u << 6)
#define FL_SF	(1u << 7)
#define FL_TF	(1u << 8)
#define FL_IF	(1u << 9)
#define FL_DF	(1u << 10)
#define FL_OF	(1u << 11)
#define FL_IOPL (3u << 12)
#define FL_NT	(1u << 14)
#define FL_RF	(1u << 16)
#define FL_VM	(1u << 17)
#define FL_AC	(1u << 18)
#define FL_VIF	(1u << 19)
#define FL_VIP	(1u << 20)
#define FL_ID	(1u << 21)

enum emu_mode { M_REAL, M_VM86, M_PROT, M_COMPAT, M_LONG64 };

struct emu_ctx {
	struct emu_cpu *cpu; /* working copy, committed only on success */
	const struct emu_mem *mem;
	enum emu_mode mode;
	unsigned cpl;
	unsigned code_size; /* default operand/address size: 2, 4 or 8 */
	/* recorded exception (E_FAULT) */
	uint8_t vec;
	bool has_err;
	uint32_t err;
	bool is_pf;
	uint64_t cr2;
	char why[96];
};

struct emu_insn {
	uint64_t rip; /* of the first byte */
	uint8_t bytes[15];
	unsigned nfetched, len;
	unsigned opsize, adsize;
	int seg; /* override, SEG_NONE if none */
	bool lock, rep, repne, p66;
	uint8_t rex;
	bool vex;
	uint8_t vex_map, vex_pp, vex_vvvv, vex_l;
	unsigned opcode; /* 0x0Fxx for two-byte opcodes */
	bool has_modrm;
	uint8_t mod, reg, rm;
	int ea_seg;
	uint64_t ea;
};

/* emulate.c */
int emu_fault(struct emu_ctx *c, uint8_t vec, bool has_err, uint32_t err);
int emu_unhandled(struct emu_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
struct kvm_segment *emu_seg(struct emu_cpu *cpu, int seg);
void emu_advance(struct emu_ctx *c, const struct emu_insn *in);
__u64 *emu_gpr(struct emu_cpu *cpu, unsigned n);

/* mmu.c */
int emu_lin_read(struct emu_ctx *c, uint64_t lin, void *buf, size_t n,
		 unsigned acc);
int emu_lin_write(struct emu_ctx *c, uint64_t lin, const void *buf, size_t n,
		  unsigned acc);
int emu_seg_linear(struct emu_ctx *c, int seg, uint64_t off, size_t n,
		   bool write, uint64_t *lin);
int emu_read(struct emu_ctx *c, int seg, uint64_t off, void *buf, size_t n);
int emu_write(struct emu_ctx *c, int seg, uint64_t off, const void *buf,
	      size_t n);
int emu_translate_for(struct emu_ctx *c, uint64_t lin, unsigned acc,
		      uint64_t *gpa);
unsigned emu_user_acc(struct emu_ctx *c);
bool emu_canonical(const struct emu_cpu *cpu, uint64_t lin);

/* decode.c */
int emu_decode(struct emu_ctx *c, struct emu_insn *in);
int emu_decode_modrm(struct emu_ctx *c, struct emu_insn *in);
int emu_fetch_imm(struct emu_ctx *c, struct emu_insn *in, unsigned n,
		  uint64_t *v);

/* iret.c */
int emu_iret(struct emu_ctx *c, struct emu_insn *in);

/* fpu.c */
int emu_x87(struct emu_ctx *c, struct emu_insn *in);
int emu_fwait(struct emu_ctx *c);
int emu_emms(struct emu_ctx *c, struct emu_insn *in);
int emu_mxcsr(struct emu_ctx *c, struct emu_insn *in);

#endif
