# bench-guest (issue 9): the stock-Linux-guest benchmark end to end
# (tests/integration/bench-guest.sh): disk (IDE PIO, IDE bus-master DMA,
# virtio-blk with ioeventfd off and on; 512 B / 4 KiB / 64 KiB write, read
# and mixed; ide-linux-bench.sh) and network (NE2000 and virtio-net, TCP
# each way; net-bench.sh), on minivmm with ioreq=dm/inline x
# irqchip=user/kernel and on QEMU-KVM with the same devices in the same
# run. The two parts run at once in two KVM test VMs (one host CPU each).
# Prints one Markdown table and writes it, a TSV and gnuplot PNGs
# (gnuplot-nox) to $(B)/bench/. BENCH_GUEST_ARGS passes settings, e.g.
# BENCH_GUEST_ARGS='REPS=1 MIN_S=0.3 PARTS=disk DISKS=ide DISK_CONFIGS=user:dm'.
# bench-guest-report redoes the table and plots from $(B)/bench/*.tsv.
bench-guest: minivmm
	@$(MAKE) --no-print-directory linux-image >/dev/null
	$(BENCH_GUEST_ARGS) OUT=$(B)/bench \
		$(SRCDIR)/tests/integration/bench-guest.sh ./minivmm
bench-guest-report:
	$(BENCH_GUEST_ARGS) OUT=$(B)/bench \
		$(SRCDIR)/tests/integration/bench-guest.sh report
.PHONY: bench-guest bench-guest-report
