"""Layer unpacking: hostile tars are refused without touching anything
outside the destination; good tars keep what they carry.

These run as any user; ownership, setuid, capabilities, whiteout devices
and overlay mounts are in tests/integration/test_image_unpack_root.py."""
import gzip
import hashlib
import io
import os
import stat
import sys
import tarfile

import pytest

from pycontain.errors import PycontainError
from pycontain.image.compression import open_decompressed
from pycontain.image.unpack import unpack_layer

MTIME = 1_000_000_000


def entry(name, kind="file", data=b"", link="", mode=None, mtime=MTIME, uid=None, gid=None,
          pax=None, dev=(0, 0)):
    """(TarInfo, data) for one member."""
    info = tarfile.TarInfo(name)
    info.type = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "sym": tarfile.SYMTYPE,
                 "link": tarfile.LNKTYPE, "fifo": tarfile.FIFOTYPE, "chr": tarfile.CHRTYPE,
                 "blk": tarfile.BLKTYPE}[kind]
    info.mode = mode if mode is not None else (0o755 if kind == "dir" else 0o644)
    info.mtime = mtime
    info.linkname = link
    info.uid = os.getuid() if uid is None else uid
    info.gid = os.getgid() if gid is None else gid
    info.devmajor, info.devminor = dev
    if pax:
        info.pax_headers = dict(pax)
    if kind == "file":
        info.size = len(data)
    return info, data


def make_tar(*entries) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buf.getvalue()


def snapshot(root, volatile=("layers",)):
    """Everything under root (not following symlinks): path -> metadata +
    content hash. The mtime of the volatile directories (where the layer's
    temporary directory came and went) is left out."""
    result = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            content = None
            if stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    content = hashlib.sha256(f.read()).hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                content = os.readlink(path)
            rel = os.path.relpath(path, root)
            mtime = None if rel in volatile else st.st_mtime_ns
            result[rel] = (st.st_mode, st.st_ino, st.st_nlink, st.st_size, mtime, content)
    return result


