/*
 * Emulation assist, memory side: the page walk (Intel SDM vol. 3 chapter 4:
 * 32-bit paging with PSE, PAE, 4- and 5-level paging), segmentation
 * (vol. 3 chapter 3 and 5: limit and type checks, canonical addresses in
 * 64-bit mode) and linear accesses that may cross a page boundary.
 */
#include <string.h>

#include "vmm/emulate/internal.h"

#define PTE_P  (1ull << 0)
#define PTE_RW (1ull << 1)
#define PTE_US (1ull << 2)
#define PTE_A  (1ull << 5)
#define PTE_D  (1ull << 6)
#define PTE_PS (1ull << 7)
#define PTE_XD (1ull << 63)
/* MAXPHYADDR is taken as 52: only architecturally reserved bits fault. */
#define PHYS_MASK 0x000ffffffffff000ull

#define PFERR_P	   (1u << 0)
#define PFERR_W	   (1u << 1)
#define PFERR_U	   (1u << 2)
#define PFERR_RSVD (1u << 3)
#define PFERR_ID   (1u << 4)

/* One step of a walk, remembered to set accessed/dirty bits at the end. */
struct walk {
	uint64_t addr[5], val[5];
	unsigned n, width; /* entries visited, entry size in bytes */
	bool rw, us, xd;   /* combined rights */
};

static bool read_entry(const struct emu_mem *m, uint64_t gpa, unsigned w,
		       uint64_t *v)
{
	uint8_t b[8] = {0};

	if (!m->read(m->opaque, gpa, b, w))
		return false;
	*v = 0;
	for (unsigned i = 0; i < w; i++)
		*v |= (uint64_t)b[i] << (8 * i);
	return true;
}

static void write_entry(const struct emu_mem *m, uint64_t gpa, unsigned w,
			uint64_t v)
{
	uint8_t b[8];

	for (unsigned i = 0; i < w; i++)
		b[i] = v >> (8 * i);
	/* A failing write (ROM) just leaves the bit clear, as the walk has
	 * already succeeded. */
	m->write(m->opaque, gpa, b, w);
}

/* Set A in every entry used, and D in the leaf on a write (vol. 3 4.8). */
static void set_ad(const struct emu_mem *m, struct walk *w, bool write)
{
	for (unsigned i = 0; i < w->n; i++) {
		uint64_t nv = w->val[i] | PTE_A;

		if (i == w->n - 1 && write)
			nv |= PTE_D;
		if (nv != w->val[i])
			write_entry(m, w->addr[i], w->width, nv);
	}
}

static uint32_t pf_bits(const struct emu_cpu *cpu, unsigned acc)
{
	uint32_t e = 0;
	const struct kvm_sregs *s = &cpu->sregs;

	if (acc & EMU_ACC_WRITE)
		e |= PFERR_W;
	if (acc & EMU_ACC_USER)
		e |= PFERR_U;
	/* I/D is reported only where execute protection exists. */
	if ((acc & EMU_ACC_FETCH) &&
	    (((s->cr4 & CR4_PAE) && (s->efer & EFER_NXE)) ||
	     (s->cr4 & CR4_SMEP)))
		e |= PFERR_ID;
	return e;
}

/* Access rights of a complete translation (vol. 3 4.6). */
static bool rights_ok(const struct emu_cpu *cpu, unsigned acc,
		      const struct walk *w)
{
	const struct kvm_sregs *s = &cpu->sregs;
	bool wr = acc & EMU_ACC_WRITE, fetch = acc & EMU_ACC_FETCH;

	if (fetch && w->xd)
		return false;
	if (acc & EMU_ACC_USER)
		return w->us && (!wr || w->rw);
	if (wr && !w->rw && (s->cr0 & CR0_WP))
		return false;
	if (w->us && fetch && (s->cr4 & CR4_SMEP))
		return false;
	if (w->us && !fetch && (s->cr4 & CR4_SMAP) &&
	    ((acc & EMU_ACC_IMPLICIT) || !(cpu->regs.rflags & FL_AC)))
		return false;
	return true;
}

static void take_rights(struct walk *w, uint64_t e, bool nxe)
{
	w->rw = w->rw && (e & PTE_RW);
	w->us = w->us && (e & PTE_US);
	if (nxe && (e & PTE_XD))
		w->xd = true;
}

