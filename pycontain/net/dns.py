"""A DNS server per user network: dnsmasq (Debian's dnsmasq-base), on the
network's gateway address, port 53.

    <network dir>/dns/hosts/containers   address, name, host name, aliases of
                                         every container on the network (what
                                         hosts.sync writes into /etc/hosts too)
    <network dir>/dns/dnsmasq.pid, dnsmasq.err (what it said if it failed to start)

dnsmasq answers A and PTR queries from that file, which it re-reads whenever
it changes (--hostsdir watches the directory with inotify; the file is
replaced by a rename, and dnsmasq ignores the dotted temporary file), and
forwards every other name with a dot to the host's name servers
(/etc/resolv.conf, re-read when it changes); names without a dot that it does
not know get NXDOMAIN (--domain-needed). The server starts with the network's
bridge (its first container) and stops with it (its last container, `network
rm`, `system gc`); everything here runs under the network's lock.
"""
import os
import _signal as signal
import time

from pycontain.errors import PycontainError
from pycontain.fsutil import remove_tree
from pycontain.net import config

HOSTS_FILE = "containers"


def _dir(definition: dict) -> str:
    return os.path.join(config.network_dir(definition["name"]), "dns")


def write_hosts(definition: dict, text: str) -> None:
    """Replace the server's hosts file (hosts lines) atomically."""
    hosts_dir = os.path.join(_dir(definition), "hosts")
    os.makedirs(hosts_dir, 0o700, exist_ok=True)
    tmp = os.path.join(hosts_dir, ".new")
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, os.path.join(hosts_dir, HOSTS_FILE))


def running(definition: dict) -> int:
    """The pid of this network's dnsmasq, or 0 (a pid file left by a dead one,
    or naming some other process since, does not count)."""
    directory = _dir(definition)
    try:
        with open(os.path.join(directory, "dnsmasq.pid")) as f:
            pid = int(f.read().strip() or 0)
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read()
    except (OSError, ValueError):
        return 0
    return pid if pid and f"--hostsdir={directory}/hosts".encode() in cmdline else 0


def _command(definition: dict, directory: str) -> list:
    return ["dnsmasq", "--conf-file=/dev/null", "--no-hosts", f"--hostsdir={directory}/hosts",
            f"--pid-file={directory}/dnsmasq.pid", "--log-facility=/dev/null",
            f"--listen-address={definition['gateway']}", "--bind-interfaces",
            "--domain-needed", "--no-negcache",
            # root: the hosts file lies under pycontain's 0700 data root
            "--user=root", "--group=root"]


def ensure(definition: dict) -> None:
    """Start the network's DNS server unless it runs; return once it answers
    (dnsmasq returns when its daemon has bound its socket, or has failed)."""
    if running(definition):
        return
    directory = _dir(definition)
    if not os.path.exists(os.path.join(directory, "hosts", HOSTS_FILE)):
        write_hosts(definition, "")
    err = os.open(os.path.join(directory, "dnsmasq.err"),
                  os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    try:
        pid = os.posix_spawnp("dnsmasq", _command(definition, directory),
                              {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
                              file_actions=[(os.POSIX_SPAWN_DUP2, null, 0),
                                            (os.POSIX_SPAWN_DUP2, null, 1),
                                            (os.POSIX_SPAWN_DUP2, err, 2)],
                              setsid=True, setsigmask=[],
                              setsigdef=[signal.SIGTERM, signal.SIGINT, signal.SIGHUP,
                                         signal.SIGPIPE])
    except FileNotFoundError:
        raise PycontainError("dnsmasq is needed for name resolution on user networks: install "
                             "it (apt-get install dnsmasq-base)") from None
    finally:
        os.close(err)
        os.close(null)
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    if code != 0:
        with open(os.path.join(directory, "dnsmasq.err")) as f:
            reason = (f.read().strip().splitlines() or [f"exit status {code}"])[-1]
        stop(definition)
        raise PycontainError(f"cannot start the DNS server of network {definition['name']}: "
                             f"{reason.removeprefix('dnsmasq: ')}")


def stop(definition: dict) -> None:
    """Stop the network's DNS server, if it runs, and remove its files."""
    directory = _dir(definition)
    if not os.path.exists(directory):
        return
    pid = running(definition)
    if pid:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while running(definition) and time.monotonic() < deadline:
            time.sleep(0.005)
        if running(definition):
            os.kill(pid, signal.SIGKILL)
    remove_tree(directory)
