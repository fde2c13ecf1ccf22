"""Image reference normalisation (docker distribution/reference rules)."""
import pytest

from pycontain.errors import PycontainError
from pycontain.image import reference

D = "sha256:" + "0123456789abcdef" * 4

GOOD = [
    # text, full, short, tag, qualified
    ("busybox", "docker.io/library/busybox:latest", "busybox", "latest", False),
    ("busybox:1.36", "docker.io/library/busybox:1.36", "busybox", "1.36", False),
    ("user/app", "docker.io/user/app:latest", "user/app", "latest", False),
    ("library/busybox", "docker.io/library/busybox:latest", "busybox", "latest", False),
    ("docker.io/busybox", "docker.io/library/busybox:latest", "busybox", "latest", True),
    ("docker.io/library/busybox:x", "docker.io/library/busybox:x", "busybox", "x", True),
    ("index.docker.io/user/app", "docker.io/user/app:latest", "user/app", "latest", True),
    ("host:5000/ns/name:tag", "host:5000/ns/name:tag", "host:5000/ns/name", "tag", True),
    ("host.example.com/a/b/c", "host.example.com/a/b/c:latest", "host.example.com/a/b/c",
     "latest", True),
    ("localhost/name", "localhost/name:latest", "localhost/name", "latest", True),
    ("localhost:5000/name:v1", "localhost:5000/name:v1", "localhost:5000/name", "v1", True),
    ("127.0.0.1:5000/x", "127.0.0.1:5000/x:latest", "127.0.0.1:5000/x", "latest", True),
    ("[::1]:5000/x:y", "[::1]:5000/x:y", "[::1]:5000/x", "y", True),
    ("Registry/app", "Registry/app:latest", "Registry/app", "latest", True),
    ("a_b.c__d-e---f", "docker.io/library/a_b.c__d-e---f:latest", "a_b.c__d-e---f",
     "latest", False),
    ("busybox:_tag.with-Chars_", "docker.io/library/busybox:_tag.with-Chars_", "busybox",
     "_tag.with-Chars_", False),
    ("busybox:" + "t" * 128, "docker.io/library/busybox:" + "t" * 128, "busybox", "t" * 128,
     False),
    (f"busybox@{D}", f"docker.io/library/busybox@{D}", "busybox", None, False),
    (f"busybox:1@{D}", f"docker.io/library/busybox:1@{D}", "busybox", "1", False),
    (f"host:5000/x@{D}", f"host:5000/x@{D}", "host:5000/x", None, True),
]

BAD = [
    ("", "empty"),
    ("Busybox", "lowercase"),
    ("user/App", "lowercase"),
    ("a//b", "path component"),
    ("/busybox", "path component"),
    ("busybox/", "path component"),
    ("a/../b", "path component"),
    ("-busybox", "path component"),
    ("busybox-", "path component"),
    ("bus..box", "path component"),
    ("busybox:", "invalid tag"),
    ("busybox:-x", "invalid tag"),
    ("busybox:.x", "invalid tag"),
    ("busybox:" + "t" * 129, "invalid tag"),
    ("busybox:a/b", "domain"),
    ("busy box", "spaces"),
    ("busybox\n", "spaces"),
    ("busybox@sha256:abc", "invalid digest"),
    ("busybox@sha256:" + "A" * 64, "unsupported digest"),
    ("busybox@md5:" + "0" * 32, "unsupported digest"),
    ("busybox@", "invalid digest"),
    ("@" + D, "empty repository"),
    (":tag", "empty repository"),
    ("0123456789abcdef" * 4, "image id"),
    ("-host:5000/x", "domain"),
    ("host:port/x", "domain"),
    ("x" * 250 + "/" + "y" * 10, "longer than"),
]


@pytest.mark.parametrize("text,full,short,tag,qualified", GOOD)
def test_parse_good(text, full, short, tag, qualified):
    ref = reference.parse(text)
    assert ref.full == full
    assert ref.short == short
    assert ref.tag == tag
    assert ref.qualified == qualified
    assert str(ref) == full
    assert reference.parse(ref.full) == ref  # normalisation is idempotent


@pytest.mark.parametrize("text,why", BAD)
def test_parse_bad(text, why):
    with pytest.raises(PycontainError) as info:
        reference.parse(text)
    message = str(info.value)
    assert message.startswith("invalid reference format: ")
    assert repr(text) in message
    assert why in message
    assert info.value.code == 125
    assert "\n" not in message.replace(repr(text), "")


def test_fields_and_helpers():
    ref = reference.parse("host:5000/ns/name:tag")
    assert (ref.domain, ref.path, ref.tag, ref.digest) == ("host:5000", "ns/name", "tag", None)
    assert ref.repository == "host:5000/ns/name"
    assert reference.parse("busybox").familiar == "busybox:latest"
    assert reference.parse("localhost/x:v1").familiar == "localhost/x:v1"
    assert reference.parse("user/app:2").familiar == "user/app:2"


def test_default_tag_none_shows_missing_tag():
    assert reference.parse("busybox", default_tag=None).tag is None
    assert reference.parse("busybox:1", default_tag=None).tag == "1"
    ref = reference.parse("localhost/x", default_tag=None).with_tag("v2")
    assert ref.full == "localhost/x:v2"
    with pytest.raises(PycontainError):
        ref.with_tag("bad tag")
