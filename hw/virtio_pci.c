/*
 * Virtio PCI modern transport (VIRTIO 1.1, 4.1) with MSI-X (PCI Local Bus
 * 3.0, 6.8.2). See hw/virtio_pci.h for the layout and the rules chosen
 * where the spec leaves room. Choices made here:
 *  - The PCI configuration access capability reaches BAR 4 (and the MSI-X
 *    BAR) whatever the command register says: it exists for firmware
 *    that cannot map the BAR. Its access happens when a read or write
 *    starts at pci_cfg_data; bar, offset and length that do not describe
 *    an access of 1, 2 or 4 aligned bytes inside the BAR do nothing.
 *  - Bus mastering is not required for ring accesses or MSIs (SeaBIOS's
 *    driver never enables it).
 *  - MSI-X table: message address bits 1:0 and vector control bits 31:1
 *    are reserved (read 0); only aligned dword and qword accesses write.
 *    Vectors come out of reset masked.
 */
#include "hw/virtio_pci.h"

#include <string.h>

#include "ioreq/bytes.h"

#define CAP_LEN		16
#define NOTIFY_CAP_LEN	20
#define PCI_CFG_CAP_LEN 20
#define MSIX_CAP_LEN	12
#define CAP_MSIX	0x40
#define CAP_COMMON	0x50
#define CAP_NOTIFY	0x60
#define CAP_ISR		0x74
#define CAP_DEVICE	0x84
#define CAP_PCI_CFG	0x94
#define NOTIFY_REG_LEN	2 /* the driver writes a 16-bit queue index */
#define DEVICE_CFG_SPAN 0x1000

static bool overlaps(unsigned off, unsigned size, unsigned start, unsigned len)
{
	return off < start + len && start < off + size;
}

static struct virtq *selected_queue(struct virtio_pci *vp)
{
	if (vp->queue_select >= vp->vd->nqueues)
		return NULL;
	return &vp->vd->vq[vp->queue_select];
}

/* ---- interrupts ---- */

static uint16_t msix_ctrl(const struct virtio_pci *vp)
{
	return get_le(&vp->f->cfg[vp->msix_cap + PCI_MSIX_FLAGS], 2);
}

static bool msix_enabled(const struct virtio_pci *vp)
{
	return vp->msix_cap && (msix_ctrl(vp) & PCI_MSIX_FLAGS_ENABLE);
}

static bool vector_masked(const struct virtio_pci *vp, unsigned v)
{
	const uint8_t *e = vp->msix_table + v * PCI_MSIX_ENTRY_SIZE;
	return (msix_ctrl(vp) & PCI_MSIX_FLAGS_MASKALL) ||
	       (e[PCI_MSIX_ENTRY_VECTOR_CTRL] & PCI_MSIX_ENTRY_CTRL_MASKBIT);
}

static void msix_fire(struct virtio_pci *vp, unsigned v)
{
	const uint8_t *e = vp->msix_table + v * PCI_MSIX_ENTRY_SIZE;
	uint64_t addr = get_le(e, 8);
	uint32_t data = get_le(e + PCI_MSIX_ENTRY_DATA, 4);
	const struct msix_vector_sink *vs = &vp->w.vectors;
	vp->msis++;
	if (!vs->send || !vs->send(vs->opaque, v, addr, data))
		msi_send(&vp->w.msi, addr, data);
}

static void msix_notify(struct virtio_pci *vp, uint16_t v)
{
	if (v >= vp->nvectors)
		return; /* VIRTIO_MSI_NO_VECTOR: no interrupt */
	if (vector_masked(vp, v))
		vp->msix_pending |= 1u << v;
	else
		msix_fire(vp, v);
}

static void update_intx(struct virtio_pci *vp)
{
	pci_set_irq(vp->f, vp->isr && !msix_enabled(vp));
}

/* After a change of the enable or mask bits: INTx follows, and pending
 * vectors that are unmasked now are sent. */
static void msix_update(struct virtio_pci *vp)
{
	bool en = msix_enabled(vp);
	if (en != vp->msix_was_enabled) {
		vp->msix_was_enabled = en;
		update_intx(vp);
	}
	for (unsigned v = 0; en && v < vp->nvectors; v++) {
		if ((vp->msix_pending & (1u << v)) && !vector_masked(vp, v)) {
			vp->msix_pending &= ~(1u << v);
			msix_fire(vp, v);
		}
	}
}

