#!/bin/sh
# SeaBIOS on the standard VGA: minivmm runs Debian's SeaBIOS with -vga std
# (vgabios-stdvga.bin in the VGA's ROM BAR) and no boot device, headless,
# with the monitor on a socket. SeaBIOS finds the VGA at 00:02.0, runs its
# option ROM, sets mode 3 and prints its banner on the text screen; this
# script asks the monitor for the text screen (screendump -t) until the
# banner is there, then checks info vga, a PNG screendump and a text
# screendump file. Once more with -display sdl on SDL's dummy video
# driver: the window's refresh timer must redraw while SeaBIOS runs.
# Then the linear framebuffer under KVM: the vga guest (tests/guest/vga.c)
# sets a VBE mode and draws into BAR0, which minivmm maps as a KVM slot
# with dirty logging; PNG screendumps after each of its two phases must
# show what it drew, the second one through the dirty log only (a
# screendump redraws incrementally, as the window does).
#
# usage: vga-seabios.sh [MINIVMM [GUEST_DIR]]
# env: SEABIOS (default /usr/share/seabios/bios.bin), VGA_TIMEOUT (s,
#   default 240), KEEP=1 (keep the work directory with the logs), WORK (a
#   work directory to use and keep, e.g. one under build/ that the KVM test
#   VM copies back).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
if ! [ -c /dev/kvm ] || ! { : <>/dev/kvm; } 2>/dev/null; then
	echo "SKIP: no /dev/kvm"
	exit 0
fi
MINIVMM=$(realpath "${1:-$top/minivmm}")
GUEST=$(realpath "${2:-$top/build/tests/guest}")/vga.bin
SEABIOS=${SEABIOS:-/usr/share/seabios/bios.bin}
for f in "$MINIVMM" "$SEABIOS" "$GUEST" \
	/usr/share/seabios/vgabios-stdvga.bin; do
	if ! [ -f "$f" ]; then
		echo "vga-seabios: missing $f"
		echo "0 passed, 1 failed"
		exit 1
	fi
done
if [ -n "${WORK:-}" ]; then
	rm -rf "$WORK"
	mkdir -p "$WORK"
	WORK=$(cd "$WORK" && pwd)
	KEEP=1
else
	WORK=$(mktemp -d /tmp/vga-seabios.XXXXXX)
fi
if [ "${KEEP:-0}" = 1 ]; then
	echo "vga-seabios: work directory $WORK"
else
	trap 'rm -rf "$WORK"' EXIT
fi
export MINIVMM SEABIOS GUEST WORK TIMEOUT="${VGA_TIMEOUT:-240}"

python3 - <<'PYEOF'
import os, re, socket, struct, subprocess, sys, time, zlib

env = os.environ
work = env["WORK"]
deadline = time.monotonic() + float(env["TIMEOUT"])
passed = failed = 0

def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print("ok     " + name)
    else:
        failed += 1
        print("FAILED %s %s" % (name, detail))

def tail(name, n=1500):
    try:
        with open(os.path.join(work, name), errors="replace") as f:
            return f.read()[-n:]
    except OSError:
        return ""

class Monitor:
    def __init__(self, path, vm):
        self.s = None
        self.buf = b""
        while time.monotonic() < deadline and vm.poll() is None:
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

    def cmd(self, line):
        """Sends a line (None: nothing); the answer up to the prompt."""
        if line is not None:
            self.s.sendall(line.encode() + b"\n")
        end = time.monotonic() + 30
        while b"(minivmm) " not in self.buf and time.monotonic() < end:
            try:
                d = self.s.recv(65536)
            except socket.timeout:
                continue
            if not d:
                break
            self.buf += d
        out, _, self.buf = self.buf.partition(b"(minivmm) ")
        return out.decode(errors="replace")

def start(name, args, stdout=None):
    sock = os.path.join(work, name + ".sock")
    err = open(os.path.join(work, name + ".err"), "w")
    if "-display" not in args:
        args = args + ["-display", "none"]
    argv = [env["MINIVMM"]] + args + ["-vga", "std",
            "-monitor", "unix:%s,server,nowait" % sock, "-no-reboot"]
    vm = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                          stdout=stdout or err, stderr=err)
    return vm, Monitor(sock, vm)

def finish(name, vm, mon):
    try:
        mon.s.sendall(b"quit\n")
    except OSError:
        pass
    try:
        rc = vm.wait(30)
    except subprocess.TimeoutExpired:
        vm.kill()
        rc = -1
    check(name + ": quit ends minivmm with status 0", rc == 0,
          "status %s: %s" % (rc, tail(name + ".err")))

