#!/bin/sh
# The monitor changes the CD under a running guest. minivmm runs the
# cdchange guest (tests/guest/cdchange.c) with -cdrom old.iso and
# -monitor unix:SOCK,server,nowait; this script talks to the socket:
#   - info block names the drive and its image; the guest locks the tray,
#     and eject / change are refused, change to a missing file too, the
#     medium stays (the guest sees no UNIT ATTENTION meanwhile);
#   - stop / info status / info registers (RIP in the guest's code) / cont;
#   - junk, an endless line and a hang-up mid-line do not hurt the monitor;
#   - after the guest unlocks, change ide1-cd0 new.iso: the guest sees
#     UNIT ATTENTION 28/00 and READ CAPACITY gives new.iso's size;
#   - system_reset starts a fresh minivmm (same command line, old.iso
#     again, a new socket), and quit ends it with status 0;
#   - on a terminal (a pty) with -monitor stdio, COM1 and the monitor share
#     it: Ctrl-A c switches, the monitor echoes and edits, the same change
#     reaches the guest, and q ends minivmm.
#
# usage: monitor-cd.sh [MINIVMM [GUEST_DIR]]
#   defaults: ./minivmm and build/tests/guest of this tree.
# env: MONITOR_CD_TIMEOUT (whole test, s; default 120), MONITOR_CD_ARGS
#   (more minivmm options, e.g. "-machine ioreq=inline"), KEEP=1 (keep the
#   work directory with the console transcript).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
if ! [ -c /dev/kvm ] || ! { : <>/dev/kvm; } 2>/dev/null; then
	echo "SKIP: no /dev/kvm"
	exit 0
fi

MINIVMM=$(realpath "${1:-$top/minivmm}")
GUEST=$(realpath "${2:-$top/build/tests/guest}")/cdchange.bin
for f in "$MINIVMM" "$GUEST"; do
	if ! [ -f "$f" ]; then
		echo "monitor-cd: missing $f"
		echo "0 passed, 1 failed"
		exit 1
	fi
done

if ! "$MINIVMM" -help | grep -q -- '-monitor'; then
	echo "monitor-cd: $MINIVMM has no -monitor option"
	echo "0 passed, 1 failed"
	exit 1
fi

WORK=$(mktemp -d /tmp/monitor-cd.XXXXXX)
if [ "${KEEP:-0}" = 1 ]; then
	echo "monitor-cd: work directory $WORK"
else
	trap 'rm -rf "$WORK"' EXIT
fi
trap 'exit 1' INT TERM HUP
# Plain files will do: the guest only asks for readiness and capacity.
# new.iso does not end on a 2048-byte sector: its capacity rounds up.
truncate -s $((100 * 2048)) "$WORK/old.iso"
truncate -s $((123 * 2048 + 100)) "$WORK/new.iso"
export MINIVMM GUEST WORK
export TIMEOUT="${MONITOR_CD_TIMEOUT:-120}"
export PYTHONPATH="$here" PYTHONDONTWRITEBYTECODE=1

python3 - <<'EOF'
import os, pty, random, re, select, signal, socket, sys, time
from console import Console, Checks, Timeout, file_tail

env = os.environ
work = env["WORK"]
sock_path = os.path.join(work, "mon.sock")
old_iso = os.path.join(work, "old.iso")
new_iso = os.path.join(work, "new.iso")
deadline = time.monotonic() + float(env["TIMEOUT"])
argv = [env["MINIVMM"], "-bios", env["GUEST"], "-m", "16", "-nographic",
        "-cdrom", old_iso, "-monitor", "unix:%s,server,nowait" % sock_path]
argv += env.get("MONITOR_CD_ARGS", "").split()
con = Console(argv, os.path.join(work, "console.log"), deadline,
              os.path.join(work, "stderr.log"))
checks = Checks()
signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
signal.signal(signal.SIGHUP, lambda *_: sys.exit(1))
PROMPT = b"(minivmm) "


