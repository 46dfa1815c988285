/*
 * libFuzzer harness for virtio-blk over virtio-pci: the modern register
 * file in BAR 4, MSI-X in BAR 1, split virtqueues, descriptor chains and
 * request buffers laid out in guest RAM by RAM actions, an in-memory disk
 * whose requests complete on BACKEND actions. Encoding:
 * tests/fuzz/fuzz_common.h; BAR addresses: tests/fuzz/fuzz_virtio.h.
 *
 * Config byte: bits 0-1 MSI-X wiring (fuzz_virtio.h), bit 2 read-only
 * disk, bit 3 no disk at all.
 * BACKEND: fz_blk_action(a) on the disk. AUX: fz_virtio_aux.
 */
#include <stdio.h>
#include <stdlib.h>

#include "hw/virtio_blk.h"
#include "tests/fuzz/fuzz_virtio.h"

struct vbfz {
	struct virtio_blk *vb;
	struct fz_blk disk;
};

static void backend(struct fz *f, unsigned a)
{
	struct vbfz *s = f->dev;
	fz_blk_action(&s->disk, a);
}

static void aux(struct fz *f, unsigned a)
{
	struct vbfz *s = f->dev;
	fz_virtio_aux(f, virtio_blk_dev(s->vb), a);
}

static void check(struct fz *f)
{
	struct vbfz *s = f->dev;
	fz_virtio_check(f, virtio_blk_dev(s->vb));
}

static const struct fz_ops ops = {
    .backend = backend, .aux = aux, .check = check};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t store[256 << 10];
	struct vbfz s;
	struct fz f;
	fz_init(&f, data, size, true);
	fz_blk_init(&s.disk, sizeof(store), store, sizeof(store), f.config & 4);
	s.vb = virtio_blk_new(f.config & 8 ? NULL : &s.disk.b, &f.gm,
			      "fuzz-serial");
	struct virtio_pci_wiring w = fz_virtio_wiring(&f);
	if (!s.vb || !virtio_blk_attach_pci(s.vb, f.pb, FZ_VIRTIO_SLOT, &w))
		abort();
	fz_virtio_setup(&f);

	fz_run(&f, &ops, &s);

	if (getenv("FZ_DEBUG")) {
		const struct virtio_blk_stats *st = virtio_blk_stats(s.vb);
		fprintf(stderr,
			"virtio-blk: status %#x reads %llu writes %llu flushes "
			"%llu get_ids %llu ioerrs %llu unsupported %llu msis "
			"%llu\n",
			(unsigned)virtio_blk_dev(s.vb)->status,
			(unsigned long long)st->reads,
			(unsigned long long)st->writes,
			(unsigned long long)st->flushes,
			(unsigned long long)st->get_ids,
			(unsigned long long)st->ioerrs,
			(unsigned long long)st->unsupported,
			(unsigned long long)f.msis);
	}
	virtio_blk_free(s.vb);
	fz_blk_fini(&s.disk);
	fz_fini(&f);
	return 0;
}
