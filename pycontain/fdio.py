"""Whole writes and reads on file descriptors (os.write and os.read may do
part of one). Standard library only: it runs in jails' set-up too."""
import os


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
