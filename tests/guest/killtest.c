/*
 * killtest: the small-driver side of the kill test
 * (tests/integration/kill-test.sh). Writes 4 KiB block n (the pattern of
 * killtest-pat.h) to the primary master at LBA 8n with WRITE DMA, then
 * FLUSH CACHE, and prints "ACK n" only when both ended without error; on
 * to KT_COUNT blocks, then DONE. The host kills minivmm with SIGKILL at a
 * random moment and checks that every acknowledged block is on the image.
 * An error is printed as "FAIL killtest: ..." and ends the run.
 */
#include "ide-drv.h"
#include "killtest-pat.h"
#include "lib.h"

#define PRD_BASE 0x100000u
#define BUF	 ((char *)0x200000)
#define KT_COUNT 4096u /* 16 MiB: the host's image is at least that */

static int status_ok(int st)
{
	return st >= 0 &&
	       (st & (ST_BSY | ST_DRQ | ST_ERR | ST_DF | ST_DRDY)) == ST_DRDY;
}

int main(void)
{
	struct idechan *c = &idech[0];

	if (idedrv_init(PRD_BASE)) {
		fail("killtest", "no 8086:7010 function on bus 0");
		guest_done();
	}
	if (ide_select(c, 0) < 0) {
		fail("killtest", "no primary master");
		guest_done();
	}
	for (uint32_t n = 0; n < KT_COUNT; n++) {
		for (uint32_t i = 0; i < KT_BLOCK; i += KT_LINE)
			kt_line(n, BUF + i);
		ide_prd(c, 0, (uint32_t)BUF, KT_BLOCK, 1);
		int r = ide_dma(c, 0, 0xCA, (uint64_t)n * 8, 8, 0, 0);
		if (r < 0 || !status_ok(r & 0xFF) ||
		    ((r >> 8) & (BMS_ACTIVE | BMS_ERROR | BMS_INTR)) !=
			BMS_INTR) {
			fail("killtest", "WRITE DMA of block %u: %x", n, r);
			guest_done();
		}
		ide_issue(c, 0, 0xE7, 0, 0, 0); /* FLUSH CACHE */
		int st = ide_wait(c);
		st = st < 0 ? st : inb(c->cmd + REG_STATUS);
		if (!status_ok(st)) {
			fail("killtest", "FLUSH CACHE after block %u: %x", n,
			     st);
			guest_done();
		}
		gprintf("ACK %u\n", n);
	}
	return 0;
}
