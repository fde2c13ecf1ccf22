"""Containers on disk: their directories, names and runtime state.

data root  containers/<id>/   config.json (OCI spec), container.json (what the
                              user asked for), upper/ work/ rootfs/ (overlay),
                              hostname hosts resolv.conf, ctr-json.log
           names/<name>       symlink to the id, created atomically
run root   <id>/state.json    status, pid, times, exit code (rewritten atomically)
           <id>/exit          the exit code and time, written in place (see EXIT_SLOT)
"""
import os
import time

from pycontain import paths
from pycontain.errors import PycontainError, disk_refused
from pycontain.fsutil import read_json, remove_tree, write_atomic, write_json, write_new
from pycontain.record import Record

CREATED, RUNNING, EXITED = "created", "running", "exited"
PAUSED = "paused"  # shown, never stored: a running container whose cgroup is frozen
# A kept container's exit is written into this file, made at its full size
# when the container is created: rewriting bytes a file already holds needs
# no new space, so a disk that the container's log (or anything else) filled
# meanwhile cannot lose the exit code, as it can the state.json rewrite
# (a new file, renamed over the old). Blank until the container exits.
EXIT_SLOT, SLOT_SIZE = "exit", 64
BLANK_SLOT = b" " * (SLOT_SIZE - 1) + b"\n"


class State(Record):
    """Runtime state; pid_start (from /proc/PID/stat) guards against pid reuse."""
    FIELDS = {
        "status": CREATED, "pid": 0, "pid_start": "", "monitor_pid": 0, "monitor_start": "",
        "started_at": 0.0, "finished_at": 0.0, "exit_code": None, "oom_killed": False,
        "error": "", "extra": {}, "paused": False,
    }
    __slots__ = tuple(FIELDS)


def proc_start_time(pid: int) -> str:
    """The start time of a live pid (field 22 of /proc/PID/stat); '' if it is
    gone or a zombie, so a dead-but-unreaped process never counts as alive."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return ""
    return "" if fields[0] in (b"Z", b"X") else fields[19].decode()


class Container:
    """One container's record; `meta` is what the user asked for."""

    def __init__(self, cid: str, meta: dict, state: State):
        self.id = cid
        self.meta = meta
        self.state = state
        self.unsaved = False  # a change not on disk yet (see record_pid)
        self.keep = False  # `start` of a kept record: a failed start must not delete it

    @property
    def name(self) -> str:
        return self.meta["name"]

    @property
    def dir(self) -> str:
        return os.path.join(paths.data_root(), "containers", self.id)

    @property
    def run_dir(self) -> str:
        return os.path.join(paths.run_root(), self.id)

    def path(self, *parts: str) -> str:
        return os.path.join(self.dir, *parts)

    def alive(self) -> bool:
        """True while the container's first process is the one we started."""
        return bool(self.state.pid) and proc_start_time(self.state.pid) == self.state.pid_start

    def monitor_alive(self) -> bool:
        return bool(self.state.monitor_pid) and \
            proc_start_time(self.state.monitor_pid) == self.state.monitor_start

    def set_monitor(self, pid: int) -> None:
        """pid (the engine or a detached monitor) now watches this container."""
        self.state.monitor_pid = pid
        self.state.monitor_start = proc_start_time(pid)

    @property
    def status(self) -> str:
        """The stored status, corrected when the process died unobserved."""
        if self.state.status == RUNNING and not self.alive():
            return EXITED
        if self.state.status == RUNNING and self.state.paused:
            return PAUSED
        return self.state.status

    def save_state(self) -> None:
        if os.path.isdir(self.run_dir):
            write_json(os.path.join(self.run_dir, "state.json"), self.state.as_dict(), sync=False)
        self.unsaved = False

    def reset_for_start(self) -> None:
        """Before a start (again): a fresh state, this process as its monitor
        and a blank exit slot; what nests its cgroup (extra) is kept."""
        self.state = State(extra=self.state.extra)
        self.set_monitor(os.getpid())
        self.save_state()
        if not self.meta.get("rm"):
            write_atomic(os.path.join(self.run_dir, EXIT_SLOT), BLANK_SLOT, sync=False)

    def record_pid(self, pid: int) -> None:
        """The container's first process exists (its command has not started).
        Saved with the next state write (its cgroup's, or save_unsaved before
        it may start): each write replaces state.json, which ext4 makes cost
        ~0.4 ms."""
        self.state.pid = pid
        self.state.pid_start = proc_start_time(pid)
        self.unsaved = True

    def save_unsaved(self) -> None:
        if self.unsaved:
            self.save_state()

    def set_running(self, pid: int) -> None:
        """Record the start; if that fails (a full disk) the state stays as it was."""
        before = self.state
        self.state = before.replace(status=RUNNING, pid=pid,
                                    pid_start=before.pid_start or proc_start_time(pid),
                                    started_at=time.time())
        try:
            self.save_state()
        except BaseException:
            self.state = before
            raise

    def set_exited(self, code: int, save: bool = True) -> None:
        """Record the exit: into the exit slot first (needs no space), then
        state.json, which a full disk may refuse (the slot has the code)."""
        self.state.status = EXITED
        self.state.exit_code = code
        self.state.finished_at = time.time()
        if not save:
            return
        try:
            fd = os.open(os.path.join(self.run_dir, EXIT_SLOT), os.O_WRONLY | os.O_CLOEXEC)
        except FileNotFoundError:  # made before exit slots, or removed meanwhile
            pass
        else:
            try:
                os.pwrite(fd, f"{code} {self.state.finished_at:.6f}".encode(), 0)
            finally:
                os.close(fd)
        try:
            self.save_state()
        except OSError as exc:
            if not disk_refused(exc):
                raise


