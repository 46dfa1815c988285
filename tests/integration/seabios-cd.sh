#!/bin/sh
# Acceptance test of the storage path with third-party firmware: SeaBIOS
# (Debian's bios.bin) boots the demo CD (images/mkiso.sh) from the ATAPI
# drive on the secondary channel, with an ATA disk on the primary one;
# ISOLINUX comes up on COM1, cat.c32 prints a file from the CD that must
# match the original byte for byte, and the kernel label loads the kernel
# and initrd, and the stock kernel runs the initramfs's /init, which prints
# its banner (the ISO boots with "quiet", so the kernel itself says little).
#
# usage: seabios-cd.sh [MINIVMM [ISO]]
#   defaults: ./minivmm and images/out/demo.iso of this tree; the reference
#   copy of TEST.TXT is the one mkiso.sh left beside the ISO.
# env: SEABIOS (firmware; default Debian's bios.bin), SEABIOS_CD_TIMEOUT
#   (whole test, s; default 300), SEABIOS_CD_ARGS (extra minivmm options,
#   e.g. -machine ioreq=inline), KEEP=1 (keep the work directory with the
#   console transcript and the debug log).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
if ! [ -c /dev/kvm ]; then
	echo "SKIP: no /dev/kvm"
	exit 0
fi

MINIVMM=$(realpath "${1:-$top/minivmm}")
ISO=$(realpath "${2:-$top/images/out/demo.iso}")
BIOS=${SEABIOS:-/usr/share/seabios/bios.bin}
for f in "$MINIVMM" "$ISO" "$(dirname "$ISO")/TEST.TXT" "$BIOS"; do
	if ! [ -f "$f" ]; then
		echo "seabios-cd: missing $f"
		echo "0 passed, 1 failed"
		exit 1
	fi
done

WORK=$(mktemp -d /tmp/seabios-cd.XXXXXX)
if [ "${KEEP:-0}" = 1 ]; then
	echo "seabios-cd: work directory $WORK"
else
	trap 'rm -rf "$WORK"' EXIT
fi
trap 'exit 1' INT TERM HUP
truncate -s 16M "$WORK/hd.img"
export MINIVMM ISO BIOS WORK
export TEST_TXT="$(dirname "$ISO")/TEST.TXT"
export TIMEOUT="${SEABIOS_CD_TIMEOUT:-300}"
export PYTHONPATH="$here" PYTHONDONTWRITEBYTECODE=1

python3 - <<'EOF'
import os, re, signal, sys, time
from console import Console, Checks, Timeout, wait_file, file_tail

env = os.environ
work = env["WORK"]
log = os.path.join(work, "debugcon.log")
start = time.monotonic()
deadline = start + float(env["TIMEOUT"])
argv = [env["MINIVMM"], "-bios", env["BIOS"], "-m", "128M",
        "-hda", os.path.join(work, "hd.img"), "-cdrom", env["ISO"],
        "-boot", "d", "-nographic", "-no-reboot", "-debugcon", "file:" + log]
argv += env.get("SEABIOS_CD_ARGS", "").split()
con = Console(argv, os.path.join(work, "console.log"), deadline,
              os.path.join(work, "stderr.log"))
checks = Checks()
# SIGTERM/SIGHUP from the caller (make, CI) end the test through the
# finally below, which stops minivmm.
signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
signal.signal(signal.SIGHUP, lambda *_: sys.exit(1))


def phase(name, t0):
    now = time.monotonic()
    print("time: %-28s %6.1f s (total %6.1f s)" % (name, now - t0,
                                                   now - start))
    sys.stdout.flush()
    return now


def alive():
    return con.proc.poll() is None


def run():
    print("seabios-cd: " + " ".join(argv))
    con.start()
    t = time.monotonic()

    # a) SeaBIOS found both drives.
    m = wait_file(log, rb"ata1-0: ([^\n]*ATAPI-\d+ [^\n]*?)\]?\n", 60, deadline,
                  alive)
    checks.check("SeaBIOS found the ATAPI CD-ROM: " + m.group(1).decode(),
                 b"CD" in m.group(1))
    m = wait_file(log, rb"ata0-0: ([^\n]*Hard-Disk[^\n]*)\n", 10, deadline,
                  alive)
    checks.check("SeaBIOS found the ATA disk: " + m.group(1).decode(),
                  b"16 MiBytes" in m.group(1))
    t = phase("SeaBIOS drive detection", t)

    # SeaBIOS's own time: the rest of POST (fw_cfg turns its boot menu
    # wait off) and reading the El Torito boot catalog.
    wait_file(log, rb"Booting from 0000:7c00", 120, deadline, alive)
    t = phase("SeaBIOS to El Torito boot", t)

    # b) ISOLINUX loaded from the CD and prompts on COM1.
    con.expect(rb"ISOLINUX \d", 120)
    con.expect(rb"boot: ", 60)
    checks.check("ISOLINUX banner and boot: prompt on COM1", True)
    t = phase("boot to ISOLINUX prompt", t)

    # c) A file read from the CD by cat.c32 arrives intact. After Enter,
    # ISOLINUX prints ESC [?7h and a new line, then cat.c32's output, then
    # the next prompt. The console turns each \n into \r\n; that is the only
    # change undone before comparing.
    with open(env["TEST_TXT"], "rb") as f:
        want = f.read()
    con.send("cat.c32 /TEST.TXT")
    con.send("\r")
    m = con.expect(rb"(?s)\x1b\[\?7h\r\n(.*?)boot: ", 120)
    got = m.group(1).replace(b"\r\n", b"\n")
    same = got == want
    detail = ""
    if not same:
        n = next((i for i in range(min(len(got), len(want)))
                  if got[i] != want[i]), min(len(got), len(want)))
        detail = "%d bytes, want %d; from byte %d got %r, want %r" % (
            len(got), len(want), n, got[n:n + 24], want[n:n + 24])
    checks.check("cat.c32 /TEST.TXT printed the file byte for byte (%d "
                 "bytes)" % len(want), same, detail)
    t = phase("cat.c32 /TEST.TXT", t)

    # d) ISOLINUX loads kernel and initrd; the kernel boots and runs /init.
    con.send("linux")
    con.send("\r")
    con.expect(rb"minivmm demo initramfs: Linux", 240)
    checks.check("kernel and initrd loaded, the kernel ran /init", True)
    t = phase("load kernel+initrd to /init", t)

    status = con.stop()
    checks.check("minivmm ended cleanly on SIGTERM", status == 0,
                 "status %s" % status)
    phase("stop", t)


try:
    try:
        run()
    except Timeout as e:
        checks.check("timed wait", False, str(e))
finally:
    con.stop()
    if checks.failed:
        print("---- last 40 lines of the console ----")
        print(con.tail(40))
        print("---- last 40 lines of the debug log ----")
        print(file_tail(log, 40))
        print("---- minivmm stderr ----")
        print(file_tail(os.path.join(work, "stderr.log"), 20))
    checks.summary()
sys.exit(1 if checks.failed else 0)
EOF
