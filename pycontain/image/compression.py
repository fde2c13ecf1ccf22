"""Open a layer blob as its uncompressed tar stream: gzip, zstd or plain.

The format is sniffed from the first bytes rather than trusted from the
media type (archives in the wild label plain tars as gzip and back).
zstd is read with 'zstandard', a dependency of pycontain imported only when a
zstd blob is met; a broken install without it gets a clear error, not a traceback.
"""
import gzip

from pycontain.errors import PycontainError

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def sniff(head: bytes) -> str:
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return "none"


def open_decompressed(fileobj, label: str = "layer"):
    """Return a readable binary stream of fileobj's uncompressed content.
    fileobj must be seekable and positioned at the start of the blob."""
    start = fileobj.tell()
    kind = sniff(fileobj.read(4))
    fileobj.seek(start)
    if kind == "gzip":
        return gzip.GzipFile(fileobj=fileobj, mode="rb")
    if kind == "zstd":
        try:
            import zstandard
        except ImportError:
            raise PycontainError(
                f"{label}: layer is zstd-compressed and the Python module 'zstandard' "
                "is not installed (pip install zstandard)") from None
        return zstandard.ZstdDecompressor().stream_reader(fileobj, read_across_frames=True)
    return fileobj
