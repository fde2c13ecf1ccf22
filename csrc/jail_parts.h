/* The executor's parts, for one another: the loaded description
 * (jail_check.c) and the file system ops (jail_root.c) that jail_exec.c runs. */
#ifndef PYCONTAIN_JAIL_PARTS_H
#define PYCONTAIN_JAIL_PARTS_H
#include <stddef.h>
#include <stdint.h>

#include "jail_exec.h"

#define ALL_NUMERIC "*" /* an op shape's numbers: all its arguments */

/* The loaded description (jail_load): its bytes and where its ops start. */
extern const unsigned char *jail_desc;
extern size_t jail_desc_size, jail_ops_at;
extern uint32_t jail_op_count; /* 0: none loaded */

/* The op of data at *pos (before end) into op, *pos moved past it; -1 if malformed. */
int jail_read_op(const unsigned char *data, size_t *pos, size_t end, struct jail_op *op);
/* Whether code is an op, how many arguments it takes (min to max), which
 * are numbers (their positions as digits, or ALL_NUMERIC) and which may be null. */
int jail_op_shape(char code, unsigned *min, unsigned *max, const char **numeric,
                  const char **nullable);

/* The file system ops: each returns 0, or -1 with errno set (and, for a
 * refusal worth its own words, jail_message set). Only async-signal-safe
 * calls: the executor may run in a child of a multi-threaded process. */

extern char jail_message[512];

/* The NULL-terminated strings after out joined into it: 0, or -1 (ENAMETOOLONG). */
int jail_join(char *out, size_t size, ...);
/* value as decimal text in buf (21 bytes at least): where it starts. */
const char *jail_decimal(unsigned long long value, char *buf);

int root_private(void);                                         /* p */
int root_tmpfs(const char *dir, const char *size);              /* Q */
int root_overlay(const char *base, const char *lowers, unsigned long flags); /* o */
int root_mount(const char *type, const char *src, const char *dst, unsigned long flags,
               const char *data);                               /* m */
int root_bind(const char *src, const char *dst, unsigned long flags); /* b */
int root_symlink(const char *target, const char *dst);          /* l */
int root_pivot(void);                                           /* P */
int root_read_only(void);                                       /* r */
int make_dirs(const char *path, unsigned mode);                 /* A */
int mask_path(const char *path);                                /* Z */
int read_only_path(const char *path);                           /* z */

#endif
