"""HTTP for the registry client, on the standard library's http.client.

Session talks to one registry: https with certificate checks, or, when the
registry is insecure (--tls-verify=false, or a loopback address as docker
allows), https without checks falling back to plain http. Each thread keeps
its own keep-alive connections, so layers download in parallel. A 401
answer is met once per scope: 'Basic' with the stored credentials, 'Bearer'
by fetching a token from the challenge's realm and retrying.

What goes where (a registry is hostile input):
* redirects are followed only for blob downloads and existence checks
  (registries send those to their storage), and only to https or back to
  the registry itself; any other request that is redirected fails (so no
  upload or manifest ever goes elsewhere). An upload's Location must be
  on the registry itself (own_target). The Authorization header goes to
  the registry itself only, never along a redirect to another host;
* a token realm must be https, or plain http on the registry's own host
  when the registry itself is plain http (loopback or --tls-verify=false);
* stored credentials go to a realm only on the registry's own host:port,
  on a host the user trusted for that registry (`pycontain login
  --token-realm`, kept in the credentials file), or auth.docker.io for
  Docker Hub; elsewhere the token is asked for anonymously;
* token responses and the bodies of errors, challenges and redirects are
  read up to a bound.
"""
import base64
import http.client
import ssl
import threading
import urllib.parse

from pycontain import jsonio
from pycontain.errors import PycontainError
from pycontain.image import auth
from pycontain.netaddr import is_loopback

TIMEOUT = 60
MAX_REDIRECTS = 5
MAX_SMALL_BODY = 64 << 10   # error, challenge and redirect bodies: the rest is dropped
MAX_TOKEN_SIZE = 256 << 10
MAX_LOCATION = 8192
BLOCK_SIZE = 64 << 10       # request bodies are sent in blocks of this size
USER_AGENT = "pycontain/0.1"
HUB_ENDPOINT = "registry-1.docker.io"
BUILTIN_REALMS = {"docker.io": ("auth.docker.io",)}  # trusted with a registry's credentials


def endpoint(domain: str) -> str:
    return HUB_ENDPOINT if domain == "docker.io" else domain


def origin(scheme: str, netloc: str) -> tuple:
    """(host, port) of scheme://netloc, the port defaulted by scheme."""
    url = urllib.parse.urlsplit("//" + netloc)
    try:
        port = url.port
    except ValueError:
        port = -1
    return (url.hostname or "").lower(), port or (443 if scheme == "https" else 80)


def printable(text: str, limit: int = 200) -> str:
    """text cut to limit characters, control characters replaced: safe in one line."""
    text = str(text)
    cut = "".join(c if c.isprintable() else "?" for c in text[:limit])
    return cut + ("..." if len(text) > limit else "")


