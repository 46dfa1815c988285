#!/bin/bash
# Stock Linux to its shell, unmodified, with Debian's own drivers: the demo
# CD (images/mkiso.sh) booted through SeaBIOS and ISOLINUX, and the same
# kernel and initramfs through -kernel (bzImage, and the ELF vmlinux through
# PVH) in both irqchip modes. In each boot the busybox shell must come up
# with ata_piix loaded from the initramfs; the shell reads the whole IDE
# disk (random bytes, compared by MD5 with the host's copy), writes a
# marker that the host then finds in the image, reads a file from the CD
# through sr_mod and isofs (ISO boot), and ends the machine: `reboot -f`
# (minivmm -no-reboot exits 0) or `poweroff -f` (the final halt exits 0).
#
# The vblk cases boot the same bzImage with the disk on virtio-blk
# (-drive if=virtio, no IDE disk): Debian's virtio_pci and virtio_blk from
# the initramfs drive it (INTx with irqchip=user, MSI-X with kernel).
#
# usage: linux-shell.sh [CASE...]   CASE: iso bz-user bz-kernel pvh-user
#   pvh-kernel vblk-user vblk-kernel (default: all). Needs a working /dev/kvm (run through tests/kvmhost/run).
# env: MINIVMM (./minivmm), OUT (images/out), SEABIOS (Debian's bios.bin),
#   LINUX_SHELL_TIMEOUT (s per boot, default 600), LINUX_SHELL_ARGS (more
#   minivmm options), KEEP=1 (keep transcripts), SHOW_CONSOLE=1 (print
#   each guest's console after its case).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
MINIVMM=$(realpath "${MINIVMM:-./minivmm}")
OUT=$(realpath "${OUT:-$top/images/out}")
BIOS=${SEABIOS:-/usr/share/seabios/bios.bin}
for f in "$MINIVMM" "$OUT/demo.iso" "$OUT/vmlinuz" "$OUT/initrd.gz" \
	"$OUT/linux/vmlinux" "$OUT/TEST.TXT" "$BIOS"; do
	if ! [ -f "$f" ]; then
		echo "linux-shell: missing $f (make iso linux-image)"
		echo "0 passed, 1 failed"
		exit 1
	fi
done
if ! [ -c /dev/kvm ]; then
	echo "linux-shell: no /dev/kvm (run it through tests/kvmhost/run)"
	echo "0 passed, 1 failed"
	exit 1
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/linux-shell.XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then
	echo "linux-shell: work directory $WORK"
else
	trap 'rm -rf "$WORK"' EXIT
fi
trap 'exit 1' INT TERM HUP
export MINIVMM OUT BIOS WORK
export CASES="${*:-iso bz-user bz-kernel pvh-user pvh-kernel vblk-user vblk-kernel}"
export TIMEOUT="${LINUX_SHELL_TIMEOUT:-600}"
export PYTHONPATH="$top/tests/integration" PYTHONDONTWRITEBYTECODE=1

python3 - <<'EOF'
import hashlib, os, re, signal, sys, time
from console import Console, Checks, Timeout

env = os.environ
work, out = env["WORK"], env["OUT"]
checks = Checks()
signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
signal.signal(signal.SIGHUP, lambda *_: sys.exit(1))
test_txt_md5 = hashlib.md5(open(os.path.join(out, "TEST.TXT"), "rb")
                           .read()).hexdigest()
MARK = b"minivmm-linux-shell-write-check"
MARK_SECTOR = 1000


def make_disk(path):
    """16 MiB of random bytes; returns their MD5."""
    data = os.urandom(16 << 20)
    with open(path, "wb") as f:
        f.write(data)
    return hashlib.md5(data).hexdigest()


def shell(con, cmd, pattern, timeout=120):
    """Type a command, wait for a regex in its output, then the prompt."""
    con.send(cmd, echo_timeout=60)
    con.send("\r")
    m = con.expect(pattern, timeout)
    con.expect(rb"# ", timeout)
    return m


