/*
 * pycontain's native helpers: the few Linux system calls that Python 3.11's
 * os module lacks. Each returns -1 and leaves errno set on failure; the Python
 * side (pycontain/native.py) turns that into OSError.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

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
