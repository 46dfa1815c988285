#!/bin/sh
# SeaBIOS on the standard VGA: minivmm runs Debian's SeaBIOS with -vga std
# (vgabios-stdvga.bin in the VGA's ROM BAR) and no boot device, headless,
# with the monitor on a socket. SeaBIOS finds the VGA at 00:02.0, runs its
# option ROM, sets mode 3 and prints its banner on the text screen; this
# script asks the monitor for the text screen (screendump -t) until the
# banner is there, then checks info vga, a PNG screendump and a text
# screendump file.
#
# usage: vga-seabios.sh [MINIVMM]
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
SEABIOS=${SEABIOS:-/usr/share/seabios/bios.bin}
for f in "$MINIVMM" "$SEABIOS" /usr/share/seabios/vgabios-stdvga.bin; do
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
export MINIVMM SEABIOS WORK TIMEOUT="${VGA_TIMEOUT:-240}"

python3 - <<'EOF'
import os, re, socket, subprocess, sys, time

env = os.environ
work = env["WORK"]
sock = os.path.join(work, "mon.sock")
deadline = time.monotonic() + float(env["TIMEOUT"])
argv = [env["MINIVMM"], "-bios", env["SEABIOS"], "-m", "64", "-vga", "std",
        "-display", "none", "-serial", "file:" + os.path.join(work, "com1.log"),
        "-debugcon", "file:" + os.path.join(work, "seabios.log"),
        "-monitor", "unix:%s,server,nowait" % sock, "-no-reboot"]
err = open(os.path.join(work, "stderr.log"), "w")
vm = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=err, stderr=err)
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

s = None
while time.monotonic() < deadline and vm.poll() is None:
    try:
        s = socket.socket(socket.AF_UNIX)
        s.connect(sock)
        break
    except OSError:
        s = None
        time.sleep(0.2)
if s is None:
    check("monitor", False, "no socket; stderr: " + tail("stderr.log"))
    vm.kill()
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1)
s.settimeout(5)
buf = b""

def cmd(line):
    """Sends a line (None: nothing), returns the answer up to the next
    prompt."""
    global buf
    if line is not None:
        s.sendall(line.encode() + b"\n")
    end = time.monotonic() + 30
    while b"(minivmm) " not in buf and time.monotonic() < end:
        try:
            d = s.recv(65536)
        except socket.timeout:
            continue
        if not d:
            break
        buf += d
    out, _, buf = buf.partition(b"(minivmm) ")
    return out.decode(errors="replace")

cmd(None)  # the banner and first prompt
screen = ""
t0 = time.monotonic()
while time.monotonic() < deadline and vm.poll() is None:
    screen = cmd("screendump -t")
    # The whole banner line: the screen may be caught mid-line.
    if re.search(r"SeaBIOS \(version [^\n]*\)", screen):
        break
    time.sleep(1)
check("banner on the VGA text screen",
      re.search(r"SeaBIOS \(version [^\n]*\)", screen),
      "screen:\n%s\nSeaBIOS log:\n%s" % (screen, tail("seabios.log")))
print("vga-seabios: banner after %.1f s; the screen:" % (time.monotonic() - t0))
for l in screen.splitlines()[:8]:
    print("  | " + l)
info = cmd("info vga")
check("info vga says text 80x25", "text 80x25" in info, info)
png = os.path.join(work, "shot.png")
r = cmd("screendump " + png)
ok = os.path.exists(png) and open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
check("screendump writes a PNG", ok, r)
txt = os.path.join(work, "shot.txt")
r = cmd("screendump " + txt)
ok = os.path.exists(txt) and "SeaBIOS" in open(txt).read()
check("screendump FILE.txt writes the text screen", ok, r)
try:
    s.sendall(b"quit\n")
except OSError:
    pass
try:
    rc = vm.wait(30)
except subprocess.TimeoutExpired:
    vm.kill()
    rc = -1
check("quit ends minivmm with status 0", rc == 0, "status %s: %s" %
      (rc, tail("stderr.log")))
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
EOF
