"""tarfile, bounded, for every tar pycontain reads from others: layers,
`import` tarballs, `load` archives and ADD's archives.

Left alone, tarfile reads a GNU long name/link or PAX extended header whole
into memory and follows a chain of them by recursion, writes every hole of a
sparse member as zeros, and keeps every member it read in TarFile.members.
The TarFile of open_stream()/open_file()/open_archive() refuses, before
reading them, an extended header over MAX_HEADER bytes, more than
MAX_HEADER_CHAIN of them in a row, more than MAX_HEADERS_TOTAL bytes of them
in one tar, and sparse members of every format; it refuses more than
MAX_MEMBERS members, more than MAX_LAYER_BYTES of file data (archives read
in place excepted), and members whose size, mtime, owner or PAX keys the
system cannot take (a negative size, a non-finite or out-of-range mtime,
uid/gid outside 0..2**32-2, a NUL in a key). Only an archive read by name
(open_archive) keeps its members. Refusals are Refused('member NAME: why'),
a tarfile.TarError.
"""
import tarfile

MAX_HEADER = 1 << 20           # bytes of one extended header, as Go's archive/tar (docker's)
MAX_HEADER_CHAIN = 8           # extended headers before one member (GNU tar writes 2, +1 global)
MAX_HEADERS_TOTAL = 256 << 20  # extended-header bytes in one tar: ~256 per member at the limit
MAX_MEMBERS = 1_000_000        # members of one tar: big real layers have a few hundred thousand
MAX_LAYER_BYTES = 64 << 30     # file data of one layer or tarball: big real ones are 10-20 GB
MAX_ID = 2**32 - 2             # uid/gid: 2**32-1 is chown's "unchanged"
MAX_MTIME = 2**63 // 10**9     # |seconds| whose nanoseconds fit 64 bits: years 1678 to 2262
_SHOWN = 128                   # characters of a refused member's name in the message


class Refused(tarfile.TarError):
    """A member or header refused; str() is "member 'NAME': why"."""

    def __init__(self, name: str, why: str):
        self.name = name if len(name) <= _SHOWN else name[:_SHOWN] + "..."
        self.why = why
        super().__init__(f"member {self.name!r}: {why}")


_SPARSE = "sparse files are not supported"


class _Info(tarfile.TarInfo):
    """Refuses oversized or chained extended headers and sparse members
    before tarfile reads them."""

    def _proc_gnulong(self, tar):
        return _extended(self, tar, super()._proc_gnulong)

    def _proc_pax(self, tar):
        return _extended(self, tar, super()._proc_pax)

    def _proc_sparse(self, tar):  # GNU 'S' members, before their extension blocks
        raise Refused(self.name, _SPARSE)

    def _proc_gnusparse_00(self, next, pax_headers, *_):  # PAX sparse 0.0, 0.1, 1.0
        raise Refused(pax_headers.get("GNU.sparse.name") or pax_headers.get("path")
                      or next.name, _SPARSE)

    _proc_gnusparse_01 = _proc_gnusparse_10 = _proc_gnusparse_00


def _extended(info, tar, proc):
    if not 0 <= info.size <= MAX_HEADER:
        raise Refused(info.name, f"extended header of {info.size} bytes "
                                 f"(at most {MAX_HEADER})")
    tar.header_bytes += info.size
    if tar.header_bytes > MAX_HEADERS_TOTAL:
        raise Refused(info.name, f"more than {MAX_HEADERS_TOTAL} bytes of extended headers")
    if tar.header_depth >= MAX_HEADER_CHAIN:
        raise Refused(info.name, f"more than {MAX_HEADER_CHAIN} extended headers in a row")
    tar.header_depth += 1
    try:
        return proc(tar)
    finally:
        tar.header_depth -= 1


class _Reader(tarfile.TarFile):
    """A TarFile counting and checking each member as it reads it."""

    tarinfo = _Info
    keep = False    # keep members in .members (for access by name)
    bounded = True  # file data up to MAX_LAYER_BYTES (what is written out)

    def __init__(self, *args, **kwargs):
        self.count = self.data_bytes = self.header_bytes = self.header_depth = 0
        super().__init__(*args, **kwargs)  # reads the first member

    def next(self):
        fresh = self.firstmember is None  # else tarfile returns the member it read first again
        member = super().next()
        if member is None or not fresh:
            return member
        if not self.keep:
            self.members.clear()
        self.count += 1
        if self.count > MAX_MEMBERS:
            raise Refused(member.name, f"more than {MAX_MEMBERS} members in the archive")
        check_member(member)
        if member.isreg() and self.bounded:
            self.data_bytes += member.size
            if self.data_bytes > MAX_LAYER_BYTES:
                raise Refused(member.name, f"more than {MAX_LAYER_BYTES} bytes of files "
                                           "in the archive")
        return member


class _Archive(_Reader):
    keep = True
    bounded = False  # read in place: nothing is written


def check_member(member) -> None:
    """Refuse what the system cannot represent (tarfile parses it as given)."""
    if member.size < 0:
        raise Refused(member.name, f"negative size {member.size}")
    if not -MAX_MTIME <= member.mtime <= MAX_MTIME:  # NaN compares false
        raise Refused(member.name, f"mtime {member.mtime} out of range")
    for what, value in (("uid", member.uid), ("gid", member.gid)):
        if not 0 <= value <= MAX_ID:
            raise Refused(member.name, f"{what} {value} out of range (0 to {MAX_ID})")
    for key in member.pax_headers:
        if "\0" in key:
            raise Refused(member.name, f"PAX header name {key!r} contains a NUL byte")


def open_stream(fileobj) -> tarfile.TarFile:
    """A tar read from the stream fileobj, front to back (mode 'r|')."""
    return _Reader.open(fileobj=fileobj, mode="r|")


def open_file(path: str) -> tarfile.TarFile:
    """The tar file at path, plain or compressed as tarfile detects (mode 'r:*')."""
    return _Reader.open(path, "r:*")


def open_archive(path: str) -> tarfile.TarFile:
    """The uncompressed tar file at path, its members kept for access by name."""
    return _Archive.open(path, "r:")
