# libFuzzer harnesses for every device family (issue 12), built with clang
# under ASan and UBSan into $(B)/fuzz/: the device models and the
# KVM-free parts of ioreq/ are compiled a third time with coverage
# instrumentation. See docs/FUZZING.md and tests/fuzz/fuzz_common.h.
#
#   make fuzz         each harness for FUZZ_SECONDS (120), new inputs kept in
#                     $(B)/fuzz/corpus/<harness>, crash files in $(B)/fuzz/
#   make fuzz-<name>  one harness (legacy fw_cfg pci ide ne2000 virtio_blk
#                     virtio_net)
#   make check-fuzz   a smoke run: the seed corpus plus FUZZ_SMOKE_RUNS
#                     mutations or FUZZ_SMOKE_SECONDS (5), whichever ends
#                     first, per harness (part of make check)
#
# Any crash, sanitizer report, leak, timeout (FUZZ_TIMEOUT, 10 s per
# input) or RSS over FUZZ_RSS_MB fails the target. Fuzzers run under
# $(FUZZ_NICE).

FUZZ_CC ?= clang
FUZZ_B := $(B)/fuzz
FUZZ_SECONDS ?= 120
FUZZ_SMOKE_RUNS ?= 10000
FUZZ_SMOKE_SECONDS ?= 5
FUZZ_RSS_MB ?= 2048
# Per input, in wall-clock seconds: a niced fuzzer on a host loaded far
# beyond its CPUs can take seconds for an input that needs 0.1 s of CPU;
# raise it there (FUZZ_TIMEOUT=60) rather than chase false hangs.
FUZZ_TIMEOUT ?= 10
FUZZ_NICE ?= nice -n 19
# One input frees a few MiB at most, so a 16 MiB quarantine still catches
# a use-after-free within it; the default 256 MiB made the harnesses that
# allocate large device structs per input (virtio-blk: ~300 KiB) 2-3x
# slower on this host.
FUZZ_ASAN_OPTIONS ?= quarantine_size_mb=16
FUZZ_HARNESSES := legacy fw_cfg pci ide ne2000 virtio_blk virtio_net
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer
FUZZ_CFLAGS := -std=gnu11 -O1 -g -Wall -Wextra -D_GNU_SOURCE -I$(SRCDIR) \
	$(FUZZ_SAN)
FUZZ_LIB_SRCS := $(sort $(wildcard $(SRCDIR)/hw/*.c)) \
	$(SRCDIR)/ioreq/bus.c $(SRCDIR)/ioreq/clock.c $(SRCDIR)/ioreq/guestmem.c \
	$(SRCDIR)/tests/fuzz/fuzz_common.c $(SRCDIR)/tests/fuzz/fuzz_virtio.c
FUZZ_LIB_OBJS := $(patsubst $(SRCDIR)/%.c,$(FUZZ_B)/obj/%.o,$(FUZZ_LIB_SRCS))
FUZZ_MAIN_OBJS := $(patsubst %,$(FUZZ_B)/obj/tests/fuzz/fuzz_%.o,\
	$(FUZZ_HARNESSES))
FUZZ_BINS := $(patsubst %,$(FUZZ_B)/fuzz_%,$(FUZZ_HARNESSES))
FUZZ_ARGS := -timeout=$(FUZZ_TIMEOUT) -rss_limit_mb=$(FUZZ_RSS_MB) -max_len=4096 \
	-print_final_stats=1

# Static pattern rules: they win over the generic $(B)/%.o rule.
$(FUZZ_LIB_OBJS) $(FUZZ_MAIN_OBJS): $(FUZZ_B)/obj/%.o: $(SRCDIR)/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_B)/libfuzzdev.a: $(FUZZ_LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_BINS): $(FUZZ_B)/fuzz_%: $(FUZZ_B)/obj/tests/fuzz/fuzz_%.o \
		$(FUZZ_B)/libfuzzdev.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^

fuzz-build: $(FUZZ_BINS)

# fuzz-<name>: FUZZ_SECONDS of one harness from its seeds and kept corpus.
$(patsubst %,fuzz-%,$(FUZZ_HARNESSES)): fuzz-%: $(FUZZ_B)/fuzz_%
	@mkdir -p $(FUZZ_B)/corpus/$*
	cd $(FUZZ_B) && ASAN_OPTIONS=$(FUZZ_ASAN_OPTIONS) \
		$(FUZZ_NICE) ./fuzz_$* $(FUZZ_ARGS) \
		-max_total_time=$(FUZZ_SECONDS) -artifact_prefix=crash-$*- \
		corpus/$* $(abspath $(SRCDIR))/tests/fuzz/corpus/$* \
		>fuzz_$*.log 2>&1; rc=$$?; \
		if [ $$rc != 0 ]; then tail -60 fuzz_$*.log; \
			echo "fuzz: $* FAILED (log: $(FUZZ_B)/fuzz_$*.log)"; exit 1; fi; \
		echo "fuzz: $*: $$(grep '^#[0-9]' fuzz_$*.log | tail -1)"; \
		grep '^stat::' fuzz_$*.log | tr '\n' ' '; echo

fuzz: $(patsubst %,fuzz-%,$(FUZZ_HARNESSES))

# The smoke run: seeds first, then a fixed number of mutations (-seed=1)
# into a throw-away corpus, so make check never changes the kept one.
check-fuzz:
	@if command -v $(FUZZ_CC) >/dev/null; then \
		$(MAKE) --no-print-directory fuzz-build && \
		for h in $(FUZZ_HARNESSES); do \
			rm -rf $(FUZZ_B)/smoke/$$h; mkdir -p $(FUZZ_B)/smoke/$$h; \
			( cd $(FUZZ_B) && \
				ASAN_OPTIONS=$(FUZZ_ASAN_OPTIONS) \
				$(FUZZ_NICE) ./fuzz_$$h $(FUZZ_ARGS) \
				-seed=1 -runs=$(FUZZ_SMOKE_RUNS) \
				-max_total_time=$(FUZZ_SMOKE_SECONDS) \
				-artifact_prefix=crash-$$h- smoke/$$h \
				$(abspath $(SRCDIR))/tests/fuzz/corpus/$$h \
				>smoke-$$h.log 2>&1 ) || \
				{ tail -40 $(FUZZ_B)/smoke-$$h.log; \
				  echo "check-fuzz: $$h FAILED"; exit 1; }; \
			echo "check-fuzz: $$h: $$(grep -o 'cov: [0-9]* ft: [0-9]*' \
				$(FUZZ_B)/smoke-$$h.log | tail -1)"; \
		done; \
	else echo "check-fuzz: $(FUZZ_CC) not installed, skipping"; fi

.PHONY: fuzz fuzz-build check-fuzz $(patsubst %,fuzz-%,$(FUZZ_HARNESSES))
