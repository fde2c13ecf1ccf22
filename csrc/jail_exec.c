/* The jail executor (see jail_exec.h; the format and the ops are
 * pycontain/fn/oneshot/describe.py's): the child runs the ops of the description
 * jail_check.c loaded, in order, and execs. The child may be a clone of a
 * multi-threaded Python process (the native module): it calls no Python and
 * only async-signal-safe libc (raw system calls for the set*id and the
 * helper's fork, static buffers, no malloc, no stdio). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "jail_exec.h"
#include "jail_parts.h"
#include "jailcalls.h"

/* Drop one capability from the bounding set (fine if it is gone already, or
 * if this kernel has no such capability). */
static int drop_bounding(unsigned long cap)
{
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0 || errno == EINVAL)
        return 0;
    int err = errno;
    if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 0)
        return 0;
    errno = err;
    return -1;
}

static int set_caps(unsigned long long effective, unsigned long long permitted,
                    unsigned long long inheritable)
{
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2] = {
        {(uint32_t)effective, (uint32_t)permitted, (uint32_t)inheritable},
        {(uint32_t)(effective >> 32), (uint32_t)(permitted >> 32), (uint32_t)(inheritable >> 32)}};
    return (int)syscall(SYS_capset, &header, data);
}

static int err_fd = -1, sigint_ignored;
static pid_t host_pid; /* ours, as the host's /proc says, read before any op */

/* Op J (pycontain.fn.jail's module doc says why): base + our host pid, a
 * uid no other running jail has (we are PID 1 of the jail's pid namespace). */
static int set_per_pid_uid(unsigned long long base)
{
    unsigned long long uid = base + (unsigned long long)host_pid;
    if (host_pid <= 1 || uid >= 0xFFFFFFFFULL) {
        errno = EINVAL;
        return -1;
    }
    return (int)syscall(SYS_setresuid, (uid_t)uid, (uid_t)uid, (uid_t)uid);
}

/* Our pid in the pid namespace of the /proc we see (the host's, before any op). */
static pid_t pid_in_proc(void)
{
    char link[32];
    ssize_t len = readlink("/proc/self", link, sizeof link - 1);
    unsigned long long pid;
    struct jail_arg arg = {link, len > 0 ? (uint32_t)len : 0};
    return len > 0 && jail_number(&arg, &pid) == 0 && pid < INT_MAX ? (pid_t)pid : 0;
}

/* Whether whoever started the jail is gone: no reader left on the error
 * pipe. Asked once the death signal is armed (again, after a set*id
 * cleared it): a starter that died before is seen here, one after kills us. */
static int starter_gone(void)
{
    struct pollfd pipe = {err_fd, POLLOUT, 0};
    if (poll(&pipe, 1, 0) == 1 && pipe.revents & POLLERR) {
        errno = ESRCH;
        return 1;
    }
    return 0;
}

static void _Noreturn fail(int code, const char *message)
{
    static char report[2048];
    char digits[21];
    jail_join(report, sizeof report, jail_decimal((unsigned)code, digits), ":", message, NULL);
    if (write(err_fd, report, strlen(report)) < 0)
        _exit(code);
    _exit(code);
}

static const char *error_text(int err)
{
    static char digits[21];
    const char *text = strerrordesc_np(err); /* untranslated: no locale, no lock */
    return text ? text : jail_decimal((unsigned)err, digits);
}

