/* The `pycontain` command install.sh puts in the virtualenv's bin/: runs the
 * pycontain-main script beside it (bin/pycontain) with the python3 beside it,
 * as `python3 -I -S SCRIPT ARGS...`, which is what that script's own sh part
 * does, ~1 ms sooner (one static exec instead of sh, then env). `fn exec` and
 * `fn invoke` get an emptied environment but for the variables pycontain
 * reads (pycontain.fn.inprocess.KEPT_VARIABLES): the handler may run in that
 * very interpreter. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

static int runs_a_function(int argc, char **argv)
{
    return argc > 2 && strcmp(argv[1], "fn") == 0
           && (strcmp(argv[2], "exec") == 0 || strcmp(argv[2], "invoke") == 0);
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

int main(int argc, char **argv)
{
    char dir[PATH_MAX], python[PATH_MAX + 16], script[PATH_MAX + 16];
    if (own_directory(dir, sizeof dir, argc > 0 ? argv[0] : NULL)) {
        fprintf(stderr, "pycontain: cannot find the directory it is installed in\n");
        return 125;
    }
    snprintf(python, sizeof python, "%s/python3", dir);
    snprintf(script, sizeof script, "%s/pycontain-main", dir);
    char **args = calloc(argc + 4, sizeof *args);
    if (!args)
        return 125;
    args[0] = python, args[1] = "-I", args[2] = "-S", args[3] = script;
    if (argc > 1)
        memcpy(args + 4, argv + 1, (argc - 1) * sizeof *args);
    char **env = environ;
    if (runs_a_function(argc, argv)) {
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
    execve(python, args, env);
    int cannot_find = errno == ENOENT;
    fprintf(stderr, "pycontain: cannot run %s: %m\n", python);
    return cannot_find ? 127 : 126;
}
