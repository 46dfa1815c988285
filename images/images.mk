# Boot images built from Debian packages, and the tests that boot them.
# Included by the top Makefile (SRCDIR = source tree, B = build dir).
#
#   make iso            images/out/demo.iso (ISOLINUX, cat.c32, kernel, initrd)
#   make demo-iso       boot it under SeaBIOS, COM1 on this terminal
#   make check-seabios  the acceptance tests: the demo CD (tests/integration/
#                       seabios-cd.sh) and a boot sector on the IDE disk and
#                       on virtio-blk (seabios-disk.sh)
#   make check-vga      SeaBIOS's banner on the standard VGA's text screen,
#                       and the VBE linear framebuffer as a dirty-logged slot
#
# images/out/ stays in the source tree (gitignored) and survives `make
# clean`: it holds the kernel package cache, so only the first build needs
# apt to reach a mirror.

SEABIOS_BIN ?= /usr/share/seabios/bios.bin
DEMO_ISO := $(SRCDIR)/images/out/demo.iso

$(DEMO_ISO): $(SRCDIR)/images/mkiso.sh $(SRCDIR)/images/isolinux.cfg
	$(SRCDIR)/images/mkiso.sh $(dir $@)

iso: $(DEMO_ISO)

demo-iso: minivmm $(DEMO_ISO)
	$(KVMRUN) -o -t 0 -- ./minivmm -bios $(SEABIOS_BIN) -cdrom $(DEMO_ISO) -nographic

check-seabios: minivmm $(DEMO_ISO)
	SEABIOS=$(SEABIOS_BIN) WORK=$(B)/seabios-disk $(KVMRUN) -t 900 -- sh -c \
		'$(SRCDIR)/tests/integration/seabios-cd.sh ./minivmm $(DEMO_ISO); a=$$?; \
		$(SRCDIR)/tests/integration/seabios-disk.sh ./minivmm; b=$$?; \
		[ $$a = 0 ] && [ $$b = 0 ]'

# SeaBIOS with -vga std: its banner on the VGA text screen, read back
# through the monitor's screendump (tests/integration/vga-seabios.sh).
check-vga: minivmm $(B)/tests/guest/vga.bin
	SEABIOS=$(SEABIOS_BIN) WORK=$(B)/vga-seabios $(KVMRUN) -t 600 -- \
		$(SRCDIR)/tests/integration/vga-seabios.sh ./minivmm \
		$(B)/tests/guest

.PHONY: iso demo-iso check-seabios check-vga
