"""`run --restart`: the container's monitor starts it again per its policy,
with docker's back-off; stop, kill and rm by hand end the restarts."""
import json
import os
import _signal as signal
import time

from helpers import one_error_line, wait_for


def _inspect(pc, name) -> dict:
    return json.loads(pc.out("inspect", name))[0]


def test_on_failure_restarts_up_to_its_limit(pc):
    pc.out("run", "-d", "--restart", "on-failure:2", "--name", "flaky", "busybox",
           "sh", "-c", "echo run; exit 3")
    try:
        found = wait_for(lambda: (lambda i: i["RestartCount"] == 2 and
                                  i["State"]["Status"] == "exited" and i)(
            _inspect(pc, "flaky")), what="two restarts")
        assert found["State"]["ExitCode"] == 3
        assert found["HostConfig"]["RestartPolicy"] == {"Name": "on-failure",
                                                        "MaximumRetryCount": 2}
        assert pc.out("logs", "flaky") == "run\n" * 3  # one first run, two restarts
    finally:
        pc.out("rm", "-f", "flaky")
    pc.out("run", "-d", "--restart", "on-failure", "--name", "fine", "busybox", "true")
    try:
        wait_for(lambda: _inspect(pc, "fine")["State"]["Status"] == "exited")
        assert _inspect(pc, "fine")["RestartCount"] == 0  # exit 0: not restarted
    finally:
        pc.out("rm", "-f", "fine")

    # created with a policy, started later: the policy applies
    pc.out("create", "--restart", "on-failure:1", "--name", "later", "busybox", "false")
    try:
        pc.out("start", "later")
        wait_for(lambda: (lambda i: i["RestartCount"] == 1 and
                          i["State"]["Status"] == "exited")(_inspect(pc, "later")))
    finally:
        pc.out("rm", "-f", "later")


def test_always_restarts_until_stopped_by_hand(pc):
    pc.out("run", "-d", "--restart", "always", "--name", "again", "busybox",
           "sh", "-c", "echo run; exec sleep 600")
    try:
        first = _inspect(pc, "again")["State"]["Pid"]
        os.kill(first, signal.SIGKILL)  # dies by itself, as far as pycontain knows
        found = wait_for(lambda: (lambda i: i["State"]["Running"] and i["State"]["Pid"] != first
                                  and i)(_inspect(pc, "again")), what="a restart")
        assert found["RestartCount"] == 1
        pc.out("stop", "-t", "1", "again")
        time.sleep(1)  # longer than the next back-off (0.2 s): it would have restarted
        found = _inspect(pc, "again")
        assert found["State"]["Status"] == "exited" and found["RestartCount"] == 1
        pc.out("start", "again")  # by hand: the policy applies again
        os.kill(_inspect(pc, "again")["State"]["Pid"], signal.SIGKILL)
        wait_for(lambda: _inspect(pc, "again")["RestartCount"] == 2, what="a second restart")
        assert pc.out("logs", "again").count("run\n") in (3, 4)  # the 4th may be on its way
    finally:
        pc.out("rm", "-f", "again")  # running or between two runs: gone, nothing left


def test_only_kill_or_the_stop_signal_ends_the_policy(pc):
    """`kill -s HUP` (a reload) keeps the restart policy, as docker's kill does;
    `kill` (SIGKILL) ends it."""
    pc.out("run", "-d", "--restart", "always", "--name", "hup", "busybox",
           "sh", "-c", "trap 'exit 3' HUP; echo run; sleep 600 & wait")
    try:
        first = _inspect(pc, "hup")["State"]["Pid"]
        wait_for(lambda: pc.out("logs", "hup") == "run\n", what="the trap to be set")
        pc.out("kill", "-s", "HUP", "hup")
        found = wait_for(lambda: (lambda i: i["State"]["Running"] and i["State"]["Pid"] != first
                                  and i)(_inspect(pc, "hup")), what="a restart after HUP")
        assert found["RestartCount"] == 1
        pc.out("kill", "hup")
        time.sleep(1)  # longer than the next back-off (0.2 s): it would have restarted
        found = _inspect(pc, "hup")
        assert found["State"]["Status"] == "exited" and found["RestartCount"] == 1
    finally:
        pc.out("rm", "-f", "hup")


def test_a_crash_loop_is_removed_cleanly(pc):
    pc.out("run", "-d", "--restart", "unless-stopped", "--name", "loop", "busybox", "false")
    wait_for(lambda: _inspect(pc, "loop")["RestartCount"] >= 3, what="a crash loop")
    pc.out("rm", "-f", "loop")
    assert pc.containers() == []


def test_bad_restart_policies_are_refused(pc):
    for flags, message in (
            (["-d", "--restart", "sometimes"], "invalid restart policy 'sometimes'"),
            (["-d", "--restart", "always:3"], "invalid restart policy 'always:3'"),
            (["-d", "--rm", "--restart", "always"], "conflicting options: --restart and --rm"),
            (["--restart", "always"], "--restart needs -d")):
        line = one_error_line(pc("run", *flags, "busybox", "true"))
        assert message in line, line
    assert pc.containers() == []
