"""Reading and writing cgroup control files, with one-line errors."""
import os

from pycontain.errors import PycontainError


def read(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


def read_int(path: str, default: int = 0) -> int:
    try:
        text = read(path)
    except FileNotFoundError:
        return default
    return default if text == "max" else int(text)


def keyed(path: str) -> dict:
    """A flat keyed file ("key value" lines: cpu.stat, memory.events) as ints."""
    try:
        lines = read(path).splitlines()
    except FileNotFoundError:
        return {}
    pairs = (line.split() for line in lines)
    return {p[0]: int(p[1]) for p in pairs if len(p) == 2 and p[1].lstrip("-").isdigit()}


def write(path: str, value) -> None:
    """Write value to a control file; an error names the file and the value."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, str(value).encode())
        finally:
            os.close(fd)
    except OSError as exc:
        error = PycontainError(f"cannot set {os.path.basename(path)} to {value}: "
                               f"{exc.strerror} (the kernel refused it)")
        error.errno = exc.errno  # for a caller that retries when the cgroup vanished
        raise error from None


def procs(directory: str) -> list:
    """The pids in a cgroup (none if it is gone)."""
    try:
        return [int(p) for p in read(os.path.join(directory, "cgroup.procs")).split()]
    except FileNotFoundError:
        return []


def keyed_line(line: str) -> dict:
    """An io.stat line ("8:0 rbytes=1 wbytes=2 ...") as {key: int}."""
    pairs = (item.partition("=") for item in line.split()[1:])
    return {k: int(v) for k, eq, v in pairs if eq and v.isdigit()}


def lines(path: str) -> list:
    try:
        return read(path).splitlines()
    except FileNotFoundError:
        return []