/* The core wants queue q's (or the config) interrupt. */
static void vp_interrupt(void *opaque, int q)
{
	struct virtio_pci *vp = opaque;
	if (msix_enabled(vp)) {
		msix_notify(vp, q == VIRTIO_CONFIG_IRQ ? vp->config_vector
						       : vp->queue_vector[q]);
		return;
	}
	vp->isr |= q == VIRTIO_CONFIG_IRQ ? VIRTIO_PCI_ISR_CONFIG
					  : VIRTIO_PCI_ISR_QUEUE;
	update_intx(vp);
}

bool virtio_pci_intx(const struct virtio_pci *vp)
{
	return vp->f->irq_level;
}

/* ---- common configuration ---- */

static uint16_t vector_or_none(const struct virtio_pci *vp, uint64_t v)
{
	return v < vp->nvectors ? v : VIRTIO_MSI_NO_VECTOR;
}

static const struct {
	uint8_t off, width;
} common_fields[] = {
    {VIRTIO_PCI_DEVICE_FEATURE_SELECT, 4}, {VIRTIO_PCI_DEVICE_FEATURE, 4},
    {VIRTIO_PCI_DRIVER_FEATURE_SELECT, 4}, {VIRTIO_PCI_DRIVER_FEATURE, 4},
    {VIRTIO_PCI_MSIX_CONFIG, 2},	   {VIRTIO_PCI_NUM_QUEUES, 2},
    {VIRTIO_PCI_DEVICE_STATUS, 1},	   {VIRTIO_PCI_CONFIG_GENERATION, 1},
    {VIRTIO_PCI_QUEUE_SELECT, 2},	   {VIRTIO_PCI_QUEUE_SIZE, 2},
    {VIRTIO_PCI_QUEUE_MSIX_VECTOR, 2},	   {VIRTIO_PCI_QUEUE_ENABLE, 2},
    {VIRTIO_PCI_QUEUE_NOTIFY_OFF, 2},	   {VIRTIO_PCI_QUEUE_DESC, 8},
    {VIRTIO_PCI_QUEUE_DRIVER, 8},	   {VIRTIO_PCI_QUEUE_DEVICE, 8},
};

/* A whole field, or a dword half of a 64-bit one. */
static bool common_access_ok(uint64_t off, unsigned size)
{
	for (size_t i = 0; i < sizeof(common_fields) / sizeof(*common_fields);
	     i++) {
		unsigned fo = common_fields[i].off, w = common_fields[i].width;
		if (off == fo && size == w)
			return true;
		if (w == 8 && size == 4 && (off == fo || off == fo + 4))
			return true;
	}
	return false;
}

/* A read may also be narrower than its field: naturally aligned, inside
 * one field. iPXE (Debian 12's, 2019) reads the 32-bit feature words
 * with 16-bit reads and QEMU answers with the field's low bytes. */
static bool common_read_ok(uint64_t off, unsigned size)
{
	if (size != 1 && size != 2 && size != 4 && size != 8)
		return false;
	if (off % size)
		return false;
	for (size_t i = 0; i < sizeof(common_fields) / sizeof(*common_fields);
	     i++) {
		unsigned fo = common_fields[i].off, w = common_fields[i].width;
		if (off >= fo && off + size <= fo + w)
			return true;
	}
	return false;
}

static uint64_t common_read(struct virtio_pci *vp, uint64_t off, unsigned size)
{
	struct virtio_dev *vd = vp->vd;
	struct virtq *vq = selected_queue(vp);
	uint8_t b[VIRTIO_PCI_COMMON_LEN] = {0};

	if (!common_read_ok(off, size))
		return 0;
	put_le(b + VIRTIO_PCI_DEVICE_FEATURE_SELECT, 4, vp->dfselect);
	put_le(b + VIRTIO_PCI_DEVICE_FEATURE, 4,
	       virtio_device_features(vd, vp->dfselect));
	put_le(b + VIRTIO_PCI_DRIVER_FEATURE_SELECT, 4, vp->gfselect);
	put_le(b + VIRTIO_PCI_DRIVER_FEATURE, 4,
	       virtio_driver_features(vd, vp->gfselect));
	put_le(b + VIRTIO_PCI_MSIX_CONFIG, 2, vp->config_vector);
	put_le(b + VIRTIO_PCI_NUM_QUEUES, 2, vd->nqueues);
	b[VIRTIO_PCI_DEVICE_STATUS] = vd->status;
	b[VIRTIO_PCI_CONFIG_GENERATION] = vd->config_generation;
	put_le(b + VIRTIO_PCI_QUEUE_SELECT, 2, vp->queue_select);
	if (vq) {
		put_le(b + VIRTIO_PCI_QUEUE_SIZE, 2, vq->size);
		put_le(b + VIRTIO_PCI_QUEUE_MSIX_VECTOR, 2,
		       vp->queue_vector[vq->index]);
		put_le(b + VIRTIO_PCI_QUEUE_ENABLE, 2, vq->enabled);
		put_le(b + VIRTIO_PCI_QUEUE_NOTIFY_OFF, 2, vq->index);
		put_le(b + VIRTIO_PCI_QUEUE_DESC, 8, vq->desc_addr);
		put_le(b + VIRTIO_PCI_QUEUE_DRIVER, 8, vq->avail_addr);
		put_le(b + VIRTIO_PCI_QUEUE_DEVICE, 8, vq->used_addr);
	}
	return get_le(b + off, size);
}