static void remember(struct walk *w, uint64_t addr, uint64_t val)
{
	w->addr[w->n] = addr;
	w->val[w->n] = val;
	w->n++;
}

/* 32-bit paging: 4 KiB pages, 4 MiB pages with CR4.PSE (PSE-36). */
static int walk32(const struct emu_cpu *cpu, const struct emu_mem *m,
		  uint32_t lin, struct walk *w, uint64_t *gpa, uint32_t *err)
{
	const struct kvm_sregs *s = &cpu->sregs;
	uint64_t pde, pte, a;

	w->width = 4;
	a = (s->cr3 & 0xfffff000u) + ((lin >> 22) << 2);
	if (!read_entry(m, a, 4, &pde))
		return -2;
	if (!(pde & PTE_P))
		return -1;
	take_rights(w, pde, false);
	remember(w, a, pde);
	if ((pde & PTE_PS) && (s->cr4 & CR4_PSE)) {
		if (pde & (1u << 21)) {
			*err |= PFERR_RSVD | PFERR_P;
			return -1;
		}
		*gpa = (pde & 0xffc00000u) | (((pde >> 13) & 0xff) << 32) |
		       (lin & 0x3fffff);
		return 0;
	}
	a = (pde & 0xfffff000u) + (((lin >> 12) & 0x3ff) << 2);
	if (!read_entry(m, a, 4, &pte))
		return -2;
	if (!(pte & PTE_P))
		return -1;
	take_rights(w, pte, false);
	remember(w, a, pte);
	*gpa = (pte & 0xfffff000u) | (lin & 0xfff);
	return 0;
}

/* Reserved bits of a present PAE/long-mode entry at 'level' (1 = PTE). */
static bool entry_rsvd(const struct kvm_sregs *s, uint64_t e, int level,
		       bool pdpt_pae)
{
	bool nxe = s->efer & EFER_NXE;

	if (pdpt_pae)
		return e & (0x1e6ull | PTE_XD | ~(PHYS_MASK | 0xfff));
	if (!nxe && (e & PTE_XD))
		return true;
	if ((e & PTE_PS) && level >= 4)
		return true;
	if ((e & PTE_PS) && level == 3 && !(s->efer & EFER_LMA))
		return true;
	if ((e & PTE_PS) && level == 2)
		return e & 0x1fe000ull;
	if ((e & PTE_PS) && level == 3)
		return e & 0x3fffe000ull;
	return false;
}

/* PAE (3 levels) and IA-32e paging (4 levels, 5 with CR4.LA57). */
static int walk64(const struct emu_cpu *cpu, const struct emu_mem *m,
		  uint64_t lin, struct walk *w, uint64_t *gpa, uint32_t *err)
{
	const struct kvm_sregs *s = &cpu->sregs;
	bool lma = s->efer & EFER_LMA, nxe = s->efer & EFER_NXE;
	int level = lma ? ((s->cr4 & CR4_LA57) ? 5 : 4) : 3;
	uint64_t table = lma ? (s->cr3 & PHYS_MASK) : (s->cr3 & 0xffffffe0u);

	w->width = 8;
	for (; level >= 1; level--) {
		int shift = 12 + 9 * (level - 1);
		bool pdpt_pae = !lma && level == 3;
		uint64_t idx = (lin >> shift) & (pdpt_pae ? 3 : 0x1ff);
		uint64_t a = table + idx * 8, e;

		if (!read_entry(m, a, 8, &e))
			return -2;
		if (!(e & PTE_P))
			return -1;
		if (entry_rsvd(s, e, level, pdpt_pae)) {
			*err |= PFERR_RSVD | PFERR_P;
			return -1;
		}
		if (!pdpt_pae) {
			take_rights(w, e, nxe);
			remember(w, a, e);
		}
		if (level <= 3 && level >= 2 && !pdpt_pae && (e & PTE_PS)) {
			uint64_t size = 1ull << shift;

			*gpa =
			    (e & PHYS_MASK & ~(size - 1)) | (lin & (size - 1));
			return 0;
		}
		table = e & PHYS_MASK;
	}
	*gpa = table | (lin & 0xfff);
	return 0;
}

