/* The launcher's planned jail (plan.c): see pycontain/fn/plan.py. */
#ifndef PYCONTAIN_PLAN_H
#define PYCONTAIN_PLAN_H

/* The plan file of this `fn exec` invocation (argv, working directory and
 * env decide it): its path in path and its name, 16 hex digits, in name.
 * 0 if there is one to look for (as root only), -1 if not. */
int plan_file_for(int argc, char **argv, char **env, char *path, size_t size, char name[17]);

/* Build the jail the plan file at path describes in a child (PID 1 of a new
 * pid namespace), which then execs the jail's python, whose runner waits
 * for the engine's go-ahead. Returns the engine's env (env plus
 * PYCONTAIN_PLANNED), or NULL if there is no usable plan or no child. */
char **start_planned_jail(const char *path, char **env);

/* A copy of env with entry added (entry must outlive the exec: a static
 * buffer); NULL if out of memory. In launcher.c. */
char **with_entry(char **env, char *entry);

#endif
