/*
 * The virtual machine: KVM handles, guest memory, vCPUs, the device model
 * and the PC machine built on it. vmm/ is the only place that speaks ioctl.
 */
#ifndef MINIVMM_VM_H
#define MINIVMM_VM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "ioreq/dm.h"
#include "ioreq/guestmem.h"
#include "vmm/cpuid.h"
#include "vmm/stats.h"

#define MAX_VCPUS 1

/* Guest-physical layout (ARCHITECTURE.md section 4). */
#define PCI_HOLE_START 0xE0000000ull /* RAM below 4 GiB ends here at most */
#define FOUR_GIB       0x100000000ull
#define VGA_HOLE_START 0xA0000ull
#define VGA_HOLE_END   0xC0000ull
#define BIOS_LOW_END   0x100000ull

struct vm;

struct vcpu {
	struct vm *vm;
	unsigned id;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	pthread_t thread;
	pthread_cond_t wake; /* HLT sleep; waited on under the dm lock */
	int in_run;	     /* atomic: inside KVM_RUN */
	struct exit_stats stats;
};

enum vm_exit_reason { VM_RUNNING = 0, VM_QUIT, VM_RESET, VM_ERROR };

struct vm_config {
	uint64_t ram_size;
	const char *bios_path;
	bool kernel_irqchip;
	enum dm_mode ioreq_mode;
	struct cpu_model cpu;
	bool report_cpuid; /* say which CPUID bits the host overrides */
};

struct vm {
	struct vm_config cfg;
	int kvm_fd, vm_fd;
	uint8_t *ram;	   /* all guest RAM, low part then high part */
	uint64_t ram_low;  /* bytes of RAM below the PCI hole */
	uint64_t ram_high; /* bytes above 4 GiB */
	uint8_t *bios;	   /* ROM image (read-only slot below 4 GiB) */
	size_t bios_size;
	struct guest_mem gm;
	struct dm dm;
	struct vcpu vcpus[MAX_VCPUS];
	unsigned nvcpus;
	int exit_reason; /* atomic: enum vm_exit_reason */
	int exit_status;
	/* Userspace irqchip: the interrupt controller the vCPU acknowledges
	 * (set by the machine; called with the dm lock held). */
	bool (*intr_pending)(void *opaque);
	int (*intr_ack)(void *opaque);
	void *intr_opaque;
	/* The monitor's stop/cont: vCPUs park outside KVM_RUN while
	 * pause_stop (atomic) is set; paused counts them (dm lock). */
	int pause_stop;
	unsigned paused;
	/* Emulation-assist counters. */
	uint64_t emulated;
};

/* One clear line on stderr and -1 on failure. */
int vm_create(struct vm *vm, const struct vm_config *cfg);
void vm_destroy(struct vm *vm);
int vm_load_bios(struct vm *vm, const char *path);
/* Direct kernel boot: the vCPU starts at the loader's entry (vmm/loader.h)
 * instead of the reset vector. */
struct boot_entry;
int vm_set_boot_entry(struct vm *vm, const struct boot_entry *e);
/* Starts the device model and vCPUs; returns the exit reason. */
int vm_run(struct vm *vm, const sigset_t *exit_signals);

/* Callable from any thread (device code holds the dm lock). */
void vm_request_exit(struct vm *vm, int reason, int status);
void vm_kick(struct vm *vm); /* an interrupt may be pending */
void vm_irq_line(struct vm *vm, int irq, int level); /* kernel irqchip */

/* vcpu.c */
void *vcpu_thread(void *opaque);
void vcpu_dump(struct vcpu *v, const char *why);

#endif
