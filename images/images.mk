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
#   make vga-iso        images/out/vgamenu.iso (vesamenu.c32, memtest86+)
#   make check-vga-menu Syslinux's vesamenu.c32 menu in a screendump, then
#                       memtest86+'s main screen (tests/integration/vga-menu.sh)
#   make screenshot     docs/vesamenu-sdl.png: that menu in the SDL window
#                       under Xvfb (images/screenshot.sh; not in make check)
#   make check-vga-linux Debian's kernel with its bochs DRM driver: fbcon's
#                       text and a picture written to /dev/fb0 in screendumps
#                       (tests/integration/vga-linux.sh)
#
# images/out/ stays in the source tree (gitignored) and survives `make
# clean`: it holds the kernel package cache, so only the first build needs
# apt to reach a mirror.

SEABIOS_BIN ?= /usr/share/seabios/bios.bin
DEMO_ISO := $(SRCDIR)/images/out/demo.iso

$(DEMO_ISO): $(SRCDIR)/images/mkiso.sh $(SRCDIR)/images/isolinux.cfg
	$(SRCDIR)/images/mkiso.sh $(dir $@)

iso: $(DEMO_ISO)

VGA_ISO := $(SRCDIR)/images/out/vgamenu.iso
$(VGA_ISO): $(SRCDIR)/images/mkvgaiso.sh $(SRCDIR)/images/vgamenu.cfg
	$(SRCDIR)/images/mkvgaiso.sh $(dir $@)
vga-iso: $(VGA_ISO)

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

# The VGA test CD under SeaBIOS: vesamenu.c32's menu on a VBE mode, read
# back with screendump and compared with the menu's layout; a key on COM1
# moves the selection; Enter boots memtest86+ to its main screen.
check-vga-menu: minivmm $(VGA_ISO)
	SEABIOS=$(SEABIOS_BIN) WORK=$(B)/vga-menu $(KVMRUN) -o -t 600 -- \
		$(SRCDIR)/tests/integration/vga-menu.sh ./minivmm $(VGA_ISO)

# Stock Linux's bochs DRM driver and fbcon on the standard VGA.
check-vga-linux: minivmm
	@$(MAKE) --no-print-directory linux-image >/dev/null
	WORK=$(B)/vga-linux $(KVMRUN) -o -t 900 -- \
		$(SRCDIR)/tests/integration/vga-linux.sh ./minivmm

# README's picture: the menu in minivmm's SDL window, captured from Xvfb.
screenshot: minivmm $(VGA_ISO)
	$(KVMRUN) -o -t 600 -- $(SRCDIR)/images/screenshot.sh ./minivmm \
		$(VGA_ISO) $(SRCDIR)/docs/vesamenu-sdl.png

.PHONY: iso vga-iso demo-iso check-seabios check-vga check-vga-menu screenshot \
	check-vga-linux
