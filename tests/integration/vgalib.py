"""Pieces of the VGA tests: the monitor over its unix socket, and PNG
screendumps read back into pixels (no imaging library needed).

A Monitor connects to minivmm's -monitor unix:PATH,server,nowait socket and
runs one command at a time, returning its answer up to the next prompt;
every wait is bounded. png_rgb() decodes the 8-bit RGB PNGs that the
monitor's screendump writes."""

import os
import socket
import struct
import time
import zlib


class Monitor:
    def __init__(self, path, deadline, alive):
        """Connects within the deadline while alive() says minivmm runs."""
        self.s = None
        self.buf = b""
        while time.monotonic() < deadline and alive():
            try:
                s = socket.socket(socket.AF_UNIX)
                s.connect(path)
                self.s = s
                break
            except OSError:
                time.sleep(0.2)
        if self.s:
            self.s.settimeout(5)
            self.cmd(None)  # the banner and first prompt

    def cmd(self, line, timeout=30.0):
        """Sends a line (None: nothing); the answer up to the prompt."""
        if self.s is None:
            return ""
        try:
            if line is not None:
                self.s.sendall(line.encode() + b"\n")
        except OSError:
            return ""
        end = time.monotonic() + timeout
        while b"(minivmm) " not in self.buf and time.monotonic() < end:
            try:
                d = self.s.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not d:
                break
            self.buf += d
        out, _, self.buf = self.buf.partition(b"(minivmm) ")
        return out.decode(errors="replace")


def png_rgb(path):
    """(width, height, rows of RGB bytearrays) of an 8-bit RGB PNG."""
    with open(path, "rb") as f:
        d = f.read()
    if d[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("%s: not a PNG" % path)
    pos, idat, w, h = 8, b"", 0, 0
    while pos + 8 <= len(d):
        n, kind = struct.unpack(">I4s", d[pos:pos + 8])
        body = d[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h = struct.unpack(">II", body[:8])
            if body[8:10] != b"\x08\x02":
                raise ValueError("%s: not 8-bit RGB" % path)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * 3
    rows, prev = [], bytearray(stride)
    for y in range(h):
        o = y * (stride + 1)
        f, line = raw[o], bytearray(raw[o + 1:o + 1 + stride])
        if f == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev))
        elif f:
            for i in range(stride):
                a = line[i - 3] if i >= 3 else 0
                b = prev[i]
                c = prev[i - 3] if i >= 3 else 0
                if f == 1:
                    line[i] = (line[i] + a) & 255
                elif f == 3:
                    line[i] = (line[i] + (a + b) // 2) & 255
                elif f == 4:
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pr = a if pa <= pb and pa <= pc else b if pb <= pc else c
                    line[i] = (line[i] + pr) & 255
        rows.append(line)
        prev = line
    return w, h, rows


def pixel(img, x, y):
    r = img[2][y]
    return r[3 * x] << 16 | r[3 * x + 1] << 8 | r[3 * x + 2]


def colour_boxes(img, colours):
    """{colour: [count, x0, y0, x1, y1]} of the pixels of each colour
    (inclusive bounding box), None for a colour that is absent."""
    w, h, rows = img
    want = {c: None for c in colours}
    keys = {bytes([c >> 16, (c >> 8) & 255, c & 255]): c for c in colours}
    for y in range(h):
        row = bytes(rows[y])
        for k, c in keys.items():
            x = row.find(k)
            while x >= 0 and x % 3:
                x = row.find(k, x + 1)
            if x < 0:
                continue
            n, first, last = 0, -1, -1
            i = x
            while i >= 0:
                if i % 3 == 0:
                    n += 1
                    first = i if first < 0 else first
                    last = i
                i = row.find(k, i + 1)
            b = want[c]
            if b is None:
                want[c] = [n, first // 3, y, last // 3, y]
            else:
                b[0] += n
                b[1] = min(b[1], first // 3)
                b[3] = max(b[3], last // 3)
                b[4] = y
    return want
