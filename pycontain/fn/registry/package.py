"""Unpack a function's zip file safely, with the image layer unpacker.

A zip is hostile input, like an image layer: each entry is turned into a tar
member and created by pycontain.image.unpack's unpacker, which resolves every
parent one component at a time relative to a directory fd (O_NOFOLLOW), so
nothing is ever written outside the code directory. Refused here first:
absolute names, '..' components, backslashes, symlinks and other special
files, duplicate names, and more than Lambda's 250 MB unzipped. Files come out
root-owned and world-readable (0644, or 0755 if executable in the zip), so
the jail's unprivileged user can read them.
"""
import lzma
import os
import secrets
import stat
import tarfile
import time
import zipfile
import zlib

from pycontain.errors import PycontainError, disk_refused
from pycontain.fsutil import remove_tree
from pycontain.image.unpack import _Unpacker

MAX_UNZIPPED = 250 * 1024 * 1024
MAX_ENTRIES = 100_000

# what zipfile raises for a corrupt, encrypted or unsupported zip (OSError: bz2's
# bad data, a seek to a bad offset)
_BAD_ZIP = (zipfile.BadZipFile, EOFError, ValueError, NotImplementedError, RuntimeError,
            zlib.error, lzma.LZMAError, OSError)


def _refuse(zip_path: str, name: str, why: str) -> PycontainError:
    return PycontainError(f"InvalidParameterValueException: {zip_path}: entry {name!r}: {why}")


def _corrupt(zip_path: str, exc: Exception) -> PycontainError:
    return PycontainError(f"InvalidParameterValueException: {zip_path}: corrupt zip file "
                          f"({exc})")


def _invalid(zip_path: str, exc: PycontainError) -> PycontainError:
    """The unpacker's refusal of an entry ('layer <label>: member ...') as the
    zip's fault, unless the disk refused a write."""
    text = str(exc)
    if text.startswith("InvalidParameterValueException: ") or disk_refused(exc.__context__):
        return exc
    text = text.removeprefix(f"layer {os.path.basename(zip_path)}: ")
    return PycontainError(f"InvalidParameterValueException: {zip_path}: {text}")


def _member(zip_path: str, info: zipfile.ZipInfo) -> tarfile.TarInfo:
    """The tar member an entry becomes, after the checks the unpacker cannot do."""
    name = info.filename
    kind = stat.S_IFMT(info.external_attr >> 16)
    if not name:
        raise _refuse(zip_path, name, "empty name")
    if "\\" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise _refuse(zip_path, name, "absolute or Windows-style path")
    if ".." in name.split("/"):
        raise _refuse(zip_path, name, "path has a '..' component")
    if any(part.startswith(".wh.") for part in name.split("/")):
        raise _refuse(zip_path, name, "names starting with '.wh.' are reserved")
    if kind == stat.S_IFLNK:
        raise _refuse(zip_path, name, "symbolic links are not allowed")
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise _refuse(zip_path, name, "only regular files and directories are allowed")
    if info.flag_bits & 0x1:
        raise _refuse(zip_path, name, "encrypted entries are not supported")
    member = tarfile.TarInfo(name.rstrip("/") or ".")
    member.mtime = time.mktime(info.date_time + (0, 0, -1))
    if info.is_dir():
        member.type, member.mode = tarfile.DIRTYPE, 0o755
    else:
        member.type, member.size = tarfile.REGTYPE, info.file_size
        member.mode = 0o755 if (info.external_attr >> 16) & 0o111 else 0o644
    return member


class _ZipSource:
    """What the unpacker calls `tar`: hands out an entry's content, whose
    decompression errors become the zip's refusal (not the unpacker's)."""

    def __init__(self, archive: zipfile.ZipFile, zip_path: str):
        self.archive, self.zip_path = archive, zip_path
        self.current = self.stream = None
        self.left = 0

    def extractfile(self, _member):
        self.stream = self._zips(self.archive.open, self.current)
        self.left = self.current.file_size
        return self

    def read(self, n: int = -1) -> bytes:
        data = self._zips(self.stream.read, n)
        self.left -= len(data)
        if not data and n and self.left > 0:
            raise _refuse(self.zip_path, self.current.filename, "shorter than its size")
        return data

    def _zips(self, call, arg):
        try:
            return call(arg)
        except _BAD_ZIP as exc:
            raise _corrupt(self.zip_path, exc) from None


def _check_sizes(zip_path: str, infos: list) -> None:
    if len(infos) > MAX_ENTRIES:
        raise PycontainError(f"InvalidParameterValueException: {zip_path}: more than "
                             f"{MAX_ENTRIES} entries")
    if sum(i.file_size for i in infos) > MAX_UNZIPPED:
        raise PycontainError(f"InvalidParameterValueException: {zip_path}: unzipped size must "
                             f"be smaller than {MAX_UNZIPPED} bytes")
    seen = set()
    for info in infos:
        key = info.filename.rstrip("/")
        if key in seen:
            raise _refuse(zip_path, info.filename, "duplicate name")
        seen.add(key)


def unpack_zip(zip_path: str, dest: str) -> int:
    """Extract zip_path into the new directory dest; returns the unzipped size.
    On any error nothing is left at dest (or in its temporary directory)."""
    try:
        archive = zipfile.ZipFile(zip_path)
    except _BAD_ZIP as exc:  # a name not UTF-8 is a ValueError
        why = (exc.strerror if isinstance(exc, OSError) else None) or str(exc)
        raise PycontainError(f"InvalidParameterValueException: cannot read zip file "
                             f"{zip_path}: {why}") from None
    tmp = f"{dest}.tmp-{secrets.token_hex(6)}"
    os.mkdir(tmp, 0o700)
    try:
        with archive:
            infos = archive.infolist()
            _check_sizes(zip_path, infos)
            root_fd = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
            unpacker = _Unpacker(root_fd, os.path.basename(zip_path))
            source = _ZipSource(archive, zip_path)
            try:
                os.chmod(root_fd, 0o755)
                for info in infos:
                    source.current = info
                    unpacker._member(_member(zip_path, info), source)
                unpacker._finish_directories()
            except (zipfile.BadZipFile, EOFError, ValueError, NotImplementedError) as exc:
                raise _corrupt(zip_path, exc) from None
            except PycontainError as exc:
                raise _invalid(zip_path, exc) from None
            finally:
                unpacker._drop_cache()
                os.close(root_fd)
        os.rename(tmp, dest)
    except BaseException:
        remove_tree(tmp)
        raise
    return sum(i.file_size for i in infos)
