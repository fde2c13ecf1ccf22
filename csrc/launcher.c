/* The `pycontain` command install.sh puts in the virtualenv's bin/: runs the
 * pycontain-main script beside it (bin/pycontain) with the python3 beside it,
 * as `python3 -I -S SCRIPT ARGS...`, which is what that script's own sh part
 * does, ~1 ms sooner (one static exec instead of sh, then env). `fn exec` and
 * `fn invoke` get an emptied environment but for the variables pycontain
 * reads (pycontain.fn.environment.KEPT_VARIABLES, generated into fn_rules.h).
 * As root, when this `fn exec` invocation has a cached jail description, the
 * jail is built from it in C (cached_jail.c, jail_exec.c) and, while the
 * files the call was made from are unchanged, the call runs here (call.c):
 * no engine starts. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cached_jail.h"
#include "fn_rules.h"
#include "runc_fast.h"

extern char **environ;

static int kept(const char *entry)
{
    for (const char *const *name = KEPT_VARIABLES; *name; name++) {
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

/* A copy of env with entry added (entry must outlive the exec: a static
 * buffer); NULL if out of memory. */
static char **with_entry(char **env, char *entry)
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

/* As root, build `fn exec`'s jail from this invocation's cached description
 * if it has a sound one and, if none of the files the call was made from
 * changed, run the call here (call.c) and exit. Else the jail is dropped and
 * the engine learns the description's name, to write one. Returns the
 * engine's env. */
static char **start_jail(int argc, char **argv, const char *dir, char **env)
{
    static char key_entry[64];
    char path[PATH_MAX + 64], name[17];
    struct planned_jail jail;
    struct fresh_call call;
    if (plan_file_for(argc, argv, env, dir, path, sizeof path, name))
        return env;
    if (start_planned_jail(path, &jail) == 0) {
        if (!plan_is_fresh(argc, argv, env, dir, name, &call))
            drop_jail(&jail);
        else if (jail_built(&jail))
            run_planned_call(&jail, &call); /* exits */
    }
    snprintf(key_entry, sizeof key_entry, "PYCONTAIN_PLAN_KEY=%s", name);
    char **with_key = with_entry(env, key_entry);
    return with_key ? with_key : env;
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
    char dir[PATH_MAX], python[PATH_MAX + 16], script[PATH_MAX + 32];
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
        env = start_jail(argc, argv, dir, env);
    execve(python, args, env);
    int cannot_find = errno == ENOENT;
    fprintf(stderr, "pycontain: cannot run %s: %m\n", python);
    return cannot_find ? 127 : 126;
}
