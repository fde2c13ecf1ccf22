/*
 * pycontain's native helpers: the few Linux system calls that Python 3.11's
 * os module lacks. Each returns -1 and leaves errno set on failure; the Python
 * side (pycontain/native.py) turns that into OSError.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/bpf.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "jail_exec.h"
#include "jailcalls.h"

int pyc_unshare(int flags) { return unshare(flags); }

int pyc_setns(int fd, int nstype) { return setns(fd, nstype); }

int pyc_mount(const char *source, const char *target, const char *fstype,
              unsigned long flags, const char *data)
{
    return mount(source, target, fstype, flags, data);
}

int pyc_umount2(const char *target, int flags) { return umount2(target, flags); }

int pyc_pivot_root(const char *new_root, const char *put_old)
{
    return (int)syscall(SYS_pivot_root, new_root, put_old);
}

int pyc_sethostname(const char *name, size_t len) { return sethostname(name, len); }

int pyc_prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4,
              unsigned long a5)
{
    return prctl(option, a2, a3, a4, a5);
}

/* Load a BPF_PROG_TYPE_CGROUP_DEVICE program (count instructions, compiled by
 * pycontain/oci/cgroups/devices.py) and attach it to the cgroup v2
 * directory cgroup_fd. The attachment holds the program: its fd is closed. */
int pyc_bpf_device_attach(int cgroup_fd, const void *insns, unsigned int count)
{
    union bpf_attr attr;
    int prog, rc, err;

    memset(&attr, 0, sizeof attr);
    attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    attr.insns = (uint64_t)(uintptr_t)insns;
    attr.insn_cnt = count;
    attr.license = (uint64_t)(uintptr_t)"Apache-2.0";
    attr.expected_attach_type = BPF_CGROUP_DEVICE;
    prog = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
    if (prog < 0)
        return -1;
    memset(&attr, 0, sizeof attr);
    attr.target_fd = (uint32_t)cgroup_fd;
    attr.attach_bpf_fd = (uint32_t)prog;
    attr.attach_type = BPF_CGROUP_DEVICE;
    attr.attach_flags = BPF_F_ALLOW_MULTI;
    rc = (int)syscall(SYS_bpf, BPF_PROG_ATTACH, &attr, sizeof attr);
    err = errno;
    close(prog);
    errno = err;
    return rc;
}

/* One description loaded at a time (jail_exec.c keeps it in statics): the
 * GIL is released around these calls. */
static pthread_mutex_t jail_lock = PTHREAD_MUTEX_INITIALIZER;

/* Whether data is a sound jail description: 0, or -1. */
int pyc_jail_check(const unsigned char *data, size_t size)
{
    pthread_mutex_lock(&jail_lock);
    int rc = jail_load(data, size);
    pthread_mutex_unlock(&jail_lock);
    return rc;
}

/* Build the jail data describes in a child (jail_exec.h's jail_spawn): its
 * pid, or -1 (errno EINVAL for an unsound description). */
int pyc_jail_spawn(const unsigned char *data, size_t size, int event, int result, int log,
                   int go, int err)
{
    pthread_mutex_lock(&jail_lock);
    int rc = jail_load(data, size) ? (errno = EINVAL, -1)
             : (int)jail_spawn(event, result, log, go, err);
    int saved = errno;
    pthread_mutex_unlock(&jail_lock);
    errno = saved;
    return rc;
}
