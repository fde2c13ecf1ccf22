"""InitContext: what the container's init does besides what the spec says.

The spec says what the container is; the context says how this caller wants
it built (nsinit.container_main reads it, process.spawn fills the stdio,
console and seccomp fields). A plain class with __slots__, not a dataclass:
importing dataclasses costs ~12 ms, and this module is on every start path.

A caller whose init does more than a container's subclasses it: its own
fields (FIELDS) and its own version of the init's replaceable steps,
`process_to_run` and `build_rootfs`; copies keep the subclass.
"""


class InitContext:
    """The init's context. Every field is optional (its default does nothing):

    rootfs (str)          the directory the root file system is built on; None:
                          keep the current root (an exec into a container)
    overlay (dict)        the overlay mounted on rootfs (base, lower, upper,
                          work or volatile; see rootfs.setup_rootfs), or None
    hostname (str)        set in the new UTS namespace
    loopback (bool)       bring lo up in the new network namespace
    cgroup_join (list)    [(cgroup root, tasks file)] the init writes itself
                          into before pivot_root (V1Group.self_join_files)
    setup_stdio (callable)  make fds 0-2 (set by process.spawn)
    console (tuple)       (socket fd, winsize): become a pty's owner (set by
                          process.spawn with tty)
    seccomp (bytes)       the BPF program to install; None: process.spawn
                          compiles the spec's linux.seccomp
    keep_fds (list)       fds left open past 2 (--preserve-fds, exec.fifo)
    before_exec (list)    callables run as root just before the privileges drop
    before_pivot (callable)  an OCI createContainer hook, before pivot_root
    await_start (callable)   an OCI `create`: called once set up, returns when
                             started
    after_start (callable)   an OCI startContainer hook, just before exec
    die_with_parent (bool)   killed when the thread that spawned it dies
                             (armed after the user switch, which disarms it)
    """
    FIELDS = ("rootfs", "overlay", "hostname", "loopback", "cgroup_join", "setup_stdio",
              "console", "seccomp", "keep_fds", "before_exec", "before_pivot", "await_start",
              "after_start", "die_with_parent")
    __slots__ = FIELDS

    def __init__(self, rootfs=None, overlay=None, hostname=None, loopback=False,
                 cgroup_join=(), setup_stdio=None, console=None, seccomp=None, keep_fds=(),
                 before_exec=(), before_pivot=None, await_start=None, after_start=None,
                 die_with_parent=False):
        self.rootfs, self.overlay, self.hostname = rootfs, overlay, hostname
        self.loopback, self.cgroup_join, self.setup_stdio = loopback, cgroup_join, setup_stdio
        self.console, self.seccomp, self.keep_fds = console, seccomp, keep_fds
        self.before_exec, self.before_pivot = before_exec, before_pivot
        self.await_start, self.after_start = await_start, after_start
        self.die_with_parent = die_with_parent

    def process_to_run(self, spec: dict) -> dict:
        """The init's first step: the process it will run (the spec's).
        Called in the new process (PID 1 of its pid namespace, if it has
        one) before anything else, while /proc is still the host's."""
        return spec["process"]

    def build_rootfs(self, spec: dict):
        """The init's root file system step: build it on self.rootfs (not
        None)."""
        from pycontain.oci.rootfs import setup_rootfs  # nsinit has imported it
        setup_rootfs(spec, self.rootfs, self.overlay, self.before_pivot)

    def copy(self, **changes) -> "InitContext":
        """A copy of this context (of the same class) with changes."""
        fields = self.fields()
        fields.update(changes)
        return type(self)(**fields)

    def fields(self) -> dict:
        """The fields, by name (marshal-able if the callables are None)."""
        return {name: getattr(self, name) for name in self.FIELDS}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.fields()!r})"