class Monitor:
    """One client connection; every wait bounded by the test's deadline."""

    def __init__(self, timeout=10.0):
        end = min(time.monotonic() + timeout, deadline)
        while True:
            self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                self.s.connect(sock_path)
                break
            except OSError:
                self.s.close()
                if time.monotonic() >= end:
                    raise Timeout("cannot connect to %s" % sock_path)
                time.sleep(0.1)
        self.banner = self.read_prompt(10)

    def read_prompt(self, timeout=10.0):
        buf = b""
        end = min(time.monotonic() + timeout, deadline)
        while not buf.endswith(PROMPT):
            left = end - time.monotonic()
            if left <= 0:
                raise Timeout("no monitor prompt; got %r" % buf[-200:])
            r, _, _ = select.select([self.s], [], [], left)
            if r:
                data = self.s.recv(65536)
                if not data:
                    raise Timeout("monitor closed; got %r" % buf[-200:])
                buf += data
        return buf[:-len(PROMPT)].decode("latin-1")

    def cmd(self, line, timeout=10.0):
        self.s.sendall(line.encode() + b"\n")
        out = self.read_prompt(timeout)
        print("  (minivmm) %s\n%s" % (line, "".join(
            "    " + l + "\n" for l in out.splitlines())), end="")
        return out

    def close(self):
        self.s.close()


def serial(byte):
    con.proc.stdin.write(byte)
    con.proc.stdin.flush()


def run():
    print("monitor-cd: " + " ".join(argv))
    con.start()
    m = con.expect(rb"CD capacity (\d+)\r?\n", 30)
    checks.check("guest sees old.iso: 100 blocks", m.group(1) == b"100",
                 m.group(1).decode())
    con.expect(rb"CD locked", 30)
    mon = Monitor()
    checks.check("banner on connect", "minivmm monitor" in mon.banner,
                 mon.banner)

    out = mon.cmd("info block")
    checks.check("info block: ide1-cd0 with old.iso, read-only",
                 "ide1-cd0: %s (raw, read-only)" % old_iso in out, out)
    lock = re.search(r"Removable device: ([^,]*), tray (\w+)", out)
    checks.check("info block: the guest's lock (or 'unknown' until "
                 "hw/atapi reports it), tray closed",
                 lock is not None and
                 lock.group(1) in ("locked", "lock state unknown") and
                 lock.group(2) in ("closed", "unknown"), out)
    out = mon.cmd("eject ide1-cd0")
    checks.check("eject refused while the guest locks the tray",
                 "is locked" in out, out)
    out = mon.cmd("change ide1-cd0 " + new_iso)
    checks.check("change refused while locked", "is locked" in out, out)
    missing = os.path.join(work, "missing.iso")
    out = mon.cmd("change ide1-cd0 " + missing)
    checks.check("change to a missing file: a clear message",
                 missing in out and "No such file" in out, out)
    out = mon.cmd("info block")
    checks.check("the old medium stays", old_iso in out, out)
    out = mon.cmd("eject ide0-hd0")
    checks.check("unknown device refused", "not found" in out, out)

    mon.cmd("stop")
    out = mon.cmd("info status")
    checks.check("stop: VM status paused", "VM status: paused" in out, out)
    out = mon.cmd("info registers")
    rip = re.search(r"RIP=([0-9a-f]{16})", out)
    checks.check("info registers: RIP in the guest's code (F0000-FFFFF)",
                 rip is not None and
                 0xF0000 <= int(rip.group(1), 16) < 0x100000, out)
    mon.cmd("cont")
    out = mon.cmd("info status")
    checks.check("cont: VM status running", "VM status: running" in out,
                 out)
    out = mon.cmd("frobnicate")
    checks.check("unknown command", "unknown command: 'frobnicate'" in out,
                 out)

    # Junk: binary bytes, a line far over the limit, a hang-up mid-line.
    rnd = random.Random(5)
    junk = bytes(rnd.choice(b"\x00\x01\x1b\x7f\xfeAZ ;") for _ in
                 range(3000))
    mon.s.sendall(junk + b"\n")
    mon.read_prompt()
    mon.s.sendall(b"y" * 100000 + b"\n")
    out = mon.read_prompt()
    checks.check("an endless line is refused whole", "too long" in out,
                 out[-120:])
    mon.s.sendall(b"change ide1-cd0 " + new_iso.encode())  # no newline
    mon.close()
    mon = Monitor()
    out = mon.cmd("info block")
    checks.check("a line cut by a hang-up is not run; a new client works",
                 old_iso in out, out)

    serial(b"u")
    con.expect(rb"PASS cd-lock-holds", 30)
    checks.check("guest: no UNIT ATTENTION while locked", True)
    con.expect(rb"CD unlocked", 30)
    out = mon.cmd("change ide1-cd0 " + new_iso)
    checks.check("change accepted once unlocked", out.strip() == "", out)
    m = con.expect(rb"CD sense (\S+)\r?\n", 30)
    checks.check("guest: UNIT ATTENTION 6/28/00 after the change",
                 m.group(1) == b"6/28/00", m.group(1).decode())
    m = con.expect(rb"CD capacity (\d+)\r?\n", 30)
    checks.check("guest: READ CAPACITY gives new.iso's 124 blocks",
                 m.group(1) == b"124", m.group(1).decode())
    out = mon.cmd("info block")
    checks.check("info block shows new.iso",
                 "ide1-cd0: %s (raw, read-only)" % new_iso in out, out)
    con.expect(rb"CD waiting", 30)
    fails = re.findall(rb"FAIL [^\r\n]*", con.buf)
    checks.check("guest printed no FAIL line", not fails, repr(fails))

    # system_reset: a fresh process, same command line, a new socket.
    mon.s.sendall(b"system_reset\n")
    m = con.expect(rb"CD capacity (\d+)\r?\n", 30)
    checks.check("system_reset: the guest starts again with old.iso",
                 m.group(1) == b"100", m.group(1).decode())
    mon.close()
    con.expect(rb"CD locked", 30)
    mon = Monitor()
    out = mon.cmd("info status")
    checks.check("the new process has a monitor",
                 "VM status: running" in out, out)
    mon.s.sendall(b"quit\n")
    try:
        status = con.proc.wait(timeout=10)
    except Exception:
        status = None
    checks.check("quit: minivmm ends with status 0", status == 0,
                 "status %s" % status)
    checks.check("the socket is removed at exit",
                 not os.path.exists(sock_path))
    mon.close()


