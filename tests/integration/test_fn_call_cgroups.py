"""fn serve's pool of call cgroups (cgroup v1 as root, as on this host): a
cgroup goes back to a call only once no process of the previous call is left
in it. Real cgroups under this test's own, a real process in one."""
import os
import signal
import time

import pytest

from conftest import cgroup_dirs
from helpers import wait_for
from pycontain.fn.server import call_cgroups

pytestmark = pytest.mark.skipif(not call_cgroups.available(),
                                reason="pooled call cgroups exist on cgroup v1 as root only")


def _count(group) -> int:
    return len(group.pids())


def test_a_cgroup_with_a_process_of_its_call_left_is_not_handed_out_again():
    pool = call_cgroups.CallCgroups(128)
    straggler = None
    try:
        first, tasks = pool.take()
        straggler = os.fork()
        if straggler == 0:  # a call that answered but runs on: joins as a call's child does
            for fd in tasks:
                os.write(fd, b"0")
            time.sleep(60)
            os._exit(0)
        wait_for(lambda: _count(first) == 1, what="the process to join its cgroup")
        pool.give_back(first)
        second, _ = pool.take()
        assert second is not first  # still busy: a new cgroup instead
        os.kill(straggler, signal.SIGKILL)
        os.waitpid(straggler, 0)
        straggler = None
        wait_for(lambda: _count(first) == 0, what="the cgroup to empty")
        pool.give_back(second)
        # both reusable now (among the free ones the pool made ahead)
        handed = {pool.take()[0] for _ in range(call_cgroups.AHEAD_MAX + 2)}
        assert {first, second} <= handed
    finally:
        if straggler:
            os.kill(straggler, signal.SIGKILL)
            os.waitpid(straggler, 0)
        pool.close()


def _left(prefix: str) -> list:
    """The directories of a pool's cgroups (named prefix...) in every hierarchy."""
    host = call_cgroups.hierarchy.host()
    return [entry.path for mount in host.mounts.values()
            for base, dirs, _ in os.walk(mount) for entry in os.scandir(base)
            if entry.is_dir() and entry.name.startswith(prefix)] if host else []


def test_free_cgroups_are_made_ahead_and_removed_with_the_pool():
    """One call taken: the pool makes AHEAD more in the background (a burst's
    calls then find theirs made); close() removes them all, those made ahead too."""
    pool = call_cgroups.CallCgroups(128)
    try:
        group, _ = pool.take()
        made = lambda: {os.path.basename(p) for p in _left(pool._prefix)}  # noqa: E731
        wait_for(lambda: len(made()) >= 1 + call_cgroups.AHEAD, what="cgroups made ahead")
        pool.give_back(group)
    finally:
        pool.close()
    assert _left(pool._prefix) == []


def test_trim_removes_what_a_burst_made_beyond_the_few_kept_ahead():
    """Six calls at once, then none: trim() (fn serve's idle sweep) leaves
    AHEAD free cgroups, the others removed."""
    pool = call_cgroups.CallCgroups(128)
    try:
        taken = [pool.take()[0] for _ in range(6)]
        for group in taken:
            pool.give_back(group)
        wait_for(lambda: not pool._filling, what="the pool's thread to finish")
        names = lambda: {os.path.basename(p) for p in _left(pool._prefix)}  # noqa: E731
        assert len(names()) > call_cgroups.AHEAD
        while pool.trim():
            pass
        assert len(names()) == call_cgroups.AHEAD
        kept = pool.take()[0]  # the kept ones serve the next call
        assert os.path.basename(next(iter(kept.paths.values()))) in names()
    finally:
        pool.close()
    assert _left(pool._prefix) == []


def test_a_cgroup_taken_while_the_pool_closes_is_removed():
    """A call that takes a new cgroup while the server stops (close() ran between
    its making the cgroup and entering it in the pool) must not leave it behind:
    a CI run left two such cgroups after `fn serve` stopped with Event calls in
    flight. Here close() comes first, deterministically."""
    pool = call_cgroups.CallCgroups(128)
    pool.close()
    with pytest.raises(call_cgroups.PycontainError, match="zygote is gone"):
        pool.take()
    assert _left(pool._prefix) == []


def test_system_gc_removes_the_call_cgroups_of_a_server_that_was_killed(pc):
    """A `fn serve` killed with SIGKILL leaves its pool's (empty) call cgroups:
    `pycontain system gc` removes them (the engine's own gc knows nothing of
    functions: the command adds the functions' part)."""
    child = os.fork()
    if child == 0:  # the "server": makes its pool under the test's parent, then dies
        try:
            os.environ["PYCONTAIN_CGROUP_PARENT"] = pc.env["PYCONTAIN_CGROUP_PARENT"]
            call_cgroups.CallCgroups(128).take()
        finally:
            os._exit(0)
    os.waitpid(child, 0)
    left = [path for path in cgroup_dirs(pc.env) if os.path.basename(path).startswith(f"fn{child}.")]
    assert left, cgroup_dirs(pc.env)
    out = pc.out("system", "gc")
    assert f"removed cgroup fn{child}."[:len("removed cgroup ") + 12] in out, out
    assert [path for path in cgroup_dirs(pc.env) if path in left] == []
