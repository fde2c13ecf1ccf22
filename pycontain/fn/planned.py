"""The engine's side of a jail the launcher built from a plan (see fn.plan).

    PYCONTAIN_PLANNED=pid,go,err,result,log,event,plan    launcher -> engine
    PYCONTAIN_PLAN_KEY=NAME      the plan file's name, to record (launcher -> engine)

go: where the call's own variables go (the runner waits for them); err:
closed by the jail's exec, or why it failed; event: the memfd the jail reads
as fd 0; plan: the plan file it was built from.

When the plan's stamps hold the launcher runs the call itself; the engine
sees a planned jail only when they do not, and checks the plan against the
spec it builds. fn.plan is imported only then: a first call has none.
"""
import marshal
import os

from pycontain.fn.prejail import LauncherJail

PLANNED_VARIABLE = "PYCONTAIN_PLANNED"
KEY_VARIABLE = "PYCONTAIN_PLAN_KEY"


def take_key():
    """The plan file name the launcher computed for this invocation, if any
    (the variable is removed: it reaches nothing else)."""
    key = os.environ.pop(KEY_VARIABLE, "")
    return key if len(key) == 16 and all(c in "0123456789abcdef" for c in key) else None


class PlannedJail(LauncherJail):
    """A jail built from a plan, its python waiting for the call."""
    VARIABLE, FDS = PLANNED_VARIABLE, ("go", "err", "result", "log", "event", "plan")
    data = b""  # the plan file it was built from, once read
    installed = None  # pycontain's own files as matches() found them (plan.installed_fingerprints)

    def _sections(self) -> tuple:
        from pycontain.fn.plan import MAX_PLAN, sections

        if not self.data:
            fd = self._fds.pop("plan")
            try:
                self.data = os.pread(fd, MAX_PLAN, 0)
            finally:
                os.close(fd)
        return sections(self.data)

    def matches(self, spec: dict, ctx) -> bool:
        """Whether the plan it was built from is this call's jail."""
        from pycontain.fn.plan import basis, installed_fingerprints

        self.installed = installed_fingerprints()
        try:
            return marshal.loads(self._sections()[1]) == basis(spec, ctx, self.installed)
        except (OSError, ValueError, EOFError, TypeError, KeyError):
            return False

    def start(self, spec: dict, event: bytes):
        """Give it the call (the event, and the call's own variables from its
        spec): a oci.launch.Launch, or None if the jail could not be built
        (it is reaped then: make another)."""
        from pycontain.fn.plan import is_call_variable
        from pycontain.oci.launch import Launch

        with os.fdopen(self._fds.pop("err"), "rb") as err:
            failed = err.read()  # until its exec closes the pipe, or why it failed
        if failed:
            self.dispose()
            return None
        view = memoryview(event)
        while view:
            view = view[os.pwrite(self._fds["event"], view, len(event) - len(view)):]
        self._close("event")
        call_env = [e for e in spec["process"]["env"] if is_call_variable(e)]
        try:
            os.write(self._fds["go"], "\0".join(call_env).encode())  # a few hundred bytes
        except BrokenPipeError:
            pass  # it died: its exit status tells
        self._close("go")
        self._handed_over()
        return Launch(self.pid, None, None)
