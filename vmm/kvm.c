/* VM creation, guest memory and vCPUs through raw /dev/kvm ioctls. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/coalesced.h"
#include "vmm/irqfd.h"
#include "vmm/loader.h"
#include "vmm/vm.h"

#define err(...) (fprintf(stderr, "minivmm: " __VA_ARGS__), -1)

/* Guest memory is allocated and described (struct guest_mem) before KVM
 * exists; every region then becomes the KVM memory slot of its index. */
static int add_region(struct vm *vm, uint64_t gpa, uint64_t size, void *hva,
		      bool readonly)
{
	if (gm_add(&vm->gm, gpa, size, hva, readonly))
		return err("too many guest memory regions\n");
	return 0;
}

static int alloc_ram(struct vm *vm)
{
	uint64_t size = vm->cfg.ram_size;
	vm->ram_low = size < PCI_HOLE_START ? size : PCI_HOLE_START;
	vm->ram_high = size - vm->ram_low;
	vm->ram = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vm->ram == MAP_FAILED) {
		vm->ram = NULL;
		return err("cannot allocate %llu MiB of guest RAM: %s\n",
			   (unsigned long long)(size >> 20), strerror(errno));
	}
	madvise(vm->ram, size, MADV_MERGEABLE);
	/* 0-640K, then 768K up to the hole (the 0xC0000-0xFFFFF part holds
	 * option ROMs and the BIOS shadow), then above 4 GiB. The VGA
	 * window 0xA0000-0xBFFFF stays MMIO. */
	if (add_region(vm, 0, VGA_HOLE_START, vm->ram, false) ||
	    add_region(vm, VGA_HOLE_END, vm->ram_low - VGA_HOLE_END,
		       vm->ram + VGA_HOLE_END, false))
		return -1;
	if (vm->ram_high && add_region(vm, FOUR_GIB, vm->ram_high,
				       vm->ram + vm->ram_low, false))
		return -1;
	vm->gm.ram_size = size;
	return 0;
}

/* KVM_SET_USER_MEMORY_REGION: size bytes at hva as slot at gpa (size 0
 * removes the slot). 0 or a negative errno. */
static int set_region(struct vm *vm, unsigned slot, uint32_t flags,
		      uint64_t gpa, uint64_t size, void *hva)
{
	struct kvm_userspace_memory_region r = {
	    .slot = slot,
	    .flags = flags,
	    .guest_phys_addr = gpa,
	    .memory_size = size,
	    .userspace_addr = (uintptr_t)hva,
	};
	return ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0 ? -errno
								    : 0;
}

static int set_slots(struct vm *vm)
{
	for (int i = 0; i < vm->gm.n; i++) {
		const struct gm_region *g = &vm->gm.r[i];
		int e = set_region(vm, (unsigned)i,
				   g->readonly ? KVM_MEM_READONLY : 0, g->gpa,
				   g->size, g->hva);
		if (e < 0)
			return err("KVM_SET_USER_MEMORY_REGION(0x%llx+0x%llx): "
				   "%s\n",
				   (unsigned long long)g->gpa,
				   (unsigned long long)g->size, strerror(-e));
	}
	return 0;
}

/* No KVM here: a bad firmware file is reported on any host. */
int vm_load_bios(struct vm *vm, const char *path)
{
	char e[256];
	vm->bios = loader_read_bios(path, &vm->bios_size, e, sizeof(e));
	if (!vm->bios)
		return err("%s\n", e);
	/* Top of 4 GiB (reset vector), read-only. */
	if (add_region(vm, FOUR_GIB - vm->bios_size, vm->bios_size, vm->bios,
		       true))
		return -1;
	/* The last 128 KiB also at 0xE0000-0xFFFFF, copied into RAM so that
	 * firmware can shadow itself there. */
	size_t low = vm->bios_size < 0x20000 ? vm->bios_size : 0x20000;
	memcpy(vm->ram + BIOS_LOW_END - low, vm->bios + vm->bios_size - low,
	       low);
	return 0;
}

static bool cfg_report(const struct vm *vm)
{
	return vm->cfg.report_cpuid;
}

/* Without an in-kernel irqchip there is no local APIC. Some KVMs (this
 * project's kvm-pvm host) still start the vCPU with IA32_APIC_BASE enabled
 * and then show CPUID.1:EDX.APIC whatever the VMM's table says; a guest
 * kernel then polls a LAPIC that reads all-ones. Clearing the enable bit
 * (base and BSP kept) makes KVM drop the CPUID bit too. */
static int hide_lapic(struct vcpu *v)
{
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e;
	} m = {.h.nmsrs = 1, .e = {.index = 0x1b, .data = 0xfee00100}};
	return ioctl(v->fd, KVM_SET_MSRS, &m) == 1 ? 0 : -1;
}

