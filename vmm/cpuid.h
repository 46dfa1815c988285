/*
 * The CPU model given to the guest: KVM_GET_SUPPORTED_CPUID adjusted to a
 * documented default, plus QEMU-style -cpu [model][,+feat][,-feat].
 */
#ifndef MINIVMM_CPUID_H
#define MINIVMM_CPUID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum cpuid_reg { R_EAX, R_EBX, R_ECX, R_EDX };

struct cpu_feature {
	const char *name;
	uint32_t leaf;
	uint8_t reg; /* enum cpuid_reg; subleaf is 0 */
	uint8_t bit;
};

struct cpu_model {
	bool host; /* -cpu host: KVM's supported set, unchanged */
	int nreq;
	struct {
		const struct cpu_feature *f;
		bool on;
	} req[64];
};

/* "host", "minivmm" (the default), "qemu64"/"max" aliases, each followed by
 * ",+feat" / ",-feat" / ",feat=on|off". 0, or -1 with a message in err. */
int cpu_model_parse(const char *spec, struct cpu_model *m, char *err,
		    size_t errlen);
const struct cpu_feature *cpu_feature_find(const char *name);

/* Builds the table and sets it on the vCPU; reports bits this host's KVM
 * will not honour to 'report' (may be NULL). */
int cpuid_setup(int kvm_fd, int vcpu_fd, const struct cpu_model *m,
		bool kernel_irqchip, FILE *report);

#endif
