/* The executor's file system ops: the root (a tmpfs holding an overlay's
 * upper, work and root), what is mounted in it, the pivot, the masks. Paths
 * in the root are resolved below its descriptor, one component at a time,
 * with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS):
 * a symlink of the image's on the way to a mount is refused, never followed
 * out of the root; a mount goes on /proc/self/fd/N of what was resolved. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "jail_parts.h"

/* the flags a bind remount may set, and those of the mount it keeps (as
 * pycontain/oci/mounts.py: statfs's ST_* equal these MS_*) */
#define REMOUNT_MASK (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
#define KEPT (REMOUNT_MASK | MS_NOATIME | MS_NODIRATIME | MS_RELATIME)

enum target { DIRECTORY, EMPTY_FILE, PARENT };

char jail_message[512];
static char q_dir[PATH_MAX], root[PATH_MAX + 8];
static int root_fd = -1;

int jail_join(char *out, size_t size, ...)
{
    va_list parts;
    size_t at = 0;
    va_start(parts, size);
    for (const char *part; (part = va_arg(parts, const char *));) {
        size_t len = strlen(part);
        if (len >= size - at) {
            va_end(parts);
            out[0] = 0;
            errno = ENAMETOOLONG;
            return -1;
        }
        memcpy(out + at, part, len);
        at += len;
    }
    va_end(parts);
    out[at] = 0;
    return 0;
}

const char *jail_decimal(unsigned long long value, char *buf)
{
    char *at = buf + 20;
    *at = 0;
    do
        *--at = (char)('0' + value % 10);
    while (value /= 10);
    return at;
}

static const char *fd_path(int fd, char buf[40])
{
    char digits[21];
    jail_join(buf, 40, "/proc/self/fd/", jail_decimal((unsigned)fd, digits), NULL);
    return buf;
}

static int close_keeping_errno(int fd)
{
    int err = errno;
    close(fd);
    errno = err;
    return -1;
}

int root_private(void) { return mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL); }

int root_tmpfs(const char *dir, const char *size)
{
    static char data[256], sub[PATH_MAX + 8];
    static const char *const subs[] = {"/upper", "/work", "/root"};
    if (jail_join(data, sizeof data, "size=", size, ",mode=0755", NULL)
        || jail_join(q_dir, sizeof q_dir, dir, NULL)
        || mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, data))
        return -1;
    for (int i = 0; i < 3; i++)
        if (jail_join(sub, sizeof sub, dir, subs[i], NULL) || mkdir(sub, 0755))
            return -1;
    return jail_join(root, sizeof root, dir, "/root", NULL);
}

int root_overlay(const char *base, const char *lowers, unsigned long flags)
{
    static char data[3 * PATH_MAX];
    if (!q_dir[0]) {
        errno = EINVAL; /* no Q before */
        return -1;
    }
    if (jail_join(data, sizeof data, "lowerdir=", lowers, ",upperdir=", q_dir,
                  "/upper,workdir=", q_dir, "/work", NULL)
        || chdir(base) || mount("overlay", root, "overlay", flags, data))
        return -1;
    root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    return root_fd < 0 ? -1 : 0;
}

/* openat2 below dir, in the root's rules; retried when a rename raced it. */
static int open_below(int dir, const char *name, int flags, unsigned mode)
{
    struct open_how how = {.flags = (unsigned)flags | O_CLOEXEC, .mode = mode,
                           .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS
                                      | RESOLVE_NO_MAGICLINKS};
    if (!(flags & O_CREAT))
        how.mode = 0;
    for (int tries = 0;; tries++) {
        int fd = (int)syscall(SYS_openat2, dir, name, &how, sizeof how);
        if (fd >= 0 || errno != EAGAIN || tries == 16)
            return fd;
    }
}

