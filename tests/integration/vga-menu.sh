#!/bin/sh
# Syslinux's graphical menu and memtest86+ on the standard VGA: SeaBIOS
# boots the VGA test CD (images/mkvgaiso.sh) from the ATAPI drive with
# -vga std; ISOLINUX starts vesamenu.c32, which sets a 640x480 VBE mode
# through vgabios-stdvga's VBE calls and draws the menu (images/vgamenu.cfg)
# on a one-colour PNG background in the linear framebuffer. The monitor's
# screendump must show that menu: the background colour at the corners,
# the red frame, the yellow title and the green bar of the selected entry
# inside the frame, at the places the menu layout puts them. Enter on COM1
# (ISOLINUX's SERIAL) then boots memtest86+ (Debian's memtest86+x64.bin),
# whose main screen, read with `screendump -t`, must show its title and a
# test running.
#
# usage: vga-menu.sh [MINIVMM [ISO]]
# env: SEABIOS (default /usr/share/seabios/bios.bin), VGA_MENU_TIMEOUT (s,
#   default 400), WORK (a work directory to use and keep; the screendumps
#   land there), KEEP=1 (keep a temporary work directory).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
if ! [ -c /dev/kvm ] || ! { : <>/dev/kvm; } 2>/dev/null; then
	echo "SKIP: no /dev/kvm"
	exit 0
fi
MINIVMM=$(realpath "${1:-$top/minivmm}")
ISO=$(realpath "${2:-$top/images/out/vgamenu.iso}")
SEABIOS=${SEABIOS:-/usr/share/seabios/bios.bin}
for f in "$MINIVMM" "$SEABIOS" "$ISO" /usr/share/seabios/vgabios-stdvga.bin; do
	if ! [ -f "$f" ]; then
		echo "vga-menu: missing $f"
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
	WORK=$(mktemp -d /tmp/vga-menu.XXXXXX)
fi
if [ "${KEEP:-0}" = 1 ]; then
	echo "vga-menu: work directory $WORK"
else
	trap 'rm -rf "$WORK"' EXIT
fi
export MINIVMM SEABIOS ISO WORK TIMEOUT="${VGA_MENU_TIMEOUT:-400}"
export PYTHONPATH="$here" PYTHONDONTWRITEBYTECODE=1

python3 - <<'PYEOF'
import os, re, signal, sys, time
from console import Console, Checks, Timeout
from vgalib import Monitor, png_rgb, pixel, colour_boxes

env = os.environ
work = env["WORK"]
start = time.monotonic()
deadline = start + float(env["TIMEOUT"])
checks = Checks()
signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
signal.signal(signal.SIGHUP, lambda *_: sys.exit(1))

BG, RED, YELLOW, GREEN = 0x204080, 0xff0000, 0xffff00, 0x00ff00
WHITE, CYAN, BLACK = 0xffffff, 0x00ffff, 0x000000
COLOURS = [BG, RED, YELLOW, GREEN, WHITE, CYAN, BLACK]

def elapsed():
    return time.monotonic() - start

def errlog():
    try:
        return open(os.path.join(work, "stderr.log")).read()[-1500:]
    except OSError:
        return ""

sock = os.path.join(work, "monitor.sock")
argv = [env["MINIVMM"], "-bios", env["SEABIOS"], "-m", "128M",
        "-cdrom", env["ISO"], "-boot", "d", "-vga", "std",
        "-display", "none", "-nographic", "-no-reboot",
        "-monitor", "unix:%s,server,nowait" % sock]
con = Console(argv, os.path.join(work, "console.log"), deadline,
              os.path.join(work, "stderr.log"))