class Session:
    def __init__(self, domain: str, *, tls_verify: bool = True, credentials=None,
                 token_realms=()):
        self.domain = domain
        self.netloc = endpoint(domain)
        self.insecure = not tls_verify or is_loopback(self.netloc)
        self.credentials = credentials
        self.token_realms = tuple(token_realms) + BUILTIN_REALMS.get(domain, ())
        self.withheld = None  # the realm the credentials were not sent to, if any
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
                conn = http.client.HTTPSConnection(netloc, timeout=TIMEOUT, context=ctx,
                                                   blocksize=BLOCK_SIZE)
            else:
                conn = http.client.HTTPConnection(netloc, timeout=TIMEOUT, blocksize=BLOCK_SIZE)
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

    def read_body(self, resp, limit: int) -> bytes:
        """At most limit + 1 bytes of resp's body (more than limit: too
        large); then resp is released, a longer rest dropped with its
        connection."""
        try:
            return resp.read(limit + 1)
        except (OSError, http.client.HTTPException) as e:
            raise PycontainError(f"registry {self.domain}: read failed ({_reason(e)})") from None
        finally:
            self.release(resp)

    def discard(self, resp) -> bytes:
        """The start of a body that is not wanted (an error's, a redirect's)."""
        return self.read_body(resp, MAX_SMALL_BODY)[:MAX_SMALL_BODY]

    def close(self) -> None:
        for conn in self._local.__dict__.get("conns", {}).values():
            conn.close()
        self._local.__dict__["conns"] = {}

    def _send(self, method, scheme, netloc, target, headers, body=None):
        """One request on a kept-alive connection (retried once on a stale one).
        body: None, bytes, or a callable giving a fresh readable stream."""
        for attempt in (0, 1):
            conn = self._connection(scheme, netloc)
            try:
                conn.request(method, target, headers=headers,
                             body=body() if callable(body) else body)
                resp = conn.getresponse()
                resp.pc_conn = (scheme, netloc)
                return resp
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
                self.discard(self._send("GET", "https", self.netloc, "/v2/",
                                        {"User-Agent": USER_AGENT}))
                self.scheme = "https"
            except (ssl.SSLError, ConnectionError, OSError):
                self._drop("https", self.netloc)
                self.scheme = "http"
        return self.scheme

    # -- requests ---------------------------------------------------------------
    def request(self, method: str, path: str, *, scope: str = "", headers=None,
                follow_redirects: bool = False, body=None):
        """The response to method on the registry's path (e.g. '/v2/'),
        after authentication (and redirects, for a blob download: see the
        module's docstring). body as for _send (a callable when the body is
        a stream: it is sent again after an authentication challenge). The
        caller reads the response fully."""
        try:
            return self._request(method, path, scope, dict(headers or {}), follow_redirects,
                                 body)
        except PycontainError:
            raise
        except (OSError, http.client.HTTPException) as e:
            raise PycontainError(f"registry {self.domain}: {_reason(e)}") from None

    def _request(self, method, path, scope, headers, follow, body):
        scheme, netloc, target = self._pick_scheme(), self.netloc, path
        challenged = False
        for _ in range(MAX_REDIRECTS + 1):
            send = dict(headers, **{"User-Agent": USER_AGENT})
            ours = netloc == self.netloc
            if ours and scope in self._auth:
                send["Authorization"] = self._auth[scope]
            resp = self._send(method, scheme, netloc, target, send, body)
            if resp.status == 401 and ours and not challenged:
                self.discard(resp)
                challenged = True
                self._authenticate(resp.getheader("WWW-Authenticate") or "", scope)
                continue
            if resp.status in (301, 302, 303, 307, 308) and resp.getheader("Location"):
                self.discard(resp)
                scheme, netloc, target = self._redirect(
                    f"{method} {path}", f"{scheme}://{netloc}{target}",
                    resp.getheader("Location"), follow)
                continue
            if resp.status == 401:
                self.discard(resp)
                raise PycontainError(f"registry {self.domain}: {self.refused_hint()}")
            return resp
        raise PycontainError(f"registry {self.domain}: too many redirects")

    def _redirect(self, what: str, current: str, location: str, follow: bool) -> tuple:
        """(scheme, netloc, target) of an allowed redirect, else PycontainError."""
        url = urllib.parse.urlsplit(urllib.parse.urljoin(current, location))
        shown = printable(urllib.parse.urlunsplit(url[:3] + ("", "")))  # no signed query
        if not follow:
            raise PycontainError(f"registry {self.domain}: {printable(what)} was redirected "
                                 f"to {shown}: refused (only blob downloads may be redirected)")
        itself = (url.scheme, url.netloc) == (self._pick_scheme(), self.netloc)
        if not url.hostname or not (itself or url.scheme == "https"):
            raise PycontainError(f"registry {self.domain}: blob redirect to {shown}: refused "
                                 "(only to https, or to the registry itself)")
        return url.scheme, url.netloc, url.path + (f"?{url.query}" if url.query else "")

    def own_target(self, location, base: str) -> str:
        """The path and query of location (an upload's Location header,
        relative to base or absolute), which must be on the registry itself."""
        if not location:
            raise PycontainError(f"registry {self.domain}: the answer to {printable(base)} "
                                 "has no Location header")
        if len(location) > MAX_LOCATION or not all("!" <= c <= "~" for c in location):
            raise PycontainError(f"registry {self.domain}: malformed Location header "
                                 f"{printable(location)!r}")
        scheme = self._pick_scheme()
        url = urllib.parse.urlsplit(urllib.parse.urljoin(f"{scheme}://{self.netloc}{base}",
                                                         location))
        if url.scheme != scheme or origin(url.scheme, url.netloc) != origin(scheme, self.netloc):
            shown = printable(urllib.parse.urlunsplit(url[:3] + ("", "")))
            raise PycontainError(f"registry {self.domain}: upload location {shown} is not "
                                 "on the registry itself: refused")
        return (url.path or "/") + (f"?{url.query}" if url.query else "")

    def refused_hint(self) -> str:
        if self.withheld:
            return (f"your credentials were not sent to the token service {self.withheld}, "
                    "which is not the registry's host; if you trust it: pycontain login "
                    f"--token-realm {self.withheld} {self.domain}")
        if self.credentials:
            return "the credentials were refused"
        return f"authentication required: run 'pycontain login {self.domain}'"

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
                                 f"challenge {printable(header)!r}")

    def _realm(self, realm) -> urllib.parse.SplitResult:
        """The token realm's URL, if the rules in the module's docstring allow it."""
        if not realm:
            raise PycontainError(f"registry {self.domain}: bearer challenge without a realm")
        url = urllib.parse.urlsplit(realm)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise PycontainError(f"registry {self.domain}: bad token realm {printable(realm)!r}")
        own_host = origin("http", self.netloc)[0]
        if url.scheme == "http" and not (self._pick_scheme() == "http"
                                         and url.hostname.lower() == own_host):
            raise PycontainError(f"registry {self.domain}: token realm {printable(realm)} is "
                                 "plain http on another host: refused (realms must use https)")
        return url

    def trusts(self, scheme: str, netloc: str) -> bool:
        """Whether the credentials may go to the token service at scheme://netloc."""
        where = origin(scheme, netloc)
        return where == origin(self._pick_scheme(), self.netloc) or any(
            origin(scheme, trusted) == where for trusted in self.token_realms)

    def _token(self, params: dict, scope: str) -> str:
        url = self._realm(params.get("realm"))
        query = [(k, v) for k, v in urllib.parse.parse_qsl(url.query)]
        if params.get("service"):
            query.append(("service", params["service"]))
        wanted = params.get("scope") or scope
        if wanted:
            query.append(("scope", wanted))
        target = (url.path or "/") + ("?" + urllib.parse.urlencode(query) if query else "")
        headers = {"User-Agent": USER_AGENT}
        sent = self.credentials if self.trusts(url.scheme, url.netloc) else None
        if sent:
            headers["Authorization"] = _basic(sent)
        elif self.credentials:
            self.withheld = printable(url.netloc)
        resp = self._send("GET", url.scheme, url.netloc, target, headers)
        body = self.read_body(resp, MAX_TOKEN_SIZE)
        if resp.status in (401, 403):
            refused = "the credentials" if sent else "anonymous access"
            raise PycontainError(f"registry {self.domain}: the token service refused {refused} "
                                 f"(HTTP {resp.status})"
                                 + (f"; {self.refused_hint()}" if self.withheld else ""))
        if resp.status != 200:
            raise PycontainError(f"registry {self.domain}: token service answered "
                                 f"HTTP {resp.status}")
        if len(body) > MAX_TOKEN_SIZE:
            raise PycontainError(f"registry {self.domain}: token response larger than "
                                 f"{MAX_TOKEN_SIZE} bytes")
        try:
            doc = jsonio.parse(body, "the token response")
            token = doc.get("token") or doc.get("access_token")
        except (PycontainError, AttributeError):
            token = None
        if not isinstance(token, str) or not token or not all(
                "!" <= c <= "~" for c in token):
            raise PycontainError(f"registry {self.domain}: token service sent no usable token")
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
