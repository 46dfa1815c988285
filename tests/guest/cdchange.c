/*
 * cdchange: the ATAPI drive (secondary master) seen by the guest while the
 * host changes its medium through the monitor. Driven by
 * tests/integration/monitor-cd.sh, which talks to the monitor socket and
 * sends single bytes on COM1 to move the guest on:
 *   1. TEST UNIT READY until ready, READ CAPACITY: "CD capacity N".
 *   2. PREVENT MEDIUM REMOVAL, "CD locked"; TEST UNIT READY in a loop
 *      (the host's eject/change must be refused: no UNIT ATTENTION) until
 *      'u' arrives on COM1. PASS cd-lock-holds.
 *   3. ALLOW MEDIUM REMOVAL, "CD unlocked"; TEST UNIT READY in a loop
 *      until CHECK CONDITION; REQUEST SENSE: "CD sense K/AA/QQ", PASS
 *      cd-unit-attention for 6/28/00 (medium may have changed).
 *   4. Ready again, READ CAPACITY: "CD capacity M", PASS cd-new-capacity
 *      if M differs; "CD waiting" until 'x' on COM1, then DONE and reset.
 * Every wait gives up after WAIT_S seconds of the RTC with a FAIL line.
 */
#include "ide-drv.h"
#include "lib.h"
#include "rtc.h"
#include "uart.h"

#define PRD_BASE 0x100000u
#define WAIT_S	 60

static struct idechan *const sec = &idech[1];
static uint8_t last_sec;
static uint32_t elapsed;

static void clock_start(void)
{
	last_sec = rtc_seconds();
	elapsed = 0;
}

/* Whole seconds since clock_start(); the loops poll far more often. */
static uint32_t clock_seconds(void)
{
	uint8_t s = rtc_seconds();

	if (s != last_sec) {
		elapsed++;
		last_sec = s;
	}
	return elapsed;
}

static int packet(uint8_t op, uint8_t b4, void *buf, uint32_t len)
{
	uint8_t cdb[12] = {op};
	uint32_t got;

	cdb[4] = b4;
	return atapi_packet(sec, 0, cdb, buf, len, 0x3000, 0, &got);
}

/* TEST UNIT READY: 1 ready, 0 CHECK CONDITION, below 0 no answer. */
static int unit_ready(void)
{
	int st = packet(0x00, 0, 0, 0);

	return st < 0 ? st : !(st & ST_ERR);
}

static int wait_ready(const char *name)
{
	clock_start();
	while (clock_seconds() < WAIT_S)
		if (unit_ready() == 1)
			return 1;
	fail(name, "drive not ready within %u s", WAIT_S);
	return 0;
}

static uint32_t capacity(void)
{
	uint8_t d[8];
	int st = packet(0x25, 0, d, 8);

	if (st < 0 || (st & ST_ERR))
		return 0;
	return ((uint32_t)d[0] << 24 | d[1] << 16 | d[2] << 8 | d[3]) + 1;
}

/* Polls the drive until c arrives on COM1; counts CHECK CONDITIONs. */
static int wait_byte(char c, int *checks)
{
	clock_start();
	while (clock_seconds() < WAIT_S) {
		if ((inb(COM1 + UART_LSR) & LSR_DR) &&
		    inb(COM1 + UART_RBR) == (uint8_t)c)
			return 1;
		if (checks && unit_ready() == 0)
			(*checks)++;
	}
	return 0;
}

static void changed_medium(uint32_t cap0)
{
	uint8_t s[18];
	uint32_t cap1;
	int st;

	clock_start();
	while (unit_ready() == 1 && clock_seconds() < WAIT_S)
		;
	if (elapsed >= WAIT_S) {
		fail("cd-unit-attention", "no CHECK CONDITION in %u s", WAIT_S);
		return;
	}
	st = packet(0x03, 18, s, 18);
	gprintf("CD sense %x/%02x/%02x\n", s[2] & 0xF, s[12], s[13]);
	check(st >= 0 && !(st & ST_ERR) && (s[2] & 0xF) == 6 && s[12] == 0x28 &&
		  s[13] == 0,
	      "cd-unit-attention", "status %x sense %x/%02x/%02x", st,
	      s[2] & 0xF, s[12], s[13]);
	if (!wait_ready("cd-new-capacity"))
		return;
	cap1 = capacity();
	gprintf("CD capacity %u\n", cap1);
	check(cap1 && cap1 != cap0, "cd-new-capacity", "%u blocks, was %u",
	      cap1, cap0);
}

int main(void)
{
	uint32_t cap0;
	int ua = 0;

	uart_init();
	if (idedrv_init(PRD_BASE)) {
		fail("cd-setup", "no PIIX3 IDE function");
		return 0;
	}
	if (!wait_ready("cd-ready"))
		return 0;
	cap0 = capacity();
	gprintf("CD capacity %u\n", cap0);
	if (packet(0x1E, 1, 0, 0) & ST_ERR) {
		fail("cd-lock-holds", "PREVENT MEDIUM REMOVAL failed");
		return 0;
	}
	gprintf("CD locked\n");
	if (!wait_byte('u', &ua)) {
		fail("cd-lock-holds", "no 'u' on COM1 within %u s", WAIT_S);
		return 0;
	}
	check(ua == 0, "cd-lock-holds", "%d CHECK CONDITIONs while locked", ua);
	packet(0x1E, 0, 0, 0);
	gprintf("CD unlocked\n");
	changed_medium(cap0);
	gprintf("CD waiting\n");
	wait_byte('x', 0);
	return 0;
}
