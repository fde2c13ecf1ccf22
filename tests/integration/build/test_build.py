"""`pycontain build` on the real kernel: the CMD/ENTRYPOINT table, the
cache, whiteouts, reproducible digests and failures that leave nothing."""
import json
import os
import subprocess
import tarfile
import time

import pytest

SH = ["/bin/sh", "-c", "cat /proc/1/cmdline; true"]
FORMS = {
    "none": None,
    "exec": lambda k, tag: f'{k} ["/bin/sh", "-c", "cat /proc/1/cmdline; true", "{tag}"]',
    "shell": lambda k, tag: f"{k} cat /proc/1/cmdline; true",
}


IMAGES = ("images", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}")  # not times: they age

def _write(directory, files: dict):
    for name, text in files.items():
        path = os.path.join(directory, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)


def _build(pc, context, *flags, check=True):
    """pycontain build; `--network none` unless flags name one (the default,
    bridge, would make a bridge in the host's network namespace)."""
    if "--network" not in flags:
        flags = ("--network", "none", *flags)
    result = pc("build", *flags, context, timeout=120)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def _cached(output: str) -> int:
    return output.count("--> Using cache")


def _expected(entry, cmd):
    def argv(kind, tag):
        if kind == "exec":
            return SH + [tag]
        return SH if kind == "shell" else []
    if entry == "shell":
        return SH + argv(cmd, "c")
    return argv(entry, "e") + argv(cmd, "c")


@pytest.mark.parametrize("entry", ["none", "exec", "shell"])
@pytest.mark.parametrize("cmd", ["none", "exec", "shell"])
def test_cmd_entrypoint_table(pc, tmp_path, entry, cmd):
    lines = ["FROM busybox"]
    if FORMS[entry]:
        lines.append(FORMS[entry]("ENTRYPOINT", "e"))
    if FORMS[cmd]:
        lines.append(FORMS[cmd]("CMD", "c"))
    _write(tmp_path, {"Dockerfile": "\n".join(lines) + "\n"})
    tag = f"table-{entry}-{cmd}"
    _build(pc, tmp_path, "-q", "-t", tag)
    result = pc("run", "--rm", tag)
    if entry == cmd == "none":  # busybox's own Cmd (sh) runs, reads no input, exits
        assert (result.returncode, result.stdout) == (0, "")
        return
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\0")[:-1] == _expected(entry, cmd)


def test_entrypoint_resets_an_inherited_cmd(pc, tmp_path):
    _write(tmp_path, {"Dockerfile": "FROM busybox AS base\nCMD [\"inherited\"]\n"
                      "FROM base\nENTRYPOINT [\"echo\", \"entry\"]\n"})
    _build(pc, tmp_path, "-q", "-t", "resets")
    assert pc.out("run", "--rm", "resets") == "entry\n"


def test_shell_applies_to_cmd_and_run(pc, tmp_path):
    """docker's rule (buildah 1.28 keeps /bin/sh -c for CMD's shell form)."""
    _write(tmp_path, {"Dockerfile": 'FROM busybox\nSHELL ["/bin/sh", "-ec"]\n'
                      'RUN echo "$0" > /zero\nCMD cat /proc/1/cmdline; true\n'})
    _build(pc, tmp_path, "-q", "-t", "shellform")
    assert pc.out("run", "--rm", "shellform").split("\0")[:2] == ["/bin/sh", "-ec"]


def test_onbuild_triggers_run_on_from(pc, tmp_path):
    _write(tmp_path / "base", {"Dockerfile": "FROM busybox\nONBUILD COPY f /f\n"
                               "ONBUILD RUN echo ran > /ran\n"})
    _write(tmp_path / "child", {"Dockerfile": "FROM onbuild-base\nRUN cat /f /ran > /both\n",
                                "f": "from child context\n"})
    _build(pc, tmp_path / "base", "-q", "-t", "onbuild-base")
    _build(pc, tmp_path / "child", "-q", "-t", "onbuild-child")
    assert pc.out("run", "--rm", "onbuild-child", "cat", "/both") == "from child context\nran\n"


