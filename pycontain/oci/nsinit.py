"""Code that runs inside the container, between fork and exec.

`container_main` is the body of the container's first process (PID 1 of its
new pid namespace). It waits for the engine's go-ahead, builds the root file
system, drops to the spec's user and execs the command. Any failure is written
to the error pipe as "CODE:message" and the process exits; on success exec
closes the pipe (O_CLOEXEC), which tells the engine the command is running.
Two steps are the context's (InitContext.process_to_run, .build_rootfs), so
that a caller whose init does more subclasses the context, not this.
"""
import errno
import os
import resource
import _signal as signal  # not `signal`: its enum import costs ~4 ms per start

from pycontain import native as n
from pycontain.errors import CANNOT_EXEC, ENGINE, NOT_FOUND, PycontainError
from pycontain.fdio import write_all
from pycontain.namespaces import namespace_flags
from pycontain.oci.context import InitContext
from pycontain.oci.rootfs import mount_cgroup_fs  # and setup_rootfs, for ctx.build_rootfs
from pycontain.oci.security.lockdown import drop_privileges

RLIMITS = {name: getattr(resource, name) for name in dir(resource) if name.startswith("RLIMIT_")}
UNTIL_STARTED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)  # end a created init: _stop


def find_executable(name: str, env: list) -> str:
    """Look name up on the container's PATH as execvp would; raise 126/127."""
    if "/" in name:
        candidates = [name]
    else:
        path = next((e[5:] for e in env if e.startswith("PATH=")), "/usr/bin:/bin")
        candidates = [os.path.join(d or ".", name) for d in path.split(":")]
    denied = None
    for cand in candidates:
        if os.path.isfile(cand):
            if os.access(cand, os.X_OK):
                return cand
            denied = cand
        elif os.path.isdir(cand) and "/" in name:
            raise PycontainError(f'exec: "{name}": is a directory', CANNOT_EXEC)
    if denied:
        raise PycontainError(f'exec: "{denied}": permission denied', CANNOT_EXEC)
    if "/" in name:
        raise PycontainError(f'exec: "{name}": no such file or directory', NOT_FOUND)
    raise PycontainError(f'exec: "{name}": executable file not found in $PATH', NOT_FOUND)


def apply_process(process: dict) -> None:
    """rlimits and working directory from the spec's process (the user, with
    capabilities and seccomp, comes last: security.lockdown)."""
    for rl in process.get("rlimits", ()):
        resource.setrlimit(RLIMITS[rl["type"]], (rl["soft"], rl["hard"]))
    cwd = process.get("cwd", "/")
    try:
        os.makedirs(cwd, mode=0o755, exist_ok=True)
        os.chdir(cwd)
        if not os.getcwd().startswith("/"):
            raise OSError(errno.ENOENT, "outside the container")
    except OSError as exc:
        raise PycontainError(f"cannot use working directory {cwd}: {exc.strerror}") from None


def _report(err_fd: int, code: int, message: str) -> None:
    write_all(err_fd, f"{code}:{message}".encode(errors="replace"))


def container_main(spec: dict, ctx: InitContext, go_fd: int, err_fd: int) -> None:
    """Body of a container process until exec. Never returns.

    go_fd: the engine's go-ahead pipe (None: go at once, the engine having
    done its part before it handed over the spec).
    ctx: how to build it (see oci.context.InitContext; a subclass may replace
    the steps process_to_run and build_rootfs).
    """
    code = ENGINE
    try:
        n.prctl(n.PR_SET_DUMPABLE, 0)
        process = ctx.process_to_run(spec)  # while /proc is the host's
        # go 1: the engine has our pid (and id maps)
        if go_fd is not None and os.read(go_fd, 1) != b"1":
            os._exit(ENGINE)
        if ctx.setup_stdio is not None:
            ctx.setup_stdio()
        cgroup_roots = [(os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC), tasks)
                        for root, tasks in ctx.cgroup_join]  # before pivot_root
        if ctx.rootfs is not None:
            ctx.build_rootfs(spec)
        if ctx.hostname:
            n.sethostname(ctx.hostname)
        if ctx.loopback:
            n.loopback_up()
        if ctx.console is not None:  # spawn imported the module before forking: no file access
            from pycontain.oci.console import become_console_owner
            become_console_owner(*ctx.console)
        # go 2: the engine has attached our cgroup, network... (meanwhile we built the rootfs)
        if go_fd is not None:
            if os.read(go_fd, 1) != b"2":
                os._exit(ENGINE)
            os.close(go_fd)
        for root_fd, tasks in cgroup_roots:  # see V1Group.self_join_files
            fd = os.open(tasks, os.O_WRONLY | os.O_CLOEXEC, dir_fd=root_fd)
            try:
                os.write(fd, b"0")
            finally:
                os.close(fd)
                os.close(root_fd)
        if namespace_flags(spec, late=True):  # now that we are in our cgroup
            n.unshare(n.CLONE_NEWCGROUP)
        if ctx.rootfs is not None:
            mount_cgroup_fs(spec)
        _close_fds_but({err_fd, *ctx.keep_fds})  # before chdir (CVE-2024-21626)
        apply_process(process)
        for sig in (signal.SIGPIPE, signal.SIGXFSZ):  # Python ignores these; exec keeps that
            signal.signal(sig, signal.SIG_DFL)
        if ctx.await_start is not None:  # before seccomp; exec resets them to SIG_DFL
            for sig in UNTIL_STARTED:
                signal.signal(sig, _stop)
        for hook in ctx.before_exec:
            hook()
        drop_privileges(process, ctx.seccomp)
        if ctx.die_with_parent:
            n.prctl(n.PR_SET_PDEATHSIG, signal.SIGKILL)
        args = process["args"]
        path = find_executable(args[0], process.get("env", []))
        env = dict(e.split("=", 1) for e in process.get("env", []) if "=" in e)
        if ctx.await_start is not None:  # an OCI `create`: set up; exec only once started
            os.close(err_fd)  # what exec would do: `create` learns that we are ready
            err_fd = -1
            ctx.await_start()
            if ctx.after_start is not None:
                ctx.after_start()
        try:
            os.execve(path, args, env)
        except OSError as exc:
            raise PycontainError(f'exec: "{args[0]}": {exc.strerror}',
                                 NOT_FOUND if exc.errno == errno.ENOENT else CANNOT_EXEC) from None
    except PycontainError as exc:
        code, message = exc.code, str(exc)
    except BaseException as exc:  # noqa: BLE001 - a forked child: report, never unwind
        message = str(exc) if isinstance(exc, OSError) else f"container init failed: {exc!r}"
    try:
        if err_fd >= 0:
            _report(err_fd, code, message)
    finally:
        os._exit(code)


def _stop(sig: int, _frame) -> None:
    """A created init (waiting for `start`) ends on TERM, INT or HUP, as runc's
    does: as PID 1 of its pid namespace, their default action has the kernel
    drop them. It dies of the signal where the kernel lets it, else exits 128+sig."""
    signal.signal(sig, signal.SIG_DFL)
    os.kill(os.getpid(), sig)
    os._exit(128 + sig)


def _close_fds_but(keep: set) -> None:
    """Close every fd from 3 up but those in keep (a leaked fd is a way out)."""
    low = 3
    for fd in sorted(fd for fd in keep if fd >= 3):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 0x7FFFFFFF)
