"""Engine errors carry the docker-style exit code the CLI returns."""
import errno

ENGINE = 125       # bad flag, unknown image, engine failure
CANNOT_EXEC = 126  # command found but not executable
NOT_FOUND = 127    # command not found


class PycontainError(Exception):
    """An error shown to the user as one line, with a docker-style exit code."""

    def __init__(self, message: str, code: int = ENGINE):
        super().__init__(message)
        self.code = code


# the disk refused a write: full, over its quota, or mounted read-only
DISK_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS)


def disk_refused(exc: BaseException) -> bool:
    """exc is a write the disk refused (full, over quota, read-only)."""
    return isinstance(exc, OSError) and exc.errno in DISK_ERRNOS


def from_disk(exc: BaseException):
    """The one-line engine error for an OSError the disk caused, else None."""
    if not disk_refused(exc):
        return None
    reason = (exc.strerror or "disk error").lower()
    target = f"cannot write {exc.filename}" if exc.filename else "a write failed"
    hint = "" if exc.errno == errno.EROFS else " (free some space and retry)"
    return PycontainError(f"{target}: {reason}{hint}")
