/*
 * Default CPU model ("minivmm"): everything KVM supports, except
 *  - CX16 off: KVM's instruction emulator cannot run cmpxchg16b on hosts
 *    that emulate CPL0 code (kvm-pvm), and Linux SLUB uses it when present;
 *  - the hypervisor bit on;
 *  - without an in-kernel irqchip there is no local APIC: APIC, x2APIC and
 *    TSC-deadline off, and KVM's APIC-based paravirt features off;
 *  - CPUID 0x80000008 EBX bit 2 (XSAVEERPTR) on, so Linux skips its AMD
 *    FXSAVE-leak workaround (fnclex/emms/fild on every return to user).
 * KVM-HOST-NOTES.md: kvm-pvm forces the host's ISA-extension bits on in
 * leaf 1 ECX and reports leaf 7 as the host has it, whatever is set here;
 * cpuid_setup() says which requested bits that overrides.
 */
#include "vmm/cpuid.h"

#include <cpuid.h>
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define F(n, l, r, b)                                                          \
	{                                                                      \
		n, l, r, b                                                     \
	}
static const struct cpu_feature features[] = {
    /* leaf 1 EDX */
    F("fpu", 1, R_EDX, 0),
    F("vme", 1, R_EDX, 1),
    F("de", 1, R_EDX, 2),
    F("pse", 1, R_EDX, 3),
    F("tsc", 1, R_EDX, 4),
    F("msr", 1, R_EDX, 5),
    F("pae", 1, R_EDX, 6),
    F("mce", 1, R_EDX, 7),
    F("cx8", 1, R_EDX, 8),
    F("apic", 1, R_EDX, 9),
    F("sep", 1, R_EDX, 11),
    F("mtrr", 1, R_EDX, 12),
    F("pge", 1, R_EDX, 13),
    F("mca", 1, R_EDX, 14),
    F("cmov", 1, R_EDX, 15),
    F("pat", 1, R_EDX, 16),
    F("pse36", 1, R_EDX, 17),
    F("clflush", 1, R_EDX, 19),
    F("mmx", 1, R_EDX, 23),
    F("fxsr", 1, R_EDX, 24),
    F("sse", 1, R_EDX, 25),
    F("sse2", 1, R_EDX, 26),
    F("ss", 1, R_EDX, 27),
    F("ht", 1, R_EDX, 28),
    /* leaf 1 ECX */
    F("sse3", 1, R_ECX, 0),
    F("pni", 1, R_ECX, 0),
    F("pclmulqdq", 1, R_ECX, 1),
    F("monitor", 1, R_ECX, 3),
    F("ssse3", 1, R_ECX, 9),
    F("fma", 1, R_ECX, 12),
    F("cx16", 1, R_ECX, 13),
    F("pdcm", 1, R_ECX, 15),
    F("pcid", 1, R_ECX, 17),
    F("sse4.1", 1, R_ECX, 19),
    F("sse4_1", 1, R_ECX, 19),
    F("sse4.2", 1, R_ECX, 20),
    F("sse4_2", 1, R_ECX, 20),
    F("x2apic", 1, R_ECX, 21),
    F("movbe", 1, R_ECX, 22),
    F("popcnt", 1, R_ECX, 23),
    F("tsc-deadline", 1, R_ECX, 24),
    F("aes", 1, R_ECX, 25),
    F("xsave", 1, R_ECX, 26),
    F("avx", 1, R_ECX, 28),
    F("f16c", 1, R_ECX, 29),
    F("rdrand", 1, R_ECX, 30),
    F("hypervisor", 1, R_ECX, 31),
    /* leaf 7 EBX/ECX/EDX */
    F("fsgsbase", 7, R_EBX, 0),
    F("bmi1", 7, R_EBX, 3),
    F("hle", 7, R_EBX, 4),
    F("avx2", 7, R_EBX, 5),
    F("smep", 7, R_EBX, 7),
    F("bmi2", 7, R_EBX, 8),
    F("erms", 7, R_EBX, 9),
    F("invpcid", 7, R_EBX, 10),
    F("rtm", 7, R_EBX, 11),
    F("avx512f", 7, R_EBX, 16),
    F("rdseed", 7, R_EBX, 18),
    F("adx", 7, R_EBX, 19),
    F("smap", 7, R_EBX, 20),
    F("clflushopt", 7, R_EBX, 23),
    F("clwb", 7, R_EBX, 24),
    F("sha-ni", 7, R_EBX, 29),
    F("sha_ni", 7, R_EBX, 29),
    F("umip", 7, R_ECX, 2),
    F("pku", 7, R_ECX, 3),
    F("vaes", 7, R_ECX, 9),
    F("rdpid", 7, R_ECX, 22),
    F("fsrm", 7, R_EDX, 4),
    /* extended leaves */
    F("lahf_lm", 0x80000001, R_ECX, 0),
    F("svm", 0x80000001, R_ECX, 2),
    F("abm", 0x80000001, R_ECX, 5),
    F("sse4a", 0x80000001, R_ECX, 6),
    F("syscall", 0x80000001, R_EDX, 11),
    F("nx", 0x80000001, R_EDX, 20),
    F("pdpe1gb", 0x80000001, R_EDX, 26),
    F("rdtscp", 0x80000001, R_EDX, 27),
    F("lm", 0x80000001, R_EDX, 29),
    F("xsaveerptr", 0x80000008, R_EBX, 2),
};

