"""`fn exec` starts a call's jail one way (pycontain.fn.oneshot.describe): the engine
compiles it and the C executor builds it; from the second call of an
invocation on, the launcher builds it from the cached description and runs
the call itself (fn.oneshot.description_cache). The handler always runs in a fresh
exec of the image's python3. These tests pin down that it cannot tell who
started it: the engine (a first call), the launcher (a cached one) or the
engine behind the script pip installs; and that nothing of the caller
reaches it, not even in its memory."""
import json
import re
import secrets
import signal
import subprocess
import uuid
from pathlib import Path

import pytest
from conftest import PYCONTAIN
from helpers import FIND_IN_MEMORY

from pycontain.fn.jail import SANDBOX_UID_BASE

SCRIPT = Path(PYCONTAIN).with_name("pycontain-main")  # install.sh's name for bin/pycontain
MODES = ("engine", "cached", "script")


def run(pc, tmp_path, code: str, mode: str = "once", *args, extra_env=None, preexec=None):
    """(exit code, result JSON) of `fn exec` on code: mode engine, a first
    call (an invocation never seen: its own XDG_DATA_HOME, which nothing reads
    as root); cached, a second call of the same invocation; script, through
    pycontain-main (no launcher: the engine starts the jail); once, a call."""
    path = tmp_path / "handler.py"
    if not path.exists() or path.read_text() != code:  # unchanged: a cached call stays one
        path.write_text(code)
        path.chmod(0o644)
    env = dict(pc.env, **(extra_env or {}))
    if mode == "engine":
        env["XDG_DATA_HOME"] = f"/nonexistent/{uuid.uuid4()}"
    command = [str(SCRIPT if mode == "script" else PYCONTAIN), "fn", "exec", str(path), *args]
    for _ in range(2 if mode == "cached" else 1):
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60,
                                preexec_fn=preexec)
    return result.returncode, json.loads(result.stdout)


INTERPRETER = """import os, signal, sys
def own(uid):  # as root a jail's uid is its own (pycontain.fn.jail)
    return "own" if UID_BASE < uid < UID_BASE + (1 << 22) else uid
def handler(event, context):
    try:
        import pycontain  # noqa: F401
        engine = True
    except ImportError:
        engine = False
    return {"environ": sorted(os.environ), "path": sys.path, "argv": sys.argv,
            "executable": sys.executable, "prefix": sys.prefix, "engine": engine,
            "flags": [sys.flags.isolated, sys.flags.no_site, sys.dont_write_bytecode],
            "outside": sorted(m for m, mod in sys.modules.items()
                              if not getattr(mod, "__file__", "/usr/lib/").startswith("/usr/lib/")
                              and m != "handler"),
            "cwd": os.getcwd(), "uid": own(os.getuid()),
            "fds": sorted(os.listdir("/proc/self/fd")),
            "signals": [str(signal.getsignal(s)) for s in signal.valid_signals()]}
""".replace("UID_BASE", str(SANDBOX_UID_BASE))


def test_the_handler_sees_the_same_interpreter_either_way(pc, tmp_path):
    results = {mode: run(pc, tmp_path, INTERPRETER, mode) for mode in MODES}
    assert len({json.dumps(result) for result in results.values()}) == 1, results
    code, seen = results["engine"]
    assert code == 0 and seen["engine"] is False and seen["outside"] == []
    assert seen["executable"] == "/usr/bin/python3" and seen["argv"] == ["-c"]
    assert seen["uid"] == "own"
    assert "PYCONTAIN_ROOT" not in seen["environ"] and "_HANDLER" in seen["environ"]


def test_a_caller_that_ignores_sigint_passes_that_on_either_way(pc, tmp_path):
    """As python would when started by a shell for a background job."""
    ignore = lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)  # noqa: E731
    results = {mode: run(pc, tmp_path, INTERPRETER, mode, preexec=ignore) for mode in MODES}
    assert len({json.dumps(result) for result in results.values()}) == 1, results
    signals = dict(zip(signal.valid_signals(), results["engine"][1]["signals"]))
    assert signals[signal.SIGINT] == str(signal.SIG_IGN)


FAILURES = [  # (handler body, errorType, exit code)
    ("    raise ValueError('bad')\n", "ValueError", 1),
    ("    import sys; sys.exit(3)\n", "Runtime.ExitError", 1),
    ("    import os; os._exit(0)\n", "Runtime.ExitError", 1),
    ("    import ctypes; ctypes.string_at(0)\n", "Runtime.ExitError", 1),
    ("    return object()\n", "Runtime.MarshalError", 1),
    ("    while True: pass\n", "Sandbox.Timedout", 124),
]


@pytest.mark.parametrize("body, error_type, status", FAILURES)
def test_failures_end_the_same_way_either_way(pc, tmp_path, body, error_type, status):
    outcomes = {}
    for mode in MODES:
        code, error = run(pc, tmp_path, "def handler(event, context):\n" + body, mode,
                          "--timeout", "1" if status == 124 else "30")  # load: no stray 124
        outcomes[mode] = (code, error["errorType"],
                          re.sub(r"RequestId: \S+ ", "", error["errorMessage"]))
    assert len(set(outcomes.values())) == 1, outcomes
    assert outcomes["engine"][:2] == (status, error_type)


MEMORY_SCAN = FIND_IN_MEMORY + r"""import re
def handler(event, context):
    found = find_in_memory(re.compile(rb"pc-secret-[0-9a-f]{32}"))
    return {"found": sorted(found), "cmdline": open("/proc/self/cmdline", "rb").read().strip(b"\0").decode(),
            "environ": open("/proc/self/environ", "rb").read().decode().split("\0")}
"""


@pytest.mark.parametrize("mode", MODES)
def test_nothing_of_the_caller_is_in_the_handlers_memory(pc, tmp_path, mode):
    token, control = (f"pc-secret-{secrets.token_hex(16)}" for _ in range(2))
    code, out = run(pc, tmp_path, MEMORY_SCAN, mode, "--event",
                    json.dumps({"control": control}), extra_env={"CALLER_TOKEN": token})
    assert code == 0, out
    assert control in out["found"]  # the scan does find what is in memory: the event
    assert token not in out["found"]
    assert out["cmdline"].startswith("python3\0-I\0-S\0-B\0-c\0")
    assert not any(token in item or item.startswith("HOME=") for item in out["environ"])
