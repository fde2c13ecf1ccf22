"""Create a process in new namespaces and hand it over to the engine.

Without a user namespace the engine forks the container's first process (PID 1
of a new pid namespace) directly. With one, or to join a container's
namespaces, the engine (a child subreaper) forks a short-lived helper; the
helper enters the namespaces and forks the container's first process, whose
pid it reports before exiting, so that process is re-parented to the engine.
The new process then waits on a pipe in two steps: `begin` lets it build its
root file system, while the engine attaches cgroups, networks and so on;
`start` lets it join them and exec.
"""
import os

from pycontain import native as n
from pycontain.errors import ENGINE, PycontainError
from pycontain.namespaces import namespace_flags
from pycontain.oci.security import caps


def stdio_setup(stdio):
    """Own session (no TIOCSTI into the caller's terminal), stdio from the engine.
    With a terminal, console.become_console_owner does this instead."""
    def setup():
        os.setsid()
        for target, fd in enumerate(stdio):
            if fd is not None and fd != target:
                os.dup2(fd, target)
    return setup


def join_namespaces(pid: int) -> None:
    """setns into every namespace of pid that differs from ours (mount last)."""
    fds = []
    for oci_type in ("user", "cgroup", "ipc", "uts", "network", "pid", "mount"):
        name = n.NAMESPACES[oci_type][1]
        theirs = f"/proc/{pid}/ns/{name}"
        if os.stat(theirs).st_ino != os.stat(f"/proc/self/ns/{name}").st_ino:
            fds.append(os.open(theirs, os.O_RDONLY | os.O_CLOEXEC))
    for fd in fds:
        n.setns(fd, 0)
        os.close(fd)


