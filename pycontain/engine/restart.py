"""Restart policies: docker's `run --restart no|always|on-failure[:N]|unless-stopped`,
and the back-off rule they share with kube's per-pod supervisor.

No daemon: a detached container's monitor, once it has recorded the exit,
asks `after_exit` whether to start the container again. If so it waits out
the back-off and starts it as `pycontain start` does (a new monitor; this one
exits), the container keeping its id, name, file system and log.

`stop`, `kill` and `rm` of the container `hold` it first: a marker in its run
directory that `after_exit` checks, under the same lock as the restart itself,
so a restart either happened before the hold returned (the caller sees the new
process) or never happens; `start` and `restart` lift the hold. As with docker,
a container stopped by hand stays stopped. unless-stopped is always here (the
two differ only when a docker daemon restarts). A host reboot is out of scope:
nothing starts containers after one.
"""
import os
import time

from pycontain.errors import PycontainError
from pycontain.fsutil import locked_file

POLICIES = ("no", "always", "on-failure", "unless-stopped")
HOLD, LOCK, COUNT = "restart-held", "restart.lock", "restarts"
POLL = 0.05


class Backoff:
    """The delay before a restart: `first`, doubling up to `maximum`; the
    doubling starts over once the container ran `reset` seconds. at_once:
    the first restart of a streak has no delay (Kubernetes' kubelet)."""

    def __init__(self, first: float, maximum: float, reset: float, at_once: bool = False):
        self.first, self.maximum, self.reset, self.at_once = first, maximum, reset, at_once

    def streak(self, restarts: int, ran: float) -> int:
        """Restarts in a row so far: 0 once the last run lasted `reset`."""
        return 0 if ran >= self.reset else restarts

    def delay(self, streak: int) -> float:
        if self.at_once:
            if streak == 0:
                return 0.0
            streak -= 1
        return min(self.first * 2 ** streak, self.maximum)


DOCKER = Backoff(0.1, 60.0, 10.0)  # moby's restartmanager
KUBERNETES = Backoff(10.0, 300.0, 600.0, at_once=True)  # the kubelet's CrashLoopBackOff


def parse(text: str) -> tuple:
    """`no|always|on-failure[:N]|unless-stopped` -> (policy, maximum retries or 0)."""
    policy, colon, count = (text or "no").partition(":")
    if policy not in POLICIES or colon and (policy != "on-failure" or not count.isdigit()
                                            or len(count) > 6):
        raise PycontainError(f"invalid restart policy {text!r}: use no, always, "
                             "on-failure[:MAX-RETRIES] or unless-stopped")
    return policy, int(count or 0)


def validate(opts) -> None:
    """`run`/`create`'s --restart (called by the CLI's option check)."""
    if parse(opts.restart)[0] != "no" and opts.rm:
        raise PycontainError("conflicting options: --restart and --rm")


def check_detached(opts) -> None:
    """`run` in the foreground is its own monitor and returns at the exit."""
    if opts.restart != "no" and not opts.detach:
        raise PycontainError("--restart needs -d: no daemon restarts a container run in "
                             "the foreground")


def _policy(ctr) -> tuple:
    return parse(ctr.meta.get("restart") or "no")


def _locked(ctr) -> locked_file:
    return locked_file(os.path.join(ctr.run_dir, LOCK))


def hold(ctr):
    """Before stop/kill/rm: no restart from now on; the container as it is now."""
    if _policy(ctr)[0] == "no":
        return ctr
    from pycontain.engine import state
    try:
        with _locked(ctr):
            open(os.path.join(ctr.run_dir, HOLD), "w").close()
    except FileNotFoundError:  # its run directory is gone: nothing restarts it
        return ctr
    return state.load(ctr.id)


def release(ctr) -> None:
    """Before a start by hand: the policy applies again."""
    try:
        os.unlink(os.path.join(ctr.run_dir, HOLD))
    except FileNotFoundError:
        pass


def _counts(ctr) -> tuple:
    """(restarts so far, restarts in a row)."""
    try:
        with open(os.path.join(ctr.run_dir, COUNT)) as f:
            done, streak = f.read().split()
        return int(done), int(streak)
    except (OSError, ValueError):
        return 0, 0


def count(ctr) -> int:
    """How many times the policy restarted the container (inspect's RestartCount)."""
    return _counts(ctr)[0]


def _held(ctr) -> bool:
    return not os.path.isdir(ctr.run_dir) or os.path.exists(os.path.join(ctr.run_dir, HOLD))


def after_exit(ctr, code: int) -> None:
    """In the container's monitor, after its exit is recorded: start it again
    if its policy says so (after the back-off), unless it is held."""
    policy, limit = _policy(ctr)
    if policy == "no" or _held(ctr):
        return
    with _locked(ctr):  # the monitor that started this run counts it under the lock
        done, streak = _counts(ctr)
    if policy == "on-failure" and (code == 0 or limit and done >= limit):
        return
    streak = DOCKER.streak(streak, ctr.state.finished_at - ctr.state.started_at)
    deadline = time.monotonic() + DOCKER.delay(streak)
    while time.monotonic() < deadline:
        if _held(ctr):
            return
        time.sleep(POLL)
    from pycontain.engine import lifecycle, state
    with _locked(ctr):
        if _held(ctr):
            return
        lifecycle.start(state.load(ctr.id))
        # counted once running: a count seen with an exited state is of the last run
        with open(os.path.join(ctr.run_dir, COUNT), "w") as f:
            f.write(f"{done + 1} {streak + 1}\n")