/* The transport's own part of a device reset. */
static void transport_reset(struct virtio_pci *vp)
{
	vp->dfselect = vp->gfselect = 0;
	vp->queue_select = 0;
	vp->config_vector = VIRTIO_MSI_NO_VECTOR;
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		vp->queue_vector[i] = VIRTIO_MSI_NO_VECTOR;
	vp->isr = 0;
	update_intx(vp);
}

/* A write to one of the 64-bit ring addresses, whole or a dword half. */
static void write_ring_addr(struct virtio_pci *vp, struct virtq *vq,
			    uint64_t off, unsigned size, uint64_t val)
{
	int which = (off - VIRTIO_PCI_QUEUE_DESC) / 8;
	uint64_t cur = which == 0   ? vq->desc_addr
		       : which == 1 ? vq->avail_addr
				    : vq->used_addr;
	if (size == 8)
		cur = val;
	else if (off % 8)
		cur = (cur & 0xffffffffull) | (val & 0xffffffffull) << 32;
	else
		cur = (cur & ~0xffffffffull) | (val & 0xffffffffull);
	virtq_set_addr(vp->vd, vq->index, which, cur);
}

static void queue_write(struct virtio_pci *vp, uint64_t off, unsigned size,
			uint64_t val)
{
	struct virtq *vq = selected_queue(vp);
	if (!vq)
		return;
	switch (off) {
	case VIRTIO_PCI_QUEUE_SIZE:
		virtq_set_size(vp->vd, vq->index, val);
		break;
	case VIRTIO_PCI_QUEUE_MSIX_VECTOR:
		vp->queue_vector[vq->index] = vector_or_none(vp, val);
		break;
	case VIRTIO_PCI_QUEUE_ENABLE:
		if (val == 1)
			virtq_enable(vp->vd, vq->index);
		break;
	case VIRTIO_PCI_QUEUE_NOTIFY_OFF:
		break;
	default:
		write_ring_addr(vp, vq, off, size, val);
		break;
	}
}

static void common_write(struct virtio_pci *vp, uint64_t off, unsigned size,
			 uint64_t val)
{
	if (!common_access_ok(off, size))
		return;
	switch (off) {
	case VIRTIO_PCI_DEVICE_FEATURE_SELECT:
		vp->dfselect = val;
		break;
	case VIRTIO_PCI_DRIVER_FEATURE_SELECT:
		vp->gfselect = val;
		break;
	case VIRTIO_PCI_DRIVER_FEATURE:
		virtio_set_driver_features(vp->vd, vp->gfselect, val);
		break;
	case VIRTIO_PCI_MSIX_CONFIG:
		vp->config_vector = vector_or_none(vp, val);
		break;
	case VIRTIO_PCI_DEVICE_STATUS:
		virtio_set_status(vp->vd, val);
		if (val == 0)
			transport_reset(vp);
		break;
	case VIRTIO_PCI_QUEUE_SELECT:
		vp->queue_select = val;
		break;
	case VIRTIO_PCI_DEVICE_FEATURE:
	case VIRTIO_PCI_NUM_QUEUES:
	case VIRTIO_PCI_CONFIG_GENERATION:
		break; /* read-only */
	default:
		queue_write(vp, off, size, val);
		break;
	}
}

/* ---- BAR 4 ---- */