/* The directory name below dir, made (0755) if missing. */
static int directory_below(int dir, const char *name)
{
    int fd = open_below(dir, name, O_PATH | O_DIRECTORY, 0);
    if (fd >= 0 || errno != ENOENT)
        return fd;
    if (mkdirat(dir, name, 0755) && errno != EEXIST)
        return -1;
    return open_below(dir, name, O_PATH | O_DIRECTORY, 0);
}

/* The empty file name below dir, made (0644) if missing. */
static int file_below(int dir, const char *name)
{
    int fd = open_below(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0644);
    if (fd >= 0) {
        fchmod(fd, 0644); /* whatever the umask */
        close(fd);
    } else if (errno != EEXIST) {
        return -1;
    }
    return open_below(dir, name, O_PATH, 0);
}

/* An O_PATH descriptor of dst in the root, made if missing as a directory
 * or an empty file; or, for PARENT, of its parent directory, with its last
 * component in *last. A symlink on the way: -1, ELOOP, jail_message said so. */
static int open_in_root(const char *dst, enum target target, const char **last)
{
    static char name[NAME_MAX + 1], walked[PATH_MAX];
    size_t walked_len = 0;
    if (root_fd < 0) {
        errno = EINVAL; /* no root (o) yet */
        return -1;
    }
    int dir = fcntl(root_fd, F_DUPFD_CLOEXEC, 0);
    for (const char *at = dst; dir >= 0;) {
        while (*at == '/')
            at++;
        size_t len = strcspn(at, "/");
        const char *next = at + len;
        while (*next == '/')
            next++;
        if (len == 0 || (len == 1 && at[0] == '.')) { /* "/" or a "." at the end */
            if (target == DIRECTORY && !*next)
                return dir;
            if (!*next) {
                errno = EINVAL; /* no name to make or to link */
                break;
            }
            at = next;
            continue;
        }
        if (len > NAME_MAX || walked_len + len + 1 >= sizeof walked) {
            errno = ENAMETOOLONG;
            break;
        }
        memcpy(name, at, len);
        name[len] = 0;
        walked[walked_len++] = '/';
        memcpy(walked + walked_len, name, len + 1);
        walked_len += len;
        if (!*next && target == PARENT) {
            *last = name;
            return dir;
        }
        int fd = *next || target == DIRECTORY ? directory_below(dir, name) : file_below(dir, name);
        close_keeping_errno(dir);
        if (fd < 0 && errno == ELOOP)
            jail_join(jail_message, sizeof jail_message, "the image's ", walked,
                      " is a symbolic link: refusing to mount on ", dst, NULL);
        if (fd < 0 || !*next)
            return fd;
        dir = fd, at = next;
    }
    return dir >= 0 ? close_keeping_errno(dir) : -1;
}

int root_mount(const char *type, const char *src, const char *dst, unsigned long flags,
               const char *data)
{
    char at[40];
    int fd = open_in_root(dst, DIRECTORY, NULL);
    if (fd < 0)
        return -1;
    int rc = mount(src, fd_path(fd, at), type, flags, data);
    close_keeping_errno(fd);
    return rc;
}

/* What a bind remount must repeat of a mount's flags not to lose them. */
static unsigned long kept_flags(const struct statfs *st)
{
    unsigned long current = (unsigned long)st->f_flags & KEPT;
    if (!(current & (MS_NOATIME | MS_RELATIME)))
        current |= MS_STRICTATIME; /* else the remount would default to relatime */
    return current;
}

/* Remount the bind on dst with flags, plus the restrictions it has already. */
static int remount_bind(const char *dst, enum target target, unsigned long flags)
{
    char at[40];
    struct statfs st;
    int fd = open_in_root(dst, target, NULL); /* the bind now, not what is under it */
    if (fd < 0)
        return -1;
    if (fstatfs(fd, &st))
        return close_keeping_errno(fd);
    int rc = mount(NULL, fd_path(fd, at), NULL, MS_BIND | MS_REMOUNT | flags | kept_flags(&st),
                   NULL);
    close_keeping_errno(fd);
    return rc;
}

