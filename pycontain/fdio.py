"""Whole writes and reads on file descriptors (os.write and os.read may do
part of one). Standard library only: it runs in jails' set-up too."""
import os
import select


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def read_all(fd: int) -> bytes:
    """What fd holds until EOF."""
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def readable(fds, timeout=None) -> list:
    """Those of fds that are readable (or at EOF, hung up, in error) within
    timeout seconds (None: wait for one). poll(2): select(2) cannot take a
    descriptor numbered 1024 or more, and a server holding many connections
    has them."""
    return ready(fds, (), timeout)[0]


def ready(readers, writers=(), timeout=None) -> tuple:
    """(readable, writable) among readers and writers within timeout seconds
    (None: wait for one); poll(2), as readable()."""
    poller = select.poll()
    for fd in readers:
        poller.register(fd, select.POLLIN)
    for fd in writers:
        poller.register(fd, select.POLLOUT | (select.POLLIN if fd in readers else 0))
    events = poller.poll(None if timeout is None else max(0, timeout) * 1000)
    out_mask = select.POLLOUT | select.POLLERR | select.POLLHUP
    return ([fd for fd, ev in events if fd in readers and ev & ~select.POLLOUT],
            [fd for fd, ev in events if fd in writers and ev & out_mask])