def join_spec_namespaces(spec: dict) -> None:
    """setns into the spec's namespaces that name a path (user first, mount
    last), as a CRI pod's containers join their sandbox's network and IPC."""
    order = ("user", "cgroup", "ipc", "uts", "network", "pid", "mount")
    entries = [ns for ns in spec.get("linux", {}).get("namespaces", ()) if ns.get("path")]
    for ns in sorted(entries, key=lambda ns: order.index(ns["type"])):
        try:
            fd = os.open(ns["path"], os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            raise PycontainError(f"cannot open {ns['type']} namespace {ns['path']}: "
                                 f"{exc.strerror}") from None
        try:
            n.setns(fd, n.NAMESPACES[ns["type"]][0])
        except OSError as exc:
            raise PycontainError(f"cannot join {ns['type']} namespace {ns['path']}: "
                                 f"{exc.strerror}") from None
        finally:
            os.close(fd)


def _joins_paths(spec: dict) -> bool:
    return any(ns.get("path") for ns in spec.get("linux", {}).get("namespaces", ()))


def become_container(spec: dict, ctx: "InitContext", flags: int, go_fd, err_fd: int):
    """In the container's first process (PID 1 of its pid namespace): unshare
    the other namespaces (flags), then run nsinit.container_main. Never returns."""
    from pycontain.oci.nsinit import container_main

    try:
        n.prctl(n.PR_SET_DUMPABLE, 0)  # see spawn
        n.unshare(flags)
    except BaseException as exc:  # noqa: BLE001 - a forked child: report, never unwind
        os.write(err_fd, f"{ENGINE}:cannot create namespaces: {exc}".encode())
        os._exit(ENGINE)
    container_main(spec, ctx, go_fd, err_fd)


def _fork_in_namespaces(spec: dict, ctx: "InitContext", flags: int, go: tuple, err: tuple,
                        console) -> "Launch":
    """Without a user namespace, no helper: this thread's next child starts a new
    pid namespace (reset right after the fork), and that child, PID 1 there,
    unshares the other namespaces itself. One fork instead of two."""
    ours = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    child, failure = -1, None
    try:
        if flags & n.CLONE_NEWPID:
            n.unshare(n.CLONE_NEWPID)
        child = os.fork()
    except OSError as exc:
        failure = exc
    if child == 0:
        for fd in (ours, go[1], err[0]):
            os.close(fd)
        become_container(spec, ctx, flags & ~n.CLONE_NEWPID, go[0], err[1])
    try:
        n.setns(ours, n.CLONE_NEWPID)  # this thread's later children: our namespace again
    except OSError as exc:
        failure = failure or exc
    finally:
        os.close(ours)
    os.close(go[0])
    os.close(err[1])
    from pycontain.oci.launch import Launch
    launch = Launch(child, go[1], err[0], console)
    if failure is not None:
        launch.abort()
        raise PycontainError(f"cannot create namespaces: {failure}")
    return launch


def spawn(spec: dict, ctx: "InitContext", stdio=(None, None, None), tty: bool = False,
          join_pid: int = 0, winsize: bytes | None = None) -> "Launch":
    """Fork the container's first process in new namespaces (or, with join_pid,
    a process inside that container's namespaces); see the module doc.
    ctx: the init's context (oci.context.InitContext), copied: spawn fills
    the copy's setup_stdio or console, and its seccomp if None.
    winsize: the terminal's size (struct winsize), else the caller's."""
    from pycontain.oci.nsinit import container_main

    n.prctl(n.PR_SET_CHILD_SUBREAPER, 1)
    caps.last_cap()  # read here, where /proc is the host's, once
    go_r, go_w = os.pipe()
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    ctx = ctx.copy()  # the caller's stays as it was
    if ctx.seccomp is None:
        from pycontain.oci.security.seccomp import program as seccomp_program
        ctx.seccomp = seccomp_program(spec.get("linux", {}).get("seccomp"))
    console = None
    if tty:
        from pycontain.oci import console as consoles
        console, theirs = consoles.socketpair()
        ctx.console = (theirs.detach(), winsize or consoles.caller_window_size())
    else:
        ctx.setup_stdio = stdio_setup(stdio)
    flags = 0 if join_pid else namespace_flags(spec)
    joins = not join_pid and _joins_paths(spec)
    if flags and not flags & n.CLONE_NEWUSER and not joins:
        try:
            return _fork_in_namespaces(spec, ctx, flags, (go_r, go_w), (err_r, err_w), console)
        finally:
            if console is not None:
                os.close(ctx.console[0])
    pid_r, pid_w = os.pipe()
    mapper = None
    if flags & n.CLONE_NEWUSER:
        from pycontain.oci.userns import IdMapper
        mapper = IdMapper(spec)
    helper = os.fork()
    if helper == 0:
        try:
            os.close(go_w)
            os.close(err_r)
            os.close(pid_r)
            if join_pid:
                join_namespaces(join_pid)
            else:
                if joins:
                    join_spec_namespaces(spec)
                if mapper:
                    mapper.enter()
                n.unshare(flags & ~n.CLONE_NEWUSER)
            # never dumpable (and so neither the child): no container process may open
            # our /proc/PID/exe, the host's interpreter (CVE-2019-5736)
            n.prctl(n.PR_SET_DUMPABLE, 0)
            child = os.fork()
            if child == 0:
                os.close(pid_w)
                container_main(spec, ctx, go_r, err_w)
            os.write(pid_w, str(child).encode())
            os._exit(0)
        except BaseException as exc:  # noqa: BLE001 - forked child: report and exit
            os.write(pid_w, f"error:{exc}".encode(errors="replace"))
            os._exit(ENGINE)
    for fd in (go_r, err_w, pid_w):
        os.close(fd)
    if console is not None:
        os.close(ctx.console[0])
    if mapper:
        mapper.map(helper)
    with os.fdopen(pid_r, "rb") as pipe:
        answer = pipe.read().decode()
    os.waitpid(helper, 0)
    if not answer.isdigit():
        os.close(go_w)
        os.close(err_r)
        if console is not None:
            console.close()
        raise PycontainError((mapper and mapper.error) or
                             f"cannot create namespaces: {answer.partition(':')[2]}")
    from pycontain.oci.launch import Launch
    return Launch(int(answer), go_w, err_r, console)
