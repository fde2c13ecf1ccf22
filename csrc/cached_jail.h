/* `fn exec` without the engine: the launcher builds the jail a cached
 * description (cached_jail.c; pycontain/fn/oneshot/describe.py) gives and, while the
 * files the call was made from are unchanged, runs the call itself (call.c). */
#ifndef PYCONTAIN_CACHED_JAIL_H
#define PYCONTAIN_CACHED_JAIL_H
#include <stddef.h>
#include <sys/types.h>

/* A jail being built: its pid and our ends of its descriptors. */
struct planned_jail {
    pid_t pid;
    int go, err, result, log, event, plan;
};

/* What the launcher needs to run a call itself (the description's stamps, op T). */
struct fresh_call {
    const char *event_source; /* --event's value, NULL for none */
    double timeout;
    unsigned long long memory_mb;
};

/* The description file of this `fn exec` invocation (argv, working
 * directory, env and dir, the launcher's own directory, decide it): its path
 * in path and its name, 16 hex digits, in name. 0 if there is one to look
 * for (as root only), -1 if not. */
int plan_file_for(int argc, char **argv, char **env, const char *dir, char *path, size_t size,
                  char name[17]);

/* Start building the jail the description file at path gives (jail_exec.c):
 * 0 and jail filled in, or -1 if there is no sound description or no child. */
int start_planned_jail(const char *path, struct planned_jail *jail);

/* Whether the description just started, named name, is this very
 * invocation's (argv, env, the working directory and dir, see plan_file_for)
 * and its stamps still hold (the files the call was made from are
 * unchanged); call filled in if so. */
int plan_is_fresh(int argc, char **argv, char **env, const char *dir, const char *name,
                  struct fresh_call *call);

/* Kill the jail, reap it and close our ends of its descriptors. */
void drop_jail(struct planned_jail *jail);

/* Wait until the jail has exec'd its runner: 1, or 0 if it failed (it is
 * dropped then). In call.c. */
int jail_built(struct planned_jail *jail);

/* Run the call in jail, as the engine would (pycontain/fn/outcome.py), and
 * exit with its code. In call.c. */
void _Noreturn run_planned_call(struct planned_jail *jail, const struct fresh_call *call);

#endif
