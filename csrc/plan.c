/* The launcher's planned jail: a one-shot `fn exec` jail built in C from a
 * plan file (see pycontain/fn/plan.py, which writes the file and describes
 * its format). The child replays the plan's ops (the recorded root file
 * system, then the lockdown) and execs the jail's python3, whose runner waits
 * for the go-ahead on fd 3 (pycontain.fn.plan.GO_FD). Meanwhile the launcher
 * checks the plan's stamps: if they hold, it runs the call itself (call.c);
 * if not, the engine checks the plan against the spec it builds and kills
 * this jail if they differ. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "jailcalls.h"
#include "plan.h"

#define MAGIC "PYCPLAN4" /* as pycontain.fn.plan.MAGIC */
#define MAX_PLAN (1 << 20)
#define MAX_ARGS 1024
#define NULL_ARG 0xFFFFFFFFu

struct arg {
    const char *s; /* NUL-terminated, or NULL */
    uint32_t len;
};

struct op {
    char code;
    unsigned nargs;
    struct arg args[MAX_ARGS];
};

static const unsigned char *plan;
static size_t plan_size, ops_start;
static uint32_t op_count;

static uint32_t u32_at(const unsigned char *p)
{
    return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The op at *pos into op, *pos moved past it; -1 if it is malformed. */
static int read_op(size_t *pos, struct op *op)
{
    size_t p = *pos;
    if (plan_size - p < 3)
        return -1;
    op->code = (char)plan[p];
    op->nargs = plan[p + 1] | plan[p + 2] << 8;
    p += 3;
    if (op->nargs > MAX_ARGS)
        return -1;
    for (unsigned i = 0; i < op->nargs; i++) {
        if (plan_size - p < 4)
            return -1;
        uint32_t len = u32_at(plan + p);
        p += 4;
        op->args[i].len = len;
        op->args[i].s = NULL;
        if (len == NULL_ARG)
            continue;
        if (plan_size - p <= len || plan[p + len] != 0)
            return -1;
        op->args[i].s = (const char *)plan + p;
        p += (size_t)len + 1;
    }
    *pos = p;
    return 0;
}

static int number(const struct arg *a, unsigned long long *out)
{
    char *end;
    if (!a->s || !*a->s) {
        errno = EINVAL;
        return -1;
    }
    errno = 0;
    *out = strtoull(a->s, &end, 10);
    if (errno || *end) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

/* Whether code is an op, with how many arguments it takes (at least *min,
 * at most *max) and which of them are numbers (their positions, as digits). */
static int op_shape(char code, unsigned *min, unsigned *max, const char **numeric)
{
    static const struct { char code; unsigned min, max; const char *numeric; } shapes[] = {
        {'U', 1, 1, "0"}, {'M', 5, 5, "3"}, {'u', 2, 2, "1"}, {'P', 2, 2, ""},
        {'D', 2, 2, "1"}, {'A', 2, 2, "1"}, {'F', 3, 3, "12"}, {'N', 3, 3, "12"},
        {'O', 3, 3, "12"}, {'C', 2, 2, "1"}, {'L', 2, 2, ""}, {'d', 1, 1, ""},
        {'H', 1, 1, ""}, {'I', 0, 0, ""}, {'R', 3, 3, "012"}, {'W', 2, 2, "01"},
        {'S', 1, 1, ""}, {'B', 1, 1, "0"}, {'G', 0, MAX_ARGS, ""}, {'g', 1, 1, "0"},
        {'V', 1, 1, "0"}, {'K', 3, 3, "012"}, {'E', 3, MAX_ARGS, "1"}, {'Y', 1, 1, "0"},
        {'Z', 1, 1, ""}, {'z', 1, 1, ""}, {'J', 1, 1, "0"}};
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
        if (shapes[i].code == code) {
            *min = shapes[i].min, *max = shapes[i].max, *numeric = shapes[i].numeric;
            return 1;
        }
    return 0;
}

/* Whether every op is well formed, the first makes a mount namespace, only
 * a mount has null arguments (its source, type and data), the last op, only
 * that one, execs, and the ops a helper makes (Y) are there and neither exec
 * nor start another helper. */
static int plan_is_sound(void)
{
    static struct op op;
    unsigned min, max;
    const char *numeric;
    unsigned long long helped = 0;
    size_t pos = ops_start;
    for (uint32_t i = 0; i < op_count; i++) {
        if (read_op(&pos, &op) || !op_shape(op.code, &min, &max, &numeric)
            || op.nargs < min || op.nargs > max || (op.code == 'E') != (i == op_count - 1))
            return 0;
        for (unsigned a = 0; a < op.nargs; a++)
            if (!op.args[a].s && !(op.code == 'M' && a != 1 && a != 3))
                return 0;
        if (helped && (op.code == 'E' || op.code == 'Y'))
            return 0;
        unsigned long long flags;
        if (i == 0 && (op.code != 'U' || number(&op.args[0], &flags) || !(flags & CLONE_NEWNS)))
            return 0; /* never a mount in the launcher's own mount namespace */
        helped = helped ? helped - 1 : 0;
        if (op.code == 'Y' && (number(&op.args[0], &helped) || helped >= op_count - i - 1))
            return 0;
    }
    return op_count > 0 && pos == plan_size;
}

/* os.makedirs(path, mode, exist_ok=True): parents with mode 0777 (umask applies). */
static int make_dirs(const char *path, mode_t mode)
{
    char dir[PATH_MAX];
    struct stat st;
    size_t len = strlen(path);
    if (len >= sizeof dir) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(dir, path, len + 1);
    while (len > 1 && dir[len - 1] == '/')
        dir[--len] = 0;
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = 0;
        if (stat(dir, &st) && make_dirs(dir, 0777))
            return -1;
        *slash = '/';
    }
    if (mkdir(dir, mode) == 0)
        return 0;
    int err = errno;
    if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
        return 0;
    errno = err;
    return -1;
}

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

/* rootfs.mask_paths for one masked path: none there, nothing to do; a
 * directory gets an empty read-only tmpfs, anything else /dev/null, which
 * must be the null device. */
static int mask(const char *path)
{
    static int null_checked;
    struct stat st;
    if (!null_checked) {
        if (lstat("/dev/null", &st) || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3)) {
            errno = EPERM;
            return -1;
        }
        null_checked = 1;
    }
    if (lstat(path, &st))
        return errno == ENOENT ? 0 : -1;
    if (S_ISDIR(st.st_mode))
        return mount("tmpfs", path, "tmpfs", MS_RDONLY, "size=0,mode=0755");
    return mount("/dev/null", path, NULL, MS_BIND, NULL);
}

