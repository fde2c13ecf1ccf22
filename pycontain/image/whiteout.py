"""OCI whiteouts and their overlayfs form, defined once.

In a layer tar, '.wh.NAME' deletes NAME of the layers below and
'.wh..wh..opq' makes its directory opaque; '.wh..wh.*' names are aufs
metadata. In an unpacked layer (the store format) and an overlay upper
directory, a whiteout is a 0/0 character device and an opaque directory
carries the overlay 'opaque' xattr: trusted.overlay.opaque as root,
user.overlay.opaque for rootless mounts with 'userxattr'.
"""
import os
import stat

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
AUFS_META_PREFIX = ".wh..wh."
ROOT_OPAQUE_XATTR = "trusted.overlay.opaque"


def overlay_xattr_prefix() -> str:
    return "trusted.overlay." if os.geteuid() == 0 else "user.overlay."


def is_whiteout(st: os.stat_result) -> bool:
    """Whether st (an lstat) is an overlay whiteout: a 0/0 character device."""
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def is_opaque(path: str, xattr: str) -> bool:
    """Whether the directory path carries the overlay opaque xattr `xattr`."""
    try:
        return os.getxattr(path, xattr, follow_symlinks=False) == b"y"
    except OSError:
        return False


def set_opaque_at(parent_fd: int, name: str, xattr: str) -> None:
    """Mark the directory name (below parent_fd, not followed) opaque."""
    fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                 dir_fd=parent_fd)
    try:
        os.setxattr(fd, xattr, b"y")
    finally:
        os.close(fd)
