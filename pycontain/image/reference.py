"""Image references, normalised the way docker's distribution/reference does.

    busybox                  -> docker.io/library/busybox:latest
    user/app                 -> docker.io/user/app:latest
    host:5000/ns/name:tag    -> host:5000/ns/name:tag
    localhost/name           -> localhost/name:latest
    name@sha256:<64 hex>     -> docker.io/library/name@sha256:<64 hex>  (no tag)

The first path component is a registry domain when it contains '.' or ':',
is 'localhost', or has an upper-case letter; otherwise the name lives on
docker.io, and a one-component name there is put under 'library/'.
Repository path components are lower-case only. Every malformed reference
raises PycontainError("invalid reference format: ...") (exit code 125).
"""
import re

from pycontain.errors import PycontainError

DEFAULT_DOMAIN = "docker.io"
LEGACY_DOMAINS = ("index.docker.io", "registry-1.docker.io")
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_MAX = 255

_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*\Z")
_DOMAIN = re.compile(
    r"(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
    r"(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*"
    r"|\[[a-fA-F0-9:]+\])"
    r"(?::[0-9]+)?\Z")
_TAG = re.compile(r"[\w][\w.-]{0,127}\Z", re.ASCII)
_DIGEST = re.compile(r"sha256:[a-f0-9]{64}\Z")
_ANY_DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}\Z")
_HEX64 = re.compile(r"[a-f0-9]{64}\Z")


class Reference:
    """A parsed, normalised image reference.

    domain: registry host ('docker.io', 'localhost', 'host:5000')
    path:   repository path inside it ('library/busybox', 'ns/name')
    tag:    the tag, or None when the reference names only a digest
    digest: 'sha256:<hex>' or None
    qualified: True when the text named its domain explicitly (so a short
               name like 'busybox' may also be looked up as localhost/busybox)
    """

    __slots__ = ("domain", "path", "tag", "digest", "qualified")

    def __init__(self, domain, path, tag=None, digest=None, qualified=True):
        self.domain = domain
        self.path = path
        self.tag = tag
        self.digest = digest
        self.qualified = qualified

    def _key(self):
        return (self.domain, self.path, self.tag, self.digest)

    def __eq__(self, other):
        return isinstance(other, Reference) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        return (f"Reference(domain={self.domain!r}, path={self.path!r}, "
                f"tag={self.tag!r}, digest={self.digest!r})")

    def __str__(self):
        return self.full

    @property
    def repository(self) -> str:
        """'docker.io/library/busybox': domain and path, no tag or digest."""
        return f"{self.domain}/{self.path}"

    @property
    def full(self) -> str:
        """'docker.io/library/busybox:latest' (and/or '@sha256:...')."""
        return self.repository + _suffix(self.tag, self.digest)

    @property
    def short(self) -> str:
        """The repository as docker displays it: 'busybox', 'user/app',
        'localhost/name', 'host:5000/ns/name' (no tag)."""
        if self.domain == DEFAULT_DOMAIN:
            if self.path.startswith(OFFICIAL_PREFIX):
                return self.path[len(OFFICIAL_PREFIX):]
            return self.path
        return self.repository

    @property
    def familiar(self) -> str:
        """short plus tag/digest: 'busybox:latest', 'localhost/x:v1'."""
        return self.short + _suffix(self.tag, self.digest)

    def with_tag(self, tag: str) -> "Reference":
        if not _TAG.match(tag):
            raise PycontainError(f"invalid reference format: invalid tag {tag!r}")
        return Reference(self.domain, self.path, tag, None, self.qualified)


def _suffix(tag, digest) -> str:
    return (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


def _invalid(ref: str, why: str) -> PycontainError:
    return PycontainError(f"invalid reference format: {ref!r}: {why}")


def split_domain(name: str):
    """(domain, remainder, qualified) for a name without tag or digest."""
    first, sep, rest = name.partition("/")
    if not sep or ("." not in first and ":" not in first
                   and first != "localhost" and first == first.lower()):
        domain, remainder, qualified = DEFAULT_DOMAIN, name, False
    else:
        domain, remainder, qualified = first, rest, True
    if domain in LEGACY_DOMAINS:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = OFFICIAL_PREFIX + remainder
    return domain, remainder, qualified


def parse(ref: str, default_tag: str | None = DEFAULT_TAG) -> Reference:
    """Parse and normalise ref. A reference with neither tag nor digest gets
    default_tag (pass default_tag=None to leave tag None and see whether
    the text had one)."""
    if not isinstance(ref, str) or not ref:
        raise _invalid(ref, "empty reference")
    if len(ref) > 4096 or not ref.isprintable() or any(c.isspace() for c in ref):
        raise _invalid(ref, "contains spaces or control characters")
    if _HEX64.match(ref):
        raise _invalid(ref, "a 64-character hexadecimal string is an image id, "
                            "not a repository name")

    name, at, digest = ref.partition("@")
    if at:
        if not _ANY_DIGEST.match(digest):
            raise _invalid(ref, f"invalid digest {digest!r}")
        if not _DIGEST.match(digest):
            raise _invalid(ref, f"unsupported digest {digest!r} "
                                "(only sha256 with 64 lower-case hex digits)")
    else:
        digest = None

    tag = None
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1:]
        if not _TAG.match(tag):
            raise _invalid(ref, f"invalid tag {tag!r}")

    if not name:
        raise _invalid(ref, "empty repository name")
    domain, path, qualified = split_domain(name)
    if not _DOMAIN.match(domain):
        raise _invalid(ref, f"invalid registry domain {domain!r}")
    for component in path.split("/"):
        if not _PATH_COMPONENT.match(component):
            if component.lower() != component and _PATH_COMPONENT.match(component.lower()):
                raise _invalid(ref, "repository name must be lowercase")
            raise _invalid(ref, f"invalid repository path component {component!r}")
    if len(domain) + 1 + len(path) > NAME_MAX:
        raise _invalid(ref, f"repository name longer than {NAME_MAX} characters")

    if tag is None and digest is None:
        tag = default_tag
    return Reference(domain, path, tag, digest, qualified)


def names_a_registry(ref: str) -> bool:
    """Whether ref's first path component looks like a registry host worth
    contacting: it has a dot or a port ('quay.io', 'host:5000',
    'localhost:5000'). 'localhost/x' is a local name and a typo such as
    'localhost/busybx' never makes a connection."""
    parsed = parse(ref)
    return parsed.qualified and ("." in parsed.domain or ":" in parsed.domain)


def is_valid_tag(tag: str) -> bool:
    return bool(_TAG.match(tag))