/* rootfs.mask_paths for one read-only path: bound onto itself, remounted read-only. */
static int read_only(const char *path)
{
    struct stat st;
    if (lstat(path, &st))
        return 0;
    if (mount(path, path, NULL, MS_BIND | MS_REC, NULL))
        return -1;
    return mount(NULL, path, NULL,
                 MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
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

/* Op J, as pycontain.fn.jail_init.per_pid_user: base + our host pid, a
 * uid no other running jail has (we are PID 1 of the jail's pid namespace). */
static int set_per_pid_uid(unsigned long long base)
{
    unsigned long long uid = base + (unsigned long long)host_pid;
    if (host_pid <= 1 || uid >= 0xFFFFFFFFULL) {
        errno = EINVAL;
        return -1;
    }
    return setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid);
}

/* Our pid in the pid namespace of the /proc we see (the host's, before any op). */
static pid_t pid_in_proc(void)
{
    char link[32];
    ssize_t len = readlink("/proc/self", link, sizeof link - 1);
    if (len <= 0)
        return 0;
    link[len] = 0;
    return (pid_t)strtol(link, NULL, 10);
}

static void _Noreturn fail(int code, const char *message)
{
    dprintf(err_fd, "%d:%s", code, message);
    _exit(code);
}

/* The exec op: argv[0] looked up on the jail's PATH as nsinit.find_executable does. */
static void run_exec(const struct op *op)
{
    static char *args[MAX_ARGS + 1], *env[MAX_ARGS + 1], path[PATH_MAX], message[PATH_MAX + 64];
    unsigned long long count;
    if (number(&op->args[1], &count) || count < 1 || count > op->nargs - 2u)
        fail(125, "planned jail: a malformed exec");
    unsigned n_env = op->nargs - 2 - (unsigned)count;
    for (unsigned i = 0; i < count; i++)
        args[i] = (char *)op->args[2 + i].s;
    for (unsigned i = 0; i < n_env; i++)
        env[i] = (char *)op->args[2 + count + i].s;
    args[count] = env[n_env] = NULL;
    const char *name = op->args[0].s, *search = "/usr/bin:/bin", *denied = NULL;
    for (unsigned i = 0; i < n_env; i++)
        if (strncmp(env[i], "PATH=", 5) == 0)
            search = env[i] + 5;
    signal(SIGPIPE, SIG_DFL);
    signal(SIGXFSZ, SIG_DFL);
    signal(SIGINT, sigint_ignored ? SIG_IGN : SIG_DFL);
    for (const char *dir = search; dir;) {
        const char *end = strchr(dir, ':');
        int len = end ? (int)(end - dir) : (int)strlen(dir);
        struct stat st;
        if (strchr(name, '/'))
            snprintf(path, sizeof path, "%s", name);
        else
            snprintf(path, sizeof path, "%.*s/%s", len ? len : 1, len ? dir : ".", name);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            if (access(path, X_OK) == 0) {
                execve(path, args, env);
                snprintf(message, sizeof message, "exec: \"%s\": %s", name, strerror(errno));
                fail(errno == ENOENT ? 127 : 126, message);
            }
            denied = denied ? denied : strdup(path);
        }
        dir = strchr(name, '/') ? NULL : end ? end + 1 : NULL;
    }
    if (denied) {
        snprintf(message, sizeof message, "exec: \"%s\": permission denied", denied);
        fail(126, message);
    }
    snprintf(message, sizeof message, strchr(name, '/') ? "exec: \"%s\": no such file or directory"
             : "exec: \"%s\": executable file not found in $PATH", name);
    fail(127, message);
}

