"""`exec`: another process in a running container's namespaces and cgroup.

The process comes from --process (a process.json, as containerd's shim writes
it) or from the container's own process with the command line's args, env,
cwd, user and terminal; the container's process and seccomp are those its
state saved at create, never its bundle's config.json as it is now. Its
failure never touches the container, and leaves no process of its own.
"""
import os

from pycontain.jsonio import parse
from pycontain.runc import lifecycle, specshape
from pycontain.runc.manage import _group
from pycontain.runc.state import Container, RuncError


class ExecRequest:
    def __init__(self, process_file=None, args=(), env=(), cwd=None, user=None, tty=False,
                 detach=False, pid_file=None, console_socket=None, preserve_fds=0,
                 additional_gids=(), no_new_privs=False, caps=()):
        self.__dict__.update(locals())
        del self.__dict__["self"]


def _process(saved: dict, req: ExecRequest) -> dict:
    if req.process_file:
        try:
            with open(req.process_file, "rb") as f:
                data = f.read()
        except OSError as exc:
            raise RuncError(f"cannot read process file {req.process_file}: "
                            f"{exc.strerror}") from None
        process = specshape.check(parse(data, "process file"), specshape.PROCESS,
                                  "process file")
        if not process.get("args"):
            raise RuncError("process file: args must not be empty")
        return process
    process = dict(saved["process"])
    env = dict(e.split("=", 1) for e in process.get("env", []) if "=" in e)
    env.update(e.split("=", 1) for e in req.env if "=" in e)
    process.update(args=list(req.args), terminal=req.tty,
                   env=[f"{k}={v}" for k, v in env.items()])
    if req.cwd:
        process["cwd"] = req.cwd
    if req.user:
        uid, _, gid = req.user.partition(":")
        if not uid.isdigit() or (gid and not gid.isdigit()):
            raise RuncError(f"--user must be UID[:GID] in numbers, got {req.user!r}")
        process["user"] = {"uid": int(uid), "gid": int(gid or 0),
                           "additionalGids": [int(g) for g in req.additional_gids]}
    if req.no_new_privs:
        process["noNewPrivileges"] = True
    if req.caps:
        sets = dict(process.get("capabilities") or {})
        for name in ("bounding", "effective", "permitted", "ambient"):
            sets[name] = sorted(set(sets.get(name, [])) | set(req.caps))
        process["capabilities"] = sets
    return process


def execute(root: str, cid: str, req: ExecRequest) -> int:
    """Run the process; its exit code, or 0 at once with --detach."""
    from pycontain.oci.context import InitContext
    from pycontain.oci.process import spawn

    ctr = Container.load(root, cid)
    status = ctr.status()
    if status == "paused":
        raise RuncError("cannot exec in a paused container")
    if status not in ("running", "created") or ctr.pid <= 0:  # pid 0: no join, the host's
        raise RuncError("cannot exec in a stopped container")
    saved = ctr.data.get("exec")
    if saved is None:
        raise RuncError("the container's state has no process to exec from (created by an "
                        "older pycontain-runc): recreate it")
    process = _process(saved, req)
    if process.get("terminal") and not (req.console_socket or not req.detach):
        raise RuncError("cannot allocate tty if runc will detach without setting console socket")
    lifecycle.check_caps(process)
    spec = {"process": process, "linux": {"seccomp": saved["seccomp"]}}
    ctx = InitContext(keep_fds=range(3, 3 + req.preserve_fds))
    launch = spawn(spec, ctx, tty=bool(process.get("terminal")), join_pid=ctr.pid,
                   winsize=lifecycle.console_size(process))
    try:
        launch.begin()
        group = _group(ctr)
        if group is not None:
            group.add(launch.pid)
        launch.start()
        master = launch.master
        if master is not None and req.console_socket:
            launch.master = None  # send_console closes it
            lifecycle.send_console(master, req.console_socket)
            master = None
        if req.pid_file:
            lifecycle.write_pid_file(req.pid_file, launch.pid)
    except BaseException:
        _abandon(launch)
        raise
    if req.detach:
        return 0
    return wait_foreground(launch.pid, master)


def _abandon(launch) -> None:
    """Kill and reap an exec's process, started or not, and close its terminal."""
    if launch.master is not None:
        os.close(launch.master)
        launch.master = None
    launch.abort()


def wait_foreground(pid: int, master) -> int:
    """Relay signals to pid (and its terminal to ours) until it exits."""
    from pycontain.oci.waiting import forward_signals, wait_child
    forward_signals(pid)
    if master is not None:
        from pycontain.oci import tty
        tty.proxy(master, 1, 0)
        os.close(master)
    return wait_child(pid)
