"""Registry credentials and authentication challenges.

Credentials live in docker's format ({"auths": {"host": {"auth":
base64("user:password")}}}) in pycontain's own file, mode 0600:
$PYCONTAIN_AUTH_FILE, else <data root>/auth.json. Lookups fall back to
docker's $DOCKER_CONFIG/config.json (default ~/.docker/config.json), read
only; credential helpers (credsStore/credHelpers) are not supported.

An entry may also carry "pycontainTokenRealms": ["host[:port]", ...], the
token services on other hosts that the user trusts with these credentials
(`pycontain login --token-realm`; transport.py sends them nowhere else).
"""
import base64
import json
import os
import re

from pycontain.errors import PycontainError

_DOCKER_HUB_KEYS = ("docker.io", "index.docker.io", "registry-1.docker.io",
                    "https://index.docker.io/v1/")
REALMS_KEY = "pycontainTokenRealms"
_PARAM = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))\s*,?')


def auth_file() -> str:
    if os.environ.get("PYCONTAIN_AUTH_FILE"):
        return os.environ["PYCONTAIN_AUTH_FILE"]
    from pycontain import paths
    return os.path.join(paths.data_root(), "auth.json")


def docker_config_file() -> str:
    base = os.environ.get("DOCKER_CONFIG") or os.path.expanduser("~/.docker")
    return os.path.join(base, "config.json")


def _keys_for(domain: str) -> tuple:
    return _DOCKER_HUB_KEYS if domain in _DOCKER_HUB_KEYS else (
        domain, f"https://{domain}", f"http://{domain}", f"https://{domain}/v1/")


def _read(path: str) -> dict:
    try:
        with open(path, "rb") as f:
            doc = json.loads(f.read())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise PycontainError(f"credentials file {path} is unreadable ({e})") from None
    return doc if isinstance(doc, dict) else {}


def _decode(entry) -> tuple | None:
    if not isinstance(entry, dict):
        return None
    if entry.get("auth"):
        try:
            user, sep, password = base64.b64decode(entry["auth"]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return (user, password) if sep else None
    if entry.get("username") and "password" in entry:
        return entry["username"], entry["password"]
    return None


def _entry(domain: str) -> dict:
    """The first entry with usable credentials for domain, or {}."""
    for path in (auth_file(), docker_config_file()):
        auths = _read(path).get("auths") or {}
        for key in _keys_for(domain):
            if _decode(auths.get(key)):
                return auths[key]
    return {}


def lookup(domain: str) -> tuple | None:
    """(user, password) for the registry domain, or None."""
    return _decode(_entry(domain))


def token_realms(domain: str) -> tuple:
    """The other hosts trusted with domain's credentials ('host[:port]')."""
    realms = _entry(domain).get(REALMS_KEY)
    if not isinstance(realms, list):
        return ()
    return tuple(r for r in realms if isinstance(r, str) and r)


def store(domain: str, user: str, password: str, realms=()) -> str:
    """Remember credentials for domain in pycontain's file, with the token
    realms trusted with them (added to those already trusted); return its path."""
    from pycontain.image._storeio import atomic_write_json
    path = auth_file()
    doc = _read(path)
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    auths = doc.setdefault("auths", {})
    key = _keys_for(domain)[0]
    old = auths.get(key) if isinstance(auths.get(key), dict) else {}
    prev = old.get(REALMS_KEY)
    trusted = [r for r in prev if isinstance(r, str)] if isinstance(prev, list) else []
    trusted += [r for r in realms if r not in trusted]
    auths[key] = {"auth": token, **({REALMS_KEY: trusted} if trusted else {})}
    from pycontain import paths
    paths.ensure_dir(os.path.dirname(path) or ".")
    atomic_write_json(path, doc)  # mode 0600
    return path


def forget(domain: str | None) -> list:
    """Remove the credentials for domain (all of them when None); returns
    the keys removed from pycontain's file."""
    from pycontain.image._storeio import atomic_write_json
    path = auth_file()
    doc = _read(path)
    auths = doc.get("auths") or {}
    keys = list(auths) if domain is None else [k for k in _keys_for(domain) if k in auths]
    for key in keys:
        del auths[key]
    if keys:
        doc["auths"] = auths
        atomic_write_json(path, doc)
    return keys


def parse_challenge(header: str) -> tuple[str, dict]:
    """('bearer'|'basic'|..., params) from a WWW-Authenticate header value,
    e.g. 'Bearer realm="https://auth/token",service="reg",scope="repository:x:pull"'."""
    scheme, _, rest = header.strip().partition(" ")
    params = {}
    pos = 0
    while pos < len(rest):
        m = _PARAM.match(rest, pos)
        if not m or m.end() == pos:
            break
        value = m.group(2) if m.group(2) is not None else m.group(3)
        params[m.group(1).lower()] = re.sub(r"\\(.)", r"\1", value)
        pos = m.end()
    return scheme.lower(), params