const struct cpu_feature *cpu_feature_find(const char *name)
{
	for (size_t i = 0; i < sizeof(features) / sizeof(features[0]); i++)
		if (!strcmp(features[i].name, name))
			return &features[i];
	return NULL;
}

int cpu_model_parse(const char *spec, struct cpu_model *m, char *err,
		    size_t errlen)
{
	memset(m, 0, sizeof(*m));
	char *dup = strdup(spec), *save = NULL;
	int rc = 0;
	bool first = true;
	for (char *tok = strtok_r(dup, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save), first = false) {
		if (first && tok[0] != '+' && tok[0] != '-' &&
		    !strchr(tok, '=')) {
			if (!strcmp(tok, "host"))
				m->host = true;
			else if (strcmp(tok, "minivmm") &&
				 strcmp(tok, "qemu64") && strcmp(tok, "max") &&
				 strcmp(tok, "default")) {
				snprintf(
				    err, errlen,
				    "unknown CPU model '%s' (host, minivmm)",
				    tok);
				rc = -1;
				break;
			}
			continue;
		}
		bool on;
		char name[64];
		const char *eq = strchr(tok, '=');
		if (tok[0] == '+' || tok[0] == '-') {
			on = tok[0] == '+';
			snprintf(name, sizeof(name), "%s", tok + 1);
		} else if (eq &&
			   (!strcmp(eq + 1, "on") || !strcmp(eq + 1, "off"))) {
			on = !strcmp(eq + 1, "on");
			snprintf(name, sizeof(name), "%.*s", (int)(eq - tok),
				 tok);
		} else {
			snprintf(err, errlen, "bad -cpu item '%s'", tok);
			rc = -1;
			break;
		}
		const struct cpu_feature *f = cpu_feature_find(name);
		if (!f || m->nreq >= 64) {
			snprintf(err, errlen, "unknown CPU feature '%s'", name);
			rc = -1;
			break;
		}
		m->req[m->nreq].f = f;
		m->req[m->nreq++].on = on;
	}
	free(dup);
	return rc;
}

static uint32_t *reg_of(struct kvm_cpuid_entry2 *e, int reg)
{
	switch (reg) {
	case R_EAX:
		return &e->eax;
	case R_EBX:
		return &e->ebx;
	case R_ECX:
		return &e->ecx;
	default:
		return &e->edx;
	}
}

static struct kvm_cpuid_entry2 *find(struct kvm_cpuid2 *c, uint32_t leaf,
				     uint32_t index)
{
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == leaf &&
		    c->entries[i].index == index)
			return &c->entries[i];
	return NULL;
}

static void set_bit(struct kvm_cpuid2 *c, uint32_t leaf, int reg, int bit,
		    bool on)
{
	struct kvm_cpuid_entry2 *e = find(c, leaf, 0);
	if (!e)
		return;
	if (on)
		*reg_of(e, reg) |= 1u << bit;
	else
		*reg_of(e, reg) &= ~(1u << bit);
}