static int run_op(const struct op *op)
{
    const struct arg *a = op->args;
    unsigned long long n[3] = {0, 0, 0};
    unsigned min, max;
    const char *numeric = "";
    op_shape(op->code, &min, &max, &numeric);
    for (int i = 0; numeric[i] && i < 3; i++)
        if (number(&a[numeric[i] - '0'], &n[i]))
            return -1;
    unsigned long long x = n[0], y = n[1], z = n[2];
    switch (op->code) {
    case 'U': return unshare((int)x);
    case 'M': return mount(a[0].s, a[1].s, a[2].s, x, a[4].s);
    case 'u': return umount2(a[0].s, (int)x);
    case 'P': return (int)syscall(SYS_pivot_root, a[0].s, a[1].s);
    case 'D': return mkdir(a[0].s, (mode_t)x);
    case 'A': return make_dirs(a[0].s, (mode_t)x);
    case 'F': {
        int fd = open(a[0].s, (int)x | O_CLOEXEC, (mode_t)y);
        return fd < 0 ? -1 : close(fd);
    }
    case 'N': return mknod(a[0].s, (mode_t)x, (dev_t)y);
    case 'O': return chown(a[0].s, (uid_t)x, (gid_t)y);
    case 'C': return chmod(a[0].s, (mode_t)x);
    case 'L': return symlink(a[0].s, a[1].s);
    case 'd': return chdir(a[0].s);
    case 'H': return sethostname(a[0].s, a[0].len);
    case 'I': return pyc_loopback_up();
    case 'R': {
        struct rlimit limit = {y, z};
        return setrlimit((int)x, &limit);
    }
    case 'W': return prctl((int)x, y, 0, 0, 0);
    case 'S': return pyc_seccomp_load((const unsigned char *)a[0].s, a[0].len);
    case 'B': return drop_bounding(x);
    case 'G': {
        static gid_t groups[MAX_ARGS];
        unsigned long long gid;
        for (unsigned i = 0; i < op->nargs; i++) {
            if (number(&a[i], &gid))
                return -1;
            groups[i] = (gid_t)gid;
        }
        return setgroups(op->nargs, groups);
    }
    case 'g': return setresgid((gid_t)x, (gid_t)x, (gid_t)x);
    case 'V': return setresuid((uid_t)x, (uid_t)x, (uid_t)x);
    case 'J': return set_per_pid_uid(x);
    case 'K': return set_caps(x, y, z);
    case 'E': run_exec(op);
    case 'Z': return mask(a[0].s);
    case 'z': return read_only(a[0].s);
    }
    errno = EINVAL;
    return -1;
}

/* The Y op at op: a child (PID 2) makes the next ops and exits 0 if they all
 * worked (the jail's runner waits for it before the call: runner.await_go);
 * we go on after them. These are the ops that wait for an RCU grace period
 * (unmounting the old root, bringing lo up): a few ms when another CPU is
 * busy, as the engine's is, and done in parallel so. The count of ops skipped. */
static unsigned start_helper(size_t *pos, struct op *op)
{
    unsigned long long count;
    number(&op->args[0], &count); /* checked by plan_is_sound */
    pid_t pid = fork();
    if (pid < 0)
        fail(125, "planned jail: cannot fork its helper");
    for (unsigned long long k = 0; k < count; k++) {
        read_op(pos, op);
        if (pid == 0 && run_op(op))
            _exit(1);
    }
    if (pid == 0)
        _exit(0);
    return (unsigned)count;
}

