"""Hostile tars meet bounds, not tracebacks: sparse members, oversized or
chained extended headers, too many members or bytes, and member metadata
the system cannot take (mtime, uid/gid, NUL in a PAX key), refused with one
line by the layer unpacker and by every other reader of a foreign tar
(`import` of a tarball, `load` of an archive, ADD of an archive)."""
import gzip
import io
import os
import tarfile

import pytest

from pycontain.build import copystep
from pycontain.build.layer import LayerWriter
from pycontain.errors import PycontainError
from pycontain.image import archive_load, tarsafe
from pycontain.image.rootfs_import import import_rootfs
from pycontain.image.store import ImageStore
from pycontain.image.unpack import unpack_layer
from test_image_unpack import GOOD_FIRST, arena, entry, make_tar, refused  # noqa: F401

HOLE = 32 << 20  # the size a sparse member claims: written as zeros if not refused


def header(name: str, kind: bytes, size: int) -> bytes:
    """One 512-byte header of type kind claiming size bytes of data."""
    info = tarfile.TarInfo(name)
    info.type, info.size = kind, size
    return info.tobuf(tarfile.GNU_FORMAT)


def pax_block(records: dict) -> bytes:
    """A PAX extended header ('x') with its data, padded."""
    data = b""
    for key, value in records.items():
        body = f" {key}={value}\n".encode()
        n = len(body) + 1
        while len(str(n)) + len(body) != n:
            n += 1
        data += str(n).encode() + body
    return header("PaxHeader/x", tarfile.XHDTYPE, len(data)) + _pad(data)


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 512)


def sparse_tar(fmt: str) -> bytes:
    """One sparse member 'big' of HOLE bytes (4 of data at the end), in
    PAX 0.1 or 1.0 or GNU 'S' form."""
    if fmt == "pax0.1":
        return make_tar(entry("GNUSparseFile.0/big", data=b"tail", pax={
            "GNU.sparse.size": str(HOLE), "GNU.sparse.map": f"{HOLE - 4},4",
            "GNU.sparse.numblocks": "1", "GNU.sparse.name": "big"}))
    if fmt == "pax1.0":
        data = _pad(f"1\n{HOLE - 4}\n4\n".encode()) + b"tail"
        return make_tar(entry("GNUSparseFile.0/big", data=data, pax={
            "GNU.sparse.major": "1", "GNU.sparse.minor": "0", "GNU.sparse.name": "big",
            "GNU.sparse.realsize": str(HOLE)}))
    block = bytearray(header("big", tarfile.GNUTYPE_SPARSE, 4))
    block[386:410] = b"%011o\0%011o\0" % (HOLE - 4, 4)  # the first sparse struct
    block[483:495] = b"%011o\0" % HOLE                  # the real size
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block) + _pad(b"tail") + b"\0" * 1024


SPARSE = ["pax0.1", "pax1.0", "gnu"]


def long_header(kind: bytes = tarfile.GNUTYPE_LONGNAME) -> bytes:
    """A GNU long name (or PAX header) claiming 600 MB, its data never sent:
    refused before tarfile reads it, not after."""
    return header("././@LongLink", kind, 600 << 20)


def chained_headers(n: int = 1000) -> bytes:
    return b"".join(pax_block({"comment": str(i)}) for i in range(n)) + make_tar(GOOD_FIRST)


# -- the layer unpacker ----------------------------------------------------------
@pytest.mark.parametrize("fmt", SPARSE)
def test_sparse_member_refused(arena, fmt):
    refused(arena, sparse_tar(fmt), "sparse files are not supported")


@pytest.mark.parametrize("kind", [tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK,
                                  tarfile.XHDTYPE, tarfile.XGLTYPE])
def test_oversized_extended_header_refused_unread(arena, kind):
    message = refused(arena, make_tar(GOOD_FIRST)[:1024] + long_header(kind),
                      f"extended header of {600 << 20} bytes (at most {tarsafe.MAX_HEADER})")
    assert "@LongLink" in message


def test_extended_header_below_the_bound_kept(tmp_path):
    member = entry("f", data=b"x", pax={"comment": "c" * (tarsafe.MAX_HEADER - 64)})
    unpack_layer(io.BytesIO(make_tar(member)), str(tmp_path / "layer"))
    assert (tmp_path / "layer" / "f").read_bytes() == b"x"


