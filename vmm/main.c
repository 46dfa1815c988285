/* minivmm: command line, start-up order, and the exit path. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/loader.h"
#include "vmm/machine.h"
#include "vmm/monitor.h"
#include "vmm/vm.h"

static void usage(FILE *f)
{
	fputs(
	    "usage: minivmm [options]\n"
	    "  -m SIZE[K|M|G]        guest RAM (default 128M)\n"
	    "  -bios FILE            firmware image (mapped below 4 GiB)\n"
	    "  -kernel FILE          boot a bzImage (64-bit entry) or an ELF\n"
	    "                        vmlinux (PVH entry) directly, no "
	    "firmware\n"
	    "  -initrd FILE          initial ramdisk for -kernel\n"
	    "  -append STRING        kernel command line for -kernel\n"
	    "  -cpu MODEL[,+f,-f]    CPU model: minivmm (default) or host\n"
	    "  -machine [pc,]ioreq=dm|inline|poll|floor,irqchip=user|kernel\n"
	    "  -nographic            no display; serial on stdio\n"
	    "  -display none         no display (there is no VGA yet)\n"
	    "  -serial DEV           stdio, file:PATH, null, none\n"
	    "  -debugcon DEV         port 0x402 debug console (default none)\n"
	    "  -monitor DEV          stdio, unix:PATH,server,nowait, none\n"
	    "                        (default: shares COM1's stdio, Ctrl-A c)\n"
	    "  -device testdev       do-nothing device for benchmarks\n"
	    "  -hda/-hdb/-hdc/-hdd FILE  IDE disk image (raw)\n"
	    "  -cdrom FILE           ISO image on the secondary master\n"
	    "  -drive file=F,if=ide,index=N,media=disk|cdrom,format=raw,\n"
	    "         readonly=on|off,cache=writeback|writethrough|none\n"
	    "  -boot c|d|order=dc    boot order for the firmware (CMOS)\n"
	    "  -no-reboot            exit (status 0) when the guest resets\n"
	    "  -stats                print exit statistics at exit\n"
	    "  -trace FILE|stderr    log every ioreq\n"
	    "  -version, -help\n"
	    "Port 0xE9 (Bochs debug port) always prints on stdout.\n",
	    f);
}

static int fail(const char *fmt, const char *arg)
{
	fprintf(stderr, "minivmm: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	return 1;
}

/* QEMU's -m: a number of MiB, or with a K/M/G/T suffix. */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || s[0] == '-')
		return -1;
	unsigned shift = 20;
	switch (*end) {
	case 0:
		break;
	case 'k':
	case 'K':
		shift = 10;
		end++;
		break;
	case 'm':
	case 'M':
		shift = 20;
		end++;
		break;
	case 'g':
	case 'G':
		shift = 30;
		end++;
		break;
	case 't':
	case 'T':
		shift = 40;
		end++;
		break;
	default:
		return -1;
	}
	if (*end == 'B' || *end == 'b' || *end == 'i')
		end++;
	if (*end || v > (UINT64_MAX >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

static int parse_machine(const char *s, struct vm_config *cfg)
{
	char *dup = strdup(s), *save = NULL;
	int rc = 0;
	for (char *t = strtok_r(dup, ",", &save); t && !rc;
	     t = strtok_r(NULL, ",", &save)) {
		if (!strcmp(t, "pc") || !strcmp(t, "type=pc"))
			continue;
		if (!strncmp(t, "ioreq=", 6))
			rc = dm_parse_mode(t + 6, &cfg->ioreq_mode);
		else if (!strcmp(t, "irqchip=user") ||
			 !strcmp(t, "kernel-irqchip=off"))
			cfg->kernel_irqchip = false;
		else if (!strcmp(t, "irqchip=kernel") ||
			 !strcmp(t, "kernel-irqchip=on"))
			cfg->kernel_irqchip = true;
		else
			rc = -1;
	}
	free(dup);
	return rc;
}

/* -kernel/-initrd/-append: the kernel is in RAM and the vCPU at its entry
 * before the machine starts. A -bios given as well is mapped but not run. */
static int load_kernel(struct vm *vm, const char *kernel, const char *initrd,
		       const char *append)
{
	char e[256];
	struct boot_ram r = {&vm->gm, vm->ram_low, vm->ram_high};
	struct boot_args a = {.cmdline = append,
			      .mptable = vm->cfg.kernel_irqchip};
	struct boot_entry entry;
	size_t klen;
	uint8_t *img = loader_read_file(kernel, "-kernel", &klen, e, sizeof(e));
	uint8_t *rd = NULL;
	int rc = -1;
	if (img && initrd)
		rd = loader_read_file(initrd, "-initrd", &a.initrd_size, e,
				      sizeof(e));
	a.initrd = rd;
	if (img && (!initrd || rd))
		rc = loader_load(&r, img, klen, &a, &entry, e, sizeof(e));
	free(img);
	free(rd);
	if (rc)
		return fail("%s", e);
	return vm_set_boot_entry(vm, &entry) ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct vm_config cfg = {.ram_size = 128ull << 20,
				.ioreq_mode = DM_MODE_DM};
	struct machine_opts mo = {.serial = "stdio", .debugcon = "none"};
	char err[256];
	bool stats = false;
	const char *trace = NULL;
	const char *monitor = NULL;
	const char *kernel = NULL, *initrd = NULL, *append = NULL;

	cpu_model_parse("minivmm", &cfg.cpu, err, sizeof(err));
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];
		const char *a = i + 1 < argc ? argv[i + 1] : NULL;
		if (o[0] == '-' && o[1] == '-')
			o++; /* --opt is -opt, as in QEMU */
#define NEEDARG                                                                \
	do {                                                                   \
		if (!a)                                                        \
			return fail("option '%s' needs an argument", o);       \
		i++;                                                           \
	} while (0)
		if (!strcmp(o, "-m")) {
			NEEDARG;
			if (!strncmp(a, "size=", 5))
				a += 5;
			if (parse_size(a, &cfg.ram_size))
				return fail("bad memory size '%s'", a);
		} else if (!strcmp(o, "-bios")) {
			NEEDARG;
			cfg.bios_path = a;
		} else if (!strcmp(o, "-kernel")) {
			NEEDARG;
			kernel = a;
		} else if (!strcmp(o, "-initrd")) {
			NEEDARG;
			initrd = a;
		} else if (!strcmp(o, "-append")) {
			NEEDARG;
			append = a;
		} else if (!strcmp(o, "-cpu")) {
			NEEDARG;
			if (cpu_model_parse(a, &cfg.cpu, err, sizeof(err)))
				return fail("-cpu: %s", err);
		} else if (!strcmp(o, "-machine") || !strcmp(o, "-M")) {
			NEEDARG;
			if (parse_machine(a, &cfg))
				return fail("bad -machine option '%s'", a);
		} else if (!strcmp(o, "-nographic")) {
			mo.nographic = true;
		} else if (!strcmp(o, "-display")) {
			NEEDARG;
			if (!strcmp(a, "sdl"))
				return fail("-display %s: there is no display "
					    "device yet (use -nographic)",
					    a);
			if (strcmp(a, "none"))
				return fail("unknown display '%s'", a);
		} else if (!strcmp(o, "-serial")) {
			NEEDARG;
			mo.serial = a;
		} else if (!strcmp(o, "-monitor")) {
			NEEDARG;
			monitor = a;
		} else if (!strcmp(o, "-debugcon")) {
			NEEDARG;
			mo.debugcon = a;
		} else if (!strcmp(o, "-device")) {
			NEEDARG;
			if (strcmp(a, "testdev"))
				return fail("unknown device '%s'", a);
			mo.testdev = true;
		} else if (!strcmp(o, "-hda") || !strcmp(o, "-hdb") ||
			   !strcmp(o, "-hdc") || !strcmp(o, "-hdd")) {
			NEEDARG;
			if (drive_add_hd(&mo.drives, o[3] - 'a', a, err,
					 sizeof(err)))
				return fail("%s", err);
		} else if (!strcmp(o, "-cdrom")) {
			NEEDARG;
			if (drive_add_cdrom(&mo.drives, a, err, sizeof(err)))
				return fail("%s", err);
		} else if (!strcmp(o, "-drive")) {
			NEEDARG;
			if (drive_parse(&mo.drives, a, err, sizeof(err)))
				return fail("%s", err);
		} else if (!strcmp(o, "-boot")) {
			NEEDARG;
			if (boot_parse(&mo.drives, a, err, sizeof(err)))
				return fail("%s", err);
		} else if (!strcmp(o, "-no-reboot")) {
			mo.no_reboot = true;
		} else if (!strcmp(o, "-stats")) {
			stats = true;
			cfg.report_cpuid = true;
		} else if (!strcmp(o, "-trace")) {
			NEEDARG;
			trace = a;
		} else if (!strcmp(o, "-smp")) {
			NEEDARG;
			if (strcmp(a, "1") && strcmp(a, "cpus=1"))
				return fail("-smp: only 1 vCPU is supported "
					    "('%s')",
					    a);
		} else if (!strcmp(o, "-version")) {
			puts("minivmm 0.1");
			return 0;
		} else if (!strcmp(o, "-h") || !strcmp(o, "-help")) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "minivmm: unknown option '%s'\n", o);
			usage(stderr);
			return 1;
		}
	}
	if (!kernel && (initrd || append))
		return fail("%s", "-initrd and -append need -kernel");
	if (!cfg.bios_path && !kernel)
		return fail("%s",
			    "no firmware: give -bios FILE or -kernel FILE");
	if (cfg.ram_size < (2ull << 20))
		return fail("%s", "-m: at least 2 MiB of RAM is needed");
	long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
	if (pages > 0 && cfg.ram_size > (uint64_t)pages * psz)
		return fail("%s", "-m: more RAM than this host has");
	if (cfg.ram_size % 4096)
		return fail("%s", "-m: size must be a multiple of 4 KiB");

	/* Signals go to the main thread, which turns them into exits. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	sigdelset(&sigs, SIGUSR1);

	struct vm vm;
	if (vm_create(&vm, &cfg) ||
	    (cfg.bios_path && vm_load_bios(&vm, cfg.bios_path)))
		return 1;
	if (kernel && load_kernel(&vm, kernel, initrd, append))
		return 1;
	if (trace) {
		vm.dm.trace =
		    strcmp(trace, "stderr") ? fopen(trace, "w") : stderr;
		if (!vm.dm.trace)
			return fail("cannot open trace file '%s'", trace);
	}
	struct machine m;
	if (machine_init(&m, &vm, &mo))
		return 1;
	/* As QEMU's -nographic: COM1 on stdio shares it with the monitor. */
	if (!monitor)
		monitor = strcmp(mo.serial, "stdio") ? "none" : "stdio";
	m.monitor = monitor_new(&m, monitor, err, sizeof(err));
	if (!m.monitor && err[0])
		return fail("%s", err);
	int reason = vm_run(&vm, &sigs);
	monitor_free(m.monitor); /* before the drives close */
	m.monitor = NULL;
	/* Before machine_fini(): devices that unregister their ports there
	 * (IDE, PCI BARs) would vanish from the per-device table. */
	if (stats)
		stats_print(&vm, stderr);
	machine_fini(&m);
	if (vm.dm.trace && vm.dm.trace != stderr)
		fclose(vm.dm.trace);
	int status = vm.exit_status;
	vm_destroy(&vm);
	if (reason == VM_RESET && !mo.no_reboot) {
		/* A reset is a fresh machine: the cleanest way to get every
		 * device, KVM's vCPU state and RAM back to power-on is a new
		 * process with the same command line. */
		fprintf(stderr, "minivmm: guest reset, rebooting\n");
		pthread_sigmask(SIG_UNBLOCK, &sigs, NULL);
		execv("/proc/self/exe", argv);
		return fail("reboot failed: %s", strerror(errno));
	}
	return reason == VM_ERROR ? (status ? status : 1) : status;
}
