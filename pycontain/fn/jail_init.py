"""The function jail's init: the OCI core's (oci.nsinit) with two of its
steps replaced, through a context of its own (JailContext).

- the process: as root, the spec's user with its uid moved up by the jail's
  host pid (per_pid_user; fn.jail's module doc says why);
- the root file system: for a plan (fn.plan), built while its ops are
  recorded (fn.rootfs_record), which go to the engine as the launch's note
  (ops_of reads them back).

A third difference is a core field: the handler run by this interpreter
instead of an exec (replace_exec, fn.inprocess.runner_hook).
"""
import marshal
import os

from pycontain.errors import PycontainError
from pycontain.oci.context import InitContext


def per_pid_user(user: dict) -> dict:
    """user, its uid moved up by this process's pid on the host (as /proc,
    still the host's, says): unique among the uids of running jails that do
    the same, if this process is PID 1 of its pid namespace (every process
    that can have the uid then dies before the pid can be another's)."""
    if os.getpid() != 1:
        raise PycontainError("a uid per pid needs the container's own pid namespace")
    return dict(user, uid=user.get("uid", 0) + int(os.readlink("/proc/self")))


class JailContext(InitContext):
    """A jail's init context: InitContext's fields, and

    uid_per_pid (bool)    run as the spec's uid + the init's host pid
                          (per_pid_user; csrc/plan.c's op J)
    record_rootfs (bool)  build the rootfs while recording its ops, sent to
                          the engine as the Launch's note (see ops_of)
    """
    FIELDS = InitContext.FIELDS + ("uid_per_pid", "record_rootfs")
    __slots__ = ("uid_per_pid", "record_rootfs")

    def __init__(self, uid_per_pid=False, record_rootfs=False, **fields):
        super().__init__(**fields)
        self.uid_per_pid, self.record_rootfs = uid_per_pid, record_rootfs

    def process_to_run(self, spec: dict) -> dict:
        process = spec["process"]
        if self.uid_per_pid:
            process = dict(process, user=per_pid_user(process.get("user", {})))
        return process

    def build_rootfs(self, spec: dict):
        if not self.record_rootfs:
            return super().build_rootfs(spec)
        from pycontain.fn.rootfs_record import recorded
        return marshal.dumps(recorded(spec, self.rootfs, self.overlay))


def ops_of(launch):
    """The root file system ops a jail with record_rootfs recorded (a
    oci.launch.Launch, started), or None."""
    return None if launch.note is None else marshal.loads(launch.note)
