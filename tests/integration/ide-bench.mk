# bench-ide-linux: a stock Debian kernel runs dd-like O_DIRECT I/O at
# 512 B / 4 KiB / 64 KiB on the IDE disk (-hda, Debian's ata_piix) and on
# virtio-blk (-drive if=virtio, virtio_blk), on minivmm in every irqchip and
# dispatch mode (CONFIGS, irqchip:ioreq[:opts]) and on QEMU-KVM in the same
# run (tests/integration/ide-linux-bench.sh), through the KVM test VM where
# this host has no usable /dev/kvm. Exits 1 when a figure of minivmm's
# default options on IDE is below MIN_RATIO (0.8) of QEMU's IDE figure (the
# virtio rows are for information). IDE_BENCH_ARGS passes settings, e.g.
# IDE_BENCH_ARGS='DISKS=virtio CONFIGS="kernel:dm kernel:dm:ioeventfd=on"'
# or IDE_BENCH_ARGS='DISKS=idepio OPS="write read mixed"' (IDE with the
# guest's libata in PIO mode; mixed: pwrite and pread alternating).
bench-ide-linux: minivmm
	$(IDE_BENCH_ARGS) WORK=$(B)/ide-bench \
		$(SRCDIR)/tests/kvmhost/run -o -t 7200 -- \
		$(SRCDIR)/tests/integration/ide-linux-bench.sh ./minivmm
.PHONY: bench-ide-linux
