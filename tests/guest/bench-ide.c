/*
 * bench-ide: IDE throughput seen by a guest driver (ide-drv.c, 32-bit
 * CPL0, polling) on the primary master: PIO (READ/WRITE SECTORS, one
 * sector per DRQ block), PIO multiple (READ/WRITE MULTIPLE, 16 sectors per
 * DRQ block) and DMA (READ/WRITE DMA, one PRD entry) at 512 B, 4 KiB and
 * 64 KiB per command, read and write. Each case moves a fixed amount of
 * data, sequentially from LBA 0, timed with rdtsc.
 *
 * bench-ide.sh measures minivmm's host CPU time per case, so the guest
 * stops around each case: it prints "IDEBENCH begin ..." or "IDEBENCH end"
 * and halts until a byte arrives on COM1 (IRQ 4), which the script sends
 * after reading the CPU counters; a halted vCPU uses no host CPU. Then
 * "IDEBENCH result MODE DIR SIZE BYTES CMDS CYCLES POLLS ERRORS".
 *
 * Parameters (32-bit words at image offset 0xFFE0, patched by the script),
 * KiB per case for: [0] DMA and PIO multiple reads of 4 and 64 KiB, [1]
 * 512 B commands and the other PIO reads, [2] PIO writes (rep outsw exits
 * once per word under KVM, so these are slow); [3] bit 0: wait for COM1
 * at the marks (0: run straight through), bits 16-31: which cases to run
 * in the order above (0: all).
 */
#include "ide-drv.h"
#include "lib.h"
#include "sys.h"

#define PRD_BASE 0x100000u
#define DATA_BUF 0x200000u /* 64 KiB aligned: one PRD entry never crosses */
#define COM1	 0x3F8
#define IRQ4_VEC 0x24

__attribute__((section(".param"), used)) volatile uint32_t bench_param[4] = {
    8192, 1024, 128, 1};

enum mode { PIO, MULT, DMA };
static const char *const mode_name[] = {"pio", "mult", "dma"};
static const uint8_t read_cmd[] = {0x20, 0xC4, 0xC8};
static const uint8_t write_cmd[] = {0x30, 0xC5, 0xCA};
static const uint32_t sizes[] = {512, 4096, 65536};

static uint32_t disk_sectors;

/* ---- pausing for the host script ---- */

void halt_once(void);
void irq4_entry(void);
/* The interrupt ends the halt: the handler drops its frame and returns
 * from halt_once with IF still clear (no iret, which this host's KVM
 * leaves to minivmm's emulation assist). */
asm(".text\n"
    "halt_once:\n\tsti\n\thlt\n\tcli\n\tret\n"
    "irq4_entry:\n\taddl $12, %esp\n\tret\n");

static void pause_init(void)
{
	set_gate(IRQ4_VEC, irq4_entry, 0);
	outb(0x20, 0x11); /* 8259s: vectors 0x20/0x28, only IRQ 4 open */
	outb(0x21, 0x20);
	outb(0x21, 0x04);
	outb(0x21, 0x01);
	outb(0xA0, 0x11);
	outb(0xA1, 0x28);
	outb(0xA1, 0x02);
	outb(0xA1, 0x01);
	outb(0x21, 0xEB);
	outb(0xA1, 0xFF);
	outb(COM1 + 3, 0x03); /* 8N1 */
	outb(COM1 + 4, 0x0B); /* DTR, RTS, OUT2 (IRQ gate) */
	outb(COM1 + 1, 0x01); /* interrupt on received data */
	while (inb(COM1 + 5) & 1)
		inb(COM1);
}

/* After a mark line: sleep until the script answers with a byte. */
static void wait_host(void)
{
	if (!(bench_param[3] & 1))
		return;
	for (uint32_t n = 0; !(inb(COM1 + 5) & 1); n++) {
		if (n == 1000000) {
			gputs("FAIL bench-ide: no byte on COM1\n");
			guest_done();
		}
		halt_once();
		outb(0x20,
		     0x20); /* EOI (harmless when nothing is in service) */
	}
	inb(COM1);
}

/* ---- the cases ---- */

