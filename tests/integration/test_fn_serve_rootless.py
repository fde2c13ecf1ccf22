"""`pycontain fn serve` without sudo: each call runs in a fresh jail of its
own, set up by the function's zygote inside the user's namespace."""
import zipfile

from test_fn_serve import Server, zygote_processes
from test_rootless import rootless, user  # noqa: F401 - the test user and its store

CODE = """import os
COUNT = 0
def handler(event, context):
    global COUNT
    COUNT += 1
    before = sorted(os.listdir("/tmp"))
    open("/tmp/mine", "w").write("x")
    status = [l.split()[1] for l in open("/proc/self/status")
              if l.startswith(("CapEff", "NoNewPrivs", "Seccomp:"))]
    return {"event": event, "count": COUNT, "pid": os.getpid(), "tmp_before": before,
            "uid": os.getuid(), "status": status}
"""


def test_serve_and_invoke_without_sudo(rootless):
    zip_path = rootless.home / "serve.zip"
    with zipfile.ZipFile(zip_path, "w") as zf:
        zf.writestr("main.py", CODE)
    zip_path.chmod(0o644)
    created = rootless.pc("fn", "create", "rl-serve", "--zip-file", zip_path,
                          "--handler", "main.handler")
    assert created.returncode == 0, created.stderr
    try:
        server = Server(rootless)
        try:
            results = [server.result("rl-serve", {"call": n}) for n in (1, 2)]
        finally:
            assert server.stop() == 0, "".join(server.lines)
        assert not any("call setup failed" in line for line in server.lines), server.lines
        for n, result in enumerate(results, 1):
            assert result["event"] == {"call": n}
            # a fresh jail each: PID 1 of its own pid namespace, an empty /tmp, the
            # module as the zygote imported it (the previous call's writes are gone)
            assert result["pid"] == 1 and result["tmp_before"] == [] and result["count"] == 1
            # the user's own uid (mapped to itself), no capabilities, no_new_privs, seccomp
            assert result["uid"] == rootless.home.stat().st_uid
            assert result["status"] == ["0000000000000000", "1", "2"]
        assert not zygote_processes(str(rootless.data / "pycontain"))
    finally:
        rootless.pc("fn", "delete", "rl-serve")