@pytest.mark.parametrize("network, expected", [("none", "lo\n"), ("host", None)])
def test_run_network(pc, tmp_path, network, expected):
    _write(tmp_path, {"Dockerfile": "FROM busybox\nRUN ls /sys/class/net > /nets\n"})
    _build(pc, tmp_path, "-q", "--network", network, "-t", f"net-{network}")
    host = "".join(f"{n}\n" for n in sorted(os.listdir("/sys/class/net")))
    assert pc.out("run", "--rm", f"net-{network}", "cat", "/nets") == (expected or host)


def test_cache_keys(pc, tmp_path):
    _write(tmp_path, {"Dockerfile": "FROM busybox\nARG V=1\nCOPY a.txt /a\nRUN echo $V > /v\n"
                      "COPY . /ctx/\n",
                      "a.txt": "a", "b.txt": "b", "junk/x": "1", ".dockerignore": "junk\n"})
    first = _build(pc, tmp_path, "-t", "cachetest")
    assert _cached(first.stdout) == 0
    lines = first.stdout.splitlines()
    assert lines[0] == "STEP 1/5: FROM busybox" and "STEP 4/5: RUN echo $V > /v" in lines
    assert lines[-2:-1] == ["COMMIT cachetest"] and len(lines[-1]) == 64
    quiet = _build(pc, tmp_path, "-q", "-t", "cachetest")
    assert quiet.stdout == lines[-1] + "\n"  # -q: the id alone
    again = _build(pc, tmp_path, "-t", "cachetest")
    assert _cached(again.stdout) == 3
    assert again.stdout.strip().splitlines()[-1] == first.stdout.strip().splitlines()[-1]
    os.utime(tmp_path / "a.txt", (1, 1))  # a touch keeps the cache
    assert _cached(_build(pc, tmp_path, "-t", "cachetest").stdout) == 3
    _write(tmp_path, {"junk/x": "2"})  # an ignored file keeps it too
    assert _cached(_build(pc, tmp_path, "-t", "cachetest").stdout) == 3
    _write(tmp_path, {"b.txt": "changed"})  # rebuilds from the COPY that reads it
    assert _cached(_build(pc, tmp_path, "-t", "cachetest").stdout) == 2
    arg = _build(pc, tmp_path, "--build-arg", "V=2", "-t", "cachetest")
    assert _cached(arg.stdout) == 1  # from its first use on
    assert pc.out("run", "--rm", "cachetest", "sh", "-c",
                  "cat /v /ctx/b.txt; echo; ls -A /ctx") == \
        "2\nchanged\n.dockerignore\nDockerfile\na.txt\nb.txt\n"
    assert _cached(_build(pc, tmp_path, "--no-cache", "-t", "cachetest").stdout) == 0
    start = time.monotonic()
    _build(pc, tmp_path, "--build-arg", "V=2", "-q", "-t", "cachetest")
    assert time.monotonic() - start < 1.0


def test_whiteouts_survive_save_and_load(pc, tmp_path):
    _write(tmp_path, {"Dockerfile":
                      "FROM busybox\nRUN mkdir -p /usr/share/x && touch /usr/share/x/f /etc/motd\n"
                      "RUN rm /etc/motd && rm -rf /usr/share/x && mkdir /usr/share/x\n"})
    _build(pc, tmp_path, "-q", "-t", "whiteouts")
    archive = tmp_path / "w.tar"
    pc.out("save", "-o", archive, "whiteouts")
    with tarfile.open(archive) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))[0]
        with tarfile.open(fileobj=outer.extractfile(manifest["Layers"][-1])) as layer:
            names = layer.getnames()
    assert "etc/.wh.motd" in names and "usr/share/x/.wh..wh..opq" in names
    assert names == sorted(names, key=lambda n: n.split("/"))
    pc.out("rmi", "whiteouts")
    pc.out("load", "-i", archive)
    assert pc.out("run", "--rm", "whiteouts", "sh", "-c",
                  "ls -A /usr/share/x; test -e /etc/motd || echo gone") == "gone\n"