static int create_vcpu(struct vm *vm, unsigned id)
{
	struct vcpu *v = &vm->vcpus[id];
	v->vm = vm;
	v->id = id;
	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, id);
	if (v->fd < 0)
		return err("KVM_CREATE_VCPU: %s\n", strerror(errno));
	int sz = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (sz <= 0)
		return err("KVM_GET_VCPU_MMAP_SIZE: %s\n", strerror(errno));
	v->run_size = sz;
	v->run = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED)
		return err("mmap kvm_run: %s\n", strerror(errno));
	pthread_cond_init(&v->wake, NULL);
	if (cpuid_setup(vm->kvm_fd, v->fd, &vm->cfg.cpu, vm->cfg.kernel_irqchip,
			id == 0 && cfg_report(vm) ? stderr : NULL))
		return err("KVM_SET_CPUID2: %s\n", strerror(errno));
	if (!vm->cfg.kernel_irqchip && hide_lapic(v))
		return err("cannot disable the local APIC: %s\n",
			   strerror(errno));
	/* KVM's reset state is the architectural one: real mode,
	 * CS=F000 base FFFF0000, IP=FFF0. Make it explicit. */
	struct kvm_sregs s;
	if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
		return err("KVM_GET_SREGS: %s\n", strerror(errno));
	s.cs.selector = 0xf000;
	s.cs.base = 0xffff0000;
	if (ioctl(v->fd, KVM_SET_SREGS, &s) < 0)
		return err("KVM_SET_SREGS: %s\n", strerror(errno));
	struct kvm_regs r = {.rip = 0xfff0, .rflags = 2, .rdx = 0x600};
	if (ioctl(v->fd, KVM_SET_REGS, &r) < 0)
		return err("KVM_SET_REGS: %s\n", strerror(errno));
	return 0;
}

int vm_prepare(struct vm *vm, const struct vm_config *cfg)
{
	memset(vm, 0, sizeof(*vm));
	vm->cfg = *cfg;
	vm->kvm_fd = vm->vm_fd = -1;
	if (alloc_ram(vm))
		return -1;
	if (dm_init(&vm->dm, cfg->ioreq_mode, MAX_VCPUS))
		return err("cannot set up the device model: %s\n",
			   strerror(errno));
	return 0;
}

static int open_kvm(struct vm *vm)
{
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		return err("cannot open /dev/kvm: %s%s\n", strerror(errno),
			   errno == EACCES ? " (add yourself to group kvm)"
			   : errno == ENOENT
			       ? " (this host has no KVM: load kvm_intel or "
				 "kvm_amd, or run on a host with VT-x/AMD-V)"
			       : "");
	if (ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		return err("unsupported KVM API version\n");
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_READONLY_MEM) <= 0)
		return err("KVM lacks KVM_CAP_READONLY_MEM\n");
	return 0;
}

static int coalesced_zone_ioctl(void *opaque, uint64_t addr, unsigned len,
				bool pio, bool assign)
{
	struct vm *vm = opaque;
	struct kvm_coalesced_mmio_zone z = {
	    .addr = addr, .size = len, .pio = pio ? 1 : 0};
	unsigned long req = assign ? KVM_REGISTER_COALESCED_MMIO
				   : KVM_UNREGISTER_COALESCED_MMIO;
	return ioctl(vm->vm_fd, req, &z) < 0 ? -errno : 0;
}

/* -machine coalesced-pio=on and a KVM with both capabilities: the ring is
 * the page of the vCPU mapping at KVM_CAP_COALESCED_MMIO's page offset
 * (one ring per VM, seen through every vCPU). Otherwise coalescing stays
 * off and every write exits as before. */
static void coalesced_setup(struct vm *vm)
{
	struct coalesced_ops ops = {coalesced_zone_ioctl, vm};
	coalesced_init(&vm->coalesced, NULL, 0, &ops);
	vm->coalesced_why = "-machine coalesced-pio=off";
	if (!vm->cfg.coalesced_pio)
		return;
	long page = sysconf(_SC_PAGESIZE);
	int off =
	    ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_MMIO);
	int pio = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_PIO);
	struct vcpu *v = &vm->vcpus[0];
	if (off <= 0 || pio <= 0) {
		vm->coalesced_why = "KVM lacks KVM_CAP_COALESCED_PIO";
		return;
	}
	if (page <= 0 || (size_t)(off + 1) * (size_t)page > v->run_size) {
		vm->coalesced_why = "the ring is not in the vCPU mapping";
		return;
	}
	coalesced_init(&vm->coalesced, (uint8_t *)v->run + (size_t)off * page,
		       (size_t)page, &ops);
	vm->coalesced_why = NULL;
}

