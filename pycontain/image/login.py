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


def login(registry: str, user: str, password: str, *, tls_verify: bool = True) -> str:
    """Check user/password with the registry's /v2/ (basic or token auth)
    and store them; returns the credentials file."""
    from pycontain.image.transport import Session
    if not user or not password:
        raise PycontainError("login needs a user name and a password")
    domain = registry_domain(registry)
    session = Session(domain, tls_verify=tls_verify, credentials=(user, password))
    try:
        resp = session.request("GET", "/v2/", scope="")
        resp.read()
    finally:
        session.close()
    if resp.status != 200:
        raise PycontainError(f"login to {domain} failed: HTTP {resp.status}")
    return auth.store(domain, user, password)


def logout(registry: str | None) -> str:
    if registry is None:
        removed = auth.forget(None)
        return f"Removed login credentials for {len(removed)} registries"
    domain = registry_domain(registry)
    if not auth.forget(domain):
        raise PycontainError(f"not logged in to {domain}")
    return f"Removed login credentials for {domain}"