/* The exec op: argv[0] looked up on the jail's PATH as nsinit.find_executable does. */
static void _Noreturn run_exec(const struct jail_op *op)
{
    static char *args[JAIL_MAX_ARGS + 1], *env[JAIL_MAX_ARGS + 1], path[PATH_MAX],
        denied[PATH_MAX], dir[PATH_MAX], message[PATH_MAX + 64];
    unsigned long long count;
    jail_number(&op->args[1], &count); /* checked by well_formed */
    unsigned n_env = op->nargs - 2 - (unsigned)count;
    for (unsigned i = 0; i < count; i++)
        args[i] = (char *)op->args[2 + i].s;
    for (unsigned i = 0; i < n_env; i++)
        env[i] = (char *)op->args[2 + count + i].s;
    args[count] = env[n_env] = NULL;
    const char *name = op->args[0].s, *search = "/usr/bin:/bin";
    for (unsigned i = 0; i < n_env; i++)
        if (strncmp(env[i], "PATH=", 5) == 0)
            search = env[i] + 5;
    signal(SIGPIPE, SIG_DFL);
    signal(SIGXFSZ, SIG_DFL);
    signal(SIGINT, sigint_ignored ? SIG_IGN : SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL); /* the caller's thread may block some */
    denied[0] = 0;
    for (const char *at = search; at;) {
        size_t len = strcspn(at, ":");
        struct stat st;
        if (len >= sizeof dir)
            len = sizeof dir - 1;
        memcpy(dir, len ? at : ".", len ? len : 1);
        dir[len ? len : 1] = 0;
        if (strchr(name, '/') ? jail_join(path, sizeof path, name, NULL)
                              : jail_join(path, sizeof path, dir, "/", name, NULL))
            path[0] = 0;
        if (path[0] && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            if (access(path, X_OK) == 0) {
                execve(path, args, env);
                int err = errno;
                jail_join(message, sizeof message, "exec: \"", name, "\": ", error_text(err),
                          NULL);
                fail(err == ENOENT ? 127 : 126, message);
            }
            if (!denied[0])
                jail_join(denied, sizeof denied, path, NULL);
        }
        at = strchr(name, '/') || !at[len] ? NULL : at + len + 1;
    }
    if (denied[0]) {
        jail_join(message, sizeof message, "exec: \"", denied, "\": permission denied", NULL);
        fail(126, message);
    }
    jail_join(message, sizeof message, "exec: \"", name,
              strchr(name, '/') ? "\": no such file or directory"
                                : "\": executable file not found in $PATH", NULL);
    fail(127, message);
}

static int set_groups(const struct jail_op *op)
{
    static gid_t groups[JAIL_MAX_ARGS];
    unsigned long long gid;
    for (unsigned i = 0; i < op->nargs; i++) {
        jail_number(&op->args[i], &gid); /* checked by well_formed */
        groups[i] = (gid_t)gid;
    }
    return (int)syscall(SYS_setgroups, op->nargs, groups);
}

static int run_op(const struct jail_op *op)
{
    const struct jail_arg *a = op->args;
    unsigned long long n[3] = {0, 0, 0};
    unsigned min, max;
    const char *numeric = "", *nullable;
    jail_op_shape(op->code, &min, &max, &numeric, &nullable);
    for (int i = 0; strcmp(numeric, ALL_NUMERIC) && numeric[i] && i < 3; i++)
        jail_number(&a[numeric[i] - '0'], &n[i]); /* checked by well_formed */
    unsigned long long x = n[0], y = n[1], z = n[2];
    switch (op->code) {
    case 'U': return unshare((int)x);
    case 'p': return root_private();
    case 'Q': return root_tmpfs(a[0].s, a[1].s);
    case 'o': return root_overlay(a[0].s, a[1].s, x);
    case 'm': return root_mount(a[0].s, a[1].s, a[2].s, x, a[4].s);
    case 'b': return root_bind(a[0].s, a[1].s, x);
    case 'l': return root_symlink(a[0].s, a[1].s);
    case 'P': return root_pivot();
    case 'u': return umount2(a[0].s, (int)x);
    case 'I': return pyc_loopback_up();
    case 'Z': return mask_path(a[0].s);
    case 'z': return read_only_path(a[0].s);
    case 'r': return root_read_only();
    case 'H': return sethostname(a[0].s, a[0].len);
    case 'R': {
        struct rlimit limit = {y, z};
        return setrlimit((int)x, &limit);
    }
    case 'A': return make_dirs(a[0].s, (unsigned)x);
    case 'd': return chdir(a[0].s);
    case 'W':
        return prctl((int)x, y, 0, 0, 0) || (x == PR_SET_PDEATHSIG && starter_gone()) ? -1 : 0;
    case 'S': return pyc_seccomp_load((const unsigned char *)a[0].s, a[0].len);
    case 'B': return drop_bounding(x);
    case 'G': return set_groups(op);
    case 'g': return (int)syscall(SYS_setresgid, (gid_t)x, (gid_t)x, (gid_t)x);
    case 'V': return (int)syscall(SYS_setresuid, (uid_t)x, (uid_t)x, (uid_t)x);
    case 'J': return set_per_pid_uid(x);
    case 'K': return set_caps(x, y, z);
    case 'E': run_exec(op);
    }
    errno = EINVAL;
    return -1;
}

