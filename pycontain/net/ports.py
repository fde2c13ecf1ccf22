"""Published ports: parsing -p/-P and holding the host ports while a container runs.

A published port is a dict: host_ip ('' = every local address), host_port
(0 = any free one), container_port, proto ('tcp' or 'udp').

The kernel forwards the traffic (DNAT, see firewall); the container's monitor
process additionally binds each host port, so that a port already in use on
the host is refused with a clear error, a port published twice is caught, and
-P/-p CONTAINERPORT get a free port from the kernel. The sockets never listen
and close with the monitor.
"""
import _socket as socket  # not `socket`: its enum import costs ~4 ms per start

from pycontain.errors import PycontainError

PROTOCOLS = ("tcp", "udp")
_held = []  # sockets reserving our published ports, for the monitor's lifetime


def _port(text: str, spec: str, allow_zero: bool = False) -> int:
    if not text.isdigit() or not (0 if allow_zero else 1) <= int(text) <= 65535:
        raise PycontainError(f"invalid port {text!r} in -p {spec}: want a number 1-65535")
    return int(text)


def parse_publish(spec: str) -> dict:
    """`[IP:][HOSTPORT:]CONTAINERPORT[/tcp|/udp]` into a port dict."""
    body, _, proto = spec.partition("/")
    proto = proto or "tcp"
    if proto not in PROTOCOLS:
        raise PycontainError(f"invalid protocol {proto!r} in -p {spec}: want tcp or udp")
    parts = body.rsplit(":", 2)
    if "-" in body:
        raise PycontainError(f"port ranges are not supported: -p {spec}")
    host_ip = parts[0] if len(parts) == 3 else ""
    if host_ip:
        try:
            socket.inet_pton(socket.AF_INET, host_ip)
        except OSError:
            raise PycontainError(f"invalid IPv4 address {host_ip!r} in -p {spec}") from None
    host_port = _port(parts[-2], spec, allow_zero=True) if len(parts) > 1 and parts[-2] else 0
    return {"host_ip": host_ip, "host_port": host_port,
            "container_port": _port(parts[-1], spec), "proto": proto}


def exposed(image_cfg: dict, expose: list) -> list:
    """-P: every port the image EXPOSEs (or --expose names) on a free host port."""
    found = []
    for item in list((image_cfg.get("ExposedPorts") or {})) + list(expose):
        port, _, proto = item.partition("/")
        entry = parse_publish(f"{port}/{proto or 'tcp'}")
        if entry not in found:
            found.append(entry)
    return found


def requested(publish: list, publish_all: bool, image_cfg: dict, expose: list) -> list:
    ports = [parse_publish(p) for p in publish]
    if publish_all:
        ports += [p for p in exposed(image_cfg, expose)
                  if (p["container_port"], p["proto"]) not in
                  {(q["container_port"], q["proto"]) for q in ports}]
    return ports


def reserve(ports: list) -> list:
    """Bind every host port (choosing free ones for port 0); return the ports
    with their actual host port. Raises, holding nothing, if one is taken.

    No SO_REUSEADDR: with it, two bound (not listening) TCP sockets may share
    a port, and a second container publishing the same port would go unnoticed."""
    bound, result = [], []
    try:
        for p in ports:
            kind = socket.SOCK_STREAM if p["proto"] == "tcp" else socket.SOCK_DGRAM
            sock = socket.socket(socket.AF_INET, kind)
            bound.append(sock)
            try:
                sock.bind((p["host_ip"] or "0.0.0.0", p["host_port"]))
            except OSError as exc:
                where = f"{p['host_ip'] or '0.0.0.0'}:{p['host_port']}/{p['proto']}"
                raise PycontainError(f"cannot publish {where}: {exc.strerror.lower()} on the "
                                     "host (is another container or program using it?)") from None
            result.append(dict(p, host_port=sock.getsockname()[1]))
    except BaseException:
        for sock in bound:
            sock.close()
        raise
    _held.extend(bound)
    return result


def unreserve() -> None:
    """Close the sockets this process holds (the monitor, once its container exited)."""
    while _held:
        _held.pop().close()


def format_port(p: dict) -> str:
    """`80/tcp -> 0.0.0.0:8080`, as `docker port` prints."""
    return f"{p['container_port']}/{p['proto']} -> {p['host_ip'] or '0.0.0.0'}:{p['host_port']}"
