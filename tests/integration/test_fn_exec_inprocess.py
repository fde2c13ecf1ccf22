"""`fn exec` runs the handler in pycontain's own interpreter when the image's
python is that interpreter (pycontain.fn.inprocess): as root through the
installed command, in the interpreter started beside the engine's
(fn.prejail); through the script pip installs, in a fork of the engine. These
tests pin down that the handler cannot tell either from a jail that starts the
image's python (PYCONTAIN_FN_FORK=0), that nothing of the caller or of
pycontain itself reaches it, not even in the process's memory, and that an
unused jail interpreter never outlives the command."""
import json
import os
import re
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PYCONTAIN
from helpers import FIND_IN_MEMORY, processes

from pycontain.fn.inprocess_choice import KEPT_VARIABLES
from pycontain.fn.jail import SANDBOX_UID_BASE

REPO = Path(__file__).resolve().parents[2]
# beside: the launcher's jail interpreter; forked: the script, whose engine forks the
# jail; exec: the image's python3 (FN_FORK=0), in the launcher's jail side or a fork
MODES = {"beside": {}, "forked": {}, "exec": {"PYCONTAIN_FN_FORK": "0"},
         "exec-forked": {"PYCONTAIN_FN_FORK": "0"}}
SCRIPT = Path(PYCONTAIN).with_name("pycontain-main")  # install.sh's name for bin/pycontain


def run(pc, tmp_path, code: str, mode: str = "beside", *args, extra_env=None, preexec=None):
    path = tmp_path / "handler.py"
    path.write_text(code)
    path.chmod(0o644)
    pc.env = {k: v for k, v in pc.env.items() if k != "PYCONTAIN_FN_FORK"}
    pc.env.update(MODES[mode], **(extra_env or {}))
    command = SCRIPT if mode.endswith("forked") else PYCONTAIN
    result = subprocess.run([str(command), "fn", "exec", str(path), *args], env=pc.env,
                            capture_output=True, text=True, timeout=60, preexec_fn=preexec)
    return result.returncode, json.loads(result.stdout)


INTERPRETER = """import os, signal, sys
def own(uid):  # as root a jail's uid is its own (pycontain.fn.jail): the same rule either way
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
    assert len({json.dumps(result) for result in results.values()}) == 1
    code, seen = results["beside"]
    assert code == 0 and seen["engine"] is False and seen["outside"] == []
    assert seen["executable"] == "/usr/bin/python3" and seen["argv"] == ["-c"]
    assert "PYCONTAIN_ROOT" not in seen["environ"] and "_HANDLER" in seen["environ"]


def test_a_caller_that_ignores_sigint_passes_that_on_either_way(pc, tmp_path):
    """As python would when started by a shell for a background job."""
    ignore = lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)  # noqa: E731
    results = {mode: run(pc, tmp_path, INTERPRETER, mode, preexec=ignore) for mode in MODES}
    assert len({json.dumps(result) for result in results.values()}) == 1
    signals = dict(zip(signal.valid_signals(), results["exec"][1]["signals"]))
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
    assert outcomes["exec"][:2] == (status, error_type)


MEMORY_SCAN = FIND_IN_MEMORY + r"""import re
def handler(event, context):
    found = find_in_memory(re.compile(rb"pc-secret-[0-9a-f]{32}"))
    return {"found": sorted(found), "cmdline": open("/proc/self/cmdline", "rb").read().strip(b"\0").decode(),
            "environ": open("/proc/self/environ", "rb").read().decode().split("\0")}
"""


@pytest.mark.parametrize("mode", ["beside", "forked"])
def test_nothing_of_the_caller_is_in_the_handlers_memory(pc, tmp_path, mode):
    token, control = (f"pc-secret-{secrets.token_hex(16)}" for _ in range(2))
    code, out = run(pc, tmp_path, MEMORY_SCAN, mode, "--event",
                    json.dumps({"control": control}), extra_env={"CALLER_TOKEN": token})
    assert code == 0, out
    assert control in out["found"]  # the scan does find what is in memory: the event
    assert token not in out["found"]
    assert out["cmdline"] == "python3"
    assert not any(token in item or item.startswith("HOME=") for item in out["environ"])


def test_a_caller_environment_that_was_not_emptied_falls_back_to_exec(pc, tmp_path):
    """Started without bin/pycontain's emptying (as `python -m` would be), the
    engine holds the caller's variables: the jail then starts its own python."""
    path = tmp_path / "handler.py"
    path.write_text("def handler(e, c):\n    return open('/proc/self/cmdline').read()\n")
    path.chmod(0o644)
    result = subprocess.run(
        [sys.executable, "-I", "-c", "import sys; from pycontain.cli.entry import main; "
         "sys.exit(main())", "fn", "exec", str(path)],
        env=dict(pc.env, CALLER_TOKEN="x"), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout).startswith("python3\0-I\0-S\0-B\0-c\0")
    assert run(pc, tmp_path, path.read_text())[1].strip("\0") == "python3"


