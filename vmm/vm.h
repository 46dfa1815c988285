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
#include "vmm/coalesced.h"
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
	int halt_check;	     /* atomic: kernel irqchip, look for a final HLT */
	struct exit_stats stats;
};

/* VM_HALTED: the guest stopped its CPU for good (HLT with interrupts
 * disabled and nothing that could wake it); ends minivmm with status 0. */
enum vm_exit_reason { VM_RUNNING = 0, VM_QUIT, VM_RESET, VM_ERROR, VM_HALTED };

struct vm_config {
	uint64_t ram_size;
	const char *bios_path;
	bool kernel_irqchip;
	bool irqchip_set; /* -machine named it; else KVM decides (main.c) */
	bool ioeventfd;	  /* virtio notifications through KVM_IOEVENTFD */
	bool irqfd;	  /* virtio MSI-X through KVM_IRQFD (kernel irqchip) */
	bool coalesced_pio; /* buffered writes to the zoned ports */
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
	const char *reset_why; /* VM_RESET: who asked (set with the reason) */
	/* Userspace irqchip: the interrupt controller the vCPU acknowledges
	 * (set by the machine; called with the dm lock held). */
	bool (*intr_pending)(void *opaque);
	int (*intr_ack)(void *opaque);
	void *intr_opaque;
	/* The monitor's stop/cont: vCPUs park outside KVM_RUN while
	 * pause_stop (atomic) is set; paused counts them (dm lock). */
	int pause_stop;
	unsigned paused;
	/* Coalesced writes (vmm/coalesced.h): off when coalesced.ring is
	 * NULL, coalesced_why then says why. */
	struct coalesced coalesced;
	const char *coalesced_why;
	/* Emulation-assist counters. */
	uint64_t emulated;
	/* Kernel irqchip: the periodic look for a final HLT (vcpu.c). */
	struct vtimer *halt_timer;
};

/*
 * Start-up in two steps, so that every input is checked before /dev/kvm is
 * opened: vm_prepare() allocates guest RAM and the device model (no KVM),
 * vm_load_bios() and the kernel loader fill RAM, then vm_create() opens
 * /dev/kvm and creates the VM, one memory slot per guest_mem region, and
 * the vCPUs. Each prints one clear line on stderr and returns -1 on failure.
 */
int vm_prepare(struct vm *vm, const struct vm_config *cfg);
int vm_load_bios(struct vm *vm, const char *path);
int vm_create(struct vm *vm);
/* Whether /dev/kvm can give this VM an in-kernel irqchip (KVM_CAP_IRQCHIP
 * and KVM_CAP_PIT2); false when it does not open. */
bool kvm_has_irqchip(void);
void vm_destroy(struct vm *vm);
/* Direct kernel boot: the vCPU starts at the loader's entry (vmm/loader.h)
 * instead of the reset vector. After vm_create(). */
struct boot_entry;
int vm_set_boot_entry(struct vm *vm, const struct boot_entry *e);
/* Starts the device model and vCPUs; returns the exit reason. */
int vm_run(struct vm *vm, const sigset_t *exit_signals);

/* Callable from any thread (device code holds the dm lock). */
void vm_request_exit(struct vm *vm, int reason, int status);
void vm_request_reset(struct vm *vm, const char *why);
void vm_kick(struct vm *vm); /* an interrupt may be pending */
void vm_irq_line(struct vm *vm, int irq, int level); /* kernel irqchip */
/* A PCI MSI/MSI-X message to the in-kernel local APICs (kernel irqchip). */
void vm_signal_msi(struct vm *vm, uint64_t addr, uint32_t data);
/* KVM_IOEVENTFD: guest MMIO writes of len bytes at gpa signal fd instead
 * of exiting (assign), or no longer do. 0 or a negative errno. */
int vm_ioeventfd(struct vm *vm, uint64_t gpa, unsigned len, int fd,
		 bool assign);

/* KVM_SET_GSI_ROUTING: the irqchip's pins plus MSI route[i] at GSI
 * IRQFD_GSI_BASE + i where used[i] (vmm/irqfd.h). 0 or a negative errno. */
struct msi_route;
int vm_set_msi_routes(struct vm *vm, const struct msi_route *route,
		      const bool *used, unsigned n);
/* KVM_IRQFD: fd raises gsi (assign), or no longer does. 0 or -errno. */
int vm_irqfd(struct vm *vm, int fd, unsigned gsi, bool assign);

/* KVM memory slots outside guest_mem (which owns slots 0 to
 * GM_MAX_REGIONS - 1): the VGA's VRAM as RAM at its BAR. */
#define VM_SLOT_VRAM 16
/* Maps size bytes at hva as slot at gpa (size 0 removes the slot), with
 * KVM_MEM_LOG_DIRTY_PAGES when log_dirty. 0 or a negative errno. */
int vm_set_ram_slot(struct vm *vm, unsigned slot, uint64_t gpa, uint64_t size,
		    void *hva, bool log_dirty);
/* KVM_GET_DIRTY_LOG: one bit per page of the slot since the last call,
 * into bitmap (64-bit words). 0 or a negative errno. */
int vm_get_dirty_log(struct vm *vm, unsigned slot, uint64_t *bitmap);

/* vcpu.c */
void *vcpu_thread(void *opaque);
void vcpu_dump(struct vcpu *v, const char *why);

#endif