int root_bind(const char *src, const char *dst, unsigned long flags)
{
    char from[40], to[40];
    struct stat st;
    /* src is a real path (the engine resolved it): a symlink anywhere on it
     * now is one put there since, say by the owner of a parent of the code */
    struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_NO_SYMLINKS};
    int source = (int)syscall(SYS_openat2, AT_FDCWD, src, &how, sizeof how);
    if (source < 0 && errno == ELOOP)
        jail_join(jail_message, sizeof jail_message, "the host's ", src,
                  " has a symbolic link on its path: refusing to bind it on ", dst, NULL);
    if (source < 0)
        return -1;
    if (fstat(source, &st))
        return close_keeping_errno(source);
    enum target target = S_ISDIR(st.st_mode) ? DIRECTORY : EMPTY_FILE;
    int fd = open_in_root(dst, target, NULL);
    if (fd < 0)
        return close_keeping_errno(source);
    int rc = mount(fd_path(source, from), fd_path(fd, to), NULL, MS_BIND | (flags & MS_REC), NULL);
    close_keeping_errno(fd);
    close_keeping_errno(source);
    if (rc || !(flags & REMOUNT_MASK))
        return rc;
    return remount_bind(dst, target, flags & REMOUNT_MASK);
}

int root_symlink(const char *target, const char *dst)
{
    const char *last = NULL;
    int dir = open_in_root(dst, PARENT, &last);
    if (dir < 0)
        return -1;
    int rc = symlinkat(target, dir, last) && errno != EEXIST ? -1 : 0;
    close_keeping_errno(dir);
    return rc;
}

int root_pivot(void)
{
    if (root_fd < 0) {
        errno = EINVAL;
        return -1;
    }
    return fchdir(root_fd) ? -1 : (int)syscall(SYS_pivot_root, ".", ".");
}

/* The root remounted read-only, keeping what its mount has (the overlay's
 * nodev: a bind remount sets exactly the flags it is given). */
int root_read_only(void)
{
    struct statfs st;
    if (statfs("/", &st))
        return -1;
    return mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | kept_flags(&st), NULL);
}

/* os.makedirs(path, mode, exist_ok=True): parents 0777 (the umask applies), no recursion. */
int make_dirs(const char *path, unsigned mode)
{
    static char dir[PATH_MAX];
    struct stat st;
    if (jail_join(dir, sizeof dir, path, NULL))
        return -1;
    for (char *slash = strchr(dir + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = 0;
        mkdir(dir, 0777); /* there already, or the last mkdir says why not */
        *slash = '/';
    }
    if (mkdir(dir, mode) == 0)
        return 0;
    int err = errno;
    if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
        return 0;
    errno = err;
    return -1;
}

/* rootfs.mask_paths for one masked path: none there, nothing to do; a
 * directory gets an empty read-only tmpfs, anything else /dev/null, which
 * must be the null device. */
int mask_path(const char *path)
{
    static int null_checked;
    struct stat st;
    if (!null_checked) {
        if (lstat("/dev/null", &st) || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3)) {
            errno = EPERM;
            return -1;
        }
        null_checked = 1;
    }
    if (lstat(path, &st))
        return errno == ENOENT ? 0 : -1;
    if (S_ISDIR(st.st_mode))
        return mount("tmpfs", path, "tmpfs", MS_RDONLY, "size=0,mode=0755");
    return mount("/dev/null", path, NULL, MS_BIND, NULL);
}

/* rootfs.mask_paths for one read-only path: bound onto itself, remounted read-only. */
int read_only_path(const char *path)
{
    struct stat st;
    if (lstat(path, &st))
        return 0;
    if (mount(path, path, NULL, MS_BIND | MS_REC, NULL))
        return -1;
    return mount(NULL, path, NULL,
                 MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
}
