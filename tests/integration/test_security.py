"""Security defaults and their flags: capability sets read from
/proc/self/status, seccomp, no_new_privs, custom profiles, `pycontain info`."""
import json

import pytest

DEFAULT_CAPS = "00000000a80425fb"  # docker's 14
STATUS = "grep -E '^(Cap|Seccomp:|NoNewPrivs)' /proc/self/status"


def status(pc, *flags, cmd=STATUS) -> dict:
    out = pc.out("run", "--rm", *flags, "busybox", "sh", "-c", cmd)
    return dict(line.split(":\t") for line in out.splitlines())


def caps_mask(*numbers) -> str:
    return f"{sum(1 << n for n in numbers):016x}"


def test_default_container(pc):
    s = status(pc)
    assert s["CapBnd"] == s["CapPrm"] == s["CapEff"] == DEFAULT_CAPS
    assert s["CapInh"] == s["CapAmb"] == "0" * 16
    assert s["Seccomp"] == "2" and s["NoNewPrivs"] == "0"


def test_non_root_user_has_no_effective_caps(pc):
    s = status(pc, "-u", "app")
    assert s["CapEff"] == s["CapPrm"] == s["CapInh"] == s["CapAmb"] == "0" * 16
    assert s["CapBnd"] == DEFAULT_CAPS


@pytest.mark.parametrize("flags,expected", [
    (("--cap-drop", "ALL"), caps_mask()),
    (("--cap-drop", "ALL", "--cap-add", "NET_ADMIN"), caps_mask(12)),
    (("--cap-drop", "chown", "--cap-drop", "CAP_KILL"), f"{0xa80425fb & ~1 & ~(1 << 5):016x}"),
    (("--cap-add", "sys_ptrace"), f"{0xa80425fb | 1 << 19:016x}"),
])
def test_cap_add_and_drop(pc, flags, expected):
    s = status(pc, *flags)
    assert s["CapBnd"] == s["CapEff"] == expected


def test_privileged(pc):
    s = status(pc, "--privileged")
    with open("/proc/self/status") as f:
        ours = dict(ln.rstrip("\n").split(":\t") for ln in f if ln.startswith("CapBnd"))
    assert s["CapBnd"] == ours["CapBnd"] and s["Seccomp"] == "0"
    out = pc.out("run", "--rm", "--privileged", "busybox", "sh", "-c",
                 "mount | grep -c /proc/kcore; mount | grep ' /sys '; ls /dev | wc -l")
    masks, sys_line, devices = out.splitlines()
    assert masks == "0" and "(rw" in sys_line and int(devices) > 20


def test_no_new_privileges_flag(pc):
    assert status(pc, "--security-opt", "no-new-privileges")["NoNewPrivs"] == "1"
    assert status(pc, "--security-opt", "no-new-privileges=false")["NoNewPrivs"] == "0"


def test_seccomp_unconfined(pc):
    assert status(pc, "--security-opt", "seccomp=unconfined")["Seccomp"] == "0"


def test_custom_profile_in_docker_format(pc, tmp_path):
    profile = {"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                             "errnoRet": 13}]}
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(profile))
    result = pc("run", "--rm", "--security-opt", f"seccomp={path}", "busybox", "mkdir", "/x")
    assert result.returncode == 1 and "Permission denied" in result.stderr
    assert pc.out("run", "--rm", "--security-opt", f"seccomp={path}", "busybox",
                  "grep", "Seccomp:", "/proc/self/status").split() == ["Seccomp:", "2"]


@pytest.mark.parametrize("flags,message", [
    (("--cap-add", "NOPE"), "unknown capability"),
    (("--security-opt", "bogus"), "invalid --security-opt"),
    (("--security-opt", "seccomp=/nonexistent.json"), "cannot read seccomp profile"),
])
def test_bad_security_flags(pc, flags, message):
    result = pc("run", "--rm", *flags, "busybox", "true")
    assert result.returncode == 125 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_profile_file(pc, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"syscalls": []}')
    result = pc("run", "--rm", "--security-opt", f"seccomp={path}", "busybox", "true")
    assert result.returncode == 125 and "invalid seccomp profile" in result.stderr


def test_exec_gets_the_same_caps_seccomp_and_nnp(pc):
    cid = pc.out("run", "-d", "--cap-drop", "ALL", "--cap-add", "KILL", "--security-opt",
                 "no-new-privileges", "busybox", "sleep", "30").strip()
    try:
        out = pc.out("exec", cid, "sh", "-c", STATUS)
        s = dict(line.split(":\t") for line in out.splitlines())
        assert s["CapEff"] == s["CapBnd"] == caps_mask(5)
        assert s["Seccomp"] == "2" and s["NoNewPrivs"] == "1"
        as_app = dict(ln.split(":\t") for ln in
                      pc.out("exec", "-u", "app", cid, "sh", "-c", STATUS).splitlines())
        assert as_app["CapEff"] == "0" * 16 and as_app["CapBnd"] == caps_mask(5)
    finally:
        pc("rm", "-f", cid)


def test_seccomp_program_is_cached(pc):
    pc.out("run", "--rm", "busybox", "true")
    cache = pc.root / "cache" / "seccomp"
    before = sorted(p.name for p in cache.iterdir())
    assert any(n.endswith(".bpf") for n in before) and any(n.endswith(".oci") for n in before)
    pc.out("run", "--rm", "busybox", "true")
    assert sorted(p.name for p in cache.iterdir()) == before


def test_info(pc):
    data = json.loads(pc.out("info", "--format", "json"))
    assert data["rootless"] is False and data["seccomp"]["kernel"] is True
    assert data["user_namespaces"] is True and data["overlay_in_userns"] is True
    assert data["cgroups"]["version"] in (1, 2)
    assert data["devices"].startswith(f"cgroup v{data['cgroups']['version']} ")
    assert "Seccomp:" in pc.out("info")
