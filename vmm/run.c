/* Starting the VM's threads and waiting for its end. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "vmm/vm.h"

int vm_run(struct vm *vm, const sigset_t *exit_signals)
{
	if (dm_start(&vm->dm)) {
		fprintf(stderr, "minivmm: cannot start the device model\n");
		return VM_ERROR;
	}
	for (unsigned i = 0; i < vm->nvcpus; i++)
		if (pthread_create(&vm->vcpus[i].thread, NULL, vcpu_thread,
				   &vm->vcpus[i])) {
			fprintf(stderr, "minivmm: cannot start vCPU thread\n");
			vm_request_exit(vm, VM_ERROR, 1);
			break;
		}
	/* The main thread waits for a terminating signal or the VM's end. */
	while (__atomic_load_n(&vm->exit_reason, __ATOMIC_SEQ_CST) ==
	       VM_RUNNING) {
		struct timespec ts = {0, 50 * 1000 * 1000};
		siginfo_t si;
		int sig = sigtimedwait(exit_signals, &si, &ts);
		if (sig > 0) {
			fprintf(stderr, "minivmm: terminating on signal %d\n",
				sig);
			dm_lock(&vm->dm);
			vm_request_exit(vm, VM_QUIT, 0);
			dm_unlock(&vm->dm);
		}
	}
	dm_lock(&vm->dm);
	vm_kick(vm);
	dm_unlock(&vm->dm);
	for (unsigned i = 0; i < vm->nvcpus; i++)
		if (vm->vcpus[i].thread)
			pthread_join(vm->vcpus[i].thread, NULL);
	dm_stop(&vm->dm);
	return __atomic_load_n(&vm->exit_reason, __ATOMIC_SEQ_CST);
}
