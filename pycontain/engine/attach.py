"""Running a container process in the foreground, its stdio relayed to ours
(engine.streams) or its terminal proxied to ours (oci.tty)."""
import os

from pycontain.engine.streams import Pipes, same_file
from pycontain.oci.waiting import forward_signals, wait_child


def start_process(spawn_fn, pipes: Pipes | None, prepare=None):
    """spawn_fn(stdio) -> Launch, its stdio the pipes' (None: a terminal's);
    prepare(pid) (attach host resources), then start it; the process is
    killed (and the pipes closed) if either step fails. Returns the Launch."""
    try:
        proc = spawn_fn(pipes.theirs if pipes else (None, None, None))
    except BaseException:
        if pipes:
            pipes.close()
        raise
    if pipes:
        pipes.close_theirs()
    try:
        proc.begin()
        if prepare:
            prepare(proc.pid)
        proc.start()
    except BaseException:
        proc.abort()
        if pipes:
            pipes.close()
        raise
    return proc


def run_foreground(spawn_fn, tty: bool, interactive: bool, on_started=lambda pid: None,
                   wait=wait_child, prepare=None) -> int:
    """Start a process in the foreground and return its shell-style exit code.

    Our SIGINT/SIGTERM/SIGHUP/... are relayed to it from the moment it exists
    (before its command starts); its output is copied to ours, and with
    interactive our input to it; with tty its terminal is proxied to ours.
    """
    def relay_then_prepare(pid):
        forward_signals(pid)
        if prepare:
            prepare(pid)

    pipes = None if tty else Pipes(interactive, merged=same_file(1, 2))
    proc = start_process(spawn_fn, pipes, relay_then_prepare)
    try:
        on_started(proc.pid)
    except BaseException:
        proc.abort()  # e.g. its record could not be written: it must not run unrecorded
        if pipes:
            pipes.close()
        raise
    if tty:
        from pycontain.oci import tty as ttys
        ttys.proxy(proc.master, 1, 0 if interactive else None)
        os.close(proc.master)
    else:
        pipes.relay(proc.pid)
    return wait(proc.pid)
