"""The /etc/hostname, /etc/hosts and /etc/resolv.conf a container gets."""
import os

from pycontain.engine.names import validate_hostname
from pycontain.errors import PycontainError
from pycontain.fsutil import write_new

HOSTS = ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
         "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n"
         "ff02::2\tip6-allrouters\n")
HOST_NETWORK_FILES = ("/etc/hosts", "/etc/resolv.conf")  # the host's, with its network


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def hosts_line(address: str, *names: str) -> str:
    return address + "\t" + " ".join(dict.fromkeys(n for n in names if n)) + "\n"


def hosts_text(extra_hosts: list, own: list, peers: list) -> str:
    """A container's /etc/hosts: localhost, then --add-host entries ([name,
    address] pairs), its own lines, the peers' lines (both lists of lines)."""
    return (HOSTS + "".join(hosts_line(address, name) for name, address in extra_hosts)
            + "".join(own) + "".join(dict.fromkeys(peers)))


def resolv_conf(text: str, servers=(), search=(), options=(), loopback: bool = False) -> str:
    """resolv.conf from the host's text: servers, search domains and options
    replace the host's when given ("." as a search domain: none); the host's
    loopback name servers are dropped (unreachable inside) unless loopback."""
    host = {"nameserver": [], "search": [], "options": []}
    for line in text.splitlines():
        words = line.split()
        if len(words) > 1 and words[0] in ("nameserver", "search", "domain", "options"):
            key = "search" if words[0] == "domain" else words[0]
            host[key] = host[key] + words[1:] if key != "search" else words[1:]
    host["nameserver"] = [s for s in host["nameserver"]
                          if loopback or not (s.startswith("127.") or s == "::1")]
    search = [] if list(search) == ["."] else list(search or host["search"])
    lines = [f"nameserver {s}" for s in servers or host["nameserver"]]
    lines += [f"search {' '.join(search)}"] if search else []
    lines += [f"options {' '.join(options or host['options'])}"] if options or host["options"] \
        else []
    return "".join(line + "\n" for line in lines)


def _address(text: str, flag: str, spec: str) -> str:
    import ipaddress
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise PycontainError(f"invalid {flag} {spec!r}: {text!r} is not an IP address") from None


def extra_hosts(specs: list, gateway: str) -> list:
    """--add-host NAME:ADDRESS (or NAME=ADDRESS; ADDRESS `host-gateway`: the
    network's gateway, the host as the container reaches it) as [name, address]."""
    found = []
    for spec in specs:
        name, sep, address = spec.partition("=" if "=" in spec else ":")
        if not sep or not address:
            raise PycontainError(f"invalid --add-host {spec!r}: want NAME:ADDRESS")
        validate_hostname(name, "--add-host")
        if address == "host-gateway":
            if not gateway:
                raise PycontainError(f"--add-host {spec}: host-gateway needs a bridge network")
            address = gateway
        found.append([name, _address(address, "--add-host", spec)])
    return found


def check_dns_options(opts) -> None:
    """--dns (addresses), --dns-search (domains, or `.` for none), --dns-option
    (resolv.conf options such as ndots:2), refused before anything is made."""
    for server in opts.dns:
        _address(server, "--dns", server)
    for domain in opts.dns_search:
        if domain != ".":
            validate_hostname(domain.rstrip("."), "--dns-search")
    for option in opts.dns_options:
        if not option or len(option) > 64 or not option.isprintable() or " " in option:
            raise PycontainError(f"invalid --dns-option {option!r}")


def host_network_files() -> dict:
    """{container path: host path} of the host's own name files (those that
    exist), which a process sharing the host's network sees as they are."""
    return {path: os.path.realpath(path) for path in HOST_NETWORK_FILES
            if os.path.isfile(path)}


def write_host_files(directory: str, hostname: str, network: str, opts=None,
                     servers=(), extra_hosts=()) -> dict:
    """Write the three files into directory; return {container path: host path}.

    With the host's network the container sees copies of the host's own files
    (with --add-host entries appended). opts (RunOptions): --dns, --dns-search,
    --dns-option; servers: the network's own name servers, used unless --dns.
    """
    dns, search, options = ((opts.dns, opts.dns_search, opts.dns_options) if opts is not None
                            else ((), (), ()))
    host_resolv = _read("/etc/resolv.conf")
    if network == "host":
        hosts = _read("/etc/hosts") + "".join(hosts_line(a, n) for n, a in extra_hosts)
        resolv = host_resolv if not (dns or search or options) else resolv_conf(
            host_resolv, dns, search, options, loopback=True)
    else:
        hosts = hosts_text(list(extra_hosts), [hosts_line("127.0.1.1", hostname)], [])
        resolv = resolv_conf(host_resolv, list(dns) or list(servers), search, options)
    files = {}
    for dest, text in (("/etc/hostname", hostname + "\n"), ("/etc/hosts", hosts),
                       ("/etc/resolv.conf", resolv)):
        path = os.path.join(directory, os.path.basename(dest))
        write_new(path, text.encode(), 0o644)
        files[dest] = path
    return files
