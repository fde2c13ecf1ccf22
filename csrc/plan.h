/* The launcher's planned jail (plan.c) and the call it runs itself (call.c):
 * see pycontain/fn/plan.py. */
#ifndef PYCONTAIN_PLAN_H
#define PYCONTAIN_PLAN_H
#include <sys/types.h>

/* A jail built from a plan: its pid and our ends of its descriptors. */
struct planned_jail {
    pid_t pid;
    int go, err, result, log, event, plan;
};

/* What the launcher needs to run a call itself (the plan's stamps, op T). */
struct fresh_call {
    const char *event_source; /* --event's value, NULL for none */
    double timeout;
    unsigned long long memory_mb;
};

/* The plan file of this `fn exec` invocation (argv, working directory, env
 * and dir, the launcher's own directory, decide it): its path in path and its
 * name, 16 hex digits, in name. 0 if there is one to look for (as root only),
 * -1 if not. */
int plan_file_for(int argc, char **argv, char **env, const char *dir, char *path, size_t size,
                  char name[17]);

/* Build the jail the plan file at path describes in a child (PID 1 of a new
 * pid namespace), which then execs the jail's python, whose runner waits
 * for the go-ahead. 0 and jail filled in, or -1 if there is no usable plan
 * or no child. */
int start_planned_jail(const char *path, struct planned_jail *jail);

/* Whether the plan just used, named name, is this very invocation's (argv,
 * env, the working directory and dir, see plan_file_for) and its stamps still
 * hold (the files the call was made from are unchanged); call filled in if so. */
int plan_is_fresh(int argc, char **argv, char **env, const char *dir, const char *name,
                  struct fresh_call *call);

/* env plus PYCONTAIN_PLANNED, which hands jail to the engine; NULL if out of memory. */
char **planned_env(char **env, const struct planned_jail *jail);

/* Wait until the jail has exec'd its python: 1, or 0 if it failed (it is
 * reaped then, and our descriptors closed). In call.c. */
int jail_built(struct planned_jail *jail);

/* Run the call in jail, as the engine would (pycontain/fn/outcome.py), and
 * exit with its code. In call.c. */
void _Noreturn run_planned_call(struct planned_jail *jail, const struct fresh_call *call);

/* A copy of env with entry added (entry must outlive the exec: a static
 * buffer); NULL if out of memory. In launcher.c. */
char **with_entry(char **env, char *entry);

/* Let fd survive an exec (clear its close-on-exec flag). In launcher.c. */
void keep_open(int fd);

#endif
