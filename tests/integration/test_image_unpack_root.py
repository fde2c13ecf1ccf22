"""Layer unpacking as root: owners, setuid, file capabilities, whiteouts
as overlayfs wants them, and a real overlay mount of unpacked layers."""
import io
import os
import shutil
import stat
import struct
import subprocess
import tarfile

import pytest

from pycontain.errors import PycontainError
from pycontain.image.unpack import unpack_layer

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]

MTIME = 1_500_000_000
OPAQUE = "trusted.overlay.opaque"
# VFS_CAP_REVISION_2 | effective, permitted = CAP_NET_RAW (13)
CAP_NET_RAW = struct.pack("<IIIII", 0x02000001, 1 << 13, 0, 0, 0)


def entry(name, kind="file", data=b"", link="", mode=None, uid=0, gid=0, pax=None,
          mtime=MTIME):
    info = tarfile.TarInfo(name)
    info.type = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "sym": tarfile.SYMTYPE,
                 "link": tarfile.LNKTYPE}[kind]
    info.mode = mode if mode is not None else (0o755 if kind == "dir" else 0o644)
    info.uid, info.gid, info.mtime, info.linkname = uid, gid, mtime, link
    if pax:
        info.pax_headers = dict(pax)
    if kind == "file":
        info.size = len(data)
    return info, data


def layer(dest, *entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    buf.seek(0)
    unpack_layer(buf, str(dest), label="test")
    return dest


def is_whiteout(path):
    st = os.lstat(path)
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def test_owners_and_special_modes(tmp_path):
    dest = layer(tmp_path / "l",
                 entry("home/", kind="dir", uid=1000, gid=1000, mode=0o750),
                 entry("home/f", data=b"x", uid=1000, gid=1001, mode=0o640),
                 entry("bin/su", data=b"elf", uid=0, gid=0, mode=0o4755),
                 entry("bin/mine", data=b"elf", uid=1234, gid=1234, mode=0o4755),
                 entry("bin/wall", data=b"elf", uid=0, gid=5, mode=0o2755),
                 entry("shared/", kind="dir", uid=0, gid=100, mode=0o3775),
                 entry("tmp/", kind="dir", mode=0o1777),
                 entry("ln", kind="sym", link="home/f", uid=1000, gid=1002))
    st = os.stat(dest / "home")
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1000, 1000, 0o750)
    st = os.stat(dest / "home/f")
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1000, 1001, 0o640)
    assert stat.S_IMODE(os.stat(dest / "bin/su").st_mode) == 0o4755
    st = os.stat(dest / "bin/mine")  # setuid survives the chown to a non-root owner
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (1234, 0o4755)
    st = os.stat(dest / "bin/wall")
    assert (st.st_gid, stat.S_IMODE(st.st_mode)) == (5, 0o2755)
    assert stat.S_IMODE(os.stat(dest / "shared").st_mode) == 0o3775
    assert stat.S_IMODE(os.stat(dest / "tmp").st_mode) == 0o1777
    st = os.lstat(dest / "ln")
    assert (st.st_uid, st.st_gid) == (1000, 1002)
    assert st.st_mtime == MTIME


def test_file_capability_survives_chown(tmp_path):
    dest = layer(tmp_path / "l",
                 entry("bin/ping", data=b"elf", uid=0, gid=0, mode=0o755,
                       pax={"SCHILY.xattr.security.capability":
                            CAP_NET_RAW.decode("utf-8", "surrogateescape")}))
    assert os.getxattr(dest / "bin/ping", "security.capability") == CAP_NET_RAW


def test_whiteouts_and_opaque_dirs(tmp_path):
    dest = layer(tmp_path / "l",
                 entry("etc/", kind="dir"),
                 entry("etc/.wh.hello"),
                 entry(".wh.toplevel"),
                 entry("d/", kind="dir", mtime=MTIME + 3),
                 entry("d/.wh..wh..opq"),
                 entry("d/new", data=b"n"),
                 entry("implicit/.wh..wh..opq"),
                 entry("x/.wh..wh.plnk"),                 # aufs metadata: ignored
                 entry("same/", kind="dir"),
                 entry(".wh.same"),                       # whiteout of a dir of this layer
                 entry(".wh.later"),
                 entry("later/", kind="dir"),             # dir after its own whiteout
                 entry("later/x", data=b"x"),
                 entry(".wh.implied"),
                 entry("implied/sub/x", data=b"x"),        # content below a whiteout
                 entry("file", data=b"f"),
                 entry(".wh.file"))                       # file of this layer stays
    assert is_whiteout(dest / "etc/hello")
    assert is_whiteout(dest / "toplevel")
    assert not any(n.startswith(".wh.") for _, dirs, files in os.walk(dest)
                   for n in dirs + files)
    assert os.getxattr(dest / "d", OPAQUE) == b"y"
    assert (dest / "d/new").read_bytes() == b"n"
    assert os.stat(dest / "d").st_mtime == MTIME + 3
    assert os.getxattr(dest / "implicit", OPAQUE) == b"y"
    assert os.listdir(dest / "x") == []
    assert os.getxattr(dest / "same", OPAQUE) == b"y"
    assert os.getxattr(dest / "later", OPAQUE) == b"y"
    assert (dest / "later/x").read_bytes() == b"x"
    assert (dest / "file").read_bytes() == b"f"
    assert os.getxattr(dest / "implied", OPAQUE) == b"y"
    assert (dest / "implied/sub/x").read_bytes() == b"x"
    with pytest.raises(OSError):
        os.getxattr(dest / "etc", OPAQUE)


def test_overlay_mount_of_two_layers(tmp_path):
    if not shutil.which("unshare"):
        pytest.skip("unshare(1) missing")
    lower = layer(tmp_path / "lower",
                  entry("etc/hello", data=b"hello"),
                  entry("etc/keep", data=b"keep"),
                  entry("d/f", data=b"f"),
                  entry("d/g", data=b"g"),
                  entry("gone/sub/file", data=b"x"))
    upper = layer(tmp_path / "upper",
                  entry("etc/.wh.hello"),
                  entry("d/", kind="dir"),
                  entry("d/.wh..wh..opq"),
                  entry("d/new", data=b"new"),
                  entry(".wh.gone"))
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    script = (f"mount -t overlay overlay -o lowerdir={upper}:{lower} {mnt} && "
              f"ls -A {mnt}; echo ---; ls -A {mnt}/etc; echo ---; ls -A {mnt}/d; "
              f"echo ---; cat {mnt}/d/new")
    out = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    top, etc, d, new = out.stdout.split("---\n")
    assert top.split() == ["d", "etc"]
    assert etc.split() == ["keep"]
    assert d.split() == ["new"]
    assert new == "new"
    assert not os.path.ismount(mnt)  # the mount stayed in the private namespace
    assert os.listdir(mnt) == []


def test_refusal_as_root_leaves_nothing(tmp_path):
    (tmp_path / "layers").mkdir()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for info, data in [entry("ok/", kind="dir", mode=0o500),
                           entry("ok/f", data=b"x", mode=0o400),
                           entry("ok/ln", kind="sym", link="/etc"),
                           entry("ok/ln/passwd", data=b"pwned")]:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    before = os.stat("/etc/passwd")
    buf.seek(0)
    with pytest.raises(PycontainError, match="symlink 'ok/ln'"):
        unpack_layer(buf, str(tmp_path / "layers" / "l"), label="test")
    assert os.listdir(tmp_path / "layers") == []
    assert os.stat("/etc/passwd") == before
