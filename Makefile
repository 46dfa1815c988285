# minivmm. In-tree: `make`; out of tree: `mkdir b && cd b && ../configure && make`.
# Targets: all (minivmm), check (unit + guest tests + format), bench, demo, clean.

SRCDIR ?= .
ifeq ($(wildcard config.mk),)
ifneq ($(MAKECMDGOALS),clean)
$(shell $(SRCDIR)/configure >&2)
endif
endif
-include config.mk

CC ?= gcc
B := build
# A config.mk from before libpng was needed.
PNG_LIBS ?= -lpng
CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -pthread \
	-I$(SRCDIR) $(LIBEVENT_CFLAGS) $(SDL_CFLAGS) $(PNG_CFLAGS) $(EXTRA_CFLAGS)
LDLIBS := $(LIBEVENT_LIBS) -levent_pthreads $(SDL_LIBS) $(PNG_LIBS) -lpthread -lm

LIB_SRCS := $(sort $(wildcard $(SRCDIR)/ioreq/*.c $(SRCDIR)/hw/*.c $(SRCDIR)/vmm/*.c \
	$(SRCDIR)/vmm/*/*.c))
LIB_SRCS := $(filter-out $(SRCDIR)/vmm/main.c,$(LIB_SRCS))
LIB_OBJS := $(patsubst $(SRCDIR)/%.c,$(B)/%.o,$(LIB_SRCS))
UNIT_SRCS := $(sort $(wildcard $(SRCDIR)/tests/unit/*.c))
UNIT_OBJS := $(patsubst $(SRCDIR)/%.c,$(B)/%.o,$(UNIT_SRCS))

all: minivmm

$(B)/%.o: $(SRCDIR)/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(B)/tests/unit/%.o: CFLAGS += $(CRITERION_CFLAGS)

$(B)/libminivmm.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

minivmm: $(B)/vmm/main.o $(B)/libminivmm.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(B)/unit-tests: $(UNIT_OBJS) $(B)/libminivmm.a
	$(CC) $(CFLAGS) -o $@ $^ $(CRITERION_LIBS) $(LDLIBS)

# Runs a command where a working /dev/kvm is: on this host, or inside the
# KVM test VM (QEMU TCG with an emulated SVM CPU and Debian's kvm-amd).
KVMRUN := $(SRCDIR)/tests/kvmhost/run

# Guest test programs, guest benchmarks, firmware, images.
-include $(wildcard $(SRCDIR)/tests/guest/guest.mk $(SRCDIR)/bios/bios.mk \
	$(SRCDIR)/images/images.mk $(SRCDIR)/tests/linux/linux.mk \
	$(SRCDIR)/tests/unit/asan.mk $(SRCDIR)/tests/integration/net.mk \
	$(SRCDIR)/tests/integration/ipxe.mk \
	$(SRCDIR)/tests/integration/ide-bench.mk \
	$(SRCDIR)/tests/integration/bench-guest.mk \
	$(SRCDIR)/tests/fuzz/fuzz.mk)

# The demo: the demo CD (SeaBIOS, ISOLINUX, Debian's kernel, a busybox
# initramfs with Debian's drivers) to its shell, on this terminal. Without
# a terminal it runs the ISO case of the Linux-to-shell test instead and
# prints what the guest printed.
demo: minivmm $(DEMO_ISO) $(B)/demo-disk.img
	@if [ -t 0 ]; then \
		echo "demo: the busybox shell comes up on this terminal;" \
			"'reboot -f' or Ctrl-A x ends it"; \
		$(KVMRUN) -o -t 0 -- ./minivmm -bios $(SEABIOS_BIN) \
			-cdrom $(DEMO_ISO) -hda $(B)/demo-disk.img -boot d \
			-nographic -no-reboot; \
	else \
		$(MAKE) --no-print-directory linux-image && \
		SHOW_CONSOLE=1 $(KVMRUN) -o -t 1200 -- \
			$(SRCDIR)/tests/linux/linux-shell.sh iso; \
	fi
$(B)/demo-disk.img:
	@mkdir -p $(dir $@)
	truncate -s 16M $@

FORMAT_SRCS = $(shell cd $(SRCDIR) && git ls-files '*.c' '*.h' 2>/dev/null)

# make check: the unit, CLI and format checks, then the tests that boot
# guests. Those run in the KVM test VM where this host has no usable
# /dev/kvm, one VM per test and one host CPU per VM (TCG): CHECK_JOBS (2)
# of them at a time, longest first, each test's output printed in one
# piece when it ends (-Otarget). CHECK_JOBS=1 runs them one by one.
CHECK_JOBS ?= 2
CHECK_GUESTS = check-net check-ipxe check-linux check-seabios check-guest \
	check-kill check-ioerr check-monitor check-vga check-vga-menu
check: check-unit check-cli check-format check-fuzz
	@$(MAKE) --no-print-directory linux-image >/dev/null
	@$(MAKE) --no-print-directory -j$(CHECK_JOBS) -Otarget $(CHECK_GUESTS)
check-unit: $(B)/unit-tests
	$(B)/unit-tests --jobs 2
check-cli: minivmm
	$(SRCDIR)/tests/cli/run.sh ./minivmm
check-format:
	@if command -v clang-format >/dev/null; then \
		cd $(SRCDIR) && bad=$$(for f in $(FORMAT_SRCS); do \
			clang-format --dry-run -Werror $$f >/dev/null 2>&1 || echo $$f; done); \
		if [ -n "$$bad" ]; then echo "clang-format: not formatted: $$bad"; exit 1; fi; \
		echo "clang-format: all files formatted"; \
	else echo "clang-format: not installed, skipping"; fi
format:
	cd $(SRCDIR) && clang-format -i $(FORMAT_SRCS)

clean:
	rm -rf $(B) minivmm

.PHONY: all check check-unit check-cli check-guest check-kill check-format format clean bench demo check-vga
-include $(shell find $(B) -name '*.d' 2>/dev/null)
