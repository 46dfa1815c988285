/*
 * Port 0xE9 to stdout in the PC machine without KVM (vm_prepare() +
 * machine_prepare() + machine_init(), -serial none): every byte reaches a
 * slow non-blocking stdout, and a stdout that fails is said once.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/machine.h"
#include "vmm/vm.h"

static struct vm vm;
static struct machine m;

static void build(void)
{
	struct machine_opts mo = {.serial = "none", .debugcon = "none"};
	struct vm_config cfg = {.ram_size = 16u << 20,
				.ioreq_mode = DM_MODE_INLINE};
	cr_assert_eq(vm_prepare(&vm, &cfg), 0);
	vm.nvcpus = 1; /* what vm_create() would leave; no vCPU fd */
	vm.vcpus[0].fd = -1;
	cr_assert_eq(machine_prepare(&m, &vm, &mo), 0);
	cr_assert_eq(machine_init(&m, &mo), 0);
}

static void teardown(void)
{
	machine_fini(&m);
	vm_destroy(&vm);
}

TestSuite(console, .init = build, .fini = teardown);

/* rep outsb: the whole string in one access, as a guest's would be. */
static void e9_out(const uint8_t *buf, uint32_t n)
{
	dm_lock(&vm.dm);
	bus_access(&vm.dm.io, 0xe9, 1, true, (void *)buf, n);
	dm_unlock(&vm.dm);
}

/* fd 1 (or 2) is fd until the returned saved copy is put back. */
static int redirect(int target, int fd)
{
	fflush(target == 1 ? stdout : stderr);
	int saved = dup(target);
	cr_assert_geq(saved, 0);
	cr_assert_eq(dup2(fd, target), target);
	return saved;
}

static void restore(int target, int saved)
{
	fflush(target == 1 ? stdout : stderr);
	dup2(saved, target);
	close(saved);
}

struct slow_reader {
	int fd;
	size_t total;
	bool pattern_ok;
};

static void *slow_read(void *arg)
{
	struct slow_reader *r = arg;
	uint8_t buf[1024];
	ssize_t n;
	r->pattern_ok = true;
	while ((n = read(r->fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != (uint8_t)((r->total + i) * 13))
				r->pattern_ok = false;
		r->total += (size_t)n;
		usleep(100);
	}
	return NULL;
}

/* Before, one write() and whatever it did not take was gone. */
Test(console, e9_reaches_a_slow_nonblocking_stdout_whole)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	fcntl(p[1], F_SETPIPE_SZ, 4096);
	fcntl(p[1], F_SETFL, fcntl(p[1], F_GETFL) | O_NONBLOCK);
	struct slow_reader r = {.fd = p[0]};
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, slow_read, &r), 0);
	uint32_t len = 256 << 10;
	uint8_t *buf = malloc(len);
	for (uint32_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 13);
	int saved = redirect(1, p[1]);
	close(p[1]);
	e9_out(buf, len);
	restore(1, saved); /* the pipe's last writer goes: EOF */
	pthread_join(t, NULL);
	close(p[0]);
	free(buf);
	cr_assert_eq(r.total, len, "every byte on stdout");
	cr_assert(r.pattern_ok, "in order");
	cr_assert_not(m.stdout_broken);
}

Test(console, e9_to_a_closed_stdout_is_said_once)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	close(p[0]);
	signal(SIGPIPE, SIG_IGN);
	FILE *err = tmpfile();
	cr_assert_not_null(err);
	int saved_err = redirect(2, fileno(err));
	int saved_out = redirect(1, p[1]);
	close(p[1]);
	e9_out((const uint8_t *)"lost\n", 5);
	e9_out((const uint8_t *)"lost too\n", 9);
	restore(1, saved_out);
	restore(2, saved_err);
	char text[256];
	rewind(err);
	size_t n = fread(text, 1, sizeof(text) - 1, err);
	text[n] = 0;
	fclose(err);
	cr_assert_str_eq(text, "minivmm: stdout: Broken pipe; debug console "
			       "(port 0xe9) output stops here\n");
	cr_assert(m.stdout_broken);
}
