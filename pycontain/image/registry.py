"""The OCI Distribution API v2, read side: manifests and blobs of one repository.

Every manifest is checked against the digest it was asked by, or, asked by
tag, against the registry's Docker-Content-Digest header when one is sent;
small blobs (configs) are checked against their descriptor's digest and size
here; layer blobs are streamed to the pull's work area, which hashes, checks
and keeps them (staging.PullArea.fetch_blob).
"""
import hashlib

from pycontain import jsonio
from pycontain.errors import PycontainError
from pycontain.image import manifest as mf
from pycontain.image.transport import Session, printable
from pycontain.record import Record

ACCEPT = ", ".join((mf.OCI_INDEX, mf.OCI_MANIFEST, mf.DOCKER_LIST, mf.DOCKER_MANIFEST))
SCHEMA1 = ("application/vnd.docker.distribution.manifest.v1+json",
           "application/vnd.docker.distribution.manifest.v1+prettyjws")


class Fetched(Record):
    """A verified manifest or index as the registry sent it."""

    FIELDS = {"digest": "", "data": b"", "doc": None, "media_type": ""}
    __slots__ = tuple(FIELDS)

    @property
    def kind(self) -> str:
        return mf.kind_of(self.doc, self.media_type)


class Repository:
    def __init__(self, ref, *, tls_verify: bool = True, credentials=None, token_realms=()):
        self.ref = ref
        self.session = Session(ref.domain, tls_verify=tls_verify, credentials=credentials,
                               token_realms=token_realms)
        self.scope = f"repository:{ref.path}:pull"

    def _get(self, path: str, headers=None, follow_redirects: bool = False):
        return self.session.request("GET", f"/v2/{self.ref.path}/{path}", scope=self.scope,
                                    headers=headers, follow_redirects=follow_redirects)

    def check(self) -> None:
        """GET /v2/ with authentication: raises unless the registry accepts us."""
        resp = self.session.request("GET", "/v2/", scope="")
        self.session.discard(resp)
        if resp.status != 200:
            raise PycontainError(f"registry {self.ref.domain}: /v2/ answered HTTP {resp.status}")

    def manifest(self, reference: str, expected: str | None = None) -> Fetched:
        """The manifest or index for a tag or digest."""
        resp = self._get(f"manifests/{reference}", {"Accept": ACCEPT})
        if resp.status != 200:
            raise self._http_error(resp.status, f"manifest {reference}",
                                   self.session.discard(resp))
        data = self.session.read_body(resp, mf.MAX_MANIFEST_SIZE)
        if len(data) > mf.MAX_MANIFEST_SIZE:
            raise PycontainError(f"{self._where()}: manifest {reference} is too large")
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        what = f"{self._where()}: manifest {reference}"
        if expected is not None and digest != expected:
            raise PycontainError(f"{what} does not match its digest (got {digest})")
        header = resp.getheader("Docker-Content-Digest")
        if expected is None and header and header.startswith("sha256:") and header != digest:
            raise PycontainError(f"{what} does not match the Docker-Content-Digest "
                                 f"header {header} (got {digest})")
        media_type = (resp.getheader("Content-Type") or "").split(";")[0].strip()
        doc = mf.load_json(data, what)
        if media_type in SCHEMA1 or doc.get("schemaVersion") == 1:
            raise PycontainError(f"{what}: Docker schema 1 manifests are not supported")
        return Fetched(digest=digest, data=data, doc=doc,
                       media_type=mf.media_type_of(doc, what) or media_type)

    def open_blob(self, desc):
        """The raw blob body as a closeable stream (unverified: the reader
        verifies). The one request whose redirects are followed."""
        resp = self._get(f"blobs/{desc.digest}", follow_redirects=True)
        if resp.status != 200:
            raise self._http_error(resp.status, f"blob {desc.digest}",
                                   self.session.discard(resp))
        return _Body(resp, self.session)

    def read_blob(self, desc, limit: int) -> bytes:
        """A small blob (config), checked against desc."""
        if desc.size > limit:
            raise PycontainError(f"{self._where()}: blob {desc.digest} is too large "
                                 f"({desc.size} bytes)")
        with self.open_blob(desc) as body:
            data = body.read(desc.size + 1)
        got = "sha256:" + hashlib.sha256(data).hexdigest()
        if len(data) != desc.size or got != desc.digest:
            raise PycontainError(f"{self._where()}: blob {desc.digest} does not match its "
                                 f"digest and size (got {got}, {len(data)} bytes)")
        return data

    def _where(self) -> str:
        return f"registry {self.ref.domain} repository {self.ref.path}"

    def _http_error(self, status: int, what: str, body: bytes) -> PycontainError:
        if status == 404:
            return PycontainError(f"{self._where()}: {what} not found")
        detail = ""
        try:
            errors = jsonio.parse(body, "the error").get("errors") or []
            detail = "; ".join(str(e.get("message") or e.get("code")) for e in errors)
        except (PycontainError, AttributeError, TypeError):
            pass
        return PycontainError(f"{self._where()}: {what}: HTTP {status}"
                              + (f" ({printable(detail)})" if detail else ""))


class _Body:
    """A blob response; closing it early closes its connection too."""

    def __init__(self, resp, session):
        self._resp = resp
        self._session = session

    def read(self, n=-1):
        return self._resp.read(n)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._session.release(self._resp)
