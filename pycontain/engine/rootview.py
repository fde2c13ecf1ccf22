"""Working inside a container's root file system from the host, safely.

`in_root(ctr, work)` forks a child that chroots into the container's root
and runs work() there, so every path it resolves, symlinks included (an
image whose /etc is a symlink to `/` or `../..`), stays inside the
container, whatever the container does meanwhile. Docker's `cp` does the
same (a chrooted helper); resolving paths from the host side instead races
with the container's own writes.

The root it enters:
  running container, whole=True:   /proc/PID/root, with the container's
                                   mounts (volumes, /proc, /dev...), as `cp` sees it
  running container, whole=False:  that root's own file system only (a
                                   non-recursive bind in a mount namespace of
                                   the child's): what `export` tars
  stopped container:               its overlay (image layers + its upper dir),
                                   mounted in the child's mount namespace
Before the chroot the child has imported all it needs and closed every fd
but those it was given: nothing of the host stays reachable, and no name
lookup (NSS) ever loads a library from the container.
"""
import os

from pycontain import native as n
from pycontain.errors import PycontainError

MS_PRIVATE = 1 << 18


def _enter(ctr, whole: bool) -> None:
    """In the child: chroot into the container's root (see module doc)."""
    if ctr.alive():
        root = f"/proc/{ctr.state.pid}/root"
        if not whole:
            n.unshare(n.CLONE_NEWNS)
            n.mount(None, "/", None, n.MS_REC | MS_PRIVATE)
            n.mount(root, ctr.path("rootfs"), None, n.MS_BIND)
            root = ctr.path("rootfs")
    else:
        from pycontain.oci.rootfs import mount_overlay
        n.unshare(n.CLONE_NEWNS)
        n.mount(None, "/", None, n.MS_REC | MS_PRIVATE)
        mount_overlay(ctr.path("rootfs"), {"base": ctr.meta["store"], "lower": ctr.meta["lower"],
                                           "upper": ctr.path("upper"), "work": ctr.path("work")})
        root = ctr.path("rootfs")
    os.chroot(root)
    os.chdir("/")


def in_root(ctr, work, keep_fds=(), whole: bool = True):
    """Start work() in a child inside the container's root (keep_fds stay
    open in it: pipes, our stdin/stdout). Returns wait(): it reaps the child
    and raises its error (a PycontainError's code and message), if any."""
    return in_child(lambda: _enter(ctr, whole), work, keep_fds)


def in_child(enter, work, keep_fds=(), what: str = "copy"):
    """Fork a child that closes every fd but keep_fds, runs enter() (into a
    root of its choice) then work(); wait() as for in_root."""
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:
        code, message = 0, ""
        try:
            os.close(err_r)
            keep = sorted({err_w, *keep_fds})
            low = 3
            for fd in keep:
                if fd < low:
                    continue  # our stdio stays (without a tty, no way back to the host)
                os.closerange(low, fd)
                low = fd + 1
            os.closerange(low, 1 << 20)
            enter()
            work()
        except PycontainError as exc:
            code, message = exc.code, str(exc)
        except OSError as exc:
            code = 1
            message = f"{exc.strerror}: {exc.filename}" if exc.filename else str(exc.strerror)
        except BaseException as exc:  # noqa: BLE001 - a forked child: report, never unwind
            code, message = 125, f"{what} failed: {exc!r}"
        try:
            if message:
                os.write(err_w, f"{code}:{message}".encode(errors="replace")[:4096])
        finally:
            os._exit(code)
    os.close(err_w)

    def wait() -> None:
        with os.fdopen(err_r, "rb") as f:
            report = f.read().decode(errors="replace")
        _, status = os.waitpid(pid, 0)
        if report:
            code, _, message = report.partition(":")
            raise PycontainError(message, int(code))
        if status:
            raise PycontainError(f"{what} failed (status {status})")
    return wait
