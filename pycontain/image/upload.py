"""The OCI Distribution API v2, write side: blobs and manifests into one
repository (pull's Repository and Session underneath: the same TLS,
credentials, token and redirect rules).

A blob the repository has (HEAD answers 200) is not sent again. One that
another repository of the same registry has is mounted (POST
?mount=DIGEST&from=REPO); a registry that cannot mount it answers 202 and
the upload goes on in the session it opened. An upload is monolithic (POST,
then one PUT with the whole blob) or, with a chunk size smaller than the
blob, chunked (PATCH with Content-Range per chunk, each acknowledged with
the Range the registry holds, then an empty PUT ?digest=). Each Location
the registry answers with is followed only to the registry itself, and every
acknowledgement is checked: a Range that is not what was sent, or a
Docker-Content-Digest that is not the blob's or manifest's, is an error.
"""
import os
import re
import threading
import urllib.parse

from pycontain.errors import PycontainError
from pycontain.image.registry import Repository
from pycontain.image.transport import printable

OCTET = "application/octet-stream"
MAX_MIN_CHUNK = 1 << 30     # an OCI-Chunk-Min-Length above this is refused
_RANGE = re.compile(r"(?:bytes=)?0-([0-9]{1,19})\Z")
_DIGITS = re.compile(r"[0-9]{1,19}\Z")


class Cancelled(PycontainError):
    def __init__(self):
        super().__init__("push cancelled")


class Uploads(Repository):
    """One repository, for pushing (scope pull,push)."""

    def __init__(self, ref, **kwargs):
        super().__init__(ref, **kwargs)
        self.scope = f"repository:{ref.path}:pull,push"
        self.cancelled = threading.Event()

    def _request(self, method, target, scope=None, headers=None, body=None, follow=False):
        return self.session.request(method, target, scope=scope or self.scope,
                                    headers=headers, body=body, follow_redirects=follow)

    def _fail(self, resp, what: str) -> PycontainError:
        return self._http_error(resp.status, what, self.session.discard(resp))

    def _digest_header(self, resp, expected: str, what: str) -> None:
        header = resp.getheader("Docker-Content-Digest")
        if header and header != expected:
            raise PycontainError(f"{self._where()}: the registry stored {what} as "
                                 f"{printable(header, 80)!r}, expected {expected}")

    # -- blobs ------------------------------------------------------------------
    def exists(self, desc) -> bool:
        """Whether the repository has the blob (HEAD; redirects as for a download)."""
        resp = self._request("HEAD", f"/v2/{self.ref.path}/blobs/{desc.digest}", follow=True)
        if resp.status == 404:
            self.session.discard(resp)
            return False
        if resp.status != 200:
            raise self._fail(resp, f"blob {desc.digest}")
        self.session.discard(resp)
        return True

    def start(self, desc, source: str | None):
        """POST an upload, or a mount from the repository source: (None, 0)
        when mounted, else (upload target, minimum chunk length)."""
        base = f"/v2/{self.ref.path}/blobs/uploads/"
        target, scope = base, None
        if source:
            target += "?" + urllib.parse.urlencode({"mount": desc.digest, "from": source})
            scope = f"{self.scope} repository:{source}:pull"
        resp = self._request("POST", target, scope=scope)
        if source and resp.status == 201:
            self._digest_header(resp, desc.digest, f"blob {desc.digest}")
            self.session.discard(resp)
            return None, 0
        if resp.status != 202:
            raise self._fail(resp, f"upload of blob {desc.digest}")
        location = self.session.own_target(resp.getheader("Location"), base)
        minimum = (resp.getheader("OCI-Chunk-Min-Length") or "0").strip()
        self.session.discard(resp)
        if not _DIGITS.match(minimum) or int(minimum) > MAX_MIN_CHUNK:
            raise PycontainError(f"{self._where()}: bad OCI-Chunk-Min-Length "
                                 f"{printable(minimum, 40)!r}")
        return location, int(minimum)

    def upload(self, desc, f, location: str, chunk_size: int, bar) -> None:
        """Send the blob from the open file f to the upload at location."""
        what = f"upload of blob {desc.digest}"
        offset = 0
        if chunk_size and desc.size > chunk_size:
            while offset < desc.size:
                n = min(chunk_size, desc.size - offset)
                resp = self._request("PATCH", location, headers={
                    "Content-Type": OCTET, "Content-Length": str(n),
                    "Content-Range": f"{offset}-{offset + n - 1}"},
                    body=self._body(f, offset, n, bar))
                if not 200 <= resp.status < 300:
                    raise self._fail(resp, what)
                held, new = resp.getheader("Range") or "", resp.getheader("Location")
                self.session.discard(resp)
                end = _RANGE.match(held.strip())
                if not end or int(end.group(1)) != offset + n - 1:
                    raise PycontainError(f"{self._where()}: {what}: after bytes "
                                         f"{offset}-{offset + n - 1} the registry holds "
                                         f"{printable(held, 60)!r}")
                location = self.session.own_target(new, location) if new else location
                offset += n
        sep = "&" if "?" in location else "?"
        resp = self._request("PUT", location + sep + urllib.parse.urlencode(
            {"digest": desc.digest}), headers={
                "Content-Type": OCTET, "Content-Length": str(desc.size - offset)},
            body=self._body(f, offset, desc.size - offset, bar))
        if not 200 <= resp.status < 300:
            raise self._fail(resp, what)
        self._digest_header(resp, desc.digest, f"blob {desc.digest}")
        self.session.discard(resp)

    def _body(self, f, offset: int, length: int, bar):
        return lambda: _Slice(f, offset, length, bar, self.cancelled)

    # -- manifests ----------------------------------------------------------------
    def put_manifest(self, reference: str, data: bytes, media_type: str, digest: str) -> None:
        """PUT the manifest bytes as they are, under a tag or their digest."""
        resp = self._request("PUT", f"/v2/{self.ref.path}/manifests/{reference}",
                             headers={"Content-Type": media_type}, body=data)
        if not 200 <= resp.status < 300:
            raise self._fail(resp, f"manifest {reference}")
        self._digest_header(resp, digest, "the manifest")
        self.session.discard(resp)


class _Slice:
    """length bytes of the file f from offset, as a request body; reports
    progress, and stops the request when the push is cancelled."""

    def __init__(self, f, offset: int, length: int, bar, cancelled):
        self.f, self.pos, self.left = f, offset, length
        self.bar, self.cancelled = bar, cancelled

    def read(self, n: int = -1) -> bytes:
        if self.cancelled.is_set():
            raise Cancelled()
        if self.left <= 0:
            return b""
        n = self.left if n < 0 else min(n, self.left)
        data = os.pread(self.f.fileno(), n, self.pos)
        if not data:
            raise PycontainError(f"blob {self.f.name} in the store is shorter than its "
                                 "descriptor says; pull or load the image again")
        self.pos += len(data)
        self.left -= len(data)
        self.bar.update(len(data))
        return data
