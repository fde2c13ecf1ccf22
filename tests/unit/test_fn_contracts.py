"""Contracts of the function code, pinned apart from the path a call takes:
the seccomp filter a served call adds on top of its zygote's, the outcome of a
call from its exit status, and secure_join's confinement to the root."""
import ctypes
import ctypes.util
import errno
import json
import os
import signal

import pytest

import bpf
from pycontain.fn.outcome import EXIT_FUNCTION_ERROR, EXIT_TIMEOUT, Outcome, classify
from pycontain.fn.jail import JailConfig, jail_spec
from pycontain.fn.server.zygote import added_filter, zygote_spec
from pycontain.oci.securejoin import secure_join
from pycontain.oci.security.compiler import compile_bpf

CLONE_NEW = (0x00000080, 0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000,
             0x20000000, 0x40000000)  # time, ns, cgroup, uts, ipc, user, pid, net


def _sections() -> tuple:
    """(the call's own seccomp section, its zygote's, the init message's
    program), as a served function's jails get them."""
    cfg = JailConfig(code="/var/empty", handler="handler.handler", function_name="f",
                     memory_mb=128, timeout=3, env=[], network=False, image="python")
    spec, init = zygote_spec(cfg)
    return jail_spec(cfg, "", 0)["linux"]["seccomp"], spec["linux"]["seccomp"], init["bpf"]


def _samples():
    """Argument vectors: all zero, then each namespace flag and some wide values
    in each argument."""
    yield (0,) * 6
    for index in range(6):
        for value in (*CLONE_NEW, 1, 0x7E020080, 0xFFFFFFFF, 1 << 40):
            args = [0] * 6
            args[index] = value
            yield tuple(args)
    for option in (1, 1 | 1 << 32, 2, 3):  # prctl(PR_SET_PDEATHSIG...) and its neighbours
        for value in (0, int(signal.SIGKILL), int(signal.SIGTERM), 9 | 1 << 32):
            yield (option, value, 0, 0, 0, 0)


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="the samples use x86_64's ABI")
def test_a_calls_added_filter_over_its_zygotes_answers_as_the_calls_own_filter():
    """The zygote (CAP_SYS_ADMIN's profile) forks each call's child, which adds
    a short filter; with both stacked, every syscall must get exactly the answer
    the call's own profile (no capabilities) gives."""
    call, zygote, sent = _sections()
    added = added_filter(call, zygote)
    assert added is not None, "the call would install its whole profile again"
    programs = [bpf.instructions(compile_bpf(s)) for s in (call, zygote, added)]
    assert len(programs[2]) * 4 < len(programs[0])  # the point of adding a difference
    assert bytes.fromhex(sent) == compile_bpf(added)  # and what each spare installs
    libseccomp = ctypes.CDLL(ctypes.util.find_library("seccomp"))
    names = {n for s in (call, zygote) for rule in s["syscalls"] for n in rule["names"]}
    checked = 0
    for name in sorted(names):
        nr = libseccomp.seccomp_syscall_resolve_name(name.encode())
        if nr < 0:
            continue  # not a syscall of this architecture
        for args in _samples():
            data = bpf.seccomp_data(nr, args)
            own, base, extra = (bpf.run(p, data) for p in programs)
            assert bpf.stacked(base, extra) == own, (name, [hex(a) for a in args])
            checked += 1
    assert checked > 10_000


def test_no_added_filter_when_the_default_actions_differ():
    call, zygote, _ = _sections()
    assert added_filter(dict(call, defaultAction="SCMP_ACT_KILL"), zygote) is None


def _classified(status: int, payload: bytes = b"", timed_out: bool = False) -> Outcome:
    out = Outcome(request_id="rid")
    classify(out, status, payload, timed_out, 3.0)
    return out


def _error(out: Outcome) -> dict:
    return json.loads(out.payload)


def test_classify_a_result_and_a_handled_error_keep_the_runners_payload():
    ok = _classified(0, b'{"ok": 1}')
    assert (ok.payload, ok.exit_code, ok.function_error) == (b'{"ok": 1}', 0, None)
    failed = _classified(1 << 8, b'{"errorType": "ValueError"}')
    assert (failed.exit_code, failed.function_error) == (EXIT_FUNCTION_ERROR, "Unhandled")
    assert failed.payload == b'{"errorType": "ValueError"}'


def test_classify_a_timeout_whatever_the_status():
    out = _classified(signal.SIGKILL, b'{"late": 1}', timed_out=True)
    assert out.exit_code == EXIT_TIMEOUT and out.function_error == "Unhandled"
    assert _error(out)["errorType"] == "Sandbox.Timedout"
    assert _error(out)["errorMessage"] == "RequestId: rid Error: Task timed out after 3.00 seconds"


@pytest.mark.parametrize("status, reason", [
    (0, "exited without providing a reason"),
    (3 << 8, "exited with error: exit status 3"),
    (signal.SIGKILL, "exited with error: signal: killed"),
    (signal.SIGSEGV, f"exited with error: signal: {int(signal.SIGSEGV)}"),
    (1 << 8, "exited with error: exit status 1"),  # a status 1 without the runner's payload
])
def test_classify_a_runtime_that_died_without_a_result(status, reason):
    out = _classified(status)
    assert out.exit_code == EXIT_FUNCTION_ERROR and out.function_error == "Unhandled"
    assert _error(out) == {"errorMessage": f"RequestId: rid Error: Runtime {reason}",
                           "errorType": "Runtime.ExitError", "requestId": "rid",
                           "stackTrace": []}


def test_secure_join_keeps_every_symlink_inside_the_root(tmp_path):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    os.symlink("/", root / "abs")
    os.symlink("../../../..", root / "etc" / "up")
    os.symlink("/etc/up/abs/etc", root / "chain")
    assert secure_join(str(root), "/abs/etc/passwd") == f"{root}/etc/passwd"
    assert secure_join(str(root), "etc/up/dev") == f"{root}/dev"
    assert secure_join(str(root), "/chain/x") == f"{root}/etc/x"
    assert secure_join(str(root), "/missing/../etc/./new") == f"{root}/etc/new"


def test_secure_join_refuses_a_symlink_loop(tmp_path):
    os.symlink("b", tmp_path / "a")
    os.symlink("a", tmp_path / "b")
    with pytest.raises(OSError) as caught:
        secure_join(str(tmp_path), "/a/x")
    assert caught.value.errno == errno.ELOOP


def test_the_too_large_message_names_the_limit():
    """TOO_LARGE is a literal (csrc/call.c gets it from a generated header)."""
    from pycontain.fn.outcome import MAX_EVENT, TOO_LARGE
    assert TOO_LARGE == f"Request must be smaller than {MAX_EVENT} bytes for the InvokeFunction " \
                        "operation"
