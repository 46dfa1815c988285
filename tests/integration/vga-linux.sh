#!/bin/bash
# Stock Linux on the standard VGA: Debian's kernel (-kernel bzImage) loads
# Debian's bochs DRM driver (with drm, drm_kms_helper, ttm, drm_vram_helper
# and drm_ttm_helper) from the initramfs; the driver programs the Bochs VBE
# registers and its fbdev emulation gives /dev/fb0 and fbcon on tty1.
#  1. fbcon: the guest clears tty1 and prints a line of '#' and spaces;
#     in the screendump every '#' cell must hold the same non-empty glyph
#     (fbcon's grey on black) and every space cell must be black.
#  2. /dev/fb0: the guest writes a known picture (made here, carried in the
#     initramfs) into the whole visible framebuffer; the screendump must
#     equal it pixel for pixel.
#  3. The PS/2 mouse: Debian's psmouse must find a wheel mouse on the
#     i8042's aux port; the monitor's mouse_move and mouse_button must come
#     out of /dev/input/mice (mousedev) as the matching packets.
#
# usage: vga-linux.sh [MINIVMM]
# env: LINUX_DIR (images/out/linux; built with images/mklinux.sh if
#   missing), VGA_LINUX_TIMEOUT (s, default 600), WORK (a work directory to
#   use and keep), KEEP=1.
set -eu

src=$(cd "$(dirname "$0")/../.." && pwd)
name=vga-linux
. "$src/tests/integration/guestlib.sh"
guest_need_kvm
MINIVMM=$(realpath "${1:-$src/minivmm}")
[ -x "$MINIVMM" ] || { echo "$name: no minivmm at $MINIVMM"; exit 1; }
guest_need_linux
if [ -n "${WORK:-}" ]; then
	rm -rf "$WORK"
	mkdir -p "$WORK"
	WORK=$(cd "$WORK" && pwd)
	KEEP=1
else
	WORK=$(mktemp -d /tmp/vga-linux.XXXXXX)
fi
if [ "${KEEP:-0}" = 1 ]; then
	echo "$name: work directory $WORK"
else
	trap 'rm -rf "$WORK"' EXIT
fi
work=$WORK

W=1024 H=768
root=$work/root
guest_root "$root" bochs psmouse
# The picture: W x H XRGB8888 as /dev/fb0 takes it (little-endian B G R X).
python3 - "$root/picture" "$W" "$H" <<'PYEOF'
import sys
path, w, h = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
out = bytearray(w * h * 4)
for y in range(h):
    for x in range(w):
        o = 4 * (y * w + x)
        out[o] = (x * y >> 3) & 255           # blue
        out[o + 1] = (x ^ y) & 255            # green
        out[o + 2] = (x * 7 + y * 13) & 255   # red
open(path, "wb").write(out)
PYEOF
cat >"$root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /lib/modules/load.list); do
	insmod /lib/modules/$m || echo "FB: FAIL insmod $m"
done
i=0
while [ ! -e /dev/fb0 ] && [ $i -lt 100 ]; do
	sleep 0.2
	i=$((i + 1))
done
g=/sys/class/graphics/fb0
echo "FB: $(cat $g/name 2>&1) size $(cat $g/virtual_size 2>&1)" \
	"bpp $(cat $g/bits_per_pixel 2>&1) stride $(cat $g/stride 2>&1)"
# fbcon on tty1: no cursor, no blink; a clear screen and one line.
echo 0 >/sys/class/graphics/fbcon/cursor_blink 2>/dev/null
printf '\033[?25l\033[2J\033[H# ## ###  #\n' >/dev/tty1
sleep 1
echo "FB: TEXT-READY"
read -r go
cat /picture >/dev/fb0 && echo "FB: PICTURE-READY"
read -r go
# The PS/2 mouse through psmouse and mousedev's /dev/input/mice.
i=0
while ! grep -q 'PS/2' /proc/bus/input/devices && [ $i -lt 50 ]; do
	sleep 0.2
	i=$((i + 1))
