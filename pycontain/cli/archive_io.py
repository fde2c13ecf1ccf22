"""Archives on stdin and stdout, as docker's load, save, import - and export
take them: stdin is spooled to a file in the store's staging area (an
archive is read out of order), stdout is refused when it is a terminal."""
import contextlib
import os
import shutil
import sys

from pycontain.errors import PycontainError

CHUNK = 1 << 20


def refuse_terminal(what: str) -> None:
    """docker's refusal to write binary data to a terminal."""
    if os.isatty(1):
        raise PycontainError(f"cowardly refusing to write {what} to a terminal: "
                             "use -o FILE or redirect stdout")


@contextlib.contextmanager
def spooled_stdin(store, filename: str):
    """The path of a file holding all of stdin (removed afterwards)."""
    from pycontain.image.staging import PullArea
    if os.isatty(0):
        raise PycontainError("refusing to read an archive from a terminal: "
                             "use -i FILE or redirect stdin")
    with PullArea(store) as area:
        path = os.path.join(area.dir, filename)
        with open(path, "xb") as out:
            shutil.copyfileobj(sys.stdin.buffer, out, CHUNK)
        if not os.path.getsize(path):
            raise PycontainError("no archive on stdin (it was empty)")
        yield path


@contextlib.contextmanager
def spooled_stdout(store, filename: str):
    """A path to write; its content goes to stdout once the block succeeds."""
    from pycontain.image.staging import PullArea
    with PullArea(store) as area:
        path = os.path.join(area.dir, filename)
        yield path
        sys.stdout.flush()
        with open(path, "rb") as src:
            try:
                shutil.copyfileobj(src, sys.stdout.buffer, CHUNK)
                sys.stdout.buffer.flush()
            except BrokenPipeError:
                raise PycontainError("stdout closed before the archive was written") from None