class Pty:
    """minivmm on a pseudo-terminal: raw mode and Ctrl-A escapes on."""

    def __init__(self, argv):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execv(argv[0], argv)
        self.buf = b""
        self.log = open(os.path.join(work, "pty.log"), "wb")

    def expect(self, pattern, timeout=30.0):
        rx = re.compile(pattern)
        end = min(time.monotonic() + timeout, deadline)
        while True:
            m = rx.search(self.buf)
            if m:
                self.buf = self.buf[m.end():]
                return m
            left = end - time.monotonic()
            if left <= 0:
                raise Timeout("pty: no %r; got %r" % (pattern,
                                                      self.buf[-200:]))
            r, _, _ = select.select([self.fd], [], [], left)
            try:
                data = os.read(self.fd, 4096) if r else b""
            except OSError:
                data = b""
            if r and not data:
                raise Timeout("pty: minivmm ended before %r" % pattern)
            self.buf += data
            self.log.write(data)

    def send(self, data):
        os.write(self.fd, data)

    def wait(self, timeout=10.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.pid = 0
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.05)
        return None

    def kill(self):
        if self.pid:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self.pid = 0


def run_pty():
    args = argv[:argv.index("-monitor")] + ["-monitor", "stdio"]
    args += env.get("MONITOR_CD_ARGS", "").split()
    print("monitor-cd (pty): " + " ".join(args))
    t = Pty(args)
    try:
        t.expect(rb"CD locked\r\n")
        t.send(b"\x01c")
        t.expect(rb"minivmm monitor[^\n]*\n\(minivmm\) ")
        t.send(b"info blox\x7fck\r")
        m = t.expect(rb"(?s)info blox\x08 \x08ck\r\n(.*?)\(minivmm\) ")
        checks.check("pty: Ctrl-A c opens the monitor; echo and backspace",
                     old_iso.encode() in m.group(1), repr(m.group(1)))
        t.send(b"\x01c")  # back to COM1: 'u' goes to the guest
        t.send(b"u")
        t.expect(rb"CD unlocked")
        t.send(b"\x01c")
        t.expect(rb"\(minivmm\) ")
        t.send(b"change ide1-cd0 " + new_iso.encode() + b"\r")
        m = t.expect(rb"CD capacity (\d+)\r?\n")
        checks.check("pty: change through the shared console reaches the "
                     "guest", m.group(1) == b"124", m.group(1).decode())
        t.send(b"q\r")
        status = t.wait()
        checks.check("pty: q ends minivmm with status 0", status == 0,
                     "status %s" % status)
    finally:
        t.kill()


try:
    try:
        run()
        run_pty()
    except Timeout as e:
        checks.check("timed wait", False, str(e))
finally:
    con.stop()
    if checks.failed:
        print("---- last 30 lines of the console ----")
        print(con.tail(30))
        print("---- minivmm stderr ----")
        print(file_tail(os.path.join(work, "stderr.log"), 20))
    checks.summary()
sys.exit(1 if checks.failed else 0)
EOF