int emu_translate_ex(struct emu_cpu *cpu, const struct emu_mem *mem,
		     uint64_t linear, unsigned acc, uint64_t *gpa,
		     uint32_t *pf_error)
{
	const struct kvm_sregs *s = &cpu->sregs;
	struct walk w = {.rw = true, .us = true};
	uint32_t err = 0;
	int r;

	*pf_error = 0;
	if (!(s->cr0 & CR0_PG) || !(s->cr0 & CR0_PE)) {
		*gpa = (s->efer & EFER_LMA) ? linear : (uint32_t)linear;
		return 0;
	}
	if (s->cr4 & CR4_PAE)
		r = walk64(cpu, mem, linear, &w, gpa, &err);
	else
		r = walk32(cpu, mem, (uint32_t)linear, &w, gpa, &err);
	if (r == -2)
		return -2;
	if (r == 0 && !rights_ok(cpu, acc, &w)) {
		err |= PFERR_P;
		r = -1;
	}
	if (r == -1) {
		*pf_error = err | pf_bits(cpu, acc);
		return -1;
	}
	if (acc & EMU_ACC_SET_AD)
		set_ad(mem, &w, acc & EMU_ACC_WRITE);
	return 0;
}

int emu_translate(struct emu_cpu *cpu, const struct emu_mem *mem,
		  uint64_t linear, bool write, bool user, uint64_t *gpa,
		  uint32_t *pf_error)
{
	unsigned acc = (write ? EMU_ACC_WRITE : 0) | (user ? EMU_ACC_USER : 0);

	return emu_translate_ex(cpu, mem, linear, acc, gpa, pf_error);
}

/* Translate, recording a #PF (with CR2) or giving up on non-RAM tables. */
int emu_translate_for(struct emu_ctx *c, uint64_t lin, unsigned acc,
		      uint64_t *gpa)
{
	uint32_t err;
	int r = emu_translate_ex(c->cpu, c->mem, lin, acc, gpa, &err);

	if (r == -2)
		return emu_unhandled(c,
				     "paging structure for 0x%llx not in RAM",
				     (unsigned long long)lin);
	if (r == -1) {
		c->is_pf = true;
		c->cr2 = lin;
		return emu_fault(c, VEC_PF, true, err);
	}
	return E_OK;
}

unsigned emu_user_acc(struct emu_ctx *c)
{
	return (c->cpl == 3 ? EMU_ACC_USER : 0) | EMU_ACC_SET_AD;
}

static uint64_t lin_mask(const struct emu_cpu *cpu)
{
	return (cpu->sregs.efer & EFER_LMA) ? ~0ull : 0xffffffffull;
}

/*
 * Split [lin, lin+n) at page boundaries and translate every piece before
 * touching memory, so that a fault on the second page leaves nothing
 * half-written.
 */
static int lin_access(struct emu_ctx *c, uint64_t lin, void *buf, size_t n,
		      unsigned acc)
{
	uint64_t gpa[2], l = lin, mask = lin_mask(c->cpu);
	size_t len[2], done = 0;
	int np = 0, r;

	if (n == 0 || n > 4096)
		return emu_unhandled(c, "bad access size %zu", n);
	while (done < n) {
		size_t chunk = 4096 - (l & 0xfff);

		if (chunk > n - done)
			chunk = n - done;
		r = emu_translate_for(c, l, acc, &gpa[np]);
		if (r)
			return r;
		len[np++] = chunk;
		done += chunk;
		l = (l + chunk) & mask;
	}
	done = 0;
	for (int i = 0; i < np; i++) {
		uint8_t *p = (uint8_t *)buf + done;
		bool ok = (acc & EMU_ACC_WRITE)
			      ? c->mem->write(c->mem->opaque, gpa[i], p, len[i])
			      : c->mem->read(c->mem->opaque, gpa[i], p, len[i]);
		if (!ok)
			return emu_unhandled(c, "gpa 0x%llx is not RAM",
					     (unsigned long long)gpa[i]);
		done += len[i];
	}
	return E_OK;
}

int emu_lin_read(struct emu_ctx *c, uint64_t lin, void *buf, size_t n,
		 unsigned acc)
{
	return lin_access(c, lin, buf, n, acc & ~EMU_ACC_WRITE);
}

