"""The launcher (csrc/launcher.c) on a cached jail description: while its
stamps hold, `fn exec` runs in the jail the launcher builds (jail_exec.c)
and no engine starts; otherwise, or when the description is not sound or
not root's own, the engine runs, told the description's name. The engine
here is a stand-in: the launcher runs the python3 beside it, a script that
says it ran (a copy of the launcher in a temporary directory)."""
import os
import shutil
import subprocess

import pytest
from conftest import PYCONTAIN
from helpers import processes

from pycontain import native as n
from pycontain import paths
from pycontain.fn.oneshot.describe import encode
from pycontain.image.store import ImageStore

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")

ECHO = ("import os, sys; os.read(3, 4096); event = os.read(0, 4096).decode();"
        " sys.stderr.write('from the jail\\n'); sys.stdout.write('{\"echo\": ' + event + '}')")


@pytest.fixture
def setup(tmp_path):
    """(the launcher's copy, its environment, the store, the code's directory)."""
    bin_dir, store, code = tmp_path / "bin", tmp_path / "store", tmp_path / "code"
    for d in (bin_dir, store / "cache" / "plans", store / "q", code):
        d.mkdir(parents=True)
    for d in (store, store / "cache", store / "cache" / "plans"):
        d.chmod(0o700)
    shutil.copy(PYCONTAIN, bin_dir / "pycontain")
    (bin_dir / "python3").write_text('#!/bin/sh\necho "engine $PYCONTAIN_PLAN_KEY"\n')
    (bin_dir / "python3").chmod(0o755)
    (code / "handler.py").write_text("def handler(event, context):\n    return event\n")
    env = {"PATH": "/usr/bin:/bin", "PYCONTAIN_ROOT": str(store)}
    return bin_dir / "pycontain", env, store, code


def call(setup, event='{"n": 1}'):
    launcher, env, _, code = setup
    done = subprocess.run([str(launcher), "fn", "exec", "handler.py", "--event", event], env=env,
                          cwd=code, capture_output=True, text=True, timeout=60)
    return done.returncode, done.stdout, done.stderr


def fingerprint(path) -> str:
    st = os.stat(path)
    return (f"{st.st_dev}:{st.st_ino}:{st.st_mode}:{st.st_size}:{st.st_mtime_ns}:"
            f"{st.st_ctime_ns}")


def describe(setup, name, extra_ops=(), lowers_above=None) -> bytes:
    """The description an engine would cache for call(setup): the jail on the
    python image, and the stamps (op T) of that very invocation."""
    launcher, env, store, code = setup
    handler = str(code / "handler.py")
    stamps = ("T", name, str(launcher.parent), str(code), 5, 0, 3, "handler.py", "--event", "",
              len(env), *(f"{k}={v}" for k, v in env.items()),
              "handler.py", handler, "3.0", 128, handler, fingerprint(handler))
    images = ImageStore(paths.data_root())
    layers = images.resolve("python").layer_dirs
    lowers = ":".join([*([str(lowers_above)] if lowers_above else []),
                       *(os.path.relpath(d, images.root) for d in reversed(layers))])
    return encode([("U", n.CLONE_NEWNS | n.CLONE_NEWUTS), ("p",), ("Q", str(store / "q"), "1m"),
                   ("o", images.root, lowers, 0), *extra_ops,
                   ("m", "proc", None, "/proc", 0, None), ("P",), ("u", ".", 2), ("d", "/"),
                   ("g", 1000), ("V", 1000),
                   ("E", "python3", 3, "python3", "-c", ECHO, "PATH=/usr/local/bin:/usr/bin:/bin")],
                  stamps)


def cache(setup, name, data: bytes, mode=0o600):
    path = setup[2] / "cache" / "plans" / name
    path.write_bytes(data)
    path.chmod(mode)


def engine_name(setup) -> str:
    code, out, _ = call(setup)
    assert code == 0 and out.startswith("engine ")
    return out.split()[1]


def leftovers(setup) -> list:
    """Processes of the jails of this test's launcher, and mounts in its store."""
    found = processes(str(setup[0]).encode(), "stat", lambda _: True)
    found += processes(b"from the jail", "stat", lambda _: True)
    return found + os.listdir(setup[2] / "q")


def test_a_fresh_description_runs_without_the_engine(setup):
    name = engine_name(setup)
    cache(setup, name, describe(setup, name))
    code, out, err = call(setup, '{"n": 2}')
    assert (code, out) == (0, '{"echo": {"n": 2}}\n')
    assert "from the jail" in err and "REPORT RequestId" in err
    os.utime(setup[3] / "handler.py")  # changed: the stamps no longer hold
    assert call(setup) == (0, f"engine {name}\n", "")
    assert leftovers(setup) == []


@pytest.mark.parametrize("spoil", ["unsound", "group_writable", "symlink_in_image"])
def test_what_cannot_be_used_leaves_the_call_to_the_engine(setup, spoil, tmp_path):
    name = engine_name(setup)
    if spoil == "unsound":
        cache(setup, name, describe(setup, name)[:-1])
    elif spoil == "group_writable":
        cache(setup, name, describe(setup, name), mode=0o620)
    else:  # the jail fails: the engine makes the call (and says why, if it must)
        layer = tmp_path / "layer"
        layer.mkdir()
        os.symlink("/etc", layer / "srv")
        cache(setup, name, describe(setup, name, [("m", "tmpfs", "tmpfs", "/srv/x", 0, None)],
                                    lowers_above=layer))
    assert call(setup) == (0, f"engine {name}\n", "")
    assert leftovers(setup) == []
