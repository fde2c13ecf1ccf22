"""cffi build script for pycontain._native (see csrc/native.c)."""
from pathlib import Path

from cffi import FFI

ffibuilder = FFI()
ffibuilder.cdef(
    """
    int pyc_unshare(int flags);
    int pyc_setns(int fd, int nstype);
    int pyc_mount(const char *source, const char *target, const char *fstype,
                  unsigned long flags, const char *data);
    int pyc_umount2(const char *target, int flags);
    int pyc_pivot_root(const char *new_root, const char *put_old);
    int pyc_sethostname(const char *name, size_t len);
    int pyc_loopback_up(void);
    int pyc_prctl(int option, unsigned long a2, unsigned long a3,
                  unsigned long a4, unsigned long a5);
    int pyc_seccomp_load(const unsigned char *prog, size_t len);
    int pyc_bpf_device_attach(int cgroup_fd, const void *insns, unsigned int count);
    int pyc_jail_check(const unsigned char *data, size_t size);
    int pyc_jail_spawn(const unsigned char *data, size_t size, int event, int result,
                       int log, int go, int err);
    """
)
HERE = Path(__file__).parent
JAIL_SOURCES = ("jail_check.c", "jail_exec.c", "jail_root.c")  # the jail executor
ffibuilder.set_source(
    "pycontain._native",
    (HERE / "native.c").read_text(),
    sources=[str(HERE / name) for name in JAIL_SOURCES],
    include_dirs=[str(HERE)],
    extra_compile_args=["-O2", "-Wall"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