static struct kvm_cpuid2 *get_supported(int kvm_fd)
{
	for (int n = 64; n <= 4096; n *= 2) {
		struct kvm_cpuid2 *c =
		    calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
		if (!c)
			return NULL;
		c->nent = n;
		if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
			return c;
		free(c);
		if (errno != E2BIG)
			return NULL;
	}
	return NULL;
}

/* kvm-pvm ignores the VMM's table for these (KVM-HOST-NOTES.md). */
static void report_forced(const struct kvm_cpuid2 *c, const struct cpu_model *m,
			  FILE *report)
{
	if (access("/sys/module/kvm_pvm", F_OK) != 0)
		return;
	unsigned a, b, cx, d;
	__cpuid(1, a, b, cx, d);
	const struct kvm_cpuid_entry2 *e = find((struct kvm_cpuid2 *)c, 1, 0);
	uint32_t forced = e ? cx & ~e->ecx : 0;
	/* only the ISA-extension bits are forced */
	forced &= ~((1u << 13) | (1u << 17) | (1u << 21) | (1u << 24) |
		    (1u << 31) | (1u << 3) | (1u << 15));
	char line[512];
	size_t len = 0;
	for (size_t i = 0; i < sizeof(features) / sizeof(features[0]); i++) {
		const struct cpu_feature *f = &features[i];
		bool hit =
		    f->leaf == 1 && f->reg == R_ECX && (forced >> f->bit & 1);
		for (int r = 0; r < m->nreq && f->leaf == 7; r++)
			if (m->req[r].f == f && !m->req[r].on)
				hit = true;
		if (i > 0 && features[i - 1].leaf == f->leaf &&
		    features[i - 1].reg == f->reg &&
		    features[i - 1].bit == f->bit)
			hit = false; /* an alias of the previous name */
		if (hit && len < sizeof(line) - 32)
			len += snprintf(line + len, sizeof(line) - len, " %s",
					f->name);
	}
	if (len)
		fprintf(
		    report,
		    "minivmm: cpuid: this host's KVM (kvm_pvm) shows the "
		    "guest these bits although the CPU model clears them:%s "
		    "(leaf 7 always reads as the host's; hide them with the "
		    "guest kernel's clearcpuid=)\n",
		    line);
}

int cpuid_setup(int kvm_fd, int vcpu_fd, const struct cpu_model *m,
		bool kernel_irqchip, FILE *report)
{
	struct kvm_cpuid2 *c = get_supported(kvm_fd);
	if (!c)
		return -1;
	if (!m->host) {
		set_bit(c, 1, R_ECX, 13, false); /* cx16 */
		set_bit(c, 1, R_ECX, 31, true);	 /* hypervisor */
		set_bit(c, 0x80000008, R_EBX, 2, true);
		if (!kernel_irqchip) {
			set_bit(c, 1, R_EDX, 9, false);	 /* apic */
			set_bit(c, 1, R_ECX, 21, false); /* x2apic */
			set_bit(c, 1, R_ECX, 24, false); /* tsc-deadline */
			/* KVM PV EOI, PV IPI, PV TLB flush, async PF int */
			struct kvm_cpuid_entry2 *kf = find(c, 0x40000001, 0);
			if (kf)
				kf->eax &= ~((1u << 6) | (1u << 9) |
					     (1u << 11) | (1u << 14));
		}
	}
	for (int i = 0; i < m->nreq; i++)
		set_bit(c, m->req[i].f->leaf, m->req[i].f->reg,
			m->req[i].f->bit, m->req[i].on);
	/* Leaf 1 EBX: APIC ID of this vCPU (0). */
	struct kvm_cpuid_entry2 *l1 = find(c, 1, 0);
	if (l1)
		l1->ebx &= 0x00ffffff;
	int rc = ioctl(vcpu_fd, KVM_SET_CPUID2, c);
	if (rc == 0 && report)
		report_forced(c, m, report);
	free(c);
	return rc;
}
