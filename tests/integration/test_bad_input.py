"""Bad input to `pycontain run`: exit code 125, one stderr line that names the
problem, and nothing left behind (the `pc` fixture checks the container and
state directories, names, host mounts and container processes)."""
import json
import os

import pytest

MISSING_HOST_PATH = "/nonexistent-pycontain-test/path"


def one_line_error(result) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("pycontain: "), result.stderr
    return lines[0]


# (run arguments, words the error line must contain, case-insensitively;
#  a tuple of words: any one of them)
BAD_RUNS = {
    "unknown-image": (["no-such-image", "true"], ["no-such-image"]),
    "unknown-tag": (["busybox:no-such-tag", "true"], ["busybox:no-such-tag"]),
    "unknown-flag": (["--no-such-flag", "busybox", "true"], ["--no-such-flag"]),
    "unknown-short-flag": (["-Z", "busybox", "true"], ["-Z"]),
    "volume-relative-anonymous": (["-v", "relative", "busybox", "true"],
                                  ["volume", "relative"]),
    "volume-bad-name": (["-v", "bad/name:/x", "busybox", "true"], ["volume", "bad/name"]),
    "volume-relative-destination": (["-v", "/tmp:relative", "busybox", "true"],
                                    ["volume", "relative"]),
    "volume-missing-source": (["-v", f"{MISSING_HOST_PATH}:/x", "busybox", "true"],
                              [MISSING_HOST_PATH]),
    "volume-bad-mode": (["-v", "/tmp:/x:bogus", "busybox", "true"], ["bogus"]),
    "relative-workdir": (["-w", "relative", "busybox", "true"], ["work", "relative"]),
    "invalid-name": (["--name", "bad name!", "busybox", "true"], ["name", "bad name!"]),
    "name-with-a-path": (["--name", "../escape", "busybox", "true"], ["name", "../escape"]),
    "unknown-user": (["-u", "nosuchuser", "busybox", "true"], ["user", "nosuchuser"]),
    "unknown-group": (["-u", "root:nosuchgroup", "busybox", "true"],
                      ["group", "nosuchgroup"]),
    "missing-env-file": (["--env-file", "/nonexistent-pycontain.env", "busybox", "true"],
                         ["env", "/nonexistent-pycontain.env"]),
    "unknown-network": (["--network", "bogus", "busybox", "true"], ["network", "bogus"]),
    "no-image": ([], ["image"]),
    "no-image-after-flags": (["--rm", "-e", "A=1"], ["image"]),
    "env-without-name": (["-e", "=x", "busybox", "true"], ["=x"]),
    "flag-missing-its-value": (["--name"], ["--name"]),
    "hostname-with-a-newline": (["--hostname", "a\nb", "busybox", "true"], ["--hostname"]),
    "hostname-with-a-space": (["--hostname", "a b", "busybox", "true"], ["--hostname", "a b"]),
    "hostname-label-ending-in-dash": (["--hostname", "a-.b", "busybox", "true"], ["a-.b"]),
    "hostname-too-long": (["--hostname", "a" * 65, "busybox", "true"], ["--hostname"]),
    "pids-limit-below-minus-one": (["--pids-limit", "-5", "busybox", "true"],
                                   ["--pids-limit", "-5"]),
    "pids-limit-above-the-kernels": (["--pids-limit", "4194305", "busybox", "true"],
                                     ["--pids-limit"]),
    "pids-limit-not-decimal": (["--pids-limit", "1_000", "busybox", "true"], ["--pids-limit"]),
}


@pytest.mark.parametrize("args, words", list(BAD_RUNS.values()), ids=list(BAD_RUNS))
@pytest.mark.parametrize("mode", [["--rm"], [], ["-d"]], ids=["rm", "kept", "detached"])
def test_bad_input_is_125_with_one_line_and_leaves_nothing(pc, args, words, mode):
    result = pc("run", *mode, *args)
    assert_refused(pc, result, words)


