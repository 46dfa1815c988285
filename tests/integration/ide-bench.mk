# bench-ide-linux: a stock Debian kernel with Debian's ata_piix runs dd
# O_DIRECT at 512 B / 4 KiB / 64 KiB on -hda, on minivmm in every irqchip
# and dispatch mode and on QEMU-KVM in the same run
# (tests/integration/ide-linux-bench.sh), through the KVM test VM where
# this host has no usable /dev/kvm. Exits 1 when a row of minivmm's default
# options is below MIN_RATIO (0.8) of QEMU's figure. IDE_BENCH_ARGS passes
# settings, e.g. IDE_BENCH_ARGS='CONFIGS="user:dm kernel:dm" MIN_RATIO=0'.
bench-ide-linux: minivmm
	$(IDE_BENCH_ARGS) WORK=$(B)/ide-bench \
		$(SRCDIR)/tests/kvmhost/run -o -t 3600 -- \
		$(SRCDIR)/tests/integration/ide-linux-bench.sh ./minivmm
.PHONY: bench-ide-linux