def boot(case):
    disk = os.path.join(work, case + ".img")
    md5 = make_disk(disk)
    kind, _, irqchip = case.partition("-")
    argv = [env["MINIVMM"], "-m", "256M", "-nographic", "-no-reboot"]
    if kind == "vblk":
        argv += ["-drive", "file=%s,if=virtio,format=raw" % disk]
        dev, driver = "vda", "virtio_blk"
    else:
        argv += ["-hda", disk]
        dev, driver = "sda", "ata_piix"
    if kind == "iso":
        argv += ["-bios", env["BIOS"], "-cdrom",
                 os.path.join(out, "demo.iso"), "-boot", "d"]
    else:
        kernel = "linux/vmlinux" if kind == "pvh" else "vmlinuz"
        argv += ["-kernel", os.path.join(out, kernel), "-initrd",
                 os.path.join(out, "initrd.gz"), "-append", "console=ttyS0 quiet"]
    if irqchip:
        argv += ["-machine", "irqchip=" + irqchip]
    argv += env.get("LINUX_SHELL_ARGS", "").split()
    start = time.monotonic()
    con = Console(argv, os.path.join(work, case + ".console"),
                  start + float(env["TIMEOUT"]),
                  os.path.join(work, case + ".stderr"))
    print("linux-shell: %s: %s" % (case, " ".join(argv)))
    sys.stdout.flush()

    def stamp(what):
        print("time: %-10s %-34s %6.1f s" % (case, what,
                                              time.monotonic() - start))
        sys.stdout.flush()

    con.start()
    try:
        if kind == "iso":
            con.expect(rb"boot: ", 300)
            stamp("ISOLINUX prompt")
            con.send("\r")
        m = con.expect(rb"minivmm demo initramfs: ([^\r\n]*, up [0-9.]+ s)",
                       900)
        stamp("/init")
        m2 = con.expect(rb"disks: ([^\r\n]*)", 30)
        con.expect(rb"# ", 60)
        stamp("shell prompt")
        checks.check("%s: busybox shell (%s; disks %s)" % (
            case, m.group(1).decode(), m2.group(1).decode().strip()), True)
        irq = "ata_piix" if kind != "vblk" else "virtio"
        m = shell(con, "grep -c %s /proc/interrupts; "
                  "cat /sys/block/%s/size" % (irq, dev),
                  rb"\r\n(\d+)\r\n(\d+)\r\n")
        checks.check("%s: %s bound, %s lines in /proc/interrupts, %s has "
                      "32768 sectors" % (case, driver, m.group(1).decode(),
                                         dev),
                      int(m.group(1)) >= 1 and m.group(2) == b"32768",
                      m.group(0).decode().strip())
        t = time.monotonic()
        m = shell(con, "dd if=/dev/%s bs=64k 2>/dev/null | md5sum" % dev,
                  rb"([0-9a-f]{32})  -", 600)
        stamp("16 MiB read")
        checks.check("%s: the whole disk read back through %s "
                     "matches (%.1f s)" % (case, driver,
                                           time.monotonic() - t),
                     m.group(1).decode() == md5,
                     "guest %s, host %s" % (m.group(1).decode(), md5))
        shell(con, "echo %s | dd of=/dev/%s bs=512 seek=%d conv=sync,fsync "
              "2>/dev/null; echo WROTE" % (MARK.decode(), dev, MARK_SECTOR),
              rb"WROTE")
        if kind == "iso":
            m = shell(con, "mount -t iso9660 -o ro /dev/sr0 /mnt && "
                      "md5sum /mnt/TEST.TXT", rb"([0-9a-f]{32})  /mnt/TEST")
            checks.check("%s: /TEST.TXT read from the CD through sr_mod "
                         "matches" % case,
                         m.group(1).decode() == test_txt_md5)
            con.send("reboot -f\r")
        else:
            con.send("poweroff -f\r")
        rc = con.proc.wait(timeout=120)
        stamp("minivmm ended")
        print("linux-shell: %s: slowest key echo %.2f s" % (case, con.max_echo))
        checks.check("%s: %s ends minivmm with status 0" % (
            case, "reboot -f" if kind == "iso" else "poweroff -f"), rc == 0,
            "status %s" % rc)
        with open(disk, "rb") as f:
            f.seek(MARK_SECTOR * 512)
            got = f.read(len(MARK))
        checks.check("%s: the guest's write reached the image" % case,
                     got == MARK, repr(got))
    except Timeout as e:
        checks.check("%s: %s" % (case, e), False)
        print("  --- last console lines:")
        print("\n".join("  | " + l for l in con.tail(25).splitlines()))
    finally:
        con.stop()
        if env.get("SHOW_CONSOLE"):
            print("--- %s: the guest's console ---" % case)
            print(con.buf.decode("latin-1").replace("\r\n", "\n"))
            print("--- end of console ---")


for case in env["CASES"].split():
    boot(case)
checks.summary()
sys.exit(1 if checks.failed else 0)
EOF
