"""One short-name rule for every command: NAME means docker.io/library/NAME,
and localhost/NAME only when written so or when only that exists."""
import json

from helpers import one_error_line


def _names(pc) -> set:
    return {row["Name"] for row in json.loads(pc.out("images", "--format", "json"))}


def _marker(pc, ref) -> str:
    return pc.out("run", "--rm", ref, "cat", "/marker").strip()


def _image_with_marker(pc, name, text):
    """A committed-like image: busybox plus /marker, imported under name."""
    import os
    import shutil
    import tempfile
    root = tempfile.mkdtemp()
    try:
        os.makedirs(os.path.join(root, "bin"))
        shutil.copy2("/bin/busybox", os.path.join(root, "bin", "busybox"))
        for tool in ("cat", "sh"):
            os.symlink("busybox", os.path.join(root, "bin", tool))
        with open(os.path.join(root, "marker"), "w") as f:
            f.write(text)
        pc.out("import", root, name)
    finally:
        shutil.rmtree(root)


def test_a_short_name_means_docker_io_first_then_localhost(pc):
    _image_with_marker(pc, "localhost/foo:1", "local")
    try:
        assert _marker(pc, "foo:1") == "local"  # only localhost/foo:1 exists
        pc.out("tag", "busybox", "foo:1")  # docker.io/library/foo:1, shown as foo:1
        assert "docker.io/library/foo:1" in _names(pc)
        assert pc("run", "--rm", "foo:1", "test", "-e", "/marker").returncode == 1
        assert pc.out("rmi", "foo:1") == "Untagged: docker.io/library/foo:1\n"
        assert "localhost/foo:1" in _names(pc)  # the name `images` listed as foo is gone
        assert _marker(pc, "foo:1") == "local"
    finally:
        pc("rmi", "-f", "localhost/foo:1", "docker.io/library/foo:1")


def test_rmi_of_several_names_reports_each(pc):
    pc.out("tag", "busybox", "localhost/zz:1")
    result = pc("rmi", "localhost/zz:1", "localhost/nosuch:9", "localhost/nosuch:8")
    assert result.returncode == 125
    assert result.stdout == "Untagged: localhost/zz:1\n"
    assert result.stderr.splitlines() == ["pycontain: image not known: localhost/nosuch:9",
                                          "pycontain: image not known: localhost/nosuch:8"]
    assert "localhost/zz:1" not in _names(pc)


def test_a_typo_of_a_local_name_contacts_no_registry(pc):
    """localhost/NAME is a local name: a typo is 'not known', not an attempt
    to reach a registry on localhost:443."""
    line = one_error_line(pc("run", "--rm", "localhost/busybx", "true"))
    assert line == "pycontain: image not known: localhost/busybx"
