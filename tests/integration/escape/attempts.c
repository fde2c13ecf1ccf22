/*
 * Escape attempts run inside a container by tests/integration/test_escape.py.
 * `attempts NAME [ARG]` performs one attempt for real and exits 0 only if it
 * worked ("ESCAPED"); otherwise it prints why it failed and exits 1. Each
 * attempt is written so that even a success would leave the host as it was.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <linux/reboot.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static int check(long rc, const char *what)
{
    if (rc < 0) {
        printf("blocked: %s: %s\n", what, strerror(errno));
        return 1;
    }
    printf("ESCAPED: %s\n", what);
    return 0;
}

static int write_file(const char *path, const char *data)
{
    int fd = open(path, O_WRONLY);
    if (fd < 0)
        return check(-1, path);
    return check(write(fd, data, strlen(data)), path);
}

static int read_some(const char *path)
{
    char buf[512];
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return check(-1, path);
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n == 0) {
        printf("blocked: %s reads empty\n", path);
        return 1;
    }
    return check(n, path);
}

static int shocker(void)
{
    /* open_by_handle_at on inode 2 (the root of an ext4 file system) through
     * a bind-mounted host file, as the 2014 "shocker" exploit did */
    struct { unsigned int bytes; int type; unsigned char h[8]; } fh = {8, 1, {2, 0, 0, 0, 0, 0, 0, 0}};
    int mfd = open("/etc/hosts", O_RDONLY);
    if (mfd < 0)
        return check(-1, "open /etc/hosts");
    return check(syscall(SYS_open_by_handle_at, mfd, &fh, O_RDONLY), "open_by_handle_at");
}

static int mknod_block(const char *majmin)
{
    unsigned maj = 0, min = 0;
    char buf[512];
    sscanf(majmin, "%u:%u", &maj, &min);
    if (mknod("/dev/escape-disk", S_IFBLK | 0600, makedev(maj, min)) < 0 &&
        mknod("/tmp/escape-disk", S_IFBLK | 0600, makedev(maj, min)) < 0)
        return check(-1, "mknod");
    int fd = open("/dev/escape-disk", O_RDONLY);
    if (fd < 0)
        fd = open("/tmp/escape-disk", O_RDONLY);
    if (fd < 0)
        return check(-1, "open the block device");
    return check(read(fd, buf, sizeof(buf)), "read the host disk");
}

static int exe_scan(const char *ino_text)
{
    /* CVE-2019-5736: keep trying to open /proc/PID/exe of every other process
     * (the engine entering our namespaces) and report an open that resolves
     * to the host interpreter (dev:ino given); never writes to it */
    unsigned long want = strtoul(ino_text, NULL, 10);
    int opened_host = 0;
    for (int round = 0; round < 4000 && !opened_host; round++) {
        for (int pid = 2; pid < 64; pid++) {
            char path[64];
            struct stat st;
            if (pid == getpid())
                continue;
            snprintf(path, sizeof(path), "/proc/%d/exe", pid);
            int fd = open(path, O_PATH);
            if (fd < 0)
                continue;
            if (fstat(fd, &st) == 0 && st.st_ino == want)
                opened_host = 1;
            close(fd);
        }
        usleep(500);
    }
    if (opened_host) {
        printf("ESCAPED: opened the host interpreter through /proc/PID/exe\n");
        return 0;
    }
    printf("blocked: never opened the host interpreter\n");
    return 1;
}

