"""Signals reaching foreground containers, and terminals (-t, -it, exec -it)."""
import fcntl
import json
import os
import re
import signal
import struct
import subprocess
import termios
import time

import pytest

from helpers import Reader, reap, running, wait_for


def _make_controlling_tty():
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """`pycontain ARGS` on a pseudo-terminal of ours, as if typed in a terminal
    emulator: our pty slave is its stdin, stdout, stderr and controlling tty."""

    def __init__(self, pc, *args, rows=33, cols=101):
        self.master, slave = os.openpty()
        self.resize(rows, cols, fd=slave)
        self.proc = pc.popen(*args, stdin=slave, stdout=slave, stderr=slave,
                             start_new_session=True, preexec_fn=_make_controlling_tty)
        os.close(slave)
        self.out = Reader(self.master)
        self.mark = 0

    def resize(self, rows, cols, fd=None):
        fcntl.ioctl(self.master if fd is None else fd, termios.TIOCSWINSZ,
                    struct.pack("HHHH", rows, cols, 0, 0))

    def type(self, text: str):
        """Send keys; expect() after this only looks at output that follows."""
        self.mark = len(self.out.data)
        os.write(self.master, text.encode())

    def expect(self, pattern, timeout=10.0):
        return self.out.expect(pattern, timeout, self.mark)

    def prompt(self):
        self.expect(r"# ")

    def run(self, line: str, pattern: str, timeout=10.0):
        """Type a command line and Enter; wait for pattern in what follows."""
        self.type(line + "\r")
        return self.expect(pattern, timeout)

    def __enter__(self):
        return self

    def __exit__(self, *_exc):
        self.close()

    def shell_exit(self, command: str = "exit 3") -> int:
        """Leave the shell with command; its exit code, the session over."""
        self.type(command + "\r")
        return self.finish()

    def finish(self, timeout=10.0) -> int:
        try:
            self.out.drain(timeout)
            return self.proc.wait(timeout)
        finally:
            self.close()

    def close(self):
        """End the session; on a failed test first ask the shell to exit, so that
        no container is left behind by killing its engine."""
        if self.master < 0:
            return
        if self.proc.poll() is None:
            try:
                os.write(self.master, b"\x03\rexit\r")
                self.out.drain(5)
                self.proc.wait(5)
            except (OSError, AssertionError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        os.close(self.master)
        self.master = -1


# `wait` returns as soon as a trapped signal arrives; no polling loop that would
# keep making new processes if a test fails and leaves the container behind
TRAP_SCRIPT = 'trap "echo got; exit 3" {sig}; echo ready; sleep 1000 & wait $!'


def _kill_leaked(pc, marker: str):
    """After a failure: remove containers whose engine died, and kill any process
    still running our script (an engine killed before it recorded the pid)."""
    pc("system", "gc")
    killed = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    os.kill(int(entry), signal.SIGKILL)
                    killed.append(entry)
        except (OSError, ValueError):
            continue
    # orphans are reaped by the host's init: wait until they are gone for good
    deadline = time.monotonic() + 30
    while any(os.path.exists(f"/proc/{pid}") for pid in killed) and time.monotonic() < deadline:
        time.sleep(0.1)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP],
                         ids=lambda s: s.name)
def test_signals_to_a_foreground_run_reach_the_container(pc, sig):
    # signalled as soon as the command has started; a few rounds, since a signal
    # that comes before the engine relays them is a race, not a certainty
    marker = f"{sig.name}-test"
    for _ in range(10):
        proc = pc.popen("run", "--rm", "busybox", "sh", "-c",
                        TRAP_SCRIPT.format(sig=sig.name[3:]) + f" # {marker}")
        out = Reader(proc.stdout.fileno())
        try:
            out.expect("ready\n")
            os.kill(proc.pid, sig)
            code = proc.wait(timeout=10)
            assert code == 3, f"the engine died of the signal ({code}): it did not relay it"
            assert out.drain() == b"ready\ngot\n"
            assert proc.stderr.read() == ""
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.returncode != 3:
                _kill_leaked(pc, marker)
            proc.stdout.close()
            proc.stderr.close()


def test_signals_to_a_foreground_run_reach_the_container_later(pc):
    """The same once the engine has certainly settled (a later moment)."""
    proc = pc.popen("run", "--rm", "--name", "later", "busybox", "sh", "-c",
                    TRAP_SCRIPT.format(sig="TERM"))
    out = Reader(proc.stdout.fileno())
    try:
        out.expect("ready\n")
        wait_for(lambda: running(pc, "later"), what="the container to be running")
        pid = json.loads(pc.out("inspect", "later"))[0]["State"]["Pid"]
        wait_for(lambda: "sleep 1000" in pc.out("exec", "later", "ps", "-o", "args"),
                 what="the script to reach wait")
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=10) == 3
        assert out.drain() == b"ready\ngot\n"
        assert not os.path.exists(f"/proc/{pid}/ns")
    finally:
        reap(proc)


def test_init_forwards_sigterm_to_a_command_without_handlers(pc):
    proc = pc.popen("run", "--rm", "--init", "--name", "inited", "busybox", "sleep", "30")
    try:
        wait_for(lambda: running(pc, "inited"), what="the container to run")
        started = time.monotonic()
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=10) == 128 + signal.SIGTERM
        assert time.monotonic() - started < 5
    finally:
        reap(proc)


def test_interactive_tty_session(pc):
    with Terminal(pc, "run", "--rm", "-it", "busybox", "sh") as term:
        term.prompt()
        term.run("[ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo TT$((1+1))", r"\r\nTT2\r\n")
        term.run("stty size", r"\r\n33 101\r\n")
        echoed = term.run("echo $((6*7))", r"\r\n42\r\n")
        assert b"echo $((6*7))" in term.out.data[term.mark:echoed.start()]  # typing is echoed
        term.run("echo $TERM", r"\r\nxterm\r\n")
        assert term.shell_exit() == 3