static uint64_t vp_read(void *dev, uint64_t off, unsigned size)
{
	struct virtio_pci *vp = dev;
	if (off < VIRTIO_PCI_ISR_OFF)
		return common_read(vp, off - VIRTIO_PCI_COMMON_OFF, size);
	if (off < VIRTIO_PCI_DEVICE_OFF) {
		if (off != VIRTIO_PCI_ISR_OFF)
			return 0;
		uint8_t isr = vp->isr; /* read-to-clear */
		vp->isr = 0;
		update_intx(vp);
		return isr;
	}
	if (off < VIRTIO_PCI_NOTIFY_OFF)
		return virtio_config_read(vp->vd, off - VIRTIO_PCI_DEVICE_OFF,
					  size);
	return 0;
}

static void vp_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct virtio_pci *vp = dev;
	if (off < VIRTIO_PCI_ISR_OFF)
		common_write(vp, off - VIRTIO_PCI_COMMON_OFF, size, val);
	else if (off >= VIRTIO_PCI_DEVICE_OFF && off < VIRTIO_PCI_NOTIFY_OFF)
		virtio_config_write(vp->vd, off - VIRTIO_PCI_DEVICE_OFF, size,
				    val);
	else if (off >= VIRTIO_PCI_NOTIFY_OFF && off < VIRTIO_PCI_BAR_SIZE)
		virtio_queue_kick(vp->vd, (off - VIRTIO_PCI_NOTIFY_OFF) /
					      VIRTIO_PCI_NOTIFY_MULT);
}

const struct io_ops virtio_pci_ops = {.read = vp_read, .write = vp_write};

/* ---- MSI-X table and PBA (BAR 1) ---- */

static uint64_t msix_read(void *dev, uint64_t off, unsigned size)
{
	struct virtio_pci *vp = dev;
	unsigned tlen = vp->nvectors * PCI_MSIX_ENTRY_SIZE;
	if (size > 8)
		return 0;
	if (off < tlen && off + size <= tlen)
		return get_le(vp->msix_table + off, size);
	if (off >= VIRTIO_PCI_MSIX_PBA && off + size <= VIRTIO_PCI_MSIX_PBA + 8)
		return (uint64_t)vp->msix_pending >>
		       (8 * (off - VIRTIO_PCI_MSIX_PBA));
	return 0;
}

static void msix_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct virtio_pci *vp = dev;
	unsigned tlen = vp->nvectors * PCI_MSIX_ENTRY_SIZE;
	if ((size != 4 && size != 8) || off % size || off >= tlen)
		return; /* the PBA is read-only */
	for (unsigned i = 0; i < size; i += 4) {
		unsigned o = off + i, field = o % PCI_MSIX_ENTRY_SIZE;
		uint32_t v = val >> (8 * i);
		if (field == 0)
			v &= ~3u;
		else if (field == PCI_MSIX_ENTRY_VECTOR_CTRL)
			v &= PCI_MSIX_ENTRY_CTRL_MASKBIT;
		put_le(vp->msix_table + o, 4, v);
	}
	msix_update(vp); /* an unmasked vector sends its pending message */
}

const struct io_ops virtio_pci_msix_ops = {.read = msix_read,
					   .write = msix_write};

/* ---- configuration space ---- */

static const struct io_ops *cfg_bar_ops(const struct virtio_pci *vp, int bar,
					uint32_t *size)
{
	if (bar == VIRTIO_PCI_BAR) {
		*size = VIRTIO_PCI_BAR_SIZE;
		return &virtio_pci_ops;
	}
	if (bar == VIRTIO_PCI_MSIX_BAR && vp->msix_cap) {
		*size = VIRTIO_PCI_MSIX_SIZE;
		return &virtio_pci_msix_ops;
	}
	return NULL;
}

/* The BAR access that the PCI config access capability describes. */
static const struct io_ops *cfg_access(const struct virtio_pci *vp,
				       uint32_t *off, uint32_t *len)
{
	const uint8_t *c = &vp->f->cfg[vp->cfg_cap];
	uint32_t size;
	const struct io_ops *ops = cfg_bar_ops(vp, c[VIRTIO_CAP_BAR], &size);
	*off = get_le(c + VIRTIO_CAP_OFFSET, 4);
	*len = get_le(c + VIRTIO_CAP_LENGTH, 4);
	if (!ops || (*len != 1 && *len != 2 && *len != 4) || *off % *len ||
	    *off >= size || size - *off < *len)
		return NULL;
	return ops;
}