def containers_dir() -> str:
    return os.path.join(paths.data_root(), "containers")


def names_dir() -> str:
    return os.path.join(paths.data_root(), "names")


def create_record(cid: str, meta: dict) -> Container:
    """Claim the name and create the container's directories (0700)."""
    paths.run_root()  # first: one it refuses (not private) must leave nothing made
    paths.ensure_dir(containers_dir())
    paths.ensure_dir(names_dir())
    try:
        os.symlink(cid, os.path.join(names_dir(), meta["name"]))
    except FileExistsError:
        raise PycontainError(
            f'the container name "{meta["name"]}" is already in use; remove that container '
            "or choose another --name") from None
    ctr = Container(cid, meta, State())
    ctr.set_monitor(os.getpid())
    try:
        os.mkdir(ctr.dir, 0o700)
        paths.ensure_dir(ctr.run_dir)
        write_json(ctr.path("container.json"), meta, sync=False)
        ctr.save_state()
        if not meta.get("rm"):  # --rm: no record to keep the exit in
            write_new(os.path.join(ctr.run_dir, EXIT_SLOT), BLANK_SLOT)
    except BaseException:
        delete_record(ctr)
        raise
    return ctr


def delete_record(ctr: Container, volumes: bool = False) -> None:
    """Remove every trace of the container from disk; with volumes, or for an
    --rm container, its anonymous volumes too (those no other container uses)."""
    link = os.path.join(names_dir(), ctr.meta["name"])
    try:
        if os.readlink(link) == ctr.id:
            os.unlink(link)
    except FileNotFoundError:
        pass
    remove_tree(ctr.run_dir)
    remove_tree(ctr.dir)
    if ctr.meta.get("volumes") and (volumes or ctr.meta.get("rm")):
        from pycontain.engine.volumes import release
        release(ctr.meta["volumes"])


def load(cid: str) -> Container:
    directory = os.path.join(containers_dir(), cid)
    meta = read_json(os.path.join(directory, "container.json"))
    run_dir = os.path.join(paths.run_root(), cid)
    try:
        state = State(**read_json(os.path.join(run_dir, "state.json")))
    except FileNotFoundError:
        state = State(status=EXITED)
    if state.status != EXITED:
        _read_exit_slot(run_dir, state)
    return Container(cid, meta, state)


def _read_exit_slot(run_dir: str, state: State) -> None:
    """The exit the slot holds, if state.json could not be written after it."""
    try:
        with open(os.path.join(run_dir, EXIT_SLOT), "rb") as f:
            fields = f.read(SLOT_SIZE).split()
        code, finished = int(fields[0]), float(fields[1])
    except (OSError, ValueError, IndexError):  # none, or blank: not exited
        return
    state.status, state.exit_code, state.finished_at = EXITED, code, finished


def all_ids() -> list:
    try:
        return sorted(os.listdir(containers_dir()))
    except FileNotFoundError:
        return []


def lookup(ref: str) -> Container:
    """Find a container by name, full id or unique id prefix."""
    link = os.path.join(names_dir(), ref)
    if os.path.islink(link):
        return load(os.readlink(link))
    matches = [cid for cid in all_ids() if cid.startswith(ref)] if ref else []
    if len(matches) == 1:
        return load(matches[0])
    if len(matches) > 1:
        raise PycontainError(f"container id prefix {ref} is ambiguous")
    raise PycontainError(f"no such container: {ref}")