def assert_refused(pc, result, words):
    """125, one line naming the problem, no output and no container."""
    assert result.returncode == 125, result.stdout + result.stderr
    line = one_line_error(result)
    for word in words:
        alternatives = word if isinstance(word, tuple) else (word,)
        assert any(w.lower() in line.lower() for w in alternatives), \
            f"{' or '.join(map(repr, alternatives))} not named in: {line}"
    assert "Traceback" not in result.stderr and "Error(" not in line
    assert result.stdout == ""
    assert pc.containers() == []
    assert json.loads(pc.out("ps", "-a", "--format", "json")) == []


@pytest.mark.parametrize("destination", ["/", "//", "/..", "/x/.."])
def test_volume_over_the_container_root_is_refused(pc, tmp_path, destination):
    # docker: "invalid mount config: destination can't be '/'"; the host
    # directory must not be used as the container's root, nor written to
    (tmp_path / "dev").mkdir()
    result = pc("run", "--rm", "-v", f"{tmp_path}:{destination}", "busybox", "true")
    assert_refused(pc, result, [("volume", "mount", "destination")])
    assert os.listdir(tmp_path) == ["dev"]
    assert os.listdir(tmp_path / "dev") == []


@pytest.mark.parametrize("user, value", [
    ("4294967295", "4294967295"),            # (uid_t)-1: setresuid would leave uid 0
    ("1000:4294967295", "4294967295"),       # (gid_t)-1: setresgid would leave gid 0
    ("99999999999", "99999999999"),
    ("0:99999999999", "99999999999"),
])
def test_out_of_range_user_is_refused(pc, user, value):
    # docker: "uids and gids must be in range 0-2147483647"; never run as root instead
    result = pc("run", "--rm", "-u", user, "busybox", "id")
    assert_refused(pc, result, [(value, "range")])


def test_missing_volume_source_is_not_created(pc):
    result = pc("run", "--rm", "-v", f"{MISSING_HOST_PATH}:/x", "busybox", "true")
    assert result.returncode == 125
    assert not os.path.lexists(MISSING_HOST_PATH)
    assert not os.path.lexists(os.path.dirname(MISSING_HOST_PATH))
    assert pc.containers() == []


def test_name_already_in_use(pc):
    cid = pc.out("run", "-d", "--name", "taken", "busybox", "sleep", "1000").strip()
    try:
        result = pc("run", "--rm", "--name", "taken", "busybox", "true")
        assert result.returncode == 125
        line = one_line_error(result)
        assert "taken" in line and "in use" in line
        assert pc.containers() == [cid]  # only the first container, untouched
        rows = json.loads(pc.out("ps", "--format", "json"))
        assert [(r["Id"], r["Name"], r["State"]) for r in rows] == [(cid, "taken", "running")]
        assert json.loads(pc.out("inspect", "taken"))[0]["Id"] == cid
        result = pc("run", "-d", "--name", "taken", "busybox", "true")
        assert result.returncode == 125 and "taken" in one_line_error(result)
        assert pc.containers() == [cid]
    finally:
        assert pc.out("rm", "-f", "taken") == "taken\n"
    assert pc.containers() == []


def test_failed_run_does_not_keep_its_name(pc):
    for bad in (["-u", "nosuchuser", "busybox", "true"], ["busybox", "no-such-command"],
                ["-w", "relative", "busybox", "true"]):
        assert pc("run", "--name", "probe", *bad).returncode != 0
        assert pc.containers() == []
    assert pc.out("run", "--rm", "--name", "probe", "busybox", "echo", "free") == "free\n"


CANNOT_RUN = {
    "not-executable": (["/etc/passwd"], 126),
    "directory": (["/etc"], 126),
    "missing-command": (["no-such-command"], 127),
    "missing-path": (["/no/such/path"], 127),
}


@pytest.mark.parametrize("command, code", list(CANNOT_RUN.values()), ids=list(CANNOT_RUN))
@pytest.mark.parametrize("mode", [["--rm"], [], ["-d"], ["--rm", "--init"]],
                         ids=["rm", "kept", "detached", "init"])
def test_cannot_run_command_leaves_nothing(pc, command, code, mode):
    result = pc("run", *mode, "busybox", *command)
    assert result.returncode == code
    assert command[0] in result.stderr
    if "--init" not in mode:
        one_line_error(result)
    assert pc.containers() == []