try:
    con.start()
    mon = Monitor(sock, deadline, lambda: con.proc.poll() is None)
    if not checks.check("monitor socket", mon.s is not None, errlog()):
        raise Timeout("no monitor")

    # ---- the menu ----
    # The menu is drawn once the VBE mode is set; shoot until the selected
    # entry's bar is there (the last part drawn), then judge that frame.
    info, img, boxes, n = "", None, {}, 0
    shot = os.path.join(work, "menu.png")
    # At most 200 s, so that a menu that never shows leaves time for the
    # rest.
    menu_end = min(deadline, time.monotonic() + 200)
    while time.monotonic() < menu_end and con.proc.poll() is None:
        con.drain(0.05)
        info = mon.cmd("info vga")
        if "VBE" in info:
            mon.cmd("screendump " + shot)
            n += 1
            try:
                img = png_rgb(shot)
            except (OSError, ValueError):
                img = None
            if img:
                boxes = colour_boxes(img, COLOURS)
                if boxes[GREEN] and boxes[YELLOW] and boxes[RED]:
                    # One more after a pause: the frame the menu settled on.
                    time.sleep(2)
                    mon.cmd("screendump " + shot)
                    img = png_rgb(shot)
                    boxes = colour_boxes(img, COLOURS)
                    break
        time.sleep(1)
    print("vga-menu: %.1f s, %d screendumps; %s" % (elapsed(), n,
                                                    info.strip()))
    for c, b in sorted(boxes.items()):
        print("  colour %06x: %s" % (c, b and "%d pixels in (%d,%d)-(%d,%d)"
                                     % tuple(b)))
    # vesamenu asks the VBE BIOS for a 640x480 direct-colour mode
    # (vgabios-stdvga lists 24 and 32 bpp ones) with the linear
    # framebuffer, which minivmm maps as a dirty-logged KVM slot.
    checks.check("info vga: VBE 640x480 24/32 bpp, linear framebuffer mapped",
                 re.search(r"VBE 640x480 (24|32) bpp \(linear framebuffer\)"
                           r".*VRAM mapped", info) is not None, info)
    ok = img is not None and img[:2] == (640, 480)
    checks.check("screendump is 640x480", ok,
                 img and "%dx%d" % img[:2] or "no PNG")
    if ok:
        corners = [pixel(img, x, y) for x, y in
                   ((0, 0), (639, 0), (0, 479), (639, 479), (320, 8))]
        checks.check("background colour at the corners",
                     all(c == BG for c in corners),
                     " ".join("%06x" % c for c in corners))
        # Where Syslinux 6.04's vesamenu puts the parts of this menu at
        # 640x480 with its 8x16 font (MENU WIDTH 80, MARGIN 10, ROWS 12,
        # the defaults): the frame 57 columns wide from pixel 91, the
        # title centred in its first line, the selected entry's bar one
        # glyph high under the title line, two pixels of slack each way.
        expect = {RED: (91, 15, 548, 255), YELLOW: (256, 26, 382, 35),
                  GREEN: (96, 56, 543, 71), WHITE: (104, 74, 334, 83),
                  CYAN: (208, 282, 422, 294),
                  BLACK: (104, 57, 413, 67)}
        names = {RED: "red frame", YELLOW: "yellow title",
                 GREEN: "green bar of the selected entry",
                 WHITE: "white label of the other entry",
                 BLACK: "black label of the selected entry", CYAN: "cyan tab message"}
        for c, want in expect.items():
            b = boxes[c]
            ok = b is not None and b[0] >= 100 and all(
                abs(g - w) <= 2 for g, w in zip(b[1:], want))
            checks.check("%s at (%d,%d)-(%d,%d)" % ((names[c],) + want), ok,
                         "got %s" % (b and "%d pixels in (%d,%d)-(%d,%d)"
                                     % tuple(b)))
        # The bar is a solid row of its colour from end to end (the
        # label's black text inside it aside).
        g = boxes[GREEN]
        if g:
            run = [pixel(img, x, g[2]) for x in range(g[1], g[3] + 1)]
            checks.check("the bar's top line is solid green",
                         all(c == GREEN for c in run))
        # Nothing but the menu's colours and the background: a frame
        # drawn with a wrong palette or pixel format shows other colours.
        w, h, rows = img
        other = set()
        allowed = set(COLOURS)
        for yy in range(h):
            row = rows[yy]
            for xx in range(w):
                c = row[3 * xx] << 16 | row[3 * xx + 1] << 8 | row[3 * xx + 2]
                if c not in allowed:
                    other.add(c)
        checks.check("only the configured colours on the screen",
                     not other, " ".join("%06x" % c for c in
                                         sorted(other)[:10]))

    # ---- a key moves the bar: the redraw comes through the dirty log ----
    def bar_after(keys, want_y, name):
        con.proc.stdin.write(keys)
        con.proc.stdin.flush()
        g = None
        end = min(deadline, time.monotonic() + 60)
        while time.monotonic() < end and con.proc.poll() is None:
            con.drain(0.05)
            path = os.path.join(work, name + ".png")
            mon.cmd("screendump " + path)
            try:
                g = colour_boxes(png_rgb(path), [GREEN])[GREEN]
            except (OSError, ValueError):
                g = None
            if g and abs(g[2] - want_y) <= 2 and abs(g[4] - want_y - 15) <= 2:
                break
            time.sleep(0.5)
        checks.check("%s: the bar at rows %d-%d" % (name, want_y, want_y + 15),
                     g and abs(g[2] - want_y) <= 2 and
                     abs(g[4] - want_y - 15) <= 2, "green at %s" % g)
    if img is not None:
        bar_after(b"\x1b[B", 72, "down")  # ANSI cursor down on COM1
        bar_after(b"\x1b[A", 56, "up")
        print("vga-menu: " + mon.cmd("info vga").strip())

    # ---- memtest86+ ----
    t0 = time.monotonic()
    con.proc.stdin.write(b"\r")
    con.proc.stdin.flush()
    screen = ""
    title = re.compile(r"Memtest86\+ v?\d")
    progress = re.compile(r"Pass\s+\d+%.*\n(.*\n)*.*Test\s+\d+%", re.S)
    while time.monotonic() < deadline and con.proc.poll() is None:
        con.drain(0.05)
        screen = mon.cmd("screendump -t")
        if title.search(screen) and re.search(r"Test\s*#\s*\d", screen):
            break
        time.sleep(2)
    print("vga-menu: memtest86+ after %.1f s; the screen:" %
          (time.monotonic() - t0))
    for l in screen.splitlines()[:12]:
        print("  | " + l)
    with open(os.path.join(work, "memtest.txt"), "w") as f:
        f.write(screen)
    checks.check("memtest86+ title on the text screen",
                 title.search(screen), screen[:400] + errlog())
    checks.check("memtest86+ is running a test (Test #N, Status: Testing)",
                 re.search(r"Test\s*#\s*\d", screen) and
                 re.search(r"Status:\s*Testing", screen), screen[:800])
    mon.cmd("screendump " + os.path.join(work, "memtest.png"))
except Timeout as e:
    checks.check("no timeout", False, str(e))
finally:
    try:
        mon.cmd("quit", 5)
    except Exception:
        pass
    rc = con.stop()
checks.summary()
sys.exit(1 if checks.failed else 0)
PYEOF
