"""Which pooled call cgroups belong to a server that is gone (fn.server.call_cgroups):
by the pid and start time in their names, read against this host's /proc."""
import os

from pycontain.fn.server.call_cgroups import _start_time, server_gone


def test_a_live_server_keeps_its_cgroups():
    me = os.getpid()
    assert not server_gone(f"fn{me}.{_start_time(me)}xabcdefx0")


def test_a_pid_now_another_process_s_is_gone():
    assert server_gone(f"fn1.{int(_start_time(1)) + 1}xabcdefx0")  # pid 1, started at another time


def test_a_pid_no_process_has_is_gone():
    with open("/proc/sys/kernel/pid_max") as f:
        free = next(p for p in range(int(f.read()) - 1, 1, -1) if not os.path.exists(f"/proc/{p}"))
    assert server_gone(f"fn{free}.5xabcdefx0") and server_gone(f"fn{free}xabcdefx0")


def test_other_names_are_not_call_cgroups():
    assert not any(server_gone(name) for name in ("fnord", "fn12.xx0", "f" * 64, "fn.1x2x3"))