/* The planned jail's first process, PID 1 of its pid namespace. Never returns. */
static void _Noreturn child_main(int event, int result, int log, int go, int err)
{
    static struct op op;
    char message[128];
    /* an engine that dies before this is armed closes the go-ahead pipe: the runner then exits */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* a Ctrl-C is the engine's to handle; python gets the caller's disposition back */
    sigint_ignored = signal(SIGINT, SIG_IGN) == SIG_IGN;
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
            fail(125, "planned jail: cannot place its descriptors");
    if (close_range(4, err_fd - 1, 0) || close_range(err_fd + 1, ~0U, 0))
        for (int fd = 4; fd < 65536; fd++) /* a kernel before 5.9 */
            if (fd != err_fd)
                close(fd);
    size_t pos = ops_start;
    for (uint32_t i = 0; i < op_count; i++) {
        read_op(&pos, &op); /* checked by plan_is_sound */
        if (op.code == 'Y') {
            i += start_helper(&pos, &op);
            continue;
        }
        if (run_op(&op)) {
            snprintf(message, sizeof message, "planned jail: op %u (%c) failed: %s", i, op.code,
                     strerror(errno));
            fail(125, message);
        }
    }
    _exit(125); /* not reached: the last op execs */
}

static uint64_t fnv1a(uint64_t hash, const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++)
        hash = (hash ^ (unsigned char)text[i]) * 0x100000001b3ULL;
    return hash;
}

static uint64_t hash_text(uint64_t hash, const char *text)
{
    return fnv1a(hash, text, strlen(text) + 1); /* with its NUL: a separator */
}

int plan_file_for(int argc, char **argv, char **env, const char *dir, char *path, size_t size,
                  char name[17])
{
    char cwd[PATH_MAX];
    const char *root = "/var/lib/pycontain";
    if (geteuid() != 0 || !getcwd(cwd, sizeof cwd))
        return -1;
    uint64_t hash = hash_text(0xcbf29ce484222325ULL, "pycontain-plan-4");
    hash = hash_text(hash_text(hash, dir), cwd);
    for (int i = 3; i < argc; i++) /* all but --event's value: any event may use the plan */
        hash = hash_text(hash, strcmp(argv[i - 1], "--event") == 0 ? ""
                               : strncmp(argv[i], "--event=", 8) == 0 ? "--event=" : argv[i]);
    for (char **entry = env; *entry; entry++) {
        hash = hash_text(hash, *entry);
        if (strncmp(*entry, "PYCONTAIN_ROOT=", 15) == 0)
            root = *entry + 15;
    }
    snprintf(name, 17, "%016llx", (unsigned long long)hash);
    return *root && snprintf(path, size, "%s/cache/plans/%s", root, name) < (int)size ? 0 : -1;
}

static size_t stamps_start, stamps_size;

/* Whether st is root's and no one else may write it. */
static int roots_own(const struct stat *st) { return st->st_uid == 0 && !(st->st_mode & 022); }

/* Map the plan file at path if it and its directory are root's own (no one
 * else may write them), it is a regular file, and it is sound; its
 * descriptor, else -1. */
static int load_plan(const char *path)
{
    struct stat st;
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%.*s", (int)(strrchr(path, '/') - path), path);
    int dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dir_fd < 0)
        return -1;
    int fd = fstat(dir_fd, &st) || !roots_own(&st) ? -1
             : openat(dir_fd, strrchr(path, '/') + 1, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    close(dir_fd);
    if (fd < 0)
        return -1;
    plan = MAP_FAILED;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode) || !roots_own(&st) || st.st_size < 16
        || st.st_size > MAX_PLAN)
        goto refuse;
    plan_size = (size_t)st.st_size;
    plan = mmap(NULL, plan_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (plan == MAP_FAILED || memcmp(plan, MAGIC, 8))
        goto refuse;
    size_t at = 8; /* the stamps (op T), then the basis (the engine's, marshal) */
    for (int section = 0; section < 2; section++) {
        if (plan_size - at < 8) /* this section's size and the next one's */
            goto refuse;
        uint32_t size = u32_at(plan + at);
        if (size > plan_size - at - 8)
            goto refuse;
        if (section == 0)
            stamps_start = at + 4, stamps_size = size;
        at += 4 + (size_t)size;
    }
    op_count = u32_at(plan + at);
    ops_start = at + 4;
    if (plan_is_sound())
        return fd;
refuse:
    if (plan != MAP_FAILED)
        munmap((void *)plan, plan_size);
    close(fd);
    return -1;
}

