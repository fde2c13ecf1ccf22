/*
 * pycontain's native helpers: the few Linux system calls that Python 3.11's
 * os module lacks. Each returns -1 and leaves errno set on failure; the Python
 * side (pycontain/native.py) turns that into OSError.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

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

/* Bring the loopback interface of the current network namespace up. */
int pyc_loopback_up(void)
{
    struct ifreq ifr;
    int err, fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    memset(&ifr, 0, sizeof(ifr));
    strcpy(ifr.ifr_name, "lo");
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
        ifr.ifr_flags |= IFF_UP;
        if (ioctl(fd, SIOCSIFFLAGS, &ifr) == 0) {
            close(fd);
            return 0;
        }
    }
    err = errno;
    close(fd);
    errno = err;
    return -1;
}

/* Install a seccomp filter given as a raw BPF program (struct sock_filter[]),
 * as exported by libseccomp; the caller has set no_new_privs or holds
 * CAP_SYS_ADMIN. */
int pyc_seccomp_load(const unsigned char *prog, size_t len)
{
    struct sock_fprog fprog;

    if (len == 0 || len % sizeof(struct sock_filter) != 0 || len / sizeof(struct sock_filter) > 0xffff) {
        errno = EINVAL;
        return -1;
    }
    fprog.len = (unsigned short)(len / sizeof(struct sock_filter));
    fprog.filter = (struct sock_filter *)prog;
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog);
}
