/* minivmm: command line, start-up order, and the exit path. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hw/fw_cfg.h"
#include "vmm/loader.h"
#include "vmm/machine.h"
#include "vmm/monitor.h"
#include "vmm/vcpu.h"
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
	    "  -machine [pc,]ioreq=dm|inline|poll|floor,\n"
	    "           irqchip=user|kernel (kernel where KVM has one),\n"
	    "           ioeventfd=on|off (virtio kicks via KVM_IOEVENTFD; "
	    "off),\n"
	    "           irqfd=on|off (virtio MSI-X via KVM_IRQFD, needs "
	    "irqchip=kernel; off),\n"
	    "           coalesced-pio=on|off (NE2000 data and RTC index "
	    "port writes\n"
	    "           buffered by KVM, no exit each; on)\n"
	    "  -nographic            no display; serial on stdio\n"
	    "  -vga std|none         standard VGA (PCI 1234:1111, Bochs VBE) "
	    "at 00:02.0\n"
	    "                        with SeaBIOS's vgabios-stdvga.bin, or "
	    "none (default)\n"
	    "  -display none|sdl     headless (screendump in the monitor), or "
	    "an SDL2\n"
	    "                        window (implies -vga std)\n"
	    "  -serial DEV           stdio, file:PATH, null, none\n"
	    "  -debugcon DEV         port 0x402 debug console (default none)\n"
	    "  -monitor DEV          stdio, unix:PATH,server,nowait, none\n"
	    "                        (default: shares COM1's stdio, Ctrl-A c)\n"
	    "  -device testdev       do-nothing device for benchmarks\n"
	    "  -net IFNAME           NE2000 PCI (RTL8029) on TAP IFNAME\n"
	    "  -net "
	    "nic[,model=ne2k_pci|ne2k_isa|virtio-net-pci][,macaddr=MAC]\n"
	    "  -net tap,ifname=X[,script=no,downscript=no]  (pairs with the\n"
	    "                        -net nic of the same rank)\n"
	    "  -nic tap,ifname=X[,model=M][,mac=MAC]\n"
	    "  -netdev tap,id=ID,ifname=X  -device ne2k_pci|ne2k_isa|"
	    "virtio-net-pci,\n"
	    "                        netdev=ID[,mac=MAC]  (model=virtio: "
	    "virtio-net-pci)\n"
	    "  -net dump[,file=F][,len=N]  every NIC's frames to a pcap file\n"
	    "  -net none             no NIC (default); ne2k_isa is 0x300 IRQ "
	    "9,\n"
	    "                        MACs default to 52:54:00:12:34:56 + n\n"
	    "  -hda/-hdb/-hdc/-hdd FILE  IDE disk image (raw)\n"
	    "  -cdrom FILE           ISO image on the secondary master\n"
	    "  -drive file=F,if=ide,index=N,media=disk|cdrom,format=raw,\n"
	    "         readonly=on|off,cache=writeback|writethrough|none\n"
	    "  -drive file=F,if=virtio[,...]  a virtio-blk-pci disk\n"
	    "  -drive file=F,if=none,id=ID -device virtio-blk-pci,drive=ID"
	    "[,serial=S]\n"
	    "  -boot c|d|order=dc    boot order for the firmware (CMOS)\n"
	    "  -fw_cfg [name=]NAME,file=PATH|string=STR  a file for the "
	    "firmware\n"
	    "                        (NAME: opt/..., or etc/sercon-port etc.)\n"
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
			cfg->kernel_irqchip = false, cfg->irqchip_set = true;
		else if (!strcmp(t, "irqchip=kernel") ||
			 !strcmp(t, "kernel-irqchip=on"))
			cfg->kernel_irqchip = true, cfg->irqchip_set = true;
		else if (!strcmp(t, "ioeventfd=on"))
			cfg->ioeventfd = true;
		else if (!strcmp(t, "ioeventfd=off"))
			cfg->ioeventfd = false;
		else if (!strcmp(t, "coalesced-pio=on"))
			cfg->coalesced_pio = true;
		else if (!strcmp(t, "coalesced-pio=off"))
			cfg->coalesced_pio = false;
		else if (!strcmp(t, "irqfd=on"))
			cfg->irqfd = true;
		else if (!strcmp(t, "irqfd=off"))
			cfg->irqfd = false;
		else
			rc = -1;
	}
	free(dup);
	return rc;
}

/* Everything the command line says; filled by parse_args(). */
struct options {
	struct vm_config cfg;
	struct machine_opts mo;
	bool stats;
	bool vga_given; /* -vga on the command line */
	const char *trace, *monitor, *kernel, *initrd, *append;
};