done
echo "FB: MOUSE $(grep -o 'Name="[^"]*PS/2[^"]*"' /proc/bus/input/devices)"
dd if=/dev/input/mice bs=1 count=9 2>/dev/null | od -An -tx1 >/tmp/mice &
sleep 1
echo "FB: MOUSE-READY"
wait
echo "FB: MICE" $(cat /tmp/mice)
read -r go
poweroff -f
EOF
chmod 755 "$root/init"
guest_cpio "$root" "$work/initramfs.cpio"

export MINIVMM WORK KERNEL="$linux/vmlinuz" APPEND="$GUEST_APPEND" W H
export TIMEOUT="${VGA_LINUX_TIMEOUT:-600}"
export PYTHONPATH="$src/tests/integration" PYTHONDONTWRITEBYTECODE=1
python3 - <<'PYEOF'
import os, re, signal, sys, time
from console import Console, Checks, Timeout
from vgalib import Monitor, png_rgb, pixel

env = os.environ
work = env["WORK"]
W, H = int(env["W"]), int(env["H"])
start = time.monotonic()
deadline = start + float(env["TIMEOUT"])
checks = Checks()
signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
signal.signal(signal.SIGHUP, lambda *_: sys.exit(1))
sock = os.path.join(work, "monitor.sock")
argv = [env["MINIVMM"], "-kernel", env["KERNEL"],
        "-initrd", os.path.join(work, "initramfs.cpio"),
        "-append", env["APPEND"] + " vt.global_cursor_default=0",
        "-m", "256M", "-vga", "std", "-display", "none", "-nographic",
        "-no-reboot", "-monitor", "unix:%s,server,nowait" % sock]
con = Console(argv, os.path.join(work, "console.log"), deadline,
              os.path.join(work, "stderr.log"))
