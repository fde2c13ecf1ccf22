"""The /etc/hostname, /etc/hosts and /etc/resolv.conf a container gets."""
import os

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


def resolv_conf(text: str) -> str:
    """resolv.conf text without loopback name servers (unreachable inside)."""
    def loopback_server(line):
        words = line.split()
        return words[:1] == ["nameserver"] and len(words) > 1 and (
            words[1].startswith("127.") or words[1] == "::1")
    return "".join(ln + "\n" for ln in text.splitlines() if not loopback_server(ln))


def host_network_files() -> dict:
    """{container path: host path} of the host's own name files (those that
    exist), which a process sharing the host's network sees as they are."""
    return {path: os.path.realpath(path) for path in HOST_NETWORK_FILES
            if os.path.isfile(path)}


def write_host_files(directory: str, hostname: str, network: str) -> dict:
    """Write the three files into directory; return {container path: host path}.

    With the host's network the container sees copies of the host's own files.
    """
    if network == "host":
        hosts, resolv = (_read(path) for path in HOST_NETWORK_FILES)
    else:
        hosts, resolv = HOSTS + f"127.0.1.1\t{hostname}\n", resolv_conf(_read("/etc/resolv.conf"))
    files = {}
    for dest, text in (("/etc/hostname", hostname + "\n"), ("/etc/hosts", hosts),
                       ("/etc/resolv.conf", resolv)):
        path = os.path.join(directory, os.path.basename(dest))
        write_new(path, text.encode(), 0o644)
        files[dest] = path
    return files
