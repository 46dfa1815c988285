#!/usr/bin/env python3
"""Seed corpus generator for minivmm's libFuzzer harnesses (tests/fuzz).

Writes a few meaningful inputs per harness into tests/fuzz/corpus/<harness>/,
in the action encoding documented in tests/fuzz/fuzz_common.h: byte 0 is the
harness's configuration, then op bytes (kind | a << 4) with little-endian
operands. Run it from anywhere: python3 tests/fuzz/gen_seeds.py
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
SZ = {1: 0, 2: 1, 4: 2, 8: 3}
(IN, OUT, MMIO_RD, MMIO_WR, CFG_RD, CFG_WR, RAM_WR, RAM_FILL, INS, OUTS,
 CLOCK, BACKEND, AUX, RAM_LE) = range(14)


def le(v, n):
    return (v & ((1 << (8 * n)) - 1)).to_bytes(n, "little")


def op(kind, a=0):
    return bytes([kind | (a << 4)])


def out(port, val, size=1):
    return op(OUT, SZ[size]) + le(port, 2) + le(val, size)


def inp(port, size=1):
    return op(IN, SZ[size]) + le(port, 2)


def mmio_wr(gpa, val, size=4):
    return op(MMIO_WR, SZ[size]) + le(gpa, 4) + le(val, size)


def mmio_rd(gpa, size=4):
    return op(MMIO_RD, SZ[size]) + le(gpa, 4)


def cfg_wr(devfn, off, val, size=4):
    return op(CFG_WR, SZ[size]) + bytes([devfn, off]) + le(val, size)


def cfg_rd(devfn, off, size=4):
    return op(CFG_RD, SZ[size]) + bytes([devfn, off])


def ram(gpa, data):
    s = b""
    for i in range(0, len(data), 255):
        chunk = data[i:i + 255]
        s += op(RAM_WR) + le(gpa + i, 4) + bytes([len(chunk)]) + chunk
    return s


def ram_le(gpa, val, size):
    return op(RAM_LE, SZ[size]) + le(gpa, 4) + le(val, size)


def fill(gpa, n, b):
    return op(RAM_FILL) + le(gpa, 4) + le(n - 1, 2) + bytes([b])


def ins(port, count, size=1):
    return op(INS, SZ[size]) + le(port, 2) + bytes([count - 1])


def outs(port, data, size=1):
    return (op(OUTS, SZ[size]) + le(port, 2) + bytes([len(data) // size - 1])
            + data)


def clock(ns, shift=0):
    return op(CLOCK, shift) + le(ns - 1, 2)


def backend(a=0, extra=b""):
    return op(BACKEND, a) + extra


def frame(a, length, data=b""):
    """BACKEND frame operands: len:u16 n:u8 bytes[n] (the rest zeros)."""
    return op(BACKEND, a) + le(length, 2) + bytes([len(data)]) + data


def aux(a=0, extra=b""):
    return op(AUX, a) + extra


def write(harness, name, config, actions):
    d = os.path.join(HERE, "corpus", harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(bytes([config]) + actions)


# ---- legacy ----
def pic_init():
    s = out(0x20, 0x11) + out(0x21, 0x08) + out(0x21, 0x04) + out(0x21, 0x01)
    s += out(0xa0, 0x11) + out(0xa1, 0x70) + out(0xa1, 0x02) + out(0xa1, 0x01)
    return s + out(0x21, 0x00) + out(0xa1, 0x00)


def legacy():
    s = pic_init()
    s += out(0x43, 0x34) + out(0x40, 0xa9) + out(0x40, 0x04)  # mode 2, 1193
    s += clock(1000, 3) + aux(0) + out(0x20, 0x20)
    s += out(0x43, 0x00) + inp(0x40) + inp(0x40) + out(0x43, 0xe2) + inp(0x40)
    s += out(0x61, 0x01) + out(0x43, 0xb6) + out(0x42, 0x00) + out(0x42, 0x10)
    s += clock(5000, 3) + inp(0x61)
    write("legacy", "pic_pit", 0, s)

    s = pic_init()
    s += out(0x70, 0x0a) + out(0x71, 0x26) + out(0x70, 0x0b) + out(0x71, 0x42)
    s += out(0x70, 0x0c) + inp(0x71) + clock(1000, 6) + aux(0)
    for r in range(10):
        s += out(0x70, r) + inp(0x71)
    s += out(0x70, 0x8f) + out(0x71, 0x0a) + aux(5, b"\x30\x12") + aux(6, b"\x30")
    s += out(0x70, 0x0b) + out(0x71, 0x22) + clock(1000, 7) + aux(0)
    write("legacy", "rtc", 0, s)

    s = pic_init()
    s += out(0x3fb, 0x80) + out(0x3f8, 0x01) + out(0x3f9, 0x00)
    s += out(0x3fb, 0x03) + out(0x3fa, 0xc7) + out(0x3f9, 0x0f)
    s += out(0x3fc, 0x0b) + out(0x3f8, ord("A")) + inp(0x3fa) + inp(0x3fd)
    s += backend(5, b"hello") + inp(0x3fa) + inp(0x3f8) + inp(0x3f8)
    s += clock(1000, 4) + inp(0x3fa) + aux(0)
    s += out(0x3fc, 0x1b) + out(0x3f8, 0x55) + inp(0x3f8) + inp(0x3fe)
    write("legacy", "uart", 1, s)

    s = pic_init()
    s += out(0x64, 0x20) + inp(0x60) + out(0x64, 0x60) + out(0x60, 0x47)
    s += out(0x60, 0xff) + inp(0x64) + inp(0x60) + inp(0x60)
    s += out(0x60, 0xf4) + inp(0x60) + aux(1, b"\x00\x1c")
    s += aux(1, b"\x01\xf0\x1c") + inp(0x64) + inp(0x60) + aux(0)
    s += out(0x60, 0xed) + out(0x60, 0x07) + out(0x64, 0xd1) + out(0x60, 0xdf)
    s += out(0x64, 0xaa) + inp(0x60) + out(0x64, 0xfe)
    s += out(0x92, 0x02) + inp(0x92) + out(0x92, 0x03)
    s += outs(0xe9, b"hi\n") + out(0x402, 0x41) + inp(0xe9) + out(0x80, 0x55)
    s += out(0xcf9, 0x02) + out(0xcf9, 0x06) + aux(4)
    write("legacy", "kbd_misc", 0, s)


# ---- fw_cfg ----
def be32(v):
    return struct.unpack("<I", struct.pack(">I", v))[0]


def fw_cfg():
    s = out(0x510, 0x0000, 2) + ins(0x511, 4) + out(0x510, 0x0001, 2)
    s += ins(0x511, 4) + out(0x510, 0x0019, 2) + ins(0x511, 255)
    s += out(0x510, 0x0003, 2) + ins(0x511, 8) + inp(0x514, 4)
    write("fw_cfg", "legacy_read", 0, s)

    def dma(desc_at, control, length, addr):
        return (ram(desc_at, struct.pack(">IIQ", control, length, addr)) +
                out(0x514, 0, 4) + out(0x518, be32(desc_at), 4) +
                ram_le(0, 0, 1))

    s = dma(0x1000, 0x0019 << 16 | 0x08 | 0x02, 64, 0x2000)
    s += dma(0x1000, 0x02, 64, 0x2000) + dma(0x1000, 0x04, 8, 0)
    s += dma(0x1000, 0x0020 << 16 | 0x08 | 0x02, 4096, 0x3000)
    s += dma(0x1000, 0x10, 4, 0x2000) + dma(0x1000, 0x02, 16, 0xc0000)
    s += dma(0x1000, 0x02, 16, 0xfff00000) + dma(0xbfff8, 0x02, 16, 0)
    write("fw_cfg", "dma", 7, s)


# ---- pci ----
def pci():
    s = b""
    for dev in (0, 1, 2, 3):
        s += cfg_rd(dev << 3, 0) + cfg_rd(dev << 3, 0x0e, 1)
    s += cfg_rd(2 << 3 | 3, 0)
    d = 2 << 3
    for off in (0x10, 0x14, 0x18, 0x1c, 0x20, 0x24, 0x30):
        s += cfg_wr(d, off, 0xffffffff) + cfg_rd(d, off)
    s += cfg_wr(d, 0x10, 0xc000) + cfg_wr(d, 0x14, 0xfe000000)
    s += cfg_wr(d, 0x18, 0xfe001000) + cfg_wr(d, 0x1c, 0xc020)
    s += cfg_wr(d, 0x20, 0xc100) + cfg_wr(d, 0x24, 0xfe002000)
    s += cfg_wr(d, 0x30, 0xfe100001) + cfg_wr(d, 0x04, 0x0007, 2)
    s += out(0xc000, 0x12345678, 4) + inp(0xc01e, 4) + mmio_wr(0xfe000ffc, 1, 8)
    s += mmio_rd(0xfe000ff8, 8) + mmio_rd(0xfe1007fe, 4) + inp(0xc102, 2)
    s += cfg_wr(d, 0x10, 0xcf8) + inp(0xcfc, 4)  # overlapping conf1
    s += cfg_wr(d, 0x14, 0xfe001000) + cfg_wr(d, 0x04, 0x0000, 2)
    s += cfg_wr(8, 0x60, 0x0b, 1) + cfg_wr(8, 0x61, 0x0b, 1) + aux(0, b"\x02")
    s += aux(0, b"\x03") + aux(0, b"\x00") + cfg_wr(d, 0x04, 0x0400, 2)
    s += cfg_wr(0, 0x59, 0x30, 1) + cfg_wr(0, 0x72, 0x1a, 1)
    s += cfg_wr(0, 0x72, 0x4a, 1) + cfg_rd(0, 0x72, 1) + aux(2, b"\x00\xf9")
    s += cfg_wr(d, 0x06, 0xffff, 2) + cfg_rd(d, 0x34, 1) + cfg_rd(d, 0x40)
    s += cfg_wr(d, 0x44, 0xdeadbeef) + aux(1) + out(0xcf9, 0x04)
    write("pci", "enumerate_bars", 0, s)


# ---- ide ----
BM = 0xc000


def ata_sel(lba, count, cmd, base=0x1f0, dev=0xe0):
    s = out(base + 2, count) + out(base + 3, lba & 0xff)
    s += out(base + 4, (lba >> 8) & 0xff) + out(base + 5, (lba >> 16) & 0xff)
    return s + out(base + 6, dev | ((lba >> 24) & 0x0f)) + out(base + 7, cmd)


def prd(at, entries):
    data = b""
    for i, (addr, n) in enumerate(entries):
        eot = 0x80000000 if i == len(entries) - 1 else 0
        data += struct.pack("<II", addr, (n & 0xffff) | eot)
    return ram(at, data)


def ide():
    s = out(0x1f6, 0xa0) + out(0x1f7, 0xec) + inp(0x1f7)
    s += ins(0x1f0, 256, 2) + inp(0x3f6)
    s += out(0x1f6, 0xb0) + out(0x1f7, 0xec) + inp(0x1f7) + ins(0x1f0, 256, 2)
    write("ide", "identify", 1, s)

    s = out(0x1f6, 0xa0) + out(0x1f7, 0xec) + ins(0x1f0, 256, 2)
    s += prd(0x1000, [(0x2000, 512), (0x3000, 1024)])
    s += out(BM + 4, 0x1000, 4) + out(BM + 2, 0x06)
    s += ata_sel(0, 3, 0xc8) + out(BM, 0x09) + backend(0)
    s += inp(BM + 2) + inp(0x1f7) + out(BM, 0x00) + out(BM + 2, 0x06)
    s += ata_sel(8, 3, 0xca) + out(BM, 0x01) + backend(4)
    s += inp(BM + 2) + inp(0x1f7) + out(BM, 0x00)
    s += ata_sel(2, 1, 0xc8) + backend(1) + out(BM, 0x09) + backend(1)
    s += inp(0x1f1) + inp(0x1f7) + out(BM, 0x00)
    write("ide", "dma_read_write", 0, s)

    s = ata_sel(0, 2, 0x20) + backend(0) + inp(0x1f7) + ins(0x1f0, 256, 2)
    s += backend(0) + ins(0x1f0, 256, 2) + ata_sel(4, 1, 0x30)
    s += outs(0x1f0, bytes(range(256)) * 2, 2) + backend(0) + inp(0x1f7)
    s += ata_sel(0, 4, 0xc6) + out(0x1f7, 0xc6) + ata_sel(0, 4, 0xc4)
    s += backend(4) + ins(0x1f0, 256, 4) + ins(0x1f0, 256, 4)
    s += out(0x1f1, 0x03) + out(0x1f2, 0x42) + out(0x1f7, 0xef)
    s += out(0x1f7, 0xe7) + backend(4) + out(0x1f7, 0xf8) + out(0x1f7, 0x91)
    s += out(0x3f6, 0x04) + out(0x3f6, 0x00) + inp(0x1f7) + out(0x1f7, 0x90)
    write("ide", "pio", 1, s)

    s = out(0x1f1, 0) + out(0x1f1, 0)
    # Each register twice: the high-order byte (HOB) first.
    s += out(0x1f2, 0) + out(0x1f2, 2) + out(0x1f3, 0) + out(0x1f3, 1)
    s += out(0x1f4, 0) + out(0x1f4, 0) + out(0x1f5, 0) + out(0x1f5, 0)
    s += prd(0x1000, [(0x4000, 1024)]) + out(BM + 4, 0x1000, 4)
    s += out(0x1f6, 0x40) + out(0x1f7, 0x25) + out(BM, 0x09) + backend(4)
    s += inp(BM + 2) + out(0x3f6, 0x80) + inp(0x1f3) + out(0x1f7, 0x27)
    write("ide", "lba48", 4, s)

    def packet(cdb, dma=False, bcl=0xfffe):
        t = out(0x176, 0xa0) + out(0x171, 1 if dma else 0)
        t += out(0x174, bcl & 0xff) + out(0x175, bcl >> 8) + out(0x177, 0xa0)
        return t + inp(0x177) + outs(0x170, cdb.ljust(12, b"\0"), 2)

    s = out(0x176, 0xa0) + out(0x177, 0xa1) + ins(0x170, 256, 2)
    s += packet(b"\x00") + inp(0x177) + inp(0x172)
    s += packet(b"\x03\0\0\0\x12") + ins(0x170, 9, 2)
    s += packet(b"\x12\0\0\0\x24") + ins(0x170, 18, 2)
    s += packet(b"\x25") + ins(0x170, 4, 2)
    s += packet(b"\x43\0\0\0\0\0\0\x03\x24") + ins(0x170, 20, 2)
    s += packet(b"\x28\0\0\0\0\x10\0\0\x02") + backend(0)
    s += inp(0x177) + inp(0x174) + inp(0x175) + ins(0x170, 256, 4)
    s += ins(0x170, 256, 4) + backend(0) + ins(0x170, 256, 4)
    s += prd(0x1000, [(0x8000, 4096)]) + out(BM + 8 + 4, 0x1000, 4)
    s += packet(b"\x28\0\0\0\0\x20\0\0\x02", True) + out(BM + 8, 0x09)
    s += backend(4) + inp(BM + 10) + inp(0x177)
    s += packet(b"\x1e\0\0\0\x01") + packet(b"\x1b\0\0\0\x02")
    s += aux(0, b"\x03") + packet(b"\x00") + packet(b"\x1e\0\0\0\x00")
    s += packet(b"\x1b\0\0\0\x02") + aux(0, b"\x01") + packet(b"\x4a\x01\0\0\x10\0\0\0\x08")
    s += ins(0x170, 4, 2) + packet(b"\x5a\0\x2a\0\0\0\0\0\x1c") + ins(0x170, 14, 2)
    write("ide", "atapi", 2, s)

    # The MMC commands a Linux sr / SeaBIOS / ISOLINUX driver sends.
    s = b""
    for cdb in (b"\x46\x02\0\0\0\0\0\x01\0",          # GET CONFIGURATION
                b"\x46\x00\0\x1e\0\0\0\0\x40",
                b"\x51\0\0\0\0\0\0\0\x22",            # READ DISC INFORMATION
                b"\x52\x01\0\0\0\x01\0\0\x24",        # READ TRACK INFORMATION
                b"\x52\x01\0\0\0\xaa\0\0\x24",
                b"\x5a\0\x01\0\0\0\0\0\x20",          # MODE SENSE pages
                b"\x5a\0\x0d\0\0\0\0\0\x20",
                b"\x5a\0\x3f\0\0\0\0\x01\0",
                b"\x55\x10\0\0\0\0\0\0\x10",          # MODE SELECT
                b"\x42\x02\x40\x01\0\0\0\0\x18",      # READ SUB-CHANNEL
                b"\x42\x00\x40\x01\0\0\0\0\x18",
                b"\x12\x01\x00\0\xff",                  # INQUIRY VPD
                b"\x12\x01\x80\0\xff", b"\x12\x01\x83\0\xff",
                b"\xbd\0\0\0\0\0\0\0\0\x08",         # MECHANISM STATUS
                b"\x2b\0\0\0\0\x10",                   # SEEK
                b"\xbb\0\xff\xff\xff\xff",             # SET CD SPEED
                b"\x43\x02\0\0\0\0\0\x03\x24",        # READ TOC, MSF
                b"\x43\0\x01\0\0\0\0\x03\x24\x40",
                b"\x43\0\x02\0\0\0\0\x03\x24\x80",
                b"\xa8\0\0\0\0\x02\0\0\0\x01",       # READ(12)
                b"\xbe\0\0\0\0\x03\0\0\x01\x10",     # READ CD
                b"\xbe\0\0\0\0\x03\0\0\x01\xf8",
                b"\x4a\x01\0\0\x10\0\0\0\x08",        # GET EVENT STATUS
                b"\x03\0\0\0\x12"):                   # REQUEST SENSE
        s += packet(cdb, bcl=0x800) + inp(0x172) + inp(0x174) + inp(0x175)
        s += backend(4) + ins(0x170, 64, 4) + inp(0x177)
    write("ide", "atapi_mmc", 2, s)


# ---- ne2000 ----
MAC = bytes([0x52, 0x54, 0x00, 0x12, 0x34, 0x56])


def ne_init(b):
    s = out(b, 0x21) + out(b + 0x0e, 0x49) + out(b + 0x0a, 0) + out(b + 0x0b, 0)
    s += out(b + 0x0f, 0) + out(b + 0x07, 0xff) + out(b + 0x0c, 0x04)
    s += out(b + 0x0d, 0x00) + out(b + 0x01, 0x46) + out(b + 0x02, 0x80)
    s += out(b + 0x03, 0x46) + out(b, 0x61)
    for i, m in enumerate(MAC):
        s += out(b + 1 + i, m)
    s += out(b + 0x07, 0x47) + out(b, 0x22) + out(b + 0x0f, 0x3f)
    return s


def ne_rdma(b, addr, n, write=False):
    s = out(b + 0x08, addr & 0xff) + out(b + 0x09, addr >> 8)
    s += out(b + 0x0a, n & 0xff) + out(b + 0x0b, n >> 8)
    return s + out(b, 0x12 if write else 0x0a)


def ne2000():
    for cfg, b in ((0, 0x300), (1, 0xc100)):
        name = "pci" if cfg else "isa"
        s = inp(b + 0x1f) + ne_init(b) + ne_rdma(b, 0, 32) + ins(b + 0x10, 16, 2)
        s += frame(1, 60, b"\0" * 12 + b"\x08\x00" + bytes(range(46)))
        s += frame(6, 200, b"\0" * 12 + b"\x08\x06")
        s += inp(b + 0x07) + out(b + 0x07, 0x01) + ne_rdma(b, 0x4600, 64)
        s += ins(b + 0x10, 32, 2) + out(b + 0x03, 0x47)
        s += ne_rdma(b, 0x4000, 60, True) + outs(b + 0x10, MAC * 10, 2)
        s += out(b + 0x04, 0x40) + out(b + 0x05, 60) + out(b + 0x06, 0)
        s += out(b, 0x26) + inp(b + 0x07) + inp(b + 0x04)
        s += out(b, 0x62) + inp(b + 0x07) + out(b, 0xc2) + inp(b + 0x0a)
        s += out(b, 0x22) + out(b + 0x0d, 0x02) + out(b, 0x26)
        s += out(b + 0x0e, 0x48) + ne_rdma(b, 0x7ff0, 64) + ins(b + 0x10, 64)
        write("ne2000", "init_rx_tx_" + name, cfg, s)
        s = ne_init(b)
        for i in range(40):
            s += frame(1, 1500, MAC + bytes([i]) * 10)
        s += inp(b + 0x07) + inp(b + 0x0f) + aux(0)
        write("ne2000", "overflow_" + name, cfg, s)


# ---- virtio ----
BAR4 = 0xfebf0000
BAR1 = 0xfebe0000
COMMON, ISR, DEVCFG, NOTIFY = BAR4, BAR4 + 0x1000, BAR4 + 0x2000, BAR4 + 0x3000
NEXT, WRITE, INDIRECT = 1, 2, 4


def vp_negotiate(features):
    s = mmio_wr(COMMON + 0x14, 0, 1) + mmio_wr(COMMON + 0x14, 1, 1)
    s += mmio_wr(COMMON + 0x14, 3, 1)
    for sel in (0, 1):
        s += mmio_wr(COMMON + 0x00, sel) + mmio_rd(COMMON + 0x04)
        s += mmio_wr(COMMON + 0x08, sel)
        s += mmio_wr(COMMON + 0x0c, (features >> (32 * sel)) & 0xffffffff)
    return s + mmio_wr(COMMON + 0x14, 0x0b, 1) + mmio_rd(COMMON + 0x14, 1)


def vp_queue(q, size, desc, avail, used, vector=None):
    s = mmio_wr(COMMON + 0x16, q, 2) + mmio_rd(COMMON + 0x18, 2)
    s += mmio_wr(COMMON + 0x18, size, 2)
    if vector is not None:
        s += mmio_wr(COMMON + 0x1a, vector, 2)
    s += mmio_wr(COMMON + 0x20, desc, 8) + mmio_wr(COMMON + 0x28, avail, 8)
    s += mmio_wr(COMMON + 0x30, used, 8) + mmio_wr(COMMON + 0x1c, 1, 2)
    return s


def desc(table, i, addr, n, flags, nxt):
    return ram(table + 16 * i, struct.pack("<QIHH", addr, n, flags, nxt))


def avail_add(avail, idx, head, size):
    return ram_le(avail + 4 + 2 * (idx % size), head, 2) + ram_le(avail + 2, idx + 1, 2)


def virtio_blk():
    F = (1 << 2) | (1 << 6) | (1 << 9) | (1 << 28) | (1 << 29) | (1 << 32)
    D, A, U = 0x10000, 0x11000, 0x12000
    base = vp_negotiate(F) + vp_queue(0, 8, D, A, U) + mmio_wr(COMMON + 0x14, 0x0f, 1)
    base += mmio_rd(DEVCFG, 8) + mmio_rd(DEVCFG + 12, 4)
    s = base
    for idx, (t, n) in enumerate(((0, 1024), (1, 512), (4, 0), (8, 20), (99, 0))):
        s += ram(0x20000, struct.pack("<IIQ", t, 0, 2))
        s += desc(D, 0, 0x20000, 16, NEXT, 1)
        if n:
            s += desc(D, 1, 0x21000, n, NEXT | (WRITE if t != 1 else 0), 2)
            s += desc(D, 2, 0x22000, 1, WRITE, 0)
        else:
            s += desc(D, 1, 0x22000, 1, WRITE, 0)
        s += avail_add(A, idx, 0, 8) + mmio_wr(NOTIFY, 0, 2) + backend(0)
        s += mmio_rd(ISR, 1)
    write("virtio_blk", "requests", 0, s)

    s = base + ram(0x20000, struct.pack("<IIQ", 0, 0, 0))
    for i, (addr, n, fl) in enumerate(((0x20000, 16, NEXT), (0x21000, 512, NEXT | WRITE),
                                       (0x22000, 1, WRITE))):
        s += ram(0x30000 + 16 * i, struct.pack("<QIHH", addr, n, fl, i + 1))
    s += desc(D, 3, 0x30000, 48, INDIRECT, 0) + avail_add(A, 0, 3, 8)
    s += ram_le(A + 4 + 2 * 8, 0, 2) + mmio_wr(NOTIFY, 0, 2) + backend(4)
    s += desc(D, 4, 0x20000, 16, NEXT, 4) + avail_add(A, 1, 4, 8)
    s += mmio_wr(NOTIFY, 0, 2) + mmio_rd(COMMON + 0x14, 1) + mmio_wr(COMMON + 0x14, 0, 1)
    write("virtio_blk", "indirect_loop", 0, s)

    s = mmio_wr(BAR1 + 0, 0xfee00000) + mmio_wr(BAR1 + 8, 0x4021)
    s += mmio_wr(BAR1 + 12, 0) + cfg_wr(0x20, 0x42, 0x8000, 2)
    s += vp_negotiate(F) + mmio_wr(COMMON + 0x10, 1, 2)
    s += vp_queue(0, 8, D, A, U, 0) + mmio_wr(COMMON + 0x14, 0x0f, 1)
    s += ram(0x20000, struct.pack("<IIQ", 0, 0, 1)) + desc(D, 0, 0x20000, 16, NEXT, 1)
    s += desc(D, 1, 0x21000, 512, NEXT | WRITE, 2) + desc(D, 2, 0x22000, 1, WRITE, 0)
    s += avail_add(A, 0, 0, 8) + mmio_wr(NOTIFY, 0, 2) + backend(0)
    s += mmio_wr(BAR1 + 12, 1) + aux(3) + mmio_rd(BAR1 + 0x800, 8)
    s += mmio_wr(BAR1 + 12, 0) + aux(0, b"\x00") + aux(1)
    s += cfg_wr(0x20, 0x24 - 0x10 + 0x10, 0xfebc0000) + mmio_rd(0xfebc3000, 2)
    write("virtio_blk", "msix", 3, s)


def virtio_net():
    F = (1 << 5) | (1 << 16) | (1 << 28) | (1 << 29) | (1 << 32)
    RD, RA, RU = 0x10000, 0x11000, 0x12000
    TD, TA, TU = 0x13000, 0x14000, 0x15000
    for cfg, feat, name in ((0, F, "rx_tx"), (0, F | (1 << 15), "mrg_rxbuf"),
                            (12, F | 1 | 2 | (1 << 7) | (1 << 11), "vnet_offload")):
        s = vp_negotiate(feat) + vp_queue(0, 16, RD, RA, RU)
        s += vp_queue(1, 16, TD, TA, TU) + mmio_wr(COMMON + 0x14, 0x0f, 1)
        s += mmio_rd(DEVCFG, 4) + mmio_rd(DEVCFG + 6, 2)
        for i in range(4):
            s += desc(RD, i, 0x20000 + 0x800 * i, 1526 if i < 2 else 100, WRITE, 0)
            s += avail_add(RA, i, i, 16)
        s += mmio_wr(NOTIFY, 0, 2)
        hdr = b"\x01\x00" + bytes(10) if cfg else b""
        fr = hdr + b"\xff" * 6 + bytes(6) + b"\x08\x00" + bytes(range(46))
        s += frame(4, len(fr), fr) + mmio_rd(ISR, 1)
        s += frame(0, 300 + len(hdr), hdr) + frame(0, 1514 + len(hdr), hdr)
        s += ram(0x30000, bytes(12) + fr[len(hdr):])
        s += desc(TD, 0, 0x30000, 12, NEXT, 1) + desc(TD, 1, 0x3000c, 60, 0, 0)
        s += avail_add(TA, 0, 0, 16) + mmio_wr(NOTIFY + 4, 1, 2)
        s += ram(0x31000, b"\x01\x01" + bytes(10) + fr[len(hdr):])
        s += desc(TD, 2, 0x31000, 72, 0, 0) + avail_add(TA, 1, 2, 16)
        s += mmio_wr(NOTIFY + 4, 1, 2) + aux(4) + aux(5) + mmio_rd(ISR, 1)
        write("virtio_net", name, cfg, s)


legacy()
fw_cfg()
pci()
ide()
ne2000()
virtio_blk()
virtio_net()