bool kvm_has_irqchip(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return false;
	bool yes = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQCHIP) > 0 &&
		   ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_PIT2) > 0;
	close(fd);
	return yes;
}

int vm_create(struct vm *vm)
{
	if (open_kvm(vm))
		return -1;
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		return err("KVM_CREATE_VM: %s\n", strerror(errno));
	/* Needed by VMX for real mode; harmless elsewhere. */
	ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, 0xfeffd000ul);
	uint64_t idmap = 0xfeffc000;
	ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap);
	if (vm->cfg.kernel_irqchip) {
		if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
			return err("KVM_CREATE_IRQCHIP: %s\n", strerror(errno));
		struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
		if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
			return err("KVM_CREATE_PIT2: %s\n", strerror(errno));
	}
	if (set_slots(vm))
		return -1;
	vm->nvcpus = 1;
	for (unsigned i = 0; i < vm->nvcpus; i++)
		if (create_vcpu(vm, i))
			return -1;
	coalesced_setup(vm);
	return 0;
}

/* The vm owns its dm (vm_prepare made it): it goes here, once, after the
 * vm's own timer on its clock. The machine's events and timers on it are
 * gone by now (machine_fini) or die with it (clock_free). */
void vm_destroy(struct vm *vm)
{
	dm_stop(&vm->dm);
	if (vm->halt_timer)
		vtimer_free(vm->halt_timer);
	vm->halt_timer = NULL;
	dm_destroy(&vm->dm);
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		if (vm->vcpus[i].run)
			munmap(vm->vcpus[i].run, vm->vcpus[i].run_size);
		if (vm->vcpus[i].fd >= 0)
			close(vm->vcpus[i].fd);
	}
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	if (vm->ram)
		munmap(vm->ram, vm->cfg.ram_size);
	if (vm->bios)
		munmap(vm->bios, vm->bios_size);
}

int vm_set_ram_slot(struct vm *vm, unsigned slot, uint64_t gpa, uint64_t size,
		    void *hva, bool log_dirty)
{
	return set_region(vm, slot, log_dirty ? KVM_MEM_LOG_DIRTY_PAGES : 0,
			  gpa, size, hva);
}

int vm_get_dirty_log(struct vm *vm, unsigned slot, uint64_t *bitmap)
{
	struct kvm_dirty_log l = {.slot = slot, .dirty_bitmap = bitmap};
	return ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &l) < 0 ? -errno : 0;
}

void vm_irq_line(struct vm *vm, int irq, int level)
{
	struct kvm_irq_level l = {.irq = irq, .level = level};
	ioctl(vm->vm_fd, KVM_IRQ_LINE, &l);
}

void vm_signal_msi(struct vm *vm, uint64_t addr, uint32_t data)
{
	struct kvm_msi m = {.address_lo = (uint32_t)addr,
			    .address_hi = addr >> 32,
			    .data = data};
	ioctl(vm->vm_fd, KVM_SIGNAL_MSI, &m);
}

int vm_ioeventfd(struct vm *vm, uint64_t gpa, unsigned len, int fd, bool assign)
{
	struct kvm_ioeventfd io = {
	    .addr = gpa,
	    .len = len,
	    .fd = fd,
	    .flags = assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN};
	return ioctl(vm->vm_fd, KVM_IOEVENTFD, &io) < 0 ? -errno : 0;
}

/* GSI 0-15 reach both 8259 pins and the IOAPIC pin of the same number,
 * 16-23 the IOAPIC only: KVM's routing after KVM_CREATE_IRQCHIP, which
 * KVM_SET_GSI_ROUTING would otherwise replace. */
static unsigned irqchip_routes(struct kvm_irq_routing_entry *e)
{
	unsigned k = 0;
	for (unsigned gsi = 0; gsi < 24; gsi++) {
		e[k++] = (struct kvm_irq_routing_entry){
		    .gsi = gsi,
		    .type = KVM_IRQ_ROUTING_IRQCHIP,
		    .u.irqchip = {KVM_IRQCHIP_IOAPIC, gsi}};
		if (gsi < 16)
			e[k++] = (struct kvm_irq_routing_entry){
			    .gsi = gsi,
			    .type = KVM_IRQ_ROUTING_IRQCHIP,
			    .u.irqchip = {gsi < 8 ? KVM_IRQCHIP_PIC_MASTER
						  : KVM_IRQCHIP_PIC_SLAVE,
					  gsi % 8}};
	}
	return k;
}