static int cmd_ok(int st)
{
	return st >= 0 && (st & (ST_BSY | ST_DRQ | ST_ERR | ST_DF)) == 0;
}

static int one_command(struct idechan *c, enum mode m, int write, uint32_t lba,
		       uint32_t sectors)
{
	void *buf = (void *)DATA_BUF;
	uint8_t cmd = write ? write_cmd[m] : read_cmd[m];
	uint32_t per_block = m == MULT ? 16 : 1;

	if (m == DMA)
		return ide_dma(c, 0, cmd, lba, sectors, 0, !write) & 0xFF;
	ide_issue(c, 0, cmd, lba, sectors, 0);
	if (write)
		return ide_pio_out(c, buf, sectors, per_block);
	return ide_pio_in(c, buf, sectors, per_block);
}

/* The data moved per case: less where every word or sector costs exits. */
static uint32_t case_kib(enum mode m, int write, uint32_t size)
{
	if (write && m != DMA)
		return bench_param[2];
	if (size == 512 || (m == PIO && !write))
		return bench_param[1];
	return bench_param[0];
}

static uint32_t run_case(enum mode m, int write, uint32_t size)
{
	struct idechan *c = &idech[0];
	uint32_t kib = case_kib(m, write, size);
	uint32_t sectors = size / 512, cmds = kib * 1024 / size;

	if (!cmds)
		cmds = 1;
	uint32_t lba = 0, errors = 0, polls;
	uint64_t t0, t1;

	if (m == DMA)
		ide_prd(c, 0, DATA_BUF, size, 1);
	gprintf("IDEBENCH begin %s %s %u\n", mode_name[m],
		write ? "write" : "read", size);
	wait_host();
	c->polls = 0;
	t0 = rdtsc();
	for (uint32_t i = 0; i < cmds; i++) {
		if (!cmd_ok(one_command(c, m, write, lba, sectors)) &&
		    ++errors > 3)
			break;
		lba += sectors;
		if (lba + sectors > disk_sectors)
			lba = 0;
	}
	t1 = rdtsc();
	polls = c->polls;
	gputs("IDEBENCH end\n");
	wait_host();
	gprintf("IDEBENCH result %s %s %u %u %u %llx %u %u\n", mode_name[m],
		write ? "write" : "read", size, cmds * size, cmds, t1 - t0,
		polls, errors);
	return errors;
}

static int setup(void)
{
	uint16_t *id = (uint16_t *)DATA_BUF;
	int st;

	if (idedrv_init(PRD_BASE)) {
		fail("bench-ide", "no PIIX3 IDE function");
		return -1;
	}
	ide_select(&idech[0], 0);
	ide_issue(&idech[0], 0, 0xEC, 0, 0, 0);
	st = ide_pio_in(&idech[0], id, 1, 1);
	disk_sectors = id[60] | (uint32_t)id[61] << 16;
	ide_issue(&idech[0], 0, 0xC6, 0, 16, 0); /* SET MULTIPLE MODE 16 */
	if (!cmd_ok(st) || !cmd_ok(ide_wait(&idech[0])) ||
	    !cmd_ok(inb(idech[0].cmd + REG_STATUS)) || disk_sectors < 256) {
		fail("bench-ide", "no usable disk (status %x, %u sectors)", st,
		     disk_sectors);
		return -1;
	}
	gprintf("IDEBENCH disk %u sectors, KiB per case %u/%u/%u\n",
		disk_sectors, bench_param[0], bench_param[1], bench_param[2]);
	return 0;
}

int main(void)
{
	uint32_t errors = 0, idx = 0;

	if (setup())
		return 0;
	pause_init();
	for (int m = PIO; m <= DMA; m++)
		for (unsigned s = 0; s < 3; s++)
			for (int w = 0; w < 2; w++) {
				if (m == MULT && sizes[s] == 512)
					continue; /* the same as PIO */
				uint32_t mask = bench_param[3] >> 16;

				if (!mask || mask >> idx & 1)
					errors += run_case(m, w, sizes[s]);
				idx++;
			}
	check(!errors, "bench-ide", "%u commands failed", errors);
	return 0;
}
