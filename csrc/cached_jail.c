/* The launcher's cached jail: a one-shot `fn exec` jail built in C
 * (jail_exec.c) from the description the engine cached for this very
 * invocation (pycontain/fn/oneshot/describe.py gives the format). The child builds
 * the jail and execs the call's runner, which waits for the go-ahead on fd
 * 3; meanwhile the launcher checks the description's stamps: if they hold,
 * it runs the call itself (call.c); if not, it drops the jail and the engine
 * writes a new description. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cached_jail.h"
#include "jail_exec.h"

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
    uint64_t hash = hash_text(0xcbf29ce484222325ULL, "pycontain-jail-1");
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

/* Whether st is root's and no one else may write it. */
static int roots_own(const struct stat *st) { return st->st_uid == 0 && !(st->st_mode & 022); }

/* Map the description file at path if it and its directory are root's own
 * (no one else may write them), it is a regular file of a sound size, and it
 * is sound (then loaded: jail_load); its descriptor, else -1. */
static int load_description(const char *path)
{
    struct stat st;
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash || snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path) >= (int)sizeof dir)
        return -1;
    int dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dir_fd < 0)
        return -1;
    int fd = fstat(dir_fd, &st) || !roots_own(&st) ? -1
             : openat(dir_fd, slash + 1, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    close(dir_fd);
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode) || !roots_own(&st) || st.st_size < 16
        || st.st_size > JAIL_MAX_DESCRIPTION) {
        close(fd);
        return -1;
    }
    size_t size = (size_t)st.st_size;
    unsigned char *data = mmap(NULL, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (data != MAP_FAILED && jail_load(data, size) == 0)
        return fd; /* mapped until the exec: the jail is built from it */
    if (data != MAP_FAILED)
        munmap(data, size);
    close(fd);
    return -1;
}

int start_planned_jail(const char *path, struct planned_jail *jail)
{
    int go[2], err[2], result[2], log[2];
    int plan_fd = load_description(path);
    if (plan_fd < 0)
        return -1;
    int event = memfd_create("event", MFD_CLOEXEC);
    if (event < 0 || pipe2(go, O_CLOEXEC) || pipe2(err, O_CLOEXEC) || pipe2(result, O_CLOEXEC)
        || pipe2(log, O_CLOEXEC))
        return -1; /* those made are closed by exec */
    pid_t pid = jail_spawn(event, result[1], log[1], go[0], err[1]);
    if (pid < 0)
        return -1;
    int theirs[] = {go[0], err[1], result[1], log[1]};
    for (int i = 0; i < 4; i++)
        close(theirs[i]);
    *jail = (struct planned_jail){pid, go[1], err[0], result[0], log[0], event, plan_fd};
    return 0;
}

void drop_jail(struct planned_jail *jail)
{
    kill(jail->pid, SIGKILL);
    waitpid(jail->pid, NULL, 0);
    int ours[] = {jail->go, jail->err, jail->result, jail->log, jail->event, jail->plan};
    for (int i = 0; i < 6; i++)
        if (ours[i] >= 0)
            close(ours[i]);
}

/* What changes when the file at path does, as the engine's stamps write it. */
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
 * description's name is only a hash of it); *at moved past them. */
static int same_invocation(const struct jail_op *op, unsigned *at, int argc, char **argv,
                           char **env, const char *dir, const char *name)
{
    char cwd[PATH_MAX];
    unsigned long long index, prefix, count;
    const struct jail_arg *a = op->args;
    if (op->nargs < 6 || strcmp(a[0].s, name) || strcmp(a[1].s, dir) || !getcwd(cwd, sizeof cwd)
        || strcmp(a[2].s, cwd) || jail_number(&a[3], &index) || jail_number(&a[4], &prefix)
        || jail_number(&a[5], &count) || count != (unsigned long long)argc - 3
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
    if (*at >= op->nargs || jail_number(&a[*at], &variables) || variables > op->nargs - *at - 1u)
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
    static struct jail_op op;
    char real[PATH_MAX], print[128];
    unsigned at;
    if (jail_stamps(&op) || !same_invocation(&op, &at, argc, argv, env, dir, name)
        || op.nargs < at + 4 || (op.nargs - at - 4) % 2
        || jail_number(&op.args[at + 3], &call->memory_mb))
        return 0;
    unsigned long long index, prefix;
    jail_number(&op.args[3], &index); /* checked by same_invocation */
    jail_number(&op.args[4], &prefix);
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
