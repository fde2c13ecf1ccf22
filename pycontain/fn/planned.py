"""The engine's side of a jail the launcher built from a plan (see fn.plan).

    PYCONTAIN_PLANNED=pid,go,err,result,log,event,plan    launcher -> engine

go: where the call's own variables go (the runner waits for them); err:
closed by the jail's exec, or why it failed; event: the memfd the jail reads
as fd 0; plan: the plan file it was built from.

Light on imports: when the plan's stamps still hold, the engine hands over
the call (run_fresh) without building a spec, and without importing what
builds one.
"""
import marshal
import os
import time

from pycontain.fn.plan import MAX_PLAN, basis, fingerprint, is_call_variable, sections
from pycontain.fn.prejail import LauncherJail

PLANNED_VARIABLE = "PYCONTAIN_PLANNED"


class PlannedJail(LauncherJail):
    """A jail built from a plan, its python waiting for the call."""
    VARIABLE, FDS = PLANNED_VARIABLE, ("go", "err", "result", "log", "event", "plan")
    data = b""  # the plan file it was built from, once read

    def _sections(self) -> tuple:
        if not self.data:
            fd = self._fds.pop("plan")
            try:
                self.data = os.pread(fd, MAX_PLAN, 0)
            finally:
                os.close(fd)
        return sections(self.data)

    def fresh(self, target: str):
        """The plan's stamps if they still hold for a call of target (the code
        and files the plan was made from are unchanged), else None."""
        try:
            stamps = marshal.loads(self._sections()[0])
            if (stamps is not None and stamps["code"] == (target, os.path.realpath(target))
                    and all(fingerprint(path) == print_ for path, print_ in stamps["files"])):
                return stamps
        except (OSError, ValueError, EOFError, TypeError, KeyError):
            pass
        return None

    def matches(self, spec: dict, ctx: dict) -> bool:
        """Whether the plan it was built from is this call's jail."""
        try:
            return marshal.loads(self._sections()[1]) == basis(spec, ctx)
        except (OSError, ValueError, EOFError, TypeError, KeyError):
            return False

    def hand_over(self, event: bytes, call_env: list):
        """Give it the call (the event, and call_env: its own variables,
        environment.call_variables): a runtime.launch.Launch, or None if the
        jail could not be built (it is reaped then: make another)."""
        from pycontain.runtime.launch import Launch

        with os.fdopen(self._fds.pop("err"), "rb") as err:
            failed = err.read()  # until its exec closes the pipe, or why it failed
        if failed:
            self.dispose()
            return None
        view = memoryview(event)
        while view:
            view = view[os.pwrite(self._fds["event"], view, len(event) - len(view)):]
        self._close("event")
        try:
            os.write(self._fds["go"], "\0".join(call_env).encode())  # a few hundred bytes
        except BrokenPipeError:
            pass  # it died: its exit status tells
        self._close("go")
        self._handed_over()
        return Launch(self.pid, None, None)

    def start(self, spec: dict, event: bytes):
        """hand_over, with the call's variables from its spec."""
        return self.hand_over(event, [e for e in spec["process"]["env"] if is_call_variable(e)])


def run_fresh(jail: PlannedJail, stamps: dict, event: bytes, log_sink=None):
    """Run a call in jail, whose plan's stamps hold (PlannedJail.fresh): a
    fn.outcome.Outcome, or None if the jail failed (nothing ran: make another)."""
    from pycontain.fn.environment import call_variables
    from pycontain.fn.outcome import Collector, Outcome, conclude, new_request_id

    out = Outcome(request_id=new_request_id())
    start = time.monotonic()
    deadline_ms = int(time.time() * 1000 + stamps["timeout"] * 1000)
    variables = call_variables(out.request_id, deadline_ms)
    launch = jail.hand_over(event, [f"{k}={v}" for k, v in variables.items()])
    if launch is None:
        return None
    return conclude(out, launch, Collector(jail.result, jail.log, log_sink), start,
                    stamps["timeout"], stamps["memory_mb"], log_sink)
