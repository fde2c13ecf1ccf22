/* The `pycontain` command install.sh puts in the virtualenv's bin/: runs the
 * pycontain-main script beside it (bin/pycontain) with the python3 beside it,
 * as `python3 -I -S SCRIPT ARGS...`, which is what that script's own sh part
 * does, ~1 ms sooner (one static exec instead of sh, then env). `fn exec` and
 * `fn invoke` get an emptied environment but for the variables pycontain
 * reads (pycontain.fn.inprocess_choice.KEPT_VARIABLES): the handler may run in that
 * very interpreter. As root, `fn exec` also starts the jail's own interpreter
 * at once, beside the engine's, as PID 1 of a new pid namespace
 * (pycontain/fn/prejail.py): the two start in parallel; or, when this
 * invocation has a plan, builds the jail in C and starts the jail's python in
 * it (plan.c, pycontain/fn/plan.py). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "plan.h"
#include "runc_fast.h"

static const char *const KEPT[] = {"HOME", "PATH", "XDG_RUNTIME_DIR", "XDG_DATA_HOME",
                                   "PYCONTAIN_ROOT", "PYCONTAIN_RUNROOT",
                                   "PYCONTAIN_CGROUP_PARENT", "PYCONTAIN_FN_FORK", NULL};
extern char **environ;

static int kept(const char *entry)
{
    for (const char *const *name = KEPT; *name; name++) {
        size_t len = strlen(*name);
        if (strncmp(entry, *name, len) == 0 && entry[len] == '=')
            return 1;
    }
    return 0;
}

/* Whether the command is `pycontain fn COMMAND ...`. */
static int is_fn(int argc, char **argv, const char *command)
{
    return argc > 2 && strcmp(argv[1], "fn") == 0 && strcmp(argv[2], command) == 0;
}

static int asks_for(int argc, char **argv, const char *flag)
{
    for (int i = 3; i < argc; i++)
        if (strcmp(argv[i], flag) == 0)
            return 1;
    return 0;
}

char **with_entry(char **env, char *entry)
{
    size_t count = 0;
    while (env[count])
        count++;
    char **out = calloc(count + 2, sizeof *out);
    if (out) {
        memcpy(out, env, count * sizeof *out);
        out[count] = entry;
    }
    return out;
}

void keep_open(int fd) { fcntl(fd, F_SETFD, 0); }

/* Two interpreters starting at once only pay off on two CPUs or more. */
static int has_two_cpus(void)
{
    cpu_set_t allowed;
    return sched_getaffinity(0, sizeof allowed, &allowed) == 0 && CPU_COUNT(&allowed) >= 2;
}

/* Start the jail's interpreter (`python3 -I -S SCRIPT fn _jail`) as PID 1 of a
 * new pid namespace, killed if we die (until it drops to the handler's user,
 * which disarms that: nsinit arms it again); hand the engine (this process, once it
 * has exec'd) the fds and pid that pycontain.fn.prejail expects. Any failure
 * just leaves `fn exec` to fork its jail itself. Returns the engine's env. */
static char **start_jail_side(int argc, char **argv, char *python, char *script, char **env)
{
    static char engine_entry[96], jail_entry[96];
    int ctl[2], err[2], result[2], log[2];
    if (pipe2(ctl, O_CLOEXEC) || pipe2(err, O_CLOEXEC) || pipe2(result, O_CLOEXEC)
        || pipe2(log, O_CLOEXEC))
        return env;  /* those made are closed by exec */
    pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        /* a Ctrl-C is the engine's to handle; the handler gets the caller's disposition back */
        int sigint_ignored = signal(SIGINT, SIG_IGN) == SIG_IGN;
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null >= 0)
            dup2(null, 0);  /* the event is the engine's to read */
        int keep[] = {ctl[0], err[1], result[1], log[1]};
        for (int i = 0; i < 4; i++)
            keep_open(keep[i]);
        snprintf(jail_entry, sizeof jail_entry, "PYCONTAIN_JAIL_SIDE=%d,%d,%d,%d,%d,%d", ctl[0],
                 err[1], result[1], log[1], !asks_for(argc, argv, "--network"), sigint_ignored);
        char *args[] = {python, "-I", "-S", script, "fn", "_jail", NULL};
        char **jail_env = with_entry(env, jail_entry);
        if (jail_env)
            execve(python, args, jail_env);
        _exit(127);
    }
    if (pid < 0)
        return env;
    int mine[] = {ctl[1], err[0], result[0], log[0]};
    int theirs[] = {ctl[0], err[1], result[1], log[1]};
    for (int i = 0; i < 4; i++) {
        keep_open(mine[i]);
        close(theirs[i]);
    }
    snprintf(engine_entry, sizeof engine_entry, "PYCONTAIN_PREJAIL=%d,%d,%d,%d,%d", (int)pid,
             ctl[1], err[0], result[0], log[0]);
    char **engine_env = with_entry(env, engine_entry);
    return engine_env ? engine_env : env;
}