def test_reproducible_digest(pc, tmp_path):
    digests = []
    for n in range(2):
        context = tmp_path / f"ctx{n}"
        _write(context, {"Dockerfile": "FROM busybox\nCOPY f /f\nRUN echo x > /y\n", "f": "data"})
        os.utime(context / "f", (n * 1000, n * 1000))
        env = dict(pc.env, SOURCE_DATE_EPOCH="0")
        pc.env, saved = env, pc.env
        try:
            _build(pc, context, "--no-cache", "--rewrite-timestamp", "-q", "-t", f"repro{n}")
        finally:
            pc.env = saved
        record = json.loads((pc.root / "images.json").read_text())["images"][
            f"docker.io/library/repro{n}:latest"]
        digests.append(record["manifest_digest"])
        config = json.loads((pc.root / "blobs" / "sha256" / record["config_digest"][7:])
                            .read_text())
        time.sleep(1.1)
    assert digests[0] == digests[1]
    assert config["created"] == "1970-01-01T00:00:00Z"
    assert [(h["created_by"], h.get("empty_layer", False)) for h in config["history"]][-2:] \
        == [("COPY f /f", False), ("RUN /bin/sh -c echo x > /y", False)]


def test_failing_run_leaves_nothing(pc, tmp_path):
    _write(tmp_path, {"Dockerfile": "FROM busybox\nRUN echo partial > /p && exit 3\n"})
    before = pc.out(*IMAGES)
    result = _build(pc, tmp_path, "-t", "failing", check=False)
    assert result.returncode == 3
    assert result.stderr.strip().splitlines()[-1].startswith(
        "pycontain: Dockerfile:2: RUN: ") and "non-zero code: 3" in result.stderr
    assert pc.out(*IMAGES) == before
    assert not list((pc.root / "pulls").glob("*/*"))


@pytest.mark.parametrize("text, problem", [
    ("FROM busybox\nFROBNICATE x\n", "Dockerfile:2: unknown instruction: FROBNICATE"),
    ("FROM busybox\nRUN echo a\nCOPY missing /x\n", "Dockerfile:3: COPY: COPY failed: missing"),
    ("RUN true\n", "Dockerfile:1: RUN before the first FROM"),
    ("FROM busybox\nENV A=${B:?needed}\n", "Dockerfile:2: B: needed"),
])
def test_bad_dockerfiles(pc, tmp_path, text, problem):
    _write(tmp_path, {"Dockerfile": text})
    before = pc.out(*IMAGES)
    result = _build(pc, tmp_path, "-t", "bad", check=False)
    assert result.returncode == 125
    assert result.stderr.startswith(f"pycontain: {problem}"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert pc.out(*IMAGES) == before


def test_multistage_target_and_copy_from(pc, tmp_path):
    _write(tmp_path, {"Dockerfile":
                      "ARG BASE=busybox\nFROM $BASE AS one\nRUN echo one > /one\n"
                      "FROM busybox AS unused\nRUN exit 1\n"
                      "FROM busybox AS two\nARG TARGETARCH\nCOPY --from=one --chown=7:8 "
                      "--chmod=600 /one /got\nRUN echo $TARGETARCH > /arch\n"})
    out = _build(pc, tmp_path, "--target", "two", "-t", "multi").stdout
    assert "exit 1" not in out
    assert pc.out("run", "--rm", "multi", "sh", "-c",
                  "stat -c '%u:%g %a' /got; cat /got /arch") == "7:8 600\none\namd64\n"


def test_ignored_directory_is_not_walked(pc, tmp_path):
    """100,000 files in an ignored directory (on a tmpfs, so that making and
    removing them is quick): the build does not look at them."""
    _write(tmp_path, {"Dockerfile": "FROM busybox\nCOPY . /ctx/\n", "keep": "k",
                      ".dockerignore": "node_modules\n"})
    ignored = tmp_path / "node_modules"
    ignored.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m,nr_inodes=200k", "tmpfs", ignored],
                   check=True)
    try:
        for d in range(100):
            directory = ignored / str(d)
            directory.mkdir()
            for n in range(1000):
                os.close(os.open(directory / str(n), os.O_CREAT | os.O_WRONLY, 0o644))
        start = time.monotonic()
        _build(pc, tmp_path, "-q", "-t", "pruned")
        assert time.monotonic() - start < 2.0
    finally:
        subprocess.run(["umount", ignored], check=True)
    assert pc.out("run", "--rm", "pruned", "ls", "-A", "/ctx") == \
        ".dockerignore\nDockerfile\nkeep\n"


@pytest.mark.parametrize("ignore_file", ["Dockerfile.custom.dockerignore", ".containerignore"])
def test_other_ignore_files(pc, tmp_path, ignore_file):
    _write(tmp_path, {"Dockerfile.custom": "FROM busybox\nCOPY . /ctx/\n", "a": "", "b": "",
                      ignore_file: "*\n!b\n"})
    _build(pc, tmp_path, "-q", "-f", tmp_path / "Dockerfile.custom", "-t", "otherignore")
    assert pc.out("run", "--rm", "otherignore", "ls", "-A", "/ctx") == "b\n"


