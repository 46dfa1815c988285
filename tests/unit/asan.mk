# The unit tests again under AddressSanitizer and UndefinedBehaviorSanitizer
# (issue 13: a use-after-free only ASan shows). Library and tests are built
# a second time into $(B)/asan/ so the normal objects stay uninstrumented.
# Any sanitizer report fails the test it happens in: UBSan does not recover,
# and ASan ends the test's process.

ASAN_B := $(B)/asan
# Warnings stay fatal in the normal build only: GCC's instrumentation makes
# its flow-based warnings (-Wrestrict, -Wstringop-overflow) misfire on code
# the normal build accepts.
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined -Wno-error
ASAN_LIB_OBJS := $(patsubst $(SRCDIR)/%.c,$(ASAN_B)/%.o,$(LIB_SRCS))
ASAN_UNIT_OBJS := $(patsubst $(SRCDIR)/%.c,$(ASAN_B)/%.o,$(UNIT_SRCS))
# Leak checking is on, with the few deliberate leaks in lsan.supp; those
# need the slow unwinder to see the test's frames through libevent's. It
# doubles the run time (each test is a process of its own): on a busy host
# `make check-asan ASAN_LEAKS=0` checks memory errors only.
ASAN_LEAKS ?= 1
ASAN_ENV := ASAN_OPTIONS=detect_leaks=$(ASAN_LEAKS):abort_on_error=1:fast_unwind_on_malloc=0 \
	LSAN_OPTIONS=suppressions=$(SRCDIR)/tests/unit/lsan.supp \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# A static pattern rule: it wins over the generic $(B)/%.o rule.
$(ASAN_LIB_OBJS) $(ASAN_UNIT_OBJS): $(ASAN_B)/%.o: $(SRCDIR)/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ASAN_FLAGS) -MMD -MP -c -o $@ $<

$(ASAN_UNIT_OBJS): CFLAGS += $(CRITERION_CFLAGS)

$(ASAN_B)/libminivmm.a: $(ASAN_LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(ASAN_B)/unit-tests: $(ASAN_UNIT_OBJS) $(ASAN_B)/libminivmm.a
	$(CC) $(CFLAGS) $(ASAN_FLAGS) -o $@ $^ $(CRITERION_LIBS) $(LDLIBS)

check-asan: $(ASAN_B)/unit-tests
	$(ASAN_ENV) $(ASAN_B)/unit-tests --jobs 2

check: check-asan

.PHONY: check-asan