mon = None
try:
    con.start()
    mon = Monitor(sock, deadline, lambda: con.proc.poll() is None)
    m = con.expect(rb"FB: (\S+) size (\d+),(\d+) bpp (\d+) stride (\d+)\r?\n",
                   400)
    print("vga-linux: %.1f s: %s" % (time.monotonic() - start,
                                     m.group(0).decode()))
    checks.check("bochs DRM gives /dev/fb0 %dx%d, 32 bpp" % (W, H),
                 m.group(1).startswith(b"bochs") and int(m.group(2)) == W
                 and int(m.group(4)) == 32, m.group(0).decode())
    con.expect(rb"FB: TEXT-READY", 60)
    info = mon.cmd("info vga")
    print("vga-linux: " + info.strip())
    checks.check("info vga: VBE %dx%d 32 bpp, linear framebuffer" % (W, H),
                 "VBE %dx%d 32 bpp (linear framebuffer)" % (W, H) in info,
                 info)
    shot = os.path.join(work, "fbcon.png")
    mon.cmd("screendump " + shot)
    img = png_rgb(shot)
    checks.check("screendump is %dx%d" % (W, H), img[:2] == (W, H),
                 "%dx%d" % img[:2])
    # The first line, cell by cell (fbcon's 8x16 font from pixel 0,0).
    line = "# ## ###  #"
    cells = []
    for i in range(len(line)):
        cells.append(tuple(pixel(img, 8 * i + x, y)
                           for y in range(16) for x in range(8)))
    glyph = cells[0]
    lit = [c for c in glyph if c]
    ok = len(lit) >= 20 and len(set(lit)) == 1
    checks.check("a '#' glyph in one colour at cell 0 (%d pixels, %s)"
                 % (len(lit), " ".join("%06x" % c for c in set(lit))), ok)
    # '#' in the IBM VGA 8x16 font (Linux's font_vga_8x16), row by row.
    hash_rows = [0, 0, 0, 0x6c, 0x6c, 0xfe, 0x6c, 0x6c, 0x6c, 0xfe, 0x6c,
                 0x6c, 0, 0, 0, 0]
    got = [sum(0x80 >> x for x in range(8) if glyph[8 * y + x])
           for y in range(16)]
    checks.check("cell 0 is the VGA font's '#'", got == hash_rows,
                 " ".join("%02x" % b for b in got))
    bad = [i for i, ch in enumerate(line)
           if (ch == "#" and cells[i] != glyph) or
           (ch == " " and any(cells[i]))]
    checks.check("fbcon's line: '#' cells the same glyph, spaces black",
                 not bad, "cells %s differ" % bad)
    # Below the text, the console is black.
    rest = sum(1 for y in range(32, H, 7) for x in range(0, W, 5)
               if pixel(img, x, y))
    checks.check("the rest of tty1 black", rest == 0,
                 "%d lit pixels sampled" % rest)

    con.proc.stdin.write(b"go\n")
    con.proc.stdin.flush()
    con.expect(rb"FB: PICTURE-READY", 120)
    want = lambda x, y: (((x * 7 + y * 13) & 255) << 16 |
                         ((x ^ y) & 255) << 8 | ((x * y >> 3) & 255))
    # fbdev's deferred damage copy reaches VRAM shortly after the write.
    diff, first = -1, None
    end = min(deadline, time.monotonic() + 60)
    shot = os.path.join(work, "picture.png")
    while time.monotonic() < end:
        mon.cmd("screendump " + shot)
        img = png_rgb(shot)
        rows = img[2]
        diff, first = 0, None
        for y in range(H):
            r = rows[y]
            for x in range(W):
                if (r[3 * x] << 16 | r[3 * x + 1] << 8 | r[3 * x + 2]) != \
                        want(x, y):
                    diff += 1
                    if first is None:
                        first = (x, y)
        if diff == 0:
            break
        time.sleep(1)
    detail = ""
    if diff:
        # Was it in VRAM? A full redraw tells a dirty page the tracking
        # missed from a picture the guest never finished.
        full = os.path.join(work, "picture-full.png")
        mon.cmd("screendump -f " + full)
        rows = png_rgb(full)[2]
        fdiff = sum(1 for y in range(H) for x in range(W)
                    if (rows[y][3 * x] << 16 | rows[y][3 * x + 1] << 8 |
                        rows[y][3 * x + 2]) != want(x, y))
        detail = ("; a full redraw has %d pixels wrong (%s); %s" %
                  (fdiff, "the dirty log missed pages" if fdiff == 0 else
                   "VRAM lacks them", mon.cmd("info vga").strip()))
    checks.check("the picture written to /dev/fb0, pixel for pixel",
                 diff == 0, "%d pixels differ, first at %s%s" %
                 (diff, first, detail))
    # The PS/2 mouse: the monitor moves it and presses a button; Linux's
    # psmouse must have found it and mousedev must pass the moves on.
    con.proc.stdin.write(b"go\n")
    con.proc.stdin.flush()
    m = con.expect(rb"FB: MOUSE ([^\r\n]*)\r?\n", 60)
    name = m.group(1).decode(errors="replace").strip()
    print("vga-linux: " + name)
    checks.check("psmouse found a PS/2 wheel mouse (ImPS/2)",
                 "ImPS/2" in name, name)
    con.expect(rb"FB: MOUSE-READY", 30)
    for c in ("mouse_move 10 -5", "mouse_button 1", "mouse_button 0"):
        r = mon.cmd(c)
        checks.check("monitor: " + c, r.strip() == "", r)
    m = con.expect(rb"FB: MICE ([0-9a-f ]*)\r?\n", 60)
    got = m.group(1).decode().split()
    # mousedev's PS/2 packets: right 10 and up 5, left pressed, released.
    want = "08 0a 05 09 00 00 08 00 00".split()
    checks.check("/dev/input/mice: move, press, release", got == want,
                 " ".join(got))
    con.proc.stdin.write(b"go\n")
    con.proc.stdin.flush()
    end = time.monotonic() + 60
    while time.monotonic() < end and con.proc.poll() is None:
        con.drain(0.2)
    rc = con.proc.poll()
    checks.check("poweroff ends minivmm with status 0", rc == 0,
                 "status %s" % rc)
except Timeout as e:
    checks.check("no timeout", False, "%s\n%s" % (e, con.tail(30)))
finally:
    con.stop()
checks.summary()
sys.exit(1 if checks.failed else 0)
PYEOF