static uint32_t vp_cfg_read(void *dev, unsigned off, unsigned size,
			    uint32_t val)
{
	struct virtio_pci *vp = dev;
	unsigned data = vp->cfg_cap + VIRTIO_CAP_PCI_CFG_DATA;
	uint32_t boff, len;
	const struct io_ops *ops;
	if (off != data || !(ops = cfg_access(vp, &boff, &len)))
		return val;
	put_le(&vp->f->cfg[data], len, ops->read(vp, boff, len));
	return get_le(&vp->f->cfg[data], size);
}

static void vp_cfg_write(void *dev, unsigned off, unsigned size, uint32_t val)
{
	struct virtio_pci *vp = dev;
	unsigned data = vp->cfg_cap + VIRTIO_CAP_PCI_CFG_DATA;
	uint32_t boff, len;
	const struct io_ops *ops;
	(void)val;
	if (off == data && (ops = cfg_access(vp, &boff, &len)))
		ops->write(vp, boff, len, get_le(&vp->f->cfg[data], len));
	if (vp->msix_cap &&
	    overlaps(off, size, vp->msix_cap + PCI_MSIX_FLAGS, 2))
		msix_update(vp);
}

static void tell_notify(struct virtio_pci *vp, uint64_t base, bool mapped)
{
	for (unsigned q = 0; q < vp->vd->nqueues; q++)
		vp->w.notify_moved(vp->w.opaque, q,
				   base + VIRTIO_PCI_NOTIFY_OFF +
				       VIRTIO_PCI_NOTIFY_MULT * q,
				   NOTIFY_REG_LEN, mapped);
}

/* BAR 4 moved: the queues' notify registers moved with it. pci.c says
 * only where the BAR is now; the vmm hears about the old place too. */
static void vp_bar_moved(void *dev, int bar, uint32_t addr, bool mapped)
{
	struct virtio_pci *vp = dev;
	if (bar != VIRTIO_PCI_BAR || !vp->w.notify_moved)
		return;
	if (vp->notify_mapped)
		tell_notify(vp, vp->notify_base, false);
	vp->notify_mapped = mapped;
	vp->notify_base = addr;
	if (mapped)
		tell_notify(vp, addr, true);
}

static const struct pci_cfg_ops vp_cfg_ops = {
    .read = vp_cfg_read, .write = vp_cfg_write, .bar_moved = vp_bar_moved};

bool virtio_pci_notify_addr(const struct virtio_pci *vp, unsigned q,
			    uint64_t *gpa, unsigned *len)
{
	if (!vp->vd || q >= vp->vd->nqueues ||
	    !pci_bar_mapped(vp->f, VIRTIO_PCI_BAR))
		return false;
	*gpa = (uint64_t)vp->f->bar[VIRTIO_PCI_BAR].map_addr +
	       VIRTIO_PCI_NOTIFY_OFF + VIRTIO_PCI_NOTIFY_MULT * q;
	*len = NOTIFY_REG_LEN;
	return true;
}

/* One virtio vendor capability (struct virtio_pci_cap). */
static void add_vcap(struct pci_func *f, unsigned at, unsigned len,
		     uint8_t type, uint8_t bar, uint32_t off, uint32_t size)
{
	pci_add_cap(f, PCI_CAP_ID_VNDR, at, len);
	f->cfg[at + 2] = len;
	f->cfg[at + VIRTIO_CAP_CFG_TYPE] = type;
	f->cfg[at + VIRTIO_CAP_BAR] = bar;
	put_le(&f->cfg[at + VIRTIO_CAP_OFFSET], 4, off);
	put_le(&f->cfg[at + VIRTIO_CAP_LENGTH], 4, size);
}

static void add_caps(struct virtio_pci *vp)
{
	struct pci_func *f = vp->f;
	unsigned cfg_len = vp->vd->config_len;
	/* Added last first: the list reads in the order of the BAR. */
	add_vcap(f, CAP_PCI_CFG, PCI_CFG_CAP_LEN, VIRTIO_PCI_CAP_PCI_CFG, 0, 0,
		 0);
	pci_set_writable(f, CAP_PCI_CFG + VIRTIO_CAP_BAR, 1, 0xff);
	pci_set_writable(f, CAP_PCI_CFG + VIRTIO_CAP_OFFSET, 12, 0xff);
	vp->cfg_cap = CAP_PCI_CFG;
	if (cfg_len)
		add_vcap(f, CAP_DEVICE, CAP_LEN, VIRTIO_PCI_CAP_DEVICE_CFG,
			 VIRTIO_PCI_BAR, VIRTIO_PCI_DEVICE_OFF,
			 cfg_len < DEVICE_CFG_SPAN ? cfg_len : DEVICE_CFG_SPAN);
	add_vcap(f, CAP_ISR, CAP_LEN, VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_PCI_BAR,
		 VIRTIO_PCI_ISR_OFF, 1);
	add_vcap(f, CAP_NOTIFY, NOTIFY_CAP_LEN, VIRTIO_PCI_CAP_NOTIFY_CFG,
		 VIRTIO_PCI_BAR, VIRTIO_PCI_NOTIFY_OFF,
		 VIRTIO_PCI_NOTIFY_MULT * vp->vd->nqueues);
	put_le(&f->cfg[CAP_NOTIFY + VIRTIO_CAP_NOTIFY_MULT], 4,
	       VIRTIO_PCI_NOTIFY_MULT);
	add_vcap(f, CAP_COMMON, CAP_LEN, VIRTIO_PCI_CAP_COMMON_CFG,
		 VIRTIO_PCI_BAR, VIRTIO_PCI_COMMON_OFF, VIRTIO_PCI_COMMON_LEN);
}

