"""Address predicates shared by the registry client and the function server.

Neutral ground (standard library only): pycontain.image.transport decides with
it which registries may be reached over plain HTTP, and `fn serve` which
addresses it may bind and which peers it accepts. Neither borrows the other's.
"""
import ipaddress
import urllib.parse


def is_loopback_host(host: str) -> bool:
    """Whether host (a name or a bare IPv4/IPv6 address, no port) is
    `localhost` or a loopback address (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_loopback(netloc: str) -> bool:
    """Whether a URL's netloc (host[:port], [IPv6][:port]) names a loopback host."""
    return is_loopback_host(urllib.parse.urlsplit("//" + netloc).hostname or "")