/* -monitor is started after the machine exists (monitor.c parses the rest
 * of unix:...); its kind is known now, so a wrong one fails before KVM. */
static int check_monitor(const char *spec)
{
	if (!spec || !strcmp(spec, "none") || !strcmp(spec, "stdio") ||
	    !strncmp(spec, "unix:", 5))
		return 0;
	return fail("unknown monitor '%s' (use stdio, unix:PATH,server,nowait "
		    "or none)",
		    spec);
}

static int parse_display(struct machine_opts *mo, const char *a)
{
	if (!strcmp(a, "sdl"))
		mo->display = DISPLAY_SDL;
	else if (!strcmp(a, "none"))
		mo->display = DISPLAY_NONE;
	else
		return fail("unknown display '%s' (use none or sdl)", a);
	return 0;
}

/* QEMU's -vga: only the standard VGA is here. */
static int parse_vga(struct options *op, const char *a)
{
	if (!strcmp(a, "std"))
		op->mo.vga = true;
	else if (!strcmp(a, "none"))
		op->mo.vga = false;
	else
		return fail("-vga %s: not supported (use std or none)", a);
	op->vga_given = true;
	return 0;
}

/* A QEMU option value from s up to a single ',' (",," is a comma), into
 * *d; returns where the next parameter starts. */
static const char *opt_value(const char *s, char **d)
{
	while (*s && (*s != ',' || s[1] == ',')) {
		*(*d)++ = *s;
		s += *s == ',' ? 2 : 1;
	}
	*(*d)++ = 0;
	return *s ? s + 1 : s;
}

/* -fw_cfg [name=]NAME,file=PATH|string=STR, as QEMU parses it: the name
 * at most 55 characters, exactly one of file and string, no name twice.
 * The file is read, and the name checked against the machine's own items,
 * in machine_prepare(). */
static int parse_fw_cfg(struct machine_opts *mo, const char *a)
{
	if (mo->nfw_cfg >= MACHINE_MAX_FW_CFG)
		return fail("-fw_cfg: at most %s items", "32");
	struct machine_fw_cfg c = {0};
	/* The unescaped values; kept for the life of the process. */
	char *buf = malloc(strlen(a) + 1), *d = buf;
	if (!buf)
		return fail("%s", "-fw_cfg: out of memory");
	for (const char *s = a; *s;) {
		size_t klen = strcspn(s, "=,");
		const char **slot = NULL;
		char *v = d;
		if (s[klen] != '=') {
			/* QEMU's implied "name=" for the first parameter */
			if (s != a || !klen)
				goto bad_key;
			slot = &c.name;
		} else if (klen == 4 && !strncmp(s, "name", 4)) {
			slot = &c.name;
		} else if (klen == 4 && !strncmp(s, "file", 4)) {
			slot = &c.file;
		} else if (klen == 6 && !strncmp(s, "string", 6)) {
			slot = &c.string;
		} else {
		bad_key:;
			char key[64];
			snprintf(key, sizeof(key), "%.*s", (int)klen, s);
			fail(strcmp(key, "gen_id")
				 ? "-fw_cfg: Invalid parameter '%s'"
				 : "-fw_cfg: %s= is not supported",
			     key);
			free(buf);
			return 1;
		}
		if (s[klen] == '=')
			s += klen + 1;
		s = opt_value(s, &d);
		*slot = v;
	}
	int rc = 0;
	if (!c.name || !c.file == !c.string)
		rc = fail("%s", "-fw_cfg: name, plus exactly one of file and "
				"string, are needed");
	else if (!c.name[0])
		rc = fail("%s", "-fw_cfg: the name is empty");
	else if (strlen(c.name) > FW_CFG_NAME_LEN - 1)
		rc = fail("-fw_cfg: name too long (max. %s char)", "55");
	for (unsigned i = 0; i < mo->nfw_cfg && !rc; i++)
		if (!strcmp(mo->fw_cfg[i].name, c.name))
			rc = fail("-fw_cfg: duplicate fw_cfg file name: %s",
				  c.name);
	if (rc) {
		free(buf);
		return rc;
	}
	mo->fw_cfg[mo->nfw_cfg++] = c;
	return 0;
}

