"""Loopback predicates (pycontain.netaddr), shared by the registry client's
plain-HTTP rule and fn serve's bind and peer checks."""
import pytest

from pycontain.netaddr import is_loopback, is_loopback_host


@pytest.mark.parametrize("host, expected", [
    ("localhost", True), ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True),
    ("0.0.0.0", False), ("10.0.0.1", False), ("::", False), ("example.com", False),
    ("localhost.example.com", False), ("", False), ("127.0.0.1:5000", False)])
def test_hosts(host, expected):
    assert is_loopback_host(host) is expected


@pytest.mark.parametrize("netloc, expected", [
    ("localhost:5000", True), ("127.0.0.1:5000", True), ("[::1]:5000", True), ("[::1]", True),
    ("registry.example:5000", False), ("10.1.2.3", False), ("user@127.0.0.1:5000", True)])
def test_netlocs(netloc, expected):
    assert is_loopback(netloc) is expected


def test_the_registry_client_uses_it():
    from pycontain.image import transport
    assert transport.is_loopback is is_loopback