/* As root on two CPUs or more, start `fn exec`'s jail at once: the one its
 * plan describes, if this invocation has one (plan.c), else the jail's
 * interpreter; the engine learns the plan's name, to record one. If none of
 * the files the plan was made from changed, run the call here (call.c) and
 * exit. On one CPU, or rootless, `fn exec` forks its jail itself. Returns
 * the engine's env. */
static char **start_jail(int argc, char **argv, const char *dir, char *python, char *script,
                         char **env)
{
    static char key_entry[64];
    char path[PATH_MAX + 64], name[17];
    if (geteuid() != 0 || !has_two_cpus())
        return env;
    struct planned_jail jail;
    struct fresh_call call;
    char **engine_env = NULL;
    int keyed = plan_file_for(argc, argv, env, dir, path, sizeof path, name) == 0;
    if (keyed && start_planned_jail(path, &jail) == 0) {
        if (!plan_is_fresh(argc, argv, env, dir, name, &call))
            engine_env = planned_env(env, &jail); /* the engine checks the plan */
        else if (jail_built(&jail))
            run_planned_call(&jail, &call); /* nothing for the engine to check: no engine */
    }
    if (!engine_env)
        engine_env = start_jail_side(argc, argv, python, script, env);
    snprintf(key_entry, sizeof key_entry, "PYCONTAIN_PLAN_KEY=%s", name);
    char **with_key = keyed ? with_entry(engine_env, key_entry) : NULL;
    return with_key ? with_key : engine_env;
}

/* The directory of this program: where /proc/self/exe points (through any
 * symlink to it), else (no /proc) the one argv[0] names. */
static int own_directory(char *dir, size_t size, const char *argv0)
{
    ssize_t len = readlink("/proc/self/exe", dir, size - 1);
    if (len > 0 && (size_t)len < size - 1)
        dir[len] = 0;
    else if (argv0 && strchr(argv0, '/') && strlen(argv0) < size)
        strcpy(dir, argv0);
    else
        return -1;
    char *slash = strrchr(dir, '/');
    if (!slash)
        return -1;
    *slash = 0;
    return 0;
}

/* Whether standard input, output and error are open (on /dev/null if the
 * caller closed them), so that no pipe of ours can be taken for one. */
static int standard_fds_open(void)
{
    for (int fd = 0; fd < 3; fd++)
        if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", fd ? O_WRONLY : O_RDONLY) != fd)
            return 0;
    return 1;
}

int main(int argc, char **argv)
{
    char dir[PATH_MAX], python[PATH_MAX + 16], script[PATH_MAX + 16];
    int stdio_ok = standard_fds_open();
    if (own_directory(dir, sizeof dir, argc > 0 ? argv[0] : NULL)) {
        fprintf(stderr, "pycontain: cannot find the directory it is installed in\n");
        return 125;
    }
    snprintf(python, sizeof python, "%s/python3", dir);
    /* installed as pycontain-runc too (a link to this program): the OCI runtime's script */
    const char *name = argc > 0 && strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    int runc = name && strcmp(name, "pycontain-runc") == 0;
    if (runc)
        runc_fast(argc, argv); /* returns unless it did the call: csrc/runc_fast.c */
    snprintf(script, sizeof script, "%s/%s", dir, runc ? "pycontain-runc-main" : "pycontain-main");
    char **args = calloc(argc + 4, sizeof *args);
    if (!args)
        return 125;
    args[0] = python, args[1] = "-I", args[2] = "-S", args[3] = script;
    if (argc > 1)
        memcpy(args + 4, argv + 1, (argc - 1) * sizeof *args);
    char **env = environ;
    if (is_fn(argc, argv, "exec") || is_fn(argc, argv, "invoke")) {
        size_t count = 0, n = 0;
        while (environ[count])
            count++;
        env = calloc(count + 1, sizeof *env);
        if (!env)
            return 125;
        for (size_t i = 0; i < count; i++)
            if (kept(environ[i]))
                env[n++] = environ[i];
    }
    if (is_fn(argc, argv, "exec") && stdio_ok)
        env = start_jail(argc, argv, dir, python, script, env);
    execve(python, args, env);
    int cannot_find = errno == ENOENT;
    fprintf(stderr, "pycontain: cannot run %s: %m\n", python);
    return cannot_find ? 127 : 126;
}
