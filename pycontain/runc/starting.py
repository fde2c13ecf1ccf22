"""`start`: let a created container's init exec (see lifecycle: it waits on
ROOT/ID/exec.fifo). Apart from lifecycle, and importing only the state: the
callers run it once per container and every module is paid at each call."""
import os
import select

from pycontain.runc.state import FIFO, Container, RuncError


def start(root: str, cid: str, log=None) -> Container:
    """Let a created container's init exec; run the poststart hooks."""
    ctr = Container.load(root, cid)
    status = ctr.status()
    if status == "stopped":
        raise RuncError("cannot start a container that has stopped")
    if status != "created":
        raise RuncError("cannot start an already running container")
    fd = os.open(ctr.path(FIFO), os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        while not poller.poll(100):
            if not ctr.alive():
                raise RuncError("cannot start a container that has stopped")
        if os.read(fd, 1) != b"0":
            raise RuncError("cannot start a container that has stopped")
    finally:
        os.close(fd)
        try:
            os.unlink(ctr.path(FIFO))
        except FileNotFoundError:
            pass
    if (ctr.data.get("hooks") or {}).get("poststart"):
        from pycontain.oci import hooks
        # the process was started (it may have exited already: still "running" here)
        hooks.run({"hooks": ctr.data["hooks"]}, "poststart",
                  dict(ctr.oci_state(), status="running", pid=ctr.pid), log)
    return ctr