int vm_set_msi_routes(struct vm *vm, const struct msi_route *route,
		      const bool *used, unsigned n)
{
	struct kvm_irq_routing *t =
	    calloc(1, sizeof(*t) + (40 + n) * sizeof(t->entries[0]));
	if (!t)
		return -ENOMEM;
	unsigned k = irqchip_routes(t->entries);
	for (unsigned i = 0; i < n; i++) {
		if (!used[i])
			continue;
		t->entries[k++] = (struct kvm_irq_routing_entry){
		    .gsi = IRQFD_GSI_BASE + i,
		    .type = KVM_IRQ_ROUTING_MSI,
		    .u.msi = {.address_lo = (uint32_t)route[i].addr,
			      .address_hi = route[i].addr >> 32,
			      .data = route[i].data}};
	}
	t->nr = k;
	int rc = ioctl(vm->vm_fd, KVM_SET_GSI_ROUTING, t) < 0 ? -errno : 0;
	free(t);
	return rc;
}

int vm_irqfd(struct vm *vm, int fd, unsigned gsi, bool assign)
{
	struct kvm_irqfd f = {.fd = (uint32_t)fd,
			      .gsi = gsi,
			      .flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN};
	return ioctl(vm->vm_fd, KVM_IRQFD, &f) < 0 ? -errno : 0;
}

void vm_request_exit(struct vm *vm, int reason, int status)
{
	int none = VM_RUNNING;
	if (__atomic_compare_exchange_n(&vm->exit_reason, &none, reason, false,
					__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		vm->exit_status = status;
	vm_kick(vm);
}

/* A reset, with its cause kept for the message when it ends minivmm
 * (-no-reboot): the first request wins, as in vm_request_exit(). */
void vm_request_reset(struct vm *vm, const char *why)
{
	int none = VM_RUNNING;
	if (__atomic_compare_exchange_n(&vm->exit_reason, &none, VM_RESET,
					false, __ATOMIC_SEQ_CST,
					__ATOMIC_SEQ_CST)) {
		vm->exit_status = 0;
		vm->reset_why = why;
	}
	vm_kick(vm);
}

/* Wake halted vCPUs and push running ones out of KVM_RUN. Called with the
 * dm lock held, or from a signal handler for exits (no lock: the cond
 * broadcast is skipped there; a halted vCPU re-checks on its timed wait). */
void vm_kick(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		pthread_cond_broadcast(&v->wake);
		if (__atomic_load_n(&v->in_run, __ATOMIC_SEQ_CST) && v->thread)
			pthread_kill(v->thread, SIGUSR1);
	}
}

/* --- direct kernel boot ---------------------------------------------- */

static struct kvm_segment flat_seg(uint16_t sel, uint8_t type, bool l)
{
	return (struct kvm_segment){.base = 0,
				    .limit = 0xffffffff,
				    .selector = sel,
				    .type = type,
				    .present = 1,
				    .dpl = 0,
				    .db = !l,
				    .s = 1,
				    .l = l,
				    .g = 1};
}

/* The state the loader's GDT describes (BOOT_GDT in vmm/loader.h): CS
 * 0x10, data 0x18, TR 0x20; long mode with paging on CR3, or 32-bit flat
 * protected mode with paging off. Interrupts are off either way. */
int vm_set_boot_entry(struct vm *vm, const struct boot_entry *e)
{
	struct vcpu *v = &vm->vcpus[0];
	struct kvm_sregs s;
	if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
		return err("KVM_GET_SREGS: %s\n", strerror(errno));
	bool lm = e->mode == BOOT_LONG64;
	s.cs = flat_seg(0x10, 0xb, lm);
	s.ds = s.es = s.fs = s.gs = s.ss = flat_seg(0x18, 0x3, false);
	s.tr = (struct kvm_segment){
	    .limit = 0x67, .selector = 0x20, .type = 0xb, .present = 1};
	s.ldt = (struct kvm_segment){.type = 0x2, .unusable = 1};
	s.gdt.base = e->gdt_base;
	s.gdt.limit = e->gdt_limit;
	s.idt.base = 0;
	s.idt.limit = 0;
	s.cr0 = 0x11 | (lm ? 0x80000000u : 0); /* PE, ET (+PG) */
	s.cr3 = lm ? e->cr3 : 0;
	s.cr4 = lm ? 0x20 : 0;	 /* PAE */
	s.efer = lm ? 0x500 : 0; /* LME, LMA */
	if (ioctl(v->fd, KVM_SET_SREGS, &s) < 0)
		return err("KVM_SET_SREGS (boot entry): %s\n", strerror(errno));
	struct kvm_regs r = {
	    .rip = e->rip, .rsi = e->rsi, .rbx = e->rbx, .rflags = 2};
	if (ioctl(v->fd, KVM_SET_REGS, &r) < 0)
		return err("KVM_SET_REGS (boot entry): %s\n", strerror(errno));
	return 0;
}
