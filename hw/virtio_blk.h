/*
 * Virtio block device (VIRTIO 1.1, 5.2) on a struct blk (hw/block.h), one
 * request queue of 256 entries, over the virtio core (hw/virtio.h) and
 * the modern PCI transport (hw/virtio_pci.h): 1af4:1042, class 0x010000.
 *
 * Features offered: SEG_MAX, BLK_SIZE (512), TOPOLOGY, FLUSH, RO for
 * read-only images, plus the ring's INDIRECT_DESC and EVENT_IDX. DISCARD
 * and WRITE_ZEROES are not: the block backend has no such operation.
 * SIZE_MAX is not either (as on QEMU): a segment may be any length, and
 * SeaBIOS 1.16 sizes its requests as a 16-bit count of
 * size_max * seg_max / 512 sectors, which is 0 for 1 MiB * 64 and made it
 * send empty requests for ever instead of booting the disk.
 *
 * Requests (header {le32 type, le32 reserved, le64 sector}, data, status
 * byte) may be framed any way: the header is the first 16 device-readable
 * bytes, the status the last device-writable byte, whatever the
 * descriptors. Data goes straight between guest RAM (gm_ptr per segment)
 * and the image in one backend request; completions run on the
 * device-model thread.
 *   IN, OUT      length a multiple of 512, inside the disk, at most
 *                seg_max data segments; else VIRTIO_BLK_S_IOERR. OUT on a
 *                read-only image: IOERR without touching the image.
 *   FLUSH        the backend's flush (fdatasync).
 *   GET_ID       the serial, 20 bytes (NUL-padded), or as many as fit.
 *   other types  VIRTIO_BLK_S_UNSUPP.
 * A data segment outside RAM, or a backend error (host EIO, ENOSPC, a
 * failed fdatasync): IOERR for that request, the used length counting only
 * the status byte and, for IN, the bytes the backend read before the
 * error; the queue goes on with the next request.
 * No status byte (nothing device-writable), or one outside RAM: the
 * request cannot be answered; the device goes to DEVICE_NEEDS_RESET.
 */
#ifndef MINIVMM_HW_VIRTIO_BLK_H
#define MINIVMM_HW_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include "hw/block.h"
#include "hw/pci.h"
#include "hw/virtio.h"
#include "hw/virtio_pci.h"

#define VIRTIO_ID_BLOCK 2

#define VIRTIO_BLK_F_SIZE_MAX	  1
#define VIRTIO_BLK_F_SEG_MAX	  2
#define VIRTIO_BLK_F_GEOMETRY	  4
#define VIRTIO_BLK_F_RO		  5
#define VIRTIO_BLK_F_BLK_SIZE	  6
#define VIRTIO_BLK_F_FLUSH	  9
#define VIRTIO_BLK_F_TOPOLOGY	  10
#define VIRTIO_BLK_F_CONFIG_WCE	  11
#define VIRTIO_BLK_F_MQ		  12
#define VIRTIO_BLK_F_DISCARD	  13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

#define VIRTIO_BLK_T_IN		  0
#define VIRTIO_BLK_T_OUT	  1
#define VIRTIO_BLK_T_FLUSH	  4
#define VIRTIO_BLK_T_GET_ID	  8
#define VIRTIO_BLK_T_DISCARD	  11
#define VIRTIO_BLK_T_WRITE_ZEROES 13

#define VIRTIO_BLK_S_OK	    0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2

/* struct virtio_blk_config offsets. */
#define VIRTIO_BLK_CFG_CAPACITY		0
#define VIRTIO_BLK_CFG_SIZE_MAX		8
#define VIRTIO_BLK_CFG_SEG_MAX		12
#define VIRTIO_BLK_CFG_GEOMETRY		16
#define VIRTIO_BLK_CFG_BLK_SIZE		20
#define VIRTIO_BLK_CFG_PHYS_BLOCK_EXP	24
#define VIRTIO_BLK_CFG_ALIGNMENT_OFFSET 25
#define VIRTIO_BLK_CFG_MIN_IO_SIZE	26
#define VIRTIO_BLK_CFG_OPT_IO_SIZE	28
#define VIRTIO_BLK_CFG_LEN		36 /* up to num_queues */

#define VIRTIO_BLK_SECTOR     512
#define VIRTIO_BLK_HDR_SIZE   16
#define VIRTIO_BLK_ID_BYTES   20
#define VIRTIO_BLK_QUEUE_SIZE VIRTIO_QUEUE_MAX_SIZE
#define VIRTIO_BLK_SEG_MAX    BLK_MAX_IOV
#define VIRTIO_BLK_CLASS      0x010000 /* mass storage, SCSI */

/* Host-side counters, for -stats and tests. */
struct virtio_blk_stats {
	uint64_t reads, writes, flushes, get_ids; /* requests completed */
	uint64_t read_bytes, write_bytes;	  /* of successful ones */
	uint64_t ioerrs, unsupported;
};

struct virtio_blk;

/*
 * A device on disk (NULL: none; every request fails) with the GET_ID
 * serial (up to 20 bytes used; NULL or "" gives 20 zero bytes). gm is
 * the guest memory all addresses go through.
 */
struct virtio_blk *virtio_blk_new(struct blk *disk, struct guest_mem *gm,
				  const char *serial);
/* Puts it on pb as function devnr.0; NULL if the slot is taken. */
struct pci_func *virtio_blk_attach_pci(struct virtio_blk *s, struct pci_bus *pb,
				       int devnr,
				       const struct virtio_pci_wiring *w);
/* Waits for in-flight requests, detaches from PCI, frees. Call before
 * closing the disk. */
void virtio_blk_free(struct virtio_blk *s);

struct virtio_dev *virtio_blk_dev(struct virtio_blk *s);
struct virtio_pci *virtio_blk_pci(struct virtio_blk *s);
const struct virtio_blk_stats *virtio_blk_stats(const struct virtio_blk *s);

#endif
