"""Running a container process in the foreground, wired to our stdio or a terminal."""
import os

from pycontain.runtime.waiting import forward_signals, wait_child


def stdio_for(interactive: bool, out_fd: int = 1, err_fd: int = 2):
    """The process's fds 0-2 without a terminal: ours, with /dev/null for a closed stdin."""
    stdin = 0 if interactive else os.open(os.devnull, os.O_RDONLY)
    return (stdin, out_fd, err_fd)


def start_process(spawn_fn, stdio, prepare=None):
    """spawn_fn(stdio) -> Launch; prepare(pid) (attach host resources), then
    start it; the process is killed if either step fails. Returns the Launch."""
    proc = spawn_fn(stdio)
    try:
        proc.begin()
        if prepare:
            prepare(proc.pid)
        proc.start()
    except BaseException:
        proc.abort()
        raise
    return proc


def run_foreground(spawn_fn, tty: bool, interactive: bool, on_started=lambda pid: None,
                   wait=wait_child, prepare=None) -> int:
    """Start a process in the foreground and return its shell-style exit code.

    Our SIGINT/SIGTERM/SIGHUP/... are relayed to it from the moment it exists
    (before its command starts); with tty its terminal is proxied to ours.
    """
    def relay_then_prepare(pid):
        forward_signals(pid)
        if prepare:
            prepare(pid)

    proc = start_process(spawn_fn, (None, None, None) if tty else stdio_for(interactive),
                         relay_then_prepare)
    try:
        on_started(proc.pid)
    except BaseException:
        proc.abort()  # e.g. its record could not be written: it must not run unrecorded
        raise
    if tty:
        from pycontain.runtime import tty as ttys
        ttys.proxy(proc.master, 1, 0 if interactive else None)
        os.close(proc.master)
    return wait(proc.pid)