def test_tty_is_the_containers_own_pts_device(pc):
    with Terminal(pc, "run", "--rm", "-it", "busybox", "sh") as term:
        term.prompt()
        term.run("tty", r"\r\n(/dev/pts/\d+|not a tty)\r\n")
        assert re.search(rb"\r\n/dev/pts/0\r\n", term.out.data[term.mark:]), term.out.data
        assert term.shell_exit() == 3


def test_ctrl_c_interrupts_the_foreground_command_not_the_shell(pc):
    with Terminal(pc, "run", "--rm", "-it", "--name", "ctrlc", "busybox", "sh") as term:
        term.prompt()
        term.type("sleep 30\r")
        wait_for(lambda: pc("exec", "ctrlc", "pidof", "sleep").returncode == 0,
                 what="sleep to start in the container")
        started = time.monotonic()
        term.type("\x03")
        term.expect(r"# ")
        assert time.monotonic() - started < 5
        term.run("echo rc=$?", r"rc=130\r\n")
        term.run("echo $((6*7))", r"\r\n42\r\n")  # the shell survived
        assert pc("exec", "ctrlc", "pidof", "sleep").returncode != 0
        assert term.shell_exit() == 3


def test_terminal_resize_reaches_the_container(pc):
    with Terminal(pc, "run", "--rm", "-it", "busybox", "sh") as term:
        term.prompt()
        term.run("stty size", r"\r\n33 101\r\n")
        term.resize(40, 120)  # the kernel sends SIGWINCH to pycontain, our tty's foreground
        deadline = time.monotonic() + 10
        while not re.search(rb"\r\n40 120\r\n", term.out.data[term.mark:]):
            assert time.monotonic() < deadline, term.out.data[term.mark:]
            term.run("stty size", r"\r\n\d+ \d+\r\n")
        assert term.shell_exit("exit") == 0


def test_exec_it_into_a_detached_container(pc):
    cid = pc.out("run", "-d", "busybox", "sh", "-c",
                 'trap "exit 0" TERM; while :; do sleep 1000 & wait $!; done').strip()
    try:
        with Terminal(pc, "exec", "-it", cid, "sh", rows=25, cols=77) as term:
            term.prompt()
            term.run("[ -t 0 ] && [ -t 1 ] && echo TT$((1+1))", r"\r\nTT2\r\n")
            term.run("stty size", r"\r\n25 77\r\n")
            term.run("echo $((6*7))", r"\r\n42\r\n")
            term.run("tty", r"\r\n(/dev/pts/\d+|not a tty)\r\n")
            tty_name = term.out.data[term.mark:]
            assert term.shell_exit() == 3
        assert json.loads(pc.out("inspect", cid))[0]["State"]["Running"] is True
        assert re.search(rb"\r\n/dev/pts/\d+\r\n", tty_name), tty_name
    finally:
        pc("rm", "-f", cid)


def test_run_t_without_i_gets_a_tty_for_output(pc):
    result = pc("run", "--rm", "-t", "busybox", "sh", "-c",
                "tty; [ -t 1 ] && echo out-is-tty; exit 6", input="")
    assert result.returncode == 6
    lines = result.stdout.splitlines()
    assert re.fullmatch(r"/dev/pts/\d+\r?", lines[0]), result.stdout
    assert lines[1].rstrip("\r") == "out-is-tty"


def test_without_t_there_is_no_tty(pc):
    result = pc("run", "--rm", "busybox", "sh", "-c", "tty; [ -t 0 ] || echo no-tty")
    assert "not a tty" in result.stdout and "no-tty" in result.stdout


def test_a_signal_relayed_after_the_reap_spares_a_process_that_reused_the_pid():
    """The engine's relay is still installed while it cleans up after its
    container is reaped. In a pid namespace of our own (where the kernel hands
    a freed number out again on request: ns_last_pid), a SIGTERM then must not
    reach the next process given the container's pid."""
    from pycontain import native
    from pycontain.oci.waiting import forward_signals

    ours = os.open("/proc/self/ns/pid", os.O_RDONLY)
    try:
        native.unshare(native.CLONE_NEWPID)  # for our next child only
        probe = os.fork()
        if probe == 0:  # PID 1 there; its verdict is its exit status
            code = 4
            try:
                container = os.fork()
                if container == 0:
                    os._exit(0)
                forward_signals(container)
                os.waitpid(container, 0)
                with open("/proc/sys/kernel/ns_last_pid", "w") as f:
                    f.write(str(container - 1))
                execed, child_end = os.pipe2(os.O_CLOEXEC)
                reuser = os.fork()
                if reuser == 0:  # exec: our relay handler is not inherited
                    os.execv("/bin/sleep", ["sleep", "5"])
                os.close(child_end)
                os.read(execed, 1)  # EOF once it has exec'd
                os.kill(os.getpid(), signal.SIGTERM)  # runs the relay
                deadline = time.monotonic() + 1
                while os.waitpid(reuser, os.WNOHANG)[0] == 0 and time.monotonic() < deadline:
                    time.sleep(0.01)
                alive = time.monotonic() >= deadline
                code = 2 if reuser != container else 0 if alive else 3
                os.kill(reuser, signal.SIGKILL)
            finally:
                os._exit(code)
    finally:
        native.setns(ours, native.CLONE_NEWPID)  # our later children: our namespace again
        os.close(ours)
    _, status = os.waitpid(probe, 0)
    code = os.waitstatus_to_exitcode(status)
    assert code == 0, {2: "the pid was not reused", 3: "the process that reused the pid got "
                       "our SIGTERM", 4: "the probe raised"}.get(code, code)
