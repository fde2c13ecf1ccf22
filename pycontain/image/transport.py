"""HTTP for the registry client, on the standard library's http.client.

Session talks to one registry: https with certificate checks, or, when the
registry is insecure (--tls-verify=false, or a loopback address as docker
allows), https without checks falling back to plain http. Each thread keeps
its own keep-alive connections, so layers download in parallel. A 401
answer is met once per scope: 'Basic' with the stored credentials, 'Bearer'
by fetching a token from the challenge's realm (with the credentials, if
any) and retrying. Redirects are followed, and the Authorization header is
sent only to the registry itself.
"""
import base64
import http.client
import ipaddress
import json
import ssl
import threading
import urllib.parse

from pycontain.errors import PycontainError
from pycontain.image import auth

TIMEOUT = 60
MAX_REDIRECTS = 5
USER_AGENT = "pycontain/0.1"
HUB_ENDPOINT = "registry-1.docker.io"


def endpoint(domain: str) -> str:
    return HUB_ENDPOINT if domain == "docker.io" else domain


def is_loopback(netloc: str) -> bool:
    host = urllib.parse.urlsplit("//" + netloc).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Session:
    def __init__(self, domain: str, *, tls_verify: bool = True, credentials=None):
        self.domain = domain
        self.netloc = endpoint(domain)
        self.insecure = not tls_verify or is_loopback(self.netloc)
        self.credentials = credentials
        self.scheme = None if self.insecure else "https"
        self._local = threading.local()
        self._lock = threading.Lock()
        self._auth = {}  # scope -> Authorization header value

    # -- connections ------------------------------------------------------------
    def _connection(self, scheme: str, netloc: str):
        conns = self._local.__dict__.setdefault("conns", {})
        conn = conns.get((scheme, netloc))
        if conn is None:
            if scheme == "https":
                ctx = ssl.create_default_context()
                if self.insecure and netloc == self.netloc:
                    ctx.check_hostname = False
                    ctx.verify_mode = ssl.CERT_NONE
                conn = http.client.HTTPSConnection(netloc, timeout=TIMEOUT, context=ctx)
            else:
                conn = http.client.HTTPConnection(netloc, timeout=TIMEOUT)
            conns[(scheme, netloc)] = conn
        return conn

    def _drop(self, scheme, netloc) -> None:
        conn = self._local.__dict__.get("conns", {}).pop((scheme, netloc), None)
        if conn is not None:
            conn.close()

    def release(self, resp) -> None:
        """Done with resp: a connection whose response was not read to the
        end cannot carry another request, so it is closed."""
        if not resp.isclosed():
            resp.close()
            self._drop(*resp.pc_conn)

    def close(self) -> None:
        for conn in self._local.__dict__.get("conns", {}).values():
            conn.close()
        self._local.__dict__["conns"] = {}

    def _send(self, method, scheme, netloc, target, headers):
        """One request on a kept-alive connection (retried once on a stale one)."""
        for attempt in (0, 1):
            conn = self._connection(scheme, netloc)
            try:
                conn.request(method, target, headers=headers)
                return conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self._drop(scheme, netloc)
                if attempt:
                    raise
            except BaseException:
                self._drop(scheme, netloc)
                raise

    def _pick_scheme(self) -> str:
        """For an insecure registry: https if it answers TLS, else http."""
        if self.scheme is None:
            try:
                self._send("GET", "https", self.netloc, "/v2/", {"User-Agent": USER_AGENT}).read()
                self.scheme = "https"
            except (ssl.SSLError, ConnectionError, OSError):
                self._drop("https", self.netloc)
                self.scheme = "http"
        return self.scheme

    # -- requests ---------------------------------------------------------------
    def request(self, method: str, path: str, *, scope: str = "", headers=None):
        """The response to method on the registry's path (e.g. '/v2/'),
        after authentication and redirects. The caller reads it fully."""
        try:
            return self._request(method, path, scope, dict(headers or {}))
        except PycontainError:
            raise
        except (OSError, http.client.HTTPException) as e:
            raise PycontainError(f"registry {self.domain}: {_reason(e)}") from None

    def _request(self, method, path, scope, headers):
        scheme, netloc, target = self._pick_scheme(), self.netloc, path
        challenged = False
        for _ in range(MAX_REDIRECTS + 1):
            send = dict(headers, **{"User-Agent": USER_AGENT})
            ours = netloc == self.netloc
            if ours and scope in self._auth:
                send["Authorization"] = self._auth[scope]
            resp = self._send(method, scheme, netloc, target, send)
            resp.pc_conn = (scheme, netloc)
            if resp.status == 401 and ours and not challenged:
                resp.read()
                challenged = True
                self._authenticate(resp.getheader("WWW-Authenticate") or "", scope)
                continue
            if resp.status in (301, 302, 303, 307, 308) and resp.getheader("Location"):
                resp.read()
                url = urllib.parse.urlsplit(urllib.parse.urljoin(
                    f"{scheme}://{netloc}{target}", resp.getheader("Location")))
                if url.scheme not in ("http", "https"):
                    raise PycontainError(f"registry {self.domain}: redirect to {url.scheme}: refused")
                scheme, netloc = url.scheme, url.netloc
                target = url.path + (f"?{url.query}" if url.query else "")
                continue
            if resp.status == 401:
                resp.read()
                hint = ("the credentials were refused" if self.credentials
                        else f"authentication required: run 'pycontain login {self.domain}'")
                raise PycontainError(f"registry {self.domain}: {hint}")
            return resp
        raise PycontainError(f"registry {self.domain}: too many redirects")

    def _authenticate(self, header: str, scope: str) -> None:
        scheme, params = auth.parse_challenge(header)
        if scheme == "basic":
            if not self.credentials:
                raise PycontainError(f"registry {self.domain}: authentication required: "
                                     f"run 'pycontain login {self.domain}'")
            with self._lock:
                self._auth[scope] = _basic(self.credentials)
        elif scheme == "bearer":
            token = self._token(params, scope)
            with self._lock:
                self._auth[scope] = f"Bearer {token}"
        else:
            raise PycontainError(f"registry {self.domain}: unsupported authentication "
                                 f"challenge {header!r}")

    def _token(self, params: dict, scope: str) -> str:
        realm = params.get("realm")
        if not realm:
            raise PycontainError(f"registry {self.domain}: bearer challenge without a realm")
        url = urllib.parse.urlsplit(realm)
        if url.scheme not in ("http", "https") or not url.netloc:
            raise PycontainError(f"registry {self.domain}: bad token realm {realm!r}")
        query = [(k, v) for k, v in urllib.parse.parse_qsl(url.query)]
        if params.get("service"):
            query.append(("service", params["service"]))
        wanted = params.get("scope") or scope
        if wanted:
            query.append(("scope", wanted))
        target = (url.path or "/") + ("?" + urllib.parse.urlencode(query) if query else "")
        headers = {"User-Agent": USER_AGENT}
        if self.credentials:
            headers["Authorization"] = _basic(self.credentials)
        resp = self._send("GET", url.scheme, url.netloc, target, headers)
        body = resp.read()
        if resp.status in (401, 403):
            raise PycontainError(f"registry {self.domain}: the token service refused "
                                 f"{'the credentials' if self.credentials else 'anonymous access'}"
                                 f" (HTTP {resp.status})")
        if resp.status != 200:
            raise PycontainError(f"registry {self.domain}: token service answered "
                                 f"HTTP {resp.status}")
        try:
            doc = json.loads(body)
            token = doc.get("token") or doc.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise PycontainError(f"registry {self.domain}: token service sent no token")
        return token


def _basic(credentials) -> str:
    user, password = credentials
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _reason(exc) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted ({exc.verify_message}); use --tls-verify=false"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed ({exc.reason or exc}); for a plain-HTTP registry use --tls-verify=false"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError):
        return "timed out"
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
