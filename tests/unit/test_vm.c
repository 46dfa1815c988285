/*
 * The vm's lifetime without KVM: vm_prepare() makes guest RAM and the
 * device model, vm_destroy() takes both down again, the device model once
 * (dm_destroy() is the vm's to call; a second call is harmless).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <string.h>

#include "ioreq/clock.h"
#include "ioreq/dm.h"
#include "vmm/vm.h"

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	cr_assert_not_null(d);
	int n = 0;
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void never(void *opaque)
{
	(void)opaque;
	cr_assert_fail("a freed timer fired");
}

static void prepare(struct vm *vm, enum dm_mode mode)
{
	struct vm_config cfg = {.ram_size = 4u << 20, .ioreq_mode = mode};
	cr_assert_eq(vm_prepare(vm, &cfg), 0);
}

/* Before, vm_destroy() stopped the device-model thread but left its loop,
 * clock and ioreq page (memfd, eventfds) behind. */
Test(vm, destroy_takes_the_device_model_down)
{
	static const enum dm_mode modes[] = {DM_MODE_DM, DM_MODE_POLL,
					     DM_MODE_INLINE};
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		static struct vm vm;
		int before = open_fds();
		prepare(&vm, modes[i]);
		cr_assert_gt(open_fds(), before);
		/* The vm's own timer on the dm's clock goes first. */
		vm.halt_timer = vtimer_new(vm.dm.clock, never, NULL);
		cr_assert_not_null(vm.halt_timer);
		vm_destroy(&vm);
		cr_assert_null(vm.dm.base, "mode %s", dm_mode_name(modes[i]));
		cr_assert_null(vm.dm.clock);
		cr_assert_null(vm.halt_timer);
		cr_assert_eq(open_fds(), before, "mode %s: descriptors left",
			     dm_mode_name(modes[i]));
	}
}

/* A running device-model thread is stopped before its loop goes. */
Test(vm, destroy_stops_a_running_device_model)
{
	static struct vm vm;
	prepare(&vm, DM_MODE_DM);
	cr_assert_eq(dm_start(&vm.dm), 0);
	vm_destroy(&vm);
	cr_assert_not(vm.dm.running);
	cr_assert_null(vm.dm.base);
}

/* Callers that also destroy the dm themselves (older tests), or a dm
 * whose thread was never started, do no harm. */
Test(vm, dm_destroy_again_is_harmless)
{
	static struct vm vm;
	prepare(&vm, DM_MODE_DM);
	vm_destroy(&vm);
	dm_destroy(&vm.dm);
	dm_destroy(&vm.dm);
	cr_assert_null(vm.dm.slot_ev);
	cr_assert_null(vm.dm.page.slots);

	struct dm dm;
	cr_assert_eq(dm_init(&dm, DM_MODE_INLINE, 1), 0);
	dm_destroy(&dm);
	dm_destroy(&dm);
	cr_assert_null(dm.base);
}
