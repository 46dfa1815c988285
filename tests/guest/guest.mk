# Guest test programs (tests/guest): freestanding 64 KiB BIOS images run
# inside minivmm under KVM. Included by the top Makefile, which provides
# SRCDIR, B and CC. Targets: check-guest, check-monitor, bench, guest-images.

GUEST_SRC := $(SRCDIR)/tests/guest
GB := $(B)/tests/guest

GUEST_CFLAGS := -ffreestanding -nostdlib -fno-pic -fno-pie \
	-fno-stack-protector -fno-asynchronous-unwind-tables \
	-fcf-protection=none -mgeneral-regs-only -Os -std=gnu11 \
	-Wall -Wextra -Werror -I$(GUEST_SRC)

# Real-mode programs and protected/long-mode programs.
GUEST16 := hello serial timer rtc reset-cf9 reset-kbd halt
GUEST32 := strio cpuid emul bench reset-triple ide bench-ide cdchange killtest \
	vga ioerr
GUEST_BINS := $(patsubst %,$(GB)/%.bin,$(GUEST16) $(GUEST32))


$(GB)/%.o16: $(GUEST_SRC)/%.c $(wildcard $(GUEST_SRC)/*.h)
	@mkdir -p $(dir $@)
	$(CC) -m16 -march=i686 $(GUEST_CFLAGS) -c -o $@ $<

$(GB)/%.o16: $(GUEST_SRC)/%.S $(wildcard $(GUEST_SRC)/*.h)
	@mkdir -p $(dir $@)
	$(CC) -m32 -I$(GUEST_SRC) -c -o $@ $<

$(GB)/%.o32: $(GUEST_SRC)/%.c $(wildcard $(GUEST_SRC)/*.h)
	@mkdir -p $(dir $@)
	$(CC) -m32 -march=i686 $(GUEST_CFLAGS) -c -o $@ $<

$(GB)/%.o32: $(GUEST_SRC)/%.S $(wildcard $(GUEST_SRC)/*.h)
	@mkdir -p $(dir $@)
	$(CC) -m32 -I$(GUEST_SRC) -c -o $@ $<

# ELF -> flat binary of exactly 64 KiB (the reset vector at offset 0xFFF0).
define guest_link
	ld -m elf_i386 -nostdlib -z noexecstack -T $(1) -o $(@:.bin=.elf) $(2)
	objcopy -O binary $(@:.bin=.elf) $@.tmp
	test $$(stat -c %s $@.tmp) -eq 65536 || \
		{ echo "$@: image is not 64 KiB" >&2; rm -f $@.tmp; exit 1; }
	mv $@.tmp $@
endef

$(patsubst %,$(GB)/%.bin,$(GUEST16)): $(GB)/%.bin: $(GUEST_SRC)/guest16.ld \
		$(GB)/crt16.o16 $(GB)/lib.o16 $(GB)/%.o16
	$(call guest_link,$<,$(filter %.o16,$^))

$(patsubst %,$(GB)/%.bin,$(GUEST32)): $(GB)/%.bin: $(GUEST_SRC)/guest32.ld \
		$(GB)/crt32.o32 $(GB)/sys.o32 $(GB)/lib.o32 $(GB)/%.o32
	$(call guest_link,$<,$(filter %.o32,$^))

# Programs with an assembly part besides their .c file.
$(GB)/timer.bin: $(GB)/timer-irq.o16
$(GB)/emul.bin: $(GB)/emul-asm.o32 $(GB)/lm.o32 $(GB)/lm-asm.o32
$(GB)/bench.bin: $(GB)/bench-asm.o32 $(GB)/lm.o32 $(GB)/lm-asm.o32
$(GB)/ide.bin $(GB)/bench-ide.bin $(GB)/cdchange.bin $(GB)/killtest.bin \
	$(GB)/ioerr.bin: $(GB)/ide-drv.o32

# Host helper: TSC frequency for the benchmark table.
$(GB)/tschz: $(GUEST_SRC)/tschz.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -o $@ $<

# Host helper: disk image and ISO file of the ide test, and their check.
$(GB)/ide-img: $(GUEST_SRC)/ide-img.c $(GUEST_SRC)/ide-pat.h
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -o $@ $<

# Host helper: the kill test's image check.
$(GB)/killtest-check: $(GUEST_SRC)/killtest-check.c $(GUEST_SRC)/killtest-pat.h
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -o $@ $<

guest-images: $(GUEST_BINS)

check-guest: minivmm $(GUEST_BINS) $(GB)/ide-img
	$(KVMRUN) -t 1200 -- $(GUEST_SRC)/run-tests.sh ./minivmm $(GB)

# Data that survives a SIGKILL, for each cache= mode, from the small
# driver and the stock Linux guest; the image lock across processes; a
# read-only image never written (tests/integration/kill-test.sh).
check-kill: minivmm $(GB)/killtest.bin $(GB)/killtest-check
	$(KVMRUN) -o -t 1500 -- $(SRCDIR)/tests/integration/kill-test.sh \
		./minivmm $(GB)

# Host I/O errors (EIO, ENOSPC from an LD_PRELOAD shim on a sector range)
# reach the small driver and stock Linux (ata_piix, virtio_blk) as the
# device's error status; minivmm keeps running
# (tests/integration/ioerr-test.sh).
$(B)/tests/ioerr-shim.so: $(SRCDIR)/tests/integration/ioerr-shim.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror -shared -fPIC -o $@ $< -ldl -lpthread

check-ioerr: minivmm $(GB)/ioerr.bin $(B)/tests/ioerr-shim.so
	$(KVMRUN) -o -t 600 -- $(SRCDIR)/tests/integration/ioerr-test.sh \
		./minivmm $(GB) $(B)/tests/ioerr-shim.so

# The monitor changing the CD under a running guest (unix socket).
check-monitor: minivmm $(GB)/cdchange.bin
	$(KVMRUN) -t 600 -- $(SRCDIR)/tests/integration/monitor-cd.sh ./minivmm $(GB)

bench: minivmm $(GB)/bench.bin $(GB)/bench-ide.bin $(GB)/tschz
	$(KVMRUN) -t 0 -- sh -c "$(GUEST_SRC)/bench.sh ./minivmm $(GB) && $(GUEST_SRC)/bench-ide.sh ./minivmm $(GB)"

.PHONY: guest-images check-guest check-monitor check-ioerr bench