int emu_lin_write(struct emu_ctx *c, uint64_t lin, const void *buf, size_t n,
		  unsigned acc)
{
	return lin_access(c, lin, (void *)buf, n, acc | EMU_ACC_WRITE);
}

bool emu_canonical(const struct emu_cpu *cpu, uint64_t lin)
{
	int bits = (cpu->sregs.cr4 & CR4_LA57) ? 57 : 48;
	int64_t v = (int64_t)(lin << (64 - bits)) >> (64 - bits);

	return (uint64_t)v == lin;
}

static int seg_fault(struct emu_ctx *c, int seg)
{
	return emu_fault(c, seg == SEG_SS ? VEC_SS : VEC_GP, true, 0);
}

/* Type and limit checks of a protected-mode data access (vol. 3 5.3). */
static bool prot_access_ok(const struct kvm_segment *s, uint64_t off, size_t n,
			   bool write)
{
	uint64_t last = off + n - 1;

	if (s->unusable || !s->present)
		return false;
	if (s->type & 8) { /* code: never writable, readable if R */
		if (write || !(s->type & 2))
			return false;
	} else if (write && !(s->type & 2)) {
		return false;
	}
	if (!(s->type & 8) && (s->type & 4)) { /* expand-down data */
		uint64_t top = s->db ? 0xffffffffull : 0xffffull;

		return off > s->limit && last <= top && last >= off;
	}
	return last <= s->limit && last >= off;
}

int emu_seg_linear(struct emu_ctx *c, int seg, uint64_t off, size_t n,
		   bool write, uint64_t *lin)
{
	const struct kvm_segment *s = emu_seg(c->cpu, seg);

	if (c->mode == M_LONG64) {
		uint64_t base = (seg == SEG_FS || seg == SEG_GS) ? s->base : 0;

		*lin = base + off;
		if (!emu_canonical(c->cpu, *lin) ||
		    !emu_canonical(c->cpu, *lin + n - 1))
			return seg_fault(c, seg);
		return E_OK;
	}
	if (c->mode == M_REAL || c->mode == M_VM86) {
		if (off + n - 1 > s->limit)
			return seg_fault(c, seg);
	} else if (!prot_access_ok(s, off, n, write)) {
		return seg_fault(c, seg);
	}
	*lin = (uint32_t)(s->base + off);
	return E_OK;
}

int emu_read(struct emu_ctx *c, int seg, uint64_t off, void *buf, size_t n)
{
	uint64_t lin = 0;
	int r = emu_seg_linear(c, seg, off, n, false, &lin);

	return r ? r : emu_lin_read(c, lin, buf, n, emu_user_acc(c));
}

int emu_write(struct emu_ctx *c, int seg, uint64_t off, const void *buf,
	      size_t n)
{
	uint64_t lin = 0;
	int r = emu_seg_linear(c, seg, off, n, true, &lin);

	return r ? r : emu_lin_write(c, lin, buf, n, emu_user_acc(c));
}

int emu_fetch(struct emu_cpu *cpu, const struct emu_mem *mem, uint8_t *buf,
	      size_t n)
{
	const struct kvm_sregs *s = &cpu->sregs;
	bool long64 = (s->efer & EFER_LMA) && s->cs.l;
	uint64_t lin = (long64 ? 0 : s->cs.base) + cpu->regs.rip;
	unsigned acc = EMU_ACC_FETCH;
	size_t got = 0;

	if (!long64)
		lin = (uint32_t)lin;
	if ((s->cr0 & CR0_PE) && ((cpu->regs.rflags & FL_VM) || s->ss.dpl == 3))
		acc |= EMU_ACC_USER;
	while (got < n) {
		size_t chunk = 4096 - (lin & 0xfff);
		uint64_t gpa;
		uint32_t err;

		if (chunk > n - got)
			chunk = n - got;
		if (emu_translate_ex(cpu, mem, lin, acc, &gpa, &err) ||
		    !mem->read(mem->opaque, gpa, buf + got, chunk))
			break;
		got += chunk;
		lin = (lin + chunk) & lin_mask(cpu);
	}
	return (int)got;
}
