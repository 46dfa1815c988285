#!/bin/sh
# The README's screenshot: the VGA test CD's vesamenu.c32 menu as minivmm's
# SDL window shows it. minivmm runs with -display sdl on SDL's x11 driver
# under Xvfb (a 640x480 screen, no window manager, so the window covers
# the root window), and ImageMagick's import captures the X screen once
# the monitor's screendump shows the menu drawn. Needs KVM (run it through
# tests/kvmhost/run, as `make screenshot` does), Xvfb (xvfb) and import
# (imagemagick); it is not part of make check.
#
# usage: images/screenshot.sh MINIVMM ISO OUT.png
set -eu

here=$(cd "$(dirname "$0")" && pwd)
MINIVMM=$(realpath "$1")
ISO=$(realpath "$2")
OUT=$3
for t in Xvfb import; do
	command -v $t >/dev/null || {
		echo "screenshot: no $t (apt-get install xvfb imagemagick)" >&2
		exit 1
	}
done
work=$(mktemp -d /tmp/screenshot.XXXXXX)
xpid= vpid=
cleanup() {
	[ -n "$vpid" ] && kill "$vpid" 2>/dev/null
	[ -n "$xpid" ] && kill "$xpid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
disp=:$((90 + $$ % 9))
Xvfb "$disp" -screen 0 640x480x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
xpid=$!
i=0
while ! DISPLAY=$disp xwininfo -root >/dev/null 2>&1 && [ $i -lt 50 ]; do
	sleep 0.2
	i=$((i + 1))
done
DISPLAY=$disp SDL_VIDEODRIVER=x11 "$MINIVMM" -bios /usr/share/seabios/bios.bin \
	-m 128M -cdrom "$ISO" -boot d -vga std -display sdl -serial null \
	-monitor "unix:$work/mon,server,nowait" >"$work/vmm.log" 2>&1 &
vpid=$!
export WORK=$work PYTHONPATH="$here/../tests/integration"
python3 - <<'PYEOF'
import os, sys, time
from vgalib import Monitor, png_rgb, colour_boxes
work = os.environ["WORK"]
deadline = time.monotonic() + 240
mon = Monitor(os.path.join(work, "mon"), deadline, lambda: True)
while time.monotonic() < deadline:
    if "VBE" in mon.cmd("info vga"):
        shot = os.path.join(work, "s.png")
        mon.cmd("screendump " + shot)
        b = colour_boxes(png_rgb(shot), [0x00ff00, 0x00ffff])
        if all(b.values()):
            time.sleep(2)  # the window's next refreshes
            sys.exit(0)
    time.sleep(1)
sys.exit("screenshot: no menu within 240 s")
PYEOF
DISPLAY=$disp import -window root "$OUT"
echo "screenshot: wrote $OUT"