/* What changes when the file at path does, as pycontain.fn.plan.fingerprint writes it. */
static void fingerprint(const char *path, char *out, size_t size)
{
    struct stat st;
    if (stat(path, &st)) {
        snprintf(out, size, "-");
        return;
    }
    snprintf(out, size, "%llu:%llu:%u:%lld:%lld:%lld", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino, (unsigned)st.st_mode, (long long)st.st_size,
             (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec,
             (long long)st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec);
}

/* Whether the T op's arguments from *at are this invocation, exactly (the
 * plan's name is only a hash of it); *at moved past them. */
static int same_invocation(const struct op *op, unsigned *at, int argc, char **argv, char **env,
                           const char *dir, const char *name)
{
    char cwd[PATH_MAX];
    unsigned long long index, prefix, count;
    const struct arg *a = op->args;
    if (op->nargs < 6 || strcmp(a[0].s, name) || strcmp(a[1].s, dir) || !getcwd(cwd, sizeof cwd)
        || strcmp(a[2].s, cwd) || number(&a[3], &index) || number(&a[4], &prefix)
        || number(&a[5], &count) || count != (unsigned long long)argc - 3
        || count > op->nargs - 6u || (index && (index < 3 || index >= (unsigned long long)argc)))
        return 0;
    for (unsigned i = 0; i < count; i++) {
        const char *given = argv[3 + i], *recorded = a[6 + i].s;
        if (3 + i == index ? strlen(recorded) != prefix || strncmp(given, recorded, prefix)
                           : strcmp(given, recorded) != 0)
            return 0;
    }
    *at = 6 + (unsigned)count;
    unsigned long long variables;
    if (*at >= op->nargs || number(&a[*at], &variables) || variables > op->nargs - *at - 1u)
        return 0;
    for (unsigned i = 0; i < variables; i++)
        if (!env[i] || strcmp(env[i], a[*at + 1 + i].s))
            return 0;
    if (env[variables])
        return 0;
    *at += 1 + (unsigned)variables;
    return 1;
}

int plan_is_fresh(int argc, char **argv, char **env, const char *dir, const char *name,
                  struct fresh_call *call)
{
    static struct op op;
    char real[PATH_MAX], print[128];
    unsigned at;
    size_t pos = stamps_start;
    if (!stamps_size || read_op(&pos, &op) || pos != stamps_start + stamps_size || op.code != 'T')
        return 0;
    for (unsigned i = 0; i < op.nargs; i++)
        if (!op.args[i].s)
            return 0;
    if (!same_invocation(&op, &at, argc, argv, env, dir, name) || op.nargs < at + 4
        || (op.nargs - at - 4) % 2 || number(&op.args[at + 3], &call->memory_mb))
        return 0;
    unsigned long long index;
    number(&op.args[3], &index); /* checked by same_invocation */
    unsigned long long prefix;
    number(&op.args[4], &prefix);
    call->event_source = index ? argv[index] + prefix : NULL;
    call->timeout = strtod(op.args[at + 2].s, NULL);
    if (!realpath(op.args[at].s, real) || strcmp(real, op.args[at + 1].s) || call->timeout <= 0)
        return 0;
    for (unsigned i = at + 4; i < op.nargs; i += 2) {
        fingerprint(op.args[i].s, print, sizeof print);
        if (strcmp(print, op.args[i + 1].s))
            return 0;
    }
    return 1;
}

int start_planned_jail(const char *path, struct planned_jail *jail)
{
    int go[2], err[2], result[2], log[2];
    int plan_fd = load_plan(path);
    if (plan_fd < 0)
        return -1;
    int event = memfd_create("event", MFD_CLOEXEC);
    if (event < 0 || pipe2(go, O_CLOEXEC) || pipe2(err, O_CLOEXEC) || pipe2(result, O_CLOEXEC)
        || pipe2(log, O_CLOEXEC))
        return -1; /* those made are closed by exec */
    pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0)
        child_main(event, result[1], log[1], go[0], err[1]);
    if (pid < 0)
        return -1;
    int theirs[] = {go[0], err[1], result[1], log[1]};
    for (int i = 0; i < 4; i++)
        close(theirs[i]);
    *jail = (struct planned_jail){pid, go[1], err[0], result[0], log[0], event, plan_fd};
    return 0;
}

char **planned_env(char **env, const struct planned_jail *jail)
{
    static char entry[128];
    int mine[] = {jail->go, jail->err, jail->result, jail->log, jail->event, jail->plan};
    for (int i = 0; i < 6; i++)
        keep_open(mine[i]); /* for the engine, across its exec */
    snprintf(entry, sizeof entry, "PYCONTAIN_PLANNED=%d,%d,%d,%d,%d,%d,%d", (int)jail->pid,
             jail->go, jail->err, jail->result, jail->log, jail->event, jail->plan);
    return with_entry(env, entry);
}