@pytest.fixture
def arena(tmp_path):
    """tmp_path with sentinels outside the layer destination."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "sentinel").write_text("keep me")
    (tmp_path / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    (tmp_path / "layers").mkdir()
    return tmp_path


def refused(arena, data: bytes, why: str, **kwargs):
    dest = arena / "layers" / "l1"
    before = snapshot(arena)
    etc_passwd = os.stat("/etc/passwd")
    with pytest.raises(PycontainError) as info:
        unpack_layer(io.BytesIO(data), str(dest), label="test", **kwargs)
    message = str(info.value)
    assert message.startswith("layer test: ")
    assert why in message, message
    assert "\n" not in message
    assert snapshot(arena) == before          # nothing created, changed or left over
    assert os.listdir(arena / "layers") == []  # no dest, no dest.tmp-*
    assert os.stat("/etc/passwd") == etc_passwd
    return message


GOOD_FIRST = entry("ok.txt", data=b"fine")  # hostile tars start with a good member


def test_absolute_path(arena):
    refused(arena, make_tar(GOOD_FIRST, entry(str(arena / "outside" / "abs"), data=b"x")),
            "absolute name")


def test_absolute_dir_name(arena):
    refused(arena, make_tar(entry("/", kind="dir"), entry("/etc", kind="dir")), "absolute name")


def test_absolute_symlink_name(arena):
    refused(arena, make_tar(entry("//x", kind="sym", link="/")), "absolute name")


def test_dotdot(arena):
    refused(arena, make_tar(GOOD_FIRST, entry("../outside/x", data=b"x")), "'..'")


def test_dotdot_in_middle(arena):
    refused(arena, make_tar(GOOD_FIRST, entry("a/", kind="dir"),
                            entry("a/../../outside/x", data=b"x")), "'..'")


def test_dotdot_directory(arena):
    refused(arena, make_tar(entry("..", kind="dir")), "'..'")


def test_write_through_symlink_to_root(arena):
    target = f"pycontain-escape-test-{os.getpid()}"
    message = refused(arena, make_tar(GOOD_FIRST, entry("evil", kind="sym", link="/"),
                                      entry(f"evil/{target}", data=b"x")), "symlink 'evil'")
    assert not os.path.lexists("/" + target), message


def test_write_through_symlink_to_outside(arena):
    refused(arena, make_tar(entry("evil", kind="sym", link=str(arena / "outside")),
                            entry("evil/sentinel", data=b"overwritten")), "symlink 'evil'")


def test_mkdir_through_symlink(arena):
    refused(arena, make_tar(entry("evil", kind="sym", link=str(arena / "outside")),
                            entry("evil/newdir", kind="dir")), "symlink 'evil'")


def test_symlink_dotdot_chain(arena):
    refused(arena, make_tar(entry("a/", kind="dir"), entry("a/up", kind="sym", link=".."),
                            entry("a/up/up2", kind="sym", link=".."),
                            entry("a/up/up2/outside/sentinel", data=b"x")),
            "symlink 'a/up'")


def test_symlink_chain_relative_escape(arena):
    refused(arena, make_tar(entry("d/", kind="dir"),
                            entry("d/l", kind="sym", link="../../outside"),
                            entry("d/l/sentinel", data=b"overwritten")), "symlink 'd/l'")


def test_symlink_replacing_directory_then_write(arena):
    # a later symlink replaces the directory 'a'; writing into a/ must not follow it
    refused(arena, make_tar(entry("a/", kind="dir"), entry("a/f", data=b"1"),
                            entry("a", kind="sym", link=str(arena / "outside")),
                            entry("a/sentinel", data=b"overwritten")), "symlink 'a'")


def test_hardlink_to_etc_passwd(arena):
    refused(arena, make_tar(GOOD_FIRST, entry("pw", kind="link", link="/etc/passwd")),
            "absolute hardlink target")


def test_hardlink_dotdot(arena):
    refused(arena, make_tar(entry("pw", kind="link", link="../passwd")), "'..'")


def test_hardlink_through_symlink(arena):
    refused(arena, make_tar(entry("s", kind="sym", link=str(arena)),
                            entry("pw", kind="link", link="s/passwd")), "symlink 's'")


def test_hardlink_through_symlink_to_etc(arena):
    refused(arena, make_tar(entry("s", kind="sym", link="/etc"),
                            entry("pw", kind="link", link="s/passwd")), "symlink 's'")


def test_hardlink_to_missing_target(arena):
    refused(arena, make_tar(entry("pw", kind="link", link="etc/passwd")), "does not exist")


def test_hardlink_to_directory(arena):
    refused(arena, make_tar(entry("d/", kind="dir"), entry("h", kind="link", link="d")),
            "not a file or symlink")


def test_symlink_named_dot(arena):
    refused(arena, make_tar(GOOD_FIRST, entry(".", kind="sym", link=str(arena / "outside"))),
            "layer root")


def test_symlink_named_dot_slash(arena):
    refused(arena, make_tar(entry("./", kind="sym", link="/")), "layer root")


def test_file_named_dot(arena):
    refused(arena, make_tar(entry(".", data=b"x")), "layer root")


def test_empty_name(arena):
    refused(arena, make_tar(GOOD_FIRST, entry("", data=b"x")), "empty name")


def test_block_device(arena):
    refused(arena, make_tar(GOOD_FIRST, entry("sda", kind="blk", dev=(8, 0))),
            "device nodes are not allowed")


def test_char_device_not_whiteout(arena):
    refused(arena, make_tar(GOOD_FIRST, entry("null", kind="chr", dev=(1, 3))),
            "device nodes are not allowed")


def test_char_device_0_0_in_tar(arena):
    # overlay-style whiteouts must come as .wh. files, not as devices
    refused(arena, make_tar(entry("gone", kind="chr", dev=(0, 0))), "device nodes")


def test_whiteout_of_dotdot(arena):
    refused(arena, make_tar(GOOD_FIRST, entry("a/", kind="dir"), entry("a/.wh...")),
            "whiteout of '..'")


def test_whiteout_of_dot(arena):
    refused(arena, make_tar(entry(".wh..")), "whiteout of '.'")


def test_whiteout_with_dotdot_path(arena):
    refused(arena, make_tar(entry("../.wh.outside")), "'..'")


def test_whiteout_name_as_directory(arena):
    refused(arena, make_tar(entry(".wh.x/", kind="dir"), entry(".wh.x/y", data=b"y")),
            "whiteout name")


def test_file_below_a_file(arena):
    refused(arena, make_tar(entry("f", data=b"x"), entry("f/g", data=b"y")),
            "'f' is not a directory")


def test_truncated_tar(arena):
    data = make_tar(GOOD_FIRST, entry("big", data=b"z" * 5000))
    refused(arena, data[:512 * 3 + 1000], "")


def test_truncated_gzip(arena):
    compressed = gzip.compress(make_tar(GOOD_FIRST, entry("big", data=os.urandom(20000))))
    dest = arena / "layers" / "l1"
    before = snapshot(arena)
    with pytest.raises(PycontainError, match="corrupt or truncated"):
        stream = open_decompressed(io.BytesIO(compressed[:len(compressed) // 2]))
        unpack_layer(stream, str(dest), label="test")
    assert snapshot(arena) == before
    assert os.listdir(arena / "layers") == []


def test_garbage_gzip(arena):
    bad = b"\x1f\x8b\x08\x00" + b"\xff" * 200
    before = snapshot(arena)
    with pytest.raises(PycontainError, match="corrupt or truncated"):
        unpack_layer(open_decompressed(io.BytesIO(bad)), str(arena / "layers" / "l1"))
    assert snapshot(arena) == before


def test_diff_id_mismatch(arena):
    refused(arena, make_tar(GOOD_FIRST, entry("d/", kind="dir"), entry("d/f", data=b"x")),
            "does not match its diff_id", diff_id="sha256:" + "0" * 64)


def test_not_a_tar(arena):
    refused(arena, b"this is not a tar archive" * 40, "invalid tar stream")


def test_destination_exists(arena):
    (arena / "layers" / "l1").mkdir()
    with pytest.raises(PycontainError, match="already exists"):
        unpack_layer(io.BytesIO(make_tar(GOOD_FIRST)), str(arena / "layers" / "l1"))


# -- good layers ---------------------------------------------------------------

def unpack(tmp_path, *entries, **kwargs):
    tmp_path.mkdir(exist_ok=True)
    dest = tmp_path / "layer"
    data = make_tar(*entries)
    digest, size = unpack_layer(io.BytesIO(data), str(dest), **kwargs)
    assert digest == "sha256:" + hashlib.sha256(data).hexdigest()
    assert size == len(data)
    assert [n for n in os.listdir(tmp_path) if ".tmp-" in n] == []
    return dest


def test_files_dirs_modes_mtimes(tmp_path):
    dest = unpack(tmp_path,
                  entry("./", kind="dir", mode=0o755, mtime=MTIME + 1),
                  entry("bin/", kind="dir", mode=0o750, mtime=MTIME + 2),
                  entry("bin/tool", data=b"#!/bin/sh\n", mode=0o755, mtime=MTIME + 3),
                  entry("etc/shadow", data=b"secret", mode=0o600),
                  entry("ro/", kind="dir", mode=0o555),
                  entry("ro/file", data=b"r", mode=0o444),
                  entry("tmp/", kind="dir", mode=0o1777),
                  entry("deep/a/b/c/file", data=b"deep", mtime=MTIME + 5))
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o755
    assert os.stat(dest).st_mtime_ns == (MTIME + 1) * 10**9
    assert stat.S_IMODE(os.stat(dest / "bin").st_mode) == 0o750
    assert os.stat(dest / "bin").st_mtime_ns == (MTIME + 2) * 10**9  # set after its content
    assert (dest / "bin/tool").read_bytes() == b"#!/bin/sh\n"
    assert stat.S_IMODE(os.stat(dest / "bin/tool").st_mode) == 0o755
    assert os.stat(dest / "bin/tool").st_mtime_ns == (MTIME + 3) * 10**9
    assert stat.S_IMODE(os.stat(dest / "etc/shadow").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(dest / "etc").st_mode) == 0o755  # implicit parent
    assert stat.S_IMODE(os.stat(dest / "ro").st_mode) == 0o555
    assert (dest / "ro/file").read_bytes() == b"r"
    assert stat.S_IMODE(os.stat(dest / "tmp").st_mode) == 0o1777
    assert (dest / "deep/a/b/c/file").read_bytes() == b"deep"


def test_symlinks_kept_not_followed(tmp_path):
    dest = unpack(tmp_path,
                  entry("abs", kind="sym", link="/etc/passwd", mtime=MTIME + 7),
                  entry("rel", kind="sym", link="../../../x"),
                  entry("dir/", kind="dir"),
                  entry("dir/up", kind="sym", link=".."))
    assert os.readlink(dest / "abs") == "/etc/passwd"
    assert os.lstat(dest / "abs").st_mtime_ns == (MTIME + 7) * 10**9
    assert os.readlink(dest / "rel") == "../../../x"
    assert os.readlink(dest / "dir/up") == ".."


def test_hardlinks_share_inode(tmp_path):
    dest = unpack(tmp_path,
                  entry("usr/bin/a", data=b"same", mode=0o755),
                  entry("usr/bin/b", kind="link", link="usr/bin/a"),
                  entry("c", kind="link", link="./usr/bin/a"),
                  entry("s", kind="sym", link="/nowhere"),
                  entry("s2", kind="link", link="s"))
    a = os.stat(dest / "usr/bin/a")
    assert os.stat(dest / "usr/bin/b").st_ino == a.st_ino
    assert os.stat(dest / "c").st_ino == a.st_ino
    assert a.st_nlink == 3
    # a hardlink to a symlink links the symlink itself
    assert os.lstat(dest / "s2").st_ino == os.lstat(dest / "s").st_ino
    assert os.readlink(dest / "s2") == "/nowhere"


def test_user_xattrs_kept_trusted_dropped(tmp_path):
    dest = unpack(tmp_path,
                  entry("f", data=b"x", pax={"SCHILY.xattr.user.note": "hello",
                                             "SCHILY.xattr.trusted.overlay.redirect": "/etc"}),
                  entry("d/", kind="dir", pax={"SCHILY.xattr.user.d": "dir",
                                               "SCHILY.xattr.trusted.overlay.opaque": "y"}))
    assert os.getxattr(dest / "f", "user.note") == b"hello"
    assert os.getxattr(dest / "d", "user.d") == b"dir"
    for path in (dest / "f", dest / "d"):
        assert not [x for x in os.listxattr(path) if x.startswith("trusted.")]


def test_overlay_xattrs_dropped(tmp_path):
    """overlayfs reads its metadata from trusted.overlay.* (root mounts) and
    user.overlay.* (rootless 'userxattr' mounts): a layer forges neither."""
    forged = {"SCHILY.xattr.trusted.overlay.opaque": "y",
              "SCHILY.xattr.user.overlay.redirect": "/etc",
              "SCHILY.xattr.user.overlay.origin": "x",
              "SCHILY.xattr.user.overlay.opaque": "y",
              "SCHILY.xattr.user.foo": "bar"}
    dest = unpack(tmp_path, entry("f", data=b"x", pax=forged),
                  entry("d/", kind="dir", pax=forged))
    for path in (dest / "f", dest / "d"):
        assert os.listxattr(path) == ["user.foo"], path
        assert os.getxattr(path, "user.foo") == b"bar"


def test_later_entries_replace_earlier(tmp_path):
    dest = unpack(tmp_path,
                  entry("f", data=b"first"),
                  entry("f", data=b"second", mode=0o600),
                  entry("d/", kind="dir", mode=0o700),
                  entry("d/keep", data=b"k"),
                  entry("d/", kind="dir", mode=0o711, mtime=MTIME + 9),  # dir over dir
                  entry("x/", kind="dir"),
                  entry("x/inner", data=b"i"),
                  entry("x", kind="sym", link="f"),        # symlink over a directory
                  entry("y", kind="sym", link="nowhere"),
                  entry("y/", kind="dir"),                  # directory over a symlink
                  entry("y/z", data=b"z"))
    assert (dest / "f").read_bytes() == b"second"
    assert stat.S_IMODE(os.stat(dest / "f").st_mode) == 0o600
    assert (dest / "d/keep").read_bytes() == b"k"
    assert stat.S_IMODE(os.stat(dest / "d").st_mode) == 0o711
    assert os.stat(dest / "d").st_mtime_ns == (MTIME + 9) * 10**9
    assert os.readlink(dest / "x") == "f"
    assert os.path.isdir(dest / "y") and not os.path.islink(dest / "y")
    assert (dest / "y/z").read_bytes() == b"z"


def test_fifo_allowed(tmp_path):
    dest = unpack(tmp_path, entry("run/initctl", kind="fifo", mode=0o600))
    st = os.lstat(dest / "run/initctl")
    assert stat.S_ISFIFO(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600


def test_root_directory_entries(tmp_path):
    # umoci writes the layer root as '/'; others as '.' or './'
    for i, name in enumerate(["/", ".", "./"]):
        dest = unpack(tmp_path / str(i), entry(name, kind="dir", mode=0o711, mtime=MTIME + i),
                      entry("f", data=b"f"))
        assert stat.S_IMODE(os.stat(dest).st_mode) == 0o711
        assert os.stat(dest).st_mtime_ns == (MTIME + i) * 10**9
        assert os.listdir(dest) == ["f"]


def test_empty_layer(tmp_path):
    dest = unpack(tmp_path)
    assert os.listdir(dest) == []


def test_missing_end_of_archive_accepted(tmp_path):
    # umoci (and Go's archive/tar reader) produce/accept streams without the
    # final padding and zero blocks; the diff_id still covers them
    full = make_tar(entry("etc/", kind="dir"), entry("etc/hello", data=b"hi\n"))
    cut = full[:512 * 3 + 3]
    dest = tmp_path / "layer"
    digest, size = unpack_layer(io.BytesIO(cut), str(dest),
                                diff_id="sha256:" + hashlib.sha256(cut).hexdigest())
    assert (dest / "etc/hello").read_bytes() == b"hi\n"
    assert size == len(cut)


def test_gzip_and_plain_streams(tmp_path):
    data = make_tar(entry("a", data=b"A" * 100000))
    diff_id = "sha256:" + hashlib.sha256(data).hexdigest()
    for i, blob in enumerate([data, gzip.compress(data)]):
        dest = tmp_path / f"l{i}"
        unpack_layer(open_decompressed(io.BytesIO(blob)), str(dest), diff_id=diff_id)
        assert (dest / "a").read_bytes() == b"A" * 100000


def test_zstd_without_module_is_a_clear_error(monkeypatch):
    # zstandard is a dependency; this is the error a broken install would give
    monkeypatch.setitem(sys.modules, "zstandard", None)  # makes `import zstandard` fail
    with pytest.raises(PycontainError, match="zstandard"):
        open_decompressed(io.BytesIO(b"\x28\xb5\x2f\xfd" + b"\0" * 20), "layer x")


def test_zstd_stream(tmp_path):
    import zstandard
    data = make_tar(entry("a", data=b"Z" * 100000), entry("s", kind="sym", link="a"))
    blob = zstandard.ZstdCompressor().compress(data)
    dest = tmp_path / "l"
    unpack_layer(open_decompressed(io.BytesIO(blob)), str(dest),
                 diff_id="sha256:" + hashlib.sha256(data).hexdigest())
    assert (dest / "a").read_bytes() == b"Z" * 100000 and os.readlink(dest / "s") == "a"


def test_truncated_zstd(arena):
    import zstandard
    blob = zstandard.ZstdCompressor().compress(
        make_tar(GOOD_FIRST, entry("big", data=os.urandom(20000))))
    before = snapshot(arena)
    with pytest.raises(PycontainError, match="corrupt or truncated|invalid tar"):
        unpack_layer(open_decompressed(io.BytesIO(blob[:len(blob) // 2])),
                     str(arena / "layers" / "l1"), label="test")
    assert snapshot(arena) == before and os.listdir(arena / "layers") == []


def _removing_deep_leftovers(test):
    """Remove what a failing deep test leaves in its directory (pytest's own
    clean-up of old temporary directories, shutil.rmtree, recurses)."""
    import functools

    from pycontain.fsutil import remove_tree

    @functools.wraps(test)
    def run(**kwargs):
        directory = kwargs.get("arena") or kwargs["tmp_path"]
        try:
            test(**kwargs)
        finally:
            for dirpath in (directory, directory / "layers"):
                for name in os.listdir(dirpath) if dirpath.is_dir() else ():
                    if name != "layers":
                        remove_tree(str(dirpath / name))
    return run


@_removing_deep_leftovers
def test_name_longer_than_path_max(arena):
    refused(arena, make_tar(GOOD_FIRST, entry("a/" * 2100 + "f", data=b"x")),
            "longer than 4096 bytes")


@_removing_deep_leftovers
def test_deep_directory_replaced_by_a_file(tmp_path):
    """Deeper than Python's recursion limit: the directory a later entry
    replaces is removed without recursion, and the directories' metadata is
    set walking from one to the next (not from the root each time)."""
    depth = 1200
    dirs = [entry("d/" * i, kind="dir", mode=0o750, mtime=MTIME + i) for i in range(1, depth + 1)]
    dest = unpack(tmp_path, *dirs, entry("d/" * depth + "f", data=b"f"),
                  entry("e/" * depth + "f", data=b"f"), entry("e", data=b"now a file"))
    assert (dest / "e").read_bytes() == b"now a file"
    fd = os.open(dest, os.O_RDONLY | os.O_DIRECTORY)
    for i in range(1, depth + 1):
        sub = os.open("d", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
        os.close(fd)
        fd = sub
        st = os.fstat(fd)
        assert (stat.S_IMODE(st.st_mode), st.st_mtime_ns) == (0o750, (MTIME + i) * 10**9)
    assert os.listdir(fd) == ["f"]
    os.close(fd)
