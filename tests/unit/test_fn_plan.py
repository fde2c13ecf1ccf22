"""The plans cache of `fn exec` (pycontain.fn.plan): bounded in size."""
import os

from pycontain.fn import plan
from pycontain.fn.jail_init import JailContext


def test_only_the_plans_written_last_are_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("PYCONTAIN_ROOT", str(tmp_path))
    monkeypatch.setattr(plan, "MAX_PLANS", 3)
    names = [f"{n:016x}" for n in range(6)]
    for age, name in enumerate(names[:5]):
        plan._write(name, b"data")
        when = 1_000_000_000 + age  # written one second after the other
        os.utime(plan.plan_path(name), (when, when))
    kept = sorted(os.listdir(tmp_path / "cache" / "plans"))
    assert kept == names[2:5]
    plan._write(names[2], b"data")  # written again: the newest
    plan._write(names[5], b"data")
    assert sorted(os.listdir(tmp_path / "cache" / "plans")) == [names[2], names[4], names[5]]


def test_a_jail_with_a_uid_per_pid_switches_with_op_j():
    """A plan must not freeze one uid for all its calls: op J takes the base,
    the jail's own pid is added where it is replayed (csrc/plan.c)."""
    spec = {"process": {"user": {"uid": 7000, "gid": 990}, "env": [], "args": ["python3"],
                        "noNewPrivileges": True,
                        "capabilities": {"bounding": [], "effective": []}},
            "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]}}
    ctx = JailContext(seccomp=b"\0" * 8, uid_per_pid=True)
    ops = plan._process_ops(spec, ctx)[1]
    assert ("J", 7000) in ops and not any(op[0] == "V" for op in ops)
    ops = plan._process_ops(spec, ctx.copy(uid_per_pid=False))[1]
    assert ("V", 7000) in ops and not any(op[0] == "J" for op in ops)