/* Options with an argument a. 0, or 1 after one line on stderr. */
static int parse_with_arg(struct options *op, const char *o, const char *a)
{
	struct vm_config *cfg = &op->cfg;
	struct machine_opts *mo = &op->mo;
	char err[256];
	if (!strcmp(o, "-m")) {
		if (!strncmp(a, "size=", 5))
			a += 5;
		if (parse_size(a, &cfg->ram_size))
			return fail("bad memory size '%s'", a);
	} else if (!strcmp(o, "-bios")) {
		cfg->bios_path = a;
	} else if (!strcmp(o, "-kernel")) {
		op->kernel = a;
	} else if (!strcmp(o, "-initrd")) {
		op->initrd = a;
	} else if (!strcmp(o, "-append")) {
		op->append = a;
	} else if (!strcmp(o, "-cpu")) {
		if (cpu_model_parse(a, &cfg->cpu, err, sizeof(err)))
			return fail("-cpu: %s", err);
	} else if (!strcmp(o, "-machine") || !strcmp(o, "-M")) {
		if (parse_machine(a, cfg))
			return fail("bad -machine option '%s'", a);
	} else if (!strcmp(o, "-display")) {
		return parse_display(mo, a);
	} else if (!strcmp(o, "-vga")) {
		return parse_vga(op, a);
	} else if (!strcmp(o, "-serial")) {
		mo->serial = a;
	} else if (!strcmp(o, "-monitor")) {
		op->monitor = a;
		return check_monitor(a);
	} else if (!strcmp(o, "-debugcon")) {
		mo->debugcon = a;
	} else if (!strcmp(o, "-net") || !strcmp(o, "-nic") ||
		   !strcmp(o, "-netdev") || !strcmp(o, "-device")) {
		int rc = netcfg_parse(&mo->net, o, a, err, sizeof(err));
		if (rc < 0)
			return fail("%s", err);
		if (rc == 0)
			return 0;
		rc = drive_device_parse(&mo->drives, a, err, sizeof(err));
		if (rc < 0)
			return fail("%s", err);
		if (rc == 0)
			return 0;
		if (strcmp(a, "testdev"))
			return fail("unknown device '%s'", a);
		mo->testdev = true;
	} else if (!strcmp(o, "-hda") || !strcmp(o, "-hdb") ||
		   !strcmp(o, "-hdc") || !strcmp(o, "-hdd")) {
		if (drive_add_hd(&mo->drives, o[3] - 'a', a, err, sizeof(err)))
			return fail("%s", err);
	} else if (!strcmp(o, "-cdrom")) {
		if (drive_add_cdrom(&mo->drives, a, err, sizeof(err)))
			return fail("%s", err);
	} else if (!strcmp(o, "-drive")) {
		if (drive_parse(&mo->drives, a, err, sizeof(err)))
			return fail("%s", err);
	} else if (!strcmp(o, "-boot")) {
		if (boot_parse(&mo->drives, a, err, sizeof(err)))
			return fail("%s", err);
	} else if (!strcmp(o, "-fw_cfg")) {
		return parse_fw_cfg(mo, a);
	} else if (!strcmp(o, "-trace")) {
		op->trace = a;
	} else if (!strcmp(o, "-smp")) {
		if (strcmp(a, "1") && strcmp(a, "cpus=1"))
			return fail("-smp: only 1 vCPU is supported ('%s')", a);
	}
	return 0;
}

static bool takes_arg(const char *o)
{
	static const char *const with[] = {
	    "-m",	"-bios",     "-kernel", "-initrd",  "-append",
	    "-cpu",	"-machine",  "-M",	"-display", "-serial",
	    "-monitor", "-debugcon", "-device", "-hda",	    "-hdb",
	    "-hdc",	"-hdd",	     "-cdrom",	"-drive",   "-boot",
	    "-trace",	"-smp",	     "-net",	"-nic",	    "-netdev",
	    "-fw_cfg",	"-vga"};
	for (size_t i = 0; i < sizeof(with) / sizeof(with[0]); i++)
		if (!strcmp(o, with[i]))
			return true;
	return false;
}

