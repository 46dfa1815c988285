"""Drive a guest's serial console for the integration tests.

A Console runs minivmm with -nographic and its stdin/stdout on pipes (not a
tty, so minivmm does no Ctrl-A escape processing), keeps everything the
guest printed, and lets a test wait for text with a bounded timeout, type
keys, and stop the VM. Every wait is also cut short by one overall deadline,
so a test can never hang. Checks counts PASS/FAIL lines for the summary.
"""

import ctypes
import os
import re
import select
import signal
import subprocess
import sys
import time


class Timeout(Exception):
    pass


def _die_with_parent():
    """In the child: be killed if the test itself is killed (SIGKILL too),
    since minivmm runs in a session of its own and no signal to the test's
    process group reaches it."""
    PR_SET_PDEATHSIG = 1
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG,
                                                signal.SIGKILL)
    except (OSError, AttributeError):
        pass


class Console:
    def __init__(self, argv, transcript, deadline, stderr_path):
        self.argv = argv
        self.deadline = deadline
        self.buf = b""
        self.pos = 0  # where the next expect() starts looking
        self.transcript = open(transcript, "wb")
        self.stderr = open(stderr_path, "wb")
        self.proc = None
        self.max_echo = 0.0  # the slowest echo send() waited for, s

    def start(self):
        # A session of its own, so stop() reaches minivmm and nothing else.
        self.proc = subprocess.Popen(
            self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self.stderr, start_new_session=True,
            preexec_fn=_die_with_parent)
        os.set_blocking(self.proc.stdout.fileno(), False)

    def _left(self, timeout):
        return min(timeout, self.deadline - time.monotonic())

    def _pump(self, wait):
        """Read whatever the guest printed within `wait` seconds."""
        fd = self.proc.stdout.fileno()
        ready, _, _ = select.select([fd], [], [], max(wait, 0))
        if not ready:
            return True
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return True
        if not data:
            return False  # minivmm closed its stdout: it has ended
        self.buf += data
        self.transcript.write(data)
        self.transcript.flush()
        return True

    def expect(self, pattern, timeout):
        """Wait for a regex (bytes) after the last match; return the match."""
        rx = re.compile(pattern)
        end = time.monotonic() + self._left(timeout)
        while True:
            m = rx.search(self.buf, self.pos)
            if m:
                self.pos = m.end()
                return m
            left = end - time.monotonic()
            if left <= 0:
                raise Timeout("no %r on the console within %.0f s"
                              % (pattern, timeout))
            if not self._pump(min(left, 0.5)):
                raise Timeout("minivmm ended (status %s) before %r"
                              % (self.proc.wait(), pattern))

    def send(self, text, echo_timeout=10.0):
        """Type text one key at a time, each after the previous one echoed.

        Waiting for the echo keeps the guest's receive FIFO from overflowing
        while it is busy; a key the guest does not echo (Enter) just waits
        a little."""
        for ch in text.encode():
            self.proc.stdin.write(bytes([ch]))
            self.proc.stdin.flush()
            if 0x20 <= ch < 0x7F:
                t = time.monotonic()
                self.expect(re.escape(bytes([ch])), echo_timeout)
                self.max_echo = max(self.max_echo, time.monotonic() - t)
            else:
                self._pump(0.05)

    def drain(self, wait=0.2):
        while self._pump(wait) and select.select(
                [self.proc.stdout.fileno()], [], [], 0)[0]:
            pass

    def stop(self, timeout=10.0):
        """SIGTERM, then SIGKILL if minivmm has not ended; return status."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            end = time.monotonic() + timeout
            while self.proc.poll() is None and time.monotonic() < end:
                self._pump(0.1)
            return self.proc.wait(timeout=0.1)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            return None

    def tail(self, lines=40):
        text = self.buf.decode("latin-1").replace("\r\n", "\n")
        return "\n".join(text.splitlines()[-lines:])


def wait_file(path, pattern, timeout, deadline, alive=None):
    """Wait until the file's content matches a regex (bytes)."""
    rx = re.compile(pattern)
    end = min(time.monotonic() + timeout, deadline)
    while True:
        try:
            with open(path, "rb") as f:
                m = rx.search(f.read())
        except FileNotFoundError:
            m = None
        if m:
            return m
        if time.monotonic() >= end:
            raise Timeout("no %r in %s within %.0f s" % (pattern, path,
                                                        timeout))
        if alive is not None and not alive():
            raise Timeout("minivmm ended before %r in %s" % (pattern, path))
        time.sleep(0.1)


def file_tail(path, lines=40):
    try:
        with open(path, "rb") as f:
            text = f.read().decode("latin-1")
    except FileNotFoundError:
        return "(no %s)" % path
    return "\n".join(text.splitlines()[-lines:])


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print("PASS: %s" % name)
        else:
            self.failed += 1
            print("FAIL: %s%s" % (name, ": " + detail if detail else ""))
        sys.stdout.flush()
        return ok

    def summary(self):
        print("%d passed, %d failed" % (self.passed, self.failed))