def png_rgb(path):
    """(width, height, rows of RGB bytes) of an 8-bit RGB PNG."""
    d = open(path, "rb").read()
    assert d[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, w, h = 8, b"", 0, 0
    while pos < len(d):
        n, kind = struct.unpack(">I4s", d[pos:pos + 8])
        body = d[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * 3
    rows, prev = [], bytearray(stride)
    for y in range(h):
        o = y * (stride + 1)
        f, line = raw[o], bytearray(raw[o + 1:o + 1 + stride])
        for i in range(stride):
            a = line[i - 3] if i >= 3 else 0
            b = prev[i]
            c = prev[i - 3] if i >= 3 else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
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

banner = re.compile(r"SeaBIOS \(version [^\n]*\)")

# ---- SeaBIOS's banner on the text screen ----
vm, mon = start("seabios", ["-bios", env["SEABIOS"], "-m", "64",
                "-serial", "file:" + os.path.join(work, "com1.log"),
                "-debugcon", "file:" + os.path.join(work, "seabios.log")])
if mon.s is None:
    check("seabios: monitor", False, "no socket: " + tail("seabios.err"))
else:
    screen = ""
    t0 = time.monotonic()
    while time.monotonic() < deadline and vm.poll() is None:
        screen = mon.cmd("screendump -t")
        # The whole banner line: the screen may be caught mid-line.
        if banner.search(screen):
            break
        time.sleep(1)
    check("banner on the VGA text screen", banner.search(screen),
          "screen:\n%s\nSeaBIOS log:\n%s" % (screen, tail("seabios.log")))
    print("vga-seabios: banner after %.1f s; the screen:" %
          (time.monotonic() - t0))
    for l in screen.splitlines()[:4]:
        print("  | " + l)
    info = mon.cmd("info vga")
    check("info vga says text 80x25", "text 80x25" in info, info)
    png = os.path.join(work, "shot.png")
    r = mon.cmd("screendump " + png)
    ok = os.path.exists(png) and png_rgb(png)[:2] == (720, 400)
    check("screendump writes a 720x400 PNG", ok, r)
    txt = os.path.join(work, "shot.txt")
    r = mon.cmd("screendump " + txt)
    ok = os.path.exists(txt) and banner.search(open(txt).read())
    check("screendump FILE.txt writes the text screen", ok, r)
    finish("seabios", vm, mon)

# ---- the same with -display sdl on SDL's dummy video driver ----
os.environ["SDL_VIDEODRIVER"] = "dummy"
vm, mon = start("sdl", ["-bios", env["SEABIOS"], "-m", "64",
                "-serial", "null", "-display", "sdl"])
if mon.s is None:
    check("sdl: monitor", False, "no socket: " + tail("sdl.err"))
else:
    screen = ""
    while time.monotonic() < deadline and vm.poll() is None:
        screen = mon.cmd("screendump -t")
        if banner.search(screen):
            break
        time.sleep(1)
    time.sleep(0.5)
    info = mon.cmd("info vga")
    print("vga-seabios: " + info.strip())
    m = re.search(r"SDL window: (\d+) refreshes, (\d+) redraws", info)
    check("sdl: banner, and the window's timer redraws",
          banner.search(screen) and m and int(m.group(2)) > 0,
          "%s\n%s\n%s" % (screen[:200], info, tail("sdl.err")))
    finish("sdl", vm, mon)
del os.environ["SDL_VIDEODRIVER"]

# ---- the linear framebuffer through a dirty-logged KVM slot ----
out_path = os.path.join(work, "lfb.out")
out = open(out_path, "w")
vm, mon = start("lfb", ["-bios", env["GUEST"], "-m", "16"], stdout=out)

def wait_line(text):
    while time.monotonic() < deadline and vm.poll() is None:
        if text in open(out_path).read():
            return True
        time.sleep(0.05)
    return False

if mon.s is None:
    check("lfb: monitor", False, "no socket: " + tail("lfb.err"))
else:
    ok1 = wait_line("VGA-READY 1")
    a = os.path.join(work, "lfb1.png")
    mon.cmd("screendump " + a)
    ok2 = ok1 and wait_line("VGA-READY 2")
    b = os.path.join(work, "lfb2.png")
    mon.cmd("screendump " + b)
    info = mon.cmd("info vga")
    print("vga-seabios: " + info.strip())
    log = open(out_path).read()
    check("lfb: the guest's checks pass", ok2 and "FAIL" not in log and
          "PASS vga-lfb-readback" in log, log[-800:])
    check("lfb: info vga says VBE 640x480 32 bpp, VRAM a KVM slot",
          "VBE 640x480 32 bpp" in info and "VRAM mapped" in info, info)
    if ok2:
        i1, i2 = png_rgb(a), png_rgb(b)
        check("lfb: phase 1 frame", i1[:2] == (640, 480) and
              pixel(i1, 7, 100) == 0xff0000 and
              pixel(i1, 320, 240) == 0xffffff and pixel(i1, 9, 200) == 0,
              "%06x %06x %06x" % (pixel(i1, 7, 100), pixel(i1, 320, 240),
                                  pixel(i1, 9, 200)))
        check("lfb: phase 2 rows drawn through the dirty log",
              pixel(i2, 9, 200) == 0x00ff00 and
              pixel(i2, 7, 100) == 0xff0000,
              "%06x %06x" % (pixel(i2, 9, 200), pixel(i2, 7, 100)))
    finish("lfb", vm, mon)
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
PYEOF
