"""Running a container process in the foreground, wired to our stdio or a pty."""
import os

from pycontain.runtime.waiting import forward_signals, wait_child


def stdio_for(interactive: bool, pty=None, out_fd: int = 1, err_fd: int = 2):
    """The process's fds 0-2: ours, /dev/null for a closed stdin, or a pty slave."""
    if pty:
        return (pty[1], pty[1], pty[1])
    stdin = 0 if interactive else os.open(os.devnull, os.O_RDONLY)
    return (stdin, out_fd, err_fd)


def start_process(spawn_fn, stdio, prepare=None):
    """spawn_fn(stdio) -> Launch; prepare(pid) (attach host resources), then
    start it; the process is killed if either step fails."""
    proc = spawn_fn(stdio)
    try:
        if prepare:
            prepare(proc.pid)
        proc.start()
    except BaseException:
        proc.abort()
        raise
    return proc.pid


def run_foreground(spawn_fn, tty: bool, interactive: bool, on_started=lambda pid: None,
                   wait=wait_child, prepare=None) -> int:
    """Start a process in the foreground and return its shell-style exit code.

    Our SIGINT/SIGTERM/SIGHUP/... are relayed to it; with tty its pty is
    proxied to our terminal.
    """
    if tty:
        from pycontain.runtime import tty as ttys
    pty = ttys.open_pty() if tty else None
    try:
        pid = start_process(spawn_fn, stdio_for(interactive, pty), prepare)
    finally:
        if pty:
            os.close(pty[1])
    on_started(pid)
    forward_signals(pid)
    if pty:
        ttys.proxy(pty[0], 1, 0 if interactive else None)
        os.close(pty[0])
    return wait(pid)
