"""Running a container's healthcheck (what it is and what counts: engine.health).

`begin` is called by the container's monitor (the foreground `run`, or the
forked monitor of `run -d` and `start`) once the container runs: it forks a
checker in a session of its own that waits Interval on a pidfd of the
container's first process, so it ends as soon as the container does (and
with its monitor, which the container dies with). Each probe runs the test in
the container as `exec` does (its namespaces, cgroup, user, capabilities,
seccomp), its output (stdout and stderr, the first MAX_OUTPUT bytes) kept;
one that outlives Timeout is killed and counts as a failure with exit code -1.
`probe_now` is `pycontain healthcheck run`: one probe, recorded, at once.
"""
import os
import _signal as signal
import time

from pycontain.engine import health
from pycontain.errors import PycontainError
from pycontain.fdio import readable


def begin(ctr) -> None:
    """Start the checker of a container that just started (if it has a check);
    its pid is noted on ctr for `end`."""
    check = ctr.meta.get("healthcheck")
    if not health.active(check):
        return
    health.reset(ctr)
    pidfd = os.pidfd_open(ctr.state.pid)
    try:
        pid = os.fork()
        if pid == 0:
            try:
                _become_checker(pidfd)
                _check_until_exit(ctr, check, pidfd)
            finally:
                os._exit(0)
        ctr.checker = pid
    finally:
        os.close(pidfd)


def end(ctr) -> None:
    """In the monitor, once the container exited: its checker stopped and
    reaped, before the record may go (--rm) with the directory it writes in."""
    pid = getattr(ctr, "checker", 0)
    if pid:
        ctr.checker = 0
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)


def _become_checker(pidfd: int) -> None:
    """In the forked checker: no terminal, no signal relays, no fds of the monitor's."""
    from pycontain.oci.waiting import FORWARDED_SIGNALS

    os.setsid()
    for sig in FORWARDED_SIGNALS:
        signal.signal(sig, signal.SIG_DFL)
    signal.set_wakeup_fd(-1)
    devnull = os.open(os.devnull, os.O_RDWR)
    for target in (0, 1, 2):
        os.dup2(devnull, target)
    os.closerange(3, pidfd)
    os.closerange(pidfd + 1, 65536)


def _check_until_exit(ctr, check: dict, pidfd: int) -> None:
    interval = health.value(check, "Interval") / health.SECOND
    while not readable([pidfd], interval):
        try:
            from pycontain.engine import state
            current = state.load(ctr.id)
        except (FileNotFoundError, ValueError):
            return  # removed
        if current.state.paused:
            continue  # a frozen container cannot answer: no result
        result = probe(current, check)
        if readable([pidfd], 0):
            return  # it exited meanwhile: no verdict on a container that is gone
        health.record(current, result)


def probe_now(ctr) -> tuple:
    """`healthcheck run`: one probe now, recorded; (passed, the status)."""
    check = ctr.meta.get("healthcheck")
    if not health.active(check):
        raise PycontainError(f"container {ctr.name} has no healthcheck")
    if not ctr.alive():
        raise PycontainError(f"container {ctr.name} is not running")
    result = probe(ctr, check)
    return result["ExitCode"] == 0, health.record(ctr, result)


def probe(ctr, check: dict) -> dict:
    """Run the test once: {Start, End (Unix seconds), ExitCode, Output}."""
    from pycontain.engine.attach import start_process
    from pycontain.engine.execute import ExecOptions, exec_launcher
    from pycontain.engine.streams import Pipes

    timeout = health.value(check, "Timeout") / health.SECOND
    start = time.time()
    deadline = time.monotonic() + timeout
    pipes = Pipes(False, merged=True)
    try:
        spawn_fn, prepare = exec_launcher(ctr, ExecOptions(command=health.argv(check)))
        proc = start_process(spawn_fn, pipes, prepare)
    except PycontainError as exc:  # start_process closed the pipes
        return _result(start, exc.code, str(exc))
    try:
        code, output = _collect(proc.pid, pipes.stdout, deadline)
    finally:
        pipes.close()
    if code is None:
        from pycontain.durations import seconds_text
        return _result(start, -1, "Health check exceeded timeout "
                                  f"({seconds_text(health.value(check, 'Timeout'))})")
    return _result(start, code, output)


def _result(start: float, code: int, output: str) -> dict:
    return {"Start": start, "End": time.time(), "ExitCode": code, "Output": output}


def _collect(pid: int, out_fd: int, deadline: float) -> tuple:
    """(exit code, output) of our child pid, or (None, '') once it was killed
    at the deadline. Output ends at its exit: what a process it left behind
    writes later is not waited for."""
    from pycontain.oci.waiting import exit_code

    output, open_out = bytearray(), True
    pidfd = os.pidfd_open(pid)
    try:
        while True:
            ready = readable([pidfd] + ([out_fd] if open_out else []),
                             deadline - time.monotonic())
            if not ready:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return None, ""
            if out_fd in ready:
                open_out = _read_some(out_fd, output)
            elif pidfd in ready:
                os.set_blocking(out_fd, False)
                for _ in range(16):  # what is buffered, not a writer that never stops
                    try:
                        if not _read_some(out_fd, output):
                            break
                    except BlockingIOError:
                        break
                break
    finally:
        os.close(pidfd)
    _, status = os.waitpid(pid, 0)
    return exit_code(status), output.decode(errors="replace")


def _read_some(fd: int, output: bytearray) -> bool:
    """Read a chunk into output (kept to MAX_OUTPUT bytes); False at its end."""
    chunk = os.read(fd, 65536)
    output += chunk[:max(0, health.MAX_OUTPUT - len(output))]
    return bool(chunk)
