"""A one-shot jail whose interpreter starts beside the engine's.

Starting python is most of a cold `fn exec`, and the handler needs a python in
the jail. As root on two CPUs or more, the pycontain command (csrc/launcher.c)
starts a second interpreter at once, in parallel with the engine's, as PID 1 of
a new pid namespace (killed if the engine dies): the jail side. While the
engine parses its flags, resolves the image and builds the jail's spec, the
jail side unshares its namespaces and imports what it will need; then it
receives the spec, the init context and the event through a pipe, and goes
on exactly as a jail the engine forks itself (process.become_container): it
runs the handler in-process (fn.inprocess) if the engine says so, else it execs
the image's python3 with the runner. The result and log pipes were made by the
launcher, one end each.

The jail side never sees the caller's arguments or environment: the launcher
starts it as `pycontain fn _jail` with `fn exec`'s emptied environment. When
the engine does not use it (bad flags, an error), it is killed and reaped; if
the engine dies, the kernel kills it (and, once it runs the handler as another
user, it has armed that again: nsinit, die_with_parent).

    PYCONTAIN_PREJAIL=pid,ctl,err,result,log              what the engine gets
    PYCONTAIN_JAIL_SIDE=ctl,err,result,log,net,sigint     what the jail side gets
        net: 0 if --network was given; sigint: 1 if the caller ignored SIGINT
"""
import marshal
import os
import sys
import _signal as signal  # not `signal`: its enum import costs ~4 ms per start

from pycontain.fdio import read_all, write_all

ENGINE_VARIABLE = "PYCONTAIN_PREJAIL"
JAIL_VARIABLE = "PYCONTAIN_JAIL_SIDE"


class LauncherJail:
    """A jail process the launcher started for the engine, named by the
    variable VARIABLE as pid,FDS... (see PreJail and fn.plan.PlannedJail)."""
    VARIABLE, FDS = "", ()

    def __init__(self, pid: int, *fds: int):
        self.pid = pid
        self._fds = dict(zip(self.FDS, fds, strict=True))
        self.result, self.log = self._fds["result"], self._fds["log"]
        self._ours = True  # until handed a call (the supervisor reaps it) or disposed of

    @classmethod
    def claim(cls):
        """The jail started for this process, if any: the variable is removed,
        so it reaches nothing else, and believed only if it names a running
        child of ours in a pid namespace of its own (not a process someone's
        variable points at). Its descriptors are not inherited further."""
        value = os.environ.pop(cls.VARIABLE, None)
        try:
            jail = cls(*(int(v) for v in value.split(",")))
            if (jail.pid > 1 and os.waitpid(jail.pid, os.WNOHANG) == (0, 0)
                    and os.stat(f"/proc/{jail.pid}/ns/pid").st_ino
                    != os.stat("/proc/self/ns/pid").st_ino):
                for fd in jail._fds.values():
                    os.set_inheritable(fd, False)
                return jail
        except (AttributeError, TypeError, ValueError, OSError):
            pass
        return None

    def _close(self, name: str) -> None:
        fd = self._fds.pop(name, None)
        if fd is not None:
            os.close(fd)

    def _handed_over(self) -> None:
        """The call's supervisor kills and reaps it from now on, and its
        collector owns the result and log pipes."""
        self._ours = False
        self._fds.pop("result"), self._fds.pop("log")

    def dispose(self) -> None:
        """Kill and reap it, once, unless it was handed a call; close our
        ends of its pipes."""
        if not self._ours:
            return
        self._ours = False  # reaped: its pid may be another process's soon
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        for name in list(self._fds):
            self._close(name)


class PreJail(LauncherJail):
    """The engine's handle on a jail side the launcher started."""
    VARIABLE, FDS = ENGINE_VARIABLE, ("ctl", "err", "result", "log")

    def start(self, spec: dict, ctx, in_process: bool, event: bytes):
        """Hand the jail side its call (ctx: its fn.jail_init.JailContext, whose
        callables are None; in_process: whether the jail side runs the handler
        in its interpreter): a oci.launch.Launch for it (whose start() reports
        the jail's failure, as for a forked jail)."""
        from pycontain.oci.launch import Launch

        try:
            fields = dict(ctx.fields(), in_process=in_process)
            write_all(self._fds["ctl"], marshal.dumps((spec, fields, event)))
        except BrokenPipeError:
            pass  # it died: start() reads why, or the exit status tells
        self._close("ctl")
        self._handed_over()
        return Launch(self.pid, None, self._fds.pop("err"))


def main() -> None:
    """`pycontain fn _jail` (routed here by bin/pycontain): the jail side. Never returns."""
    from pycontain.errors import ENGINE

    try:
        fields = os.environ.pop(JAIL_VARIABLE).split(",")
        ctl, err, result, log, net, sigint_ignored = (int(v) for v in fields)
    except (KeyError, ValueError):
        print("pycontain: fn _jail is started by `pycontain fn exec` only", file=sys.stderr)
        os._exit(ENGINE)
    try:
        _become_jail(ctl, err, result, log, net, sigint_ignored)
    except BaseException as exc:  # noqa: BLE001 - tell the engine (125), never unwind
        os.write(err, f"{ENGINE}:the jail's interpreter failed: {exc!r}".encode(errors="replace"))
    os._exit(ENGINE)


def _become_jail(ctl: int, err: int, result: int, log: int, net: int, sigint_ignored: int):
    from pycontain import native as n
    from pycontain.errors import ENGINE

    for fd in (ctl, err, result, log):  # an exec closes the error pipe: the engine's cue
        os.set_inheritable(fd, False)

    # what every fn exec jail has, made while the engine is still starting
    early = n.CLONE_NEWNS | n.CLONE_NEWIPC | n.CLONE_NEWUTS | (n.CLONE_NEWNET if net else 0)
    try:
        n.prctl(n.PR_SET_DUMPABLE, 0)
        n.unshare(early)
    except OSError:
        early = 0  # become_container reports it
    from pycontain.fn.inprocess import runner_hook
    from pycontain.oci import nsinit, process  # noqa: F401 - before the root changes
    from pycontain.fn.jail_init import JailContext
    from pycontain.oci.security import caps

    caps.last_cap()  # while /proc is the host's
    data = read_all(ctl)
    os.close(ctl)
    if not data:
        os._exit(0)  # the engine went another way
    spec, fields, event = marshal.loads(data)
    in_process = fields.pop("in_process")
    ctx = JailContext(**fields)
    event_fd = os.memfd_create("event", os.MFD_CLOEXEC)
    os.write(event_fd, event)
    os.lseek(event_fd, 0, os.SEEK_SET)
    ctx.setup_stdio = process.stdio_setup((event_fd, result, log))
    if in_process:
        sigint = signal.SIG_IGN if sigint_ignored else signal.default_int_handler
        ctx.replace_exec = runner_hook(spec["process"], shared=False, sigint=sigint)
    elif not sigint_ignored:  # the image's python then starts as from the caller
        ctx.before_exec = [lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)]
    flags = process.namespace_flags(spec) & ~n.CLONE_NEWPID
    if early & ~flags:
        os.write(err, f"{ENGINE}:the jail was started with namespaces it must not have".encode())
        os._exit(ENGINE)
    process.become_container(spec, ctx, flags & ~early, None, err)
