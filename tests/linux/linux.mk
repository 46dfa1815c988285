# A stock Debian kernel booted with -kernel (tests/linux/check-linux.sh).
# Not part of `make check`: on hosts without VT-x/AMD-V a boot takes about
# ten minutes per irqchip mode. Included from the top Makefile with
#   -include $(SRCDIR)/tests/linux/linux.mk
#
#   make linux-image     fetch and unpack the kernel, build the initramfs
#   make check-linux     boot it with irqchip=user, then irqchip=kernel
#                        (CHECK_LINUX_MODES, CHECK_LINUX_TIMEOUT override)

LINUX_OUT := $(SRCDIR)/images/out
CHECK_LINUX_MODES ?= user kernel
CHECK_LINUX_TIMEOUT ?= 1500

linux-image:
	$(SRCDIR)/images/mklinux.sh $(LINUX_OUT)

check-linux: minivmm
	MINIVMM=./minivmm LINUX_DIR=$(LINUX_OUT)/linux LOG_DIR=$(B)/linux \
	TIMEOUT=$(CHECK_LINUX_TIMEOUT) \
	$(SRCDIR)/tests/linux/check-linux.sh $(CHECK_LINUX_MODES)

.PHONY: linux-image check-linux
