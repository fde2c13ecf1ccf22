/* The jail executor: builds a one-shot call's jail from its description
 * (pycontain/fn/oneshot/describe.py gives the format and the ops) in a child, PID 1
 * of a new pid namespace, which then execs the call's runner. Used by the
 * launcher (cached_jail.c) and the native module (native.c). */
#ifndef PYCONTAIN_JAIL_EXEC_H
#define PYCONTAIN_JAIL_EXEC_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define JAIL_MAX_DESCRIPTION (1 << 20) /* as describe.MAX_DESCRIPTION */
#define JAIL_MAX_ARGS 1024              /* per op, as describe.MAX_ARGS */

struct jail_arg {
    const char *s; /* NUL-terminated (len bytes before the NUL), or NULL */
    uint32_t len;
};

struct jail_op {
    char code;
    unsigned nargs;
    struct jail_arg args[JAIL_MAX_ARGS];
};

/* Parse and check the description data (size bytes, which must outlive the
 * jail_spawn calls): 0 if it is sound (then it is the loaded one), -1 if not
 * (then none is). Nothing acts yet. */
int jail_load(const unsigned char *data, size_t size);

/* A child (PID 1 of a new pid namespace) that builds the loaded jail and
 * execs its last op, with event on fd 0, result on 1, log on 2 and go on 3;
 * err stays open, close-on-exec: a failure is written there as
 * "CODE:message" and the child exits with CODE. Its pid, or -1 (errno set;
 * EINVAL if nothing is loaded). */
pid_t jail_spawn(int event, int result, int log, int go, int err);

/* The loaded description's stamps (its op T) into op: 0, or -1 if it has none. */
int jail_stamps(struct jail_op *op);

/* A decimal argument (digits only, no sign or space) into out: 0, or -1 (EINVAL). */
int jail_number(const struct jail_arg *arg, unsigned long long *out);

#endif
