# Stock Linux on minivmm. Included from the top Makefile.
#
#   make linux-image      fetch and unpack the kernel (images/mklinux.sh)
#   make check-linux      the demo CD through SeaBIOS and ISOLINUX, and the
#                         same kernel with -kernel (bzImage and PVH) in both
#                         irqchip modes, each to the busybox shell, where
#                         Debian's ata_piix reads and writes the IDE disk
#                         (tests/linux/linux-shell.sh; CHECK_LINUX_CASES)
#   make check-linux-pvm  the older -kernel boot with the parameter list a
#                         host whose KVM emulates guest kernel code (nested
#                         kvm-pvm) needs (tests/linux/check-linux.sh;
#                         CHECK_LINUX_MODES, CHECK_LINUX_TIMEOUT)

LINUX_OUT := $(SRCDIR)/images/out
CHECK_LINUX_MODES ?= user kernel
CHECK_LINUX_TIMEOUT ?= 1500
CHECK_LINUX_CASES ?=

linux-image:
	$(SRCDIR)/images/mklinux.sh $(LINUX_OUT)

check-linux: minivmm $(DEMO_ISO)
	@$(MAKE) --no-print-directory linux-image >/dev/null
	OUT=$(LINUX_OUT) $(KVMRUN) -o -t 1800 -- \
		$(SRCDIR)/tests/linux/linux-shell.sh $(CHECK_LINUX_CASES)

check-linux-pvm: minivmm
	MINIVMM=./minivmm LINUX_DIR=$(LINUX_OUT)/linux LOG_DIR=$(B)/linux \
	TIMEOUT=$(CHECK_LINUX_TIMEOUT) $(KVMRUN) -t 0 -- \
	$(SRCDIR)/tests/linux/check-linux.sh $(CHECK_LINUX_MODES)

.PHONY: linux-image check-linux check-linux-pvm
