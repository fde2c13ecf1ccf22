"""`pycontain pull` onto a disk that cannot hold the image: one line, 125,
and the store as it was (see test_disk_full.py)."""
import json

import pytest
from helpers import SmallStore, one_error_line


@pytest.fixture
def small(engine_env, tmp_path):
    with SmallStore(engine_env, tmp_path) as store:
        yield store


def test_pull_bigger_than_the_disk_is_one_line_and_leaves_nothing(small, big_image):
    ref, _ = big_image  # two 16 MB layers: the tmpfs holds 24 MB
    # -q: progress lines for blobs that finished first go to stderr too (as podman's)
    result = small.pc("pull", "-q", ref)
    assert "no space left on device" in one_error_line(result).lower(), result.stderr
    assert small.leftovers() == {}
    names = {row["Name"] for row in json.loads(small.pc.out("images", "--format", "json"))}
    assert names == {"localhost/busybox:latest"}
    assert small.pc.out("run", "--rm", "busybox", "echo", "ok") == "ok\n"
