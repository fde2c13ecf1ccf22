"""The verbs on an existing container: state, kill, delete, pause, resume,
ps, update, list."""
import os
import time

from pycontain.runc import cgroup
from pycontain.runc.state import Container, RuncError, all_ids


def _group(ctr: Container):
    saved = ctr.data.get("cgroup")
    host = cgroup.full_host()
    if not saved or host is None:
        return None
    return cgroup.group(host, saved["dirs"])


def kill(ctr: Container, sig: int, all_processes: bool = False) -> None:
    """Signal the init; with all_processes, whatever is in the container's
    cgroup, whatever its status (containerd's shim does so once the init has
    exited, when the container shares a pid namespace)."""
    group = _group(ctr) if all_processes else None
    if group is not None:
        _signal(group.pids(), sig)
    elif ctr.status() != "stopped":
        _signal([ctr.pid], sig)
    elif not all_processes:
        raise RuncError("container not running")


def _signal(pids: list, sig: int) -> None:
    for pid in pids:
        if pid <= 0:  # os.kill's process groups: never ours to signal
            continue
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _wait_gone(ctr: Container, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while ctr.alive() and time.monotonic() < deadline:
        time.sleep(0.005)


def delete(ctr: Container, force: bool = False, log=None) -> None:
    """Remove the container: refused while it runs unless forced; a created
    one is killed (as runc does). What is left in its cgroup is killed only
    when it had no pid namespace of its own (with one, the init's death took
    all of the container's processes: any left are not the container's).
    Removes only what create made, and its state even if a cgroup of it
    cannot be removed (that error is still reported)."""
    status = ctr.status()
    if status not in ("stopped", "created") and not force:
        raise RuncError(f"cannot delete container {ctr.id} that is not stopped: {status}")
    group = _group(ctr)
    if status != "stopped":
        if status == "paused" and group is not None:
            cgroup.freeze(cgroup.full_host(), ctr.data["cgroup"]["dirs"], False)
        _signal([ctr.pid], 9)
    if group is not None and not ctr.data.get("private_pid"):
        group.kill()  # every process left in the cgroup
    _wait_gone(ctr)
    try:
        if (ctr.data.get("hooks") or {}).get("poststop"):
            from pycontain.oci import hooks
            hooks.run({"hooks": ctr.data["hooks"]}, "poststop",
                      dict(ctr.oci_state(), status="stopped"), log)
        if ctr.data.get("cgroup"):
            cgroup.remove(ctr.data["cgroup"]["made"], ctr.data["cgroup"]["dirs"].values())
    finally:
        ctr.remove_dir()


def pause(ctr: Container, on: bool) -> None:
    status = ctr.status()
    if on and status != "running":
        raise RuncError("container not running" if status != "paused"
                        else "container already paused")
    if not on and status != "paused":
        raise RuncError("container not paused")
    if _group(ctr) is None:
        raise RuncError("cannot pause: the container has no cgroup")
    cgroup.freeze(cgroup.full_host(), ctr.data["cgroup"]["dirs"], on)


def pids(ctr: Container) -> list:
    group = _group(ctr)
    return group.pids() if group is not None else ([ctr.pid] if ctr.alive() else [])


def ps(ctr: Container, fmt: str, ps_args: list) -> str:
    """runc ps: the cgroup's pids as JSON, or ps(1)'s table filtered to them."""
    found = pids(ctr)
    if fmt == "json":
        from pycontain.jsonio import dumps
        return dumps(found, indent=None)
    import subprocess
    out = subprocess.run(["ps", *(ps_args or ["-ef"])], capture_output=True, text=True,
                         check=False).stdout.splitlines()
    if not out:
        raise RuncError("ps printed nothing")
    header = out[0].split()
    if "PID" not in header:
        raise RuncError("couldn't find PID field in ps output")
    col = header.index("PID")
    keep = {str(p) for p in found}
    return "\n".join([out[0]] + [line for line in out[1:]
                                 if len(line.split()) > col and line.split()[col] in keep])


def update(ctr: Container, res: dict) -> None:
    if ctr.status() == "stopped":
        raise RuncError("container not running")
    group = _group(ctr)
    if group is None:
        raise RuncError("the container has no cgroup to update")
    group.check(res)
    group.apply(res)


def listing(root: str) -> list:
    found = []
    for cid in all_ids(root):
        try:
            found.append(Container.load(root, cid).oci_state())
        except (RuncError, OSError, ValueError):
            continue
    return found
