"""A container's runtime state on disk: ROOT/ID/state and exec.fifo.

The init process is known by pid and start time, so a reused pid is never
taken for it. Status follows runc: `created` while the exec fifo exists,
`running` once started, `paused` while frozen, `stopped` once the process is gone.
The state is the runtime's own file, in marshal's format: read and written
without `json` (whose import, with `re`, is a good part of a call's start).
"""
import marshal
import os
import time

from pycontain.errors import PycontainError

FIFO = "exec.fifo"
STATE = "state"
# the default root: RUN_DIR/ROOT_NAME as root, $XDG_RUNTIME_DIR/ROOT_NAME rootless
RUN_DIR = "/run"
ROOT_NAME = "pycontain-runc"
FIFO_ONLY = "start.fifo-only"  # the markers csrc/runc_fast.c reads: runc/markers.py
DELETE_PLAN = "delete.plan"
STATE_VIEW = "state.view"
# what the runtime puts in ROOT/ID, in the order remove_dir removes it: the state last
RUNTIME_FILES = (FIFO, FIFO_ONLY, DELETE_PLAN, STATE_VIEW, STATE)
ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+-.")
ID_MAX = 255  # an id is a directory's name: NAME_MAX


class RuncError(PycontainError):
    """The runtime's own refusals. Any PycontainError (the core's too) is
    reported by the command as one line and exit status 1, as runc does."""


class Missing(RuncError):
    """No container of that id (its state file is not there)."""


class UsageError(RuncError):
    """A command line runc refuses before acting (exit status 1, even for exec)."""


def default_root() -> str:
    if os.geteuid() == 0:
        return os.path.join(RUN_DIR, ROOT_NAME)
    run = os.environ.get("XDG_RUNTIME_DIR")
    if not run:
        raise RuncError("XDG_RUNTIME_DIR is not set: pass --root for a rootless runtime")
    return os.path.join(run, ROOT_NAME)


def check_id(cid: str) -> str:
    if not ID_CHARS.issuperset(cid) or cid in ("", ".", ".."):
        raise RuncError(f"invalid container id format: {cid}")
    if len(cid) > ID_MAX:
        raise RuncError(f"invalid container id format: {cid} (at most {ID_MAX} characters)")
    return cid


def init_pid(data: dict) -> int:
    """The init's pid in a state, 0 if none is known: never one <= 0, which
    os.kill and /proc would take for the caller's process group or every process."""
    pid = data.get("pid")
    return pid if type(pid) is int and pid > 0 else 0


def start_time(pid: int):
    """The process's start time in clock ticks (/proc/PID/stat field 22), or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    return int(fields[19]) if fields[0] != b"Z" else None


class Container:
    """One container's directory under the runtime's root."""

    def __init__(self, root: str, cid: str):
        self.id = check_id(cid)
        self.dir = os.path.join(root, cid)
        self.data = {}

    @classmethod
    def load(cls, root: str, cid: str) -> "Container":
        ctr = cls(root, cid)
        try:
            with open(os.path.join(ctr.dir, STATE), "rb") as f:
                ctr.data = marshal.loads(f.read())
        except (FileNotFoundError, NotADirectoryError):
            raise Missing(f'container "{cid}" does not exist') from None
        except (EOFError, ValueError, TypeError):
            raise RuncError(f'container "{cid}": its state is damaged') from None
        return ctr

    def path(self, name: str) -> str:
        return os.path.join(self.dir, name)

    def save(self) -> None:
        from pycontain.fsutil import write_atomic
        from pycontain.runc import markers
        data = marshal.dumps(self.data)
        markers.write(self, data)  # what csrc/runc_fast.c may do alone
        write_atomic(self.path(STATE), data, sync=False)

    def remove_dir(self) -> None:
        """ROOT/ID: the files the runtime puts there, then the directory; anything
        else found in it is removed by fsutil.remove_tree (not loaded otherwise)."""
        for name in RUNTIME_FILES:
            try:
                os.unlink(self.path(name))
            except FileNotFoundError:
                pass
            except OSError:
                break
        try:
            os.rmdir(self.dir)
        except FileNotFoundError:
            pass
        except OSError:
            from pycontain.fsutil import remove_tree
            remove_tree(self.dir)

    @property
    def pid(self) -> int:
        return init_pid(self.data)

    def alive(self) -> bool:
        started = self.data.get("start_time")
        return self.pid > 0 and type(started) is int and start_time(self.pid) == started

    def status(self) -> str:
        if not self.alive():
            return "stopped"
        if os.path.exists(self.path(FIFO)):
            return "created"
        from pycontain.runc.cgroup import frozen
        return "paused" if frozen(self.data.get("cgroup")) else "running"

    def oci_state(self, status=None) -> dict:
        """The state as `runc state` prints it: the OCI fields plus runc's own."""
        status = status or self.status()
        return {
            "ociVersion": self.data.get("ociVersion", "1.0.2"),
            "id": self.id, "pid": self.pid if status != "stopped" else 0,
            "status": status, "bundle": self.data["bundle"], "rootfs": self.data["rootfs"],
            "created": self.data["created"], "owner": "",
            "annotations": self.data.get("annotations") or {},
        }


def now_rfc3339() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e9):09d}Z"


def all_ids(root: str) -> list:
    try:
        return sorted(e.name for e in os.scandir(root)
                      if e.is_dir() and os.path.exists(os.path.join(e.path, STATE)))
    except FileNotFoundError:
        return []