def test_the_command_keeps_exactly_the_variables_the_engine_expects():
    """Both ways to start pycontain: install.sh's launcher and the script pip installs."""
    script = (REPO / "bin" / "pycontain").read_text()
    names = re.search(r"for name in (.*?); do", script, re.S).group(1).replace("\\\n", " ")
    assert tuple(names.split()) == KEPT_VARIABLES
    launcher = (REPO / "csrc" / "launcher.c").read_text()
    names = re.search(r"KEPT\[\] = \{(.*?), NULL\}", launcher, re.S).group(1)
    assert tuple(re.findall(r'"(\w+)"', names)) == KEPT_VARIABLES


def jail_interpreters(store_root) -> list:
    """Pids of processes started as `pycontain fn _jail` for this test store."""
    variable = f"PYCONTAIN_ROOT={store_root}".encode()
    return processes(b"\0fn\0_jail\0", "environ", lambda env: variable in env.split(b"\0"))


@pytest.mark.parametrize("args, code", [
    (["{handler}"], 0),
    (["{handler}", "--env", "PYCONTAIN_FN_FORK=0"], 0),   # still in-process: not the engine's
    (["{handler}", "--image", "busybox"], 127),            # no python3 there: not in-process
    (["/nonexistent/handler.py"], 125),
    (["{handler}", "--timeout", "nope"], 125),
    (["{handler}", "--no-such-flag"], 125),               # click's: the lean parser gave up
    (["--help"], 0),
])
def test_the_jail_interpreter_never_outlives_the_command(pc, tmp_path, args, code):
    handler = tmp_path / "handler.py"
    handler.write_text("def handler(e, c):\n    return 1\n")
    handler.chmod(0o644)
    result = pc("fn", "exec", *(a.format(handler=handler) for a in args))
    assert result.returncode == code, result.stderr
    assert jail_interpreters(pc.root) == []  # reaped before the command returned


def test_fn_jail_is_not_for_people(pc):
    result = pc("fn", "_jail")
    assert result.returncode == 125
    assert result.stderr.splitlines() == [
        "pycontain: fn _jail is started by `pycontain fn exec` only"]


def test_on_a_single_cpu_the_engine_forks_the_jail_itself(pc, tmp_path):
    """On one CPU the launcher starts no jail interpreter (two interpreters
    starting at once pay off only on two CPUs or more): the call works the same."""
    path = tmp_path / "handler.py"
    path.write_text("def handler(e, c):\n    return e['name']\n")
    path.chmod(0o644)
    one_cpu = min(os.sched_getaffinity(0))
    result = subprocess.run([PYCONTAIN, "fn", "exec", str(path), "--event", '{"name": "one"}'],
                            env=pc.env, capture_output=True, text=True, timeout=60,
                            preexec_fn=lambda: os.sched_setaffinity(0, {one_cpu}))
    assert (result.returncode, result.stdout) == (0, '"one"\n'), result.stderr
    assert jail_interpreters(pc.root) == []


def test_a_jail_interpreter_variable_from_elsewhere_is_ignored(pc, tmp_path):
    """PYCONTAIN_PREJAIL is believed only when it names a child of the engine:
    one naming another process (set by a caller, not by the launcher) never
    gets that process killed."""
    path = tmp_path / "handler.py"
    path.write_text("def handler(e, c):\n    return 1\n")
    path.chmod(0o644)
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        result = subprocess.run(
            [sys.executable, "-I", "-c", "import sys; from pycontain.cli.entry import main; "
             "sys.exit(main())", "fn", "exec", str(path)],
            env=dict(pc.env, PYCONTAIN_PREJAIL=f"{bystander.pid},0,1,2,2"),
            capture_output=True, text=True, timeout=60)
        assert (result.returncode, result.stdout) == (0, "1\n"), result.stderr
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()