def test_builder_prune_empties_the_cache(pc, tmp_path):
    _write(tmp_path, {"Dockerfile": "FROM busybox\nRUN echo prune-me > /p\n"})
    _build(pc, tmp_path, "-t", "prunecache")
    assert _cached(_build(pc, tmp_path, "-t", "prunecache").stdout) == 1
    assert pc.out("builder", "prune").startswith("removed ")
    assert _cached(_build(pc, tmp_path, "-t", "prunecache").stdout) == 0


def test_cached_ten_step_build_is_fast(pc, tmp_path):
    steps = "".join(f"RUN echo {n} > /f{n}\n" if n % 2 else f"COPY f{n} /c{n}\n"
                    for n in range(10))
    _write(tmp_path, {"Dockerfile": "FROM busybox\n" + steps,
                      **{f"f{n}": str(n) for n in range(10)}})
    _build(pc, tmp_path, "-q", "-t", "tensteps")
    start = time.monotonic()
    again = _build(pc, tmp_path, "-t", "tensteps")
    assert _cached(again.stdout) == 10
    assert time.monotonic() - start < 1.0


def test_symlinks_never_reach_outside_the_context_or_stage(pc, tmp_path):
    """A symlink on a source path resolves inside the context (or the stage's
    root for --from), never on the host; a symlinked destination directory
    resolves inside the image."""
    outside = tmp_path / "outside"
    _write(outside, {"secret": "host secret\n"})
    context = tmp_path / "ctx"
    _write(context, {"Dockerfile": f"FROM busybox\nCOPY out/secret /got\n"})
    os.symlink(outside, context / "out")
    result = _build(pc, context, "-t", "escape1", check=False)
    assert result.returncode == 125 and "out/secret: no such file" in result.stderr
    _write(context, {"Dockerfile": "FROM busybox AS s\nRUN ln -s / /hostroot\n"
                     f"FROM busybox\nCOPY --from=s /hostroot{outside}/secret /got\n"})
    result = _build(pc, context, "-t", "escape2", check=False)
    assert result.returncode == 125 and "no such file" in result.stderr
    _write(context, {"Dockerfile": "FROM busybox\nRUN mkdir /real && ln -s /real /linked\n"
                     "COPY f /linked/\n", "f": "via link\n"})
    _build(pc, context, "-q", "-t", "destlink")
    assert pc.out("run", "--rm", "destlink", "sh", "-c",
                  "readlink /linked; cat /real/f") == "/real\nvia link\n"


def test_heredocs(pc, tmp_path):
    _write(tmp_path, {"Dockerfile": "FROM busybox\nARG WHO=world\n"
                      "RUN <<EOF\nset -e\necho \"script $WHO\" > /script\n"
                      "echo two >> /script\nEOF\n"
                      "RUN cat <<'EOF' > /quoted\n$WHO stays\nEOF\n"
                      "COPY <<EOF /greeting\nhello $WHO\nEOF\n"
                      "COPY --chmod=755 <<-EOF /bin/hi\n\t#!/bin/sh\n\techo hi\n\tEOF\n"})
    _build(pc, tmp_path, "-q", "-t", "heredocs")
    assert pc.out("run", "--rm", "heredocs", "sh", "-c",
                  "cat /script /quoted /greeting; hi") == \
        "script world\ntwo\n$WHO stays\nhello world\nhi\n"


def test_add_url(pc, tmp_path):
    """ADD of an http URL (a server of the test's own on 127.0.0.1)."""
    import functools
    import http.server
    import threading
    served = tmp_path / "served"
    _write(served, {"file.txt": "downloaded\n"})
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=served)
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        _write(tmp_path / "ctx", {"Dockerfile": f"FROM busybox\nADD {url}/file.txt /d/\n"
                                  f"ADD --chmod=644 {url}/file.txt /named\n"})
        _build(pc, tmp_path / "ctx", "-q", "-t", "addurl")
        _write(tmp_path / "ctx", {"Dockerfile": f"FROM busybox\nADD {url}/missing /d/\n"})
        missing = _build(pc, tmp_path / "ctx", "-t", "addurl2", check=False)
    finally:
        server.shutdown()
        server.server_close()
    assert pc.out("run", "--rm", "addurl", "sh", "-c",
                  "stat -c %a /d/file.txt /named; cat /named") == "600\n644\ndownloaded\n"
    assert missing.returncode == 125 and "404" in missing.stderr


