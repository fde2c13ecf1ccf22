"""The default seccomp profile, resolved as for a container (seccomp.to_oci),
against what docker's default profile does on x86_64 (moby/profiles seccomp
v0.2.3, 2026), written out below as a table of its semantics: the calls it
allows whatever the capabilities, the calls each capability adds, and the
calls allowed for some arguments only. Every syscall name either side knows
is asked with probe arguments; the answers must be docker's."""
import json

import pytest

from pycontain.oci.security import seccomp
from pycontain.oci.security.compiler import _arg_groups

# docker allows these on x86_64 whatever the container's capabilities
DOCKER_ALLOWED = set("""
_llseek _newselect accept accept4 access adjtimex alarm bind brk cachestat capget capset
chdir chmod chown chown32 clock_adjtime clock_adjtime64 clock_getres clock_getres_time64
clock_gettime clock_gettime64 clock_nanosleep clock_nanosleep_time64 close close_range connect
copy_file_range creat dup dup2 dup3
epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait
epoll_wait_old eventfd eventfd2 execve execveat exit exit_group
faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir fchmod fchmodat
fchmodat2 fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr flock fork
fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64
futex futex_requeue futex_time64 futex_wait futex_waitv futex_wake futimesat
get_robust_list get_thread_area getcpu getcwd getdents getdents64 getegid getegid32 geteuid
geteuid32 getgid getgid32 getgroups getgroups32 getitimer getpeername getpgid getpgrp getpid
getppid getpriority getrandom getresgid getresgid32 getresuid getresuid32 getrlimit getrusage
getsid getsockname getsockopt gettid gettimeofday getuid getuid32 getxattr getxattrat
inotify_add_watch inotify_init inotify_init1 inotify_rm_watch io_cancel io_destroy
io_getevents io_pgetevents io_pgetevents_time64 io_setup io_submit ioctl ioprio_get ioprio_set
ipc kill landlock_add_rule landlock_create_ruleset landlock_restrict_self
lchown lchown32 lgetxattr link linkat listen listmount listxattr listxattrat llistxattr
lremovexattr lseek lsetxattr lstat lstat64
madvise map_shadow_stack membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod
mknodat mlock mlock2 mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open
mq_timedreceive mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink mremap mseal
msgctl msgget msgrcv msgsnd msync munlock munlockall munmap
name_to_handle_at nanosleep newfstatat open openat openat2
pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll
ppoll_time64 prctl pread64 preadv preadv2 prlimit64 process_mrelease pselect6 pselect6_time64
pwrite64 pwritev pwritev2
read readahead readlink readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg
remap_file_pages removexattr removexattrat rename renameat renameat2 restart_syscall
riscv_hwprobe rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo
rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo
sched_get_priority_max sched_get_priority_min sched_getaffinity sched_getattr sched_getparam
sched_getscheduler sched_rr_get_interval sched_rr_get_interval_time64 sched_setaffinity
sched_setattr sched_setparam sched_setscheduler sched_yield seccomp select semctl semget semop
semtimedop semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto set_robust_list
set_thread_area set_tid_address setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32
setgroups setgroups32 setitimer setpgid setpriority setregid setregid32 setresgid setresgid32
setresuid setresuid32 setreuid setreuid32 setrlimit setsid setsockopt setuid setuid32 setxattr
setxattrat shmat shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4 sigprocmask
sigreturn socketcall socketpair splice stat stat64 statfs statfs64 statmount statx symlink
symlinkat sync sync_file_range syncfs sysinfo
tee tgkill time timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64
timer_settime timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime
timerfd_settime64 times tkill truncate truncate64
ugetrlimit umask uname unlink unlinkat uretprobe utime utimensat utimensat_time64 utimes
vfork vmsplice wait4 waitid waitpid write writev
""".split()) | {"arch_prctl", "modify_ldt"}  # x86's own
# on kernels 4.8 and later (the pid namespace bounds what they reach)
DOCKER_FROM_4_8 = {"ptrace", "process_vm_readv", "process_vm_writev"}
# and what each capability adds
DOCKER_BY_CAP = {
    "CAP_SYS_ADMIN": """bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick
        lookup_dcookie lsm_get_self_attr lsm_list_modules lsm_set_self_attr mount mount_setattr
        move_mount open_tree perf_event_open quotactl quotactl_fd setdomainname sethostname
        setns syslog umount umount2 unshare""",
    "CAP_DAC_READ_SEARCH": "open_by_handle_at",
    "CAP_SYS_BOOT": "reboot",
    "CAP_SYS_CHROOT": "chroot",
    "CAP_SYS_MODULE": "delete_module init_module finit_module",
    "CAP_SYS_PACCT": "acct",
    "CAP_SYS_PTRACE": "kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace",
    "CAP_SYS_RAWIO": "iopl ioperm",
    "CAP_SYS_TIME": "settimeofday stime clock_settime clock_settime64",
    "CAP_SYS_TTY_CONFIG": "vhangup",
    "CAP_SYS_NICE": "get_mempolicy mbind set_mempolicy set_mempolicy_home_node",
    "CAP_SYSLOG": "syslog",
    "CAP_BPF": "bpf",
    "CAP_PERFMON": "perf_event_open",
}
DOCKER_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
               "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
               "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]
