/* The executor's file system ops (jail_root.c), for jail_exec.c: each
 * returns 0, or -1 with errno set (and, for a refusal worth its own words,
 * jail_message set). Only async-signal-safe calls: the executor may run in
 * a child of a multi-threaded process. */
#ifndef PYCONTAIN_JAIL_ROOT_H
#define PYCONTAIN_JAIL_ROOT_H
#include <stddef.h>

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
