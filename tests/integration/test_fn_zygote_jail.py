"""A `fn serve` zygote's base jail, as root: built by the C executor from its
jail description (pycontain.fn.oneshot.describe), as a one-shot call's is,
and alive past the thread that started it (fn serve starts zygotes from
worker threads, several at once; a death signal would follow the thread).
A zygote killed with its server: test_fn_uids' killed-server test."""
import json
import os
import threading

import pytest
from helpers import wait_for

from pycontain.errors import PycontainError
from pycontain.fn.jail import SANDBOX_GID, SANDBOX_UID_BASE, JailConfig
from pycontain.fn.server.zygote import Zygote, zygote_spec
from pycontain.oci.security.caps import NUMBERS

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")

CODE = "def handler(event, context):\n    return {'echo': event}\n"
STATUS_SETS = {"CapInh": "inheritable", "CapPrm": "permitted", "CapEff": "effective",
               "CapBnd": "bounding", "CapAmb": "ambient"}


@pytest.fixture
def jail_config(pc, tmp_path, monkeypatch):
    """A function's JailConfig on the test store (image: python)."""
    monkeypatch.setenv("PYCONTAIN_ROOT", pc.env["PYCONTAIN_ROOT"])
    monkeypatch.setenv("PYCONTAIN_CGROUP_PARENT", pc.env["PYCONTAIN_CGROUP_PARENT"])
    code = tmp_path / "app.py"
    code.write_text(CODE)
    code.chmod(0o644)
    log = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
    try:
        yield lambda **kw: (JailConfig(code=str(code), handler="app.handler",
                                       function_name="zygote-jail", timeout=10, **kw), log)
    finally:
        os.close(log)


def _status(pid: int) -> dict:
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":", 1) for line in f)


def _children() -> set:
    found = set()
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            if _status(int(entry))["PPid"].strip() == str(os.getpid()):
                found.add(int(entry))
        except OSError:
            continue
    return found


def _mask(names) -> int:
    return sum(1 << NUMBERS[name] for name in names)


def _started_in_threads(cfg, log: int, count: int) -> list:
    """count zygotes, started at once by threads that have ended when this returns."""
    zygotes, errors, ids = [], [], []

    def start():
        ids.append(threading.get_native_id())
        try:
            zygotes.append(Zygote(cfg, log, spares=1))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
    threads = [threading.Thread(target=start) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    # gone from the kernel too (a death signal is sent as the thread exits)
    wait_for(lambda: not any(os.path.exists(f"/proc/self/task/{t}") for t in ids), 10,
             "the starting threads to exit")
    if errors:
        for zygote in zygotes:
            zygote.close()
        raise errors[0]
    return zygotes


def test_zygotes_base_jails_come_from_their_description_and_outlive_their_thread(jail_config):
    cfg, log = jail_config()
    zygotes = _started_in_threads(cfg, log, 3)
    try:
        spec_caps = zygote_spec(cfg)[0]["process"]["capabilities"]
        for zygote in zygotes:
            out = zygote.call(b'{"n": 1}', "rid-1")
            assert out.function_error is None, out.payload
            assert json.loads(out.payload) == {"echo": {"n": 1}}
            status = _status(zygote.pid)
            uid = str(SANDBOX_UID_BASE + zygote.pid)  # op J: base + its host pid
            assert status["Uid"].split() == [uid] * 4, status["Uid"]
            assert status["Gid"].split() == [str(SANDBOX_GID)] * 4
            assert status["NoNewPrivs"].strip() == "1" and status["Seccomp"].strip() == "2"
            for field, name in STATUS_SETS.items():
                assert int(status[field], 16) == _mask(spec_caps[name]), (field, status[field])
            with open(f"/proc/{zygote.pid}/environ", "rb") as f:  # what the executor exec'd
                assert b"_PYCONTAIN_GO_FD=3" in f.read().split(b"\0")
        assert len({zygote.pid for zygote in zygotes}) == 3
    finally:
        for zygote in zygotes:
            zygote.close()
    assert not any(os.path.exists(f"/proc/{zygote.pid}") for zygote in zygotes)


def test_a_zygote_that_cannot_start_says_why_and_leaves_nothing(jail_config):
    cfg, log = jail_config(image="busybox")  # no python3
    before = _children()
    with pytest.raises(PycontainError) as failed:
        _started_in_threads(cfg, log, 1)
    message = str(failed.value)
    assert message == 'exec: "python3": executable file not found in $PATH', message
    assert failed.value.code == 127
    with open("/proc/self/mountinfo") as f:
        assert os.environ["PYCONTAIN_ROOT"] not in f.read()
    wait_for(lambda: not _children() - before, 10, "no child of ours left")


def test_a_call_whose_jail_cannot_be_set_up_says_why_in_its_log(jail_config, monkeypatch):
    """With no spares the zygote clones a call's jail when the call is already
    waiting: a set-up the kernel refuses (here a /tmp size it cannot parse,
    injected in the init message) fails that call, with the reason in its log."""
    import pycontain.fn.server.zygote as zygote_module
    real = zygote_module.zygote_spec
    monkeypatch.setattr(zygote_module, "zygote_spec", lambda cfg, spares: (
        lambda spec, init: (spec, dict(init, tmp_size="bogus")))(*real(cfg, spares)))
    cfg, log = jail_config()
    zygote = Zygote(cfg, log, spares=0)
    try:
        out = zygote.call(b"{}", "rid-1")
        assert out.function_error == "Unhandled", out.payload
        assert json.loads(out.payload)["errorType"] == "Runtime.ExitError"
        reason = b"pycontain zygote: call setup failed: OSError(22, 'mount /tmp: Invalid argument')"
        assert reason in out.log, out.log
        assert zygote.call(b"{}", "rid-2").function_error == "Unhandled"  # the zygote lives on
    finally:
        zygote.close()
