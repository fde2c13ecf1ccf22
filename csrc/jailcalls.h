/* System calls of a jail's set-up that both the cffi extension (native.c)
 * and the jail executor (jail_exec.c) make. Each returns -1 and leaves
 * errno set on failure. */
#ifndef PYCONTAIN_JAILCALLS_H
#define PYCONTAIN_JAILCALLS_H
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Bring the loopback interface of the current network namespace up. */
static int pyc_loopback_up(void)
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
static int pyc_seccomp_load(const unsigned char *prog, size_t len)
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

#endif
