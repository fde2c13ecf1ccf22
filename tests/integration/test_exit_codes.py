"""Exit codes of `pycontain run`, as docker's: the command's own code, 125 when
the engine fails, 126 when the command cannot be executed, 127 when it is not
found, 128+N when the container is killed by signal N; errors are one line."""
import json
import os
import signal
import time

import pytest


def one_line_error(result) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("pycontain: "), result.stderr
    return lines[0]


@pytest.mark.parametrize("command, code", [
    (["true"], 0),
    (["false"], 1),
    (["sh", "-c", "exit 42"], 42),
    (["sh", "-c", "exit 255"], 255),
])
def test_command_exit_code_is_returned(pc, command, code):
    result = pc("run", "--rm", "busybox", *command)
    assert result.returncode == code
    assert result.stderr == "" and result.stdout == ""


def test_command_output_and_code_together(pc):
    result = pc("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (result.returncode, result.stdout, result.stderr) == (3, "out\n", "err\n")


@pytest.mark.parametrize("args, code, named", [
    (["no-such-image-here", "true"], 125, "no-such-image-here"),
    (["--no-such-flag", "busybox", "true"], 125, "--no-such-flag"),
    (["busybox", "/etc/passwd"], 126, "/etc/passwd"),
    (["busybox", "/etc"], 126, "/etc"),
    (["busybox", "no-such-command"], 127, "no-such-command"),
    (["busybox", "/no/such/path"], 127, "/no/such/path"),
], ids=["unknown-image", "bad-flag", "not-executable", "directory", "missing-command",
        "missing-path"])
@pytest.mark.parametrize("mode", [[], ["-d"]], ids=["attached", "detached"])
def test_engine_exit_codes_with_one_line_errors(pc, args, code, named, mode):
    result = pc("run", "--rm", *mode, *args)
    assert result.returncode == code
    assert named in one_line_error(result)
    assert result.stdout == ""
    assert pc.containers() == []


def test_cannot_execute_messages(pc):
    assert "permission denied" in one_line_error(pc("run", "--rm", "busybox", "/etc/passwd"))
    assert "directory" in one_line_error(pc("run", "--rm", "busybox", "/etc"))
    assert "not found" in one_line_error(pc("run", "--rm", "busybox", "no-such-command"))
    assert "no such file" in one_line_error(pc("run", "--rm", "busybox", "/no/such/path")).lower()


def test_missing_command_under_init_is_127(pc):
    result = pc("run", "--rm", "--init", "busybox", "no-such-command")
    assert result.returncode == 127
    assert "no-such-command" in result.stderr


# ---------------------------------------------------------------- killed containers

class Foreground:
    """`pycontain run --rm --name NAME ...` running in the foreground."""

    def __init__(self, pc, name, *args):
        self.pc, self.name = pc, name
        self.proc = pc.popen("run", "--rm", "--name", name, *args)

    def wait_running(self, timeout=30) -> dict:
        """Poll `pycontain ps` until the container is running; its inspect data."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"run ended early ({self.proc.returncode}): "
                                     f"{self.proc.stderr.read()}")
            rows = json.loads(self.pc.out("ps", "--format", "json"))
            if any(r["Name"] == self.name and r["State"] == "running" for r in rows):
                return json.loads(self.pc.out("inspect", self.name))[0]
        raise AssertionError(f"container {self.name} did not start")

    def returncode(self, timeout=30) -> int:
        return self.proc.wait(timeout=timeout)

    def close(self):
        if self.proc.poll() is None:
            self.pc("rm", "-f", self.name)
            self.proc.wait(timeout=30)
        self.proc.stdout.close()
        self.proc.stderr.close()


@pytest.fixture
def foreground(pc):
    started = []

    def start(name, *args):
        started.append(Foreground(pc, name, *args))
        return started[-1]
    yield start
    for fg in started:
        fg.close()


def wait_for_child(parent_pid: int, comm: str, timeout=30) -> int:
    """The host pid of a child of parent_pid running `comm` (polling /proc)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    head, _, tail = f.read().rpartition(")")
            except (FileNotFoundError, ProcessLookupError):
                continue
            if head.split("(", 1)[1] == comm and int(tail.split()[1]) == parent_pid:
                return int(entry)
        time.sleep(0.01)
    raise AssertionError(f"no {comm} child of {parent_pid} appeared")


def test_killed_by_pycontain_kill_is_137(pc, foreground):
    fg = foreground("victim", "busybox", "sleep", "1000")
    fg.wait_running()
    assert pc.out("kill", "victim") == "victim\n"
    assert fg.returncode() == 137
    assert fg.proc.stderr.read() == ""


def test_sigterm_under_init_is_143(pc, foreground):
    fg = foreground("termed", "--init", "busybox", "sleep", "1000")
    info = fg.wait_running()
    wait_for_child(info["State"]["Pid"], "sleep")  # init has started its command
    pc.out("kill", "-s", "TERM", "termed")
    assert fg.returncode() == 143


def test_sigterm_to_the_foreground_run_is_relayed(pc, foreground):
    fg = foreground("relayed", "--init", "busybox", "sleep", "1000")
    info = fg.wait_running()
    wait_for_child(info["State"]["Pid"], "sleep")
    fg.proc.send_signal(signal.SIGTERM)
    assert fg.returncode() == 143


def test_stop_under_init_is_143(pc, foreground):
    fg = foreground("stopped", "--init", "busybox", "sleep", "1000")
    info = fg.wait_running()
    wait_for_child(info["State"]["Pid"], "sleep")
    started = time.monotonic()
    assert pc.out("stop", "-t", "30", "stopped") == "stopped\n"
    assert time.monotonic() - started < 20  # SIGTERM did it; no SIGKILL after the grace time
    assert fg.returncode() == 143
