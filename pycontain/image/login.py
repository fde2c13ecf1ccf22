"""`pycontain login/logout`: check credentials against a registry, then
remember or forget them (auth.py keeps them)."""
from pycontain.errors import PycontainError
from pycontain.image import auth


def registry_domain(text: str) -> str:
    """'127.0.0.1:5000' from '127.0.0.1:5000', 'https://127.0.0.1:5000/',
    'docker.io' for Docker Hub's names."""
    from pycontain.image.reference import split_domain
    host = text.strip()
    for prefix in ("https://", "http://"):
        if host.startswith(prefix):
            host = host[len(prefix):]
    host = host.split("/")[0]
    if not host:
        raise PycontainError(f"invalid registry {text!r}")
    domain, _, _ = split_domain(host + "/x")
    return domain


def realm_host(text: str) -> str:
    """'auth.example:8443' from 'auth.example:8443' or 'https://auth.example:8443/token'."""
    import re
    value = text.strip()
    if "://" in value:
        value = value.split("://", 1)[1]
    value = value.split("/", 1)[0].lower()
    if not re.fullmatch(r"([a-z0-9.-]+|\[[0-9a-f:.]+\])(:[0-9]{1,5})?", value) or \
            int(value.rpartition("]")[2].partition(":")[2] or 0) > 65535:
        raise PycontainError(f"invalid token realm host {text!r}: use HOST[:PORT]")
    return value


def login(registry: str, user: str, password: str, *, tls_verify: bool = True,
          token_realms=()) -> str:
    """Check user/password with the registry's /v2/ (basic or token auth)
    and store them, with the token realms (other hosts) trusted with them
    besides those already trusted; returns the credentials file."""
    from pycontain.image.transport import Session
    if not user or not password:
        raise PycontainError("login needs a user name and a password")
    domain = registry_domain(registry)
    realms = tuple(realm_host(r) for r in token_realms)
    session = Session(domain, tls_verify=tls_verify, credentials=(user, password),
                      token_realms=auth.token_realms(domain) + realms)
    try:
        resp = session.request("GET", "/v2/", scope="")
        session.discard(resp)
    finally:
        session.close()
    if session.withheld:  # /v2/ may let an anonymous token in: the password is unchecked
        raise PycontainError(f"login to {domain} failed: {session.refused_hint()}")
    if resp.status != 200:
        raise PycontainError(f"login to {domain} failed: HTTP {resp.status}")
    return auth.store(domain, user, password, realms)


def logout(registry: str | None) -> str:
    if registry is None:
        removed = auth.forget(None)
        return f"Removed login credentials for {len(removed)} registries"
    domain = registry_domain(registry)
    if not auth.forget(domain):
        raise PycontainError(f"not logged in to {domain}")
    return f"Removed login credentials for {domain}"
