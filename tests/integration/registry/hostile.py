"""Hostile registry behaviours on 127.0.0.1, in front of a real
docker-registry: a Front that proxies it but redirects requests or names a
token realm of its choice, and a Recorder standing for another loopback
service (or a token realm) that records every request it gets."""
import base64
import http.client
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN = "hostile-test-token"


def _basic_ok(header: str, users: dict) -> bool:
    return header in {"Basic " + base64.b64encode(f"{u}:{p}".encode()).decode()
                      for u, p in users.items()}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, code, body=b"", headers=()):
        self.send_response(code)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def token(self, users):
        """A token for anyone, or for users only (Basic) when users is set."""
        if users and not _basic_ok(self.headers.get("Authorization", ""), users):
            return self.send(401, b'{"details":"bad credentials"}')
        return self.send(200, json.dumps({"token": TOKEN}).encode())


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, handler, tls=None):
        super().__init__(("127.0.0.1", 0), handler)
        self.host = f"127.0.0.1:{self.server_address[1]}"
        if tls is not None:  # an ssl.SSLContext: serve https
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def stop(self):
        self.shutdown()
        self.server_close()


class _RecorderHandler(_Handler):
    def do_GET(self):
        self.server.seen.append((self.path, self.headers.get("Authorization")))
        self.token(self.server.users)


class Recorder(_Server):
    """Records (path, Authorization header) of every request; answers as a
    token service (for anyone, or only for users={name: password})."""

    def __init__(self):
        super().__init__(_RecorderHandler)
        self.seen = []
        self.users = None


class _FrontHandler(_Handler):
    def do_GET(self):
        front = self.server
        front.seen.append((self.path, self.headers.get("Authorization")))
        if self.path.startswith("/storage/"):  # where blobs may be redirected to
            return self.proxy("/v2/" + self.path[len("/storage/"):])
        if self.path.startswith("/token"):
            return self.token(front.users)
        if front.realm and self.headers.get("Authorization") != f"Bearer {TOKEN}":
            realm = f"http://{front.host}/token" if front.realm == "self" else front.realm
            return self.send(401, b"{}", [("WWW-Authenticate",
                                           f'Bearer realm="{realm}",service="front"')])
        if "/manifests/" in self.path and front.redirect_manifests:
            return self.send(302, headers=[("Location", f"http://{front.backend}{self.path}")])
        if "/blobs/" in self.path and front.blob_redirect:
            return self.send(307, headers=[("Location", front.blob_redirect + self.path[3:])])
        return self.proxy(self.path)

    def proxy(self, path):
        conn = http.client.HTTPConnection(self.server.backend, timeout=30)
        try:
            conn.request("GET", path, headers={"Accept": self.headers.get("Accept", "*/*")})
            resp = conn.getresponse()
            body = resp.read()
            keep = [(k, v) for k, v in resp.getheaders()
                    if k.lower() in ("content-type", "docker-content-digest")]
            self.send(resp.status, body, keep)
        finally:
            conn.close()


class Front(_Server):
    """Proxies GETs to the registry at backend ('host:port'). Knobs:
    realm: None (no auth), 'self' (its own /token) or a token realm URL;
    users: {name: password} its own /token demands (None: anyone);
    redirect_manifests: answer manifest requests with a redirect;
    blob_redirect: a base URL blob requests are redirected to (+ '/NAME/blobs/DIGEST');
    it serves those itself under /storage/, and records what it gets in seen."""

    def __init__(self, backend: str, tls=None):
        super().__init__(_FrontHandler, tls)
        self.backend = backend
        self.seen = []
        self.realm = None
        self.users = None
        self.redirect_manifests = False
        self.blob_redirect = None