def test_chain_of_extended_headers_refused(arena):
    refused(arena, chained_headers(), f"more than {tarsafe.MAX_HEADER_CHAIN} extended headers")


def test_extended_headers_in_all_bounded(arena, monkeypatch):
    monkeypatch.setattr(tarsafe, "MAX_HEADERS_TOTAL", 4000, raising=False)
    members = [entry(f"f{i}", pax={"comment": "x" * 200}) for i in range(40)]
    refused(arena, make_tar(*members), "more than 4000 bytes of extended headers")


def test_long_names_still_unpack(tmp_path):
    name = "d/" + "n" * 200 + "/" + "m" * 200
    for fmt in (tarfile.GNU_FORMAT, tarfile.PAX_FORMAT):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
            info, data = entry(name, data=b"x", link="")
            tar.addfile(info, io.BytesIO(data))
            link, _ = entry("l", kind="sym", link="t" * 300)
            tar.addfile(link)
        dest = tmp_path / str(fmt)
        unpack_layer(io.BytesIO(buf.getvalue()), str(dest))
        assert (dest / name).read_bytes() == b"x"
        assert os.readlink(dest / "l") == "t" * 300


def test_member_count_bounded(arena, monkeypatch):
    monkeypatch.setattr(tarsafe, "MAX_MEMBERS", 50, raising=False)
    dirs = [entry(f"d{i}", kind="dir") for i in range(60)]
    refused(arena, make_tar(*dirs), "more than 50 members")


def test_members_not_kept_while_unpacking(tmp_path, monkeypatch):
    opened = []
    real = tarsafe.open_stream

    def spy(fileobj):
        opened.append(real(fileobj))
        return opened[-1]
    monkeypatch.setattr(tarsafe, "open_stream", spy, raising=False)
    unpack_layer(io.BytesIO(make_tar(*[entry(f"f{i}") for i in range(500)])),
                 str(tmp_path / "layer"))
    assert len(opened) == 1 and opened[0].count == 500 and len(opened[0].members) <= 1


def test_file_bytes_bounded(arena, monkeypatch):
    monkeypatch.setattr(tarsafe, "MAX_LAYER_BYTES", 1 << 20, raising=False)
    files = [entry(f"f{i}", data=b"x" * (600 << 10)) for i in range(2)]
    refused(arena, make_tar(*files), f"more than {1 << 20} bytes")


def test_stream_bytes_bounded(arena, monkeypatch):
    """Data after the end of the archive is hashed (the diff_id covers it), bounded too."""
    monkeypatch.setattr(tarsafe, "MAX_LAYER_BYTES", 1 << 20, raising=False)
    refused(arena, make_tar(GOOD_FIRST) + b"\0" * (2 << 20), f"more than {1 << 20} bytes")


KINDS = {"file": {}, "dir": {}, "sym": {"link": "ok.txt"}, "fifo": {}}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mtime", ["inf", "-inf", "nan", "1e30", "-1e30", "9223372037"])
def test_mtime_out_of_range_refused(arena, kind, mtime):
    member = entry("m", kind=kind, pax={"mtime": mtime}, **KINDS[kind])
    refused(arena, make_tar(GOOD_FIRST, member), f"mtime {float(mtime)} out of range")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("field, value", [("uid", "-7"), ("gid", "-1"), ("uid", "4294967295"),
                                          ("gid", str(2**64))])
def test_owner_out_of_range_refused(arena, kind, field, value):
    member = entry("m", kind=kind, pax={field: value}, **KINDS[kind])
    refused(arena, make_tar(GOOD_FIRST, member), f"{field} {value} out of range")


@pytest.mark.parametrize("kind", ["dir", "file"])
def test_nul_in_xattr_name_refused(arena, kind):
    member = entry("m", kind=kind, pax={"SCHILY.xattr.user.a\0b": "v"})
    refused(arena, make_tar(GOOD_FIRST, member), "contains a NUL byte")


def test_extremes_in_range_kept(tmp_path):
    top = tarsafe.MAX_MTIME
    layer = tmp_path / "layer"
    unpack_layer(io.BytesIO(make_tar(
        entry("old", pax={"mtime": str(-top)}), entry("new", pax={"mtime": str(top)}),
        entry("d", kind="dir", uid=tarsafe.MAX_ID, gid=0, pax={"mtime": "0.5"}))),
        str(layer))
    assert (layer / "old").exists() and (layer / "new").exists()
    if os.geteuid() == 0:
        assert os.stat(layer / "d").st_uid == tarsafe.MAX_ID


