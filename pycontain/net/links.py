"""Bridges, veth pairs, addresses and routes, through iproute2's `ip -batch`.

Each step is one `ip` process (~1.5 ms) reading a batch of commands: netlink
libraries for Python cost 50-150 ms to import, more than a container start.
A container's side is set up by an `ip` started from inside its network
namespace: the calling thread enters it only to spawn that process.
"""
import os

from pycontain import native
from pycontain.errors import PycontainError

NO_DEVICE = ("Cannot find device", "No such device")  # the latter: gone meanwhile


def _spawn_ip(lines: list, force: bool) -> tuple:
    """(exit status, stderr) of `ip [-force] -batch -` fed lines, without the
    subprocess module (its import costs more than the command)."""
    script = "".join(line + "\n" for line in lines).encode()
    in_r, in_w = os.pipe()
    err_r, err_w = os.pipe()
    null = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
    try:
        pid = os.posix_spawnp("ip", ["ip", *(["-force"] if force else []), "-batch", "-"],
                              {"PATH": os.environ.get("PATH") or "/usr/sbin:/usr/bin:/sbin:/bin"},
                              file_actions=[(os.POSIX_SPAWN_DUP2, in_r, 0),
                                            (os.POSIX_SPAWN_DUP2, null, 1),
                                            (os.POSIX_SPAWN_DUP2, err_w, 2)])
    except FileNotFoundError:
        raise PycontainError("iproute2 is needed for bridge networks: install it "
                             "(apt-get install iproute2)") from None
    finally:
        for fd in (in_r, err_w, null):
            os.close(fd)
    try:
        os.write(in_w, script)  # a few hundred bytes: well within a pipe's buffer
    finally:
        os.close(in_w)
    with os.fdopen(err_r, "rb") as err:
        stderr = err.read().decode(errors="replace")
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), stderr


def _ip(lines: list, ignore: tuple = ()) -> None:
    """Run the commands; an error whose message contains one of `ignore` is
    not one (with `ignore`, every command runs even after one failed)."""
    code, stderr = _spawn_ip(lines, force=bool(ignore))
    errors = [ln for ln in stderr.splitlines() if ln.strip() and not ln.startswith(
        "Command failed") and not any(text in ln for text in ignore)]
    if code != 0 and (errors or not ignore):
        raise PycontainError("cannot set up the network: " + (errors or ["ip failed"])[0])


def _ip_in(pid: int, lines: list, ignore: tuple = ()) -> None:
    """_ip from inside pid's network namespace."""
    own = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        theirs = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            native.setns(theirs, native.CLONE_NEWNET)
        finally:
            os.close(theirs)
        try:
            _ip(lines, ignore)
        finally:
            native.setns(own, native.CLONE_NEWNET)
    finally:
        os.close(own)


def _sysctl(key: str, value: str) -> None:
    with open("/proc/sys/net/" + key, "w") as f:
        f.write(value)


def ensure_bridge(definition: dict) -> bool:
    """Create the network's bridge with its gateway address, unless it exists;
    True if it was created.

    Also turns on IPv4 forwarding (containers reach each other's published
    ports and the outside through the host) and route_localnet on the bridge
    (so 127.0.0.1:PORT can be DNATed to a container).
    """
    bridge = definition["bridge"]
    prefix = prefix_length(definition)
    if existing([bridge]):
        return False
    _ip([f"link add {bridge} type bridge",
         f"addr add {definition['gateway']}/{prefix} dev {bridge}",
         f"link set {bridge} up"])
    _sysctl("ipv4/ip_forward", "1")
    _sysctl(f"ipv4/conf/{bridge}/route_localnet", "1")
    return True


def prefix_length(definition: dict) -> int:
    """The network's prefix length (its subnet is stored as ADDRESS/LENGTH)."""
    return int(definition["subnet"].rpartition("/")[2])


def delete_links(*names: str) -> None:
    """Delete links (bridges, veths) that exist; the others are no error."""
    if names:
        _ip([f"link del {name}" for name in names], ignore=NO_DEVICE)


def delete_link(name: str) -> None:
    delete_links(name)


def existing(names) -> list:
    """Those of names that are links in our network namespace: /proc/net/dev
    follows the reading thread's namespace (/sys/class/net that of sysfs's mount)."""
    with open("/proc/thread-self/net/dev") as f:
        present = {ln.split(":", 1)[0].strip() for ln in f.read().splitlines()[2:]}
    return [n for n in names if n in present]


def _await_own_namespace(pid: int, timeout: float = 5.0) -> None:
    """Wait until pid is in a network namespace other than ours: a container's
    first process creates its namespaces itself just after it is forked
    (oci.process), and a veth peer sent to it before would land here."""
    import time
    ours = os.stat("/proc/thread-self/ns/net").st_ino
    deadline = time.monotonic() + timeout
    while True:
        try:
            if os.stat(f"/proc/{pid}/ns/net").st_ino != ours:
                return
        except FileNotFoundError:
            raise PycontainError("the container's process exited before its network was "
                                 "set up") from None
        if time.monotonic() > deadline:
            raise PycontainError("the container's process did not create its network "
                                 "namespace in time")
        time.sleep(0.0002)


def plug_veth(pid: int, veth: str, ifname: str, mac: str, bridge: str, address: str,
              prefix: int, gateway: str | None) -> None:
    """A veth pair: `veth` on the bridge, its peer `ifname` (MAC `mac`) in pid's
    network namespace with address/prefix, up, and (if gateway) the default route."""
    _await_own_namespace(pid)
    if existing([veth]):
        # the same container's last run: its namespace is gone, but the kernel
        # frees the pair in a worker, which a quick restart can overtake
        delete_links(veth)
    _ip([f"link add {veth} master {bridge} up type veth peer name {ifname} address {mac} "
         f"netns {pid}",
         f"link set {veth} type bridge_slave hairpin on"])  # hairpin: reach own published ports
    inner = [f"addr add {address}/{prefix} dev {ifname}", f"link set {ifname} up"]
    _ip_in(pid, inner + ([f"route add default via {gateway}"] if gateway else []))


def unplug_in(pid: int, ifname: str) -> None:
    """Delete the interface ifname inside pid's network namespace (its veth peer goes too)."""
    _ip_in(pid, [f"link del {ifname}"], ignore=NO_DEVICE)