/* Option syntax only; nothing is opened. 0, or 1 after one line on
 * stderr; *done when -help or -version has said all. */
static int parse_args(int argc, char **argv, struct options *op, bool *done)
{
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];
		if (o[0] == '-' && o[1] == '-')
			o++; /* --opt is -opt, as in QEMU */
		if (takes_arg(o)) {
			if (i + 1 >= argc)
				return fail("option '%s' needs an argument", o);
			if (parse_with_arg(op, o, argv[++i]))
				return 1;
		} else if (!strcmp(o, "-nographic")) {
			op->mo.nographic = true;
		} else if (!strcmp(o, "-no-reboot")) {
			op->mo.no_reboot = true;
		} else if (!strcmp(o, "-stats")) {
			op->stats = true;
			op->cfg.report_cpuid = true;
		} else if (!strcmp(o, "-version")) {
			puts("minivmm 0.1");
			*done = true;
			return 0;
		} else if (!strcmp(o, "-h") || !strcmp(o, "-help")) {
			usage(stdout);
			*done = true;
			return 0;
		} else {
			fprintf(stderr, "minivmm: unknown option '%s'\n", o);
			usage(stderr);
			return 1;
		}
	}
	return 0;
}

/* How the options fit together, and -m against this host. */
static int check_options(struct options *op)
{
	struct vm_config *cfg = &op->cfg;
	char err[256];
	if (netcfg_finish(&op->mo.net, err, sizeof(err)))
		return fail("%s", err);
	if (drive_finish(&op->mo.drives, err, sizeof(err)))
		return fail("%s", err);
	if (op->mo.nographic)
		op->mo.display = DISPLAY_NONE;
	if (op->mo.display == DISPLAY_SDL && !op->mo.vga) {
		if (op->vga_given)
			return fail("%s", "-display sdl needs a VGA (not -vga "
					  "none)");
		op->mo.vga = true;
	}
	if (op->mo.vga)
		op->mo.vga_rom = MACHINE_VGA_ROM;
	if (!op->kernel && (op->initrd || op->append))
		return fail("%s", "-initrd and -append need -kernel");
	/* As QEMU and kvmtool: the 8259s, the 8254 and the local APIC in
	 * the kernel where KVM has them (docs/DESIGN.md, issue 15). */
	if (!cfg->irqchip_set)
		cfg->kernel_irqchip = kvm_has_irqchip();
	if (cfg->irqfd && !cfg->kernel_irqchip)
		return fail("%s",
			    "-machine irqfd=on needs irqchip=kernel (MSI-X "
			    "goes to the in-kernel local APICs)");
	if (!cfg->bios_path && !op->kernel)
		return fail("%s",
			    "no firmware: give -bios FILE or -kernel FILE");
	if (cfg->ram_size < (2ull << 20))
		return fail("%s", "-m: at least 2 MiB of RAM is needed");
	long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
	if (pages > 0 && cfg->ram_size > (uint64_t)pages * psz)
		return fail("%s", "-m: more RAM than this host has");
	if (cfg->ram_size % 4096)
		return fail("%s", "-m: size must be a multiple of 4 KiB");
	return 0;
}

/* -kernel/-initrd/-append: the kernel is put in guest RAM before KVM
 * exists (files, format, fit); the vCPU goes to *entry after vm_create().
 * A -bios given as well is mapped but not run. */
static int load_kernel(struct vm *vm, const struct options *op,
		       struct boot_entry *entry)
{
	char e[256];
	struct boot_ram r = {&vm->gm, vm->ram_low, vm->ram_high};
	struct boot_args a = {.cmdline = op->append,
			      .mptable = vm->cfg.kernel_irqchip};
	size_t klen;
	uint8_t *img =
	    loader_read_file(op->kernel, "-kernel", &klen, e, sizeof(e));
	uint8_t *rd = NULL;
	int rc = -1;
	if (img && op->initrd)
		rd = loader_read_file(op->initrd, "-initrd", &a.initrd_size, e,
				      sizeof(e));
	a.initrd = rd;
	if (img && (!op->initrd || rd))
		rc = loader_load(&r, img, klen, &a, entry, e, sizeof(e));
	free(img);
	free(rd);
	return rc ? fail("%s", e) : 0;
}

