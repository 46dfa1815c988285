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
CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -pthread \
	-I$(SRCDIR) $(LIBEVENT_CFLAGS) $(SDL_CFLAGS) $(EXTRA_CFLAGS)
LDLIBS := $(LIBEVENT_LIBS) -levent_pthreads $(SDL_LIBS) -lpthread -lm

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

# Guest test programs, guest benchmarks, firmware, images.
-include $(wildcard $(SRCDIR)/tests/guest/guest.mk $(SRCDIR)/bios/bios.mk \
	$(SRCDIR)/images/images.mk $(SRCDIR)/tests/linux/linux.mk \
	$(SRCDIR)/tests/unit/asan.mk)

# The demo: a guest that greets on the debug port and on COM1, then resets.
demo: minivmm $(B)/tests/guest/hello.bin
	./minivmm -bios $(B)/tests/guest/hello.bin -nographic -no-reboot

FORMAT_SRCS = $(shell cd $(SRCDIR) && git ls-files '*.c' '*.h' 2>/dev/null)

check: check-unit check-cli check-guest check-monitor check-format
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

.PHONY: all check check-unit check-cli check-guest check-format format clean bench demo
-include $(shell find $(B) -name '*.d' 2>/dev/null)
