"""docker's management groups (`container ...`, `image ...`) and `system df`,
`container prune`, `system prune [-a]`, on a store of the test's own."""
import json
import os

import pytest

from conftest import Engine, cgroup_dirs
from helpers import IDLE


@pytest.fixture
def own(engine_env, tmp_path):
    """An engine on a private store holding only busybox (prune -a must not
    take the session's images); its containers removed afterwards."""
    layout = os.path.join(os.path.dirname(engine_env["PYCONTAIN_ROOT"]), "layouts", "busybox")
    engine = Engine(dict(engine_env, PYCONTAIN_ROOT=str(tmp_path / "data"),
                         PYCONTAIN_RUNROOT=str(tmp_path / "run")))
    engine.out("import", f"oci:{layout}", "localhost/busybox:latest")
    yield engine
    for cid in engine.containers():
        engine("rm", "-f", cid)
    assert cgroup_dirs(engine.env) == []


def test_container_and_image_groups_alias_the_commands(own):
    own.out("container", "create", "--name", "g", "busybox", "true")
    assert "g" in own.out("container", "ls", "-a")
    assert json.loads(own.out("container", "inspect", "g"))[0]["Name"] == "g"
    assert own.out("container", "start", "g") == "g\n"
    assert own.out("container", "wait", "g") == "0\n"
    assert own.out("container", "rm", "g") == "g\n"
    assert "localhost/busybox" in own.out("image", "ls")
    info = json.loads(own.out("image", "inspect", "busybox"))[0]
    assert info["RepoTags"] == ["localhost/busybox:latest"]
    own.out("image", "tag", "busybox", "localhost/other:1")
    assert "Untagged: localhost/other:1" in own.out("image", "rm", "localhost/other:1")
    assert "IMAGE" in own.out("image", "history", "busybox")


def test_system_df_counts_images_and_containers(own):
    own.out("run", "--name", "stopped", "busybox", "sh", "-c", "head -c 100000 /dev/zero > /f")
    own.out("run", "-d", "--name", "up", "busybox", "sh", "-c", IDLE)
    lines = own.out("system", "df").splitlines()
    assert lines[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    rows = {ln[:16].strip(): ln[16:].split() for ln in lines[1:]}
    assert rows["Images"][:2] == ["1", "1"]
    assert rows["Containers"][:2] == ["2", "1"]
    assert rows["Containers"][2].endswith("kB")  # the 100 kB file in the stopped one
    assert rows["Local Volumes"][:2] == ["0", "0"]


def test_container_prune_removes_only_stopped_ones(own):
    own.out("run", "--name", "done", "busybox", "true")
    own.out("create", "--name", "fresh", "busybox", "true")
    own.out("run", "-d", "--name", "up", "busybox", "sh", "-c", IDLE)
    asked = own("container", "prune", input="n\n")
    assert asked.returncode == 0 and len(own.containers()) == 3  # answered no
    out = own.out("container", "prune", "-f")
    assert out.startswith("Deleted Containers:") and "Total reclaimed space" in out
    assert [r["Name"] for r in json.loads(own.out("ps", "-a", "--format", "json"))] == ["up"]


def test_system_prune_all_removes_unused_images(own):
    own.out("tag", "busybox", "localhost/unused:1")
    own.out("run", "--name", "done", "busybox", "true")
    out = own.out("system", "prune", "-f")
    assert "Deleted Containers:" in out and own.containers() == []
    assert "localhost/unused" in own.out("images")  # named images stay without -a
    own.out("run", "-d", "--name", "up", "busybox", "sh", "-c", IDLE)
    out = own.out("system", "prune", "-a", "-f")
    assert "Deleted Images:" not in out  # busybox is used by `up` (both names are one image)
    own.out("rm", "-f", "up")
    out = own.out("system", "prune", "-a", "-f", "--volumes")
    assert "Deleted Images:" in out and "Untagged: localhost/busybox:latest" in out
    assert own.out("images", "--format", "json").strip() in ("[]", "")
    assert not any(os.scandir(own.root / "layers"))