/* Every input that needs no KVM: firmware, kernel, trace file, chardevs,
 * disk images. What is opened here is what the machine then uses. */
static int prepare(struct vm *vm, struct machine *m, const struct options *op,
		   struct boot_entry *entry)
{
	if (vm_prepare(vm, &op->cfg))
		return -1;
	if (op->cfg.bios_path && vm_load_bios(vm, op->cfg.bios_path))
		return -1;
	if (op->kernel && load_kernel(vm, op, entry))
		return -1;
	if (op->trace) {
		vm->dm.trace = strcmp(op->trace, "stderr")
				   ? fopen(op->trace, "w")
				   : stderr;
		if (!vm->dm.trace)
			return fail("cannot open trace file '%s'", op->trace);
	}
	return machine_prepare(m, vm, &op->mo);
}

/* Runs the machine; returns minivmm's exit status, or -1 to reboot. */
static int run(struct vm *vm, struct machine *m, const struct options *op,
	       const sigset_t *sigs)
{
	char err[256];
	/* As QEMU's -nographic: COM1 on stdio shares it with the monitor. */
	const char *monitor = op->monitor;
	if (!monitor)
		monitor = strcmp(op->mo.serial, "stdio") ? "none" : "stdio";
	m->monitor = monitor_new(m, monitor, err, sizeof(err));
	if (!m->monitor && err[0])
		return fail("%s", err);
	int reason = vm_run(vm, sigs);
	monitor_free(m->monitor); /* before the drives close */
	m->monitor = NULL;
	/* Before machine_fini(): devices that unregister their ports there
	 * (IDE, PCI BARs) would vanish from the per-device table. */
	if (op->stats) {
		stats_print(vm, stderr);
		machine_stats_print(m, stderr);
	}
	machine_fini(m); /* the terminal is restored here */
	if (vm->dm.trace && vm->dm.trace != stderr)
		fclose(vm->dm.trace);
	int status = vm->exit_status;
	const char *why = vm->reset_why;
	vm_destroy(vm);
	if (reason == VM_HALTED)
		fprintf(stderr, "minivmm: the guest halted with interrupts "
				"disabled; exiting\n");
	if (reason == VM_RESET && !op->mo.no_reboot)
		return -1;
	if (reason == VM_RESET)
		fprintf(stderr, "minivmm: reset by %s; exiting (-no-reboot)\n",
			why ? why : "the monitor's system_reset");
	return reason == VM_ERROR ? (status ? status : 1) : status;
}

int main(int argc, char **argv)
{
	struct options op = {.cfg = {.ram_size = 128ull << 20,
				     .ioreq_mode = DM_MODE_DM,
				     .coalesced_pio = true},
			     .mo = {.serial = "stdio", .debugcon = "none"}};
	char err[256];
	bool done = false;

	cpu_model_parse("minivmm", &op.cfg.cpu, err, sizeof(err));
	if (parse_args(argc, argv, &op, &done) || done)
		return done ? 0 : 1;
	if (check_options(&op))
		return 1;

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
	struct machine m;
	struct boot_entry entry;
	/* Only now KVM: every bad input has had its own error by here. */
	if (prepare(&vm, &m, &op, &entry) || vm_create(&vm))
		return 1;
	if (op.kernel && vm_set_boot_entry(&vm, &entry))
		return 1;
	if (machine_init(&m, &op.mo) || vcpu_watch_halt(&vm))
		return 1;
	int status = run(&vm, &m, &op, &sigs);
	if (status >= 0)
		return status;
	/* A reset is a fresh machine: the cleanest way to get every device,
	 * KVM's vCPU state and RAM back to power-on is a new process with the
	 * same command line. */
	fprintf(stderr, "minivmm: guest reset, rebooting\n");
	pthread_sigmask(SIG_UNBLOCK, &sigs, NULL);
	execv("/proc/self/exe", argv);
	return fail("reboot failed: %s", strerror(errno));
}
