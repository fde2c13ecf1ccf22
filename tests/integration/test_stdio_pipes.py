"""A container's stdio is pipes the engine copies (or its own terminal with
-t), never the caller's files: through /proc/self/fd/N a process can open
again the very file its fd names, so a caller's `>> file` would let the
container read (or rewrite) that whole file."""
import json
import os
import signal
import subprocess

import pytest

from conftest import PYCONTAIN
from helpers import IDLE, wait_for

SECRET = b"secret-line-the-container-must-not-see\n"


def run_with(pc, args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
             stderr=subprocess.PIPE, input=None):
    """`pycontain ARGS` with the given stdio (files, pipes...): (code, out, err) as bytes."""
    result = subprocess.run([PYCONTAIN, *args], stdin=stdin if input is None else None,
                            stdout=stdout, stderr=stderr, input=input, env=pc.env, timeout=60)
    return result.returncode, result.stdout, result.stderr


def run_piped(pc, args, data: bytes):
    """`pycontain ARGS` fed data through a pipe of ours: (code, out, err, our
    pipe as /proc/self/fd shows it)."""
    proc = subprocess.Popen([PYCONTAIN, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=pc.env)
    ours = f"pipe:[{os.fstat(proc.stdin.fileno()).st_ino}]"
    try:
        out, err = proc.communicate(data, timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, out, err, ours


def secret_file(tmp_path, name):
    """A file holding SECRET, opened for appending, as `>> file` opens it."""
    path = tmp_path / name
    path.write_bytes(SECRET)
    return open(path, "ab")


@pytest.fixture
def running(pc):
    """A detached idle container to `exec` into: its id."""
    cid = pc.out("run", "-d", "busybox", "sh", "-c", IDLE).strip()
    yield cid
    pc("rm", "-f", cid)


@pytest.fixture(params=["run", "exec"])
def verb(request, pc):
    """(the verb, what follows its flags): a new container, or one running."""
    if request.param == "run":
        yield "run", ["--rm", "busybox"]
    else:
        yield "exec", [request.getfixturevalue("running")]


# with `exec` the shell becomes cat, and no other process holds the pipe that
# cat reopens: it reads EOF there (rather than wait for itself as a writer)
READ_OWN_STDOUT = ["sh", "-c", "exec cat </proc/self/fd/1 >&2"]
READ_OWN_STDERR = ["sh", "-c", "exec cat </proc/self/fd/2 2>/dev/null"]


def test_container_cannot_read_the_callers_stdout_file(pc, tmp_path, verb):
    with secret_file(tmp_path, "out") as out:
        code, _, err = run_with(pc, [verb[0], *verb[1], *READ_OWN_STDOUT], stdout=out)
    assert code == 0, err
    assert SECRET.strip() not in err
    assert (tmp_path / "out").read_bytes() == SECRET  # and nothing was written there


def test_container_cannot_read_the_callers_stderr_file(pc, tmp_path, verb):
    with secret_file(tmp_path, "err") as err:
        code, out, _ = run_with(pc, [verb[0], *verb[1], *READ_OWN_STDERR], stderr=err)
    assert code == 0
    assert SECRET.strip() not in out
    assert (tmp_path / "err").read_bytes() == SECRET


def test_container_cannot_write_over_the_callers_input_file(pc, tmp_path):
    path = tmp_path / "in"
    path.write_bytes(SECRET)
    with open(path, "rb") as stdin:
        code, out, err = run_with(pc, ["run", "--rm", "-i", "busybox", "sh", "-c",
                                       "echo overwritten > /proc/self/fd/0; cat"], stdin=stdin)
    assert path.read_bytes() == SECRET  # what it wrote went to its own stdin pipe
    assert code == 0 and SECRET in out, err


FD_LINKS = "ls -l /proc/self/fd/0 /proc/self/fd/1 /proc/self/fd/2"


def _targets(listing: str) -> list:
    """What FD_LINKS says fds 0, 1, 2 are: '/dev/null' or 'pipe:[N]' (or a path)."""
    return [line.rpartition(" -> ")[2] for line in listing.splitlines()]


def _kinds(listing: str) -> list:
    return [target.split(":")[0] for target in _targets(listing)]


@pytest.mark.parametrize("interactive", [False, True], ids=["no-stdin", "stdin"])
def test_stdio_is_pipes_whatever_the_caller_has(pc, tmp_path, verb, interactive):
    """Files for the caller's stdin, stdout and stderr: the container has
    pipes (stdin: /dev/null without -i, as with docker); the code is its own."""
    flags = ["-i"] if interactive else []
    (tmp_path / "in").write_bytes(b"")
    with open(tmp_path / "in", "rb") as stdin, open(tmp_path / "out", "wb") as out, \
            open(tmp_path / "err", "wb") as err:
        code, _, _ = run_with(pc, [verb[0], *flags, *verb[1], "sh", "-c", f"{FD_LINKS}; exit 7"],
                              stdin=stdin, stdout=out, stderr=err)
    assert code == 7
    listing = (tmp_path / "out").read_text()
    assert _kinds(listing) == ["pipe" if interactive else "/dev/null", "pipe", "pipe"], listing
    assert (tmp_path / "err").read_bytes() == b""


def test_stdout_and_stderr_to_one_file_share_a_pipe_and_keep_their_order(pc, tmp_path):
    with open(tmp_path / "both", "wb") as both:
        code, _, _ = run_with(pc, ["run", "--rm", "busybox", "sh", "-c",
                                   f"{FD_LINKS}; "
                                   "for i in 1 2 3 4 5; do echo out$i; echo err$i >&2; done"],
                              stdout=both, stderr=both)
    assert code == 0
    text = (tmp_path / "both").read_text()
    stdin, stdout, stderr = _targets("\n".join(text.splitlines()[:3]))
    assert stdout.startswith("pipe:") and stdout == stderr, text
    assert text.splitlines()[3:] == [f"{kind}{i}" for i in range(1, 6) for kind in ("out", "err")]


def test_detached_container_writes_its_log_through_a_pipe(pc):
    cid = pc.out("run", "-d", "busybox", "sh", "-c",
                 f"{FD_LINKS}; echo to-out; echo to-err >&2").strip()
    try:
        wait_for(lambda: json.loads(pc.out("inspect", cid))[0]["State"]["Status"] == "exited",
                 what="the container to finish")
        result = pc("logs", cid)
        lines = result.stdout.splitlines()
        stdin, stdout, stderr = _targets("\n".join(lines[:3]))
        assert stdin == "/dev/null" and stdout.startswith("pipe:"), lines
        assert stderr.startswith("pipe:") and stderr != stdout, lines  # kept apart (json-file)
        assert (lines[3:], result.stderr) == (["to-out"], "to-err\n"), result
    finally:
        pc("rm", "-f", cid)


def test_stdin_end_of_file_reaches_the_container(pc):
    """`echo hi | pycontain run -i busybox cat` prints hi and exits, through a
    pipe of the engine's, not ours."""
    code, out, err, ours = run_piped(pc, ["run", "--rm", "-i", "busybox", "sh", "-c",
                                          "readlink /proc/self/fd/0 >&2; exec cat"], b"hi\n")
    assert (code, out) == (0, b"hi\n"), err
    assert err.startswith(b"pipe:") and err.strip() != ours.encode(), (err, ours)


def test_ten_megabytes_of_binary_data_round_trip(pc, tmp_path):
    data = os.urandom(10 << 20)
    (tmp_path / "data").write_bytes(data)
    with open(tmp_path / "data", "rb") as stdin:
        code, out, err = run_with(pc, ["run", "--rm", "-i", "busybox", "sh", "-c",
                                       "readlink /proc/self/fd/0 >&2; exec cat"],
                                  stdin=stdin)
    assert code == 0, err
    assert err.startswith(b"pipe:"), err
    assert len(out) == len(data) and out == data


def test_exec_stdin_round_trip(pc, running):
    data = os.urandom(1 << 20)
    code, out, err, ours = run_piped(pc, ["exec", "-i", running, "sh", "-c",
                                          "readlink /proc/self/fd/0 >&2; exec cat"], data)
    assert code == 0 and err.startswith(b"pipe:") and err.strip() != ours.encode(), (err, ours)
    assert out == data


def test_a_container_that_stops_reading_stdin_still_ends(pc):
    """The rest of the caller's input is not the container's problem: the engine
    stops feeding it (EPIPE) and returns the container's code (as before)."""
    feeder = subprocess.Popen(["yes"], stdout=subprocess.PIPE)
    try:
        code, out, _ = run_with(pc, ["run", "--rm", "-i", "busybox", "sh", "-c",
                                     "head -n 2; exit 5"], stdin=feeder.stdout)
    finally:
        feeder.kill()
        feeder.wait()
        feeder.stdout.close()
    assert (code, out) == (5, b"y\ny\n")


def test_a_closed_reader_gives_the_container_sigpipe(pc):
    """`pycontain run busybox sh -c yes | head -n 1`: yes is killed by SIGPIPE,
    as when it wrote to that pipe itself (as PID 1 it would get EPIPE instead:
    SIGPIPE is not sent to a pid namespace's init)."""
    proc = pc.popen("run", "--rm", "busybox", "sh", "-c", "yes; echo yes-ended-$? >&2")
    try:
        assert proc.stdout.readline() == "y\n"
        proc.stdout.close()
        assert proc.wait(timeout=30) == 0
        assert proc.stderr.read() == f"yes-ended-{128 + signal.SIGPIPE}\n"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