static void _Noreturn op_failed(uint32_t index, char code)
{
    static char message[1024];
    char digits[21], op[2] = {code, 0};
    if (jail_message[0])
        fail(125, jail_message);
    jail_join(message, sizeof message, "jail: op ", jail_decimal(index, digits), " (", op,
              ") failed: ", error_text(errno), NULL);
    fail(125, message);
}

/* The Y op at index: a child (PID 2) makes the next ops and exits 0 if they
 * all worked (the runner waits for it before the call: runner.await_go); we
 * go on after them. These are the ops that wait for an RCU grace period
 * (unmounting the old root, bringing lo up), done in parallel so. The count
 * of ops skipped. */
static unsigned start_helper(size_t *pos, struct jail_op *op, uint32_t index)
{
    unsigned long long count;
    jail_number(&op->args[0], &count); /* checked by ops_are_sound */
    pid_t pid = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (pid < 0)
        op_failed(index, 'Y');
    for (unsigned long long k = 0; k < count; k++) {
        jail_read_op(jail_desc, pos, jail_desc_size, op);
        if (pid == 0 && run_op(op))
            _exit(1);
    }
    if (pid == 0)
        _exit(0);
    return (unsigned)count;
}

/* The caller's signal handlers (a Python process's, say) back to the
 * default; those ignored stay ignored, as across an exec. */
static void default_handlers(void)
{
    for (int sig = 1; sig < NSIG; sig++) {
        struct sigaction old;
        if (sig != SIGKILL && sig != SIGSTOP && sigaction(sig, NULL, &old) == 0
            && old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN)
            signal(sig, SIG_DFL);
    }
}

/* The jail's first process, PID 1 of its pid namespace. Never returns. */
static void _Noreturn child_main(int event, int result, int log, int go, int err)
{
    static struct jail_op op;
    /* a parent that dies before this is armed closes the go-ahead pipe: the runner then exits */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* a Ctrl-C is the engine's to handle; the runner gets the caller's disposition back */
    sigint_ignored = signal(SIGINT, SIG_IGN) == SIG_IGN;
    default_handlers();
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    host_pid = pid_in_proc();
    setsid();
    /* moved above every target first, then put in place: 0 the event, 1 the
     * result, 2 the log, 3 the go-ahead; the error pipe closes with the exec */
    int high[] = {fcntl(event, F_DUPFD_CLOEXEC, 10), fcntl(result, F_DUPFD_CLOEXEC, 10),
                  fcntl(log, F_DUPFD_CLOEXEC, 10), fcntl(go, F_DUPFD_CLOEXEC, 10)};
    err_fd = fcntl(err, F_DUPFD_CLOEXEC, 10);
    for (int i = 0; i < 4; i++)
        if (err_fd < 0 || high[i] < 0 || dup2(high[i], i) != i)
            fail(125, "jail: cannot place its descriptors");
    if (syscall(SYS_close_range, 4, err_fd - 1, 0) || syscall(SYS_close_range, err_fd + 1, ~0U, 0))
        for (int fd = 4; fd < 65536; fd++) /* a kernel before 5.9 */
            if (fd != err_fd)
                close(fd);
    size_t pos = jail_ops_at;
    for (uint32_t i = 0; i < jail_op_count; i++) {
        jail_read_op(jail_desc, &pos, jail_desc_size, &op); /* checked by jail_load */
        if (op.code == 'Y')
            i += start_helper(&pos, &op, i);
        else if (run_op(&op))
            op_failed(i, op.code);
    }
    _exit(125); /* not reached: the last op execs */
}

pid_t jail_spawn(int event, int result, int log, int go, int err)
{
    if (!jail_op_count) {
        errno = EINVAL;
        return -1;
    }
    pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0)
        child_main(event, result, log, go, err);
    return pid;
}
