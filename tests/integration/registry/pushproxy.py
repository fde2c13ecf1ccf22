"""A recording proxy on 127.0.0.1 in front of a real docker-registry, for
the push tests: it forwards every method (with its body) and answers with
the registry's own answer, so what a push sends is seen on the wire; knobs
make it answer as a refusing or hostile registry would."""
import http.client
import json
import urllib.parse

from .hostile import TOKEN, _Handler, _Server

FORWARDED = ("content-type", "content-range", "authorization", "accept")
RETURNED = ("location", "range", "docker-content-digest", "docker-upload-uuid",
            "oci-chunk-min-length", "content-type", "www-authenticate")


class _ProxyHandler(_Handler):
    def _any(self):
        proxy = self.server
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path.startswith("/token?"):
            proxy.scopes.append(urllib.parse.parse_qs(self.path[7:]).get("scope"))
            return self.token(None)
        proxy.seen.append((self.command, self.path, self.headers.get("Content-Range"),
                           len(body)))
        if proxy.tokens and self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self.send_out(401, b"{}", [("WWW-Authenticate", f'Bearer realm='
                                               f'"http://{proxy.host}/token",service="p"')])
        answer = proxy.answer(self.command, self.path) if proxy.answer else None
        if answer is not None:
            code, headers, out = answer
            return self.send_out(code, out, headers)
        code, headers, out = self.forward(body)
        if proxy.relative:
            headers = [(k, v.replace(f"http://{proxy.host}", "")
                        if k.lower() == "location" else v) for k, v in headers]
        if proxy.rewrite:
            code, headers, out = proxy.rewrite(self.command, self.path, code, headers, out)
        self.send_out(code, out, headers)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _any

    def send_out(self, code, body, headers):
        self.send_response(code)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

    def forward(self, body):
        """The registry's answer to this request, built for the proxy's host."""
        headers = {k: ", ".join(self.headers.get_all(k)) for k in FORWARDED if k in self.headers}
        headers["Host"] = self.server.host  # the registry's Locations point back here
        conn = http.client.HTTPConnection(self.server.backend, timeout=30)
        try:
            conn.request(self.command, self.path, body=body or None, headers=headers)
            resp = conn.getresponse()
            out = resp.read()
            return resp.status, [(k, v) for k, v in resp.getheaders()
                                 if k.lower() in RETURNED], out
        finally:
            conn.close()


class Proxy(_Server):
    """Forwards to the registry at backend; seen: (method, path,
    Content-Range, body length) of every request. Knobs: relative (answer
    Locations as paths); tokens (demand a bearer token from its own /token,
    which records the scopes asked for in scopes); answer(method, path) -> (code, headers, body) or
    None, to answer instead of the registry; rewrite(method, path, code,
    headers, body) -> (code, headers, body), to change its answer."""

    def __init__(self, backend: str):
        super().__init__(_ProxyHandler)
        self.backend = backend
        self.seen = []
        self.relative = False
        self.tokens = False
        self.scopes = []
        self.answer = None
        self.rewrite = None

    def methods(self, part: str) -> list:
        """(method, path) of the requests whose path contains part."""
        return [(m, p) for m, p, _, _ in self.seen if part in p]


def error(code: int, message: str, size: int = 0) -> tuple:
    """A registry's JSON error answer (padded to size bytes)."""
    body = json.dumps({"errors": [{"code": "DENIED", "message": message}]}).encode()
    return code, [("Content-Type", "application/json")], body + b" " * max(0, size - len(body))