AF_ALG, AF_VSOCK = 38, 40
PERSONALITIES = {0, 0x0008, 0x20000, 0x20008, 0xFFFFFFFF}  # PER_LINUX(32), UNAME26 |, query
CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC = 0x20000, 0x2000000, 0x4000000, 0x8000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
NEW_NAMESPACES = (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER
                  | CLONE_NEWPID | CLONE_NEWNET)
ALLOW, EPERM, ENOSYS = ("ALLOW",), ("ERRNO", 1), ("ERRNO", 38)
# the arguments each call is asked with (the first argument only matters here)
PROBES = {"socket": [*range(64), 255, 1 << 31, (1 << 32) - 1, 1 << 40],
          "personality": [*PERSONALITIES, 1, 8 | 1, 0x40000, 0x20000 | 0x40000, 0xFFFF, 1 << 32],
          "clone": [0, 0x3D0F00, 0x1200011, *(1 << b for b in range(64))]}


def docker(name: str, arg0: int, caps: set) -> tuple:
    """What docker's default profile does with name(arg0, ...) on x86_64 (kernel >= 4.8)."""
    if name in DOCKER_ALLOWED or name in DOCKER_FROM_4_8:
        return ALLOW
    if any(name in DOCKER_BY_CAP[cap].split() for cap in caps if cap in DOCKER_BY_CAP):
        return ALLOW
    if name == "socket":
        return EPERM if arg0 in (AF_ALG, AF_VSOCK) else ALLOW
    if name == "personality":
        return ALLOW if arg0 in PERSONALITIES else EPERM
    if name == "clone":
        return EPERM if arg0 & NEW_NAMESPACES else ALLOW
    if name == "clone3":
        return ENOSYS  # its flags are in memory a filter cannot read
    return EPERM


def _holds(cond: dict, args: list) -> bool:
    value, datum, two = args[cond["index"]], cond["value"], cond.get("valueTwo", 0)
    return {"SCMP_CMP_NE": value != datum, "SCMP_CMP_LT": value < datum,
            "SCMP_CMP_LE": value <= datum, "SCMP_CMP_EQ": value == datum,
            "SCMP_CMP_GE": value >= datum, "SCMP_CMP_GT": value > datum,
            "SCMP_CMP_MASKED_EQ": value & datum == two}[cond["op"]]


def _verdict(action: str, errno) -> tuple:
    if action == "SCMP_ACT_ALLOW":
        return ALLOW
    assert action == "SCMP_ACT_ERRNO", action
    return ("ERRNO", 1 if errno is None else errno)


def ours(section: dict, name: str, args: list) -> tuple:
    """What the resolved OCI section does with name(*args), as the compiler
    puts its rules: a rule's conditions all hold (or any, for one argument
    tested twice); rules that disagree for the same call are an error."""
    found = {_verdict(r["action"], r.get("errnoRet")) for r in section["syscalls"]
             if name in r["names"] and any(all(_holds(c, args) for c in group)
                                           for group in _arg_groups(r.get("args") or []))}
    assert len(found) <= 1, (name, args, found)
    return found.pop() if found else _verdict(section["defaultAction"],
                                              section.get("defaultErrnoRet"))


def default_profile() -> dict:
    with open(seccomp.DEFAULT) as f:
        return json.load(f)


