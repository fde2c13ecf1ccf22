"""Each runc command: read its flags, call the lifecycle/manage/exec code, print."""
import sys

from pycontain.errors import PycontainError
from pycontain.jsonio import dumps
from pycontain.runc.state import Container, Missing, RuncError, UsageError

FEATURES = {
    "ociVersionMin": "1.0.0", "ociVersionMax": "1.0.2",
    "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart",
              "poststop"],
    "mountOptions": ["bind", "rbind", "ro", "rw", "nosuid", "suid", "nodev", "dev", "noexec",
                     "exec", "strictatime", "private", "rprivate", "slave", "rslave"],
    "linux": {"namespaces": ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"],
              "cgroup": {"v1": True, "v2": True, "systemd": False, "systemdUser": False},
              "seccomp": {"enabled": True}},
}
UPDATE_FLAGS = {  # flag -> (resource section, key, type)
    "memory": ("memory", "limit", "size"), "memory_swap": ("memory", "swap", "size"),
    "memory_reservation": ("memory", "reservation", "size"),
    "cpu_shares": ("cpu", "shares", "int"), "cpu_quota": ("cpu", "quota", "int"),
    "cpu_period": ("cpu", "period", "int"), "cpuset_cpus": ("cpu", "cpus", "str"),
    "cpuset_mems": ("cpu", "mems", "str"), "pids_limit": ("pids", "limit", "int"),
    "blkio_weight": ("blockIO", "weight", "int"),
}


def _signal(text: str) -> int:
    from pycontain.oci.signals import parse_signal
    return parse_signal(text)


def _number(text: str) -> int:
    if text.strip().lstrip("-").isdigit():
        return int(text)
    raise RuncError(f"invalid number {text!r}")


def _size(text: str) -> int:
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    t = text.strip().lower().rstrip("b")
    if t and t[-1] in units and t[:-1].isdigit():
        return int(t[:-1]) * units[t[-1]]
    if t.lstrip("-").isdigit():
        return int(t)
    raise RuncError(f"invalid size {text!r}")


def _resources(args) -> dict:
    from pycontain.runc import specshape
    res = {}
    if args.resources:
        from pycontain.jsonio import parse
        try:
            if args.resources == "-":
                data = sys.stdin.buffer.read()
            else:
                with open(args.resources, "rb") as f:
                    data = f.read()
        except OSError as exc:
            raise RuncError(f"cannot read resources {args.resources}: {exc.strerror}") from None
        res = specshape.check(parse(data, "resources"), specshape.RESOURCES, "resources")
    for flag, (section, key, kind) in UPDATE_FLAGS.items():
        value = getattr(args, flag)
        if value is not None:
            convert = {"size": _size, "int": _number, "str": str}[kind]
            res.setdefault(section, {})[key] = convert(value)
    return specshape.check(res, specshape.RESOURCES, "resources")  # the flags' values too


def _create_opts(args, keep_master=False):
    from pycontain.runc import lifecycle
    return lifecycle.Options(args.bundle, args.pid_file, args.console_socket,
                             args.preserve_fds, args.systemd_cgroup, keep_master)


def _run(args, root, log) -> int:
    from pycontain.runc import lifecycle, manage
    from pycontain.runc.execproc import wait_foreground
    from pycontain.runc.starting import start
    ctr, master = lifecycle.create(root, args.id, _create_opts(args, not args.detach), log)
    try:
        start(root, args.id, log)
    except PycontainError:
        manage.delete(Container.load(root, args.id), force=True, log=log)
        raise
    if args.detach:
        return 0
    code = wait_foreground(ctr.pid, master)
    if not args.keep:
        manage.delete(Container.load(root, args.id), force=True, log=log)
    return code


def dispatch(args, root: str, log) -> int:
    """Run one command; its exit status. Modules load per command: `state` needs few."""
    command = args.command
    if command in ("checkpoint", "restore", "events"):
        raise RuncError(f"{command} is not supported by pycontain-runc")
    if command == "features":
        print(dumps(FEATURES, indent=2))
        return 0
    if command == "list":
        from pycontain.runc import manage
        states = manage.listing(root)
        if args.quiet:
            print("\n".join(s["id"] for s in states))
        elif args.format == "json":
            print(dumps(states, indent=None))
        else:
            print("ID   PID   STATUS   BUNDLE   CREATED   OWNER")
            for s in states:
                print(f"{s['id']}   {s['pid']}   {s['status']}   {s['bundle']}   "
                      f"{s['created']}   {s['owner'] or 'root'}")
        return 0
    if getattr(args, "id", None) is None:
        raise UsageError(f"{command}: a container id is required")
    if command == "run":
        return _run(args, root, log)
    if command == "create":
        from pycontain.runc import lifecycle
        lifecycle.create(root, args.id, _create_opts(args), log)
        return 0
    if command == "start":
        from pycontain.runc.starting import start
        start(root, args.id, log)
        return 0
    if command == "exec":
        if not args.process and not args.args:
            raise UsageError("exec: no command given")
        from pycontain.runc.execproc import ExecRequest, execute
        req = ExecRequest(args.process, args.args, args.env, args.cwd, args.user, args.tty,
                          args.detach, args.pid_file, args.console_socket, args.preserve_fds,
                          args.additional_gids, args.no_new_privs, args.cap)
        return execute(root, args.id, req)
    try:
        ctr = Container.load(root, args.id)
    except Missing:
        if command != "delete" or not args.force:
            raise
        Container(root, args.id).remove_dir()  # as runc: what a create cut short left, if any
        return 0  # and a forced delete of no container is done
    if command != "state":
        from pycontain.runc import manage
    if command == "state":
        print(dumps(ctr.oci_state(), indent=2))
    elif command == "kill":
        manage.kill(ctr, _signal(args.signal or "TERM"), args.all)
    elif command == "delete":
        manage.delete(ctr, args.force, log)
    elif command in ("pause", "resume"):
        manage.pause(ctr, command == "pause")
    elif command == "ps":
        print(manage.ps(ctr, args.format, args.ps_args))
    elif command == "update":
        manage.update(ctr, _resources(args))
    return 0
