"""ADD's URL sources: one HTTP(S) GET, size-bounded, into the build's work area."""

from pycontain.errors import PycontainError

MAX_DOWNLOAD = 4 << 30
TIMEOUT = 60


def download(url: str, path: str) -> None:
    import urllib.error
    import urllib.request
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response, \
                open(path, "xb") as out:
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > MAX_DOWNLOAD:
                raise PycontainError(f"ADD {url}: larger than {MAX_DOWNLOAD} bytes")
            copied = 0
            while chunk := response.read(1 << 20):
                copied += len(chunk)
                if copied > MAX_DOWNLOAD:
                    raise PycontainError(f"ADD {url}: larger than {MAX_DOWNLOAD} bytes")
                out.write(chunk)
    except urllib.error.HTTPError as exc:
        raise PycontainError(f"ADD {url}: the server answered {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise PycontainError(f"ADD {url}: download failed ({reason})") from None