static int add_msix(struct virtio_pci *vp)
{
	struct pci_func *f = vp->f;
	vp->nvectors = vp->vd->nqueues + 1;
	if (pci_set_bar(f, VIRTIO_PCI_MSIX_BAR, VIRTIO_PCI_MSIX_SIZE,
			PCI_BAR_MEM32, &virtio_pci_msix_ops, vp) < 0)
		return -1;
	pci_add_cap(f, PCI_CAP_ID_MSIX, CAP_MSIX, MSIX_CAP_LEN);
	put_le(&f->cfg[CAP_MSIX + PCI_MSIX_FLAGS], 2, vp->nvectors - 1);
	put_le(&f->cfg[CAP_MSIX + PCI_MSIX_TABLE], 4,
	       VIRTIO_PCI_MSIX_TABLE | VIRTIO_PCI_MSIX_BAR);
	put_le(&f->cfg[CAP_MSIX + PCI_MSIX_PBA], 4,
	       VIRTIO_PCI_MSIX_PBA | VIRTIO_PCI_MSIX_BAR);
	/* Enable and function mask (bits 15:14) are the driver's. */
	pci_set_writable(f, CAP_MSIX + PCI_MSIX_FLAGS + 1, 1, 0xc0);
	for (unsigned v = 0; v < vp->nvectors; v++)
		vp->msix_table[v * PCI_MSIX_ENTRY_SIZE +
			       PCI_MSIX_ENTRY_VECTOR_CTRL] =
		    PCI_MSIX_ENTRY_CTRL_MASKBIT;
	vp->msix_cap = CAP_MSIX;
	return 0;
}

struct pci_func *virtio_pci_init(struct virtio_pci *vp, struct virtio_dev *vd,
				 struct pci_bus *pb, int devnr,
				 uint32_t class_code,
				 const struct virtio_pci_wiring *w)
{
	memset(vp, 0, sizeof(*vp));
	struct pci_func *f =
	    pci_add_func(pb, devnr, 0, VIRTIO_PCI_VENDOR,
			 VIRTIO_PCI_DEVICE_BASE + vd->device_id,
			 class_code << 8 | VIRTIO_PCI_REVISION,
			 VIRTIO_PCI_VENDOR, VIRTIO_PCI_SUBSYS, 1);
	if (!f)
		return NULL;
	vp->f = f;
	vp->vd = vd;
	if (w)
		vp->w = *w;
	if (pci_set_bar(f, VIRTIO_PCI_BAR, VIRTIO_PCI_BAR_SIZE, PCI_BAR_MEM32,
			&virtio_pci_ops, vp) < 0 ||
	    (vp->w.msi.send && add_msix(vp) < 0))
		return NULL;
	add_caps(vp);
	pci_set_cfg_ops(f, &vp_cfg_ops, vp);
	virtio_set_transport(vd, (struct virtio_transport){vp_interrupt, vp});
	transport_reset(vp);
	return f;
}

void virtio_pci_detach(struct virtio_pci *vp)
{
	if (!vp->f || !vp->vd)
		return;
	pci_set_irq(vp->f, 0);
	pci_cfg_write(vp->f, PCI_COMMAND, 2, 0); /* unmaps both BARs */
	pci_set_writable(vp->f, PCI_COMMAND, 2, 0);
	pci_set_cfg_ops(vp->f, NULL, NULL);
	virtio_set_transport(vp->vd, (struct virtio_transport){0});
	vp->vd = NULL;
}