def test_run_mounts(pc, tmp_path):
    """cache persists between builds, tmpfs/bind/secret are seen by the step,
    and none of them (nor the secret's content) ends up in the image."""
    secret = tmp_path / "token"
    secret.write_text("s3cr3t-value\n")
    _write(tmp_path / "ctx", {"f": "bound file\n", "Dockerfile":
        "FROM busybox\n"
        "RUN --mount=type=cache,target=/cache echo run >> /cache/log && "
        "wc -l < /cache/log > /count\n"
        "RUN --mount=type=tmpfs,target=/scratch echo x > /scratch/f && ls /scratch > /tmpfs-seen\n"
        "RUN --mount=type=bind,target=/src cat /src/f > /bound\n"
        "RUN --mount=type=secret,id=tok,required cat /run/secrets/tok | wc -c > /secret-size\n"})
    for _ in range(2):
        _build(pc, tmp_path / "ctx", "--no-cache", "-q", "--secret", f"id=tok,src={secret}",
               "-t", "mounts")
    assert pc.out("run", "--rm", "mounts", "sh", "-c",
                  "cat /count /tmpfs-seen /bound /secret-size; ls -d /cache /scratch /src "
                  "/run/secrets 2>&1 | wc -l") == "2\nf\nbound file\n13\n4\n"
    pc.out("save", "-o", tmp_path / "m.tar", "mounts")
    assert b"s3cr3t" not in (tmp_path / "m.tar").read_bytes()
    missing = _build(pc, tmp_path / "ctx", "--no-cache", "-t", "mounts2", check=False)
    assert missing.returncode == 125 and "secret tok is required" in missing.stderr


def test_run_network_bridge_is_the_default(npc, tmp_path):
    """RUN steps get an interface on the engine's bridge unless told otherwise."""
    _write(tmp_path, {"Dockerfile": "FROM busybox\nRUN ls /sys/class/net > /nets\n"})
    result = npc("build", "-q", "-t", "net-bridge", tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    assert npc.out("run", "--rm", "net-bridge", "cat", "/nets") == "eth0\nlo\n"


def test_cache_and_image_prune(pc, tmp_path):
    """The cache survives `image prune` while an image uses its layers; once
    none does, prune removes them and the next build makes them again."""
    _write(tmp_path, {"Dockerfile": "FROM busybox\nRUN echo kept > /k\n"})
    _build(pc, tmp_path, "-t", "prunable")
    pc.out("image", "prune")
    assert _cached(_build(pc, tmp_path, "-t", "prunable").stdout) == 1
    pc.out("rmi", "prunable")
    pc.out("image", "prune")
    rebuilt = _build(pc, tmp_path, "-t", "prunable")
    assert _cached(rebuilt.stdout) == 0
    assert pc.out("run", "--rm", "prunable", "cat", "/k") == "kept\n"


def test_workdir_is_made_for_the_user(pc, tmp_path):
    """WORKDIR makes a missing directory even when no RUN follows (buildah 1.28
    does not), owned by the USER as BuildKit makes it."""
    _write(tmp_path, {"Dockerfile": "FROM busybox\nUSER 1000:1001\nWORKDIR /w/x\n"})
    _build(pc, tmp_path, "-q", "-t", "workdir-user")
    assert pc.out("run", "--rm", "-u", "0", "workdir-user", "stat", "-c", "%u:%g %a",
                  "/w", "/w/x") == "1000:1001 755\n1000:1001 755\n"


def test_a_signal_cancels_the_run_step(pc, tmp_path):
    """SIGTERM to the build stops its RUN step (PID 1 there is the tiny init,
    which hands the command the signal) and leaves nothing behind."""
    _write(tmp_path, {"Dockerfile": "FROM busybox\nRUN sleep 60\n"})
    proc = pc.popen("build", "--network", "none", "--no-cache", tmp_path)
    line = ""
    while "RUN sleep" not in line:
        line = proc.stdout.readline()
        assert line, proc.stderr.read()
    time.sleep(0.5)
    proc.terminate()
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 143 and "returned a non-zero code: 143" in err