CAP_SETS = {"none": [], "docker's": DOCKER_CAPS,
            **{f"docker's + {cap}": DOCKER_CAPS + [cap] for cap in DOCKER_BY_CAP}}


@pytest.mark.parametrize("caps", CAP_SETS.values(), ids=CAP_SETS.keys())
def test_default_profile_answers_as_docker_on_x86_64(caps, monkeypatch):
    monkeypatch.setattr(seccomp, "_kernel", lambda: (6, 1))
    section = seccomp.to_oci(default_profile(), caps, "x86_64")
    assert section["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    named = {n for rule in section["syscalls"] for n in rule["names"]}
    known = DOCKER_ALLOWED | DOCKER_FROM_4_8 | set(PROBES) | {"clone3", "keyctl", "io_uring_setup"}
    known |= {n for names in DOCKER_BY_CAP.values() for n in names.split()}
    wrong = {}
    for name in sorted(named | known):
        for arg0 in PROBES.get(name, [0]):
            args = [arg0, 0, 0, 0, 0, 0]
            if ours(section, name, args) != docker(name, arg0, set(caps)):
                wrong.setdefault(name, []).append((hex(arg0), ours(section, name, args)))
    assert wrong == {}


def test_ptrace_needs_a_4_8_kernel_or_the_capability(monkeypatch):
    monkeypatch.setattr(seccomp, "_kernel", lambda: (4, 4))
    section = seccomp.to_oci(default_profile(), DOCKER_CAPS, "x86_64")
    assert ours(section, "ptrace", [0] * 6) == EPERM
    section = seccomp.to_oci(default_profile(), DOCKER_CAPS + ["CAP_SYS_PTRACE"], "x86_64")
    assert ours(section, "ptrace", [0] * 6) == ALLOW


@pytest.mark.parametrize("machine,own,clone_arg", [
    ("x86_64", {"arch_prctl", "modify_ldt"}, 0),
    ("aarch64", {"arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint",
                 "cacheflush", "set_tls"}, 0),
    ("ppc64le", {"sync_file_range2", "swapcontext"}, 0),
    ("riscv64", {"riscv_flush_icache"}, 0),
    ("s390x", {"s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"}, 1),
])
def test_each_architecture_gets_its_own_calls_and_clone_rule(machine, own, clone_arg):
    """s390's clone takes the stack first and the flags second (docker's s390 rule)."""
    arch_only = {"arch_prctl", "modify_ldt", "arm_fadvise64_64", "arm_sync_file_range",
                 "sync_file_range2", "breakpoint", "cacheflush", "set_tls", "swapcontext",
                 "riscv_flush_icache", "s390_pci_mmio_read", "s390_pci_mmio_write",
                 "s390_runtime_instr"}
    section = seccomp.to_oci(default_profile(), DOCKER_CAPS, machine)
    allowed = {n for rule in section["syscalls"] if rule["action"] == "SCMP_ACT_ALLOW"
               and not rule.get("args") for n in rule["names"]}
    assert allowed & arch_only == own
    args = [0] * 6
    args[clone_arg] = CLONE_NEWUSER
    assert ours(section, "clone", args) == EPERM
    args[clone_arg], args[1 - clone_arg] = 0x1200011, CLONE_NEWUSER
    assert ours(section, "clone", args) == ALLOW
    with_admin = seccomp.to_oci(default_profile(), DOCKER_CAPS + ["CAP_SYS_ADMIN"], machine)
    args[clone_arg] = CLONE_NEWUSER
    assert ours(with_admin, "clone", args) == ALLOW


def test_every_architecture_in_the_arch_map_is_one_the_engine_knows():
    natives = {native for native, _ in seccomp.MACHINES.values()}
    assert {e["architecture"] for e in default_profile()["archMap"]} <= natives



def test_includes_and_excludes_read_the_kernel_version_as_docker_does(monkeypatch):
    profile = {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["new"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "5.10"}},
        {"names": ["old"], "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": "5.10"}}]}
    for kernel, allowed in (((5, 4), ["old"]), ((5, 10), ["new"]), ((6, 1), ["new"])):
        monkeypatch.setattr(seccomp, "_kernel", lambda: kernel)
        names = [n for rule in seccomp.to_oci(profile, [], "x86_64")["syscalls"]
                 for n in rule["names"]]
        assert names == allowed, kernel