int main(int argc, char **argv)
{
    const char *a = argc > 1 ? argv[1] : "";
    const char *arg = argc > 2 ? argv[2] : "";
    char c = 'x';

    if (!strcmp(a, "mount"))
        return check(mount("pycontain-escape", "/tmp", "tmpfs", 0, NULL), "mount tmpfs");
    if (!strcmp(a, "remount-proc"))
        return check(mount(NULL, "/proc/sys", NULL, MS_REMOUNT | MS_BIND, NULL), "remount /proc/sys rw");
    if (!strcmp(a, "remount-sys"))
        return check(mount(NULL, "/sys", NULL, MS_REMOUNT, NULL), "remount /sys rw");
    if (!strcmp(a, "mount-proc"))
        return check(mount("proc", "/tmp", "proc", 0, NULL), "mount a new proc");
    if (!strcmp(a, "unshare-user"))
        return check(unshare(CLONE_NEWUSER), "unshare(CLONE_NEWUSER)");
    if (!strcmp(a, "unshare-mount"))
        return check(unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)");
    if (!strcmp(a, "clone-userns")) {
        long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
        if (pid == 0)
            _exit(0);
        return check(pid, "clone(CLONE_NEWUSER)");
    }
    if (!strcmp(a, "setns"))
        return check(setns(open("/proc/self/ns/mnt", O_RDONLY), 0), "setns");
    if (!strcmp(a, "keyctl"))
        return check(syscall(SYS_keyctl, 1 /* JOIN_SESSION_KEYRING */, "escape"), "keyctl");
    if (!strcmp(a, "add_key"))
        return check(syscall(SYS_add_key, "user", "escape", "x", 1, -3), "add_key");
    if (!strcmp(a, "bpf")) {
        union bpf_attr attr;
        memset(&attr, 0, sizeof(attr));
        attr.map_type = BPF_MAP_TYPE_ARRAY;
        attr.key_size = 4;
        attr.value_size = 4;
        attr.max_entries = 1;
        return check(syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof(attr)), "bpf");
    }
    if (!strcmp(a, "module"))
        return check(syscall(SYS_finit_module, open("/bin/busybox", O_RDONLY), "", 0), "finit_module");
    if (!strcmp(a, "delete-module"))
        return check(syscall(SYS_delete_module, "pycontain_none", O_NONBLOCK), "delete_module");
    if (!strcmp(a, "reboot"))
        return check(syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2,
                             LINUX_REBOOT_CMD_CAD_ON, NULL), "reboot");
    if (!strcmp(a, "kexec"))
        return check(syscall(SYS_kexec_load, 0, 0, NULL, 0), "kexec_load");
    if (!strcmp(a, "sysrq"))
        return write_file("/proc/sysrq-trigger", "h");
    if (!strcmp(a, "proc-sys"))
        return write_file("/proc/sys/kernel/core_pattern", arg);
    if (!strcmp(a, "sys-write"))
        return write_file("/sys/kernel/mm/transparent_hugepage/enabled", arg);
    if (!strcmp(a, "kcore"))
        return read_some("/proc/kcore");
    if (!strcmp(a, "proc-keys"))
        return read_some("/proc/keys");
    if (!strcmp(a, "mknod-block"))
        return mknod_block(arg);
    if (!strcmp(a, "shocker"))
        return shocker();
    if (!strcmp(a, "cgroup-mount"))
        return check(mount("cgroup", "/tmp", "cgroup", 0, "rdma"), "mount cgroup v1 (release_agent)");
    if (!strcmp(a, "release-agent"))
        return write_file(arg, "/tmp/pycontain-escape-agent");
    if (!strcmp(a, "pivot_root"))
        return check(syscall(SYS_pivot_root, "/tmp", "/tmp"), "pivot_root");
    if (!strcmp(a, "chroot-escape"))
        return check(syscall(SYS_open_tree, AT_FDCWD, "/", 1), "open_tree");
    if (!strcmp(a, "userfaultfd"))
        return check(syscall(SYS_userfaultfd, 0), "userfaultfd");
    if (!strcmp(a, "io_uring"))
        return check(syscall(SYS_io_uring_setup, 1, calloc(1, 256)), "io_uring_setup");
    if (!strcmp(a, "perf")) {
        struct perf_event_attr pe;
        memset(&pe, 0, sizeof(pe));
        pe.size = sizeof(pe);
        pe.type = PERF_TYPE_SOFTWARE;
        pe.config = PERF_COUNT_SW_CPU_CLOCK;
        return check(syscall(SYS_perf_event_open, &pe, 0, -1, -1, 0), "perf_event_open");
    }
    if (!strcmp(a, "swapon"))
        return check(syscall(SYS_swapon, "/tmp/none", 0), "swapon");
    if (!strcmp(a, "personality"))
        return check(personality(READ_IMPLIES_EXEC), "personality(READ_IMPLIES_EXEC)");
    if (!strcmp(a, "settime")) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return check(clock_settime(CLOCK_REALTIME, &ts), "clock_settime");
    }
    if (!strcmp(a, "iopl"))
        return check(syscall(SYS_iopl, 3), "iopl");
    if (!strcmp(a, "ptrace"))
        return check(ptrace(PTRACE_ATTACH, atoi(arg), NULL, NULL), "ptrace a host process");
    if (!strcmp(a, "kill-host"))
        return check(kill(atoi(arg), 0), "signal a host process");
    if (!strcmp(a, "tiocsti"))
        return check(ioctl(0, TIOCSTI, &c), "TIOCSTI");
    if (!strcmp(a, "exe-scan"))
        return exe_scan(arg);
    if (!strcmp(a, "euid")) {
        printf("euid=%d\n", (int)geteuid());
        return 0;
    }
    fprintf(stderr, "attempts: unknown attempt %s\n", a);
    return 2;
}