# -- `import TARBALL`, `load ARCHIVE`, ADD of an archive --------------------------
@pytest.fixture
def store(tmp_path):
    return ImageStore(str(tmp_path / "store"))


def import_refused(store, tmp_path, data: bytes, why: str) -> str:
    path = tmp_path / "rootfs.tar.gz"
    path.write_bytes(gzip.compress(data))
    with pytest.raises(PycontainError) as info:
        import_rootfs(store, str(path), "localhost/hostile:1")
    message = str(info.value)
    assert message.startswith(f"import {path}: ") and why in message, message
    assert store.list() == [] and os.listdir(os.path.join(store.root, "pulls")) == ["lock"]
    return message


@pytest.mark.parametrize("fmt", SPARSE)
def test_import_tarball_refuses_sparse(store, tmp_path, fmt):
    import_refused(store, tmp_path, sparse_tar(fmt), "sparse files are not supported")


def test_import_tarball_refuses_oversized_header(store, tmp_path):
    import_refused(store, tmp_path, long_header(), "extended header of")


def test_import_tarball_refuses_bad_mtime(store, tmp_path):
    import_refused(store, tmp_path, make_tar(entry("f", pax={"mtime": "nan"})), "mtime nan")


def test_import_tarball_bounds_members(store, tmp_path, monkeypatch):
    monkeypatch.setattr(tarsafe, "MAX_MEMBERS", 10, raising=False)
    import_refused(store, tmp_path, make_tar(*[entry(f"f{i}") for i in range(20)]),
                   "more than 10 members")


def add_refused(tmp_path, data: bytes, why: str) -> None:
    path = tmp_path / "a.tar"
    path.write_bytes(data)
    assert copystep._is_archive(str(path))
    writer = LayerWriter(str(tmp_path / "layer.tar"))
    with pytest.raises(PycontainError) as info:
        copystep._extract(copystep.Item("dest", str(path), archive=True), writer)
    assert why in str(info.value) and "\n" not in str(info.value), info.value
    writer.tar.close()
    assert os.path.getsize(tmp_path / "layer.tar") < 1 << 20


@pytest.mark.parametrize("fmt", SPARSE)
def test_add_archive_refuses_sparse(tmp_path, fmt):
    add_refused(tmp_path, sparse_tar(fmt), "sparse files are not supported")


def test_add_archive_refuses_oversized_header(tmp_path):
    add_refused(tmp_path, long_header() + b"\0" * 4096, "extended header of")


@pytest.mark.parametrize("pax", [{"mtime": "nan"}, {"mtime": "inf"}, {"uid": "-7"}])
def test_add_archive_refuses_bad_metadata(tmp_path, pax):
    add_refused(tmp_path, make_tar(entry("f", pax=pax)), "out of range")


def test_load_archive_refuses_oversized_header(store, tmp_path):
    path = tmp_path / "archive.tar"
    path.write_bytes(make_tar(entry("manifest.json", data=b"[]"))[:1024] + long_header()
                     + b"\0" * 4096)
    with pytest.raises(PycontainError, match="extended header of"):
        archive_load.load_archive(store, str(path))


def test_load_archive_bounds_members(store, tmp_path, monkeypatch):
    monkeypatch.setattr(tarsafe, "MAX_MEMBERS", 10, raising=False)
    path = tmp_path / "archive.tar"
    path.write_bytes(make_tar(*[entry(f"f{i}") for i in range(20)]))
    with pytest.raises(PycontainError, match="more than 10 members"):
        archive_load.load_archive(store, str(path))


def test_load_archive_bounds_decompressed_bytes(store, tmp_path, monkeypatch):
    monkeypatch.setattr(archive_load, "MAX_ARCHIVE_BYTES", 1 << 20, raising=False)
    path = tmp_path / "archive.tar.gz"
    path.write_bytes(gzip.compress(make_tar(entry("f", data=b"\0" * (2 << 20)))))
    with pytest.raises(PycontainError, match=f"more than {1 << 20} bytes"):
        archive_load.load_archive(store, str(path))
    assert os.listdir(os.path.join(store.root, "pulls")) == ["lock"]
